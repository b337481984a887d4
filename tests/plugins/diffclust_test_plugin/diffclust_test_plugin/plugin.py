"""A well-behaved third-party plugin: one backend, one dataset."""

import numpy as np

import diffclust


class InitOnly(diffclust.Backend):
    """Assigns each point to its nearest initial centroid and stops: a valid, weak baseline."""

    name = "init-only"
    params = {"scale": 1.0}

    def fit(self, problem, *, device, seed, trace, **params):
        from diffclust.kmeans_math import assign

        centroids = problem.init * params["scale"]
        labels, _ = assign(problem.X, centroids)
        trace(0, centroids)
        return diffclust.Fit(labels=labels, centroids=centroids, n_iter=0, converged=True)


class Line(diffclust.Dataset):
    """Points on a line in two groups."""

    name = "two-groups"
    params = {"n": 40}

    def load(self, **params):
        n = params["n"]
        X = np.concatenate([np.zeros((n // 2, 2)), np.ones((n - n // 2, 2)) * 10]).astype(np.float32)
        labels = np.repeat([0, 1], [n // 2, n - n // 2])
        return diffclust.DatasetData(X=X, labels=labels, k=2)


@diffclust.hookimpl
def register_backends(register):
    register(InitOnly())


@diffclust.hookimpl
def register_datasets(register):
    register(Line())
