"""Chunks of rows evaluated in parallel on the CPU, one chunk per thread.

torch parallelizes each operation over its threads, with a barrier at the end of every
one; a relaxed step is some fifteen small operations per chunk, so with several threads it
spends its time in those barriers (and more so on a shared machine, where a descheduled
thread stalls the others), and two threads measured slower than one. Here each chunk runs
whole on one worker thread whose torch uses one thread, as scikit-learn's Lloyd does: one
join per pass. Results come back in chunk order, so sums over them do not depend on the
number of threads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import torch

T = TypeVar("T")
R = TypeVar("R")

_lock = threading.Lock()
_pools: dict[int, ThreadPoolExecutor] = {}


def _one_thread() -> None:
    torch.set_num_threads(1)


def chunk_pool(threads: int) -> ThreadPoolExecutor:
    """A process-wide pool of ``threads`` workers, each with torch at one thread."""
    with _lock:
        pool = _pools.get(threads)
        if pool is None:
            pool = _pools[threads] = ThreadPoolExecutor(threads, thread_name_prefix="diffclust-chunk", initializer=_one_thread)
        return pool


def map_chunks(fn: Callable[[T], R], items: Iterable[T], device: torch.device) -> list[R]:
    """``[fn(item) for item in items]``, on the CPU spread over ``torch.get_num_threads()``
    worker threads when there are several threads and several items."""
    items = list(items)
    threads = torch.get_num_threads()
    if device.type != "cpu" or threads <= 1 or len(items) <= 1:
        return [fn(item) for item in items]
    grad_enabled = torch.is_grad_enabled()

    def run(item: T) -> R:
        # Grad mode is thread-local: a worker thread would otherwise record an autograd
        # graph for every chunk (inside a custom Function's forward, where the main thread
        # has it off), and keep those graphs' buffers alive: memory grew by ~100 MB a step.
        with torch.set_grad_enabled(grad_enabled):
            return fn(item)

    try:
        return list(chunk_pool(threads).map(run, items))
    finally:
        # A worker's set_num_threads(1) may reach process-wide settings (MKL's); restore.
        torch.set_num_threads(threads)
