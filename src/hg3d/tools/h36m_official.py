"""The official Human3.6M release: its layout, its pose files, and msra-cache entries built from them.

Facts from ``docs/reference.md`` ("The official Human3.6M release")::

    S1/Videos/<Sequence>.<camera>.mp4
    S1/MyPoseFeatures/D2_Positions/<Sequence>.<camera>.cdf        "Pose": 32 joints x (u, v) px
    S1/MyPoseFeatures/D3_Positions_mono/<Sequence>.<camera>.cdf   "Pose": 32 x (X, Y, Z) mm, camera
    S1/MyPoseFeatures/D3_Positions/<Sequence>.cdf                 "Pose": 32 x (X, Y, Z) mm, world

An entry is built as the ECCV 2018 challenge caches were: a least-squares 2D similarity (scale k,
proper rotation, translation) from the frame's 17 camera-frame (X, Y) onto its 17 ``D2_Positions``
gives ``joints_3d`` = (fitted u, v, k (Z - Z_root)), one orthographic frame in pixels. Every entry
also keeps where the person stands, ``root_cam`` (the pelvis, camera frame, mm), and the video's
pinhole ``intrinsics`` (fx, fy, cx, cy) fitted to its own D2 / D3 pairs.
"""

import os

import numpy as np

from ..errors import UserError
from ..metrics.core import fit_similarity
from ..metrics.h36m import ACTIONS

# The 17 of the release's 32 joints, in this project's H36M-17 order.
OFFICIAL_TO_H36M17 = np.array([0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27])
NUM_OFFICIAL_JOINTS = 32
SHOULDERS = (11, 14)  # H36M-17 indices whose mean is the caches' 18th joint
ACTION_SPELLINGS = {"TakingPhoto": "Photo", "WalkingDog": "WalkDog"}  # S1's names
# The release's intrinsics per camera, the same for every subject (the extrinsics differ): focal
# lengths (fx, fy) and principal point (cx, cy) in px of its 1000-px-wide frames, radial
# coefficients (k1, k2, k3) and tangential (p1, p2), as the dataset's camera metadata lists them.
# Its tangential term is not quite OpenCV's; the radial one, by far the larger, is.
CAMERA_TABLE = {
    "54138969": (
        (1145.0494, 1143.7811),
        (512.5415, 515.4515),
        (-0.2070989, 0.2477752, -0.0030752),
        (-0.0009757, -0.0014245),
    ),
    "55011271": (
        (1149.6757, 1147.5917),
        (508.8486, 508.0649),
        (-0.1942136, 0.2404085, 0.0068200),
        (-0.0016190, -0.0027409),
    ),
    "58860488": (
        (1149.1407, 1148.7990),
        (519.8159, 501.4026),
        (-0.2083382, 0.2554880, -0.0024605),
        (0.0014844, -0.0007600),
    ),
    "60457274": (
        (1145.5114, 1144.7739),
        (514.9682, 501.8820),
        (-0.1983841, 0.2183237, -0.0089478),
        (-0.0005872, -0.0018134),
    ),
}
TABLE_WIDTH = 1000  # the table's pixels: frames of another width scale it
CAMERAS = tuple(CAMERA_TABLE)
INTRINSICS_TOLERANCE = 0.02  # a fitted fx, fy, cx or cy further than this from the table is reported
BOX_ASPECT = 3 / 4  # w : h of the caches' 288 x 384 boxes
BOX_ENLARGE = 1.25
# The release's archives are not named after the subject (for the error message of a missing one).
ARCHIVES = {1: 1, 5: 6, 6: 7, 7: 2, 8: 3, 9: 4, 11: 5}


class SequenceProblem(UserError):
    """One video cannot be converted (damaged video, unreadable pose file): it is skipped, the
    conversion goes on."""


def action_of(sequence):
    """The canonical action of a sequence name ("TakingPhoto 1" -> "Photo"), or None."""
    word = sequence.split(" ")[0]
    word = ACTION_SPELLINGS.get(word, word)
    return word if word in ACTIONS else None


def subject_dir(src, subject):
    path = os.path.join(src, f"S{subject}")
    if not os.path.isdir(path):
        archive = f"SubjectSpecific_{ARCHIVES[subject]}.tgz" if subject in ARCHIVES else "its archive"
        raise UserError(
            f"subject folder {path} not found (unpack {archive} into --src, or leave "
            f"subject {subject} out of --train_subjects / --test_subjects)"
        )
    return path


def video_path(src, subject, name):
    return os.path.join(src, f"S{subject}", "Videos", f"{name}.mp4")


def pose_paths(src, subject, name):
    """The D2 and D3 (camera frame) pose files of the video ``name`` ("<Sequence>.<camera>")."""
    features = os.path.join(src, f"S{subject}", "MyPoseFeatures")
    return (
        os.path.join(features, "D2_Positions", f"{name}.cdf"),
        os.path.join(features, "D3_Positions_mono", f"{name}.cdf"),
    )


def world_pose_path(src, subject, sequence):
    """The world-frame poses of a sequence (all cameras film the same motion)."""
    return os.path.join(src, f"S{subject}", "MyPoseFeatures", "D3_Positions", f"{sequence}.cdf")


def _names(folder, extension):
    if not os.path.isdir(folder):
        return set()
    return {f[: -len(extension)] for f in os.listdir(folder) if f.endswith(extension)}


def find_videos(src, subject):
    """Videos of a subject that have both pose files, and lines naming what lacks its partner.

    Returns ``([(name, sequence, camera, action)], problems)``, sorted by name; videos whose
    sequence is not one of the 15 actions are ignored (named in ``problems``).
    """
    root = subject_dir(src, subject)
    videos = _names(os.path.join(root, "Videos"), ".mp4")
    d2 = _names(os.path.join(root, "MyPoseFeatures", "D2_Positions"), ".cdf")
    d3 = _names(os.path.join(root, "MyPoseFeatures", "D3_Positions_mono"), ".cdf")
    found, problems = [], []
    for name in sorted(videos | d2 | d3):
        sequence, _, camera = name.rpartition(".")
        where = f"S{subject}/{name}"
        if camera not in CAMERAS:
            continue  # not a per-camera file (e.g. world-frame poses)
        if action_of(sequence) is None:
            problems.append(f"{where}: '{sequence}' is not one of the 15 actions")
        elif name not in videos:
            problems.append(f"{where}: pose files without a video (S{subject}/Videos/{name}.mp4)")
        elif name not in d2 or name not in d3:
            missing = [
                f"MyPoseFeatures/{kind}/{name}.cdf"
                for kind, names in (("D2_Positions", d2), ("D3_Positions_mono", d3))
                if name not in names
            ]
            problems.append(f"{where}: video without its pose file {', '.join(missing)}")
        else:
            found.append((name, sequence, camera, action_of(sequence)))
    return found, problems


def read_pose(path, dims):
    """The "Pose" variable of a release CDF file as (rows, 32, dims) float64."""
    import cdflib

    try:
        pose = np.asarray(cdflib.CDF(path).varget("Pose"), np.float64)
    except Exception as exc:  # not a CDF, truncated, no such variable
        raise SequenceProblem(f"cannot read the pose file {path}: {exc}") from None
    if pose.size % (NUM_OFFICIAL_JOINTS * dims):
        raise SequenceProblem(f"{path}: 'Pose' has shape {pose.shape}, not rows x {NUM_OFFICIAL_JOINTS * dims}")
    return pose.reshape(-1, NUM_OFFICIAL_JOINTS, dims)


def with_shoulder_mean(joints):
    """(..., 17, C) -> (..., 18, C): the caches' 18th joint is the mean of the two shoulders."""
    extra = joints[..., list(SHOULDERS), :].mean(-2, keepdims=True)
    return np.concatenate([joints, extra], -2)


def cache_labels(pose_2d, pose_3d):
    """Box and joints of every frame, as the challenge caches hold them.

    ``pose_2d`` (N, 32, 2) px and ``pose_3d`` (N, 32, 3) mm in the camera frame. Returns a dict of
    arrays: ``joints_3d`` (N, 18, 3) = (fitted u, v, k (Z - Z_root)), ``joints_3d_relative``
    (N, 18, 3) mm, ``center`` (N, 2), ``size`` (N, 2) box (w, h), ``scale`` k (N,) px per mm, and
    ``fit_error`` (N,) the largest distance (px) between fitted and true 2D of a frame, ``root_cam``
    (N, 3) the pelvis in the camera frame (mm).
    """
    xyz = pose_3d[:, OFFICIAL_TO_H36M17]
    uv_true = pose_2d[:, OFFICIAL_TO_H36M17]
    k, rotation, translation = fit_similarity(xyz[..., :2], uv_true)
    uv = k[:, None, None] * xyz[..., :2] @ rotation + translation
    relative = xyz - xyz[:, :1]
    joints_3d = np.concatenate([uv, k[:, None, None] * relative[..., 2:]], -1)
    low, high = uv.min(1), uv.max(1)
    size = high - low
    wide = size[:, 0] > BOX_ASPECT * size[:, 1]
    size = (
        np.where(
            wide[:, None],
            np.stack([size[:, 0], size[:, 0] / BOX_ASPECT], 1),
            np.stack([size[:, 1] * BOX_ASPECT, size[:, 1]], 1),
        )
        * BOX_ENLARGE
    )
    return {
        "joints_3d": with_shoulder_mean(joints_3d),
        "joints_3d_relative": with_shoulder_mean(relative),
        "center": (low + high) / 2,
        "size": size,
        "scale": k,
        "fit_error": np.linalg.norm(uv - uv_true, axis=-1).max(1),
        "root_cam": xyz[:, 0].copy(),
    }


def fit_intrinsics(pose_2d, pose_3d):
    """The pinhole that best maps a video's camera-frame joints onto its 2D joints.

    Least squares over every frame's 17 joints of u = fx X / Z + cx and v = fy Y / Z + cy (each a
    line fit). Returns ``(array (fx, fy, cx, cy), rms residual in px)``. Should ``D2_Positions``
    hold the lens distortion, the pinhole absorbs what it can and the residual shows the rest.
    """
    xyz = pose_3d[:, OFFICIAL_TO_H36M17].reshape(-1, 3)
    uv = pose_2d[:, OFFICIAL_TO_H36M17].reshape(-1, 2)
    usable = np.isfinite(xyz).all(1) & np.isfinite(uv).all(1) & (xyz[:, 2] > 0)
    ray = xyz[usable, :2] / xyz[usable, 2:]
    uv = uv[usable]
    ray_c, uv_c = ray - ray.mean(0), uv - uv.mean(0)
    spread = (ray_c**2).sum(0)
    if len(uv) < 2 or not (spread > 0).all():
        raise SequenceProblem("its joints do not spread over the image: no intrinsics can be fitted")
    focal = (ray_c * uv_c).sum(0) / spread
    centre = uv.mean(0) - focal * ray.mean(0)
    rms = float(np.sqrt(((uv - (focal * ray + centre)) ** 2).sum(1).mean()))
    return np.concatenate([focal, centre]), rms


def table_intrinsics(camera, width):
    """(fx, fy, cx, cy) of ``CAMERA_TABLE`` for frames ``width`` px wide."""
    (fx, fy), (cx, cy), _, _ = CAMERA_TABLE[camera]
    return np.array([fx, fy, cx, cy]) * width / TABLE_WIDTH


def table_distortion(camera):
    """The lens distortion of ``CAMERA_TABLE`` in OpenCV's order (k1, k2, p1, p2, k3)."""
    _, _, (k1, k2, k3), (p1, p2) = CAMERA_TABLE[camera]
    return k1, k2, p1, p2, k3


def video_intrinsics(pose_2d, pose_3d, camera, width, where):
    """The fitted intrinsics of a video, checked against the release's table.

    Returns ``{"fitted", "table", "rms_px", "notice"}``; ``notice`` is a line naming the video
    (``where``) when fx, fy, cx or cy differs from the table by more than INTRINSICS_TOLERANCE,
    else None.
    """
    try:
        fitted, rms = fit_intrinsics(pose_2d, pose_3d)
    except SequenceProblem as exc:
        raise SequenceProblem(f"{where}: {exc}") from None
    table = table_intrinsics(camera, width)
    off = np.abs(fitted - table) / np.abs(table)
    notice = None
    if (off > INTRINSICS_TOLERANCE).any():
        names = ", ".join(n for n, bad in zip(("fx", "fy", "cx", "cy"), off > INTRINSICS_TOLERANCE) if bad)
        notice = (
            f"{where}: intrinsics fitted to its poses (fx, fy, cx, cy = {', '.join(f'{v:.1f}' for v in fitted)}) "
            f"differ from the release's camera table ({', '.join(f'{v:.1f}' for v in table)}) in {names} by up to "
            f"{100 * off.max():.1f} % (the entries keep the fitted ones)"
        )
    return {"fitted": fitted, "table": table, "rms_px": rms, "notice": notice}
