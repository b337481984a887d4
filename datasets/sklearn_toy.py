"""``digits``, ``iris``, ``wine``: scikit-learn's bundled data sets, standardized by default."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

import diffclust


class SklearnToyDataset(diffclust.Dataset):
    """A data set that ships inside scikit-learn; default k is its number of classes."""

    loader: ClassVar[str] = ""
    params = {"standardize": True}
    #: Best inertia known for (k, standardize): the least of 1000 runs of scikit-learn's
    #: KMeans (lloyd, k-means++ seeds 0-999, tol=0, max_iter=1000) on the float32 data.
    best_known: ClassVar[dict[tuple[int, bool], float]] = {}

    def load(self, **p: Any) -> diffclust.DatasetData:
        import sklearn.datasets

        bunch = getattr(sklearn.datasets, self.loader)()
        X = np.asarray(bunch.data, dtype=np.float64)
        if p["standardize"]:
            from sklearn.preprocessing import StandardScaler

            X = StandardScaler().fit_transform(X)
        return diffclust.DatasetData(X=X.astype(np.float32), labels=bunch.target, k=len(np.unique(bunch.target)))

    def best_known_inertia(self, k: int, **p: Any) -> float | None:
        return self.best_known.get((int(k), bool(p["standardize"])))


class Digits(SklearnToyDataset):
    name = "digits"
    description = "8x8 handwritten digits, 1797 x 64, 10 classes"
    loader = "load_digits"
    best_known = {(10, True): 69403.846, (10, False): 1165131.645}


class Iris(SklearnToyDataset):
    name = "iris"
    description = "Fisher's iris, 150 x 4, 3 classes"
    loader = "load_iris"
    best_known = {(3, True): 139.82050, (3, False): 78.85144}


class Wine(SklearnToyDataset):
    name = "wine"
    description = "wine recognition, 178 x 13, 3 classes"
    loader = "load_wine"
    best_known = {(3, True): 1277.9285, (3, False): 2370689.687}


@diffclust.hookimpl
def register_datasets(register):
    for dataset in (Digits(), Iris(), Wine()):
        register(dataset)
