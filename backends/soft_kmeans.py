"""``soft-kmeans``: deterministic annealing in torch.

Soft assignments ``r = softmax(-beta D)``, centroids the ``r``-weighted means, iterated to
a fixed point at each ``beta``; ``beta`` then grows geometrically until the assignments
are all but hard, and a Lloyd polish (default on) finishes. Annealing starts at
``beta0 * beta_c`` with ``beta_c = 1 / (2 lambda_max(Cov X))``, the critical point of the
first split: below it the only fixed point puts every centroid on the mean of the data,
and they never split again. ``beta_max`` is relative to D-bar (``beta_end = beta_max /
D-bar``), so the defaults fit standardized and raw data alike. Memory ``O(chunk x k)``.
"""

from __future__ import annotations

from typing import Any

import diffclust
from diffclust.backends import _relaxed_math as rm
from diffclust.backends._torch_base import TorchBackend, seeded_generator, to_tensor
from diffclust.backends.em import tolerance
from diffclust.errors import SuiteError


def largest_covariance_eigenvalue(X: Any, chunk_rows: int) -> float:
    """``lambda_max`` of the covariance of the rows of ``X`` (accumulated in float64)."""
    import torch

    from diffclust.backends._torch_relaxed_ops import row_slices

    n, d = X.shape
    gram = torch.zeros((d, d), dtype=torch.float64, device=X.device)
    total = torch.zeros(d, dtype=torch.float64, device=X.device)
    for rows in row_slices(n, chunk_rows):
        Xc = X[rows].double()
        gram += Xc.T @ Xc
        total += Xc.sum(dim=0)
    mean = total / n
    cov = (gram - n * torch.outer(mean, mean)) / max(n - 1, 1)
    return float(torch.linalg.eigvalsh(cov)[-1])


def soft_means(X: Any, M: Any, beta: float, chunk_rows: int) -> tuple[Any, Any]:
    """``r``-weighted sums of the points (float64) and total weights, ``r = softmax(-beta D)``."""
    import torch

    from diffclust.backends._torch_relaxed_ops import cross_and_distances, row_slices, softmax_

    k, d = M.shape
    sums = torch.zeros((k, d), dtype=torch.float64, device=X.device)
    weights = torch.zeros(k, dtype=torch.float64, device=X.device)
    m_sq = torch.einsum("ij,ij->i", M, M)
    for rows in row_slices(X.shape[0], chunk_rows):
        Xc = X[rows]
        r = softmax_(cross_and_distances(Xc, M, m_sq).mul_(-beta))  # ||x||^2 cancels in the softmax
        sums += (r.T @ Xc).double()
        weights += r.sum(dim=0).double()
    return sums, weights


class SoftKMeansBackend(TorchBackend):
    """Deterministic annealing (soft k-means with a rising inverse temperature)."""

    name = "soft-kmeans"
    differentiable = False
    params = {
        "beta0": 2.0,
        "beta_growth": 1.2,
        "beta_max": 1000.0,
        "max_inner_iter": 50,
        "inner_tol": 1e-4,
        "jitter": 1e-3,
        "polish": True,
        "max_polish_iter": 300,
        "chunk_rows": 0,
    }
    version = "1"

    def check_params(self, params: dict[str, Any]) -> None:
        where = f"backend {self.name!r}"
        if not float(params["beta0"]) >= 1.0:
            raise SuiteError(f"{where}: beta0 must be >= 1 (a multiple of the critical beta; below 1 the centroids all collapse onto the mean), got {params['beta0']!r}.")
        if not float(params["beta_growth"]) > 1.0:
            raise SuiteError(f"{where}: beta_growth must be > 1, got {params['beta_growth']!r}.")
        if not float(params["beta_max"]) > 0:
            raise SuiteError(f"{where}: beta_max must be > 0 (relative to 1 / D-bar), got {params['beta_max']!r}.")

    def fit(self, problem: diffclust.Problem, *, device: str, seed: int, trace: diffclust.Trace | None = None, **params: Any) -> diffclust.Fit:
        import torch

        from diffclust.backends._torch_lloyd import lloyd
        from diffclust.backends._torch_relaxed_ops import nearest, objective

        self.check_params(params)
        trace = trace or (lambda step, centroids: None)
        chunk = rm.chunk_rows_for(problem.n, problem.k, int(params["chunk_rows"]), accelerator=device != "cpu")
        inner_tol = tolerance(problem.X, float(params["inner_tol"]))
        with torch.no_grad():
            X = to_tensor(problem.X, device)
            M = to_tensor(problem.init, device).clone()
            lam = largest_covariance_eigenvalue(X, chunk)
            beta_c = 1.0 / (2.0 * lam) if lam > 0 else 1.0 / problem.mean_sq_distance
            beta_end = float(params["beta_max"]) / problem.mean_sq_distance
            beta = min(float(params["beta0"]) * beta_c, beta_end)
            n_iter = levels = 0
            jitter = float(params["jitter"]) * rm.feature_scale(problem.mean_sq_distance, problem.d)
            generator = seeded_generator(seed, device)
            while True:
                for _ in range(int(params["max_inner_iter"])):
                    sums, weights = soft_means(X, M, beta, chunk)
                    new = M.clone()
                    filled = weights > 0
                    new[filled] = (sums[filled] / weights[filled, None]).to(X.dtype)
                    shift = float(torch.sum((new.double() - M.double()) ** 2))
                    M = new
                    n_iter += 1
                    if shift <= inner_tol:
                        break
                levels += 1
                trace(n_iter, M)
                if beta >= beta_end:
                    break
                beta = min(beta * float(params["beta_growth"]), beta_end)
                if jitter > 0:
                    # Centroids that merged at a higher temperature sit on one point, where
                    # the split is unstable but never starts without a perturbation.
                    M += jitter * torch.randn(M.shape, generator=generator, dtype=M.dtype, device=M.device)
            labels = nearest(X, M, chunk)
            info: dict[str, Any] = {
                "beta_critical": beta_c, "beta_start": min(float(params["beta0"]) * beta_c, beta_end),
                "beta_end": beta_end, "levels": levels, "annealing_iter": n_iter, "chunk_rows": chunk,
            }
            converged = None
            if params["polish"]:
                info["objective_before_polish"] = objective(X, labels, M, chunk)
                labels, M, polish_iter, converged, relocations = lloyd(
                    X, M, max_iter=int(params["max_polish_iter"]), abs_tol=tolerance(problem.X, 1e-4),
                    chunk_rows=chunk, trace=trace, step_offset=n_iter,
                )
                info.update(polish_iter=polish_iter, relocations=relocations,
                            empty_cluster_rule="farthest point (scikit-learn), in the polish")
                n_iter += polish_iter
        return diffclust.Fit(labels=labels, centroids=M, n_iter=n_iter, converged=converged, info=info)


@diffclust.hookimpl
def register_backends(register):
    register(SoftKMeansBackend())
