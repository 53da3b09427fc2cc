"""One epoch of training, and inference over a dataset with the flip test.

``Trainer.train_epoch`` runs the optimisation; ``Trainer.predict`` returns per-sample predictions
(2D in image pixels, 3D in crop units, PCK distances) that ``dataset.metrics`` turns into numbers.
"""
import time

import numpy as np
import torch
from progress.bar import Bar

from .distributed import all_finite, is_main, mean_over_ranks
from .errors import UserError
from .evaluation import decode_2d, decode_3d, pck_distances
from .geometry import transform_preds
from .inference import flip_test_forward
from .losses import PoseLoss

BATCH_KEYS = ("input", "target", "reg_target", "reg_ind", "reg_mask", "pts_crop")


class TrainingDiverged(UserError):
    """The loss became NaN or infinite."""


def learning_rate(opt, epoch):
    """LR in force after ``epoch`` epochs: base * 0.1^(number of lr_step entries <= epoch)."""
    return opt.lr * 0.1 ** sum(1 for step in opt.lr_step if step <= epoch)


def to_device(batch, device):
    return {k: batch[k].to(device, non_blocking=True) for k in BATCH_KEYS if k in batch}


class _Average:
    """Running means of named numbers, weighted by batch size."""

    def __init__(self):
        self.sums, self.count = {}, 0

    def add(self, values, n):
        for key, value in values.items():
            self.sums[key] = self.sums.get(key, 0.0) + float(value) * n
        self.count += n

    def means(self):
        return {k: v / max(self.count, 1) for k, v in self.sums.items()}


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
        """One pass over ``loader``; returns the mean loss parts. Stops on a non-finite loss."""
        self.model.train()
        average, start = _Average(), time.time()
        bar = _bar(self.opt, f"train {epoch}", len(loader))
        for it, batch in enumerate(loader):
            batch = to_device(batch, self.opt.device)
            output = self.forward(batch["input"])
            loss, stats = self.loss(output, batch)
            if not all_finite(loss, self.opt):
                bar.finish()
                raise TrainingDiverged(
                    f"the loss became {loss.item()} at epoch {epoch}, iteration {it + 1}; "
                    f"the last good checkpoint is kept (try a lower --lr)")
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            average.add({k: v.item() for k, v in stats.items()}, len(batch["input"]))
            self._report(bar, it, len(loader), start, average.means())
        bar.finish()
        stats = mean_over_ranks(average.means(), self.opt)
        stats["time"] = time.time() - start
        return stats

    def _report(self, bar, it, total, start, means):
        if self.quiet:
            return
        parts = " | ".join(f"{k} {v:.4g}" for k, v in means.items())
        if self.opt.print_iter > 0:
            if (it + 1) % self.opt.print_iter == 0:
                print(f"[{it + 1}/{total}] {parts}", flush=True)
            return
        bar.suffix = f"[{it + 1}/{total}] | Tot: {bar.elapsed_td} | ETA: {bar.eta_td} | {parts}"
        bar.next()

    @torch.no_grad()
    def infer(self, inputs):
        """Network maps of a batch: (plain, merged), merged with the flip test when it is on."""
        model = getattr(self.model, "module", self.model)  # no DDP collectives for inference
        return flip_test_forward(lambda x: self.forward(x, model), inputs, self.opt.flip_test)

    @torch.no_grad()
    def predict(self, loader, phase="val"):
        """Run the model over ``loader`` (with the flip test unless --no_flip_test).

        Returns a dict of per-sample arrays: ``index``, ``pred_2d`` (J, 2) image pixels,
        ``pred_3d`` (J, 3) crop units relative to the pelvis (3D task), ``gt_3d``, ``center``,
        ``scale``, ``pck_dist``, plus ``loss`` stats of the un-flipped pass.
        """
        self.model.eval()
        parts, average, start = [], _Average(), time.time()
        bar = _bar(self.opt, phase, len(loader))
        for it, batch in enumerate(loader):
            inputs = batch["input"].to(self.opt.device, non_blocking=True)
            n = len(inputs)
            plain, merged = self.infer(inputs)
            device_batch = to_device(batch, self.opt.device)
            _, stats = self.loss(plain, device_batch)
            average.add({k: v.item() for k, v in stats.items()}, n)
            parts.append(self._sample_predictions(merged, batch, device_batch))
            self._report(bar, it, len(loader), start, average.means())
        bar.finish()
        result = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]} if parts else {}
        result["loss"] = average.means()
        return result

    def _sample_predictions(self, output, batch, device_batch):
        hm = output["hm"]
        coords = decode_2d(hm).cpu().numpy()
        centers, scales = batch["center"].numpy(), batch["scale"].numpy()
        out_size = (hm.shape[3], hm.shape[2])
        pred_2d = np.stack([transform_preds(coords[i], centers[i], scales[i], out_size)
                            for i in range(len(coords))])
        part = {
            "index": batch["index"].numpy(),
            "pred_2d": pred_2d.astype(np.float32),
            "gt_3d": batch["gt_3d"].numpy(),
            "center": centers,
            "scale": scales,
            "pck_dist": pck_distances(hm, device_batch["target"]),
            "maxval": hm.flatten(2).amax(-1).cpu().numpy(),
        }
        if "depth" in output:
            part["pred_3d"] = decode_3d(hm, output["depth"]).cpu().numpy()
        return part
