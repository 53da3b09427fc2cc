"""``hg3d-train --test``: predict over a dataset, score it on its benchmark, write the results.

``predict_and_score`` is also the validation of training (``Trainer.fit``), with the trainer's
predictor; ``build_loader`` makes the DataLoaders of both.
"""

import os

import torch

from . import distributed, metrics
from .checkpoint import load_model
from .datasets import get_dataset
from .errors import UserError
from .files import write_h5, write_json, write_mat
from .inference import network_forward, predict_dataset, uses_autocast
from .monitor import accuracy_monitor
from .progress import ProgressBar
from .sequences import frame_model_sequences, write_sequences


def build_loader(opt, dataset, train):
    """The DataLoader of training (shuffled, whole batches) or of evaluation, sharded over ranks."""
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


def predict_and_score(opt, predict, dataset):
    """Predict over ``dataset`` with ``predict(loader)`` and score it on its benchmark; returns
    (summary, per-sample arrays). ``predict``: the trainer's, with the loss, during training;
    ``test_predictor``'s for --test (no loss)."""
    loader = build_loader(opt, dataset, train=False)
    result = distributed.gather_predictions(predict(loader), opt)
    summary, arrays = metrics.score(dataset, result)
    if result["loss"]:
        summary["loss"] = result["loss"].get("loss")
    summary["autocast"] = uses_autocast(opt.amp, opt.device)  # whether the network ran in mixed precision
    return summary, arrays


# The figures of the one-line summary, by their results.json names (``protocols`` there says what each is).
SUMMARY_FIGURES = (
    *("mpjpe", "n_mpjpe", "pa_mpjpe", "mpjve", "accel_error", "mpjpe_14", "pa_mpjpe_14"),
    *("pck", "auc", "pckh", "acc", "loss"),
)


def format_summary(summary):
    keys = [k for k in SUMMARY_FIGURES if summary.get(k) is not None]
    return " | ".join(f"{k} {summary[k]:.4f}" for k in keys) + f" | {summary['num_samples']} samples"


def test_predictor(opt, model):
    """``predict(loader)`` of --test: the model on ``opt.device`` through the predictor of
    ``inference`` (no trainer), with a progress display on rank 0."""
    model.to(opt.device, memory_format=torch.channels_last).eval()
    autocast = uses_autocast(opt.amp, opt.device)

    def predict(loader):
        bar = ProgressBar.for_run(opt, "test", len(loader), quiet=not distributed.is_main(opt))
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
    videos = dataset.videos() if opt.save_sequences else None  # before predicting: a cache without videos fails now
    model = load_model(opt.load_model, opt.arch, opt.task, log=print)
    summary, arrays = predict_and_score(opt, test_predictor(opt, model), dataset)
    if not distributed.is_main(opt):  # every rank predicted its shard; rank 0 writes
        return summary
    summary.setdefault("split", dataset.split)
    summary.update(
        dataset=opt.dataset,
        checkpoint=os.path.abspath(opt.load_model),
        flip_test=opt.flip_test,
        full_test=opt.full_test,
    )
    write_results(opt, dataset, summary, arrays)
    print(f"test: {format_summary(summary)}; results in {opt.save_dir} (what each figure is: 'protocols' there)")
    if videos is not None:
        write_sequences(opt.save_sequences, frame_model_sequences(videos, arrays))
        print(f"sequences: {len(videos)} videos, {summary['num_samples']} frames written to {opt.save_sequences}")
    return summary


def write_results(opt, dataset, summary, arrays):
    """results.json, preds.h5 and the benchmark's own files in the run's folder; the benchmark's
    report is printed."""
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
