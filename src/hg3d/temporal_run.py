"""``hg3d-train --task temporal``: train the temporal model on pose sequences, or ``--test`` it.

Training goes through the frame model's ``Trainer`` (run folder, lock, logs, checkpoints,
``--resume``, the progress display); ``TemporalTrainer`` changes what a step computes, what
validation scores and what a checkpoint records (``TemporalModel.record``, checked on loading).
"""

import os

import torch

from .checkpoint import load_weights
from .errors import UserError
from .evaluate import format_summary
from .files import writable_dir, write_h5, write_json
from .logger import Logger
from .metrics import protocols
from .metrics.temporal import figure_protocols, score_sequences
from .run_folder import clear_run_dir, locked, trained_checkpoints
from .sequences import read_sequences
from .temporal import (
    TemporalLoss,
    TemporalModel,
    WindowBatches,
    frame_features,
    load_temporal_model,
    read_temporal_record,
)
from .trainer import Trainer, seed_everything


def checked_record(path, opt=None):
    """The ``TemporalModel.record`` of checkpoint ``path``; with ``opt``, it must match the flags."""
    record = read_temporal_record(path)
    if opt is not None:
        wanted = TemporalModel(opt.frames, opt.causal, opt.channels).record
        differ = [f"--{k} {record[k]} there, {wanted[k]} here" for k in wanted if record.get(k) != wanted[k]]
        if differ:
            raise UserError(f"checkpoint {path} is another temporal model ({'; '.join(differ)}): give the same flags")
    return record


def predict_sequences(model, sequences, device):
    """``{name: (T, 17, 3) mm}`` of ``model`` over each whole sequence."""
    return {seq.name: model.predict_sequence(frame_features(seq), device) for seq in sequences}


def scored(model, sequences, opt):
    """(summary with ``protocols``, arrays) of ``model`` on ``sequences``."""
    summary, arrays = score_sequences(sequences, predict_sequences(model, sequences, opt.device))
    summary["protocols"] = protocols.describe(figure_protocols(), summary, split="sequences", frame_step=1)
    return summary, arrays


class TemporalTrainer(Trainer):
    """``Trainer`` with the temporal model's step, validation and checkpoint record."""

    def __init__(self, opt, model, optimizer, val_sequences):
        super().__init__(opt, model, optimizer)
        self.loss = TemporalLoss(opt.weight_velocity)
        self.val_sequences = val_sequences

    def model_record(self):
        return {"temporal": getattr(self.model, "module", self.model).record}

    def forward(self, x, model=None):
        return (model or self.model)(x)[:, 0]

    def validation_summary(self, epoch, val_set):
        summary, _ = scored(getattr(self.model, "module", self.model), val_set, self.opt)
        summary.pop("protocols")
        return summary

    def resume_or_load(self, resume):
        """As the frame model's, after checking that the checkpoint is a temporal model of these
        flags; ``--load_model`` seeds only from the same network."""
        path = self.last if resume else self.opt.load_model
        if path and (os.path.isfile(path) or not resume):
            checked_record(path, self.opt)
        if resume or not self.opt.load_model:
            super().resume_or_load(resume)
        else:
            load_weights(self.model, path, strict=True)


def train(opt):
    """Train with validation in the run's folder (see ``train.train``: nothing there changes
    before the sequences and the starting weights have loaded)."""
    seed_everything(opt.seed)
    with locked(opt.save_dir):
        old_checkpoints = trained_checkpoints(opt)
        train_set = read_sequences(opt.sequences, "--sequences", need_gt=True)
        val_set = read_sequences(opt.val_sequences, "--val_sequences", need_gt=True)
        model = TemporalModel(opt.frames, opt.causal, opt.channels, opt.dropout)
        batches = WindowBatches(train_set, model, opt.batch_size, opt.flip, opt.input_noise_mm, opt.input_noise_px)
        trainer = TemporalTrainer(opt, model, torch.optim.Adam(model.parameters(), opt.lr), val_set)
        trainer.resume_or_load(opt.resume)
        clear_run_dir(opt, old_checkpoints)
        logger = Logger(opt, resume_epoch=trainer.epoch if opt.resume else None)
        frames = sum(len(s) for s in train_set)
        print(f"temporal model: {opt.frames} frames{' causal' if opt.causal else ''}; {frames} training frames")
        if batches.noise_std is not None:
            truth = sum(s.inputs_are_truth for s in train_set)
            print(
                f"{truth} of {len(train_set)} training sequences have ground-truth inputs: noise of "
                f"{opt.input_noise_px:g} px (2D) and {opt.input_noise_mm:g} mm (3D) is added to them"
            )
        trainer.fit(batches, val_set, logger)
        logger.close()
    print(f"training done: checkpoints and logs in {opt.save_dir}")


def test(opt):
    """Score ``--load_model`` on ``--sequences``: results.json and preds.h5 in the run's folder."""
    model = load_temporal_model(opt.load_model, opt.device)
    record = model.record
    sequences = read_sequences(opt.sequences, "--sequences", need_gt=True)
    summary, arrays = scored(model, sequences, opt)
    kind = f"temporal, {record['frames']} frames{', causal' if record['causal'] else ''}"
    summary.update(model=kind, checkpoint=os.path.abspath(opt.load_model), sequences=os.path.abspath(opt.sequences))
    write_json(os.path.join(opt.save_dir, "results.json"), summary)
    write_h5(os.path.join(opt.save_dir, "preds.h5"), arrays, {"checkpoint": summary["checkpoint"], "model": kind})
    print(protocols.format_figures(summary))
    print(f"test: {format_summary(summary)}; results in {opt.save_dir} (what each figure is: 'protocols' there)")
    return summary


def run(opt):
    """``--task temporal``: one process (the model is small; torchrun is not used)."""
    if opt.distributed:
        raise UserError("--task temporal runs in one process: start it without torchrun")
    writable_dir(opt.exp_dir, "--exp_dir")
    writable_dir(opt.save_dir, "--exp_id")
    return test(opt) if opt.test else train(opt)
