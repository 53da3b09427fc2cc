"""Fusion training set: fresh random subsets of the 3D datasets each epoch, followed by all of MPII.

Each 3D dataset contributes ``min(len(dataset), ratio * len(MPII))`` samples per epoch (the
original read ``--ratio_3d`` but always used all of H36M). Call ``set_epoch`` before each epoch to
draw new subsets; the draw depends only on the seed and the epoch, so every DDP rank and worker
sees the same one. ``fusion_3d`` and ``fusion_3dpw`` build the two ``--dataset`` mixes.
"""

import numpy as np
import torch.utils.data

from .h36m import H36M
from .mpii import MPII
from .threedpw import ThreeDPW


class Fusion(torch.utils.data.Dataset):
    def __init__(self, opt, datasets_3d, dataset_2d):
        """``datasets_3d``: list of (dataset, ratio to MPII); ``dataset_2d``: MPII."""
        self.opt = opt
        self.datasets_3d = [dataset for dataset, _ in datasets_3d]
        self.counts = [min(len(dataset), int(ratio * len(dataset_2d))) for dataset, ratio in datasets_3d]
        self.num_3d = sum(self.counts)
        self.dataset_2d = dataset_2d
        self.set_epoch(0)

    def set_epoch(self, epoch):
        rng = np.random.default_rng([self.opt.seed, epoch])
        self.subset_3d = [
            (d, int(i))
            for d, (dataset, count) in enumerate(zip(self.datasets_3d, self.counts))
            for i in rng.choice(len(dataset), count, replace=False)
        ]

    def __len__(self):
        return self.num_3d + len(self.dataset_2d)

    def __getitem__(self, index):
        if index < self.num_3d:
            which, sample = self.subset_3d[index]
            return self.datasets_3d[which][sample]
        return self.dataset_2d[index - self.num_3d]


def fusion_3d(opt, split):
    """Human3.6M with MPII for training (``--ratio_3d`` 3D samples per 2D one); Human3.6M to validate."""
    if split == "train":
        return Fusion(opt, [(H36M(opt, "train"), opt.ratio_3d)], MPII(opt, "train"))
    return H36M(opt, split)


def fusion_3dpw(opt, split):
    """Human3.6M and 3DPW with MPII for training; 3DPW to validate."""
    if split == "train":
        return Fusion(
            opt, [(H36M(opt, "train"), opt.ratio_3d), (ThreeDPW(opt, "train"), opt.ratio_3dpw)], MPII(opt, "train")
        )
    return ThreeDPW(opt, split)
