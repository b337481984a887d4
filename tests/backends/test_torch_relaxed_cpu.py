"""The compiled CPU pass of the torch relaxed backends against the plain torch chunk it
replaces on the CPU: the same loss, gradient and hard assignment, chunk sizes that do
and do not divide n, both losses, straight-through and Gumbel noise, both dtypes."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from diffclust.backends import _torch_relaxed_ops as ops  # noqa: E402
from diffclust.backends._float32_math import EXP_F32_MIN  # noqa: E402
from diffclust.backends._torch_relaxed_cpu import relaxed_pass_cpu  # noqa: E402


def torch_reference(X, M, inv_tau, chunk_rows, loss, stream):
    """The loss sum (less sum ||x||^2) and dL/dM by :func:`ops.relaxed_chunk`, plain torch."""
    m_sq = torch.einsum("ij,ij->i", M, M)
    delta = ops.centroid_distances(M) if loss == "quadratic" else None
    total = torch.zeros((), dtype=torch.float64)
    grad = torch.zeros(M.shape, dtype=torch.float64)
    for index, rows in enumerate(ops.row_slices(X.shape[0], chunk_rows)):
        noise = None if stream is None else stream.chunk_noise(index, rows.stop - rows.start, M.shape[0], X).clone()
        value, chunk_grad, _ = ops.relaxed_chunk(X[rows], M, m_sq, delta, inv_tau, noise, loss, True)
        total += value
        grad += chunk_grad.double()
    return float(total), grad.numpy()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("loss", ["linear", "quadratic"])
@pytest.mark.parametrize("stochastic", [False, True], ids=["ste", "gumbel"])
@pytest.mark.parametrize("chunk_rows", [100, 256])
def test_compiled_pass_equals_the_torch_chunks(dtype, loss, stochastic, chunk_rows, monkeypatch):
    from diffclust.backends import _torch_relaxed_cpu

    monkeypatch.setattr(_torch_relaxed_cpu, "MIN_ROWS_PER_THREAD", 1)  # small data on two threads too
    rng = np.random.default_rng(7)
    X = torch.from_numpy(rng.normal(size=(1234, 6))).to(dtype)
    M = X[rng.choice(1234, 9, replace=False)] + 0.1
    inv_tau = 0.7
    stream = ops.GumbelStream(seed=11, step=4) if stochastic else None
    m_sq = torch.einsum("ij,ij->i", M, M)
    delta = ops.centroid_distances(M) if loss == "quadratic" else None
    keys = None if stream is None else stream.chunk_keys(-(-1234 // chunk_rows))
    results = []
    for threads in (1, 2):
        value, grad = relaxed_pass_cpu(X, M, m_sq, delta, inv_tau, ops.log_tiny(dtype), chunk_rows, keys, True, threads)
        results.append((float(value), grad.numpy().copy()))
        ref_value, ref_grad = torch_reference(X, M, inv_tau, chunk_rows, loss, stream)
        assert grad.dtype == dtype
        # The noise is drawn in float32 for either dtype (g, or exp(g) in the compiled
        # pass): with it, float64 agrees to float32 rounding only.
        rtol = 1e-4 if dtype == torch.float32 else (1e-5 if stochastic else 1e-10)
        assert float(value) == pytest.approx(ref_value, rel=rtol)
        scale = float(np.abs(ref_grad).max())
        np.testing.assert_allclose(grad.double().numpy(), ref_grad, rtol=rtol, atol=rtol * scale)
    assert results[0][0] == results[1][0]  # one and two threads: the same bits
    np.testing.assert_array_equal(results[0][1], results[1][1])


def test_without_gradient_only_the_value_is_computed():
    X = torch.from_numpy(np.random.default_rng(0).normal(size=(500, 3)).astype(np.float32))
    M = X[:4].clone()
    m_sq = torch.einsum("ij,ij->i", M, M)
    value, grad = relaxed_pass_cpu(X, M, m_sq, None, 1.0, ops.log_tiny(torch.float32), 128, None, False, 2)
    assert grad is None
    ref_value, _ = torch_reference(X, M, 1.0, 128, "linear", None)
    assert float(value) == pytest.approx(ref_value, rel=1e-5)


def test_softmax_floor_is_inside_the_domain_of_the_fast_exp():
    # The clamp that keeps subnormals out of the softmax must be a valid exp_f32 argument.
    assert ops.log_tiny(torch.float32) > EXP_F32_MIN
