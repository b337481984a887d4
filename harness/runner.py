"""Running a suite: expand it into cells, hand them to an executor, persist every row."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from diffclust import environment
from diffclust.executors import DEFAULT_EXECUTOR, make_executor
from diffclust.metrics import with_relative_gap
from diffclust.registry import get_registry
from diffclust.results import RESULTS_FILE, RunStore, new_run_id, to_frame, write_parquet_atomic
from diffclust.suite import Cell, Suite, expand


@dataclass
class RunSummary:
    """What a call of :func:`run_suite` did."""

    run_dir: Path
    counts: Counter = field(default_factory=Counter)
    skipped: int = 0
    wall_s: float = 0.0
    fit_s: float = 0.0
    data_errors: list[str] = field(default_factory=list)
    #: Statuses of every row in the run folder, those of earlier sessions included.
    run_counts: Counter = field(default_factory=Counter)
    interrupted: bool = False

    @property
    def failed(self) -> int:
        """Cells of this session that did not end ``ok`` (``unavailable`` is no failure)."""
        return _failed(self.counts)

    @property
    def failed_in_run(self) -> int:
        """Failed rows in the whole run folder (what ``--strict`` looks at)."""
        return _failed(self.run_counts)

    def line(self) -> str:
        parts = [f"{self.counts.get(s, 0)} {s}" for s in ("ok", "error", "timeout", "crashed", "invalid", "unavailable") if self.counts.get(s)]
        resumed = f", {self.skipped} already done" if self.skipped else ""
        return f"{sum(self.counts.values())} cells: {', '.join(parts) or 'none'}{resumed} in {self.wall_s:.1f} s"


def _failed(counts: Counter) -> int:
    return sum(n for status, n in counts.items() if status not in ("ok", "unavailable"))


def _unique(cells: list[Cell]) -> list[Cell]:
    """The cells without repeats (``-b em -b em``): one row per cell key."""
    seen: set[str] = set()
    return [c for c in cells if not (c.key in seen or seen.add(c.key))]


def _counts_text(counts: Counter) -> str:
    return " ".join(f"{n} {status}" for status, n in counts.items())


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def run_suite(
    suite: Suite,
    *,
    out: Path | None = None,
    results_root: Path = Path("results"),
    executor: str = DEFAULT_EXECUTOR,
    executor_options: dict | None = None,
    resume: bool = False,
    plugins_dirs: tuple[str, ...] = (),
    console: Console | None = None,
    show_progress: bool = True,
) -> RunSummary:
    """Run every cell of ``suite`` (those not already in ``out`` when resuming).

    Each finished cell's row is on disk before the next cell is handed out (``local`` and
    ``process``; ``dask`` writes each as it finishes), so a run killed at any moment keeps
    every finished row, and ``resume=True`` runs only the missing cells.
    """
    console = console or Console(stderr=True)
    registry = get_registry(plugins_dirs)
    cells = _unique(expand(suite, registry))
    run_dir = Path(out) if out else results_root / new_run_id(suite.name)
    summary = RunSummary(run_dir=run_dir)
    options = dict(executor_options or {})
    options.setdefault("timeout_s", suite.timeout_s)
    options.setdefault("memory_limit_mb", suite.memory_limit_mb)
    started = time.perf_counter()
    env: dict = {}
    store: RunStore | None = None
    try:
        # The executor first: one that cannot start (a bad name, an unreachable
        # scheduler) leaves no empty run folder behind.
        with make_executor(executor, plugins_dirs=plugins_dirs, **options) as runner:
            store = RunStore(run_dir, resume=resume)
            todo = [cell for cell in cells if cell.key not in store.done_keys]
            summary.skipped = len(cells) - len(todo)
            store.write_suite(suite.to_toml_dict())
            env = environment.collect(executor=runner.describe(cells), suite=suite.name, cells=len(cells))
            store.write_environment(env)
            _run_cells(runner, todo, store, summary, console, show_progress)
            env["executor"] = runner.describe(cells)  # now with the workers it started
    except KeyboardInterrupt:
        summary.interrupted = True
        raise
    finally:
        summary.wall_s = time.perf_counter() - started
        if env and store is not None:
            finalize(store, env, summary, order=[cell.key for cell in cells])
    return summary


def _run_cells(runner, todo: list[Cell], store: RunStore, summary: RunSummary, console: Console, show_progress: bool) -> None:
    progress = Progress(
        TextColumn("[bold]{task.description}"), BarColumn(bar_width=24), MofNCompleteColumn(),
        TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), TextColumn("{task.fields[counts]}"),
        console=console, disable=not show_progress, transient=False,
    )
    running: list[Cell] = []

    def show_running() -> None:
        if not running:
            text = "done"
        else:
            text = _shorten(running[0].label, 48) + (f" (+{len(running) - 1})" if len(running) > 1 else "")
        progress.update(task, description=text)

    def on_start(cell: Cell) -> None:
        running.append(cell)
        show_running()

    with progress:
        task = progress.add_task("starting", total=len(todo), counts="")
        for cell, result in runner.run(todo, on_start=on_start):
            if cell in running:
                running.remove(cell)
            status = result.row.get("status", "error")
            log = f"== {cell.label} · {cell.key} · {status}\n{result.log.strip()}" if result.log.strip() else ""
            store.add(result.row, result.trace, log)
            summary.counts[status] += 1
            if status == "ok":
                summary.fit_s += float(result.row.get("first_s", 0)) + float(result.row.get("wall_s", 0)) * cell.repeats
            error = result.row.get("error") or ""
            if error.startswith("DataError") and error not in summary.data_errors:
                summary.data_errors.append(error)
            progress.update(task, advance=1, counts=_counts_text(summary.counts))
            show_running()


def finalize(store: RunStore, env: dict, summary: RunSummary, order: list[str] | None = None) -> None:
    """Order the rows as the suite's cells, add rel_gap (which needs every row) and the
    run's end to the files."""
    if order is not None:
        store.reorder(order)
        store.write_trace()
    if store.rows:
        frame = with_relative_gap(to_frame(store.rows))
        write_parquet_atomic(frame, store.run_dir / RESULTS_FILE)
    summary.run_counts = Counter(str(row.get("status")) for row in store.rows)
    env = dict(env)
    env["finished_utc"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    env["interrupted"] = summary.interrupted
    env["summary"] = {"counts": dict(summary.counts), "already_done": summary.skipped,
                      "run_counts": dict(summary.run_counts), "wall_s": round(summary.wall_s, 3),
                      "fit_s": round(summary.fit_s, 3)}
    store.write_environment(env)
