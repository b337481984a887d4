"""The compiled assignment step against brute force: labels, ties, sums, counts, threads."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from diffclust.kmeans_math import assign, assign_blocks, assignment_cost


def _brute(X: np.ndarray, M: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    D = ((X[:, None, :].astype(np.float64) - M[None].astype(np.float64)) ** 2).sum(-1)
    return D.argmin(1), D.min(1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("threads", [1, 2])
def test_labels_sums_and_counts_match_brute_force(dtype, threads):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2345, 7)).astype(dtype)  # 2345 = several chunks and a partial one
    M = rng.standard_normal((13, 7)).astype(dtype)
    labels = np.full(len(X), -1, dtype=np.int64)
    best = np.empty(len(X), dtype=dtype)
    with ThreadPoolExecutor(threads) as pool:
        sums, counts = assign_blocks(X, M, labels, chunk_rows=256, accumulate=True, best_scores=best, pool=pool)
    expected, sq = _brute(X, M)
    np.testing.assert_array_equal(labels, expected)
    np.testing.assert_array_equal(counts, np.bincount(expected, minlength=13))
    expected_sums = np.zeros((13, 7))
    np.add.at(expected_sums, expected, X.astype(np.float64))
    np.testing.assert_allclose(sums, expected_sums, rtol=1e-9, atol=1e-9)
    # best score = x.c - ||c||^2/2, so ||x||^2 - 2 best is the squared distance.
    x_sq = (X.astype(np.float64) ** 2).sum(1)
    np.testing.assert_allclose(x_sq - 2 * best.astype(np.float64), sq, rtol=1e-4, atol=1e-3)


def test_without_accumulate_the_sums_are_zero():
    X = np.arange(20, dtype=np.float32).reshape(10, 2)
    sums, counts = assign_blocks(X, X[:3], np.empty(10, dtype=np.int64))
    assert not sums.any() and not counts.any()


def test_exact_ties_go_to_the_lowest_index_in_every_chunk():
    rng = np.random.default_rng(1)
    M = rng.standard_normal((9, 4)).astype(np.float32)
    M[6] = M[2]  # duplicate centers: every point of cluster 2 ties with 6
    M[8] = M[2]
    X = np.repeat(M, 300, axis=0) + np.float32(0.01) * rng.standard_normal((2700, 4)).astype(np.float32)
    labels, _ = assign(X, M, chunk_rows=128, threads=2)
    expected, _ = _brute(X, M)
    assert not (labels == 6).any() and not (labels == 8).any()
    np.testing.assert_array_equal(labels, expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_assignment_cost_is_the_float64_sum_of_squared_differences(dtype):
    rng = np.random.default_rng(4)
    X = (rng.normal(size=(5000, 7)) * 3 + 1e3).astype(dtype)  # a large offset: cancellation would show
    M = rng.normal(size=(6, 7)) + 1e3
    labels = rng.integers(0, 6, size=5000)
    diff = X.astype(np.float64) - M[labels]
    expected = float(np.sum(diff * diff))
    assert assignment_cost(X, labels, M) == pytest.approx(expected, rel=1e-12)
    assert assignment_cost(np.asfortranarray(X), labels.astype(np.int32), M.astype(np.float32)) == pytest.approx(
        float(np.sum((X.astype(np.float64) - M.astype(np.float32).astype(np.float64)[labels]) ** 2)), rel=1e-12)
    with pytest.raises(ValueError, match="indices into 6 centroids"):
        assignment_cost(X, np.full(5000, 6), M)



def test_blas_controller_is_rebuilt_for_native_modules_only(monkeypatch):
    import importlib.util
    import sys
    import types

    from diffclust import kmeans_math

    first = kmeans_math.blas_controller()
    monkeypatch.setitem(sys.modules, "diffclust_test_pure_module", types.ModuleType("diffclust_test_pure_module"))
    assert kmeans_math.blas_controller() is first  # a pure-Python import loads no library
    candidates = [name for name in ("_sqlite3", "_lzma", "_bz2", "_curses", "_dbm", "_gdbm", "readline")
                  if name not in sys.modules and importlib.util.find_spec(name) is not None]
    if not candidates:
        pytest.skip("every candidate extension module is already imported")
    importlib.import_module(candidates[0])
    assert kmeans_math.blas_controller() is not first


def test_assign_without_distances_gives_the_same_labels():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((9000, 6)).astype(np.float32)
    M = X[:7].copy()
    labels, sq = assign(X, M, threads=2)
    fast_labels, none = assign(X, M, threads=2, distances=False)
    assert none is None and sq is not None
    np.testing.assert_array_equal(fast_labels, labels)
