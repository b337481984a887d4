"""Timing a fit fairly: device-synchronized clock reads and a trace that stops the clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from diffclust.problem import to_numpy


@dataclass
class TracePoint:
    step: int
    time_s: float  # fit time up to this step, recording excluded
    centroids: np.ndarray


@dataclass
class TraceRecorder:
    """The ``trace(step, centroids)`` callable handed to a backend.

    On each call it synchronizes the device, notes the fit time so far, copies the
    centroids to the host, and adds the time that took to ``paused_s`` so the runner can
    take it out of the measured time.
    """

    synchronize: Callable[[], None]
    start: float = field(default_factory=time.perf_counter)
    paused_s: float = 0.0
    points: list[TracePoint] = field(default_factory=list)

    def __call__(self, step: int, centroids: Any) -> None:
        self.synchronize()
        now = time.perf_counter()
        copy = np.array(to_numpy(centroids), dtype=np.float64, copy=True)
        self.points.append(TracePoint(int(step), now - self.start - self.paused_s, copy))
        self.paused_s += time.perf_counter() - now

    def elapsed(self) -> float:
        """Fit time so far, recording excluded."""
        return time.perf_counter() - self.start - self.paused_s


def thin(points: list[TracePoint], most: int) -> list[TracePoint]:
    """At most ``most`` points, evenly spread, first and last kept."""
    if len(points) <= most:
        return points
    index = np.unique(np.linspace(0, len(points) - 1, most).round().astype(int))
    return [points[i] for i in index]
