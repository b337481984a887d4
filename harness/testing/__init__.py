"""``diffclust.testing``: the conformance suite every backend passes.

Small named ``check_*(backend)`` functions in the manner of scikit-learn's estimator
checks. Three ways in:

- in a plugin's own tests, one test per check::

      from diffclust.testing import parametrize_with_checks

      @parametrize_with_checks([MyBackend()])
      def test_conformance(backend, check):
          check(backend)

- from the command line: ``diffclust check BACKEND``;
- from Python: ``run_checks(backend)`` returns one :class:`CheckResult` per check.

``expected_failures`` maps a check's name (``"check_k_equals_n"``), or a test id
(``"my-backend-check_k_equals_n"``), to the reason it is known to fail: such a check is
reported ``xfailed`` (``xpassed`` when it passes after all) rather than ``failed``.
"""

from __future__ import annotations

import time
import traceback
import unittest
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from diffclust.backend import Backend
from diffclust.testing.checks import (
    BASIC_CHECKS,
    GRADIENT_CHECKS,
    check_blobs_recovered,
    check_data_scale,
    check_duplicate_points,
    check_fit_shapes_and_dtypes,
    check_float32_and_float64_input,
    check_gradient_finite,
    check_k_equals_n,
    check_k_equals_one,
    check_labels_in_range,
    check_objective_not_worse_than_init,
    check_same_seed_same_result,
    check_ste_gradient_exact,
    check_trace_steps_increasing,
)

Check = Callable[[Backend], None]
STATUSES = ("passed", "failed", "xfailed", "xpassed", "skipped")


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check: ``status`` is one of :data:`STATUSES`."""

    name: str
    status: str
    message: str = ""
    duration_s: float = 0.0


def all_checks(backend: Backend) -> list[Check]:
    """The checks that apply to ``backend``: the gradient checks only when it is
    ``differentiable``."""
    checks = list(BASIC_CHECKS)
    if backend.differentiable:
        checks += GRADIENT_CHECKS
    return checks


def _expected_reason(expected_failures: dict[str, str] | None, backend: Backend, check: Check) -> str | None:
    if not expected_failures:
        return None
    name = check.__name__
    return expected_failures.get(f"{backend.name}-{name}", expected_failures.get(name))


def run_checks(backend: Backend, expected_failures: dict[str, str] | None = None) -> list[CheckResult]:
    """Run every check of ``backend``; never raises for a failing check."""
    results = []
    for check in all_checks(backend):
        reason = _expected_reason(expected_failures, backend, check)
        start = time.perf_counter()
        try:
            check(backend)
        except unittest.SkipTest as exc:
            status, message = "skipped", str(exc)
        except AssertionError as exc:
            status, message = ("xfailed", f"{reason} ({exc})") if reason else ("failed", str(exc) or "assertion failed")
        except Exception as exc:  # noqa: BLE001 - a crash in the backend is a failed check
            text = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=-3)}"
            status, message = ("xfailed", f"{reason} ({type(exc).__name__}: {exc})") if reason else ("failed", text)
        else:
            status, message = ("xpassed", f"expected to fail: {reason}") if reason else ("passed", "")
        results.append(CheckResult(check.__name__, status, message, time.perf_counter() - start))
    return results


def parametrize_with_checks(backends: Iterable[Backend], expected_failures: dict[str, str] | None = None) -> Any:
    """A pytest decorator that makes one test per backend and check, with ids like
    ``em-check_fit_shapes_and_dtypes``; expected failures become ``xfail`` with the reason."""
    import pytest

    params = []
    for backend in backends:
        for check in all_checks(backend):
            reason = _expected_reason(expected_failures, backend, check)
            marks = [pytest.mark.xfail(reason=reason)] if reason else []
            params.append(pytest.param(backend, check, id=f"{backend.name}-{check.__name__}", marks=marks))
    return pytest.mark.parametrize(("backend", "check"), params)


__all__ = [
    "STATUSES",
    "Check",
    "CheckResult",
    "all_checks",
    "check_blobs_recovered",
    "check_data_scale",
    "check_duplicate_points",
    "check_fit_shapes_and_dtypes",
    "check_float32_and_float64_input",
    "check_gradient_finite",
    "check_k_equals_n",
    "check_k_equals_one",
    "check_labels_in_range",
    "check_objective_not_worse_than_init",
    "check_same_seed_same_result",
    "check_ste_gradient_exact",
    "check_trace_steps_increasing",
    "parametrize_with_checks",
    "run_checks",
]
