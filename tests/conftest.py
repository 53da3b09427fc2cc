"""Shared fixtures: small random-weight checkpoints, no network, a local HTTP server, the browser
marker. The shared constants and helpers are in ``tests/helpers`` (``from helpers import ...``)."""

import functools
import http.server
import shutil
import threading

import gdown
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
    at once (as it does on a machine without internet), also in the subprocesses that inherit the
    environment (HG3D_WEIGHTS_URL: a local port that refuses)."""
    torch_home = tmp_path_factory.mktemp("torch_home")
    monkeypatch.setenv("TORCH_HOME", str(torch_home))
    monkeypatch.setenv("HG3D_WEIGHTS_URL", "http://127.0.0.1:9")  # released models: refused (subprocesses too)

    def refuse(*args, **kwargs):
        raise OSError(f"no network in tests (asked for {args or kwargs})")

    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse)
    monkeypatch.setattr(gdown, "download", refuse)
    yield
    shutil.rmtree(torch_home, ignore_errors=True)  # what a test downloaded or exported into it


class LocalServer:
    """An HTTP server on 127.0.0.1 serving the files of ``root`` (``url``: its base URL)."""

    def __init__(self, root):
        handler = functools.partial(QuietHandler, directory=str(root))
        self.root, self.server = root, http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        """Shut the server down: its URL then refuses connections, as an unreachable server does."""
        if self.thread.is_alive():
            self.server.shutdown()
            self.server.server_close()
            self.thread.join()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def local_server(tmp_path):
    root = tmp_path / "served"
    root.mkdir()
    server = LocalServer(root)
    yield server
    server.stop()


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
