"""The example third-party plugin in examples/, installed with pip and run as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

MINIBATCH = Path(__file__).resolve().parents[1] / "examples" / "diffclust-minibatch"


def test_minibatch_is_found_through_its_entry_point(examples_env, cli):
    result = cli("plugins")
    assert result.returncode == 0, result.stderr
    row = next(line for line in result.stdout.splitlines() if "│ minibatch " in line)
    assert "diffclust-minibatch" in row and "0.1.0" in row and "register_backends" in row and "ok" in row


def test_minibatch_runs_in_a_suite_next_to_em(examples_env, cli, tmp_path):
    suite = tmp_path / "minibatch.toml"
    suite.write_text(
        '[suite]\nname = "minibatch"\nseeds = 3\nrepeats = 0\nthreads = 1\n\n'
        '[[backend]]\nname = "em"\n\n'
        '[[backend]]\nname = "minibatch-kmeans"\nparams = { batch_size = 512 }\n\n'
        '[[dataset]]\nname = "blobs"\nparams = { n = 20000, d = 8, centers = 6, cluster_std = 2.5 }\n'
    )
    out = tmp_path / "run"
    result = cli("run", str(suite), "--out", str(out), "-q")
    assert result.returncode == 0, result.stderr
    rows = pd.read_parquet(out / "results.parquet")
    assert len(rows) == 6 and (rows["status"] == "ok").all(), rows[["backend", "status", "error"]]
    mb = rows[rows["backend"] == "minibatch-kmeans"].set_index("seed")
    em = rows[rows["backend"] == "em"].set_index("seed")
    assert (mb["p_backend_batch_size"] == 512).all()
    # Same data, same init: mini-batch k-means finds Lloyd's partition on these blobs, with
    # centroids that are running means of samples: an objective a little above Lloyd's.
    assert (mb["inertia"] / em["inertia"] - 1).abs().max() < 1e-9
    ratio = mb["objective"] / em["objective"]
    assert ((ratio > 1) & (ratio < 1.001)).all(), ratio
    trace = pd.read_parquet(out / "trace.parquet")
    assert (trace["backend"] == "minibatch-kmeans").any()


def test_minibatch_passes_its_own_tests(examples_env):
    env = {**os.environ, "PYTHONPATH": str(examples_env)}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                            cwd=MINIBATCH, capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
