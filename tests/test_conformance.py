"""Every conformance check on every built-in backend, through the same pytest helper a
plugin author uses."""

from __future__ import annotations

from diffclust.registry import build_registry
from diffclust.testing import parametrize_with_checks

BUILTIN_BACKENDS = [
    entry.obj for name, entry in sorted(build_registry().backends.items()) if entry.plugin.source == "builtin"
]


def test_every_builtin_backend_is_checked():
    names = {backend.name for backend in BUILTIN_BACKENDS}
    assert {"em", "sklearn", "faiss", "torch-em", "soft-kmeans", "torch-ste", "jax-ste", "torch-gumbel", "jax-gumbel"} <= names


@parametrize_with_checks(BUILTIN_BACKENDS)
def test_conformance(backend, check):
    check(backend)
