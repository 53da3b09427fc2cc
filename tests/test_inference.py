"""hg3d.inference: the predictor and API apart from the trainer (crops, flip test, decoding)."""

import numpy as np
import pytest
import torch

from hg3d.errors import UserError
from hg3d.evaluation import bone_length_sum, to_h36m_order
from hg3d.geometry import crop_and_normalize
from hg3d.inference import Estimator, crop_box, decode_people, flip_test_forward
from hg3d.joints import MPII_FLIP_PERM
from hg3d.options import parse_opts
from hg3d.synthetic import random_scene
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


def test_trainer_infer_is_the_shared_flip_test(resnet18_3d_checkpoint, estimator):
    opt = parse_opts(
        ["--arch", "msra_18", "--task", "human3d", "--gpus", "-1", "--input_h", "128", "--input_w", "128"],
        log=lambda _: None,
    )
    trainer = Trainer(opt, estimator.model)
    x = torch.randn(2, 3, 128, 128)
    plain, merged = trainer.infer(x)
    plain2, merged2 = flip_test_forward(estimator.forward, x)
    for key in ("hm", "depth"):
        assert torch.allclose(merged[key], merged2[key], atol=1e-5)
        assert torch.allclose(plain[key], plain2[key], atol=1e-5)
        assert not torch.allclose(plain[key], merged[key])
    opt.flip_test = False
    plain3, merged3 = trainer.infer(x)
    assert torch.equal(plain3["hm"], merged3["hm"]) and torch.allclose(plain3["hm"], plain["hm"], atol=1e-5)


def test_from_checkpoint_errors(resnet18_3d_checkpoint, tmp_path):
    with pytest.raises(UserError, match="fits --arch msra_18"):
        Estimator.from_checkpoint(resnet18_3d_checkpoint, arch="msra_34")
    with pytest.raises(UserError, match="does not exist"):
        Estimator.from_checkpoint(str(tmp_path / "none.pth"), arch="msra_18")
    with pytest.raises(UserError, match="not one of"):
        Estimator.from_checkpoint(resnet18_3d_checkpoint, arch="resnet18")
