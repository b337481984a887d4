"""Lloyd's algorithm in torch, with the rules of the numpy ``em`` backend.

Distances by GEMM in chunks of rows (``argmin`` of ``||m||^2 / 2 - x.m``, ties to the
lowest index; on the CPU through ``em``'s compiled pass), centroid sums per chunk, an empty cluster moved to the point
farthest from its centroid (scikit-learn's order, as ``em``), ``tol`` relative to the
mean feature variance, and a final assignment when stopping on ``tol`` so that labels
match the centroids. Used by ``torch-em`` and as the polish of the relaxed backends.
Only import it from inside ``fit`` (it imports torch).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from diffclust.backends._torch_chunks import map_chunks
from diffclust.backends._torch_relaxed_ops import row_slices


def assign_and_sum(X: torch.Tensor, centers: torch.Tensor, labels: torch.Tensor, chunk_rows: int) -> tuple[torch.Tensor, torch.Tensor]:
    """E-step into ``labels``; per-cluster sums (float64) and counts, fused per chunk.

    On the CPU each chunk runs whole on one worker thread (see ``_torch_chunks``): torch's
    GEMM, then the compiled nearest-center pass of ``diffclust.kmeans_math`` on the same
    memory (torch's CPU reductions with indices cost several times the GEMM at this
    shape). On an accelerator: ``addmm``, ``argmin`` and ``index_add_``. Chunk sums are
    added in chunk order, so the result does not depend on the threads.
    """
    k, d = centers.shape
    if X.device.type == "cpu":
        parts = _cpu_assign(X, centers, labels, chunk_rows)
    else:
        half_m_sq = 0.5 * torch.einsum("ij,ij->i", centers, centers)
        parts = []
        for rows in row_slices(X.shape[0], chunk_rows):
            Xc = X[rows]
            chunk_labels = torch.addmm(half_m_sq[None, :], Xc, centers.T, alpha=-1.0).argmin(dim=1)
            labels[rows] = chunk_labels
            chunk_sums = torch.zeros((k, d), dtype=X.dtype, device=X.device).index_add_(0, chunk_labels, Xc)
            parts.append((chunk_sums, torch.bincount(chunk_labels, minlength=k)))
    sums = torch.zeros((k, d), dtype=torch.float64, device=X.device)
    counts = torch.zeros(k, dtype=torch.int64, device=X.device)
    for chunk_sums, chunk_counts in parts:
        sums += chunk_sums
        counts += chunk_counts
    return sums, counts


def _cpu_assign(X: torch.Tensor, centers: torch.Tensor, labels: torch.Tensor, chunk_rows: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The CPU E-step: :func:`diffclust.kmeans_math.assign_chunks` with torch's GEMM for the
    cross products, on the tensors' own memory. The chunks are dealt to the worker threads
    in contiguous runs, one per thread; per-chunk sums come back in chunk order."""
    from diffclust.kmeans_math import assign_chunks, contiguous_parts, half_norm_shifts

    X_np = X.numpy()
    centers_np = np.ascontiguousarray(centers.numpy())
    neg_half = half_norm_shifts(centers_np, X_np.dtype)
    centers_t = torch.from_numpy(centers_np)

    def torch_cross(_centers: np.ndarray, X_rows: np.ndarray, out: np.ndarray) -> None:
        torch.mm(centers_t, torch.from_numpy(X_rows).T, out=torch.from_numpy(out))

    def run(chunks: list[slice]) -> list[tuple[np.ndarray, np.ndarray]]:
        return assign_chunks(X_np, chunks, centers_np, neg_half, labels.numpy(), accumulate=True,
                             sums_per_chunk=True, cross=torch_cross)

    chunks = list(row_slices(X.shape[0], chunk_rows))
    runs = [chunks[part] for part in contiguous_parts(len(chunks), torch.get_num_threads())]
    return [(torch.from_numpy(sums), torch.from_numpy(counts))
            for run_parts in map_chunks(run, runs, X.device) for sums, counts in run_parts]


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
        # Labels were computed from the previous centers; make them match the returned ones.
        assign_and_sum(X, centers, labels, chunk_rows)
    return labels, centers, n_iter, converged, relocations
