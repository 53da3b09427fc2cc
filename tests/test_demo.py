"""demo.py end to end: images, folders, videos; detector, several people, tracking, smoothing;
bad input. The detector is torchvision's with random weights, loaded from a file (no download)."""

import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from helpers import HEADS_3D, SRC_DIR
from hg3d import commands
from hg3d.checkpoint import save_checkpoint
from hg3d.demo import run_demo, video_writer
from hg3d.demo.detection import PersonDetector, resolve_weights, weights_url
from hg3d.demo.smoothing import SMOOTH_2D, SMOOTH_3D
from hg3d.errors import UserError
from hg3d.inference import Estimator
from hg3d.model import create_model
from hg3d.skeleton import bone_length_sum, to_h36m_order
from hg3d.tools.synthetic import random_scene
from hg3d.visualize import SCENE_PANELS

SMALL = ["--arch", "msra_18", "--input_h", "128", "--input_w", "128", "--gpus", "-1"]
NO_DET = [*SMALL, "--detector", "none"]


def demo_py(*args):
    return subprocess.run([sys.executable, "demo.py", *args], cwd=SRC_DIR, capture_output=True, text=True, timeout=300)


def read(path):
    return json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(f"{c} in the JSON"))


def iter_frames(path):
    capture = cv2.VideoCapture(str(path))
    while True:
        ok, frame = capture.read()
        if not ok:
            return
        yield frame


def count_frames(path):
    """(number of frames, (height, width) of the last) of a video."""
    frames = list(iter_frames(path))
    return len(frames), frames[-1].shape[:2] if frames else None


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo_in")
    rng = np.random.default_rng(7)
    person = random_scene(rng, 240, 200)["image"]
    cv2.imwrite(str(folder / "a_normal.jpg"), person)
    cv2.imwrite(str(folder / "b_gray.png"), cv2.cvtColor(random_scene(rng, 180, 220)["image"], cv2.COLOR_BGR2GRAY))
    rgba = cv2.cvtColor(random_scene(rng, 200, 200)["image"], cv2.COLOR_BGR2BGRA)
    cv2.imwrite(str(folder / "c_rgba.png"), rgba)
    cv2.imwrite(str(folder / "d_16bit.png"), random_scene(rng, 160, 160)["image"].astype(np.uint16) * 257)
    (folder / "e_corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not a jpeg")
    (folder / "notes.txt").write_text("not an image")
    video = tmp_path_factory.mktemp("video") / "clip.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 10, (160, 128))
    for _ in range(4):
        writer.write(random_scene(rng, 160, 128)["image"])
    writer.release()
    return folder, video


@pytest.fixture(scope="module")
def two_people(tmp_path_factory):
    """Two generated people side by side in one picture, with their boxes."""
    rng = np.random.default_rng(11)
    left, right = random_scene(rng, 160, 200), random_scene(rng, 160, 200)
    path = tmp_path_factory.mktemp("two") / "two.png"
    cv2.imwrite(str(path), np.concatenate([left["image"], right["image"]], 1))
    boxes = [[round(float(v), 1) for v in left["box"]], [round(float(v), 1) for v in right["box"] + [160, 0, 0, 0]]]
    return path, boxes


@pytest.fixture(scope="module")
def folder_run(inputs, resnet18_3d_checkpoint, tmp_path_factory):
    folder, _ = inputs
    out = tmp_path_factory.mktemp("demo_out")
    proc = demo_py(
        "--demo",
        str(folder),
        "--load_model",
        resnet18_3d_checkpoint,
        "--out_dir",
        str(out),
        "--batch_size",
        "3",
        *NO_DET,
    )
    return proc, out


@pytest.mark.e2e
def test_folder_outputs(folder_run):
    proc, out = folder_run
    assert proc.returncode == 0, proc.stderr
    assert "skipping" in proc.stdout and "e_corrupt.jpg" in proc.stdout
    assert "done: 4 pose set(s)" in proc.stdout and "notes" not in proc.stdout
    for stem in ("a_normal", "b_gray", "c_rgba", "d_16bit"):
        for suffix in ("_2d.png", "_3d.png"):
            picture = cv2.imread(str(out / f"{stem}{suffix}"))
            assert picture is not None and picture.std() > 0, stem + suffix
        record = read(out / f"{stem}.json")
        assert record["format_version"] == 2 and record["detector"] == "none"
        assert len(record["joint_names"]) == 16 and len(record["joint_names_h36m"]) == 17
        assert record["num_people"] == 1 and len(record["people"]) == 1
        person = record["people"][0]
        assert person["box_source"] == "whole image" and person["track_id"] is None
        for key in ("joints_2d", "confidence", "joints_3d_mm"):
            values = np.array(person[key], float)
            assert values.shape[0] == 16 and np.isfinite(values).all(), key
        assert np.allclose(person["joints_3d_mm"][6], 0)  # root-relative at the pelvis
        assert bone_length_sum(np.array(person["joints_3d_h36m_mm"])) == pytest.approx(4000, abs=1)
    assert not list(out.glob(".tmp-*"))


@pytest.mark.e2e
def test_json_holds_the_api_numbers(folder_run, inputs, resnet18_3d_checkpoint):
    """Estimator.predict (the Python API) gives the JSON's numbers."""
    _, out = folder_run
    person = read(out / "a_normal.json")["people"][0]
    estimator = Estimator.from_checkpoint(resnet18_3d_checkpoint, arch="msra_18", input_w=128, input_h=128)
    expected = estimator.predict(cv2.imread(str(inputs[0] / "a_normal.jpg")))[0]
    for key in ("box", "joints_2d", "confidence", "joints_3d_mm", "joints_3d_h36m_mm"):
        np.testing.assert_allclose(person[key], expected[key], atol=0.01, err_msg=key)
    np.testing.assert_allclose(person["crop"]["center"], expected["crop_center"])


def test_several_boxes_give_each_person_its_single_box_joints(two_people, resnet18_3d_checkpoint, tmp_path):
    path, boxes = two_people
    ckpt = ["--load_model", resnet18_3d_checkpoint, *SMALL]
    spec = tmp_path / "boxes.json"
    spec.write_text(json.dumps({"two.png": boxes}))
    run_demo(["--demo", str(path), "--bboxes", str(spec), "--out_dir", str(tmp_path / "both"), *ckpt])
    both = read(tmp_path / "both" / "two.json")
    assert both["detector"] == "given boxes" and both["num_people"] == 2
    bbox_flag = ";".join(",".join(str(v) for v in b) for b in boxes)
    run_demo(["--demo", str(path), "--bbox", bbox_flag, "--out_dir", str(tmp_path / "flag"), *ckpt])
    assert read(tmp_path / "flag" / "two.json")["people"] == both["people"]
    for index, box in enumerate(boxes):
        out = tmp_path / f"single{index}"
        run_demo(["--demo", str(path), "--bbox", ",".join(map(str, box)), "--out_dir", str(out), *ckpt])
        alone = read(out / "two.json")["people"][0]
        person = both["people"][index]
        assert person["index"] == index and person["box"] == box and person["box_source"] == "given"
        for key in ("joints_2d", "confidence", "joints_3d_mm", "crop"):
            assert person[key] == alone[key], key
    assert both["people"][0]["joints_2d"] != both["people"][1]["joints_2d"]
    three_d = cv2.imread(str(tmp_path / "both" / "two_3d.png"))
    assert three_d.shape[1] == (SCENE_PANELS + 2) * three_d.shape[0]  # the scene views, a panel per person


def test_bbox_crops_the_person(inputs, resnet18_3d_checkpoint, tmp_path):
    folder, _ = inputs
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({"a_normal.jpg": [40, 30, 100, 150]}))  # the old one-box format
    run_demo(
        [
            "--demo",
            str(folder / "a_normal.jpg"),
            "--bboxes",
            str(boxes),
            "--load_model",
            resnet18_3d_checkpoint,
            "--out_dir",
            str(tmp_path),
            *SMALL,
        ]
    )
    crop = read(tmp_path / "a_normal.json")["people"][0]["crop"]
    assert crop["center"] == [90.0, 105.0] and crop["size"] == [187.5, 187.5]  # 150 x 1.25, square


def test_detector_on_images(two_people, inputs, resnet18_3d_checkpoint, detector_weights, tmp_path):
    """A random-weight detector loaded from its state-dict file: the JSON holds its people
    (boxes and scores, at most --max_people, none lower than --min_box)."""
    path, _ = two_people
    folder = tmp_path / "in"
    folder.mkdir()
    cv2.imwrite(str(folder / "two.png"), cv2.imread(str(path)))
    cv2.imwrite(str(folder / "one.jpg"), cv2.imread(str(inputs[0] / "a_normal.jpg")))
    flags = [
        "--load_model",
        resnet18_3d_checkpoint,
        "--detector_weights",
        detector_weights,
        "--det_thresh",
        "0",
        "--max_people",
        "3",
        "--min_box",
        "40",
        *SMALL,
    ]
    run_demo(["--demo", str(folder), "--out_dir", str(tmp_path / "out"), *flags])
    name, state = resolve_weights("auto", detector_weights)
    detector = PersonDetector(name, state, threshold=0.0, max_people=3, min_height=40)
    for stem in ("two", "one"):
        record = read(tmp_path / "out" / f"{stem}.json")
        boxes, scores = detector([cv2.imread(str(next(folder.glob(stem + ".*"))))])[0]
        assert record["detector"] == "fasterrcnn_mobile"
        assert 1 <= record["num_people"] == len(boxes) <= 3
        np.testing.assert_allclose([p["box"] for p in record["people"]], boxes, atol=0.01)
        np.testing.assert_allclose([p["score"] for p in record["people"]], scores, atol=1e-4)
        assert all(p["box"][3] >= 40 and p["box_source"] == "detector" for p in record["people"])
        assert [p["index"] for p in record["people"]] == list(range(len(boxes)))
    nobody = tmp_path / "nobody"
    run_demo(["--demo", str(folder / "one.jpg"), "--out_dir", str(nobody), *flags, "--det_thresh", "1"])
    record = read(nobody / "one.json")
    assert record["people"] == [] and record["note"] == "no person found"
    assert cv2.imread(str(nobody / "one_2d.png")) is not None and not (nobody / "one_3d.png").exists()


def test_video_with_detector_tracks_and_det_every(inputs, resnet18_3d_checkpoint, detector_weights, tmp_path):
    _, video = inputs
    demo = run_demo(
        [
            "--demo",
            str(video),
            "--load_model",
            resnet18_3d_checkpoint,
            "--out_dir",
            str(tmp_path),
            "--detector_weights",
            detector_weights,
            "--det_thresh",
            "0",
            "--max_people",
            "2",
            "--det_every",
            "2",
            *SMALL,
        ]
    )
    record = read(tmp_path / "clip.json")
    assert record["format_version"] == 2 and record["fps"] == 10 and record["num_frames"] == 4
    assert [f["frame"] for f in record["frames"]] == [0, 1, 2, 3]
    sources = [{p["box_source"] for p in f["people"]} for f in record["frames"]]
    assert sources[0] == sources[2] == {"detector"} and sources[1] == sources[3] == {"previous pose"}
    for frame in record["frames"]:
        assert 1 <= frame["num_people"] <= 2
        ids = [p["track_id"] for p in frame["people"]]
        assert len(set(ids)) == len(ids) and all(isinstance(i, int) for i in ids)
    assert record["frames"][1]["num_people"] == record["frames"][0]["num_people"]
    assert {t["track_id"] for t in record["tracks"]} == {p["track_id"] for f in record["frames"] for p in f["people"]}
    assert count_frames(tmp_path / "clip_2d.mp4") == (4, (128, 160))
    frames_3d, size_3d = count_frames(tmp_path / "clip_3d.mp4")
    assert frames_3d == 4 and size_3d[1] == (SCENE_PANELS + 2) * size_3d[0]  # the scene, a panel for each of 2
    assert not list(tmp_path.glob("*.png"))  # per-frame pictures only with --save_frames
    tracked = demo.tracked[str(video)]
    assert tracked.fps == 10 and set(tracked.arrays()) == {t["track_id"] for t in record["tracks"]}


@pytest.mark.parametrize("left", [10000, 140])
def test_det_every_poses_beyond_the_image(
    inputs, resnet18_3d_checkpoint, detector_weights, tmp_path, monkeypatch, left
):
    """Poses decoded beyond the right edge of the 160 px frame (each person's joints moved to start
    at x = ``left``): the boxes carried to the next frame are cut to the image (140), and a person
    whose box has nothing left inside (10000) is looked for again by the detector in that frame;
    the video is processed to its end either way."""
    _, video = inputs
    predict_batch = Estimator.predict_batch

    def beyond(self, images, boxes, intrinsics=None):
        people = predict_batch(self, images, boxes, intrinsics)
        for person in (p for persons in people for p in persons):
            person["joints_2d"] = person["joints_2d"] + [left - person["joints_2d"][:, 0].min(), 0]
        return people

    monkeypatch.setattr(Estimator, "predict_batch", beyond)
    flags = ["--detector_weights", detector_weights, "--det_thresh", "0", "--max_people", "2", "--det_every", "2"]
    run_demo(["--demo", str(video), "--load_model", resnet18_3d_checkpoint, "--out_dir", str(tmp_path), *SMALL, *flags])
    frames = read(tmp_path / "clip.json")["frames"]
    assert len(frames) == 4 and all(f["num_people"] >= 1 for f in frames)
    sources = [{p["box_source"] for p in f["people"]} for f in frames]
    if left > 160:
        assert sources == [{"detector"}] * 4
    else:
        assert sources == [{"detector"}, {"previous pose"}] * 2
        for person in frames[1]["people"] + frames[3]["people"]:
            x, y, w, h = person["box"]
            assert x < 140 and x + w == pytest.approx(160, abs=0.01) and y >= 0 and y + h <= 128.01


def test_video_writer_that_cannot_open_stops_before_any_frame(
    inputs, resnet18_3d_checkpoint, tmp_path, monkeypatch, capsys
):
    """An H.264 encoder that refuses its settings: one line naming the file and the codec, before
    the network has seen a frame; no JSON and no temporary file are left."""
    _, video = inputs
    monkeypatch.setattr(video_writer, "H264_OPTIONS", {"preset": "no_such_preset"})
    predicted = []
    predict_batch = Estimator.predict_batch
    monkeypatch.setattr(Estimator, "predict_batch", lambda *a: predicted.append(1) or predict_batch(*a))
    argv = ["--demo", str(video), "--load_model", resnet18_3d_checkpoint, "--out_dir", str(tmp_path), *NO_DET]
    assert commands.demo(argv) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and f"cannot open {tmp_path / 'clip_2d.mp4'} for an H.264 (libx264) video" in lines[0], lines
    assert predicted == [] and not list(tmp_path.iterdir())


class RetimedCapture:
    """A cv2.VideoCapture whose container frame rate and frame timestamps (ms) are the test's."""

    def __init__(self, capture, fps, stamps_ms):
        self.capture, self.fps, self.stamps, self.index = capture, fps, stamps_ms, -1

    def read(self):
        ok, frame = self.capture.read()
        self.index += ok
        return ok, frame

    def get(self, prop):
        if prop == cv2.CAP_PROP_FPS:
            return self.fps
        return self.stamps[self.index] if prop == cv2.CAP_PROP_POS_MSEC else self.capture.get(prop)

    def __getattr__(self, name):
        return getattr(self.capture, name)


@pytest.mark.parametrize(
    ("container_fps", "stamps_ms", "fps", "fps_source", "times"),
    [
        (0.0, [0, 100, 200, 300], 10, "frame timestamps", [0, 0.1, 0.2, 0.3]),
        (float("nan"), [40, 140, 240, 340], 10, "frame timestamps", [0, 0.1, 0.2, 0.3]),
        (90000.0, [0, 100, 200, 300], 10, "frame timestamps", [0, 0.1, 0.2, 0.3]),
        (10.0, [0, 100, 150, 400], 10, "container", [0, 0.1, 0.15, 0.4]),  # variable frame rate
        (float("nan"), [0, 0, 0, 0], 25, "assumed", [0, 0.04, 0.08, 0.12]),  # no usable timestamps
    ],
)
def test_video_time_base(
    inputs, resnet18_3d_checkpoint, tmp_path, monkeypatch, container_fps, stamps_ms, fps, fps_source, times
):
    """A container frame rate of 0, NaN or 90000 gives way to the frames' timestamps, which also time
    a variable-frame-rate video: time_s, the smoothing (recomputed by hand on the network's raw
    joints with those times) and the BVH frame time follow them, and the JSON says which was used."""
    from test_smoothing import one_euro_by_hand

    _, video = inputs
    real_capture = cv2.VideoCapture
    monkeypatch.setattr(cv2, "VideoCapture", lambda path: RetimedCapture(real_capture(path), container_fps, stamps_ms))
    box = [20, 10, 100, 110]
    run_video_with_boxes(video, [box], resnet18_3d_checkpoint, tmp_path, "--smooth", "--bvh", "--bvh_min_frames", "2")
    record = read(tmp_path / "clip.json")
    time_base = "frame timestamps" if stamps_ms[1] > stamps_ms[0] else "frame index / fps"
    assert (record["fps"], record["fps_source"], record["time_base"]) == (fps, fps_source, time_base)
    assert [f["time_s"] for f in record["frames"]] == pytest.approx(times)
    assert f"Frame Time: {1 / fps:.8f}" in (tmp_path / "clip_track1.bvh").read_text()
    monkeypatch.undo()
    estimator = Estimator.from_checkpoint(resnet18_3d_checkpoint, arch="msra_18", input_w=128, input_h=128)
    raw = np.array([estimator.predict(frame, [box])[0]["joints_2d"] for frame in iter_frames(video)])
    smoothed = [f["people"][0]["joints_2d"] for f in record["frames"]]
    for joint, axis in np.ndindex(raw.shape[1:]):
        expected = one_euro_by_hand(raw[:, joint, axis].tolist(), times, **SMOOTH_2D)[0]
        np.testing.assert_allclose([s[joint][axis] for s in smoothed], expected, atol=0.006)


def test_truncated_video_says_how_many_frames_it_read(resnet18_3d_checkpoint, tmp_path, capsys):
    """An AVI cut in half: the frames that decode are processed, and the JSON and the summary say
    how many of the announced frames were read."""
    rng = np.random.default_rng(3)
    clip = write_clip(tmp_path / "whole.avi", [random_scene(rng, 96, 80)["image"] for _ in range(30)], 10)
    data = clip.read_bytes()
    (tmp_path / "cut.avi").write_bytes(data[: len(data) // 2])
    out = tmp_path / "out"
    run_demo(
        ["--demo", str(tmp_path / "cut.avi"), "--load_model", resnet18_3d_checkpoint, "--out_dir", str(out), *NO_DET]
    )
    record = read(out / "cut.json")
    assert record["frames_expected"] == 30 and 5 < record["frames_read"] == record["num_frames"] < 25
    assert f"decoding stopped after {record['frames_read']} of the 30 frames" in capsys.readouterr().out
    run_demo(["--demo", str(clip), "--load_model", resnet18_3d_checkpoint, "--out_dir", str(out), *NO_DET])
    record = read(out / "whole.json")
    assert record["frames_expected"] == record["frames_read"] == 30
    assert "decoding stopped" not in capsys.readouterr().out


def test_video_whole_image_smoothing_and_save_frames(inputs, resnet18_3d_checkpoint, tmp_path):
    _, video = inputs
    runs = {}
    for name, extra in (("raw", []), ("smooth", ["--smooth", "--save_frames"])):
        runs[name] = run_demo(
            [
                "--demo",
                str(video),
                "--load_model",
                resnet18_3d_checkpoint,
                "--out_dir",
                str(tmp_path / name),
                *NO_DET,
                *extra,
            ]
        )
    raw, smooth = (read(tmp_path / n / "clip.json") for n in ("raw", "smooth"))
    assert raw["smooth"] is None and smooth["smooth"]["2d_px"]["min_cutoff"] == 1.0
    assert [t["track_id"] for t in smooth["tracks"]] == [1] and smooth["tracks"][0]["num_frames"] == 4
    first_raw, first_smooth = raw["frames"][0]["people"][0], smooth["frames"][0]["people"][0]
    assert first_raw["joints_2d"] == first_smooth["joints_2d"]  # the filter starts at the first value
    last_raw, last_smooth = raw["frames"][3]["people"][0], smooth["frames"][3]["people"][0]
    assert last_raw["joints_2d"] != last_smooth["joints_2d"]
    assert last_raw["joints_3d_mm"] != last_smooth["joints_3d_mm"]
    frames, poses, _ = runs["smooth"].tracked[str(video)].arrays()[1]
    assert frames.tolist() == [0, 1, 2, 3] and poses.shape == (4, 17, 3)
    np.testing.assert_allclose(poses[3], last_smooth["joints_3d_h36m_mm"], atol=0.01)  # smoothed 3D kept
    for index in range(4):
        for kind in ("2d", "3d"):
            assert cv2.imread(str(tmp_path / "smooth" / f"clip_{index:05d}_{kind}.png")) is not None


def write_clip(path, frames, fps, codec="MJPG"):
    """A video of ``frames`` (BGR, one size) at ``fps``; MJPG by default: each frame is coded alone,
    so the same frames decode the same at any frame rate."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), fps, frames[0].shape[1::-1])
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def test_video_smoothing_is_the_filter_in_seconds_and_h36m_follows(resnet18_3d_checkpoint, tmp_path):
    """--smooth at 10 and at 25 fps: every smoothed coordinate (2D px, 3D mm) equals the One-Euro
    filter computed by hand on the network's raw output with dt = 1 / fps, and the H36M-17 joints
    are the smoothed MPII-16 ones reordered (not the raw ones)."""
    from test_smoothing import one_euro_by_hand

    rng = np.random.default_rng(5)
    frames = [random_scene(rng, 160, 128)["image"] for _ in range(5)]
    estimator = Estimator.from_checkpoint(resnet18_3d_checkpoint, arch="msra_18", input_w=128, input_h=128)
    for fps in (10, 25):
        clip = write_clip(tmp_path / f"clip{fps}.avi", frames, fps)
        run_demo(
            [
                "--demo",
                str(clip),
                "--load_model",
                resnet18_3d_checkpoint,
                "--out_dir",
                str(tmp_path),
                *NO_DET,
                "--smooth",
            ]
        )
        record = read(tmp_path / f"clip{fps}.json")
        times = [i / fps for i in range(len(frames))]
        assert [f["time_s"] for f in record["frames"]] == pytest.approx(times, abs=1e-4)
        decoded = list(iter_frames(clip))
        raw = [estimator.predict(frame)[0] for frame in decoded]
        people = [f["people"][0] for f in record["frames"]]
        for key, settings in (("joints_2d", SMOOTH_2D), ("joints_3d_mm", SMOOTH_3D)):
            series = np.array([person[key] for person in raw])  # (T, 16, D)
            expected = np.zeros_like(series)
            for joint, axis in np.ndindex(series.shape[1:]):
                expected[:, joint, axis] = one_euro_by_hand(series[:, joint, axis].tolist(), times, **settings)[0]
            np.testing.assert_allclose([p[key] for p in people], expected, atol=0.006, err_msg=f"{key} at {fps} fps")
            assert not np.allclose(expected[-1], series[-1], atol=0.05), key  # the filter changed it
        np.testing.assert_allclose(
            [p["joints_3d_h36m_mm"] for p in people],
            [to_h36m_order(np.array(p["joints_3d_mm"])) for p in people],
            atol=0.02,
        )


def run_video_with_boxes(video, per_frame, checkpoint, out_dir, *extra):
    """The demo on ``video`` with one list of boxes per frame (--bboxes), outputs in ``out_dir``."""
    spec = out_dir / "boxes.json"
    spec.write_text(json.dumps({video.name: per_frame}))
    argv = ["--demo", str(video), "--bboxes", str(spec), "--load_model", checkpoint, "--out_dir", str(out_dir)]
    return run_demo([*argv, *SMALL, *extra])


def test_video_boxes_per_frame(inputs, resnet18_3d_checkpoint, tmp_path):
    _, video = inputs
    per_frame = [[[10, 10, 60, 100], [90, 10, 60, 100]], [[12, 10, 60, 100]], [], [[88, 12, 60, 100]]]
    run_video_with_boxes(video, per_frame, resnet18_3d_checkpoint, tmp_path)
    record = read(tmp_path / "clip.json")
    assert [f["num_people"] for f in record["frames"]] == [2, 1, 0, 1]
    ids = [[p["track_id"] for p in f["people"]] for f in record["frames"]]
    assert ids == [[1, 2], [1], [], [2]]  # the right person was missed one frame, then found again
    assert record["frames"][2]["note"] == "no person found"


def test_auto_detector_without_weights_falls_back(inputs, resnet18_3d_checkpoint, tmp_path, capsys):
    run_demo(
        [
            "--demo",
            str(inputs[0] / "a_normal.jpg"),
            "--load_model",
            resnet18_3d_checkpoint,
            "--out_dir",
            str(tmp_path),
            *SMALL,
        ]
    )
    out = capsys.readouterr().out
    assert out.count("notice: no person detector") == 1 and weights_url("ssdlite") in out
    record = read(tmp_path / "a_normal.json")
    assert record["detector"] == "none" and record["people"][0]["box_source"] == "whole image"


def test_chosen_detector_without_weights_is_a_one_line_error(inputs, resnet18_3d_checkpoint, tmp_path, capsys):
    argv = [
        "--demo",
        str(inputs[0] / "a_normal.jpg"),
        "--load_model",
        resnet18_3d_checkpoint,
        "--out_dir",
        str(tmp_path),
        *SMALL,
        "--detector",
        "fasterrcnn_mobile",
    ]
    assert commands.demo(argv) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and weights_url("fasterrcnn_mobile") in lines[0] and "--detector_weights" in lines[0]
    assert not (tmp_path / "a_normal.json").exists()


def assert_one_line(proc, needle):
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert len(lines) == 1 and needle in lines[0], proc.stderr


@pytest.mark.e2e
def test_bad_input(inputs, resnet18_3d_checkpoint, tmp_path):
    folder, _ = inputs
    ckpt = ["--load_model", resnet18_3d_checkpoint, "--out_dir", str(tmp_path)]
    assert_one_line(demo_py("--demo", str(tmp_path / "nope.jpg"), *ckpt, *NO_DET), "does not exist")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_one_line(demo_py("--demo", str(empty), *ckpt, *NO_DET), "no images")
    assert_one_line(demo_py("--demo", str(folder / "e_corrupt.jpg"), *ckpt, *NO_DET), "e_corrupt.jpg cannot be read")
    assert_one_line(demo_py("--demo", str(folder), "--bbox", "1,2,-3,4", *ckpt, *NO_DET), "--bbox")
    assert_one_line(demo_py("--demo", str(folder), "--det_every", "0", *ckpt, *NO_DET), "--det_every")
    assert_one_line(demo_py("--demo", str(folder), "--detector", "yolo", *ckpt, *NO_DET), "--detector")
    assert_one_line(
        demo_py("--demo", str(folder), "--detector_weights", str(tmp_path / "no.pth"), *ckpt, *SMALL),
        "--detector_weights",
    )
    wrong_arch = [a if a != "msra_18" else "msra_34" for a in NO_DET]
    assert_one_line(demo_py("--demo", str(folder), *ckpt, *wrong_arch), "it fits --arch msra_18")
    assert_one_line(
        demo_py("--demo", str(folder), "--load_model", str(tmp_path / "none.pth"), *NO_DET), "does not exist"
    )
    broken = tmp_path / "broken.pth"
    broken.write_bytes(b"junk")
    assert_one_line(demo_py("--demo", str(folder), "--load_model", str(broken), *NO_DET), "cannot read checkpoint")
    assert not os.path.exists(tmp_path / "a_normal.json")


def test_same_stem_inputs_keep_their_outputs(inputs, resnet18_3d_checkpoint, tmp_path):
    """a.jpg and a.png in one folder: both output sets are written (a_jpg, a_png)."""
    folder = tmp_path / "in"
    folder.mkdir()
    image = cv2.imread(str(inputs[0] / "a_normal.jpg"))
    cv2.imwrite(str(folder / "a.jpg"), image)
    cv2.imwrite(str(folder / "a.png"), image[:, ::-1])
    out = tmp_path / "out"
    assert (
        run_demo(["--demo", str(folder), "--load_model", resnet18_3d_checkpoint, "--out_dir", str(out), *NO_DET]).done
        == 2
    )
    assert sorted(p.name for p in out.glob("*.json")) == ["a_jpg.json", "a_png.json"]
    left = read(out / "a_jpg.json")["people"][0]["joints_2d"]
    right = read(out / "a_png.json")["people"][0]["joints_2d"]
    assert left != right


@pytest.mark.e2e
def test_box_outside_the_image(inputs, resnet18_3d_checkpoint, tmp_path, capsys):
    """A box that misses the image: one line for a single input; skipped in a folder."""
    folder, video = inputs
    ckpt = ["--load_model", resnet18_3d_checkpoint, "--out_dir", str(tmp_path / "out")]
    assert_one_line(
        demo_py("--demo", str(folder / "a_normal.jpg"), "--bbox", "900,900,20,20", *ckpt, *NO_DET),
        "lies outside the 240x200 image",
    )
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({"a_normal.jpg": [-500, 10, 100, 100]}))
    assert run_demo(["--demo", str(folder), "--bboxes", str(boxes), *ckpt, *NO_DET]).done == 3
    assert "skipping" in capsys.readouterr().out
    assert not (tmp_path / "out" / "a_normal.json").exists()
    with pytest.raises(UserError, match="could be processed"):
        run_demo(["--demo", str(video), "--bbox", "900,900,20,20", *ckpt, *NO_DET])


def test_degenerate_3d_gives_null_not_nan(inputs, tmp_path):
    """Flat heatmaps and depth maps put every joint on one point: no bones to scale by, so the
    JSON says null (valid JSON) instead of NaN, and no 3D picture is drawn."""
    torch.manual_seed(0)
    model = create_model("msra_18", HEADS_3D)
    with torch.no_grad():
        for head in (model.hm, model.depth):
            head.weight.zero_()
            head.bias.zero_()
    ckpt = str(tmp_path / "flat.pth")
    save_checkpoint(ckpt, model, 1)
    out = tmp_path / "out"
    run_demo(["--demo", str(inputs[0] / "a_normal.jpg"), "--load_model", ckpt, "--out_dir", str(out), *NO_DET])
    person = read(out / "a_normal.json")["people"][0]
    assert person["joints_3d_mm"] is None and person["joints_3d_h36m_mm"] is None
    assert np.isfinite(person["joints_2d"]).all()
    assert (out / "a_normal_2d.png").exists() and not (out / "a_normal_3d.png").exists()


def test_video_bvh_exports_each_tracked_person(inputs, resnet18_3d_checkpoint, tmp_path, capsys):
    """--bvh: one file per track long enough, whose forward kinematics give the JSON's 3D bones."""
    from hg3d.bvh import seen_frames
    from test_bvh import SINGLE_CHILD_BONES, angles_deg, bones, read_positions, to_bvh_axes

    _, video = inputs
    per_frame = [
        [[10, 10, 60, 100], [90, 10, 60, 100]],
        [[12, 10, 60, 100], [88, 12, 60, 100]],
        [[14, 10, 60, 100]],
        [[16, 12, 60, 100]],
    ]
    run_video_with_boxes(video, per_frame, resnet18_3d_checkpoint, tmp_path, "--bvh", "--bvh_min_frames", "3")
    out = capsys.readouterr().out
    assert "track 2: seen in 2 frame(s), fewer than 3: no BVH written" in out
    assert not (tmp_path / "clip_track2.bvh").exists()
    record = read(tmp_path / "clip.json")
    track = np.array(
        [next(p["joints_3d_h36m_mm"] for p in f["people"] if p["track_id"] == 1) for f in record["frames"]], np.float64
    )
    seen = seen_frames(track)
    assert seen.sum() >= 3
    positions = read_positions(tmp_path / "clip_track1.bvh")
    first = int(np.flatnonzero(seen)[0])
    assert len(positions) == len(track) - first
    error = angles_deg(
        bones(positions)[:, SINGLE_CHILD_BONES], bones(to_bvh_axes(track[first:]))[:, SINGLE_CHILD_BONES]
    )
    assert error[seen[first:]].max() < 0.5
    assert "Frame Time: 0.1" in (tmp_path / "clip_track1.bvh").read_text()  # the clip is 10 fps


def test_any_video_opencv_reads_is_a_video(inputs, resnet18_3d_checkpoint, tmp_path):
    """.m4v and .webm in a folder, and a single file whose extension says nothing (.vid), are read
    as videos when OpenCV opens them as such; a text file beside them is left out."""
    _, video = inputs
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.m4v", "b.webm", "c.vid"):
        (folder / name).write_bytes(video.read_bytes())
    (folder / "notes.txt").write_text("not a video")
    ckpt = ["--load_model", resnet18_3d_checkpoint, *NO_DET]
    assert run_demo(["--demo", str(folder), "--out_dir", str(tmp_path / "folder"), *ckpt]).done == 3 * 4
    assert sorted(p.name for p in (tmp_path / "folder").glob("*.json")) == ["a.json", "b.json", "c.json"]
    run_demo(["--demo", str(folder / "c.vid"), "--out_dir", str(tmp_path / "one"), *ckpt])
    assert read(tmp_path / "one" / "c.json")["num_frames"] == 4


def test_bvh_needs_a_video(inputs, resnet18_3d_checkpoint, tmp_path, capsys):
    argv = [
        "--demo",
        str(inputs[0] / "a_normal.jpg"),
        "--load_model",
        resnet18_3d_checkpoint,
        "--out_dir",
        str(tmp_path),
        *NO_DET,
        "--bvh",
    ]
    assert commands.demo(argv) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and "--bvh" in lines[0] and "no video" in lines[0]
    assert not list(tmp_path.iterdir())
