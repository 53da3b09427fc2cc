"""The Human3.6M protocols: MPJPE after the 4000 mm bone-sum rescale, N-MPJPE, PA-MPJPE, per action.

A prediction (MPII-16, crop units) becomes H36M-17 in millimetres by ``skeleton.mpii_to_h36m``;
MPJPE is its mean joint error against the root-relative ground truth, N-MPJPE the same after a
least-squares scale onto it, PA-MPJPE after a similarity Procrustes fit. All are averaged over the
samples that have a 3D label. ``FIGURES`` names each figure's protocol (``protocols.PROTOCOLS``).

With camera labels (caches converted from the official release: ``root_cam``, ``intrinsics``)
the predicted pose is also placed in the camera frame (``camera.root_from_pose``) and scored
there: MRPE, the mean distance between predicted and true pelvis, per axis, and the
camera-space MPJPE (``mpjpe_abs``). Without them (the ECCV18 challenge caches) these figures are
null with a ``mrpe_note``.
"""

import numpy as np

from ..camera import Intrinsics, root_from_pose
from ..joints import NUM_H36M_JOINTS
from ..skeleton import degenerate, mpii_to_h36m
from . import multiview
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
# Per-sample camera labels: the pelvis in the camera frame (mm) and the stored image's pinhole
# (fx, fy, cx, cy px, no lens distortion).
CAMERA_LABEL_KEYS = ("root_cam", "intrinsics")
CAMERA_FIGURES = ("mrpe", "mrpe_x", "mrpe_y", "mrpe_z", "mpjpe_abs")
NO_CAMERA_LABELS = (
    "no camera labels (root_cam, intrinsics) in this cache, so no MRPE or camera-space MPJPE: "
    "convert the official release with hg3d-prepare-h36m for them"
)
UNIT_PINHOLE = Intrinsics(1.0, 1.0, 0.0, 0.0)  # for points already in normalised image coordinates
# The root-relative figures, as results.json, preds.h5 and the per-action table name them.
POSE_FIGURES = ("mpjpe", "n_mpjpe", "pa_mpjpe")
# The protocol of every figure this benchmark reports (protocols.PROTOCOLS).
FIGURES = {
    "acc": "pck_monitor",
    **{name: f"h36m_{name}" for name in POSE_FIGURES},
    **{f"{name}_action_mean": f"h36m_{name}_action_mean" for name in POSE_FIGURES},
    **{name: f"h36m_{name}" for name in ("mrpe", "mrpe_x", "mrpe_y", "mrpe_z", "mpjpe_abs")},
    **{name: f"h36m_{name}" for name in multiview.FIGURES},
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


def predicted_roots(pred_2d, pred_3d_mm, intrinsics):
    """The pelvis in the camera frame (N, 3) mm that ``camera.root_from_pose`` places each
    sample's prediction at: MPII-16 2D joints (N, 16, 2) in the stored image's pixels, the H36M-17
    pose (N, 17, 3) mm, each sample's own pinhole (N, 4: fx, fy, cx, cy). All 15 shared joints
    count alike (no confidence weights). NaN where no root is placed."""
    pinhole = np.asarray(intrinsics, np.float64)[:, None, :]
    normalised = (np.asarray(pred_2d, np.float64) - pinhole[..., 2:]) / pinhole[..., :2]
    return root_from_pose(normalised, pred_3d_mm, UNIT_PINHOLE)


def camera_errors(pred_3d_mm, pred_root, gt_3d, gt_root):
    """Per-sample errors in the camera frame: the root error (N, 3) (prediction minus truth) and
    the camera-space MPJPE (N,) of pose + root against ground truth + true root. NaN where the
    prediction has no root."""
    pred_cam = np.asarray(pred_3d_mm, np.float64) + pred_root[:, None]
    gt_cam = np.asarray(gt_3d, np.float64) + np.asarray(gt_root, np.float64)[:, None]
    return pred_root - gt_root, per_sample_mpjpe(pred_cam, gt_cam)


def score_camera(pred_2d, pred_3d_mm, labels):
    """MRPE (mean root distance), ``mrpe_x/y/z`` (mean absolute error per axis) and ``mpjpe_abs``
    in mm over the samples with a 3D label whose root could be placed (``num_unplaced``: those
    that could not, left out of the means). Arrays: ``pred_root_cam``, ``gt_root_cam`` (N, 3) and
    per sample ``root_error``, ``mpjpe_abs`` (NaN where unplaced)."""
    gt_root = np.asarray(labels["root_cam"], np.float64)
    pred_root = predicted_roots(pred_2d, pred_3d_mm, labels["intrinsics"])
    error, mpjpe_abs = camera_errors(pred_3d_mm, pred_root, labels["gt_3d"], gt_root)
    labelled = has_3d_label(labels["gt_3d"])
    placed = labelled & np.isfinite(pred_root).all(1)
    figures = camera_figures(error, mpjpe_abs)
    summary = {name: float(v[placed].mean()) if placed.any() else None for name, v in figures.items()}
    summary["num_unplaced"] = int((labelled & ~placed).sum())
    # float64: positions metres from the camera keep their micrometres, and the per-action means
    # pooled from these arrays add up to the overall ones
    arrays = {"pred_root_cam": pred_root, "gt_root_cam": gt_root, "root_error": figures["mrpe"], "mpjpe_abs": mpjpe_abs}
    return summary, arrays


def camera_figures(error, mpjpe_abs):
    """Per-sample values whose means are the ``CAMERA_FIGURES``: root distance, absolute error
    per axis, camera-space MPJPE."""
    error = np.asarray(error, np.float64)
    absolute = np.abs(error)
    values = (np.linalg.norm(error, axis=-1), absolute[:, 0], absolute[:, 1], absolute[:, 2], mpjpe_abs)
    return dict(zip(CAMERA_FIGURES, values))


def per_action_camera(per_action_summary, arrays, actions):
    """Adds the ``CAMERA_FIGURES`` (None where an action has no placed sample) and ``num_placed``
    to each action of ``per_action_summary`` (in place), from ``score_camera``'s arrays."""
    error = arrays["pred_root_cam"] - arrays["gt_root_cam"]
    placed = has_3d_label(arrays["gt_3d"]) & np.isfinite(error).all(1)
    figures = camera_figures(error[placed], arrays["mpjpe_abs"][placed])
    pooled = group_means(figures, np.asarray(actions)[placed]) if placed.any() else {}
    for action, entry in per_action_summary.items():
        found = pooled.get(action, {"num_samples": 0})
        entry.update({name: found.get(name) for name in CAMERA_FIGURES}, num_placed=found["num_samples"])


def score_pose(predictions, labels):
    """The PCK monitor and, with 3D predictions, the root-relative H36M figures against
    ``labels["gt_3d"]`` (also what 3DPW reports on its H36M-17 joints)."""
    summary, arrays = monitor(predictions)
    if "pred_3d" in predictions:
        figures, arrays_3d = score_3d(predictions["pred_3d"], labels["gt_3d"])
        summary.update(figures)
        arrays.update(arrays_3d)
    return summary, arrays


def score(predictions, labels):
    """``score_pose`` and, with 3D predictions: with camera labels (``CAMERA_LABEL_KEYS``) also
    MRPE and camera-space MPJPE (``score_camera``), else those figures null and a ``mrpe_note``;
    with official-release labels (``LABEL_KEYS``) also per-action figures, the labels kept in
    preds.h5."""
    summary, arrays = score_pose(predictions, labels)
    if "pred_3d" not in predictions:
        return summary, arrays
    if all(k in labels for k in CAMERA_LABEL_KEYS):
        camera_summary, camera_arrays = score_camera(predictions["pred_2d"], arrays["pred_3d"], labels)
    else:
        camera_summary, camera_arrays = {**dict.fromkeys(CAMERA_FIGURES), "mrpe_note": NO_CAMERA_LABELS}, {}
    summary.update(camera_summary)
    arrays.update(camera_arrays)
    if all(k in labels for k in LABEL_KEYS):
        summary.update(per_action(arrays, labels["action"]))
        if camera_arrays:
            per_action_camera(summary["per_action"], arrays, labels["action"])
        arrays.update({k: v.astype("S") if v.dtype.kind == "U" else v for k, v in labels.items() if k in LABEL_KEYS})
    if all(k in labels for k in multiview.NEEDED_LABELS):  # several cameras of one frame: also triangulated
        multiview_summary, multiview_arrays = multiview.score_multiview(predictions["pred_2d"], labels, ACTIONS)
        summary.update(multiview_summary)
        arrays.update(multiview_arrays)
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


def camera_lines(summary):
    """The MRPE line, or the note saying why there is none (no line without 3D predictions)."""
    if summary.get("mrpe_note"):
        return [f"notice: {summary['mrpe_note']}"]
    if "num_unplaced" not in summary:
        return []
    unplaced = f" ({summary['num_unplaced']} not placed)" if summary["num_unplaced"] else ""
    if summary["mrpe"] is None:
        return [f"MRPE: no root placed{unplaced}"]
    return [
        f"MRPE {summary['mrpe']:.2f} mm (x {summary['mrpe_x']:.2f}, y {summary['mrpe_y']:.2f}, "
        f"z {summary['mrpe_z']:.2f}) | camera-space MPJPE {summary['mpjpe_abs']:.2f} mm{unplaced}"
    ]


def report(summary):
    """The MRPE line or its note, and the per-action table (when there are actions); run.test
    prints the figures themselves."""
    lines = camera_lines(summary)
    if "per_action" in summary:
        lines.append(format_per_action(summary))
    return "\n".join(lines)


BENCHMARK = Benchmark(score, report, figures=lambda summary: FIGURES)
