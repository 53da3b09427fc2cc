import numpy as np
import pytest
import torch

from helpers import golden
from hg3d.losses import PoseLoss, bone_variance_loss, depth_regression_loss, gather_depth

TOL = {"rtol": 1e-4, "atol": 1e-6}


@pytest.fixture(scope="module")
def g():
    return np.load(golden("losses.npz"))


def _inputs(g):
    depth_map = torch.tensor(g["depth_map"], requires_grad=True)
    return (
        depth_map,
        torch.tensor(g["ind"]),
        torch.tensor(g["mask"]),
        torch.tensor(g["reg_target"]),
        torch.tensor(g["gt_2d"]),
    )


def test_reg_loss_value_and_grad(g):
    depth_map, ind, mask, target, _ = _inputs(g)
    loss = depth_regression_loss(gather_depth(depth_map, ind), target, mask)
    loss.backward()
    np.testing.assert_allclose(loss.item(), g["reg_loss"], **TOL)
    np.testing.assert_allclose(depth_map.grad.numpy(), g["reg_grad"], **TOL)


def test_var_loss_value_and_grads(g):
    depth_map, ind, mask, target, xy = _inputs(g)
    pred = gather_depth(depth_map, ind)
    pred.retain_grad()
    loss = bone_variance_loss(pred, xy, target, mask, float(g["var_weight"]))
    loss.backward()
    np.testing.assert_allclose(loss.detach().numpy().reshape(1), g["var_loss"], **TOL)
    np.testing.assert_allclose(depth_map.grad.numpy(), g["var_grad"], **TOL)
    np.testing.assert_allclose(pred.grad.numpy(), g["var_grad_wrt_pred"], **TOL)


def test_var_loss_ignores_3d_samples_and_invisible_bones(g):
    _, ind, mask, target, xy = _inputs(g)
    depth = torch.randn(6, 16, 1, requires_grad=True)
    loss = bone_variance_loss(depth, xy, target, mask, 1.0)
    loss.backward()
    assert torch.all(depth.grad[:3] == 0)  # samples 0-2 carry depth labels
    # joints 7, 9 belong to no bone of any group: never a gradient
    assert torch.all(depth.grad[:, [7, 9]] == 0)
    # all joints invisible -> no loss at all
    none = bone_variance_loss(depth, xy, torch.zeros_like(target), torch.zeros_like(mask), 1.0)
    assert none.item() == 0


def test_var_loss_zero_length_bone_has_finite_grad():
    depth = torch.zeros(1, 16, 1, requires_grad=True)
    xy = torch.zeros(1, 16, 2)  # every joint at the same place: all lengths 0
    loss = bone_variance_loss(depth, xy, torch.ones(1, 16, 1), torch.zeros(1, 16), 1.0)
    loss.backward()
    assert loss.item() == 0 and torch.isfinite(depth.grad).all()


def test_pose_loss_combines_terms(g):
    depth_map, ind, mask, target, xy = _inputs(g)
    hm = torch.rand(6, 16, 64, 64)
    hm_target = torch.rand(6, 16, 64, 64)
    batch = {
        "target": hm_target,
        "reg_ind": ind,
        "reg_mask": mask,
        "reg_target": target,
        "pts_crop": (xy * 64).round().int(),
    }
    loss, stats = PoseLoss(weight_3d=0.1, weight_var=0.01)({"hm": hm, "depth": depth_map}, batch)
    expected = stats["hm_loss"] + 0.1 * stats["reg_loss"] + stats["var_loss"]
    assert torch.allclose(loss, expected)
    np.testing.assert_allclose(stats["reg_loss"].item(), g["reg_loss"], **TOL)
    np.testing.assert_allclose(stats["var_loss"].item(), g["var_loss"][0], **TOL)
    loss_2d, stats_2d = PoseLoss()({"hm": hm}, batch)
    assert set(stats_2d) == {"hm_loss", "loss"} and torch.allclose(loss_2d, stats["hm_loss"])


@pytest.mark.parametrize("height,width", [(32, 24), (24, 32), (32, 32)])
def test_var_loss_units_agree_for_any_aspect_ratio(height, width):
    """x, y in cells / W and the depth in box widths are one unit (a cell is s_w / W px in x and y):
    hip bones of equal 3D length, one lying in the image plane (3, 4, 0) cells and one partly in
    depth (0, 4, 3) cells, have no variance; dividing x, y by H on a non-square map would give some."""
    joints = 16
    pts = torch.zeros(1, joints, 2, dtype=torch.int32)
    pts[0, 6], pts[0, 2], pts[0, 3] = torch.tensor([10, 10]), torch.tensor([13, 14]), torch.tensor([10, 14])
    z = torch.zeros(joints)
    z[3] = 3 / width
    visible = torch.zeros(1, joints, 1)
    visible[0, [2, 3, 6]] = 1
    ind = (pts[0, :, 1] * width * joints + pts[0, :, 0] * joints + torch.arange(joints)).long()[None]
    depth_map = torch.zeros(1, height, width, joints)
    depth_map.view(-1)[ind[0]] = z
    output = {"hm": torch.zeros(1, joints, height, width), "depth": depth_map.permute(0, 3, 1, 2)}
    batch = {
        "target": output["hm"],
        "reg_ind": ind,
        "reg_mask": torch.zeros(1, joints),
        "reg_target": visible,
        "pts_crop": pts,
    }
    _, stats = PoseLoss(weight_3d=1, weight_var=1)(output, batch)
    assert stats["var_loss"].item() < 1e-12
    z[3] = 4 / width  # now the bones differ: the loss sees it
    depth_map.view(-1)[ind[0]] = z
    _, stats = PoseLoss(weight_3d=1, weight_var=1)(output, batch)
    assert stats["var_loss"].item() > 1e-6
