"""Live input: --live on a video file (paced, newest frame kept, drops counted), the per-frame jsonl,
stopping by Ctrl-C, SIGTERM and a kill; a stream served over HTTP on 127.0.0.1 and a camera (a
stand-in capture) run to their end; a stalled stream; cameras/streams that cannot be opened; the
password of a stream URL kept out of everything written and printed."""

import contextlib
import functools
import http.server
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time

import cv2
import numpy as np
import pytest

from browser import page_data
from helpers import SRC_DIR, sigterm_demo_after
from hg3d import commands
from hg3d.camera import Intrinsics
from hg3d.demo import run_demo, sources
from hg3d.errors import UserError
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


def wait_for_lines(path, process, count=1, timeout=240):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().count("\n") >= count:
            return
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    pytest.fail(f"no {count} lines in {path} after {timeout} s")


@pytest.fixture(scope="module")
def stopped_runs(clips, resnet18_3d_checkpoint, tmp_path_factory):
    """Three live runs of the 15 s clip started together: one gets Ctrl-C (SIGINT), one SIGTERM (as
    docker stop and systemd send), one a kill (SIGKILL), each once its first jsonl line is there."""
    _, long = clips
    outs = {sig: tmp_path_factory.mktemp(sig.name) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL)}
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
@pytest.mark.parametrize("sig, reason", [(signal.SIGINT, "Ctrl-C"), (signal.SIGTERM, "SIGTERM")])
def test_ctrl_c_or_sigterm_stops_and_writes_the_summary(stopped_runs, sig, reason):
    code, stdout, stderr, out = stopped_runs[sig]
    assert code == 0, stderr
    lines = read_lines(out / "long.jsonl")
    summary = json.loads((out / "long.json").read_text())
    assert summary["stopped_by"] == reason and summary["frames_processed"] == len(lines) >= 1
    assert [f["frame"] for f in summary["frames"]] == [line["frame"] for line in lines]
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
     ("http://127.0.0.1:9/none.mp4", "stream cannot be opened"),
     ("rtsp://viewer:s3cret@127.0.0.1:9/cam", "--demo rtsp://viewer:***@127.0.0.1:9/cam: the stream cannot")],
)  # fmt: skip
def test_unopenable_camera_or_stream_is_one_line(source, named, capfd, tmp_path):
    """One line, and a failed start leaves the previous run's jsonl as it was."""
    previous = tmp_path / f"{sources.live_name(source)}.jsonl"
    previous.write_text('{"frame": 0}\n')
    code = commands.demo(["--demo", source, "--out_dir", str(tmp_path), *SMALL])
    err = capfd.readouterr().err
    assert code == 2 and err.count("\n") == 1 and named in err and "s3cret" not in err, err
    assert previous.read_text() == '{"frame": 0}\n'


@pytest.mark.parametrize("extra, named", [([], "--live plays one video file"), (["--bvh"], "--bvh needs every frame")])
def test_live_needs_a_video_file_and_no_bvh(extra, named, tmp_path, capfd):
    (tmp_path / "notes.txt").write_text("not a video")
    args = ["--demo", str(tmp_path / "notes.txt"), "--live", "--out_dir", str(tmp_path), *SMALL, *extra]
    assert commands.demo(args) == 2 and named in capfd.readouterr().err


@contextlib.contextmanager
def http_server(folder):
    """A web server on 127.0.0.1 serving ``folder`` from a thread, with the byte ranges FFmpeg asks
    for to seek in an MP4 (its index may sit at the end); yields its host:port."""

    class Ranges(http.server.SimpleHTTPRequestHandler):
        def end_headers(self):
            self.send_header("Accept-Ranges", "bytes")
            super().end_headers()

        def send_head(self):
            asked = self.headers.get("Range", "")
            if not asked.startswith("bytes="):
                return super().send_head()
            data = open(self.translate_path(self.path), "rb").read()
            start, _, end = asked.removeprefix("bytes=").partition("-")
            start, end = int(start), min(int(end or len(data) - 1), len(data) - 1)
            self.send_response(206)
            self.send_header("Content-Type", "video/mp4")
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
            self.send_header("Content-Length", str(end + 1 - start))
            self.end_headers()
            return io.BytesIO(data[start : end + 1])

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Ranges, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.e2e
def test_a_stream_over_http_runs_to_its_end(clips, resnet18_3d_checkpoint, tmp_path):
    """hg3d-demo on http://user:password@127.0.0.1:PORT/short.mp4 (a local server): every frame
    it sends is processed or dropped, the JSON is a video result (the viewer takes it, and the
    jsonl), --html writes the page, and the password is in nothing written or printed."""
    short, _ = clips
    out = tmp_path / "out"
    with http_server(short.parent) as host:
        url = f"http://viewer:s3cret@{host}/short.mp4"
        args = [sys.executable, "demo.py", "--demo", url, "--load_model", resnet18_3d_checkpoint, "--html"]
        proc = subprocess.run(
            [*args, "--out_dir", str(out), *SMALL], cwd=SRC_DIR, capture_output=True, text=True, timeout=300
        )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "short.json").read_text())
    lines = read_lines(out / "short.jsonl")
    assert summary["source"] == f"http://viewer:***@{host}/short.mp4" and summary["source_kind"] == "stream"
    assert summary["stopped_by"] == "end of stream" and summary["frames_arrived"] == 20
    assert summary["frames_processed"] == len(lines) == summary["num_frames"] >= 1
    assert summary["frames_processed"] + summary["frames_dropped"] == 20
    assert summary["intrinsics"] == Intrinsics.from_fov(96, 80).to_json()  # a stream has no EXIF: --fov
    assert [f["people"] for f in summary["frames"]] == [line["people"] for line in lines]
    assert sorted(p.name for p in out.iterdir()) == [
        f"short{s}" for s in (".html", ".json", ".jsonl", "_2d.mp4", "_3d.mp4")
    ]
    written = "".join(p.read_text(errors="replace") for p in out.iterdir())
    assert "s3cret" not in written + proc.stdout + proc.stderr and "***" in proc.stdout
    assert len(page_data(out / "short.html")["frames"]) == len(lines)
    for result in ("short.json", "short.jsonl"):
        page = tmp_path / f"{result}.html"
        assert commands.view([str(out / result), "-o", str(page)]) in (0, None)
        assert [f["frame"] for f in page_data(page)["frames"]] == [line["frame"] for line in lines]


class StandInCamera:
    """What ``cv2.VideoCapture(index)`` gives for a webcam: ``frames`` one every ``interval_s``,
    then nothing more (unplugged); ``stall_s``: after the frames, a read that waits this long
    before failing (a camera or stream that stopped sending)."""

    def __init__(self, frames, interval_s=0.01, stall_s=0.0):
        self.frames, self.interval_s, self.stall_s = list(frames), interval_s, stall_s

    def isOpened(self):
        return True

    def read(self):
        if not self.frames:
            time.sleep(self.stall_s)
            return False, None
        time.sleep(self.interval_s)
        return True, self.frames.pop(0)

    def get(self, prop):
        return 30.0 if prop == cv2.CAP_PROP_FPS else 0.0

    def release(self):
        pass


def stand_in_camera(monkeypatch, camera):
    """Index 0 opens ``camera``; anything else opens as OpenCV would."""
    real = cv2.VideoCapture
    monkeypatch.setattr(cv2, "VideoCapture", lambda spec, *a: camera if spec == 0 else real(spec, *a))


def test_a_camera_index_runs_to_its_end(resnet18_3d_checkpoint, tmp_path, monkeypatch):
    """--demo 0 (a stand-in webcam): no EXIF is looked for (a camera has no file), --fov places the
    people; the frames are processed until the camera ends; with --intrinsics, the file's camera."""
    frames = [np.full((80, 96, 3), 40 * i, np.uint8) for i in range(5)]
    for extra, expected in (
        (["--fov", "70"], Intrinsics.from_fov(96, 80, 70)),
        (["--intrinsics", str(tmp_path / "calib.json")], Intrinsics(90, 91, 47, 39)),
    ):
        (tmp_path / "calib.json").write_text(json.dumps({"fx": 90, "fy": 91, "cx": 47, "cy": 39}))
        stand_in_camera(monkeypatch, StandInCamera(frames))
        out = tmp_path / extra[0].strip("-")
        run_demo(["--demo", "0", "--load_model", resnet18_3d_checkpoint, "--out_dir", str(out), *SMALL, *extra])
        summary = json.loads((out / "camera0.json").read_text())
        assert summary["source"] == "0" and summary["source_kind"] == "camera"
        assert summary["stopped_by"] == "end of stream" and summary["frames_arrived"] == 5
        assert summary["intrinsics"] == expected.to_json()
        assert summary["num_frames"] == len(read_lines(out / "camera0.jsonl")) >= 1


def test_a_stalled_stream_says_so(resnet18_3d_checkpoint, tmp_path, monkeypatch):
    """A camera that sends two frames and then nothing for longer than the read timeout: the run
    ends as "stalled", with the two frames' results written."""
    monkeypatch.setattr(sources, "STREAM_TIMEOUT_MS", 300)
    stand_in_camera(monkeypatch, StandInCamera([np.zeros((80, 96, 3), np.uint8)] * 2, 0.2, stall_s=3.0))
    run_demo(["--demo", "0", "--load_model", resnet18_3d_checkpoint, "--out_dir", str(tmp_path), *SMALL])
    summary = json.loads((tmp_path / "camera0.json").read_text())
    assert summary["stopped_by"] == "stalled" and summary["frames_arrived"] == 2


def test_a_live_start_without_a_frame_leaves_the_previous_jsonl(resnet18_3d_checkpoint, tmp_path, monkeypatch):
    """A camera that opens but sends nothing: one line, and last run's files are as they were."""
    (tmp_path / "camera0.jsonl").write_text('{"frame": 0}\n')
    stand_in_camera(monkeypatch, StandInCamera([]))
    argv = ["--demo", "0", "--load_model", resnet18_3d_checkpoint, "--out_dir", str(tmp_path), *SMALL]
    with pytest.raises(UserError, match="^--demo 0: no frame could be read$"):
        run_demo(argv)
    assert [p.name for p in tmp_path.iterdir()] == ["camera0.jsonl"]
    assert (tmp_path / "camera0.jsonl").read_text() == '{"frame": 0}\n'


@pytest.mark.e2e
def test_a_video_stopped_by_a_signal_keeps_what_it_processed(clips, resnet18_3d_checkpoint, tmp_path):
    """A video run that is not live, stopped by SIGTERM half-way: exit 0, playable videos and a JSON
    of the frames processed so far, saying why it stopped."""
    _, long = clips
    args = ["--demo", str(long), "--load_model", resnet18_3d_checkpoint, "--save_frames", "--out_dir", str(tmp_path)]
    returncode, stdout, stderr = sigterm_demo_after([*args, *SMALL], tmp_path / "long_00002_2d.png")  # three frames
    assert returncode == 0, stderr
    record = json.loads((tmp_path / "long.json").read_text())
    assert record["stopped_by"] == "SIGTERM" and 1 <= record["num_frames"] < 300
    assert [f["frame"] for f in record["frames"]] == list(range(record["num_frames"]))
    decoded = cv2.VideoCapture(str(tmp_path / "long_2d.mp4"))
    assert sum(1 for _ in iter(lambda: decoded.read()[0], False)) == record["num_frames"]
    assert not list(tmp_path.glob(".tmp-*")) and "(stopped by SIGTERM)" in stdout
