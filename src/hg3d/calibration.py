"""Calibrated cameras of a multi-view setup: one ``Camera`` per view, read from the files that
calibration tools write.

A ``Camera`` is the pinhole-with-distortion of ``camera.Intrinsics`` placed in a world frame:
``x_cam = R x_world + t`` (R 3 x 3 world -> camera, t in mm). Projection and undistortion are
``camera.project`` / ``camera.normalised_points`` on the camera-frame points.

Readers (``load_cameras``, chosen by the file's content):

- Pose2Sim / anipose ``Calib.toml``: one table per camera (``name``, ``size`` [width, height],
  ``matrix`` 3 x 3, ``distortions`` [k1, k2, p1, p2], ``rotation`` a Rodrigues vector world ->
  camera, ``translation`` in metres, ``fisheye``); the ``[metadata]`` table is not a camera.
- EasyMocap's OpenCV FileStorage pair ``intri.yml`` (``names``, ``K_<cam>``, ``dist_<cam>``) and
  ``extri.yml`` (``Rot_<cam>`` a 3 x 3 matrix or ``R_<cam>`` a Rodrigues vector, ``T_<cam>`` in
  metres); naming the folder or either file reads both. Neither file holds the image size.
- Human3.6M (``release_camera``, ``h36m_cameras``): the release's intrinsics table and, per
  sequence and camera, the extrinsics that map its world-frame poses (``D3_Positions``) onto the
  camera's (``D3_Positions_mono``); ``prepare_h36m`` keeps them in the cache entries
  (``lens_of``).
"""

import os
from dataclasses import dataclass

import cv2
import numpy as np

from .camera import Intrinsics, normalised_points, open_opencv_storage, project
from .errors import UserError

METRES_TO_MM = 1000.0
# How far R R^T may be from the identity (files store a handful of digits).
ROTATION_TOLERANCE = 1e-3
INTRI_FILE, EXTRI_FILE = "intri.yml", "extri.yml"


@dataclass(frozen=True)
class Camera:
    """One calibrated view: ``size`` (width, height) px or None when the file does not say;
    ``R`` (3, 3) world -> camera, ``t`` (3,) mm."""

    name: str
    size: tuple | None
    intrinsics: Intrinsics
    R: np.ndarray
    t: np.ndarray

    def to_camera(self, points_world_mm):
        """World points (..., 3) mm -> this camera's frame (x right, y down, z forward)."""
        return np.asarray(points_world_mm, np.float64) @ self.R.T + self.t

    def project(self, points_world_mm):
        """World points (..., 3) mm -> pixels (..., 2) with the lens distortion; NaN behind the camera."""
        return project(self.to_camera(points_world_mm), self.intrinsics)

    def normalised(self, points_px):
        """Pixels (..., 2) -> undistorted normalised image coordinates (X / Z, Y / Z)."""
        return normalised_points(points_px, self.intrinsics)

    @property
    def pose(self):
        """The 3 x 4 matrix [R | t] (mm) that maps world points to the camera frame."""
        return np.concatenate([self.R, self.t[:, None]], 1)

    @property
    def centre(self):
        """The camera's optical centre in the world frame (mm)."""
        return -self.R.T @ self.t

    def to_json(self):
        return {
            "name": self.name,
            "size": None if self.size is None else list(self.size),
            "intrinsics": self.intrinsics.to_json(),
            "R": self.R.tolist(),
            "t_mm": self.t.tolist(),
            "centre_mm": self.centre.tolist(),
        }


FIELDS = ("size", "matrix", "dist", "rotation", "translation")


def make_camera(path, name, values, keys, metres=True):
    """A checked ``Camera`` from ``values`` {field: value} (``FIELDS``; ``size`` and ``dist`` may be
    None; ``rotation`` a 3 x 3 matrix or a Rodrigues vector; ``translation`` in metres, or mm with
    ``metres=False``). A problem is one line naming ``path``, the camera and the field's key in the
    file (``keys`` {field: key})."""

    def numbers(field, count, what=None):
        try:
            array = np.asarray(values[field], np.float64)
        except (TypeError, ValueError):
            array = None
        if array is None or array.size != count or not np.isfinite(array).all():
            what = what or f"{count} finite numbers"
            raise UserError(f"calibration {path}: camera {name!r}: {keys[field]} must be {what}")
        return array.reshape(-1)

    rotation = values["rotation"]
    if rotation is not None and np.size(rotation) == 3:
        R = cv2.Rodrigues(numbers("rotation", 3).reshape(3, 1))[0]
    else:
        R = numbers("rotation", 9, "a Rodrigues vector (3 numbers) or a 3 x 3 matrix").reshape(3, 3)
    if np.abs(R @ R.T - np.eye(3)).max() > ROTATION_TOLERANCE or np.linalg.det(R) < 0:
        raise UserError(f"calibration {path}: camera {name!r}: {keys['rotation']} is not a rotation (R R^T != I)")
    t = numbers("translation", 3) * (METRES_TO_MM if metres else 1.0)
    size = None
    if values["size"] is not None:
        size = numbers("size", 2)
        if (size <= 0).any() or (size != np.round(size)).any():
            raise UserError(f"calibration {path}: camera {name!r}: {keys['size']} must be [width, height] in px")
        size = tuple(int(v) for v in size)
    try:
        intrinsics = Intrinsics.from_dict({"K": numbers("matrix", 9).reshape(3, 3), "dist": values["dist"]}, path)
    except UserError as exc:
        raise UserError(f"calibration {path}: camera {name!r}: {keys['matrix']} / {keys['dist']}: {exc}") from None
    return Camera(str(name), size, intrinsics, R, t)


def read_toml(path):
    """Pose2Sim / anipose ``Calib.toml``."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    try:
        with open(path, "rb") as handle:
            tables = tomllib.load(handle)
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read calibration {path} as TOML: {exc}") from None
    cameras = []
    for table_name, table in tables.items():
        if table_name == "metadata" or not isinstance(table, dict):
            continue
        file_keys = dict(zip(FIELDS, ("size", "matrix", "distortions", "rotation", "translation")))
        missing = [key for key in file_keys.values() if key not in table]
        if missing:
            raise UserError(f"calibration {path}: table [{table_name}] lacks {', '.join(missing)}")
        if table.get("fisheye"):
            raise UserError(f"calibration {path}: camera [{table_name}] is a fisheye (fisheye = true): not supported")
        values = {field: table[key] for field, key in file_keys.items()}
        keys = {field: f"[{table_name}] {key}" for field, key in file_keys.items()}
        cameras.append(make_camera(path, table.get("name", table_name), values, keys))
    if not cameras:
        raise UserError(f"calibration {path}: no camera table (expected [cam_01] with name, size, matrix, ...)")
    return cameras


def _storage_names(storage, path):
    node = storage.getNode("names")
    if node.empty() or not node.isSeq() or node.size() == 0:
        raise UserError(f"calibration {path} lacks names (the list of camera names)")
    return [node.at(i).string() or str(int(node.at(i).real())) for i in range(node.size())]


def easymocap_pair(path):
    """(intri.yml, extri.yml) for ``path``: the folder holding both, or either file (the other is
    read from beside it)."""
    folder = path if os.path.isdir(path) else os.path.dirname(path)
    pair = os.path.join(folder, INTRI_FILE), os.path.join(folder, EXTRI_FILE)
    for needed in pair:
        if not os.path.isfile(needed):
            raise UserError(f"calibration {needed} not found (EasyMocap calibrations are {INTRI_FILE} + {EXTRI_FILE})")
    return pair


def read_easymocap(path):
    """EasyMocap's ``intri.yml`` + ``extri.yml``."""
    intri_path, extri_path = easymocap_pair(path)
    intri, extri = open_opencv_storage(intri_path, "calibration"), open_opencv_storage(extri_path, "calibration")
    try:
        cameras = []
        for name in _storage_names(intri, intri_path):

            def matrix(storage, file, key, name=name):
                value = storage.getNode(key).mat()
                if value is None:
                    raise UserError(f"calibration {file} lacks {key} (camera {name!r} is in names)")
                return value

            rotation_key = f"Rot_{name}" if not extri.getNode(f"Rot_{name}").empty() else f"R_{name}"
            dist = intri.getNode(f"dist_{name}").mat()
            values = {
                "size": None,
                "matrix": matrix(intri, intri_path, f"K_{name}"),
                "dist": None if dist is None else dist.reshape(-1),
                "rotation": matrix(extri, extri_path, rotation_key),
                "translation": matrix(extri, extri_path, f"T_{name}"),
            }
            keys = {
                "matrix": f"K_{name}",
                "dist": f"dist_{name}",
                "rotation": f"{extri_path} {rotation_key}",
                "translation": f"{extri_path} T_{name}",
            }
            cameras.append(make_camera(intri_path, name, values, keys))
        return cameras
    finally:
        intri.release()
        extri.release()


def load_cameras(path):
    """The cameras of a calibration ``path`` (a file, or EasyMocap's folder), in the file's order."""
    if os.path.isdir(path):
        return read_easymocap(path)
    if not os.path.isfile(path):
        raise UserError(f"calibration {path} not found (--calib: a Calib.toml, or EasyMocap's intri.yml/extri.yml)")
    with open(path, "rb") as handle:
        head = handle.read(64).lstrip()
    if head.startswith(b"%YAML") or head.startswith(b"<?xml"):
        return read_easymocap(path)
    return read_toml(path)


def select_cameras(cameras, names, path):
    """The cameras called ``names`` (in that order), or all of them when ``names`` is None."""
    if names is None:
        return list(cameras)
    by_name = {camera.name: camera for camera in cameras}
    missing = [name for name in names if name not in by_name]
    if missing:
        raise UserError(
            f"calibration {path} has no camera named {', '.join(map(repr, missing))} (it has {', '.join(by_name)})"
        )
    return [by_name[name] for name in names]


def rigid_fit(source, target):
    """The rotation R and translation t with target ~ source R^T + t (least squares, no scale):
    the Kabsch solution over (N, 3) point pairs."""
    source_mean, target_mean = source.mean(0), target.mean(0)
    u, _, vt = np.linalg.svd((target - target_mean).T @ (source - source_mean))
    flip = np.diag([1.0, 1.0, np.sign(np.linalg.det(u @ vt))])
    R = u @ flip @ vt
    return R, target_mean - R @ source_mean


# How far (rms, mm) a camera's poses may be from its fitted world poses: the release computes the
# one from the other, so only float noise separates them.
RELEASE_FIT_TOLERANCE_MM = 1.0
# A release camera's lens as cache entries store it: OpenCV's order after the pinhole.
LENS_FIELDS = ("fx", "fy", "cx", "cy", "k1", "k2", "p1", "p2", "k3")


def release_camera(world, mono, name, width, where):
    """One Human3.6M camera as the release defines it: the intrinsics table (``CAMERA_TABLE``,
    scaled to ``width``-px-wide frames) and the world -> camera R, t (mm) fitted (Kabsch) from a
    sequence's world-frame poses ``world`` (``D3_Positions``, (N, 32, 3)) to the camera's
    ``mono`` (``D3_Positions_mono``, same frames). ``where`` names the camera's pose file in errors."""
    from .tools.h36m_official import table_distortion, table_intrinsics

    if len(mono) != len(world):
        raise UserError(f"{where} has {len(mono)} frames, its sequence's world poses {len(world)}: not the same frames")
    world, mono = world.reshape(-1, 3), mono.reshape(-1, 3)
    R, t = rigid_fit(world, mono)
    residual = float(np.sqrt(((world @ R.T + t - mono) ** 2).sum(1).mean()))
    if not residual <= RELEASE_FIT_TOLERANCE_MM:
        raise UserError(
            f"{where}: no rigid motion maps the sequence's world poses onto this camera's "
            f"({residual:.1f} mm rms apart): not the same sequence?"
        )
    fx, fy, cx, cy = table_intrinsics(name, width)
    K = [[fx, 0, cx], [0, fy, cy], [0, 0, 1]]
    values = {"size": None, "matrix": K, "dist": table_distortion(name), "rotation": R, "translation": t}
    return make_camera(where, name, values, {f: f"fitted {f}" for f in FIELDS}, metres=False)


def lens_of(camera):
    """``camera``'s pinhole and distortion (at most 5 coefficients) as one vector (``LENS_FIELDS``)."""
    k = camera.intrinsics
    dist = np.zeros(0) if k.dist is None else np.asarray(k.dist)
    return np.concatenate([[k.fx, k.fy, k.cx, k.cy], np.pad(dist, (0, len(LENS_FIELDS) - 4 - len(dist)))])


def h36m_cameras(src, subject, sequence, width=None):
    """Human3.6M's four cameras of one sequence (``release_camera``); the world frame is the
    release's (mm), frames ``width`` px wide (default the table's 1000)."""
    from .tools.h36m_official import CAMERAS, TABLE_WIDTH, pose_paths, read_pose, world_pose_path

    world = read_pose(world_pose_path(src, subject, sequence), 3)
    cameras = []
    for name in CAMERAS:
        mono_path = pose_paths(src, subject, f"{sequence}.{name}")[1]
        cameras.append(release_camera(world, read_pose(mono_path, 3), name, width or TABLE_WIDTH, mono_path))
    return cameras


def check_size(camera, size, where):
    """A view's image or video (``where``) must be the size its camera was calibrated at."""
    if camera.size is not None and tuple(size) != tuple(camera.size):
        raise UserError(
            f"{where} is {size[0]} x {size[1]} px but camera {camera.name!r} was calibrated at "
            f"{camera.size[0]} x {camera.size[1]} (size): a view of another camera, or resized?"
        )
