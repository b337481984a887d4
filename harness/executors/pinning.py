"""Pinning a worker process to a cell's thread count, before any framework is imported.

Thread pools are sized when a library initializes, so the settings must be in place
before the worker imports numpy's BLAS, torch or JAX:

- ``OMP_NUM_THREADS``, ``MKL_NUM_THREADS``, ``OPENBLAS_NUM_THREADS`` and friends are set
  in the worker's environment when it is spawned (OpenMP, MKL, OpenBLAS, BLIS, Accelerate,
  numexpr; torch's intra-op pool follows ``OMP_NUM_THREADS``).
- XLA (JAX on CPU) has no thread-count setting: ``--xla_cpu_multi_thread_eigen=false``
  is added for one thread, but recent jaxlib versions ignore it for matrix products. What
  XLA does honour is the CPU affinity mask (it sizes its pool from the CPUs the process
  may run on), so a worker is also restricted to a block of ``threads`` CPUs: the block
  of its number where workers are numbered (Dask's LocalCluster, see :func:`cpu_block`),
  else the least busy block when it starts (:func:`least_busy_block`), so that two suites
  run side by side on one machine do not share a core while others idle.
"""

from __future__ import annotations

import os

#: Environment variables set to the thread count in every worker.
THREAD_COUNT_VARIABLES = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
XLA_SINGLE_THREAD_FLAG = "--xla_cpu_multi_thread_eigen=false"


def allowed_cpus() -> list[int]:
    """The CPUs this process may run on (all of them where affinity is not supported)."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def thread_environment(threads: int, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment variables a worker running ``threads``-thread cells is started with.

    ``base`` (default: this process's environment) supplies an existing ``XLA_FLAGS``,
    which is kept and extended rather than replaced.
    """
    base = dict(os.environ if base is None else base)
    threads = max(int(threads), 1)
    env = {name: str(threads) for name in THREAD_COUNT_VARIABLES}
    flags = [flag for flag in base.get("XLA_FLAGS", "").split() if not flag.startswith("--xla_cpu_multi_thread_eigen")]
    if threads == 1:
        flags.append(XLA_SINGLE_THREAD_FLAG)
    if flags:
        env["XLA_FLAGS"] = " ".join(flags)
    return env


def cpu_block(threads: int, slot: int | None, cpus: list[int] | None = None) -> list[int] | None:
    """The CPUs a worker in ``slot`` is restricted to, or None to leave affinity alone.

    The allowed CPUs are cut into blocks of ``threads``; slot ``i`` gets block
    ``i mod (number of blocks)``. Nothing is pinned when ``slot`` is None (the executor
    cannot tell its workers apart) or when the block would be every allowed CPU anyway.
    """
    cpus = allowed_cpus() if cpus is None else cpus
    threads = max(int(threads), 1)
    if slot is None or threads >= len(cpus):
        return None
    blocks = len(cpus) // threads
    start = (int(slot) % blocks) * threads
    return cpus[start : start + threads]


def least_busy_block(threads: int, cpus: list[int] | None = None, interval_s: float = 0.1) -> list[int] | None:
    """The block of ``threads`` allowed CPUs that was least busy over ``interval_s``, or
    None when the block would be every allowed CPU anyway."""
    import psutil

    cpus = allowed_cpus() if cpus is None else cpus
    threads = max(int(threads), 1)
    if threads >= len(cpus):
        return None
    load = psutil.cpu_percent(interval=interval_s, percpu=True)
    blocks = [cpus[i : i + threads] for i in range(0, len(cpus) - threads + 1, threads)]
    return min(blocks, key=lambda block: sum(load[c] for c in block if c < len(load)))


def choose_cpus(threads: int, slot: int | str | None) -> list[int] | None:
    """The CPUs for a worker: by ``slot`` number, the least busy block (``"auto"``), or
    None (``slot`` None: leave the affinity alone)."""
    if slot == "auto":
        return least_busy_block(threads)
    if slot is None or isinstance(slot, str):
        return None
    return cpu_block(threads, slot)
