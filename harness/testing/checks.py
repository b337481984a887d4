"""The conformance checks: small named functions, each ``check_*(backend)``.

Each builds its own tiny problem(s), fits with the backend's default parameters on its
CPU device (or its first device), and raises AssertionError with a message that says
what was expected and what came back. A backend that cannot run here is skipped
(``unittest.SkipTest``, which pytest reports as a skip).
"""

from __future__ import annotations

import json
import unittest
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.metrics import adjusted_rand_score

from diffclust.backend import Backend
from diffclust.errors import InvalidFitError
from diffclust.kmeans_math import assign, assignment_cost
from diffclust.metrics import inertia
from diffclust.problem import Fit, Problem, to_numpy, validate_fit
from diffclust.testing import problems

# -- helpers ------------------------------------------------------------------------------


def device_for(backend: Backend) -> str:
    """The device checks run on: ``cpu`` when the backend has it, else its first device."""
    reason = backend.unavailable_reason()
    devices = [] if reason else backend.devices()
    if not devices:
        raise unittest.SkipTest(f"{backend.name} cannot run here: {reason or 'it lists no devices'}")
    return "cpu" if "cpu" in devices else devices[0]


def fit(backend: Backend, problem: Problem, *, seed: int | None = None, trace: Callable[[int, Any], None] | None = None) -> tuple[Fit, np.ndarray, np.ndarray]:
    """Fit with default parameters; return the Fit and its validated labels and centroids."""
    seed = problem.seed if seed is None else seed
    result = backend.fit(problem, device=device_for(backend), seed=seed, trace=trace or (lambda step, centroids: None), **dict(backend.params))
    try:
        labels, centroids = validate_fit(result, problem)
    except InvalidFitError as exc:
        raise AssertionError(f"{backend.name} on {problem.name}: {exc}") from exc
    return result, labels, centroids


def init_objective(problem: Problem) -> float:
    """The objective of the initial centroids with their nearest-centroid assignment."""
    labels, _ = assign(problem.X, problem.init)
    return assignment_cost(problem.X, labels, problem.init)


def _ari(a: np.ndarray, b: np.ndarray) -> float:
    return float(adjusted_rand_score(a, b))


# -- the checks -----------------------------------------------------------------------------


def check_fit_shapes_and_dtypes(backend: Backend) -> None:
    """``fit`` returns a Fit: ``n`` integer labels, ``k x d`` finite numeric centroids, an
    integer ``n_iter``, ``converged`` None or bool, and a JSON-serializable ``info``."""
    problem = problems.separated_blobs()
    result, labels, centroids = fit(backend, problem)
    raw_labels = to_numpy(result.labels)
    assert raw_labels.dtype.kind in "iu", f"Fit.labels should be integers, got dtype {raw_labels.dtype}"
    assert centroids.shape == (problem.k, problem.d), f"Fit.centroids has shape {centroids.shape}, expected {(problem.k, problem.d)}"
    assert isinstance(result.n_iter, (int, np.integer)) and not isinstance(result.n_iter, bool) and result.n_iter >= 0, (
        f"Fit.n_iter should be a non-negative int, got {result.n_iter!r}"
    )
    assert result.converged is None or isinstance(result.converged, (bool, np.bool_)), (
        f"Fit.converged should be None or a bool, got {result.converged!r}"
    )
    assert isinstance(result.info, dict), f"Fit.info should be a dict, got {type(result.info).__name__}"
    try:
        json.dumps(result.info)
    except TypeError as exc:
        raise AssertionError(f"Fit.info is not JSON-serializable: {exc}") from exc


def check_labels_in_range(backend: Backend) -> None:
    """Labels lie in ``[0, k)``, with more clusters asked for than the data has."""
    problem = problems.overlapping_blobs()
    _, labels, _ = fit(backend, problem)
    assert labels.min() >= 0 and labels.max() < problem.k, (
        f"labels should lie in [0, {problem.k}), got [{labels.min()}, {labels.max()}]"
    )


def check_same_seed_same_result(backend: Backend) -> None:
    """Two fits with the same problem and seed give the same labels and centroids."""
    problem = problems.overlapping_blobs()
    _, labels_a, centroids_a = fit(backend, problem, seed=7)
    _, labels_b, centroids_b = fit(backend, problem, seed=7)
    assert np.array_equal(labels_a, labels_b), (
        f"same seed, different labels: {int((labels_a != labels_b).sum())} of {problem.n} points differ"
    )
    scale = float(np.abs(problem.X).max())
    assert np.allclose(centroids_a, centroids_b, rtol=1e-5, atol=1e-5 * scale), (
        f"same seed, different centroids: max difference {np.abs(centroids_a - centroids_b).max():.3g}"
    )


def check_float32_and_float64_input(backend: Backend) -> None:
    """float32 and float64 data both fit, to the same clusters with nearly the same
    centroids (matched cluster by cluster)."""
    single = problems.separated_blobs(dtype=np.float32)
    double = problems.separated_blobs(dtype=np.float64)
    _, labels_32, centroids_32 = fit(backend, single)
    _, labels_64, centroids_64 = fit(backend, double)
    ari = _ari(labels_32, labels_64)
    assert ari == 1.0, f"float32 and float64 input gave different clusterings (ARI {ari:.4f})"
    # The same partition may number its clusters differently: match them through the labels.
    match = {int(a): int(b) for a, b in zip(labels_32, labels_64)}
    used = sorted(match)
    gap = np.abs(centroids_32[used] - centroids_64[[match[j] for j in used]]).max()
    scale = float(np.abs(single.X).max())
    assert gap <= 1e-3 * scale, f"float32 and float64 centroids of the same clusters differ by up to {gap:.3g}"


def check_k_equals_one(backend: Backend) -> None:
    """With ``k = 1`` every label is 0 and the centroid is the mean (objective within 1% of
    the total sum of squares, its minimum)."""
    base = problems.separated_blobs()
    problem = problems.problem(base.X, 1, name="k = 1")
    _, labels, centroids = fit(backend, problem)
    assert np.all(labels == 0), f"k = 1: labels should all be 0, got values {np.unique(labels)[:10].tolist()}"
    total = assignment_cost(problem.X, labels, problem.X.astype(np.float64).mean(axis=0, keepdims=True))
    achieved = assignment_cost(problem.X, labels, centroids)
    assert achieved <= 1.01 * total, f"k = 1: objective {achieved:.6g} is above the total sum of squares {total:.6g} by more than 1%"


def check_k_equals_n(backend: Backend) -> None:
    """With ``k = n`` distinct points, every point ends in a cluster of its own (inertia 0)."""
    problem = problems.distinct_points()
    _, labels, _ = fit(backend, problem)
    assert np.unique(labels).size == problem.n, (
        f"k = n = {problem.n}: expected every point in its own cluster, got {np.unique(labels).size} clusters"
    )


def check_duplicate_points(backend: Backend) -> None:
    """Repeated points: copies of a point share its cluster, and with ``k`` equal to the
    number of distinct points the inertia is 0; with more clusters the fit stays valid."""
    problem, which = problems.duplicated_points()
    _, labels, _ = fit(backend, problem)
    for point in np.unique(which):
        found = np.unique(labels[which == point])
        assert found.size == 1, f"copies of point {point} were split across clusters {found.tolist()}"
    assert _ari(labels, which) == 1.0, f"expected the {problem.k} distinct points as the clusters, got ARI {_ari(labels, which):.4f}"
    more = problems.problem(problem.X, problem.k + 2, name="duplicated points, k > distinct")
    _, labels, _ = fit(backend, more)
    value = inertia(more.X, labels, more.k)
    assert value <= 1e-6 * float(np.square(more.X).sum()), f"k > distinct points: inertia {value:.3g}, expected 0"


def check_blobs_recovered(backend: Backend) -> None:
    """Well-separated blobs are recovered (ARI > 0.99)."""
    problem = problems.separated_blobs()
    _, labels, _ = fit(backend, problem)
    ari = _ari(problem.labels, labels)
    assert ari > 0.99, f"well-separated blobs: ARI {ari:.4f}, expected > 0.99"


def check_data_scale(backend: Backend) -> None:
    """The defaults work on raw data at any scale: the same blobs multiplied by 1000 and
    shifted, or multiplied by 0.001, are still recovered (ARI > 0.99)."""
    for scale, offset in ((1e3, 5e3), (1e-3, 0.0)):
        problem = problems.separated_blobs(scale=scale, offset=offset)
        _, labels, _ = fit(backend, problem)
        ari = _ari(problem.labels, labels)
        assert ari > 0.99, f"blobs scaled by {scale:g} (offset {offset:g}): ARI {ari:.4f}, expected > 0.99"


def check_objective_not_worse_than_init(backend: Backend) -> None:
    """The final objective (with the returned labels and centroids) is no worse than that
    of the initial centroids."""
    problem = problems.overlapping_blobs()
    _, labels, centroids = fit(backend, problem)
    start = init_objective(problem)
    final = assignment_cost(problem.X, labels, centroids)
    assert final <= start * (1 + 1e-6), f"final objective {final:.6g} is worse than the init's {start:.6g}"


def check_trace_steps_increasing(backend: Backend) -> None:
    """``trace(step, centroids)`` is called at least once, with increasing steps and
    ``k x d`` finite centroids."""
    problem = problems.separated_blobs()
    calls: list[tuple[int, np.ndarray]] = []

    def record(step: int, centroids: Any) -> None:
        calls.append((step, np.array(to_numpy(centroids), dtype=np.float64)))

    fit(backend, problem, trace=record)
    assert calls, "trace(step, centroids) was never called"
    steps = [step for step, _ in calls]
    assert all(isinstance(s, (int, np.integer)) and s >= 0 for s in steps), f"trace steps should be non-negative ints, got {steps[:10]}"
    assert all(a < b for a, b in zip(steps, steps[1:])), f"trace steps should increase, got {steps[:20]}"
    for step, centroids in calls:
        assert centroids.shape == (problem.k, problem.d), f"trace at step {step}: centroids of shape {centroids.shape}"
        assert np.isfinite(centroids).all(), f"trace at step {step}: centroids hold NaN or inf"


# -- gradient checks (differentiable backends) ----------------------------------------------


def _surrogate(backend: Backend, problem: Problem, centroids: np.ndarray, logits: np.ndarray, seed: int | None) -> np.ndarray:
    try:
        grad = backend.surrogate_gradient(problem, centroids, logits, device=device_for(backend), seed=seed)
    except NotImplementedError as exc:
        raise AssertionError(f"{backend.name} is marked differentiable but gives no gradient: {exc}") from exc
    grad = np.asarray(grad, dtype=np.float64)
    assert grad.shape == logits.shape, f"surrogate_gradient has shape {grad.shape}, expected {logits.shape}"
    return grad


def _distances(problem: Problem, centroids: np.ndarray) -> np.ndarray:
    X = problem.X.astype(np.float64)
    return ((X[:, None, :] - centroids[None, :, :].astype(np.float64)) ** 2).sum(axis=2)


def check_gradient_finite(backend: Backend) -> None:
    """The estimator's gradient is finite, also at the extremes where naive Gumbel-softmax
    gives NaN: logits scaled by 1e6 (``tau -> 0``) and by 1e-6, with and without noise."""
    problem = problems.separated_blobs()
    centroids = problem.init
    D = _distances(problem, centroids)
    for factor in (1.0, 1e6, 1e-6):
        for seed in (None, 0):
            logits = (-D * factor / problem.mean_sq_distance).astype(np.float32)
            grad = _surrogate(backend, problem, centroids, logits, seed)
            assert np.isfinite(grad).all(), f"gradient holds NaN or inf with logits scaled by {factor:g} (noise seed {seed})"


def check_ste_gradient_exact(backend: Backend) -> None:
    """With ``M`` frozen, the straight-through gradient at ``tau = 1`` (logits ``-D``) equals
    the exact gradient of ``E_{U ~ softmax(-D)}[L]``, ``P * (D - rowsum(P * D))``: ``L`` is
    linear in ``U`` on one-hot ``U``, so the two agree to rounding. Noise-free estimator."""
    problem = problems.unit_scale_mixture()
    centroids = problem.init.astype(np.float64) + 0.3
    D = _distances(problem, centroids)
    logits = -D
    P = np.exp(logits - logits.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    exact = P * (D - (P * D).sum(axis=1, keepdims=True))
    grad = _surrogate(backend, problem, centroids.astype(problem.X.dtype), logits.astype(problem.X.dtype), None)
    error = float(np.abs(grad - exact).max())
    scale = float(np.abs(exact).max())
    assert error <= 1e-4 * scale, (
        f"straight-through gradient differs from the exact gradient of the expected loss by {error:.3g} "
        f"(largest entry {scale:.3g}); a loss that is not linear in U (such as ||X - UM||^2 differentiated "
        "through a soft U) gives this"
    )


#: Every backend runs these.
BASIC_CHECKS: tuple[Callable[[Backend], None], ...] = (
    check_fit_shapes_and_dtypes,
    check_labels_in_range,
    check_same_seed_same_result,
    check_float32_and_float64_input,
    check_k_equals_one,
    check_k_equals_n,
    check_duplicate_points,
    check_blobs_recovered,
    check_data_scale,
    check_objective_not_worse_than_init,
    check_trace_steps_increasing,
)

#: Differentiable backends also run these.
GRADIENT_CHECKS: tuple[Callable[[Backend], None], ...] = (
    check_gradient_finite,
    check_ste_gradient_exact,
)
