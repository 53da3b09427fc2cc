"""The MPI-INF-3DHP test protocol: predictions to 3DHP-17 in mm, the official metrics, the table.

Metrics as the test set's MATLAB scripts compute them: per-joint Euclidean errors of the
root-relative prediction against ``univ_annot3`` minus the pelvis. 3DPCK (``mpii_compute_3d_pck``)
= share of the 14 evaluated joints' errors strictly below 150 mm; AUC = mean PCK over the 31
thresholds 0, 5, ..., 150 mm (so a perfect prediction scores 30/31 = 96.77, the 0 mm threshold
counting no joint); MPJPE (``mpii_evaluate_errors``) = mean error over all 17 joints, the test set's
"relevant" ones (the pelvis counts, at 0 once both poses are rooted); ``mpjpe_14`` = the mean over
the 14 that PCK uses. Every frame has the same joints, so the mean of per-frame figures over a set
of frames equals the figure pooled over its joints: "All", each activity, each sequence and each
scene group pool their frames (``core.group_means``).

``--mpi_scale`` picks how a prediction (MPII-16, crop units) becomes millimetres: ``gt_bones``, the
paper's own evaluation (``paper_scale``), or ``h36m``, the H36M 4000 mm rule.
"""

import numpy as np

from ..joints import H36M_TO_MPI3DHP, MPI3DHP_EVAL_JOINTS, MPI3DHP_JOINTS, MPI3DHP_PELVIS, MPI3DHP_TO_MPII, MPII_JOINTS
from ..skeleton import mpii_to_h36m
from .core import Benchmark, group_means, monitor

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
GROUND_TRUTH = "univ_annot3"
# --mpi_scale: gt_bones = the paper's own 3DHP evaluation, h36m = the project's H36M rule.
SCALE_MODES = ("gt_bones", "h36m")
# The paper's own evaluation (Lua ``pose-hgreg-3d.lua``, function ``eval``): MPII-style hips (what
# the network learned from MPII) sit lower than 3DHP's, so pelvis and both hips move by one shift,
# HIP_SHIFT of the pelvis -> upper_neck vector; then the pose is scaled so that these 14 MPII-16
# bones (its ``skeletonRef``; the thorax lies on none) sum to the ground truth's.
HIP_SHIFT = 0.2
PAPER_BONES = (
    (0, 1),
    (1, 2),
    (2, 6),
    (3, 4),
    (3, 6),
    (4, 5),
    (6, 8),
    (8, 9),
    (12, 8),
    (10, 11),
    (11, 12),
    (13, 8),
    (13, 14),
    (14, 15),
)
PELVIS, THORAX, UPPER_NECK, HEAD_TOP = (MPII_JOINTS.index(n) for n in ("pelvis", "thorax", "upper_neck", "head_top"))
SHIFTED_JOINTS = [MPII_JOINTS.index(n) for n in ("pelvis", "r_hip", "l_hip")]
MPI3DHP_HEAD = MPI3DHP_JOINTS.index("head")


def paper_bone_sum(mpii):
    """Summed length of the PAPER_BONES of MPII-16 poses: (..., 16, 3) -> (...)."""
    a, b = np.array(PAPER_BONES).T
    return np.linalg.norm(mpii[..., a, :] - mpii[..., b, :], axis=-1).sum(-1)


def shift_hips(pred_mpii):
    """MPII-16 poses (..., 16, 3) with pelvis and hips moved by HIP_SHIFT x (upper_neck - pelvis)
    and the thorax set to the midpoint of the moved pelvis and the upper neck."""
    pose = np.array(pred_mpii, np.float64)
    shift = HIP_SHIFT * (pose[..., UPPER_NECK, :] - pose[..., PELVIS, :])
    pose[..., SHIFTED_JOINTS, :] += shift[..., None, :]
    pose[..., THORAX, :] = (pose[..., PELVIS, :] + pose[..., UPPER_NECK, :]) / 2
    return pose


def paper_scale(pred_mpii, gt_mpii):
    """The paper's chain on MPII-16 poses (N, 16, 3): ``shift_hips``, then a scale about the moved
    pelvis so that the PAPER_BONES sum to those of ``gt_mpii``, placed on the ground truth's pelvis.
    A pose whose bones sum to 0 or are not finite becomes the zero pose (every joint at the pelvis)."""
    pose = shift_hips(pred_mpii)
    pose -= pose[..., PELVIS : PELVIS + 1, :]
    gt_mpii = np.asarray(gt_mpii, np.float64)
    bones = paper_bone_sum(pose)
    usable = np.isfinite(bones) & (bones > 0)
    scale = np.where(usable, paper_bone_sum(gt_mpii) / np.where(usable, bones, 1.0), 0.0)[..., None, None]
    return np.where(scale > 0, pose * scale, 0.0) + gt_mpii[..., PELVIS : PELVIS + 1, :]


def mpii_to_mpi3dhp(mpii):
    """MPII-16 poses (..., 16, 3) -> 3DHP-17 by the paper's joint table (``joints.MPI3DHP_TO_MPII``);
    3DHP's head, which MPII lacks, is the midpoint of upper neck and head top."""
    mpii = np.asarray(mpii, np.float64)
    pose = np.empty(mpii.shape[:-2] + (len(MPI3DHP_JOINTS), 3))
    pose[..., MPI3DHP_TO_MPII, :] = mpii
    pose[..., MPI3DHP_HEAD, :] = (mpii[..., UPPER_NECK, :] + mpii[..., HEAD_TOP, :]) / 2
    return pose


def to_mpi3dhp(pred_mpii, gt_3dhp, scale="gt_bones"):
    """MPII-16 crop-unit predictions (N, 16, 3) -> 3DHP-17 in mm, relative to the pelvis.

    ``scale``: ``gt_bones`` is the paper's own evaluation (``paper_scale`` against the ground truth
    ``gt_3dhp`` (N, 17, 3), pelvis-relative, re-ordered to MPII-16); ``h36m`` scales the H36M bones
    to 4000 mm (``skeleton.mpii_to_h36m``) and uses no ground truth.
    """
    if scale == "h36m":
        h36m = mpii_to_h36m(np.asarray(pred_mpii, np.float64))
        pose = h36m[..., H36M_TO_MPI3DHP, :]
        return pose - pose[..., MPI3DHP_PELVIS : MPI3DHP_PELVIS + 1, :]
    if scale == "gt_bones":
        gt_mpii = np.asarray(gt_3dhp, np.float64)[..., MPI3DHP_TO_MPII, :]
        return mpii_to_mpi3dhp(paper_scale(pred_mpii, gt_mpii))
    raise ValueError(f"unknown 3DHP scale mode {scale!r} (one of {SCALE_MODES})")


def joint_errors(pred, gt):
    """Euclidean error of each joint: (N, 17, 3) x2 -> (N, 17) mm."""
    return np.linalg.norm(np.asarray(pred, np.float64) - np.asarray(gt, np.float64), axis=-1)


def frame_metrics(errors):
    """Per-frame figures from (N, 17) joint errors: ``pck`` and ``auc`` (both x 100) and
    ``mpjpe_14`` on the 14 evaluated joints, ``mpjpe`` on all 17."""
    errors = np.asarray(errors, np.float64)
    evaluated = errors[..., MPI3DHP_EVAL_JOINTS]
    return {
        "pck": 100.0 * (evaluated < PCK_THRESHOLD_MM).mean(-1),
        "auc": 100.0 * (evaluated[..., None] < AUC_THRESHOLDS_MM).mean((-2, -1)),
        "mpjpe": errors.mean(-1),
        "mpjpe_14": evaluated.mean(-1),
    }


def summarize(per_frame, sequences, activities):
    """Pooled figures: "All" (``pck``, ``auc``, ``mpjpe``, ``mpjpe_14``, ``num_samples``) and ``per_activity``,
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
            f"{figures['mpjpe_14']:>10.1f}{figures['num_samples']:>8d}"
        )

    header = f"{'':<20}{'PCK':>7}{'AUC':>7}{'MPJPE':>8}{'MPJPE-14':>10}{'frames':>8}"
    title = (
        f"MPI-INF-3DHP test ({len(summary['sequences'])} sequences, {GROUND_TRUTH}, PCK and AUC on 14 joints "
        f"at 150 mm, MPJPE on 17, scale {summary['scale']})"
    )
    lines = [title, header]
    lines += [row(s, summary["per_scene"][s]) for s in SCENE_ORDER if s in summary["per_scene"]]
    lines += [row("All", summary), ""]
    lines += [row(a, summary["per_activity"][a]) for a in ACTIVITIES if a in summary["per_activity"]]
    lines += [""] + [row(s, summary["per_sequence"][s]) for s in summary["sequences"]]
    return "\n".join(lines)


def figures(summary):
    """The protocol of each figure: the official ones under the run's ``--mpi_scale``."""
    names = ("pck", "auc", "mpjpe", "mpjpe_14")
    return {"acc": "pck_monitor", **{name: f"3dhp_{name}_{summary['scale']}" for name in names}}


def score(predictions, labels):
    """The official 3DHP figures and the per-frame arrays of preds.h5: ``pred_3d`` and ``gt_3d``
    exactly as compared (3DHP-17, mm, root-relative) and ``pred_3d_mpii``, the network's MPII-16
    pose before the protocol (crop units), to re-score under another protocol.

    ``labels``: per frame ``gt_3d`` (3DHP-17 mm, pelvis-relative), ``sequence`` (TS name),
    ``frame`` (1-based image number), ``activity`` (1..7); ``sequences``, the sequences evaluated,
    and ``scale``, the ``--mpi_scale`` mode.
    """
    gt = np.asarray(labels["gt_3d"])
    pred = to_mpi3dhp(predictions["pred_3d"], gt, labels["scale"])
    per_frame = frame_metrics(joint_errors(pred, gt))
    sequences = np.asarray(labels["sequence"])
    monitored, arrays = monitor(predictions)
    summary = {
        **monitored,
        **summarize(per_frame, sequences, labels["activity"]),
        "sequences": list(labels["sequences"]),
        "scale": labels["scale"],
        "ground_truth": GROUND_TRUTH,
        "split": "test",
    }
    arrays.update(
        pred_3d=pred.astype(np.float32),
        pred_3d_mpii=np.asarray(predictions["pred_3d"], np.float32),
        gt_3d=gt.astype(np.float32),
        sequence=sequences.astype("S"),
        frame=labels["frame"],
        activity=labels["activity"],
        **{name: values.astype(np.float32) for name, values in per_frame.items()},
    )
    return summary, arrays


BENCHMARK = Benchmark(score, format_table, figures=figures)
