"""demo.py end to end: a folder of odd images, a video, bad input, and agreement with the model."""
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from conftest import HEADS_3D, SRC_DIR
from hg3d.checkpoint import load_weights, save_checkpoint
from hg3d.demo import run_demo
from hg3d.errors import UserError
from hg3d.evaluation import decode_2d, flip_merge
from hg3d.geometry import crop_and_normalize, transform_preds
from hg3d.joints import MPII_FLIP_PERM
from hg3d.model import create_model
from hg3d.synthetic import random_scene

SMALL = ["--arch", "msra_18", "--input_h", "128", "--input_w", "128", "--gpus", "-1"]


def demo_py(*args):
    return subprocess.run([sys.executable, "demo.py", *args], cwd=SRC_DIR, capture_output=True,
                          text=True, timeout=300)


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
def folder_run(inputs, resnet18_3d_checkpoint, tmp_path_factory):
    folder, _ = inputs
    out = tmp_path_factory.mktemp("demo_out")
    proc = demo_py("--demo", str(folder), "--load_model", resnet18_3d_checkpoint, "--out_dir", str(out),
                   "--batch_size", "3", *SMALL)
    return proc, out


def test_folder_outputs(folder_run):
    proc, out = folder_run
    assert proc.returncode == 0, proc.stderr
    assert "skipping" in proc.stdout and "e_corrupt.jpg" in proc.stdout
    assert "done: 4 pose set(s)" in proc.stdout and "notes" not in proc.stdout
    for stem in ("a_normal", "b_gray", "c_rgba", "d_16bit"):
        for suffix in ("_2d.png", "_3d.png"):
            picture = cv2.imread(str(out / f"{stem}{suffix}"))
            assert picture is not None and picture.std() > 0, stem + suffix
        record = json.loads((out / f"{stem}.json").read_text())
        assert len(record["joint_names"]) == 16
        for key in ("joints_2d", "confidence", "joints_3d_mm"):
            values = np.array(record[key], float)
            assert values.shape[0] == 16 and np.isfinite(values).all(), key
        assert np.allclose(record["joints_3d_mm"][6], 0)  # root-relative at the pelvis
    assert not list(out.glob(".tmp-*"))


def test_json_matches_an_in_process_forward_pass(folder_run, inputs, resnet18_3d_checkpoint):
    _, out = folder_run
    folder, _ = inputs
    record = json.loads((out / "a_normal.json").read_text())
    image = cv2.imread(str(folder / "a_normal.jpg"))
    h, w = image.shape[:2]
    center, size = np.array([w / 2, h / 2], np.float32), max(h, w)
    model = create_model("msra_18", {"hm": 16, "depth": 16})
    load_weights(model, resnet18_3d_checkpoint, log=lambda _: None)
    model.eval()
    x = torch.from_numpy(crop_and_normalize(image, center, (size, size), 0, 128, 128))[None]
    with torch.no_grad():
        hm = model(x)[0]["hm"]
        hm_flip = model(x.flip(-1))[0]["hm"].flip(-1)[:, torch.as_tensor(MPII_FLIP_PERM)]
    merged = (hm + hm_flip) / 2
    expected = transform_preds(decode_2d(merged)[0].numpy(), center, (size, size), (32, 32))
    np.testing.assert_allclose(record["joints_2d"], expected, atol=0.01)
    np.testing.assert_allclose(record["confidence"], merged.flatten(2).amax(-1)[0].numpy(), atol=1e-4)
    assert torch.allclose(flip_merge(hm, model(x.flip(-1))[0]["hm"].detach()), merged)


def test_video(inputs, resnet18_3d_checkpoint, tmp_path):
    _, video = inputs
    run_demo(["--demo", str(video), "--load_model", resnet18_3d_checkpoint, "--out_dir", str(tmp_path),
              "--batch_size", "3", *SMALL])
    capture = cv2.VideoCapture(str(tmp_path / "clip_2d.mp4"))
    frames = 0
    while capture.read()[0]:
        frames += 1
    assert frames == 4
    record = json.loads((tmp_path / "clip.json").read_text())
    assert [f["frame"] for f in record["frames"]] == [0, 1, 2, 3]
    assert all(len(f["joints_2d"]) == 16 for f in record["frames"])
    assert cv2.imread(str(tmp_path / "clip_00003_3d.png")) is not None


def test_bbox_crops_the_person(inputs, resnet18_3d_checkpoint, tmp_path):
    folder, _ = inputs
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({"a_normal.jpg": [40, 30, 100, 150]}))
    run_demo(["--demo", str(folder / "a_normal.jpg"), "--bboxes", str(boxes), "--load_model",
              resnet18_3d_checkpoint, "--out_dir", str(tmp_path), *SMALL])
    box = json.loads((tmp_path / "a_normal.json").read_text())["box"]
    assert box["center"] == [90.0, 105.0] and box["size"] == [187.5, 187.5]  # 150 x 1.25, square


def assert_one_line(proc, needle):
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert len(lines) == 1 and needle in lines[0], proc.stderr


def test_bad_input(inputs, resnet18_3d_checkpoint, tmp_path):
    folder, _ = inputs
    ckpt = ["--load_model", resnet18_3d_checkpoint, "--out_dir", str(tmp_path)]
    assert_one_line(demo_py("--demo", str(tmp_path / "nope.jpg"), *ckpt, *SMALL), "does not exist")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_one_line(demo_py("--demo", str(empty), *ckpt, *SMALL), "no images")
    assert_one_line(demo_py("--demo", str(folder / "e_corrupt.jpg"), *ckpt, *SMALL), "e_corrupt.jpg cannot be read")
    assert_one_line(demo_py("--demo", str(folder), "--bbox", "1,2,-3,4", *ckpt, *SMALL), "--bbox")
    wrong_arch = [a if a != "msra_18" else "msra_34" for a in SMALL]
    assert_one_line(demo_py("--demo", str(folder), *ckpt, *wrong_arch), "it fits --arch msra_18")
    assert_one_line(demo_py("--demo", str(folder), "--load_model", str(tmp_path / "none.pth"), *SMALL),
                    "does not exist")
    broken = tmp_path / "broken.pth"
    broken.write_bytes(b"junk")
    assert_one_line(demo_py("--demo", str(folder), "--load_model", str(broken), *SMALL), "cannot read checkpoint")
    assert not os.path.exists(tmp_path / "a_normal.json")


def test_same_stem_inputs_keep_their_outputs(inputs, resnet18_3d_checkpoint, tmp_path):
    """a.jpg and a.png in one folder: both output sets are written (a_jpg, a_png)."""
    folder = tmp_path / "in"
    folder.mkdir()
    image = cv2.imread(str(inputs[0] / "a_normal.jpg"))
    cv2.imwrite(str(folder / "a.jpg"), image)
    cv2.imwrite(str(folder / "a.png"), image[:, ::-1])
    out = tmp_path / "out"
    assert run_demo(["--demo", str(folder), "--load_model", resnet18_3d_checkpoint,
                     "--out_dir", str(out), *SMALL]) == 2
    assert sorted(p.name for p in out.glob("*.json")) == ["a_jpg.json", "a_png.json"]
    left = json.loads((out / "a_jpg.json").read_text())["joints_2d"]
    right = json.loads((out / "a_png.json").read_text())["joints_2d"]
    assert left != right


def test_box_outside_the_image(inputs, resnet18_3d_checkpoint, tmp_path, capsys):
    """A box that misses the image: one line for a single input; skipped in a folder."""
    folder, video = inputs
    ckpt = ["--load_model", resnet18_3d_checkpoint, "--out_dir", str(tmp_path / "out")]
    assert_one_line(demo_py("--demo", str(folder / "a_normal.jpg"), "--bbox", "900,900,20,20",
                            *ckpt, *SMALL), "lies outside the 240x200 image")
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({"a_normal.jpg": [-500, 10, 100, 100]}))
    assert run_demo(["--demo", str(folder), "--bboxes", str(boxes), *ckpt, *SMALL]) == 3
    assert "skipping" in capsys.readouterr().out
    assert not (tmp_path / "out" / "a_normal.json").exists()
    with pytest.raises(UserError, match="could be processed"):
        run_demo(["--demo", str(video), "--bbox", "900,900,20,20", *ckpt, *SMALL])


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
    run_demo(["--demo", str(inputs[0] / "a_normal.jpg"), "--load_model", ckpt,
              "--out_dir", str(out), *SMALL])
    record = json.loads((out / "a_normal.json").read_text(),
                        parse_constant=lambda c: pytest.fail(f"{c} in the JSON"))
    assert record["joints_3d_mm"] is None and record["joints_3d_h36m_mm"] is None
    assert np.isfinite(record["joints_2d"]).all()
    assert (out / "a_normal_2d.png").exists() and not (out / "a_normal_3d.png").exists()
