"""What the tests share besides fixtures: where the repository and the golden files are, the tiny
CPU flags, and helpers that run the commands as a user does (``from helpers import ...``)."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np
import pytest
import torch

from hg3d.train_options import parse_opts

REPO_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SRC_DIR = os.path.join(REPO_DIR, "src")
# The original implementation's outputs and the data root they came from (tests/golden/README.md).
GOLDEN_DIR = os.environ.get("HG3D_GOLDEN", os.path.join(REPO_DIR, "tests", "golden"))
FIXTURE_DATA = os.path.join(GOLDEN_DIR, "fixture_data")
HEADS_3D = {"hm": 16, "depth": 16}
# The small CPU model that end-to-end training and test runs use (ResNet-18, 64x64 inputs).
TINY_CPU = ["--arch", "msra_18", "--input_h", "64", "--input_w", "64", "--gpus", "-1", "--num_workers", "0"]
# The weakly supervised mix: MPII with as many Human3.6M samples (add "--weight_3d", ... to train it).
FUSION_3D = ["--task", "human3d", "--dataset", "fusion_3d", "--ratio_3d", "1"]
# Human3.6M validation (the msra cache layout), every sample.
H36M_FULL_TEST = ["--task", "human3d", "--dataset", "h36m", "--test", "--full_test"]


def quiet_opts(*args):
    """The options of ``args`` without the parser's log line."""
    return parse_opts(list(args), log=lambda _: None)


def main_py(*args, script="main.py", cwd=SRC_DIR, timeout=600):
    """``python main.py *args`` (or another script of src/) as a user runs it: the finished process."""
    return subprocess.run([sys.executable, script, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def sigterm_demo_after(args, picture, frames_timeout=240):
    """``demo.py ARGS`` in a subprocess, sent SIGTERM once ``picture`` exists (a frame processed):
    (returncode, stdout, stderr). Its output goes to files, which a long log cannot block."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen([sys.executable, "demo.py", *args], cwd=SRC_DIR, stdout=out, stderr=err, text=True)
        try:
            deadline = time.monotonic() + frames_timeout
            while not os.path.exists(picture) and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            if os.path.exists(picture):
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        out.seek(0), err.seek(0)
        stdout, stderr = out.read(), err.read()
    assert os.path.exists(picture), f"{picture} never appeared (exit status {process.returncode}): {stderr}"
    return process.returncode, stdout, stderr


def run_main(*args, exp_dir, exp_id, timeout=600):
    """``main_py`` with ``--exp_dir``/``--exp_id``: the finished process and the run's results.json
    (None when it wrote none)."""
    proc = main_py(*args, "--exp_dir", str(exp_dir), "--exp_id", exp_id, timeout=timeout)
    path = os.path.join(str(exp_dir), exp_id, "results.json")
    results = json.loads(open(path).read()) if os.path.exists(path) else None
    return proc, results


def mirror_partner(names, j):
    """Index of the joint named like ``names[j]`` with l_ and r_ swapped (itself if neither): the
    flip tests' reference, independent of the flip tables they check."""
    swap = {"l_": "r_", "r_": "l_"}
    return names.index(swap[names[j][:2]] + names[j][2:]) if names[j][:2] in swap else j


def golden(name):
    path = os.path.join(GOLDEN_DIR, name)
    if not os.path.exists(path):
        pytest.fail(f"golden file {path} missing: the tests read tests/golden/ (or HG3D_GOLDEN)")
    return path


def write_training_data(root, mpii_counts, h36m_counts, size):
    """MPII and H36M sample data (train, val counts) under ``root`` for end-to-end training runs."""
    from hg3d.tools.sample_data import write_h36m, write_mpii

    write_mpii(root / "mpii", np.random.default_rng(0), *mpii_counts, size=size)
    write_h36m(root / "h36m", np.random.default_rng(1), *h36m_counts, size=size)
    return str(root)


def assert_same_image(actual, expected, max_levels=1, max_share=1e-4):
    """Compare a network input (C, H, W) with a golden one, in grey levels of the 8-bit image it was
    resampled from: at most ``max_share`` of the values (0.01 %) may differ, by at most
    ``max_levels`` (one grey level), and every other value must match up to float32 rounding.

    OpenCV releases round a few pixels of a bilinear warp differently (5.1 against 5.0: 2 of 196,608
    values one level apart); a crop that is off by a pixel or scaled wrongly changes far more values
    by more. The inputs are normalised as (grey / 256 - mean) / std per channel, so one grey level is
    1 / (256 std) of the input: the differences are divided by that before the comparison."""
    from hg3d.geometry import PIXEL_STD

    assert actual.shape == expected.shape
    levels = np.abs(actual.astype(np.float64) - expected) * (256.0 * PIXEL_STD.astype(np.float64))[:, None, None]
    rounding = 0.01  # float32 rounding of the normalisation, far below a grey level
    differing = levels > rounding
    assert levels.max() <= max_levels + rounding, f"a value differs by {levels.max():.2f} grey levels"
    assert differing.sum() <= max_share * levels.size, (
        f"{differing.sum()} of {levels.size} values differ (by up to {levels.max():.2f} grey levels)"
    )


def randomise_batch_norms(model, seed=0):
    """Running statistics and affine parameters far from the identity (fresh ones fold to it)."""
    rng = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                n = module.num_features
                module.running_mean.copy_(torch.randn(n, generator=rng) * 0.5)
                module.running_var.copy_(torch.rand(n, generator=rng) * 2 + 0.2)
                module.weight.copy_(torch.rand(n, generator=rng) + 0.5)
                module.bias.copy_(torch.randn(n, generator=rng) * 0.5)
    return model
