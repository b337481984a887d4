"""Running cells in worker processes so that nothing a backend does can stop the suite.

A :class:`WorkerPool` keeps one worker process per (framework, threads) and reuses it
from cell to cell, so torch or JAX is imported once per worker, not once per cell. For
each cell it waits for the worker's answer and watches three things:

- the clock: past the timeout the worker is asked for its Python stacks (they go to
  run.log), then killed; the row's status is ``timeout``;
- the worker's resident memory (with a memory limit): sampled every few milliseconds;
  above the limit the worker is killed and the row is ``crashed`` with a message naming
  the limit;
- the worker's death (segfault, ``os.abort()``, ``sys.exit``, the kernel's OOM killer):
  the row is ``crashed`` with the signal's name or the exit code.

A killed or dead worker is replaced when the next cell of its kind comes. The processes
start with ``spawn`` (see :mod:`diffclust.executors.worker`).

Why the memory limit watches the resident set rather than setting ``RLIMIT_AS``: an
address-space limit counts virtual memory, which torch, JAX and CUDA reserve in amounts
far beyond what they touch (CUDA maps tens of GB at start-up), so it would fail sound
backends at import time and make the limit mean different things per framework. The
resident set is what a machine runs out of; killing from outside also catches memory
allocated by C/C++ code that never raises a Python ``MemoryError``.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import tempfile
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from multiprocessing.connection import wait
from typing import Any

import psutil

from diffclust.execute import CellResult, base_row
from diffclust.executors.pinning import choose_cpus, thread_environment
from diffclust.executors.worker import DUMP_SIGNAL, WorkerSettings, worker_main
from diffclust.registry import get_registry
from diffclust.suite import Cell

START_METHOD = "spawn"
#: How long a hung worker gets to write its stacks before it is killed.
DUMP_GRACE_S = 0.3
#: Idle workers kept at most (one per framework and thread count).
MAX_WORKERS = 4


@dataclass(frozen=True)
class IsolationSettings:
    """How cells are isolated: the same for the ``process`` and ``dask`` executors.

    Attributes
    ----------
    timeout_s : float or None
        Hard limit on a whole cell (data, every fit, scoring); None or 0 for none.
    memory_limit_mb : float or None
        Limit on the worker's resident memory (its children included); None for none.
    cpu_slot : int, "auto" or None
        Which block of ``threads`` CPUs a worker is pinned to: by number (see
        :func:`~diffclust.executors.pinning.cpu_block`), the least busy block when the
        worker starts (``"auto"``), or none (None leaves the affinity alone).
    start_timeout_s : float
        How long a new worker may take to start and import its framework.
    poll_interval_s : float
        How often the memory of a busy worker is sampled.
    """

    plugins_dirs: tuple[str, ...] = ()
    timeout_s: float | None = None
    memory_limit_mb: float | None = None
    cpu_slot: int | str | None = "auto"
    start_timeout_s: float = 300.0
    poll_interval_s: float = 0.05

    def describe(self) -> dict[str, Any]:
        """The settings as environment.json records them."""
        info = asdict(self)
        info.pop("plugins_dirs")
        info.update(
            start_method=START_METHOD,
            worker_reuse="one worker process per (framework, threads), reused across cells; "
            "replaced after a crash, a timeout or a memory-limit kill",
            memory_limit_enforcement="resident set of the worker and its children, sampled every "
            f"{self.poll_interval_s:g} s; the worker is killed above the limit",
        )
        return info


# -- one worker process --------------------------------------------------------------------

_ENV_LOCK = threading.Lock()


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """``values`` in os.environ while a worker is spawned: a spawned child copies the
    environment when it is executed, before it imports anything."""
    with _ENV_LOCK:
        saved = {name: os.environ.get(name) for name in values}
        os.environ.update(values)
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def describe_exit(exitcode: int | None) -> str:
    """``was killed by signal SIGABRT (6, an abort)`` or ``exited with code 3``."""
    if exitcode is None:
        return "vanished"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        hint = {
            "SIGKILL": ", sent from outside the harness (often the kernel's out-of-memory killer)",
            "SIGSEGV": ", a segmentation fault",
            "SIGABRT": ", an abort",
            "SIGBUS": ", a bus error",
        }.get(name, "")
        return f"was killed by signal {name} ({-exitcode}{hint})"
    return f"exited with code {exitcode}"


def tree_rss_bytes(pid: int) -> int:
    """Resident memory of a process and all its descendants."""
    try:
        process = psutil.Process(pid)
        processes = [process, *process.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for proc in processes:
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            pass
    return total


class WorkerProcess:
    """One spawned worker, its pipe, and the file its output goes to."""

    def __init__(self, group: tuple[str, int], settings: IsolationSettings, preload: tuple[str, ...]) -> None:
        framework, threads = group
        self.group = group
        # The worker appends to this file and unlinks it once open; our handle keeps it
        # readable, and nothing is left on disk whoever is killed.
        fd, self.output_path = tempfile.mkstemp(prefix=f"diffclust-{framework}-worker-", suffix=".out")
        self._output = os.fdopen(fd, "rb", buffering=0)
        self.cpus = choose_cpus(threads, settings.cpu_slot)
        context = multiprocessing.get_context(START_METHOD)
        self.conn, child_conn = context.Pipe()
        worker_settings = WorkerSettings(
            plugins_dirs=settings.plugins_dirs, output_path=self.output_path, preload=preload,
            cpus=tuple(self.cpus) if self.cpus else None,
        )
        self.process = context.Process(
            target=worker_main, args=(child_conn, worker_settings), name=f"diffclust-worker-{framework}", daemon=True
        )
        with _environment(thread_environment(threads)):
            self.process.start()
        child_conn.close()

    @property
    def alive(self) -> bool:
        return self.process.is_alive()

    def wait_ready(self, timeout_s: float) -> str | None:
        """None once the worker is ready; otherwise why it is not."""
        ready = wait([self.conn, self.process.sentinel], timeout=timeout_s)
        self._unlink_output()
        if self.conn in ready:
            try:
                message = self.conn.recv()
            except (EOFError, OSError):
                message = None
            if isinstance(message, tuple) and message[0] == "ready":
                return None
        if not ready:
            return f"did not start within {timeout_s:g} s"
        self.process.join(1)
        hint = ""
        if self.process.exitcode == 1:  # what spawn does to a script without a main guard
            hint = ("; a Python script that runs a suite must do so under `if __name__ == \"__main__\":`, "
                    "because spawned workers import it")
        return describe_exit(self.process.exitcode) + " while starting" + hint

    def send(self, cell: Cell) -> bool:
        try:
            self.conn.send(cell)
        except (BrokenPipeError, EOFError, OSError):
            return False
        return True

    def wait_result(self, settings: IsolationSettings) -> tuple[str, Any]:
        """``("done", CellResult)``, ``("timeout", seconds)``, ``("memory", rss_bytes)`` or
        ``("died", exitcode)``."""
        timeout = settings.timeout_s or None
        limit = settings.memory_limit_mb * 2**20 if settings.memory_limit_mb else None
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            step = settings.poll_interval_s if limit else None
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return "timeout", timeout
                step = remaining if step is None else min(step, remaining)
            ready = wait([self.conn, self.process.sentinel], timeout=step)
            if self.conn in ready:
                try:
                    kind, result = self.conn.recv()
                    return kind, result
                except (EOFError, OSError):
                    pass  # the worker died while answering
            if self.process.sentinel in ready or self.conn in ready:
                self.process.join(1)
                return "died", self.process.exitcode
            if limit:
                rss = tree_rss_bytes(self.process.pid)
                if rss > limit:
                    return "memory", rss

    def kill(self, dump_stacks: bool = False) -> None:
        """Kill the worker (after asking it for its stacks when ``dump_stacks``)."""
        if dump_stacks and self.alive:
            try:
                os.kill(self.process.pid, DUMP_SIGNAL)
                time.sleep(DUMP_GRACE_S)
            except OSError:
                pass
        if self.alive:
            self.process.kill()
        self.process.join(5)
        self.conn.close()

    def stop(self) -> None:
        """Ask the worker to exit; kill it if it does not within a second."""
        if self.alive:
            self.send(None)  # type: ignore[arg-type]
            self.process.join(1)
        self.kill()

    def take_output(self) -> str:
        """What the worker printed since the last call."""
        try:
            data = self._output.read() or b""
        except (OSError, ValueError):
            return ""
        return data.decode("utf-8", errors="replace").strip()

    def release(self) -> None:
        """Kill the worker if it lives, and close its output."""
        self.kill()
        self._unlink_output()
        self._output.close()

    def _unlink_output(self) -> None:
        try:
            os.unlink(self.output_path)
        except FileNotFoundError:
            pass


# -- the pool -----------------------------------------------------------------------------


#: Frameworks light enough to share one worker: plain numpy and C libraries driven from it.
#: Every other framework (torch, JAX, a plugin's) gets workers of its own, so heavy
#: runtimes and their thread pools never share a process.
SHARED_HOST_FRAMEWORKS = frozenset({"numpy", "faiss", "sklearn", "scipy"})


def worker_group(framework: str | None) -> str:
    """The worker group a backend's cells run in."""
    framework = framework or "unknown"
    return "numpy" if framework in SHARED_HOST_FRAMEWORKS else framework


class WorkerPool:
    """Worker processes by (framework, threads), reused across cells.

    :meth:`run` never raises for what a cell does; it returns the cell's result, or a row
    saying how the cell failed.
    """

    def __init__(self, settings: IsolationSettings) -> None:
        self.settings = settings
        self._workers: OrderedDict[tuple[str, int], WorkerProcess] = OrderedDict()
        self.started: Counter[str] = Counter()
        self.replaced: Counter[str] = Counter()
        self.pinned: dict[str, list[int] | None] = {}

    def run(self, cell: Cell) -> CellResult:
        """Run ``cell`` in a worker of its framework."""
        backend = self._backend(cell)
        group = (worker_group(getattr(backend, "framework", None)), int(cell.threads))
        for attempt in range(2):
            worker, failure = self._worker(group, backend)
            if worker is None:
                return _failure(cell, backend, "crashed", f"its worker process {failure}", failure_log=failure)
            if worker.send(cell):
                break
            self._discard(worker)  # it died while idle; start another once
        else:
            return _failure(cell, backend, "crashed", "its worker process could not be reached")
        kind, value = worker.wait_result(self.settings)
        if kind == "done":
            output = worker.take_output()
            if output:
                value.log = "\n".join(filter(None, [value.log, "output of the worker:", output]))
            return value
        if kind == "timeout":
            worker.kill(dump_stacks=True)
            message = f"did not finish within the {value:g} s timeout; its worker process was killed"
            log = "stacks when the timeout struck:\n" + worker.take_output()
            result = _failure(cell, backend, "timeout", message, failure_log=log)
        elif kind == "memory":
            worker.kill()
            limit = self.settings.memory_limit_mb
            message = (f"memory limit exceeded: the worker's resident memory reached {value / 2**20:,.0f} MB, "
                       f"over the {limit:g} MB limit (memory_limit_mb); its worker process was killed")
            result = _failure(cell, backend, "crashed", message, failure_log=worker.take_output())
            result.row["peak_rss_mb"] = value / 2**20
        else:
            worker.kill()
            message = f"its worker process {describe_exit(value)}"
            result = _failure(cell, backend, "crashed", message, failure_log=worker.take_output())
        self._discard(worker)
        self.replaced[group[0]] += 1
        return result

    def _backend(self, cell: Cell) -> Any:
        try:
            return get_registry(self.settings.plugins_dirs).backend(cell.backend)
        except Exception:  # noqa: BLE001 - the worker reports an unknown backend as a row
            return None

    def _worker(self, group: tuple[str, int], backend: Any) -> tuple[WorkerProcess | None, str]:
        worker = self._workers.get(group)
        if worker is not None and not worker.alive:
            self._discard(worker)
            worker = None
        if worker is None:
            while len(self._workers) >= MAX_WORKERS:
                _, oldest = self._workers.popitem(last=False)
                oldest.stop()
                oldest.release()
            preload = tuple(getattr(backend, "requires", ()) or ())
            worker = WorkerProcess(group, self.settings, preload)
            self.started[group[0]] += 1
            self.pinned[f"{group[0]}, {group[1]} threads"] = worker.cpus
            failure = worker.wait_ready(self.settings.start_timeout_s)
            if failure is not None:
                worker.kill()
                output = worker.take_output()
                worker.release()
                return None, failure + (f"\n{output}" if output else "")
            self._workers[group] = worker
        self._workers.move_to_end(group)
        return worker, ""

    def _discard(self, worker: WorkerProcess) -> None:
        if self._workers.get(worker.group) is worker:
            del self._workers[worker.group]
        worker.release()

    def describe(self, threads: list[int] | tuple[int, ...] = ()) -> dict[str, Any]:
        """Settings, the environment each worker gets, and how many workers were started."""
        info = self.settings.describe()
        info["worker_thread_variables"] = {str(t): thread_environment(t) for t in threads}
        info["worker_cpu_affinity"] = dict(self.pinned)  # the CPUs of the latest worker of each kind
        info["workers_started"] = dict(self.started)
        info["workers_replaced"] = dict(self.replaced)
        return info

    def close(self) -> None:
        """Stop every worker."""
        while self._workers:
            _, worker = self._workers.popitem()
            worker.stop()
            worker.release()


def _failure(cell: Cell, backend: Any, status: str, message: str, failure_log: str = "") -> CellResult:
    """The row of a cell that produced no result of its own."""
    row = base_row(cell, backend)
    row.update(status=status, error=message)
    return CellResult(row, log="\n".join(filter(None, [message, failure_log.strip()])))
