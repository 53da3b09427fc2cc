"""Scoring predictions: one module per benchmark, the shared maths in ``core``.

A dataset names its benchmark (``dataset.benchmark``) and hands over the labels of the samples
predicted (``dataset.labels(index)``); ``score`` looks the benchmark up here and returns the
summary (results.json) and the per-sample arrays (preds.h5). Nothing here reads a dataset's files.
"""

from . import h36m, mpi_inf_3dhp, mpii, threedpw
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
    on ``dataset``'s benchmark, against the labels of the samples they name."""
    return benchmark_of(dataset).score(predictions, dataset.labels(predictions["index"]))
