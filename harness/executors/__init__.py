"""Executors decide where cells run: in this process, in worker processes, or on Dask."""

from __future__ import annotations

from diffclust.errors import SuiteError
from diffclust.executors.base import Executor
from diffclust.executors.local import LocalExecutor

EXECUTORS = ("local",)


def make_executor(name: str, **options) -> Executor:
    """The executor called ``name``; options are passed to its constructor."""
    if name == "local":
        return LocalExecutor(**options)
    raise SuiteError(f"unknown executor {name!r}; choose one of {', '.join(EXECUTORS)}.")


__all__ = ["EXECUTORS", "Executor", "LocalExecutor", "make_executor"]
