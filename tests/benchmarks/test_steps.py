"""Micro-benchmarks: one step of each backend at two sizes.

``pytest tests/benchmarks --benchmark-only`` gives the numbers; a plain ``pytest`` runs
each once as a smoke test. Compare steps within one run, on one machine: the floor
benchmark is the blocked cross-term GEMM a Lloyd iteration cannot beat.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from diffclust.kmeans_math import DEFAULT_CHUNK_ROWS, assign_blocks, blas_controller
from diffclust.datasets.blobs import Blobs
from diffclust.floor import blocked_gemm_pass, split_gemm_pass
from diffclust.init import initial_centroids

SIZES = {"n1e4-d32-k64": (10_000, 32, 64), "n1e5-d32-k64": (100_000, 32, 64)}
THREADS = 2


@pytest.fixture(scope="module", params=list(SIZES))
def data(request):
    n, d, k = SIZES[request.param]
    X = Blobs().load(**{**Blobs.params, "n": n, "d": d, "centers": k}).X
    return X, initial_centroids(X, k, 0)


def test_gemm_floor(benchmark, data):
    X, init = data
    benchmark.group = f"step {X.shape[0]}x{X.shape[1]} k={init.shape[0]}"
    centers_t = np.ascontiguousarray(init.T)
    with threadpool_limits(THREADS):
        benchmark(blocked_gemm_pass, X, centers_t, 4096)


def test_gemm_floor_split(benchmark, data):
    """The floor's other way: one part of the rows per thread, 256-row blocks, one BLAS thread."""
    X, init = data
    benchmark.group = f"step {X.shape[0]}x{X.shape[1]} k={init.shape[0]}"
    centers_t = np.ascontiguousarray(init.T)
    with ThreadPoolExecutor(THREADS) as pool, blas_controller().limit(limits=1, user_api="blas"):
        benchmark(split_gemm_pass, X, centers_t, 256, pool)


def test_em_step(benchmark, data):
    X, init = data
    benchmark.group = f"step {X.shape[0]}x{X.shape[1]} k={init.shape[0]}"
    labels = np.empty(X.shape[0], dtype=np.int64)
    with ThreadPoolExecutor(THREADS) as pool, threadpool_limits(1, user_api="blas"):
        sums, counts = benchmark(assign_blocks, X, init, labels, chunk_rows=DEFAULT_CHUNK_ROWS, accumulate=True, pool=pool)
    assert counts.sum() == X.shape[0]


def test_sklearn_step(benchmark, data):
    from sklearn.cluster import KMeans

    X, init = data
    benchmark.group = f"step {X.shape[0]}x{X.shape[1]} k={init.shape[0]}"
    with threadpool_limits(THREADS):
        model = benchmark(lambda: KMeans(init.shape[0], init=init, n_init=1, max_iter=1, tol=0).fit(X))
    assert model.n_iter_ == 1


def test_faiss_step(benchmark, data):
    faiss = pytest.importorskip("faiss")
    X, init = data
    benchmark.group = f"step {X.shape[0]}x{X.shape[1]} k={init.shape[0]}"
    faiss.omp_set_num_threads(THREADS)

    def step():
        kmeans = faiss.Kmeans(X.shape[1], init.shape[0], niter=1, max_points_per_centroid=X.shape[0])
        kmeans.train(X, init_centroids=init)
        return kmeans

    benchmark(step)
