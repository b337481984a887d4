"""``diffclust report``: comparison tables of one or more runs, in md, LaTeX, CSV, HTML or JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from diffclust.cli import app, err


def split_names(values: list[str] | None) -> list[str]:
    """``-m a -m b,c`` → ``[a, b, c]``."""
    return [part.strip() for value in values or [] for part in value.split(",") if part.strip()]


def print_notes(notes: list[str]) -> None:
    for note in notes:
        err.print(f"[yellow]note:[/] {note}", highlight=False, soft_wrap=True)


def write_text(text: str, output: Path | None) -> None:
    """To ``output`` (its folder made if needed), or to stdout."""
    if output is None:
        print(text, end="" if text.endswith("\n") else "\n")
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    err.print(f"wrote {output}", highlight=False, soft_wrap=True)


@app.command()
def report(
    run_dirs: Annotated[Optional[list[Path]], typer.Argument(help="Run folders, merged into one table (default: the latest under results/).")] = None,
    fmt: Annotated[Optional[str], typer.Option("--format", "-f", help="md, latex, csv, html (self-contained page with figures) or json (pytest-benchmark). Default: from -o's suffix, else md.")] = None,
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="Write to this file instead of stdout.")] = None,
    metric: Annotated[Optional[list[str]], typer.Option("--metric", "-m", help="Metric column(s); repeat or comma-separate. For json: the timing exported (default wall_s).")] = None,
    rows: Annotated[Optional[list[str]], typer.Option("--rows", help="Dimension(s) in the rows: backend, dataset, n, d, k, device, run, a p_dataset_*/p_backend_* column. Default: dataset,backend.")] = None,
    cols: Annotated[Optional[list[str]], typer.Option("--cols", help="Dimension(s) in the columns, beside the metric (e.g. dataset).")] = None,
    agg: Annotated[str, typer.Option("--agg", help="How seeds aggregate: mean-std or median-iqr.")] = "mean-std",
    compare: Annotated[str, typer.Option("--compare", help="The dimension whose values compete for bold and the mark (backend), or none.")] = "backend",
    test: Annotated[str, typer.Option("--test", help="Paired test behind the mark: wilcoxon, bootstrap or none.")] = "wilcoxon",
    alpha: Annotated[float, typer.Option("--alpha", help="Significance level of the paired test.")] = 0.05,
) -> None:
    """Comparison table of one or more runs: seeds aggregated, best bold, significance marked."""
    from diffclust.reporting.export import choose_format, render_report
    from diffclust.reporting.runs import load_runs
    from diffclust.reporting.tables import DEFAULT_ROWS
    from diffclust.results import find_latest_run

    fmt = choose_format(fmt, output)
    row_dims, col_dims = split_names(rows) or list(DEFAULT_ROWS), split_names(cols)
    runs = load_runs(run_dirs or [find_latest_run()], keep_duplicates="run" in row_dims + col_dims)
    text, notes = render_report(runs, fmt, metrics=split_names(metric) or None, rows=row_dims, cols=col_dims,
                                agg=agg, compare=None if compare == "none" else compare, test=test, alpha=alpha)
    print_notes(notes)
    write_text(text, output)
