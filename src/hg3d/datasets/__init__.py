"""The ``--dataset`` registry: every dataset's name, aliases, kind and splits, in one table.

``get_dataset(opt, split)`` builds a split ('train' or 'val'; validation and testing use 'val');
the options take their ``--dataset`` choices, aliases and checks (2D or 3D, test only) from
``DATASETS``. What ``--test`` writes besides results.json and preds.h5 (MPII's preds.mat) is the
benchmark's business: ``hg3d.metrics``. Fusion
datasets validate on their 3D part, as the original did (``--dataset fusion_3d --test`` tests on
Human3.6M; ``fusion_3dpw`` validates on 3DPW).
"""

from collections.abc import Callable
from dataclasses import dataclass

from ..errors import UserError
from .fusion import Fusion
from .h36m import H36M
from .mpi_inf_3dhp import MPIInf3DHP
from .mpii import MPII
from .threedpw import ThreeDPW


@dataclass(frozen=True)
class DatasetSpec:
    """One ``--dataset``: ``build(opt, split)`` makes a split; ``is_3d``: it has 3D labels (needs
    ``--task human3d``); ``test_only``: no training split."""

    build: Callable
    is_3d: bool
    aliases: tuple = ()
    test_only: bool = False


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


DATASETS = {
    "mpii": DatasetSpec(MPII, is_3d=False),
    "h36m": DatasetSpec(H36M, is_3d=True),
    "fusion_3d": DatasetSpec(fusion_3d, is_3d=True),
    "threedpw": DatasetSpec(ThreeDPW, is_3d=True, aliases=("3dpw",)),
    "fusion_3dpw": DatasetSpec(fusion_3dpw, is_3d=True),
    "mpi_inf_3dhp": DatasetSpec(MPIInf3DHP, is_3d=True, aliases=("3dhp",), test_only=True),
}
ALIASES = {alias: name for name, spec in DATASETS.items() for alias in spec.aliases}


def dataset_name(text):
    """The registry name of ``text`` (a name or an alias); other text is returned as it is."""
    return ALIASES.get(text, text)


def get_dataset(opt, split):
    """The dataset ``opt.dataset`` for ``split`` ('train' or 'val')."""
    if opt.dataset not in DATASETS:
        raise UserError(f"unknown --dataset {opt.dataset} (one of {', '.join(DATASETS)})")
    return DATASETS[opt.dataset].build(opt, split)
