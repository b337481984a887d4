"""The fast backward passes of the relaxed backends against plain autodiff, and torch
against JAX: the same numbers to float32 rounding."""

from __future__ import annotations

import numpy as np
import pytest

from diffclust.problem import to_numpy
from diffclust.testing import problems

torch = pytest.importorskip("torch")
jax = pytest.importorskip("jax")


def random_problem(n: int = 300, d: int = 5, k: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    M = X[rng.choice(n, k, replace=False)] + 0.1 * rng.normal(size=(k, d)).astype(np.float32)
    return X, M


def assert_same_gradient(fast: np.ndarray, reference: np.ndarray) -> None:
    scale = float(np.abs(reference).max())
    assert scale > 0
    np.testing.assert_allclose(fast, reference, rtol=1e-4, atol=2e-6 * scale)


@pytest.mark.parametrize("loss", ["linear", "quadratic"])
@pytest.mark.parametrize("chunk_rows", [64, 4096])
def test_torch_fast_backward_equals_autograd(loss, chunk_rows):
    from diffclust.backends import _torch_relaxed_ops as ops

    X_np, M_np = random_problem()
    X = torch.from_numpy(X_np)
    M_fast = torch.from_numpy(M_np).requires_grad_(True)
    M_ref = torch.from_numpy(M_np.copy()).requires_grad_(True)
    fast = ops.relaxed_kmeans_loss(X, M_fast, 0.4, loss=loss, chunk_rows=chunk_rows)
    fast.backward()
    reference = ops.literal_relaxed_loss(X, M_ref, 0.4, loss=loss)
    reference.backward()
    assert float(fast.detach()) == pytest.approx(float(reference.detach()), rel=1e-5)
    assert_same_gradient(M_fast.grad.numpy(), M_ref.grad.numpy())


def test_torch_fast_backward_with_gumbel_noise_equals_autograd():
    from diffclust.backends import _torch_relaxed_ops as ops

    X_np, M_np = random_problem()
    X = torch.from_numpy(X_np)
    stream, chunk_rows = ops.GumbelStream(seed=5, step=3), 256
    # The literal loss sees the very noise the compiled pass draws, chunk by chunk.
    noise = torch.cat([stream.chunk_noise(index, rows.stop - rows.start, M_np.shape[0], X).clone()
                       for index, rows in enumerate(ops.row_slices(X.shape[0], chunk_rows))])
    M_fast = torch.from_numpy(M_np).requires_grad_(True)
    M_ref = torch.from_numpy(M_np.copy()).requires_grad_(True)
    ops.relaxed_kmeans_loss(X, M_fast, 0.4, chunk_rows=chunk_rows, noise=stream).backward()
    ops.literal_relaxed_loss(X, M_ref, 0.4, noise=noise).backward()
    assert_same_gradient(M_fast.grad.numpy(), M_ref.grad.numpy())


def test_torch_logit_mode_gradient_equals_autograd():
    from diffclust.backends import _torch_relaxed_ops as ops

    X_np, M_np = random_problem()
    X, M = torch.from_numpy(X_np), torch.from_numpy(M_np)
    Theta = torch.from_numpy(np.random.default_rng(1).normal(size=(X.shape[0], M.shape[0])).astype(np.float32))
    labels = Theta.argmax(dim=1)
    _, fast = ops.logits_value_and_grad(X, Theta, M, 2.0, None, labels, "linear", 64)
    theta = Theta.clone().requires_grad_(True)
    D = ((X[:, None, :] - M[None, :, :]) ** 2).sum(-1)
    soft = torch.softmax(theta * 2.0, dim=1)
    U = torch.nn.functional.one_hot(labels, M.shape[0]).float() + soft - soft.detach()
    (U * D).sum().backward()
    assert_same_gradient(fast.numpy(), theta.grad.numpy())


@pytest.mark.parametrize("loss", ["linear", "quadratic"])
def test_jax_custom_vjp_equals_autodiff(loss):
    from diffclust.backends import _jax_relaxed_ops as ops

    X, M = random_problem()
    key = jax.random.PRNGKey(0)
    # 300 rows in chunks of 64: four full chunks in the loop and a remainder of 44.
    fast_value, fast_grad = jax.value_and_grad(ops.relaxed_kmeans_loss)(M, X, 0.4, key, 64, loss, False)
    ref_value, ref_grad = jax.value_and_grad(ops.literal_relaxed_loss)(M, X, 0.4, loss=loss)
    assert float(fast_value) == pytest.approx(float(ref_value), rel=1e-5)
    assert_same_gradient(np.asarray(fast_grad), np.asarray(ref_grad))


def record(backend, problem, **params):
    points = []
    backend.fit(problem, device="cpu", seed=0, trace=lambda step, m: points.append((step, np.array(to_numpy(m), dtype=np.float64))),
                **{**backend.params, **params})
    return points


def digits_problem():
    from diffclust.registry import get_registry

    digits = get_registry().dataset("digits").load(standardize=True)
    return problems.problem(np.asarray(digits.X, dtype=np.float32), 10, seed=0)


def gaussian_problem():
    X, _ = problems.blobs(1500, 16, 8, std=2.0, seed=4)
    return problems.problem(X, 8, seed=0)


@pytest.mark.parametrize(("make_problem", "params"), [
    (digits_problem, {}),
    (gaussian_problem, {}),
    (gaussian_problem, {"batch_size": 500}),
    (gaussian_problem, {"mode": "logits"}),
], ids=["digits", "blobs", "blobs-mini-batch", "blobs-logits"])
def test_jax_ste_follows_torch_ste_over_the_first_10_steps(make_problem, params):
    """Mini-batches on digits are left out on purpose: some pixels are constant within a
    batch's cluster, their gradient is 0 up to rounding, and Adam's early, nearly sign-like
    steps let the two frameworks' rounding drift apart there by up to lr / 5 in 10 steps."""
    from diffclust.registry import get_registry

    registry = get_registry()
    problem = make_problem()
    settings = dict(steps=10, polish=False, **params)
    torch_points = record(registry.backend("torch-ste"), problem, **settings)
    jax_points = record(registry.backend("jax-ste"), problem, **settings)
    assert [s for s, _ in torch_points] == [s for s, _ in jax_points] == list(range(1, 11))
    moved = np.abs(torch_points[-1][1] - problem.init).max()
    assert moved > 0.05, "the centroids should move in 10 steps"
    for (step, a), (_, b) in zip(torch_points, jax_points):
        gap = np.abs(a - b).max()
        assert gap <= 1e-5 * max(1.0, np.abs(a).max()), f"step {step}: torch and JAX differ by {gap:.3g}"


@pytest.mark.parametrize("name", ["torch-gumbel", "jax-gumbel"])
def test_gumbel_stays_finite_at_vanishing_temperature_on_raw_data(name):
    from diffclust.problem import validate_fit
    from diffclust.registry import get_registry

    backend = get_registry().backend(name)
    problem = problems.separated_blobs(scale=1e4, offset=1e5)
    for tau0, tau_min in ((1e-20, 1e-30), (1e6, 1e3)):
        fit = backend.fit(problem, device="cpu", seed=0, trace=lambda s, m: None,
                          **{**backend.params, "tau0": tau0, "tau_min": tau_min, "steps": 5, "polish": False})
        _, centroids = validate_fit(fit, problem)  # raises on NaN or inf
        assert np.isfinite(fit.info["loss_final"])


def test_gumbel_noise_comes_from_the_seed():
    from diffclust.registry import get_registry

    backend = get_registry().backend("torch-gumbel")
    problem = problems.overlapping_blobs()
    settings = {**backend.params, "steps": 20, "polish": False}
    fits = [backend.fit(problem, device="cpu", seed=seed, **settings).centroids.numpy() for seed in (0, 0, 1)]
    assert np.array_equal(fits[0], fits[1])
    assert not np.allclose(fits[0], fits[2])


def test_torch_relaxed_fits_do_not_depend_on_the_number_of_threads(monkeypatch):
    from diffclust.backends import _torch_relaxed_cpu
    from diffclust.registry import get_registry

    monkeypatch.setattr(_torch_relaxed_cpu, "MIN_ROWS_PER_THREAD", 1)  # small data on two threads too

    problem = problems.overlapping_blobs()
    before = torch.get_num_threads()
    for name in ("torch-ste", "torch-gumbel"):
        backend = get_registry().backend(name)
        settings = {**backend.params, "steps": 10, "polish": False, "chunk_rows": 64}
        fits = []
        for threads in (1, 2):
            torch.set_num_threads(threads)
            fits.append(backend.fit(problem, device="cpu", seed=3, **settings).centroids.numpy())
        torch.set_num_threads(before)
        assert np.array_equal(fits[0], fits[1]), name
