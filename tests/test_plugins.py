"""The plugin machinery with a real plugin package installed through its entry point."""

from __future__ import annotations

import subprocess
import sys

from diffclust.registry import build_registry


def test_installed_plugin_is_found_through_its_entry_point(plugin_env):
    registry = build_registry()
    assert registry.backend("init-only").name == "init-only"
    assert registry.dataset("two-groups").name == "two-groups"
    record = registry.backends["init-only"].plugin
    assert record.source == "entry point"
    assert record.distribution == "diffclust-test-plugin"
    assert record.version == "0.3.1"
    assert record.hooks == ["register_backends", "register_datasets"]


def test_builtins_register_through_the_same_hooks(plugin_env):
    registry = build_registry()
    assert registry.backends["em"].plugin.name == "diffclust.backends.em"
    assert registry.backends["em"].plugin.hooks == ["register_backends"]


def test_plugin_backend_runs_in_a_suite(plugin_env, tmp_path):
    out = tmp_path / "run"
    subprocess.run(
        [sys.executable, "-m", "diffclust", "run", "-b", "init-only", "-b", "em", "-d", "two-groups",
         "--seeds", "2", "--repeats", "0", "--out", str(out), "-q"],
        check=True,
    )
    import pandas as pd

    rows = pd.read_parquet(out / "results.parquet")
    assert set(rows["backend"]) == {"init-only", "em"}
    assert (rows["status"] == "ok").all()


def write_plugin(path, body):
    path.write_text("import diffclust\n" + body)
    return path


# A backend must implement fit() to be registered; these tests only need one that does.
FIT = "    def fit(self, problem, **kwargs):\n        return diffclust.Fit(labels=[0] * problem.n, centroids=problem.init)\n"


def test_loose_plugin_via_environment_variable(tmp_path, monkeypatch):
    plugin = write_plugin(tmp_path / "loose.py", (
        "class B(diffclust.Backend):\n    name = 'loose-one'\n"
        + FIT +
        "@diffclust.hookimpl\ndef register_backends(register):\n    register(B())\n"
    ))
    monkeypatch.setenv("DIFFCLUST_PLUGINS", str(plugin))
    registry = build_registry()
    assert "loose-one" in registry.backends
    assert registry.backends["loose-one"].plugin.source == "loose"


def test_broken_plugin_is_named_and_the_others_still_load(tmp_path, monkeypatch):
    broken = write_plugin(tmp_path / "broken.py", "raise RuntimeError('missing licence key')\n")
    good = write_plugin(tmp_path / "good.py", (
        "class B(diffclust.Backend):\n    name = 'still-here'\n"
        + FIT +
        "@diffclust.hookimpl\ndef register_backends(register):\n    register(B())\n"
    ))
    monkeypatch.setenv("DIFFCLUST_PLUGINS", f"{broken},{good}")
    registry = build_registry()
    assert "still-here" in registry.backends and "em" in registry.backends
    (problem,) = registry.problems
    assert "broken.py" in problem and "RuntimeError: missing licence key" in problem


def test_two_plugins_registering_one_name_are_both_named(tmp_path, monkeypatch):
    dup = write_plugin(tmp_path / "dup.py", (
        "class B(diffclust.Backend):\n    name = 'em'\n"
        + FIT +
        "@diffclust.hookimpl\ndef register_backends(register):\n    register(B())\n"
    ))
    monkeypatch.setenv("DIFFCLUST_PLUGINS", str(dup))
    registry = build_registry()
    (problem,) = registry.problems
    assert "'em' is registered twice" in problem
    assert "diffclust.backends.em" in problem and "dup.py" in problem
