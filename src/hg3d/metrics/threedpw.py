"""3DPW: the H36M protocol, plus the 12 joints SMPL gives directly with the root at the hip midpoint.

Both MPJPE (after the H36M 4000 mm bone-sum rescale of the prediction) and PA-MPJPE (after a
similarity Procrustes fit) are reported on those 12 joints, overall and per sequence.
"""

import numpy as np

from .core import Benchmark, group_means, per_sample_mpjpe, procrustes_align
from .h36m import report
from .h36m import score as h36m_score

# The joints SMPL-24 gives directly that the 3DPW protocol scores (H36M-17 indices): ankles,
# knees, hips, wrists, elbows, shoulders; root at the hip midpoint.
PROTOCOL_JOINTS = np.array([3, 2, 1, 4, 5, 6, 16, 15, 14, 11, 12, 13])
HIPS = (1, 4)


def hip_midpoint(h36m):
    """Midpoint of the two hips of H36M-17 poses (N, 17, 3) -> (N, 1, 3), the protocol's root."""
    h36m = np.asarray(h36m, np.float64)
    return (h36m[:, HIPS[0]] + h36m[:, HIPS[1]])[:, None] / 2


def score(predictions, labels):
    """H36M-style numbers plus the 12-joint protocol (``mpjpe_12``, ``pa_mpjpe_12``) and
    ``per_sequence`` means; ``labels``: ``gt_3d`` (H36M-17 mm, root-relative), ``sequence``,
    ``person``, ``frame`` per sample and the ``split`` evaluated."""
    summary, arrays = h36m_score(predictions, labels)
    gt_3d = labels["gt_3d"]
    pred = arrays["pred_3d"][:, PROTOCOL_JOINTS] - hip_midpoint(arrays["pred_3d"])
    gt = gt_3d[:, PROTOCOL_JOINTS].astype(np.float64) - hip_midpoint(gt_3d)
    mpjpe_12 = per_sample_mpjpe(pred, gt)
    pa_mpjpe_12 = per_sample_mpjpe(procrustes_align(pred, gt), gt)
    summary.update(split=labels["split"], mpjpe_12=float(mpjpe_12.mean()), pa_mpjpe_12=float(pa_mpjpe_12.mean()))
    names = np.asarray(labels["sequence"])
    summary["per_sequence"] = group_means(
        {"mpjpe_12": mpjpe_12, "pa_mpjpe_12": pa_mpjpe_12, "mpjpe": arrays["mpjpe"]}, names
    )
    arrays.update(
        mpjpe_12=mpjpe_12.astype(np.float32),
        pa_mpjpe_12=pa_mpjpe_12.astype(np.float32),
        sequence=names.astype("S"),
        person=labels["person"],
        frame=labels["frame"],
    )
    return summary, arrays


BENCHMARK = Benchmark(score, report)
