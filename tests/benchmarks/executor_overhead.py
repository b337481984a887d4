"""Per-cell overhead of the process executor over local, on tiny cells.

    python tests/benchmarks/executor_overhead.py [CELLS]

Runs the same CELLS cells (em on iris, one seed each, no repeats) in this process and
through a WorkerPool (one worker, started and warmed before timing), and prints the
median and mean time per cell of each and their difference. Then the whole suite through
run_suite with each executor (results files included), worker start-up included.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from diffclust.execute import run_cell
from diffclust.executors.supervisor import IsolationSettings, WorkerPool
from diffclust.registry import get_registry
from diffclust.runner import run_suite
from diffclust.suite import ComponentSpec, Suite, expand


def main(n_cells: int = 50) -> None:
    suite = Suite(name="overhead", backends=[ComponentSpec("em")], datasets=[ComponentSpec("iris")],
                  seeds=list(range(n_cells)), repeats=0, threads=1, timeout_s=60)
    cells = expand(suite, get_registry())
    run_cell(cells[0])  # warm: data cache, imports
    local = []
    for cell in cells:
        start = time.perf_counter()
        run_cell(cell)
        local.append(time.perf_counter() - start)
    pool = WorkerPool(IsolationSettings(timeout_s=60))
    start = time.perf_counter()
    pool.run(cells[0])
    first = time.perf_counter() - start
    isolated = []
    for cell in cells:
        start = time.perf_counter()
        pool.run(cell)
        isolated.append(time.perf_counter() - start)
    pool.close()
    print(f"{n_cells} cells of em on iris, per cell (median / mean):")
    print(f"  local   {statistics.median(local) * 1e3:7.2f} / {statistics.mean(local) * 1e3:7.2f} ms")
    print(f"  process {statistics.median(isolated) * 1e3:7.2f} / {statistics.mean(isolated) * 1e3:7.2f} ms")
    print(f"  overhead {(statistics.median(isolated) - statistics.median(local)) * 1e3:6.2f} / "
          f"{(statistics.mean(isolated) - statistics.mean(local)) * 1e3:6.2f} ms per cell")
    print(f"  worker start and first cell: {first:.2f} s (once per framework)")
    with tempfile.TemporaryDirectory() as folder:
        for executor in ("local", "process"):
            start = time.perf_counter()
            run_suite(suite, out=Path(folder) / executor, executor=executor, show_progress=False)
            print(f"  run_suite --executor {executor:8s} {time.perf_counter() - start:6.2f} s for {n_cells} cells")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50)
