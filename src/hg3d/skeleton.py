"""Skeleton conversions: MPII-16 poses to the H36M-17 order, bone-length sums, the 4000 mm scale.

The H36M protocol measures a prediction in millimetres by scaling it so that its 15 H36M bones
(``joints.H36M_BONES``) sum to 4000 mm; a pose with no length to scale (every joint at one point,
or a coordinate that is not finite) is "degenerate" and becomes the zero pose.
"""

import numpy as np

from .joints import H36M_BONE_SUM_MM, H36M_BONES, MPII_TO_H36M


def bone_length_sum(h36m_joints):
    """Sum of the 15 H36M bone lengths, per pose: (..., 17, 3) -> (...)."""
    a, b = np.array(H36M_BONES).T
    return np.linalg.norm(h36m_joints[..., a, :] - h36m_joints[..., b, :], axis=-1).sum(-1)


def to_h36m_order(pred_3d):
    """MPII-16 poses (..., 16, 3) -> H36M-17 order; spine and neck are midpoints."""
    pred = np.asarray(pred_3d)[..., MPII_TO_H36M, :].copy()
    pred[..., 7, :] = (pred[..., 0, :] + pred[..., 8, :]) / 2
    pred[..., 9, :] = (pred[..., 8, :] + pred[..., 10, :]) / 2
    return pred


def degenerate(pred_3d):
    """Poses that cannot be scaled: bones summing to 0 (every joint decoded at one point) or not
    finite. The metrics score them as the zero pose (every joint at the root): an error, never
    a crash, never a sample left out of a mean."""
    bones = bone_length_sum(to_h36m_order(pred_3d))
    return ~(np.isfinite(bones) & (bones > 0))


def h36m_scale(pred_3d, bone_sum=H36M_BONE_SUM_MM):
    """Per-pose factor that brings an MPII-16 pose to millimetres: its H36M bones sum to
    ``bone_sum`` (4000 mm, the protocol). 0 for a degenerate pose (see ``degenerate``)."""
    bones = bone_length_sum(to_h36m_order(pred_3d))
    usable = ~degenerate(pred_3d)
    return np.where(usable, bone_sum / np.where(usable, bones, 1.0), 0.0)


def mpii_to_h36m(pred_3d, bone_sum=H36M_BONE_SUM_MM):
    """MPII-16 poses (N, 16, 3) -> H36M-17 (N, 17, 3) scaled so the bones sum to ``bone_sum``
    (4000 mm, or per pose, e.g. the ground truth's to check units apart from the protocol's
    rescale); a degenerate pose becomes the zero pose."""
    h36m = to_h36m_order(pred_3d)
    scale = h36m_scale(pred_3d, bone_sum)[..., None, None]
    return np.where(scale > 0, h36m * scale, 0.0)
