"""Gumbel noise on the CPU in one compiled pass: lanes of SFC64 and a float32 ``log``.

A Gumbel-softmax step draws one noise value per point and cluster, so on the CPU the noise
is as much work as the two GEMMs of the step. Drawn with numpy (raw SFC64 words) and torch
(mask, convert, scale, ``log``, ``neg``, ``log``, ``neg``) it took eight passes over
``chunk x k`` values and about three times a Lloyd iteration. Here it is one pass:

* **Bits.** ``LANES`` independent SFC64 generators (Doty-Humphrey's Small Fast Chaotic
  generator, numpy's ``SFC64``) run side by side, so the compiler vectorizes across them.
  Word ``t`` of a stream is output ``t // LANES`` of lane ``t % LANES``. The lanes of a
  stream are seeded by SplitMix64 from one 64-bit key, and their first outputs discarded
  as SFC64's own seeding does.
* **Uniforms.** Each 64-bit word gives two: its low then its high 32-bit half (the order
  of numpy's ``random_raw(...).view(uint32)``). A half's low 23 bits ``m`` make
  ``u = (m + 1/2) 2^-23``, strictly inside ``(0, 1)`` (``2^-24`` to ``1 - 2^-24``, both
  exact in float32), so the noise is finite with no clamp.
* **Gumbel.** ``-log(-log u)`` in float32, with a polynomial ``log`` (:mod:`diffclust.backends._float32_math`:
  the Cephes ``logf`` scheme, exponent and mantissa split by bit casts, a degree-9
  polynomial on ``[sqrt(1/2) - 1, sqrt(2) - 1]``) that vectorizes where libm's ``logf`` would be a
  scalar call per value. Its error is about one unit in the last place; the tests compare
  the noise with a float64 reference over every possible ``u``.

The noise is float32 whatever the data's dtype, so float32 and float64 data see the same
noise for one seed.
"""

from __future__ import annotations

import numba
import numpy as np

from diffclust.backends._float32_math import log_f32

#: Generators run side by side (a multiple of the vector width of 64-bit integers).
LANES = 16
#: Bits of a uniform (see the module docstring).
UNIFORM_BITS = 23

_MASK64 = (1 << 64) - 1


_HALF = np.float32(0.5)
_ONE = np.float32(1.0)
_UNIFORM_SCALE = np.float32(2.0 ** -UNIFORM_BITS)


@numba.njit(inline="always")
def _uniform_of_half(half):  # pragma: no cover - compiled
    """The uniform of the low ``UNIFORM_BITS`` bits of a uint32 half-word."""
    mantissa = np.int32(half & np.uint32((1 << UNIFORM_BITS) - 1))
    return (np.float32(mantissa) + _HALF) * _UNIFORM_SCALE


@numba.njit(inline="always")
def _gumbel_of_half(half):  # pragma: no cover - compiled
    """The Gumbel value of the low ``UNIFORM_BITS`` bits of a uint32 half-word."""
    return -log_f32(-log_f32(_uniform_of_half(half)))


#: Floating-point contraction (fused multiply-adds) in the compiled passes: a third faster,
#: and the same results on every CPU with FMA (every x86-64 since 2013, every ARM64).
_FASTMATH = {"contract"}


@numba.njit(nogil=True, cache=True, fastmath=_FASTMATH)
def _gumbel_from_halves(halves, out):  # pragma: no cover - compiled
    for i in range(out.shape[0]):
        out[i] = _gumbel_of_half(halves[i])
    return 0


@numba.njit(nogil=True, cache=True, fastmath=_FASTMATH, error_model="numpy")
def _exp_gumbel_from_halves(halves, out):  # pragma: no cover - compiled
    """``exp(g) = -1 / log(u)`` of the same uniforms: one ``log`` a value, not two.
    (numpy's error model: Python's zero-division check would keep the loop scalar;
    ``log(u)`` is never 0 here.)"""
    for i in range(out.shape[0]):
        out[i] = -_ONE / log_f32(_uniform_of_half(halves[i]))
    return 0


def gumbel_from_words(words: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Gumbel noise from raw 64-bit words into ``out`` (flat, float32 or float64): value
    ``2t`` from the low half of word ``t``, ``2t + 1`` from its high half."""
    halves = np.ascontiguousarray(words, dtype=np.uint64).view(np.uint32)
    if halves.shape[0] < out.shape[0]:
        raise ValueError(f"{words.shape[0]} words give {halves.shape[0]} noise values; {out.shape[0]} were asked for")
    _gumbel_from_halves(halves, out)
    return out


@numba.njit(inline="always")
def _splitmix64(x):  # pragma: no cover - compiled
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


@numba.njit(inline="always")
def _sfc64_next(a, b, c, w):  # pragma: no cover - compiled
    """One SFC64 output and the next state."""
    out = a + b + w
    a2 = b ^ (b >> np.uint64(11))
    b2 = c + (c << np.uint64(3))
    c2 = ((c << np.uint64(24)) | (c >> np.uint64(40))) + out
    return out, a2, b2, c2, w + np.uint64(1)


@numba.njit(nogil=True, cache=True)
def _seed_lanes(key):  # pragma: no cover - compiled
    state = np.empty((4, LANES), dtype=np.uint64)
    for lane in range(LANES):
        a = _splitmix64(key ^ np.uint64(lane))
        b = _splitmix64(a)
        c = _splitmix64(b ^ np.uint64(0xD1B54A32D192ED03))
        w = np.uint64(1)
        for _ in range(12):
            _, a, b, c, w = _sfc64_next(a, b, c, w)
        state[0, lane], state[1, lane], state[2, lane], state[3, lane] = a, b, c, w
    return state


#: Words drawn per block before their conversion (a block stays in the L1 cache).
_BLOCK_WORDS = 128 * LANES


@numba.njit(nogil=True, cache=True)
def _draw(a, b, c, w, words):  # pragma: no cover - compiled
    """Fill ``words`` (a multiple of ``LANES``) from the lanes' states, advancing them."""
    for r in range(words.shape[0] // LANES):
        for lane in range(LANES):
            words[r * LANES + lane], a[lane], b[lane], c[lane], w[lane] = _sfc64_next(a[lane], b[lane], c[lane], w[lane])
    return 0


@numba.njit(nogil=True, cache=True, fastmath=_FASTMATH)
def fill_stream(key, out, exponentiated=False):  # pragma: no cover - compiled
    """The noise of the stream ``key`` (a uint64) into ``out`` (flat, contiguous): Gumbel
    values ``g``, or with ``exponentiated`` their ``exp(g)`` (see :func:`fill_exp_gumbel`).
    Compiled, for compiled callers; Python callers use :func:`fill_gumbel`."""
    state = _seed_lanes(key)
    a, b, c, w = state[0].copy(), state[1].copy(), state[2].copy(), state[3].copy()
    words = np.empty(_BLOCK_WORDS, dtype=np.uint64)
    halves = words.view(np.uint32)
    size = out.shape[0]
    for base in range(0, size, 2 * _BLOCK_WORDS):
        count = min(2 * _BLOCK_WORDS, size - base)
        rounds = -(-((count + 1) // 2) // LANES)
        _draw(a, b, c, w, words[: rounds * LANES])
        # A slice, not ``out[base + i]``: an offset index is not provably non-negative, and
        # numba's wrap-around check on it stops the loop from vectorizing.
        if exponentiated:
            _exp_gumbel_from_halves(halves, out[base:base + count])
        else:
            _gumbel_from_halves(halves, out[base:base + count])
    return 0


def stream_words(key: int, count: int) -> np.ndarray:
    """The first ``count`` 64-bit words of the stream of ``key``, in stream order, from
    numpy's own SFC64 (one per lane): the definition :func:`fill_gumbel` is tested against."""
    state = _seed_lanes(np.uint64(key & _MASK64))
    lanes = []
    per_lane = -(-count // LANES)
    for lane in range(LANES):
        generator = np.random.SFC64(0)
        generator.state = {"bit_generator": "SFC64", "has_uint32": 0, "uinteger": 0,
                           "state": {"state": state[:, lane].copy()}}
        lanes.append(generator.random_raw(per_lane))
    return np.stack(lanes, axis=1).reshape(-1)[:count]


def fill_gumbel(key: int, out: np.ndarray) -> np.ndarray:
    """Fill ``out`` (float32 or float64, any shape, C-contiguous) with the Gumbel noise of
    the stream of the 64-bit ``key``, in ``out``'s memory order; returns ``out``."""
    if not out.flags.c_contiguous:
        raise ValueError("fill_gumbel needs a C-contiguous array; pass a contiguous buffer")
    fill_stream(np.uint64(int(key) & _MASK64), out.reshape(-1))
    return out


def fill_exp_gumbel(key: int, out: np.ndarray) -> np.ndarray:
    """Fill ``out`` like :func:`fill_gumbel`, with ``exp(g) = 1 / E`` of the same noise
    (``E = -log u``, a standard exponential): ``exp(-D_j / tau) exp(g_j)`` is then the
    exponentiated Gumbel logit, whose argmax is the Gumbel-max sample (the exponential
    race) and whose ratios are the Gumbel-softmax weights, for one ``log`` a value."""
    if not out.flags.c_contiguous:
        raise ValueError("fill_exp_gumbel needs a C-contiguous array; pass a contiguous buffer")
    fill_stream(np.uint64(int(key) & _MASK64), out.reshape(-1), True)
    return out
