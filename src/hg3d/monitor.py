"""The PCK accuracy monitor (``acc``) on heatmap tensors: per sample and joint, the distance between
the predicted and labelled peaks in tenths of the map's height. Validation and ``--test`` give
``accuracy_monitor`` to ``inference.predict_dataset``; ``metrics.core.pck_accuracy`` turns the
distances into the figure.
"""

import torch

from .decode import decode_2d
from .joints import ACC_JOINTS


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


def accuracy_monitor(maps, batch):
    """``pck_distances_to_points`` of a batch's merged heatmaps and its items' crop joints
    (``pts_crop``): the ``acc`` monitor that validation and ``--test`` report, given to
    ``inference.predict_dataset`` by its callers (the predictor itself knows no metric)."""
    return pck_distances_to_points(maps["hm"], batch["pts_crop"].to(maps["hm"].device))
