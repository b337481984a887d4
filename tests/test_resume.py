"""Durable results: a run killed with SIGKILL at any moment keeps every finished row,
and ``--resume`` completes it with every row exactly once."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest

from diffclust.results import RESULTS_FILE, read_parquet_snapshot, read_run

KILL_SUITE = """
[suite]
name = "killme"
seeds = 6
repeats = 0
threads = 1
timeout_s = 30

[[backend]]
name = "em"
[[backend]]
name = "fault-slow"
params = { delay_s = 0.3 }
[[backend]]
name = "fault-raise"

[[dataset]]
name = "iris"
"""

STORE_WRITER = """
import sys
from diffclust.results import RunStore

out, total = sys.argv[1], int(sys.argv[2])
store = RunStore(out, resume=True)
for i in range(total):
    key = f"cell-{i:04d}"
    if key not in store.done_keys:
        row = {"cell_key": key, "status": "ok", "inertia": float(i), "note": "x" * 100}
        points = [{"cell_key": key, "step": step, "objective": float(i + step)} for step in range(40)]
        store.add(row, points, log=f"cell {key}")
"""


def _rows(path: Path) -> pd.DataFrame:
    return read_parquet_snapshot(path / RESULTS_FILE)  # the file may be replaced while we read


def _wait_for_rows(path: Path, count: int, process: subprocess.Popen, timeout_s: float = 60, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the run ended before it could be killed: {log.read_text() if log else ''}"
        if (path / RESULTS_FILE).exists() and len(_rows(path)) >= count:
            return
        time.sleep(0.02)
    raise AssertionError(f"no {count} rows after {timeout_s} s")


@pytest.mark.slow
def test_a_run_killed_with_sigkill_resumes_with_every_row_exactly_once(plugin_env, tmp_path):
    suite = tmp_path / "killme.toml"
    suite.write_text(KILL_SUITE)
    out = tmp_path / "run"
    command = [sys.executable, "-m", "diffclust", "run", str(suite), "--out", str(out)]
    with open(tmp_path / "killed.err", "w") as err:
        run = subprocess.Popen([*command, "-q"], stdout=subprocess.DEVNULL, stderr=err)
    _wait_for_rows(out, 8, run, log=tmp_path / "killed.err")  # the em rows and a couple of slow ones
    workers = psutil.Process(run.pid).children(recursive=True)
    run.send_signal(signal.SIGKILL)
    run.wait()

    before = _rows(out)  # readable right after the kill
    assert before["cell_key"].is_unique
    assert 8 <= len(before) < 18, (tmp_path / "killed.err").read_text()
    _, alive = psutil.wait_procs(workers, timeout=5)
    assert not alive, "worker processes outlived the killed run"

    resumed = subprocess.run([*command, "--resume"], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr  # failures show in the table, not the exit code
    assert "fault-raise" in resumed.stdout and "error" in resumed.stdout
    assert f"{18 - len(before)} cells:" in resumed.stderr and f"{len(before)} already done" in resumed.stderr

    after, trace = read_run(out)
    assert len(after) == 18 and after["cell_key"].is_unique
    assert after.groupby(["backend", "seed"]).size().eq(1).all()
    assert not trace.duplicated(["cell_key", "step"]).any()
    kept = after.set_index("cell_key").loc[before["cell_key"]]
    # The rows finished before the kill were kept as they were, not run again.
    assert (kept["first_s"].to_numpy() == before["first_s"].to_numpy()).all()
    assert set(after["status"]) == {"ok", "error"}

    strict = subprocess.run([*command, "--resume", "--strict", "-q"], capture_output=True, text=True)
    assert strict.returncode == 1  # the run holds error rows
    assert "0 cells: none, 18 already done" in strict.stderr
    assert len(_rows(out)) == 18


def test_results_survive_sigkill_at_random_moments(tmp_path):
    """Kill a writer in the middle of its writes, again and again: each time the files
    read back whole, no cell has two rows, and every row has all its trace points."""
    script = tmp_path / "writer.py"
    script.write_text(STORE_WRITER)
    out, total = tmp_path / "run", 120
    rng = random.Random(4)
    for _ in range(5):
        writer = subprocess.Popen([sys.executable, str(script), str(out), str(total)])
        start_rows = len(_rows(out)) if (out / RESULTS_FILE).exists() else 0
        _wait_for_rows(out, start_rows + 1, writer)
        time.sleep(rng.uniform(0.0, 0.3))
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        rows, trace = read_run(out)
        assert rows["cell_key"].is_unique
        assert (rows["inertia"] == rows["cell_key"].str[5:].astype(int)).all()
        assert trace.groupby("cell_key").size().reindex(rows["cell_key"]).eq(40).all()
    subprocess.run([sys.executable, str(script), str(out), str(total)], check=True)
    rows, trace = read_run(out)
    assert sorted(rows["cell_key"]) == [f"cell-{i:04d}" for i in range(total)]
    assert len(trace) == 40 * total and not trace.duplicated(["cell_key", "step"]).any()
    assert not list(out.glob(".partial-*")), "temporary files left behind"
    assert os.path.getsize(out / "run.log") > 0


def test_resume_runs_again_the_cells_of_a_changed_backend(tmp_path, monkeypatch):
    from diffclust.registry import get_registry
    from diffclust.runner import run_suite
    from diffclust.suite import ComponentSpec, Suite

    suite = Suite(name="bump", backends=[ComponentSpec("em"), ComponentSpec("sklearn")],
                  datasets=[ComponentSpec("iris")], seeds=[0, 1], repeats=0, threads=1)
    out = tmp_path / "run"
    first = run_suite(suite, out=out, executor="local", show_progress=False)
    assert first.counts["ok"] == 4
    old_version = get_registry().backend("em").version
    monkeypatch.setattr(get_registry().backend("em"), "version", "2-changed")
    again = run_suite(suite, out=out, executor="local", resume=True, show_progress=False)
    assert again.skipped == 2 and sum(again.counts.values()) == 2  # only em's cells ran
    rows, _ = read_run(out)
    assert sorted(rows.loc[rows["backend"] == "em", "backend_version"]) == sorted([old_version] * 2 + ["2-changed"] * 2)
