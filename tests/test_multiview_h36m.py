"""Human3.6M's views scored together: perfect 2D of four calibrated cameras gives the ground truth,
on labels made here and through prepare_h36m and ``--test`` on a generated release."""

import json
import os
from dataclasses import replace

import h5py
import numpy as np
import pytest

from hg3d.calibration import h36m_cameras
from hg3d.datasets import get_dataset
from hg3d.joints import H36M_TO_MPII
from hg3d.metrics.multiview import score_multiview
from hg3d.model import PoseResNet
from hg3d.tools.h36m_official import CAMERAS, OFFICIAL_TO_H36M17
from hg3d.tools.h36m_sample import consistent_pose, write_multiview_sequence, write_official_h36m
from hg3d.tools.prepare_h36m import main as prepare
from hg3d.train import run
from hg3d.train_options import parse_opts
from multiview_rig import rig
from test_mrpe import oracle_forward

WIDTH = 128
ONE_CAMERA = ((1, "Directions 1", (CAMERAS[0],)),)


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
                joints, k = camera.to_camera(world), camera.intrinsics
                pred_2d.append(camera.project(world)[H36M_TO_MPII])  # a pinhole: no lens distortion
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


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    """A release whose S9 "Walking 1" is filmed by all four cameras, converted with every frame."""
    root = tmp_path_factory.mktemp("release")
    rng = np.random.default_rng(7)
    truth, extrinsics = write_multiview_sequence(str(root), 9, "Walking 1", rng, frames=4, width=WIDTH)
    write_official_h36m(
        str(root), rng, frames=2, width=WIDTH, layout=((1, "Directions 1", (CAMERAS[0],)),), quirks=False
    )
    out = str(tmp_path_factory.mktemp("data") / "h36m")
    subjects = ["--train_subjects", "1", "--test_subjects", "9", "--test_step", "1", "--workers", "1"]
    prepare(["--src", str(root), "--out", out, *subjects])
    return str(root), truth, extrinsics, out


def test_the_release_cameras_are_read_back(release):
    root, _, extrinsics, _ = release
    cameras = h36m_cameras(root, 9, "Walking 1", width=WIDTH)
    for camera in cameras:
        R, t = extrinsics[camera.name]
        assert np.abs(camera.R - R).max() < 1e-9 and np.abs(camera.t - t).max() < 1e-6
    assert cameras[0].intrinsics.fx == pytest.approx(1145.0494 * WIDTH / 1000)


def test_test_triangulates_the_four_views_of_each_frame(release, resnet18_3d_checkpoint, tmp_path, monkeypatch):
    _, truth, _, out = release
    opts = ["--task", "human3d", "--dataset", "h36m", "--gpus", "-1", "--full_test", "--data_dir", os.path.dirname(out)]
    dataset = get_dataset(parse_opts(opts, log=lambda _: None), "val")
    labels = dataset.labels(np.arange(len(dataset)))
    perfect = np.stack(
        [
            truth[f"Walking 1.{camera}"]["pose_2d"][frame][OFFICIAL_TO_H36M17][H36M_TO_MPII]
            for camera, frame in zip(labels["camera"], labels["frame"])
        ]
    )
    summary, _ = score_multiview(perfect, labels)
    assert summary["num_mv_samples"] == 4 and summary["mpjpe_mv_abs"] < 1.0

    monkeypatch.setattr(PoseResNet, "forward", oracle_forward(dataset))
    argv = [*opts, "--arch", "msra_18", "--test", "--no_flip_test", "--num_workers", "0"]
    run([*argv, "--load_model", resnet18_3d_checkpoint, "--exp_dir", str(tmp_path), "--exp_id", "mv"])
    results = json.loads((tmp_path / "mv" / "results.json").read_text())
    assert results["num_mv_samples"] == 4 and list(results["per_action_mv"]) == ["Walking"]
    # the network's 2D is the heatmaps' integer argmax on 64-cell maps: a pixel or two off
    assert results["mpjpe_mv"] < 30 and results["protocols"]["mpjpe_mv"]["protocol"] == "h36m_mpjpe_mv"
    with h5py.File(tmp_path / "mv" / "preds.h5") as f:
        assert f["pred_3d_mv"].shape == (16, 17, 3) and np.isfinite(f["mpjpe_mv"][:]).all()
