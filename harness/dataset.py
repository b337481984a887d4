"""The base class every dataset derives from, and what loading one returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np


@dataclass(frozen=True, eq=False)
class DatasetData:
    """What :meth:`Dataset.load` returns.

    Attributes
    ----------
    X : array-like
        ``n x d`` numeric data (validated and made float32 by the harness).
    labels : array-like or None
        Ground-truth labels when known.
    k : int
        The default number of clusters (number of classes or centers).
    """

    X: np.ndarray
    labels: np.ndarray | None
    k: int


class Dataset:
    """A source of data, plugged in through ``register_datasets``.

    A dataset's data is fixed by its params: synthetic ones take ``data_seed`` (default
    0), so that the run's seeds change only the initial centroids and the backends' own
    randomness, and seeds are paired comparisons on the same data.

    Attributes
    ----------
    name : str
        Unique, kebab-case.
    params : dict
        Default parameters; only these keys may be given (``-d NAME:key=value``). The key
        ``k`` is the harness's and is accepted for every dataset.
    """

    name: ClassVar[str] = ""
    params: ClassVar[dict[str, Any]] = {}
    description: ClassVar[str] = ""

    def check(self, **params: Any) -> None:
        """Cheap checks before a suite starts (a file exists, say); raise DataError."""

    def load(self, **params: Any) -> DatasetData:
        """Return the data for these params (the defaults with overrides applied)."""
        raise NotImplementedError(f"dataset {self.name!r} does not implement load()")

    def best_known_inertia(self, k: int, **params: Any) -> float | None:
        """The best inertia known for this data and ``k`` (for ``rel_gap``), or None."""
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"
