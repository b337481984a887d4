"""The GEMM floor: measured once per shape, and every CPU row is reported against it."""

from __future__ import annotations

import numpy as np

from diffclust import floor


def test_floor_is_measured_once_per_shape_and_threads(monkeypatch):
    X = np.random.default_rng(0).standard_normal((5000, 8)).astype(np.float32)
    calls = []
    real = floor._measure
    monkeypatch.setattr(floor, "_measure", lambda *a: calls.append(a) or real(*a))
    monkeypatch.setattr(floor, "_MEASURED", {})
    first = floor.gemm_floor_s(X, 16, 1)
    assert first > 0
    assert floor.gemm_floor_s(X.copy(), 16, 1) == first
    floor.gemm_floor_s(X, 32, 1)
    assert len(calls) == 2


def test_floor_grows_with_the_work():
    X = np.random.default_rng(0).standard_normal((20000, 32)).astype(np.float32)
    small = floor._measure(X[:2000], 8, 1)
    large = floor._measure(X, 256, 1)
    # 10x the rows and 32x the centroids: 320x the flops; allow for fixed costs and noise.
    assert large > 20 * small


def test_floor_of_large_data_is_scaled_from_a_sample(monkeypatch):
    monkeypatch.setattr(floor, "MAX_ROWS", 4096)
    X = np.random.default_rng(0).standard_normal((4096 * 8, 16)).astype(np.float32)
    sampled = floor._measure(X, 32, 1)
    direct = floor._measure(X[:4096], 32, 1)
    # The sample is timed and scaled by n / rows: about 8x the time of the sample itself.
    assert 3 * direct < sampled < 20 * direct
