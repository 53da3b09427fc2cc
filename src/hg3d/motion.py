"""Motion data of tracked people (``docs/motion.md``): each track's joints in the world frame, its
joint angles and foot contacts (``track_motion``), and the files biomechanics tools read: the
angles as CSV and as OpenSim ``.mot``, the markers as OpenSim ``.trc`` and as C3D. Every file is
written atomically."""

import os
import warnings
from dataclasses import dataclass

import numpy as np

from .angles import ANGLE_NAMES, joint_angles
from .bvh import CAMERA_TO_BVH
from .files import atomic_write
from .joints import H36M_JOINTS
from .world import foot_contacts, world_for_tracks

CAMERA_TURNED = "camera frame turned +Y up as the BVH export does: (x, -y, -z), mm, the camera at the origin"


@dataclass
class TrackMotion:
    """One track over its span (first to last frame with a 3D pose): ``frames`` (L,) video frame
    indices, ``joints`` (L, 17, 3) root-relative camera-frame mm (NaN: missed), ``cam`` the same
    placed in the camera frame (NaN: not placed), ``world`` in the world frame (None without one),
    ``angles`` {name: (L,) degrees}, ``contacts`` {"l", "r": (L,) bool} (None without a world)."""

    frames: np.ndarray
    joints: np.ndarray
    cam: np.ndarray
    world: np.ndarray | None
    angles: dict
    contacts: dict | None

    def markers(self):
        """(L, 17, 3) mm for the marker files, and the frame they are in (words)."""
        if self.world is not None:
            return self.world, "world frame: +Y up, the origin on the floor under the first pelvis, mm"
        return self.cam * CAMERA_TO_BVH, CAMERA_TURNED


def track_motion(spans, fps, given_world=None):
    """(World or None, its note, {track id: TrackMotion}) from ``TrackedPoses.spans()``: the world
    of ``given_world`` (--world) or of the floor the tracks walk on."""
    cams = {tid: poses + roots[:, None] for tid, (_, poses, roots) in spans.items()}
    world, note = world_for_tracks(list(cams.values()), fps, given_world) if cams else (given_world, "no 3D pose")
    up = None if world is None else world.up_cam
    out = {}
    for tid, (first, poses, _) in spans.items():
        cam = cams[tid]
        out[tid] = TrackMotion(
            frames=first + np.arange(len(poses)),
            joints=poses,
            cam=cam,
            world=None if world is None else world.apply(cam),
            angles=joint_angles(poses, up),
            contacts=None if world is None else foot_contacts(cam, world, fps),
        )
    return world, note, out


def _cells(values, digits):
    """Text cells of a 2D array, empty where NaN."""
    return [["" if v != v else f"{v:.{digits}f}" for v in row] for row in values.tolist()]


def _write_text(path, text):
    def write(tmp):
        with open(tmp, "w", newline="") as handle:
            handle.write(text)

    atomic_write(path, write)


def _angle_table(motion):
    return np.stack([motion.angles[name] for name in ANGLE_NAMES], axis=1)


def write_angles_csv(path, motions, times):
    """``frame,time_s,track_id,<ANGLE_NAMES>``: a row per frame and track with a 3D pose (empty
    cells: an angle that cannot be computed), by frame then track."""
    rows = []
    for tid, motion in motions.items():
        seen = np.isfinite(motion.joints).all(axis=(1, 2))
        cells = _cells(_angle_table(motion)[seen], 2)
        rows += [(int(f), tid, c) for f, c in zip(motion.frames[seen], cells)]
    rows.sort(key=lambda row: (row[0], row[1]))
    lines = [",".join(("frame", "time_s", "track_id", *ANGLE_NAMES))]
    lines += [",".join((str(f), f"{times[f]:.4f}", str(tid), *c)) for f, tid, c in rows]
    _write_text(path, "\n".join(lines) + "\n")


def write_mot(path, motion, times):
    """OpenSim's motion table (``inDegrees=yes``): time and the angles, a row per frame of the
    track's span (NaN where they cannot be computed)."""
    table = np.concatenate([np.array([times[f] for f in motion.frames])[:, None], _angle_table(motion)], axis=1)
    header = [
        os.path.basename(path),
        "version=1",
        f"nRows={len(table)}",
        f"nColumns={table.shape[1]}",
        "inDegrees=yes",
        "endheader",
        "\t".join(("time", *ANGLE_NAMES)),
    ]
    body = ["\t".join("NaN" if v != v else f"{v:.6f}" for v in row) for row in table.tolist()]
    _write_text(path, "\n".join(header + body) + "\n")


def write_trc(path, motion, times, fps):
    """OpenSim's marker file: the 17 joints as markers (mm), a row per frame of the track's span,
    the cells of a frame without the person left empty; the frame the markers are in is said at
    the end of the first line."""
    markers, frame_words = motion.markers()
    count = len(markers)
    names = "\t".join(f"{name}\t\t" for name in H36M_JOINTS)
    axes = "\t".join(f"X{k}\tY{k}\tZ{k}" for k in range(1, len(H36M_JOINTS) + 1))
    header = [
        f"PathFileType\t4\t(X/Y/Z)\t{os.path.basename(path)}\t{frame_words}",
        "DataRate\tCameraRate\tNumFrames\tNumMarkers\tUnits\tOrigDataRate\tOrigDataStartFrame\tOrigNumFrames",
        f"{fps:.2f}\t{fps:.2f}\t{count}\t{len(H36M_JOINTS)}\tmm\t{fps:.2f}\t1\t{count}",
        f"Frame#\tTime\t{names}",
        f"\t\t{axes}",
        "",
    ]
    cells = _cells(markers.reshape(count, -1), 3)
    body = ["\t".join((str(k + 1), f"{times[f]:.6f}", *row)) for k, (f, row) in enumerate(zip(motion.frames, cells))]
    _write_text(path, "\n".join(header + body) + "\n")


def write_c3d(path, motion, fps):
    """The 17 joints as C3D points (labels the joint names, mm, ``fps``; a missed frame's points
    marked invalid: residual -1), +Y up as in the TRC."""
    import c3d

    markers, _ = motion.markers()
    writer = c3d.Writer(point_rate=float(fps), point_units="mm  ")
    writer.set_point_labels(list(H36M_JOINTS))
    writer.set_screen_axis("+X", "+Y")
    points = np.zeros((len(markers), len(H36M_JOINTS), 5), np.float32)
    seen = np.isfinite(markers).all(-1)
    points[..., :3] = np.where(seen[..., None], markers, 0.0)
    points[..., 3] = np.where(seen, 0.0, -1.0)
    no_analog = np.zeros((0, 0), np.float32)
    writer.add_frames([(frame, no_analog) for frame in points])

    def write(tmp):
        with open(tmp, "wb") as handle, warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="No analog data found")  # markers only, by design
            writer.write(handle)

    atomic_write(path, write)
