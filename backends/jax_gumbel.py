"""``jax-gumbel``: the ``torch-gumbel`` method and parameters in JAX.

Gumbel noise from ``jax.random`` keys derived from the run's seed (``fold_in`` of the
step and chunk), so it differs from torch's draws; everything else follows
``torch-gumbel``. See :mod:`diffclust.backends.torch_gumbel` for the method.
"""

from __future__ import annotations

import diffclust
from diffclust.backends._jax_relaxed import JaxRelaxedBackend
from diffclust.backends._relaxed_math import GUMBEL_PARAMS


class JaxGumbelBackend(JaxRelaxedBackend):
    """Straight-through Gumbel-softmax in JAX."""

    name = "jax-gumbel"
    params = dict(GUMBEL_PARAMS)
    stochastic = True
    #: 2: default temperatures tau0 = 0.1 -> tau_min = 0.01 (were 1 -> 0.1); the hard part of
    #: the gradient by the same GEMM as the soft part.
    version = "3"


@diffclust.hookimpl
def register_backends(register):
    register(JaxGumbelBackend())
