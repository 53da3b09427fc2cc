"""The Human3.6M protocol: MPJPE after the 4000 mm bone-sum rescale, PA-MPJPE, per-action tables.

A prediction (MPII-16, crop units) becomes H36M-17 in millimetres by ``skeleton.mpii_to_h36m``;
MPJPE is its mean joint error against the root-relative ground truth, PA-MPJPE the same after a
similarity Procrustes fit. Both are averaged over the samples that have a 3D label.
"""

import numpy as np

from ..joints import NUM_H36M_JOINTS
from ..skeleton import degenerate, mpii_to_h36m
from .core import Benchmark, group_means, in_order, monitor, per_sample_mpjpe, procrustes_align

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
    """MPJPE and PA-MPJPE in mm over the samples with 3D labels (``gt_3d`` None: none has one).

    Summary: ``num_3d``, ``num_degenerate`` (predictions scored as the zero pose, see
    ``skeleton.degenerate``), ``mpjpe``, ``pa_mpjpe`` (None without labels); arrays: the converted
    ``pred_3d`` (H36M-17 mm), ``gt_3d`` and the per-sample ``mpjpe``, ``pa_mpjpe``.
    """
    if gt_3d is None:
        gt_3d = np.zeros((len(pred_3d), NUM_H36M_JOINTS, 3), np.float32)
    converted, mpjpe, pa_mpjpe, labelled = h36m_metrics(pred_3d, gt_3d)
    summary = {
        "num_3d": int(labelled.sum()),
        "num_degenerate": int((degenerate(pred_3d) & labelled).sum()),
        "mpjpe": float(mpjpe[labelled].mean()) if labelled.any() else None,
        "pa_mpjpe": float(pa_mpjpe[labelled].mean()) if labelled.any() else None,
    }
    arrays = {
        "pred_3d": converted.astype(np.float32),
        "gt_3d": gt_3d,
        "mpjpe": mpjpe.astype(np.float32),
        "pa_mpjpe": pa_mpjpe.astype(np.float32),
    }
    return summary, arrays


def per_action(arrays, actions):
    """``per_action`` figures in the literature's order (unknown names after them) and the mean
    over actions (``mpjpe_action_mean``, ``pa_mpjpe_action_mean``), as papers print them."""
    pooled = group_means({"mpjpe": arrays["mpjpe"], "pa_mpjpe": arrays["pa_mpjpe"]}, actions)
    summary = {"per_action": in_order(pooled, ACTIONS)}
    for name in ("mpjpe", "pa_mpjpe"):
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
    """The per-action table of papers (mm): one row per action, then the mean over actions."""
    rows = [
        f"{action:<14}{v['mpjpe']:>9.2f}{v['pa_mpjpe']:>11.2f}{v['num_samples']:>9d}"
        for action, v in summary["per_action"].items()
    ]
    return "\n".join(
        [
            f"{'action':<14}{'MPJPE':>9}{'PA-MPJPE':>11}{'samples':>9}",
            *rows,
            f"{'mean':<14}{summary['mpjpe_action_mean']:>9.2f}{summary['pa_mpjpe_action_mean']:>11.2f}",
        ]
    )


def report(summary):
    """The MPJPE line (when there were 3D labels) and the per-action table (when there are actions)."""
    lines = []
    if summary.get("mpjpe") is not None:
        lines.append(
            f"MPJPE {summary['mpjpe']:.2f} mm | PA-MPJPE {summary['pa_mpjpe']:.2f} mm over {summary['num_3d']} samples"
        )
    if "per_action" in summary:
        lines.append(format_per_action(summary))
    return "\n".join(lines)


BENCHMARK = Benchmark(score, report)
