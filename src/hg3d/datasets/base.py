"""What every pose dataset shares: reading images, augmentation, the crop and the targets.

An item is a dict of arrays with the same keys for every dataset, so that datasets can be mixed
in one batch (fusion training):
``input`` (3, in_h, in_w) float32, ``target`` (16, out_h, out_w) float32 heatmaps,
``reg_target`` (16, 1) float32 (depth / box width for 3D samples, visibility for 2D ones; see
``make_3d_item`` for the units),
``reg_ind`` (16,) int64 flat index ``y*W*J + x*J + j``, ``reg_mask`` (16,) uint8 (1 = depth
label), ``pts_crop`` (16, 2) int32 heatmap coordinates, ``gt_3d`` (17, 3) float32 H36M-17 in mm
(zeros without 3D label), ``center`` (2,), ``scale`` (2,) crop box (w, h) in px, ``index``.
"""

import os

import numpy as np
import torch.utils.data

from ..errors import UserError
from ..files import imread_bgr
from ..geometry import adjust_aspect_ratio, affine_transform, crop_and_normalize, gaussian_maps, get_affine_transform
from ..joints import H36M_FLIP_PERM, MPII_FLIP_PERM, NUM_H36M_JOINTS, NUM_JOINTS


def read_image(path, what):
    """A BGR image, or a one-line error naming the file and where it was listed."""
    if not os.path.isfile(path):
        raise UserError(f"image {path} ({what}) is missing")
    image = imread_bgr(path)
    if image is None:
        raise UserError(f"image {path} ({what}) cannot be decoded (corrupt or not an image)")
    return image


def require_path(path, what, hint="see data/README.md for the layout, or pass --data_dir"):
    """Fail with one line naming the expected path when a dataset file or folder is absent."""
    if not os.path.exists(path):
        raise UserError(f"{what} not found: expected {path} ({hint})")
    return path


def orthographic_joints(joints_cam, joints_uv):
    """3D labels (N, 3) in one orthographic pixel frame from camera-frame joints (N, 3, mm; joint 0
    the root) and their image projections (N, 2, px).

    As the ECCV18 msra caches were made (``docs/reference.md``, "The depth frame"): fit the scale k (px/mm)
    and shift t that best map (X, Y) onto (u, v) in least squares, then u, v = k * (X, Y) + t and
    z = k * (Z - Z_root). No rotation is fitted: a camera's x, y axes are the image's. The fitted
    u, v differ from the perspective projection by the person's perspective (a few px), the price
    of a depth that shares the unit of u and v.
    """
    cam, uv = np.asarray(joints_cam, np.float64), np.asarray(joints_uv, np.float64)
    xy_centred, uv_centred = cam[:, :2] - cam[:, :2].mean(0), uv - uv.mean(0)
    k = (xy_centred * uv_centred).sum() / (xy_centred**2).sum()
    shift = uv.mean(0) - k * cam[:, :2].mean(0)
    return np.concatenate([k * cam[:, :2] + shift, k * (cam[:, 2:] - cam[0, 2])], 1)


class PoseDataset(torch.utils.data.Dataset):
    """Base class: subclasses list their samples and implement ``__getitem__`` with the helpers.

    For testing and validation a subclass names its ``benchmark`` (a key of
    ``hg3d.metrics.BENCHMARKS``) and implements ``labels(index)``: the ground truth of the samples
    ``index`` (the items' ``index`` field, as the predictions carry it) that the benchmark scores.
    """

    name = "pose"
    benchmark = None

    def labels(self, index):
        raise NotImplementedError(f"{type(self).__name__} hands over no labels")

    def __init__(self, opt, split):
        self.opt, self.split = opt, split
        self.is_train = split == "train"
        self.aspect_ratio = opt.input_w / opt.input_h

    # Augmentation draws from NumPy's global generator: --seed seeds it in the main process and
    # PyTorch's DataLoader reseeds it in every worker, so runs are reproducible and workers differ.
    def random_scale(self):
        """Scale factor clip(N(0,1) * s + 1, 1 - s, 1 + s) of the scale augmentation."""
        sf = self.opt.scale
        return float(np.clip(np.random.randn() * sf + 1, 1 - sf, 1 + sf))

    def random_rotation(self):
        """clip(N(0,1) * r, -2r, 2r) degrees with probability 0.6, else 0."""
        rf = self.opt.rotate
        return float(np.clip(np.random.randn() * rf, -2 * rf, 2 * rf)) if np.random.random() <= 0.6 else 0.0

    def random_flip(self):
        """Horizontal flip with probability --flip."""
        return np.random.random() < self.opt.flip

    def crop_box(self, size, image):
        """Limit the box to the image's longer side, make it square, then fit the aspect ratio."""
        size = min(size, max(image.shape[0], image.shape[1])) * 1.0
        return adjust_aspect_ratio((size, size), self.aspect_ratio, self.opt.fit_short_side)

    def make_item(self, image, center, box, rot, joints_xy, labelled, mirrored=False):
        """Crop the input and draw the heatmaps of the labelled joints.

        With ``mirrored``, ``center`` and ``joints_xy`` are in the horizontally mirrored image
        (flip augmentation), which the crop reads from the original without copying it.

        Returns the item's ``input``, ``target`` and the integer heatmap coordinates ``pts``
        (unlabelled joints at (0, 0)) with the mask of those that fall inside the map.
        """
        opt = self.opt
        inp = crop_and_normalize(image, center, box, rot, opt.input_w, opt.input_h, mirrored)
        pts = np.trunc(self.heatmap_coords(center, box, rot, joints_xy)).astype(np.int32)
        pts[~labelled] = 0
        inside = (
            labelled & (pts[:, 0] >= 0) & (pts[:, 1] >= 0) & (pts[:, 0] < opt.output_w) & (pts[:, 1] < opt.output_h)
        )
        target = gaussian_maps(pts, opt.output_h, opt.output_w, opt.hm_gauss, valid=labelled)
        return inp, target, pts, inside

    def heatmap_coords(self, center, box, rot, joints_xy):
        """Image points (N, 2) in heatmap cells, unrounded (the targets truncate them)."""
        trans = get_affine_transform(center, box, rot, (self.opt.output_w, self.opt.output_h))
        return affine_transform(joints_xy, trans)

    def reg_index(self, pts, inside):
        """Flat index ``y*W*J + x*J + j`` of each joint's depth-map cell (0 outside the map)."""
        joint = np.arange(NUM_JOINTS)
        ind = pts[:, 1].astype(np.int64) * self.opt.output_w * NUM_JOINTS + pts[:, 0] * NUM_JOINTS + joint
        return np.where(inside, ind, 0)

    def make_3d_item(self, image, center, size, joints, gt_3d, index):
        """The item of a sample with 3D labels (H36M, 3DPW).

        ``joints`` (16, 3): MPII-16 u, v, z in one orthographic frame in image pixels,
        z = k * (Z - Z_root) with k the px/mm scale that maps X, Y to u, v (``orthographic_joints``);
        ``gt_3d`` (17, 3): H36M-17 root-relative camera coordinates in mm; ``size``: the person
        box side. The depth target is z / s_w (box width): a heatmap cell is s_w / W pixels in x
        and y alike, so (x / W, y / W, target) is the pose in one unit (``decode.crop_coords_3d``).
        Training augments scale and flip (no rotation); a flip mirrors the 3D labels too.
        """
        center, joints, gt_3d = center.copy(), joints.copy(), gt_3d.copy()
        mirrored = False
        if self.is_train:
            size *= self.random_scale()
            mirrored = self.random_flip()
            if mirrored:
                center[0] = image.shape[1] - 1 - center[0]
                joints[:, 0] = image.shape[1] - 1 - joints[:, 0]
                joints = joints[MPII_FLIP_PERM]
                gt_3d[:, 0] *= -1
                gt_3d = gt_3d[H36M_FLIP_PERM]
        box = self.crop_box(size, image)
        labelled = np.ones(len(joints), bool)
        inp, target, pts, inside = self.make_item(image, center, box, 0, joints[:, :2], labelled, mirrored)
        reg_target = np.where(inside, joints[:, 2] / box[0], 0)
        return self.pack_crop(inp, target, pts, inside, reg_target, inside, center, box, index, gt_3d)

    def pack_crop(self, inp, target, pts, inside, reg_target, reg_mask, center, box, index, gt_3d=None):
        """``pack`` for joints ``pts`` (N, 2) in heatmap cells: those outside the map (``inside``
        False) become (0, 0) and point at depth cell 0."""
        pts_crop = np.where(inside[:, None], pts, 0)
        reg_ind = self.reg_index(pts, inside)
        return self.pack(inp, target, pts_crop, reg_target, reg_ind, reg_mask, center, box, index, gt_3d)

    @staticmethod
    def pack(inp, target, pts_crop, reg_target, reg_ind, reg_mask, center, box, index, gt_3d=None):
        """The item dict (see the module docstring) with the documented dtypes."""
        return {
            "input": inp,
            "target": target.astype(np.float32, copy=False),
            "reg_target": np.asarray(reg_target, np.float32).reshape(NUM_JOINTS, 1),
            "reg_ind": np.asarray(reg_ind, np.int64),
            "reg_mask": np.asarray(reg_mask, np.uint8),
            "pts_crop": np.asarray(pts_crop, np.int32),
            "gt_3d": (np.zeros((NUM_H36M_JOINTS, 3), np.float32) if gt_3d is None else np.asarray(gt_3d, np.float32)),
            "center": np.asarray(center, np.float32),
            "scale": np.asarray(box, np.float64),
            "index": np.int64(index),
        }
