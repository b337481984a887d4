"""The speed floor of a Lloyd iteration on this machine, measured where the cell runs.

One Lloyd iteration cannot be faster than its cross-term GEMM, ``X @ M.T`` (2·n·d·k
flops), done at the best row-block size. diffclust measures that floor for each cell's
shape on the cell's own threads, right before the fits, and reports every backend's time
per iteration against it (``iter_over_floor``): a speed figure that carries across
machines, and that shows how far an implementation is from the hardware.
"""

from __future__ import annotations

import time
import numpy as np
from threadpoolctl import threadpool_limits

#: Row-block sizes tried; the floor is the best of them.
BLOCK_ROWS = (1024, 4096, 16384)
#: Timed passes per block size (the least is kept).
PASSES = 3
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


def _measure(X: np.ndarray, k: int, threads: int) -> float:
    scale = max(1.0, X.shape[0] / MAX_ROWS)
    X = X[:MAX_ROWS]
    n, d = X.shape
    M_t = np.ascontiguousarray(np.random.default_rng(0).standard_normal((d, k)).astype(X.dtype))
    best = float("inf")
    with threadpool_limits(limits=threads):
        for block in BLOCK_ROWS:
            block = min(block, n)
            for _ in range(PASSES):
                start = time.perf_counter()
                blocked_gemm_pass(X, M_t, block)
                best = min(best, time.perf_counter() - start)
            if block == n:
                break
    return best * scale
