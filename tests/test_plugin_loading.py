"""Where plugins come from: entry points (restricted by DIFFCLUST_LOAD_PLUGINS), loose
modules named in DIFFCLUST_PLUGINS, and folders given with --plugins-dir."""

from __future__ import annotations

import textwrap

import pandas as pd
import pytest

from diffclust.registry import build_registry

LOOSE_PLUGIN = textwrap.dedent(
    '''
    import diffclust
    from diffclust.kmeans_math import assign


    class FromInit(diffclust.Backend):
        name = "loose-from-init"

        def fit(self, problem, *, device, seed, trace, **params):
            labels, _ = assign(problem.X, problem.init)
            trace(0, problem.init)
            return diffclust.Fit(labels=labels, centroids=problem.init, n_iter=0, converged=True)


    @diffclust.hookimpl
    def register_backends(register):
        register(FromInit())
    '''
)


@pytest.fixture
def loose_dir(tmp_path):
    folder = tmp_path / "my_plugins"
    folder.mkdir()
    (folder / "from_init.py").write_text(LOOSE_PLUGIN)
    (folder / "_helper.py").write_text("raise RuntimeError('files starting with _ are not plugins')\n")
    return folder


def entry_point_plugins(registry) -> set[str]:
    return {r.name for r in registry.plugins.records.values() if r.source == "entry point"}


def test_load_plugins_unset_loads_every_entry_point(plugin_env, broken_plugin_env):
    names = entry_point_plugins(build_registry())
    assert {"test_plugin", "broken_import", "name_taken", "missing_member", "typo_hook", "bad_fit"} <= names


def test_load_plugins_restricts_entry_points_to_the_named_ones(plugin_env, broken_plugin_env, monkeypatch):
    monkeypatch.setenv("DIFFCLUST_LOAD_PLUGINS", "test_plugin, bad_fit")
    registry = build_registry()
    assert entry_point_plugins(registry) == {"test_plugin", "bad_fit"}
    assert registry.problems == []
    assert {"init-only", "short-labels", "em"} <= set(registry.backends)
    assert "still-here" not in registry.backends


def test_load_plugins_empty_string_loads_no_entry_point_but_the_builtins(broken_plugin_env, monkeypatch):
    monkeypatch.setenv("DIFFCLUST_LOAD_PLUGINS", "")
    registry = build_registry()
    assert entry_point_plugins(registry) == set()
    assert registry.problems == []
    assert {"em", "sklearn", "faiss"} <= set(registry.backends)
    assert "blobs" in registry.datasets


def test_load_plugins_naming_an_uninstalled_plugin_says_so(plugin_env, monkeypatch):
    monkeypatch.setenv("DIFFCLUST_LOAD_PLUGINS", "test_plugn")
    registry = build_registry()
    assert entry_point_plugins(registry) == set()
    assert any("DIFFCLUST_LOAD_PLUGINS names 'test_plugn', which no installed plugin provides" in p for p in registry.problems)


def test_diffclust_plugins_loads_a_loose_file_and_a_module(loose_dir, monkeypatch):
    monkeypatch.setenv("DIFFCLUST_PLUGINS", str(loose_dir / "from_init.py"))
    registry = build_registry()
    assert registry.backends["loose-from-init"].plugin.source == "loose"
    monkeypatch.syspath_prepend(str(loose_dir))
    monkeypatch.setenv("DIFFCLUST_PLUGINS", "from_init")
    registry = build_registry()
    assert registry.backends["loose-from-init"].plugin.name == "from_init"


def test_diffclust_plugins_missing_file_is_named(tmp_path, monkeypatch):
    missing = tmp_path / "nope.py"
    monkeypatch.setenv("DIFFCLUST_PLUGINS", str(missing))
    registry = build_registry()
    (problem,) = registry.problems
    assert str(missing) in problem and "FileNotFoundError" in problem and "DIFFCLUST_PLUGINS" in problem


def test_plugins_dir_on_list_and_plugins(loose_dir, cli):
    listing = cli("list", "--plugins-dir", str(loose_dir))
    assert listing.returncode == 0, listing.stderr
    assert "│ loose-from-init " in listing.stdout
    assert "warning" not in listing.stderr  # _helper.py was not loaded
    plugins = cli("plugins", "--plugins-dir", str(loose_dir))
    assert plugins.returncode == 0
    row = next(line for line in plugins.stdout.splitlines() if "from_init.py" in line)
    assert "loose" in row and "register_backends" in row and "ok" in row


def test_plugins_dir_on_run(loose_dir, cli, tmp_path):
    out = tmp_path / "run"
    result = cli("run", "--plugins-dir", str(loose_dir), "-b", "loose-from-init", "-d", "blobs:n=100,d=2,centers=2",
                 "--seeds", "1", "--repeats", "0", "--out", str(out), "-q")
    assert result.returncode == 0, result.stderr
    rows = pd.read_parquet(out / "results.parquet")
    assert rows["backend"].tolist() == ["loose-from-init"] and rows["status"].tolist() == ["ok"]


def test_plugins_dir_that_does_not_exist_is_a_usage_error(tmp_path, cli):
    result = cli("list", "--plugins-dir", str(tmp_path / "missing"))
    assert result.returncode == 2
    assert "--plugins-dir" in result.stderr and "does not exist" in result.stderr
    assert "Traceback" not in result.stderr


def test_plugins_dir_on_check_and_its_exit_status(loose_dir, cli):
    # loose-from-init never moves a centroid: it fails k = 1 (the centroid must be the mean).
    result = cli("check", "loose-from-init", "--plugins-dir", str(loose_dir))
    assert result.returncode == 1, result.stdout + result.stderr
    failed = [line for line in result.stdout.splitlines() if line.startswith("FAILED")]
    assert [line.split()[1] for line in failed] == ["check_k_equals_one"]
    assert "passed" in result.stdout
