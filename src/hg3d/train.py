"""``hg3d-train`` (= ``python src/main.py``): train with validation, or ``--test`` a checkpoint."""

import contextlib

import torch

from . import distributed
from .datasets import get_dataset
from .evaluate import build_loader, test
from .logger import Logger
from .model import create_model
from .options import TEMPORAL
from .run_folder import check_paths, clear_run_dir, locked, trained_checkpoints
from .train_options import parse_opts


def train(opt):
    """Train with validation. Nothing in the run's folder changes before the datasets, the model
    and its starting weights have loaded: a start that fails leaves an old run as it was. Rank 0
    holds the folder's lock for the whole run."""
    from .trainer import Trainer, seed_everything  # the training stack: --test does not load it

    seed_everything(opt.seed)
    main_rank = distributed.is_main(opt)
    with locked(opt.save_dir) if main_rank else contextlib.nullcontext():
        old_checkpoints = trained_checkpoints(opt)
        train_set, val_set = get_dataset(opt, "train"), get_dataset(opt, "val")
        train_loader = build_loader(opt, train_set, train=True)
        imagenet = opt.pretrained and not (opt.resume or opt.load_model)
        model = create_model(opt.arch, opt.heads, imagenet=imagenet, log=print if main_rank else lambda _: None)
        trainer = Trainer(opt, model, torch.optim.Adam(model.parameters(), opt.lr))
        if opt.amp and not trainer.amp:
            print("notice: --amp needs CUDA; training in float32 on the CPU")
        trainer.resume_or_load(opt.resume)
        distributed.barrier(opt)  # every rank has read its weights before rank 0 clears the folder
        if main_rank:
            clear_run_dir(opt, old_checkpoints)
        logger = Logger(opt, enabled=main_rank, resume_epoch=trainer.epoch if opt.resume else None)
        trainer.fit(train_loader, val_set, logger)
        logger.close()
    if main_rank:
        print(f"training done: checkpoints and logs in {opt.save_dir}")


def run(argv=None):
    """The command: options, devices and ranks, then ``train`` or ``evaluate.test``."""
    opt = distributed.setup(parse_opts(argv))
    if opt.device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    try:
        if opt.task == TEMPORAL:  # pose sequences, not --data_dir's datasets
            from .temporal_run import run as run_temporal

            return run_temporal(opt)
        check_paths(opt)
        result = test(opt) if opt.test else train(opt)
        distributed.finish(opt)
        return result
    finally:
        distributed.cleanup(opt)
