"""The relaxed k-means maths in JAX: the twin of
:mod:`diffclust.backends._torch_relaxed_ops`, function for function, plus a
``jax.custom_vjp`` whose backward pass treats the hard part of ``U`` as a scatter.

Pure functions of arrays, traced under ``jit``. Matrix products ask for full float32
precision (``precision="highest"``): on GPUs JAX would otherwise use TF32, where torch
does not. Only import this module from inside a backend's ``fit`` (it imports JAX).
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
from jax import lax

HIGHEST = lax.Precision.HIGHEST


def cross_and_distances(X: jax.Array, M: jax.Array, m_sq: jax.Array) -> jax.Array:
    """``D - ||x||^2 = ||m||^2 - 2 x.m`` by one GEMM (the row constant ``||x||^2`` is added
    only where a distance itself is needed; see the torch twin)."""
    return m_sq[None, :] - 2.0 * jnp.matmul(X, M.T, precision=HIGHEST)


def squared_distances(X: jax.Array, M: jax.Array, m_sq: jax.Array) -> jax.Array:
    """``||x - m||^2`` of every row and centroid, clamped at 0."""
    x_sq = jnp.einsum("ij,ij->i", X, X, precision=HIGHEST)
    return jnp.maximum(cross_and_distances(X, M, m_sq) + x_sq[:, None], 0.0)


def centroid_distances(M: jax.Array) -> jax.Array:
    """``||m_a - m_j||^2`` for every pair of centroids (``k x k``)."""
    m_sq = jnp.einsum("ij,ij->i", M, M, precision=HIGHEST)
    return jnp.maximum(m_sq[:, None] + m_sq[None, :] - 2.0 * jnp.matmul(M, M.T, precision=HIGHEST), 0.0)


def gumbel_noise(key: jax.Array, shape: tuple[int, int], dtype: jnp.dtype) -> jax.Array:
    """Standard Gumbel noise with the uniform draw kept inside ``(0, 1)`` (always finite),
    drawn in float32 whatever ``dtype`` (one seed, one noise)."""
    info = jnp.finfo(jnp.float32)
    u = jnp.clip(jax.random.uniform(key, shape, dtype=jnp.float32), info.tiny, 1.0 - info.eps)
    return (-jnp.log(-jnp.log(u))).astype(dtype)


def assignment_cotangent(E: jax.Array, delta: jax.Array | None, labels: jax.Array, loss: str) -> jax.Array:
    """``dL/dU`` at the hard assignment less its assigned entry, from ``E = D - D[a]``:
    ``E`` (linear loss) or ``E - ||m_a - m_j||^2`` (quadratic); see the torch twin."""
    return E if loss == "linear" else E - delta[labels]


def log_tiny(dtype: jnp.dtype) -> float:
    """The most negative exponent whose ``exp`` is still a normal number."""
    import math

    return math.log(float(jnp.finfo(dtype).tiny)) + 1.0


def softmax_vjp(P: jax.Array, G: jax.Array) -> jax.Array:
    """``P * (G - rowsum(P * G))``, the softmax's vector-Jacobian product."""
    return P * (G - jnp.sum(P * G, axis=1, keepdims=True))


def relaxed_chunk(X, M, m_sq, delta, inv_tau, noise, loss: str):  # noqa: ANN001, ANN201
    """Centroid mode on a chunk of rows: loss sum less ``sum ||x||^2``, ``dL/dM`` and hard
    labels; the same steps as the torch twin, but for the hard part of ``dL/dD``
    (``one_hot(a)``), which joins the soft part ``w_i Q_ij`` in one GEMM rather than a
    scatter of the rows of ``X``.

    The hard assignment is taken without ``argmin``/``argmax`` and the assigned entries
    without a gather: the row's extreme value by a plain reduction, then the lowest index
    that attains it by a ``min`` over ``where(S == best, j, k)`` (ties to the lowest index,
    as ``argmin``). XLA's CPU code for a reduction with an index (a variadic reduce) and
    for ``take_along_axis`` is scalar; this form vectorizes, and a jax-ste step at
    1e5 x 32, k = 64 on a 2-core EPYC took 14-16 ms instead of 27.
    """
    k = M.shape[0]
    S = cross_and_distances(X, M, m_sq)
    j = lax.broadcasted_iota(jnp.int32, S.shape, 1)
    if noise is None:
        s_a = jnp.min(S, axis=1, keepdims=True)
        labels = jnp.min(jnp.where(S == s_a, j, k), axis=1)
        one_hot = j == labels[:, None]
        logits = -inv_tau * (S - s_a)
    else:
        z = noise - inv_tau * S
        z_a = jnp.max(z, axis=1, keepdims=True)
        labels = jnp.min(jnp.where(z == z_a, j, k), axis=1)
        one_hot = j == labels[:, None]
        s_a = jnp.sum(jnp.where(one_hot, S, 0.0), axis=1, keepdims=True)
        logits = z - z_a
    value = jnp.sum(s_a)  # the loss less sum ||x||^2, added once per pass
    E = S - s_a
    P = jnp.exp(jnp.maximum(logits, log_tiny(X.dtype)))
    Z = jnp.sum(P, axis=1)
    G = assignment_cotangent(E, delta, labels, loss)
    inner = jnp.sum(P * G, axis=1) / Z
    Q = P * (G - inner[:, None])
    # dL/dD = one_hot(a) + w Q, the hard part fused into the same elementwise pass and the
    # same GEMM as the soft part (XLA's CPU scatter, for segment_sum and bincount, is a
    # serial loop); dL/dM = 2 (colsum(dL/dD) M - (dL/dD)^T X).
    w = -inv_tau / Z
    R = w[:, None] * Q + one_hot.astype(X.dtype)
    grad = 2.0 * (jnp.sum(R, axis=0)[:, None] * M - jnp.matmul(R.T, X, precision=HIGHEST))
    return value, grad, labels


def relaxed_value_and_grad(X, M, inv_tau, key, *, chunk_rows: int, loss: str, stochastic: bool):  # noqa: ANN001, ANN201
    """Loss sum and ``dL/dM`` over all rows, chunk by chunk (``O(chunk x k)`` memory).

    Full chunks run in a ``fori_loop`` over dynamic slices of ``X`` (no copy of it); the
    remainder, if any, is one more chunk. Chunk ``i`` draws its noise from
    ``fold_in(key, i)``.
    """
    n, k = X.shape[0], M.shape[0]
    m_sq = jnp.einsum("ij,ij->i", M, M, precision=HIGHEST)
    delta = centroid_distances(M) if loss == "quadratic" else None

    def chunk(i, rows_X):  # noqa: ANN001, ANN202
        noise = gumbel_noise(jax.random.fold_in(key, i), (rows_X.shape[0], k), X.dtype) if stochastic else None
        value, grad, _ = relaxed_chunk(rows_X, M, m_sq, delta, inv_tau, noise, loss)
        return value, grad

    full, rest = divmod(n, chunk_rows)

    def body(i, carry):  # noqa: ANN001, ANN202
        value, grad = chunk(i, lax.dynamic_slice_in_dim(X, i * chunk_rows, chunk_rows))
        return carry[0] + value, carry[1] + grad

    total = (jnp.einsum("ij,ij->", X, X, precision=HIGHEST), jnp.zeros_like(M))
    if full:
        total = lax.fori_loop(0, full, body, total)
    if rest:
        value, grad = chunk(full, X[full * chunk_rows:])
        total = (total[0] + value, total[1] + grad)
    return total


@partial(jax.custom_vjp, nondiff_argnums=(4, 5, 6))
def relaxed_kmeans_loss(M, X, inv_tau, key, chunk_rows: int, loss: str, stochastic: bool):  # noqa: ANN001, ANN201
    """The relaxed k-means loss (mean over rows) with the chunked, fused backward pass."""
    value, _ = relaxed_value_and_grad(X, M, inv_tau, key, chunk_rows=chunk_rows, loss=loss, stochastic=stochastic)
    return value / X.shape[0]


def _loss_fwd(M, X, inv_tau, key, chunk_rows, loss, stochastic):  # noqa: ANN001, ANN202
    value, grad = relaxed_value_and_grad(X, M, inv_tau, key, chunk_rows=chunk_rows, loss=loss, stochastic=stochastic)
    n = X.shape[0]
    return value / n, (grad / n, X, inv_tau, key)


def _loss_bwd(chunk_rows, loss, stochastic, residuals, cotangent):  # noqa: ANN001, ANN202
    grad, X, inv_tau, key = residuals
    # Only M is learned: X, the temperature and the key get zero cotangents.
    return (cotangent * grad, jnp.zeros_like(X), jnp.zeros_like(inv_tau), _zero_key_cotangent(key))


def _zero_key_cotangent(key):  # noqa: ANN001, ANN202
    import numpy as np

    return np.zeros(key.shape, dtype=jax.dtypes.float0)


relaxed_kmeans_loss.defvjp(_loss_fwd, _loss_bwd)


def literal_relaxed_loss(M, X, inv_tau, noise=None, *, loss: str = "linear"):  # noqa: ANN001, ANN201
    """The same loss written literally with a dense ``U`` and plain autodiff:
    ``U = U_soft + stop_gradient(U_hard - U_soft)``. The reference for the fast path."""
    D = jnp.maximum(
        jnp.sum(X * X, axis=1, keepdims=True) - 2.0 * jnp.matmul(X, M.T, precision=HIGHEST) + jnp.sum(M * M, axis=1)[None, :], 0.0
    )
    logits = -D * inv_tau + (0.0 if noise is None else noise)
    labels = jnp.argmin(D, axis=1) if noise is None else jnp.argmax(logits, axis=1)
    U_hard = jax.nn.one_hot(labels, M.shape[0], dtype=X.dtype)
    U_soft = jax.nn.softmax(logits, axis=1)
    U = U_soft + lax.stop_gradient(U_hard - U_soft)
    if loss == "linear":
        return jnp.sum(U * D) / X.shape[0]
    return jnp.sum((X - jnp.matmul(U, M, precision=HIGHEST)) ** 2) / X.shape[0]


def cluster_means(X, labels, k: int, fallback):  # noqa: ANN001, ANN201
    """Means of each cluster's points; an empty cluster keeps ``fallback``'s row."""
    sums = jax.ops.segment_sum(X, labels, num_segments=k)
    counts = jax.ops.segment_sum(jnp.ones_like(labels, dtype=X.dtype), labels, num_segments=k)
    return jnp.where(counts[:, None] > 0, sums / jnp.maximum(counts, 1.0)[:, None], fallback)


def logits_value_and_grad(X, Theta, M, inv_tau, noise, labels, loss: str):  # noqa: ANN001, ANN201
    """Logit mode: loss sum and ``dL/dTheta`` with ``U_soft = softmax(Theta / tau + g)``."""
    m_sq = jnp.einsum("ij,ij->i", M, M, precision=HIGHEST)
    delta = centroid_distances(M) if loss == "quadratic" else None
    S = cross_and_distances(X, M, m_sq)
    s_a = jnp.take_along_axis(S, labels[:, None], axis=1)
    x_sq = jnp.einsum("ij,ij->i", X, X, precision=HIGHEST)
    value = jnp.sum(jnp.maximum(x_sq + s_a[:, 0], 0.0))
    logits = Theta * inv_tau + (0.0 if noise is None else noise)
    P = jax.nn.softmax(logits, axis=1)
    return value, inv_tau * softmax_vjp(P, assignment_cotangent(S - s_a, delta, labels, loss))


def nearest(X, M, chunk_rows: int):  # noqa: ANN001, ANN201
    """Index of the nearest centroid of each row (ties to the lowest index), in chunks."""
    half_m_sq = 0.5 * jnp.einsum("ij,ij->i", M, M, precision=HIGHEST)

    def labels_of(rows_X):  # noqa: ANN001, ANN202
        return jnp.argmin(half_m_sq[None, :] - jnp.matmul(rows_X, M.T, precision=HIGHEST), axis=1)

    return map_row_chunks(labels_of, X, chunk_rows)


def map_row_chunks(fn, X, chunk_rows: int):  # noqa: ANN001, ANN201
    """``fn`` applied to chunks of rows of ``X`` (full chunks by ``lax.map``), concatenated."""
    n = X.shape[0]
    full, rest = divmod(n, chunk_rows)
    parts = []
    if full:
        mapped = lax.map(fn, X[: full * chunk_rows].reshape(full, chunk_rows, X.shape[1]))
        parts.append(mapped.reshape((full * chunk_rows,) + mapped.shape[2:]))
    if rest:
        parts.append(fn(X[full * chunk_rows:]))
    return parts[0] if len(parts) == 1 else jnp.concatenate(parts)
