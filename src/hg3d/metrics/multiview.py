"""Human3.6M with several views (``--test --multiview``): the cameras' frames of one subject,
sequence and frame index are one sample, whose 2D joints (the network's, per view) are
triangulated in the release's world frame and scored there.

The cameras are the release's, as ``prepare_h36m`` keeps them in every cache entry
(``CALIBRATION_KEYS``): ``camera_R``, ``camera_t`` (world -> camera, mm), ``camera_lens`` (the
intrinsics table with its lens distortion, in the stored image's pixels) and the world-frame
ground truth ``joints_3d_world``. Each view's 2D joints are undistorted into normalised image
coordinates with its own lens, then triangulated (``hg3d.triangulation``) every view weighted
alike, its RANSAC threshold (px) divided by the sequence's mean focal length.

``mpjpe_mv``: the 17 H36M joints (MPII-16 triangulated, spine and neck as midpoints, no rescale)
against the world-frame ground truth, both relative to their pelvis (the table of Iskakov et al.,
ICCV 2019); ``mpjpe_mv_abs``: the same without the pelvis alignment. A joint that no two views
agree on is scored at the centroid of the sample's triangulated joints (never left out of a mean).
"""

import numpy as np

from ..calibration import Camera
from ..camera import Intrinsics, normalised_points
from ..joints import NUM_JOINTS
from ..skeleton import to_h36m_order
from ..triangulation import DEFAULT_REPROJ_PX, triangulate_points
from .core import group_means, in_order, per_sample_mpjpe

# Per view, what the release says about its camera and the world (labels given only with --multiview).
CALIBRATION_KEYS = ("camera_R", "camera_t", "camera_lens", "joints_3d_world")
NEEDED_LABELS = ("subject", "sequence", "camera", "frame", "action", *CALIBRATION_KEYS)
FIGURES = ("mpjpe_mv", "mpjpe_mv_abs")
UNIT_PINHOLE = Intrinsics(1.0, 1.0, 0.0, 0.0)


def undistorted(pred_2d, lens):
    """Pixels (N, J, 2) of each view's stored image -> ideal normalised image coordinates, with
    each view's ``lens`` (N, 9: ``calibration.LENS_FIELDS``)."""
    distorted = (np.asarray(pred_2d, np.float64) - lens[:, None, 2:4]) / lens[:, None, :2]
    coefficients, group = np.unique(lens[:, 4:], axis=0, return_inverse=True)
    normalised = np.empty_like(distorted)
    for g, dist in enumerate(coefficients):  # one per camera: the table's distortion is per camera
        chosen = group.reshape(-1) == g
        normalised[chosen] = normalised_points(distorted[chosen], Intrinsics(1.0, 1.0, 0.0, 0.0, dist=dist))
    return normalised


def score_multiview(pred_2d, labels, action_order=(), reproj_px=DEFAULT_REPROJ_PX):
    """``pred_2d`` (N, 16, 2) px of every view's sample, ``labels`` with ``NEEDED_LABELS`` (NaN
    calibration: a view the release gave no world poses for, left out).

    Returns (summary, arrays): ``mpjpe_mv``, ``mpjpe_mv_abs`` (mm, means over the multi-view
    samples), ``num_mv_samples``, ``num_mv_untriangulated`` (joints no two views agreed on), and
    per action the same figures (``per_action_mv``, in ``action_order``, unknown names after);
    arrays, one row per view's sample (a multi-view sample repeated for each of its views, NaN for
    a view without partners): ``pred_3d_mv`` (H36M-17, mm, the release's world frame) and the two
    figures.
    """
    lens = np.asarray(labels["camera_lens"], np.float64)
    calibrated = np.isfinite(lens).all(1)
    count = len(pred_2d)
    normalised = np.full((count, NUM_JOINTS, 2), np.nan)
    if calibrated.any():
        normalised[calibrated] = undistorted(np.asarray(pred_2d)[calibrated], lens[calibrated])
    pred_world = np.full((count, 17, 3), np.nan)
    untriangulated = 0
    sequences = {}
    for i in np.flatnonzero(calibrated):
        sequences.setdefault((labels["subject"][i], labels["sequence"][i]), []).append(i)
    for members in map(np.array, sequences.values()):
        names, view = np.unique(labels["camera"][members], return_inverse=True)
        frames, slot = np.unique(labels["frame"][members], return_inverse=True)
        views_of_frame = np.bincount(slot, minlength=len(frames))
        if len(names) < 2 or views_of_frame.max() < 2:
            continue
        first = members[np.unique(view, return_index=True)[1]]  # a sample of each camera: its calibration
        cameras = [
            Camera(str(n), None, UNIT_PINHOLE, np.asarray(labels["camera_R"][i], np.float64), labels["camera_t"][i])
            for n, i in zip(names, first)
        ]
        points = np.full((len(names), len(frames), NUM_JOINTS, 2), np.nan)
        points[view, slot] = normalised[members]
        flat = points.reshape(len(names), -1, 2)
        focal = lens[members, :2].mean()
        joints, _, _ = triangulate_points(cameras, flat, np.isfinite(flat[..., 0]) * 1.0, reproj_px / focal)
        joints = joints.reshape(len(frames), NUM_JOINTS, 3)
        shared = views_of_frame >= 2
        untriangulated += int(np.isnan(joints[shared][..., 0]).sum())
        found = np.isfinite(joints)
        centroid = np.nan_to_num(joints).sum(1, keepdims=True) / np.maximum(found.sum(1, keepdims=True), 1)
        joints = to_h36m_order(np.where(found, joints, centroid))
        scored = shared[slot]
        pred_world[members[scored]] = joints[slot[scored]]
    scored = np.isfinite(pred_world).all((1, 2))
    gt_world = np.asarray(labels["joints_3d_world"], np.float64)
    arrays = {"pred_3d_mv": pred_world.astype(np.float32)}
    arrays["mpjpe_mv_abs"] = np.full(count, np.nan)
    arrays["mpjpe_mv"] = np.full(count, np.nan)
    if scored.any():
        pred, gt = pred_world[scored], gt_world[scored]
        arrays["mpjpe_mv_abs"][scored] = per_sample_mpjpe(pred, gt)
        arrays["mpjpe_mv"][scored] = per_sample_mpjpe(pred - pred[:, :1], gt - gt[:, :1])
    # One figure per multi-view sample: each of its views holds the same value, so the first
    # view of each (subject, sequence, frame) stands for it.
    keys = np.array([f"{s}|{q}|{f}" for s, q, f in zip(labels["subject"], labels["sequence"], labels["frame"])])
    rows = np.flatnonzero(scored)
    first = np.zeros(count, bool)
    first[rows[np.unique(keys[rows], return_index=True)[1]]] = True
    summary = {"num_mv_samples": int(first.sum()), "num_mv_untriangulated": untriangulated}
    summary.update({name: float(arrays[name][first].mean()) if first.any() else None for name in FIGURES})
    if first.any():
        pooled = group_means({name: arrays[name][first] for name in FIGURES}, np.asarray(labels["action"])[first])
        summary["per_action_mv"] = in_order(pooled, action_order)
    return summary, arrays
