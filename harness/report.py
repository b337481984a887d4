"""Comparison tables from one or more runs: aggregated over seeds, failures shown by status."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from diffclust.errors import DiffclustError
from diffclust.metrics import with_relative_gap
from diffclust.results import read_run

DEFAULT_METRICS = ("inertia", "rel_gap", "ari", "nmi", "wall_s")
FORMATS = ("md", "csv")
#: How each metric's numbers are written (Python format specs).
NUMBER_FORMATS = {"inertia": ",.6g", "objective": ",.6g", "rel_gap": ".2%", "ari": ".3f", "nmi": ".3f",
                  "wall_s": ".3g", "first_s": ".3g", "time_per_iter_s": ".3g", "n_iter": ".0f",
                  "peak_rss_mb": ".0f", "peak_device_mb": ".0f", "empty_clusters": ".1f"}


def load_runs(run_dirs: Sequence[Path]) -> pd.DataFrame:
    """The rows of several runs as one frame, with rel_gap recomputed over all of them."""
    frames = []
    for run_dir in run_dirs:
        results, _ = read_run(run_dir)
        results["run"] = Path(run_dir).name
        frames.append(results)
    if not frames:
        raise DiffclustError("no run folders given.")
    return with_relative_gap(pd.concat(frames, ignore_index=True))


def _cell_text(values: pd.Series, statuses: pd.Series, spec: str) -> str:
    ok = statuses == "ok"
    finite = values[ok].astype(float)
    finite = finite[np.isfinite(finite)]
    if not ok.any():
        return statuses.mode().iloc[0] if len(statuses) else "—"
    if finite.empty:
        return "n/a"
    mean = finite.mean()
    text = format(mean, spec)
    if len(finite) > 1:
        std = finite.std(ddof=1)
        text += " ± " + format(std, spec.lstrip(",") if not math.isnan(std) else "")
    failed = int((~ok).sum())
    if failed:
        text += f" ({failed} {'/'.join(sorted(set(statuses[~ok])))})"
    return text


def comparison_table(frame: pd.DataFrame, metrics: Sequence[str] = DEFAULT_METRICS,
                     rows: Sequence[str] = ("dataset_label", "backend")) -> pd.DataFrame:
    """One row per (dataset, backend), one column per metric: mean ± std over seeds.

    A group with no successful seed shows its status (``timeout``, ``unavailable``...).
    """
    missing = [m for m in metrics if m not in frame.columns]
    if missing:
        known = ", ".join(sorted(c for c in frame.columns if frame[c].dtype.kind in "fiu"))
        raise DiffclustError(f"unknown metric(s) {', '.join(missing)}; the results have: {known}.")
    records = []
    for keys, group in frame.groupby(list(rows), sort=False, dropna=False):
        record = dict(zip(rows, keys if isinstance(keys, tuple) else (keys,)))
        for metric in metrics:
            record[metric] = _cell_text(group[metric], group["status"], NUMBER_FORMATS.get(metric, ".4g"))
        record["seeds"] = int((group["status"] == "ok").sum())
        records.append(record)
    table = pd.DataFrame.from_records(records)
    return table.rename(columns={"dataset_label": "dataset"})


def render(table: pd.DataFrame, fmt: str) -> str:
    if fmt == "md":
        return table.to_markdown(index=False)
    if fmt == "csv":
        return table.to_csv(index=False)
    raise DiffclustError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}.")
