"""One epoch of training, and inference over a dataset with the flip test.

``Trainer.train_epoch`` runs the optimisation; ``Trainer.predict`` returns per-sample predictions
(2D in image pixels, 3D in crop units, PCK distances) that ``dataset.metrics`` turns into numbers.
"""

import time

import numpy as np
import torch
from progress.bar import Bar

from .distributed import is_main, mean_over_ranks, true_on_all_ranks
from .errors import UserError
from .evaluation import decode_2d, decode_3d, pck_distances_to_points
from .geometry import transform_preds
from .inference import flip_test_forward
from .losses import PoseLoss

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


def _bar(opt, phase, total):
    return Bar(f"{opt.task}/{opt.exp_id} {phase}", max=total)


class Trainer:
    def __init__(self, opt, model, optimizer=None):
        self.opt, self.model, self.optimizer = opt, model, optimizer
        self.loss = PoseLoss(opt.weight_3d, opt.weight_var)
        self.amp = bool(opt.amp) and opt.device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        # NHWC tensors: faster convolutions on tensor cores (AMP) and with oneDNN on CPUs
        # (scripts/bench.py on 2 CPU cores: 1.35x for a training step, 1.24x for testing).
        self.memory_format = torch.channels_last
        self.model.to(memory_format=self.memory_format)
        self.quiet = not is_main(opt)

    def forward(self, images, model=None):
        images = images.contiguous(memory_format=self.memory_format)
        with torch.autocast(self.opt.device.type, enabled=self.amp):
            output = (model or self.model)(images)[-1]
        return {k: v.float() for k, v in output.items()}

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
        bar = _bar(self.opt, f"train {epoch}", len(loader))
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
                self._report(bar, it, len(loader), start, sums.means())
            else:
                self._advance(bar, it, len(loader))
        bar.finish()
        stats = mean_over_ranks(sums.means(), self.opt)
        stats["time"] = time.time() - start
        return stats

    def _report(self, bar, it, total, start, means):
        """A line every --print_iter iterations, or the progress bar with fresh loss figures."""
        if self.quiet:
            return
        parts = " | ".join(f"{k} {v:.4g}" for k, v in means.items())
        if self.opt.print_iter > 0:
            if (it + 1) % self.opt.print_iter == 0:
                print(f"[{it + 1}/{total}] {parts}", flush=True)
            return
        bar.loss_parts = parts
        self._advance(bar, it, total)

    def _advance(self, bar, it, total):
        """Move the progress bar on, with the loss figures of the last report."""
        if self.quiet or self.opt.print_iter > 0:
            return
        bar.suffix = (
            f"[{it + 1}/{total}] | Tot: {bar.elapsed_td} | ETA: {bar.eta_td} | {getattr(bar, 'loss_parts', '')}"
        )
        bar.next()

    @torch.no_grad()
    def infer(self, inputs):
        """Network maps of a batch: (plain, merged), merged with the flip test when it is on."""
        model = getattr(self.model, "module", self.model)  # no DDP collectives for inference
        return flip_test_forward(lambda x: self.forward(x, model), inputs, self.opt.flip_test)

    @torch.no_grad()
    def predict(self, loader, phase="val", with_loss=False):
        """Run the model over ``loader`` (with the flip test unless --no_flip_test).

        Returns a dict of per-sample arrays: ``index``, ``pred_2d`` (J, 2) image pixels,
        ``pred_3d`` (J, 3) crop units relative to the pelvis (3D task), ``gt_3d``, ``center``,
        ``scale``, ``pck_dist`` (against the labels' heatmap coordinates ``pts_crop``), and
        ``loss``: with ``with_loss`` (validation during training) the loss parts of the un-flipped
        pass, else empty (``--test`` copies only the inputs to the device).
        """
        self.model.eval()
        parts, sums = [], _Sums()
        bar = _bar(self.opt, phase, len(loader))
        for it, batch in enumerate(loader):
            inputs = batch["input"].to(self.opt.device, non_blocking=True)
            plain, merged = self.infer(inputs)
            if with_loss:
                labels = to_device(batch, self.opt.device, BATCH_KEYS[1:])
                sums.add(self.loss(plain, labels)[1], len(inputs))
            parts.append(self._sample_predictions(merged, batch))
            self._advance(bar, it, len(loader))
        bar.finish()
        result = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]} if parts else {}
        result["loss"] = sums.means()
        return result

    def _sample_predictions(self, output, batch):
        hm = output["hm"]
        coords = decode_2d(hm).cpu().numpy()
        centers, scales = batch["center"].numpy(), batch["scale"].numpy()
        out_size = (hm.shape[3], hm.shape[2])
        pred_2d = np.stack([transform_preds(coords[i], centers[i], scales[i], out_size) for i in range(len(coords))])
        part = {
            "index": batch["index"].numpy(),
            "pred_2d": pred_2d.astype(np.float32),
            "gt_3d": batch["gt_3d"].numpy(),
            "center": centers,
            "scale": scales,
            "pck_dist": pck_distances_to_points(hm, batch["pts_crop"].to(hm.device)),
            "maxval": hm.flatten(2).amax(-1).cpu().numpy(),
        }
        if "depth" in output:
            part["pred_3d"] = decode_3d(hm, output["depth"]).cpu().numpy()
        return part
