"""Time against n: the points of a sweep over n and the fitted exponent b of ``t ∝ n^b``.

A *family* is one dataset at fixed d and k that ran at several n (a ``grid = { n = [...] }``
in a suite). Each backend's times over a family, aggregated over seeds, give its exponent
by least squares in log-log: b near 1 is linear in n; below 1 at small n usually means a
fixed per-fit cost still dominates there. The ``scaling`` figure draws these points and
lines; :func:`scaling_table` lists the exponents for the text reports.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd

from diffclust.reporting.aggregate import centre_and_spread, check_aggregation, seed_statistics


def contenders(results: pd.DataFrame) -> pd.Series:
    """What a figure or table compares: the backend label, with ``@device`` when devices differ."""
    label = results["backend_label"].astype(str)
    if results["device"].nunique() > 1:
        label = label + "@" + results["device"].astype(str)
    return label


def scaling_exponent(n: Sequence[float], t: Sequence[float]) -> float:
    """The slope b of the least-squares fit log t = a + b log n; NaN with fewer than two n."""
    n_arr, t_arr = np.asarray(n, dtype=float), np.asarray(t, dtype=float)
    keep = (n_arr > 0) & (t_arr > 0) & np.isfinite(n_arr) & np.isfinite(t_arr)
    n_arr, t_arr = n_arr[keep], t_arr[keep]
    if np.unique(n_arr).size < 2:
        return float("nan")
    slope, _ = np.polyfit(np.log(n_arr), np.log(t_arr), 1)
    return float(slope)


def usable_rows(results: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Successful rows with ``metric`` and ``n``, with ``contender`` and ``family`` columns."""
    ok = results[(results["status"] == "ok") & results[metric].notna() & results["n"].notna()].copy()
    ok["contender"] = contenders(ok)
    ok["family"] = (ok["dataset"].astype(str) + ", d=" + ok["d"].astype(int).astype(str)
                    + ", k=" + ok["k"].astype(int).astype(str))
    return ok


def grown_families(ok: pd.DataFrame) -> list[str]:
    """The families of :func:`usable_rows` that ran at more than one n, in order of appearance."""
    return [family for family, rows in ok.groupby("family", sort=False) if rows["n"].nunique() > 1]


def series(rows: pd.DataFrame, metric: str, agg: str) -> Iterator[tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Per contender of ``rows``: n, and the seed-aggregated centre, low and high of ``metric``."""
    for name, runs in rows.groupby("contender", sort=False):
        points = []
        for n, group in runs.groupby("n"):
            centre, low, high = centre_and_spread(seed_statistics(group[metric].to_numpy(float)), agg)
            points.append((n, centre, low, high))
        n, centre, low, high = (np.array(v, dtype=float) for v in zip(*points))
        yield name, n, centre, low, high


#: What the exponent columns mean (the reports print it under the table).
CAPTION = ("Time against n: b is the slope of the least-squares fit log t = a + b log n over the n where "
           "the backend succeeded (seeds aggregated first); b (two largest n) the slope between the last two.")


def column_formats(table: pd.DataFrame) -> dict[str, str]:
    """How each number column of :func:`scaling_table` is written (``str.format`` specs)."""
    formats = {c: "{:.3g}" for c in table.columns if " at n " in c}
    return {**formats, "b": "{:.2f}", "b (two largest n)": "{:.2f}", "n from": "{:,}", "n to": "{:,}"}


def scaling_table(results: pd.DataFrame, metric: str = "wall_s", agg: str = "mean-std") -> pd.DataFrame:
    """One row per family and backend that ran at two n or more: the n range, the number of
    n, the time at the smallest and largest n, the exponent b over all of them, and the
    local exponent between the two largest n (where a per-fit fixed cost no longer hides
    the growth). Empty when no dataset ran at several n."""
    check_aggregation(agg)
    columns = ["problem", "backend", "n from", "n to", "points", f"{metric} at n from", f"{metric} at n to", "b", "b (two largest n)"]
    ok = usable_rows(results, metric)
    rows = []
    for family in grown_families(ok):
        for name, n, centre, _, _ in series(ok[ok["family"] == family], metric, agg):
            if n.size < 2:
                continue
            rows.append((family, name, int(n[0]), int(n[-1]), int(n.size), centre[0], centre[-1],
                         scaling_exponent(n, centre), scaling_exponent(n[-2:], centre[-2:])))
    return pd.DataFrame(rows, columns=columns)


def render_scaling_table(table: pd.DataFrame, fmt: str) -> str:
    """The table under a heading, in Markdown or LaTeX (booktabs); empty for no rows."""
    if table.empty:
        return ""
    formats = column_formats(table)
    if fmt == "latex":
        return table.style.hide(axis="index").format(formats).to_latex(
            hrules=True, caption=CAPTION, label="tab:diffclust-scaling", position_float="centering", environment="table")
    shown = table.copy()
    for column, spec in formats.items():
        shown[column] = shown[column].map(spec.format)
    return f"### Time against n\n\n{shown.to_markdown(index=False, disable_numparse=True)}\n\n{CAPTION}\n"
