"""Shared k-means arithmetic in numpy: blocked GEMM assignment, cluster sums, costs.

These are the reference definitions the harness scores with and the numpy backends build
on. Distances come from ``||x||^2 - 2 x.m + ||m||^2`` (a GEMM), clamped at 0 and never
passed through a square root; ties go to the lowest index; work is done in row chunks so
that no ``n x k`` matrix is ever held.

Threads: rows are split into one contiguous block per thread, and each block runs its
chunks with BLAS held at one thread (numpy's GEMM, argmax and scipy's sparse product
release the GIL). Small GEMMs on a multi-threaded BLAS spend more time waking threads
than multiplying; one BLAS thread per block is what scikit-learn does too.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse
from threadpoolctl import ThreadpoolController

#: Rows per chunk: the GEMM runs near its peak and a ``chunk x k`` block of scores stays
#: in cache.
DEFAULT_CHUNK_ROWS = 1024


_CONTROLLER: tuple[int, ThreadpoolController] | None = None


def blas_controller() -> ThreadpoolController:
    """A threadpoolctl controller, rebuilt only when modules were imported since the last.

    Building one scans the process's loaded libraries (slow once torch or JAX are in);
    scoring calls :func:`assign` hundreds of times per cell.
    """
    global _CONTROLLER
    loaded = len(sys.modules)
    if _CONTROLLER is None or _CONTROLLER[0] != loaded:
        _CONTROLLER = (loaded, ThreadpoolController())
    return _CONTROLLER[1]


def row_chunks(n: int, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> Iterator[slice]:
    """Slices covering ``range(n)`` in order, ``chunk_rows`` at a time."""
    for start in range(0, n, chunk_rows):
        yield slice(start, min(start + chunk_rows, n))


def squared_distances(X: np.ndarray, M: np.ndarray, M_sq_norms: np.ndarray | None = None) -> np.ndarray:
    """``||x_i - m_j||^2`` for every row of X and M, by GEMM, clamped at 0 (holds ``len(X) x k``)."""
    if M_sq_norms is None:
        M_sq_norms = np.einsum("ij,ij->i", M, M)
    X_sq_norms = np.einsum("ij,ij->i", X, X)
    D = X @ M.T
    D *= -2.0
    D += X_sq_norms[:, None]
    D += M_sq_norms[None, :]
    np.maximum(D, 0.0, out=D)
    return D


def cluster_sums(X: np.ndarray, labels: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-cluster sums of the points (float64) and counts: one sparse ``U^T X`` product."""
    n = labels.shape[0]
    one_hot_t = scipy.sparse.csr_matrix((np.ones(n, dtype=X.dtype), (labels, np.arange(n))), shape=(k, n))
    sums = np.asarray(one_hot_t @ X, dtype=np.float64)
    return sums, np.bincount(labels, minlength=k)


def _assign_block(
    X: np.ndarray, block: slice, centers_t: np.ndarray, half_sq_norms: np.ndarray, labels: np.ndarray,
    best_scores: np.ndarray | None, chunk_rows: int, accumulate: bool,
) -> tuple[np.ndarray, np.ndarray] | None:
    """Assign one block of rows; with ``accumulate``, also return its cluster sums and counts.

    Per chunk: one GEMM for the cross term and an argmax of ``x.c - ||c||^2/2`` (the
    argmin of the squared distance: ``||x||^2`` does not change it).
    """
    for start in range(block.start, block.stop, chunk_rows):
        rows = slice(start, min(start + chunk_rows, block.stop))
        scores = X[rows] @ centers_t
        scores -= half_sq_norms
        chunk_labels = np.argmax(scores, axis=1)
        labels[rows] = chunk_labels
        if best_scores is not None:
            best_scores[rows] = np.take_along_axis(scores, chunk_labels[:, None], axis=1)[:, 0]
    if not accumulate:
        return None
    return cluster_sums(X[block], labels[block], centers_t.shape[1])


def assign_blocks(
    X: np.ndarray, centers: np.ndarray, labels: np.ndarray, *, chunk_rows: int = DEFAULT_CHUNK_ROWS,
    accumulate: bool = False, best_scores: np.ndarray | None = None, pool: ThreadPoolExecutor | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest center of each row into ``labels``; with ``accumulate``, the cluster sums
    (float64) and counts of that assignment, else zeros. Call it with BLAS at one thread.

    ``best_scores``, when given, receives ``x.c - ||c||^2/2`` for the chosen center.
    """
    k, d = centers.shape
    centers_t = np.ascontiguousarray(centers.T, dtype=X.dtype)
    half_sq_norms = (0.5 * np.einsum("ij,ij->i", centers, centers, dtype=np.float64)).astype(X.dtype)
    n = X.shape[0]
    workers = pool._max_workers if pool is not None else 1
    bounds = np.linspace(0, n, workers + 1).astype(int)
    blocks = [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
    args = (centers_t, half_sq_norms, labels, best_scores, chunk_rows, accumulate)
    if pool is None or len(blocks) == 1:
        parts = [_assign_block(X, block, *args) for block in blocks]
    else:
        parts = list(pool.map(lambda block: _assign_block(X, block, *args), blocks))
    sums = np.zeros((k, d), dtype=np.float64)
    counts = np.zeros(k, dtype=np.int64)
    if accumulate:
        for part_sums, part_counts in parts:
            sums += part_sums
            counts += part_counts
    return sums, counts


def assign(X: np.ndarray, M: np.ndarray, chunk_rows: int = DEFAULT_CHUNK_ROWS, threads: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Nearest centroid of each point and its squared distance.

    Returns
    -------
    labels : numpy.ndarray
        ``n`` int64, ties to the lowest index.
    sq_dist : numpy.ndarray
        ``n`` squared distances to the chosen centroid (float64, clamped at 0).
    """
    n = X.shape[0]
    labels = np.empty(n, dtype=np.int64)
    best = np.empty(n, dtype=X.dtype)
    with blas_controller().limit(limits=1, user_api="blas"):
        if threads > 1 and n >= 2 * chunk_rows:
            with ThreadPoolExecutor(threads, thread_name_prefix="diffclust-assign") as pool:
                assign_blocks(X, np.asarray(M, dtype=X.dtype), labels, chunk_rows=chunk_rows, best_scores=best, pool=pool)
        else:
            assign_blocks(X, np.asarray(M, dtype=X.dtype), labels, chunk_rows=chunk_rows, best_scores=best)
    x_sq = np.einsum("ij,ij->i", X, X, dtype=np.float64)
    sq_dist = np.maximum(x_sq - 2.0 * best.astype(np.float64), 0.0)
    return labels, sq_dist


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
