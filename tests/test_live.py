"""Live input: --live on a video file (paced, newest frame kept, drops counted), the per-frame jsonl,
stopping by Ctrl-C and a kill, and cameras/streams that cannot be opened."""

import json
import os
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

from helpers import SRC_DIR
from hg3d import commands
from hg3d.demo import run_demo
from hg3d.inference import Estimator

SMALL = ["--arch", "msra_18", "--input_h", "64", "--input_w", "64", "--gpus", "-1", "--detector", "none"]
SLOW_MODEL_S = 0.25  # a pose step this long is slower than the 20 fps clip


def write_clip(path, frames, fps, size=(96, 80)):
    """A video of moving noise: ``frames`` frames at ``fps``."""
    rng = np.random.default_rng(3)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    for _ in range(frames):
        writer.write(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))
    writer.release()
    return path


def read_lines(path):
    text = path.read_text()
    assert text == "" or text.endswith("\n"), "a partial last line"
    return [json.loads(line) for line in text.splitlines()]


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("live_in")
    return write_clip(folder / "short.mp4", 20, 20), write_clip(folder / "long.mp4", 300, 20)


@pytest.fixture
def slow_model(monkeypatch, tmp_path):
    """A pose step slower than the clip's frames; returns the jsonl lines there were at each step
    (the run writes into tmp_path)."""
    predict, lines_seen = Estimator.predict, []

    def slow_predict(self, *args, **kwargs):
        jsonl = tmp_path / "short.jsonl"
        lines_seen.append(jsonl.read_text().count("\n") if jsonl.exists() else 0)
        time.sleep(SLOW_MODEL_S)
        return predict(self, *args, **kwargs)

    monkeypatch.setattr(Estimator, "predict", slow_predict)
    return lines_seen


def live_args(video, checkpoint, out):
    return ["--demo", str(video), "--live", "--load_model", checkpoint, "--out_dir", str(out), *SMALL]


def test_live_file_drops_stale_frames(clips, resnet18_3d_checkpoint, tmp_path, slow_model):
    short, _ = clips
    run_demo(live_args(short, resnet18_3d_checkpoint, tmp_path))
    lines = read_lines(tmp_path / "short.jsonl")
    summary = json.loads((tmp_path / "short.json").read_text())
    assert summary["stopped_by"] == "end of stream" and summary["source_kind"] == "file"
    assert summary["frames_arrived"] == 20
    assert summary["frames_processed"] == len(lines) and summary["frames_dropped"] > 0
    assert slow_model == list(range(len(lines)))  # each frame's line was on disk before the next step
    assert summary["frames_processed"] + summary["frames_dropped"] == 20
    assert summary["frames_processed"] <= 1 + 1.0 / SLOW_MODEL_S + 1  # one second of clip, slow steps
    frames = [line["frame"] for line in lines]
    times = [line["time_s"] for line in lines]
    assert frames == sorted(set(frames)) and frames[-1] == 19  # the end of the stream is processed
    assert np.all(np.diff(times) > 0) and np.allclose(times, np.array(frames) / 20, atol=1e-3)
    dropped = [line["frames_dropped"] for line in lines]
    assert dropped == sorted(dropped) and dropped[-1] == summary["frames_dropped"]
    assert all(line["latency_ms"] >= SLOW_MODEL_S * 1000 for line in lines)
    assert summary["mean_latency_ms"] == pytest.approx(np.mean([line["latency_ms"] for line in lines]), abs=0.2)
    person = lines[0]["people"][0]
    assert lines[0]["num_people"] == 1 and len(person["joints_2d"]) == 16 and len(person["joints_3d_mm"]) == 16
    assert (tmp_path / "short_2d.mp4").exists() and (tmp_path / "short_3d.mp4").exists()


def test_live_file_paced_by_its_timestamps(clips, resnet18_3d_checkpoint, tmp_path):
    """A model faster than the clip sees frames at the clip's rate, not as fast as they decode."""
    short, _ = clips
    run_demo(live_args(short, resnet18_3d_checkpoint, tmp_path))
    lines = read_lines(tmp_path / "short.jsonl")
    arrivals, times = np.array([[line["arrival_s"], line["time_s"]] for line in lines]).T
    assert lines[-1]["frame"] == 19 and np.all(arrivals >= times - 0.02)
    summary = json.loads((tmp_path / "short.json").read_text())
    assert summary["frames_processed"] + summary["frames_dropped"] == 20


def start_live(video, checkpoint, out):
    args = [sys.executable, "demo.py", *live_args(video, checkpoint, out)]
    return subprocess.Popen(args, cwd=SRC_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_lines(path, process, count=1, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().count("\n") >= count:
            return
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    pytest.fail(f"no {count} lines in {path} after {timeout} s")


@pytest.fixture(scope="module")
def stopped_runs(clips, resnet18_3d_checkpoint, tmp_path_factory):
    """Two live runs of the 15 s clip started together: one gets Ctrl-C (SIGINT), the other a kill
    (SIGKILL), each once its first jsonl line is there."""
    _, long = clips
    outs = {sig: tmp_path_factory.mktemp(sig.name) for sig in (signal.SIGINT, signal.SIGKILL)}
    processes = {sig: start_live(long, resnet18_3d_checkpoint, out) for sig, out in outs.items()}
    results = {}
    try:
        for sig, process in processes.items():
            wait_for_lines(outs[sig] / "long.jsonl", process)
            process.send_signal(sig)
        for sig, process in processes.items():
            stdout, stderr = process.communicate(timeout=30)
            results[sig] = (process.returncode, stdout, stderr, outs[sig])
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
    return results


@pytest.mark.e2e
def test_ctrl_c_stops_and_writes_the_summary(stopped_runs):
    code, stdout, stderr, out = stopped_runs[signal.SIGINT]
    assert code == 0, stderr
    lines = read_lines(out / "long.jsonl")
    summary = json.loads((out / "long.json").read_text())
    assert summary["stopped_by"] == "Ctrl-C" and summary["frames_processed"] == len(lines) >= 1
    assert summary["frames_arrived"] < 300  # stopped mid-run
    assert summary["frames_processed"] + summary["frames_dropped"] == summary["frames_arrived"]
    assert cv2.VideoCapture(str(out / "long_2d.mp4")).read()[0], "the videos are closed and playable"
    assert not [name for name in os.listdir(out) if name.startswith(".tmp-")]
    assert "processed" in stdout


@pytest.mark.e2e
def test_killed_run_leaves_whole_lines(stopped_runs):
    code, _, _, out = stopped_runs[signal.SIGKILL]
    assert code == -signal.SIGKILL
    lines = read_lines(out / "long.jsonl")
    assert len(lines) >= 1 and np.all(np.diff([line["time_s"] for line in lines]) > 0)
    assert not (out / "long.json").exists()


@pytest.mark.parametrize(
    "source, named",
    [("7", "no camera at index 7"), ("rtsp://127.0.0.1:9/none", "stream cannot be opened"),
     ("http://127.0.0.1:9/none.mp4", "stream cannot be opened")],
)  # fmt: skip
def test_unopenable_camera_or_stream_is_one_line(source, named, capfd, tmp_path):
    code = commands.demo(["--demo", source, "--out_dir", str(tmp_path), *SMALL])
    err = capfd.readouterr().err
    assert code == 2 and err.count("\n") == 1 and named in err, err


@pytest.mark.parametrize("extra, named", [([], "--live plays one video file"), (["--bvh"], "--bvh needs every frame")])
def test_live_needs_a_video_file_and_no_bvh(extra, named, tmp_path, capfd):
    (tmp_path / "notes.txt").write_text("not a video")
    args = ["--demo", str(tmp_path / "notes.txt"), "--live", "--out_dir", str(tmp_path), *SMALL, *extra]
    assert commands.demo(args) == 2 and named in capfd.readouterr().err
