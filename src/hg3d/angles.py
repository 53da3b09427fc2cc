"""Joint angles in degrees from the 17 H36M joints (``docs/motion.md`` states each definition).

``angle(a, b, c)`` is the angle at ``b`` between b->a and b->c. Knees and elbows are 0 when
straight. Hips are measured in the pelvis frame: ``z`` to the right (l_hip -> r_hip), ``y`` up the
trunk (pelvis -> thorax without its ``z`` part), ``x = y cross z`` forward. The shoulders are
measured from the downward trunk axis, the neck from the upward one; the trunk's lean needs the
world's up axis and is signed by the pelvis frame (forward lean positive). Every function works on
any leading shape and gives NaN wherever a joint it uses is NaN.
"""

import numpy as np

from .joints import H36M_JOINTS, NUM_H36M_JOINTS

ANGLE_NAMES = (
    "knee_flexion_r",
    "knee_flexion_l",
    "elbow_flexion_r",
    "elbow_flexion_l",
    "hip_flexion_r",
    "hip_flexion_l",
    "hip_abduction_r",
    "hip_abduction_l",
    "shoulder_elevation_r",
    "shoulder_elevation_l",
    "trunk_flexion",
    "neck_flexion",
)
J = {name: index for index, name in enumerate(H36M_JOINTS)}


def _unit(v):
    with np.errstate(invalid="ignore", divide="ignore"):
        return v / np.linalg.norm(v, axis=-1, keepdims=True)


def angle_between(u, v):
    """The angle between vectors ``u`` and ``v`` (..., 3) in degrees (atan2 of the cross and dot
    products: exact near 0 and 180, where arccos of the dot loses digits)."""
    return np.degrees(np.arctan2(np.linalg.norm(np.cross(u, v), axis=-1), np.sum(u * v, axis=-1)))


def angle_at(a, b, c):
    """angle(a, b, c): at ``b`` between b->a and b->c, degrees."""
    return angle_between(a - b, c - b)


def pelvis_frame(joints):
    """(x forward, y up the trunk, z right), each (..., 3) unit vectors."""
    z = _unit(joints[..., J["r_hip"], :] - joints[..., J["l_hip"], :])
    trunk = joints[..., J["thorax"], :] - joints[..., J["pelvis"], :]
    y = _unit(trunk - np.sum(trunk * z, axis=-1, keepdims=True) * z)
    return np.cross(y, z), y, z


def joint_angles(joints_3d_h36m_mm, up=None):
    """{name: degrees (...)} for each of ``ANGLE_NAMES`` from H36M-17 joints (..., 17, 3) in mm in
    any frame; ``up``: the world's up axis (3,) in that frame, else ``trunk_flexion`` is NaN."""
    joints = np.asarray(joints_3d_h36m_mm, np.float64)
    if joints.shape[-2:] != (NUM_H36M_JOINTS, 3):
        raise ValueError(f"joint angles need H36M-17 joints shaped (..., 17, 3), got {joints.shape}")

    def at(name):
        return joints[..., J[name], :]

    x, y, z = pelvis_frame(joints)
    trunk = at("thorax") - at("pelvis")
    out = {}
    for side in ("r", "l"):
        out[f"knee_flexion_{side}"] = 180.0 - angle_at(at(f"{side}_hip"), at(f"{side}_knee"), at(f"{side}_ankle"))
        out[f"elbow_flexion_{side}"] = 180.0 - angle_at(
            at(f"{side}_shoulder"), at(f"{side}_elbow"), at(f"{side}_wrist")
        )
        thigh = at(f"{side}_knee") - at(f"{side}_hip")
        forward, down, right = (np.sum(thigh * axis, axis=-1) for axis in (x, -y, z))
        out[f"hip_flexion_{side}"] = np.degrees(np.arctan2(forward, down))
        out[f"hip_abduction_{side}"] = np.degrees(np.arctan2(right if side == "r" else -right, down))
        out[f"shoulder_elevation_{side}"] = angle_between(at(f"{side}_elbow") - at(f"{side}_shoulder"), -trunk)
    if up is None:
        out["trunk_flexion"] = np.full(joints.shape[:-2], np.nan)
    else:
        up = np.broadcast_to(np.asarray(up, np.float64), trunk.shape)
        lean = angle_between(trunk, up)
        lean_back = np.sum(up * x, axis=-1)  # the up axis in the pelvis frame: < 0 for a forward lean
        with np.errstate(invalid="ignore"):
            out["trunk_flexion"] = np.where(lean_back < 0, lean, np.where(lean_back >= 0, -lean, np.nan))
    out["neck_flexion"] = angle_between(at("head") - at("neck"), trunk)
    return {name: out[name] for name in ANGLE_NAMES}
