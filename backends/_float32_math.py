"""float32 ``log`` and ``exp`` that the compiler can vectorize, for the compiled CPU passes.

numba lowers ``math.log`` and ``math.exp`` to one libm call per value, which keeps a loop
scalar; a relaxed step takes ``chunk x k`` of them, as many values as its GEMMs have rows
times centroids. These are the Cephes ``logf`` and ``expf`` schemes (a range reduction
by bit casts, a short polynomial, FMA-friendly), inlined where they are called so that a
loop over them vectorizes. Both are within about one unit in the last place of the exact
value over their domains; the tests compare them with float64 references.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import types
from numba.extending import intrinsic, overload


def _bit_cast(source, target):
    """A numba intrinsic reinterpreting the bits of a ``source`` scalar as ``target``."""

    @intrinsic
    def cast(typingctx, x):  # pragma: no cover - compiled
        if x != source:
            return None

        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], context.get_value_type(target))

        return target(source), codegen

    return cast


#: The bits of a float32 as an int32, and back.
float_bits = _bit_cast(types.float32, types.int32)
bits_float = _bit_cast(types.int32, types.float32)


_f32 = np.float32
# Cephes logf: the polynomial, log(2) split in two parts, and sqrt(1/2).
_P = tuple(_f32(c) for c in (
    7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1, 1.4249322787e-1,
    -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1,
))
_P0, _P1, _P2, _P3, _P4, _P5, _P6, _P7, _P8 = _P
_LN2_HI = _f32(0.693359375)
_LN2_LO = _f32(-2.12194440e-4)
_SQRT_HALF = _f32(0.707106781186547524)
_HALF = _f32(0.5)
_ONE = _f32(1.0)
# Cephes expf: log2(e) and the polynomial of exp(r) - 1 - r on [-log(2)/2, log(2)/2].
_LOG2E = _f32(1.44269504088896341)
_E = tuple(_f32(c) for c in (
    1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1,
))
_E0, _E1, _E2, _E3, _E4, _E5 = _E


@numba.njit(inline="always", fastmath=False)
def log_f32(x):  # pragma: no cover - compiled
    """Natural log of a positive, normal float32 (no checks: the callers' inputs are)."""
    bits = float_bits(x)
    # numba widens int32 arithmetic to int64: the casts keep it 32-bit.
    e = np.int32(bits >> 23) - 126
    m = bits_float(np.int32((bits & 0x7FFFFF) | 0x3F000000))  # in [1/2, 1)
    small = m < _SQRT_HALF
    e = e - 1 if small else e
    m = (m + m - _ONE) if small else (m - _ONE)
    z = m * m
    y = _P0 * m + _P1
    y = y * m + _P2
    y = y * m + _P3
    y = y * m + _P4
    y = y * m + _P5
    y = y * m + _P6
    y = y * m + _P7
    y = y * m + _P8
    y = y * m * z
    fe = np.float32(e)
    y = y + _LN2_LO * fe
    y = y - _HALF * z
    return (m + y) + _LN2_HI * fe


#: The smallest argument of :func:`exp_f32`: above it, the scale ``2^n`` is a normal float32.
EXP_F32_MIN = _f32(-87.0)


@numba.njit(inline="always", fastmath=False)
def exp_f32(x):  # pragma: no cover - compiled
    """``e^x`` of a float32 ``x`` in ``[EXP_F32_MIN, 88]`` (no checks: the callers clamp).

    ``x = n log(2) + r`` with ``|r| <= log(2)/2`` (``log(2)`` in two parts, so ``r`` is
    exact), ``e^r`` by a degree-7 polynomial, and ``2^n`` built from its exponent bits."""
    n = np.floor(x * _LOG2E + _HALF)
    r = x - n * _LN2_HI
    r = r - n * _LN2_LO
    z = r * r
    y = _E0 * r + _E1
    y = y * r + _E2
    y = y * r + _E3
    y = y * r + _E4
    y = y * r + _E5
    y = y * z + r + _ONE
    return y * bits_float(np.int32((np.int32(n) + 127) << 23))


def exp_of(x):
    """``e^x`` in ``x``'s own precision: :func:`exp_f32` for float32, libm's for float64.
    Compiled code only."""
    raise NotImplementedError("exp_of is for compiled code")


@overload(exp_of, inline="always")
def _exp_of(x):  # pragma: no cover - compiled
    if x == types.float32:
        return lambda x: exp_f32(x)
    return lambda x: math.exp(x)
