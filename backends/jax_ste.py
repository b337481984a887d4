"""``jax-ste``: the ``torch-ste`` method and parameters in JAX.

Steps jit-compiled (a block of steps per compiled ``fori_loop``),
``U = U_soft + lax.stop_gradient(U_hard - U_soft)`` with a ``jax.custom_vjp`` fast
backward pass, optax's Adam, and a Lloyd polish in JAX. From the same problem and init it
follows ``torch-ste`` to float32 rounding (tested over the first steps). See
:mod:`diffclust.backends.torch_ste` for the parameters.
"""

from __future__ import annotations

import diffclust
from diffclust.backends._jax_relaxed import JaxRelaxedBackend
from diffclust.backends._relaxed_math import STE_PARAMS


class JaxSTEBackend(JaxRelaxedBackend):
    """Straight-through estimator in JAX."""

    name = "jax-ste"
    params = dict(STE_PARAMS)
    #: 2: the hard part of the gradient by the same GEMM as the soft part (float32 rounding differs).
    version = "3"


@diffclust.hookimpl
def register_backends(register):
    register(JaxSTEBackend())
