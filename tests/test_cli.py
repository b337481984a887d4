"""The command line end to end, as a user runs it: real processes, real files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from io import StringIO

import numpy as np
import pandas as pd
import pytest


def diffclust(*args, cwd=None, env=None):
    return subprocess.run(
        [sys.executable, "-m", "diffclust", *args], capture_output=True, text=True, cwd=cwd,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "r1"
    result = diffclust("run", "-b", "em", "-b", "sklearn:tol=0", "-d", "iris", "-d", "blobs:n=300,d=2,centers=3",
                       "--seeds", "2", "--repeats", "1", "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out, result


def test_run_writes_the_results_files(small_run):
    out, _ = small_run
    rows = pd.read_parquet(out / "results.parquet")
    assert len(rows) == 2 * 2 * 2
    assert (rows["status"] == "ok").all()
    for column in ("objective", "inertia", "rel_gap", "ari", "nmi", "empty_clusters", "n_iter", "converged",
                   "first_s", "wall_s", "time_per_iter_s", "peak_rss_mb", "p_backend_tol", "p_dataset_n"):
        assert column in rows.columns, column
    assert rows.loc[rows.backend == "sklearn", "p_backend_tol"].eq(0).all()
    assert (rows["peak_rss_mb"] > 10).all()
    trace = pd.read_parquet(out / "trace.parquet")
    assert set(trace["backend"]) >= {"em"}
    env = json.loads((out / "environment.json").read_text())
    assert env["packages"]["numpy"] == np.__version__ and env["cpu_model"] and env["diffclust_version"]
    suite = tomllib.loads((out / "suite.toml").read_text())
    assert [b["name"] for b in suite["backend"]] == ["em", "sklearn"]


def test_run_ends_with_a_comparison_table(small_run):
    _, result = small_run
    assert "| dataset" in result.stdout and "| em" in result.stdout
    assert "8 cells: 8 ok" in result.stderr


def test_report_formats(small_run):
    out, _ = small_run
    md = diffclust("report", str(out))
    assert md.returncode == 0 and "inertia" in md.stdout and "iris" in md.stdout
    csv = diffclust("report", str(out), "--format", "csv", "-m", "inertia", "-m", "ari")
    table = pd.read_csv(StringIO(csv.stdout))
    assert {"dataset", "backend", "status", "inertia_mean", "inertia_std", "inertia_count", "ari_mean"} <= set(table.columns)
    assert len(table) == 4 and (table["inertia_count"] == 2).all()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "-b", "nosuch", "-d", "iris"], "unknown backend 'nosuch'"),
        (["run", "-b", "em", "-d", "iris:k=500"], "k=500 is larger than the number of points n=150"),
        (["run", "-b", "em", "-d", "file:path=/no/such.csv"], "does not exist"),
        (["run", "nosuchsuite"], "no suite 'nosuchsuite'"),
        (["report", "/no/such/run"], "holds no results.parquet"),
    ],
)
def test_user_errors_are_one_line_without_traceback(tmp_path, args, message):
    result = diffclust(*args, "--out", str(tmp_path / "r")) if args[0] == "run" else diffclust(*args)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_nan_in_a_data_file_is_reported_and_exits_nonzero(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("a,b\n1,2\n3,nan\n5,6\n")
    result = diffclust("run", "-b", "em", "-d", f"file:path={path},k=2", "--out", str(tmp_path / "r"), "-q")
    assert result.returncode == 2
    assert "NaN or infinite value(s), the first at row 1, column 1" in result.stderr
    assert "Traceback" not in result.stderr


def test_list_and_plugins(tmp_path):
    listing = diffclust("list")
    assert listing.returncode == 0
    for name in ("em", "sklearn", "faiss", "blobs", "digits", "file", "quick"):
        assert name in listing.stdout
    plugins = diffclust("plugins")
    assert "diffclust.backends.em" in plugins.stdout and "register_backends" in plugins.stdout


def test_invalid_fit_from_a_loose_plugin_becomes_an_invalid_row(tmp_path):
    plugin = tmp_path / "badfit.py"
    plugin.write_text(
        "import numpy as np, diffclust\n"
        "class Bad(diffclust.Backend):\n"
        "    name = 'nan-centroids'\n"
        "    def fit(self, problem, *, device, seed, trace, **p):\n"
        "        return diffclust.Fit(labels=np.zeros(problem.n, int), centroids=np.full((problem.k, problem.d), np.nan))\n"
        "@diffclust.hookimpl\n"
        "def register_backends(register):\n"
        "    register(Bad())\n"
    )
    out = tmp_path / "r"
    result = diffclust("run", "-b", "nan-centroids", "-b", "em", "-d", "iris", "--seeds", "1", "--out", str(out), "-q",
                       env={"DIFFCLUST_PLUGINS": str(plugin)})
    assert result.returncode == 0, result.stderr
    rows = pd.read_parquet(out / "results.parquet").set_index("backend")
    assert rows.loc["nan-centroids", "status"] == "invalid"
    assert "NaN or inf" in rows.loc["nan-centroids", "error"]
    assert rows.loc["em", "status"] == "ok"
