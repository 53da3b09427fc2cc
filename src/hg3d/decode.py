"""Network maps -> joints: the flip-test merge, the 2D and 3D decode, and the one decoder of a
batch of crops that ``--test``, validation, the demo and the Python API all use.

Decoders take torch tensors (on any device); ``decode_crops`` returns NumPy arrays.
"""

import numpy as np
import torch

from .geometry import transform_preds
from .joints import MPII_FLIP_PERM, PELVIS


def flip_merge(maps, flipped_maps):
    """Average maps with those of the mirrored input, mirrored back and left/right swapped."""
    perm = torch.as_tensor(MPII_FLIP_PERM, device=flipped_maps.device)
    return (maps + flipped_maps.flip(-1)[:, perm]) / 2


def decode_2d(heatmaps):
    """Integer argmax (x, y) of each map: (B, J, H, W) -> (B, J, 2), x = idx % W, y = idx // W."""
    batch, joints, _, width = heatmaps.shape
    idx = heatmaps.reshape(batch, joints, -1).argmax(-1)
    return torch.stack([idx % width, idx // width], -1)


def crop_coords_3d(xy, z, width):
    """Heatmap cells (x, y) (B, J, 2) and depth-map values z (B, J, 1) -> one 3D frame, pelvis-relative.

    The unit is the crop box width: the box (s_w, s_h) has the aspect ratio of the maps, so one
    cell is s_w / W image pixels in x and in y, and x / W, y / W are pixels / s_w; the depth target
    is z_px / s_w (``datasets.base``). So the three axes share one scale for any aspect ratio.
    (The original divides x, y by max(H, W): the same for its square maps, a squashed pose for
    non-square ones.)
    """
    coords = torch.cat([xy.to(z.dtype) / width, z], -1)
    return coords - coords[:, PELVIS : PELVIS + 1]


def decode_3d(heatmaps, depthmaps):
    """Integer argmax (x, y) and the depth there, as ``crop_coords_3d`` -> (B, J, 3)."""
    batch, joints, _, width = heatmaps.shape
    xy = decode_2d(heatmaps)
    flat_idx = (xy[..., 1] * width + xy[..., 0]).unsqueeze(-1)
    z = depthmaps.reshape(batch, joints, -1).gather(-1, flat_idx)
    return crop_coords_3d(xy, z, width)


def decode_crops(maps, centers, sizes):
    """Merged network maps of a batch of crops -> per-crop arrays.

    ``centers`` (B, 2) and ``sizes`` (B, 2) are the crop boxes in image pixels. Returns
    ``joints_2d`` (B, 16, 2) float64 image pixels, ``confidence`` (B, 16) the heatmap peaks and,
    with a depth head, ``pred_3d`` (B, 16, 3) in crop units relative to the pelvis (``decode_3d``).
    """
    hm = maps["hm"]
    coords = decode_2d(hm).cpu().numpy()
    out_size = (hm.shape[3], hm.shape[2])
    decoded = {
        "joints_2d": np.stack(
            [transform_preds(xy, center, size, out_size) for xy, center, size in zip(coords, centers, sizes)]
        ),
        "confidence": hm.flatten(2).amax(-1).cpu().numpy(),
    }
    if "depth" in maps:
        decoded["pred_3d"] = decode_3d(hm, maps["depth"]).cpu().numpy()
    return decoded
