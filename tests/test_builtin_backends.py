"""The new built-in backends as a user meets them: in `diffclust list` and `diffclust run`,
without their framework, and against the numpy baseline."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from diffclust.registry import get_registry
from diffclust.testing import problems

torch = pytest.importorskip("torch")


#: Run first in a subprocess: torch and JAX behave as if not installed (``import`` fails and
#: ``importlib.util.find_spec`` finds nothing), as on a machine without them.
HIDE_FRAMEWORKS = """
import importlib.abc, importlib.util, sys
HIDDEN = ("torch", "jax", "jaxlib", "optax")
class Hide(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in HIDDEN:
            raise ModuleNotFoundError(f"No module named {name!r}")
        return None
sys.meta_path.insert(0, Hide())
_find_spec = importlib.util.find_spec
importlib.util.find_spec = lambda name, package=None: None if name.split(".")[0] in HIDDEN else _find_spec(name, package)
"""


def run_cli(*args: str, env_code: str = "") -> subprocess.CompletedProcess:
    code = f"{env_code}\nimport sys\nfrom diffclust.cli import main\nsys.argv = ['diffclust', *{list(args)!r}]\nmain()"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_torch_em_reaches_the_same_partition_as_em(seed):
    registry = get_registry()
    digits = registry.dataset("digits").load(standardize=True)
    problem = problems.problem(np.asarray(digits.X, dtype=np.float32), 10, seed=seed)
    fits = [registry.backend(name).fit(problem, device="cpu", seed=seed, **registry.backend(name).params) for name in ("em", "torch-em")]
    np.testing.assert_array_equal(np.asarray(fits[0].labels), fits[1].labels.numpy())
    assert fits[0].n_iter == fits[1].n_iter
    np.testing.assert_allclose(fits[0].centroids, fits[1].centroids.numpy(), atol=1e-5)


def test_soft_kmeans_collapses_below_the_critical_beta_and_not_above():
    from diffclust.backends.soft_kmeans import largest_covariance_eigenvalue, soft_means

    problem = problems.overlapping_blobs(k=4)
    X = torch.from_numpy(problem.X)
    beta_c = 1.0 / (2.0 * largest_covariance_eigenvalue(X, 4096))

    def fixed_point(beta: float) -> np.ndarray:
        M = torch.from_numpy(problem.init.copy())
        for _ in range(500):
            sums, weights = soft_means(X, M, beta, 4096)
            M = (sums / weights[:, None]).float()
        return M.numpy()

    scale = float(np.sqrt(problem.mean_sq_distance))
    below = fixed_point(0.8 * beta_c)
    assert np.abs(below - problem.X.mean(axis=0)).max() < 1e-3 * scale, "below beta_c every centroid sits on the mean"
    above = fixed_point(2.0 * beta_c)
    assert np.ptp(above, axis=0).max() > 0.1 * scale, "at 2 beta_c the centroids have split"


def test_soft_kmeans_starts_at_twice_the_critical_beta():
    registry = get_registry()
    backend = registry.backend("soft-kmeans")
    fit = backend.fit(problems.overlapping_blobs(), device="cpu", seed=0, **backend.params)
    assert fit.info["beta_start"] == pytest.approx(2.0 * fit.info["beta_critical"])


def test_missing_frameworks_are_a_reason_not_a_crash(tmp_path):
    listed = run_cli("list", env_code=HIDE_FRAMEWORKS)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.count("unavailable") >= 6, listed.stdout
    out = tmp_path / "run"
    # In-process: the frameworks are hidden in this interpreter only, not in fresh workers.
    ran = run_cli("run", "-b", "torch-ste", "-b", "jax-ste", "-b", "em", "-d", "iris", "--seeds", "1",
                  "--repeats", "0", "--out", str(out), "-q", "--executor", "local", env_code=HIDE_FRAMEWORKS)
    assert ran.returncode == 0, ran.stderr
    rows = pd.read_parquet(out / "results.parquet").set_index("backend")
    assert rows.loc["em", "status"] == "ok"
    assert rows.loc["torch-ste", "status"] == "unavailable"
    assert "pip install 'diffclust[torch]'" in rows.loc["torch-ste", "error"]
    assert "pip install 'diffclust[jax]'" in rows.loc["jax-ste", "error"]


def test_a_bad_parameter_value_is_named_before_anything_runs():
    done = run_cli("run", "-b", "torch-ste:mode=sideways", "-d", "iris", "-q")
    assert done.returncode == 2
    assert "mode must be one of centroids, logits" in done.stderr
    assert "Traceback" not in done.stderr


def test_relaxed_backends_in_a_run_trace_polish_and_time_compilation_apart(tmp_path):
    out = tmp_path / "run"
    done = run_cli("run", "-b", "torch-ste:steps=30", "-b", "jax-ste:steps=30", "-b", "torch-gumbel:steps=30",
                   "-b", "soft-kmeans", "-b", "torch-em", "-d", "blobs:n=400,d=3,centers=4", "--seeds", "2",
                   "--repeats", "1", "--out", str(out), "-q")
    assert done.returncode == 0, done.stderr
    rows = pd.read_parquet(out / "results.parquet")
    assert (rows["status"] == "ok").all(), rows[["backend", "error"]]
    trace = pd.read_parquet(out / "trace.parquet")
    for (backend, seed), points in trace.groupby(["backend", "seed"]):
        assert points["step"].is_monotonic_increasing and points["step"].is_unique, backend
    ste = trace[trace["backend"] == "torch-ste"]
    assert ste["step"].max() > 30, "the polish continues the step count"
    for _, row in rows[rows["backend"].isin(["torch-ste", "jax-ste", "torch-gumbel"])].iterrows():
        info = json.loads(row["info"])
        assert info["objective_before_polish"] >= row["objective"] * (1 - 1e-6)
        assert row["n_iter"] == 30 + info["polish_iter"]
    first_jax = rows[rows["backend"] == "jax-ste"].sort_values("seed").iloc[0]
    # The first call compiles; the steady-state calls (and later cells) reuse the compiled steps.
    assert first_jax["first_s"] > first_jax["wall_s"]


def test_a_device_the_backend_lacks_is_an_unavailable_row(tmp_path):
    out = tmp_path / "run"
    done = run_cli("run", "-b", "torch-em", "-b", "jax-ste", "-d", "iris", "--device", "cuda:7", "--seeds", "1",
                   "--repeats", "0", "--out", str(out), "-q")
    assert done.returncode == 0, done.stderr
    rows = pd.read_parquet(out / "results.parquet")
    assert (rows["status"] == "unavailable").all()
    assert rows["error"].str.contains("device cuda:7 is not available").all()


def test_the_scaling_suite_times_every_builtin_backend_for_a_fixed_amount_of_work():
    from diffclust.plugins import BUILTIN_PLUGINS
    from diffclust.suite import load_suite

    suite = load_suite("scaling")
    names = {spec.name for spec in suite.backends}
    registry = get_registry()
    builtin = {name for name, entry in registry.backends.items() if type(entry.obj).__module__ in BUILTIN_PLUGINS}
    assert len(builtin) >= 9
    assert builtin <= names, f"scaling misses {sorted(builtin - names)}"
    for spec in suite.backends:
        params = {**registry.backend(spec.name).params, **spec.params}
        assert not params.get("polish", False), spec.name
        if "tol" in params:
            assert params["tol"] == 0.0, spec.name


def test_torch_steps_on_several_threads_do_not_grow_memory():
    """Worker threads run the chunks; grad mode is thread-local, and graphs recorded there
    once kept ~100 MB per step alive at this size."""
    import psutil

    registry = get_registry()
    backend = registry.backend("torch-ste")
    X = np.random.default_rng(0).standard_normal((60_000, 16)).astype(np.float32)
    problem = problems.problem(X, 32, seed=0)
    backend.set_threads(2)
    try:
        params = {**backend.params, "steps": 10, "polish": False}
        backend.fit(problem, device="cpu", seed=0, **params)
        before = psutil.Process().memory_info().rss
        for _ in range(3):
            backend.fit(problem, device="cpu", seed=0, **params)
        grown_mb = (psutil.Process().memory_info().rss - before) / 2**20
    finally:
        backend.set_threads(1)
    assert grown_mb < 100, f"resident memory grew by {grown_mb:.0f} MB over 30 steps"
