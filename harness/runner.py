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
from diffclust.executors import make_executor
from diffclust.metrics import with_relative_gap
from diffclust.registry import get_registry
from diffclust.results import RESULTS_FILE, RunStore, new_run_id, to_frame, write_parquet_atomic
from diffclust.suite import Cell, Suite, expand


@dataclass
class RunSummary:
    run_dir: Path
    counts: Counter = field(default_factory=Counter)
    skipped: int = 0
    wall_s: float = 0.0
    fit_s: float = 0.0
    data_errors: list[str] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return sum(n for status, n in self.counts.items() if status not in ("ok", "unavailable"))

    def line(self) -> str:
        parts = [f"{self.counts.get(s, 0)} {s}" for s in ("ok", "error", "timeout", "crashed", "invalid", "unavailable") if self.counts.get(s)]
        resumed = f", {self.skipped} already done" if self.skipped else ""
        return f"{sum(self.counts.values())} cells: {', '.join(parts) or 'none'}{resumed} in {self.wall_s:.1f} s"


def run_suite(
    suite: Suite,
    *,
    out: Path | None = None,
    results_root: Path = Path("results"),
    executor: str = "local",
    executor_options: dict | None = None,
    resume: bool = False,
    plugins_dirs: tuple[str, ...] = (),
    console: Console | None = None,
    show_progress: bool = True,
) -> RunSummary:
    """Run every cell of ``suite`` (those not already in ``out`` when resuming)."""
    console = console or Console(stderr=True)
    registry = get_registry(plugins_dirs)
    cells = expand(suite, registry)
    run_dir = Path(out) if out else results_root / new_run_id(suite.name)
    if resume and not (run_dir / RESULTS_FILE).exists() and out is None:
        resume = False
    store = RunStore(run_dir, resume=resume)
    done = store.done_keys
    todo = [cell for cell in cells if cell.key not in done]
    summary = RunSummary(run_dir=run_dir, skipped=len(cells) - len(todo))
    options = dict(executor_options or {})
    options.setdefault("timeout_s", suite.timeout_s)
    options.setdefault("memory_limit_mb", suite.memory_limit_mb)
    started = time.perf_counter()
    with make_executor(executor, plugins_dirs=plugins_dirs, **options) as runner:
        store.write_suite(suite.to_toml_dict())
        env = environment.collect(executor=runner.describe(), suite=suite.name, cells=len(cells))
        store.write_environment(env)
        progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
            console=console, disable=not show_progress, transient=False,
        )
        with progress:
            task = progress.add_task("starting", total=len(todo))

            def on_start(cell: Cell) -> None:
                progress.update(task, description=cell.label)

            for cell, result in runner.run(todo, on_start=on_start):
                store.add(result.row, result.trace, result.log)
                status = result.row.get("status", "error")
                summary.counts[status] += 1
                if status == "ok":
                    summary.fit_s += float(result.row.get("first_s", 0)) + float(result.row.get("wall_s", 0)) * cell.repeats
                error = result.row.get("error") or ""
                if error.startswith("DataError") and error not in summary.data_errors:
                    summary.data_errors.append(error)
                progress.advance(task)
            progress.update(task, description="done")
    summary.wall_s = time.perf_counter() - started
    finalize(store, env, summary)
    return summary


def finalize(store: RunStore, env: dict, summary: RunSummary) -> None:
    """Add rel_gap (which needs every row) and the run's end to the files."""
    if store.rows:
        frame = with_relative_gap(to_frame(store.rows))
        write_parquet_atomic(frame, store.run_dir / RESULTS_FILE)
    env = dict(env)
    env["finished_utc"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    env["summary"] = {"counts": dict(summary.counts), "wall_s": round(summary.wall_s, 3), "fit_s": round(summary.fit_s, 3)}
    store.write_environment(env)
