"""What a run ran on: recorded in ``environment.json`` beside its results."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import shutil
import socket
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import diffclust

PACKAGES = (
    "numpy", "scipy", "scikit-learn", "pandas", "pyarrow", "pluggy", "threadpoolctl",
    "torch", "jax", "jaxlib", "optax", "faiss-cpu", "faiss-gpu", "dask", "distributed",
)
THREAD_VARIABLES = (
    "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE", "OMP_WAIT_POLICY", "XLA_FLAGS", "XLA_PYTHON_CLIENT_PREALLOCATE", "CUDA_VISIBLE_DEVICES",
)


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def gpus() -> list[dict[str, Any]]:
    """GPUs and driver, from nvidia-smi when present (no framework import needed)."""
    smi = shutil.which("nvidia-smi")
    if not smi:
        return []
    try:
        out = subprocess.run(
            [smi, "--query-gpu=index,name,memory.total,driver_version", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=20, check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    found = []
    for line in out.strip().splitlines():
        index, name, memory, driver = (part.strip() for part in line.split(","))
        found.append({"index": int(index), "name": name, "memory": memory, "driver": driver})
    return found


def git_commit() -> str | None:
    """The commit of the diffclust source, when it runs from a git checkout."""
    source = Path(diffclust.__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "-C", str(source), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        )
        dirty = subprocess.run(
            ["git", "-C", str(source), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def thread_info() -> list[dict[str, Any]]:
    try:
        from threadpoolctl import threadpool_info

        return [
            {k: v for k, v in pool.items() if k in ("user_api", "internal_api", "num_threads", "version", "threading_layer", "architecture")}
            for pool in threadpool_info()
        ]
    except Exception:  # noqa: BLE001 - informative only
        return []


def collect(**extra: Any) -> dict[str, Any]:
    """Everything worth knowing to reproduce or compare a run."""
    return {
        "diffclust_version": diffclust.__version__,
        "git_commit": git_commit(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "hostname": socket.gethostname(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "affinity_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory_total_gb": round(_memory_total_gb(), 2),
        "packages": package_versions(),
        "thread_pools": thread_info(),
        "thread_variables": {name: os.environ.get(name) for name in THREAD_VARIABLES},
        "gpus": gpus(),
        "command": sys.argv,
        "started_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **extra,
    }


def _memory_total_gb() -> float:
    import psutil

    return psutil.virtual_memory().total / 2**30
