"""demo.py end to end on generated images and a video, with a random-weight ResNet-18 checkpoint:
every output file, agreement with a forward pass done here, and the bad-input cases."""
import contextlib
import io
import json
import os
import runpy
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from conftest import HEADS_3D, REPO_DIR, SRC_DIR
from hg3d.checkpoint import load_weights, save_checkpoint
from hg3d.demo import collect_inputs, run_demo
from hg3d.evaluation import bone_length_sum, decode_2d, decode_3d, flip_merge, mpii_to_h36m
from hg3d.geometry import crop_and_normalize, transform_preds
from hg3d.model import create_model
from hg3d.run import cli
from hg3d.synthetic import random_scene

SMALL = ["--arch", "msra_18", "--input_h", "128", "--input_w", "128", "--gpus", "-1"]
NUM_FRAMES = 3


def scene(seed, width=160, height=120):
    return random_scene(np.random.default_rng(seed), width, height)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """A folder with a normal, grayscale, RGBA, 16-bit and corrupt image, a text file, a video,
    a broken video, and an image in a subfolder (only taken with --recursive)."""
    folder = tmp_path_factory.mktemp("demo_in")
    normal = scene(1)["image"]
    cv2.imwrite(str(folder / "a_normal.png"), normal)
    cv2.imwrite(str(folder / "b_gray.jpg"), cv2.cvtColor(scene(2)["image"], cv2.COLOR_BGR2GRAY))
    rgba = np.dstack([scene(3)["image"], np.full((120, 160), 255, np.uint8)])
    cv2.imwrite(str(folder / "c_rgba.png"), rgba)
    cv2.imwrite(str(folder / "d_16bit.png"), scene(4)["image"].astype(np.uint16) * 257)
    (folder / "e_corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not a jpeg")
    (folder / "notes.txt").write_text("not an image")
    (folder / "g_broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 truncated")
    writer = cv2.VideoWriter(str(folder / "f_clip.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10,
                             (160, 120))
    assert writer.isOpened(), "OpenCV cannot write mp4v here"
    for i in range(NUM_FRAMES):
        writer.write(scene(10 + i)["image"])
    writer.release()
    (folder / "sub").mkdir()
    cv2.imwrite(str(folder / "sub" / "g_nested.png"), scene(5)["image"])
    return folder


@pytest.fixture(scope="module")
def demo_run(inputs, resnet18_3d_checkpoint, tmp_path_factory):
    """One demo run over the folder (batch 2, so batches mix images), shared by the checks."""
    out = tmp_path_factory.mktemp("demo_out")
    argv = ["--demo", str(inputs), "--load_model", resnet18_3d_checkpoint, "--out_dir", str(out),
            "--batch_size", "2", *SMALL]
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        summary = run_demo(argv)
    return {"out": out, "summary": summary, "lines": stdout.getvalue().splitlines()}


IMAGES = ("a_normal", "b_gray", "c_rgba", "d_16bit")


def forward(checkpoint, image, flip=True):
    """The whole-image prediction, computed here from the library's pieces."""
    model = create_model("msra_18", HEADS_3D)
    load_weights(model, checkpoint, log=lambda *_: None)
    model.eval()
    h, w = image.shape[:2]
    center, size = np.array([w / 2, h / 2]), np.array([max(h, w)] * 2, np.float64)
    x = torch.from_numpy(crop_and_normalize(image, center, size, 0, 128, 128))[None]
    with torch.no_grad():
        out = model(x)[-1]
        if flip:
            flipped = model(x.flip(-1))[-1]
            out = {k: flip_merge(out[k], flipped[k]) for k in out}
    hm = out["hm"]
    joints_2d = transform_preds(decode_2d(hm)[0].numpy(), center, size, (32, 32))
    crop_3d = decode_3d(hm, out["depth"]).numpy()
    return joints_2d, hm.flatten(2).amax(-1)[0].numpy(), mpii_to_h36m(crop_3d)[0]


def test_summary_and_skips(demo_run, inputs):
    summary = demo_run["summary"]
    assert summary["images"] == len(IMAGES)
    assert summary["videos"] == 1 and summary["frames"] == NUM_FRAMES
    assert len(summary["skipped"]) == 2
    assert "e_corrupt.jpg" in summary["skipped"][0] and "cannot be decoded" in summary["skipped"][0]
    assert "g_broken.mp4" in summary["skipped"][1]
    lines = demo_run["lines"]
    assert any("notes.txt" in line for line in lines)  # the non-image file is noted
    assert sum("->" in line for line in lines) == len(IMAGES) + 1  # one line per output set
    assert lines[-1].startswith("demo: 4 image(s) and 1 video(s) (3 frames) done, 2 skipped")
    assert not (demo_run["out"] / "sub").exists()  # no --recursive


@pytest.mark.parametrize("name", IMAGES)
def test_image_outputs(demo_run, name, resnet18_3d_checkpoint):
    out = demo_run["out"]
    overlay = cv2.imread(str(out / f"{name}_2d.png"), cv2.IMREAD_UNCHANGED)
    assert overlay is not None and overlay.shape == (120, 160, 3) and overlay.dtype == np.uint8
    plot = cv2.imread(str(out / f"{name}_3d.png"), cv2.IMREAD_UNCHANGED)
    assert plot is not None and plot.ndim == 3 and plot.shape[2] == 3 and plot.std() > 5
    record = json.loads((out / f"{name}.json").read_text())
    assert len(record["joint_names"]) == 16 and record["joint_names"][6] == "pelvis"
    joints_2d = np.array(record["joints_2d"])
    confidence = np.array(record["confidence"])
    joints_3d = np.array(record["joints_3d_mm"])
    assert joints_2d.shape == (16, 2) and np.isfinite(joints_2d).all()
    assert confidence.shape == (16,) and np.isfinite(confidence).all()
    assert joints_3d.shape == (17, 3) and np.isfinite(joints_3d).all()
    assert len(record["joint_names_3d"]) == 17
    np.testing.assert_allclose(joints_3d[0], 0, atol=1e-6)  # root-relative
    assert bone_length_sum(joints_3d) == pytest.approx(4000, rel=1e-3)
    assert record["box_xywh"] == [0, 0, 160, 120]
    assert record["crop"] == {"center": [80, 60], "size": [160, 160]}
    assert os.path.samefile(record["checkpoint"], resnet18_3d_checkpoint)
    assert record["flip_test"] is True and record["task"] == "human3d"


def test_outputs_match_forward_pass(demo_run, inputs, resnet18_3d_checkpoint):
    """The batched demo gives what one forward pass of the same crop gives (normal image, and
    the grayscale one seen as 3 equal channels)."""
    gray = cv2.imread(str(inputs / "b_gray.jpg"), cv2.IMREAD_GRAYSCALE)
    cases = {"a_normal": cv2.imread(str(inputs / "a_normal.png")),
             "b_gray": cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)}
    for name, image in cases.items():
        record = json.loads((demo_run["out"] / f"{name}.json").read_text())
        joints_2d, confidence, joints_3d = forward(resnet18_3d_checkpoint, image)
        np.testing.assert_allclose(record["joints_2d"], joints_2d, atol=0.01)
        np.testing.assert_allclose(record["confidence"], confidence, atol=1e-4)
        np.testing.assert_allclose(record["joints_3d_mm"], joints_3d, atol=0.05)


def test_rgba_and_16bit_are_read_as_8bit_bgr(demo_run, inputs, resnet18_3d_checkpoint):
    """Alpha is dropped and 16 bits become 8: the same pose as the plain 8-bit picture."""
    for name, seed in (("c_rgba", 3), ("d_16bit", 4)):
        record = json.loads((demo_run["out"] / f"{name}.json").read_text())
        joints_2d, _, _ = forward(resnet18_3d_checkpoint, scene(seed)["image"])
        np.testing.assert_allclose(record["joints_2d"], joints_2d, atol=0.01)


def test_video_outputs(demo_run):
    out = demo_run["out"]
    capture = cv2.VideoCapture(str(out / "f_clip_2d.mp4"))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    assert len(frames) == NUM_FRAMES and frames[0].shape == (120, 160, 3)
    record = json.loads((out / "f_clip.json").read_text())
    assert record["num_frames"] == NUM_FRAMES and record["frame_size"] == [160, 120]
    assert record["fps"] == pytest.approx(10)
    assert [f["frame"] for f in record["frames"]] == list(range(NUM_FRAMES))
    for frame in record["frames"]:
        assert np.isfinite(frame["joints_2d"]).all() and np.shape(frame["joints_2d"]) == (16, 2)
        assert np.shape(frame["joints_3d_mm"]) == (17, 3)
        assert np.isfinite(frame["joints_3d_mm"]).all()
    for i in range(NUM_FRAMES):
        for kind in ("2d", "3d"):
            assert cv2.imread(str(out / "f_clip_frames" / f"{i:06d}_{kind}.png")) is not None


def test_collect_inputs(tmp_path):
    for name in ("b.png", "a.jpg", "a.png", "clip.avi", "readme.md"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.png").write_bytes(b"")
    sources, others = collect_inputs(str(tmp_path))
    assert [s.name for s in sources] == ["a_jpg", "a_png", "b", "clip"]
    assert [s.is_video for s in sources] == [False, False, False, True]
    assert others == ["readme.md"]
    sources, _ = collect_inputs(str(tmp_path), recursive=True)
    assert [s.key for s in sources][-1] == "sub/c.png"
    assert sources[-1].name == os.path.join("sub", "c")


def run_cli(argv, capsys):
    code = cli(run_demo, argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_boxes_and_2d_checkpoint(inputs, tmp_path, capsys, monkeypatch):
    """--bboxes crops the person as the datasets do; a 2D checkpoint gives 2D outputs only;
    --show without a display (or GUI support) says so and writes the files."""
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    torch.manual_seed(1)
    ckpt = str(tmp_path / "m2d.pth")
    save_checkpoint(ckpt, create_model("msra_18", {"hm": 16}), 3)
    folder = tmp_path / "one"
    folder.mkdir()
    cv2.imwrite(str(folder / "p.png"), scene(1)["image"])
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({"p.png": [40, 10, 50, 100]}))
    out = tmp_path / "out"
    code, stdout, err = run_cli(["--demo", str(folder), "--bboxes", str(boxes), "--task",
                                 "human2d", "--load_model", ckpt, "--out_dir", str(out), "--show",
                                 *SMALL], capsys)
    assert code == 0, err
    assert "notice: --show" in stdout
    record = json.loads((out / "p.json").read_text())
    assert record["box_xywh"] == [40, 10, 50, 100]
    assert record["crop"] == {"center": [65, 60], "size": [125, 125]}  # square, 1.25 margin
    assert "joints_3d_mm" not in record and record["task"] == "human2d"
    assert (out / "p_2d.png").exists() and not (out / "p_3d.png").exists()


@pytest.mark.parametrize("case, expected", [
    ("missing_path", "does not exist"),
    ("empty_folder", "no image or video files"),
    ("only_corrupt", "no input could be processed"),
    ("missing_ckpt", "models/README.md"),
    ("corrupt_ckpt", "cannot read checkpoint"),
    ("wrong_arch", "it fits --arch msra_18 --task human3d"),
    ("bbox_3_numbers", "--bbox must be 4 numbers"),
    ("bbox_negative", "width and height must be > 0"),
    ("bbox_outside", "lies outside the 160x120 image"),
    ("bboxes_bad_json", "is not a readable JSON file"),
    ("bbox_and_bboxes", "give either --bbox"),
    ("no_demo_flag", "--demo"),
])
def test_bad_input(case, expected, inputs, resnet18_3d_checkpoint, tmp_path, capsys):
    good = str(inputs / "a_normal.png")
    corrupt_ckpt = tmp_path / "bad.pth"
    corrupt_ckpt.write_bytes(b"garbage")
    bad_json = tmp_path / "b.json"
    bad_json.write_text("{not json")
    (tmp_path / "empty").mkdir()
    (tmp_path / "corrupt_only").mkdir()
    (tmp_path / "corrupt_only" / "x.png").write_bytes(b"\x89PNG broken")
    argv = {
        "missing_path": ["--demo", str(tmp_path / "nope.jpg")],
        "empty_folder": ["--demo", str(tmp_path / "empty")],
        "only_corrupt": ["--demo", str(tmp_path / "corrupt_only")],
        "missing_ckpt": ["--demo", good, "--load_model", str(tmp_path / "none.pth")],
        "corrupt_ckpt": ["--demo", good, "--load_model", str(corrupt_ckpt)],
        "wrong_arch": ["--demo", good, "--arch", "msra_34"],
        "bbox_3_numbers": ["--demo", good, "--bbox", "1,2,3"],
        "bbox_negative": ["--demo", good, "--bbox", "1,2,-3,4"],
        "bbox_outside": ["--demo", good, "--bbox", "500,500,20,20"],
        "bboxes_bad_json": ["--demo", good, "--bboxes", str(bad_json)],
        "bbox_and_bboxes": ["--demo", good, "--bbox", "1,2,3,4", "--bboxes", str(bad_json)],
        "no_demo_flag": [],
    }[case]
    small = SMALL if case != "wrong_arch" else SMALL[2:]
    argv = argv + ["--load_model", resnet18_3d_checkpoint] * ("--load_model" not in argv) + small
    code, stdout, err = run_cli(argv + ["--out_dir", str(tmp_path / "out")], capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert lines[-1].startswith("error: ") and expected in lines[-1], err
    assert "Traceback" not in err
    if case == "only_corrupt":
        assert "x.png" in lines[-1]
    if case in ("missing_ckpt", "corrupt_ckpt", "wrong_arch"):
        assert ".pth" in lines[-1]


def test_default_checkpoint_missing(inputs, tmp_path, capsys):
    default = os.path.join(REPO_DIR, "models", "fusion_3d_var.pth")
    if os.path.exists(default):
        pytest.skip("models/fusion_3d_var.pth is present")
    code, _, err = run_cli(["--demo", str(inputs / "a_normal.png"), "--gpus", "-1",
                            "--out_dir", str(tmp_path)], capsys)
    assert code == 2 and "fusion_3d_var.pth does not exist" in err and "models/README.md" in err


def test_entry_point_one_line_error(tmp_path):
    result = subprocess.run([sys.executable, "demo.py", "--demo", str(tmp_path / "missing")],
                            cwd=SRC_DIR, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "does not exist" in result.stderr


def test_make_demo_images(tmp_path):
    script = runpy.run_path(os.path.join(REPO_DIR, "scripts", "make_demo_images.py"))
    script["main"](["--out", str(tmp_path), "--count", "2"])
    boxes = json.loads((tmp_path / "bboxes.json").read_text())
    assert sorted(boxes) == ["person_1.jpg", "person_2.jpg"]
    for name, box in boxes.items():
        image = cv2.imread(str(tmp_path / name))
        assert image is not None and image.shape[2] == 3 and image.std() > 10
        x, y, w, h = box
        assert w > 0 and h > 0 and x < image.shape[1] and y < image.shape[0]
