"""The tiny problems the conformance checks build: each fits in milliseconds.

Most checks share one shape (``STANDARD``: 120 points, 4 features, 3 clusters), so a
backend that compiles per shape (JAX) compiles few times.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from diffclust.init import initial_centroids
from diffclust.problem import Problem

#: ``(n, d, k)`` of the shared problem.
STANDARD = (120, 4, 3)


def blobs(n: int, d: int, centers: int, *, std: float, seed: int = 0, box: float = 10.0) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian blobs (float32) and their labels, fixed by ``seed``."""
    from sklearn.datasets import make_blobs

    X, y = make_blobs(n_samples=n, n_features=d, centers=centers, cluster_std=std, center_box=(-box, box), random_state=seed)
    return X.astype(np.float32), y.astype(np.int64)


def problem(X: np.ndarray, k: int, *, seed: int = 0, labels: np.ndarray | None = None, name: str = "check",
            dtype: Any = None) -> Problem:
    """A Problem with the harness's seeded k-means++ init, in ``dtype`` (default X's)."""
    X = np.ascontiguousarray(X, dtype=dtype or X.dtype)
    init = initial_centroids(X, k, seed)
    return Problem(X=X, k=k, init=np.ascontiguousarray(init, dtype=X.dtype), labels=labels, seed=seed, name=name)


def separated_blobs(*, scale: float = 1.0, offset: float = 0.0, seed: int = 0, dtype: Any = np.float32) -> Problem:
    """The shared problem: three well-separated blobs (every sane backend recovers them)."""
    n, d, k = STANDARD
    X, y = blobs(n, d, k, std=0.5, seed=seed)
    return problem(X * scale + offset, k, seed=seed, labels=y, name=f"separated blobs x{scale:g}", dtype=dtype)


def overlapping_blobs(k: int = 5, seed: int = 1) -> Problem:
    """Overlapping blobs where the init is far from a local optimum."""
    n, d, _ = STANDARD
    X, y = blobs(n, d, 4, std=3.0, seed=seed)
    return problem(X, k, seed=seed, labels=y, name="overlapping blobs")


def unit_scale_mixture(seed: int = 2) -> Problem:
    """Points and centroids on the unit scale, so that ``softmax(-D)`` is far from one-hot
    (the gradient checks need every entry of it to matter)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(40, 3)).astype(np.float32) * 0.6
    return problem(X, 4, seed=seed, name="unit-scale mixture")


def duplicated_points(copies: int = 10) -> tuple[Problem, np.ndarray]:
    """Four distinct points, each repeated ``copies`` times (rows interleaved), and the
    index of the distinct point each row copies."""
    base = np.array([[0.0, 0.0], [5.0, 0.0], [0.0, 5.0], [5.0, 5.0]], dtype=np.float32)
    which = np.tile(np.arange(len(base)), copies)
    return problem(base[which], len(base), name="duplicated points"), which


def distinct_points(n: int = 12) -> Problem:
    """``n`` distinct points and ``k = n``."""
    rng = np.random.default_rng(3)
    X = rng.uniform(-5, 5, size=(n, 2)).astype(np.float32)
    return problem(X, n, name="k = n")
