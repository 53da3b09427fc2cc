"""MPII Human Pose with the json annotations of Xiao et al.'s human-pose-estimation release.

Layout under ``<data_dir>/mpii/``: ``annot/train.json``, ``annot/valid.json`` and ``images/``.
Each json entry has ``image`` (file name), ``center`` (x, y), ``scale`` (person height / 200 px),
``joints`` (16 x 2, MPII-16 order, unlabelled as (-1, -1) or (0, 0)) and ``joints_vis``.
"""
import json
import os

import numpy as np

from ..errors import UserError
from ..joints import MPII_FLIP_PERM, NUM_JOINTS
from .base import PoseDataset, check_entries, read_image, require_path

ANNOTATION_FILES = {"train": "train.json", "val": "valid.json"}
REQUIRED_KEYS = ("image", "center", "scale", "joints")


def load_annotations(path):
    """The json list, checked for the fields the loader reads (one-line errors otherwise)."""
    try:
        with open(path) as handle:
            annotations = json.load(handle)
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read MPII annotation file {path}: {exc}") from None
    check_entries(annotations, REQUIRED_KEYS, path, "an MPII annotation file")
    for i, ann in enumerate(annotations):
        if np.shape(ann["joints"]) != (NUM_JOINTS, 2):
            raise UserError(f"{path}: sample {i} has joints of shape {np.shape(ann['joints'])}, "
                            f"expected ({NUM_JOINTS}, 2)")
    return annotations


class MPII(PoseDataset):
    name = "mpii"

    def __init__(self, opt, split):
        super().__init__(opt, split)
        root = os.path.join(opt.data_dir, "mpii")
        split_key = "train" if split == "train" else "val"
        self.annotation_file = require_path(
            os.path.join(root, "annot", ANNOTATION_FILES[split_key]), f"MPII {split_key} annotations")
        self.image_dir = require_path(os.path.join(root, "images"), "MPII images")
        self.annotations = load_annotations(self.annotation_file)

    def __len__(self):
        return len(self.annotations)

    def image_path(self, index):
        return os.path.join(self.image_dir, self.annotations[index]["image"])

    def __getitem__(self, index):
        ann = self.annotations[index]
        image = read_image(self.image_path(index), f"MPII {self.split} entry {index}")
        joints = np.array(ann["joints"], np.float32)
        # The person centre sits a little low in MPII's boxes; computed in float64 as the original.
        scale = float(ann["scale"])
        center = np.array(ann["center"], np.float64)
        center[1] += 15 * scale
        center = (center - 1).astype(np.float32)
        size = scale * 1.25 * 200
        rot = 0.0
        labelled = (joints[:, 0] > 0) | (joints[:, 1] > 0)

        if self.is_train:
            size *= self.random_scale()
            rot = self.random_rotation()
            if self.random_flip():
                image = image[:, ::-1]
                center[0] = image.shape[1] - 1 - center[0]
                joints[:, 0] = image.shape[1] - 1 - joints[:, 0]
                joints, labelled = joints[MPII_FLIP_PERM], labelled[MPII_FLIP_PERM]

        box = self.crop_box(size, image)
        inp, target, pts, inside = self.make_item(image, center, box, rot, joints, labelled)
        # 2D-only sample: no depth label (reg_mask 0); reg_target carries the joint visibility
        # that the bone-length variance loss reads.
        return self.pack(inp, target, pts, inside.astype(np.float32), self.reg_index(pts, inside),
                         np.zeros(NUM_JOINTS, np.uint8), center, box, index)
