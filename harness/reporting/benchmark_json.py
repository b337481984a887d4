"""Runs exported in pytest-benchmark's JSON format, so ``pytest-benchmark compare`` can set
two runs side by side (``pytest-benchmark compare a.json b.json --between mean,median``).

One benchmark per (backend, dataset, device): its rounds are the seeds and its data the
per-seed values of a timing metric (``wall_s`` by default, each itself the median of the
steady-state repeats). The ``fullname`` (``diffclust::<backend>[<dataset>-<device>]``) is
stable across runs, which is what ``--between`` pairs on. Quality metrics (means over the
seeds) ride along in ``extra_info``. Cells where no seed succeeded have no timings, so
they are not benchmarks: they are listed under the top-level ``diffclust.failed`` key.
"""

from __future__ import annotations

import importlib.metadata
import statistics
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd

from diffclust.errors import DiffclustError
from diffclust.reporting.metricinfo import TIME_METRICS
from diffclust.reporting.runs import Runs

EXTRA_METRICS = ("inertia", "rel_gap", "ari", "nmi", "n_iter", "first_s", "time_per_iter_s", "peak_rss_mb", "peak_device_mb")
#: The JSON layout followed, when pytest-benchmark itself is not installed.
FORMAT_VERSION = "5.1.0"


def round_stats(data: list[float]) -> dict[str, Any]:
    """The ``stats`` block pytest-benchmark writes, from one value per round."""
    values = sorted(data)
    rounds = len(values)
    mean = statistics.fmean(values)
    stddev = statistics.stdev(values) if rounds > 1 else 0.0
    q1, median, q3 = (float(q) for q in np.percentile(values, [25, 50, 75]))
    iqr = q3 - q1
    inside = [v for v in values if q1 - 1.5 * iqr <= v <= q3 + 1.5 * iqr]
    stddev_outliers = sum(1 for v in values if abs(v - mean) > stddev)
    iqr_outliers = rounds - len(inside)
    total = float(sum(values))
    return {
        "min": values[0], "max": values[-1], "mean": mean, "stddev": stddev, "rounds": rounds,
        "median": median, "iqr": iqr, "q1": q1, "q3": q3, "iqr_outliers": iqr_outliers,
        "stddev_outliers": stddev_outliers, "outliers": f"{stddev_outliers};{iqr_outliers}",
        "ld15iqr": min(inside), "hd15iqr": max(inside), "ops": rounds / total if total else 0.0,
        "total": total, "data": list(data), "iterations": 1,
    }


def _machine_info(env: dict) -> dict[str, Any]:
    return {
        "node": env.get("hostname"), "processor": env.get("cpu_model"), "machine": None,
        "python_compiler": None, "python_implementation": env.get("python_implementation"),
        "python_implementation_version": env.get("python"), "python_version": env.get("python"),
        "python_build": None, "release": None, "system": env.get("platform"),
        "cpu": {"brand_raw": env.get("cpu_model"), "count": env.get("cpu_count")},
        "gpus": env.get("gpus"), "packages": env.get("packages"),
    }


def _commit_info(env: dict) -> dict[str, Any]:
    commit = env.get("git_commit") or ""
    return {"id": commit.removesuffix("-dirty") or None, "dirty": commit.endswith("-dirty"), "project": "diffclust",
            "branch": None, "time": None, "author_time": None}


def _version() -> str:
    try:
        return importlib.metadata.version("pytest-benchmark")
    except importlib.metadata.PackageNotFoundError:
        return FORMAT_VERSION


def benchmark_json(runs: Runs, metric: str = "wall_s") -> dict[str, Any]:
    """The runs as a pytest-benchmark JSON document (a dict for :func:`json.dump`)."""
    if metric not in TIME_METRICS:
        raise DiffclustError(f"the pytest-benchmark export needs a time in seconds; --metric {metric} is not one. "
                             f"Choose one of {', '.join(TIME_METRICS)}.")
    results = runs.results
    benchmarks, failed = [], []
    for (backend, dataset, device), group in results.groupby(["backend_label", "dataset_label", "device"], sort=False):
        name = f"{backend}[{dataset}-{device}]"
        ok = group[group["status"] == "ok"].sort_values("seed")
        values = pd.to_numeric(ok[metric], errors="coerce")
        ok, values = ok[values.notna()], values[values.notna()]
        if ok.empty:
            failed.append({"name": name, "status": "/".join(sorted(set(group["status"]))),
                           "error": next((e for e in group["error"] if isinstance(e, str) and e), None)})
            continue
        first = group.iloc[0]
        extra = {m: float(pd.to_numeric(ok[m], errors="coerce").mean()) for m in EXTRA_METRICS if m in ok}
        extra = {m: (None if not np.isfinite(v) else v) for m, v in extra.items()}
        extra.update(metric=metric, unit="s", seeds=[int(s) for s in ok["seed"]],
                     failed_seeds=int((group["status"] != "ok").sum()), runs=sorted(group["run"].unique()))
        params = {"backend": backend, "dataset": dataset, "device": device,
                  **{key: int(first[key]) for key in ("n", "d", "k") if key in first and pd.notna(first[key])}}
        benchmarks.append({
            "group": f"{dataset}-{device}", "name": name, "fullname": f"diffclust::{name}",
            "params": params, "param": f"{dataset}-{device}", "extra_info": extra,
            "options": {"disable_gc": False, "timer": "perf_counter", "min_rounds": len(ok), "max_time": None,
                        "min_time": None, "warmup": True},
            "stats": round_stats([float(v) for v in values]),
        })
    env = next(iter(runs.environments.values()), {})
    started = env.get("started_utc") or datetime.now(timezone.utc).isoformat()
    return {
        "machine_info": _machine_info(env), "commit_info": _commit_info(env), "benchmarks": benchmarks,
        "datetime": started, "version": _version(),
        "diffclust": {"metric": metric, "runs": sorted(runs.results["run"].unique()), "failed": failed},
    }
