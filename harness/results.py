"""The results folder of a run, and reading it back.

``results/<run-id>/`` holds ``results.parquet`` (a row per cell and seed, long format),
``trace.parquet`` (convergence points), ``environment.json``, ``suite.toml`` and
``run.log`` (tracebacks). Both parquet files are rewritten atomically after every
finished cell, so a run killed at any moment leaves readable files with every finished row.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import tomli_w

from diffclust.errors import DiffclustError

RESULTS_FILE = "results.parquet"
TRACE_FILE = "trace.parquet"
ENVIRONMENT_FILE = "environment.json"
SUITE_FILE = "suite.toml"
LOG_FILE = "run.log"


#: Columns every results file has, whatever its cells did (NaN where a cell gave no value),
#: so notebooks and reports can rely on them.
METRIC_COLUMNS = (
    "n", "d", "k", "objective", "inertia", "best_known_inertia", "rel_gap", "ari", "nmi", "empty_clusters",
    "n_iter", "converged", "first_s", "wall_s", "wall_s_min", "wall_s_max", "time_per_iter_s",
    "gemm_floor_s", "iter_over_floor",
    "peak_rss_mb", "peak_device_mb", "info",
)


def new_run_id(suite_name: str) -> str:
    return f"{datetime.now().strftime('%Y%m%d-%H%M%S')}-{suite_name}"


def to_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Rows as a DataFrame parquet can hold: parameter columns of mixed types become text."""
    frame = pd.DataFrame(rows)
    if "cell_key" in frame.columns:
        for column in METRIC_COLUMNS:
            if column not in frame.columns:
                frame[column] = None if column in ("converged", "info") else float("nan")
    for column in frame.columns:
        if frame[column].dtype == object:
            kinds = {type(v) for v in frame[column] if v is not None and not (isinstance(v, float) and pd.isna(v))}
            if len(kinds) > 1 or (kinds and not kinds <= {str, bool}):
                frame[column] = frame[column].map(lambda v: None if v is None else str(v))
    return frame


def write_parquet_atomic(frame: pd.DataFrame, path: Path) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over ``path``."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        frame.to_parquet(tmp, index=False)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


class RunStore:
    """A run folder being written: rows and traces are persisted as each cell finishes."""

    def __init__(self, run_dir: Path, resume: bool = False) -> None:
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.rows: list[dict[str, Any]] = []
        self.trace_rows: list[dict[str, Any]] = []
        if resume:
            if (self.run_dir / RESULTS_FILE).exists():
                self.rows = pd.read_parquet(self.run_dir / RESULTS_FILE).to_dict("records")
            if (self.run_dir / TRACE_FILE).exists():
                self.trace_rows = pd.read_parquet(self.run_dir / TRACE_FILE).to_dict("records")

    @property
    def done_keys(self) -> set[str]:
        """Cells with a final row. Rows for a cell that did not finish are never written."""
        return {row["cell_key"] for row in self.rows}

    def add(self, row: dict[str, Any], trace: list[dict[str, Any]], log: str = "") -> None:
        self.rows = [r for r in self.rows if r["cell_key"] != row["cell_key"]] + [row]
        if trace:
            self.trace_rows = [t for t in self.trace_rows if t["cell_key"] != row["cell_key"]] + trace
            write_parquet_atomic(to_frame(self.trace_rows), self.run_dir / TRACE_FILE)
        write_parquet_atomic(to_frame(self.rows), self.run_dir / RESULTS_FILE)
        if log:
            with open(self.run_dir / LOG_FILE, "a") as handle:
                handle.write(log.rstrip() + "\n\n")

    def write_environment(self, environment: dict[str, Any]) -> None:
        path = self.run_dir / ENVIRONMENT_FILE
        path.write_text(json.dumps(environment, indent=2, default=str) + "\n")

    def write_suite(self, suite_dict: dict[str, Any]) -> None:
        (self.run_dir / SUITE_FILE).write_text(tomli_w.dumps(suite_dict))


def find_latest_run(root: Path = Path("results")) -> Path:
    runs = [p.parent for p in Path(root).glob(f"*/{RESULTS_FILE}")]
    if not runs:
        raise DiffclustError(f"no runs under {root}/; run `diffclust run` first, or name a run folder.")
    return max(runs, key=lambda p: (p / RESULTS_FILE).stat().st_mtime)


def read_run(run_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A run's results and traces (traces empty when none were recorded)."""
    run_dir = Path(run_dir)
    path = run_dir / RESULTS_FILE
    if not path.exists():
        raise DiffclustError(f"{run_dir} holds no {RESULTS_FILE}; is it a diffclust run folder?")
    results = pd.read_parquet(path)
    trace_path = run_dir / TRACE_FILE
    trace = pd.read_parquet(trace_path) if trace_path.exists() else pd.DataFrame()
    return results, trace
