"""The results folder of a run, and reading it back.

``results/<run-id>/`` holds ``results.parquet`` (a row per cell and seed, long format),
``trace.parquet`` (convergence points), ``environment.json``, ``suite.toml`` and
``run.log`` (tracebacks). Both parquet files are rewritten atomically after every
finished cell, so a run killed at any moment leaves readable files with every finished row.
"""

from __future__ import annotations

import io
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
TMP_PREFIX = ".partial-"


#: Columns every results file has, whatever its cells did (NaN where a cell gave no value),
#: so notebooks and reports can rely on them.
METRIC_COLUMNS = (
    "n", "d", "k", "objective", "inertia", "best_known_inertia", "rel_gap", "ari", "nmi", "empty_clusters",
    "n_iter", "converged", "first_s", "wall_s", "wall_s_min", "wall_s_max", "time_per_iter_s",
    "gemm_floor_s", "iter_over_floor", "cell_s",
    "peak_rss_mb", "peak_device_mb", "info",
)


def new_run_id(suite_name: str) -> str:
    return f"{datetime.now().strftime('%Y%m%d-%H%M%S')}-{suite_name}"


def to_frame(rows: list[dict[str, Any]], metric_columns: bool = True) -> pd.DataFrame:
    """Rows as a DataFrame parquet can hold: parameter columns of mixed types become text.
    Result rows (``metric_columns``) get every column of :data:`METRIC_COLUMNS`."""
    frame = pd.DataFrame(rows)
    if metric_columns and "cell_key" in frame.columns:
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
    """Write ``frame`` to ``path`` so that a reader, or a run killed at any moment, sees
    either the old file or the new one, whole: a temporary file in the same folder,
    fsynced, renamed over ``path``, and the folder fsynced so the rename itself is durable."""
    _write_atomic(path, lambda tmp: frame.to_parquet(tmp, index=False))


def write_text_atomic(text: str, path: Path) -> None:
    """:func:`write_parquet_atomic` for a text file."""
    _write_atomic(path, lambda tmp: Path(tmp).write_text(text))


def _write_atomic(path: Path, write) -> None:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"{TMP_PREFIX}{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot fsync a folder; the rename is still atomic
    finally:
        os.close(fd)


class RunStore:
    """A run folder being written: each finished cell's row is persisted before the next.

    The commit point of a cell is the rewrite of ``results.parquet``: its traceback (run.log)
    and convergence points (trace.parquet) are written first, so a cell whose row is on disk
    has everything else on disk too. A run killed before that rewrite leaves no row for the
    cell, and ``--resume`` runs it again; its stray trace points are dropped on resume and
    replaced, so no cell ever has two rows or two sets of points.
    """

    def __init__(self, run_dir: Path, resume: bool = False) -> None:
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._rows: dict[str, dict[str, Any]] = {}
        # Each cell's points as a frame, made once, and all of them as one frame, extended
        # as cells finish: rebuilding the frame of every point from dicts after every cell
        # grew with the run (17 ms a cell by the end of the quick suite), and so did
        # concatenating a hundred small frames (13 ms).
        self._traces: dict[str, pd.DataFrame] = {}
        self._all_traces: pd.DataFrame | None = None
        self.earlier_environments: list[dict[str, Any]] = []
        for stale in self.run_dir.glob(f"{TMP_PREFIX}*.tmp"):  # left by a run killed mid-write
            stale.unlink(missing_ok=True)
        if resume:
            self._load()

    def _load(self) -> None:
        if (self.run_dir / RESULTS_FILE).exists():
            for row in pd.read_parquet(self.run_dir / RESULTS_FILE).to_dict("records"):
                self._rows[row["cell_key"]] = row
        if (self.run_dir / TRACE_FILE).exists():
            points = pd.read_parquet(self.run_dir / TRACE_FILE)
            if "cell_key" in points.columns:
                # Files written before trace points lost the empty metric columns.
                points = points.drop(columns=[c for c in METRIC_COLUMNS if c in points.columns])
                for key, frame in points.groupby("cell_key", sort=False):
                    if key in self._rows:  # points of a cell without a row are strays
                        self._traces[key] = frame.reset_index(drop=True)
        env_path = self.run_dir / ENVIRONMENT_FILE
        if env_path.exists():
            try:
                earlier = json.loads(env_path.read_text())
            except ValueError:
                earlier = None
            if isinstance(earlier, dict):
                self.earlier_environments = [*earlier.pop("earlier_sessions", []), earlier]

    @property
    def rows(self) -> list[dict[str, Any]]:
        return list(self._rows.values())

    def _trace_frame(self) -> pd.DataFrame:
        if self._all_traces is None:
            frames = list(self._traces.values())
            self._all_traces = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        return self._all_traces

    @property
    def done_keys(self) -> set[str]:
        """Cells with a final row. Rows for a cell that did not finish are never written."""
        return set(self._rows)

    def add(self, row: dict[str, Any], trace: list[dict[str, Any]], log: str = "") -> None:
        """Persist one finished cell (replacing an earlier row of the same cell)."""
        key = row["cell_key"]
        if log:
            with open(self.run_dir / LOG_FILE, "a") as handle:
                handle.write(log.rstrip() + "\n\n")
                handle.flush()
                os.fsync(handle.fileno())
        had_points = key in self._traces
        if trace:
            frame = to_frame(list(trace), metric_columns=False)
            self._traces[key] = frame
            if had_points or self._all_traces is None or self._all_traces.empty:
                self._all_traces = None  # a cell's points replaced: rebuild once
            else:
                self._all_traces = pd.concat([self._all_traces, frame], ignore_index=True)
        else:
            self._traces.pop(key, None)
            if had_points:
                self._all_traces = None
        if trace or had_points:
            write_parquet_atomic(self._trace_frame(), self.run_dir / TRACE_FILE)
        self._rows.pop(key, None)
        self._rows[key] = row
        write_parquet_atomic(to_frame(self.rows), self.run_dir / RESULTS_FILE)

    def reorder(self, keys: list[str]) -> None:
        """Order rows and points as ``keys`` (the suite's cells); others keep their place after."""
        rank = {key: i for i, key in enumerate(keys)}
        ordered = sorted(self._rows, key=lambda k: rank.get(k, len(rank)))
        self._rows = {key: self._rows[key] for key in ordered}
        self._traces = {key: self._traces[key] for key in ordered if key in self._traces}
        self._all_traces = None

    def write_trace(self) -> None:
        """Rewrite trace.parquet from what this store holds."""
        if self._traces:
            write_parquet_atomic(self._trace_frame(), self.run_dir / TRACE_FILE)

    def write_environment(self, environment: dict[str, Any]) -> None:
        """environment.json, with the environments of the sessions this run resumed."""
        if self.earlier_environments:
            environment = {**environment, "earlier_sessions": self.earlier_environments}
        write_text_atomic(json.dumps(environment, indent=2, default=str) + "\n", self.run_dir / ENVIRONMENT_FILE)

    def write_suite(self, suite_dict: dict[str, Any]) -> None:
        write_text_atomic(tomli_w.dumps(suite_dict), self.run_dir / SUITE_FILE)


def read_parquet_snapshot(path: Path) -> pd.DataFrame:
    """Read a parquet file that a running suite may replace at any moment.

    The file on disk is always whole (it is replaced by a rename), but a reader that opens
    it twice (footer first, pages later; pyarrow may) can mix two versions. Reading the
    bytes once gives one consistent version.
    """
    return pd.read_parquet(io.BytesIO(Path(path).read_bytes()))


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
    results = read_parquet_snapshot(path)
    trace_path = run_dir / TRACE_FILE
    trace = read_parquet_snapshot(trace_path) if trace_path.exists() else pd.DataFrame()
    if not trace.empty:  # points of a cell whose row was never committed (a killed run)
        trace = trace[trace["cell_key"].isin(results["cell_key"])].reset_index(drop=True)
    return results, trace
