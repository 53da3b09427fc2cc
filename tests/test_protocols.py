"""The protocol table: every figure a benchmark declares names a defined protocol, and the
evaluation page explains every protocol and figure by the same names."""

import os
import re

from helpers import REPO_DIR
from hg3d import metrics
from hg3d.metrics.protocols import PROTOCOLS, SCALE_RULES, UNIT_DECIMALS

EVALUATION_PAGE = os.path.join(REPO_DIR, "docs", "evaluation.md")


def declared_figures():
    """(benchmark, figure, protocol) of every declaration, 3DHP under both --mpi_scale modes."""
    for name, benchmark in metrics.BENCHMARKS.items():
        for scale in ("gt_bones", "h36m"):
            for figure, protocol in benchmark.figures({"scale": scale}).items():
                yield name, figure, protocol


def test_every_declared_figure_names_a_defined_protocol():
    undefined = {(name, figure, protocol) for name, figure, protocol in declared_figures() if protocol not in PROTOCOLS}
    assert not undefined
    for name, protocol in PROTOCOLS.items():
        assert protocol.scale in SCALE_RULES and protocol.units in UNIT_DECIMALS, name


def test_the_evaluation_page_explains_every_protocol_and_figure_by_name():
    with open(EVALUATION_PAGE, encoding="utf-8") as f:
        section = f.read().split("## Protocols: what each figure is", 1)[1]
    named = set(re.findall(r"`([a-z0-9_]+)`", section))
    assert set(PROTOCOLS) <= named
    assert {figure for _, figure, _ in declared_figures()} <= named
    assert set(SCALE_RULES) <= named
