"""``diffclust plot``: the figures of one or more runs, as PNG and SVG."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from diffclust.cli import app, err
from diffclust.commands.report import print_notes, split_names


@app.command()
def plot(
    run_dirs: Annotated[Optional[list[Path]], typer.Argument(help="Run folders, merged (default: the latest under results/).")] = None,
    out_dir: Annotated[Optional[Path], typer.Option("-o", "--out", help="Folder for the figures (default: <first run>/figures).")] = None,
    figure: Annotated[Optional[list[str]], typer.Option("--figure", help="scaling, convergence, quality, profile; repeat or comma-separate (default: all).")] = None,
    fmt: Annotated[Optional[list[str]], typer.Option("--format", "-f", help="png and/or svg (default: both).")] = None,
    agg: Annotated[str, typer.Option("--agg", help="Centre and error bars over seeds: mean-std or median-iqr.")] = "mean-std",
    time_metric: Annotated[str, typer.Option("--time-metric", help="Timing for the scaling plot and the performance profile.")] = "wall_s",
) -> None:
    """Figures: time vs n (log-log, fitted exponent), convergence, quality, performance profile."""
    from diffclust.reporting.figures import FIGURES, FORMATS, make_figures, save_figures
    from diffclust.reporting.runs import load_runs
    from diffclust.results import find_latest_run

    dirs = run_dirs or [find_latest_run()]
    runs = load_runs(dirs)
    figures, skipped = make_figures(runs, agg=agg, time_metric=time_metric, which=split_names(figure) or FIGURES)
    print_notes([*runs.notes, *(f"no {name} figure: {reason}." for name, reason in skipped.items())])
    written = save_figures(figures, out_dir or Path(dirs[0]) / "figures", split_names(fmt) or FORMATS)
    for path in written:
        err.print(f"wrote {path}", highlight=False, soft_wrap=True)
