"""Input validation: every user mistake gets one clear message naming it."""

from __future__ import annotations

import numpy as np
import pytest

from diffclust import Fit, Problem
from diffclust.errors import DataError, InvalidFitError
from diffclust.problem import validate_data, validate_fit


def good_data(n=20, d=3):
    return np.random.default_rng(0).normal(size=(n, d))


@pytest.mark.parametrize(
    ("X", "k", "labels", "message"),
    [
        (np.array([[1.0, np.nan], [0.0, 1.0]]), 1, None, "NaN or infinite value(s), the first at row 0, column 1"),
        (np.array([[1.0, 2.0], [np.inf, 1.0]]), 1, None, "first at row 1, column 0"),
        (np.arange(5.0), 1, None, "must be 2-D"),
        (np.array([["a", "b"], ["c", "d"]]), 1, None, "must be numeric"),
        (good_data(), 0, None, "k must be at least 1"),
        (good_data(), 21, None, "k=21 is larger than the number of points n=20"),
        (good_data(), 2.5, None, "k must be an integer"),
        (good_data(), 2, np.zeros(19), "labels must be one per point (20)"),
        (np.empty((0, 3)), 1, None, "data is empty"),
    ],
)
def test_bad_data_is_named_with_the_fix(X, k, labels, message):
    with pytest.raises(DataError) as info:
        validate_data(X, k, labels, name="mydata")
    assert message in str(info.value)
    assert str(info.value).startswith("mydata:")


def test_good_data_becomes_contiguous_float32_and_int_labels():
    X = np.asfortranarray(good_data())
    X32, labels = validate_data(X, 3, np.array(["a", "b"] * 10))
    assert X32.dtype == np.float32 and X32.flags.c_contiguous
    assert labels.dtype == np.int64 and set(labels) == {0, 1}


def small_problem():
    X = good_data().astype(np.float32)
    return Problem(X=X, k=3, init=X[:3].copy())


@pytest.mark.parametrize(
    ("fit", "message"),
    [
        (Fit(labels=np.zeros(19, int), centroids=np.zeros((3, 3))), "Fit.labels has shape (19,), expected (20,)"),
        (Fit(labels=np.full(20, 3), centroids=np.zeros((3, 3))), "out of range: values in [3, 3], expected [0, 3)"),
        (Fit(labels=np.full(20, -1), centroids=np.zeros((3, 3))), "out of range"),
        (Fit(labels=np.zeros(20, int), centroids=np.zeros((3, 2))), "Fit.centroids has shape (3, 2), expected (3, 3)"),
        (Fit(labels=np.zeros(20, int), centroids=np.array([[0, 0, 0], [np.nan, 0, 0], [0, 0, 0.0]])), "NaN or inf (centroid rows [1])"),
        (Fit(labels=np.full(20, 0.5), centroids=np.zeros((3, 3))), "must be integers"),
        ((np.zeros(20), np.zeros((3, 3))), "must return a diffclust.Fit"),
    ],
)
def test_malformed_fit_is_invalid_and_says_which_part(fit, message):
    with pytest.raises(InvalidFitError) as info:
        validate_fit(fit, small_problem())
    assert message in str(info.value)


def test_mean_sq_distance_is_mean_over_distinct_pairs():
    X = good_data(30, 4).astype(np.float32)
    diffs = X[:, None, :].astype(np.float64) - X[None, :, :]
    pairs = (diffs**2).sum(-1)
    expected = pairs.sum() / (30 * 29)
    assert Problem(X=X, k=1, init=X[:1]).mean_sq_distance == pytest.approx(expected, rel=1e-6)


def test_feature_variances_match_numpy_without_a_float64_copy():
    from diffclust.problem import feature_variances

    rng = np.random.default_rng(3)
    X = (rng.normal(size=(10_001, 5)) * [1, 10, 1e3, 1e-3, 1] + 1e4).astype(np.float32)
    for ddof in (0, 1):
        np.testing.assert_allclose(feature_variances(X, ddof=ddof, chunk_rows=4096),
                                   np.var(X, axis=0, dtype=np.float64, ddof=ddof), rtol=1e-10)
