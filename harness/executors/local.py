"""``local``: every cell in this process, one after another. For debugging: no timeout,
no memory limit, and a crash takes the suite down (use ``process`` for isolation)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from diffclust.execute import CellResult, run_cell
from diffclust.executors.base import Executor
from diffclust.suite import Cell


class LocalExecutor(Executor):
    name = "local"

    def run(self, cells: Iterable[Cell], on_start: Callable[[Cell], None] | None = None) -> Iterator[tuple[Cell, CellResult]]:
        for cell in cells:
            if on_start is not None:
                on_start(cell)
            yield cell, run_cell(cell, self.plugins_dirs)

    def describe(self, cells: Sequence[Cell] = ()) -> dict[str, Any]:
        info = super().describe(cells)
        info["isolation"] = "none: cells run in the harness's process; the timeout and memory limit are not enforced"
        return info
