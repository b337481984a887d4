"""The executor interface the runner drives."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from diffclust.execute import CellResult
from diffclust.suite import Cell


class Executor:
    """Runs cells and yields ``(cell, result)`` as each finishes, in any order.

    An executor never raises for what a cell does: a crash or a timeout is a result with
    the matching status.
    """

    name = "executor"

    def __init__(self, plugins_dirs: tuple[str, ...] = (), timeout_s: float | None = None, memory_limit_mb: float | None = None, **_: Any) -> None:
        self.plugins_dirs = tuple(plugins_dirs)
        self.timeout_s = timeout_s
        self.memory_limit_mb = memory_limit_mb

    def run(self, cells: Iterable[Cell], on_start: Callable[[Cell], None] | None = None) -> Iterator[tuple[Cell, CellResult]]:
        raise NotImplementedError

    def describe(self, cells: Sequence[Cell] = ()) -> dict[str, Any]:
        """What environment.json records about this executor (``cells``: the suite's)."""
        return {"name": self.name, "timeout_s": self.timeout_s, "memory_limit_mb": self.memory_limit_mb}

    def close(self) -> None:
        """Release workers; called once when the suite ends (also on Ctrl-C)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
