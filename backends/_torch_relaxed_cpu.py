"""A relaxed step on the CPU: every chunk of rows in compiled code, one call per thread.

The same quantities as :func:`diffclust.backends._torch_relaxed_ops.relaxed_chunk` (its
docstring has the maths), computed in a different layout and without Python between the
chunks. Per chunk of rows, with the scores held transposed (``k x chunk``, so that every
pass runs along contiguous rows of ``chunk`` values, vectorized, with no data-dependent
branch):

1. the cross term ``M X_c^T`` by BLAS (numba's, scipy's build), and for Gumbel-softmax
   the chunk's noise drawn into an L2-resident buffer as ``exp(g)``
   (:func:`~diffclust.backends._gumbel_cpu.fill_exp_gumbel`: one ``log`` a value);
2. ``_assign``: the scores ``D - ||x||^2``, the hard assignment (argmin, or the argmax of
   the exponentiated Gumbel logits ``exp(-D / tau) exp(g)``; ties to the lowest index)
   and its score;
3. ``_exp_argument_and_cotangent``: the softmax's ``P~ = exp(logit - logit[a])`` (or, for
   straight-through, its exponent), kept at ``exp(log_tiny)`` or more, and ``G = dL/dU``
   shifted to 0 at ``a``;
4. ``_softmax_cotangent``: ``P~ = exp(.)`` where still needed (a polynomial ``exp`` that
   vectorizes, from :mod:`~diffclust.backends._float32_math`), ``Z``, ``<P~, G>`` and
   ``w_i Q_ij``;
5. the second GEMM ``(one_hot(a) + w Q)^T X_c``: the hard and soft parts of ``dL/dM`` in
   one product, the hard assignment added to the soft weights in step 4.

Chunks are small (``CHUNK_ELEMENTS["cpu-compiled"]`` scores, 256 KiB of float32, so that
the scores, the noise and the weights of a chunk stay in L2 between the passes) and run
back to back inside one compiled call without the GIL. With one Python call per 8192-row
chunk, as before, a torch-ste step at 1e5 x 32, k = 64 took 24 ms on one core of a
2-core EPYC; now 16 ms.

The chunks are dealt into at most ``GROUPS`` contiguous groups, a number that depends on
the data and the chunk size only; each group's partial sums are kept apart (float64) and
added in group order, so the result is the same bit for bit on any number of threads.
Each thread runs a contiguous run of groups.
"""

from __future__ import annotations

import threading

import numba
import numpy as np
import torch

from diffclust.backends._float32_math import exp_of
from diffclust.backends._gumbel_cpu import fill_stream
from diffclust.kmeans_math import MIN_ROWS_PER_THREAD, blas_controller, contiguous_parts, thread_pool

#: Groups of chunks whose partial sums are kept apart (see the module docstring): at most
#: this many threads share a step.
GROUPS = 16

_scratch = threading.local()


def _buffer(name: str, size: int, dtype: torch.dtype) -> np.ndarray:
    """A per-thread flat buffer of ``size`` values reused across chunks and steps (fresh
    allocations of this size cost page faults every time)."""
    buffers = getattr(_scratch, "buffers", None)
    if buffers is None:
        buffers = _scratch.buffers = {}
    buffer = buffers.get((name, dtype))
    if buffer is None or buffer.numel() < size:
        buffer = buffers[(name, dtype)] = torch.empty(size, dtype=dtype)
    return buffer[:size].numpy()


def gumbel_buffer(key: int, k: int, rows: int, dtype: torch.dtype) -> torch.Tensor:
    """The Gumbel noise of the stream ``key`` in this thread's ``k x rows`` noise buffer
    (overwritten by the thread's next call): the noise a compiled chunk draws for itself."""
    from diffclust.backends._gumbel_cpu import fill_gumbel

    noise = torch.from_numpy(_buffer("noise", k * rows, dtype)).view(k, rows)
    fill_gumbel(key, noise.numpy())
    return noise


_FASTMATH = {"contract"}
#: numba's options for the passes: no Python zero-division checks (a branch per division
#: that keeps a loop from vectorizing; every divisor here is positive).
_PASS = {"nogil": True, "cache": True, "boundscheck": False, "fastmath": _FASTMATH, "error_model": "numpy"}


@numba.njit(**_PASS)
def _assign(cross_t, m_sq, noise_t, inv_tau, floor, labels, best_score, best_q):  # pragma: no cover - compiled
    """Pass 1. ``cross_t`` holds ``x.m_j`` (``k x m``) and becomes ``s = ||m||^2 - 2 x.m``.

    Straight-through (``noise_t`` empty): the hard assignment is the argmin of ``s``.
    Gumbel-softmax: ``noise_t`` holds ``exp(g)`` and becomes the exponentiated logits
    ``q = exp(max((s_min - s) / tau, floor)) exp(g)`` (``s_min`` the row's least score, so
    that ``q`` never overflows), and the hard assignment is their argmax, with ``best_q``
    its value: the argmax of ``g - s / tau``, with one ``log`` a noise value, not two.
    Ties go to the lowest index. Returns the sum over rows of ``s[a]`` in float64 (the
    loss less ``sum ||x||^2``)."""
    k, m = cross_t.shape
    for i in range(m):
        cross_t[0, i] = m_sq[0] - (cross_t[0, i] + cross_t[0, i])
        best_score[i] = cross_t[0, i]
        labels[i] = 0
    for j in range(1, k):
        for i in range(m):
            score = m_sq[j] - (cross_t[j, i] + cross_t[j, i])
            cross_t[j, i] = score
            better = score < best_score[i]
            best_score[i] = score if better else best_score[i]
            labels[i] = j if better else labels[i]
    if noise_t.shape[0] > 0:
        for i in range(m):
            v = (best_score[i] - cross_t[0, i]) * inv_tau
            q = exp_of(v if v > floor else floor) * noise_t[0, i]
            noise_t[0, i] = q
            best_q[i] = q
            labels[i] = 0
        for j in range(1, k):
            for i in range(m):
                v = (best_score[i] - cross_t[j, i]) * inv_tau
                q = exp_of(v if v > floor else floor) * noise_t[j, i]
                noise_t[j, i] = q
                better = q > best_q[i]
                best_q[i] = q if better else best_q[i]
                labels[i] = j if better else labels[i]
        for i in range(m):
            best_score[i] = cross_t[labels[i], i]
    value = 0.0
    for i in range(m):
        value += best_score[i]
    return value


@numba.njit(**_PASS)
def _exp_argument_and_cotangent(scores_t, noise_t, inv_tau, floor, best_score, best_q, labels, delta, out_t):  # pragma: no cover - compiled
    """Pass 2: ``G = D - D[a]`` over ``scores_t`` in place, less ``||m_a - m_j||^2`` for
    the quadratic loss (``delta`` non-empty), and the softmax's ``P~ = exp(logit -
    logit[a])`` kept at ``exp(floor)`` or more (1 at ``a``): straight-through, its clamped
    exponent into ``out_t`` (exponentiated by pass 3); Gumbel-softmax, ``q / q[a]``
    itself."""
    k, m = scores_t.shape
    if noise_t.shape[0] > 0:
        low = exp_of(floor)
        for i in range(m):
            best_q[i] = 1.0 / best_q[i]
        for j in range(k):
            for i in range(m):
                v = noise_t[j, i] * best_q[i]
                out_t[j, i] = v if v > low else low
                scores_t[j, i] = scores_t[j, i] - best_score[i]
    else:
        for j in range(k):
            for i in range(m):
                g = scores_t[j, i] - best_score[i]
                v = -inv_tau * g
                out_t[j, i] = v if v > floor else floor
                scores_t[j, i] = g
    if delta.shape[0] > 0:
        for j in range(k):
            for i in range(m):
                scores_t[j, i] -= delta[labels[i], j]
    return 0


@numba.njit(**{**_PASS, "fastmath": {"contract", "reassoc"}})
def _softmax_cotangent(p_t, g_t, inv_tau, exponents, labels, Z, inner, weights):  # pragma: no cover - compiled
    """Pass 3. ``p_t`` holds ``P~`` (or, with ``exponents``, its exponents) and becomes
    ``dL/dD = one_hot(a) + w_i Q_ij`` with ``Q = P~ (G - <P~, G> / Z)`` and
    ``w = -1 / (tau Z)``; its column sums (the soft and hard counts) are added to
    ``weights`` (float64). The hard part rides in the same matrix so that one GEMM,
    ``(dL/dD)^T X``, gives the soft and the hard cluster sums at once. (Reassociation lets
    the column sums run in vector lanes; nothing else here is a reduction along a row.)"""
    k, m = p_t.shape
    for i in range(m):
        Z[i] = 0.0
        inner[i] = 0.0
    if exponents:
        for j in range(k):
            for i in range(m):
                p = exp_of(p_t[j, i])
                p_t[j, i] = p
                Z[i] += p
                inner[i] += p * g_t[j, i]
    else:
        for j in range(k):
            for i in range(m):
                p = p_t[j, i]
                Z[i] += p
                inner[i] += p * g_t[j, i]
    for i in range(m):
        inner[i] = inner[i] / Z[i]
        Z[i] = -inv_tau / Z[i]  # now w
    one = p_t.dtype.type(1.0)
    zero = p_t.dtype.type(0.0)
    for j in range(k):
        jj = np.int32(j)
        total = zero
        for i in range(m):
            v = p_t[j, i] * (g_t[j, i] - inner[i]) * Z[i] + (one if labels[i] == jj else zero)
            p_t[j, i] = v
            total += v
        weights[j] += total
    return 0


@numba.njit(nogil=True, cache=True, boundscheck=False)
def _relaxed_chunks(X, M, m_sq, delta, inv_tau, floor, keys, chunk_rows, first, stop, per_group, want_grad,
                    scores_buf, noise_buf, p_buf, kd_buf, labels, best_score, best_q, Z, inner,
                    values, weights, weighted_sums):  # pragma: no cover - compiled
    """Chunks ``first`` to ``stop`` (exclusive) of a step, back to back. Chunk ``c`` adds
    into the partial sums of group ``c // per_group``: ``values`` (the loss less
    ``sum ||x||^2``), and with ``want_grad`` the column sums of ``dL/dD`` (``weights``)
    and ``(dL/dD)^T X`` (``weighted_sums``), so that ``dL/dM = 2 (weights M -
    weighted_sums)``. ``keys[c]`` is chunk ``c``'s noise stream, or ``keys`` is empty
    (straight-through)."""
    n = X.shape[0]
    k = M.shape[0]
    stochastic = keys.shape[0] > 0
    no_noise = noise_buf[:0].reshape((0, 0))
    for c in range(first, stop):
        g = c // per_group
        start = c * chunk_rows
        end = min(start + chunk_rows, n)
        m = end - start
        X_c = X[start:end]
        cross_t = scores_buf[: k * m].reshape((k, m))
        np.dot(M, X_c.T, cross_t)
        noise_t = no_noise
        if stochastic:
            noise_t = noise_buf[: k * m].reshape((k, m))
            fill_stream(keys[c], noise_buf[: k * m], True)
        values[g] += _assign(cross_t, m_sq, noise_t, inv_tau, floor, labels, best_score, best_q)
        if not want_grad:
            continue
        p_t = p_buf[: k * m].reshape((k, m))
        _exp_argument_and_cotangent(cross_t, noise_t, inv_tau, floor, best_score, best_q, labels, delta, p_t)
        _softmax_cotangent(p_t, cross_t, inv_tau, not stochastic, labels, Z, inner, weights[g])
        np.dot(p_t, X_c, kd_buf)
        weighted_sums[g] += kd_buf
    return 0


def relaxed_pass_cpu(
    X: torch.Tensor, M: torch.Tensor, m_sq: torch.Tensor, delta: torch.Tensor | None, inv_tau: float, floor: float,
    chunk_rows: int, keys: np.ndarray | None, want_grad: bool, threads: int,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The whole relaxed pass over ``X`` on the CPU: loss sum less ``sum ||x||^2`` (float64)
    and ``dL/dM`` (``X``'s dtype, or None). ``keys`` holds one noise stream per chunk
    (Gumbel-softmax) or is None (straight-through)."""
    X_np = np.ascontiguousarray(X.numpy())
    M_np = np.ascontiguousarray(M.numpy())
    n, d = X_np.shape
    k = M_np.shape[0]
    dtype = X_np.dtype
    chunks = -(-n // chunk_rows)
    per_group = -(-chunks // GROUPS)
    groups = -(-chunks // per_group)
    values = np.zeros(groups)
    weights = np.zeros((groups, k))
    weighted_sums = np.zeros((groups, k, d))
    keys_np = np.empty(0, dtype=np.uint64) if keys is None else np.asarray(keys, dtype=np.uint64)
    delta_np = delta.numpy() if delta is not None else np.empty((0, 0), dtype=dtype)
    # Scalars in the data's dtype: a float64 scalar would make each pass convert to float64
    # and back, at half the vector width.
    inv_tau_v, floor_v = dtype.type(inv_tau), dtype.type(floor)
    m_sq_np = np.ascontiguousarray(m_sq.numpy())
    size = k * min(chunk_rows, n)
    rows = min(chunk_rows, n)

    def run(group_range: slice) -> None:
        g0, g1 = group_range.start, group_range.stop
        torch_dtype = X.dtype
        _relaxed_chunks(
            X_np, M_np, m_sq_np, delta_np, inv_tau_v, floor_v, keys_np, chunk_rows,
            g0 * per_group, min(g1 * per_group, chunks), per_group, want_grad,
            _buffer("scores", size, torch_dtype), _buffer("noise", size if keys is not None else 0, torch_dtype),
            _buffer("weights", size if want_grad else 0, torch_dtype), np.empty((k, d), dtype=dtype),
            np.empty(rows, dtype=np.int32), np.empty(rows, dtype=dtype), np.empty(rows, dtype=dtype),
            np.empty(rows, dtype=dtype), np.empty(rows, dtype=dtype),
            values, weights, weighted_sums,
        )

    # A second thread only pays for itself past a few thousand rows (one core ran a pass
    # at n = 1797, d = 64, k = 10 in 0.26 ms, two in 0.44 ms); the result is the same.
    ranges = contiguous_parts(groups, min(threads, n // MIN_ROWS_PER_THREAD))
    # The threads are ours: BLAS inside each must stay at one thread.
    with blas_controller().limit(limits=1, user_api="blas"):
        if len(ranges) == 1:
            run(ranges[0])
        else:
            list(thread_pool(len(ranges)).map(run, ranges))
    total = torch.tensor(float(values.sum()), dtype=torch.float64)
    if not want_grad:
        return total, None
    grad = 2.0 * (weights.sum(axis=0)[:, None] * M_np - weighted_sums.sum(axis=0))
    return total, torch.from_numpy(grad.astype(dtype))

