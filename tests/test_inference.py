"""hg3d.inference: the predictor and API apart from the trainer (crops, flip test, decoding)."""

import subprocess
import sys

import numpy as np
import pytest
import torch

from helpers import FIXTURE_DATA, SRC_DIR, TINY_CPU
from hg3d.errors import UserError
from hg3d.geometry import crop_and_normalize
from hg3d.inference import Estimator, crop_box, decode_people, predict_dataset
from hg3d.joints import MPII_FLIP_PERM
from hg3d.options import parse_opts
from hg3d.skeleton import bone_length_sum, to_h36m_order
from hg3d.tools.synthetic import random_scene
from hg3d.trainer import Trainer


@pytest.fixture(scope="module")
def estimator(resnet18_3d_checkpoint):
    return Estimator.from_checkpoint(resnet18_3d_checkpoint, arch="msra_18", input_w=128, input_h=128)


@pytest.fixture(scope="module")
def scene():
    return random_scene(np.random.default_rng(3), 200, 160)


def test_perfect_maps_decode_to_the_pose():
    """Heatmaps peaked at known joints and depth maps holding their depth give back the joints:
    2D in image px through the crop, 3D in mm (bones summing to 4000 mm)."""
    rng = np.random.default_rng(0)
    peaks = rng.integers(4, 60, (16, 2))  # heatmap px (64 x 64)
    depth = rng.uniform(-0.3, 0.3, 16)  # crop units: x / 64
    hm = torch.zeros(1, 16, 64, 64)
    hm[0, np.arange(16), peaks[:, 1], peaks[:, 0]] = 1
    depth_maps = torch.from_numpy(np.broadcast_to(depth[:, None, None], (16, 64, 64)).copy()).float()[None]
    # a 256 px crop centred on (128, 128): heatmap px u is image px 4 u
    person = decode_people({"hm": hm, "depth": depth_maps}, [np.array([128.0, 128.0])], [(256.0, 256.0)])[0]
    np.testing.assert_allclose(person["joints_2d"], peaks * 4, atol=1e-6)
    np.testing.assert_allclose(person["confidence"], 1)
    pose = np.concatenate([peaks / 64, depth[:, None]], 1)
    pose = pose - pose[6]
    expected = to_h36m_order(pose) * 4000 / bone_length_sum(to_h36m_order(pose))
    np.testing.assert_allclose(person["joints_3d_h36m_mm"], expected, atol=1e-3)
    np.testing.assert_allclose(bone_length_sum(person["joints_3d_h36m_mm"]), 4000, rtol=1e-5)


def test_predict_matches_a_hand_made_flip_test(estimator, scene):
    image = scene["image"]
    box = [30.0, 20.0, 90.0, 120.0]
    person = estimator.predict(image, [box])[0]
    center, size = crop_box(image.shape, box, 128, 128)
    np.testing.assert_allclose(center, [75, 80]) and np.testing.assert_allclose(size, [150, 150])
    x = torch.from_numpy(crop_and_normalize(image, center, size, 0, 128, 128))[None]
    model = estimator.model
    with torch.no_grad():
        hm = model(x)[-1]["hm"]
        hm_flip = model(x.flip(-1))[-1]["hm"].flip(-1)[:, torch.as_tensor(MPII_FLIP_PERM)]
    merged = ((hm + hm_flip) / 2)[0]
    np.testing.assert_allclose(person["confidence"], merged.flatten(1).amax(-1).numpy(), atol=1e-5)
    peak = merged.flatten(1).argmax(-1).numpy()
    heat_xy = np.stack([peak % 32, peak // 32], 1)
    np.testing.assert_allclose(person["joints_2d"], center + (heat_xy - 16) * size / 32, atol=1e-3)
    np.testing.assert_array_equal(person["box"], box)
    assert person["joints_3d_mm"].shape == (16, 3) and person["joints_3d_h36m_mm"].shape == (17, 3)


def test_several_boxes_give_the_single_box_results(estimator, scene):
    image = scene["image"]
    boxes = [[30.0, 20.0, 90.0, 120.0], [100.0, 10.0, 60.0, 140.0], None]
    together = estimator.predict(image, [b for b in boxes if b]) + estimator.predict(image)
    alone = [estimator.predict(image, [b] if b else None)[0] for b in boxes]
    assert len(together) == 3
    for a, b in zip(together, alone):
        for key in ("joints_2d", "confidence", "joints_3d_mm", "box"):
            np.testing.assert_allclose(a[key], b[key], atol=1e-3, err_msg=key)
    assert not np.allclose(together[0]["joints_2d"], together[1]["joints_2d"])
    other = random_scene(np.random.default_rng(4), 200, 160)["image"]
    batch = estimator.predict_batch([other, image], [[boxes[0]], [boxes[1]]])
    for got, expected in ((batch[0][0], estimator.predict(other, [boxes[0]])[0]), (batch[1][0], alone[1])):
        np.testing.assert_allclose(got["joints_2d"], expected["joints_2d"], atol=1e-3)
    whole = estimator.predict(image)[0]
    np.testing.assert_allclose(whole["crop_center"], [100, 80])
    assert estimator.predict_batch([image, image], [[], None])[0] == []


def fake_batches(rng, count=2, size=2):
    """Batches shaped like a dataset's items (128 x 128 inputs, 32 x 32 maps)."""
    return [
        {
            "input": torch.from_numpy(rng.normal(0, 1, (size, 3, 128, 128)).astype(np.float32)),
            "center": torch.from_numpy(rng.uniform(50, 150, (size, 2)).astype(np.float32)),
            "scale": torch.from_numpy(np.full((size, 2), 120.0)),
            "index": torch.arange(b * size, (b + 1) * size),
            "pts_crop": torch.from_numpy(rng.integers(1, 31, (size, 16, 2)).astype(np.int32)),
        }
        for b in range(count)
    ]


def test_trainer_predicts_through_the_shared_predictor(resnet18_3d_checkpoint, estimator):
    """Validation (``Trainer.predict``) and the demo's forward give the same flip-tested
    predictions; the loss hook sees the plain (un-flipped) maps."""
    opt = parse_opts(
        ["--arch", "msra_18", "--task", "human3d", "--gpus", "-1", "--input_h", "128", "--input_w", "128"],
        log=lambda _: None,
    )
    batches = fake_batches(np.random.default_rng(0))
    by_trainer = Trainer(opt, estimator.model).predict(batches, "val")
    plain_maps = []
    by_estimator = predict_dataset(estimator.forward, batches, "cpu", on_plain=lambda maps, _: plain_maps.append(maps))
    for key in ("index", "pred_2d", "pred_3d", "maxval", "pck_dist"):
        np.testing.assert_allclose(by_trainer[key], by_estimator[key], atol=1e-4, err_msg=key)
    assert by_trainer["pred_2d"].shape == (4, 16, 2) and by_trainer["pred_3d"].shape == (4, 16, 3)
    with torch.no_grad():
        plain = estimator.forward(batches[1]["input"])
    for key in ("hm", "depth"):
        assert torch.allclose(plain_maps[1][key], plain[key], atol=1e-5)
    opt.flip_test = False
    unflipped = Trainer(opt, estimator.model).predict(batches, "val")
    np.testing.assert_allclose(unflipped["maxval"][2:], plain["hm"].flatten(2).amax(-1).numpy(), atol=1e-5)
    assert not np.allclose(unflipped["maxval"], by_trainer["maxval"])


@pytest.mark.e2e
def test_test_does_not_import_the_trainer(resnet18_3d_checkpoint, tmp_path):
    """``--test`` predicts through ``hg3d.inference``: neither the trainer nor the losses load."""
    code = (
        "import sys; from hg3d.train import run; run(sys.argv[1:]); "
        "print('loaded:', sorted(m for m in ('hg3d.trainer', 'hg3d.losses') if m in sys.modules))"
    )
    args = ["--task", "human3d", "--dataset", "h36m", "--test", "--load_model", resnet18_3d_checkpoint]
    args += ["--data_dir", FIXTURE_DATA, "--exp_dir", str(tmp_path), *TINY_CPU]
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=SRC_DIR,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "loaded: []" in proc.stdout and "MPJPE" in proc.stdout


def test_from_checkpoint_errors(resnet18_3d_checkpoint, tmp_path):
    with pytest.raises(UserError, match="fits --arch msra_18"):
        Estimator.from_checkpoint(resnet18_3d_checkpoint, arch="msra_34")
    with pytest.raises(UserError, match="does not exist"):
        Estimator.from_checkpoint(str(tmp_path / "none.pth"), arch="msra_18")
    with pytest.raises(UserError, match="not one of"):
        Estimator.from_checkpoint(resnet18_3d_checkpoint, arch="resnet18")
