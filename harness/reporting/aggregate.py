"""Seeds aggregated per group: centre and spread, the paired per-seed values, and failures.

Only rows with status ``ok`` and a finite value count; a group's failed rows are
counted by status so that a table can say ``timeout`` instead of leaving a blank.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
import pandas as pd

from diffclust.errors import DiffclustError
from diffclust.reporting.runs import IDENTITY

#: How seeds aggregate: the centre, and the spread written after it.
AGGREGATIONS = ("mean-std", "median-iqr")


def check_aggregation(agg: str) -> str:
    if agg not in AGGREGATIONS:
        raise DiffclustError(f"unknown aggregation {agg!r}; choose one of {', '.join(AGGREGATIONS)}.")
    return agg


def complete_dimensions(results: pd.DataFrame, rows: Sequence[str], cols: Sequence[str]) -> list[str]:
    """Identity columns that vary inside a (rows + cols) group, which must join the rows.

    Seeds are the only thing a table aggregates: two devices, datasets or backend
    variants are never averaged together.
    """
    dims = [*rows, *cols]
    added: list[str] = []
    for column in IDENTITY:
        if column in dims or column not in results.columns:
            continue
        counts = results.groupby(dims + added, sort=False, dropna=False)[column].nunique(dropna=False)
        if (counts > 1).any():
            added.append(column)
    return added


def failure_summary(statuses: pd.Series) -> str:
    """``timeout`` or ``2 crashed, 1 timeout``: the failed rows of a group, by status."""
    counts = Counter(s for s in statuses if s != "ok")
    return ", ".join(f"{n} {s}" for s, n in sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def seed_statistics(values: np.ndarray) -> dict[str, float]:
    """count, mean, std (ddof=1; exactly 0 for equal values), median, q1, q3 of finite ``values``."""
    values = values[np.isfinite(values)]
    if values.size == 0:
        return dict(count=0, mean=np.nan, std=np.nan, median=np.nan, q1=np.nan, q3=np.nan)
    q1, median, q3 = np.percentile(values, [25, 50, 75])
    return dict(
        count=int(values.size), mean=float(values.mean()),
        std=float(values.std(ddof=1)) if np.ptp(values) > 0 else 0.0,
        median=float(median), q1=float(q1), q3=float(q3),
    )


def aggregate(results: pd.DataFrame, dims: Sequence[str], metrics: Sequence[str]) -> pd.DataFrame:
    """One row per (group of ``dims``, metric).

    Columns: the dims, ``metric``, ``seeds`` (rows in the group), ``ok`` (rows with status
    ok), ``status`` (``ok``, ``partial`` or the failure, e.g. ``timeout``), ``failures``
    (e.g. ``1 crashed``), the statistics of :func:`seed_statistics`, and ``values``
    (seed -> value of the ok rows, for paired tests).
    """
    missing = [m for m in metrics if m not in results.columns]
    if missing:
        known = ", ".join(sorted(c for c in results.columns if results[c].dtype.kind in "fiu" and c not in ("seed", "threads", "repeats")))
        raise DiffclustError(f"unknown metric(s) {', '.join(missing)}; the results have: {known}.")
    records = []
    for keys, group in results.groupby(list(dims), sort=False, dropna=False):
        keys = keys if isinstance(keys, tuple) else (keys,)
        ok = group["status"] == "ok"
        failures = failure_summary(group["status"])
        if ok.all():
            status = "ok"
        elif not ok.any():
            status = "/".join(sorted(set(group["status"])))
        else:
            status = "partial"
        for metric in metrics:
            numbers = pd.to_numeric(group.loc[ok, metric], errors="coerce").astype(float)
            finite = numbers[np.isfinite(numbers)]
            values = dict(zip(group.loc[finite.index, "seed"], finite))
            records.append({
                **dict(zip(dims, keys)), "metric": metric, "seeds": len(group), "ok": int(ok.sum()),
                "status": status, "failures": failures, **seed_statistics(numbers.to_numpy()), "values": values,
            })
    return pd.DataFrame.from_records(records)


def centre_and_spread(row: pd.Series | dict, agg: str) -> tuple[float, float, float]:
    """(centre, low, high) of an aggregated row: mean ± std, or median and its IQR."""
    if agg == "median-iqr":
        return row["median"], row["q1"], row["q3"]
    return row["mean"], row["mean"] - row["std"], row["mean"] + row["std"]
