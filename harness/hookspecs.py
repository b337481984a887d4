"""Hook specifications: everything a diffclust plugin can implement.

Hooks are called with keyword arguments, so an implementation may accept a subset of
the arguments and a spec can gain an argument without breaking plugins.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from diffclust.backend import Backend
    from diffclust.dataset import Dataset

PROJECT_NAME = "diffclust"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


# -------------------------------------------------------------------------------------
# Registration: called once, when the registry is built.
# -------------------------------------------------------------------------------------


@hookspec
def register_backends(register: Callable[[Backend], None]) -> None:
    """Register backends: ways of solving the k-means factorization.

    Call ``register(backend)`` once per backend instance. The return value is ignored.

    :param register: Takes a :class:`diffclust.Backend` instance. An object that breaks
        the contract (a class instead of an instance, a missing member, a name that is not
        kebab-case or is already taken) is not registered; the problem, naming this
        plugin and its distribution, is shown by ``diffclust list`` and ``diffclust
        plugins``, and the plugin's other objects still register.

    Example::

        @diffclust.hookimpl
        def register_backends(register):
            register(MyBackend())
    """


@hookspec
def register_datasets(register: Callable[[Dataset], None]) -> None:
    """Register datasets: sources of data to cluster.

    Call ``register(dataset)`` once per dataset instance. The return value is ignored.

    :param register: Takes a :class:`diffclust.Dataset` instance. An object that breaks
        the contract (a class instead of an instance, a missing member, a name that is not
        kebab-case or is already taken) is not registered; the problem, naming this
        plugin and its distribution, is shown by ``diffclust list`` and ``diffclust
        plugins``, and the plugin's other objects still register.
    """
