"""The relaxed k-means maths in torch: small pure functions over tensors, and an autograd
Function whose backward pass treats the hard part of ``U`` as a scatter.

The formulas are those of :mod:`diffclust.backends._relaxed_math`; the JAX twin of this
module is :mod:`diffclust.backends._jax_relaxed_ops`, function for function. Only import
this module from inside a backend's ``fit`` (it imports torch).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch


def row_slices(n: int, chunk_rows: int) -> Iterator[slice]:
    """Slices covering ``range(n)``, ``chunk_rows`` rows at a time."""
    for start in range(0, n, chunk_rows):
        yield slice(start, min(start + chunk_rows, n))


def row_argmin(S: torch.Tensor) -> torch.Tensor:
    """Index of each row's minimum, ties to the lowest index. On the CPU through numpy,
    whose SIMD argmin is about 4x faster than torch's along the last axis."""
    if S.device.type == "cpu" and not S.requires_grad:
        return torch.from_numpy(np.argmin(S.numpy(), axis=1))
    return S.argmin(dim=1)


def row_argmax(S: torch.Tensor) -> torch.Tensor:
    """Index of each row's maximum, ties to the lowest index (numpy on the CPU)."""
    if S.device.type == "cpu" and not S.requires_grad:
        return torch.from_numpy(np.argmax(S.numpy(), axis=1))
    return S.argmax(dim=1)


def cross_and_distances(X: torch.Tensor, M: torch.Tensor, m_sq: torch.Tensor) -> torch.Tensor:
    """``D - ||x||^2 = ||m||^2 - 2 x.m`` by one GEMM (``addmm``). The ``||x||^2`` term is a
    constant per row: argmin, the logits' softmax and the shifted cotangent never see it,
    so it is added only where a distance itself is needed."""
    return torch.addmm(m_sq[None, :], X, M.T, alpha=-2.0)


def squared_distances(X: torch.Tensor, M: torch.Tensor, m_sq: torch.Tensor) -> torch.Tensor:
    """``||x - m||^2`` of every row and centroid, clamped at 0."""
    S = cross_and_distances(X, M, m_sq)
    return S.add_(torch.einsum("ij,ij->i", X, X)[:, None]).clamp_min_(0.0)


def centroid_distances(M: torch.Tensor) -> torch.Tensor:
    """``||m_a - m_j||^2`` for every pair of centroids (``k x k``)."""
    m_sq = torch.einsum("ij,ij->i", M, M)
    return torch.addmm(m_sq[None, :] + m_sq[:, None], M, M.T, alpha=-2.0).clamp_min_(0.0)


def noise_generator(seed: int, device: str) -> torch.Generator | np.random.Generator:
    """One source of Gumbel noise seeded from ``seed``: numpy's SFC64 on the CPU (raw words
    turned into noise by :mod:`diffclust.backends._gumbel_cpu`), torch's on accelerators."""
    if device == "cpu":
        return np.random.Generator(np.random.SFC64(int(seed)))
    generator = torch.Generator(device=device)
    generator.manual_seed(int(seed) & 0x7FFF_FFFF_FFFF_FFFF)
    return generator


MASK64 = (1 << 64) - 1


def splitmix64(x: int) -> int:
    """One output of the SplitMix64 mixer (Steele et al.): a bijection of 64-bit words
    that spreads nearby inputs (consecutive steps, chunks) far apart."""
    x = (x + 0x9E3779B97F4A7C15) & MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK64
    return x ^ (x >> 31)


def chunk_noise_key(seed: int, step: int, chunk: int) -> int:
    """The 64-bit key of the noise of one chunk of one step: its own stream per ``(seed,
    step, chunk)``, so that chunks can be drawn on any thread in any order and the noise
    does not depend on the number of threads."""
    return splitmix64(splitmix64(splitmix64(int(seed) & MASK64) ^ int(step)) ^ int(chunk))


def chunk_noise_keys(seed: int, step: int, chunks: int) -> np.ndarray:
    """:func:`chunk_noise_key` of chunks ``0 .. chunks - 1`` (uint64), in numpy's wrapping
    uint64 arithmetic rather than one Python call per chunk."""
    base = np.uint64(splitmix64(splitmix64(int(seed) & MASK64) ^ int(step)))
    x = np.arange(chunks, dtype=np.uint64) ^ base
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


@dataclass(frozen=True)
class GumbelStream:
    """The Gumbel noise of one step of a seeded fit: one stream per chunk of rows, keyed by
    ``(seed, step, chunk)``."""

    seed: int
    step: int

    def chunk_keys(self, chunks: int) -> np.ndarray:
        return chunk_noise_keys(self.seed, self.step, chunks)

    def chunk_noise(self, chunk: int, rows: int, k: int, like: torch.Tensor) -> torch.Tensor:
        return chunk_gumbel_noise(self.seed, self.step, chunk, rows, k, like)


def chunk_gumbel_noise(seed: int, step: int, chunk: int, rows: int, k: int, like: torch.Tensor) -> torch.Tensor:
    """The Gumbel noise of one chunk of one step (``rows x k``, ``like``'s dtype and device).

    On the CPU it is drawn in one compiled pass (:func:`diffclust.backends._gumbel_cpu.fill_gumbel`)
    into a per-thread ``k x rows`` buffer and returned as its transposed view, which the CPU
    chunk reads with no copy; the buffer is reused by the thread's next chunk, so the noise
    must be consumed before then. On accelerators it comes from torch's generator."""
    key = chunk_noise_key(seed, step, chunk)
    if like.device.type == "cpu":
        from diffclust.backends._torch_relaxed_cpu import gumbel_buffer

        return gumbel_buffer(key, k, rows, like.dtype).T
    return gumbel_noise(rows, k, noise_generator(key & 0x7FFF_FFFF_FFFF_FFFF, str(like.device)), like)


def gumbel_noise(rows: int, k: int, generator: torch.Generator | np.random.Generator, like: torch.Tensor) -> torch.Tensor:
    """Standard Gumbel noise ``-log(-log u)`` (``rows x k``) in ``like``'s dtype and device,
    with ``u`` strictly inside ``(0, 1)`` so that the noise is always finite (a uniform draw
    of exactly 0 would give ``-inf``). Drawn in float32 whatever the data's dtype, so float32
    and float64 data see the same noise for one seed. From a numpy generator (CPU), the
    uniforms are those of :mod:`diffclust.backends._gumbel_cpu`."""
    if isinstance(generator, np.random.Generator):
        from diffclust.backends._gumbel_cpu import gumbel_from_words

        words = generator.bit_generator.random_raw((rows * k + 1) // 2)
        out = torch.empty((rows, k), dtype=like.dtype)
        gumbel_from_words(words, out.numpy().reshape(-1))
        return out
    u = torch.rand((rows, k), generator=generator, dtype=torch.float32, device=like.device)
    info = torch.finfo(torch.float32)
    u.clamp_(info.tiny, 1.0 - info.eps)
    return u.log_().neg_().log_().neg_().to(like.dtype)


def assignment_cotangent(E: torch.Tensor, delta: torch.Tensor | None, labels: torch.Tensor, loss: str) -> torch.Tensor:
    """``dL/dU`` at the hard assignment, less its entry at the assigned cluster ``a`` (a
    constant per row, which the softmax's VJP ignores), in place on ``E = D - D[a]``.

    Linear loss: ``D - D[a] = E``. Quadratic loss: ``2 ((M M^T)[a] - X M^T)`` shifted the same
    way is ``E - ||m_a - m_j||^2``, i.e. ``E - delta[a]``. The shift makes the assigned entry
    exactly 0, so the VJP below has no cancellation there.
    """
    if loss == "linear":
        return E
    return E.sub_(delta[labels])


def log_tiny(dtype: torch.dtype) -> float:
    """The most negative exponent whose ``exp`` is still a normal number: clamping there
    keeps subnormals (slow on x86, and 0 for every purpose here) out of the softmax."""
    return math.log(torch.finfo(dtype).tiny) + 1.0


def relaxed_chunk(
    X: torch.Tensor,
    M: torch.Tensor,
    m_sq: torch.Tensor,
    delta: torch.Tensor | None,
    inv_tau: float,
    noise: torch.Tensor | None,
    loss: str,
    want_grad: bool,
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """Centroid mode on a chunk of rows: loss sum less ``sum ||x||^2`` (float64), ``dL/dM``
    and hard labels.

    ``inv_tau`` is ``1 / (tau D-bar)``; ``noise`` is Gumbel noise (consumed) or None
    (straight-through). The soft part of ``dL/dD`` is ``w_i * Q_ij`` with
    ``Q = P~ * (G - <p, G>)``, ``P~ = exp(logits - max)`` and ``w = -1 / (tau Z)``; the row
    weight is moved onto ``X`` (``chunk x d``) rather than applied to ``Q`` (``chunk x k``).
    The hard part (``one_hot(a)``) is a scatter of the rows of ``X``.

    The loss's forward pass runs this on accelerators; on the CPU it computes the same
    quantities in compiled code (:mod:`diffclust.backends._torch_relaxed_cpu`), and the
    tests hold the two to each other.
    """
    S = cross_and_distances(X, M, m_sq)  # D - ||x||^2
    if noise is None:
        labels = row_argmin(S)
    else:
        z = noise.add_(S, alpha=-inv_tau)  # logits -D / tau + g, up to a row constant
        labels = row_argmax(z)
    s_a = S.gather(1, labels[:, None])
    value = s_a.sum(dtype=torch.float64)  # the loss less sum ||x||^2, added once per pass
    if not want_grad:
        return value, None, labels
    k = M.shape[0]
    E = S.sub_(s_a)  # D - D[a]
    if noise is None:
        P = torch.mul(E, -inv_tau)  # its row maximum is 0, at a
    else:
        P = z.sub_(z.gather(1, labels[:, None]))
    P.clamp_min_(log_tiny(P.dtype)).exp_()
    Z = P.sum(dim=1)
    G = assignment_cotangent(E, delta, labels, loss)
    inner = torch.einsum("ij,ij->i", P, G).div_(Z)
    Q = G.sub_(inner[:, None]).mul_(P)
    w = Z.reciprocal_().mul_(-inv_tau)
    soft_counts = Q.T @ w
    soft_sums = Q.T @ (X * w[:, None])
    counts = torch.bincount(labels, minlength=k).to(X.dtype)
    sums = torch.zeros_like(M).index_add_(0, labels, X)
    grad = (soft_counts + counts)[:, None] * M - soft_sums - sums
    return value, grad.mul_(2.0), labels


class RelaxedKMeansLoss(torch.autograd.Function):
    """``L(U(M), M) / n`` in centroid mode, with the gradient computed chunk by chunk in the
    forward pass (two GEMMs per chunk, ``O(chunk x k)`` memory per thread) and kept as the
    only residual: the backward pass is a scaling of it. On the CPU the whole pass is
    compiled (:mod:`diffclust.backends._torch_relaxed_cpu`); on an accelerator it is
    :func:`relaxed_chunk` per chunk, summed in chunk order."""

    @staticmethod
    def forward(ctx, M, X, inv_tau: float, chunk_rows: int, loss: str, noise: GumbelStream | None, x_sq_sum=None):  # noqa: ANN001
        want_grad = bool(ctx.needs_input_grad[0])
        n = X.shape[0]
        m_sq = torch.einsum("ij,ij->i", M, M)
        delta = centroid_distances(M) if loss == "quadratic" else None
        if X.device.type == "cpu":
            from diffclust.backends._torch_relaxed_cpu import relaxed_pass_cpu

            keys = None if noise is None else noise.chunk_keys(-(-n // chunk_rows))
            total, grad = relaxed_pass_cpu(X, M.detach(), m_sq, delta, inv_tau, log_tiny(X.dtype), chunk_rows, keys,
                                           want_grad, torch.get_num_threads())
        else:
            total = torch.zeros((), dtype=torch.float64, device=X.device)
            grad = torch.zeros_like(M) if want_grad else None
            for index, rows in enumerate(row_slices(n, chunk_rows)):
                chunk_noise = None if noise is None else noise.chunk_noise(index, rows.stop - rows.start, M.shape[0], X)
                value, chunk_grad, _ = relaxed_chunk(X[rows], M, m_sq, delta, inv_tau, chunk_noise, loss, want_grad)
                total += value
                if want_grad:
                    grad += chunk_grad
        if x_sq_sum is None:
            x_sq_sum = torch.einsum("ij,ij->", X, X).double()
        if want_grad:
            ctx.save_for_backward(grad.div_(n))
        return ((total + x_sq_sum) / n).to(M.dtype)

    @staticmethod
    def backward(ctx, grad_output):  # noqa: ANN001
        (grad,) = ctx.saved_tensors
        return grad_output * grad, None, None, None, None, None, None


def relaxed_kmeans_loss(X: torch.Tensor, M: torch.Tensor, inv_tau: float, *, loss: str = "linear",
                        chunk_rows: int = 1024, noise: GumbelStream | None = None,
                        x_sq_sum: torch.Tensor | None = None) -> torch.Tensor:
    """The relaxed k-means loss (mean over rows) with the fast backward pass.

    ``noise`` is the step's Gumbel noise (Gumbel-softmax) or None (straight-through).
    ``x_sq_sum``, ``sum ||x||^2`` over the rows of ``X`` (float64), saves a pass over ``X``
    when the caller knows it (it is the same at every step).
    """
    return RelaxedKMeansLoss.apply(M, X, float(inv_tau), int(chunk_rows), loss, noise, x_sq_sum)


def literal_relaxed_loss(X: torch.Tensor, M: torch.Tensor, inv_tau: float, *, loss: str = "linear",
                         noise: torch.Tensor | None = None) -> torch.Tensor:
    """The same loss written literally with a dense ``U`` and plain autograd:
    ``U = U_hard + U_soft - U_soft.detach()``. The reference the fast path is tested against."""
    D = (X.pow(2).sum(1, keepdim=True) - 2.0 * X @ M.T + M.pow(2).sum(1)[None, :]).clamp_min(0.0)
    logits = -D * inv_tau + (0.0 if noise is None else noise)
    labels = D.argmin(dim=1) if noise is None else logits.argmax(dim=1)
    U_hard = torch.nn.functional.one_hot(labels, M.shape[0]).to(X.dtype)
    U_soft = torch.softmax(logits, dim=1)
    U = U_hard + U_soft - U_soft.detach()
    if loss == "linear":
        return (U * D).sum() / X.shape[0]
    return (X - U @ M).pow(2).sum() / X.shape[0]


def softmax_(logits: torch.Tensor) -> torch.Tensor:
    """Row softmax in place (max subtracted first, so large logits never overflow)."""
    logits.sub_(logits.amax(dim=1, keepdim=True)).clamp_min_(log_tiny(logits.dtype)).exp_()
    return logits.div_(logits.sum(dim=1, keepdim=True))


def softmax_vjp_(P: torch.Tensor, G: torch.Tensor) -> torch.Tensor:
    """``P * (G - rowsum(P * G))``, the softmax's vector-Jacobian product, into ``G``."""
    inner = torch.einsum("ij,ij->i", P, G)
    return G.sub_(inner[:, None]).mul_(P)


def logits_value_and_grad(
    X: torch.Tensor, Theta: torch.Tensor, M: torch.Tensor, inv_tau: float, noise: torch.Tensor | None,
    labels: torch.Tensor, loss: str, chunk_rows: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Logit mode: loss sum and ``dL/dTheta`` with ``U_soft = softmax(Theta / tau + g)`` and
    ``M`` the cluster means of ``labels`` (its own gradient vanishes there: M is optimal)."""
    m_sq = torch.einsum("ij,ij->i", M, M)
    delta = centroid_distances(M) if loss == "quadratic" else None
    grad = torch.empty_like(Theta)
    total = torch.zeros((), dtype=torch.float64, device=X.device)
    for rows in row_slices(X.shape[0], chunk_rows):
        Xc, chunk_labels = X[rows], labels[rows]
        S = cross_and_distances(Xc, M, m_sq)
        s_a = S.gather(1, chunk_labels[:, None])
        total += (torch.einsum("ij,ij->i", Xc, Xc) + s_a[:, 0]).clamp_min_(0.0).sum(dtype=torch.float64)
        logits = Theta[rows] * inv_tau
        if noise is not None:
            logits.add_(noise[rows])
        G = assignment_cotangent(S.sub_(s_a), delta, chunk_labels, loss)
        grad[rows] = softmax_vjp_(softmax_(logits), G).mul_(inv_tau)
    return total, grad


def nearest(X: torch.Tensor, M: torch.Tensor, chunk_rows: int) -> torch.Tensor:
    """Index of the nearest centroid of each row (ties to the lowest index)."""
    half_m_sq = 0.5 * torch.einsum("ij,ij->i", M, M)
    labels = torch.empty(X.shape[0], dtype=torch.int64, device=X.device)
    for rows in row_slices(X.shape[0], chunk_rows):
        labels[rows] = row_argmin(torch.addmm(half_m_sq[None, :], X[rows], M.T, alpha=-1.0))
    return labels


def objective(X: torch.Tensor, labels: torch.Tensor, M: torch.Tensor, chunk_rows: int) -> float:
    """``||X - U M||_F^2`` by direct differences, accumulated in float64."""
    total = torch.zeros((), dtype=torch.float64, device=X.device)
    for rows in row_slices(X.shape[0], chunk_rows):
        diff = X[rows] - M[labels[rows]]
        total += torch.einsum("ij,ij->", diff, diff).double()
    return float(total)


def cluster_means(X: torch.Tensor, labels: torch.Tensor, k: int, fallback: torch.Tensor, chunk_rows: int) -> torch.Tensor:
    """Means of the points of each cluster (sums in float64); an empty cluster keeps
    ``fallback``'s row."""
    sums = torch.zeros((k, X.shape[1]), dtype=torch.float64, device=X.device)
    chunk_sums = torch.empty((k, X.shape[1]), dtype=X.dtype, device=X.device)
    for rows in row_slices(X.shape[0], chunk_rows):
        sums += chunk_sums.zero_().index_add_(0, labels[rows], X[rows])
    counts = torch.bincount(labels, minlength=k)
    means = fallback.clone()
    filled = counts > 0
    means[filled] = (sums[filled] / counts[filled, None]).to(X.dtype)
    return means
