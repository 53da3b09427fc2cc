"""The MPI-INF-3DHP test protocol: predictions to 3DHP-17 in mm, the official metrics, the table.

Metrics as the test set's MATLAB scripts compute them (``mpii_compute_3d_pck``): per-joint
Euclidean errors of the root-relative prediction against ``univ_annot3`` minus the pelvis, on the
14 evaluated joints; 3DPCK = share of errors strictly below 150 mm; AUC = mean PCK over the 31
thresholds 0, 5, ..., 150 mm (so a perfect prediction scores 30/31 = 96.77, the 0 mm threshold
counting no joint); MPJPE = mean error. Every frame has the same 14 joints, so the mean of per-frame
figures over a set of frames equals the figure pooled over its joints: "All", each activity, each
sequence and each scene group pool their frames (``evaluation.group_means``).
"""

import numpy as np

from .evaluation import bone_length_sum, group_means, mpii_to_h36m, to_h36m_order
from .joints import H36M_TO_MPI3DHP, MPI3DHP_EVAL_JOINTS, MPI3DHP_PELVIS, MPI3DHP_TO_H36M, MPII_JOINTS

PCK_THRESHOLD_MM = 150.0
AUC_THRESHOLDS_MM = np.arange(0.0, 151.0, 5.0)  # 0, 5, ..., 150: 31 thresholds
ACTIVITIES = (
    "Standing/Walking",
    "Exercise",
    "Sitting",
    "Reaching/Crouching",
    "On the Floor",
    "Sports",
    "Miscellaneous",
)  # activity_annotation 1..7
SCENES = {"TS1": "GS", "TS2": "GS", "TS3": "noGS", "TS4": "noGS", "TS5": "Outdoor", "TS6": "Outdoor"}
SCENE_ORDER = ("GS", "noGS", "Outdoor")
# --mpi_scale: gt_bones = the paper's own 3DHP evaluation, h36m = the project's H36M rule.
SCALE_MODES = ("gt_bones", "h36m")
# The paper's code moved the predicted pelvis and hips this share of the way toward the thorax:
# MPII-style hips (what the network learned from MPII) sit lower than 3DHP's.
HIP_SHIFT = 0.2
HIP_SHIFT_JOINTS = [MPII_JOINTS.index(n) for n in ("pelvis", "r_hip", "l_hip")]
THORAX = MPII_JOINTS.index("thorax")


def shift_hips(pred_mpii):
    """MPII-16 poses (..., 16, 3) with pelvis and hips moved HIP_SHIFT toward the thorax."""
    pose = np.array(pred_mpii, np.float64)
    thorax = pose[..., THORAX : THORAX + 1, :]
    pose[..., HIP_SHIFT_JOINTS, :] += HIP_SHIFT * (thorax - pose[..., HIP_SHIFT_JOINTS, :])
    return pose


def to_mpi3dhp(pred_mpii, gt_3dhp, scale="gt_bones"):
    """MPII-16 crop-unit predictions (N, 16, 3) -> 3DHP-17 in mm, relative to the pelvis.

    MPII-16 -> H36M-17 (``evaluation.to_h36m_order``) -> 3DHP-17 (``joints.H36M_TO_MPI3DHP``).
    ``scale``: ``gt_bones`` (the paper's code) shifts the hips, then scales each pose so that its 15
    H36M bones sum to those of the ground truth ``gt_3dhp`` (N, 17, 3); ``h36m`` scales them to
    4000 mm (``evaluation.mpii_to_h36m``) and uses no ground truth.
    """
    if scale == "h36m":
        h36m = mpii_to_h36m(np.asarray(pred_mpii, np.float64))
    elif scale == "gt_bones":
        h36m = to_h36m_order(shift_hips(pred_mpii))
        gt_bones = bone_length_sum(np.asarray(gt_3dhp, np.float64)[..., MPI3DHP_TO_H36M, :])
        h36m = h36m * (gt_bones / np.maximum(bone_length_sum(h36m), 1e-12))[..., None, None]
    else:
        raise ValueError(f"unknown 3DHP scale mode {scale!r} (one of {SCALE_MODES})")
    pose = h36m[..., H36M_TO_MPI3DHP, :]
    return pose - pose[..., MPI3DHP_PELVIS : MPI3DHP_PELVIS + 1, :]


def joint_errors(pred, gt):
    """Euclidean error per joint of the evaluated 14: (N, 17, 3) x2 -> (N, 14) mm."""
    diff = np.asarray(pred, np.float64) - np.asarray(gt, np.float64)
    return np.linalg.norm(diff[:, MPI3DHP_EVAL_JOINTS], axis=-1)


def frame_metrics(errors):
    """Per-frame ``pck``, ``auc`` (both x 100) and ``mpjpe`` from (N, 14) joint errors."""
    errors = np.asarray(errors, np.float64)
    return {
        "pck": 100.0 * (errors < PCK_THRESHOLD_MM).mean(-1),
        "auc": 100.0 * (errors[..., None] < AUC_THRESHOLDS_MM).mean((-2, -1)),
        "mpjpe": errors.mean(-1),
    }


def summarize(per_frame, sequences, activities):
    """Pooled figures: "All" (``pck``, ``auc``, ``mpjpe``, ``num_samples``) and ``per_activity``,
    ``per_sequence``, ``per_scene`` tables of the same fields.

    ``sequences``: TS name per frame; ``activities``: activity id (1..7) per frame.
    """
    sequences = np.asarray(sequences)
    names = np.array(ACTIVITIES)[np.asarray(activities, int) - 1]
    scenes = np.array([SCENES[s] for s in sequences])
    everything = group_means(per_frame, np.zeros(len(sequences), int))[0]
    return {
        **everything,
        "per_activity": group_means(per_frame, names),
        "per_sequence": group_means(per_frame, sequences),
        "per_scene": group_means(per_frame, scenes),
    }


def format_table(summary):
    """The results as papers print them: scene groups and All, then activities, then sequences."""

    def row(label, figures):
        return (
            f"{label:<20}{figures['pck']:>7.1f}{figures['auc']:>7.1f}{figures['mpjpe']:>8.1f}"
            f"{figures['num_samples']:>8d}"
        )

    header = f"{'':<20}{'PCK':>7}{'AUC':>7}{'MPJPE':>8}{'frames':>8}"
    title = (
        f"MPI-INF-3DHP test ({len(summary['sequences'])} sequences, univ_annot3, 14 joints, "
        f"PCK at 150 mm, scale {summary['scale']})"
    )
    lines = [title, header]
    lines += [row(s, summary["per_scene"][s]) for s in SCENE_ORDER if s in summary["per_scene"]]
    lines += [row("All", summary), ""]
    lines += [row(a, summary["per_activity"][a]) for a in ACTIVITIES if a in summary["per_activity"]]
    lines += [""] + [row(s, summary["per_sequence"][s]) for s in summary["sequences"]]
    return "\n".join(lines)
