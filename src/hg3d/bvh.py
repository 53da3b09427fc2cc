"""BVH animation export: the H36M-17 poses of a tracked person as a skeleton animation that
Blender, Unity or MotionBuilder import.

Conventions (also in ``docs/export.md``, "Animation export"):

- Axes: BVH is Y up. The demo's camera frame (x right, y down, z forward, mm) becomes
  (x, -y, -z), a half turn about x (no mirroring): a person facing the camera faces +Z, their
  left is +X. Units stay millimetres.
- Hierarchy: the H36M-17 joints under their project names, pelvis the root (``H36M_PARENTS``);
  the five leaves (ankles, head, wrists) end in an End Site.
- Rest pose (the OFFSETs), one rigid skeleton per track: every bone is its median length over the
  track. Pelvis (hips, spine) and thorax (neck, shoulders) keep the shape of the track's median
  pose, upright, facing +Z; legs hang straight down, spine-thorax and neck-head point straight up,
  arms stretch out sideways (T-pose).
- Motion: the root has ``Xposition Yposition Zposition`` and every joint the rotations
  ``Zrotation Xrotation Yrotation`` (intrinsic ZXY, R = Rz Rx Ry, degrees), unwrapped over time so
  that no channel jumps by 360. A joint with one child turns by the smallest rotation that lays
  that bone along its direction in the frame's pose (so a limb carries its parent's twist and
  never spins about itself); the pelvis and thorax turn by the best fit of their three child bones
  (``Rotation.align_vectors``); the leaves do not turn. Why ZXY: with arms out sideways and the
  pelvis free to turn about Y, the order's gimbal lock (X at +-90) is only met by a thigh, shin,
  spine or neck at 90 degrees to its parent bone.
- Root position (``ROOT_MODES``), in BVH axes and mm on every frame, from the person's
  camera-frame root (``root_cam_mm``, docs/camera.md): ``start`` (default) puts the track's first
  placed root at the origin and then follows its motion in the camera frame; ``camera`` is the
  camera frame itself (the camera at the origin); ``fixed`` keeps the pelvis at the origin (the
  feet below Y = 0). A frame without a root repeats the previous one (the first placed one before
  it); a track never placed stays at the origin.
- A frame where the person was missed (NaN joints or a zero-length bone) repeats the previous
  frame's pose.
"""

import io
import os
import warnings

import numpy as np
from scipy.spatial.transform import Rotation

from .errors import UserError
from .files import atomic_write
from .joints import H36M_JOINTS, H36M_PARENTS, NUM_H36M_JOINTS

EULER_ORDER = "ZXY"  # intrinsic, R = Rz Rx Ry: BVH readers apply the channels in the listed order
ROTATION_CHANNELS = " ".join(f"{axis}rotation" for axis in EULER_ORDER)
# Camera frame (y down, z forward) -> BVH frame (y up): a half turn about x.
CAMERA_TO_BVH = np.array([1.0, -1.0, -1.0])
CHILDREN = tuple(tuple(c for c in range(NUM_H36M_JOINTS) if H36M_PARENTS[c] == j) for j in range(NUM_H36M_JOINTS))
UP, DOWN, LEFT, RIGHT, FORWARD = (0, 1, 0), (0, -1, 0), (1, 0, 0), (-1, 0, 0), (0, 0, 1)
# Rest direction of every bone that leaves a joint with one child, by child joint.
REST_DIRECTIONS = {
    H36M_JOINTS.index("r_knee"): DOWN,
    H36M_JOINTS.index("r_ankle"): DOWN,
    H36M_JOINTS.index("l_knee"): DOWN,
    H36M_JOINTS.index("l_ankle"): DOWN,
    H36M_JOINTS.index("thorax"): UP,
    H36M_JOINTS.index("head"): UP,
    H36M_JOINTS.index("l_elbow"): LEFT,
    H36M_JOINTS.index("l_wrist"): LEFT,
    H36M_JOINTS.index("r_elbow"): RIGHT,
    H36M_JOINTS.index("r_wrist"): RIGHT,
}
# The two joints with three child bones, each as (joint, its upward child, left child, right child):
# their rest shape is the track's median, seen in a frame where that upward bone is +Y and the
# right-to-left line lies along +X.
TORSO_JOINTS = tuple(
    (H36M_JOINTS.index(j), H36M_JOINTS.index(up), H36M_JOINTS.index(left), H36M_JOINTS.index(right))
    for j, up, left, right in (("pelvis", "spine", "l_hip", "r_hip"), ("thorax", "neck", "l_shoulder", "r_shoulder"))
)
# End Sites give the leaf bones a tail (Blender draws bones from joint to tail); they carry no
# data. Direction in the leaf's rest frame, length as a fraction of the bone into the leaf.
END_SITES = {
    H36M_JOINTS.index("r_ankle"): FORWARD,
    H36M_JOINTS.index("l_ankle"): FORWARD,
    H36M_JOINTS.index("head"): UP,
    H36M_JOINTS.index("l_wrist"): LEFT,
    H36M_JOINTS.index("r_wrist"): RIGHT,
}
END_SITE_FRACTION = 0.3
MIN_BONE_MM = 1e-3  # a shorter bone has no direction: the frame counts as missed
DEFAULT_MIN_FRAMES = 10
ROOT_MODES = ("start", "camera", "fixed")


def _unit(vectors):
    return vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)


def bone_vectors(frames):
    """(T, 17, 3) vectors from each joint's parent to the joint (the root's is zero)."""
    parents = np.maximum(H36M_PARENTS, 0)
    return frames - frames[:, parents]


def seen_frames(frames):
    """Which frames hold a usable pose: every joint finite, every bone longer than MIN_BONE_MM."""
    with np.errstate(invalid="ignore"):
        lengths = np.linalg.norm(bone_vectors(frames)[:, 1:], axis=-1)
        return np.isfinite(frames).all(axis=(1, 2)) & (lengths > MIN_BONE_MM).all(axis=1)


def _align(targets, sources, weights=None):
    """The rotation R with R @ sources ~ targets (exactly, and the smallest one, for one pair)."""
    rotation, _ = Rotation.align_vectors(np.atleast_2d(targets), np.atleast_2d(sources), weights)
    return rotation


def rest_offsets(frames):
    """OFFSET of every joint from its parent, (17, 3), for frames (T, 17, 3) in BVH axes that
    all hold a pose: median bone lengths, in the rest pose of the module docstring."""
    bones = bone_vectors(frames)
    lengths = np.median(np.linalg.norm(bones, axis=-1), axis=0)
    directions = np.zeros((NUM_H36M_JOINTS, 3))
    for child, direction in REST_DIRECTIONS.items():
        directions[child] = direction
    for joint, up, left, right in TORSO_JOINTS:
        spread = frames[:, left] - frames[:, right]
        children = list(CHILDREN[joint])
        local = np.stack(
            [
                _align([UP, LEFT], [bones[t, up], spread[t]], [np.inf, 1]).apply(_unit(bones[t, children]))
                for t in range(len(frames))
            ]
        )
        directions[children] = _unit(np.median(local, axis=0))
    return directions * lengths[:, None]


def joint_rotations(frames, offsets):
    """Each joint's rotation relative to its parent: 17 Rotation stacks of length T that turn the
    rest skeleton ``offsets`` into the pose of each frame (BVH axes)."""
    rest = _unit(np.where(np.linalg.norm(offsets, axis=-1, keepdims=True) > 0, offsets, 1.0))
    bones = bone_vectors(frames)
    bones[:, 1:] = _unit(bones[:, 1:])
    world, local = [None] * NUM_H36M_JOINTS, [None] * NUM_H36M_JOINTS
    for joint, children in enumerate(CHILDREN):
        parent = world[H36M_PARENTS[joint]] if joint else Rotation.identity(len(frames))
        if len(children) > 1:  # rigid: best fit of the child bones
            world[joint] = Rotation.concatenate(
                [_align(frame[list(children)], rest[list(children)]) for frame in bones]
            )
            local[joint] = parent.inv() * world[joint]
        elif children:  # the smallest turn from the parent's frame onto the bone
            targets = parent.inv().apply(bones[:, children[0]])
            local[joint] = Rotation.concatenate([_align(target, rest[children[0]]) for target in targets])
            world[joint] = parent * local[joint]
        else:
            local[joint], world[joint] = Rotation.identity(len(frames)), parent
    return local


def euler_channels(rotations):
    """(T, 17, 3) angles in degrees in EULER_ORDER from the joints' rotation stacks, each channel
    unwrapped over the frames (no jump of 360)."""
    with warnings.catch_warnings():
        # At the lock scipy picks one of the equivalent angle sets; the rotation stays exact.
        warnings.filterwarnings("ignore", message="Gimbal lock detected")
        angles = np.stack([rotation.as_euler(EULER_ORDER, degrees=True) for rotation in rotations], 1)
    return np.unwrap(angles, period=360.0, axis=0)


def _hierarchy_lines(offsets):
    lines = ["HIERARCHY"]

    def joint_block(joint, depth):
        pad = "\t" * depth
        keyword = "ROOT" if joint == 0 else "JOINT"
        channels = f"6 Xposition Yposition Zposition {ROTATION_CHANNELS}" if joint == 0 else f"3 {ROTATION_CHANNELS}"
        lines.extend(
            [
                f"{pad}{keyword} {H36M_JOINTS[joint]}",
                pad + "{",
                f"{pad}\tOFFSET {_numbers(offsets[joint])}",
                f"{pad}\tCHANNELS {channels}",
            ]
        )
        for child in CHILDREN[joint]:
            joint_block(child, depth + 1)
        if not CHILDREN[joint]:
            tail = np.array(END_SITES[joint], float) * END_SITE_FRACTION * np.linalg.norm(offsets[joint])
            lines.extend([f"{pad}\tEnd Site", pad + "\t{", f"{pad}\t\tOFFSET {_numbers(tail)}", pad + "\t}"])
        lines.append(pad + "}")

    joint_block(0, 0)
    return lines


def _numbers(values):
    return " ".join(f"{v:.6f}" for v in values)


def _carried(values, present):
    """Each row of ``values`` replaced by the latest present row (the first present one before it)."""
    index = np.maximum.accumulate(np.where(present, np.arange(len(values)), -1))
    return values[np.where(index < 0, np.argmax(present), index)]


def root_positions(roots, mode="start"):
    """(T, 3) root positions in BVH axes (mm) from camera-frame roots (T, 3) mm (NaN rows: not
    placed) in a ``ROOT_MODES`` mode; zeros for ``fixed``, for None or when no row is placed."""
    if mode not in ROOT_MODES:
        raise ValueError(f"BVH root mode {mode!r} is not one of {ROOT_MODES}")
    if roots is None:
        return None
    roots = np.asarray(roots, np.float64).reshape(-1, 3)
    placed = np.isfinite(roots).all(-1)
    if mode == "fixed" or not placed.any():
        return np.zeros_like(roots)
    positions = _carried(roots, placed) * CAMERA_TO_BVH
    return positions - positions[0] if mode == "start" else positions


def write_bvh(path, frames, fps, positions=None):
    """Write one person's poses as a BVH file (atomically).

    frames: (T, 17, 3) H36M-17 joints in mm in the camera frame (x right, y down, z forward),
    root-relative as the demo's ``joints_3d_h36m_mm``; NaN rows (or a zero-length bone) mark frames
    where the person was missed, which repeat the previous pose. The first frame must hold a pose.
    positions: (T, 3) the root's position channels (BVH axes, mm; ``root_positions``), or None
    for zeros.
    """
    frames = np.asarray(frames, np.float64)
    if frames.ndim != 3 or frames.shape[1:] != (NUM_H36M_JOINTS, 3):
        raise ValueError(f"BVH export needs H36M-17 poses shaped (T, 17, 3), got {frames.shape}")
    if not (np.isfinite(fps) and fps > 0):
        raise UserError(f"BVH export needs the video's frame rate, got {fps} frames per second")
    seen = seen_frames(frames)
    if not seen[0]:
        raise ValueError("BVH export: the first frame must hold a pose")
    # Every frame takes the pose of the latest frame that held one.
    source = np.maximum.accumulate(np.where(seen, np.arange(len(frames)), 0))
    posed = frames[seen] * CAMERA_TO_BVH
    offsets = rest_offsets(posed)
    angles = euler_channels(joint_rotations(posed, offsets))
    angles = angles[np.cumsum(seen)[source] - 1]
    positions = np.zeros((len(frames), 3)) if positions is None else np.asarray(positions, np.float64)
    motion = np.concatenate([positions, angles.reshape(len(frames), -1)], axis=1)
    table = io.StringIO()
    np.savetxt(table, motion, fmt="%.6f")
    text = (
        "\n".join(_hierarchy_lines(offsets) + ["MOTION", f"Frames: {len(frames)}", f"Frame Time: {1.0 / fps:.8f}"])
        + "\n"
        + table.getvalue()
    )

    def write(tmp):
        with open(tmp, "w") as handle:
            handle.write(text)

    atomic_write(path, write)


def _as_frames(poses):
    """A track's per-frame poses (arrays, lists, or None for a missed frame) as (T, 17, 3), NaN
    where missed."""
    if isinstance(poses, np.ndarray):
        return poses.astype(np.float64, copy=False).reshape(-1, NUM_H36M_JOINTS, 3)
    missed = np.full((NUM_H36M_JOINTS, 3), np.nan)
    frames = [missed if pose is None else np.asarray(pose, np.float64) for pose in poses]
    return np.stack(frames) if frames else np.zeros((0, NUM_H36M_JOINTS, 3))


def export_tracks(out_dir, name, tracks, fps, min_frames=DEFAULT_MIN_FRAMES, root_mode="start"):
    """One BVH per track: ``<out_dir>/<name>_track<id>.bvh``.

    tracks: {track id: (start, poses[, roots])}: the video frame (counted from 0) of the first
    pose, and the per-frame H36M-17 poses from there on, each a (17, 3) array in mm (camera frame,
    root-relative, as ``joints_3d_h36m_mm``) or None / NaN where the person was missed; ``roots``
    (optional) the per-frame camera-frame root (3,) mm, NaN where not placed, moved as
    ``root_mode`` says (``root_positions``; no roots: the pelvis at the origin). A file covers its
    track from the first to the last frame that held a pose. A track seen in fewer than
    ``min_frames`` frames writes nothing. Returns (paths written, one message per track).
    """
    written, messages = [], []
    for track_id, (start, poses, *roots) in tracks.items():
        frames = _as_frames(poses)
        seen = seen_frames(frames)
        count = int(seen.sum())
        if count < max(min_frames, 1):
            messages.append(f"track {track_id}: seen in {count} frame(s), fewer than {min_frames}: no BVH written")
            continue
        first, last = np.flatnonzero(seen)[[0, -1]]
        path = os.path.join(out_dir, f"{name}_track{track_id}.bvh")
        span_roots = np.asarray(roots[0], np.float64)[first : last + 1] if roots else None
        write_bvh(path, frames[first : last + 1], fps, root_positions(span_roots, root_mode))
        missed = last + 1 - first - count
        messages.append(
            f"track {track_id}: {path}, {last + 1 - first} frames from frame {start + first}"
            + (f" ({missed} missed, each repeating the previous pose)" if missed else "")
        )
        written.append(path)
    return written, messages
