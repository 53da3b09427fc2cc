"""Perfect labels in, ~0 error out: ground truth pushed through the target making and the decode.

Two error sources are not units and are kept apart from them:
- the heatmap's integer argmax (targets sit at truncated cells), tested with a bound in cells;
- the protocol's 4000 mm bone-sum rescale, exact for data whose bones sum to 4000 mm (the sample
  people, the hand-made Human3.6M data) and otherwise replaced by the ground truth's bone sum.
The unit chain (u, v, z frame -> depth target / box width -> x / W, y / W, z) is checked to < 1 mm
with exact sub-cell coordinates, for square and non-square inputs.
"""

import os
import pickle

import cv2
import numpy as np
import pytest
import torch

from hg3d.datasets import get_dataset
from hg3d.decode import crop_coords_3d, decode_3d
from hg3d.joints import H36M_BONE_SUM_MM, H36M_TO_MPII, NUM_JOINTS
from hg3d.metrics import score
from hg3d.metrics.core import per_sample_mpjpe
from hg3d.metrics.threedpw import PROTOCOL_JOINTS, hip_midpoint
from hg3d.skeleton import bone_length_sum, mpii_to_h36m, to_h36m_order
from hg3d.tools.sample_data import write_3dpw, write_h36m
from hg3d.tools.synthetic import random_pose
from hg3d.train_options import parse_opts

# (input_h, input_w): square, portrait and landscape
SIZES = [(128, 128), (128, 96), (96, 128)]
VAL_CACHE = "msra_cache/HM36_eccv_challenge_Val_cache/HM36_eccv_challenge_Val_w288xh384_keypoint_jnt_bbox_db.pkl"


def opts(dataset, root, size, *extra):
    return parse_opts(
        [
            "--task",
            "human3d",
            "--dataset",
            dataset,
            "--data_dir",
            str(root),
            "--gpus",
            "-1",
            "--input_h",
            str(size[0]),
            "--input_w",
            str(size[1]),
            *extra,
        ],
        log=lambda _: None,
    )


def perfect_maps(item):
    """What a perfect network outputs for an item: its target heatmaps, and a depth map holding each
    joint's depth target in the cell that ``reg_ind`` names."""
    joints, height, width = item["target"].shape
    depth = np.zeros((height, width, joints), np.float32)  # the (y, x, j) layout of reg_ind
    mask = item["reg_mask"].astype(bool)
    depth.reshape(-1)[item["reg_ind"][mask]] = item["reg_target"][mask, 0]
    return torch.from_numpy(item["target"]), torch.from_numpy(depth.transpose(2, 0, 1).copy())


def decoded(items):
    """decode_3d of the perfect maps of ``items`` -> (N, 16, 3) crop units."""
    maps = [perfect_maps(it) for it in items]
    return decode_3d(torch.stack([m[0] for m in maps]), torch.stack([m[1] for m in maps])).numpy()


def exact(dataset, items, joints):
    """The same chain without the heatmap's truncation: each joint's sub-cell heatmap coordinate
    (the target making's own transform) with its depth target, through ``crop_coords_3d``."""
    width = dataset.opt.output_w
    xy = np.stack([dataset.heatmap_coords(it["center"], it["scale"], 0, j[:, :2]) for it, j in zip(items, joints)])
    z = np.stack([it["reg_target"] for it in items])
    return crop_coords_3d(torch.from_numpy(xy), torch.from_numpy(z).double(), width).numpy()


def metrics(dataset, items, pred_3d):
    n = len(items)
    result = {
        "index": np.arange(n),
        "pred_2d": np.zeros((n, NUM_JOINTS, 2)),
        "pck_dist": np.zeros((n, 10)),
        "pred_3d": pred_3d,
    }
    return score(dataset, result)[0]


def cell_mm(dataset, items, joints_px, gt_mm):
    """Millimetres per heatmap cell of each sample: (box width / W) px per cell over k px per mm."""
    k = bone_length_sum(to_h36m_order(joints_px)) / bone_length_sum(gt_mm)
    return np.array([it["scale"][0] for it in items]) / dataset.opt.output_w / k


# --- hand-made Human3.6M data: every joint at a cell centre, so even the argmax path is exact ---


def write_cell_centred_h36m(root, size, count=4, seed=0):
    """A Val cache (and grey images) whose joints project to cell centres of a (h, w) = ``size``
    input's heatmaps, depths anywhere, bones summing to 4000 mm."""
    in_h, in_w = size
    out_w, out_h = in_w // 4, in_h // 4
    side, center = 96.0, np.array([80.0, 80.0])  # square box; the loader widens it to the aspect
    box_w = side * max(1.0, in_w / in_h)
    px_per_cell = box_w / out_w
    rng = np.random.default_rng(seed)
    entries = []
    image_dir = os.path.join(root, "h36m", "ECCV18_Challenge", "Val", "IMG")
    os.makedirs(image_dir, exist_ok=True)
    for i in range(count):
        pose = random_pose(rng)[H36M_TO_MPII]  # MPII-16, mm
        spread = 0.7 * min(out_w, out_h) / np.ptp(pose[:, :2], axis=0).max()
        cells = np.round(pose[:, :2] * spread + [out_w / 2, out_h / 2])
        cells = np.clip(cells, 0, [out_w - 1, out_h - 1])
        uv = center + (cells + 0.5 - [out_w / 2, out_h / 2]) * px_per_cell
        joints_px = np.concatenate([uv, pose[:, 2:] * spread * px_per_cell], 1)  # one px frame
        h36m_px = to_h36m_order(joints_px)
        gt = (h36m_px - h36m_px[0]) * H36M_BONE_SUM_MM / bone_length_sum(h36m_px)
        joints_3d = np.zeros((18, 3))
        joints_3d[H36M_TO_MPII] = joints_px
        joints_3d[[9, 17]] = h36m_px[[9, 8]]
        entries.append(
            {
                "center_x": center[0],
                "center_y": center[1],
                "width": side,
                "height": side,
                "joints_3d": joints_3d,
                "joints_3d_relative": np.concatenate([gt, gt[8:9]]),
            }
        )
        cv2.imwrite(os.path.join(image_dir, f"{i + 1:05d}.jpg"), np.full((160, 160, 3), 128, np.uint8))
    cache = os.path.join(root, "h36m", VAL_CACHE)
    os.makedirs(os.path.dirname(cache))
    with open(cache, "wb") as handle:
        pickle.dump(entries, handle, protocol=2)


@pytest.mark.parametrize("size", SIZES)
def test_h36m_cell_centred_labels_score_zero(size, tmp_path):
    write_cell_centred_h36m(str(tmp_path), size)
    dataset = get_dataset(opts("h36m", tmp_path, size, "--full_test"), "val")
    items = [dataset[i] for i in range(len(dataset))]
    assert all(it["reg_mask"].all() for it in items)
    summary = metrics(dataset, items, decoded(items))  # the real path: argmax, 4000 mm rescale
    assert summary["num_3d"] == 4 and summary["mpjpe"] < 0.01 and summary["pa_mpjpe"] < 0.01


# --- the sample data (quickstart) and 3DPW ---


@pytest.fixture(scope="module")
def sample_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("sample")
    write_h36m(str(root / "h36m"), np.random.default_rng(1), 1, 12, size=320)
    write_3dpw(str(root / "3dpw"), np.random.default_rng(0))
    return root


def sample_h36m(root, size):
    dataset = get_dataset(opts("h36m", root, size, "--full_test"), "val")
    items = [dataset[i] for i in range(len(dataset))]
    with open(root / "h36m" / VAL_CACHE, "rb") as handle:
        joints = [np.asarray(e["joints_3d"])[H36M_TO_MPII] for e in pickle.load(handle)]
    return dataset, items, joints


@pytest.mark.parametrize("size", SIZES)
def test_sample_data_unit_chain_is_exact(sample_root, size):
    dataset, items, joints = sample_h36m(sample_root, size)
    assert all(it["reg_mask"].all() for it in items)
    summary = metrics(dataset, items, exact(dataset, items, joints))  # bones sum to 4000 mm
    assert summary["mpjpe"] < 1.0 and summary["pa_mpjpe"] < 1.0


@pytest.mark.parametrize("size", SIZES[:2])
def test_sample_data_perfect_maps(sample_root, size):
    """Through the integer argmax: per axis, the difference of two truncations (joint, pelvis)
    is under one cell; the mean joint error is about half a cell. Bound: 0.75 cell."""
    dataset, items, joints = sample_h36m(sample_root, size)
    summary = metrics(dataset, items, decoded(items))
    gt = np.stack([it["gt_3d"] for it in items])
    cell = cell_mm(dataset, items, np.stack(joints), gt).mean()
    assert summary["mpjpe"] < 0.75 * cell, (summary["mpjpe"], cell)


def threedpw_mpjpe_12(pred_mpii, gt):
    """3DPW protocol joints, root at the hips, prediction scaled to the ground truth's bone sum."""
    pred = mpii_to_h36m(pred_mpii, bone_sum=bone_length_sum(gt))
    return per_sample_mpjpe(
        (pred - hip_midpoint(pred))[:, PROTOCOL_JOINTS], (gt - hip_midpoint(gt))[:, PROTOCOL_JOINTS]
    )


@pytest.mark.parametrize("size", SIZES[:2])
def test_3dpw_perfect_labels(sample_root, size):
    dataset = get_dataset(opts("3dpw", sample_root, size, "--test"), "val")
    items = [dataset[i] for i in range(len(dataset))]
    assert all(it["reg_mask"].all() for it in items)
    joints = [dataset.joints_ortho[i][H36M_TO_MPII] for i in range(len(dataset))]
    gt = np.stack([it["gt_3d"] for it in items]).astype(np.float64)
    assert threedpw_mpjpe_12(exact(dataset, items, joints), gt).max() < 1.0
    cell = cell_mm(dataset, items, np.stack(joints), gt).mean()
    assert threedpw_mpjpe_12(decoded(items), gt).mean() < 0.75 * cell
    assert metrics(dataset, items, decoded(items))["pa_mpjpe_12"] < 0.75 * cell
