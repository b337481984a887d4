"""``dask``: cells spread over a Dask cluster, each still isolated in a worker process.

Without a scheduler address it starts a ``distributed.LocalCluster`` on 127.0.0.1 with one
single-threaded Dask worker per CPU; with ``scheduler="tcp://HOST:PORT"`` it joins a
running cluster (``dask scheduler`` + ``dask worker``, or dask-jobqueue's SLURMCluster:
see docs/executors.md).

A Dask task does not run the cell itself: it hands the cell to a
:class:`~diffclust.executors.supervisor.WorkerPool` living in the Dask worker, the same
machinery as the ``process`` executor. So a segfault, a hang or a memory blow-up kills a
worker process of ours, never the Dask worker, and becomes a row with the same status
and message as under ``process``; frameworks are imported once per Dask worker.
"""

from __future__ import annotations

import atexit
import os
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from diffclust.errors import DiffclustError
from diffclust.execute import CellResult, base_row
from diffclust.executors.base import Executor
from diffclust.executors.pinning import allowed_cpus, thread_environment
from diffclust.executors.supervisor import IsolationSettings, WorkerPool
from diffclust.suite import Cell

# -- inside a Dask worker ------------------------------------------------------------------

_POOLS: dict[IsolationSettings, WorkerPool] = {}
_POOLS_LOCK = threading.Lock()


def run_cell_isolated(cell: Cell, settings: IsolationSettings) -> CellResult:
    """The Dask task: run ``cell`` in a worker process of this Dask worker's pool."""
    import multiprocessing

    # Dask starts its workers as daemonic processes, and multiprocessing refuses to start
    # children from one. Our children are daemonic themselves and exit with their parent,
    # so nothing is left behind when the Dask worker goes; the flag only guards start().
    current = multiprocessing.current_process()
    if current.daemon:
        current.daemon = False
    settings = _with_slot(settings)
    with _POOLS_LOCK:
        pool = _POOLS.get(settings)
        if pool is None:
            pool = _POOLS[settings] = WorkerPool(settings)
            atexit.register(pool.close)  # a Dask worker that closes stops its workers
    return pool.run(cell)


def _with_slot(settings: IsolationSettings) -> IsolationSettings:
    """Pin by the Dask worker's number where workers have one (LocalCluster names them
    0, 1, ...: disjoint CPU blocks); elsewhere take the least busy block when a worker
    process starts (a SLURM job's CPU set already confines its workers)."""
    from dataclasses import replace

    try:
        from distributed import get_worker

        name = get_worker().name
    except (ImportError, ValueError):
        name = None
    slot = name if isinstance(name, int) and not isinstance(name, bool) else "auto"
    return replace(settings, cpu_slot=slot)


def _worker_facts() -> dict[str, Any]:
    """Run on every Dask worker for environment.json: where cells ran."""
    import platform
    import socket
    import sys

    from diffclust.environment import cpu_model, package_versions

    return {
        "hostname": socket.gethostname(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "affinity_cpus": len(allowed_cpus()),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": package_versions(),
    }


# -- in the harness's process --------------------------------------------------------------


class DaskExecutor(Executor):
    name = "dask"

    def __init__(self, plugins_dirs: tuple[str, ...] = (), timeout_s: float | None = None,
                 memory_limit_mb: float | None = None, scheduler: str | None = None,
                 n_workers: int | None = None, **options: Any) -> None:
        super().__init__(plugins_dirs, timeout_s, memory_limit_mb)
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:
            raise DiffclustError("the dask executor needs dask.distributed: pip install 'diffclust[dask]'.") from exc
        self.settings = IsolationSettings(
            plugins_dirs=self.plugins_dirs, timeout_s=timeout_s or None, memory_limit_mb=memory_limit_mb or None,
            **{k: v for k, v in options.items() if k in ("start_timeout_s", "poll_interval_s")},
        )
        self.scheduler = scheduler
        self.cluster = None
        if scheduler:
            try:
                self.client = Client(scheduler, timeout="20s")
            except (OSError, TimeoutError) as exc:
                raise DiffclustError(
                    f"cannot reach the Dask scheduler at {scheduler}: {exc}. Start one (`dask scheduler`), "
                    "check the address, or leave out --scheduler to use a local cluster."
                ) from exc
        else:
            n_workers = n_workers or len(allowed_cpus())
            # Our cells run in processes of their own, which Dask's memory manager cannot
            # see; the memory limit is ours (memory_limit_mb), so Dask's is off.
            self.cluster = LocalCluster(
                host="127.0.0.1", n_workers=n_workers, threads_per_worker=1, processes=True,
                dashboard_address=None, memory_limit=0,
            )
            self.client = Client(self.cluster)

    def _slots(self) -> int:
        return max(sum(w.get("nthreads", 1) for w in _workers_info(self.client).values()), 1)

    def run(self, cells: Iterable[Cell], on_start: Callable[[Cell], None] | None = None) -> Iterator[tuple[Cell, CellResult]]:
        from distributed import as_completed

        pending = iter(cells)
        cell_of = {}

        def submit() -> Any:
            cell = next(pending, None)
            if cell is None:
                return None
            # Unique per run: a shared scheduler must never hand this run another run's result.
            key = f"diffclust-cell-{cell.key}-{uuid.uuid4().hex[:8]}"
            future = self.client.submit(run_cell_isolated, cell, self.settings, key=key, pure=False)
            cell_of[future.key] = cell
            if on_start is not None:
                on_start(cell)
            return future

        # No more tasks in flight than there are Dask threads: "current cell" means
        # running, and an interrupted suite leaves little work queued.
        first = [f for f in (submit() for _ in range(self._slots())) if f is not None]
        if not first:
            return
        finished = as_completed(first)
        try:
            for future in finished:
                cell = cell_of.pop(future.key)
                try:
                    result = future.result()
                except Exception as exc:  # noqa: BLE001 - e.g. KilledWorker: the Dask worker itself died
                    row = base_row(cell)
                    row.update(status="crashed", error=f"the Dask task failed: {type(exc).__name__}: {exc}")
                    result = CellResult(row, log=row["error"])
                future.release()
                following = submit()
                if following is not None:
                    finished.add(following)
                yield cell, result
        finally:
            for key in list(cell_of):
                self.client.cancel(key)

    def describe(self, cells: Sequence[Cell] = ()) -> dict[str, Any]:
        import dask
        import distributed

        info = super().describe(cells)
        threads = sorted({c.threads for c in cells})
        info.update(self.settings.describe())
        info.update(
            cpu_slot="the Dask worker's number where it is one (LocalCluster), else the least busy block",
            cluster="external" if self.scheduler else "LocalCluster",
            scheduler=self.client.scheduler.address,
            dask_version=dask.__version__,
            distributed_version=distributed.__version__,
        )
        try:
            workers = _workers_info(self.client)
            facts = self.client.run(_worker_facts)
        except Exception:  # noqa: BLE001 - informative only
            workers, facts = {}, {}
        info["workers"] = [
            {"address": address, "name": str(w.get("name")), "nthreads": w.get("nthreads"), **facts.get(address, {})}
            for address, w in sorted(workers.items())
        ]
        info["worker_thread_variables"] = {str(t): thread_environment(t) for t in threads}
        return info

    def close(self) -> None:
        try:
            self.client.close()
        finally:
            if self.cluster is not None:
                self.cluster.close()


def _workers_info(client: Any) -> dict[str, dict[str, Any]]:
    """Every worker the scheduler knows (newer clients list only a few unless asked)."""
    import inspect

    if "n_workers" in inspect.signature(client.scheduler_info).parameters:
        return client.scheduler_info(n_workers=-1).get("workers", {})
    return client.scheduler_info().get("workers", {})
