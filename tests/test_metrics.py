"""Metrics against scikit-learn's own definitions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from diffclust import Problem
from diffclust.init import initial_centroids
from diffclust.kmeans_math import assign, squared_distances
from diffclust.metrics import inertia, objective, score, with_relative_gap


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(n_samples=3000, n_features=5, centers=6, random_state=3)
    return X.astype(np.float32), y


def test_inertia_of_sklearn_fit_equals_sklearn_inertia(blobs):
    X, _ = blobs
    model = KMeans(6, n_init=1, random_state=0).fit(X.astype(np.float64))
    assert inertia(X, model.labels_, 6) == pytest.approx(model.inertia_, rel=1e-6)
    assert objective(X, model.labels_, model.cluster_centers_) == pytest.approx(model.inertia_, rel=1e-6)


def test_objective_uses_the_backends_centroids_and_inertia_the_means(blobs):
    X, _ = blobs
    labels = np.arange(len(X)) % 6
    centroids = np.zeros((6, 5))
    brute = sum(float(((X[i].astype(np.float64) - centroids[labels[i]]) ** 2).sum()) for i in range(len(X)))
    assert objective(X, labels, centroids) == pytest.approx(brute, rel=1e-9)
    assert inertia(X, labels, 6) < objective(X, labels, centroids)


def test_ari_nmi_and_empty_clusters(blobs):
    X, y = blobs
    labels = y.copy()
    labels[labels == 5] = 4  # cluster 5 left empty
    problem = Problem(X=X, k=6, init=X[:6], labels=y)
    row = score(problem, labels, np.zeros((6, 5)))
    assert row["ari"] == pytest.approx(adjusted_rand_score(y, labels))
    assert row["nmi"] == pytest.approx(normalized_mutual_info_score(y, labels))
    assert row["empty_clusters"] == 1
    assert np.isnan(score(Problem(X=X, k=6, init=X[:6]), labels, np.zeros((6, 5)))["ari"])


def test_gemm_distances_and_assignment_match_brute_force(blobs):
    X, _ = blobs
    M = X[:7] + 0.5
    brute = ((X[:, None, :].astype(np.float64) - M[None].astype(np.float64)) ** 2).sum(-1)
    D = squared_distances(X, M)
    assert (D >= 0).all()
    np.testing.assert_allclose(D, brute, rtol=1e-4, atol=1e-3)
    labels, sq = assign(X, M, chunk_rows=100)
    np.testing.assert_array_equal(labels, brute.argmin(1))


def test_ties_go_to_the_lowest_index():
    X = np.array([[0.0, 0.0]], dtype=np.float32)
    M = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    assert assign(X, M)[0][0] == 0


def test_init_is_seeded_and_identical_for_every_call(blobs):
    X, _ = blobs
    a = initial_centroids(X, 6, seed=4)
    np.testing.assert_array_equal(a, initial_centroids(X, 6, seed=4))
    assert not np.array_equal(a, initial_centroids(X, 6, seed=5))
    assert a.dtype == np.float32 and a.shape == (6, 5)
    r = initial_centroids(X, 6, seed=4, method="random")
    assert all(any(np.array_equal(row, x) for x in X) for row in r)


def test_rel_gap_uses_the_best_of_reference_and_run():
    frame = pd.DataFrame({
        "dataset_label": ["a", "a", "a", "b"], "k": [2, 2, 2, 2],
        "status": ["ok", "ok", "error", "ok"], "inertia": [110.0, 105.0, np.nan, 50.0],
        "best_known_inertia": [100.0, 100.0, 100.0, np.nan],
    })
    gaps = with_relative_gap(frame)["rel_gap"].tolist()
    assert gaps[0] == pytest.approx(0.10) and gaps[1] == pytest.approx(0.05)
    assert np.isnan(gaps[2]) and gaps[3] == 0.0
