"""Write small datasets of synthetic people in the real on-disk layouts (see data/README.md).

Used by ``scripts/make_sample_data.py`` (quickstart) and by the tests. Every writer is
deterministic for a given generator state, and refuses to write into a dataset folder that was
not made by it (real data is never overwritten).
"""

import json
import os
import pickle
import struct

import cv2
import numpy as np

from ..datasets.base import orthographic_joints
from ..errors import UserError
from ..joints import H36M_TO_MPI3DHP, MPI3DHP_PELVIS
from .synthetic import random_scene

MARKER = ".hg3d_sample_data"  # present in every folder this module wrote


def prepare_root(path, overwrite=False):
    """Create ``path`` for sample data; refuse if it holds data that this module did not write.

    Returns False (and writes nothing) when sample data is already there and ``overwrite`` is off.
    """
    if os.path.isdir(path) and os.listdir(path):
        if not os.path.exists(os.path.join(path, MARKER)):
            raise UserError(
                f"{path} already holds data that is not hg3d sample data; refusing to "
                f"overwrite it (choose another --out)"
            )
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
            entries.append(
                {
                    "image": name,
                    "center": center,
                    "scale": scale,
                    "joints": joints.tolist(),
                    "joints_vis": visible.astype(float).tolist(),
                }
            )
        os.makedirs(os.path.join(root, "annot"), exist_ok=True)
        with open(os.path.join(root, "annot", annot), "w") as handle:
            json.dump(entries, handle)


def write_h36m(root, rng, num_train, num_val, size=320):
    """``root/h36m``: ECCV18_Challenge/{Train,Val}/IMG/%05d.jpg and the msra_cache pickles.

    Each cache entry holds the fields the loader reads: the box (center_x, center_y, width,
    height) around the projected joints, ``joints_3d`` (18 x 3: u, v, z in one orthographic pixel
    frame, z = k (Z - Z_root), as the real caches; ``datasets.base.orthographic_joints``) and
    ``joints_3d_relative`` (18 x 3: root-relative camera coordinates, mm). The 18th joint, unused by
    the H36M-17 protocol, repeats the thorax. Like caches converted from the official release, each
    entry also holds ``root_cam`` (the pelvis in the camera frame, mm) and ``intrinsics`` (fx, fy,
    cx, cy px): the pinhole the person was drawn with, so ``root_cam + joints_3d_relative`` projects
    onto the drawn joints exactly (no lens distortion).
    """
    for split, count in (("Train", num_train), ("Val", num_val)):
        entries = []
        for i in range(count):
            scene = random_scene(rng, *_image_size(rng, size))
            _jpeg(os.path.join(root, "ECCV18_Challenge", split, "IMG", f"{i + 1:05d}.jpg"), scene["image"])
            cam = np.concatenate([scene["joints_cam"], scene["joints_cam"][8:9]])
            relative = cam - cam[0]
            joints_3d = orthographic_joints(scene["joints_cam"], scene["joints_2d"])
            joints_3d = np.concatenate([joints_3d, joints_3d[8:9]])
            x, y, w, h = scene["box"]
            camera = scene["intrinsics"]  # K
            entries.append(
                {
                    "image": f"{i + 1:05d}.jpg",
                    "center_x": float(x + w / 2),
                    "center_y": float(y + h / 2),
                    "width": float(w),
                    "height": float(h),
                    "joints_3d": joints_3d,
                    "joints_3d_vis": np.ones((18, 3)),
                    "joints_3d_relative": relative,
                    "joints_3d_relative_vis": np.ones((18, 3)),
                    "root_cam": cam[0].copy(),
                    "intrinsics": camera[[0, 1, 0, 1], [0, 1, 2, 2]],  # fx, fy, cx, cy
                }
            )
        cache = os.path.join(root, "msra_cache", f"HM36_eccv_challenge_{split}_cache")
        os.makedirs(cache, exist_ok=True)
        with open(
            os.path.join(cache, f"HM36_eccv_challenge_{split}_w288xh384_keypoint_jnt_bbox_db.pkl"), "wb"
        ) as handle:
            pickle.dump(entries, handle, protocol=2)


def write_demo_images(folder, rng, sizes=((480, 360), (360, 480), (400, 400))):
    """A few synthetic photos of one person each, for trying the demo (``images/``)."""
    os.makedirs(folder, exist_ok=True)
    for i, (width, height) in enumerate(sizes):
        path = os.path.join(folder, f"synthetic_{i + 1}.jpg")
        _jpeg(path, random_scene(rng, width, height)["image"])
        print(f"wrote {path}")


def smpl24_from_h36m(pose):
    """SMPL-24 joints for a synthetic H36M-17 pose (N, 17, 3): shared joints copied, the others
    (spine1/3, collars, feet, hands, head centre) interpolated or extended from their neighbours."""
    p = np.asarray(pose, np.float64)
    down = np.array([0.0, 60.0, 0.0])  # feet below the ankles (y is down)
    joints = [
        p[0],
        p[4],
        p[1],
        (p[0] + p[7]) / 2,
        p[5],
        p[2],
        p[7],
        p[6],
        p[3],
        (p[7] + p[8]) / 2,
        p[6] + down,
        p[3] + down,
        p[8],
        (p[8] + p[11]) / 2,
        (p[8] + p[14]) / 2,
        (p[9] + p[10]) / 2,
        p[11],
        p[14],
        p[12],
        p[15],
        p[13],
        p[16],
        p[13] + 0.25 * (p[13] - p[12]),
        p[16] + 0.25 * (p[16] - p[15]),
    ]
    return np.stack(joints)


def _rigid(rng, max_angle=20.0):
    """A random 4x4 rigid transform (rotation about the vertical mostly, translation in metres)."""
    rotation = cv2.Rodrigues(np.array([rng.uniform(-0.1, 0.1), rng.uniform(-1, 1), 0.0]) * np.deg2rad(max_angle))[0]
    pose = np.eye(4)
    pose[:3, :3], pose[:3, 3] = rotation, rng.uniform(-1, 1, 3)
    return pose


def write_3dpw(
    root, rng, sequences=(("train", 1, 8), ("train", 1, 8), ("validation", 1, 6), ("test", 2, 6)), size=(240, 320)
):
    """``root/3dpw`` in the official layout: ``imageFiles/<seq>/image_%05d.jpg`` and
    ``sequenceFiles/<split>/<seq>.pkl`` (protocol-2 pickles with the official fields).

    ``sequences``: (split, people, frames) per sequence. People walk slowly in front of a camera
    that moves a little; every sequence has one frame, and a two-person sequence one person more,
    with ``campose_valid = 0``.
    """
    from .synthetic import camera_intrinsics, random_background, random_pose, render_person

    width, height = size
    intrinsics = camera_intrinsics(width, height)
    for number, (split, people, frames) in enumerate(sequences):
        name = f"synthetic_{split}_{number:02d}"
        world_from_camera0 = _rigid(rng)
        cam_poses, joints = [], [[] for _ in range(people)]
        starts = [np.array([(i - (people - 1) / 2) * 900.0, 0.0, 4200.0]) for i in range(people)]
        for t in range(frames):
            camera_motion = np.eye(4)
            camera_motion[:3, 3] = [0.02 * t, 0.0, 0.0]
            world_to_camera = camera_motion @ np.linalg.inv(world_from_camera0)
            cam_poses.append(world_to_camera)
            image = random_background(np.random.default_rng([number, t]), width, height)
            scene = []
            for person in range(people):
                pose_cam = random_pose(rng) + starts[person] + [0.0, -100.0, 0.0] + [25.0 * t, 0, 0]
                scene.append(pose_cam)
                pose_world_m = (np.linalg.inv(world_to_camera) @ np.c_[pose_cam / 1000.0, np.ones(17)].T).T[:, :3]
                joints[person].append(smpl24_from_h36m(pose_world_m).reshape(72))
            for pose_cam in sorted(scene, key=lambda p: -p[0, 2]):  # far person first
                render_person(image, pose_cam, intrinsics, rng)
            _jpeg(os.path.join(root, "imageFiles", name, f"image_{t:05d}.jpg"), image)
        valid = [np.ones(frames) for _ in range(people)]
        valid[0][frames - 1] = 0
        if people > 1:
            valid[1][0] = 0
        sequence = {
            "sequence": name,
            "img_frame_ids": np.arange(frames) * 2,
            "cam_intrinsics": intrinsics,
            "cam_poses": np.stack(cam_poses),
            "campose_valid": valid,
            "jointPositions": [np.stack(j) for j in joints],
            "poses2d": [np.zeros((frames, 3, 18)) for _ in range(people)],
            "poses": [np.zeros((frames, 72)) for _ in range(people)],
            "betas": [np.zeros(10) for _ in range(people)],
            "trans": [np.zeros((frames, 3)) for _ in range(people)],
            "genders": ["m"] * people,
        }
        folder = os.path.join(root, "sequenceFiles", split)
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, f"{name}.pkl"), "wb") as handle:
            pickle.dump(sequence, handle, protocol=2)


def write_matlab_v73(path, variables):
    """A MATLAB v7.3 MAT-file: HDF5 after MATLAB's 512-byte header block (an HDF5 user block).

    ``variables``: name -> array in the axis order h5py reads back (MATLAB's reversed); stored as
    doubles, as MATLAB saves numbers.
    """
    import h5py

    with h5py.File(path, "w", userblock_size=512) as handle:
        for name, array in variables.items():
            handle.create_dataset(name, data=np.asarray(array, np.float64))
            handle[name].attrs["MATLAB_class"] = np.bytes_("double")
    text = "MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Thu Jan  1 00:00:00 1970 HDF5 schema 1.00 ."
    # 116 bytes of text, 8 of subsystem offset, version 0x0200, endian indicator "IM"
    header = text.ljust(116).encode("ascii") + b" " * 8 + struct.pack("<H", 0x0200) + b"IM"
    with open(path, "r+b") as handle:
        handle.write(header.ljust(512, b"\0"))


def write_mpi_inf_3dhp(root, rng, frames=6, studio_size=(256, 256), outdoor_size=(320, 180)):
    """``root/mpi_inf_3dhp_test_set/TS1..TS6`` in the official layout: ``annot_data.mat`` (MATLAB
    v7.3) and ``imageSequence/img_%06d.jpg`` (1-based), one synthetic person per frame.

    TS1-4 are square studio frames, TS5-6 wide outdoor ones (two image sizes, as in the real set).
    Sequence k's row k % frames has ``valid_frame = 0``; activities cycle through 1..7. ``annot3``
    is the camera-frame pose in mm, ``univ_annot3`` the same pose rescaled about the pelvis by a
    per-sequence factor (the real set rescales each subject to a universal skeleton height), so
    the two differ; ``annot2`` is the projection of ``annot3``.
    """
    for number in range(6):
        sequence = f"TS{number + 1}"
        width, height = studio_size if number < 4 else outdoor_size
        folder = os.path.join(root, "mpi_inf_3dhp_test_set", sequence)
        universal = rng.uniform(0.85, 1.15)
        annot2, annot3, univ = [], [], []
        for t in range(frames):
            scene = random_scene(rng, width, height)
            _jpeg(os.path.join(folder, "imageSequence", f"img_{t + 1:06d}.jpg"), scene["image"])
            cam = scene["joints_cam"][H36M_TO_MPI3DHP]
            pelvis = cam[MPI3DHP_PELVIS]
            annot3.append(cam)
            univ.append(pelvis + (cam - pelvis) * universal)
            annot2.append(scene["joints_2d"][H36M_TO_MPI3DHP])
        valid = np.ones(frames)
        valid[number % frames] = 0
        write_matlab_v73(
            os.path.join(folder, "annot_data.mat"),
            {
                "annot2": np.stack(annot2)[:, None],
                "annot3": np.stack(annot3)[:, None],
                "univ_annot3": np.stack(univ)[:, None],
                "valid_frame": valid[:, None],
                "activity_annotation": ((number + np.arange(frames)) % 7 + 1)[:, None],
            },
        )
