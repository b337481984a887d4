"""``faiss``: faiss's k-means from the harness's init, with no subsampling."""

from __future__ import annotations

from typing import Any

import numpy as np

import diffclust


class FaissKMeansBackend(diffclust.Backend):
    """faiss ``Kmeans``: a fixed number of iterations (faiss has no tolerance)."""

    name = "faiss"
    framework = "faiss"
    params = {"max_iter": 300}
    requires = ("faiss",)
    extra = "faiss"
    version = "1"

    def fit(self, problem: diffclust.Problem, *, device: str, seed: int, trace: diffclust.Trace | None = None, **params: Any) -> diffclust.Fit:
        import faiss

        X = np.ascontiguousarray(problem.X, dtype=np.float32)
        kmeans = faiss.Kmeans(
            problem.d,
            problem.k,
            niter=int(params["max_iter"]),
            seed=int(seed),
            # Use every point: faiss otherwise subsamples to 256 points per centroid.
            max_points_per_centroid=max(X.shape[0], 1) * 2,
            min_points_per_centroid=1,
            verbose=False,
        )
        kmeans.train(X, init_centroids=np.ascontiguousarray(problem.init, dtype=np.float32))
        _, labels = kmeans.index.search(X, 1)
        if trace is not None:
            trace(int(params["max_iter"]), kmeans.centroids)
        return diffclust.Fit(
            labels=labels[:, 0].astype(np.int64),
            centroids=kmeans.centroids,
            n_iter=int(params["max_iter"]),
            converged=None,
            info={"empty_cluster_rule": "split a large cluster (faiss)", "fixed_iterations": True},
        )

    def set_threads(self, threads: int) -> None:
        import faiss

        faiss.omp_set_num_threads(int(threads))


@diffclust.hookimpl
def register_backends(register):
    register(FaissKMeansBackend())
