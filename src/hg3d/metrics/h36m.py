"""The Human3.6M protocols: MPJPE after the 4000 mm bone-sum rescale, N-MPJPE, PA-MPJPE, per action.

A prediction (MPII-16, crop units) becomes H36M-17 in millimetres by ``skeleton.mpii_to_h36m``;
MPJPE is its mean joint error against the root-relative ground truth, N-MPJPE the same after a
least-squares scale onto it, PA-MPJPE after a similarity Procrustes fit. All are averaged over the
samples that have a 3D label. ``FIGURES`` names each figure's protocol (``protocols.PROTOCOLS``).
"""

import numpy as np

from ..joints import NUM_H36M_JOINTS
from ..skeleton import degenerate, mpii_to_h36m
from .core import Benchmark, group_means, in_order, monitor, per_sample_mpjpe, per_sample_n_mpjpe, procrustes_align

# The order in which papers print their per-action tables (not alphabetical: WalkTogether is last).
ACTIONS = (
    "Directions",
    "Discussion",
    "Eating",
    "Greeting",
    "Phoning",
    "Photo",
    "Posing",
    "Purchases",
    "Sitting",
    "SittingDown",
    "Smoking",
    "Waiting",
    "WalkDog",
    "Walking",
    "WalkTogether",
)
# Per-sample labels of caches made from the official release; preds.h5 keeps them.
LABEL_KEYS = ("subject", "action", "camera", "frame")
# The root-relative figures, as results.json, preds.h5 and the per-action table name them.
POSE_FIGURES = ("mpjpe", "n_mpjpe", "pa_mpjpe")
# The protocol of every figure this benchmark reports (protocols.PROTOCOLS).
FIGURES = {
    "acc": "pck_monitor",
    **{name: f"h36m_{name}" for name in POSE_FIGURES},
    **{f"{name}_action_mean": f"h36m_{name}_action_mean" for name in POSE_FIGURES},
    **{name: f"h36m_{name}" for name in ("mrpe", "mrpe_x", "mrpe_y", "mrpe_z", "mpjpe_abs")},
}


def has_3d_label(gt_3d):
    """Samples whose 3D ground truth is present (a 2D-only sample carries all zeros)."""
    return np.abs(np.asarray(gt_3d)).reshape(len(gt_3d), -1).sum(1) > 0


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


def score_3d(pred_3d, gt_3d=None):
    """MPJPE, N-MPJPE and PA-MPJPE in mm over the samples with 3D labels (``gt_3d`` None: none has one).

    Summary: ``num_3d``, ``num_degenerate`` (predictions scored as the zero pose, see
    ``skeleton.degenerate``), ``mpjpe``, ``n_mpjpe``, ``pa_mpjpe`` (None without labels); arrays:
    the converted ``pred_3d`` (H36M-17 mm), ``gt_3d`` and the per-sample figures.
    """
    if gt_3d is None:
        gt_3d = np.zeros((len(pred_3d), NUM_H36M_JOINTS, 3), np.float32)
    converted, mpjpe, pa_mpjpe, labelled = h36m_metrics(pred_3d, gt_3d)
    n_mpjpe = np.full(len(converted), np.nan)
    if labelled.any():
        n_mpjpe[labelled] = per_sample_n_mpjpe(converted[labelled], gt_3d[labelled])
    per_sample = {"mpjpe": mpjpe, "n_mpjpe": n_mpjpe, "pa_mpjpe": pa_mpjpe}
    summary = {"num_3d": int(labelled.sum()), "num_degenerate": int((degenerate(pred_3d) & labelled).sum())}
    summary.update({k: float(v[labelled].mean()) if labelled.any() else None for k, v in per_sample.items()})
    arrays = {"pred_3d": converted.astype(np.float32), "gt_3d": gt_3d}
    arrays.update({k: v.astype(np.float32) for k, v in per_sample.items()})
    return summary, arrays


def per_action(arrays, actions):
    """``per_action`` figures in the literature's order (unknown names after them) and the mean
    over actions (``mpjpe_action_mean``, ``n_mpjpe_action_mean``, ``pa_mpjpe_action_mean``), as
    papers print them."""
    pooled = group_means({name: arrays[name] for name in POSE_FIGURES}, actions)
    summary = {"per_action": in_order(pooled, ACTIONS)}
    for name in POSE_FIGURES:
        summary[f"{name}_action_mean"] = float(np.mean([a[name] for a in pooled.values()]))
    return summary


def score(predictions, labels):
    """The PCK monitor and, with 3D predictions, the H36M protocol against ``labels["gt_3d"]``;
    with official-release labels (``LABEL_KEYS``) also per-action figures, the labels kept in
    preds.h5."""
    summary, arrays = monitor(predictions)
    if "pred_3d" not in predictions:
        return summary, arrays
    figures, arrays_3d = score_3d(predictions["pred_3d"], labels["gt_3d"])
    summary.update(figures)
    arrays.update(arrays_3d)
    if all(k in labels for k in LABEL_KEYS):
        summary.update(per_action(arrays, labels["action"]))
        arrays.update({k: v.astype("S") if v.dtype.kind == "U" else v for k, v in labels.items() if k in LABEL_KEYS})
    return summary, arrays


def format_per_action(summary):
    """The per-action table of papers (mm): one row per action, then the mean over actions; the
    columns carry the figures' results.json names."""
    rows = [
        f"{action:<14}" + "".join(f"{v[name]:>10.2f}" for name in POSE_FIGURES) + f"{v['num_samples']:>9d}"
        for action, v in summary["per_action"].items()
    ]
    means = "".join(f"{summary[f'{name}_action_mean']:>10.2f}" for name in POSE_FIGURES)
    header = f"{'action':<14}" + "".join(f"{name:>10}" for name in POSE_FIGURES) + f"{'samples':>9}"
    return "\n".join([header, *rows, f"{'mean':<14}{means}"])


def report(summary):
    """The per-action table (when there are actions; run.test prints the figures themselves)."""
    return format_per_action(summary) if "per_action" in summary else ""


BENCHMARK = Benchmark(score, report, figures=lambda summary: FIGURES)
