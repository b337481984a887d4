"""`diffclust report` and `diffclust reference` as a user runs them."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "diffclust", *args], capture_output=True, text=True, timeout=300, cwd=cwd)


def test_latex_with_rows_cols_several_metrics_and_median(toy_run):
    done = cli("report", str(toy_run), "-f", "latex", "--rows", "backend", "--cols", "dataset",
               "-m", "inertia", "-m", "wall_s", "--agg", "median-iqr")
    assert done.returncode == 0, done.stderr
    latex = done.stdout
    assert r"\multicolumn{2}{c}{inertia}" in latex and r"\multicolumn{2}{c}{wall\_s}" in latex
    assert r"\begin{tabular}{lrrrr}" in latex
    assert r"\bfseries 10.25 [10.125, 10.375] $^{\dagger}$" in latex
    assert "Median [interquartile range]" in latex


def test_runs_merge_and_csv_follows_the_suffix(tmp_path, make):
    rows = make.toy_rows()
    first = make.run(tmp_path / "first", [r for r in rows if r["backend"] in ("alpha", "beta")])
    second = make.run(tmp_path / "second", [r for r in rows if r["backend"] in ("gamma", "delta")])
    out = tmp_path / "tables" / "table.csv"
    done = cli("report", str(first), str(second), "-o", str(out), "-m", "inertia,ari")
    assert done.returncode == 0, done.stderr
    frame = pd.read_csv(out)
    assert list(frame["backend"]) == ["alpha", "beta", "gamma", "delta", "alpha", "beta"]
    assert {"inertia_mean", "inertia_std", "inertia_count", "ari_mean"} <= set(frame.columns)
    assert "wall_s_mean" not in frame.columns


def test_latest_run_is_the_default(tmp_path, make):
    make.run(tmp_path / "results" / "20260101-000000-toy", make.toy_rows())
    done = cli("report", "-m", "inertia", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "**10.25 ± 0.1871 †**" in done.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["-m", "speed"], "unknown metric(s) speed"),
    (["--rows", "colour"], "unknown dimension 'colour'"),
    (["-f", "docx"], "unknown format 'docx'"),
    (["--agg", "mode"], "unknown aggregation 'mode'"),
    (["-f", "json", "-m", "inertia"], "needs a time in seconds"),
])
def test_user_errors_are_one_clear_line(toy_run, args, message):
    done = cli("report", str(toy_run), *args)
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr


TINY_SUITE = """
[suite]
name = "tiny"
description = "two backends, two datasets, a grid over n"
seeds = 2
repeats = 1
threads = 1

[[backend]]
name = "em"

[[backend]]
name = "sklearn"

[[dataset]]
name = "iris"

[[dataset]]
name = "blobs"
params = { d = 4, centers = 3 }
grid = { n = [500, 2000] }
"""


@pytest.mark.slow
def test_reference_report_in_one_command(tmp_path):
    (tmp_path / "tiny.toml").write_text(TINY_SUITE)
    done = cli("reference", "--suite", "tiny.toml", "-q", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    reference = tmp_path / "results" / "reference"
    files = {str(p.relative_to(reference)) for p in reference.rglob("*") if p.is_file()}
    expected = {"README.md", "environment.json", "table.md", "table.tex", "table.csv", "benchmark.json", "report.html",
                "run/results.parquet", "run/trace.parquet", "run/suite.toml", "run/environment.json"}
    expected |= {f"figures/{name}.{fmt}" for name in ("scaling", "convergence", "quality", "profile") for fmt in ("png", "svg")}
    assert expected <= files
    assert sum(p.stat().st_size for p in reference.rglob("*") if p.is_file()) < 5 * 2**20
    assert json.loads((reference / "environment.json").read_text())["suite"] == "tiny"
    readme = (reference / "README.md").read_text()
    assert "`diffclust reference --suite tiny.toml`" in readme and "| blobs(n=500,d=4,centers=3)" in readme
    with Image.open(reference / "figures" / "scaling.png") as image:
        image.verify()
    table = pd.read_csv(io.StringIO((reference / "table.csv").read_text()))
    assert set(table["backend"]) == {"em", "sklearn"} and (table["status"] == "ok").all()
    again = cli("report", "results/reference/run", "-m", "inertia", cwd=tmp_path)
    assert again.returncode == 0 and "blobs(n=2000,d=4,centers=3)" in again.stdout
