"""The relaxed k-means maths in torch: small pure functions over tensors, and an autograd
Function whose backward pass treats the hard part of ``U`` as a scatter.

The formulas are those of :mod:`diffclust.backends._relaxed_math`; the JAX twin of this
module is :mod:`diffclust.backends._jax_relaxed_ops`, function for function. Only import
this module from inside a backend's ``fit`` (it imports torch).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch


def row_slices(n: int, chunk_rows: int) -> Iterator[slice]:
    """Slices covering ``range(n)``, ``chunk_rows`` rows at a time."""
    for start in range(0, n, chunk_rows):
        yield slice(start, min(start + chunk_rows, n))


def cross_and_distances(X: torch.Tensor, M: torch.Tensor, m_sq: torch.Tensor, keep_cross: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Squared distances ``||x||^2 - 2 x.m + ||m||^2`` (clamped at 0) by one GEMM, and the
    cross term ``X M^T`` when ``keep_cross`` (the quadratic loss needs it)."""
    C = X @ M.T
    cross = C.clone() if keep_cross else None
    x_sq = torch.einsum("ij,ij->i", X, X)
    D = C.mul_(-2.0).add_(x_sq[:, None]).add_(m_sq[None, :]).clamp_min_(0.0)
    return D, cross


def gumbel_noise(rows: int, k: int, generator: torch.Generator, like: torch.Tensor) -> torch.Tensor:
    """Standard Gumbel noise ``-log(-log u)`` in ``like``'s dtype and device, with ``u``
    kept inside ``(0, 1)`` so that the noise is always finite (``torch.rand`` can return
    exactly 0, whose noise is ``-inf``). Drawn in float32 whatever the data's dtype, so
    float32 and float64 data see the same noise for one seed."""
    u = torch.rand((rows, k), generator=generator, dtype=torch.float32, device=like.device)
    info = torch.finfo(torch.float32)
    u.clamp_(info.tiny, 1.0 - info.eps)
    return u.log_().neg_().log_().neg_().to(like.dtype)


def assignment_cotangent(D: torch.Tensor, cross: torch.Tensor | None, MMt: torch.Tensor | None, labels: torch.Tensor, loss: str) -> torch.Tensor:
    """``dL/dU`` at the hard assignment, ``D`` for the linear loss or
    ``2 ((M M^T)[a] - X M^T)`` for the quadratic one, minus its entry at the assigned
    cluster (in place for the linear loss: ``D`` is consumed).

    The softmax's VJP is blind to a constant per row; this one makes the assigned entry
    exactly 0, so that ``G - rowsum(P * G)`` has no cancellation there (computed from the
    raw ``G`` it loses every digit of the soft part's small terms, which Adam would then
    amplify).
    """
    G = D if loss == "linear" else (MMt[labels] - cross).mul_(2.0)
    return G.sub_(G.gather(1, labels[:, None]))


def softmax_(logits: torch.Tensor) -> torch.Tensor:
    """Row softmax in place (max subtracted first, so large logits never overflow)."""
    logits.sub_(logits.amax(dim=1, keepdim=True)).exp_()
    return logits.div_(logits.sum(dim=1, keepdim=True))


def softmax_vjp_(P: torch.Tensor, G: torch.Tensor) -> torch.Tensor:
    """``P * (G - rowsum(P * G))``, the softmax's vector-Jacobian product, into ``G``."""
    inner = torch.einsum("ij,ij->i", P, G)
    return G.sub_(inner[:, None]).mul_(P)


def relaxed_chunk(
    X: torch.Tensor,
    M: torch.Tensor,
    m_sq: torch.Tensor,
    MMt: torch.Tensor | None,
    inv_tau: float,
    noise: torch.Tensor | None,
    loss: str,
    want_grad: bool,
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """Centroid mode on a chunk of rows: loss sum (float64), ``dL/dM`` and hard labels.

    ``inv_tau`` is ``1 / (tau D-bar)``; ``noise`` is Gumbel noise or None (straight-through).
    """
    D, cross = cross_and_distances(X, M, m_sq, keep_cross=want_grad and loss == "quadratic")
    if noise is None:
        labels = D.argmin(dim=1)
    d_min = D.amin(dim=1, keepdim=True)
    # Logits -(D - D_min) / tau: shifted so the largest is 0 (exact for the softmax).
    logits = (D - d_min).mul_(-inv_tau)
    if noise is not None:
        logits.add_(noise)
        labels = logits.argmax(dim=1)
    value = D.gather(1, labels[:, None]).sum(dtype=torch.float64)
    if not want_grad:
        return value, None, labels
    P = softmax_(logits)
    G = assignment_cotangent(D, cross, MMt, labels, loss)
    dD = softmax_vjp_(P, G).mul_(-inv_tau)
    dD.scatter_add_(1, labels[:, None], torch.ones_like(d_min))  # the hard part: one_hot(a)
    grad = dD.sum(dim=0)[:, None] * M - dD.T @ X
    return value, grad.mul_(2.0), labels


NoiseFn = Callable[[int], "torch.Tensor | None"]


class RelaxedKMeansLoss(torch.autograd.Function):
    """``L(U(M), M) / n`` in centroid mode, with the gradient computed chunk by chunk in the
    forward pass (two GEMMs per chunk, ``O(chunk x k)`` memory) and kept as the only
    residual: the backward pass is a scaling of it."""

    @staticmethod
    def forward(ctx, M, X, inv_tau: float, chunk_rows: int, loss: str, noise_fn: NoiseFn | None):  # noqa: ANN001
        want_grad = bool(ctx.needs_input_grad[0])
        n, k = X.shape[0], M.shape[0]
        m_sq = torch.einsum("ij,ij->i", M, M)
        MMt = M @ M.T if loss == "quadratic" else None
        total = torch.zeros((), dtype=torch.float64, device=M.device)
        grad = torch.zeros_like(M) if want_grad else None
        for rows in row_slices(n, chunk_rows):
            noise = noise_fn(rows.stop - rows.start) if noise_fn is not None else None
            value, chunk_grad, _ = relaxed_chunk(X[rows], M, m_sq, MMt, inv_tau, noise, loss, want_grad)
            total += value
            if want_grad:
                grad += chunk_grad
        if want_grad:
            ctx.save_for_backward(grad.div_(n))
        return (total / n).to(M.dtype)

    @staticmethod
    def backward(ctx, grad_output):  # noqa: ANN001
        (grad,) = ctx.saved_tensors
        return grad_output * grad, None, None, None, None, None


def relaxed_kmeans_loss(X: torch.Tensor, M: torch.Tensor, inv_tau: float, *, loss: str = "linear",
                        chunk_rows: int = 4096, noise_fn: NoiseFn | None = None) -> torch.Tensor:
    """The relaxed k-means loss (mean over rows) with the fast backward pass."""
    return RelaxedKMeansLoss.apply(M, X, float(inv_tau), int(chunk_rows), loss, noise_fn)


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


def logits_value_and_grad(
    X: torch.Tensor, Theta: torch.Tensor, M: torch.Tensor, inv_tau: float, noise: torch.Tensor | None,
    labels: torch.Tensor, loss: str, chunk_rows: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Logit mode: loss sum and ``dL/dTheta`` with ``U_soft = softmax(Theta / tau + g)`` and
    ``M`` the cluster means of ``labels`` (its own gradient vanishes there: M is optimal)."""
    m_sq = torch.einsum("ij,ij->i", M, M)
    MMt = M @ M.T if loss == "quadratic" else None
    grad = torch.empty_like(Theta)
    total = torch.zeros((), dtype=torch.float64, device=X.device)
    for rows in row_slices(X.shape[0], chunk_rows):
        D, cross = cross_and_distances(X[rows], M, m_sq, keep_cross=loss == "quadratic")
        chunk_labels = labels[rows]
        total += D.gather(1, chunk_labels[:, None]).sum(dtype=torch.float64)
        logits = Theta[rows] * inv_tau
        if noise is not None:
            logits.add_(noise[rows])
        P = softmax_(logits)
        G = assignment_cotangent(D, cross, MMt, chunk_labels, loss)
        grad[rows] = softmax_vjp_(P, G).mul_(inv_tau)
    return total, grad


def nearest(X: torch.Tensor, M: torch.Tensor, chunk_rows: int) -> torch.Tensor:
    """Index of the nearest centroid of each row (ties to the lowest index)."""
    half_m_sq = 0.5 * torch.einsum("ij,ij->i", M, M)
    labels = torch.empty(X.shape[0], dtype=torch.int64, device=X.device)
    for rows in row_slices(X.shape[0], chunk_rows):
        labels[rows] = (half_m_sq[None, :] - X[rows] @ M.T).argmin(dim=1)
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
