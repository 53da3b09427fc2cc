"""Human3.6M with several views: the cameras' frames of one subject, sequence and frame index are
one sample, whose 2D joints (the network's, per view) are triangulated and scored in 3D.

The cameras come from the release's own data in the caches that ``prepare_h36m`` writes: each
view's pinhole is its entry's ``intrinsics`` (the stored image's), and the rigid transform between
two cameras of a subject is the least-squares (Kabsch) fit between their camera-frame ground truth
(``joints_3d_relative`` + ``root_cam``) over all frames of the sequence, which is the release's
extrinsics (its ``D3_Positions_mono`` are its world poses moved into each camera). The world frame
is the sequence's first camera (by name). Triangulation: ``hg3d.triangulation`` on the
pinhole-normalised 2D joints (the entries' pinholes carry no lens distortion), every view weighted
alike, its RANSAC threshold (px) divided by the sequence's mean focal length.

``mpjpe_mv``: the 17 H36M joints (MPII-16 triangulated, spine and neck as midpoints, no rescale)
against the ground truth, both relative to their pelvis (the table of Iskakov et al., ICCV 2019);
``mpjpe_mv_abs``: the same without the pelvis alignment. A joint that no two views agree on is
scored at the centroid of the sample's triangulated joints (never left out of a mean).
"""

import numpy as np

from ..calibration import Camera, rigid_fit
from ..camera import Intrinsics
from ..joints import NUM_JOINTS
from ..skeleton import to_h36m_order
from ..triangulation import DEFAULT_REPROJ_PX, triangulate_points
from .core import group_means, in_order, per_sample_mpjpe

NEEDED_LABELS = ("subject", "sequence", "camera", "frame", "action", "root_cam", "intrinsics", "gt_3d")
FIGURES = ("mpjpe_mv", "mpjpe_mv_abs")
UNIT_PINHOLE = Intrinsics(1.0, 1.0, 0.0, 0.0)


def sequence_cameras(gt_cam, cameras, frames):
    """One ``Camera`` (unit pinhole) per camera name of a sequence, in the first one's frame, from
    the camera-frame ground truth ``gt_cam`` (N, 17, 3) of its samples (``cameras``, ``frames``)."""
    names = sorted(set(cameras))
    reference = {f: i for i, (c, f) in enumerate(zip(cameras, frames)) if c == names[0]}
    placed = []
    for name in names:
        pairs = [(reference[f], i) for i, (c, f) in enumerate(zip(cameras, frames)) if c == name and f in reference]
        if not pairs:
            return None
        source, target = np.array(pairs).T
        R, t = rigid_fit(gt_cam[source].reshape(-1, 3), gt_cam[target].reshape(-1, 3))
        placed.append(Camera(str(name), None, UNIT_PINHOLE, R, t))
    return placed


def score_multiview(pred_2d, labels, action_order=(), reproj_px=DEFAULT_REPROJ_PX):
    """``pred_2d`` (N, 16, 2) px of every view's sample, ``labels`` with ``NEEDED_LABELS``.

    Returns (summary, arrays): ``mpjpe_mv``, ``mpjpe_mv_abs`` (mm, means over the multi-view
    samples), ``num_mv_samples``, ``num_mv_untriangulated`` (joints no two views agreed on), and
    per action the same figures (``per_action_mv``, in ``action_order``, unknown names after);
    arrays, one row per view's sample (a multi-view sample repeated for each of its views, NaN for
    a view without partners):
    ``pred_3d_mv`` (H36M-17, mm, the sequence's first camera's frame) and the two figures.
    """
    gt_cam = np.asarray(labels["gt_3d"], np.float64) + np.asarray(labels["root_cam"], np.float64)[:, None]
    pinhole = np.asarray(labels["intrinsics"], np.float64)
    normalised = (np.asarray(pred_2d, np.float64) - pinhole[:, None, 2:]) / pinhole[:, None, :2]
    count = len(pred_2d)
    pred_world = np.full((count, 17, 3), np.nan)
    gt_world = np.full((count, 17, 3), np.nan)
    untriangulated = 0
    sequences = {}
    for i, key in enumerate(zip(labels["subject"], labels["sequence"])):
        sequences.setdefault(key, []).append(i)
    for members in sequences.values():
        members = np.array(members)
        cameras_of, frames_of = labels["camera"][members], labels["frame"][members]
        cameras = sequence_cameras(gt_cam[members], cameras_of, frames_of)
        if cameras is None or len(cameras) < 2:
            continue
        names = [c.name for c in cameras]
        frames = sorted(set(frames_of))
        slot = {(c, f): m for m, c, f in zip(members, cameras_of, frames_of)}
        points = np.full((len(cameras), len(frames), NUM_JOINTS, 2), np.nan)
        for v, name in enumerate(names):
            for k, frame in enumerate(frames):
                if (name, frame) in slot:
                    points[v, k] = normalised[slot[name, frame]]
        focal = pinhole[members, :2].mean()
        flat = points.reshape(len(cameras), -1, 2)
        joints, _, _ = triangulate_points(cameras, flat, np.isfinite(flat[..., 0]) * 1.0, reproj_px / focal)
        joints = joints.reshape(len(frames), NUM_JOINTS, 3)
        untriangulated += int(np.isnan(joints[..., 0]).sum())
        found = np.isfinite(joints)
        centroid = np.nan_to_num(joints).sum(1, keepdims=True) / np.maximum(found.sum(1, keepdims=True), 1)
        joints = to_h36m_order(np.where(found, joints, centroid))
        for k, frame in enumerate(frames):
            seen = [slot[name, frame] for name in names if (name, frame) in slot]
            if len(seen) < 2 or (names[0], frame) not in slot:
                continue
            pred_world[seen] = joints[k]
            gt_world[seen] = gt_cam[slot[names[0], frame]]
    scored = np.isfinite(gt_world).all((1, 2))
    arrays = {"pred_3d_mv": pred_world.astype(np.float32)}
    arrays["mpjpe_mv_abs"] = np.full(count, np.nan)
    arrays["mpjpe_mv"] = np.full(count, np.nan)
    if scored.any():
        arrays["mpjpe_mv_abs"][scored] = per_sample_mpjpe(pred_world[scored], gt_world[scored])
        rooted_pred = pred_world[scored] - pred_world[scored][:, :1]
        arrays["mpjpe_mv"][scored] = per_sample_mpjpe(rooted_pred, gt_world[scored] - gt_world[scored][:, :1])
    # One figure per multi-view sample: each of its views holds the same value, so the first
    # view of each (subject, sequence, frame) stands for it.
    keys = [f"{s}|{q}|{f}" for s, q, f in zip(labels["subject"], labels["sequence"], labels["frame"])]
    first = np.zeros(count, bool)
    first[np.unique(keys, return_index=True)[1]] = True
    first &= scored
    summary = {"num_mv_samples": int(first.sum()), "num_mv_untriangulated": untriangulated}
    summary.update({name: float(arrays[name][first].mean()) if first.any() else None for name in FIGURES})
    if first.any():
        pooled = group_means({name: arrays[name][first] for name in FIGURES}, np.asarray(labels["action"])[first])
        summary["per_action_mv"] = in_order(pooled, action_order)
    return summary, arrays
