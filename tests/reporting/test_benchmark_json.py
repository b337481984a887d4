"""The pytest-benchmark export: `pytest-benchmark compare` reads two exported runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pytest_benchmark")


def export(run: Path, out: Path) -> dict:
    done = subprocess.run([sys.executable, "-m", "diffclust", "report", str(run), "-o", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(out.read_text())


def pytest_benchmark_cli() -> list[str]:
    """The ``pytest-benchmark`` script installed beside this Python, else its module."""
    script = Path(sys.executable).parent / "pytest-benchmark"
    return [str(script)] if script.exists() else [sys.executable, "-m", "pytest_benchmark"]


def test_export_holds_seeds_as_rounds(tmp_path, make):
    document = export(make.run(tmp_path / "a", make.toy_rows()), tmp_path / "a.json")
    benchmarks = {b["fullname"]: b for b in document["benchmarks"]}
    alpha = benchmarks["diffclust::alpha[toy-cpu]"]
    assert alpha["stats"]["rounds"] == 6 and len(alpha["stats"]["data"]) == 6
    assert alpha["stats"]["mean"] == pytest.approx(1.025)
    assert alpha["stats"]["min"] == pytest.approx(1.0) and alpha["stats"]["max"] == pytest.approx(1.05)
    assert alpha["extra_info"]["inertia"] == pytest.approx(10.25) and alpha["extra_info"]["metric"] == "wall_s"
    assert "diffclust::gamma[toy-cpu]" not in benchmarks  # no seed succeeded: no timings
    assert {"name": "gamma[toy-cpu]", "status": "timeout"}.items() <= document["diffclust"]["failed"][0].items()
    assert benchmarks["diffclust::delta[toy-cpu]"]["stats"]["rounds"] == 5


def test_pytest_benchmark_compare_reads_two_runs(tmp_path, make):
    # pytest-benchmark orders sources by file name; the first is the reference.
    export(make.run(tmp_path / "before", make.toy_rows()), tmp_path / "1-before.json")
    export(make.run(tmp_path / "after", make.toy_rows(wall_scale=2.0)), tmp_path / "2-after.json")
    done = subprocess.run([*pytest_benchmark_cli(), "compare", "1-before.json", "2-after.json", "--between", "mean,min"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    output = done.stdout + done.stderr
    assert "Failed to load" not in output
    lines = {line.split()[0]: line for line in output.splitlines() if "[toy-cpu]" in line}
    assert set(lines) == {"alpha[toy-cpu]", "beta[toy-cpu]", "delta[toy-cpu]"}
    # every time doubled in the second run: +100% on each, for the mean and the min
    assert all(line.count("+100.0%") == 2 for line in lines.values()), output
    table = subprocess.run([*pytest_benchmark_cli(), "compare", "1-before.json", "2-after.json"],
                           capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    assert "alpha[toy-cpu] (1-before)" in table.stdout and "alpha[toy-cpu] (2-after)" in table.stdout
