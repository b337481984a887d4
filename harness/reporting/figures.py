"""Figures for a paper, drawn with matplotlib's Agg canvas (no display, no pyplot state).

- ``scaling``: time against n on log-log axes, one line per backend, the fitted exponent b
  of t ∝ n^b in the legend;
- ``convergence``: objective against fit time, from the traces, one panel per problem;
- ``quality``: rel_gap and ARI per backend and problem, with error bars;
- ``profile``: a Dolan–Moré performance profile of wall time.

Every function returns a :class:`matplotlib.figure.Figure`, or raises
:class:`FigureSkipped` saying why the runs cannot make it. Backends are told apart by
colour and marker, the same in every figure.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from diffclust.errors import DiffclustError
from diffclust.reporting.aggregate import centre_and_spread, check_aggregation, seed_statistics
from diffclust.reporting.metricinfo import TIME_METRICS, metric_info
from diffclust.reporting.profiles import performance_ratios, profile
from diffclust.reporting.runs import Runs
from diffclust.reporting.scaling import contenders, grown_families, scaling_exponent, series, usable_rows

FIGURES = ("scaling", "convergence", "quality", "profile")
FORMATS = ("png", "svg")
MARKERS = "osD^vPX*<>h"
#: Fixed so that regenerated SVGs differ only where the figure does.
RC = {"svg.hashsalt": "diffclust", "font.size": 9, "axes.titlesize": 9, "legend.fontsize": 8,
      "axes.spines.top": False, "axes.spines.right": False}


class FigureSkipped(Exception):
    """The runs hold nothing this figure can show (no traces, no timings...)."""


def _matplotlib():
    try:
        import matplotlib
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise DiffclustError("figures need matplotlib; install it with `pip install 'diffclust[plot]'`.") from exc
    return matplotlib, Figure, FigureCanvasAgg


def new_figure(width: float, height: float):
    """A figure on an Agg canvas, independent of any pyplot state or display."""
    _, Figure, FigureCanvasAgg = _matplotlib()
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


class Palette:
    """One colour and marker per contender, in order of first appearance."""

    def __init__(self, names: Sequence[str]) -> None:
        matplotlib, _, _ = _matplotlib()
        colours = matplotlib.colormaps["tab10"].colors
        self.style = {name: (colours[i % len(colours)], MARKERS[i % len(MARKERS)]) for i, name in enumerate(dict.fromkeys(names))}

    def colour(self, name: str):
        return self.style[name][0]

    def marker(self, name: str) -> str:
        return self.style[name][1]


def _grid(count: int, width: float = 3.6, height: float = 2.9, most_columns: int = 3):
    columns = min(most_columns, count)
    rows = math.ceil(count / columns)
    figure = new_figure(width * columns, height * rows)
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for ax in axes[count:]:
        ax.set_visible(False)
    return figure, axes[:count]


def _problem_title(results: pd.DataFrame, label: str) -> str:
    """``digits (n=1,797, d=64, k=10)``; just the label when no row got as far as the data."""
    if not {"n", "d", "k"} <= set(results.columns):
        return label
    loaded = results[results["n"].notna()]
    if loaded.empty:
        return label
    row = loaded.iloc[0]
    return f"{label} (n={int(row['n']):,}, d={int(row['d'])}, k={int(row['k'])})"


# -- scaling ------------------------------------------------------------------------------


def scaling_figure(results: pd.DataFrame, metric: str = "wall_s", agg: str = "mean-std"):
    """Time against n, log-log, one line per backend, the fitted exponent in the legend.

    Datasets that ran at several n with d and k fixed (a grid over n) get a panel each;
    when there is none, one panel shows every problem and says that d and k vary.
    """
    check_aggregation(agg)
    ok = usable_rows(results, metric)
    if ok.empty:
        raise FigureSkipped(f"no successful row has {metric} and n")
    palette = Palette(contenders(results))
    panels = [(f"{family}: n varies", ok[ok["family"] == family]) for family in grown_families(ok)]
    if not panels:
        panels = [("all problems (d and k vary with n)", ok)]
    figure, axes = _grid(len(panels), width=4.6, height=3.4)
    info = metric_info(metric)
    for ax, (title, rows) in zip(axes, panels):
        for name, n, centre, low, high in series(rows, metric, agg):
            colour = palette.colour(name)
            exponent = scaling_exponent(n, centre)
            label = f"{name} (b = {exponent:.2f})" if math.isfinite(exponent) else f"{name} (one n: no fit)"
            ax.errorbar(n, centre, yerr=[np.clip(centre - low, 0, None), np.clip(high - centre, 0, None)],
                        color=colour, marker=palette.marker(name), markersize=4, capsize=2, linestyle="none", label=label)
            if math.isfinite(exponent):
                keep = (n > 0) & (centre > 0)
                intercept = np.mean(np.log(centre[keep]) - exponent * np.log(n[keep]))
                line = np.geomspace(n[keep].min(), n[keep].max(), 50)
                ax.plot(line, np.exp(intercept) * line**exponent, color=colour, linewidth=1.1, linestyle="--")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("n (points)")
        ax.set_ylabel(info.title)
        ax.set_title(title)
        ax.legend(title=r"fit $t \propto n^b$", frameon=False)
        ax.grid(True, which="major", alpha=0.3)
    return figure


# -- convergence --------------------------------------------------------------------------


def convergence_figure(results: pd.DataFrame, trace: pd.DataFrame):
    """Objective against fit time from ``trace.parquet``: one panel per problem, one colour
    per backend, one line per seed; the dashed line is the best inertia known for the data."""
    if trace.empty:
        raise FigureSkipped("the runs recorded no traces")
    trace = trace[np.isfinite(trace["objective"]) & (trace["time_s"] > 0)].copy()
    if trace.empty:
        raise FigureSkipped("the traces hold no point with a positive time")
    palette = Palette(contenders(results))
    devices_differ = results["device"].nunique() > 1
    trace["contender"] = trace["backend_label"].astype(str) + (("@" + trace["device"].astype(str)) if devices_differ else "")
    problems = list(trace.groupby(["dataset_label", "device"], sort=False).groups)
    from matplotlib.ticker import NullFormatter

    figure, axes = _grid(len(problems))
    for ax, (label, device) in zip(axes, problems):
        points = trace[(trace["dataset_label"] == label) & (trace["device"] == device)]
        for name, curves in points.groupby("contender", sort=False):
            for i, (_, curve) in enumerate(curves.groupby(["run", "seed"], sort=False)):
                curve = curve.sort_values("time_s")
                ax.plot(curve["time_s"], curve["objective"], color=palette.colour(name), alpha=0.75, linewidth=1,
                        marker=palette.marker(name), markersize=2.5, label=name if i == 0 else None)
        same = results[(results["dataset_label"] == label) & (results["device"] == device)]
        best = pd.concat([same["inertia"].where(same["status"] == "ok"), same.get("best_known_inertia", pd.Series(dtype=float))]).min()
        if np.isfinite(best):
            ax.axhline(best, color="0.4", linestyle="--", linewidth=0.8, label="best known")
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.ticklabel_format(axis="y", useOffset=False)
        low, high = ax.get_ylim()
        middle, least = (low + high) / 2, 2e-4 * abs((low + high) / 2)
        if high - low < least:  # every curve at the optimum: show it flat, not magnified noise
            ax.set_ylim(middle - least / 2, middle + least / 2)
        ax.set_xlabel("fit time (s)")
        ax.set_ylabel("objective ‖X − UM‖²")
        ax.set_title(_problem_title(same, label) + (f" · {device}" if devices_differ else ""))
        ax.legend(frameon=False)
        ax.grid(True, alpha=0.3)
    return figure


# -- quality ------------------------------------------------------------------------------


def quality_figure(results: pd.DataFrame, metrics: Sequence[str] = ("rel_gap", "ari"), agg: str = "mean-std"):
    """Grouped bars per problem, one bar per backend with error bars over seeds; a failed
    backend's place says its status instead."""
    check_aggregation(agg)
    shown = [m for m in metrics if m in results and pd.to_numeric(results[m], errors="coerce").notna().any()]
    if not shown:
        raise FigureSkipped(f"no row has {' or '.join(metrics)}")
    results = results.assign(contender=contenders(results))
    names = list(dict.fromkeys(results["contender"]))
    palette = Palette(names)
    problems = list(dict.fromkeys(results["dataset_label"].astype(str)))
    figure = new_figure(max(5.0, 2.0 + 0.5 * len(problems) * len(names)), 2.6 * len(shown))
    axes = figure.subplots(len(shown), 1, squeeze=False).ravel()
    width = 0.8 / max(len(names), 1)
    for ax, metric in zip(axes, shown):
        info = metric_info(metric)
        scale = 100.0 if info.fmt.endswith("%") else 1.0
        for j, name in enumerate(names):
            for i, problem in enumerate(problems):
                rows = results[(results["contender"] == name) & (results["dataset_label"].astype(str) == problem)]
                if rows.empty:
                    continue
                x = i + (j - (len(names) - 1) / 2) * width
                ok = rows[rows["status"] == "ok"]
                values = pd.to_numeric(ok[metric], errors="coerce").to_numpy(float) * scale
                if ok.empty or not np.isfinite(values).any():
                    text = "/".join(sorted(set(rows["status"]))) if ok.empty else "n/a"
                    ax.text(x, 0, text, rotation=90, ha="center", va="bottom", fontsize=6, color="0.35")
                    continue
                centre, low, high = centre_and_spread(seed_statistics(values), agg)
                ax.bar(x, centre, width=width * 0.9, color=palette.colour(name), label=name if i == 0 else None,
                       yerr=[[max(centre - low, 0)], [max(high - centre, 0)]], capsize=2, error_kw={"linewidth": 0.8})
        ax.set_xticks(range(len(problems)), problems, rotation=15, ha="right")
        ax.set_ylabel(info.title + (" (%)" if scale == 100.0 else ""))
        ax.axhline(0, color="0.2", linewidth=0.6)
        ax.grid(True, axis="y", alpha=0.3)
    spread = "mean ± std" if agg == "mean-std" else "median and interquartile range"
    handles, labels = axes[0].get_legend_handles_labels()
    figure.suptitle(f"Quality per backend ({spread} over seeds)")
    if handles:
        figure.legend(handles, labels, frameon=False, loc="outside right upper")
    return figure


# -- performance profile ------------------------------------------------------------------


def profile_figure(results: pd.DataFrame, metric: str = "wall_s"):
    """Dolan–Moré performance profile: for each backend, the fraction of problems (data ×
    seed) it solves within a factor tau of the best backend's ``metric``."""
    if metric not in results:
        raise FigureSkipped(f"the results have no {metric}")
    results = results.assign(contender=contenders(results))
    if results["contender"].nunique() < 2:
        raise FigureSkipped("a performance profile needs two or more backends")
    ratios = performance_ratios(results, metric, "contender", ["dataset_label", "seed"])
    finite = ratios.to_numpy()[np.isfinite(ratios.to_numpy())]
    if finite.size == 0:
        raise FigureSkipped(f"no problem has a successful {metric}")
    top = max(2.0, float(finite.max()) * 1.25)
    taus = np.geomspace(1.0, top, 400)
    palette = Palette(results["contender"])
    figure = new_figure(4.8, 3.4)
    ax = figure.subplots()
    for name in ratios.columns:
        ax.step(taus, profile(ratios[name], taus), where="post", color=palette.colour(name), linewidth=1.5, label=name)
    ax.set_xscale("log", base=2)
    ax.set_xlim(1, top)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(f"τ: within this factor of the best {metric_info(metric).title}")
    ax.set_ylabel("fraction of problems")
    ax.set_title(f"Performance profile, {len(ratios)} problems (data × seed)")
    ax.legend(frameon=False, loc="lower right")
    ax.grid(True, alpha=0.3)
    return figure


# -- all of them ---------------------------------------------------------------------------


def make_figures(runs: Runs, *, agg: str = "mean-std", time_metric: str = "wall_s",
                 which: Sequence[str] = FIGURES) -> tuple[dict[str, object], dict[str, str]]:
    """The figures the runs can make, by name, and the reason for each that they cannot."""
    if time_metric not in TIME_METRICS and time_metric not in runs.results:
        raise DiffclustError(f"unknown time metric {time_metric!r}; choose one of {', '.join(TIME_METRICS)}.")
    unknown = [w for w in which if w not in FIGURES]
    if unknown:
        raise DiffclustError(f"unknown figure(s) {', '.join(unknown)}; choose from {', '.join(FIGURES)}.")
    matplotlib, _, _ = _matplotlib()
    makers = {
        "scaling": lambda: scaling_figure(runs.results, time_metric, agg),
        "convergence": lambda: convergence_figure(runs.results, runs.trace),
        "quality": lambda: quality_figure(runs.results, agg=agg),
        "profile": lambda: profile_figure(runs.results, time_metric),
    }
    figures, skipped = {}, {}
    with matplotlib.rc_context(RC):
        for name in which:
            try:
                figures[name] = makers[name]()
            except FigureSkipped as exc:
                skipped[name] = str(exc)
    return figures, skipped


def figure_bytes(figure, fmt: str) -> bytes:
    """The figure encoded as ``png`` (150 dpi) or ``svg``, reproducibly (no date stamp)."""
    matplotlib, _, _ = _matplotlib()
    buffer = io.BytesIO()
    metadata = {"Date": None} if fmt == "svg" else {"Software": None}
    with matplotlib.rc_context(RC):
        figure.savefig(buffer, format=fmt, dpi=150, metadata=metadata)
    return buffer.getvalue()


def save_figures(figures: dict[str, object], out_dir: Path, formats: Sequence[str] = FORMATS) -> list[Path]:
    """Write each figure as ``<out_dir>/<name>.<fmt>``; the paths written."""
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise DiffclustError(f"unknown figure format(s) {', '.join(bad)}; choose from {', '.join(FORMATS)}.")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, figure in figures.items():
        for fmt in formats:
            path = out_dir / f"{name}.{fmt}"
            path.write_bytes(figure_bytes(figure, fmt))
            written.append(path)
    return written
