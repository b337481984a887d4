"""The CPU Gumbel noise: its bits are SFC64's, its values -log(-log u) to float32 rounding,
and its distribution Gumbel's."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats

from diffclust.backends import _gumbel_cpu as gumbel


def reference_noise(words: np.ndarray, size: int) -> np.ndarray:
    """``-log(-log u)`` in float64 from the documented uniforms of the words' halves."""
    halves = words.view(np.uint32)[:size].astype(np.uint64)
    u = ((halves & ((1 << gumbel.UNIFORM_BITS) - 1)).astype(np.float64) + 0.5) * 2.0 ** -gumbel.UNIFORM_BITS
    return -np.log(-np.log(u))


def test_every_uniform_gives_gumbel_noise_to_float32_rounding():
    mantissas = np.arange(1 << gumbel.UNIFORM_BITS, dtype=np.uint64)
    words = mantissas | (mantissas << np.uint64(32))  # both halves carry the same uniform
    noise = gumbel.gumbel_from_words(words, np.empty(2 * mantissas.size, dtype=np.float32))
    assert np.array_equal(noise[0::2], noise[1::2])
    reference = reference_noise(words, 2 * mantissas.size)[0::2]
    # Errors in units of float32's spacing at max(|g|, 1): torch's log-of-log measures 1.24.
    unit = np.spacing(np.maximum(np.abs(reference), 1.0).astype(np.float32)).astype(np.float64)
    assert np.max(np.abs(noise[0::2] - reference) / unit) < 1.5
    assert np.all(np.isfinite(noise))


@pytest.mark.parametrize("size", [1, 31, 32, 4097, 2 * 128 * gumbel.LANES + 3, 100_001])
def test_the_compiled_generator_is_numpys_sfc64_lane_by_lane(size):
    key = 0x1234_5678_9ABC_DEF0
    words = gumbel.stream_words(key, (size + 1) // 2)
    expected = reference_noise(words, size)
    noise = gumbel.fill_gumbel(key, np.empty(size, dtype=np.float32))
    assert np.array_equal(noise, gumbel.gumbel_from_words(words, np.empty(size, dtype=np.float32)))
    np.testing.assert_allclose(noise, expected, rtol=0, atol=2e-6)


def test_float64_output_holds_the_same_float32_noise():
    single = gumbel.fill_gumbel(7, np.empty((64, 1000), dtype=np.float32))
    double = gumbel.fill_gumbel(7, np.empty((64, 1000), dtype=np.float64))
    assert np.array_equal(single.astype(np.float64), double)


def test_noise_is_standard_gumbel_and_keys_give_independent_streams():
    noise = gumbel.fill_gumbel(11, np.empty(400_000, dtype=np.float32)).astype(np.float64)
    assert scipy.stats.kstest(noise, scipy.stats.gumbel_r.cdf).pvalue > 1e-3
    assert noise.mean() == pytest.approx(np.euler_gamma, abs=0.01)
    assert noise.var() == pytest.approx(np.pi ** 2 / 6, rel=0.02)
    # Neighbours come from different lanes or halves of one word: uncorrelated.
    assert abs(np.corrcoef(noise[:-1], noise[1:])[0, 1]) < 0.01
    other = gumbel.fill_gumbel(12, np.empty(400_000, dtype=np.float32)).astype(np.float64)
    assert abs(np.corrcoef(noise, other)[0, 1]) < 0.01


def test_a_strided_buffer_is_refused():
    with pytest.raises(ValueError, match="C-contiguous"):
        gumbel.fill_gumbel(1, np.empty((8, 8), dtype=np.float32).T)


def test_torch_chunk_noise_is_the_chunks_stream_transposed():
    import torch

    from diffclust.backends import _torch_relaxed_ops as ops

    like = torch.zeros(1, dtype=torch.float32)
    noise = ops.chunk_gumbel_noise(seed=3, step=5, chunk=2, rows=100, k=7, like=like)
    assert noise.shape == (100, 7)
    expected = gumbel.fill_gumbel(ops.chunk_noise_key(3, 5, 2), np.empty((7, 100), dtype=np.float32)).T
    assert np.array_equal(noise.numpy(), expected)
    other_step = ops.chunk_gumbel_noise(seed=3, step=6, chunk=2, rows=100, k=7, like=like).numpy()
    assert not np.allclose(other_step, expected)


def test_fast_float32_exp_is_within_one_ulp_over_its_domain():
    import numba

    from diffclust.backends._float32_math import EXP_F32_MIN, exp_of

    @numba.njit
    def exp_all(x, out):
        for i in range(x.shape[0]):
            out[i] = exp_of(x[i])

    x = np.linspace(EXP_F32_MIN, 88.0, 2_000_001).astype(np.float32)
    out = np.empty_like(x)
    exp_all(x, out)
    exact = np.exp(x.astype(np.float64))
    ulps = np.abs(out - exact) / np.spacing(exact.astype(np.float32)).astype(np.float64)
    assert ulps.max() < 1.5
    assert out.min() >= np.finfo(np.float32).tiny  # never subnormal
    x64 = x.astype(np.float64)
    out64 = np.empty_like(x64)
    exp_all(x64, out64)  # float64 goes through libm: exact to rounding
    np.testing.assert_allclose(out64, exact, rtol=1e-15)


def test_exponentiated_noise_is_exp_of_the_same_gumbel_noise():
    from diffclust.backends._gumbel_cpu import fill_exp_gumbel, fill_gumbel

    g = fill_gumbel(123, np.empty((7, 1000), dtype=np.float32))
    e = fill_exp_gumbel(123, np.empty((7, 1000), dtype=np.float32))
    np.testing.assert_allclose(e, np.exp(g.astype(np.float64)), rtol=3e-6)
    assert (e > 0).all() and np.isfinite(e).all()
