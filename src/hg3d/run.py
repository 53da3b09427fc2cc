"""What ``python main.py`` does: parse options, then train (with validation) or test."""

import glob
import os
import random
import shutil

import numpy as np
import torch

from . import distributed, metrics
from .checkpoint import checkpoint_epoch, load_model, load_weights, read_training_state, save_checkpoint
from .datasets import get_dataset
from .errors import UserError
from .files import readable_dir, remove_stale_temp_files, writable_dir, write_h5, write_json, write_mat
from .inference import network_forward, predict_dataset, uses_autocast
from .logger import Logger
from .model import create_model
from .monitor import accuracy_monitor
from .progress import ProgressBar
from .train_options import parse_opts


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def build_loader(opt, dataset, train):
    batch_size = opt.batch_size if train else opt.test_batch_size
    if train and len(dataset) < batch_size:
        raise UserError(
            f"the training set has {len(dataset)} samples, fewer than --batch_size {batch_size} (lower --batch_size)"
        )
    shard = distributed.sampler(dataset, opt, train)
    return torch.utils.data.DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=train and shard is None,
        sampler=shard,
        num_workers=opt.num_workers,
        pin_memory=opt.device.type == "cuda",
        drop_last=train,
    )


def is_better(metric, value, best):
    """Lower MPJPE is better, higher accuracy is better (the original kept the highest MPJPE)."""
    if best is None:
        return True
    return value < best if metric == "mpjpe" else value > best


def evaluate(opt, predict, dataset, phase):
    """Predict over ``dataset`` with ``predict(loader, phase)`` and score it on its benchmark;
    returns (summary, per-sample arrays). ``predict``: ``Trainer.predict`` with the loss during
    training, ``test_predictor``'s for --test (no loss)."""
    loader = build_loader(opt, dataset, train=False)
    result = distributed.gather_predictions(predict(loader, phase), opt)
    summary, arrays = metrics.score(dataset, result)
    if result["loss"]:
        summary["loss"] = result["loss"].get("loss")
    summary["autocast"] = uses_autocast(opt.amp, opt.device)  # whether the network ran in mixed precision
    return summary, arrays


# The figures of the one-line summary, by their results.json names (``protocols`` there says what each is).
SUMMARY_FIGURES = ("mpjpe", "n_mpjpe", "pa_mpjpe", "mpjpe_14", "pa_mpjpe_14", "pck", "auc", "pckh", "acc", "loss")


def format_summary(summary):
    keys = [k for k in SUMMARY_FIGURES if summary.get(k) is not None]
    return " | ".join(f"{k} {summary[k]:.4f}" for k in keys) + f" | {summary['num_samples']} samples"


def test_predictor(opt, model):
    """``predict(loader, phase)`` of --test: the model on ``opt.device`` through the predictor of
    ``inference`` (no trainer), with a progress bar on rank 0."""

    model.to(opt.device, memory_format=torch.channels_last).eval()
    autocast = uses_autocast(opt.amp, opt.device)

    def predict(loader, phase):
        bar = ProgressBar.for_run(opt, phase, len(loader), quiet=not distributed.is_main(opt))
        result = predict_dataset(
            lambda x: network_forward(model, x, autocast=autocast),
            loader,
            opt.device,
            opt.flip_test,
            progress=bar.advance,
            monitor=accuracy_monitor,
        )
        bar.finish()
        return result

    return predict


def test(opt):
    if not opt.load_model:
        raise UserError("--test needs --load_model <checkpoint> (released models: see models/README.md)")
    dataset = get_dataset(opt, "val")
    model = load_model(opt.load_model, opt.arch, opt.task, log=print)
    summary, arrays = evaluate(opt, test_predictor(opt, model), dataset, "test")
    if not distributed.is_main(opt):  # every rank predicted its shard; rank 0 writes
        return summary
    summary.setdefault("split", dataset.split)
    summary.update(
        dataset=opt.dataset,
        checkpoint=os.path.abspath(opt.load_model),
        flip_test=opt.flip_test,
        full_test=opt.full_test,
    )
    write_json(os.path.join(opt.save_dir, "results.json"), summary)
    write_h5(
        os.path.join(opt.save_dir, "preds.h5"),
        arrays,
        {"dataset": opt.dataset, "checkpoint": os.path.abspath(opt.load_model)},
    )
    benchmark = metrics.benchmark_of(dataset)
    for name, variables in benchmark.mat_files(arrays).items():
        write_mat(os.path.join(opt.save_dir, name), variables)
    for text in (benchmark.report(summary), metrics.protocols.format_figures(summary)):
        if text:
            print(text)
    print(f"test: {format_summary(summary)}; results in {opt.save_dir} (what each figure is: 'protocols' there)")
    return summary


def check_paths(opt):
    """--data_dir readable, --exp_dir and the run's folder writable (one-line errors naming them)."""
    readable_dir(opt.data_dir, "--data_dir")
    writable_dir(opt.exp_dir, "--exp_dir")
    writable_dir(opt.save_dir, "--exp_id")


def trained_checkpoints(opt):
    """The checkpoints already in the run's folder (model_last.pth first); refused with a one-line
    error unless --resume or --overwrite says what to do with them."""
    checkpoints = sorted(
        glob.glob(os.path.join(glob.escape(opt.save_dir), "model_*.pth")),
        key=lambda p: (os.path.basename(p) != "model_last.pth", p),
    )
    if checkpoints and not (opt.resume or opt.overwrite):
        shown = [f"{os.path.basename(p)} (epoch {checkpoint_epoch(p)})" for p in checkpoints[:3]]
        more = f" and {len(checkpoints) - 3} more" if len(checkpoints) > 3 else ""
        raise UserError(
            f"{opt.save_dir} holds a trained run ({', '.join(shown)}{more}): add --resume "
            f"to continue it, pick another --exp_id, or add --overwrite to replace it"
        )
    return checkpoints


def clear_run_dir(opt, checkpoints):
    """Make the run's folder ready for writing, once everything the run needs has loaded.

    --overwrite deletes the old checkpoints, log.txt and TensorBoard events (opt.txt is appended
    to); temporary files of saves that a kill interrupted are removed. A folder with only logs (a
    run that never saved) is reused as it is.
    """
    if opt.overwrite and checkpoints:
        print(f"notice: --overwrite: deleting {len(checkpoints)} checkpoint(s) and the logs in {opt.save_dir}")
        for path in checkpoints:
            os.remove(path)
        shutil.rmtree(os.path.join(opt.save_dir, "tensorboard"), ignore_errors=True)
        if os.path.exists(os.path.join(opt.save_dir, "log.txt")):
            os.remove(os.path.join(opt.save_dir, "log.txt"))
    for path in remove_stale_temp_files(opt.save_dir):
        print(f"notice: removed {path}, left by an interrupted save")


def train(opt):
    """Train with validation. Nothing in the run's folder changes before the datasets, the model
    and its starting weights have loaded: a start that fails leaves an old run as it was."""
    from .trainer import Trainer, TrainingDiverged, learning_rate  # the training stack: not for --test

    main_rank = distributed.is_main(opt)
    old_checkpoints = trained_checkpoints(opt)
    train_set, val_set = get_dataset(opt, "train"), get_dataset(opt, "val")
    train_loader = build_loader(opt, train_set, train=True)
    imagenet = opt.pretrained and not (opt.resume or opt.load_model)
    model = create_model(opt.arch, opt.heads, imagenet=imagenet, log=print if main_rank else lambda _: None)
    optimizer = torch.optim.Adam(model.parameters(), opt.lr)
    trainer = Trainer(opt, model, optimizer)
    if opt.amp and not trainer.amp:
        print("notice: --amp needs CUDA; training in float32 on the CPU")
    start_epoch, best = 0, None
    last = os.path.join(opt.save_dir, "model_last.pth")
    if opt.resume:
        if not os.path.isfile(last):
            raise UserError(
                f"--resume: nothing to resume, {last} does not exist (train without --resume first, or check --exp_id)"
            )
        start_epoch, optimizer_state = load_weights(model, last, strict=True)
        if optimizer_state:
            optimizer.load_state_dict(optimizer_state)
        state = read_training_state(last)
        best = state.get("best")
        if trainer.amp and state.get("scaler"):
            trainer.scaler.load_state_dict(state["scaler"])
    elif opt.load_model:
        load_weights(model, opt.load_model, strict=False)  # read whole into memory: it may lie in the run's folder
    distributed.barrier(opt)  # every rank has read its weights before rank 0 clears the folder
    if main_rank:
        clear_run_dir(opt, old_checkpoints)
    logger = Logger(opt, enabled=main_rank, resume_epoch=start_epoch if opt.resume else None)
    model.to(opt.device)
    for state in optimizer.state.values():  # optimizer state loaded on the CPU
        for key, value in state.items():
            if torch.is_tensor(value) and key != "step":
                state[key] = value.to(opt.device)
    for group in optimizer.param_groups:
        group["lr"] = learning_rate(opt, start_epoch)

    trainer.model = distributed.wrap_model(model, opt)

    def save(path, epoch):
        """model_last.pth also carries what --resume needs: optimizer, best value, AMP scaler."""
        if not main_rank:
            return
        try:
            if path == last:
                scaler = trainer.scaler.state_dict() if trainer.amp else None
                save_checkpoint(path, model, epoch, optimizer, best=best, scaler=scaler)
            else:
                save_checkpoint(path, model, epoch)
        except UserError as exc:
            raise UserError(
                f"{exc}; training stopped in epoch {epoch} (--resume continues from "
                f"model_last.pth once the problem is fixed)"
            ) from None

    def validate(loader, phase):
        return trainer.predict(loader, phase, with_loss=True)

    for epoch in range(start_epoch + 1, opt.num_epoch + 1):
        # Each epoch's randomness (shuffle, augmentation, worker seeds) depends only on the seed
        # and the epoch, so a resumed run repeats an uninterrupted one exactly.
        # Ranks augment differently (rank 0 is the single-process run).
        seed_everything(opt.seed + epoch + 7919 * opt.rank)
        if hasattr(train_set, "set_epoch"):
            train_set.set_epoch(epoch)
        if hasattr(train_loader.sampler, "set_epoch"):
            train_loader.sampler.set_epoch(epoch)
        try:
            stats = trainer.train_epoch(train_loader, epoch)
        except TrainingDiverged as exc:
            logger.write(f"stopped: {exc}")
            raise
        lr = optimizer.param_groups[0]["lr"]
        logger.scalars("train", {**stats, "lr": lr}, epoch)
        line = f"epoch {epoch} | lr {lr:.3g} | train " + " | ".join(f"{k} {v:.4g}" for k, v in stats.items())
        new_best = False
        if epoch % opt.val_intervals == 0 or epoch == opt.num_epoch:
            summary, _ = evaluate(opt, validate, val_set, f"val {epoch}")
            logger.scalars("val", {k: v for k, v in summary.items() if isinstance(v, float)}, epoch)
            line += f" | val {format_summary(summary)}"
            value = summary.get(opt.metric)
            if value is not None and is_better(opt.metric, value, best):
                best, new_best = value, True
                line += f" | new best {opt.metric}"
        logger.write(line)
        # Saved only now, after the epoch's validation and logs: model_last.pth is the commit
        # point. A run killed before it resumes by redoing this whole epoch (its logs are dropped
        # then), so no validation, best model or log line is ever skipped.
        if new_best:
            save(os.path.join(opt.save_dir, "model_best.pth"), epoch)
        if opt.save_all_models:
            save(os.path.join(opt.save_dir, f"model_{epoch}.pth"), epoch)
        save(last, epoch)  # every epoch (also with --save_all_models) so --resume works
        if main_rank:
            print(line, flush=True)
        new_lr = learning_rate(opt, epoch)
        for group in optimizer.param_groups:
            group["lr"] = new_lr
    logger.close()
    if main_rank:
        print(f"training done: checkpoints and logs in {opt.save_dir}")


def run(argv=None):
    opt = distributed.setup(parse_opts(argv))
    seed_everything(opt.seed)
    if opt.device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    try:
        check_paths(opt)
        result = test(opt) if opt.test else train(opt)
        distributed.finish(opt)
        return result
    finally:
        distributed.cleanup(opt)
