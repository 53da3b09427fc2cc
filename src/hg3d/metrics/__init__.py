"""Scoring predictions: one module per benchmark, the shared maths in ``core``, and what each
figure is in ``protocols``.

A dataset names its benchmark (``dataset.benchmark``) and hands over the labels of the samples
predicted (``dataset.labels(index)``); ``score`` looks the benchmark up here and returns the
summary (results.json, with the ``protocols`` of its figures) and the per-sample arrays
(preds.h5). Nothing here reads a dataset's files.
"""

from . import h36m, mpi_inf_3dhp, mpii, protocols, threedpw
from .core import Benchmark

BENCHMARKS = {
    "h36m": h36m.BENCHMARK,
    "mpii": mpii.BENCHMARK,
    "threedpw": threedpw.BENCHMARK,
    "mpi_inf_3dhp": mpi_inf_3dhp.BENCHMARK,
}

__all__ = ["BENCHMARKS", "Benchmark", "benchmark_of", "score"]


def benchmark_of(dataset):
    """The ``Benchmark`` that scores ``dataset``."""
    return BENCHMARKS[dataset.benchmark]


def score(dataset, predictions):
    """(summary, arrays) of ``predictions`` (``inference.predict_dataset``'s per-sample arrays)
    on ``dataset``'s benchmark, against the labels of the samples they name. The summary's
    ``protocols`` describes each figure; its split is the benchmark's or the dataset's, its frame
    step the labels' ``frame_step`` or that of the evaluated sample indices."""
    benchmark = benchmark_of(dataset)
    labels = dataset.labels(predictions["index"])
    summary, arrays = benchmark.score(predictions, labels)
    summary["protocols"] = protocols.describe(
        benchmark.figures(summary),
        summary,
        split=summary.get("split", dataset.split),
        frame_step=labels.get("frame_step", protocols.sample_step(predictions["index"])),
    )
    return summary, arrays
