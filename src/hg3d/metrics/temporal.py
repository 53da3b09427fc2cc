"""Scoring pose sequences: per-frame pose errors and the errors of motion (velocity and
acceleration), for the temporal model's output and for the frame model's 3D it refines.

Poses are root-relative H36M-17 in mm, taken as given (no rescaling); frames consecutive.
"""

import numpy as np

from .core import per_sample_mpjpe, per_sample_n_mpjpe, procrustes_align

# Figure name -> protocol (protocols.PROTOCOLS); the frame model's figures add INPUT to the name.
FIGURES = {
    "mpjpe": "temporal_mpjpe",
    "n_mpjpe": "temporal_n_mpjpe",
    "pa_mpjpe": "temporal_pa_mpjpe",
    "mpjve": "temporal_mpjve",
    "accel_error": "temporal_accel_error",
}
INPUT = "_input"


def velocity_error(pred, gt):
    """Mean per-joint velocity error per frame pair, mm/frame: (T, J, 3) x2 -> (T - 1,)."""
    return per_sample_mpjpe(np.diff(pred, axis=0), np.diff(gt, axis=0))


def acceleration_error(pred, gt):
    """Mean per-joint acceleration error per frame triple, mm/frame^2: (T, J, 3) x2 -> (T - 2,)."""
    return per_sample_mpjpe(np.diff(pred, n=2, axis=0), np.diff(gt, n=2, axis=0))


def sequence_errors(pred, gt):
    """The per-frame (or per pair, per triple) errors of one sequence, by figure name."""
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    return {
        "mpjpe": per_sample_mpjpe(pred, gt),
        "n_mpjpe": per_sample_n_mpjpe(pred, gt),
        "pa_mpjpe": per_sample_mpjpe(procrustes_align(pred, gt), gt),
        "mpjve": velocity_error(pred, gt),
        "accel_error": acceleration_error(pred, gt),
    }


def pooled(errors):
    """Each figure's mean over all frames of the sequences' ``sequence_errors`` (None when no frame has one)."""
    means = {}
    for name in FIGURES:
        values = np.concatenate([e[name] for e in errors])
        means[name] = float(values.mean()) if values.size else None
    return means


def score_sequences(sequences, preds):
    """(summary, per-frame arrays) of ``preds`` (name -> (T, 17, 3)) against each sequence's
    ``gt_3d``; the same figures with ``_input`` for its ``joints_3d``; ``per_action`` where the
    sequences name their action."""
    refined = [sequence_errors(preds[s.name], s.gt_3d) for s in sequences]
    frame_model = [sequence_errors(s.joints_3d, s.gt_3d) for s in sequences]

    def figures(indices):
        return {
            **pooled([refined[i] for i in indices]),
            **{f"{k}{INPUT}": v for k, v in pooled([frame_model[i] for i in indices]).items()},
            "num_samples": int(sum(len(sequences[i]) for i in indices)),
        }

    summary = {**figures(range(len(sequences))), "num_sequences": len(sequences)}
    actions = sorted({s.action for s in sequences if s.action})
    if actions:
        summary["per_action"] = {a: figures([i for i, s in enumerate(sequences) if s.action == a]) for a in actions}
    arrays = {}
    for seq, errors in zip(sequences, refined, strict=True):
        arrays[f"{seq.name}/pred_3d"] = np.asarray(preds[seq.name], np.float32)
        arrays[f"{seq.name}/mpjpe"] = errors["mpjpe"].astype(np.float32)
    return summary, arrays


def figure_protocols():
    """Figure name -> protocol of everything ``score_sequences`` reports."""
    return {**FIGURES, **{f"{k}{INPUT}": v for k, v in FIGURES.items()}}
