"""Peak resident memory of this process during a region of code.

On Linux the kernel's high-water mark (``VmHWM``) is reset by writing ``5`` to
``/proc/self/clear_refs`` and read back after the region: exact, and free of overhead.
Where that is not allowed, a background thread samples the RSS every few milliseconds.
"""

from __future__ import annotations

import threading
from pathlib import Path

import psutil

_CLEAR_REFS = Path("/proc/self/clear_refs")
_STATUS = Path("/proc/self/status")


def _read_hwm_bytes() -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _reset_hwm() -> bool:
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return _read_hwm_bytes() is not None


class PeakRSS:
    """Context manager: ``peak_bytes`` is the largest RSS seen inside the ``with`` block."""

    def __init__(self, interval_s: float = 0.005) -> None:
        self.interval_s = interval_s
        self.peak_bytes = 0
        self._kernel = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> PeakRSS:
        self._kernel = _reset_hwm()
        if not self._kernel:
            process = psutil.Process()
            self.peak_bytes = process.memory_info().rss

            def sample() -> None:
                while not self._stop.wait(self.interval_s):
                    self.peak_bytes = max(self.peak_bytes, process.memory_info().rss)

            self._thread = threading.Thread(target=sample, name="diffclust-rss", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._kernel:
            self.peak_bytes = _read_hwm_bytes() or 0
        else:
            self._stop.set()
            assert self._thread is not None
            self._thread.join()
            self.peak_bytes = max(self.peak_bytes, psutil.Process().memory_info().rss)

    @property
    def peak_mb(self) -> float:
        return self.peak_bytes / 2**20
