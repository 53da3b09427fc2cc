"""Training losses: heatmap MSE, depth regression (smooth L1) and the bone-length variance loss.

total = MSE(hm, target) + weight_3d * L_reg + L_var   (``docs/reference.md``, "Losses")
"""

import torch
import torch.nn.functional as F
from torch import nn

# Bone groups whose lengths should agree within a person (left/right and upper/lower limb pairs),
# as MPII-16 joint pairs with the weights that equalise their mean H36M lengths.
BONE_GROUPS = (
    (((0, 1), 1.0085885098415446), ((1, 2), 1.0), ((3, 4), 1.0), ((4, 5), 1.0085885098415446)),
    (((10, 11), 1.1375361376887123), ((11, 12), 1.0), ((13, 14), 1.0), ((14, 15), 1.1375361376887123)),
    (((2, 6), 1.0), ((3, 6), 1.0)),
    (((12, 8), 1.0), ((13, 8), 1.0)),
)
_BONES = [(bone, weight, group) for group, members in enumerate(BONE_GROUPS) for bone, weight in members]
BONE_A = torch.tensor([b[0][0] for b in _BONES])
BONE_B = torch.tensor([b[0][1] for b in _BONES])
BONE_WEIGHT = torch.tensor([b[1] for b in _BONES])
BONE_GROUP = torch.tensor([b[2] for b in _BONES])
NUM_GROUPS = len(BONE_GROUPS)


def gather_depth(depth_map, ind):
    """Depth values at flat indices ``y*W*J + x*J + j`` of a (B, J, H, W) map -> (B, J, 1)."""
    batch, joints = depth_map.shape[:2]
    flat = depth_map.permute(0, 2, 3, 1).reshape(batch, -1, 1)
    return flat.gather(1, ind.long().view(batch, joints, 1))


def depth_regression_loss(pred, target, mask):
    """Smooth-L1 over the masked joints, summed, divided by their count (+1e-4)."""
    mask = mask.float().unsqueeze(-1)
    return F.smooth_l1_loss(pred * mask, target * mask, reduction="sum") / (mask.sum() + 1e-4)


def bone_variance_loss(depth, xy, visible, reg_mask, var_weight):
    """Bone-length variance loss on the samples without 3D labels (all of ``reg_mask`` zero).

    ``depth`` (B, J, 1) gathered depths, ``xy`` (B, J, 2) = pts_crop / output width, ``visible``
    (B, J, 1) joint visibility (the 2D samples' ``reg_target``). In each bone group, over the bones
    whose joints are both visible: l = w * |(xy_a - xy_b, z_a - z_b)|, E = mean l, and the loss is
    sum((l - E)^2 / 2 / num) over bones with l > 0; summed over groups and samples, times
    ``var_weight``, divided by the batch size. All samples and bones at once; gradients reach
    ``depth`` only.
    """
    depth = depth.float().squeeze(-1)
    xy, visible = xy.detach().float(), visible.detach().squeeze(-1)
    dev = depth.device
    a, b = BONE_A.to(dev), BONE_B.to(dev)
    weight, group = BONE_WEIGHT.to(dev, depth.dtype), BONE_GROUP.to(dev)
    has_3d = reg_mask.view(reg_mask.shape[0], -1).sum(1) > 0
    used = (visible[:, a] > 0.5) & (visible[:, b] > 0.5) & ~has_3d[:, None]  # (B, K)
    squared = ((xy[:, a] - xy[:, b]) ** 2).sum(-1) + (depth[:, a] - depth[:, b]) ** 2
    counted = used & (squared > 0)  # sqrt'(0) is infinite: keep zero-length bones out of autograd
    length = torch.where(counted, weight * torch.sqrt(squared.where(counted, 1.0)), 0.0)
    one_hot = F.one_hot(group, NUM_GROUPS).to(depth.dtype)  # (K, G)
    num = (used.to(depth.dtype) @ one_hot).clamp(min=1)[:, group]  # bones used in each group
    mean = (length @ one_hot)[:, group] / num
    per_bone = torch.where(counted, (length - mean) ** 2 / 2 / num, 0.0)
    return var_weight * per_bone.sum() / depth.shape[0]


class PoseLoss(nn.Module):
    """The training objective; returns the total and its parts for logging."""

    def __init__(self, weight_3d=0.0, weight_var=0.0):
        super().__init__()
        self.weight_3d, self.weight_var = weight_3d, weight_var

    def forward(self, output, batch):
        hm_loss = F.mse_loss(output["hm"], batch["target"])
        stats = {"hm_loss": hm_loss}
        loss = hm_loss
        if "depth" in output:
            depth = gather_depth(output["depth"], batch["reg_ind"])
            reg_loss = depth_regression_loss(depth, batch["reg_target"], batch["reg_mask"])
            loss = loss + self.weight_3d * reg_loss
            stats["reg_loss"] = reg_loss
            if self.weight_var > 0:
                # cells / W: the depth targets' unit (box widths) for any aspect ratio; the
                # original divides by output_h, the same on its square maps
                xy = batch["pts_crop"].to(depth.dtype) / output["hm"].shape[-1]
                var_loss = bone_variance_loss(depth, xy, batch["reg_target"], batch["reg_mask"], self.weight_var)
                loss = loss + var_loss
                stats["var_loss"] = var_loss
        stats["loss"] = loss
        return loss, stats
