"""``scripts/bench.py --peer mediapipe``'s row logic without the network: the peer's row says why
when its environment cannot be made, and hg3d's rows are ratios to the peer's time with the
issue's goals."""

import importlib.util
import os

import pytest

from helpers import REPO_DIR


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench", os.path.join(REPO_DIR, "scripts", "bench.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_without_its_environment_the_peer_row_says_why(bench, tmp_path, monkeypatch):
    """pip cannot reach a package index (as offline): the peer's row is 'not measured' with pip's
    error, hg3d's rows are timed on the generated scene without a ratio, and the half-made
    environment is not taken for a whole one on the next run."""
    monkeypatch.setenv("HG3D_PEER_VENV", str(tmp_path / "peer"))
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)  # no index or wheel folder from this machine's pip.conf
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path))
    monkeypatch.setattr(bench, "ROWS", [])
    python, frame, why = bench.peer_setup("mediapipe", str(tmp_path))
    assert python is None and frame.shape == (480, 640, 3)
    assert why.startswith("pip install mediapipe==0.10.21 numpy<2") and "mediapipe" in why.split("failed: ")[1], why
    bench.peer_row(why)
    (peer,) = bench.ROWS
    assert peer == ("pose network per frame: MediaPipe BlazePose full (peer)", "not measured", why)
    assert bench.against_peer("mobilenet_v3, no flip, onnxruntime", 0.01, None) == ""
    assert not os.path.exists(tmp_path / "peer" / ".hg3d-peer-complete")


def test_rows_are_ratios_to_the_peer_with_the_issues_goals(bench, monkeypatch):
    assert bench.against_peer("mobilenet_v3, no flip, onnxruntime", 0.012, 0.016) == (
        "; 0.75x the time of MediaPipe BlazePose full (goal <= 1.0x: met)"
    )
    assert bench.against_peer("ResNet-50, flip, onnxruntime int8", 0.070, 0.016) == (
        "; 4.38x the time of MediaPipe BlazePose full (goal <= 4.0x: NOT met)"
    )
    assert bench.against_peer("ResNet-50, flip, torch", 0.160, 0.016) == "; 10.00x the time of MediaPipe BlazePose full"
    monkeypatch.setattr(bench, "ROWS", [])
    result = {"seconds_per_frame": 0.0169, "world_landmarks": 30, "frames": 30, "passes": 4, "mediapipe": "0.10.21"}
    bench.peer_row(result)
    ((name, value, detail),) = bench.ROWS
    assert value == "16.9 ms" and "world landmarks on 30 of 30 frames" in detail
    assert "fastest of 4 passes taken in turns" in detail
