"""Training: the epochs of a run with their validation, logs and checkpoints, and its state.

``Trainer.fit`` runs the epochs; ``Trainer.train_epoch`` one pass of optimisation;
``Trainer.predict`` is ``inference.predict_dataset`` with the training forward (autocast, DDP) and,
for validation, the loss of the un-flipped pass. ``state_dict`` / ``load_state_dict`` are what
``model_last.pth`` carries for ``--resume``, and ``resume_or_load`` reads it (or ``--load_model``).
"""

import functools
import os
import random
import time

import numpy as np
import torch

from . import distributed
from .checkpoint import load_weights, read_training_state, save_checkpoint
from .distributed import is_main, mean_over_ranks, true_on_all_ranks
from .errors import UserError
from .evaluate import format_summary, predict_and_score
from .inference import network_forward, predict_dataset, uses_autocast
from .losses import PoseLoss
from .monitor import accuracy_monitor
from .progress import ProgressBar

BATCH_KEYS = ("input", "target", "reg_target", "reg_ind", "reg_mask", "pts_crop")
REPORT_EVERY = 20  # iterations between loss read-outs under the progress bar (--print_iter 0)


class TrainingDiverged(UserError):
    """The loss became NaN or infinite."""


def learning_rate(opt, epoch):
    """LR in force after ``epoch`` epochs: base * 0.1^(number of lr_step entries <= epoch)."""
    return opt.lr * 0.1 ** sum(1 for step in opt.lr_step if step <= epoch)


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def is_better(metric, value, best):
    """Lower MPJPE is better, higher accuracy is better (the original kept the highest MPJPE)."""
    if best is None:
        return True
    return value < best if metric == "mpjpe" else value > best


def to_device(batch, device, keys=BATCH_KEYS):
    return {k: batch[k].to(device, non_blocking=True) for k in keys if k in batch}


class _Sums:
    """Batch-size-weighted running sums of the loss parts, kept on the device: adding a batch does
    not wait for it, reading the means (``means``) is one host-device sync."""

    def __init__(self):
        self.keys, self.sums, self.count = None, None, 0

    def add(self, stats, n):
        values = torch.stack([v.detach().float() for v in stats.values()]) * n
        if self.sums is None:
            self.keys, self.sums = list(stats), values
        else:
            self.sums = self.sums + values
        self.count += n

    def means(self):
        if self.sums is None:
            return {}
        return dict(zip(self.keys, (self.sums / max(self.count, 1)).tolist(), strict=True))


class _NonFinite:
    """The first iteration whose loss was NaN or infinite, tracked on the device (no sync per step)."""

    def __init__(self, device):
        self.iteration = torch.full((), -1, dtype=torch.int64, device=device)
        self.loss = torch.zeros((), device=device)

    def add(self, loss, it):
        new = ~torch.isfinite(loss.detach()) & (self.iteration < 0)
        self.iteration = self.iteration.masked_fill(new, it)
        self.loss = torch.where(new, loss.detach().float(), self.loss)

    def first(self, opt):
        """(iteration, loss) of the first non-finite loss on any rank, or None: one sync."""
        if true_on_all_ranks(self.iteration < 0, opt):
            return None
        return int(self.iteration.item()), float(self.loss.item())


class Trainer:
    def __init__(self, opt, model, optimizer=None):
        self.opt, self.model, self.optimizer = opt, model, optimizer
        self.loss = PoseLoss(opt.weight_3d, opt.weight_var)
        self.amp = uses_autocast(opt.amp, opt.device)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        # NHWC tensors: faster convolutions on tensor cores (AMP) and with oneDNN on CPUs
        # (scripts/bench.py on 2 CPU cores: 1.35x for a training step, 1.24x for testing).
        self.memory_format = torch.channels_last
        self.model.to(opt.device, memory_format=self.memory_format)
        self.quiet = not is_main(opt)
        self.epoch, self.best = 0, None  # epochs done; the best --metric of validation so far
        self.last = os.path.join(opt.save_dir, "model_last.pth")

    def state_dict(self):
        """What ``--resume`` needs besides the weights, as ``model_last.pth`` stores it: the epochs
        done, the optimizer (Adam's moments, the learning rate), the best validation figure and the
        AMP loss scale."""
        return {
            "epoch": self.epoch,
            "optimizer": self.optimizer.state_dict(),
            "best": self.best,
            "scaler": self.scaler.state_dict() if self.amp else None,
            **self.model_record(),
        }

    def model_record(self):
        """What a checkpoint records about the network beside its weights (the temporal model's
        settings); the frame model records nothing."""
        return {}

    def load_state_dict(self, state):
        """The inverse of ``state_dict`` (the optimizer's tensors go to the parameters' device)."""
        self.epoch, self.best = state["epoch"], state.get("best")
        if state.get("optimizer"):
            self.optimizer.load_state_dict(state["optimizer"])
        if self.amp and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])

    def resume_or_load(self, resume):
        """With ``resume``: the weights (strictly) and the state of ``model_last.pth``; else the
        weights of ``--load_model`` when given (output heads may differ), or nothing."""
        if resume:
            if not os.path.isfile(self.last):
                raise UserError(
                    f"--resume: nothing to resume, {self.last} does not exist (train without --resume first, "
                    f"or check --exp_id)"
                )
            epoch, optimizer = load_weights(self.model, self.last, strict=True)
            self.load_state_dict({**read_training_state(self.last), "epoch": epoch, "optimizer": optimizer})
        elif self.opt.load_model:  # read whole into memory: it may lie in the run's folder
            load_weights(self.model, self.opt.load_model, strict=False)

    def save(self, path, resumable=False):
        """A checkpoint of the weights after ``self.epoch`` epochs (``resumable``: with ``state_dict``),
        written by rank 0."""
        if not is_main(self.opt):
            return
        state = self.state_dict() if resumable else {"epoch": self.epoch, **self.model_record()}
        try:
            save_checkpoint(path, self.model, **state)
        except UserError as exc:
            raise UserError(
                f"{exc}; training stopped in epoch {self.epoch} (--resume continues from "
                f"model_last.pth once the problem is fixed)"
            ) from None

    def fit(self, train_loader, val_set, logger):
        """Train from epoch ``self.epoch + 1`` to ``--num_epoch``, validating every
        ``--val_intervals`` epochs and at the end; each epoch ends with its log line and its
        checkpoints."""
        opt = self.opt
        self.model = distributed.wrap_model(self.model, opt)
        self._set_learning_rate()
        for epoch in range(self.epoch + 1, opt.num_epoch + 1):
            # Each epoch's randomness (shuffle, augmentation, worker seeds) depends only on the seed
            # and the epoch, so a resumed run repeats an uninterrupted one exactly.
            # Ranks augment differently (rank 0 is the single-process run).
            seed_everything(opt.seed + epoch + 7919 * opt.rank)
            for epoch_aware in (train_loader.dataset, train_loader.sampler):
                if hasattr(epoch_aware, "set_epoch"):
                    epoch_aware.set_epoch(epoch)
            try:
                stats = self.train_epoch(train_loader, epoch)
            except TrainingDiverged as exc:
                logger.write(f"stopped: {exc}")
                raise
            lr = self.optimizer.param_groups[0]["lr"]
            logger.scalars("train", {**stats, "lr": lr}, epoch)
            line = f"epoch {epoch} | lr {lr:.3g} | train " + " | ".join(f"{k} {v:.4g}" for k, v in stats.items())
            new_best = False
            if epoch % opt.val_intervals == 0 or epoch == opt.num_epoch:
                text, new_best = self.validate(epoch, val_set, logger)
                line += text
            self.epoch = epoch
            logger.write(line)
            # Saved only now, after the epoch's validation and logs: model_last.pth is the commit
            # point. A run killed before it resumes by redoing this whole epoch (its logs are dropped
            # then), so no validation, best model or log line is ever skipped.
            if new_best:
                self.save(os.path.join(opt.save_dir, "model_best.pth"))
            if opt.save_all_models:
                self.save(os.path.join(opt.save_dir, f"model_{epoch}.pth"))
            self.save(self.last, resumable=True)  # every epoch (also with --save_all_models) so --resume works
            if not self.quiet:
                print(line, flush=True)
            self._set_learning_rate()

    def _set_learning_rate(self):
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate(self.opt, self.epoch)

    def validate(self, epoch, val_set, logger):
        """Validation after ``epoch`` (with the loss): its figures for the log line, and whether
        ``--metric`` is the best so far (then kept in ``self.best``)."""
        summary = self.validation_summary(epoch, val_set)
        logger.scalars("val", {k: v for k, v in summary.items() if isinstance(v, float)}, epoch)
        text = f" | val {format_summary(summary)}"
        value = summary.get(self.opt.metric)
        if value is None or not is_better(self.opt.metric, value, self.best):
            return text, False
        self.best = value
        return f"{text} | new best {self.opt.metric}", True

    def validation_summary(self, epoch, val_set):
        """The figures of validation after ``epoch``, with the loss (``evaluate.predict_and_score``)."""
        predict = functools.partial(self.predict, phase="val", with_loss=True, epoch=epoch)
        return predict_and_score(self.opt, predict, val_set)[0]

    def forward(self, images, model=None):
        return network_forward(model or self.model, images, self.memory_format, self.amp)

    def train_epoch(self, loader, epoch):
        """One pass over ``loader``; returns the mean loss parts. Stops on a non-finite loss.

        The loss parts are summed on the device and read, with the finiteness check, every
        ``--print_iter`` iterations (every REPORT_EVERY under the progress bar) and at the end: a
        step does not wait for the device. A non-finite loss stops the run at the next check
        (nothing is saved in between). With --amp, a step whose fp16 gradients overflow is skipped
        by the GradScaler, which lowers its scale; the loss is finite, so the run goes on.
        """
        self.model.train()
        sums, non_finite, start = _Sums(), _NonFinite(self.opt.device), time.time()
        every = self.opt.print_iter if self.opt.print_iter > 0 else REPORT_EVERY
        bar = ProgressBar.for_run(self.opt, "train", len(loader), epoch, self.quiet)
        for it, batch in enumerate(loader):
            batch = to_device(batch, self.opt.device)
            output = self.forward(batch["input"])
            loss, stats = self.loss(output, batch)
            non_finite.add(loss, it + 1)
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            sums.add(stats, len(batch["input"]))
            if (it + 1) % every == 0 or it + 1 == len(loader):
                first = non_finite.first(self.opt)
                if first is not None:
                    bar.finish()
                    raise TrainingDiverged(
                        f"the loss became {first[1]} at epoch {epoch}, iteration {first[0]}; "
                        f"the last good checkpoint is kept (try a lower --lr)"
                    )
                if not self.quiet:  # fresh loss figures under the bar or in the next line
                    bar.status = " | ".join(f"{k} {v:.4g}" for k, v in sums.means().items())
            bar.advance(it)
        bar.finish()
        stats = mean_over_ranks(sums.means(), self.opt)
        stats["time"] = time.time() - start
        return stats

    @torch.no_grad()
    def predict(self, loader, phase="val", with_loss=False, epoch=None):
        """``inference.predict_dataset`` with this trainer's forward (with the flip test unless
        --no_flip_test); ``loss`` holds, with ``with_loss`` (validation during training), the
        loss parts of the un-flipped pass, else nothing (``--test`` copies only the inputs to
        the device)."""
        self.model.eval()
        model = getattr(self.model, "module", self.model)  # no DDP collectives for inference
        sums = _Sums()

        def add_loss(plain, batch):
            labels = to_device(batch, self.opt.device, BATCH_KEYS[1:])
            sums.add(self.loss(plain, labels)[1], len(batch["input"]))

        bar = ProgressBar.for_run(self.opt, phase, len(loader), epoch, self.quiet)
        result = predict_dataset(
            lambda x: self.forward(x, model),
            loader,
            self.opt.device,
            self.opt.flip_test,
            on_plain=add_loss if with_loss else None,
            progress=bar.advance,
            monitor=accuracy_monitor,
        )
        bar.finish()
        result["loss"] = sums.means()
        return result
