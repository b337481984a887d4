"""One test per hook at least (``test_hook_<hook name>_*``; tests/test_docs.py checks that
every hook in diffclust.hookspecs has one): each hook implemented by real plugins, loaded
the ways users load them, and used by a suite."""

from __future__ import annotations

import textwrap

import pandas as pd

from diffclust.registry import build_registry

TWO_BACKENDS = textwrap.dedent(
    '''
    import diffclust
    from diffclust.kmeans_math import assign


    class FromInit(diffclust.Backend):
        name = "from-init"
        params = {"shift": 0.0}

        def fit(self, problem, *, device, seed, trace, **params):
            centroids = problem.init + params["shift"]
            labels, _ = assign(problem.X, centroids)
            trace(0, centroids)
            return diffclust.Fit(labels=labels, centroids=centroids, n_iter=0, converged=True)


    class FromInitToo(FromInit):
        name = "from-init-too"


    @diffclust.hookimpl
    def register_backends(register):
        register(FromInit())
        register(FromInitToo())
    '''
)

DATASETS = textwrap.dedent(
    '''
    import numpy as np

    import diffclust


    class Corners(diffclust.Dataset):
        name = "corners"
        description = "points around the corners of a square"
        params = {"n": 200, "side": 10.0, "data_seed": 0}

        def load(self, **p):
            rng = np.random.default_rng(p["data_seed"])
            corner = rng.integers(0, 4, p["n"])
            centres = np.array([[0, 0], [0, 1], [1, 0], [1, 1]]) * p["side"]
            X = centres[corner] + rng.standard_normal((p["n"], 2))
            return diffclust.DatasetData(X=X, labels=corner, k=4)

        def best_known_inertia(self, k, **p):
            return None


    class NoLoad(diffclust.Dataset):
        name = "no-load"


    @diffclust.hookimpl
    def register_datasets(register):
        register(NoLoad())
        register(Corners())
    '''
)


def test_hook_register_backends_from_an_installed_distribution(plugin_env):
    registry = build_registry()
    entry = registry.backends["init-only"]
    assert entry.plugin.distribution == "diffclust-test-plugin"
    assert "register_backends" in entry.plugin.hooks


def test_hook_register_backends_every_backend_registered_runs_in_a_suite(tmp_path, cli):
    (tmp_path / "two.py").write_text(TWO_BACKENDS)
    out = tmp_path / "run"
    result = cli("run", "--plugins-dir", str(tmp_path), "-b", "from-init", "-b", "from-init-too:shift=0.5",
                 "-d", "blobs:n=300,d=3,centers=3", "--seeds", "2", "--repeats", "0", "--out", str(out), "-q")
    assert result.returncode == 0, result.stderr
    rows = pd.read_parquet(out / "results.parquet")
    assert sorted(rows["backend"]) == ["from-init", "from-init", "from-init-too", "from-init-too"]
    assert (rows["status"] == "ok").all()
    # The override reached fit(): shifted centroids score worse from the same init.
    by = rows.set_index(["backend", "seed"])["objective"]
    assert (by["from-init-too"] > by["from-init"]).all()


def test_hook_register_datasets_dataset_runs_in_a_suite_with_its_params(tmp_path, cli):
    (tmp_path / "corners.py").write_text(DATASETS)
    out = tmp_path / "run"
    result = cli("run", "--plugins-dir", str(tmp_path), "-b", "em", "-d", "corners", "-d", "corners:n=400,side=20",
                 "--seeds", "1", "--repeats", "0", "--out", str(out), "-q")
    assert result.returncode == 0, result.stderr
    rows = pd.read_parquet(out / "results.parquet").sort_values("p_dataset_n")
    assert rows["status"].tolist() == ["ok", "ok"]
    assert rows["n"].tolist() == [200, 400] and rows["k"].tolist() == [4, 4]
    assert rows["p_dataset_side"].tolist() == [10.0, 20.0]
    assert (rows["ari"] > 0.99).all()  # em separates four well-apart corners


def test_hook_register_datasets_a_bad_dataset_does_not_keep_out_the_good_one(tmp_path):
    (tmp_path / "corners.py").write_text(DATASETS)
    registry = build_registry([tmp_path])
    assert "corners" in registry.datasets and "no-load" not in registry.datasets
    (problem,) = registry.problems
    assert "corners.py" in problem and "in register_datasets" in problem
    assert "dataset 'no-load' (NoLoad) does not implement load()" in problem
