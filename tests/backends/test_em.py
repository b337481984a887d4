"""``em`` follows scikit-learn's Lloyd: same init, same inertia; empty clusters relocated."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.datasets import load_digits, make_blobs
from sklearn.preprocessing import StandardScaler

from diffclust import Problem
from diffclust.backends.em import EMBackend, lloyd
from diffclust.backends.sklearn_kmeans import SklearnKMeansBackend
from diffclust.init import initial_centroids
from diffclust.metrics import inertia


def problem_from(X, k, seed):
    X = np.ascontiguousarray(X, dtype=np.float32)
    return Problem(X=X, k=k, init=initial_centroids(X, k, seed), seed=seed)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_em_and_sklearn_reach_the_same_inertia_from_the_same_init(seed):
    X = StandardScaler().fit_transform(load_digits().data)
    problem = problem_from(X, 10, seed)
    em = EMBackend().fit(problem, device="cpu", seed=seed, **EMBackend.params)
    sk = SklearnKMeansBackend().fit(problem, device="cpu", seed=seed, **SklearnKMeansBackend.params)
    assert inertia(problem.X, em.labels, 10) == pytest.approx(inertia(problem.X, sk.labels, 10), rel=1e-5)
    assert abs(em.n_iter - sk.n_iter) <= 1


def test_em_matches_sklearn_on_blobs_with_many_chunks():
    X, _ = make_blobs(n_samples=20000, n_features=8, centers=20, cluster_std=3.0, random_state=1)
    problem = problem_from(X, 20, 0)
    em = EMBackend().fit(problem, device="cpu", seed=0, max_iter=300, tol=1e-4, chunk_rows=1000)
    model = KMeans(20, init=problem.init, n_init=1, max_iter=300, tol=1e-4).fit(problem.X)
    assert inertia(problem.X, em.labels, 20) == pytest.approx(model.inertia_, rel=1e-5)
    np.testing.assert_allclose(em.centroids, model.cluster_centers_, rtol=1e-4, atol=1e-4)


def test_empty_cluster_is_moved_to_the_farthest_point():
    X = np.array([[0, 0], [0, 1], [1, 0], [10, 10]], dtype=np.float32)
    init = np.array([[0, 0], [100, 100], [200, 200]], dtype=np.float32)  # two start empty
    labels, centers, n_iter, converged, relocations = lloyd(X, init, max_iter=50, tol=0)
    assert relocations >= 2
    assert np.unique(labels).size == 3
    assert converged
    assert any(np.allclose(c, [10, 10]) for c in centers)


def test_em_is_deterministic_and_reports_convergence():
    X, _ = make_blobs(n_samples=2000, n_features=4, centers=5, random_state=0)
    problem = problem_from(X, 5, 3)
    first = EMBackend().fit(problem, device="cpu", seed=3, **EMBackend.params)
    second = EMBackend().fit(problem, device="cpu", seed=3, **EMBackend.params)
    np.testing.assert_array_equal(first.labels, second.labels)
    assert first.converged and 1 <= first.n_iter < 300
    capped = EMBackend().fit(problem, device="cpu", seed=3, max_iter=1, tol=0.0, chunk_rows=4096)
    assert capped.n_iter == 1


def test_em_records_a_trace_every_iteration():
    X, _ = make_blobs(n_samples=500, n_features=2, centers=3, random_state=0)
    problem = problem_from(X, 3, 0)
    steps = []
    fit = EMBackend().fit(problem, device="cpu", seed=0, trace=lambda step, c: steps.append(step), **EMBackend.params)
    assert steps == list(range(1, fit.n_iter + 1))
