"""MRPE and camera-space MPJPE on Human3.6M with camera labels: the converted synthetic official
release (``tools.h36m_sample`` through ``prepare_h36m``) and the sample data, perfect labels in,
the figures checked against an independent solve; the challenge caches say why there is none."""

import json

import cv2
import h5py
import numpy as np
import pytest
import torch

from helpers import FIXTURE_DATA
from hg3d.camera import Intrinsics, project
from hg3d.datasets import get_dataset
from hg3d.joints import H36M_TO_MPII
from hg3d.metrics import score
from hg3d.metrics.h36m import NO_CAMERA_LABELS, report
from hg3d.model import PoseResNet
from hg3d.options import parse_opts
from hg3d.tools.h36m_sample import write_official_h36m
from hg3d.tools.prepare_h36m import main as prepare
from hg3d.tools.sample_data import _image_size, write_h36m
from hg3d.tools.synthetic import random_scene
from hg3d.train import run

# The 15 joints both predicted in 2D (MPII-16) and 3D (H36M-17), written out by name: pelvis, r hip,
# knee, ankle, l hip, knee, ankle, upper neck / thorax, head top / head, l shoulder, elbow, wrist,
# r shoulder, elbow, wrist.
MPII_15 = [6, 2, 1, 0, 3, 4, 5, 8, 9, 13, 14, 15, 12, 11, 10]
H36M_15 = [0, 1, 2, 3, 4, 5, 6, 8, 10, 11, 12, 13, 14, 15, 16]
FIGURES = ("mrpe", "mrpe_x", "mrpe_y", "mrpe_z", "mpjpe_abs")


def h36m_opts(data_dir, *extra):
    return parse_opts(
        ["--task", "human3d", "--dataset", "h36m", "--data_dir", str(data_dir), "--gpus", "-1", "--full_test", *extra],
        log=lambda _: None,
    )


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """The synthetic official release (pinhole D2, bones summing to 4000 mm) through the converter."""
    src = str(tmp_path_factory.mktemp("official"))
    write_official_h36m(src, np.random.default_rng(0))
    data = tmp_path_factory.mktemp("data")
    argv = ["--train_subjects", "1,5", "--train_step", "2", "--test_step", "3", "--workers", "1"]
    prepare(["--src", src, "--out", str(data / "h36m"), *argv])
    return data


def perspective_2d(labels):
    """The true 2D joints (N, 17, 2): the camera-frame ground truth through each sample's pinhole."""
    points = labels["gt_3d"].astype(np.float64) + labels["root_cam"][:, None]
    return np.stack([project(p, Intrinsics(*k)) for p, k in zip(points, labels["intrinsics"])])


def predictions(dataset, pred_2d_h36m, pred_3d_h36m):
    """``predict_dataset``-style arrays of H36M-17 2D (px) and 3D (any unit: the 4000 mm rule)."""
    n = len(dataset)
    return {
        "index": dataset.indices,
        "pred_2d": pred_2d_h36m[:, H36M_TO_MPII],
        "pck_dist": np.zeros((n, 10)),
        "pred_3d": pred_3d_h36m[:, H36M_TO_MPII] - pred_3d_h36m[:, :1],
    }


def solve_root(pixels, pose, pinhole):
    """An independent root solve: least squares over the stacked projection equations
    x (Z + tz) = X + tx, y (Z + tz) = Y + ty of the 15 shared joints (np.linalg.lstsq)."""
    fx, fy, cx, cy = pinhole
    x, y = (pixels[:, 0] - cx) / fx, (pixels[:, 1] - cy) / fy
    ones, zeros = np.ones_like(x), np.zeros_like(x)
    design = np.concatenate([np.c_[-ones, zeros, x], np.c_[zeros, -ones, y]])
    target = np.concatenate([pose[:, 0] - x * pose[:, 2], pose[:, 1] - y * pose[:, 2]])
    return np.linalg.lstsq(design, target, rcond=None)[0]


def expected_figures(arrays, labels, select):
    """MRPE, its axes and camera-space MPJPE of the samples ``select``, from preds.h5-style arrays
    (``pred_2d`` MPII px, ``pred_3d`` H36M-17 mm) and the labels, with ``solve_root``."""
    roots = np.stack(
        [
            solve_root(arrays["pred_2d"][i][MPII_15], arrays["pred_3d"][i][H36M_15], labels["intrinsics"][i])
            for i in np.flatnonzero(select)
        ]
    )
    error = roots - labels["root_cam"][select]
    pred_cam = arrays["pred_3d"][select] + roots[:, None]
    gt_cam = labels["gt_3d"][select] + labels["root_cam"][select][:, None]
    absolute = np.linalg.norm(pred_cam - gt_cam, axis=-1).mean(1)
    values = (np.linalg.norm(error, axis=1), *np.abs(error).T, absolute)
    return roots, {name: v.mean() for name, v in zip(FIGURES, values)}


def test_ground_truth_places_every_root(converted):
    """True 2D and 3D as the prediction: every root where it is (float32 labels: < 0.01 mm)."""
    dataset = get_dataset(h36m_opts(converted), "val")
    labels = dataset.labels(dataset.indices)
    summary, arrays = score(dataset, predictions(dataset, perspective_2d(labels), labels["gt_3d"]))
    assert summary["num_unplaced"] == 0 and "mrpe_note" not in summary
    assert max(summary[name] for name in FIGURES) < 0.01, summary
    np.testing.assert_array_equal(arrays["gt_root_cam"], [e["root_cam"] for e in dataset.annotations])
    np.testing.assert_allclose(arrays["pred_root_cam"], arrays["gt_root_cam"], atol=0.02)
    assert all(a["num_placed"] == a["num_samples"] and a["mrpe"] < 0.01 for a in summary["per_action"].values())


def test_figures_match_an_independent_solve_per_action(converted):
    """Noisy predictions, some not placeable (all joints at one pixel; every Walking sample):
    the figures equal ``expected_figures`` over the placed samples, overall and per action."""
    dataset = get_dataset(h36m_opts(converted), "val")
    labels = dataset.labels(dataset.indices)
    rng = np.random.default_rng(4)
    pred_2d = perspective_2d(labels) + rng.normal(0, 0.3, (len(dataset), 17, 2))
    pred_3d = labels["gt_3d"] + rng.normal(0, 10, labels["gt_3d"].shape)
    unplaced = (labels["action"] == "Walking") | (np.arange(len(dataset)) == 1)
    pred_2d[unplaced] = pred_2d[unplaced, :1]
    summary, arrays = score(dataset, predictions(dataset, pred_2d, pred_3d))
    placed = ~unplaced
    assert summary["num_unplaced"] == unplaced.sum() == 5
    assert np.isnan(arrays["pred_root_cam"][unplaced]).all() and np.isfinite(arrays["pred_root_cam"][placed]).all()
    roots, expected = expected_figures(arrays, labels, placed)
    np.testing.assert_allclose(arrays["pred_root_cam"][placed], roots, rtol=1e-5)
    for name in FIGURES:
        assert summary[name] == pytest.approx(expected[name], rel=1e-5), name
    assert 5 < summary["mrpe"] < 200 and summary["mrpe_z"] > 2 * max(summary["mrpe_x"], summary["mrpe_y"])
    error = arrays["pred_root_cam"] - arrays["gt_root_cam"]
    np.testing.assert_allclose(arrays["root_error"], np.linalg.norm(error, axis=1))
    assert summary["mpjpe_abs"] == pytest.approx(np.nanmean(arrays["mpjpe_abs"]), rel=1e-5)
    for action, figures in summary["per_action"].items():
        mine = placed & (labels["action"] == action)
        assert figures["num_placed"] == mine.sum() and figures["num_samples"] == (labels["action"] == action).sum()
        if not mine.any():
            assert action == "Walking" and all(figures[name] is None for name in FIGURES)
            continue
        _, expected = expected_figures(arrays, labels, mine)
        for name in FIGURES:
            assert figures[name] == pytest.approx(expected[name], rel=1e-5), (action, name)
    assert "MRPE" in report(summary) and "(5 not placed)" in report(summary)


def test_no_root_placed_gives_null_figures(converted):
    """Every prediction collapsed onto one pixel: null figures (never NaN in results.json), all
    counted as not placed, and the report says so."""
    dataset = get_dataset(h36m_opts(converted), "val")
    labels = dataset.labels(dataset.indices)
    pred_2d = np.repeat(perspective_2d(labels)[:, :1], 17, axis=1)
    summary, _ = score(dataset, predictions(dataset, pred_2d, labels["gt_3d"]))
    assert all(summary[name] is None for name in FIGURES) and summary["num_unplaced"] == 20
    assert summary["mpjpe"] < 0.01 and "MRPE: no root placed (20 not placed)" in report(summary)


def test_the_cache_labels_as_predictions_place_the_root_10_mm_off(converted):
    """What a network that reproduced its training labels exactly would score: the caches' 2D is a
    similarity fit of the perspective projection, and that costs about 10 mm of depth; their 3D
    (turned in the image plane by the fit) costs a fraction of a millimetre. The bone sum is no
    part of it here: the generated people's bones sum to 4000 mm."""
    dataset = get_dataset(h36m_opts(converted), "val")
    labels = dataset.labels(dataset.indices)
    fitted = np.stack([np.asarray(dataset.annotations[i]["joints_3d"])[:17] for i in dataset.indices])
    true_2d = perspective_2d(labels)
    both, _ = score(dataset, predictions(dataset, fitted[..., :2], fitted))
    fitted_2d, _ = score(dataset, predictions(dataset, fitted[..., :2], labels["gt_3d"]))
    fitted_3d, _ = score(dataset, predictions(dataset, true_2d, fitted))
    assert both["mrpe"] == pytest.approx(9.9, abs=0.3) and both["mrpe_z"] > 0.95 * both["mrpe"]
    assert fitted_2d["mrpe"] == pytest.approx(9.9, abs=0.3)
    assert fitted_3d["mrpe"] < 0.5 and fitted_3d["mpjpe"] > 1.0  # the turn: MPJPE, not the root


def test_the_root_scales_with_the_bone_sum(converted):
    """A person 10 % smaller than the 4000 mm prior, at 90 % of the distance (the same image):
    the perfect prediction, rescaled to 4000 mm, is placed exactly 1 / 0.9 as far."""
    dataset = get_dataset(h36m_opts(converted), "val")
    for entry in dataset.annotations:
        entry["joints_3d_relative"] = 0.9 * np.asarray(entry["joints_3d_relative"])
        entry["root_cam"] = 0.9 * np.asarray(entry["root_cam"])
    labels = dataset.labels(dataset.indices)
    summary, arrays = score(dataset, predictions(dataset, perspective_2d(labels), labels["gt_3d"]))
    np.testing.assert_allclose(arrays["pred_root_cam"], arrays["gt_root_cam"] / 0.9, rtol=1e-5)
    distance = np.linalg.norm(labels["root_cam"], axis=1).mean()
    assert summary["mrpe"] == pytest.approx(distance * (1 / 0.9 - 1), rel=1e-5) and summary["mrpe"] > 400


def oracle_forward(dataset):
    """A network that outputs each item's perfect maps: its target heatmaps, and each joint's
    depth target in the cell ``reg_ind`` names."""
    lookup = []
    for item in (dataset[i] for i in range(len(dataset))):
        joints, height, width = item["target"].shape
        depth = np.zeros((height, width, joints), np.float32)  # the (y, x, j) layout of reg_ind
        depth.reshape(-1)[item["reg_ind"]] = item["reg_target"][:, 0]
        maps = {"hm": torch.from_numpy(item["target"]), "depth": torch.from_numpy(depth.transpose(2, 0, 1).copy())}
        lookup.append((torch.as_tensor(item["input"]), maps))

    def forward(self, images):
        found = [next(m for x, m in lookup if torch.equal(x, image)) for image in images]
        return [{key: torch.stack([m[key] for m in found]) for key in ("hm", "depth")}]

    return forward


def test_main_test_reports_mrpe(converted, resnet18_3d_checkpoint, tmp_path, monkeypatch, capsys):
    """``main.py --test`` with perfect network maps on the converted data: results.json has the
    figures, overall and per action, preds.h5 the roots; they agree with an independent solve."""
    dataset = get_dataset(h36m_opts(converted), "val")
    assert all(dataset[i]["reg_mask"].all() for i in range(len(dataset)))
    monkeypatch.setattr(PoseResNet, "forward", oracle_forward(dataset))
    argv = ["--task", "human3d", "--dataset", "h36m", "--arch", "msra_18", "--test", "--full_test", "--no_flip_test"]
    argv += ["--gpus", "-1", "--num_workers", "0", "--data_dir", str(converted), "--load_model"]
    run([*argv, resnet18_3d_checkpoint, "--exp_dir", str(tmp_path), "--exp_id", "mrpe"])
    results = json.loads((tmp_path / "mrpe" / "results.json").read_text())
    with h5py.File(tmp_path / "mrpe" / "preds.h5") as f:
        arrays = {k: f[k][:] for k in ("index", "pred_2d", "pred_3d", "pred_root_cam", "gt_root_cam", "mpjpe_abs")}
    labels = dataset.labels(arrays["index"])
    np.testing.assert_array_equal(arrays["gt_root_cam"], labels["root_cam"])
    assert results["num_unplaced"] == 0 and np.isfinite(arrays["pred_root_cam"]).all()
    _, expected = expected_figures(arrays, labels, np.ones(len(labels["gt_3d"]), bool))
    for name in FIGURES:
        assert results[name] == pytest.approx(expected[name], rel=1e-4), name
    # the heatmaps' integer argmax (a 64-cell map over a crop about 52 px wide) on top of the labels
    assert results["mrpe"] < 60, results
    assert sorted(results["per_action"]) == ["Directions", "Eating", "Phoning", "Walking"]
    counts = np.array([a["num_placed"] for a in results["per_action"].values()])
    means = np.array([a["mrpe"] for a in results["per_action"].values()])
    assert results["mrpe"] == pytest.approx((counts * means).sum() / counts.sum(), rel=1e-6)
    assert f"MRPE {results['mrpe']:.2f} mm" in capsys.readouterr().out


def test_challenge_caches_say_why_there_is_no_mrpe(resnet18_3d_checkpoint, tmp_path, capsys):
    """The ECCV18 challenge caches have no camera labels: null figures, the note, no roots."""
    dataset = get_dataset(h36m_opts(FIXTURE_DATA), "val")
    n = len(dataset)
    result = {"index": dataset.indices, "pred_2d": np.zeros((n, 16, 2)), "pck_dist": np.zeros((n, 10))}
    summary, arrays = score(dataset, {**result, "pred_3d": np.random.default_rng(0).normal(0, 0.3, (n, 16, 3))})
    assert all(summary[name] is None for name in FIGURES) and summary["mrpe_note"] == NO_CAMERA_LABELS
    assert "pred_root_cam" not in arrays and "root_cam" not in dataset.labels(dataset.indices)
    assert f"notice: {NO_CAMERA_LABELS}" in report(summary)
    argv = ["--task", "human3d", "--dataset", "h36m", "--arch", "msra_18", "--test", "--input_h", "64"]
    argv += ["--input_w", "64", "--gpus", "-1", "--num_workers", "0", "--data_dir", FIXTURE_DATA, "--load_model"]
    run([*argv, resnet18_3d_checkpoint, "--exp_dir", str(tmp_path), "--exp_id", "challenge"])
    results = json.loads((tmp_path / "challenge" / "results.json").read_text())
    assert results["mrpe"] is None and results["mpjpe_abs"] is None and results["mrpe_note"] == NO_CAMERA_LABELS
    assert f"notice: {NO_CAMERA_LABELS}" in capsys.readouterr().out
    with h5py.File(tmp_path / "challenge" / "preds.h5") as f:
        assert "pred_root_cam" not in f and "gt_root_cam" not in f


def test_sample_data_camera_is_the_drawing_camera(tmp_path):
    """The sample data's root_cam and intrinsics are those its people were drawn with: replaying
    its generator gives the same pictures, and the labels project onto the drawn 2D joints."""
    write_h36m(str(tmp_path / "h36m"), np.random.default_rng(5), 0, 3, size=96)
    dataset = get_dataset(h36m_opts(tmp_path), "val")
    replay = np.random.default_rng(5)
    scenes = [random_scene(replay, *_image_size(replay, 96)) for _ in range(3)]
    labels = dataset.labels(dataset.indices)
    for i, scene in enumerate(scenes):
        stored = cv2.imread(dataset.image_path(i)).astype(float)
        assert stored.shape == scene["image"].shape and np.abs(stored - scene["image"]).mean() < 8  # JPEG
        np.testing.assert_allclose(labels["root_cam"][i], scene["joints_cam"][0])
        camera = scene["intrinsics"]
        np.testing.assert_allclose(labels["intrinsics"][i], [camera[0, 0], camera[1, 1], camera[0, 2], camera[1, 2]])
    np.testing.assert_allclose(perspective_2d(labels), np.stack([s["joints_2d"] for s in scenes]), atol=1e-3)
    summary, _ = score(dataset, predictions(dataset, perspective_2d(labels), labels["gt_3d"]))
    assert summary["mrpe"] < 0.01 and summary["mpjpe_abs"] < 0.01
