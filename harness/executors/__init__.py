"""Executors decide where cells run: in this process, in worker processes, or on Dask.

=========  ===============================================================================
local      in the harness's own process, one after another; for debugging (no isolation)
process    the default: each cell in a reused worker process with a hard timeout
dask       cells spread over a Dask cluster, each still isolated in a worker process
=========  ===============================================================================
"""

from __future__ import annotations

from diffclust.errors import SuiteError
from diffclust.executors.base import Executor
from diffclust.executors.local import LocalExecutor
from diffclust.executors.process import ProcessExecutor

EXECUTORS = ("local", "process", "dask")
DEFAULT_EXECUTOR = "process"


def make_executor(name: str, **options) -> Executor:
    """The executor called ``name``; options are passed to its constructor.

    Raises
    ------
    SuiteError
        For an unknown name, or options that do not fit the executor.
    """
    scheduler = options.pop("scheduler", None)
    if scheduler and name != "dask":
        raise SuiteError(f"--scheduler joins a Dask cluster; it needs --executor dask (got --executor {name}).")
    if name == "local":
        return LocalExecutor(**options)
    if name == "process":
        return ProcessExecutor(**options)
    if name == "dask":
        from diffclust.executors.dask import DaskExecutor

        return DaskExecutor(scheduler=scheduler, **options)
    raise SuiteError(f"unknown executor {name!r}; choose one of {', '.join(EXECUTORS)}.")


__all__ = ["DEFAULT_EXECUTOR", "EXECUTORS", "Executor", "LocalExecutor", "ProcessExecutor", "make_executor"]
