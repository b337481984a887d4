"""Broken plugins, installed for real through entry points: each problem gets a message
that names the plugin and its distribution, what was expected and what came; none stops
`diffclust list` or a suite that does not use the broken part."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from diffclust.errors import UnknownNameError
from diffclust.registry import build_registry


def problem_about(registry, *needles: str) -> str:
    matches = [p for p in registry.problems if all(n in p for n in needles)]
    assert len(matches) == 1, f"expected one problem mentioning {needles}, got {registry.problems}"
    return matches[0]


def test_plugin_that_fails_to_import_is_named_with_its_distribution_and_the_way_out(broken_plugin_env):
    registry = build_registry()
    message = problem_about(registry, "broken_import")
    assert "distribution diffclust-broken-import 0.1.0" in message
    assert "'diffclust_broken_import.plugin'" in message  # what was imported
    assert "No module named 'a_module_that_is_not_installed'" in message  # what came
    assert "DIFFCLUST_LOAD_PLUGINS" in message  # the way out
    record = registry.plugins.records["broken_import"]
    assert "a_module_that_is_not_installed" in record.traceback


def test_name_already_taken_names_both_plugins_and_the_builtin_keeps_it(broken_plugin_env):
    registry = build_registry()
    message = problem_about(registry, "'em' is registered twice")
    assert "diffclust.backends.em" in message and "distribution diffclust 0.1.0" in message
    assert "'name_taken' (distribution diffclust-name-taken 0.2.0)" in message
    assert registry.backends["em"].plugin.name == "diffclust.backends.em"
    # The plugin's other backend still registered.
    assert registry.backends["still-here"].plugin.distribution == "diffclust-name-taken"


@pytest.mark.parametrize(
    ("needle", "expected"),
    [
        ("'no-fit'", "does not implement fit()"),
        ("NoName", "has no name; set the class attribute name ="),
        ("NotABackend", "lacks fit, devices, framework, differentiable; expected an instance of a subclass of diffclust.Backend"),
        ("GivenAsClass", "registered the class GivenAsClass itself; expected an instance of a subclass of diffclust.Backend: register(GivenAsClass())"),
    ],
)
def test_backend_lacking_a_required_member_is_refused_with_what_was_expected(broken_plugin_env, needle, expected):
    registry = build_registry()
    message = problem_about(registry, needle)
    assert message.startswith("plugin 'missing_member' (distribution diffclust-missing-member 1.0.0), in register_backends:")
    assert expected in message
    assert "no-fit" not in registry.backends and "given-as-class" not in registry.backends
    assert "fine-too" in registry.backends  # registered after the bad ones, by the same hook call


def test_hook_name_with_a_typo_is_pointed_out(broken_plugin_env):
    message = problem_about(build_registry(), "register_backend'")
    assert "plugin 'typo_hook' (distribution diffclust-missing-member 1.0.0)" in message
    assert "Did you mean 'register_backends'?" in message


def test_unknown_backend_error_mentions_the_plugins_that_failed(broken_plugin_env):
    registry = build_registry()
    with pytest.raises(UnknownNameError, match="failed to load.*broken_import.*No module named"):
        registry.backend("something-from-broken-import")


def test_list_shows_every_good_backend_and_every_problem(broken_plugin_env, cli):
    result = cli("list")
    assert result.returncode == 0, result.stderr
    for name in ("em", "sklearn", "still-here", "fine-too", "short-labels"):
        assert f"│ {name} " in result.stdout
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 7, result.stderr
    assert any("diffclust-broken-import" in w and "ModuleNotFoundError" in w for w in warnings)


def test_plugins_command_shows_the_failed_plugin(broken_plugin_env, cli):
    result = cli("plugins")
    assert result.returncode == 0, result.stderr
    row = next(line for line in result.stdout.splitlines() if "broken_import" in line)
    assert "diffclust-broken-import" in row and "ModuleNotFoundError" in row


def test_malformed_fit_is_an_invalid_row_naming_the_backends_plugin(broken_plugin_env, cli, tmp_path):
    out = tmp_path / "run"
    result = cli("run", "-b", "short-labels", "-b", "returns-tuple", "-b", "em", "-b", "still-here",
                 "-d", "blobs:n=200,d=2,centers=3", "--seeds", "1", "--repeats", "0", "--out", str(out), "-q")
    assert result.returncode == 0, result.stderr
    rows = pd.read_parquet(out / "results.parquet").set_index("backend")
    assert rows.loc["em", "status"] == "ok" and rows.loc["still-here", "status"] == "ok"
    assert rows.loc["short-labels", "status"] == "invalid"
    assert rows.loc["short-labels", "error"] == (
        "backend 'short-labels' of plugin 'bad_fit' (distribution diffclust-bad-fit 0.1.0) returned a "
        "malformed Fit: Fit.labels has shape (199,), expected (200,)"
    )
    assert rows.loc["returns-tuple", "status"] == "invalid"
    assert rows.loc["returns-tuple", "error"].endswith("fit() must return a diffclust.Fit, got tuple")


def test_empty_load_plugins_is_the_way_out_of_broken_plugins(broken_plugin_env, cli):
    result = cli("list", env={"DIFFCLUST_LOAD_PLUGINS": ""})
    assert result.returncode == 0
    assert "warning" not in result.stderr
    assert "│ em " in result.stdout and "still-here" not in result.stdout


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"n_iter": -1}, "Fit.n_iter must be a non-negative integer, got -1"),
        ({"n_iter": 2.5}, "Fit.n_iter must be a non-negative integer, got 2.5"),
        ({"converged": "yes"}, "Fit.converged must be True, False or None, got 'yes'"),
        ({"info": ["a"]}, "Fit.info must be a dict, got list"),
    ],
)
def test_malformed_fit_fields_say_what_was_expected_and_what_came(change, expected):
    import numpy as np

    from diffclust import Fit, Problem
    from diffclust.errors import InvalidFitError
    from diffclust.problem import validate_fit

    X = np.arange(12, dtype=np.float32).reshape(6, 2)
    problem = Problem(X=X, k=2, init=X[:2])
    fields = {"labels": np.zeros(6, dtype=np.int64), "centroids": X[:2], "n_iter": 3, "converged": True, "info": {}}
    validate_fit(Fit(**fields), problem)  # the well-formed one passes
    with pytest.raises(InvalidFitError, match=re.escape(expected)):
        validate_fit(Fit(**{**fields, **change}), problem)
