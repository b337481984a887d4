"""Several run folders read as one: rows, traces and environments, merged for reporting."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from diffclust.errors import DiffclustError
from diffclust.metrics import with_relative_gap
from diffclust.results import ENVIRONMENT_FILE, read_run

#: Short names a user types (``--rows backend``) for the columns they stand for.
ALIASES = {"backend": "backend_label", "dataset": "dataset_label"}
#: What makes two rows different experiments rather than two seeds of one.
IDENTITY = ("dataset_label", "backend_label", "device", "k", "run")


@dataclass
class Runs:
    """The merged contents of one or more run folders.

    ``results`` has every row plus ``run`` (the folder's name) and ``backend_label``
    (the backend's name, with the parameters that tell its variants apart when the same
    backend ran with several settings); ``rel_gap`` is recomputed over all rows.
    """

    results: pd.DataFrame
    trace: pd.DataFrame
    environments: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def load_runs(run_dirs: Sequence[Path], *, keep_duplicates: bool = False) -> Runs:
    """Read and merge ``run_dirs``.

    A cell (same ``cell_key``) found in several runs is kept once, from the run named
    last, so that seeds stay paired; ``keep_duplicates`` keeps them all (for a report
    that puts ``run`` in its rows or columns). Each dropped duplicate is listed in
    ``notes``.
    """
    if not run_dirs:
        raise DiffclustError("no run folders given; name one or more run folders, e.g. results/<run-id>.")
    frames, traces, environments = [], [], {}
    names = _unique_names([Path(d) for d in run_dirs])
    for run_dir, name in zip(run_dirs, names):
        results, trace = read_run(Path(run_dir))
        results["run"] = name
        frames.append(results)
        if not trace.empty:
            trace = trace.copy()
            trace["run"] = name
            traces.append(trace)
        env_path = Path(run_dir) / ENVIRONMENT_FILE
        if env_path.exists():
            environments[name] = json.loads(env_path.read_text())
    results = pd.concat(frames, ignore_index=True)
    notes: list[str] = []
    if not keep_duplicates and len(frames) > 1:
        duplicated = results.duplicated("cell_key", keep="last")
        if duplicated.any():
            notes.append(f"{int(duplicated.sum())} row(s) repeat a cell of a later run and were left out; "
                         "put `run` in --rows or --cols to see every run.")
            kept = results.loc[~duplicated, ["run", "cell_key"]]
            results = results[~duplicated].reset_index(drop=True)
            if traces:
                traces = [t.merge(kept, on=["run", "cell_key"]) for t in traces]
    results = with_relative_gap(results)
    results["backend_label"] = backend_labels(results)
    trace = pd.concat(traces, ignore_index=True) if traces else pd.DataFrame()
    if not trace.empty:
        labels = results[["run", "cell_key", "backend_label"]]
        trace = trace.merge(labels, on=["run", "cell_key"], how="inner")
    return Runs(results=results, trace=trace, environments=environments, notes=notes)


def _unique_names(paths: list[Path]) -> list[str]:
    """Folder names, with the parent added where two runs share a name."""
    names = [p.resolve().name for p in paths]
    if len(set(names)) == len(names):
        return names
    return [str(p) for p in paths]


def backend_labels(results: pd.DataFrame) -> pd.Series:
    """Each row's backend name, plus ``(key=value,...)`` for the parameters (and version)
    that differ between rows of that backend; plain names when a backend ran one way."""
    labels = results["backend"].astype(str).copy()
    param_columns = [c for c in results.columns if c.startswith("p_backend_")]
    for name, rows in results.groupby("backend", sort=False):
        varying = [c for c in param_columns if rows[c].astype(str).nunique(dropna=False) > 1]
        show_version = "backend_version" in rows and rows["backend_version"].astype(str).nunique() > 1
        if not varying and not show_version:
            continue
        for index, row in rows.iterrows():
            parts = [f"{c.removeprefix('p_backend_')}={row[c]}" for c in varying if pd.notna(row[c])]
            if show_version:
                parts.append(f"v{row['backend_version']}")
            labels[index] = f"{name}({','.join(parts)})" if parts else str(name)
    return labels


def resolve_dimension(name: str, results: pd.DataFrame) -> str:
    """The column a ``--rows``/``--cols`` name stands for, or a clear error."""
    column = ALIASES.get(name, name)
    if column not in results.columns:
        plain = ("n", "d", "k", "device", "run", "framework", "seed", "init", "threads")
        known = sorted({*ALIASES, *(c for c in results.columns if c in plain or c.startswith(("p_dataset_", "p_backend_")))})
        raise DiffclustError(f"unknown dimension {name!r} for --rows/--cols; choose from: {', '.join(known)}.")
    return column


def display_name(column: str) -> str:
    """How a dimension column is headed in a table (``dataset``, ``p dataset n``)."""
    for alias, target in ALIASES.items():
        if column == target:
            return alias
    return column.replace("_", " ")
