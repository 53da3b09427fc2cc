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

import math
import os
import warnings
from dataclasses import dataclass

import cv2
import numpy as np

from .errors import UserError
from .files import read_json
from .joints import H36M_JOINTS, MPII_JOINTS, SHARED_JOINTS

DEFAULT_FOV_DEG = 55.0  # over the image's longer side: a typical phone or webcam
FOV_RANGE_DEG = (1.0, 170.0)  # an assumed field of view: a telephoto's to past a pinhole's sensible limit
# Focal lengths (px) and principal points that make sense: f < 1 px would put 45 degrees within
# one pixel of the centre; 1e6 px is a 0.2 degree view across a 4000 px image.
FOCAL_RANGE_PX = (1.0, 1e6)
MAX_PRINCIPAL_POINT_PX = 1e6
# A 35 mm film frame is 36 x 24 mm. Camera makers state the 35 mm-equivalent focal length as the one
# that gives the same angle over the diagonal (about 43.27 mm), whatever the sensor's shape.
FILM_35MM_DIAGONAL_MM = math.hypot(36.0, 24.0)
MIN_ROOT_DEPTH_MM = 300.0  # a root closer than this (or behind the camera) is no placement
SOURCES = ("file", "exif", "fov")
# OpenCV accepts these numbers of distortion coefficients.
DIST_LENGTHS = (4, 5, 8, 12, 14)
# A calibration file is a few kB (OpenCV's sample with every view's extrinsics stays far below
# this): a larger one is refused before it is read.
MAX_CALIBRATION_BYTES = 1 << 20
# Flow lists and maps nested deeper than this are refused before OpenCV parses them: OpenCV 5.0's
# parser recurses on each level and crashes the process (a segmentation fault) on deep nesting.
MAX_OPENCV_NESTING = 64
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
        low, high = FOCAL_RANGE_PX
        if not (
            all(low <= f <= high for f in numbers[:2]) and all(abs(c) <= MAX_PRINCIPAL_POINT_PX for c in numbers[2:])
        ):  # NaN fails every comparison
            raise UserError(
                f"camera intrinsics fx, fy, cx, cy = {numbers}: need fx, fy from {low:g} to {high:g} px and cx, cy "
                f"within {MAX_PRINCIPAL_POINT_PX:g} px of the image's corner"
            )
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
        low, high = FOV_RANGE_DEG
        if not low <= fov_deg <= high:
            raise UserError(f"field of view {fov_deg} degrees: needs to lie from {low:g} to {high:g}")
        focal = max(width, height) / 2 / math.tan(math.radians(fov_deg) / 2)
        return cls(focal, focal, (width - 1) / 2, (height - 1) / 2, source="fov")

    @classmethod
    def from_exif(cls, image_path, width, height):
        """From the photo's EXIF ``FocalLengthIn35mmFilm`` (f35, mm): f = f35 / 43.27 mm x the
        image's diagonal in px, principal point at the centre; None when the file has no such tag
        (or is not an image Pillow reads, e.g. a video). A file over Pillow's decompression-bomb
        limit is not opened: one notice, and None."""
        from PIL import Image, UnidentifiedImageError

        if not os.path.isfile(image_path):
            raise UserError(f"image {image_path} not found (for its EXIF focal length)")
        try:
            with warnings.catch_warnings():
                # Between Pillow's limit and twice it, Pillow only warns: reading the EXIF decodes
                # no pixels, so nothing to warn about.
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(image_path) as image:
                    exif = image.getexif()
        except Image.DecompressionBombError:
            print(
                f"notice: {image_path} has more than {2 * Image.MAX_IMAGE_PIXELS} pixels, Pillow's "
                "decompression-bomb limit: its EXIF focal length is skipped"
            )
            return None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            return None
        f35 = exif.get_ifd(EXIF_IFD_POINTER).get(EXIF_FOCAL_LENGTH_35MM, exif.get(EXIF_FOCAL_LENGTH_35MM))
        try:
            f35 = float(f35)
        except (TypeError, ValueError):
            return None
        focal = f35 / FILM_35MM_DIAGONAL_MM * math.hypot(width, height)
        if not FOCAL_RANGE_PX[0] <= focal <= FOCAL_RANGE_PX[1]:
            return None  # 0 means unknown in EXIF; other values out of range are no camera either
        return cls(focal, focal, (width - 1) / 2, (height - 1) / 2, source="exif")

    @classmethod
    def load(cls, path):
        """A calibration file: JSON ``{"fx", "fy", "cx", "cy", "dist"}`` or ``{"K": 3x3, "dist"}``,
        or the YAML / XML that OpenCV's calibration writes (``camera_matrix``,
        ``distortion_coefficients``)."""
        if not os.path.isfile(path):
            raise UserError(f"intrinsics file {path} not found (--intrinsics: a JSON, YAML or XML calibration)")
        check_calibration_size(path, "intrinsics file")
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
    values = read_json(path, "intrinsics file")
    if not isinstance(values, dict):
        raise UserError(f"intrinsics file {path}: expected an object with fx, fy, cx, cy (or K) and dist")
    return values


def open_opencv_storage(path, what):
    """``path`` opened as an OpenCV FileStorage (YAML/XML), or a one-line error naming ``what`` it is."""
    check_calibration_size(path, what)
    depth = flow_nesting_depth(path)
    if depth > MAX_OPENCV_NESTING:
        raise UserError(
            f"cannot read {what} {path} as OpenCV YAML/XML: Too many nested lists or maps "
            f"({depth} levels; a calibration needs a few, at most {MAX_OPENCV_NESTING} are read)"
        )
    try:
        storage = cv2.FileStorage(path, cv2.FILE_STORAGE_READ)
    except (cv2.error, SystemError) as exc:  # the Python binding wraps a parse error in SystemError
        raise UserError(f"cannot read {what} {path} as OpenCV YAML/XML: {_opencv_reason(exc)}") from None
    if not storage.isOpened():
        raise UserError(f"cannot read {what} {path} as OpenCV YAML/XML")
    return storage


def check_calibration_size(path, what):
    """A one-line error for a file too large to be a calibration (refused before it is read)."""
    size = os.path.getsize(path)
    if size > MAX_CALIBRATION_BYTES:
        raise UserError(
            f"{what} {path} is {size} bytes: a calibration is a few kB, and files over "
            f"{MAX_CALIBRATION_BYTES >> 20} MiB are not read"
        )


def flow_nesting_depth(path):
    """How deep the ``[...]`` / ``{...}`` of a text file nest (brackets inside strings counted too:
    an upper bound, which is what a guard needs)."""
    with open(path, "rb") as handle:
        text = np.frombuffer(handle.read(), np.uint8)
    steps = np.isin(text, (ord("["), ord("{"))).astype(np.int64) - np.isin(text, (ord("]"), ord("}")))
    return int(np.cumsum(steps).max(initial=0))


def read_opencv_calibration(path):
    """``camera_matrix`` (as ``K``) and ``distortion_coefficients`` of an OpenCV FileStorage file."""
    storage = open_opencv_storage(path, "intrinsics file")
    try:
        matrix = _small_opencv_matrix(storage, "camera_matrix", 9, path)
        if matrix is None:
            raise UserError(f"intrinsics file {path} has no camera_matrix (as OpenCV's calibration writes it)")
        dist = _small_opencv_matrix(storage, "distortion_coefficients", max(DIST_LENGTHS), path)
    finally:
        storage.release()
    return {"K": matrix, "dist": None if dist is None else dist.reshape(-1)}


def _opencv_reason(exc):
    """The message of an OpenCV error without its source location."""
    return str(exc.__cause__ or exc).strip().splitlines()[-1].split(" error: ")[-1]


def _small_opencv_matrix(storage, name, max_values, path):
    """Entry ``name`` of ``storage`` as an array (None when absent). Only an OpenCV matrix of at most
    ``max_values`` numbers is read: its declared size is checked first, as OpenCV would allocate
    whatever a file declares (100000 x 100000: 80 GB) before finding the data too short."""
    node = storage.getNode(name)
    if node.isNone():
        return None
    what = f"intrinsics file {path}: {name}"
    if not node.isMap():
        raise UserError(f"{what} is not an OpenCV matrix (rows, cols, dt, data)")
    rows, cols = node.getNode("rows").real(), node.getNode("cols").real()
    if rows * cols > max_values:
        raise UserError(f"{what} is {rows:.0f} x {cols:.0f}: a calibration's has at most {max_values} numbers")
    try:
        return node.mat()
    except cv2.error as exc:
        raise UserError(f"{what} is not an OpenCV matrix ({_opencv_reason(exc)})") from None


class CameraPolicy:
    """Where the intrinsics of a frame come from, decided in this one place: the calibration
    ``file`` (a path, or an ``Intrinsics``) when given, else the EXIF focal length of the file the
    frame was read from (a photo; unless ``use_exif`` is off; a camera or a stream has no file and
    so no EXIF), else ``fov_deg`` over the frame's longer side. ``Intrinsics`` has the same
    ``for_frame``: a fixed camera is a policy that always gives itself."""

    def __init__(self, file=None, use_exif=True, fov_deg=DEFAULT_FOV_DEG):
        low, high = FOV_RANGE_DEG
        if not low <= fov_deg <= high:
            raise UserError(f"field of view {fov_deg} degrees: needs to lie from {low:g} to {high:g}")
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
