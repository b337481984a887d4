"""Performance profiles (Dolan and Moré, 2002).

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
