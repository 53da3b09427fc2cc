"""Dataset registry: ``get_dataset(opt, split)`` for every ``--dataset`` name.

Training splits are ``train``; validation and testing use ``val``. Fusion datasets validate on
their 3D part, as the original did (``--dataset fusion_3d --test`` tests on Human3.6M;
``fusion_3dpw`` validates on 3DPW). ``mpi_inf_3dhp`` is test only.
"""

from ..errors import UserError
from .fusion import Fusion
from .h36m import H36M
from .mpi_inf_3dhp import MPIInf3DHP
from .mpii import MPII
from .threedpw import ThreeDPW


def get_dataset(opt, split):
    """The dataset ``opt.dataset`` for ``split`` ('train' or 'val')."""
    if opt.dataset == "mpii":
        return MPII(opt, split)
    if opt.dataset == "h36m":
        return H36M(opt, split)
    if opt.dataset == "threedpw":
        return ThreeDPW(opt, split)
    if opt.dataset == "fusion_3d":
        if split == "train":
            return Fusion(opt, [(H36M(opt, "train"), opt.ratio_3d)], MPII(opt, "train"))
        return H36M(opt, split)
    if opt.dataset == "fusion_3dpw":  # MPII + H36M + 3DPW; validates on 3DPW
        if split == "train":
            return Fusion(
                opt, [(H36M(opt, "train"), opt.ratio_3d), (ThreeDPW(opt, "train"), opt.ratio_3dpw)], MPII(opt, "train")
            )
        return ThreeDPW(opt, split)
    if opt.dataset == "mpi_inf_3dhp":  # test only
        return MPIInf3DHP(opt, split)
    raise UserError(f"unknown --dataset {opt.dataset}")
