"""``torch-gumbel``: k-means by Adam through straight-through Gumbel-softmax, in torch.

Logits ``-D / tau`` from the centroids (or free logits, ``mode = "logits"``) plus Gumbel
noise seeded from the run's seed; ``U_hard`` is the sampled one-hot assignment and the
soft part ``softmax(logits + g)``. ``tau`` decays exponentially from ``tau0`` to
``tau_min`` (relative to D-bar). Guarded against the NaN cases of
``torch.nn.functional.gumbel_softmax``: the uniform draw is kept inside ``(0, 1)`` (finite
noise), logits are shifted so that their maximum is 0 (no overflow for large logits or
``tau -> 0``), and ``tau`` is floored. A final Lloyd polish (default on) runs to
convergence; ``info`` keeps the objective before it.
"""

from __future__ import annotations

import diffclust
from diffclust.backends._relaxed_math import GUMBEL_PARAMS
from diffclust.backends._torch_relaxed import TorchRelaxedBackend


class TorchGumbelBackend(TorchRelaxedBackend):
    """Straight-through Gumbel-softmax in torch."""

    name = "torch-gumbel"
    params = dict(GUMBEL_PARAMS)
    stochastic = True
    #: 2: Gumbel uniforms from SFC64's raw words on a 2^-23 grid inside (0, 1) (faster);
    #: default temperatures tau0 = 0.1 -> tau_min = 0.01 (were 1 -> 0.1).
    #: 4: CPU noise drawn in one compiled pass (16 SFC64 lanes, a polynomial float32 log):
    #: the same distribution, other values for one seed.
    version = "5"


@diffclust.hookimpl
def register_backends(register):
    register(TorchGumbelBackend())
