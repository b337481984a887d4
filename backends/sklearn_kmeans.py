"""``sklearn``: scikit-learn's ``KMeans`` (lloyd) as a reference peer, from the harness's init."""

from __future__ import annotations

import warnings
from typing import Any

import diffclust


class SklearnKMeansBackend(diffclust.Backend):
    """scikit-learn's Lloyd, one run (``n_init=1``) from ``problem.init``."""

    name = "sklearn"
    framework = "numpy"
    params = {"max_iter": 300, "tol": 1e-4, "algorithm": "lloyd"}
    requires = ("sklearn",)
    version = "1"

    def fit(self, problem: diffclust.Problem, *, device: str, seed: int, trace: diffclust.Trace | None = None, **params: Any) -> diffclust.Fit:
        from sklearn.cluster import KMeans
        from sklearn.exceptions import ConvergenceWarning

        model = KMeans(
            n_clusters=problem.k,
            init=problem.init,
            n_init=1,
            max_iter=int(params["max_iter"]),
            tol=float(params["tol"]),
            algorithm=params["algorithm"],
            random_state=seed,
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            model.fit(problem.X)
        not_converged = any(issubclass(w.category, ConvergenceWarning) and "converge" in str(w.message).lower() for w in caught)
        converged = model.n_iter_ < int(params["max_iter"]) and not not_converged
        if trace is not None:
            trace(int(model.n_iter_), model.cluster_centers_)
        return diffclust.Fit(
            labels=model.labels_,
            centroids=model.cluster_centers_,
            n_iter=int(model.n_iter_),
            converged=converged,
            info={"empty_cluster_rule": "farthest point (scikit-learn)"},
        )


@diffclust.hookimpl
def register_backends(register):
    register(SklearnKMeansBackend())
