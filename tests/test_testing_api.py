"""diffclust.testing as a plugin author meets it: run_checks, expected failures, the pytest
helper in a plugin's own test suite, and the `diffclust check` command."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np

import diffclust
from diffclust.kmeans_math import assign
from diffclust.testing import CheckResult, all_checks, run_checks


class NearestInit(diffclust.Backend):
    """Assigns points to the nearest initial centroid and stops (passes most checks)."""

    name = "nearest-init"

    def fit(self, problem, *, device, seed, trace, **params):
        labels, _ = assign(problem.X, problem.init)
        trace(0, problem.init)
        return diffclust.Fit(labels=labels, centroids=problem.init, n_iter=0, converged=True)


class RandomLabels(NearestInit):
    """Ignores the seed: a different answer every call."""

    name = "random-labels"

    def fit(self, problem, *, device, seed, trace, **params):
        labels = np.random.default_rng().integers(0, problem.k, problem.n)
        return diffclust.Fit(labels=labels, centroids=problem.init, n_iter=1)


class Missing(NearestInit):
    name = "missing-framework"
    requires = ("a_framework_that_is_not_installed",)


class ClaimsGradients(NearestInit):
    name = "claims-gradients"
    differentiable = True


def by_name(results: list[CheckResult]) -> dict[str, CheckResult]:
    return {r.name: r for r in results}


def test_gradient_checks_only_for_differentiable_backends():
    plain = {c.__name__ for c in all_checks(NearestInit())}
    differentiable = {c.__name__ for c in all_checks(ClaimsGradients())}
    assert "check_ste_gradient_exact" not in plain
    assert differentiable - plain == {"check_gradient_finite", "check_ste_gradient_exact"}


def test_run_checks_reports_failures_with_a_message():
    results = by_name(run_checks(RandomLabels()))
    same_seed = results["check_same_seed_same_result"]
    assert same_seed.status == "failed"
    assert "same seed, different labels" in same_seed.message
    assert results["check_trace_steps_increasing"].status == "failed"
    assert "never called" in results["check_trace_steps_increasing"].message


def test_expected_failures_become_xfailed_and_surprises_xpassed():
    results = by_name(run_checks(NearestInit(), expected_failures={
        "check_k_equals_one": "does not move the centroids",
        "nearest-init-check_blobs_recovered": "listed by mistake",
    }))
    assert results["check_k_equals_one"].status == "xfailed"
    assert "does not move the centroids" in results["check_k_equals_one"].message
    assert results["check_blobs_recovered"].status == "xpassed"
    assert results["check_duplicate_points"].status == "passed"


def test_a_differentiable_backend_without_gradients_fails_the_gradient_checks():
    results = by_name(run_checks(ClaimsGradients()))
    assert results["check_gradient_finite"].status == "failed"
    assert "gives no gradient" in results["check_gradient_finite"].message


def test_an_unavailable_backend_is_skipped_with_its_reason():
    results = run_checks(Missing())
    assert {r.status for r in results} == {"skipped"}
    assert "a_framework_that_is_not_installed not installed" in results[0].message


def test_parametrize_with_checks_in_a_plugin_test_suite(pytester):
    pytester.makepyfile(test_plugin=textwrap.dedent(
        """
        import diffclust
        from diffclust.kmeans_math import assign
        from diffclust.testing import parametrize_with_checks


        class NearestInit(diffclust.Backend):
            name = "nearest-init"

            def fit(self, problem, *, device, seed, trace, **params):
                labels, _ = assign(problem.X, problem.init)
                trace(0, problem.init)
                return diffclust.Fit(labels=labels, centroids=problem.init, n_iter=0, converged=True)


        @parametrize_with_checks([NearestInit()], expected_failures={"check_k_equals_one": "keeps its init"})
        def test_conformance(backend, check):
            check(backend)
        """
    ))
    result = pytester.runpytest_subprocess("-q", "-rx", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=len(all_checks(NearestInit())) - 1, xfailed=1)
    result.stdout.fnmatch_lines(["*nearest-init-check_k_equals_one*keeps its init*"])


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "diffclust", *args], capture_output=True, text=True)


def test_check_command_prints_one_line_per_check():
    done = run_cli("check", "em")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [line for line in done.stdout.splitlines() if "check_" in line]
    assert len(lines) == len(all_checks(NearestInit()))
    assert all(line.startswith("passed") for line in lines)


def test_check_command_exits_1_on_a_failing_check(tmp_path):
    (tmp_path / "weak.py").write_text(textwrap.dedent(
        """
        import diffclust
        from diffclust.kmeans_math import assign


        class NearestInit(diffclust.Backend):
            name = "nearest-init"

            def fit(self, problem, *, device, seed, trace, **params):
                labels, _ = assign(problem.X, problem.init)
                trace(0, problem.init)
                return diffclust.Fit(labels=labels, centroids=problem.init, n_iter=0, converged=True)


        @diffclust.hookimpl
        def register_backends(register):
            register(NearestInit())
        """
    ))
    done = run_cli("check", "nearest-init", "--plugins-dir", str(tmp_path))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAILED  check_k_equals_one" in done.stdout
    assert "above the total sum of squares" in done.stdout


def test_check_command_unknown_backend_exits_2():
    done = run_cli("check", "torch-stee")
    assert done.returncode == 2
    assert "unknown backend 'torch-stee'" in done.stderr and "torch-ste" in done.stderr
    assert "Traceback" not in done.stderr
