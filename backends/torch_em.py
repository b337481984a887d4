"""``torch-em``: Lloyd's algorithm in torch, so that CUDA has an EM baseline too.

The same rules as the numpy ``em`` backend (GEMM distances in chunks of rows, ties to the
lowest index, an empty cluster moved to the farthest point, ``tol`` relative to the mean
feature variance, a final assignment when stopping on ``tol``). On the CPU, per chunk of
rows: torch's GEMM, then ``em``'s compiled nearest-center pass on the same memory (torch's
CPU argmin at this shape costs several GEMMs); on CUDA: ``addmm``, ``argmin`` and
``index_add_``. See :mod:`diffclust.backends._torch_lloyd`.
"""

from __future__ import annotations

from typing import Any

import diffclust
from diffclust.backends import _relaxed_math as rm
from diffclust.backends._torch_base import TorchBackend, to_tensor
from diffclust.backends.em import tolerance


class TorchEMBackend(TorchBackend):
    """Lloyd in torch: a GEMM, the nearest center and the cluster sums per chunk of rows."""

    name = "torch-em"
    differentiable = False
    params = {"max_iter": 300, "tol": 1e-4, "chunk_rows": 0}
    version = "2"

    def fit(self, problem: diffclust.Problem, *, device: str, seed: int, trace: diffclust.Trace | None = None, **params: Any) -> diffclust.Fit:
        import torch

        from diffclust.backends._torch_lloyd import lloyd

        chunk = rm.chunk_rows_for(problem.n, problem.k, int(params["chunk_rows"]), accelerator=device != "cpu")
        with torch.no_grad():
            X = to_tensor(problem.X, device)
            labels, centers, n_iter, converged, relocations = lloyd(
                X, to_tensor(problem.init, device), max_iter=int(params["max_iter"]),
                abs_tol=tolerance(problem.X, float(params["tol"])), chunk_rows=chunk, trace=trace,
            )
        return diffclust.Fit(
            labels=labels, centroids=centers, n_iter=n_iter, converged=converged,
            info={"empty_cluster_rule": "farthest point (scikit-learn)", "relocations": relocations, "chunk_rows": chunk},
        )


@diffclust.hookimpl
def register_backends(register):
    register(TorchEMBackend())
