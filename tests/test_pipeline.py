"""The demo's pipeline (``demo.pipeline``): frames read and people detected ahead in threads while
the pose network runs, with the same results in the same order as one stage after another, errors
raised at their frame, and a clean stop (threads joined, files written, live drops counted)."""

import json
import threading
import time

import cv2
import numpy as np
import pytest
import torch

from hg3d.camera import CameraPolicy
from hg3d.demo import pipeline, run_demo, runner
from hg3d.demo.pose_tracker import PoseTracker
from hg3d.demo.sources import VideoFile
from hg3d.inference import Estimator
from hg3d.tools.synthetic import random_scene
from test_live import write_clip

SMALL = ["--arch", "msra_18", "--input_h", "64", "--input_w", "64", "--gpus", "-1"]
STAGE_THREADS = ("hg3d-reader", "hg3d-detection")


@pytest.fixture(scope="module")
def ssdlite_weights(tmp_path_factory):
    """SSDlite with random (seeded) weights whose 'person' logit is raised: boxes on every frame."""
    from hg3d.demo.detection import random_detector_state

    path = tmp_path_factory.mktemp("ssdlite") / "ssdlite320_mobilenet_v3_large_coco.pth"
    torch.save(random_detector_state("ssdlite", person_logit=8.0), str(path))
    return str(path)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_clip(tmp_path_factory.mktemp("pipeline_in") / "clip.mp4", 8, 20, size=(160, 120))


@pytest.fixture(scope="module")
def estimator(resnet18_3d_checkpoint):
    return Estimator.from_checkpoint(resnet18_3d_checkpoint, "msra_18", input_w=64, input_h=64)


def stage_threads():
    return [t.name for t in threading.enumerate() if t.name in STAGE_THREADS]


def test_pipelined_demo_writes_the_same_json_as_one_stage_after_another(
    clip, resnet18_3d_checkpoint, ssdlite_weights, tmp_path
):
    """A video with the detector on every frame, through the demo with --pipeline on and off: the
    same JSON, byte for byte (a video's JSON has no timing field), and every frame's people came
    from the detector."""
    common = ["--demo", str(clip), "--load_model", resnet18_3d_checkpoint, *SMALL, "--detector", "ssdlite"]
    common += ["--detector_weights", ssdlite_weights, "--max_people", "2"]
    records = {}
    for setting in ("on", "off"):
        out = tmp_path / setting
        assert run_demo([*common, "--out_dir", str(out), "--pipeline", setting]).done == 8
        records[setting] = (out / "clip.json").read_bytes()
    assert records["on"] == records["off"]
    frames = json.loads(records["on"])["frames"]
    assert [f["frame"] for f in frames] == list(range(8))
    assert all(p["box_source"] == "detector" for f in frames for p in f["people"]) and frames[0]["people"]
    assert not stage_threads()


class SlowDetector:
    """A stand-in detector slow on some frames: each frame's box is its own (from the frame's
    mean), and the threads it ran in are kept."""

    name = "stand-in"

    def __init__(self, delays):
        self.delays, self.calls, self.threads = delays, 0, set()

    def __call__(self, images):
        self.threads.add(threading.current_thread().name)
        time.sleep(self.delays[self.calls % len(self.delays)])
        self.calls += 1
        return [(np.array([[4.0 + image.mean() % 20, 6.0, 60.0, 80.0]]), np.array([0.9])) for image in images]


class Recorder:
    """A sink keeping the frame index and box of each result; ``on_write`` is called with each."""

    def __init__(self, on_write=lambda result: None):
        self.results, self.closed, self.on_write = [], [], on_write

    def open(self, run):
        pass

    def write(self, result):
        self.results.append((result.frame.index, np.round(result.people[0]["box"], 6).tolist()))
        self.on_write(result)

    def close(self, stopped_by):
        self.closed.append(stopped_by)


def tracked(estimator, source, detector, det_every=1):
    pose_tracker = PoseTracker(estimator, detector, det_every, fps=source.fps, camera=CameraPolicy())
    return runner.TrackedPeople(pose_tracker, None, detector)


@pytest.mark.parametrize("det_every", [1, 3])
def test_a_slow_stage_keeps_the_order_and_the_results(clip, estimator, det_every):
    """A detector slow on every other frame runs in the detection stage's thread, ahead of the pose
    stage, and the loop still gets every frame in order with the boxes the sequential run finds
    (with --det_every 3 the frames in between carry the previous poses' boxes, as without threads)."""
    runs = {}
    for setting in ("on", "off"):
        detector, recorder = SlowDetector([0.15, 0.0]), Recorder()
        source = VideoFile(str(clip))
        runner.run(source, tracked(estimator, source, detector, det_every), [recorder], runner.StopRequest(), setting)
        runs[setting] = (recorder.results, detector.threads, detector.calls)
    (piped, piped_threads, piped_calls), (sequential, sequential_threads, sequential_calls) = runs["on"], runs["off"]
    assert [index for index, _ in piped] == list(range(8))
    assert piped == sequential and piped_calls == sequential_calls  # each frame detected once, where it was due
    assert sequential_threads == {threading.current_thread().name}
    assert piped_threads == {"hg3d-detection"} if det_every == 1 else "hg3d-detection" in piped_threads
    assert not stage_threads()


def test_detection_runs_while_the_pose_stage_works(clip, estimator, monkeypatch):
    """With a pose step slower than detection, the next frames are detected before the pose of
    the frame at hand ends: the stages overlap."""
    events, predict = [], Estimator.predict

    def slow_predict(self, *args, **kwargs):
        events.append("pose start")
        time.sleep(0.3)
        events.append("pose end")
        return predict(self, *args, **kwargs)

    class Logged(SlowDetector):
        def __call__(self, images):
            events.append("detect")
            return super().__call__(images)

    monkeypatch.setattr(Estimator, "predict", slow_predict)
    source = VideoFile(str(clip))
    detector = Logged([0.0])
    runner.run(source, tracked(estimator, source, detector), [Recorder()], runner.StopRequest(), "on")
    first_pose_end = events.index("pose end")
    assert events[:first_pose_end].count("detect") >= 2, events


def test_an_error_in_a_stage_reaches_the_loop_at_its_frame(clip, estimator):
    """The detector fails on the 4th frame: the three frames before it reach the sinks, then the
    error is raised in the loop, the sinks are closed with None and the threads are gone."""

    class FailsOnTheFourth(SlowDetector):
        def __call__(self, images):
            if self.calls == 3:
                raise RuntimeError("detector broke")
            return super().__call__(images)

    source, recorder = VideoFile(str(clip)), Recorder()
    with pytest.raises(RuntimeError, match="detector broke"):
        runner.run(source, tracked(estimator, source, FailsOnTheFourth([0.0])), [recorder], runner.StopRequest(), "on")
    assert [index for index, _ in recorder.results] == [0, 1, 2] and recorder.closed == [None]
    assert not stage_threads()


@pytest.mark.parametrize("live", [False, True])
def test_a_stop_ends_after_the_frame_at_hand_and_joins_the_threads(clip, estimator, live):
    """A stop asked while frame 2 is written: no later frame reaches the sinks, the run says why it
    stopped, the stage threads are joined; a live source counts the frames its pipeline held as
    dropped (every frame that arrived is processed or dropped)."""
    stop = runner.StopRequest()
    recorder = Recorder(lambda result: result.frame.index >= 2 and stop.request("Ctrl-C"))
    source = VideoFile(str(clip), live=live)
    run = runner.run(source, tracked(estimator, source, SlowDetector([0.05])), [recorder], stop, "on")
    indices = [index for index, _ in recorder.results]
    assert recorder.closed == ["Ctrl-C"] and run.stopped_by == "Ctrl-C" and indices[-1] >= 2
    assert len(indices) == run.processed and (live or indices == [0, 1, 2])
    if live:
        assert run.processed + source.feed.dropped == source.feed.arrived
    assert not stage_threads()


@pytest.mark.parametrize(
    "setting, device, cores, expected",
    [
        ("auto", "cpu", 2, False),  # measured slower on two cores: off
        ("auto", "cpu", 1, False),
        ("auto", "cpu", 8, True),
        ("auto", "cuda", 2, True),
        ("on", "cpu", 2, True),
        ("off", "cuda", 8, False),
    ],
)
def test_auto_pipelines_only_where_the_stages_have_room(monkeypatch, setting, device, cores, expected):
    """--pipeline auto (the default): threads with a GPU or more than two CPU cores, not on two."""
    monkeypatch.setattr(pipeline, "usable_cores", lambda: cores)
    assert pipeline.wanted(setting, device) is expected


@pytest.mark.parametrize("cores, detected_in", [(2, "MainThread"), (8, "hg3d-detection")])
def test_the_frame_loop_follows_the_auto_rule_by_default(clip, estimator, monkeypatch, cores, detected_in):
    """``runner.run`` called from Python without a setting pipelines as the command's default does:
    one thread on two cores, the detection stage on more."""
    monkeypatch.setattr(pipeline, "usable_cores", lambda: cores)
    source, detector = VideoFile(str(clip)), SlowDetector([0.0])
    runner.run(source, tracked(estimator, source, detector), [Recorder()], runner.StopRequest())
    assert detector.threads == {detected_in}


def test_a_setting_other_than_auto_on_off_is_refused():
    with pytest.raises(ValueError, match="auto, on or off"):
        pipeline.wanted(True, "cpu")


def test_a_live_stage_takes_its_next_frame_only_once_the_loop_took_the_last(clip, estimator, monkeypatch):
    """A camera-like source and a slow pose step: the detection stage works on the newest frame
    while the pose network works on the one before, and takes no frame beyond that (a frame
    detected two ahead would wait a whole pose step more)."""
    events, predict = [], Estimator.predict

    def slow_predict(self, *args, **kwargs):
        events.append("pose")
        time.sleep(0.15)
        return predict(self, *args, **kwargs)

    class DoneLogged(SlowDetector):
        def __call__(self, images):
            found = super().__call__(images)  # 30 ms: logged once done, after the loop's own start of a step
            events.append("detect")
            return found

    monkeypatch.setattr(Estimator, "predict", slow_predict)
    source = VideoFile(str(clip), live=True)
    runner.run(source, tracked(estimator, source, DoneLogged([0.03])), [Recorder()], runner.StopRequest(), "on")
    poses = [n for n, event in enumerate(events) if event == "pose"]
    assert len(poses) >= 3
    # when the k-th pose step (from 0) starts, frames 0..k were detected, none further ahead
    assert all(events[:at].count("detect") == k + 1 for k, at in enumerate(poses)), events


def test_pipelined_images_give_the_same_json(resnet18_3d_checkpoint, ssdlite_weights, tmp_path):
    """A folder of images in batches through the detection stage and without it: the same JSON."""
    folder = tmp_path / "images"
    folder.mkdir()
    rng = np.random.default_rng(5)
    for k in range(5):
        cv2.imwrite(str(folder / f"p{k}.png"), random_scene(rng, 160, 120)["image"])
    common = ["--demo", str(folder), "--load_model", resnet18_3d_checkpoint, *SMALL, "--detector", "ssdlite"]
    common += ["--detector_weights", ssdlite_weights, "--batch_size", "2"]
    for setting in ("on", "off"):
        assert run_demo([*common, "--out_dir", str(tmp_path / setting), "--pipeline", setting]).done == 5
    for k in range(5):
        assert (tmp_path / "on" / f"p{k}.json").read_bytes() == (tmp_path / "off" / f"p{k}.json").read_bytes()
    assert json.loads((tmp_path / "on" / "p0.json").read_text())["people"]
    assert not stage_threads()


def test_the_source_is_closed_when_the_setting_is_refused(clip, estimator):
    source = VideoFile(str(clip))
    closed = []
    source.close = lambda: closed.append(True)
    with pytest.raises(ValueError, match="auto, on or off"):
        runner.run(source, tracked(estimator, source, None), [Recorder()], runner.StopRequest(), "yes")
    assert closed == [True]


def test_auto_counts_the_cores_this_process_may_use(monkeypatch):
    """A 2-core container (or taskset) on a 32-core host: two cores, so auto stays sequential."""
    monkeypatch.setattr(pipeline.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(pipeline.os, "cpu_count", lambda: 32)
    assert pipeline.usable_cores() == 2 and not pipeline.wanted("auto", "cpu")
