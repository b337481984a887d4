"""Hand-made run folders: real parquet files with rows whose outcome is known in advance."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from diffclust.results import ENVIRONMENT_FILE, RESULTS_FILE, TRACE_FILE, to_frame, write_parquet_atomic

SEEDS = range(6)

#: Per-seed inertia of the toy dataset: alpha beats beta by 1.0 on every seed.
ALPHA_INERTIA = [10.0, 10.1, 10.2, 10.3, 10.4, 10.5]
#: ARI: beta is higher on average but not on every seed (no significant win).
ALPHA_ARI = [0.80, 0.90, 0.80, 0.90, 0.80, 0.90]
BETA_ARI = [0.90, 0.85, 0.90, 0.85, 0.90, 0.85]


def row(backend: str, dataset: str, seed: int, status: str = "ok", device: str = "cpu", n: int = 100, d: int = 2,
        k: int = 3, **metrics) -> dict:
    """One row of results.parquet as the runner writes it."""
    base = {
        "cell_key": f"{backend}-{dataset}-n{n}-{device}-{seed}", "backend": backend, "backend_version": "1",
        "framework": "numpy", "differentiable": False, "dataset": dataset.split("(")[0], "dataset_label": dataset,
        "device": device, "seed": seed, "init": "k-means++", "threads": 1, "repeats": 2, "status": status,
        "error": None if status == "ok" else f"{status}: made up for the test", "n": n, "d": d, "k": k,
        "best_known_inertia": math.nan,
    }
    numbers = dict(objective=math.nan, inertia=math.nan, empty_clusters=0, ari=math.nan, nmi=math.nan, n_iter=10,
                   converged=True, first_s=math.nan, wall_s=math.nan, wall_s_min=math.nan, wall_s_max=math.nan,
                   time_per_iter_s=math.nan, peak_rss_mb=100.0, peak_device_mb=math.nan, info="{}")
    if status == "ok":
        numbers.update(metrics)
        numbers.setdefault("objective", numbers["inertia"])
        for key in ("wall_s_min", "wall_s_max", "first_s"):
            if math.isnan(numbers[key]) and not math.isnan(numbers["wall_s"]):
                numbers[key] = numbers["wall_s"]
        numbers["time_per_iter_s"] = numbers["wall_s"] / numbers["n_iter"]
    else:
        numbers.update({k: None for k in ("n_iter", "converged", "info")})
    return {**base, **numbers}


def write_run(folder: Path, rows: list[dict], trace: list[dict] | None = None, env: dict | None = None) -> Path:
    """A run folder with results.parquet (and trace.parquet, environment.json)."""
    folder.mkdir(parents=True, exist_ok=True)
    write_parquet_atomic(to_frame(rows), folder / RESULTS_FILE)
    if trace:
        write_parquet_atomic(pd.DataFrame(trace), folder / TRACE_FILE)
    environment = {"diffclust_version": "0.1.0", "python": "3.11", "hostname": "test", "cpu_model": "made-up CPU",
                   "cpu_count": 2, "suite": "toy", "started_utc": "2026-01-01T00:00:00+00:00", "packages": {"numpy": "2"},
                   **(env or {})}
    (folder / ENVIRONMENT_FILE).write_text(json.dumps(environment))
    return folder


def toy_rows(wall_scale: float = 1.0) -> list[dict]:
    """Four backends on a labelled dataset and an unlabelled one, six seeds.

    - toy/inertia: alpha best, significantly (better than beta on all six seeds).
    - toy/ari: beta best, not significantly.
    - toy/wall_s: beta best (half of alpha's time on every seed).
    - gamma times out on every seed; delta crashes on seed 2.
    - plain (no labels): ari is n/a.
    """
    rows = []
    for seed in SEEDS:
        a = ALPHA_INERTIA[seed]
        rows.append(row("alpha", "toy", seed, inertia=a, ari=ALPHA_ARI[seed], nmi=0.7, wall_s=wall_scale * (1.0 + 0.01 * seed)))
        rows.append(row("beta", "toy", seed, inertia=a + 1.0, ari=BETA_ARI[seed], nmi=0.7, wall_s=wall_scale * (0.5 + 0.01 * seed)))
        rows.append(row("gamma", "toy", seed, status="timeout"))
        if seed == 2:
            rows.append(row("delta", "toy", seed, status="crashed"))
        else:
            rows.append(row("delta", "toy", seed, inertia=30.0 + seed, ari=0.1, nmi=0.2, wall_s=wall_scale * 3.0))
        for backend, offset in (("alpha", 0.0), ("beta", 0.5)):
            rows.append(row(backend, "plain", seed, n=50, inertia=5.0 + offset + 0.01 * seed, wall_s=wall_scale * 0.1))
    return rows


def toy_trace(rows: list[dict]) -> list[dict]:
    """A few convergence points per successful toy cell."""
    points = []
    for r in rows:
        if r["status"] != "ok":
            continue
        for step in range(4):
            points.append({"cell_key": r["cell_key"], "backend": r["backend"], "dataset": r["dataset"],
                           "dataset_label": r["dataset_label"], "device": r["device"], "seed": r["seed"], "step": step,
                           "time_s": r["wall_s"] * (step + 1) / 4, "objective": r["inertia"] * (1 + 0.5 / (step + 1)),
                           "inertia": r["inertia"] * (1 + 0.5 / (step + 1))})
    return points


@pytest.fixture
def toy_run(tmp_path) -> Path:
    rows = toy_rows()
    return write_run(tmp_path / "toy-run", rows, toy_trace(rows))


@pytest.fixture
def make() -> SimpleNamespace:
    """The helpers above, for tests: ``make.row``, ``make.run``, ``make.toy_rows``, ``make.toy_trace``."""
    return SimpleNamespace(row=row, run=write_run, toy_rows=toy_rows, toy_trace=toy_trace)


#: The n of :func:`grid_run`.
SIZES = (1000, 4000, 16000)


@pytest.fixture
def grid_run(tmp_path, make):
    """blobs at three n: alpha's time grows like n, beta's like n^2; gamma always crashes."""
    rows = []
    for n in SIZES:
        label = f"blobs(n={n})"
        for seed in range(3):
            rows.append(make.row("alpha", label, seed, n=n, inertia=10.0 + seed, ari=0.9, wall_s=1e-6 * n * (1 + 0.01 * seed)))
            rows.append(make.row("beta", label, seed, n=n, inertia=11.0 + seed, ari=0.8, wall_s=1e-9 * n**2))
            rows.append(make.row("gamma", label, seed, n=n, status="crashed"))
    return make.run(tmp_path / "grid", rows, make.toy_trace(rows))


# -- artifacts a test run keeps (screenshots), listed at the end of the run ------------------

ARTIFACTS = Path(__file__).resolve().parents[2] / ".artifacts"
_kept: list[Path] = []


@pytest.fixture
def artifacts(request) -> Path:
    """``.artifacts/<test name>/`` at the repository root (ignored by git), emptied first.
    Files put there are listed in the run's terminal summary."""
    folder = ARTIFACTS / request.node.name
    if folder.exists():
        for old in folder.iterdir():
            old.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    yield folder
    _kept.extend(sorted(p for p in folder.iterdir() if p.is_file()))


def pytest_terminal_summary(terminalreporter):
    if _kept:
        terminalreporter.section("artifacts")
        for path in _kept:
            terminalreporter.write_line(str(path))
