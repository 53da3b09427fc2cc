import os
import pickle
import shutil

import numpy as np
import pytest

from figures import assert_every_figure_has_its_protocol
from helpers import FIXTURE_DATA, golden, mirror_partner
from hg3d.datasets import get_dataset
from hg3d.errors import UserError
from hg3d.joints import H36M_JOINTS, MPII_JOINTS
from hg3d.options import parse_opts


def h36m_opts(data_dir, *extra):
    return parse_opts(
        ["--task", "human3d", "--dataset", "fusion_3d", "--data_dir", str(data_dir), "--gpus", "-1", *extra],
        log=lambda _: None,
    )


def test_val_items_match_golden():
    expected = np.load(golden("h36m_val_items.npz"))
    dataset = get_dataset(h36m_opts(FIXTURE_DATA, "--full_test"), "val")
    for i in range(4):
        item = dataset[i]
        np.testing.assert_allclose(item["input"], expected["input"][i], rtol=0, atol=1e-4)
        for key in ("target", "reg_target", "reg_ind", "reg_mask", "gt_3d", "pts_crop"):
            np.testing.assert_array_equal(item[key], expected[key][i], err_msg=key)


def test_val_uses_every_tenth_sample_unless_full_test():
    assert len(get_dataset(h36m_opts(FIXTURE_DATA), "val")) == 2  # 20 samples, every 10th
    full = get_dataset(h36m_opts(FIXTURE_DATA, "--full_test"), "val")
    assert len(full) == 20 and list(full.indices) == list(range(20))


def test_train_flip_mirrors_3d_labels(monkeypatch):
    opt = h36m_opts(FIXTURE_DATA, "--flip", "1", "--scale", "0")
    dataset = get_dataset(opt, "train").datasets_3d[0]
    flipped = dataset[0]
    monkeypatch.setattr(opt, "flip", 0.0)
    plain = dataset[0]
    # gt_3d: x negated and left/right swapped (r_ankle 3 <-> l_ankle 6)
    np.testing.assert_allclose(flipped["gt_3d"][6], plain["gt_3d"][3] * [-1, 1, 1], atol=1e-4)
    # the image is mirrored: the input equals the mirrored plain input (up to interpolation)
    assert np.abs(flipped["input"] - plain["input"][:, :, ::-1]).mean() < 0.05


def test_train_flip_swaps_joints_and_3d_by_name(monkeypatch):
    """On an asymmetric person the mirrored item's joint j is the plain item's mirror partner of j
    (by name, not by the flip table): heatmap cell x -> W - 1 - x, same depth target, 3D x negated."""
    opt = h36m_opts(FIXTURE_DATA, "--flip", "1", "--scale", "0", "--input_h", "128", "--input_w", "96")
    dataset = get_dataset(opt, "train").datasets_3d[0]
    flipped = dataset[0]
    monkeypatch.setattr(opt, "flip", 0.0)
    plain = dataset[0]
    assert plain["reg_mask"].all() and flipped["reg_mask"].all()
    mpii = [mirror_partner(MPII_JOINTS, j) for j in range(len(MPII_JOINTS))]
    h36m = [mirror_partner(H36M_JOINTS, j) for j in range(len(H36M_JOINTS))]
    paired = np.array(mpii) != np.arange(len(mpii))
    assert np.all(plain["reg_target"][mpii][paired] != plain["reg_target"][paired])  # asymmetric
    np.testing.assert_array_equal(flipped["reg_target"], plain["reg_target"][mpii])
    # the cell (x, y) of a mirrored joint is (W - 1 - x, y), up to float rounding at truncation
    np.testing.assert_allclose(flipped["pts_crop"][:, 0], opt.output_w - 1 - plain["pts_crop"][mpii, 0], atol=1)
    np.testing.assert_allclose(flipped["pts_crop"][:, 1], plain["pts_crop"][mpii, 1], atol=1)
    np.testing.assert_allclose(flipped["gt_3d"], plain["gt_3d"][h36m] * [-1, 1, 1], atol=1e-4)


@pytest.fixture
def h36m_copy(tmp_path):
    shutil.copytree(os.path.join(FIXTURE_DATA, "h36m"), tmp_path / "h36m")
    return tmp_path


def test_missing_layout_names_expected_path(tmp_path):
    with pytest.raises(UserError, match=r"expected .*h36m/ECCV18_Challenge/Val/IMG"):
        get_dataset(h36m_opts(tmp_path), "val")


def test_missing_image_is_named(h36m_copy):
    os.remove(h36m_copy / "h36m/ECCV18_Challenge/Val/IMG/00011.jpg")
    dataset = get_dataset(h36m_opts(h36m_copy), "val")
    with pytest.raises(UserError, match=r"00011.jpg \(Human3.6M val sample 10\) is missing"):
        dataset[1]


def test_cache_without_required_fields(h36m_copy):
    cache = (
        h36m_copy / "h36m/msra_cache/HM36_eccv_challenge_Val_cache/"
        "HM36_eccv_challenge_Val_w288xh384_keypoint_jnt_bbox_db.pkl"
    )
    entries = pickle.loads(cache.read_bytes())
    del entries[3]["joints_3d"]
    cache.write_bytes(pickle.dumps(entries))
    with pytest.raises(UserError, match="entry 3 lacks joints_3d"):
        get_dataset(h36m_opts(h36m_copy), "val")


def test_per_action_table_in_the_literature_order(tmp_path, capsys):
    """Per-action figures and their printed table follow the papers' order (WalkTogether after
    Walking, Photo after Phoning), not the alphabet; an unknown action name comes last."""
    from hg3d.metrics import score
    from hg3d.metrics.h36m import format_per_action
    from hg3d.tools.sample_data import write_h36m

    write_h36m(str(tmp_path / "h36m"), np.random.default_rng(0), 1, 10, size=96)
    dataset = get_dataset(h36m_opts(tmp_path, "--full_test"), "val")
    actions = ["WalkTogether", "Walking", "Photo", "Phoning", "Zumba", "WalkDog", "SittingDown", "Sitting", "Eating"]
    actions.append("Walking")
    for i, entry in enumerate(dataset.annotations):
        entry.update(subject=9, action=actions[i], camera=1, frame=i)
    n = len(dataset)
    rng = np.random.default_rng(1)
    result = {
        "index": np.arange(n),
        "pred_2d": np.zeros((n, 16, 2)),
        "pck_dist": np.zeros((n, 10)),
        "pred_3d": rng.normal(0, 0.3, (n, 16, 3)),
    }
    summary, arrays = score(dataset, result)
    order = ["Eating", "Phoning", "Photo", "Sitting", "SittingDown", "WalkDog", "Walking", "WalkTogether", "Zumba"]
    assert list(summary["per_action"]) == order
    table = format_per_action(summary).splitlines()
    assert [line.split()[0] for line in table[1:-1]] == order
    assert table[0].split() == ["action", "mpjpe", "n_mpjpe", "pa_mpjpe", "samples"]  # results.json's names
    assert summary["per_action"]["Walking"]["num_samples"] == 2
    for name in ("mpjpe", "n_mpjpe", "pa_mpjpe"):  # each action pools its samples; the mean is over actions
        walking = arrays[name][[i for i, a in enumerate(actions) if a == "Walking"]].mean()
        assert summary["per_action"]["Walking"][name] == pytest.approx(walking, rel=1e-6)
        means = [v[name] for v in summary["per_action"].values()]
        assert summary[f"{name}_action_mean"] == pytest.approx(np.mean(means), rel=1e-9)
    assert_every_figure_has_its_protocol(summary)


def test_n_mpjpe_scales_each_prediction_by_least_squares_onto_its_ground_truth():
    """N-MPJPE (Rhodin et al. 2018) by the closed form: s = sum(p . g) / sum(p . p) minimises
    sum |s p - g|^2 over s (its derivative 2 sum p . (s p - g) vanishes there)."""
    from hg3d.metrics.h36m import score_3d
    from hg3d.skeleton import mpii_to_h36m

    rng = np.random.default_rng(3)
    pred = rng.normal(0, 0.3, (6, 16, 3))
    gt = rng.normal(0, 300, (6, 17, 3))
    gt -= gt[:, :1]
    gt[4] = 0  # a sample without a 3D label: not scored
    gt[5] = 1.7 * mpii_to_h36m(pred[5:])[0]  # the prediction's shape at another size
    summary, arrays = score_3d(pred, gt)
    p = mpii_to_h36m(pred)  # the prediction in mm (4000 mm rule), as MPJPE sees it
    s = np.einsum("njc,njc->n", p, gt) / np.einsum("njc,njc->n", p, p)
    expected = np.linalg.norm(s[:, None, None] * p - gt, axis=-1).mean(-1)
    labelled = [0, 1, 2, 3, 5]
    np.testing.assert_allclose(arrays["n_mpjpe"][labelled], expected[labelled], rtol=1e-5, atol=1e-6)
    assert np.isnan(arrays["n_mpjpe"][4]) and summary["n_mpjpe"] == pytest.approx(expected[labelled].mean())
    assert arrays["n_mpjpe"][5] < 1e-3 < arrays["mpjpe"][5]  # the size is fitted away, not the shape
