"""One chunk of a relaxed step on the CPU: torch's GEMMs and ``exp``, compiled passes between.

The same quantities as :func:`diffclust.backends._torch_relaxed_ops.relaxed_chunk` (its
docstring has the maths), computed in a different layout. There, about fifteen torch
operations per chunk each make a pass over the ``chunk x k`` scores, the row-wise
reductions (argmin, row sums) run along rows of only k values, and the CPU time of a step
was several Lloyd iterations. Here the scores are held transposed (``k x chunk``) and
everything between the two GEMMs is three numba passes that run along contiguous rows of
``chunk`` values (vectorized, no data-dependent branch), plus torch's vectorized ``exp``:

1. ``_assign``: the scores ``D - ||x||^2``, the hard assignment (argmin, or argmax of the
   Gumbel logits; ties to the lowest index), its score, and the hard cluster sums.
2. ``_exp_argument_and_cotangent``: ``logit - logit[a]`` clamped at :func:`log_tiny`
   (then ``exp_``), and ``G = dL/dU`` shifted to 0 at ``a``.
3. ``_weighted_cotangent``: ``Z``, ``<p, G>`` and ``w_i Q_ij``.

The second GEMM, ``(w Q)^T X``, gives the soft part of ``dL/dM``. The passes are compiled
without the GIL, so the worker threads of ``_torch_chunks`` run them side by side.
"""

from __future__ import annotations

import threading

import numba
import numpy as np
import torch

from diffclust.backends._torch_relaxed_ops import log_tiny

_scratch = threading.local()


def _buffer(name: str, rows: int, cols: int, dtype: torch.dtype) -> torch.Tensor:
    """A per-thread ``rows x cols`` buffer reused across chunks and steps (fresh allocations
    of this size cost page faults at every chunk)."""
    buffers = getattr(_scratch, "buffers", None)
    if buffers is None:
        buffers = _scratch.buffers = {}
    size = rows * cols
    buffer = buffers.get((name, dtype))
    if buffer is None or buffer.numel() < size:
        buffer = buffers[(name, dtype)] = torch.empty(size, dtype=dtype)
    return buffer[:size].view(rows, cols)


def gumbel_buffer(key: int, k: int, rows: int, dtype: torch.dtype) -> torch.Tensor:
    """The Gumbel noise of the stream ``key`` in this thread's ``k x rows`` noise buffer
    (overwritten by the thread's next call)."""
    from diffclust.backends._gumbel_cpu import fill_gumbel

    noise = _buffer("noise", k, rows, dtype)
    fill_gumbel(key, noise.numpy())
    return noise


@numba.njit(nogil=True, cache=True, boundscheck=False)
def _assign(cross_t, m_sq, noise_t, inv_tau, X_rows, labels, best_score, best_logit, sums, counts):  # pragma: no cover - compiled
    """Pass 1. ``cross_t`` holds ``x.m_j`` (``k x m``) and becomes ``s = ||m||^2 - 2 x.m``.
    With Gumbel noise (``noise_t`` non-empty) it becomes the logits ``g - s / tau``.
    Returns the sum over rows of ``s[a]`` in float64 (the loss less ``sum ||x||^2``)."""
    k, m = cross_t.shape
    d = X_rows.shape[1]
    if noise_t.shape[0] > 0:
        for i in range(m):
            cross_t[0, i] = m_sq[0] - (cross_t[0, i] + cross_t[0, i])
            noise_t[0, i] = noise_t[0, i] - inv_tau * cross_t[0, i]
            best_logit[i] = noise_t[0, i]
            labels[i] = 0
        for j in range(1, k):
            for i in range(m):
                score = m_sq[j] - (cross_t[j, i] + cross_t[j, i])
                cross_t[j, i] = score
                logit = noise_t[j, i] - inv_tau * score
                noise_t[j, i] = logit
                better = logit > best_logit[i]
                best_logit[i] = logit if better else best_logit[i]
                labels[i] = j if better else labels[i]
        for i in range(m):
            best_score[i] = cross_t[labels[i], i]
    else:
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
    value = 0.0
    for i in range(m):
        value += best_score[i]
        a = labels[i]
        counts[a] += 1
        for f in range(d):
            sums[a, f] += X_rows[i, f]
    return value


@numba.njit(nogil=True, cache=True, boundscheck=False)
def _exp_argument_and_cotangent(scores_t, noise_t, inv_tau, floor, best_score, best_logit, labels, delta, out_t):  # pragma: no cover - compiled
    """Pass 2: ``logit - logit[a]`` into ``out_t``, clamped below at ``floor`` (0 at ``a``),
    and ``G = D - D[a]`` over ``scores_t`` in place, less ``||m_a - m_j||^2`` for the
    quadratic loss (``delta`` non-empty)."""
    k, m = scores_t.shape
    if noise_t.shape[0] > 0:
        for j in range(k):
            for i in range(m):
                v = noise_t[j, i] - best_logit[i]
                out_t[j, i] = v if v > floor else floor
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


@numba.njit(nogil=True, cache=True, boundscheck=False)
def _weighted_cotangent(p_t, g_t, inv_tau, Z, inner):  # pragma: no cover - compiled
    """Pass 3. ``p_t`` holds ``P~ = exp(logit - logit[a])`` and becomes ``w_i Q_ij`` with
    ``Q = P~ (G - <P~, G> / Z)`` and ``w = -1 / (tau Z)``."""
    k, m = p_t.shape
    for i in range(m):
        Z[i] = 0.0
        inner[i] = 0.0
    for j in range(k):
        for i in range(m):
            Z[i] += p_t[j, i]
            inner[i] += p_t[j, i] * g_t[j, i]
    for i in range(m):
        inner[i] = inner[i] / Z[i]
        Z[i] = -inv_tau / Z[i]  # now w
    for j in range(k):
        for i in range(m):
            p_t[j, i] = p_t[j, i] * (g_t[j, i] - inner[i]) * Z[i]
    return 0


def relaxed_chunk_cpu(
    X: torch.Tensor, M: torch.Tensor, m_sq: torch.Tensor, delta: torch.Tensor | None, inv_tau: float,
    noise: torch.Tensor | None, want_grad: bool,
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """:func:`~diffclust.backends._torch_relaxed_ops.relaxed_chunk` on the CPU: loss sum less
    ``sum ||x||^2`` (float64), ``dL/dM`` and hard labels. ``noise`` (``rows x k``, consumed)
    is read transposed; a transposed view of a ``k x rows`` tensor costs no copy."""
    m = X.shape[0]
    k, d = M.shape
    dtype = X.dtype
    X_np = X.numpy()
    # Scalars in the data's dtype: a float64 scalar would make each pass convert to float64
    # and back, at half the vector width.
    inv_tau = X_np.dtype.type(inv_tau)
    cross_t = _buffer("scores", k, m, dtype)
    torch.mm(M, X.T, out=cross_t)
    scores = cross_t.numpy()
    noise_t = noise.T.contiguous().numpy() if noise is not None else np.empty((0, 0), dtype=X_np.dtype)
    labels = np.empty(m, dtype=np.int64)
    best_score = np.empty(m, dtype=X_np.dtype)
    best_logit = np.empty(m, dtype=X_np.dtype)
    sums = np.zeros((k, d), dtype=np.float64)
    counts = np.zeros(k, dtype=np.int64)
    value = _assign(scores, m_sq.numpy(), noise_t, inv_tau, X_np, labels, best_score, best_logit, sums, counts)
    value = torch.tensor(value, dtype=torch.float64)
    labels = torch.from_numpy(labels)
    if not want_grad:
        return value, None, labels
    p_t = _buffer("weights", k, m, dtype)
    delta_np = delta.numpy() if delta is not None else np.empty((0, 0), dtype=X_np.dtype)
    _exp_argument_and_cotangent(
        scores, noise_t, inv_tau, X_np.dtype.type(log_tiny(dtype)), best_score, best_logit, labels.numpy(), delta_np, p_t.numpy(),
    )
    p_t.exp_()
    _weighted_cotangent(p_t.numpy(), scores, inv_tau, np.empty(m, dtype=X_np.dtype), np.empty(m, dtype=X_np.dtype))
    soft_counts = p_t.sum(dim=1).numpy().astype(np.float64)
    soft_sums = torch.mm(p_t, X).numpy()
    grad = 2.0 * ((soft_counts + counts)[:, None] * M.numpy() - soft_sums - sums)
    return value, torch.from_numpy(grad.astype(X_np.dtype)), labels
