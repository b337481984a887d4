"""``minibatch-kmeans``: mini-batch k-means (Sculley, "Web-scale k-means clustering", 2010).

Each step draws a batch of points (from the run's seed), assigns them to their nearest
centroid, and moves each centroid towards the mean of its batch points with a per-centroid
learning rate of (points in this batch) / (points seen so far): a centroid that has seen
many points moves little. The last step is followed by one full assignment, so the labels
match the returned centroids.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import diffclust


def assign(X: np.ndarray, centroids: np.ndarray, chunk_rows: int = 4096) -> tuple[np.ndarray, float]:
    """Nearest centroid of each row (ties to the lowest index) and the total squared distance.

    Squared distances by GEMM (||x||^2 - 2 x.m + ||m||^2, clamped at 0), in chunks of rows
    so that no n x k matrix is held.
    """
    labels = np.empty(X.shape[0], dtype=np.int64)
    cost = 0.0
    sq_norms = np.einsum("ij,ij->i", centroids, centroids)
    for start in range(0, X.shape[0], chunk_rows):
        rows = X[start:start + chunk_rows]
        D = np.einsum("ij,ij->i", rows, rows)[:, None] - 2.0 * (rows @ centroids.T) + sq_norms[None, :]
        np.maximum(D, 0.0, out=D)
        labels[start:start + chunk_rows] = D.argmin(axis=1)
        cost += float(D.min(axis=1).sum())
    return labels, cost


class MiniBatchKMeans(diffclust.Backend):
    """Mini-batch k-means from the harness's initial centroids."""

    name = "minibatch-kmeans"
    framework = "numpy"
    differentiable = False
    params = {"batch_size": 1024, "max_steps": 200, "tol": 1e-6}
    version = "1"

    def fit(self, problem: diffclust.Problem, *, device: str, seed: int,
            trace: diffclust.Trace, **params: Any) -> diffclust.Fit:
        X = problem.X
        rng = np.random.default_rng(seed)
        batch_size = min(int(params["batch_size"]), problem.n)
        centroids = np.array(problem.init, dtype=np.float64)
        seen = np.zeros(problem.k, dtype=np.float64)  # points each centroid has absorbed
        # Stop when the centroids move less than tol times the mean feature variance.
        threshold = float(params["tol"]) * (float(np.mean(np.var(X, axis=0, dtype=np.float64))) or 1.0)
        converged, step = False, 0
        for step in range(1, int(params["max_steps"]) + 1):
            batch = X[rng.choice(problem.n, size=batch_size, replace=False)]
            labels, _ = assign(batch, centroids)
            counts = np.bincount(labels, minlength=problem.k).astype(np.float64)
            sums = np.zeros_like(centroids)
            np.add.at(sums, labels, batch)
            hit = counts > 0
            seen[hit] += counts[hit]
            previous = centroids.copy()
            # c <- c + (sum of batch points - count * c) / points seen: the running mean.
            centroids[hit] += (sums[hit] - counts[hit, None] * centroids[hit]) / seen[hit, None]
            trace(step, centroids)
            if float(np.sum((centroids - previous) ** 2)) <= threshold:
                converged = True
                break
        labels, cost = assign(X, centroids)
        return diffclust.Fit(
            labels=labels,
            centroids=centroids.astype(X.dtype),
            n_iter=step,
            converged=converged,
            info={"batch_size": batch_size, "never_updated": int((seen == 0).sum()),
                  "empty_cluster_rule": "a centroid no batch point reaches keeps its initial place"},
        )


@diffclust.hookimpl
def register_backends(register):
    register(MiniBatchKMeans())
