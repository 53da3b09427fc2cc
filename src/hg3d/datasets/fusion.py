"""Fusion training set: a fresh random subset of the 3D data each epoch, followed by all of MPII.

The subset has ``min(len(3D), ratio_3d * len(MPII))`` samples (the original read ``--ratio_3d``
but always used all of H36M). Call ``set_epoch`` before each epoch to draw a new subset; the draw
depends only on the seed and the epoch, so every DDP rank and worker sees the same one.
"""
import numpy as np
import torch.utils.data


class Fusion(torch.utils.data.Dataset):
    def __init__(self, opt, datasets_3d, dataset_2d):
        self.opt = opt
        self.datasets_3d = torch.utils.data.ConcatDataset(datasets_3d)
        self.dataset_2d = dataset_2d
        self.num_3d = min(len(self.datasets_3d), int(opt.ratio_3d * len(dataset_2d)))
        self.set_epoch(0)

    def set_epoch(self, epoch):
        rng = np.random.default_rng([self.opt.seed, epoch])
        self.subset_3d = rng.choice(len(self.datasets_3d), self.num_3d, replace=False)

    def __len__(self):
        return self.num_3d + len(self.dataset_2d)

    def __getitem__(self, index):
        if index < self.num_3d:
            return self.datasets_3d[int(self.subset_3d[index])]
        return self.dataset_2d[index - self.num_3d]
