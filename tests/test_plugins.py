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
