"""The speed floor of a Lloyd iteration on this machine, measured where the cell runs.

One Lloyd iteration cannot be faster than its cross-term GEMM, ``X @ M.T`` (2·n·d·k
flops), done at the best row-block size. diffclust measures that floor for each cell's
shape on the cell's own threads, right before the fits, and reports every backend's time
per iteration against it (``iter_over_floor``): a speed figure that carries across
machines, and that shows how far an implementation is from the hardware.

Two ways of spreading the blocks over the threads are timed, and the floor is the best
of both: every block on a multi-threaded BLAS, and the rows split into one contiguous
part per thread, each running its blocks on a one-thread BLAS without the GIL (how
``em`` and scikit-learn run). On a 2-core EPYC at 1e5 x 32, k = 64 the second, with
256-row blocks, was about 1.25x faster than the first (1.9-2.0 ms against 2.45-2.5 ms); a
floor that timed only the first would let an implementation look closer to the hardware
than it is.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
from threadpoolctl import threadpool_limits

from diffclust.kmeans_math import blas_controller, contiguous_parts, thread_pool

#: Row-block sizes tried on a multi-threaded BLAS; the floor is the best of them and of
#: :data:`SPLIT_BLOCK_ROWS`.
BLOCK_ROWS = (1024, 4096, 16384)
#: Row-block sizes tried with the rows split over the threads, one BLAS thread each.
SPLIT_BLOCK_ROWS = (256, 1024)
#: Timed passes per block size, after one untimed pass (the least is kept). With three and
#: no warm-up, a fresh process measured the floor at 1e5 x 32, k = 64 as 2.2-2.6 ms where
#: fifteen warm passes reach 1.9-2.0: too high a floor flatters every ratio to it.
PASSES = 7
#: Rows timed at most: a pass is linear in n, so on larger data the floor is the time of
#: this many rows scaled by n / rows (a pass over 10^7 rows would cost seconds, nine times).
MAX_ROWS = 2**18


_MEASURED: dict[tuple, float] = {}


def gemm_floor_s(X: np.ndarray, k: int, threads: int) -> float:
    """Seconds for one blocked pass of ``X @ M.T`` with ``k`` centroids on ``threads`` threads.

    Measured once per shape, dtype and thread count in this process (the floor depends
    on the shape, not on the values).
    """
    key = (X.shape, str(X.dtype), int(k), int(threads))
    if key not in _MEASURED:
        _MEASURED[key] = _measure(X, k, threads)
    return _MEASURED[key]


def blocked_gemm_pass(X: np.ndarray, M_t: np.ndarray, block_rows: int) -> None:
    """One pass of ``X @ M_t`` in blocks of ``block_rows`` rows (results discarded)."""
    for row in range(0, X.shape[0], block_rows):
        X[row : row + block_rows] @ M_t


@numba.njit(nogil=True, cache=True)
def _compiled_gemm_pass(X, M_t, block_rows):  # pragma: no cover - compiled
    """:func:`blocked_gemm_pass` in one call without the GIL (numba's BLAS), into one buffer."""
    n = X.shape[0]
    rows = min(block_rows, n)
    out = np.empty((rows, M_t.shape[1]), dtype=X.dtype)
    for start in range(0, n - rows + 1, rows):
        np.dot(X[start:start + rows], M_t, out)
    tail = n % rows
    if tail:
        np.dot(X[n - tail:], M_t, np.empty((tail, M_t.shape[1]), dtype=X.dtype))


def split_gemm_pass(X: np.ndarray, M_t: np.ndarray, block_rows: int, pool: ThreadPoolExecutor | None) -> None:
    """One pass of ``X @ M_t``: one contiguous part of the rows per worker of ``pool``, each
    in blocks of ``block_rows`` (call it with BLAS at one thread)."""
    parts = [X[rows] for rows in contiguous_parts(X.shape[0], pool._max_workers if pool is not None else 1)]
    if pool is None or len(parts) == 1:
        for part in parts:
            _compiled_gemm_pass(part, M_t, block_rows)
    else:
        list(pool.map(lambda part: _compiled_gemm_pass(part, M_t, block_rows), parts))


def _fastest(run, passes: int) -> float:
    run()  # warm: page faults on fresh buffers, idle threads waking
    best = float("inf")
    for _ in range(passes):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def _measure(X: np.ndarray, k: int, threads: int) -> float:
    scale = max(1.0, X.shape[0] / MAX_ROWS)
    X = np.ascontiguousarray(X[:MAX_ROWS])
    n, d = X.shape
    M_t = np.ascontiguousarray(np.random.default_rng(0).standard_normal((d, k)).astype(X.dtype))
    best = float("inf")
    with threadpool_limits(limits=threads):
        for block in BLOCK_ROWS:
            block = min(block, n)
            best = min(best, _fastest(lambda: blocked_gemm_pass(X, M_t, block), PASSES))
            if block == n:
                break
    pool = thread_pool(threads) if threads > 1 else None
    with blas_controller().limit(limits=1, user_api="blas"):
        for block in SPLIT_BLOCK_ROWS:
            best = min(best, _fastest(lambda: split_gemm_pass(X, M_t, block, pool), PASSES))
    return best * scale
