"""Backends that register fine but return Fits that break the contract."""

import numpy as np

import diffclust


class ShortLabels(diffclust.Backend):
    """Drops the last point's label."""

    name = "short-labels"

    def fit(self, problem, *, device, seed, trace, **params):
        labels = np.zeros(problem.n - 1, dtype=np.int64)
        return diffclust.Fit(labels=labels, centroids=problem.init, n_iter=1, converged=True)


class ReturnsTuple(diffclust.Backend):
    """Returns (labels, centroids) instead of a Fit."""

    name = "returns-tuple"

    def fit(self, problem, *, device, seed, trace, **params):
        return np.zeros(problem.n, dtype=np.int64), problem.init


@diffclust.hookimpl
def register_backends(register):
    register(ShortLabels())
    register(ReturnsTuple())
