"""Write small datasets of synthetic people in the real on-disk layouts (see data/README.md).

Used by ``scripts/make_sample_data.py`` (quickstart) and by the tests. Every writer is
deterministic for a given generator state, and refuses to write into a dataset folder that was
not made by it (real data is never overwritten).
"""
import json
import os
import pickle

import cv2
import numpy as np

from .errors import UserError
from .synthetic import random_scene

MARKER = ".hg3d_sample_data"  # present in every folder this module wrote


def prepare_root(path, overwrite=False):
    """Create ``path`` for sample data; refuse if it holds data that this module did not write.

    Returns False (and writes nothing) when sample data is already there and ``overwrite`` is off.
    """
    if os.path.isdir(path) and os.listdir(path):
        if not os.path.exists(os.path.join(path, MARKER)):
            raise UserError(f"{path} already holds data that is not hg3d sample data; refusing to "
                            f"overwrite it (choose another --out)")
        if not overwrite:
            return False
    os.makedirs(path, exist_ok=True)
    open(os.path.join(path, MARKER), "w").close()
    return True


def _jpeg(path, image):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if not cv2.imwrite(path, image, [cv2.IMWRITE_JPEG_QUALITY, 92]):
        raise UserError(f"cannot write {path}")


def _image_size(rng, size):
    """Image (width, height) around ``size`` with varied aspect ratios."""
    return tuple(int(size * f) // 2 * 2 for f in rng.uniform(0.8, 1.25, 2))


def write_mpii(root, rng, num_train, num_val, size=320, drop_prob=0.05):
    """``root/mpii``: ``annot/{train,valid}.json`` (Xiao et al.'s fields) and ``images/``.

    A few joints are left unlabelled ((-1, -1), joints_vis 0) as in MPII.
    """
    for split, count, annot in (("train", num_train, "train.json"), ("valid", num_val, "valid.json")):
        entries = []
        for i in range(count):
            scene = random_scene(rng, *_image_size(rng, size))
            name = f"{split}_{i:06d}.jpg"
            _jpeg(os.path.join(root, "images", name), scene["image"])
            joints = scene["mpii_2d"].copy()
            visible = rng.random(len(joints)) >= drop_prob
            joints[~visible] = -1
            x, y, w, h = scene["box"]
            scale = h / 200.0
            # MPII's centre sits above the box centre: the loader moves it down by 15 * scale.
            center = [x + w / 2, y + h / 2 - 15 * scale]
            entries.append({"image": name, "center": center, "scale": scale,
                            "joints": joints.tolist(), "joints_vis": visible.astype(float).tolist()})
        os.makedirs(os.path.join(root, "annot"), exist_ok=True)
        with open(os.path.join(root, "annot", annot), "w") as handle:
            json.dump(entries, handle)


def write_h36m(root, rng, num_train, num_val, size=320):
    """``root/h36m``: ECCV18_Challenge/{Train,Val}/IMG/%05d.jpg and the msra_cache pickles.

    Each cache entry holds the fields the loader reads: the box (center_x, center_y, width,
    height), ``joints_3d`` (18 x 3: u, v px and depth minus the root's, mm) and
    ``joints_3d_relative`` (18 x 3: root-relative camera coordinates, mm). The 18th joint, unused by
    the H36M-17 protocol, repeats the thorax.
    """
    for split, count in (("Train", num_train), ("Val", num_val)):
        entries = []
        for i in range(count):
            scene = random_scene(rng, *_image_size(rng, size))
            _jpeg(os.path.join(root, "ECCV18_Challenge", split, "IMG", f"{i + 1:05d}.jpg"), scene["image"])
            cam = np.concatenate([scene["joints_cam"], scene["joints_cam"][8:9]])
            uv = np.concatenate([scene["joints_2d"], scene["joints_2d"][8:9]])
            relative = cam - cam[0]
            x, y, w, h = scene["box"]
            entries.append({
                "image": f"{i + 1:05d}.jpg", "center_x": float(x + w / 2), "center_y": float(y + h / 2),
                "width": float(w), "height": float(h),
                "joints_3d": np.concatenate([uv, relative[:, 2:]], 1),
                "joints_3d_vis": np.ones((18, 3)),
                "joints_3d_relative": relative, "joints_3d_relative_vis": np.ones((18, 3)),
            })
        cache = os.path.join(root, "msra_cache", f"HM36_eccv_challenge_{split}_cache")
        os.makedirs(cache, exist_ok=True)
        with open(os.path.join(cache, f"HM36_eccv_challenge_{split}_w288xh384_keypoint_jnt_bbox_db.pkl"),
                  "wb") as handle:
            pickle.dump(entries, handle, protocol=2)


def write_demo_images(folder, rng, sizes=((480, 360), (360, 480), (400, 400))):
    """A few synthetic photos of one person each, for trying the demo (``images/``)."""
    os.makedirs(folder, exist_ok=True)
    for i, (width, height) in enumerate(sizes):
        path = os.path.join(folder, f"synthetic_{i + 1}.jpg")
        _jpeg(path, random_scene(rng, width, height)["image"])
        print(f"wrote {path}")
