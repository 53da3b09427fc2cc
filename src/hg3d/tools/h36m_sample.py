"""A small synthetic tree in the official Human3.6M layout, with the release's quirks, for testing
and benchmarking ``prepare_h36m`` without the real data.

Videos are written with OpenCV (mp4v), pose files with cdflib ("Pose": (1, N, 64) and (1, N, 96),
32 joints). The people are the synthetic figures of ``hg3d.tools.synthetic`` seen through a pinhole (no
lens distortion) with the release's camera intrinsics scaled to the frame width, or with
intrinsics the caller gives; ``D2_Positions`` is that perspective projection (with the table's
lens distortion for the four calibrated cameras of ``write_multiview_sequence``). Quirks: S1's
TakingPhoto / WalkingDog spellings, sequence names without a number, videos longer than their pose
files (cameras 55011271 and 58860488), an empty damaged ``S11/Directions.54138969.mp4``, a video
without pose files and pose files without a video.
"""

import os

import cv2
import numpy as np

from ..camera import Intrinsics, project
from ..joints import H36M_BONE_SUM_MM
from ..skeleton import bone_length_sum
from .h36m_official import (
    CAMERAS,
    NUM_OFFICIAL_JOINTS,
    OFFICIAL_TO_H36M17,
    TABLE_WIDTH,
    table_distortion,
    table_intrinsics,
)
from .synthetic import random_background, random_pose, render_person

# (subject, sequence, cameras)
QUIRKY_LAYOUT = (
    (1, "TakingPhoto 1", ("54138969", "55011271")),
    (1, "WalkingDog", ("58860488",)),
    (5, "Directions 1", ("60457274",)),
    (9, "Eating 2", ("54138969", "55011271")),
    (9, "Walking 1", ("60457274",)),
    (11, "Directions", ("54138969", "55011271")),
    (11, "Phoning 1", ("58860488",)),
)
DAMAGED = ((11, "Directions.54138969"),)  # written as an empty file, as in the release
VIDEO_WITHOUT_POSE = ((9, "Greeting.58860488"),)
POSE_WITHOUT_VIDEO = ((9, "Posing 1.54138969"),)
TALL_CAMERAS = ("54138969", "60457274")  # 1000 x 1002 frames in the release
EXTRA_FRAMES_CAMERAS = ("55011271", "58860488")  # their videos run 2-7 frames past the poses
EXTRA_FRAMES = range(2, 8)


def consistent_pose(rng):
    """A random H36M-17 pose (mm, root-relative) that the H36M protocol reproduces exactly: spine
    and neck at the midpoints the MPII -> H36M conversion rebuilds, bones summing to 4000 mm."""
    pose = random_pose(rng)
    pose[7] = (pose[0] + pose[8]) / 2
    pose[9] = (pose[8] + pose[10]) / 2
    return pose * (H36M_BONE_SUM_MM / bone_length_sum(pose))


def official_pose(pose_17, rng):
    """32 joints: the 17 in their release slots, the others scattered near the pelvis (unused)."""
    joints = pose_17[0] + rng.normal(0, 150, (NUM_OFFICIAL_JOINTS, 3))
    joints[OFFICIAL_TO_H36M17] = pose_17
    return joints


def frame_size(camera, width):
    return width, width + 2 if camera in TALL_CAMERAS else width


def camera_matrix(camera, width, intrinsics=None):
    """K for ``width``-px-wide frames: the release's table, or ``intrinsics`` {camera: (fx, fy,
    cx, cy) for 1000-px-wide frames} where it names the camera."""
    if intrinsics and camera in intrinsics:
        fx, fy, cx, cy = np.array(intrinsics[camera], np.float64) * width / TABLE_WIDTH
    else:
        fx, fy, cx, cy = table_intrinsics(camera, width)
    return np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1]])


def write_pose_file(path, pose):
    """A release-style CDF file: variable "Pose" of shape (1, N, 32 * dims)."""
    from cdflib.cdfwrite import CDF

    os.makedirs(os.path.dirname(path), exist_ok=True)
    if os.path.exists(path):
        os.remove(path)
    data = pose.reshape(1, len(pose), -1)
    cdf = CDF(path)
    cdf.write_var(
        {
            "Variable": "Pose",
            "Data_Type": CDF.CDF_DOUBLE,
            "Num_Elements": 1,
            "Rec_Vary": True,
            "Dim_Sizes": list(data.shape[1:]),
        },
        var_data=data,
    )
    cdf.close()


def write_sequence(
    root, subject, name, rng, frames, width, video=True, poses=True, intrinsics=None, world=None, distorted=True
):
    """One video and its two pose files; returns the truth (32-joint 2D and 3D poses, frames,
    frame size, the camera matrix K). ``world``: (32-joint world poses (T, 32, 3) mm, R, t) that
    this camera films (x_cam = R x_world + t) instead of a figure of its own; its ``D2_Positions``
    then go through the table's lens distortion unless not ``distorted`` (the figure is drawn
    without it: a pixel or less at these sizes)."""
    camera = name.rpartition(".")[2]
    w, h = frame_size(camera, width)
    intrinsics = camera_matrix(camera, width, intrinsics)
    background = random_background(rng, w, h)
    look_seed = int(rng.integers(1 << 30))
    start = np.array([rng.uniform(-300, 300), rng.uniform(0, 200), rng.uniform(4500, 5500)])
    pose_3d, images = [], []
    extra = int(rng.integers(EXTRA_FRAMES.start, EXTRA_FRAMES.stop)) if camera in EXTRA_FRAMES_CAMERAS else 0
    for t in range(frames + extra):  # the tail has no pose rows
        if world is None:
            pose_cam = consistent_pose(rng) + start + [8.0 * t, 0, 0]
            joints = official_pose(pose_cam, rng)
        else:
            poses_world, R, translation = world
            joints = poses_world[t] @ R.T + translation
            pose_cam = joints[OFFICIAL_TO_H36M17]
        image = background.copy()
        render_person(image, pose_cam, intrinsics, np.random.default_rng(look_seed))
        cv2.putText(image, str(t), (2, h - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1)
        images.append(image)
        pose_3d.append(joints)
    pose_3d = np.stack(pose_3d)[:frames]
    if world is None:
        uvw = pose_3d @ intrinsics.T
        pose_2d = uvw[..., :2] / uvw[..., 2:]
    else:  # a calibrated camera: through the table's lens distortion, or a plain pinhole
        pose_2d = project(pose_3d, Intrinsics.from_matrix(intrinsics, table_distortion(camera) if distorted else None))
    features = os.path.join(root, f"S{subject}", "MyPoseFeatures")
    if poses:
        write_pose_file(os.path.join(features, "D2_Positions", f"{name}.cdf"), pose_2d)
        write_pose_file(os.path.join(features, "D3_Positions_mono", f"{name}.cdf"), pose_3d)
    if video:
        path = os.path.join(root, f"S{subject}", "Videos", f"{name}.mp4")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), 50, (w, h))
        for image in images:
            writer.write(image)
        writer.release()
    return {"pose_2d": pose_2d, "pose_3d": pose_3d, "video_frames": len(images), "size": (w, h), "K": intrinsics}


def write_official_h36m(root, rng, frames=12, width=128, layout=QUIRKY_LAYOUT, quirks=True, intrinsics=None):
    """The tree under ``root``; returns ``{(subject, "<Sequence>.<camera>"): truth}`` of the
    videos that have pose files (the damaged one included: its pose files are intact).
    ``intrinsics``: {camera: (fx, fy, cx, cy) at 1000 px wide} replacing the release's table."""
    truth = {}
    for subject, sequence, cameras in layout:
        for camera in cameras:
            name = f"{sequence}.{camera}"
            truth[(subject, name)] = write_sequence(root, subject, name, rng, frames, width, intrinsics=intrinsics)
    if quirks:
        for subject, name in DAMAGED:
            open(os.path.join(root, f"S{subject}", "Videos", f"{name}.mp4"), "w").close()
        for subject, name in VIDEO_WITHOUT_POSE:
            write_sequence(root, subject, name, rng, frames, width, poses=False)
        for subject, name in POSE_WITHOUT_VIDEO:
            write_sequence(root, subject, name, rng, frames, width, video=False)
    return truth


def look_at(centre, target=(0.0, 0.0, 0.0), up=(0.0, 0.0, 1.0)):
    """R (world -> camera: x right, y down, z forward) and t (mm) of a camera at ``centre`` facing
    ``target``, its image upright for a world whose ``up`` is given."""
    forward = np.asarray(target, float) - centre
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, up)
    right /= np.linalg.norm(right)
    R = np.stack([right, np.cross(forward, right), forward])
    return R, -R @ np.asarray(centre, float)


def write_multiview_sequence(root, subject, sequence, rng, frames=6, width=128, radius_mm=5000.0, distorted=True):
    """One sequence filmed by the release's four cameras, placed on a circle around the person
    (world frame z up, mm): the world poses in ``D3_Positions/<sequence>.cdf`` and each camera's
    video and pose files (2D through the lens distortion of the release's table unless not
    ``distorted``: whether the real release's 2D has it is not documented). Returns
    ``{"<sequence>.<camera>": truth}`` (``write_sequence``'s) and the cameras' ``{camera: (R, t)}``."""
    figure = []
    for t in range(frames + max(EXTRA_FRAMES) + 1):
        pose = consistent_pose(rng)
        upright = np.stack([pose[:, 0], pose[:, 2], -pose[:, 1]], -1)  # camera-style y down -> z up
        figure.append(official_pose(upright + [8.0 * t, 0.0, 900.0], rng))
    figure = np.stack(figure)
    write_pose_file(
        os.path.join(root, f"S{subject}", "MyPoseFeatures", "D3_Positions", f"{sequence}.cdf"), figure[:frames]
    )
    truth, extrinsics = {}, {}
    for index, camera in enumerate(CAMERAS):
        angle = 2 * np.pi * index / len(CAMERAS) + 0.4
        centre = [radius_mm * np.cos(angle), radius_mm * np.sin(angle), 1500.0 + 100 * index]
        extrinsics[camera] = look_at(centre, (0.0, 0.0, 900.0))
        name = f"{sequence}.{camera}"
        world = (figure, *extrinsics[camera])
        truth[name] = write_sequence(root, subject, name, rng, frames, width, world=world, distorted=distorted)
    return truth, extrinsics
