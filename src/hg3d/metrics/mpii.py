"""MPII Human Pose: PCKh@0.5 of the 2D predictions in image pixels, and the original's preds.mat.

A joint counts as correct when its distance to the annotation is below half the head size; only
annotated joints of samples with a known head size are counted. The head size is the official
benchmark's (0.6 x the head box diagonal) when the dataset has the head boxes, else the distance
from upper neck to head top (the dataset says which in ``head_size_normaliser``).
"""

import numpy as np

from ..joints import MPII_JOINTS
from .core import Benchmark, monitor
from .h36m import FIGURES as H36M_FIGURES
from .h36m import POSE_FIGURES, score_3d

# The protocol of every figure (protocols.PROTOCOLS); a 3D model's pose figures are H36M's (MPII
# has no 3D label, so they stay None).
FIGURES = {
    "acc": "pck_monitor",
    "pckh": "mpii_pckh",
    "pckh_per_joint": "mpii_pckh_per_joint",
    **{name: H36M_FIGURES[name] for name in POSE_FIGURES},
}


def pckh(pred, gt, labelled, head_size, threshold=0.5):
    """PCKh: fraction of labelled joints closer than ``threshold`` x head size, per joint and overall."""
    dist = np.linalg.norm(pred - gt, axis=-1) / head_size[:, None]
    counted = labelled & np.isfinite(head_size)[:, None]
    hits = (dist < threshold) & counted
    per_joint = hits.sum(0) / np.maximum(counted.sum(0), 1)
    return float(hits.sum() / max(counted.sum(), 1)), per_joint


def score(predictions, labels):
    """The PCK monitor, PCKh against ``labels``: ``joints_2d`` (N, 16, 2) px (unlabelled joints at
    (0, 0) or negative), ``head_size`` (N,) px (NaN: unknown) and ``head_size_normaliser``. A 3D
    model's depth is converted as for H36M (MPII has no 3D label)."""
    summary, arrays = monitor(predictions)
    if "pred_3d" in predictions:
        figures, arrays_3d = score_3d(predictions["pred_3d"])
        summary.update(figures)
        arrays.update(arrays_3d)
    joints = np.asarray(labels["joints_2d"], np.float64)
    labelled = (joints > 0).any(-1)
    summary["pckh"], per_joint = pckh(predictions["pred_2d"], joints, labelled, labels["head_size"])
    summary["pckh_per_joint"] = dict(zip(MPII_JOINTS, per_joint.round(6).tolist()))
    summary["pckh_normaliser"] = labels["head_size_normaliser"]
    return summary, arrays


def mat_files(arrays):
    """The original's 2D output, for the MPII evaluation tools: preds.mat with ``preds`` (N, 16, 2)."""
    return {"preds.mat": {"preds": arrays["pred_2d"]}}


BENCHMARK = Benchmark(score, mat_files=mat_files, figures=lambda summary: FIGURES)
