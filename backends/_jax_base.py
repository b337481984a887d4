"""What every JAX backend shares: devices, peak memory, threads, and importing JAX.

JAX is imported inside the methods (:func:`import_jax`), so a missing JAX is a reason
shown by ``diffclust list`` rather than an import error.

Devices are named as torch names them: ``cpu``, and ``cuda:N`` for the N-th GPU JAX sees
(``tpu:N`` for TPUs). Threads: XLA sizes its CPU thread pool once, when JAX is imported,
from the cores the process may use; it cannot be changed afterwards. :meth:`set_threads`
therefore only acts before JAX's first import in a process, and only for one thread
(``--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1`` in ``XLA_FLAGS``);
otherwise JAX uses every core the process may run on, which is what a suite's
``threads = 0`` asks for. Pin a worker's cores (CPU affinity) to give JAX fewer.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np

import diffclust

SINGLE_THREAD_FLAGS = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


def import_jax() -> Any:
    """Import JAX with settings fit for benchmarking: no up-front grab of most of the GPU's
    memory (so peak memory means something, and torch can share the GPU)."""
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    import jax

    return jax


def _platform_devices() -> dict[str, Any]:
    jax = import_jax()
    found: dict[str, Any] = {}
    for platform, prefix in (("cpu", "cpu"), ("gpu", "cuda"), ("tpu", "tpu")):
        try:
            devices = jax.devices(platform)
        except RuntimeError:  # no such backend here
            continue
        for i, device in enumerate(devices):
            name = "cpu" if prefix == "cpu" and i == 0 else f"{prefix}:{i}"
            if prefix == "cpu" and i > 0:
                continue
            found[name] = device
    return found


class JaxBackend(diffclust.Backend):
    """Base of the JAX backends."""

    framework = "jax"
    requires = ("jax", "optax")
    extra = "jax"

    def devices(self) -> list[str]:
        if self.unavailable_reason():
            return []
        return list(_platform_devices())

    def jax_device(self, device: str) -> Any:
        """The ``jax.Device`` called ``device``."""
        return _platform_devices()[device]

    def set_threads(self, threads: int) -> None:
        if threads == 1 and "jax" not in sys.modules:
            flags = os.environ.get("XLA_FLAGS", "")
            if "intra_op_parallelism_threads" not in flags:
                os.environ["XLA_FLAGS"] = f"{flags} {SINGLE_THREAD_FLAGS}".strip()

    def synchronize(self, device: str) -> None:
        """Nothing to wait for: ``fit`` and ``trace`` receive arrays that are ready
        (``block_until_ready``), and JAX has no device-wide barrier."""

    def reset_peak_memory(self, device: str) -> None:
        # JAX cannot reset its peak counter: remember it, and report a peak only when
        # the fit raised it (so the first, largest call of a cell is measured).
        self._peak_before = self._peak(device)

    def peak_memory_bytes(self, device: str) -> int | None:
        peak = self._peak(device)
        before = getattr(self, "_peak_before", None)
        if peak is None or (before is not None and peak <= before):
            return None
        return peak

    def _peak(self, device: str) -> int | None:
        if device == "cpu" or "jax" not in sys.modules:
            return None
        stats = self.jax_device(device).memory_stats() or {}
        value = stats.get("peak_bytes_in_use")
        return None if value is None else int(value)


def compute_dtype(dtype: np.dtype) -> np.dtype:
    """The dtype JAX computes ``dtype`` data in: float64 only when ``jax_enable_x64`` is on
    (otherwise JAX would silently truncate; here the cast is explicit)."""
    jax = import_jax()
    return np.dtype(jax.dtypes.canonicalize_dtype(dtype))


def put(array: np.ndarray, device: Any, dtype: np.dtype) -> Any:
    """``array`` as ``dtype`` on a JAX device."""
    jax = import_jax()
    return jax.device_put(np.ascontiguousarray(array, dtype=dtype), device)
