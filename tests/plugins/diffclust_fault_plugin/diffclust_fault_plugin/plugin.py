"""Backends that fail in every way a real one can: the runner must turn each into a row."""

import os
import sys
import time

import numpy as np

import diffclust
from diffclust.kmeans_math import assign


def _nearest_init(problem):
    labels, _ = assign(problem.X, problem.init)
    return labels, np.array(problem.init, dtype=np.float64)


class Raises(diffclust.Backend):
    """Prints a line, then raises: an ``error`` row, the traceback and the line in run.log."""

    name = "fault-raise"

    def fit(self, problem, *, device, seed, trace, **params):
        print("fault-raise: about to fail", flush=True)
        raise RuntimeError("deliberate failure: the solver diverged")


class Hangs(diffclust.Backend):
    """Never returns: a ``timeout`` row."""

    name = "fault-hang"

    def fit(self, problem, *, device, seed, trace, **params):
        while True:
            time.sleep(0.5)


class NanCentroids(diffclust.Backend):
    """Returns NaN centroids: an ``invalid`` row."""

    name = "fault-nan"

    def fit(self, problem, *, device, seed, trace, **params):
        labels, centroids = _nearest_init(problem)
        centroids[1] = np.nan
        return diffclust.Fit(labels=labels, centroids=centroids, n_iter=1, converged=False)


class WrongShape(diffclust.Backend):
    """Returns one centroid too many: an ``invalid`` row."""

    name = "fault-shape"

    def fit(self, problem, *, device, seed, trace, **params):
        labels, centroids = _nearest_init(problem)
        return diffclust.Fit(labels=labels, centroids=np.vstack([centroids, centroids[:1]]), n_iter=1)


class Aborts(diffclust.Backend):
    """Calls os.abort() (as a failed C assertion would): a ``crashed`` row naming SIGABRT."""

    name = "fault-abort"

    def fit(self, problem, *, device, seed, trace, **params):
        os.abort()


class Exits(diffclust.Backend):
    """Ends its process with exit code 7: a ``crashed`` row naming the code."""

    name = "fault-exit"

    def fit(self, problem, *, device, seed, trace, **params):
        sys.stdout.flush()
        os._exit(7)


class Hog(diffclust.Backend):
    """Allocates (and touches) memory until ``mb`` MB, then waits: killed at the memory limit."""

    name = "fault-hog"
    params = {"mb": 2500}

    def fit(self, problem, *, device, seed, trace, **params):
        blocks = []
        for _ in range(params["mb"] // 16):
            blocks.append(np.ones(2 * 2**20))  # 16 MB, written, so resident
            time.sleep(0.002)
        time.sleep(3600)


class Slow(diffclust.Backend):
    """A valid, deterministic result after ``delay_s`` seconds: keeps a suite busy. Its
    ``info`` tells which process ran it and with what thread settings."""

    name = "fault-slow"
    params = {"delay_s": 0.25}

    def fit(self, problem, *, device, seed, trace, **params):
        time.sleep(params["delay_s"])
        labels, centroids = _nearest_init(problem)
        trace(0, centroids)
        info = {
            "pid": os.getpid(),
            "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
            "openblas_num_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
            "xla_flags": os.environ.get("XLA_FLAGS"),
            "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        }
        return diffclust.Fit(labels=labels, centroids=centroids, n_iter=0, converged=True, info=info)


@diffclust.hookimpl
def register_backends(register):
    for backend in (Raises(), Hangs(), NanCentroids(), WrongShape(), Aborts(), Exits(), Hog(), Slow()):
        register(backend)
