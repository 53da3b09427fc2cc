import numpy as np
import pytest

from helpers import FIXTURE_DATA, assert_same_image, golden
from hg3d.datasets import get_dataset
from hg3d.train_options import parse_opts


def test_valid_items_match_golden():
    expected = np.load(golden("mpii_valid_items.npz"))
    opt = parse_opts(["--data_dir", FIXTURE_DATA, "--gpus", "-1"], log=lambda _: None)
    dataset = get_dataset(opt, "val")
    for i in range(4):
        item = dataset[i]
        assert_same_image(item["input"], expected["input"][i])
        np.testing.assert_array_equal(item["target"], expected["target"][i])
        np.testing.assert_array_equal(item["pts_crop"], expected["pts_crop"][i])
        np.testing.assert_array_equal(item["center"], expected["center"][i])
        np.testing.assert_allclose(item["scale"], expected["scale"][i], rtol=1e-12)
        assert item["reg_mask"].sum() == 0  # 2D-only sample


def test_golden_image_tolerance_is_one_grey_level_on_a_ten_thousandth_of_the_values():
    from hg3d.geometry import PIXEL_STD

    expected = np.random.default_rng(0).normal(size=(3, 100, 100)).astype(np.float32)
    level = (1 / (256 * PIXEL_STD))[:, None, None]  # one grey level of each channel, normalised
    actual = expected.copy()
    actual.reshape(-1)[:3] += level[0, 0, 0]  # three values (channel 0) one level up: 3 of 30,000 allowed
    assert_same_image(actual, expected)
    actual.reshape(-1)[3:4] += level[0, 0, 0]  # a fourth: more than 0.01 %
    with pytest.raises(AssertionError, match="4 of 30000 values differ"):
        assert_same_image(actual, expected)
    actual = expected.copy()
    actual[2, 0, 0] += 2 * level[2, 0, 0]
    with pytest.raises(AssertionError, match="differs by 2.00 grey levels"):
        assert_same_image(actual, expected)


def test_2d_test_writes_preds_mat_in_image_coordinates(tmp_path, monkeypatch):
    """With an oracle that returns the target heatmaps, preds.mat lands on the annotated joints."""
    import json

    import scipy.io
    import torch

    from hg3d.checkpoint import save_checkpoint
    from hg3d.model import PoseResNet, create_model
    from hg3d.train import run

    ckpt = str(tmp_path / "mpii18.pth")
    save_checkpoint(ckpt, create_model("msra_18", {"hm": 16}), 1)
    opt = parse_opts(["--data_dir", FIXTURE_DATA, "--gpus", "-1"], log=lambda _: None)
    items = [get_dataset(opt, "val")[i] for i in range(12)]
    lookup = [(torch.as_tensor(it["input"]), torch.as_tensor(it["target"])) for it in items]

    def oracle(self, images):
        return [{"hm": torch.stack([next(t for x, t in lookup if torch.equal(x, img)) for img in images])}]

    monkeypatch.setattr(PoseResNet, "forward", oracle)
    run(
        [
            "--exp_id",
            "mpii_test",
            "--test",
            "--no_flip_test",
            "--load_model",
            ckpt,
            "--arch",
            "msra_18",
            "--data_dir",
            FIXTURE_DATA,
            "--exp_dir",
            str(tmp_path),
            "--gpus",
            "-1",
            "--num_workers",
            "0",
        ]
    )

    preds = scipy.io.loadmat(tmp_path / "mpii_test" / "preds.mat")["preds"]
    assert preds.shape == (12, 16, 2)
    annotations = json.load(open(f"{FIXTURE_DATA}/mpii/annot/valid.json"))
    joints = np.array([a["joints"] for a in annotations])
    labelled = (joints > 0).any(-1)
    crop_px = np.array([it["scale"][0] for it in items]) / 64  # one heatmap cell in image pixels
    error = np.linalg.norm(preds - joints, axis=-1)
    assert np.all(error[labelled] <= (1.5 * crop_px[:, None] * np.ones((1, 16)))[labelled])
    results = json.loads((tmp_path / "mpii_test" / "results.json").read_text())
    assert results["pckh"] > 0.9 and results["acc"] == 1.0
    assert results["pckh_normaliser"] == "upper_neck-head_top distance"
