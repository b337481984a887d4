"""The problem every backend solves, and the result every backend returns.

A :class:`Problem` is k-means posed as ``min_{U,M} ||X - U M||_F^2`` on data ``X`` with
``k`` clusters, started from centroids ``init`` that the harness chose. A :class:`Fit` is
what a backend hands back: hard labels (the rows of ``U``) and centroids ``M``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from diffclust.errors import DataError, InvalidFitError


def feature_variances(X: np.ndarray, ddof: int = 0, chunk_rows: int = 65536) -> np.ndarray:
    """The variance of each column of ``X`` in float64, in two passes over chunks of rows.

    ``np.var(X, axis=0, dtype=np.float64)`` builds a float64 copy of ``X`` (twice its size
    in float32: 2.4 GB at 10^7 x 32, more than the backends that call this hold otherwise);
    here the temporaries are one chunk.
    """
    n = X.shape[0]
    total = np.zeros(X.shape[1], dtype=np.float64)
    for start in range(0, n, chunk_rows):
        total += X[start:start + chunk_rows].sum(axis=0, dtype=np.float64)
    mean = total / max(n, 1)
    squares = np.zeros(X.shape[1], dtype=np.float64)
    for start in range(0, n, chunk_rows):
        deviation = X[start:start + chunk_rows] - mean
        squares += np.einsum("ij,ij->j", deviation, deviation)
    return squares / max(n - ddof, 1)


@dataclass(frozen=True, eq=False)
class Problem:
    """One clustering problem, identical for every backend of a cell.

    Attributes
    ----------
    X : numpy.ndarray
        Data, ``n x d``, C-contiguous, float32 (float64 is accepted for checks).
    k : int
        Number of clusters, ``1 <= k <= n``.
    init : numpy.ndarray
        Initial centroids, ``k x d``, same dtype as ``X``, made by the harness.
    labels : numpy.ndarray or None
        Ground-truth labels (``n`` ints) when the dataset has them.
    seed : int
        The run's seed: it chose ``init`` and seeds the backend's own randomness.
    name : str
        A readable name of the dataset and its parameters.
    """

    X: np.ndarray
    k: int
    init: np.ndarray
    labels: np.ndarray | None = None
    seed: int = 0
    name: str = "problem"

    @property
    def n(self) -> int:
        return int(self.X.shape[0])

    @property
    def d(self) -> int:
        return int(self.X.shape[1])

    @cached_property
    def mean_sq_distance(self) -> float:
        """D-bar: the mean squared distance between two distinct points of ``X``.

        Temperatures are given as fractions of this number, so that one default fits
        standardized and raw data alike. Equals ``2 * trace(Cov(X))`` (unbiased).
        """
        if self.n < 2:
            return 1.0
        var = feature_variances(self.X, ddof=1).sum()
        return float(2.0 * var) if var > 0 else 1.0


@dataclass
class Fit:
    """What a backend returns. Build it with keyword arguments.

    Attributes
    ----------
    labels : array-like
        Hard assignment of each point, ``n`` ints in ``[0, k)``.
    centroids : array-like
        ``k x d`` centroids M. The objective is scored with these and ``labels``.
    n_iter : int
        Iterations (EM) or optimizer steps taken.
    converged : bool or None
        Whether the backend's own stopping rule was met; None when it has none.
    info : dict
        Anything else worth keeping (JSON-serializable): the pre-polish objective, the
        empty-cluster rule, the temperature reached.
    """

    labels: Any
    centroids: Any
    n_iter: int = 0
    converged: bool | None = None
    info: dict[str, Any] = field(default_factory=dict)


def to_numpy(array: Any) -> np.ndarray:
    """Copy a numpy, torch or JAX array to a numpy array on the host."""
    if isinstance(array, np.ndarray):
        return array
    detach = getattr(array, "detach", None)
    if callable(detach):  # torch.Tensor, possibly on a GPU
        return detach().cpu().numpy()
    return np.asarray(array)


def validate_data(X: Any, k: int, labels: Any = None, *, name: str = "data") -> tuple[np.ndarray, np.ndarray | None]:
    """Check data, k and labels; return X as C-contiguous float32 and labels as int64.

    Raises
    ------
    DataError
        With a message naming ``name``, what is wrong, and how to fix it.
    """
    X = np.asarray(X)
    if X.dtype.kind not in "biuf":
        raise DataError(
            f"{name}: data must be numeric, got dtype {X.dtype}. Drop or encode the "
            "non-numeric columns (a label column is named with label_column=...)."
        )
    if X.ndim != 2:
        raise DataError(f"{name}: data must be 2-D (n points x d features), got shape {X.shape}.")
    n = X.shape[0]
    if n == 0 or X.shape[1] == 0:
        raise DataError(f"{name}: data is empty (shape {X.shape}).")
    X = np.ascontiguousarray(X, dtype=np.float32)
    if not np.isfinite(X).all():
        bad = np.argwhere(~np.isfinite(X))[0]
        count = int((~np.isfinite(X)).sum())
        raise DataError(
            f"{name}: data holds {count} NaN or infinite value(s), the first at row {bad[0]}, "
            f"column {bad[1]}. Remove or impute them before clustering."
        )
    validate_k(k, n, name=name)
    if labels is not None:
        labels = np.asarray(labels)
        if labels.ndim != 1 or labels.shape[0] != n:
            raise DataError(
                f"{name}: labels must be one per point ({n}), got shape {labels.shape}."
            )
        if labels.dtype.kind not in "biu":
            _, labels = np.unique(labels, return_inverse=True)
        labels = labels.astype(np.int64, copy=False)
    return X, labels


def validate_k(k: Any, n: int, *, name: str = "data") -> None:
    """Check that ``1 <= k <= n``; raise DataError naming the problem otherwise."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise DataError(f"{name}: k must be an integer, got {k!r}.")
    if k < 1:
        raise DataError(f"{name}: k must be at least 1, got k={k}.")
    if k > n:
        raise DataError(f"{name}: k={k} is larger than the number of points n={n}; choose k <= {n}.")


def validate_fit(fit: Any, problem: Problem) -> tuple[np.ndarray, np.ndarray]:
    """Check a backend's Fit against its problem; return labels (int64) and centroids (float64).

    Raises
    ------
    InvalidFitError
        Naming which part of the Fit is wrong and what was expected.
    """
    if not isinstance(fit, Fit):
        raise InvalidFitError(f"fit() must return a diffclust.Fit, got {type(fit).__name__}")
    try:
        labels = to_numpy(fit.labels)
        centroids = to_numpy(fit.centroids)
    except Exception as exc:  # noqa: BLE001 - any conversion failure is the backend's
        raise InvalidFitError(f"Fit labels/centroids are not arrays: {exc}") from exc
    n, k, d = problem.n, problem.k, problem.d
    if labels.shape != (n,):
        raise InvalidFitError(f"Fit.labels has shape {labels.shape}, expected ({n},)")
    if labels.dtype.kind not in "biu":
        if labels.dtype.kind == "f" and np.all(np.isfinite(labels)) and np.all(labels == np.round(labels)):
            labels = labels.astype(np.int64)
        else:
            raise InvalidFitError(f"Fit.labels must be integers, got dtype {labels.dtype}")
    labels = labels.astype(np.int64, copy=False)
    if n and (labels.min() < 0 or labels.max() >= k):
        raise InvalidFitError(
            f"Fit.labels out of range: values in [{labels.min()}, {labels.max()}], expected [0, {k})"
        )
    if centroids.shape != (k, d):
        raise InvalidFitError(f"Fit.centroids has shape {centroids.shape}, expected ({k}, {d})")
    if centroids.dtype.kind not in "biuf":
        raise InvalidFitError(f"Fit.centroids must be numeric, got dtype {centroids.dtype}")
    centroids = centroids.astype(np.float64)
    if not np.isfinite(centroids).all():
        rows = np.unique(np.argwhere(~np.isfinite(centroids))[:, 0])
        raise InvalidFitError(f"Fit.centroids hold NaN or inf (centroid rows {rows[:10].tolist()})")
    n_iter = np.asarray(to_numpy(fit.n_iter)) if fit.n_iter is not None else None
    if n_iter is None or n_iter.shape != () or n_iter.dtype.kind not in "iu" or int(n_iter) < 0:
        raise InvalidFitError(f"Fit.n_iter must be a non-negative integer, got {fit.n_iter!r}")
    if fit.converged is not None:
        converged = np.asarray(to_numpy(fit.converged))
        if converged.shape != () or converged.dtype.kind != "b":
            raise InvalidFitError(f"Fit.converged must be True, False or None, got {fit.converged!r}")
    if fit.info is not None and not isinstance(fit.info, dict):
        raise InvalidFitError(f"Fit.info must be a dict, got {type(fit.info).__name__}")
    return labels, centroids
