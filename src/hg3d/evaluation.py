"""Decoding network maps into joints, and the metrics: PCK monitor, H36M MPJPE, PA-MPJPE.

Decoders take torch tensors (on any device) and return tensors; metrics take NumPy arrays.
"""

import numpy as np
import torch

from .joints import ACC_JOINTS, H36M_BONE_SUM_MM, H36M_BONES, MPII_FLIP_PERM, MPII_TO_H36M, PELVIS


def flip_merge(maps, flipped_maps):
    """Average maps with those of the mirrored input, mirrored back and left/right swapped."""
    perm = torch.as_tensor(MPII_FLIP_PERM, device=flipped_maps.device)
    return (maps + flipped_maps.flip(-1)[:, perm]) / 2


def decode_2d(heatmaps):
    """Integer argmax (x, y) of each map: (B, J, H, W) -> (B, J, 2), x = idx % W, y = idx // W."""
    batch, joints, _, width = heatmaps.shape
    idx = heatmaps.reshape(batch, joints, -1).argmax(-1)
    return torch.stack([idx % width, idx // width], -1)


def crop_coords_3d(xy, z, width):
    """Heatmap cells (x, y) (B, J, 2) and depth-map values z (B, J, 1) -> one 3D frame, pelvis-relative.

    The unit is the crop box width: the box (s_w, s_h) has the aspect ratio of the maps, so one
    cell is s_w / W image pixels in x and in y, and x / W, y / W are pixels / s_w; the depth target
    is z_px / s_w (``datasets.base``). So the three axes share one scale for any aspect ratio.
    (The original divides x, y by max(H, W): the same for its square maps, a squashed pose for
    non-square ones.)
    """
    coords = torch.cat([xy.to(z.dtype) / width, z], -1)
    return coords - coords[:, PELVIS : PELVIS + 1]


def decode_3d(heatmaps, depthmaps):
    """Integer argmax (x, y) and the depth there, as ``crop_coords_3d`` -> (B, J, 3)."""
    batch, joints, _, width = heatmaps.shape
    xy = decode_2d(heatmaps)
    flat_idx = (xy[..., 1] * width + xy[..., 0]).unsqueeze(-1)
    z = depthmaps.reshape(batch, joints, -1).gather(-1, flat_idx)
    return crop_coords_3d(xy, z, width)


def pck_distances(heatmaps, targets, joints=ACC_JOINTS):
    """Distance between the argmax of prediction and target in units of H/10, per sample and joint
    of ``joints``; NaN where the target is empty (its argmax lies on x = 0 or y = 0)."""
    return pck_distances_to_points(heatmaps, decode_2d(targets), joints)


def pck_distances_to_points(heatmaps, points, joints=ACC_JOINTS):
    """``pck_distances`` against the labels' integer heatmap coordinates (N, J, 2) (``pts_crop``)
    instead of drawn targets: the same where a joint's Gaussian peak lies in the map; NaN, as for an
    empty target, on x = 0 or y = 0 and outside the map."""
    joints = list(joints)
    pred = decode_2d(heatmaps[:, joints]).float()
    gt = points[:, joints].float()
    norm = heatmaps.shape[2] / 10
    dist = torch.linalg.norm(pred / norm - gt / norm, dim=-1)
    labelled = (gt[..., 0] > 0) & (gt[..., 1] > 0) & (gt[..., 0] < heatmaps.shape[3]) & (gt[..., 1] < heatmaps.shape[2])
    return torch.where(labelled, dist, torch.nan).cpu().numpy()


def pck_accuracy(distances, threshold=0.5):
    """Fraction of labelled joints within ``threshold``, per joint, then averaged over the joints
    that had any label (0 when none had)."""
    distances = np.asarray(distances, np.float64).reshape(-1, np.shape(distances)[-1])
    labelled = ~np.isnan(distances)
    count = labelled.sum(0)
    hits = (np.nan_to_num(distances, nan=np.inf) < threshold).sum(0)
    per_joint = hits[count > 0] / count[count > 0]
    return float(per_joint.mean()) if per_joint.size else 0.0


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


def h36m_scale(pred_3d, bone_sum=H36M_BONE_SUM_MM):
    """Per-pose factor that brings an MPII-16 pose to millimetres: its H36M bones sum to
    ``bone_sum`` (4000 mm, the protocol). 0 for a degenerate pose (see ``degenerate``)."""
    bones = bone_length_sum(to_h36m_order(pred_3d))
    usable = ~degenerate(pred_3d)
    return np.where(usable, bone_sum / np.where(usable, bones, 1.0), 0.0)


def degenerate(pred_3d):
    """Poses that cannot be scaled: bones summing to 0 (every joint decoded at one point) or not
    finite. The metrics score them as the zero pose (every joint at the root): an error, never
    a crash, never a sample left out of a mean."""
    bones = bone_length_sum(to_h36m_order(pred_3d))
    return ~(np.isfinite(bones) & (bones > 0))


def mpii_to_h36m(pred_3d, bone_sum=H36M_BONE_SUM_MM):
    """MPII-16 poses (N, 16, 3) -> H36M-17 (N, 17, 3) scaled so the bones sum to ``bone_sum``
    (4000 mm, or per pose, e.g. the ground truth's to check units apart from the protocol's
    rescale); a degenerate pose becomes the zero pose."""
    h36m = to_h36m_order(pred_3d)
    scale = h36m_scale(pred_3d, bone_sum)[..., None, None]
    return np.where(scale > 0, h36m * scale, 0.0)


def has_3d_label(gt_3d):
    """Samples whose 3D ground truth is present (a 2D-only sample carries all zeros)."""
    return np.abs(np.asarray(gt_3d)).reshape(len(gt_3d), -1).sum(1) > 0


def per_sample_mpjpe(pred, gt):
    """Mean Euclidean joint error per sample: (N, K, 3) x2 -> (N,)."""
    return np.linalg.norm(np.asarray(pred) - np.asarray(gt), axis=-1).mean(-1)


def fit_similarity(source, target):
    """Least-squares similarity (scale, proper rotation, translation) of each ``source`` onto its
    ``target``, batched over any dimension D: (N, K, D) x2 -> scale (N,), rotation (N, D, D),
    translation (N, 1, D), with ``target ~ scale * source @ rotation + translation``."""
    source, target = np.asarray(source, np.float64), np.asarray(target, np.float64)
    mu_s, mu_t = source.mean(1, keepdims=True), target.mean(1, keepdims=True)
    s0, t0 = source - mu_s, target - mu_t
    u, s, vt = np.linalg.svd(np.swapaxes(s0, 1, 2) @ t0)  # (N, D, D) cross-covariance
    sign = np.sign(np.linalg.det(u @ vt))
    s[:, -1] *= sign
    vt[:, -1] *= sign[:, None]
    rotation = u @ vt  # row-vector form
    scale = s.sum(1) / np.maximum((s0**2).sum((1, 2)), 1e-12)
    return scale, rotation, mu_t - scale[:, None, None] * mu_s @ rotation


def procrustes_align(pred, gt):
    """Similarity transform (scale, rotation, translation) of each ``pred`` onto ``gt``, batched:
    (N, K, 3) x2 -> aligned pred (N, K, 3). Reflections are not allowed."""
    scale, rotation, translation = fit_similarity(pred, gt)
    return scale[:, None, None] * np.asarray(pred, np.float64) @ rotation + translation


def group_means(per_sample, groups):
    """Pool per-sample figures by group: ``{group: {name: mean over its samples, "num_samples": n}}``.

    ``per_sample`` maps names to (N,) arrays; ``groups`` holds one label per sample. Pooling the
    per-sample values of a group weights every sample equally, as papers' per-action,
    per-sequence and per-activity tables do (the mean over all samples is the sample-weighted
    mean of the group means).
    """
    groups = np.asarray(groups)
    labels, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
    pooled = {}
    for name, values in per_sample.items():
        sums = np.bincount(inverse, weights=np.asarray(values, np.float64), minlength=len(labels))
        pooled[name] = sums / counts
    return {
        (label.item() if hasattr(label, "item") else label): {
            **{name: float(means[g]) for name, means in pooled.items()},
            "num_samples": int(counts[g]),
        }
        for g, label in enumerate(labels)
    }


def h36m_metrics(pred_3d, gt_3d):
    """H36M protocol on MPII-16 crop-space predictions (N, 16, 3) and H36M-17 ground truth in mm.

    Returns the converted predictions (N, 17, 3), per-sample MPJPE and PA-MPJPE (NaN where a sample
    has no 3D label), and the mask of labelled samples.
    """
    converted = mpii_to_h36m(pred_3d)
    labelled = has_3d_label(gt_3d)
    mpjpe = np.full(len(converted), np.nan)
    pa_mpjpe = np.full(len(converted), np.nan)
    if labelled.any():
        mpjpe[labelled] = per_sample_mpjpe(converted[labelled], gt_3d[labelled])
        aligned = procrustes_align(converted[labelled], gt_3d[labelled])
        pa_mpjpe[labelled] = per_sample_mpjpe(aligned, gt_3d[labelled])
    return converted, mpjpe, pa_mpjpe, labelled
