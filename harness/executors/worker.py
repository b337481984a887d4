"""The worker process: runs the cells its supervisor sends over a pipe, one at a time.

Started with the ``spawn`` start method (never ``fork``: torch and JAX keep threads that a
forked child would inherit in a broken state), with the thread variables of
:mod:`diffclust.executors.pinning` already in its environment. It loads each cell's data
itself, so only the cell (a few hundred bytes) goes in and the row and trace come back.

Everything here is deliberately plain: a worker that crashes, hangs or runs out of memory
is killed and replaced by its supervisor (:mod:`diffclust.executors.supervisor`), which
turns what happened into the cell's row.
"""

from __future__ import annotations

import faulthandler
import importlib
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

#: The supervisor sends this signal to a hung worker before killing it; the worker
#: answers with the Python stack of every thread, which goes to the run's log.
DUMP_SIGNAL = signal.SIGUSR1
PARENT_CHECK_INTERVAL_S = 1.0


@dataclass(frozen=True)
class WorkerSettings:
    """What a worker needs to know when it starts."""

    plugins_dirs: tuple[str, ...]
    output_path: str
    preload: tuple[str, ...] = ()
    cpus: tuple[int, ...] | None = None


def worker_main(conn: Any, settings: WorkerSettings) -> None:
    """Serve cells until the supervisor sends ``None`` or goes away."""
    # Ctrl-C reaches every process of the terminal's group; the supervisor handles it and
    # stops the workers, so a worker must not turn it into a half-finished cell.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _redirect_output(settings.output_path)
    faulthandler.enable(file=sys.stderr, all_threads=True)
    faulthandler.register(DUMP_SIGNAL, file=sys.stderr, all_threads=True)
    _exit_with_parent(os.getppid())
    if settings.cpus and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, settings.cpus)
    for module in settings.preload:
        try:  # import the framework once, outside every cell's timeout
            importlib.import_module(module)
        except Exception:  # noqa: BLE001 - the cell reports a missing framework itself
            pass
    from diffclust.execute import CellResult, base_row, run_cell
    from diffclust.registry import get_registry

    get_registry(settings.plugins_dirs)
    conn.send(("ready", os.getpid()))
    while True:
        try:
            cell = conn.recv()
        except (EOFError, OSError):
            return
        if cell is None:
            return
        result = run_cell(cell, settings.plugins_dirs)
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            conn.send(("done", result))
        except (BrokenPipeError, EOFError):
            return
        except Exception as exc:  # noqa: BLE001 - e.g. a row value that cannot be pickled
            row = base_row(cell)
            row.update(status="error", error=f"the cell's result could not be sent back: {type(exc).__name__}: {exc}")
            conn.send(("done", CellResult(row)))


def _redirect_output(path: str) -> None:
    """Send this process's stdout and stderr (C-level too) to ``path``: the supervisor
    attaches what a cell printed to that cell's entry in run.log, and the parent's
    progress display stays clean."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        os.unlink(path)  # the supervisor holds it open: nothing stays on disk
    except FileNotFoundError:
        pass
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def _exit_with_parent(parent_pid: int) -> None:
    """Exit when the supervisor dies (even by SIGKILL), instead of living on as an orphan."""

    def watch() -> None:
        while True:
            time.sleep(PARENT_CHECK_INTERVAL_S)
            if os.getppid() != parent_pid:
                os._exit(0)

    threading.Thread(target=watch, name="diffclust-parent-watch", daemon=True).start()
