"""Lloyd's algorithm in torch, with the rules of the numpy ``em`` backend.

Distances by GEMM in chunks of rows (``argmin`` of ``||m||^2 / 2 - x.m``, ties to the
lowest index), centroid sums by ``index_add_``, an empty cluster moved to the point
farthest from its centroid (scikit-learn's order, as ``em``), ``tol`` relative to the
mean feature variance, and a final assignment when stopping on ``tol`` so that labels
match the centroids. Used by ``torch-em`` and as the polish of the relaxed backends.
Only import it from inside ``fit`` (it imports torch).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from diffclust.backends._torch_relaxed_ops import nearest, row_argmin, row_slices


def assign_and_sum(X: torch.Tensor, centers: torch.Tensor, labels: torch.Tensor, chunk_rows: int) -> tuple[torch.Tensor, torch.Tensor]:
    """E-step into ``labels``; per-cluster sums (float64) and counts, fused per chunk."""
    k, d = centers.shape
    sums = torch.zeros((k, d), dtype=torch.float64, device=X.device)
    counts = torch.zeros(k, dtype=torch.int64, device=X.device)
    half_m_sq = 0.5 * torch.einsum("ij,ij->i", centers, centers)
    chunk_sums = torch.empty((k, d), dtype=X.dtype, device=X.device)
    for rows in row_slices(X.shape[0], chunk_rows):
        Xc = X[rows]
        chunk_labels = row_argmin(torch.addmm(half_m_sq[None, :], Xc, centers.T, alpha=-1.0))
        labels[rows] = chunk_labels
        counts += torch.bincount(chunk_labels, minlength=k)
        chunk_sums.zero_().index_add_(0, chunk_labels, Xc)
        sums += chunk_sums
    return sums, counts


def relocate_empty_clusters(X: torch.Tensor, centers_old: torch.Tensor, sums: torch.Tensor, counts: torch.Tensor,
                            labels: torch.Tensor, chunk_rows: int) -> int:
    """Move each empty cluster onto one of the points farthest from their centroid, in the
    order ``em`` (and scikit-learn) take them. Returns how many clusters moved."""
    empty = torch.nonzero(counts == 0).flatten().tolist()
    if not empty:
        return 0
    dist = torch.empty(X.shape[0], dtype=torch.float64, device=X.device)
    for rows in row_slices(X.shape[0], chunk_rows):
        diff = X[rows] - centers_old[labels[rows]]
        dist[rows] = torch.einsum("ij,ij->i", diff, diff).double()
    n_empty = len(empty)
    # The same selection and order as numpy's argpartition in the em backend.
    far = np.argpartition(dist.cpu().numpy(), -n_empty)[: -n_empty - 1 : -1]
    for new_id, point in zip(empty, far.tolist()):
        old_id = int(labels[point])
        x = X[point].double()
        sums[old_id] -= x
        counts[old_id] -= 1
        sums[new_id] = x
        counts[new_id] = 1
    return n_empty


def lloyd(
    X: torch.Tensor,
    init: torch.Tensor,
    *,
    max_iter: int,
    abs_tol: float,
    chunk_rows: int,
    trace: Callable[[int, torch.Tensor], None] | None = None,
    step_offset: int = 0,
) -> tuple[torch.Tensor, torch.Tensor, int, bool, int]:
    """Lloyd from ``init``: labels, centroids (X's dtype), iterations, converged, relocations."""
    centers = init.detach().clone()
    labels = torch.full((X.shape[0],), -1, dtype=torch.int64, device=X.device)
    labels_old = labels.clone()
    relocations = 0
    strict = converged = False
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        sums, counts = assign_and_sum(X, centers, labels, chunk_rows)
        relocations += relocate_empty_clusters(X, centers, sums, counts, labels, chunk_rows)
        filled = counts > 0
        new_centers = centers.clone()
        new_centers[filled] = (sums[filled] / counts[filled, None]).to(X.dtype)
        shift = float(torch.sum((new_centers.double() - centers.double()) ** 2))
        centers = new_centers
        if trace is not None:
            trace(step_offset + n_iter, centers)
        if torch.equal(labels, labels_old):
            strict = converged = True
            break
        if shift <= abs_tol:
            converged = True
            break
        labels_old.copy_(labels)
    if not strict:
        labels = nearest(X, centers, chunk_rows)
    return labels, centers, n_iter, converged, relocations
