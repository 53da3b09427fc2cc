"""Shared fixtures: where the golden files are, and small random-weight checkpoints."""

import json
import os
import subprocess
import sys

import pytest
import torch

from hg3d.checkpoint import save_checkpoint
from hg3d.model import create_model
from hg3d.options import parse_opts

REPO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
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


@pytest.fixture(scope="session")
def resnet18_3d_checkpoint(tmp_path_factory):
    """A randomly initialised ResNet-18 human3d checkpoint (seeded), as written by training."""
    torch.manual_seed(0)
    model = create_model("msra_18", HEADS_3D)
    path = tmp_path_factory.mktemp("ckpt") / "msra18_3d.pth"
    save_checkpoint(str(path), model, epoch=1)
    return str(path)


def write_training_data(root, mpii_counts, h36m_counts, size):
    """MPII and H36M sample data (train, val counts) under ``root`` for end-to-end training runs."""
    import numpy as np

    from hg3d.tools.sample_data import write_h36m, write_mpii

    write_mpii(root / "mpii", np.random.default_rng(0), *mpii_counts, size=size)
    write_h36m(root / "h36m", np.random.default_rng(1), *h36m_counts, size=size)
    return str(root)


@pytest.fixture(autouse=True)
def no_downloads(tmp_path_factory, monkeypatch):
    """Tests never reach the network: torch's hub cache is an empty folder and a download fails
    at once (as it does on a machine without internet)."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path_factory.mktemp("torch_home")))

    def refuse(url, *args, **kwargs):
        raise OSError(f"no network in tests (asked for {url})")

    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse)


@pytest.fixture(scope="session")
def detector_weights(tmp_path_factory):
    """A fasterrcnn_mobile built by torchvision with random (seeded) weights, saved as the state
    dict torchvision's cache holds. Its 'person' logit is raised so that random boxes come out as
    people (with --det_thresh 0 every proposal is kept)."""
    from torchvision.models.detection import fasterrcnn_mobilenet_v3_large_fpn

    torch.manual_seed(0)
    detector = fasterrcnn_mobilenet_v3_large_fpn(weights=None, weights_backbone=None, num_classes=91)
    with torch.no_grad():
        detector.roi_heads.box_predictor.cls_score.bias[1] = 8.0
    path = tmp_path_factory.mktemp("detector") / "fasterrcnn_mobilenet_v3_large_fpn.pth"
    torch.save(detector.state_dict(), str(path))
    return str(path)


def pytest_collection_modifyitems(items):
    """A test that drives the browser (the ``browser`` fixture of the viewer tests) is marked
    ``browser``, so that ``scripts/test.sh --fast`` leaves it out."""
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)
