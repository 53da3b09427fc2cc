"""People placed in the scene: camera intrinsics and the root translation that puts a
root-relative 3D pose (mm) where its 2D joints (px) say it stands.

Camera frame: x right, y down, z forward (mm), as Human3.6M and OpenCV. ``Intrinsics`` is a pinhole
in pixels with OpenCV's lens distortion coefficients (k1, k2, p1, p2[, k3, ...]). It comes from a
calibration file, from the photo's EXIF 35 mm-equivalent focal length, or from an assumed field of
view (``CameraPolicy``, in that order). Pixel centres are integers, so the centre of a
W-pixel-wide image is (W - 1) / 2.

``root_translation`` is closed-form linear least squares: with (x, y) the undistorted normalised
image coordinates of a joint and (X, Y, Z) its root-relative position, the root t satisfies
x (Z + tz) = X + tx and y (Z + tz) = Y + ty for every joint (the projection equations multiplied
by the joint's depth). The scale of the answer is the scale of the 3D pose: the network's poses
are rescaled to a bone-length sum (4000 mm), so the depth is a bone-length prior, not measured.
docs/camera.md has the derivation, assumptions and failure cases.
"""

import json
import math
import os
from dataclasses import dataclass

import cv2
import numpy as np

from .errors import UserError
from .joints import H36M_JOINTS, MPII_JOINTS, SHARED_JOINTS

DEFAULT_FOV_DEG = 55.0  # over the image's longer side: a typical phone or webcam
FILM_35MM_WIDTH_MM = 36.0  # a 35 mm film frame is 36 x 24 mm; its longer side meets the image's
MIN_ROOT_DEPTH_MM = 300.0  # a root closer than this (or behind the camera) is no placement
SOURCES = ("file", "exif", "fov")
# OpenCV accepts these numbers of distortion coefficients.
DIST_LENGTHS = (4, 5, 8, 12, 14)
# EXIF tags (TIFF/EXIF 2.3): the Exif sub-IFD pointer and the 35 mm-equivalent focal length in it.
EXIF_IFD_POINTER = 0x8769
EXIF_FOCAL_LENGTH_35MM = 0xA405
# Undistortion iterates (OpenCV's default stops after 5 steps, leaving up to ~0.1 px near the
# corners for strong lenses); this runs it to convergence.
UNDISTORT_CRITERIA = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-12)
# A solution needs the joints spread over the image: at least this mean squared distance from
# their centre in normalised coordinates (a spread of 1e-6 focal lengths, about a thousandth of a
# pixel). Joints collapsed onto one point fix no depth; rounding would make one up.
MIN_SPREAD = 1e-12

SHARED_MPII = np.array([MPII_JOINTS.index(mpii) for mpii, _ in SHARED_JOINTS])
SHARED_H36M = np.array([H36M_JOINTS.index(h36m) for _, h36m in SHARED_JOINTS])


@dataclass(frozen=True)
class Intrinsics:
    """A pinhole camera in pixels; ``dist``: OpenCV distortion coefficients or None (none).

    ``source`` says where the numbers came from: "file" (a calibration, or numbers the caller
    gives), "exif" or "fov".
    """

    fx: float
    fy: float
    cx: float
    cy: float
    dist: tuple | None = None
    source: str = "file"

    def __post_init__(self):
        numbers = (self.fx, self.fy, self.cx, self.cy)
        if not all(math.isfinite(v) for v in numbers) or self.fx <= 0 or self.fy <= 0:
            raise UserError(f"camera intrinsics fx, fy, cx, cy = {numbers}: need finite numbers with fx, fy > 0")
        if self.dist is not None:
            dist = tuple(float(v) for v in np.asarray(self.dist, np.float64).reshape(-1))
            if len(dist) not in DIST_LENGTHS or not all(math.isfinite(v) for v in dist):
                raise UserError(
                    f"distortion coefficients {list(dist)}: need {', '.join(map(str, DIST_LENGTHS[:-1]))} or "
                    f"{DIST_LENGTHS[-1]} finite numbers (OpenCV's k1, k2, p1, p2[, k3, ...])"
                )
            object.__setattr__(self, "dist", dist if any(dist) else None)  # all zeros: no distortion
        if self.source not in SOURCES:
            raise ValueError(f"source {self.source!r} is not one of {SOURCES}")
        for name in ("fx", "fy", "cx", "cy"):
            object.__setattr__(self, name, float(getattr(self, name)))

    def for_frame(self, shape, path=None):
        """Itself, whatever the frame: a fixed camera used where a ``CameraPolicy`` is expected."""
        return self

    @property
    def K(self):
        """The 3 x 3 camera matrix."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    def to_json(self):
        return {
            "fx": self.fx,
            "fy": self.fy,
            "cx": self.cx,
            "cy": self.cy,
            "dist": None if self.dist is None else list(self.dist),
            "source": self.source,
        }

    @classmethod
    def from_matrix(cls, matrix, dist=None):
        """From a 3 x 3 camera matrix [[fx, 0, cx], [0, fy, cy], [0, 0, 1]] (as datasets store it)."""
        K = np.asarray(matrix, np.float64)
        return cls(K[0, 0], K[1, 1], K[0, 2], K[1, 2], dist=dist)

    @classmethod
    def from_fov(cls, width, height, fov_deg=DEFAULT_FOV_DEG):
        """Square pixels, principal point at the image centre, ``fov_deg`` over the longer side."""
        if not 0 < fov_deg < 180:
            raise UserError(f"field of view {fov_deg} degrees: needs to lie strictly between 0 and 180")
        focal = max(width, height) / 2 / math.tan(math.radians(fov_deg) / 2)
        return cls(focal, focal, (width - 1) / 2, (height - 1) / 2, source="fov")

    @classmethod
    def from_exif(cls, image_path, width, height):
        """From the photo's EXIF ``FocalLengthIn35mmFilm`` (f35, mm): f = f35 / 36 mm x the longer
        side in px, principal point at the centre; None when the file has no such tag (or is not
        an image Pillow reads, e.g. a video)."""
        from PIL import Image, UnidentifiedImageError

        if not os.path.isfile(image_path):
            raise UserError(f"image {image_path} not found (for its EXIF focal length)")
        try:
            with Image.open(image_path) as image:
                exif = image.getexif()
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            return None
        f35 = exif.get_ifd(EXIF_IFD_POINTER).get(EXIF_FOCAL_LENGTH_35MM, exif.get(EXIF_FOCAL_LENGTH_35MM))
        try:
            f35 = float(f35)
        except (TypeError, ValueError):
            return None
        if not 0 < f35 < math.inf:
            return None  # 0 means unknown in EXIF
        focal = f35 / FILM_35MM_WIDTH_MM * max(width, height)
        return cls(focal, focal, (width - 1) / 2, (height - 1) / 2, source="exif")

    @classmethod
    def load(cls, path):
        """A calibration file: JSON ``{"fx", "fy", "cx", "cy", "dist"}`` or ``{"K": 3x3, "dist"}``,
        or the YAML / XML that OpenCV's calibration writes (``camera_matrix``,
        ``distortion_coefficients``)."""
        if not os.path.isfile(path):
            raise UserError(f"intrinsics file {path} not found (--intrinsics: a JSON, YAML or XML calibration)")
        extension = os.path.splitext(path)[1].lower()
        if extension == ".json":
            return cls.from_dict(read_calibration_json(path), path)
        if extension in (".yml", ".yaml", ".xml"):
            return cls.from_dict(read_opencv_calibration(path), path)
        raise UserError(f"intrinsics file {path}: unknown type {extension!r} (expected .json, .yml, .yaml or .xml)")

    @classmethod
    def from_dict(cls, values, path):
        """From ``{"fx", "fy", "cx", "cy"}`` or ``{"K"}``, with an optional ``"dist"``."""
        dist = values.get("dist")
        if "K" in values:
            try:
                matrix = np.asarray(values["K"], np.float64)
            except (TypeError, ValueError):
                matrix = None
            if matrix is None or matrix.shape != (3, 3) or matrix[0, 1] or matrix[1, 0] or list(matrix[2]) != [0, 0, 1]:
                raise UserError(
                    f"intrinsics file {path}: K must be a 3 x 3 camera matrix [[fx, 0, cx], [0, fy, cy], [0, 0, 1]]"
                )
            numbers = matrix[0, 0], matrix[1, 1], matrix[0, 2], matrix[1, 2]
        else:
            missing = [k for k in ("fx", "fy", "cx", "cy") if k not in values]
            if missing:
                raise UserError(f"intrinsics file {path} lacks {', '.join(missing)} (or give K, a 3 x 3 matrix)")
            numbers = tuple(values[k] for k in ("fx", "fy", "cx", "cy"))
        try:
            numbers = tuple(float(v) for v in numbers)
            dist = None if dist is None else np.asarray(dist, np.float64)
        except (TypeError, ValueError):
            raise UserError(f"intrinsics file {path}: fx, fy, cx, cy and dist must be numbers") from None
        try:
            return cls(*numbers, dist=dist, source="file")
        except UserError as exc:
            raise UserError(f"intrinsics file {path}: {exc}") from None


def read_calibration_json(path):
    try:
        with open(path) as handle:
            values = json.load(handle)
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read intrinsics file {path}: {exc}") from None
    if not isinstance(values, dict):
        raise UserError(f"intrinsics file {path}: expected an object with fx, fy, cx, cy (or K) and dist")
    return values


def read_opencv_calibration(path):
    """``camera_matrix`` (as ``K``) and ``distortion_coefficients`` of an OpenCV FileStorage file."""
    try:
        storage = cv2.FileStorage(path, cv2.FILE_STORAGE_READ)
    except (cv2.error, SystemError) as exc:  # the Python binding wraps a parse error in SystemError
        reason = str(exc.__cause__ or exc).strip().splitlines()[-1].split(" error: ")[-1]
        raise UserError(f"cannot read intrinsics file {path} as OpenCV YAML/XML: {reason}") from None
    try:
        if not storage.isOpened():
            raise UserError(f"cannot read intrinsics file {path} as OpenCV YAML/XML")
        matrix = storage.getNode("camera_matrix").mat()
        if matrix is None:
            raise UserError(f"intrinsics file {path} has no camera_matrix (as OpenCV's calibration writes it)")
        dist = storage.getNode("distortion_coefficients").mat()
    finally:
        storage.release()
    return {"K": matrix, "dist": None if dist is None else dist.reshape(-1)}


class CameraPolicy:
    """Where the intrinsics of a frame come from, decided in this one place: the calibration
    ``file`` (a path, or an ``Intrinsics``) when given, else the EXIF focal length of the file the
    frame was read from (a photo; unless ``use_exif`` is off; a camera or a stream has no file and
    so no EXIF), else ``fov_deg`` over the frame's longer side. ``Intrinsics`` has the same
    ``for_frame``: a fixed camera is a policy that always gives itself."""

    def __init__(self, file=None, use_exif=True, fov_deg=DEFAULT_FOV_DEG):
        if not 0 < fov_deg < 180:
            raise UserError(f"field of view {fov_deg} degrees: needs to lie strictly between 0 and 180")
        self.calibration = Intrinsics.load(os.fspath(file)) if isinstance(file, (str, os.PathLike)) else file
        self.use_exif, self.fov_deg = use_exif, fov_deg

    def for_frame(self, shape, path=None):
        """The intrinsics of a frame of ``shape`` (height, width, ...) read from the file ``path``
        (None: a camera, a stream, or an image in memory)."""
        if self.calibration is not None:
            return self.calibration
        height, width = shape[:2]
        if self.use_exif and path is not None:
            found = Intrinsics.from_exif(path, width, height)
            if found is not None:
                return found
        return Intrinsics.from_fov(width, height, self.fov_deg)


def normalised_points(points_px, intrinsics):
    """Pixels (..., 2) -> ideal normalised image coordinates (x, y) = (X / Z, Y / Z), the lens
    distortion removed. Non-finite points stay NaN."""
    points = np.asarray(points_px, np.float64)
    if intrinsics.dist is None or points.size == 0:
        return (points - [intrinsics.cx, intrinsics.cy]) / [intrinsics.fx, intrinsics.fy]
    finite = np.isfinite(points).all(-1, keepdims=True)
    flat = np.where(finite, points, [intrinsics.cx, intrinsics.cy]).reshape(-1, 1, 2)
    ideal = cv2.undistortPoints(flat, intrinsics.K, np.asarray(intrinsics.dist), criteria=UNDISTORT_CRITERIA).reshape(
        points.shape
    )
    return np.where(finite, ideal, np.nan)


def project(points_cam_mm, intrinsics):
    """Camera-frame points (..., 3) to pixels (..., 2), with the lens distortion; NaN for points
    not in front of the camera."""
    points = np.asarray(points_cam_mm, np.float64)
    in_front = points[..., 2:] > 0
    if intrinsics.dist is None or points.size == 0:
        with np.errstate(divide="ignore", invalid="ignore"):
            pixels = points[..., :2] / points[..., 2:] * [intrinsics.fx, intrinsics.fy] + [intrinsics.cx, intrinsics.cy]
    else:
        safe = np.where(in_front, points, [0.0, 0.0, 1.0]).reshape(-1, 3)
        pixels, _ = cv2.projectPoints(safe, np.zeros(3), np.zeros(3), intrinsics.K, np.asarray(intrinsics.dist))
        pixels = pixels.reshape(points.shape[:-1] + (2,))
    return np.where(in_front, pixels, np.nan)


def _weighted_mean(values, weights, total):
    """Mean over the joint axis (-2) of ``values`` (..., J, C) with ``weights`` (..., J, 1)."""
    return (weights * values).sum(-2, keepdims=True) / total


def root_translation(joints_2d, joints_3d_rel_mm, intrinsics, weights=None):
    """Where the origin of a root-relative pose lies in the camera frame (mm).

    ``joints_2d`` (..., J, 2) px and ``joints_3d_rel_mm`` (..., J, 3) the same joints relative to
    the root, leading axes broadcast (people, frames); ``weights`` (..., J) optional (e.g. heatmap
    confidences; joints with weight <= 0 or non-finite coordinates are left out).
    Returns (..., 3) mm; NaN where the root is not at least MIN_ROOT_DEPTH_MM in front of the
    camera or the joints do not fix it (fewer than two distinct image points).

    Least squares over all joints of x (Z + tz) = X + tx and y (Z + tz) = Y + ty: for a given tz
    the best (tx, ty) is the weighted mean of x Z - X + x tz (resp. y); what remains is linear in
    tz alone, solved by one division.
    """
    xy = normalised_points(joints_2d, intrinsics)
    pose = np.asarray(joints_3d_rel_mm, np.float64)
    weight = np.ones(np.broadcast_shapes(xy.shape[:-1], pose.shape[:-1]))
    if weights is not None:
        weight = weight * np.asarray(weights, np.float64)
    usable = np.isfinite(xy).all(-1) & np.isfinite(pose).all(-1) & (weight > 0)
    weight = np.where(usable, weight, 0.0)[..., None]
    xy = np.where(usable[..., None], xy, 0.0)
    pose = np.where(usable[..., None], pose, 0.0)
    total = weight.sum(-2, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        offset = xy * pose[..., 2:] - pose[..., :2]  # x Z - X, y Z - Y
        mean_xy, mean_offset = _weighted_mean(xy, weight, total), _weighted_mean(offset, weight, total)
        xy_c, offset_c = xy - mean_xy, offset - mean_offset
        spread = (weight * xy_c**2).sum((-2, -1))
        tz = -(weight * xy_c * offset_c).sum((-2, -1)) / spread
        txy = (mean_offset + mean_xy * tz[..., None, None])[..., 0, :]
        solved = (spread > MIN_SPREAD * total[..., 0, 0]) & (tz >= MIN_ROOT_DEPTH_MM)
    root = np.concatenate([txy, tz[..., None]], -1)
    return np.where(solved[..., None], root, np.nan)


def root_from_pose(joints_2d_mpii, pose_3d_h36m, intrinsics, weights_mpii=None):
    """The pelvis in the camera frame (..., 3) mm from the network's outputs: MPII-16 2D joints
    (..., 16, 2) px, the H36M-17 pose (..., 17, 3) mm, optional MPII-16 confidences (..., 16);
    over the 15 ``SHARED_JOINTS``. NaN as in ``root_translation``."""
    pose = np.asarray(pose_3d_h36m, np.float64)
    relative = pose - pose[..., :1, :]
    weights = None if weights_mpii is None else np.asarray(weights_mpii)[..., SHARED_MPII]
    return root_translation(
        np.asarray(joints_2d_mpii)[..., SHARED_MPII, :], relative[..., SHARED_H36M, :], intrinsics, weights
    )
