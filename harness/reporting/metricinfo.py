"""What each metric means for a report: which way is better, how to write it, its label.

A metric nobody described here (a plugin's own column, say) still reports: it is written
with ``.4g`` and gets no "best" mark, because the report cannot know which way is better.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Better = Literal["lower", "higher"]


@dataclass(frozen=True)
class MetricInfo:
    """How a report treats one metric column of ``results.parquet``."""

    name: str
    better: Better | None
    fmt: str = ".4g"
    label: str = ""

    @property
    def title(self) -> str:
        """The axis label of a figure: the label, else the name."""
        return self.label or self.name

    def key(self, value: float) -> float:
        """A sort key where smaller is better (only for metrics with a direction)."""
        return value if self.better == "lower" else -value


METRICS: dict[str, MetricInfo] = {
    m.name: m
    for m in (
        MetricInfo("objective", "lower", ",.6g", "objective ‖X − UM‖²"),
        MetricInfo("inertia", "lower", ",.6g", "inertia"),
        MetricInfo("rel_gap", "lower", ".2%", "gap to best inertia"),
        MetricInfo("ari", "higher", ".3f", "ARI"),
        MetricInfo("nmi", "higher", ".3f", "NMI"),
        MetricInfo("wall_s", "lower", ".3g", "wall time (s)"),
        MetricInfo("wall_s_min", "lower", ".3g", "fastest repeat (s)"),
        MetricInfo("wall_s_max", "lower", ".3g", "slowest repeat (s)"),
        MetricInfo("first_s", "lower", ".3g", "first call, compilation included (s)"),
        MetricInfo("time_per_iter_s", "lower", ".3g", "time per iteration (s)"),
        MetricInfo("iter_over_floor", "lower", ".3g", "time per iteration / GEMM floor"),
        MetricInfo("gemm_floor_s", None, ".3g", "GEMM floor of one iteration (s)"),
        MetricInfo("peak_rss_mb", "lower", ".0f", "peak host memory (MB)"),
        MetricInfo("peak_device_mb", "lower", ".0f", "peak device memory (MB)"),
        MetricInfo("empty_clusters", "lower", ".1f", "empty clusters"),
        MetricInfo("n_iter", None, ".0f", "iterations"),
    )
}

#: Timing metrics, in seconds: what a pytest-benchmark export and a scaling plot can use.
TIME_METRICS = tuple(name for name in METRICS if name.endswith("_s"))


def metric_info(name: str) -> MetricInfo:
    """The description of ``name``; a neutral one for a metric not described here."""
    return METRICS.get(name, MetricInfo(name, None))
