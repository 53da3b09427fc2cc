"""A floor and a world frame for the camera-frame joints of tracked people (``docs/motion.md``).

The floor is the plane through the planted ankles (no foot-height offset): for each foot of each
track, the frames where the ankle is slow (``CONTACT_SPEED_MM_S``) and near the lowest it gets
within ``LOW_WINDOW_S`` (a local lowest, so that an up axis a few degrees off over a long walk does
not hide the far contacts), a RANSAC plane through those ankle positions, then once more with the
plane's normal as the up axis. It is kept only when the contacts it rests on span ``MIN_SPAN_MM``
and do not lie on one line: a person standing still (two planted ankles) tilts no plane.

World frame: +Y up (the floor's normal, against gravity), the origin on the floor under the first
placed pelvis of the first track, +X the camera's x laid on the floor, +Z = X x Y (towards a camera
that looks level). ``X_world = R X_cam + t`` in mm. ``--world FILE`` gives R and t directly (its
floor is Y = 0).
"""

from collections import namedtuple

import numpy as np
from scipy.ndimage import minimum_filter1d

from .errors import UserError
from .files import read_json
from .joints import H36M_JOINTS

Floor = namedtuple("Floor", "normal height_mm rmse_mm note")
Floor.__doc__ = """``normal``: (3,) unit, camera frame, up against gravity; ``height_mm``: the camera's
height above the floor {X : normal . X = -height_mm}; ``rmse_mm``: the contacts' distance to it;
``note``: what it rests on, or why there is none (then ``normal`` and ``height_mm`` are None)."""

PELVIS, THORAX = H36M_JOINTS.index("pelvis"), H36M_JOINTS.index("thorax")
FEET = {"l": H36M_JOINTS.index("l_ankle"), "r": H36M_JOINTS.index("r_ankle")}
CONTACT_MM = 30.0  # an ankle this close to the floor, and slower than
CONTACT_SPEED_MM_S = 300.0  # this, is planted
LOW_WINDOW_S = 0.5  # "lowest": within CONTACT_MM of the lowest the ankle gets this long before or after
MIN_SPAN_MM = 500.0
MIN_WIDTH_MM = 50.0  # the contacts' extent across their main line: narrower is one line, no plane
RANSAC_TRIES = 256
SOURCES = ("floor", "file")


def _as_tracks(joints_cam_mm):
    tracks = joints_cam_mm if isinstance(joints_cam_mm, (list, tuple)) else [joints_cam_mm]
    tracks = [np.asarray(t, np.float64) for t in tracks]
    for track in tracks:
        if track.ndim != 3 or track.shape[1:] != (len(H36M_JOINTS), 3):
            raise ValueError(f"a track's joints must be shaped (T, 17, 3), got {track.shape}")
    return tracks


def joint_speeds(track, fps):
    """(T, 17) speeds in mm/s by central differences (one-sided at the ends); NaN next to a missing frame."""
    if len(track) < 2:
        return np.full(track.shape[:2], np.nan)
    return np.linalg.norm(np.gradient(track, axis=0), axis=-1) * fps


def _contact_points(tracks, fps, up):
    """The ankle positions (N, 3) at the frames where a foot is slow and near its local lowest."""
    window = max(1, int(round(2 * LOW_WINDOW_S * fps)) + 1)
    points = []
    for track in tracks:
        speeds = joint_speeds(track, fps)
        for joint in FEET.values():
            ankle = track[:, joint]
            height = ankle @ up
            lowest = minimum_filter1d(np.where(np.isfinite(height), height, np.inf), window, mode="nearest")
            with np.errstate(invalid="ignore"):
                planted = (speeds[:, joint] < CONTACT_SPEED_MM_S) & (height <= lowest + CONTACT_MM)
            points.append(ankle[planted])
    return np.concatenate(points) if points else np.zeros((0, 3))


def _plane(points):
    """Least-squares plane (unit normal n, offset d: n . X = d) through ``points``."""
    centre = points.mean(0)
    normal = np.linalg.svd(points - centre)[2][-1]
    return normal, normal @ centre


def ransac_plane(points, threshold_mm=CONTACT_MM, tries=RANSAC_TRIES, seed=0):
    """(normal, offset, inlier mask) of the plane most ``points`` lie within ``threshold_mm`` of,
    refit by least squares on its inliers (random triples, seeded: the same points give the same plane)."""
    rng = np.random.default_rng(seed)
    triples = points[np.stack([rng.choice(len(points), 3, replace=False) for _ in range(tries)])]
    normals = np.cross(triples[:, 1] - triples[:, 0], triples[:, 2] - triples[:, 0])
    lengths = np.linalg.norm(normals, axis=-1)
    usable = lengths > 1e-9
    normals = normals[usable] / lengths[usable, None]
    offsets = np.sum(normals * triples[usable, 0], axis=-1)
    inliers = np.abs(points @ normals.T - offsets) <= threshold_mm  # (N, tries)
    best = inliers[:, np.argmax(inliers.sum(0))] if len(normals) else np.ones(len(points), bool)
    for _ in range(2):
        normal, offset = _plane(points[best])
        best = np.abs(points @ normal - offset) <= threshold_mm
    return normal, offset, best


def _extents(points):
    """The points' extent along their main line and across it (mm)."""
    centred = points - points.mean(0)
    axes = np.linalg.svd(centred, full_matrices=False)[2]
    spread = centred @ axes[:2].T
    return np.ptp(spread, axis=0)


def _trunk_up(tracks):
    """The mean unit pelvis -> thorax direction over every frame: a first guess of up."""
    trunks = np.concatenate([t[:, THORAX] - t[:, PELVIS] for t in tracks])
    trunks = trunks[np.isfinite(trunks).all(-1)]
    trunks = trunks[np.linalg.norm(trunks, axis=-1) > 0]
    if not len(trunks):
        return None
    mean = (trunks / np.linalg.norm(trunks, axis=-1, keepdims=True)).mean(0)
    return mean / np.linalg.norm(mean)


def no_floor(note):
    return Floor(None, None, None, note)


def fit_floor(joints_cam_mm, fps):
    """The ``Floor`` under the camera-frame H36M-17 joints (T, 17, 3) mm of one track (NaN where
    missing), or a list of such tracks, seen at ``fps`` frames per second."""
    tracks = _as_tracks(joints_cam_mm)
    up = _trunk_up(tracks)
    if up is None:
        return no_floor("no person was placed in the camera frame: no floor")
    for _ in range(2):
        points = _contact_points(tracks, fps, up)
        if len(points) < 3:
            return no_floor(f"{len(points)} planted ankle position(s) found, fewer than 3: no floor")
        normal, offset, inliers = ransac_plane(points)
        if normal @ up < 0:
            normal, offset = -normal, -offset
        up = normal
    contacts = points[inliers]
    span, width = _extents(contacts) if len(contacts) >= 3 else (0.0, 0.0)
    if span < MIN_SPAN_MM:
        return no_floor(
            f"the planted ankles span {span:.0f} mm, less than {MIN_SPAN_MM:.0f} mm (a person who hardly moves "
            f"shows no floor): no floor; give one with --world"
        )
    if width < MIN_WIDTH_MM:
        return no_floor(
            f"the planted ankles lie on one line ({width:.0f} mm across it): no floor; give one with --world"
        )
    rmse = float(np.sqrt(np.mean((contacts @ normal - offset) ** 2)))
    note = f"{len(contacts)} planted ankle positions over {span:.0f} mm, {rmse:.1f} mm from the plane"
    return Floor(normal, float(-offset), rmse, note)


class World:
    """A world frame: ``X_world = R X_cam + t`` (mm), +Y up; ``source`` "floor" or "file"."""

    def __init__(self, R, t, source, floor_rmse_mm=None):
        self.R, self.t, self.source, self.floor_rmse_mm = (
            np.asarray(R, float),
            np.asarray(t, float),
            source,
            floor_rmse_mm,
        )

    @property
    def up_cam(self):
        """The world's +Y in the camera frame."""
        return self.R[1]

    def apply(self, points_cam):
        """Camera-frame points (..., 3) in the world frame."""
        return np.asarray(points_cam, np.float64) @ self.R.T + self.t

    def to_json(self):
        return {
            "R": np.round(self.R, 8).tolist(),
            "t": np.round(self.t, 3).tolist(),
            "source": self.source,
            "floor_rmse_mm": None if self.floor_rmse_mm is None else round(self.floor_rmse_mm, 2),
        }


def first_pelvis(tracks):
    """The first placed pelvis of the first track holding one (camera frame), or None."""
    for track in tracks:
        placed = np.isfinite(track[:, PELVIS]).all(-1)
        if placed.any():
            return track[np.argmax(placed), PELVIS]
    return None


def world_from_floor(floor, origin_above_cam):
    """The world frame of a ``Floor``, its origin on the floor under ``origin_above_cam`` (3,)."""
    up = np.asarray(floor.normal, np.float64)
    origin = origin_above_cam - (origin_above_cam @ up + floor.height_mm) * up
    x = np.array([1.0, 0.0, 0.0]) - up[0] * up  # the camera's x laid on the floor
    if np.linalg.norm(x) < 1e-6:  # a camera looking straight down or up: its y instead
        x = np.array([0.0, 1.0, 0.0]) - up[1] * up
    x /= np.linalg.norm(x)
    R = np.stack([x, up, np.cross(x, up)])
    return World(R, -R @ origin, "floor", floor.rmse_mm)


def load_world(path):
    """``--world FILE``: JSON {"R": 3x3, "t": [x, y, z] mm} with X_world = R X_cam + t, +Y up."""
    data = read_json(path, "--world")
    fix = 'give {"R": [[...], [...], [...]] (a rotation), "t": [x, y, z] (mm)} with X_world = R X_cam + t, +Y up'
    try:
        R = np.array(data["R"], np.float64)
        t = np.array(data["t"], np.float64)
    except (TypeError, KeyError, ValueError):
        raise UserError(f"--world {path}: no R and t read from it; {fix}") from None
    if R.shape != (3, 3) or t.shape != (3,) or not (np.isfinite(R).all() and np.isfinite(t).all()):
        raise UserError(f"--world {path}: R must be 3x3 and t 3 finite numbers; {fix}")
    if not np.allclose(R @ R.T, np.eye(3), atol=1e-3) or np.linalg.det(R) < 0:
        raise UserError(f"--world {path}: R is not a rotation (orthonormal, determinant +1); {fix}")
    return World(R, t, "file")


def world_for_tracks(tracks_cam, fps, given=None):
    """(World or None, note): ``given`` (from --world) when there is one, else the fitted floor's frame."""
    if given is not None:
        return given, "from the --world file"
    tracks = _as_tracks(tracks_cam)
    floor = fit_floor(tracks, fps)
    if floor.normal is None:
        return None, floor.note
    return world_from_floor(floor, first_pelvis(tracks)), floor.note


def foot_contacts(track_cam, world, fps):
    """{"l": (T,) bool, "r": (T,) bool}: the ankle within CONTACT_MM of the world's floor (Y = 0)
    and slower than CONTACT_SPEED_MM_S; False where the ankle is missing."""
    speeds = joint_speeds(np.asarray(track_cam, np.float64), fps)
    out = {}
    for side, joint in FEET.items():
        height = world.apply(track_cam[:, joint])[:, 1]
        with np.errstate(invalid="ignore"):
            out[side] = (np.abs(height) <= CONTACT_MM) & (speeds[:, joint] < CONTACT_SPEED_MM_S)
    return out
