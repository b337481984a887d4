"""``process`` (the default): every cell in a worker process, one cell at a time.

Workers are reused across cells of the same framework and thread count and replaced
after a crash; a cell that hangs is killed at the timeout, one that outgrows the memory
limit is killed too, and either way the suite goes on (see
:mod:`diffclust.executors.supervisor`). One cell runs at a time, so timings are not
disturbed by other cells; use ``dask`` to spread cells over cores or machines.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from diffclust.execute import CellResult
from diffclust.executors.base import Executor
from diffclust.executors.supervisor import IsolationSettings, WorkerPool
from diffclust.suite import Cell


class ProcessExecutor(Executor):
    name = "process"

    def __init__(self, plugins_dirs: tuple[str, ...] = (), timeout_s: float | None = None,
                 memory_limit_mb: float | None = None, **options: Any) -> None:
        super().__init__(plugins_dirs, timeout_s, memory_limit_mb)
        self.settings = IsolationSettings(
            plugins_dirs=self.plugins_dirs, timeout_s=timeout_s or None, memory_limit_mb=memory_limit_mb or None,
            **{k: v for k, v in options.items() if k in ("start_timeout_s", "poll_interval_s", "cpu_slot")},
        )
        self.pool = WorkerPool(self.settings)

    def run(self, cells: Iterable[Cell], on_start: Callable[[Cell], None] | None = None) -> Iterator[tuple[Cell, CellResult]]:
        # Lazy on purpose: the next cell is sent only after the runner has stored this
        # one's row, so a finished row is on disk before the next cell starts.
        for cell in cells:
            if on_start is not None:
                on_start(cell)
            yield cell, self.pool.run(cell)

    def describe(self, cells: Sequence[Cell] = ()) -> dict[str, Any]:
        info = super().describe(cells)
        info.update(self.pool.describe(sorted({c.threads for c in cells})))
        info["concurrent_cells"] = 1
        return info

    def close(self) -> None:
        self.pool.close()
