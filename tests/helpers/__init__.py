"""What the tests share besides fixtures: where the repository and the golden files are, the tiny
CPU flags, and helpers that run the commands as a user does (``from helpers import ...``)."""

import json
import os
import subprocess
import sys

import pytest

from hg3d.options import parse_opts

REPO_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SRC_DIR = os.path.join(REPO_DIR, "src")
GOLDEN_DIR = os.environ.get("HG3D_GOLDEN", os.path.join(os.path.dirname(REPO_DIR), "shared", "golden"))
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
        pytest.fail(f"golden file {path} missing: tests need ../shared/golden beside the repo (or HG3D_GOLDEN)")
    return path


def write_training_data(root, mpii_counts, h36m_counts, size):
    """MPII and H36M sample data (train, val counts) under ``root`` for end-to-end training runs."""
    import numpy as np

    from hg3d.tools.sample_data import write_h36m, write_mpii

    write_mpii(root / "mpii", np.random.default_rng(0), *mpii_counts, size=size)
    write_h36m(root / "h36m", np.random.default_rng(1), *h36m_counts, size=size)
    return str(root)
