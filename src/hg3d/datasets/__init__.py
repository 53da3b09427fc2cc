"""The ``--dataset`` registry: every dataset's name, aliases, kind and splits, in one table.

``get_dataset(opt, split)`` builds a split ('train' or 'val'; validation and testing use 'val');
the options take their ``--dataset`` choices, aliases and checks (2D or 3D, test only) from
``DATASETS``. What ``--test`` writes besides results.json and preds.h5 (MPII's preds.mat) is the
benchmark's business: ``hg3d.metrics``. Fusion
datasets validate on their 3D part, as the original did (``--dataset fusion_3d --test`` tests on
Human3.6M; ``fusion_3dpw`` validates on 3DPW).

The registry names each dataset's builder by module and name and imports it only when a split is
built, so that the training options (and ``hg3d-train --help``) load no torch.
"""

import importlib
from dataclasses import dataclass

from ..errors import UserError


@dataclass(frozen=True)
class DatasetSpec:
    """One ``--dataset``: ``builder`` ('module.name' in this package) makes a split from
    ``(opt, split)``; ``is_3d``: it has 3D labels (needs ``--task human3d``); ``test_only``: no
    training split."""

    builder: str
    is_3d: bool
    aliases: tuple = ()
    test_only: bool = False

    def build(self, opt, split):
        module, name = self.builder.rsplit(".", 1)
        return getattr(importlib.import_module(f".{module}", __name__), name)(opt, split)


DATASETS = {
    "mpii": DatasetSpec("mpii.MPII", is_3d=False),
    "h36m": DatasetSpec("h36m.H36M", is_3d=True),
    "fusion_3d": DatasetSpec("fusion.fusion_3d", is_3d=True),
    "threedpw": DatasetSpec("threedpw.ThreeDPW", is_3d=True, aliases=("3dpw",)),
    "fusion_3dpw": DatasetSpec("fusion.fusion_3dpw", is_3d=True),
    "mpi_inf_3dhp": DatasetSpec("mpi_inf_3dhp.MPIInf3DHP", is_3d=True, aliases=("3dhp",), test_only=True),
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
