"""What every torch backend shares: devices, clocks, peak memory and threads.

torch is imported inside the methods, so that a missing torch is a reason shown by
``diffclust list`` rather than an import error.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import diffclust


class TorchBackend(diffclust.Backend):
    """Base of the torch backends: ``cpu`` and ``cuda:N`` for each visible GPU."""

    framework = "torch"
    requires = ("torch",)
    extra = "torch"

    def devices(self) -> list[str]:
        if self.unavailable_reason():
            return []
        import torch

        found = ["cpu"]
        if torch.cuda.is_available():
            found += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
        return found

    def synchronize(self, device: str) -> None:
        if device.startswith("cuda"):
            import torch

            torch.cuda.synchronize(device)

    def set_threads(self, threads: int) -> None:
        if threads > 0:
            import torch

            torch.set_num_threads(int(threads))

    def reset_peak_memory(self, device: str) -> None:
        if device.startswith("cuda"):
            import torch

            torch.cuda.reset_peak_memory_stats(device)

    def peak_memory_bytes(self, device: str) -> int | None:
        if device.startswith("cuda"):
            import torch

            return int(torch.cuda.max_memory_allocated(device))
        return None


def to_tensor(array: np.ndarray, device: str) -> Any:
    """A numpy array on ``device`` (shares memory with ``array`` on the CPU)."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(array)).to(device)


def seeded_generator(seed: int, device: str) -> Any:
    """A torch random generator on ``device`` seeded from the run's seed."""
    import torch

    generator = torch.Generator(device=device)
    generator.manual_seed(int(seed) & 0x7FFF_FFFF_FFFF_FFFF)
    return generator
