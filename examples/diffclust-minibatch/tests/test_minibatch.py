"""The conformance checks every diffclust backend passes, and mini-batch k-means' own promise."""

import numpy as np

from diffclust import Problem
from diffclust.testing import parametrize_with_checks

from diffclust_minibatch import MiniBatchKMeans


@parametrize_with_checks([MiniBatchKMeans()])
def test_conformance(backend, check):
    check(backend)


def test_close_to_the_full_batch_optimum_on_separated_blobs():
    rng = np.random.default_rng(0)
    centers = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    X = (centers[rng.integers(0, 3, 3000)] + rng.standard_normal((3000, 2))).astype(np.float32)
    init = (centers + 2.0).astype(np.float32)  # each start two units off its blob
    problem = Problem(X=X, k=3, init=init)
    fit = MiniBatchKMeans().fit(problem, device="cpu", seed=0, trace=lambda step, c: None,
                                **MiniBatchKMeans.params)
    # Each centroid lands within a tenth of a standard deviation of its blob's centre.
    assert np.linalg.norm(fit.centroids - centers, axis=1).max() < 0.1
    assert fit.converged
