"""``scripts/bench.py``'s peer and int8 rows without the network: the peer's row says why
when its environment cannot be made, and hg3d's rows are ratios to the peer's time with the
issue's goals."""

import importlib.util
import os

import numpy as np
import pytest

from helpers import REPO_DIR


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench", os.path.join(REPO_DIR, "scripts", "bench.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.e2e  # makes a venv and runs pip, from inside scripts/bench.py
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


def test_int8_accuracy_rows_on_a_checkpoint_and_its_data(bench, resnet18_3d_checkpoint, tmp_path, monkeypatch):
    """``--only int8_accuracy`` on a checkpoint and an H36M data folder: two rows (MPJPE of int8
    and fp32, how far int8 moved the joints), the fp32 figure equal to the torch ``--test``'s on
    the same samples; without the files, one row saying what is missing."""
    from hg3d.checkpoint import load_model
    from hg3d.evaluate import predict_and_score, test_predictor

    pytest.importorskip("onnxruntime")
    monkeypatch.setattr(bench, "ROWS", [])
    monkeypatch.setenv("HG3D_CACHE", str(tmp_path / "cache"))  # the section points it at its own folder
    data = os.path.join(REPO_DIR, "tests", "golden", "fixture_data")
    bench.bench_int8_accuracy(resnet18_3d_checkpoint, data, "msra_18", 64)
    (mpjpe_name, mpjpe, mpjpe_detail), (moved_name, moved, _) = bench.ROWS
    assert mpjpe_name.endswith("MPJPE") and moved_name.endswith("joints moved by int8") and moved.endswith(" mm")
    int8_mm, fp32_mm = (float(part.split()[0]) for part in mpjpe.split(" vs "))
    opt = bench.fixture_opts("--test", "--full_test", "--arch", "msra_18", "--input_h", "64", "--input_w", "64")
    dataset = bench.get_dataset(opt, "val")
    torch_summary, _ = predict_and_score(
        opt, test_predictor(opt, load_model(resnet18_3d_checkpoint, "msra_18", "human3d")), dataset
    )
    assert fp32_mm == pytest.approx(torch_summary["mpjpe"], abs=0.05) and int8_mm > 0
    assert f"{torch_summary['num_3d']} H36M validation samples" in mpjpe_detail
    bench.bench_int8_accuracy(str(tmp_path / "none.pth"), data, "msra_18", 64)
    assert bench.ROWS[-1][1] == "not measured" and "none.pth" in bench.ROWS[-1][2]


@pytest.mark.e2e
@pytest.mark.parametrize("program, says", [("/bin/false", "no output"), ("/bin/echo", "bench_peer_mediapipe.py serve")])
def test_a_peer_that_fails_or_prints_no_figures_is_missing_with_why(bench, tmp_path, program, says):
    """A peer process that ends at once, or prints something other than its figures: PeerMissing
    naming its last line, not a traceback or a process left running."""
    with pytest.raises(bench.PeerMissing, match=f"running BlazePose failed: .*{says}"):
        bench.Peer(program, np.zeros((8, 8, 3), np.uint8), str(tmp_path))
