"""The comparison table printed after ``diffclust run``.

A thin front to :mod:`diffclust.reporting`, where tables, figures and exports live.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from diffclust.reporting import runs as _runs
from diffclust.reporting import tables as _tables
from diffclust.reporting.tables import DEFAULT_METRICS, DEFAULT_ROWS, ComparisonTable


def load_runs(run_dirs: Sequence[Path]) -> pd.DataFrame:
    """The rows of several runs as one frame, with rel_gap recomputed over all of them."""
    return _runs.load_runs(run_dirs).results


def comparison_table(frame: pd.DataFrame, metrics: Sequence[str] = DEFAULT_METRICS,
                     rows: Sequence[str] = DEFAULT_ROWS) -> ComparisonTable:
    """Seeds aggregated per (dataset, backend); see :func:`diffclust.reporting.tables.build_table`."""
    return _tables.build_table(frame, metrics, rows)


def render(table: ComparisonTable, fmt: str) -> str:
    """``table`` as md, latex, csv or html."""
    return _tables.render(table, fmt)


__all__ = ["DEFAULT_METRICS", "comparison_table", "load_runs", "render"]
