"""A report in one of its formats, chosen by name or by the output file's suffix."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from diffclust.errors import DiffclustError
from diffclust.reporting.metricinfo import TIME_METRICS
from diffclust.reporting.runs import Runs
from diffclust.reporting.scaling import render_scaling_table, scaling_table
from diffclust.reporting.tables import DEFAULT_METRICS, DEFAULT_ROWS, build_table, render

FORMATS = ("md", "latex", "csv", "html", "json")
SUFFIXES = {".md": "md", ".markdown": "md", ".tex": "latex", ".csv": "csv", ".html": "html", ".htm": "html", ".json": "json"}


def choose_format(fmt: str | None, output: Path | None) -> str:
    """``fmt`` if given, else the one ``output``'s suffix names, else Markdown."""
    if fmt is None:
        return SUFFIXES.get(output.suffix.lower(), "md") if output else "md"
    if fmt not in FORMATS:
        raise DiffclustError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}.")
    return fmt


def render_report(
    runs: Runs,
    fmt: str,
    *,
    metrics: Sequence[str] | None = None,
    rows: Sequence[str] = DEFAULT_ROWS,
    cols: Sequence[str] = (),
    agg: str = "mean-std",
    compare: str | None = "backend",
    test: str = "wilcoxon",
    alpha: float = 0.05,
) -> tuple[str, list[str]]:
    """The report as text, and notes for the user (merged duplicates, added rows, skipped figures).

    ``json`` is the pytest-benchmark export of the first metric (default ``wall_s``);
    ``html`` is the self-contained page with the table and every figure the runs allow.
    """
    if fmt == "json":
        from diffclust.reporting.benchmark_json import benchmark_json

        document = benchmark_json(runs, metric=(metrics or ["wall_s"])[0])
        notes = [f"{len(document['diffclust']['failed'])} cell(s) with no successful seed are listed under diffclust.failed, "
                 "not as benchmarks."] if document["diffclust"]["failed"] else []
        return json.dumps(document, indent=2, default=str) + "\n", [*runs.notes, *notes]
    table = build_table(runs.results, metrics or DEFAULT_METRICS, rows, cols, agg, compare, test, alpha)
    notes = [*runs.notes, *table.notes]
    if fmt == "csv":
        return render(table, fmt), notes  # one table per CSV file; the exponents are in md, latex and html
    scaling = scaling_table(runs.results, scaling_metric(metrics), agg)
    if fmt == "html":
        from diffclust.reporting.figures import make_figures
        from diffclust.reporting.html import html_report

        figures, skipped = make_figures(runs, agg=agg)
        return html_report(runs, table, figures, skipped, scaling=scaling), notes
    text = render(table, fmt)
    extra = render_scaling_table(scaling, fmt)
    return (f"{text}\n{extra}" if extra else text), notes


def scaling_metric(metrics: Sequence[str] | None) -> str:
    """The time the exponents are fitted to: the first metric asked for when it is a time,
    else ``wall_s`` (as the scaling figure)."""
    first = (metrics or ["wall_s"])[0]
    return first if first in TIME_METRICS else "wall_s"
