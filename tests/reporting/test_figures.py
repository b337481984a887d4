"""Figures: the files `diffclust plot` writes are real images, and they show the right things."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from PIL import Image

from diffclust.reporting.figures import FIGURES, make_figures, quality_figure, scaling_figure
from diffclust.reporting.runs import load_runs


def test_plot_writes_valid_png_and_svg(grid_run, tmp_path):
    out = tmp_path / "figures"
    done = subprocess.run([sys.executable, "-m", "diffclust", "plot", str(grid_run), "-o", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    for name in FIGURES:
        png, svg = out / f"{name}.png", out / f"{name}.svg"
        with Image.open(png) as image:
            image.verify()
        with Image.open(png) as image:
            assert image.format == "PNG" and image.width > 300 and image.height > 200
            assert len(image.convert("RGB").getcolors(maxcolors=1 << 20)) > 20  # drawn, not blank
        root = ET.parse(svg).getroot()
        assert root.tag.endswith("svg")
        assert f"wrote {png}" in done.stderr


def test_scaling_legend_has_the_fitted_exponent(grid_run):
    results = load_runs([grid_run]).results
    figure = scaling_figure(results)
    legend = [t.get_text() for t in figure.axes[0].get_legend().get_texts()]
    assert "alpha (b = 1.00)" in legend and "beta (b = 2.00)" in legend
    assert not any(label.startswith("gamma") for label in legend)
    assert figure.axes[0].get_xscale() == "log" and figure.axes[0].get_yscale() == "log"
    assert "blobs, d=2, k=3: n varies" == figure.axes[0].get_title()


def test_quality_shows_failures_by_status(grid_run):
    figure = quality_figure(load_runs([grid_run]).results)
    texts = [t.get_text() for ax in figure.axes for t in ax.texts]
    assert texts.count("crashed") == 2 * 3  # rel_gap and ARI panels, one per problem (grid_run has three n)


def test_figures_the_runs_cannot_make_are_skipped_with_a_reason(tmp_path, make):
    rows = [make.row("alpha", "toy", s, inertia=1.0, wall_s=1.0) for s in range(2)]
    runs = load_runs([make.run(tmp_path / "r", rows)])
    figures, skipped = make_figures(runs)
    assert "convergence" in skipped and "no traces" in skipped["convergence"]
    assert "profile" in skipped and "two or more" in skipped["profile"]
    assert "scaling" in figures and "quality" in figures
