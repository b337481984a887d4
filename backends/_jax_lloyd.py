"""Lloyd's algorithm in JAX, with the rules of the numpy ``em`` backend: the polish of the
JAX relaxed backends.

One jit-compiled E-step fused with the per-cluster sums, per chunk of rows; the M-step,
the empty-cluster relocation (farthest point, in ``em``'s order) and the stopping rules on
the host, on ``k x d`` numbers, as ``em`` does them. Only import it from inside ``fit``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from diffclust.backends._jax_relaxed_ops import HIGHEST, nearest


@partial(jax.jit, static_argnames=("chunk_rows",))
def assign_and_sum(X, centers, *, chunk_rows: int):  # noqa: ANN001, ANN201
    """Labels, per-cluster sums and counts, fused per chunk of rows."""
    k = centers.shape[0]
    half_m_sq = 0.5 * jnp.einsum("ij,ij->i", centers, centers, precision=HIGHEST)

    def chunk(rows_X):  # noqa: ANN001, ANN202
        labels = jnp.argmin(half_m_sq[None, :] - jnp.matmul(rows_X, centers.T, precision=HIGHEST), axis=1)
        sums = jax.ops.segment_sum(rows_X, labels, num_segments=k)
        counts = jnp.bincount(labels, length=k)
        return labels, sums, counts

    n = X.shape[0]
    full, rest = divmod(n, chunk_rows)
    labels = jnp.zeros(n, dtype=jnp.int32)
    sums = jnp.zeros_like(centers)
    counts = jnp.zeros(k, dtype=jnp.int32)

    def body(i, carry):  # noqa: ANN001, ANN202
        labels, sums, counts = carry
        chunk_labels, chunk_sums, chunk_counts = chunk(lax.dynamic_slice_in_dim(X, i * chunk_rows, chunk_rows))
        labels = lax.dynamic_update_slice_in_dim(labels, chunk_labels.astype(jnp.int32), i * chunk_rows, 0)
        return labels, sums + chunk_sums, counts + chunk_counts

    if full:
        labels, sums, counts = lax.fori_loop(0, full, body, (labels, sums, counts))
    if rest:
        chunk_labels, chunk_sums, chunk_counts = chunk(X[full * chunk_rows:])
        labels = labels.at[full * chunk_rows:].set(chunk_labels.astype(jnp.int32))
        sums, counts = sums + chunk_sums, counts + chunk_counts
    return labels, sums, counts


@jax.jit
def distances_to_own_centroid(X, centers, labels):  # noqa: ANN001, ANN201
    """``||x_i - m_{a_i}||^2`` of every point."""
    diff = X - centers[labels]
    return jnp.einsum("ij,ij->i", diff, diff, precision=HIGHEST)


@partial(jax.jit, static_argnames=("chunk_rows",))
def nearest_jit(X, centers, *, chunk_rows: int):  # noqa: ANN001, ANN201
    return nearest(X, centers, chunk_rows)


def lloyd(
    X: Any,
    init: Any,
    *,
    max_iter: int,
    abs_tol: float,
    chunk_rows: int,
    trace: Callable[[int, Any], None] | None = None,
    step_offset: int = 0,
) -> tuple[Any, Any, int, bool, int]:
    """Lloyd from ``init``: labels, centroids, iterations, converged, relocations."""
    dtype = np.dtype(X.dtype)
    device = next(iter(X.devices()))
    centers = jnp.asarray(init)
    labels_old = None
    relocations = 0
    strict = converged = False
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        labels, sums, counts = assign_and_sum(X, centers, chunk_rows=chunk_rows)
        sums_host = np.asarray(sums, dtype=np.float64)
        counts_host = np.asarray(counts).astype(np.int64)
        empty = np.flatnonzero(counts_host == 0)
        if empty.size:
            relocations += empty.size
            dist = np.asarray(distances_to_own_centroid(X, centers, labels), dtype=np.float64)
            far = np.argpartition(dist, -empty.size)[: -empty.size - 1 : -1]
            labels_host = np.asarray(labels)
            X_far = np.asarray(X[far], dtype=np.float64)
            for new_id, point, x in zip(empty, far, X_far):
                old_id = labels_host[point]
                sums_host[old_id] -= x
                counts_host[old_id] -= 1
                sums_host[new_id] = x
                counts_host[new_id] = 1
        old_host = np.asarray(centers, dtype=np.float64)
        new_host = old_host.copy()
        filled = counts_host > 0
        new_host[filled] = sums_host[filled] / counts_host[filled, None]
        new_host = new_host.astype(dtype)
        shift = float(np.sum((new_host.astype(np.float64) - old_host) ** 2))
        centers = jax.device_put(new_host, device)
        if trace is not None:
            trace(step_offset + n_iter, new_host)
        if labels_old is not None and bool(jnp.array_equal(labels, labels_old)):
            strict = converged = True
            break
        if shift <= abs_tol:
            converged = True
            break
        labels_old = labels
    if not strict:
        labels = nearest_jit(X, centers, chunk_rows=chunk_rows)
    return labels.block_until_ready(), centers, n_iter, converged, relocations
