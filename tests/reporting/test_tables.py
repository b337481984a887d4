"""Comparison tables from a hand-made run: values, bold, significance marks, status cells,
and every format read back by a parser."""

from __future__ import annotations

import io
import shutil
import subprocess
import re
from html.parser import HTMLParser

import pandas as pd
import pytest

from diffclust.errors import DiffclustError
from diffclust.reporting.runs import load_runs
from diffclust.reporting.tables import build_table, to_csv, to_html, to_latex, to_markdown


@pytest.fixture
def table(toy_run):
    return build_table(load_runs([toy_run]).results)


def md_cells(markdown: str) -> dict[tuple[str, str], list[str]]:
    """(dataset, backend) -> the cells of that Markdown row."""
    cells = {}
    for line in markdown.splitlines():
        if line.startswith("|") and not line.startswith("|:"):
            parts = [p.strip() for p in line.strip("|").split("|")]
            cells[(parts[0], parts[1])] = parts[2:]
    return cells


def test_values_bold_marks_and_statuses(table):
    text = table.wide("text")
    assert text.loc[("toy", "alpha"), "inertia"] == "10.25 ± 0.1871"
    assert text.loc[("toy", "beta"), "inertia"] == "11.25 ± 0.1871"
    assert text.loc[("toy", "alpha"), "rel_gap"] == "2.50% ± 1.87%"
    assert text.loc[("toy", "gamma"), "wall_s"] == "timeout"
    assert text.loc[("toy", "delta"), "inertia"] == "32.6 ± 2.074 (1 crashed)"
    assert text.loc[("plain", "alpha"), "ari"] == "n/a"
    assert not text.isin(["", "nan", "NaN"]).any().any()

    cells = md_cells(to_markdown(table))
    header = ["inertia", "rel_gap", "ari", "nmi", "wall_s"]
    toy_alpha = dict(zip(header, cells[("toy", "alpha")]))
    toy_beta = dict(zip(header, cells[("toy", "beta")]))
    # alpha wins inertia on every seed: bold and marked (p = 1/64 < 0.05).
    assert toy_alpha["inertia"] == "**10.25 ± 0.1871 †**"
    assert toy_beta["inertia"] == "11.25 ± 0.1871"
    # ARI: higher is better; beta is best on average but not on every seed: bold, no mark.
    assert toy_beta["ari"] == "**0.875 ± 0.027**"
    assert toy_alpha["ari"] == "0.850 ± 0.055"
    # Time: lower is better; beta is best on every seed.
    assert toy_beta["wall_s"] == "**0.525 ± 0.0187 †**"
    # Equal values are a tie: both bold, neither marked.
    assert dict(zip(header, cells[("toy", "alpha")]))["nmi"] == "**0.700 ± 0.000**"
    assert dict(zip(header, cells[("toy", "beta")]))["nmi"] == "**0.700 ± 0.000**"
    # Failed cells show their status; a partly failed cell competes for nothing.
    assert cells[("toy", "gamma")] == ["timeout"] * 5
    assert all("**" not in c for c in cells[("toy", "delta")])


def test_caption_names_the_test_and_alpha(table):
    caption = table.caption()
    assert "Wilcoxon" in caption and "p < 0.05" in caption
    assert "lower is better for inertia, rel_gap, wall_s" in caption and "higher for ari, nmi" in caption
    assert "smallest attainable p is 0.0156" in caption


def test_three_seeds_cannot_be_significant_with_wilcoxon(tmp_path, make):
    rows = [r for r in make.toy_rows() if r["seed"] < 3]
    table = build_table(load_runs([make.run(tmp_path / "r", rows)]).results)
    assert table.cells["best"].any()
    assert not table.cells["significant"].any()
    assert "smallest attainable p is 0.125" in table.caption()


def test_bootstrap_marks_and_says_so(toy_run):
    table = build_table(load_runs([toy_run]).results, test="bootstrap", alpha=0.1)
    marked = table.cells[table.cells["significant"]]
    assert {("alpha", "inertia"), ("beta", "wall_s")} <= set(zip(marked["backend_label"], marked["metric"]))
    assert "90% percentile bootstrap interval" in table.caption()


def test_median_iqr(toy_run):
    table = build_table(load_runs([toy_run]).results, metrics=["inertia"], agg="median-iqr")
    assert table.wide("text").loc[("toy", "alpha"), "inertia"] == "10.25 [10.125, 10.375]"
    assert table.caption().startswith("Median [interquartile range]")


def test_rows_and_columns_are_chosen(toy_run):
    table = build_table(load_runs([toy_run]).results, metrics=["inertia", "wall_s"], rows=["backend"], cols=["dataset"])
    wide = table.wide("text")
    assert list(wide.index) == ["alpha", "beta", "gamma", "delta"]
    assert list(wide.columns) == [("inertia", "toy"), ("inertia", "plain"), ("wall_s", "toy"), ("wall_s", "plain")]
    # gamma and delta never ran on "plain": the cell says so instead of being blank.
    assert wide.loc["gamma", ("inertia", "plain")] == "not run"
    assert wide.loc["gamma", ("inertia", "toy")] == "timeout"
    best = table.wide("best", fill=False)
    assert best.loc["alpha", ("inertia", "toy")] and not best.loc["beta", ("inertia", "toy")]
    assert "inertia · plain" in to_markdown(table)


def test_a_varying_device_joins_the_rows(tmp_path, make):
    rows = [make.row("alpha", "toy", s, device=dev, inertia=1.0 + s, wall_s=1.0) for s in range(3) for dev in ("cpu", "cuda:0")]
    table = build_table(load_runs([make.run(tmp_path / "r", rows)]).results, rows=["backend"], cols=["dataset"])
    assert table.rows == ["backend_label", "device"]
    assert any("device" in note for note in table.notes)
    assert set(table.wide("text").index) == {("alpha", "cpu"), ("alpha", "cuda:0")}


def test_backend_variants_are_told_apart(tmp_path, make):
    rows = [dict(make.row("alpha", "toy", s, inertia=1.0, wall_s=1.0), p_backend_tol=tol,
                 cell_key=f"alpha-{tol}-{s}") for s in range(2) for tol in (0.0, 0.001)]
    table = build_table(load_runs([make.run(tmp_path / "r", rows)]).results, rows=["backend"])
    assert set(table.wide("text").index) == {"alpha(tol=0.0)", "alpha(tol=0.001)"}


def test_merged_runs_keep_one_copy_of_a_cell(tmp_path, make):
    first = make.run(tmp_path / "a", make.toy_rows())
    second = make.run(tmp_path / "b", [r for r in make.toy_rows(wall_scale=2.0) if r["backend"] == "alpha"])
    runs = load_runs([first, second])
    assert len(runs.results) == len(make.toy_rows())
    assert runs.notes and "run" in runs.notes[0]
    alpha = runs.results[runs.results["backend"] == "alpha"]
    assert set(alpha["run"]) == {"b"}
    both = load_runs([first, second], keep_duplicates=True)
    table = build_table(both.results, metrics=["wall_s"], rows=["backend", "run"], cols=["dataset"])
    assert table.wide("text").loc[("alpha", "b"), ("wall_s", "toy")] == "2.05 ± 0.0374"


def test_bad_names_are_clear_errors(toy_run):
    results = load_runs([toy_run]).results
    with pytest.raises(DiffclustError, match="unknown metric.*speed"):
        build_table(results, metrics=["speed"])
    with pytest.raises(DiffclustError, match="unknown dimension 'colour'"):
        build_table(results, rows=["colour"])
    with pytest.raises(DiffclustError, match="unknown aggregation"):
        build_table(results, agg="mode")
    with pytest.raises(DiffclustError, match="both --rows and --cols"):
        build_table(results, rows=["backend"], cols=["backend"])


# -- every format parses back -------------------------------------------------------------


def test_csv_is_numbers_with_a_status(table):
    frame = pd.read_csv(io.StringIO(to_csv(table)))
    alpha = frame[(frame["dataset"] == "toy") & (frame["backend"] == "alpha")].iloc[0]
    assert alpha["inertia_mean"] == pytest.approx(10.25)
    assert alpha["inertia_std"] == pytest.approx(0.1870828693)
    assert alpha["inertia_count"] == 6
    assert bool(alpha["inertia_best"]) and bool(alpha["inertia_significant"])
    assert alpha["inertia_p"] == pytest.approx(1 / 64)
    gamma = frame[frame["backend"] == "gamma"].iloc[0]
    assert gamma["status"] == "timeout" and gamma["seeds_ok"] == 0 and pd.isna(gamma["inertia_mean"])
    delta = frame[frame["backend"] == "delta"].iloc[0]
    assert delta["status"] == "partial" and delta["failures"] == "1 crashed" and delta["inertia_count"] == 5
    assert frame["inertia_mean"].dtype.kind == "f"


class CellCollector(HTMLParser):
    """The text of every <td>/<th>, row by row, and the CSS rules of <style>."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[tuple[str, dict]]] = []
        self.style = ""
        self._cell: list[str] | None = None
        self._attrs: dict = {}
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell, self._attrs = [], dict(attrs)
        elif tag == "style":
            self._in_style = True

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(("".join(self._cell).strip(), self._attrs))
            self._cell = None
        elif tag == "style":
            self._in_style = False

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        elif self._in_style:
            self.style += data


def test_html_table_parses_and_bolds_the_best(table):
    parser = CellCollector()
    parser.feed(to_html(table))
    alpha = [c for c in parser.rows if any(text == "alpha" for text, _ in c)][0]
    inertia_cell = [(text, attrs) for text, attrs in alpha if attrs.get("class", "").startswith("data")][0]
    assert inertia_cell[0] == "10.25 ± 0.1871 †"
    bold_rule = re.search(r"([^{}]*)\{\s*font-weight: bold;\s*\}", parser.style)
    assert bold_rule and f"#{inertia_cell[1]['id']}" in bold_rule.group(1)
    gamma = [c for c in parser.rows if any(text == "gamma" for text, _ in c)][0]
    statuses = [(text, attrs) for text, attrs in gamma if "data" in attrs.get("class", "")]
    assert statuses and all(text == "timeout" and "failed" in attrs["class"] for text, attrs in statuses)


def test_latex_is_balanced_booktabs(table):
    latex = to_latex(table)
    assert latex.count("{") == latex.count("}")
    stack = []
    for kind, name in re.findall(r"\\(begin|end)\{(\w+)\}", latex):
        if kind == "begin":
            stack.append(name)
        else:
            assert stack and stack.pop() == name
    assert not stack
    for rule in (r"\toprule", r"\midrule", r"\bottomrule"):
        assert latex.count(rule) == 1
    assert r"\bfseries 10.25 $\pm$ 0.1871 $^{\dagger}$" in latex
    assert r"rel\_gap" in latex and "2.50\\% $\\pm$ 1.87\\%" in latex
    assert r"\caption{" in latex and "Wilcoxon" in latex
    assert "timeout" in latex and not re.search(r"\bnan\b", latex, re.IGNORECASE)


def test_a_run_where_nothing_ran_shows_statuses(tmp_path, make):
    rows = [{k: v for k, v in make.row("alpha", "toy", s, status="unavailable").items()
             if k in ("cell_key", "backend", "dataset", "dataset_label", "device", "seed", "status", "error")}
            for s in range(2)]
    table = build_table(load_runs([make.run(tmp_path / "r", rows)]).results)
    assert set(table.wide("text").iloc[0]) == {"unavailable"}
    assert "unavailable" in to_markdown(table)


def test_numeric_dimensions_sort_as_numbers(tmp_path, make):
    rows = [make.row(backend, f"blobs(n={n})", s, n=n, inertia=float(n), wall_s=n * (1e-6 if backend == "alpha" else 2e-6))
            for n in (16000, 1000, 4000) for backend in ("alpha", "beta") for s in range(2)]
    table = build_table(load_runs([make.run(tmp_path / "r", rows)]).results, metrics=["wall_s"], rows=["backend"], cols=["n"])
    wide = table.wide("text")
    assert list(wide.columns) == [("wall_s", 1000), ("wall_s", 4000), ("wall_s", 16000)]
    assert table.wide("best", fill=False).loc["alpha"].all()
    assert r"\multicolumn{3}{c}{wall\_s}" in to_latex(table)


def test_numeric_columns_sort_as_numbers_when_some_rows_lack_some_values(tmp_path, make):
    # alpha's first rows (the "big" dataset) ran at the largest n only: its column still goes last.
    rows = [make.row("alpha", "big(n=16000)", s, n=16000, d=8, wall_s=1.0) for s in range(2)]
    rows += [make.row(b, f"grid(n={n})", s, n=n, wall_s=n * 1e-6) for b in ("alpha", "beta") for n in (1000, 4000, 16000) for s in range(2)]
    for row in rows:
        row["dataset"] = row["dataset_label"].split("(")[0]
    table = build_table(load_runs([make.run(tmp_path / "r", rows)]).results, metrics=["wall_s"],
                        rows=["backend", "dataset"], cols=["n"], compare=None)
    assert list(table.wide("text").columns) == [("wall_s", 1000), ("wall_s", 4000), ("wall_s", 16000)]


def test_latex_compiles_where_pdflatex_is_installed(table, tmp_path):
    pdflatex = shutil.which("pdflatex")
    if pdflatex is None:
        pytest.skip("pdflatex is not installed; the balance check above still ran")
    (tmp_path / "table.tex").write_text(to_latex(table), encoding="utf-8")
    (tmp_path / "paper.tex").write_text(
        "\\documentclass{article}\n\\usepackage[T1]{fontenc}\n\\usepackage{booktabs}\n"
        "\\begin{document}\n\\input{table}\n\\end{document}\n", encoding="utf-8")
    done = subprocess.run([pdflatex, "-interaction=nonstopmode", "-halt-on-error", "paper.tex"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:]
    assert (tmp_path / "paper.pdf").stat().st_size > 1000
