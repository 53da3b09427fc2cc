"""A person's place in the camera frame: the root (pelvis) that fits their 2D and 3D joints, and
the camera-frame joints it gives. Used by the Estimator (``place_person``) and by the demo's
smoothing (``set_root``, after filtering the root over time).
"""

import numpy as np

from .camera import root_from_pose

PLACEMENT_NOTE = "no root at least 0.3 m in front of the camera fits the 2D and 3D joints"


def place_person(person, intrinsics):
    """Add ``root_cam_mm`` (3,) (the pelvis in the camera frame, mm) and ``joints_3d_cam_mm``
    (17, 3) (``joints_3d_h36m_mm`` + the root) to a person with a 3D pose, by
    ``camera.root_from_pose`` over the 15 shared joints, each weighted by its heatmap peak
    (``confidence``, when the person has one): joints the network barely sees (occluded, cut off)
    pull less. Both None, with a ``placement_note``, when no root is found."""
    if "joints_3d_h36m_mm" not in person:
        return person
    root = None
    if person["joints_3d_h36m_mm"] is not None:
        weights = person.get("confidence")
        root = root_from_pose(person["joints_2d"], person["joints_3d_h36m_mm"], intrinsics, weights)
        root = root if np.isfinite(root).all() else None
    set_root(person, root)
    return person


def set_root(person, root):
    """Set a person's ``root_cam_mm`` and the ``joints_3d_cam_mm`` it gives (None: not placed)."""
    person["root_cam_mm"] = root
    person["joints_3d_cam_mm"] = None if root is None else person["joints_3d_h36m_mm"] + root
    person["placement_note"] = None if root is not None else PLACEMENT_NOTE
    if person["joints_3d_h36m_mm"] is None:
        person["placement_note"] = "no 3D pose"
