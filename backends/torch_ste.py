"""``torch-ste``: k-means by Adam through a straight-through estimator, in torch.

Each step: squared distances ``D`` by GEMM; ``U_hard = one_hot(argmin D)``,
``U_soft = softmax(-D / tau)``, ``U = U_hard + U_soft - U_soft.detach()``; loss
``L(U, M) / n`` (on one-hot ``U`` exactly ``||X - U M||_F^2 / n``; see
:mod:`diffclust.backends._relaxed_math` for the linear and quadratic forms); Adam on ``M``.
``mode = "logits"`` learns free per-point logits instead, ``M`` being the cluster means.
A final Lloyd polish (default on) runs to convergence; ``info`` keeps the objective
before it.

Parameters (temperatures relative to D-bar, the mean squared distance between points;
``lr`` in units of the RMS feature standard deviation in centroid mode, of logits in logit
mode): ``tau``, ``tau_schedule`` (``constant`` or ``exponential`` down to ``tau_min``),
``lr``, ``steps``, ``batch_size`` (0 = full batch), ``mode``, ``loss``, ``polish``,
``max_polish_iter``, ``chunk_rows`` (0 = automatic).
"""

from __future__ import annotations

import diffclust
from diffclust.backends._relaxed_math import STE_PARAMS
from diffclust.backends._torch_relaxed import TorchRelaxedBackend


class TorchSTEBackend(TorchRelaxedBackend):
    """Straight-through estimator in torch."""

    name = "torch-ste"
    params = dict(STE_PARAMS)
    version = "3"


@diffclust.hookimpl
def register_backends(register):
    register(TorchSTEBackend())
