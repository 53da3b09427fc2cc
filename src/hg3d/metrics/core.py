"""The maths every benchmark shares: the PCK monitor's accuracy, MPJPE, the similarity
(Procrustes) fit, group means, and the ``Benchmark`` record that ties a benchmark's score to its
table.

Metrics take NumPy arrays (the PCK distances themselves, on heatmap tensors, are ``hg3d.monitor``'s).
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Benchmark:
    """How one benchmark scores predictions against the labels a dataset hands over.

    ``score(predictions, labels) -> (summary, arrays)``: ``predictions`` are the per-sample arrays
    of ``inference.predict_dataset`` (``index``, ``pred_2d``, ``pck_dist``, with a depth head
    ``pred_3d``), ``labels`` the dataset's ``labels(index)`` for the same samples; ``summary`` goes
    to results.json, ``arrays`` (one row per sample) to preds.h5. ``report(summary)``: the text
    ``--test`` prints (may be empty). ``mat_files(arrays)``: extra MATLAB files to write,
    ``{file name: {variable: array}}``. ``figures(summary)``: the protocol (a key of
    ``protocols.PROTOCOLS``) of each figure the benchmark reports, by its name in the summary.
    """

    score: Callable
    report: Callable = lambda summary: ""
    mat_files: Callable = lambda arrays: {}
    figures: Callable = lambda summary: {}


def pck_accuracy(distances, threshold=0.5):
    """Fraction of labelled joints within ``threshold``, per joint, then averaged over the joints
    that had any label (0 when none had)."""
    distances = np.asarray(distances, np.float64).reshape(-1, np.shape(distances)[-1])
    labelled = ~np.isnan(distances)
    count = labelled.sum(0)
    hits = (np.nan_to_num(distances, nan=np.inf) < threshold).sum(0)
    per_joint = hits[count > 0] / count[count > 0]
    return float(per_joint.mean()) if per_joint.size else 0.0


def monitor(predictions):
    """What every benchmark reports: the sample count and the PCK monitor ``acc`` (summary), the
    sample ``index``, ``pred_2d`` image pixels and, where the predictor gave them (``maxval``),
    their ``confidence``, the heatmap peaks (arrays)."""
    summary = {"num_samples": int(len(predictions["index"])), "acc": pck_accuracy(predictions["pck_dist"])}
    arrays = {"index": predictions["index"], "pred_2d": predictions["pred_2d"]}
    if "maxval" in predictions:
        arrays["confidence"] = predictions["maxval"]
    return summary, arrays


def per_sample_mpjpe(pred, gt):
    """Mean Euclidean joint error per sample: (N, K, 3) x2 -> (N,)."""
    return np.linalg.norm(np.asarray(pred) - np.asarray(gt), axis=-1).mean(-1)


def least_squares_scale(pred, gt):
    """Per sample the factor s that minimises |s pred - gt|^2: sum(pred . gt) / sum(pred . pred),
    (N, K, D) x2 -> (N,); 0 for an all-zero prediction."""
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    norm = (pred**2).sum((1, 2))
    return np.where(norm > 0, (pred * gt).sum((1, 2)) / np.where(norm > 0, norm, 1.0), 0.0)


def per_sample_n_mpjpe(pred, gt):
    """N-MPJPE (Rhodin et al. 2018) per sample: the MPJPE of each root-relative ``pred`` scaled by
    ``least_squares_scale`` onto its ``gt``."""
    return per_sample_mpjpe(least_squares_scale(pred, gt)[:, None, None] * np.asarray(pred, np.float64), gt)


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
    mean of the group means). Groups come sorted (``in_order`` puts them in a table's order).
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


def in_order(groups, order):
    """The entries of ``groups`` in the order ``order`` names them, any others after them in
    their own order."""
    keys = [k for k in order if k in groups] + [k for k in groups if k not in order]
    return {k: groups[k] for k in keys}
