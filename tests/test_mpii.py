import numpy as np

from helpers import FIXTURE_DATA, golden
from hg3d.datasets import get_dataset
from hg3d.options import parse_opts


def test_valid_items_match_golden():
    expected = np.load(golden("mpii_valid_items.npz"))
    opt = parse_opts(["--data_dir", FIXTURE_DATA, "--gpus", "-1"], log=lambda _: None)
    dataset = get_dataset(opt, "val")
    for i in range(4):
        item = dataset[i]
        np.testing.assert_allclose(item["input"], expected["input"][i], rtol=0, atol=1e-4)
        np.testing.assert_array_equal(item["target"], expected["target"][i])
        np.testing.assert_array_equal(item["pts_crop"], expected["pts_crop"][i])
        np.testing.assert_array_equal(item["center"], expected["center"][i])
        np.testing.assert_allclose(item["scale"], expected["scale"][i], rtol=1e-12)
        assert item["reg_mask"].sum() == 0  # 2D-only sample


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
