"""``blobs``: isotropic Gaussian blobs from scikit-learn's ``make_blobs``, fixed by ``data_seed``."""

from __future__ import annotations

from typing import Any

import numpy as np

import diffclust
from diffclust.errors import DataError

#: Above this many values, points are drawn in blocks so that the float64 draw never
#: holds more than one block (make_blobs itself draws everything in float64 at once).
BLOCK_VALUES = 2**24


class Blobs(diffclust.Dataset):
    """Gaussian blobs; default k is the number of centers."""

    name = "blobs"
    description = "scikit-learn make_blobs: isotropic Gaussian clusters"
    params = {"n": 10000, "d": 16, "centers": 8, "cluster_std": 1.0, "center_box": 10.0, "data_seed": 0}

    def check(self, **p: Any) -> None:
        for key in ("n", "d", "centers"):
            if int(p[key]) < 1:
                raise DataError(f"blobs: {key} must be at least 1, got {p[key]}.")
        if float(p["cluster_std"]) < 0:
            raise DataError(f"blobs: cluster_std must be >= 0, got {p['cluster_std']}.")

    def load(self, **p: Any) -> diffclust.DatasetData:
        from sklearn.datasets import make_blobs

        self.check(**p)
        n, d, centers = int(p["n"]), int(p["d"]), int(p["centers"])
        box = (-float(p["center_box"]), float(p["center_box"]))
        seed = int(p["data_seed"])
        if n * d <= BLOCK_VALUES:
            X, y = make_blobs(
                n_samples=n, n_features=d, centers=centers, cluster_std=float(p["cluster_std"]),
                center_box=box, random_state=seed,
            )
            return diffclust.DatasetData(X=X.astype(np.float32), labels=y, k=centers)
        return diffclust.DatasetData(*_blobs_in_blocks(n, d, centers, float(p["cluster_std"]), box, seed), k=centers)


def _blobs_in_blocks(n: int, d: int, centers: int, std: float, box: tuple[float, float], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The same distribution as make_blobs (equal-sized blobs, centers uniform in the box,
    points shuffled), drawn block by block into float32 so large n fits in memory."""
    rng = np.random.default_rng(seed)
    means = rng.uniform(box[0], box[1], size=(centers, d))
    y = np.repeat(np.arange(centers), n // centers)
    y = np.concatenate([y, np.arange(n % centers)])
    rng.shuffle(y)
    X = np.empty((n, d), dtype=np.float32)
    block = max(1, BLOCK_VALUES // d)
    for start in range(0, n, block):
        stop = min(start + block, n)
        X[start:stop] = means[y[start:stop]] + std * rng.standard_normal((stop - start, d))
    return X, y


@diffclust.hookimpl
def register_datasets(register):
    register(Blobs())
