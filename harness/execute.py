"""Running one cell where its data lives: load, make the problem, time the fits, score them.

``run_cell`` never raises for anything a backend or dataset does: every outcome becomes a
row with a status. Executors (in-process, worker process, Dask) only decide where it runs.
"""

from __future__ import annotations

import importlib
import json
import math
import statistics
import time
import traceback
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from diffclust.floor import gemm_floor_s
from diffclust.errors import DataError, DiffclustError, InvalidFitError
from diffclust.init import initial_centroids
from diffclust.kmeans_math import assign
from diffclust.memory import PeakRSS
from diffclust.metrics import assignment_cost, inertia, score
from diffclust.problem import Problem, validate_data, validate_fit, validate_k
from diffclust.registry import get_registry
from diffclust.suite import Cell, describe
from diffclust.timing import TraceRecorder, thin

STATUSES = ("ok", "error", "timeout", "crashed", "invalid", "unavailable")
#: Trace points scored per cell: at most 60 (evenly thinned beyond that), fewer on large
#: problems so that scoring (one assignment pass per point) stays within a flop budget.
MAX_TRACE_POINTS = 60
MIN_TRACE_POINTS = 5
TRACE_FLOP_BUDGET = 1e12


@dataclass
class CellResult:
    """What running a cell produced: its row, its convergence points and a log."""

    row: dict[str, Any]
    trace: list[dict[str, Any]] = field(default_factory=list)
    log: str = ""


# -- data, cached per process -----------------------------------------------------------

_DATA_CACHE: OrderedDict[str, Any] = OrderedDict()
_DATA_CACHE_SIZE = 2


_INIT_CACHE: OrderedDict[tuple, np.ndarray] = OrderedDict()


def data_key(name: str, params: dict[str, Any]) -> str:
    return json.dumps([name, params], sort_keys=True, default=str)


def load_data(registry, name: str, params: dict[str, Any], label: str):
    key = data_key(name, params)
    if key in _DATA_CACHE:
        _DATA_CACHE.move_to_end(key)
        return _DATA_CACHE[key]
    dataset = registry.dataset(name)
    data = dataset.load(**params)
    X, labels = validate_data(data.X, max(int(data.k or 1), 1), data.labels, name=label)
    entry = (X, labels, int(data.k or 0), dataset)
    _DATA_CACHE[key] = entry
    while len(_DATA_CACHE) > _DATA_CACHE_SIZE:
        _DATA_CACHE.popitem(last=False)
    return entry


def make_problem(registry, cell: Cell) -> tuple[Problem, Any]:
    name = cell.dataset_label or describe(cell.dataset, cell.dataset_params, cell.k)
    X, labels, default_k, dataset = load_data(registry, cell.dataset, cell.dataset_params, name)
    k = cell.k if cell.k is not None else default_k
    if not k:
        raise DataError(f"{name}: the data has no labels to take k from; give k, as in -d {cell.dataset}:k=8.")
    validate_k(k, X.shape[0], name=name)
    init_key = (data_key(cell.dataset, cell.dataset_params), k, cell.seed, cell.init)
    if init_key not in _INIT_CACHE:  # every backend of a cell starts from the same init
        _INIT_CACHE[init_key] = initial_centroids(X, k, cell.seed, cell.init)
        while len(_INIT_CACHE) > 64:
            _INIT_CACHE.popitem(last=False)
    init = _INIT_CACHE[init_key].copy()
    return Problem(X=X, k=k, init=init, labels=labels, seed=cell.seed, name=name), dataset


# -- the row ------------------------------------------------------------------------------


def base_row(cell: Cell, backend=None) -> dict[str, Any]:
    row: dict[str, Any] = {
        "cell_key": cell.key,
        "backend": cell.backend,
        "backend_version": cell.backend_version,
        "framework": getattr(backend, "framework", None),
        "differentiable": getattr(backend, "differentiable", None),
        "dataset": cell.dataset,
        "dataset_label": cell.dataset_label or describe(cell.dataset, cell.dataset_params, cell.k),
        "device": cell.device,
        "seed": cell.seed,
        "init": cell.init,
        "threads": cell.threads,
        "repeats": cell.repeats,
        "status": "error",
        "error": None,
    }
    for key, value in cell.dataset_params.items():
        row[f"p_dataset_{key}"] = value
    for key, value in cell.backend_params.items():
        row[f"p_backend_{key}"] = value
    return row


def run_cell(cell: Cell, plugins_dirs: tuple[str, ...] = ()) -> CellResult:
    """Run one cell in this process and return its row; never raises for a backend's fault.

    The row's ``cell_s`` is the whole cell's time here: data, init, every fit, scoring.
    """
    start = time.perf_counter()
    result = _run_cell(cell, plugins_dirs)
    result.row["cell_s"] = time.perf_counter() - start
    return result


def _run_cell(cell: Cell, plugins_dirs: tuple[str, ...]) -> CellResult:
    registry = get_registry(plugins_dirs)
    try:
        backend = registry.backend(cell.backend)
    except DiffclustError as exc:
        row = base_row(cell)
        row.update(status="unavailable", error=str(exc))
        return CellResult(row)
    row = base_row(cell, backend)
    reason = backend.unavailable_reason()
    if reason is None and cell.device not in backend.devices():
        here = ", ".join(backend.devices()) or "nothing"
        reason = f"device {cell.device} is not available to {cell.backend} here (it can run on: {here})"
    if reason is not None:
        row.update(status="unavailable", error=reason)
        return CellResult(row)
    try:
        problem, dataset = make_problem(registry, cell)
    except DiffclustError as exc:
        row.update(status="error", error=f"{type(exc).__name__}: {exc}")
        return CellResult(row, log=traceback.format_exc())
    except Exception as exc:  # noqa: BLE001 - a dataset plugin's bug becomes a row
        row.update(status="error", error=f"dataset {cell.dataset!r} failed to load: {type(exc).__name__}: {exc}")
        return CellResult(row, log=traceback.format_exc())
    row.update(n=problem.n, d=problem.d, k=problem.k)
    for module in backend.requires:  # import the framework before the clock starts
        importlib.import_module(module)
    row["best_known_inertia"] = _best_known(dataset, problem.k, cell.dataset_params)
    try:
        return _fit_and_score(cell, backend, problem, row)
    except InvalidFitError as exc:
        plugin = registry.backends[cell.backend].plugin.label
        row.update(status="invalid", error=f"backend {cell.backend!r} of {plugin} returned a malformed Fit: {exc}")
        return CellResult(row, log=traceback.format_exc())
    except Exception as exc:  # noqa: BLE001 - a backend's fault becomes a row
        row.update(status="error", error=f"{type(exc).__name__}: {exc}")
        return CellResult(row, log=traceback.format_exc())


def _best_known(dataset, k: int, params: dict[str, Any]) -> float:
    try:
        value = dataset.best_known_inertia(k, **params)
    except Exception:  # noqa: BLE001 - a reference value is optional
        value = None
    return math.nan if value is None else float(value)


def _timed_fit(backend, problem: Problem, cell: Cell):
    device = cell.device
    backend.reset_peak_memory(device)
    recorder = TraceRecorder(synchronize=lambda: backend.synchronize(device))
    with PeakRSS() as rss:
        recorder.start = time.perf_counter()
        fit = backend.fit(problem, device=device, seed=cell.seed, trace=recorder, **cell.backend_params)
        backend.synchronize(device)
        elapsed = recorder.elapsed()
    peak_device = backend.peak_memory_bytes(device)
    return fit, elapsed, recorder, rss.peak_mb, (None if peak_device is None else peak_device / 2**20)


def _fit_and_score(cell: Cell, backend, problem: Problem, row: dict[str, Any]) -> CellResult:
    with threadpool_limits(limits=cell.threads):
        backend.set_threads(cell.threads)
        fit, first_s, recorder, peak_rss, peak_dev = _timed_fit(backend, problem, cell)
        labels, centroids = validate_fit(fit, problem)
        times: list[float] = []
        peaks_rss, peaks_dev = [peak_rss], [peak_dev]
        for _ in range(cell.repeats):
            fit, elapsed, recorder, peak_rss, peak_dev = _timed_fit(backend, problem, cell)
            times.append(elapsed)
            peaks_rss.append(peak_rss)
            peaks_dev.append(peak_dev)
        labels, centroids = validate_fit(fit, problem)
    steady = times or [first_s]
    floor_s = gemm_floor_s(problem.X, problem.k, cell.threads) if cell.device == "cpu" else math.nan
    n_iter = int(fit.n_iter)
    wall_s = statistics.median(steady)
    device_peaks = [p for p in peaks_dev if p is not None]
    row.update(score(problem, labels, centroids))
    row.update(
        status="ok",
        n_iter=n_iter,
        converged=None if fit.converged is None else bool(fit.converged),
        first_s=first_s,
        wall_s=wall_s,
        wall_s_min=min(steady),
        wall_s_max=max(steady),
        time_per_iter_s=wall_s / n_iter if n_iter > 0 else math.nan,
        gemm_floor_s=floor_s,
        iter_over_floor=(wall_s / n_iter) / floor_s if n_iter > 0 and floor_s > 0 else math.nan,
        peak_rss_mb=max(peaks_rss),
        peak_device_mb=max(device_peaks) if device_peaks else math.nan,
        info=json.dumps(fit.info or {}, default=str, sort_keys=True),
    )
    return CellResult(row, trace=score_trace(problem, recorder, row, threads=cell.threads))


def score_trace(problem: Problem, recorder: TraceRecorder, row: dict[str, Any], threads: int = 1) -> list[dict[str, Any]]:
    """Score the recorded centroids (after the timed region): objective at each point."""
    points = []
    pass_flops = 2.0 * problem.n * problem.d * problem.k
    most = int(min(MAX_TRACE_POINTS, max(MIN_TRACE_POINTS, TRACE_FLOP_BUDGET // max(pass_flops, 1.0))))
    for point in thin(recorder.points, most):
        if point.centroids.shape != (problem.k, problem.d) or not np.isfinite(point.centroids).all():
            continue
        labels, _ = assign(problem.X, point.centroids.astype(problem.X.dtype), threads=threads, distances=False)
        points.append(
            {
                "cell_key": row["cell_key"],
                "backend": row["backend"],
                "dataset": row["dataset"],
                "dataset_label": row["dataset_label"],
                "device": row["device"],
                "seed": row["seed"],
                "step": point.step,
                "time_s": point.time_s,
                "objective": assignment_cost(problem.X, labels, point.centroids),
                "inertia": inertia(problem.X, labels, problem.k),
            }
        )
    return points
