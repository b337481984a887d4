"""Metrics, computed by the harness in float64 from a backend's labels and centroids."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from diffclust.kmeans_math import assignment_cost, cluster_means
from diffclust.problem import Problem

#: The quality metrics a row carries (timings and status are added by the runner).
QUALITY_METRICS = ("objective", "inertia", "ari", "nmi", "empty_clusters")


def objective(X: np.ndarray, labels: np.ndarray, centroids: np.ndarray) -> float:
    """``||X - U M||_F^2`` with the backend's own U (labels) and M (centroids)."""
    return assignment_cost(X, labels, centroids)


def inertia(X: np.ndarray, labels: np.ndarray, k: int) -> float:
    """The k-means cost of the partition: ``objective`` with M replaced by the cluster means."""
    return assignment_cost(X, labels, cluster_means(X, labels, k))


def relative_gap(value: float, best_known: float | None) -> float:
    """``(value - best) / best``; NaN when no best is known. 0 when best is 0 and value is too."""
    if best_known is None or not math.isfinite(best_known):
        return math.nan
    if best_known == 0:
        return 0.0 if value == 0 else math.inf
    return (value - best_known) / best_known


def score(problem: Problem, labels: np.ndarray, centroids: np.ndarray) -> dict[str, Any]:
    """All quality metrics of one fit (validated labels and centroids)."""
    X = problem.X
    row: dict[str, Any] = {
        "objective": objective(X, labels, centroids),
        "inertia": inertia(X, labels, problem.k),
        "empty_clusters": int(problem.k - np.unique(labels).size),
        "ari": math.nan,
        "nmi": math.nan,
    }
    if problem.labels is not None:
        row["ari"] = float(adjusted_rand_score(problem.labels, labels))
        row["nmi"] = float(normalized_mutual_info_score(problem.labels, labels))
    return row


def with_relative_gap(frame):
    """Add ``rel_gap``: each row's inertia relative to the best known for its data and k.

    The best known is the least of the dataset's reference value and every ``ok`` row's
    inertia on the same data (dataset, its params, k) in ``frame``. Computed over the
    whole frame, so merged runs share one reference.
    """
    import pandas as pd

    frame = frame.copy()
    if "inertia" not in frame.columns or frame.empty:
        frame["rel_gap"] = math.nan
        return frame
    reference = frame["best_known_inertia"] if "best_known_inertia" in frame.columns else pd.Series(math.nan, index=frame.index)
    group = frame["dataset_label"].astype(str) + "|k=" + frame["k"].astype(str)
    ok = frame["status"] == "ok"
    best_in_frame = frame["inertia"].where(ok).groupby(group).transform("min")
    best = pd.concat([reference, best_in_frame], axis=1).min(axis=1, skipna=True)
    frame["rel_gap"] = [relative_gap(v, b) if s == "ok" else math.nan for v, b, s in zip(frame["inertia"], best, frame["status"])]
    return frame
