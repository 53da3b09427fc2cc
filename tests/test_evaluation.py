import pickle

import numpy as np
import pytest
import torch

from helpers import H36M_FULL_TEST, TINY_CPU, golden, mirror_partner, run_main
from hg3d.checkpoint import save_checkpoint
from hg3d.decode import decode_2d, decode_3d, flip_merge
from hg3d.joints import H36M_FLIP_PAIRS, H36M_FLIP_PERM, H36M_JOINTS, MPII_FLIP_PAIRS, MPII_FLIP_PERM, MPII_JOINTS
from hg3d.metrics.core import group_means, pck_accuracy, pck_distances, per_sample_mpjpe, procrustes_align
from hg3d.metrics.h36m import h36m_metrics
from hg3d.model import create_model
from hg3d.skeleton import bone_length_sum, degenerate, mpii_to_h36m
from hg3d.tools.sample_data import write_h36m

TOL = {"rtol": 1e-4, "atol": 1e-6}


@pytest.fixture(scope="module")
def g():
    return np.load(golden("eval.npz"))


def test_decode_2d_matches_golden(g):
    np.testing.assert_array_equal(decode_2d(torch.tensor(g["hm"])).numpy(), g["preds"])


def test_decode_3d_matches_golden(g):
    got = decode_3d(torch.tensor(g["hm"]), torch.tensor(g["dm"])).numpy()
    np.testing.assert_allclose(got, g["preds3d"], **TOL)


def test_pck_accuracy_matches_golden(g):
    assert pck_accuracy(pck_distances(torch.tensor(g["hm"]), torch.tensor(g["tgt"]))) == g["acc"]


def test_pck_accuracy_counts_and_skips():
    # joint 0: one hit, one miss; joint 1: unlabelled everywhere (skipped)
    dist = np.array([[0.1, np.nan], [0.9, np.nan]])
    assert pck_accuracy(dist) == 0.5
    assert pck_accuracy(np.full((2, 2), np.nan)) == 0.0


def test_mpjpe_matches_golden(g):
    converted, mpjpe, pa_mpjpe, labelled = h36m_metrics(g["preds3d"], g["gt3d"])
    assert labelled.sum() == g["mpjpe_cnt"] and not labelled[2]
    np.testing.assert_allclose(np.nanmean(mpjpe), g["mpjpe"], **TOL)
    np.testing.assert_allclose(converted[0], g["converted0"], rtol=1e-4, atol=1e-4)
    assert np.all(pa_mpjpe[labelled] <= mpjpe[labelled] + 1e-6)  # alignment never hurts


def test_conversion_rescales_bone_sum():
    pred = np.random.default_rng(0).normal(size=(3, 16, 3))
    converted = mpii_to_h36m(pred)
    np.testing.assert_allclose(bone_length_sum(converted), 4000.0, rtol=1e-6)


def test_procrustes_removes_similarity_transform():
    rng = np.random.default_rng(1)
    gt = rng.normal(size=(4, 17, 3)) * 100
    rotation = np.linalg.qr(rng.normal(size=(3, 3)))[0]
    rotation *= np.sign(np.linalg.det(rotation))
    pred = 0.6 * gt @ rotation.T + [10, -20, 5]
    np.testing.assert_allclose(per_sample_mpjpe(procrustes_align(pred, gt), gt), 0, atol=1e-8)
    mirrored = gt * [-1, 1, 1]  # a reflection is not a rotation: error must remain
    assert per_sample_mpjpe(procrustes_align(mirrored, gt), gt).min() > 1


def test_group_means_pools_samples_per_group():
    values = np.array([1.0, 2.0, 3.0, 10.0])
    groups = np.array(["b", "a", "b", "a"])
    pooled = group_means({"mpjpe": values, "twice": 2 * values}, groups)
    assert list(pooled) == ["a", "b"]
    assert pooled["a"] == {"mpjpe": 6.0, "twice": 12.0, "num_samples": 2}
    assert pooled["b"] == {"mpjpe": 2.0, "twice": 4.0, "num_samples": 2}
    weighted = sum(g["mpjpe"] * g["num_samples"] for g in pooled.values()) / len(values)
    assert weighted == pytest.approx(values.mean())
    assert group_means({"x": np.array([5.0])}, np.array([3]))[3]["x"] == 5.0


def test_degenerate_predictions_count_as_zero_pose_errors():
    """Bones summing to 0 (every joint at one point) or a non-finite pose: no division by zero,
    no LinAlgError, never left out of the mean: scored as the zero pose (every joint at the root)."""
    rng = np.random.default_rng(2)
    gt = rng.normal(size=(3, 17, 3)) * 300
    gt -= gt[:, :1]
    pred = rng.normal(size=(3, 16, 3))
    pred[1] = 0.25  # one point
    pred[2, 4] = np.nan
    with np.errstate(all="raise"):
        converted, mpjpe, pa_mpjpe, labelled = h36m_metrics(pred, gt)
    np.testing.assert_array_equal(degenerate(pred), [False, True, True])
    assert np.all(converted[1:] == 0) and np.isfinite(converted).all()
    zero_pose_error = np.linalg.norm(gt, axis=-1).mean(-1)
    np.testing.assert_allclose(mpjpe[1:], zero_pose_error[1:])
    centroid_error = np.linalg.norm(gt - gt.mean(1, keepdims=True), axis=-1).mean(-1)
    np.testing.assert_allclose(pa_mpjpe[1:], centroid_error[1:])
    assert mpjpe[0] < zero_pose_error[0] * 2 and labelled.all()


@pytest.mark.e2e
def test_degenerate_network_through_main_test(tmp_path):
    """A network whose maps are constant decodes every joint at one cell: ``main.py --test`` writes
    its results, with every sample counted at the zero pose's error."""
    write_h36m(str(tmp_path / "h36m"), np.random.default_rng(0), 1, 3, size=96)
    model = create_model("msra_18", {"hm": 16, "depth": 16})
    for head in (model.hm, model.depth):
        torch.nn.init.zeros_(head.weight)
        torch.nn.init.zeros_(head.bias)
    save_checkpoint(str(tmp_path / "flat.pth"), model, 1)
    proc, results = run_main(
        *H36M_FULL_TEST,
        *TINY_CPU,
        *["--load_model", str(tmp_path / "flat.pth"), "--data_dir", str(tmp_path)],
        exp_dir=tmp_path,
        exp_id="flat",
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert results["num_3d"] == 3 and results["num_degenerate"] == 3
    cache = (
        tmp_path / "h36m/msra_cache/HM36_eccv_challenge_Val_cache/"
        "HM36_eccv_challenge_Val_w288xh384_keypoint_jnt_bbox_db.pkl"
    )
    gt = np.stack([e["joints_3d_relative"][:17] for e in pickle.loads(cache.read_bytes())])
    assert results["mpjpe"] == pytest.approx(np.linalg.norm(gt, axis=-1).mean(), rel=1e-5)


@pytest.mark.parametrize(
    "names,pairs,perm", [(MPII_JOINTS, MPII_FLIP_PAIRS, MPII_FLIP_PERM), (H36M_JOINTS, H36M_FLIP_PAIRS, H36M_FLIP_PERM)]
)
def test_flip_pairs_follow_joint_names(names, pairs, perm):
    expected = {frozenset((j, mirror_partner(names, j))) for j in range(len(names)) if mirror_partner(names, j) != j}
    assert {frozenset(p) for p in pairs} == expected and len(pairs) == 6
    assert list(perm) == [mirror_partner(names, j) for j in range(len(names))]


def test_flip_merge_on_an_asymmetric_person():
    """What a perfect network sees in the mirrored image: the joint named n where the partner of n
    was, mirrored. Merged back, every map peaks at its own joint, as in the plain maps."""
    rng = np.random.default_rng(4)
    height, width = 16, 12
    cells = np.stack([rng.integers(0, width, 16), rng.integers(0, height, 16)], 1)
    maps = torch.zeros(1, 16, height, width)
    mirrored = torch.zeros(1, 16, height, width)
    for j, (x, y) in enumerate(cells):
        maps[0, j, y, x] = 1
        px, py = cells[mirror_partner(MPII_JOINTS, j)]
        mirrored[0, j, py, width - 1 - px] = 1
    assert not torch.equal(mirrored.flip(-1), maps)  # asymmetric: a plain un-mirroring is wrong
    torch.testing.assert_close(flip_merge(maps, mirrored), maps)
    np.testing.assert_array_equal(decode_2d(flip_merge(maps, mirrored))[0].numpy(), cells)
