"""Shared fixtures: where the golden files are, and small random-weight checkpoints."""
import os

import pytest
import torch

from hg3d.checkpoint import save_checkpoint
from hg3d.model import create_model

REPO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC_DIR = os.path.join(REPO_DIR, "src")
GOLDEN_DIR = os.environ.get("HG3D_GOLDEN", os.path.join(os.path.dirname(REPO_DIR), "shared", "golden"))
FIXTURE_DATA = os.path.join(GOLDEN_DIR, "fixture_data")
HEADS_3D = {"hm": 16, "depth": 16}


def mirror_partner(names, j):
    """Index of the joint named like ``names[j]`` with l_ and r_ swapped (itself if neither): the
    flip tests' reference, independent of the flip tables they check."""
    swap = {"l_": "r_", "r_": "l_"}
    return names.index(swap[names[j][:2]] + names[j][2:]) if names[j][:2] in swap else j


def golden(name):
    path = os.path.join(GOLDEN_DIR, name)
    if not os.path.exists(path):
        pytest.fail(f"golden file {path} missing: tests need ../shared/golden beside the repo "
                    f"(or HG3D_GOLDEN)")
    return path


@pytest.fixture(scope="session")
def resnet18_3d_checkpoint(tmp_path_factory):
    """A randomly initialised ResNet-18 human3d checkpoint (seeded), as written by training."""
    torch.manual_seed(0)
    model = create_model("msra_18", HEADS_3D)
    path = tmp_path_factory.mktemp("ckpt") / "msra18_3d.pth"
    save_checkpoint(str(path), model, epoch=1)
    return str(path)
