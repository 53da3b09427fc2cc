import numpy as np

from conftest import FIXTURE_DATA, golden
from hg3d.datasets import get_dataset
from hg3d.opts import parse_opts


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
