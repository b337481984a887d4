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
    """The CPU E-step: per chunk, the scores ``x.m`` transposed (``k x m``) by torch's GEMM
    into a reused buffer, then :func:`diffclust.kmeans_math.nearest_from_scores` (no GIL)
    for the labels and the chunk's sums and counts. The chunks are dealt to the worker
    threads in contiguous runs, one per thread; per-chunk results come back in order."""
    from diffclust.kmeans_math import nearest_from_scores

    k, d = centers.shape
    n = X.shape[0]
    X_np = X.numpy()
    labels_np = labels.numpy()
    centers = centers.contiguous()
    neg_half = (-0.5 * torch.einsum("ij,ij->i", centers.double(), centers.double())).to(X.dtype).numpy()
    chunks = list(row_slices(n, chunk_rows))

    def run(run_chunks: list[slice]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        rows_max = max(rows.stop - rows.start for rows in run_chunks)
        scores_t = torch.empty((k, rows_max), dtype=X.dtype)
        best_index = np.empty(rows_max, dtype=np.int32)
        best = np.empty(rows_max, dtype=X_np.dtype)
        out = []
        for rows in run_chunks:
            m = rows.stop - rows.start
            scores = scores_t if m == rows_max else torch.empty((k, m), dtype=X.dtype)
            torch.mm(centers, X[rows].T, out=scores)
            sums = np.zeros((k, d), dtype=np.float64)
            counts = np.zeros(k, dtype=np.int64)
            nearest_from_scores(scores.numpy(), neg_half, X_np[rows], best_index, labels_np[rows], best, True, sums, counts)
            out.append((torch.from_numpy(sums), torch.from_numpy(counts)))
        return out

    threads = torch.get_num_threads()
    bounds = np.linspace(0, len(chunks), min(threads, len(chunks)) + 1).astype(int)
    runs = [chunks[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
    return [part for run_parts in map_chunks(run, runs, X.device) for part in run_parts]


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
