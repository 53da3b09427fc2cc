"""3DPW: projection, joint mappings, valid frames, the protocol metrics, bad input, end to end."""

import os
import pickle

import numpy as np
import pytest

from figures import assert_every_figure_has_its_protocol
from helpers import TINY_CPU, quiet_opts, run_main
from hg3d.datasets import get_dataset
from hg3d.datasets.threedpw import SMPL_JOINTS, smpl_to_h36m, world_to_camera
from hg3d.errors import UserError
from hg3d.geometry import pinhole_project
from hg3d.joints import H36M_JOINTS
from hg3d.metrics import score
from hg3d.metrics.threedpw import PROTOCOL_JOINTS, hip_midpoint
from hg3d.tools.sample_data import write_3dpw


def opts(data_dir, *extra):
    flags = ["--task", "human3d", "--dataset", "3dpw", "--data_dir", str(data_dir)]
    return quiet_opts(*flags, "--gpus", "-1", "--input_h", "128", "--input_w", "128", *extra)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("pw3d")
    write_3dpw(str(root / "3dpw"), np.random.default_rng(0))
    return root


def test_projection_by_hand():
    pose = np.eye(4)
    pose[:3, :3] = [[0, -1, 0], [1, 0, 0], [0, 0, 1]]  # 90 degrees about z
    pose[:3, 3] = [0.1, 0.2, 3.0]
    point = np.array([[1.0, 2.0, 0.5]])
    cam = world_to_camera(point, pose)
    np.testing.assert_allclose(cam, [[-2 + 0.1, 1 + 0.2, 3.5]])
    K = np.array([[1000.0, 0, 500], [0, 1000.0, 400], [0, 0, 1]])
    np.testing.assert_allclose(pinhole_project(cam * 1000, K), [[500 + 1000 * -1.9 / 3.5, 400 + 1000 * 1.2 / 3.5]])


def test_joint_mapping():
    smpl = np.arange(24 * 3, dtype=float).reshape(24, 3)
    h36m = smpl_to_h36m(smpl)
    direct = {
        "pelvis": "pelvis",
        "r_hip": "r_hip",
        "l_knee": "l_knee",
        "r_ankle": "r_ankle",
        "l_shoulder": "l_shoulder",
        "r_elbow": "r_elbow",
        "l_wrist": "l_wrist",
        "thorax": "neck",
    }
    for h36m_name, smpl_name in direct.items():
        np.testing.assert_array_equal(h36m[H36M_JOINTS.index(h36m_name)], smpl[SMPL_JOINTS.index(smpl_name)])
    neck, head = smpl[12], smpl[15]
    np.testing.assert_allclose(h36m[9], (neck + head) / 2)
    np.testing.assert_allclose(h36m[10], head + 0.5 * (head - neck))
    assert [H36M_JOINTS[j] for j in PROTOCOL_JOINTS] == [
        "r_ankle",
        "r_knee",
        "r_hip",
        "l_hip",
        "l_knee",
        "l_ankle",
        "r_wrist",
        "r_elbow",
        "r_shoulder",
        "l_shoulder",
        "l_elbow",
        "l_wrist",
    ]


def test_loader_uses_valid_frames_and_projects_joints(root):
    dataset = get_dataset(opts(root, "--test"), "val")
    # test split: one sequence, 2 people x 6 frames, person 0 frame 5 and person 1 frame 0 invalid
    assert len(dataset) == 10
    assert (0, 5) not in set(zip(dataset.sample_person, dataset.sample_frame))
    assert (1, 0) not in set(zip(dataset.sample_person, dataset.sample_frame))
    data = pickle.load(open(root / "3dpw/sequenceFiles/test/synthetic_test_03.pkl", "rb"))
    i = 3
    person, frame = dataset.sample_person[i], dataset.sample_frame[i]
    world = data["jointPositions"][person][frame].reshape(24, 3)
    cam_mm = (world @ data["cam_poses"][frame][:3, :3].T + data["cam_poses"][frame][:3, 3]) * 1000
    np.testing.assert_allclose(dataset.joints_cam[i][1], cam_mm[2], rtol=1e-5)  # r_hip
    uv = cam_mm[2] @ data["cam_intrinsics"].T
    np.testing.assert_allclose(dataset.joints_uv[i][1], uv[:2] / uv[2], rtol=1e-5)
    item = dataset[i]
    assert item["reg_mask"].sum() >= 12 and np.allclose(item["gt_3d"][0], 0)
    np.testing.assert_allclose(item["gt_3d"], dataset.joints_cam[i] - dataset.joints_cam[i][0], atol=1e-3)


def test_ground_truth_as_prediction_scores_zero(root):
    dataset = get_dataset(opts(root, "--test"), "val")
    gt = dataset.joints_cam - dataset.joints_cam[:, :1]
    # a prediction in crop units: the ground truth in MPII-16 order, any scale
    from hg3d.joints import H36M_TO_MPII

    pred_mpii = gt[:, H36M_TO_MPII] / 1234.0
    n = len(dataset)
    result = {
        "index": np.arange(n),
        "pred_2d": np.zeros((n, 16, 2)),
        "pck_dist": np.zeros((n, 10)),
        "pred_3d": pred_mpii,
    }
    summary, arrays = score(dataset, result)
    assert summary["pa_mpjpe_12"] < 1e-3 and summary["num_samples"] == n  # 0 mm to float32 precision
    assert summary["per_sequence"]["synthetic_test_03"]["num_samples"] == n
    assert arrays["mpjpe_12"].shape == (n,) and arrays["sequence"][0] == b"synthetic_test_03"
    # re-rooted at the hips, the 4000 mm rescale keeps some error unless bones match: PA removes it
    assert summary["mpjpe_12"] >= summary["pa_mpjpe_12"]
    np.testing.assert_allclose(hip_midpoint(gt)[:, 0], (gt[:, 1] + gt[:, 4]) / 2)


def test_training_items_and_fusion(root):
    train = get_dataset(opts(root, "--flip", "1"), "train")
    assert len(train) == 14  # two train sequences of 8 frames, one invalid frame each
    item = train[0]
    assert item["input"].shape == (3, 128, 128) and item["reg_mask"].any()


def test_bad_input(root, tmp_path, capsys):
    with pytest.raises(UserError, match="3DPW test sequences not found: expected .*sequenceFiles/test"):
        get_dataset(opts(tmp_path, "--test"), "val")
    bad = tmp_path / "bad"
    (bad / "3dpw/sequenceFiles/test").mkdir(parents=True)
    data = pickle.load(open(root / "3dpw/sequenceFiles/test/synthetic_test_03.pkl", "rb"))
    broken = dict(data)
    del broken["cam_poses"]
    (bad / "3dpw/sequenceFiles/test/seq.pkl").write_bytes(pickle.dumps(broken))
    with pytest.raises(UserError, match=r"seq.pkl is not a 3DPW sequence file: it lacks cam_poses"):
        get_dataset(opts(bad, "--test"), "val")
    invalid = dict(data, campose_valid=[np.zeros(6), np.zeros(6)])
    (bad / "3dpw/sequenceFiles/test/seq.pkl").write_bytes(pickle.dumps(invalid))
    (bad / "3dpw/sequenceFiles/test/other.pkl").write_bytes(pickle.dumps(data))
    os.makedirs(bad / "3dpw/imageFiles")
    dataset = get_dataset(opts(bad, "--test"), "val")
    assert "has no frame with a valid camera pose; skipped" in capsys.readouterr().out
    assert len(dataset) == 10
    with pytest.raises(UserError, match=r"image_00000.jpg \(3DPW test sequence synthetic_test_03 frame 0\) is missing"):
        dataset[0]


@pytest.mark.e2e
def test_main_test_end_to_end(root, resnet18_3d_checkpoint, tmp_path):
    proc, results = run_main(
        *["--task", "human3d", "--dataset", "3dpw", "--test"],
        *[*TINY_CPU, "--input_h", "128", "--input_w", "128"],
        *["--load_model", resnet18_3d_checkpoint, "--data_dir", str(root)],
        exp_dir=tmp_path,
        exp_id="pw",
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert results["num_samples"] == 10 and results["split"] == "test"
    for key in ("mpjpe", "n_mpjpe", "pa_mpjpe", "mpjpe_12", "pa_mpjpe_12"):
        assert np.isfinite(results[key]), key
    assert set(results["per_sequence"]) == {"synthetic_test_03"}
    assert_every_figure_has_its_protocol(results)
    assert results["protocols"]["mpjpe_12"]["protocol"] == "3dpw_mpjpe_12"
    # without --smpl_dir the literature's protocol is absent, and the summary says what it needs
    assert "mpjpe_14" not in results and "need --smpl_dir and --j_regressor_h36m" in results["note"]
    assert f"note: {results['note']}" in proc.stdout
    assert f"mpjpe_12              MPJPE {results['mpjpe_12']:.2f} mm" in proc.stdout


def test_fine_tune_on_3dpw(root, resnet18_3d_checkpoint, tmp_path, capsys):
    from hg3d.train import run

    run(
        [*TINY_CPU, "--task", "human3d", "--dataset", "threedpw", "--load_model", resnet18_3d_checkpoint]
        + ["--data_dir", str(root), "--exp_dir", str(tmp_path), "--exp_id", "ft"]
        + ["--batch_size", "4", "--num_epoch", "1", "--weight_3d", "0.1", "--lr", "1e-4"]
    )
    out = capsys.readouterr().out
    assert "epoch 1" in out and "reg_loss" in out and "val mpjpe" in out
    assert (tmp_path / "ft" / "model_last.pth").exists() and (tmp_path / "ft" / "model_best.pth").exists()
