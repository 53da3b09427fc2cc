"""3DPW, 3D Poses in the Wild (von Marcard et al., ECCV 2018), read from its official files.

Layout under ``<data_dir>/3dpw/`` (as downloaded from https://virtualhumans.mpi-inf.mpg.de/3DPW/)::

    imageFiles/<sequence>/image_00000.jpg ...
    sequenceFiles/{train,validation,test}/<sequence>.pkl

Each pickle is a dict written by Python 2 (read with ``encoding='latin1'``). The fields used here
are those of the dataset's readme: ``sequence``, ``img_frame_ids`` (one entry per image frame),
``cam_intrinsics`` (3x3 K), ``cam_poses`` (T x 4 x 4, world to camera), and per person
``campose_valid`` (T flags: camera pose aligned to the image) and ``jointPositions`` (T x 72: the 24
SMPL joints in world coordinates, metres). Row t of the per-frame arrays is image
``image_%05d.jpg % t`` (as SPIN's and VIBE's 3DPW preprocessing read it). The SMPL parameters,
per person ``poses`` (T x 72, axis-angle, world frame), ``betas`` (10 shape values) and ``genders``
(``m`` / ``f``), are kept per sample with each frame's camera rotation: the literature's 14-joint
protocol builds its ground truth from them (``hg3d.smpl.ground_truth_j14``, with ``--smpl_dir``
and ``--j_regressor_h36m``: checked when the dataset opens, computed once when labels are first
asked for). ``poses2d`` is not needed. The image size is read from each image.

Only frames with a valid camera pose are used. The 24 SMPL joints become H36M-17 (the 3D ground
truth) and, through ``joints.H36M_TO_MPII`` exactly as for Human3.6M, the network's MPII-16.
Training targets follow the msra caches' rule: u, v, z in one orthographic pixel frame fitted to
the projected joints (``base.orthographic_joints``), so 3DPW and Human3.6M teach one depth unit.
"""

import glob
import os

import numpy as np

from .. import smpl
from ..errors import UserError
from ..geometry import pinhole_project
from ..joints import H36M_TO_MPII
from ..safe_pickle import load_pickle
from .base import PoseDataset, orthographic_joints, read_image, require_path

REQUIRED_KEYS = ("sequence", "img_frame_ids", "cam_intrinsics", "cam_poses", "campose_valid", "jointPositions")
SMPL_KEYS = ("poses", "betas", "genders")
GENDER_NAMES = {"m": "male", "male": "male", "f": "female", "female": "female"}
NUM_BETAS = 10  # the shape values 3DPW gives and the literature's protocol uses
SPLITS = ("train", "validation", "test")
SMPL_JOINTS = (
    "pelvis",
    "l_hip",
    "r_hip",
    "spine1",
    "l_knee",
    "r_knee",
    "spine2",
    "l_ankle",
    "r_ankle",
    "spine3",
    "l_foot",
    "r_foot",
    "neck",
    "l_collar",
    "r_collar",
    "head",
    "l_shoulder",
    "r_shoulder",
    "l_elbow",
    "r_elbow",
    "l_wrist",
    "r_wrist",
    "l_hand",
    "r_hand",
)
# H36M-17 joint <- SMPL-24 joint. Direct matches except three approximations (SMPL has no such
# joint): H36M spine <- SMPL spine2 (mid-back); H36M neck/nose <- midpoint of SMPL neck and head;
# H36M head (top) <- SMPL head moved away from the neck by half the neck-head distance.
SMPL_TO_H36M = (
    (0, "pelvis"),
    (1, "r_hip"),
    (2, "r_knee"),
    (3, "r_ankle"),
    (4, "l_hip"),
    (5, "l_knee"),
    (6, "l_ankle"),
    (7, "spine2"),
    (8, "neck"),
    (11, "l_shoulder"),
    (12, "l_elbow"),
    (13, "l_wrist"),
    (14, "r_shoulder"),
    (15, "r_elbow"),
    (16, "r_wrist"),
)
HEAD_TOP_EXTENSION = 0.5
# Person box: the projected joints' extent grown by this factor (room for head, hands and feet).
BOX_MARGIN = 1.2


def smpl_to_h36m(smpl):
    """SMPL-24 joints (..., 24, 3) -> H36M-17 (..., 17, 3) with the table above."""
    smpl = np.asarray(smpl)
    out = np.zeros(smpl.shape[:-2] + (17, 3), smpl.dtype)
    for h36m, name in SMPL_TO_H36M:
        out[..., h36m, :] = smpl[..., SMPL_JOINTS.index(name), :]
    neck, head = smpl[..., SMPL_JOINTS.index("neck"), :], smpl[..., SMPL_JOINTS.index("head"), :]
    out[..., 9, :] = (neck + head) / 2
    out[..., 10, :] = head + HEAD_TOP_EXTENSION * (head - neck)
    return out


def world_to_camera(points, cam_pose):
    """Points (N, 3) in world coordinates -> camera coordinates with a 4x4 world-to-camera pose."""
    return points @ cam_pose[:3, :3].T + cam_pose[:3, 3]


def load_sequence(path):
    """A checked 3DPW sequence dict (one-line errors name the file and what is missing)."""
    data = load_pickle(path, "3DPW sequence file")
    if not isinstance(data, dict):
        raise UserError(f"{path} is not a 3DPW sequence file (expected a dict)")
    missing = [k for k in REQUIRED_KEYS + SMPL_KEYS if k not in data]
    if missing:
        raise UserError(f"{path} is not a 3DPW sequence file: it lacks {', '.join(missing)}")
    frames = len(data["img_frame_ids"])

    def numbers(value, what):
        try:
            return np.asarray(value, np.float64)
        except (ValueError, TypeError):
            raise UserError(f"{path}: {what} is not an array of numbers") from None

    poses, intrinsics = numbers(data["cam_poses"], "cam_poses"), numbers(data["cam_intrinsics"], "cam_intrinsics")
    if poses.shape != (frames, 4, 4) or intrinsics.shape != (3, 3):
        raise UserError(
            f"{path}: cam_poses {poses.shape} / cam_intrinsics {intrinsics.shape}, expected ({frames}, 4, 4) / (3, 3)"
        )
    if not np.isfinite(intrinsics).all() or intrinsics[0, 0] <= 0 or intrinsics[1, 1] <= 0:
        raise UserError(f"{path}: cam_intrinsics is not a camera matrix (finite, focal lengths > 0)")
    if len(data["jointPositions"]) != len(data["campose_valid"]):
        raise UserError(
            f"{path}: jointPositions has {len(data['jointPositions'])} people but "
            f"campose_valid {len(data['campose_valid'])}"
        )
    for person, (joints, valid) in enumerate(zip(data["jointPositions"], data["campose_valid"])):
        joints = numbers(joints, f"person {person} jointPositions")
        valid = numbers(valid, f"person {person} campose_valid")
        if joints.shape != (frames, 72) or valid.shape != (frames,):
            raise UserError(
                f"{path}: person {person} has jointPositions {joints.shape} and "
                f"campose_valid {valid.shape} for {frames} frames (expected "
                f"({frames}, 72) and ({frames},))"
            )
        used = valid != 0  # only frames with a valid camera pose become samples
        for field, finite in (
            ("campose_valid", np.isfinite(valid)),
            ("jointPositions", ~used | np.isfinite(joints).all(1)),
            ("cam_poses", ~used | np.isfinite(poses).all((1, 2))),
        ):
            if not finite.all():
                frame = int(np.argmin(finite))
                raise UserError(
                    f"{path}: person {person} frame {frame} (image_{frame:05d}.jpg): "
                    f"{field} holds a number that is not finite (fix or set "
                    f"campose_valid to 0 there)"
                )
    check_smpl_parameters(path, data, frames)
    return data


def check_smpl_parameters(path, data, frames):
    """One-line errors for SMPL parameters that do not fit the sequence (``load_sequence`` checks the rest)."""
    people = len(data["campose_valid"])
    counts = {key: len(data[key]) for key in SMPL_KEYS}
    if set(counts.values()) != {people}:
        raise UserError(
            f"{path}: {people} people in campose_valid but " + ", ".join(f"{n} {k}" for k, n in counts.items())
        )
    for person, (poses, betas, gender) in enumerate(zip(*(data[key] for key in SMPL_KEYS))):
        try:
            poses, betas = np.asarray(poses, np.float64), np.asarray(betas, np.float64)
        except (ValueError, TypeError):
            raise UserError(f"{path}: person {person} poses or betas is not an array of numbers") from None
        if poses.shape != (frames, 72) or betas.ndim != 1 or len(betas) < NUM_BETAS:
            raise UserError(
                f"{path}: person {person} has poses {poses.shape} and betas {betas.shape} "
                f"(expected ({frames}, 72) and at least {NUM_BETAS} betas)"
            )
        used = np.asarray(data["campose_valid"][person]) != 0
        if not (np.isfinite(poses[used]).all() and np.isfinite(betas[:NUM_BETAS]).all()):
            raise UserError(f"{path}: person {person} poses or betas hold a number that is not finite")
        if str(gender).lower() not in GENDER_NAMES:
            raise UserError(f"{path}: person {person} has gender {gender!r}, expected 'm' or 'f'")


class ThreeDPW(PoseDataset):
    name = "threedpw"
    benchmark = "threedpw"

    def __init__(self, opt, split):
        super().__init__(opt, split)
        self.pw3d_split = "train" if split == "train" else (opt.test_split if opt.test else "validation")
        root = os.path.join(opt.data_dir, "3dpw")
        self.image_root = os.path.join(root, "imageFiles")
        folder = require_path(os.path.join(root, "sequenceFiles", self.pw3d_split), f"3DPW {self.pw3d_split} sequences")
        samples, smpl_parameters, smpl_genders, names = [], [], [], []
        for path in sorted(glob.glob(os.path.join(folder, "*.pkl"))):
            data = load_sequence(path)
            sequence = str(data["sequence"])
            intrinsics = np.asarray(data["cam_intrinsics"], np.float64)
            poses = np.asarray(data["cam_poses"], np.float64)
            count = 0
            for person, (joints, valid) in enumerate(zip(data["jointPositions"], data["campose_valid"])):
                for frame in np.flatnonzero(np.asarray(valid, bool)):
                    world = np.asarray(joints[frame], np.float64).reshape(24, 3)
                    h36m_mm = smpl_to_h36m(world_to_camera(world, poses[frame]) * 1000.0)
                    samples.append((len(names), person, int(frame), h36m_mm, pinhole_project(h36m_mm, intrinsics)))
                    smpl_parameters.append(
                        (data["poses"][person][frame], data["betas"][person][:NUM_BETAS], poses[frame][:3, :3])
                    )
                    smpl_genders.append(GENDER_NAMES[str(data["genders"][person]).lower()])
                    count += 1
            if count == 0:
                print(f"note: 3DPW sequence {sequence} ({path}) has no frame with a valid camera pose; skipped")
                continue
            names.append(sequence)
        if not samples:
            raise UserError(f"no usable 3DPW sample in {folder} (no sequence file with valid frames)")
        self.sequences = names
        self.sample_sequence = np.array([s[0] for s in samples])
        self.sample_person = np.array([s[1] for s in samples])
        self.sample_frame = np.array([s[2] for s in samples])
        self.joints_cam = np.stack([s[3] for s in samples]).astype(np.float32)  # H36M-17, mm
        self.joints_uv = np.stack([s[4] for s in samples]).astype(np.float32)  # perspective, px
        self.joints_ortho = np.stack([orthographic_joints(s[3], s[4]) for s in samples]).astype(np.float32)
        # SMPL parameters (world frame) and camera rotations, for the 14-joint protocol's ground truth
        self.smpl_poses, self.smpl_betas, self.cam_rotations = (
            np.stack(a).astype(np.float32) for a in zip(*smpl_parameters)
        )
        self.smpl_genders = np.array(smpl_genders)
        self.frame_step = 1
        self.gt_3d_14 = None  # the 14-joint protocol's ground truth, made by the first labels() call
        if split != "train" and opt.smpl_dir:
            smpl.check_protocol_files(opt.smpl_dir, opt.j_regressor_h36m, np.unique(self.smpl_genders))
        if split != "train" and not (opt.test or opt.full_test):
            self.frame_step = 10
            # validation during training: every 10th frame, as for Human3.6M
            for name in (
                "sample_sequence",
                "sample_person",
                "sample_frame",
                "joints_cam",
                "joints_uv",
                "joints_ortho",
                "smpl_poses",
                "smpl_betas",
                "cam_rotations",
                "smpl_genders",
            ):
                setattr(self, name, getattr(self, name)[::10])

    def __len__(self):
        return len(self.sample_frame)

    def image_path(self, index):
        sequence = self.sequences[self.sample_sequence[index]]
        return os.path.join(self.image_root, sequence, f"image_{self.sample_frame[index]:05d}.jpg")

    def __getitem__(self, index):
        sequence = self.sequences[self.sample_sequence[index]]
        image = read_image(
            self.image_path(index), f"3DPW {self.pw3d_split} sequence {sequence} frame {self.sample_frame[index]}"
        )
        cam, uv = self.joints_cam[index], self.joints_uv[index]
        gt_3d = cam - cam[0]
        joints = self.joints_ortho[index][H36M_TO_MPII]
        low, high = uv.min(0), uv.max(0)
        center = ((low + high) / 2).astype(np.float32)
        size = float((high - low).max()) * BOX_MARGIN
        return self.make_3d_item(image, center, size, joints, gt_3d, index)

    def labels(self, index):
        """``gt_3d`` (H36M-17, mm, relative to the pelvis) of samples ``index``, their
        ``sequence`` name, ``person`` and ``frame``, the 3DPW ``split`` they come from and the
        ``frame_step`` (every k-th valid person-frame); with ``--smpl_dir`` also ``gt_3d_14``."""
        cam = self.joints_cam[index]
        labels = {
            "gt_3d": cam - cam[:, :1],
            "sequence": np.array([self.sequences[s] for s in self.sample_sequence[index]]),
            "person": self.sample_person[index],
            "frame": self.sample_frame[index],
            "split": self.pw3d_split,
            "frame_step": self.frame_step,
        }
        if self.opt.smpl_dir:
            labels["gt_3d_14"] = self.smpl_ground_truth()[index]
        return labels

    def smpl_ground_truth(self):
        """The literature's 14 joints (N, 14, 3) mm, pelvis-relative, of every sample: regressed
        from the SMPL meshes once (on ``opt.device``), then kept."""
        if self.gt_3d_14 is None:
            params = (self.smpl_poses, self.smpl_betas, self.smpl_genders, self.cam_rotations)
            opt = self.opt
            self.gt_3d_14 = smpl.ground_truth_j14(opt.smpl_dir, opt.j_regressor_h36m, *params, device=opt.device)
        return self.gt_3d_14
