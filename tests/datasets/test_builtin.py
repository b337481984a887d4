"""Built-in datasets: fixed by their params, scikit-learn's data sets standardized by default."""

from __future__ import annotations

import numpy as np
import pytest

from diffclust.datasets import blobs as blobs_module
from diffclust.datasets.blobs import Blobs
from diffclust.datasets.sklearn_toy import Digits, Iris, Wine


def test_blobs_are_fixed_by_data_seed():
    p = {**Blobs.params, "n": 500, "d": 3, "centers": 4}
    a, b = Blobs().load(**p), Blobs().load(**p)
    np.testing.assert_array_equal(a.X, b.X)
    assert a.X.dtype == np.float32 and a.X.shape == (500, 3) and a.k == 4
    c = Blobs().load(**{**p, "data_seed": 1})
    assert not np.array_equal(a.X, c.X)


def test_large_blobs_are_drawn_in_blocks_with_balanced_clusters(monkeypatch):
    monkeypatch.setattr(blobs_module, "BLOCK_VALUES", 1000)
    data = Blobs().load(**{**Blobs.params, "n": 10_001, "d": 4, "centers": 10, "cluster_std": 0.1})
    assert data.X.shape == (10_001, 4) and data.X.dtype == np.float32
    counts = np.bincount(data.labels)
    assert counts.max() - counts.min() <= 1
    # Points sit near their blob's center: tiny within-cluster spread.
    spread = max(data.X[data.labels == j].std(axis=0).max() for j in range(10))
    assert spread < 0.2


@pytest.mark.parametrize(("dataset", "shape", "k"), [(Digits(), (1797, 64), 10), (Iris(), (150, 4), 3), (Wine(), (178, 13), 3)])
def test_sklearn_datasets_standardized_by_default(dataset, shape, k):
    data = dataset.load(standardize=True)
    assert data.X.shape == shape and data.k == k
    kept = data.X.std(axis=0) > 0
    np.testing.assert_allclose(data.X.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(data.X.std(axis=0)[kept], 1, atol=1e-4)
    raw = dataset.load(standardize=False)
    assert not np.allclose(raw.X, data.X)
    assert dataset.best_known_inertia(k, standardize=True) is not None
