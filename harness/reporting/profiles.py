"""Performance profiles (Dolan and Moré, 2002) and fitted scaling exponents.

A performance profile answers "on what fraction of the problems is this solver within a
factor tau of the best one?". For each problem p and solver s with cost t(p, s) (wall
time, say), the ratio is r(p, s) = t(p, s) / min_s' t(p, s'); a failed or missing run
has r = inf. The profile of s is rho_s(tau) = |{p : r(p, s) <= tau}| / |problems|, so
rho_s(1) is the fraction of problems on which s is the best, and rho_s at large tau is
the fraction it solves at all.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def performance_ratios(results: pd.DataFrame, metric: str, solver: str, problem: Sequence[str]) -> pd.DataFrame:
    """Ratios to the best, one row per problem, one column per solver.

    ``results`` rows with status other than ``ok``, or a non-finite or non-positive
    ``metric``, count as failures (inf). A problem no solver solved keeps a row of inf:
    it counts against everyone.
    """
    cost = pd.to_numeric(results[metric], errors="coerce").astype(float)
    usable = (results["status"] == "ok") & np.isfinite(cost) & (cost > 0)
    frame = results.assign(_cost=cost.where(usable, np.inf))
    table = frame.pivot_table(index=list(problem), columns=solver, values="_cost", aggfunc="min", sort=False)
    solvers = list(pd.unique(results[solver]))
    table = table.reindex(columns=solvers).fillna(np.inf)
    best = table.min(axis=1)
    ratios = table.div(best.where(np.isfinite(best), np.nan), axis=0)
    return ratios.fillna(np.inf)


def profile(ratios: pd.Series, taus: np.ndarray) -> np.ndarray:
    """rho(tau) for one solver's ratios: the fraction of problems with ratio <= tau."""
    values = np.sort(ratios.to_numpy(dtype=float))
    return np.searchsorted(values, taus, side="right") / max(len(values), 1)


def scaling_exponent(n: Sequence[float], t: Sequence[float]) -> float:
    """The slope b of the least-squares fit log t = a + b log n; NaN with fewer than two n."""
    n_arr, t_arr = np.asarray(n, dtype=float), np.asarray(t, dtype=float)
    keep = (n_arr > 0) & (t_arr > 0) & np.isfinite(n_arr) & np.isfinite(t_arr)
    n_arr, t_arr = n_arr[keep], t_arr[keep]
    if np.unique(n_arr).size < 2:
        return float("nan")
    slope, _ = np.polyfit(np.log(n_arr), np.log(t_arr), 1)
    return float(slope)
