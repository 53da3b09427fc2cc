"""Human3.6M's views scored together: perfect 2D of four calibrated cameras gives the ground truth."""

from dataclasses import replace

import numpy as np

from hg3d.joints import H36M_TO_MPII
from hg3d.metrics.multiview import score_multiview
from hg3d.tools.h36m_official import CAMERAS
from hg3d.tools.h36m_sample import consistent_pose
from multiview_rig import rig


def release_labels(rng, sequences=(("Walking 1", "Walking"), ("Eating 2", "Eating")), frames=5):
    """Per-view cache labels (as ``H36M.labels`` gives them) and perfect MPII-16 2D joints."""
    cameras = [replace(c, intrinsics=replace(c.intrinsics, dist=None)) for c in rig(4)]
    labels = {k: [] for k in ("subject", "sequence", "action", "camera", "frame", "gt_3d", "root_cam", "intrinsics")}
    pred_2d = []
    for sequence, action in sequences:
        for frame in range(frames):
            pose = consistent_pose(rng)
            world = np.stack([pose[:, 0], pose[:, 2], -pose[:, 1]], -1) + [rng.uniform(-500, 500), 0, 1000]
            for name, camera in zip(CAMERAS, cameras):
                joints = camera.to_camera(world)
                k = camera.intrinsics
                pixels = joints[:, :2] / joints[:, 2:] * [k.fx, k.fy] + [k.cx, k.cy]
                pred_2d.append(pixels[H36M_TO_MPII])
                for key, value in (("subject", 9), ("sequence", sequence), ("action", action), ("camera", name)):
                    labels[key].append(value)
                labels["frame"].append(frame * 64)
                labels["gt_3d"].append(joints - joints[0])
                labels["root_cam"].append(joints[0])
                labels["intrinsics"].append([k.fx, k.fy, k.cx, k.cy])
    return np.array(pred_2d), {key: np.array(value) for key, value in labels.items()}


def test_perfect_2d_of_four_views_scores_zero():
    pred_2d, labels = release_labels(np.random.default_rng(0))
    summary, arrays = score_multiview(pred_2d, labels)
    assert summary["num_mv_samples"] == 10 and summary["num_mv_untriangulated"] == 0
    assert summary["mpjpe_mv"] < 1.0 and summary["mpjpe_mv_abs"] < 1.0
    assert set(summary["per_action_mv"]) == {"Walking", "Eating"}
    assert arrays["pred_3d_mv"].shape == (40, 17, 3) and np.isfinite(arrays["mpjpe_mv"]).all()


def test_a_wrong_view_is_left_out_and_a_lone_view_is_not_scored():
    pred_2d, labels = release_labels(np.random.default_rng(1))
    pred_2d[5] += 300.0  # frame 1 of Walking 1, camera 2: another person
    keep = np.ones(len(pred_2d), bool)
    keep[[8, 9, 10]] = False  # frame 2 of Walking 1: only one camera left
    summary, arrays = score_multiview(pred_2d[keep], {k: v[keep] for k, v in labels.items()})
    assert summary["num_mv_samples"] == 9 and summary["mpjpe_mv_abs"] < 1.0
    assert np.isnan(arrays["mpjpe_mv"][8])  # the lone view
    labels["camera"][:] = CAMERAS[0]  # every view claims to be one camera: no second view to match
    assert score_multiview(pred_2d, labels)[0]["num_mv_samples"] == 0
