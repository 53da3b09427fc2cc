"""The demo's one frame loop, ``runner.run``, on every kind of source (image files, a video, a video
played live, a camera through a stand-in capture, a stream from a local HTTP server), each with the
real network; and the outputs' safety: distinct names for inputs that would share one, unique video
temporaries, no writing through a planted link, a full disk."""

import errno
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
from PIL import Image

from helpers import SRC_DIR
from hg3d import commands
from hg3d.camera import CameraPolicy
from hg3d.demo import run_demo, runner, sinks
from hg3d.demo.pose_tracker import PoseTracker
from hg3d.demo.sources import ImageFiles, Stream, VideoFile
from hg3d.inference import Estimator
from hg3d.tools.synthetic import random_scene
from test_live import StandInCamera, http_server, stand_in_camera, write_clip

SMALL = ["--arch", "msra_18", "--input_h", "64", "--input_w", "64", "--gpus", "-1", "--detector", "none"]


def decoded(path):
    """Every frame of a video."""
    capture, frames = cv2.VideoCapture(str(path)), []
    while (item := capture.read())[0]:
        frames.append(item[1])
    return frames


class Recorder:
    """A sink that keeps what the loop gave it."""

    def __init__(self):
        self.opened, self.results, self.closed = [], [], []

    def open(self, run):
        self.opened.append(run.first.index)

    def write(self, result):
        self.results.append(result)

    def close(self, stopped_by):
        self.closed.append(stopped_by)


@pytest.fixture(scope="module")
def estimator(resnet18_3d_checkpoint):
    return Estimator.from_checkpoint(resnet18_3d_checkpoint, "msra_18", input_w=64, input_h=64)


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    folder = tmp_path_factory.mktemp("runner_in")
    rng = np.random.default_rng(2)
    for name in ("a.png", "b.png"):
        cv2.imwrite(str(folder / name), random_scene(rng, 96, 80)["image"])
    return folder, write_clip(folder / "clip.mp4", 6, 20)


def tracked(estimator, source):
    pose_tracker = PoseTracker(estimator, fps=source.fps, camera=CameraPolicy(), source_path=source.path)
    return runner.TrackedPeople(pose_tracker, None, None)


@pytest.mark.parametrize("kind", ["images", "video", "video played live", "camera", "stream"])
def test_every_source_kind_goes_through_the_one_loop(kind, estimator, media, monkeypatch):
    """Each kind of source through ``runner.run``: the sinks are opened once at the first frame,
    get every processed frame in order with the network's people for it, and are closed with why
    the run stopped."""
    folder, clip = media
    stop, recorder = runner.StopRequest(), Recorder()
    if kind == "images":
        paths = [str(folder / "a.png"), str(folder / "b.png")]
        source = ImageFiles(paths)
        tracker = runner.ImagePeople(estimator, None, CameraPolicy(), lambda path: None, 8, False)
        run = runner.run(source, tracker, [recorder], stop)
        assert [r.frame.path for r in recorder.results] == paths
    elif kind == "stream":
        with http_server(folder) as host:
            source = Stream(f"http://{host}/clip.mp4")
            run = runner.run(source, tracked(estimator, source), [recorder], stop)
    else:
        if kind == "camera":
            stand_in_camera(monkeypatch, StandInCamera(decoded(clip)))
        source = Stream("0") if kind == "camera" else VideoFile(str(clip), live=kind == "video played live")
        run = runner.run(source, tracked(estimator, source), [recorder], stop)
    indices = [r.frame.index for r in recorder.results]
    assert recorder.opened == [indices[0]] and recorder.closed == ["end of stream"]
    assert run.processed == len(recorder.results) >= 1 and indices == sorted(set(indices))
    if kind == "video":
        assert indices == list(range(6)) and [r.frame.time_s for r in recorder.results] == pytest.approx(
            np.arange(6) / 20
        )
    if source.live:
        assert source.feed.arrived == 6 and run.processed + source.feed.dropped == 6
        assert all(r.latency_ms >= 0 for r in recorder.results)
    for result in recorder.results:
        expected = estimator.predict(result.frame.image, intrinsics=result.intrinsics)[0]
        np.testing.assert_allclose(result.people[0]["joints_2d"], expected["joints_2d"])
        np.testing.assert_allclose(result.people[0]["root_cam_mm"], expected["root_cam_mm"])


def test_inputs_that_would_share_a_name_get_distinct_ones(media, resnet18_3d_checkpoint, tmp_path):
    """x/a.jpg and x__a.jpg (--recursive), b.jpg, b.png and b_jpg.png: every input its own outputs."""
    folder, _ = media
    image = cv2.imread(str(folder / "a.png"))
    inputs = tmp_path / "in"
    (inputs / "x").mkdir(parents=True)
    names = ("x/a.jpg", "x__a.jpg", "b.jpg", "b.png", "b_jpg.png")
    for name in names:
        cv2.imwrite(str(inputs / name), image)
    out = tmp_path / "out"
    argv = ["--demo", str(inputs), "--recursive", "--load_model", resnet18_3d_checkpoint, "--out_dir", str(out)]
    assert run_demo([*argv, *SMALL]).done == 5
    records = {p.name: json.loads(p.read_text())["image"] for p in out.glob("*.json")}
    assert len(records) == 5 and sorted(records.values()) == sorted(
        str(inputs / n) for n in ("x/a.jpg", "x__a.jpg", "b.jpg", "b.png", "b_jpg.png")
    )


def test_video_temporaries_are_unique_and_replace_atomically(tmp_path):
    """Two writers of the same outputs at once (two runs, one --out_dir): each has its own hidden
    temporary; the one that finishes last gives the whole file; a link planted where the old fixed
    temporary name was is not written through."""
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    os.symlink(victim, tmp_path / ".tmp-clip_2d.mp4")
    frames = {name: [np.full((48, 64, 3), value, np.uint8)] * 4 for name, value in (("a", 60), ("b", 200))}
    writers = {name: sinks.VideoFiles(str(tmp_path), "clip", 10, {"2d": (64, 48)}) for name in frames}
    temporaries = {writers[name].files["2d"][1] for name in writers}
    assert len(temporaries) == 2 and all(os.path.basename(t).startswith(".tmp-clip_2d") for t in temporaries)
    for index in range(4):
        for name, writer in writers.items():
            writer.write("2d", frames[name][index])
    writers["a"].close(keep=True)
    writers["b"].close(keep=True)
    frames = decoded(tmp_path / "clip_2d.mp4")
    assert len(frames) == 4 and abs(float(frames[0].mean()) - 200) < 3
    assert victim.read_text() == "keep me" and sorted(os.listdir(tmp_path)) == [
        ".tmp-clip_2d.mp4",
        "clip_2d.mp4",
        "victim.txt",
    ]


def test_a_planted_link_at_an_output_is_refused(media, resnet18_3d_checkpoint, tmp_path, capfd):
    """A symbolic link where the jsonl goes: one line, the link's target untouched."""
    _, clip = media
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    out = tmp_path / "out"
    out.mkdir()
    os.symlink(victim, out / "clip.jsonl")
    argv = ["--demo", str(clip), "--live", "--load_model", resnet18_3d_checkpoint, "--out_dir", str(out), *SMALL]
    assert commands.demo(argv) == 2
    err = capfd.readouterr().err
    assert err.count("\n") == 1 and "clip.jsonl is a symbolic link" in err and victim.read_text() == "keep me"


def test_a_full_disk_while_writing_videos_is_one_line(media, resnet18_3d_checkpoint, tmp_path, monkeypatch, capfd):
    """The encoder's write fails with ENOSPC on the third frame: one line naming the file and the
    disk, no temporary left, no JSON."""
    _, clip = media
    calls = []

    def fails_on_the_third(self, frame):
        calls.append(1)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        write(self, frame)

    write = sinks.H264Writer.write
    monkeypatch.setattr(sinks.H264Writer, "write", fails_on_the_third)
    argv = ["--demo", str(clip), "--load_model", resnet18_3d_checkpoint, "--out_dir", str(tmp_path), *SMALL]
    assert commands.demo(argv) == 2
    err = capfd.readouterr().err
    assert err.count("\n") == 1 and "No space left on device (the disk at /" in err and "clip_" in err, err
    assert os.listdir(tmp_path) == []


@pytest.mark.e2e
def test_odd_files_in_a_folder(media, resnet18_3d_checkpoint, tmp_path):
    """A name that is not UTF-8 (read through bytes, EXIF orientation applied), a GIF, a truncated
    JPEG, a name too long for its outputs' names, and a video OpenCV cannot be given the name of:
    a line each, and the rest of the folder is processed (a subprocess: OpenCV used to crash)."""
    folder, clip = media
    inputs = tmp_path / "in"
    inputs.mkdir()
    image = cv2.imread(str(folder / "a.png"))
    rotated = Image.fromarray(image[:, :, ::-1])
    exif = rotated.getexif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees to show
    rotated.save(os.path.join(os.fsencode(inputs), b"caf\xe9.jpg"), exif=exif)
    cv2.imwrite(str(inputs / "whole.png"), image)
    cv2.imwrite(str(inputs / ("long" * 60 + ".png")), image)
    Image.fromarray(image).save(inputs / "anim.gif")
    data = cv2.imencode(".jpg", image)[1].tobytes()
    (inputs / "cut.jpg").write_bytes(data[: len(data) * 2 // 3])
    with open(os.path.join(os.fsencode(inputs), b"clip\xe9.mp4"), "wb") as handle:
        handle.write(clip.read_bytes())
    out = tmp_path / "out"
    args = [sys.executable, "demo.py", "--demo", str(inputs), "--load_model", resnet18_3d_checkpoint]
    proc = subprocess.run(
        [*args, "--out_dir", str(out), *SMALL], cwd=SRC_DIR, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert any(line.startswith("skipping") and "anim.gif: .gif pictures are not read" in line for line in lines)
    assert any("cut.jpg is a truncated JPEG" in line for line in lines)
    assert any(line.startswith("skipping") and "long" * 60 in line and "too long" in line for line in lines)
    assert any(line.startswith("skipping") and "clip\\xe9.mp4: OpenCV cannot open" in line for line in lines)
    assert "done: 3 pose set(s)" in proc.stdout
    record = json.loads((out / "caf\ufffd.json").read_text())
    assert record["image"].endswith("caf\\xe9.jpg")
    assert cv2.imread(str(out / "caf\ufffd_2d.png")).shape[:2] == image.shape[1::-1][:2]  # turned as EXIF says
    assert (out / "cut.json").exists() and (out / "whole.json").exists()
