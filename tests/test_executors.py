"""Executors under real faults: a plugin package whose backends raise, hang, return NaN or
wrong shapes, abort, exit and eat memory, run beside ``em`` in worker processes and on a
real Dask LocalCluster."""

from __future__ import annotations

import importlib
import json
import os
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from diffclust.execute import run_cell
from diffclust.executors.pinning import cpu_block, thread_environment
from diffclust.registry import _cached_registry, get_registry
from diffclust.results import read_run
from diffclust.runner import run_suite
from diffclust.suite import expand, load_suite

FAULT_SUITE = """
[suite]
name = "faults"
seeds = [0]
repeats = 0
threads = 1
timeout_s = 6
memory_limit_mb = 600

[[backend]]
name = "em"
[[backend]]
name = "fault-slow"
params = { delay_s = 0.01 }
[[backend]]
name = "fault-slow"
params = { delay_s = 0.02 }
[[backend]]
name = "fault-raise"
[[backend]]
name = "fault-hang"
[[backend]]
name = "fault-nan"
[[backend]]
name = "fault-shape"
[[backend]]
name = "fault-abort"
[[backend]]
name = "fault-exit"
[[backend]]
name = "fault-hog"
[[backend]]
name = "fault-slow"
params = { delay_s = 0.03 }
[[backend]]
name = "em"
params = { tol = 1e-5 }

[[dataset]]
name = "iris"
"""

EXPECTED = {  # backend -> (status, words its error must hold)
    "em": ("ok", None),
    "fault-slow": ("ok", None),
    "fault-raise": ("error", "RuntimeError: deliberate failure: the solver diverged"),
    "fault-hang": ("timeout", "did not finish within the 6 s timeout"),
    "fault-nan": ("invalid", "NaN"),
    "fault-shape": ("invalid", "shape (4, 4), expected (3, 4)"),
    "fault-abort": ("crashed", "SIGABRT"),
    "fault-exit": ("crashed", "exited with code 7"),
    "fault-hog": ("crashed", "memory limit exceeded"),
}
#: Columns that depend only on the data, the init and the method: equal under any executor.
DETERMINISTIC = ["cell_key", "backend", "seed", "status", "inertia", "objective", "n_iter", "converged",
                 "ari", "nmi", "empty_clusters", "n", "d", "k"]


@pytest.fixture(scope="module")
def fault_env(installed_plugins, tmp_path_factory):
    """The installed plugins visible here and in every child process, and the suite file."""
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(installed_plugins))
        patch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(installed_plugins), os.environ.get("PYTHONPATH")])))
        importlib.invalidate_caches()
        _cached_registry.cache_clear()
        suite_path = tmp_path_factory.mktemp("suite") / "faults.toml"
        suite_path.write_text(FAULT_SUITE)
        yield suite_path
    _cached_registry.cache_clear()


@pytest.fixture(scope="module")
def process_run(fault_env, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("process") / "run"
    summary = run_suite(load_suite(str(fault_env)), out=out, executor="process", show_progress=False)
    assert summary.counts["ok"] == 5
    return out


def test_every_fault_becomes_a_row_with_the_right_status(process_run):
    rows, _ = read_run(process_run)
    assert len(rows) == 12 and rows["cell_key"].is_unique
    for _, row in rows.iterrows():
        status, words = EXPECTED[row["backend"]]
        assert row["status"] == status, (row["backend"], row["error"])
        if words:
            assert words in row["error"], (row["backend"], row["error"])
    log = (process_run / "run.log").read_text()
    assert 'raise RuntimeError("deliberate failure' in log  # the traceback
    assert "fault-raise: about to fail" in log  # what the backend printed
    assert "in fit" in log.split("· timeout")[1]  # where the hung backend was stuck
    assert "Fatal Python error: Aborted" in log


def test_em_rows_are_intact_beside_the_faults(process_run, fault_env):
    rows, trace = read_run(process_run)
    em = rows[rows["backend"] == "em"]
    assert (em["status"] == "ok").all() and len(em) == 2
    # The same cells run in this very process give the same numbers.
    cells = [c for c in expand(load_suite(str(fault_env)), get_registry()) if c.backend == "em"]
    for cell in cells:
        local = run_cell(cell).row
        mine = em[em["cell_key"] == cell.key].iloc[0]
        for column in ("inertia", "objective", "n_iter", "ari", "nmi"):
            assert mine[column] == pytest.approx(local[column], rel=1e-12), column
    assert set(em["cell_key"]) <= set(trace["cell_key"])


def test_workers_are_reused_replaced_after_crashes_and_pinned(process_run):
    rows, _ = read_run(process_run)
    slow = rows[rows["backend"] == "fault-slow"].sort_values("p_backend_delay_s")
    info = [json.loads(text) for text in slow["info"]]
    assert info[0]["pid"] == info[1]["pid"]  # one worker for consecutive numpy cells
    assert info[2]["pid"] != info[0]["pid"]  # a fresh one after the crashes
    for item in info:
        assert item["omp_num_threads"] == item["openblas_num_threads"] == "1"
        assert "--xla_cpu_multi_thread_eigen=false" in item["xla_flags"]
        assert item["cpus"] == (1 if len(os.sched_getaffinity(0)) > 1 else len(os.sched_getaffinity(0)))
    env = json.loads((process_run / "environment.json").read_text())
    assert env["executor"]["name"] == "process"
    assert env["executor"]["timeout_s"] == 6 and env["executor"]["memory_limit_mb"] == 600
    assert env["executor"]["workers_started"]["numpy"] == 5  # the first, then one after each of 4 kills or crashes
    assert env["executor"]["workers_replaced"]["numpy"] == 4
    assert env["executor"]["worker_thread_variables"]["1"]["OMP_NUM_THREADS"] == "1"


@pytest.mark.slow
def test_dask_gives_the_same_rows_and_files_as_process(process_run, fault_env, tmp_path):
    out = tmp_path / "dask"
    summary = run_suite(load_suite(str(fault_env)), out=out, executor="dask",
                        executor_options={"n_workers": 2}, show_progress=False)
    by_process, trace_process = read_run(process_run)
    by_dask, trace_dask = read_run(out)
    shown = by_dask[["backend", "status", "error"]].to_string()
    assert summary.counts == {"ok": 5, "error": 1, "timeout": 1, "invalid": 2, "crashed": 3}, shown
    assert list(by_dask.columns) == list(by_process.columns)
    pd.testing.assert_frame_equal(by_dask[DETERMINISTIC], by_process[DETERMINISTIC], check_exact=False, rtol=1e-12)
    memory = by_process["error"].fillna("").str.startswith("memory limit")
    assert (by_dask["error"][~memory].fillna("") == by_process["error"][~memory].fillna("")).all()
    assert by_dask["error"][memory].str.startswith("memory limit exceeded").all()
    columns = ["cell_key", "step", "objective", "inertia"]
    pd.testing.assert_frame_equal(trace_dask[columns], trace_process[columns])
    env = json.loads((out / "environment.json").read_text())
    assert env["executor"]["name"] == "dask" and env["executor"]["cluster"] == "LocalCluster"
    assert env["executor"]["scheduler"].startswith("tcp://127.0.0.1:")
    assert len(env["executor"]["workers"]) == 2
    assert all(w["hostname"] for w in env["executor"]["workers"])


@pytest.mark.slow
def test_dask_joins_a_running_scheduler(fault_env, tmp_path):
    from distributed import LocalCluster

    with LocalCluster(host="127.0.0.1", n_workers=1, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        suite = load_suite(str(fault_env))
        suite = replace(suite, backends=[b for b in suite.backends if b.name in ("em", "fault-abort")][:2])
        summary = run_suite(suite, out=tmp_path / "run", executor="dask",
                            executor_options={"scheduler": cluster.scheduler_address}, show_progress=False)
        assert dict(summary.counts) == {"ok": 1, "crashed": 1}
        assert len(cluster.scheduler_info["workers"]) == 1  # the Dask worker survived the abort
    env = json.loads((tmp_path / "run" / "environment.json").read_text())
    assert env["executor"]["cluster"] == "external"
    assert env["executor"]["scheduler"] == cluster.scheduler_address


def test_thread_environment_keeps_existing_xla_flags():
    env = thread_environment(4, base={"XLA_FLAGS": "--xla_dump_to=/tmp/x --xla_cpu_multi_thread_eigen=true"})
    assert env["OMP_NUM_THREADS"] == env["MKL_NUM_THREADS"] == env["OPENBLAS_NUM_THREADS"] == "4"
    assert env["XLA_FLAGS"] == "--xla_dump_to=/tmp/x"
    assert thread_environment(1, base={})["XLA_FLAGS"] == "--xla_cpu_multi_thread_eigen=false"


def test_cpu_blocks_do_not_overlap_between_slots():
    cpus = list(range(8))
    blocks = [cpu_block(2, slot, cpus) for slot in range(4)]
    assert blocks == [[0, 1], [2, 3], [4, 5], [6, 7]]
    assert cpu_block(2, 4, cpus) == [0, 1]  # more slots than blocks: wrap around
    assert cpu_block(8, 0, cpus) is None and cpu_block(1, None, cpus) is None


def test_unknown_executor_and_misplaced_scheduler_are_clear_errors(fault_env, tmp_path):
    from diffclust.errors import SuiteError

    suite = load_suite(str(fault_env))
    with pytest.raises(SuiteError, match="choose one of local, process, dask"):
        run_suite(suite, out=tmp_path / "a", executor="threads", show_progress=False)
    with pytest.raises(SuiteError, match="needs --executor dask"):
        run_suite(suite, out=tmp_path / "b", executor="process", executor_options={"scheduler": "tcp://127.0.0.1:1"},
                  show_progress=False)
