"""Initial centroids, made by the harness so every backend of a cell starts from one point."""

from __future__ import annotations

import numpy as np

from diffclust.errors import SuiteError

INIT_METHODS = ("k-means++", "random")


def initial_centroids(X: np.ndarray, k: int, seed: int, method: str = "k-means++") -> np.ndarray:
    """``k x d`` initial centroids in X's dtype, fixed by ``seed``.

    ``k-means++`` is scikit-learn's greedy k-means++ (``sklearn.cluster.kmeans_plusplus``);
    ``random`` picks ``k`` distinct points uniformly.
    """
    rng = np.random.default_rng(seed)
    if method == "k-means++":
        from sklearn.cluster import kmeans_plusplus

        # On float32 input scikit-learn computes each distance block in float64 by chunks
        # (``_euclidean_distances_upcast``), which at n = 10^7 takes the better part of an
        # hour; on a float64 copy it is one GEMM per center.
        X64 = X if X.dtype == np.float64 else X.astype(np.float64)
        _, index = kmeans_plusplus(X64, n_clusters=k, random_state=int(rng.integers(2**31 - 1)))
        del X64
        centers = X[index]
    elif method == "random":
        centers = X[np.sort(rng.choice(X.shape[0], size=k, replace=False))]
    else:
        raise SuiteError(f"init must be one of {', '.join(INIT_METHODS)}; got {method!r}.")
    return np.ascontiguousarray(centers, dtype=X.dtype)
