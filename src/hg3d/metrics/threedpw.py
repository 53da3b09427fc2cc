"""3DPW: the literature's 14-joint protocol, hg3d's 12-joint approximation, and the H36M figures.

- 14 joints (``mpjpe_14``, ``pa_mpjpe_14``), the papers' protocol (SPIN and after), when the labels
  carry ``gt_3d_14``: the joints regressed from each person-frame's SMPL mesh (``hg3d.smpl``, run
  where the labels are made, with ``--smpl_dir`` and ``--j_regressor_h36m``), pelvis-relative, mm.
  The prediction is hg3d's H36M-17 (the 4000 mm bone-sum rule), its own pelvis subtracted, the
  same 14 joints.
- 12 joints (``mpjpe_12``, ``pa_mpjpe_12``) that SMPL's skeleton (``jointPositions``) gives
  directly, both poses rooted at the hip midpoint; needs no download, compares hg3d models only.
- The H36M figures (``mpjpe``, ``n_mpjpe``, ``pa_mpjpe``) on H36M-17 mapped from ``jointPositions``.

All are reported over every labelled person-frame and per sequence.
"""

import numpy as np

from .core import Benchmark, group_means, per_sample_mpjpe, procrustes_align
from .h36m import POSE_FIGURES, score_pose

# The joints SMPL-24 gives directly that the 12-joint protocol scores (H36M-17 indices): ankles,
# knees, hips, wrists, elbows, shoulders; root at the hip midpoint.
PROTOCOL_JOINTS = np.array([3, 2, 1, 4, 5, 6, 16, 15, 14, 11, 12, 13])
HIPS = (1, 4)
H36M_PELVIS = 0
# The 14 joints the literature scores, as indices into H36M-17 (hg3d's and the regressor's order):
# l_ankle, l_knee, l_hip, r_hip, r_knee, r_ankle, r_wrist, r_elbow, r_shoulder, l_shoulder,
# l_elbow, l_wrist, thorax, head.
H36M_TO_J14 = np.array([6, 5, 4, 1, 2, 3, 16, 15, 14, 11, 12, 13, 8, 10])
NEEDS_SMPL = (
    "mpjpe_14 / pa_mpjpe_14, the literature's 3DPW protocol (SPIN, VIBE and later tables), need "
    "--smpl_dir and --j_regressor_h36m (docs/protocols_3dpw.md); mpjpe_12 / pa_mpjpe_12 are hg3d's "
    "approximation and cannot be compared with papers"
)
FIGURES = {
    "acc": "pck_monitor",
    **{name: f"3dpw_{name}_17" for name in POSE_FIGURES},
    **{name: f"3dpw_{name}" for name in ("mpjpe_12", "pa_mpjpe_12", "mpjpe_14", "pa_mpjpe_14")},
}


def hip_midpoint(h36m):
    """Midpoint of the two hips of H36M-17 poses (N, 17, 3) -> (N, 1, 3), the 12-joint root."""
    h36m = np.asarray(h36m, np.float64)
    return (h36m[:, HIPS[0]] + h36m[:, HIPS[1]])[:, None] / 2


def pelvis_relative_j14(h36m):
    """H36M-17 poses (N, 17, 3) -> the 14 scored joints (N, 14, 3), each pose minus its pelvis."""
    h36m = np.asarray(h36m, np.float64)
    return h36m[:, H36M_TO_J14] - h36m[:, H36M_PELVIS : H36M_PELVIS + 1]


def pose_errors(pred, gt):
    """Per sample MPJPE and PA-MPJPE (similarity Procrustes fit) of rooted poses (N, K, 3)."""
    return per_sample_mpjpe(pred, gt), per_sample_mpjpe(procrustes_align(pred, gt), gt)


def score_12(pred_h36m, gt_h36m):
    """Per-sample ``mpjpe_12``, ``pa_mpjpe_12`` of H36M-17 poses (mm), both rooted at the hips."""
    pred = pred_h36m[:, PROTOCOL_JOINTS] - hip_midpoint(pred_h36m)
    gt = np.asarray(gt_h36m, np.float64)[:, PROTOCOL_JOINTS] - hip_midpoint(gt_h36m)
    return dict(zip(("mpjpe_12", "pa_mpjpe_12"), pose_errors(pred, gt)))


def score(predictions, labels):
    """H36M-style figures, the 12-joint and (with ``gt_3d_14``) the 14-joint protocol, and
    ``per_sequence`` means; ``labels``: ``gt_3d`` (H36M-17 mm, root-relative), ``sequence``,
    ``person``, ``frame`` per sample, the ``split`` evaluated, optionally ``gt_3d_14`` (N, 14, 3)
    mm, pelvis-relative. Without ``gt_3d_14`` the summary's ``note`` says what it needs."""
    summary, arrays = score_pose(predictions, labels)
    per_sample = {"mpjpe": arrays["mpjpe"], **score_12(arrays["pred_3d"], labels["gt_3d"])}
    if "gt_3d_14" in labels:
        pred_14, gt_14 = pelvis_relative_j14(arrays["pred_3d"]), np.asarray(labels["gt_3d_14"], np.float64)
        per_sample.update(zip(("mpjpe_14", "pa_mpjpe_14"), pose_errors(pred_14, gt_14)))
        arrays.update(pred_3d_14=pred_14.astype(np.float32), gt_3d_14=gt_14.astype(np.float32))
    else:
        summary["note"] = NEEDS_SMPL
    protocol_figures = [name for name in per_sample if name != "mpjpe"]
    summary.update(split=labels["split"], **{name: float(per_sample[name].mean()) for name in protocol_figures})
    names = np.asarray(labels["sequence"])
    summary["per_sequence"] = group_means(per_sample, names)
    arrays.update(
        {name: per_sample[name].astype(np.float32) for name in protocol_figures},
        sequence=names.astype("S"),
        person=labels["person"],
        frame=labels["frame"],
    )
    return summary, arrays


def format_per_sequence(summary):
    """Each sequence's figures (mm) under their results.json names."""
    names = [name for name in next(iter(summary["per_sequence"].values())) if name != "num_samples"]
    width = max(len(s) for s in summary["per_sequence"]) + 2
    lines = [f"{'sequence':<{width}}" + "".join(f"{name:>13}" for name in names) + f"{'samples':>9}"]
    for sequence, figures in summary["per_sequence"].items():
        values = "".join(f"{figures[name]:>13.2f}" for name in names)
        lines.append(f"{sequence:<{width}}{values}{figures['num_samples']:>9d}")
    return "\n".join(lines)


def report(summary):
    """The per-sequence table, then the note when the literature's protocol was not computed."""
    lines = [format_per_sequence(summary)]
    if "note" in summary:
        lines.append(f"note: {summary['note']}")
    return "\n".join(lines)


BENCHMARK = Benchmark(score, report, figures=lambda summary: FIGURES)
