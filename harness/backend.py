"""The base class every backend derives from: the contract a plugin author writes against."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from diffclust.problem import Fit, Problem

#: ``trace(step, centroids)``: record the centroids reached after ``step`` steps. The
#: harness stops its clock while it records and scores them after the timed region.
Trace = Callable[[int, Any], None]


def _no_trace(step: int, centroids: Any) -> None:
    """The trace used when nobody records: does nothing."""


class Backend:
    """A way of solving the k-means factorization, plugged in through ``register_backends``.

    Subclasses set the class attributes and implement :meth:`fit`. Everything else has a
    working default.

    Attributes
    ----------
    name : str
        Unique, kebab-case (``torch-ste``). Shown in tables and used on the command line.
    framework : str
        ``numpy``, ``torch``, ``jax``, ... Workers are grouped by it.
    differentiable : bool
        Whether the method learns through a gradient (conformance adds gradient checks).
    params : dict
        Default parameters. Only these keys may be overridden (``-b NAME:key=value``).
    requires : tuple of str
        Modules that must be importable for the backend to run (``("torch",)``).
    extra : str or None
        The diffclust extra that installs them, named in the unavailability reason.
    version : str
        Bump it when the method changes: it is part of a cell's key, so ``--resume``
        reruns cells of a changed backend.

    Differentiable backends also implement :meth:`surrogate_gradient`, the gradient their
    estimator gives with respect to the assignment logits; the conformance suite
    (:mod:`diffclust.testing`) checks it against the exact gradient of the expected loss.
    """

    name: ClassVar[str] = ""
    framework: ClassVar[str] = "numpy"
    differentiable: ClassVar[bool] = False
    params: ClassVar[dict[str, Any]] = {}
    requires: ClassVar[tuple[str, ...]] = ()
    extra: ClassVar[str | None] = None
    version: ClassVar[str] = "1"

    # -- availability ------------------------------------------------------------------

    def unavailable_reason(self) -> str | None:
        """Why this backend cannot run here, or None when it can."""
        missing = [m for m in self.requires if importlib.util.find_spec(m) is None]
        if not missing:
            return None
        hint = f"pip install 'diffclust[{self.extra}]'" if self.extra else f"pip install {' '.join(missing)}"
        return f"{', '.join(missing)} not installed ({hint})"

    def devices(self) -> list[str]:
        """The devices this backend can run on here; empty when it is unavailable."""
        return [] if self.unavailable_reason() else ["cpu"]

    # -- the work ----------------------------------------------------------------------

    def fit(self, problem: Problem, *, device: str, seed: int, trace: Trace = _no_trace, **params: Any) -> Fit:
        """Solve ``problem`` from ``problem.init`` on ``device``.

        Parameters
        ----------
        problem : Problem
            Data, k and initial centroids. Do not modify ``problem.X``.
        device : str
            One of :meth:`devices`.
        seed : int
            Seeds the backend's own randomness (sampling, mini-batches).
        trace : callable
            Call ``trace(step, centroids)`` every few steps to record a convergence curve.
        **params
            This backend's ``params`` with the run's overrides applied.
        """
        raise NotImplementedError(f"backend {self.name!r} does not implement fit()")

    def check_params(self, params: dict[str, Any]) -> None:
        """Check parameter values before a suite starts (types are already checked against
        the defaults); raise :class:`diffclust.errors.SuiteError` naming the bad one."""

    # -- gradients (differentiable backends) -------------------------------------------

    def surrogate_gradient(
        self,
        problem: Problem,
        centroids: np.ndarray,
        logits: np.ndarray,
        *,
        device: str,
        seed: int | None = None,
        **params: Any,
    ) -> np.ndarray:
        """The gradient this backend's estimator computes for the assignment logits.

        With the centroids ``M`` frozen, the backend relaxes ``U`` from ``logits``
        (``theta``, ``n x k``) at temperature 1 the way it does in training (for a
        straight-through estimator ``U = one_hot(argmax theta) + P - stop_gradient(P)``,
        ``P = softmax(theta)``) and returns ``dL/dtheta`` (``n x k`` numpy array) of its loss
        ``L(U, M)`` summed over the points (not averaged).

        Parameters
        ----------
        problem : Problem
            The data ``X``.
        centroids : numpy.ndarray
            ``k x d`` centroids, held fixed.
        logits : numpy.ndarray
            ``n x k`` logits.
        device : str
            One of :meth:`devices`.
        seed : int or None
            Seeds the estimator's noise (Gumbel); None asks for the noise-free estimator.
        **params
            Overrides of this backend's ``params`` (the loss form, say).

        Raises
        ------
        NotImplementedError
            The default: the backend is not differentiable.
        """
        raise NotImplementedError(f"backend {self.name!r} is not differentiable (it has no surrogate_gradient)")

    # -- timing support (override for accelerators) -------------------------------------

    def synchronize(self, device: str) -> None:
        """Block until all work queued on ``device`` is done (the clock reads after this)."""

    def set_threads(self, threads: int) -> None:
        """Pin the framework's own thread pools (BLAS/OpenMP are pinned by the harness)."""

    def reset_peak_memory(self, device: str) -> None:
        """Reset the device's peak-memory counter before a timed fit."""

    def peak_memory_bytes(self, device: str) -> int | None:
        """Peak device memory since :meth:`reset_peak_memory`; None on host-only devices."""
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


def as_host_array(array: Any, dtype: type = np.float64) -> np.ndarray:
    """Helper for backends: any array as a host numpy array of ``dtype``."""
    from diffclust.problem import to_numpy

    return np.asarray(to_numpy(array), dtype=dtype)
