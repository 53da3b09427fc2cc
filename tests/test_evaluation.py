import numpy as np
import pytest
import torch

from conftest import golden
from hg3d.evaluation import (decode_2d, decode_3d, flip_merge, group_means, h36m_metrics, mpii_to_h36m,
                             pck_accuracy, pck_distances, per_sample_mpjpe, procrustes_align)
from hg3d.joints import MPII_FLIP_PERM

TOL = dict(rtol=1e-4, atol=1e-6)


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
    from hg3d.evaluation import bone_length_sum
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


def test_flip_merge_of_mirrored_maps_is_identity():
    maps = torch.rand(2, 16, 8, 8)
    mirrored = maps.flip(-1)[:, torch.as_tensor(MPII_FLIP_PERM)]
    assert torch.allclose(flip_merge(maps, mirrored), maps)


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
