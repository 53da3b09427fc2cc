"""End to end: ``python src/main.py --test --full_test`` on the fixture data, and its bad input."""

import json
import os

import h5py
import numpy as np
import pytest

from helpers import FIXTURE_DATA, main_py
from hg3d.metrics.core import per_sample_mpjpe
from hg3d.train import run

pytestmark = pytest.mark.e2e

TEST_ARGS = [
    "--task",
    "human3d",
    "--dataset",
    "fusion_3d",
    "--arch",
    "msra_18",
    "--test",
    "--full_test",
    "--gpus",
    "-1",
    "--num_workers",
    "0",
    "--data_dir",
    FIXTURE_DATA,
]


@pytest.fixture(scope="module")
def test_run(resnet18_3d_checkpoint, tmp_path_factory):
    exp_dir = tmp_path_factory.mktemp("exp")
    proc = main_py(
        *TEST_ARGS,
        "--exp_id",
        "e2e",
        "--load_model",
        resnet18_3d_checkpoint,
        "--exp_dir",
        str(exp_dir),
        "--test_batch_size",
        "8",
    )
    assert proc.returncode == 0, proc.stderr
    return proc, exp_dir / "e2e"


def test_run_prints_mpjpe_and_writes_results(test_run):
    proc, out = test_run
    results = json.loads((out / "results.json").read_text())
    assert results["num_samples"] == 20 and results["num_3d"] == 20
    assert f"MPJPE {results['mpjpe']:.2f} mm" in proc.stdout
    for key in ("mpjpe", "pa_mpjpe", "acc"):
        assert np.isfinite(results[key])
    assert results["pa_mpjpe"] <= results["mpjpe"]
    assert results["autocast"] is False and "loss" not in results  # fp32 on the CPU; --test has no loss


def test_preds_h5_is_consistent_with_results(test_run):
    _, out = test_run
    results = json.loads((out / "results.json").read_text())
    with h5py.File(out / "preds.h5") as f:
        pred, gt, mpjpe, index = f["pred_3d"][:], f["gt_3d"][:], f["mpjpe"][:], f["index"][:]
    assert pred.shape == gt.shape == (20, 17, 3) and list(index) == list(range(20))
    np.testing.assert_allclose(per_sample_mpjpe(pred, gt), mpjpe, rtol=1e-5)
    np.testing.assert_allclose(mpjpe.mean(), results["mpjpe"], rtol=1e-5)


def test_batched_test_equals_batch_one(test_run, resnet18_3d_checkpoint, tmp_path, capsys):
    _, out = test_run
    batched = json.loads((out / "results.json").read_text())
    single = run(
        [*TEST_ARGS, "--load_model", resnet18_3d_checkpoint, "--exp_dir", str(tmp_path), "--test_batch_size", "1"]
    )
    assert abs(single["mpjpe"] - batched["mpjpe"]) < 1e-3
    assert abs(single["pa_mpjpe"] - batched["pa_mpjpe"]) < 1e-3
    assert single["acc"] == batched["acc"]


def assert_one_line_error(proc, *needles):
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    for needle in needles:
        assert needle in lines[0]


def test_wrong_arch_checkpoint(resnet18_3d_checkpoint, tmp_path):
    args = [a if a != "msra_18" else "msra_50" for a in TEST_ARGS]
    proc = main_py(*args, "--load_model", resnet18_3d_checkpoint, "--exp_dir", str(tmp_path))
    assert_one_line_error(proc, resnet18_3d_checkpoint, "--arch msra_18")


def test_unreadable_checkpoint(tmp_path):
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"\x00garbage")
    proc = main_py(*TEST_ARGS, "--load_model", str(bad), "--exp_dir", str(tmp_path))
    assert_one_line_error(proc, str(bad))


def test_missing_dataset(resnet18_3d_checkpoint, tmp_path):
    args = [a if a != FIXTURE_DATA else str(tmp_path) for a in TEST_ARGS]
    proc = main_py(*args, "--load_model", resnet18_3d_checkpoint, "--exp_dir", str(tmp_path))
    assert_one_line_error(proc, os.path.join(str(tmp_path), "h36m"))


def test_test_without_checkpoint(tmp_path):
    proc = main_py(*TEST_ARGS, "--exp_dir", str(tmp_path))
    assert_one_line_error(proc, "--load_model")
