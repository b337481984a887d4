"""``em``: Lloyd's algorithm (hard EM) in numpy, the baseline every method is measured against.

It follows scikit-learn's ``lloyd`` step for step, so the two reach the same inertia from
the same init: per chunk of rows, the cross term by GEMM and one compiled pass for the
nearest center and the cluster sums (``diffclust.kmeans_math``; memory O(n d + chunk k),
never an n x k matrix), ties to the lowest index, an empty cluster relocated to the point farthest from
its centroid, ``tol`` relative to the mean feature variance, and a final E-step when
stopping on ``tol`` so that labels match the returned centroids.
"""

from __future__ import annotations

from typing import Any

import os

import numpy as np

import diffclust
from diffclust.problem import feature_variances
from diffclust.kmeans_math import (
    DEFAULT_CHUNK_ROWS, MIN_ROWS_PER_THREAD, assign_blocks, blas_controller, row_chunks, thread_pool,
)


def tolerance(X: np.ndarray, tol: float) -> float:
    """scikit-learn's absolute tolerance: ``tol`` times the mean variance of the features."""
    if tol == 0:
        return 0.0
    return float(np.mean(feature_variances(X)) * tol)


def relocate_empty_clusters(
    X: np.ndarray, centers_old: np.ndarray, sums: np.ndarray, counts: np.ndarray, labels: np.ndarray
) -> int:
    """Move each empty cluster onto one of the points farthest from their centroid.

    scikit-learn's rule (``_relocate_empty_clusters_dense``): the points are taken in the
    order ``argpartition`` gives, each moved out of its old cluster's sum. Returns how many
    clusters were relocated.
    """
    empty = np.flatnonzero(counts == 0)
    n_empty = empty.size
    if n_empty == 0:
        return 0
    dist = np.empty(X.shape[0], dtype=np.float64)
    for rows in row_chunks(X.shape[0], 65536):
        diff = X[rows] - centers_old[labels[rows]]
        dist[rows] = np.einsum("ij,ij->i", diff, diff)
    far = np.argpartition(dist, -n_empty)[: -n_empty - 1 : -1]
    for new_id, point in zip(empty, far):
        old_id = labels[point]
        sums[old_id] -= X[point]
        counts[old_id] -= 1
        sums[new_id] = X[point]
        counts[new_id] = 1
    return n_empty


def lloyd(
    X: np.ndarray,
    init: np.ndarray,
    *,
    max_iter: int = 300,
    tol: float = 1e-4,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    threads: int = 1,
    trace: diffclust.Trace | None = None,
) -> tuple[np.ndarray, np.ndarray, int, bool, int]:
    """Run Lloyd's algorithm from ``init`` on ``threads`` threads.

    Returns labels, centroids (X's dtype), iterations, whether it converged, and how many
    empty-cluster relocations happened.
    """
    # A cached controller: threadpool_limits() scans the process's libraries at every call,
    # milliseconds once torch or JAX are loaded, which is the whole fit at small n.
    with blas_controller().limit(limits=1, user_api="blas"):
        threads = min(threads, X.shape[0] // MIN_ROWS_PER_THREAD)
        return _lloyd(X, init, max_iter, tol, chunk_rows, trace, thread_pool(threads) if threads > 1 else None)


def _lloyd(X, init, max_iter, tol, chunk_rows, trace, pool):
    abs_tol = tolerance(X, tol)
    centers = np.array(init, dtype=X.dtype, copy=True)
    labels = np.full(X.shape[0], -1, dtype=np.int64)
    labels_old = labels.copy()
    relocations = 0
    strict = converged = False
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        sums, counts = assign_blocks(X, centers, labels, chunk_rows=chunk_rows, accumulate=True, pool=pool)
        relocations += relocate_empty_clusters(X, centers, sums, counts, labels)
        new_centers = centers.copy()
        filled = counts > 0
        new_centers[filled] = (sums[filled] / counts[filled, None]).astype(X.dtype)
        shift = float(np.sum((new_centers.astype(np.float64) - centers) ** 2))
        centers = new_centers
        if trace is not None:
            trace(n_iter, centers)
        if np.array_equal(labels, labels_old):
            strict = converged = True
            break
        if shift <= abs_tol:
            converged = True
            break
        labels_old[:] = labels
    if not strict:
        # Labels were computed from the previous centers; make them match the returned ones.
        assign_blocks(X, centers, labels, chunk_rows=chunk_rows, pool=pool)
    return labels, centers, n_iter, converged, relocations


class EMBackend(diffclust.Backend):
    """Lloyd's algorithm in numpy and numba, fused and chunked."""

    name = "em"
    framework = "numpy"
    differentiable = False
    params = {"max_iter": 300, "tol": 1e-4, "chunk_rows": DEFAULT_CHUNK_ROWS}
    version = "4"

    def __init__(self) -> None:
        self.threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)

    def set_threads(self, threads: int) -> None:
        self.threads = max(1, int(threads))

    def fit(self, problem: diffclust.Problem, *, device: str, seed: int, trace: diffclust.Trace | None = None, **params: Any) -> diffclust.Fit:
        labels, centers, n_iter, converged, relocations = lloyd(
            problem.X,
            problem.init,
            max_iter=int(params["max_iter"]),
            tol=float(params["tol"]),
            chunk_rows=int(params["chunk_rows"]),
            threads=self.threads,
            trace=trace,
        )
        return diffclust.Fit(
            labels=labels,
            centroids=centers,
            n_iter=n_iter,
            converged=converged,
            info={"empty_cluster_rule": "farthest point (scikit-learn)", "relocations": relocations},
        )


@diffclust.hookimpl
def register_backends(register):
    register(EMBackend())
