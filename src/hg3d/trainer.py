"""One epoch of training, and validation with the loss.

``Trainer.train_epoch`` runs the optimisation; ``Trainer.predict`` is ``inference.predict_dataset``
with the training forward (autocast, DDP) and, for validation, the loss of the un-flipped pass.
"""

import time

import torch

from .distributed import is_main, mean_over_ranks, true_on_all_ranks
from .errors import UserError
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
        self.model.to(memory_format=self.memory_format)
        self.quiet = not is_main(opt)

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
        bar = ProgressBar.for_run(self.opt, f"train {epoch}", len(loader), self.quiet)
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
                self._report(bar, it, len(loader), sums.means())
            else:
                bar.advance(it)
        bar.finish()
        stats = mean_over_ranks(sums.means(), self.opt)
        stats["time"] = time.time() - start
        return stats

    def _report(self, bar, it, total, means):
        """A line every --print_iter iterations, or the progress bar with fresh loss figures."""
        if self.quiet:
            return
        parts = " | ".join(f"{k} {v:.4g}" for k, v in means.items())
        if self.opt.print_iter > 0:
            if (it + 1) % self.opt.print_iter == 0:
                print(f"[{it + 1}/{total}] {parts}", flush=True)
            return
        bar.status = parts
        bar.advance(it)

    @torch.no_grad()
    def predict(self, loader, phase="val", with_loss=False):
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

        bar = ProgressBar.for_run(self.opt, phase, len(loader), self.quiet)
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
