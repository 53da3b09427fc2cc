"""MPII Human Pose with the json annotations of Xiao et al.'s human-pose-estimation release.

Layout under ``<data_dir>/mpii/``: ``annot/train.json``, ``annot/valid.json`` and ``images/``.
Each json entry has ``image`` (file name), ``center`` (x, y), ``scale`` (person height / 200 px),
``joints`` (16 x 2, MPII-16 order, unlabelled as (-1, -1) or (0, 0)) and ``joints_vis``.
"""

import os

import numpy as np

from ..errors import UserError
from ..files import read_json
from ..joints import MPII_FLIP_PERM, NUM_JOINTS
from .base import PoseDataset, read_image, require_path
from .validation import EntryChecker

ANNOTATION_FILES = {"train": "train.json", "val": "valid.json"}
# The official MPII evaluation normalises by 0.6 x the head box diagonal (its SC_BIAS).
HEAD_BOX_FACTOR = 0.6
UPPER_NECK, HEAD_TOP = 8, 9
REQUIRED_KEYS = ("image", "center", "scale", "joints", "joints_vis")


def load_annotations(path):
    """The json list, every entry checked for the fields the loader reads (one-line errors)."""
    annotations = read_json(path, "MPII annotation file")
    checker = EntryChecker(
        annotations, path, "an MPII annotation file", REQUIRED_KEYS, name=lambda i: annotations[i].get("image")
    )
    checker.strings("image").numbers("center", [(2,)])
    checker.numbers("scale", positive=True).numbers("joints", [(NUM_JOINTS, 2)])
    checker.numbers("joints_vis", [(NUM_JOINTS,)])
    return annotations


def load_head_boxes(path, count):
    """Head boxes (N, 2, 2) from the official ``gt_valid.mat`` (``headboxes_src``), or None."""
    if not os.path.isfile(path):
        return None
    import scipy.io

    try:
        boxes = np.asarray(scipy.io.loadmat(path)["headboxes_src"], np.float64)
    except Exception as exc:  # not a .mat, or no head boxes in it
        raise UserError(f"cannot read MPII head boxes from {path}: {exc}") from None
    boxes = np.moveaxis(boxes, -1, 0)  # stored as 2 x 2 x N
    if len(boxes) != count:
        raise UserError(f"{path} has {len(boxes)} head boxes but valid.json has {count} entries")
    return boxes


class MPII(PoseDataset):
    name = "mpii"
    benchmark = "mpii"

    def __init__(self, opt, split):
        super().__init__(opt, split)
        root = os.path.join(opt.data_dir, "mpii")
        split_key = "train" if split == "train" else "val"
        self.annotation_file = require_path(
            os.path.join(root, "annot", ANNOTATION_FILES[split_key]), f"MPII {split_key} annotations"
        )
        self.image_dir = require_path(os.path.join(root, "images"), "MPII images")
        self.annotations = load_annotations(self.annotation_file)

    def __len__(self):
        return len(self.annotations)

    def image_path(self, index):
        return os.path.join(self.image_dir, self.annotations[index]["image"])

    def __getitem__(self, index):
        ann = self.annotations[index]
        image = read_image(self.image_path(index), f"MPII {self.split} sample {index}")
        joints = np.array(ann["joints"], np.float32)
        # The person centre sits a little low in MPII's boxes; computed in float64 as the original.
        scale = float(ann["scale"])
        center = np.array(ann["center"], np.float64)
        center[1] += 15 * scale
        center = (center - 1).astype(np.float32)
        size = scale * 1.25 * 200
        rot, mirrored = 0.0, False
        labelled = (joints[:, 0] > 0) | (joints[:, 1] > 0)

        if self.is_train:
            size *= self.random_scale()
            rot = self.random_rotation()
            mirrored = self.random_flip()
            if mirrored:
                center[0] = image.shape[1] - 1 - center[0]
                joints[:, 0] = image.shape[1] - 1 - joints[:, 0]
                joints, labelled = joints[MPII_FLIP_PERM], labelled[MPII_FLIP_PERM]

        box = self.crop_box(size, image)
        inp, target, pts, inside = self.make_item(image, center, box, rot, joints, labelled, mirrored)
        # 2D-only sample: no depth label (reg_mask 0); reg_target carries the joint visibility
        # that the bone-length variance loss reads.
        return self.pack(
            inp,
            target,
            pts,
            inside.astype(np.float32),
            self.reg_index(pts, inside),
            np.zeros(NUM_JOINTS, np.uint8),
            center,
            box,
            index,
        )

    def head_sizes(self):
        """Per-sample PCKh normaliser and its name.

        With the official ``annot/gt_valid.mat`` beside the json: 0.6 x head-box diagonal, as the
        MPII benchmark. Xiao et al.'s json has no head boxes; then the upper-neck to head-top
        distance of the annotation is used (NaN where either joint is unlabelled).
        """
        boxes = load_head_boxes(
            os.path.join(os.path.dirname(self.annotation_file), "gt_valid.mat"), len(self.annotations)
        )
        if boxes is not None:
            return HEAD_BOX_FACTOR * np.linalg.norm(
                boxes[:, 1] - boxes[:, 0], axis=-1
            ), "0.6 * head box diagonal (gt_valid.mat)"
        joints = np.array([a["joints"] for a in self.annotations], np.float64)
        labelled = (joints[:, [UPPER_NECK, HEAD_TOP]] > 0).any(-1).all(-1)
        size = np.linalg.norm(joints[:, HEAD_TOP] - joints[:, UPPER_NECK], axis=-1)
        return np.where(labelled & (size > 0), size, np.nan), "upper_neck-head_top distance"

    def labels(self, index):
        """The annotated ``joints_2d`` (N, 16, 2) px of samples ``index``, their PCKh ``head_size``
        and how it was measured (``head_size_normaliser``)."""
        head_size, normaliser = self.head_sizes()
        joints = np.array([self.annotations[i]["joints"] for i in index], np.float64)
        return {
            "joints_2d": joints.reshape(len(index), -1, 2),
            "head_size": head_size[index],
            "head_size_normaliser": normaliser,
        }
