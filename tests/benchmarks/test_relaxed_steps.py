"""Micro-benchmarks: one step of each torch and JAX backend at two sizes.

The twin of ``test_steps.py`` (GEMM floor, ``em``, scikit-learn, faiss) for the backends
written in a framework: one Lloyd iteration of ``torch-em``, one annealing step of
``soft-kmeans``, and one relaxed step (forward, backward and Adam update) of ``torch-ste``,
``torch-gumbel``, ``jax-ste`` and ``jax-gumbel`` in centroid mode, through the same code
their ``fit`` runs. ``pytest tests/benchmarks --benchmark-only`` gives the numbers (compare
them with ``test_sklearn_step`` of the same run and size); a plain ``pytest`` runs each
step once as a smoke test.
"""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from diffclust.backends import _relaxed_math as rm
from diffclust.datasets.blobs import Blobs
from diffclust.init import initial_centroids

SIZES = {"n1e4-d32-k64": (10_000, 32, 64), "n1e5-d32-k64": (100_000, 32, 64)}
THREADS = 2


@pytest.fixture(scope="module", params=list(SIZES))
def data(request):
    n, d, k = SIZES[request.param]
    X = Blobs().load(**{**Blobs.params, "n": n, "d": d, "centers": k}).X.astype(np.float32)
    init = initial_centroids(X, k, 0).astype(np.float32)
    sample = X[np.random.default_rng(0).choice(n, size=(2, 1000))]
    dbar = float(((sample[0] - sample[1]) ** 2).sum(axis=1).mean())
    return X, init, dbar


def group(benchmark, X: np.ndarray, init: np.ndarray) -> None:
    benchmark.group = f"step {X.shape[0]}x{X.shape[1]} k={init.shape[0]}"


@pytest.fixture(scope="module")
def torch_threads():
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    yield torch
    torch.set_num_threads(before)


def test_torch_em_step(benchmark, data, torch_threads):
    from diffclust.backends._torch_lloyd import assign_and_sum

    torch = torch_threads
    X, init, _ = data
    group(benchmark, X, init)
    Xt, centers = torch.from_numpy(X), torch.from_numpy(init)
    labels = torch.empty(X.shape[0], dtype=torch.int64)
    chunk = rm.chunk_rows_for(X.shape[0], init.shape[0], 0, accelerator=False)
    with torch.no_grad(), threadpool_limits(THREADS):
        sums, counts = benchmark(assign_and_sum, Xt, centers, labels, chunk)
    assert int(counts.sum()) == X.shape[0]


def test_soft_kmeans_step(benchmark, data, torch_threads):
    from diffclust.backends.soft_kmeans import soft_means

    torch = torch_threads
    X, init, dbar = data
    group(benchmark, X, init)
    chunk = rm.chunk_rows_for(X.shape[0], init.shape[0], 0, accelerator=False)
    with torch.no_grad(), threadpool_limits(THREADS):
        sums, weights = benchmark(soft_means, torch.from_numpy(X), torch.from_numpy(init), 10.0 / dbar, chunk)
    assert float(weights.sum()) == pytest.approx(X.shape[0], rel=1e-6)


@pytest.mark.parametrize("stochastic", [False, True], ids=["torch-ste", "torch-gumbel"])
def test_torch_relaxed_step(benchmark, data, torch_threads, stochastic):
    from diffclust.backends import _torch_relaxed_ops as ops

    torch = torch_threads
    X, init, dbar = data
    group(benchmark, X, init)
    Xt = torch.from_numpy(X)
    M = torch.from_numpy(init.copy()).requires_grad_(True)
    optimizer = torch.optim.Adam([M], lr=0.05 * rm.feature_scale(dbar, X.shape[1]), eps=rm.adam_eps(dbar, X.shape[1]))
    chunk = rm.chunk_rows_for(X.shape[0], init.shape[0], 0, accelerator=False, compiled=True)
    noise = ops.GumbelStream(0, 0) if stochastic else None
    x_sq_sum = torch.einsum("ij,ij->", Xt, Xt).double()

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = ops.relaxed_kmeans_loss(Xt, M, 1.0 / (0.1 * dbar), chunk_rows=chunk, noise=noise, x_sq_sum=x_sq_sum)
        loss.backward()
        optimizer.step()
        return loss

    with threadpool_limits(THREADS):
        loss = benchmark(step)
    assert np.isfinite(float(loss.detach())) and not np.array_equal(M.detach().numpy(), init)


@pytest.mark.parametrize("stochastic", [False, True], ids=["jax-ste", "jax-gumbel"])
def test_jax_relaxed_step(benchmark, data, stochastic):
    pytest.importorskip("jax")
    from diffclust.backends._jax_base import import_jax
    from diffclust.backends._jax_relaxed import adam, centroid_runner

    jax = import_jax()
    X, init, dbar = data
    group(benchmark, X, init)
    chunk = rm.chunk_rows_for(X.shape[0], init.shape[0], 0, accelerator=False)
    run_block = centroid_runner(chunk, "linear", stochastic)
    Xj, M = jax.numpy.asarray(X), jax.numpy.asarray(init)
    state = adam(0.05 * rm.feature_scale(dbar, X.shape[1]), rm.adam_eps(dbar, X.shape[1])).init(M)
    inv_taus = jax.numpy.full((1,), 1.0 / (0.1 * dbar), dtype=jax.numpy.float32)
    key = jax.random.PRNGKey(0)

    def step():
        out = run_block(M, state, Xj, inv_taus, None, key, 0)
        return jax.block_until_ready(out)

    step()  # compile outside the timing
    M_new, _, value = benchmark(step)
    assert np.isfinite(float(value)) and not np.array_equal(np.asarray(M_new), init)
