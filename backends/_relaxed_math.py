"""Framework-free maths shared by the relaxed (straight-through and Gumbel) backends.

The torch and JAX backends implement the same method; everything that is not an array
operation on the device lives here as small pure functions, so both read one definition:
parameter checks, temperature schedules, scale-free step sizes, chunk sizes and the
mini-batch order.

The method, in one place
------------------------

Squared distances ``D = ||x||^2 - 2 X M^T + ||m||^2`` (clamped at 0). Logits are
``theta = -D / tau`` (centroid mode) or free per-point logits ``Theta / tau`` (logit
mode), plus Gumbel noise ``g`` for the Gumbel backends (``g = 0`` for straight-through).
``U_hard = one_hot(argmax(theta + g))``, ``P = softmax(theta + g)`` and
``U = U_hard + P - stop_gradient(P)``.

The loss is ``L(U, M) = sum_ij U_ij D_ij`` (``loss = "linear"``, the default). On every
one-hot ``U`` it equals the factorization loss ``||X - U M||_F^2``, so its value is the
k-means objective; it is the linear extension of that loss off the one-hot matrices, and
for a loss linear in ``U`` the straight-through gradient with respect to the logits is
exactly the gradient of ``E_{U ~ softmax(theta)}[L]`` (the conformance suite checks it).
``loss = "quadratic"`` differentiates ``||X - U M||_F^2`` itself, whose gradient in ``U``
at a one-hot row is ``2 (m_a - x_i) . m_j`` rather than ``D_ij``: the literal autograd of
the seed's formula, kept for comparison.

With ``G_U = dL/dU`` (``D``, or ``2 ((M M^T)[a] - X M^T)``), the backward pass is
``dL/dtheta = P * (G_U - rowsum(P * G_U))`` (the softmax VJP) and, in centroid mode,
``dL/dD = one_hot(a) - dL/dtheta / tau`` and
``dL/dM = 2 (colsum(dL/dD) * M - (dL/dD)^T X)``. Per chunk of rows that is two GEMMs
(``X M^T`` and ``(dL/dD)^T X``) and a few ``chunk x k`` temporaries: no ``n x k`` matrix.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from diffclust.errors import SuiteError

MODES = ("centroids", "logits")
LOSSES = ("linear", "quadratic")
TAU_SCHEDULES = ("constant", "exponential")

#: ``chunk_rows = 0`` picks this many ``chunk x k`` elements per chunk: 2 MiB of float32
#: per temporary on a CPU, 64 MiB on an accelerator. On the CPU, fewer and larger chunks
#: mean less per-chunk Python work, which holds the GIL between the threads: a torch-ste
#: step at n = 10^5, d = 32, k = 64 on 2 threads took 16.1 ms at 2^18 and 12.2 ms at 2^19.
#: A chunk loop in compiled code (``cpu-compiled``: the torch relaxed step) has no such
#: cost, and wants chunks whose temporaries stay in L2 (at most 256 KiB of float32) and
#: at most COMPILED_CHUNK_MAX_ROWS rows: on a 2-core EPYC, one core, a torch-ste step at
#: 1e5 x 32, k = 64 took 15.8 ms in 256-row chunks, 17.1 in 512, 18.0 in 1024, 19.0 in
#: 4096; at 2e5 x 128, k = 256, 345 ms in 256-row chunks, 369 in 128, 407 in 64.
CHUNK_ELEMENTS = {"cpu": 2**19, "cpu-compiled": 2**16, "accelerator": 2**24}
COMPILED_CHUNK_MAX_ROWS = 256

#: Default parameters of the straight-through backends (torch-ste, jax-ste).
STE_PARAMS: dict[str, Any] = {
    "tau": 0.1,
    "tau_schedule": "constant",
    "tau_min": 0.01,
    "lr": 0.05,
    "steps": 300,
    "batch_size": 0,
    "mode": "centroids",
    "loss": "linear",
    "polish": True,
    "max_polish_iter": 300,
    "chunk_rows": 0,
}

#: Default parameters of the Gumbel-softmax backends (torch-gumbel, jax-gumbel).
#: ``tau0 = 0.1 -> tau_min = 0.01``: of {1, 0.3, 0.1} (``tau_min = tau0 / 10``) the only
#: start within 1% of em's mean inertia on digits, iris, wine (standardized and raw) and
#: blobs; ``tau0 = 1`` collapses clusters on blobs (see docs/backends.md for the sweep).
GUMBEL_PARAMS: dict[str, Any] = {
    "tau0": 0.1,
    "tau_min": 0.01,
    "lr": 0.05,
    "steps": 300,
    "batch_size": 0,
    "mode": "centroids",
    "loss": "linear",
    "polish": True,
    "max_polish_iter": 300,
    "chunk_rows": 0,
}

#: Trace points per fit, about (the harness scores at most 60 per cell).
TRACE_POINTS = 60


def check_relaxed_params(name: str, params: dict[str, Any]) -> None:
    """Raise SuiteError naming the parameter when a relaxed backend's value is unusable."""
    where = f"backend {name!r}"
    if params.get("mode", "centroids") not in MODES:
        raise SuiteError(f"{where}: mode must be one of {', '.join(MODES)}, got {params['mode']!r}.")
    if params.get("loss", "linear") not in LOSSES:
        raise SuiteError(f"{where}: loss must be one of {', '.join(LOSSES)}, got {params['loss']!r}.")
    if params.get("tau_schedule", "constant") not in TAU_SCHEDULES:
        raise SuiteError(
            f"{where}: tau_schedule must be one of {', '.join(TAU_SCHEDULES)}, got {params['tau_schedule']!r}."
        )
    for key in ("tau", "tau0", "tau_min", "lr"):
        if key in params and not float(params[key]) > 0:
            raise SuiteError(f"{where}: {key} must be > 0 (it is relative to the data scale), got {params[key]!r}.")
    for key in ("steps", "batch_size", "chunk_rows", "max_polish_iter"):
        if key in params and int(params[key]) < 0:
            raise SuiteError(f"{where}: {key} must be >= 0, got {params[key]!r}.")


#: Floor of a relative temperature: below it ``1 / (tau D-bar)`` could overflow float32 on
#: raw data, and the soft assignment is one-hot long before that anyway.
MIN_RELATIVE_TAU = 1e-12


def temperatures(steps: int, start: float, end: float, schedule: str) -> np.ndarray:
    """Relative temperature of each step: constant ``start``, or an exponential decay from
    ``start`` at the first step to ``end`` at the last; floored at MIN_RELATIVE_TAU."""
    if schedule == "constant" or steps <= 1:
        taus = np.full(steps, start, dtype=np.float64)
    else:
        taus = start * (end / start) ** (np.arange(steps) / (steps - 1))
    return np.maximum(taus, MIN_RELATIVE_TAU)


def inverse_temperatures(taus: np.ndarray, mean_sq_distance: float) -> np.ndarray:
    """``1 / (tau D-bar)`` per step: what multiplies ``D`` in the logits."""
    return 1.0 / (np.asarray(taus, dtype=np.float64) * mean_sq_distance)


def feature_scale(mean_sq_distance: float, d: int) -> float:
    """The RMS standard deviation of a feature, ``sqrt(D-bar / (2 d))``: the unit of a
    centroid step, so that ``lr`` means the same on standardized and raw data."""
    return math.sqrt(mean_sq_distance / (2.0 * max(d, 1)))


#: Adam's epsilon in centroid mode, relative to the feature scale. torch's and optax's
#: default, 1e-8 absolute, lets Adam turn gradients that are zero but for float32 rounding
#: (a pixel that is constant within a cluster, as in digits) into steps of a sizeable
#: fraction of ``lr``, so that two correct implementations drift apart by ``lr`` in such
#: coordinates. Real gradients are ``2 (n_j / n) |m_j - mean_j|``, far above 1e-4 of the
#: feature scale until a centroid has converged.
ADAM_EPS_RELATIVE = 1e-4


def adam_eps(mean_sq_distance: float, d: int) -> float:
    """Adam's epsilon for centroid steps on data of this scale."""
    return ADAM_EPS_RELATIVE * feature_scale(mean_sq_distance, d)


def chunk_rows_for(n: int, k: int, chunk_rows: int, accelerator: bool, compiled: bool = False) -> int:
    """Rows per chunk: ``chunk_rows`` when given, else enough to fill CHUNK_ELEMENTS
    (``cpu-compiled`` for a CPU chunk loop in compiled code)."""
    if chunk_rows > 0:
        return max(1, min(chunk_rows, n))
    if accelerator:
        return max(1, min(n, max(256, CHUNK_ELEMENTS["accelerator"] // max(k, 1))))
    if compiled:
        return max(1, min(n, COMPILED_CHUNK_MAX_ROWS, max(64, CHUNK_ELEMENTS["cpu-compiled"] // max(k, 1))))
    return max(1, min(n, max(256, CHUNK_ELEMENTS["cpu"] // max(k, 1))))


def trace_interval(steps: int) -> int:
    """Record the centroids every this many steps (about TRACE_POINTS points per fit)."""
    return max(1, steps // TRACE_POINTS)


def batch_indices(n: int, batch_size: int, steps: int, seed: int) -> Iterator[np.ndarray | None]:
    """The rows of each step: ``None`` (all of them) for full batch, else mini-batches of
    ``batch_size`` rows from a seeded permutation per epoch (the last one of an epoch is
    filled from the next permutation, so every batch has the same size).

    Shared by the torch and JAX backends, so both see the same batches for one seed.
    """
    if batch_size <= 0 or batch_size >= n:
        for _ in range(steps):
            yield None
        return
    rng = np.random.default_rng([seed, 0x5EED])
    pool = np.empty(0, dtype=np.int64)
    for _ in range(steps):
        while pool.size < batch_size:
            pool = np.concatenate([pool, rng.permutation(n)])
        yield np.sort(pool[:batch_size])
        pool = pool[batch_size:]


def initial_logits_scale(mean_sq_distance: float) -> float:
    """Free logits start at ``-D(X, M0) / D-bar``: this factor, ``1 / D-bar``."""
    return 1.0 / mean_sq_distance


class RelaxedParams:
    """Mixin of the relaxed backends (torch and JAX): parameter checks and temperatures.

    ``stochastic`` backends (Gumbel) anneal from ``tau0`` to ``tau_min``; the others use
    ``tau`` with ``tau_schedule``.
    """

    name: str
    stochastic: bool = False

    def check_params(self, params: dict[str, Any]) -> None:
        check_relaxed_params(self.name, params)

    def temperature_range(self, params: dict[str, Any]) -> tuple[float, float, str]:
        """``(start, end, schedule)`` of the relative temperature."""
        if self.stochastic:
            return float(params["tau0"]), float(params["tau_min"]), "exponential"
        return float(params["tau"]), float(params["tau_min"]), str(params["tau_schedule"])

    def estimator_name(self) -> str:
        return "straight-through Gumbel-softmax" if self.stochastic else "straight-through"
