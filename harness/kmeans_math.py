"""Shared k-means arithmetic in numpy: chunked GEMM distances, assignment, cluster means.

These are the reference definitions the harness scores with and the numpy backends build
on. Squared distances come from ``||x||^2 - 2 x.m + ||m||^2`` (a GEMM), clamped at 0 and
never passed through a square root; ties in argmin go to the lowest index; work is done in
row chunks so that no ``n x k`` matrix is ever held.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

#: Rows per chunk: enough for the GEMM to run near its peak, small enough that a
#: ``chunk x k`` block of distances stays in cache-friendly sizes.
DEFAULT_CHUNK_ROWS = 4096


def row_chunks(n: int, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> Iterator[slice]:
    """Slices covering ``range(n)`` in order, ``chunk_rows`` at a time."""
    for start in range(0, n, chunk_rows):
        yield slice(start, min(start + chunk_rows, n))


def squared_distances(X: np.ndarray, M: np.ndarray, M_sq_norms: np.ndarray | None = None) -> np.ndarray:
    """``||x_i - m_j||^2`` for every row of X and M, by GEMM, clamped at 0."""
    if M_sq_norms is None:
        M_sq_norms = np.einsum("ij,ij->i", M, M)
    X_sq_norms = np.einsum("ij,ij->i", X, X)
    D = X @ M.T
    D *= -2.0
    D += X_sq_norms[:, None]
    D += M_sq_norms[None, :]
    np.maximum(D, 0.0, out=D)
    return D


def assign(X: np.ndarray, M: np.ndarray, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> tuple[np.ndarray, np.ndarray]:
    """Nearest centroid of each point and its squared distance, in chunks.

    Returns
    -------
    labels : numpy.ndarray
        ``n`` int64, ties to the lowest index.
    sq_dist : numpy.ndarray
        ``n`` squared distances to the chosen centroid, in X's dtype.
    """
    n = X.shape[0]
    labels = np.empty(n, dtype=np.int64)
    sq_dist = np.empty(n, dtype=np.result_type(X.dtype, M.dtype))
    M_sq_norms = np.einsum("ij,ij->i", M, M)
    for rows in row_chunks(n, chunk_rows):
        D = squared_distances(X[rows], M, M_sq_norms)
        labels[rows] = np.argmin(D, axis=1)
        sq_dist[rows] = np.take_along_axis(D, labels[rows, None], axis=1)[:, 0]
    return labels, sq_dist


def cluster_sums(X: np.ndarray, labels: np.ndarray, k: int, dtype: type = np.float64) -> tuple[np.ndarray, np.ndarray]:
    """Per-cluster sums of the points and counts, accumulated in ``dtype``."""
    counts = np.bincount(labels, minlength=k).astype(dtype)
    sums = np.zeros((k, X.shape[1]), dtype=dtype)
    np.add.at(sums, labels, X.astype(dtype, copy=False))
    return sums, counts


def cluster_means(X: np.ndarray, labels: np.ndarray, k: int, fallback: np.ndarray | None = None) -> np.ndarray:
    """Means of the points of each cluster (float64); an empty cluster keeps ``fallback``'s row (or 0)."""
    sums, counts = cluster_sums(X, labels, k)
    means = np.zeros_like(sums) if fallback is None else np.array(fallback, dtype=np.float64, copy=True)
    filled = counts > 0
    means[filled] = sums[filled] / counts[filled, None]
    return means


def assignment_cost(X: np.ndarray, labels: np.ndarray, M: np.ndarray, chunk_rows: int = 65536) -> float:
    """``||X - U M||_F^2 = sum_i ||x_i - m_{labels_i}||^2``, in float64, by direct differences."""
    M = np.asarray(M, dtype=np.float64)
    total = 0.0
    for rows in row_chunks(X.shape[0], chunk_rows):
        diff = X[rows].astype(np.float64) - M[labels[rows]]
        total += float(np.einsum("ij,ij->", diff, diff))
    return total
