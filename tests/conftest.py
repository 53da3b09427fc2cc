"""Shared fixtures: small random-weight checkpoints, no network, the browser marker. The shared
constants and helpers are in ``tests/helpers`` (``from helpers import ...``)."""

import pytest
import torch

from helpers import HEADS_3D
from hg3d.checkpoint import save_checkpoint
from hg3d.model import create_model


@pytest.fixture(scope="session")
def resnet18_3d_checkpoint(tmp_path_factory):
    """A randomly initialised ResNet-18 human3d checkpoint (seeded), as written by training."""
    torch.manual_seed(0)
    model = create_model("msra_18", HEADS_3D)
    path = tmp_path_factory.mktemp("ckpt") / "msra18_3d.pth"
    save_checkpoint(str(path), model, epoch=1)
    return str(path)


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
    """A fasterrcnn_mobile with random (seeded) weights, saved as the state dict torchvision's
    cache holds. Its 'person' logit is raised so that random boxes come out as people (with
    --det_thresh 0 every proposal is kept)."""
    from hg3d.demo.detection import random_detector_state

    path = tmp_path_factory.mktemp("detector") / "fasterrcnn_mobilenet_v3_large_fpn.pth"
    torch.save(random_detector_state("fasterrcnn_mobile", person_logit=8.0), str(path))
    return str(path)


def pytest_collection_modifyitems(items):
    """A test that drives the browser (the ``browser`` fixture of the viewer tests) is marked
    ``browser``, so that ``scripts/test.sh --fast`` leaves it out."""
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)
