"""The exponents of time in n: fitted right, and shown by the text and HTML reports."""

from __future__ import annotations

import subprocess
import sys

import pytest

from diffclust.reporting.runs import load_runs
from diffclust.reporting.scaling import scaling_table


def report(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "diffclust", "report", *args], capture_output=True, text=True, timeout=120)


def test_the_table_has_each_backends_exponent_over_the_n_it_ran(grid_run):
    table = scaling_table(load_runs([grid_run]).results).set_index("backend")
    assert table.loc["alpha", "b"] == pytest.approx(1.0, abs=1e-6)
    assert table.loc["beta", "b"] == pytest.approx(2.0, abs=1e-9)
    assert table.loc["beta", "b (two largest n)"] == pytest.approx(2.0, abs=1e-9)
    assert "gamma" not in table.index  # it never succeeded: no fit
    assert table.loc["alpha", ["n from", "n to", "points"]].tolist() == [1000, 16000, 3]
    assert table.loc["beta", "wall_s at n to"] == pytest.approx(1e-9 * 16000**2)
    assert set(table["problem"]) == {"blobs, d=2, k=3"}


def test_markdown_latex_and_html_reports_show_the_exponents(grid_run, tmp_path):
    markdown = report(str(grid_run))
    assert markdown.returncode == 0, markdown.stderr
    assert "### Time against n" in markdown.stdout
    line = next(line for line in markdown.stdout.splitlines() if line.startswith("| blobs, d=2, k=3") and "beta" in line)
    assert line.rstrip(" |").endswith("2.00")
    latex = report(str(grid_run), "-f", "latex")
    assert "tab:diffclust-scaling" in latex.stdout and latex.stdout.count(r"\begin{table}") == 2
    assert "Time against n" not in report(str(grid_run), "-f", "csv").stdout  # one table per CSV
    page = tmp_path / "report.html"
    assert report(str(grid_run), "-o", str(page)).returncode == 0
    html = page.read_text()
    assert 'id="scaling"' in html and "2.00" in html


def test_runs_with_no_sweep_over_n_have_no_exponents(tmp_path, make):
    run = make.run(tmp_path / "toy", make.toy_rows())
    assert scaling_table(load_runs([run]).results).empty
    done = report(str(run))
    assert done.returncode == 0 and "Time against n" not in done.stdout
