"""Shared k-means arithmetic: blocked GEMM assignment, cluster sums, costs.

These are the reference definitions the harness scores with and the numpy backends build
on. Distances come from ``||x||^2 - 2 x.m + ||m||^2`` (a GEMM), clamped at 0 and never
passed through a square root; ties go to the lowest index; work is done in row chunks so
that no ``n x k`` matrix is ever held.

The assignment is scikit-learn's lloyd step in shape: per chunk of rows, one GEMM for the
cross term, then one compiled pass (numba) that picks the nearest center and adds the
row to its cluster's sum. numpy alone needs four or more passes over the ``chunk x k``
scores for the same step (an argmax along rows of k values costs more than the GEMM),
and its many short calls serialize threads on the GIL.

Threads: rows are split into one contiguous block per thread, and each block runs its
chunks with BLAS held at one thread. Small GEMMs on a multi-threaded BLAS spend more time
waking threads than multiplying; one BLAS thread per block is what scikit-learn does too.
A whole block is one compiled call (:func:`assign_run`): the chunk loop, the GEMMs (BLAS
through numba, scipy's build) and the passes run without the GIL, so the threads never
wait on each other between chunks. With a Python loop over 1024-row chunks the two
threads of a 2-core machine ran 1.3-1.9x faster than one, not 2x.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
import scipy.linalg.cython_blas  # noqa: F401  (numba's BLAS: loaded before any thread limit is set)
import scipy.sparse
from threadpoolctl import ThreadpoolController

#: Rows per chunk: a ``chunk x d`` block of rows stays in L1 for the GEMM and the ``k x
#: chunk`` scores in L2 for the pass. On a 2-core EPYC (1e5 x 32, k = 64, two threads)
#: 256 rows gave 3.95 ms an assignment, 128 rows 4.21, 512 rows 4.00, 1024 rows 4.20.
DEFAULT_CHUNK_ROWS = 256


#: Rows per thread below which a second thread costs more (waking it, at every call) than
#: it saves.
MIN_ROWS_PER_THREAD = 4096

_POOLS: dict[int, ThreadPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()


def thread_pool(threads: int) -> ThreadPoolExecutor:
    """A process-wide pool of ``threads`` workers, made once (starting threads for every
    assignment cost more than the assignment on small data)."""
    with _POOLS_LOCK:
        pool = _POOLS.get(threads)
        if pool is None:
            pool = _POOLS[threads] = ThreadPoolExecutor(threads, thread_name_prefix="diffclust-worker")
        return pool


def contiguous_parts(n: int, parts: int) -> list[slice]:
    """``range(n)`` cut into at most ``parts`` contiguous, non-empty slices of near-equal
    size: the rows (or chunks, or groups) each thread takes."""
    bounds = np.linspace(0, n, max(1, parts) + 1).astype(int).tolist()
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


_CONTROLLER: ThreadpoolController | None = None
_MODULES_SEEN: set[str] = set()


def _loads_native_code(name: str) -> bool:
    path = getattr(sys.modules.get(name), "__file__", None) or ""
    return path.endswith((".so", ".pyd", ".dylib"))


def blas_controller() -> ThreadpoolController:
    """A threadpoolctl controller, rebuilt only when an extension module (the way a BLAS
    or OpenMP library enters the process) was imported since the last.

    Building one scans the process's loaded libraries (milliseconds once torch or JAX are
    in): em calls this once per fit and scoring once per assignment, and the first call of
    a compiled function imports some seventy pure-Python modules of numba's, which made
    the next fit rescan (5 ms, against 0.6 ms for a fit of em at n = 10^3).
    """
    global _CONTROLLER
    if _CONTROLLER is None or len(sys.modules) != len(_MODULES_SEEN):
        names = set(sys.modules)
        new = names - _MODULES_SEEN
        _MODULES_SEEN.clear()
        _MODULES_SEEN.update(names)
        if _CONTROLLER is None or any(_loads_native_code(name) for name in new):
            _CONTROLLER = ThreadpoolController()
    return _CONTROLLER


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
    """Per-cluster sums of the points (float64) and counts: one sparse ``U^T X`` product.

    ``U^T`` (``k x n``) is built directly in CSC form, one entry per column, so no sort or
    conversion runs; the product is a single pass over X in scipy's compiled code.
    """
    n = labels.shape[0]
    index_dtype = np.int32 if max(n, k) < 2**31 else np.int64
    one_hot_t = scipy.sparse.csc_matrix(
        (np.ones(n, dtype=X.dtype), labels.astype(index_dtype, copy=False), np.arange(n + 1, dtype=index_dtype)),
        shape=(k, n),
    )
    sums = np.asarray(one_hot_t @ X, dtype=np.float64)
    return sums, np.bincount(labels, minlength=k)


@numba.njit(nogil=True, cache=True, boundscheck=False)
def nearest_from_scores(scores_t, neg_half_sq_norms, X_rows, best_index, labels_out, best_out, accumulate, sums, counts):
    """Nearest center of each row of one chunk, from its transposed scores ``x.c_j`` (k x m).

    The score of center j is ``x.c_j - ||c_j||^2/2``; its argmax is the argmin of the
    squared distance (``||x||^2`` does not change it). One pass over the centers keeps a
    running best per row; with centers in the outer loop, the inner loop runs along a
    contiguous row of scores with no data-dependent branch, so it vectorizes. ``>`` keeps
    the first of equal scores: ties go to the lowest index, as in scikit-learn.

    With ``accumulate``, each row is added to its cluster's float64 sum and count.
    Compiled without the GIL: the threads of :func:`assign_chunks`' callers run it side by side.
    """
    k, m = scores_t.shape
    d = X_rows.shape[1]
    first = neg_half_sq_norms[0]
    for i in range(m):
        best_out[i] = scores_t[0, i] + first
        best_index[i] = 0
    for j in range(1, k):
        shift = neg_half_sq_norms[j]
        jj = np.int32(j)
        for i in range(m):
            score = scores_t[j, i] + shift
            better = score > best_out[i]
            best_out[i] = score if better else best_out[i]
            best_index[i] = jj if better else best_index[i]
    for i in range(m):
        label = best_index[i]
        labels_out[i] = label
        if accumulate:
            counts[label] += 1
            for f in range(d):
                sums[label, f] += X_rows[i, f]


def half_norm_shifts(centers: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``-||c_j||^2 / 2`` of each center, computed in float64, in ``dtype``."""
    return (-0.5 * np.einsum("ij,ij->i", centers, centers, dtype=np.float64)).astype(dtype)


#: ``cross(centers, X_rows, out)``: write the ``k x m`` cross products ``centers @ X_rows.T``
#: into ``out``.
Cross = Callable[[np.ndarray, np.ndarray, np.ndarray], object]


def _numpy_cross(centers: np.ndarray, X_rows: np.ndarray, out: np.ndarray) -> None:
    np.matmul(centers, X_rows.T, out=out)


def assign_chunks(
    X: np.ndarray, chunks: Sequence[slice], centers: np.ndarray, neg_half_sq_norms: np.ndarray, labels: np.ndarray,
    *, best_scores: np.ndarray | None = None, accumulate: bool = False, sums_per_chunk: bool = False,
    cross: Cross = _numpy_cross,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Assign a run of chunks of rows, one after the other on this thread: per chunk a GEMM
    (``cross``, BLAS without the GIL) and :func:`nearest_from_scores`, into buffers reused
    from chunk to chunk.

    Returns the float64 cluster sums and counts (zeros without ``accumulate``): one pair
    for the run, or one per chunk with ``sums_per_chunk`` (for callers that add them in
    chunk order, whatever the threads).
    """
    k, d = centers.shape
    rows = max(chunk.stop - chunk.start for chunk in chunks)
    scores_t = np.empty((k, rows), dtype=X.dtype)
    best_index = np.empty(rows, dtype=np.int32)
    best = np.empty(rows, dtype=X.dtype)
    parts: list[tuple[np.ndarray, np.ndarray]] = []
    for chunk in chunks:
        if sums_per_chunk or not parts:
            parts.append((np.zeros((k, d), dtype=np.float64), np.zeros(k, dtype=np.int64)))
        m = chunk.stop - chunk.start
        out = scores_t if m == rows else np.empty((k, m), dtype=X.dtype)
        cross(centers, X[chunk], out)
        nearest_from_scores(
            out, neg_half_sq_norms, X[chunk], best_index, labels[chunk],
            best if best_scores is None else best_scores[chunk], accumulate, *parts[-1],
        )
    return parts


@numba.njit(nogil=True, cache=True, boundscheck=False)
def assign_run(X, centers, neg_half_sq_norms, chunk_rows, labels, best_scores, accumulate, sums, counts):  # pragma: no cover - compiled
    """:func:`assign_chunks` for one contiguous block of rows, in one call without the GIL.

    ``labels`` (and ``best_scores``, unless empty) are the block's own slices; the cross
    term of each chunk is ``centers @ X_chunk.T`` by BLAS into a reused ``k x chunk`` buffer.
    """
    n = X.shape[0]
    k = centers.shape[0]
    rows = min(chunk_rows, n)
    scores_t = np.empty((k, rows), dtype=X.dtype)
    best_index = np.empty(rows, dtype=np.int32)
    best = np.empty(rows, dtype=X.dtype)
    for start in range(0, n, rows):
        stop = min(start + rows, n)
        out = scores_t if stop - start == rows else np.empty((k, stop - start), dtype=X.dtype)
        np.dot(centers, X[start:stop].T, out)
        best_out = best if best_scores.shape[0] == 0 else best_scores[start:stop]
        nearest_from_scores(out, neg_half_sq_norms, X[start:stop], best_index, labels[start:stop], best_out,
                            accumulate, sums, counts)


def assign_blocks(
    X: np.ndarray, centers: np.ndarray, labels: np.ndarray, *, chunk_rows: int = DEFAULT_CHUNK_ROWS,
    accumulate: bool = False, best_scores: np.ndarray | None = None, pool: ThreadPoolExecutor | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest center of each row into ``labels``; with ``accumulate``, the cluster sums
    (float64) and counts of that assignment, else zeros. Call it with BLAS at one thread.

    The rows are split into one contiguous block per worker of ``pool``, each run by
    :func:`assign_chunks`. ``best_scores``, when given, receives ``x.c - ||c||^2/2`` for
    the chosen center.
    """
    k, d = centers.shape
    X = np.ascontiguousarray(X)
    neg_half_sq_norms = half_norm_shifts(centers, X.dtype)
    centers = np.ascontiguousarray(centers, dtype=X.dtype)
    blocks = contiguous_parts(X.shape[0], pool._max_workers if pool is not None else 1)

    no_scores = np.empty(0, dtype=X.dtype)

    def run(block: slice) -> tuple[np.ndarray, np.ndarray]:
        sums = np.zeros((k, d), dtype=np.float64)
        counts = np.zeros(k, dtype=np.int64)
        assign_run(X[block], centers, neg_half_sq_norms, chunk_rows, labels[block],
                   no_scores if best_scores is None else best_scores[block], accumulate, sums, counts)
        return sums, counts

    if pool is None or len(blocks) == 1:
        parts = [run(block) for block in blocks]
    else:
        parts = list(pool.map(run, blocks))
    sums = np.zeros((k, d), dtype=np.float64)
    counts = np.zeros(k, dtype=np.int64)
    for part_sums, part_counts in parts:
        sums += part_sums
        counts += part_counts
    return sums, counts


def assign(X: np.ndarray, M: np.ndarray, chunk_rows: int = DEFAULT_CHUNK_ROWS, threads: int = 1,
           distances: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """Nearest centroid of each point and its squared distance.

    Returns
    -------
    labels : numpy.ndarray
        ``n`` int64, ties to the lowest index.
    sq_dist : numpy.ndarray or None
        ``n`` squared distances to the chosen centroid (float64, clamped at 0); None with
        ``distances=False`` (which saves a float64 pass over ``X``: most of the call on
        small ``k``).
    """
    n = X.shape[0]
    labels = np.empty(n, dtype=np.int64)
    best = np.empty(n, dtype=X.dtype)
    threads = min(threads, n // MIN_ROWS_PER_THREAD)
    with blas_controller().limit(limits=1, user_api="blas"):
        assign_blocks(X, np.asarray(M, dtype=X.dtype), labels, chunk_rows=chunk_rows, best_scores=best,
                      pool=thread_pool(threads) if threads > 1 else None)
    if not distances:
        return labels, None
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


@numba.njit(nogil=True, cache=True, boundscheck=False)
def _squared_error(X, labels, M):  # pragma: no cover - compiled
    """``sum_i ||x_i - m_{labels_i}||^2`` in float64, in one pass with no temporaries;
    partial sums per block of 1024 rows keep the rounding error that of ~n/1024 terms."""
    n, d = X.shape
    total = 0.0
    for start in range(0, n, 1024):
        block = 0.0
        for i in range(start, min(start + 1024, n)):
            a = labels[i]
            row = 0.0
            for f in range(d):
                diff = np.float64(X[i, f]) - M[a, f]
                row += diff * diff
            block += row
        total += block
    return total


def assignment_cost(X: np.ndarray, labels: np.ndarray, M: np.ndarray) -> float:
    """``||X - U M||_F^2 = sum_i ||x_i - m_{labels_i}||^2``, in float64, by direct differences.

    Compiled, with no float64 copy of the rows: the harness calls it twice for every
    recorded point of a fit's trajectory (0.2 ms instead of 3.6 ms a call at n = 20000,
    d = 16).
    """
    M = np.ascontiguousarray(M, dtype=np.float64)
    labels = np.asarray(labels)
    if labels.shape[0] != X.shape[0] or (labels.size and (labels.min() < 0 or labels.max() >= M.shape[0])):
        raise ValueError(f"labels must be {X.shape[0]} indices into {M.shape[0]} centroids")
    return float(_squared_error(X, labels, M))
