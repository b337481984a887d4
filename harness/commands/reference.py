"""``diffclust reference``: run the quick suite and write the committed reference report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from diffclust.cli import app, err
from diffclust.commands.report import print_notes


@app.command()
def reference(
    suite: Annotated[str, typer.Option("--suite", help="The suite to run: a shipped name or a TOML file.")] = "quick",
    out_dir: Annotated[Path, typer.Option("--out", help="Where the reference report goes (replaced as a whole).")] = Path("results/reference"),
    from_run: Annotated[Optional[Path], typer.Option("--from-run", help="Use this finished run instead of running the suite.")] = None,
    executor: Annotated[str, typer.Option("--executor", help="Executor for the run.")] = "local",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Run the quick suite and write tables, figures and environment.json into results/reference/."""
    from diffclust.errors import DiffclustError
    from diffclust.reporting.reference import write_reference
    from diffclust.runner import run_suite
    from diffclust.suite import load_suite

    if from_run is None:
        summary = run_suite(load_suite(suite), executor=executor, show_progress=not quiet)
        err.print(f"{summary.line()} → {summary.run_dir}", highlight=False, soft_wrap=True)
        if summary.data_errors:
            raise DiffclustError("the run hit data errors, so the reference was left as it was: " + "; ".join(summary.data_errors))
        run_dir = summary.run_dir
    else:
        run_dir = from_run
    command = "diffclust reference" + (f" --suite {suite}" if suite != "quick" else "")
    written, notes = write_reference(run_dir, out_dir, command=command)
    print_notes(notes)
    size = sum(p.stat().st_size for p in written)
    err.print(f"wrote {len(written)} files ({size / 2**20:.1f} MB) to {out_dir}", highlight=False, soft_wrap=True)
