"""Write a small data root of synthetic people in the real MPII, Human3.6M, 3DPW and MPI-INF-3DHP
layouts.

    hg3d-sample-data --out data --seed 0      (or: python scripts/make_sample_data.py ...)
    hg3d-sample-data --out data --sequences   (pose sequences for the temporal model instead)

Existing real datasets are never touched: a dataset folder is written only when it is absent or
was written by this script (use --overwrite to regenerate sample data).
"""

import os

import numpy as np

from ..errors import OneLineParser, UserError
from ..options import HOME_HELP, home_dir


def main(argv=None):
    p = OneLineParser("make_sample_data.py", description=__doc__.splitlines()[0], epilog=HOME_HELP)
    p.add_argument("--out", default=os.path.join(home_dir(), "data"), help="data root (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--size", type=int, default=320, help="typical image side in px")
    p.add_argument("--mpii_train", type=int, default=256)
    p.add_argument("--mpii_val", type=int, default=32)
    p.add_argument("--h36m_train", type=int, default=256)
    p.add_argument("--h36m_val", type=int, default=64)
    p.add_argument("--overwrite", action="store_true", help="regenerate existing sample data")
    p.add_argument(
        "--demo_images",
        metavar="DIR",
        default="",
        help="instead, write 3 synthetic photos for the demo into DIR (as in images/)",
    )
    p.add_argument(
        "--sequences",
        action="store_true",
        help="instead, write synthetic pose sequences for --task temporal: <out>/sequences/{train,val,test}.h5",
    )
    p.add_argument("--sequence_frames", type=int, default=300, help="frames per sequence (--sequences)")
    args = p.parse_args(argv)
    if args.sequences:
        write_sample_sequences(os.path.join(os.path.abspath(args.out), "sequences"), args)
        return

    from .sample_data import (  # after parsing: --help and flag errors load no torch
        prepare_root,
        write_3dpw,
        write_demo_images,
        write_h36m,
        write_mpi_inf_3dhp,
        write_mpii,
    )

    if args.demo_images:
        write_demo_images(args.demo_images, np.random.default_rng([args.seed, 99]))
        return
    writers = (
        (
            "mpii",
            lambda root, rng: write_mpii(root, rng, args.mpii_train, args.mpii_val, args.size),
            f"{args.mpii_train} train + {args.mpii_val} val",
        ),
        (
            "h36m",
            lambda root, rng: write_h36m(root, rng, args.h36m_train, args.h36m_val, args.size),
            f"{args.h36m_train} train + {args.h36m_val} val",
        ),
        ("3dpw", lambda root, rng: write_3dpw(root, rng), "4 sequences (train, validation, test)"),
        ("mpi_inf_3dhp", lambda root, rng: write_mpi_inf_3dhp(root, rng), "6 test sequences of 6 frames"),
    )
    for offset, (name, write, what) in enumerate(writers):
        root = os.path.join(os.path.abspath(args.out), name)
        if not prepare_root(root, args.overwrite):
            print(f"{root}: sample data already there (use --overwrite to regenerate)")
            continue
        write(root, np.random.default_rng([args.seed, offset]))
        print(f"{root}: {what} synthetic samples")


# Sequences per split of --sequences: a few thousand training frames, held-out validation and test.
SEQUENCE_SPLITS = {"train": 12, "val": 2, "test": 4}


def write_sample_sequences(root, args):
    """``root/{train,val,test}.h5``: synthetic motion (``synthetic_motion``), each split its own people."""
    from ..sequences import write_sequences  # here: --help and flag errors load no torch
    from .sample_data import prepare_root
    from .synthetic_motion import synthetic_sequences

    if args.sequence_frames < 2:
        raise UserError(f"--sequence_frames must be >= 2, got {args.sequence_frames}")
    if not prepare_root(root, args.overwrite):
        print(f"{root}: sample sequences already there (use --overwrite to regenerate)")
        return
    for offset, (split, count) in enumerate(SEQUENCE_SPLITS.items()):
        rng = np.random.default_rng([args.seed, 100 + offset])
        path = os.path.join(root, f"{split}.h5")
        write_sequences(path, synthetic_sequences(rng, count, split, args.sequence_frames))
        print(f"{path}: {count} synthetic sequences of {args.sequence_frames} frames")
