"""The torch implementation of the relaxed backends (``torch-ste``, ``torch-gumbel``).

One class, two estimators: straight-through (``noise = 0``) and straight-through
Gumbel-softmax (seeded Gumbel noise on the logits). The maths is in
:mod:`diffclust.backends._torch_relaxed_ops`; the schedules and scale-free step sizes in
:mod:`diffclust.backends._relaxed_math`.

Memory: in centroid mode the loss and its gradient are computed chunk by chunk
(``O(chunk x k)`` temporaries, never an ``n x k`` matrix; see ``RelaxedKMeansLoss``).
Logit mode holds the ``n x k`` free logits and Adam's two moments by construction.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

import diffclust
from diffclust.backends import _relaxed_math as rm
from diffclust.backends._torch_base import TorchBackend, to_tensor
from diffclust.backends.em import tolerance


class TorchRelaxedBackend(rm.RelaxedParams, TorchBackend):
    """Adam on a straight-through relaxation of k-means, then an optional Lloyd polish."""

    differentiable = True
    #: Whether the estimator samples Gumbel noise (straight-through Gumbel-softmax).
    stochastic: ClassVar[bool] = False

    # -- fit ---------------------------------------------------------------------------

    def fit(self, problem: diffclust.Problem, *, device: str, seed: int, trace: diffclust.Trace | None = None, **params: Any) -> diffclust.Fit:
        import torch

        from diffclust.backends import _torch_relaxed_ops as ops
        from diffclust.backends._torch_lloyd import lloyd

        self.check_params(params)
        trace = trace or (lambda step, centroids: None)
        n, d, k = problem.n, problem.d, problem.k
        dbar = problem.mean_sq_distance
        steps = int(params["steps"])
        chunk = rm.chunk_rows_for(n, k, int(params["chunk_rows"]), accelerator=device != "cpu")
        start, end, schedule = self.temperature_range(params)
        taus = rm.temperatures(steps, start, end, schedule)
        X = to_tensor(problem.X, device)
        generator = ops.noise_generator(seed, device) if self.stochastic else None
        every = rm.trace_interval(steps)
        batches = rm.batch_indices(n, int(params["batch_size"]), steps, seed)
        loss_kind = str(params["loss"])
        with torch.no_grad():
            M0 = to_tensor(problem.init, device).clone()
        if params["mode"] == "centroids":
            noise_seed = seed if self.stochastic else None
            M, last_loss = self._centroid_steps(X, M0, taus, dbar, batches, noise_seed, params, chunk, every, trace, loss_kind)
            with torch.no_grad():
                labels = ops.nearest(X, M, chunk)
        else:
            M, labels, last_loss = self._logit_steps(X, M0, taus, dbar, batches, generator, params, chunk, every, trace, loss_kind)
        info: dict[str, Any] = {
            "estimator": self.estimator_name(),
            "mode": params["mode"],
            "loss": loss_kind,
            "steps": steps,
            "tau_final": float(taus[-1]) if steps else start,
            "loss_final": last_loss,
            "chunk_rows": chunk,
        }
        n_iter, converged = steps, None
        with torch.no_grad():
            if params["polish"]:
                info["objective_before_polish"] = ops.objective(X, labels, M, chunk)
                labels, M, polish_iter, converged, relocations = lloyd(
                    X, M, max_iter=int(params["max_polish_iter"]), abs_tol=tolerance(problem.X, 1e-4),
                    chunk_rows=chunk, trace=trace, step_offset=steps,
                )
                info.update(polish_iter=polish_iter, relocations=relocations,
                            empty_cluster_rule="farthest point (scikit-learn), in the polish")
                n_iter += polish_iter
        return diffclust.Fit(labels=labels, centroids=M.detach(), n_iter=n_iter, converged=converged, info=info)

    def _centroid_steps(self, X, M0, taus, dbar, batches, noise_seed, params, chunk, every, trace, loss_kind):  # noqa: ANN001, ANN202
        import torch

        from diffclust.backends import _torch_relaxed_ops as ops

        M = M0.requires_grad_(True)
        lr = float(params["lr"]) * rm.feature_scale(dbar, X.shape[1])
        optimizer = torch.optim.Adam([M], lr=lr, eps=rm.adam_eps(dbar, X.shape[1]))
        inv_taus = rm.inverse_temperatures(taus, dbar)
        last = float("nan")
        x_sq = torch.einsum("ij,ij->i", X, X).double()
        x_sq_sum = x_sq.sum()
        # The compiled CPU pass wants chunks whose scores stay in L2 (see _torch_relaxed_cpu).
        step_chunk = rm.chunk_rows_for(X.shape[0], M.shape[0], int(params["chunk_rows"]),
                                       accelerator=X.device.type != "cpu", compiled=True)
        for step, batch in enumerate(batches):
            if batch is None:
                Xb, Xb_sq_sum = X, x_sq_sum
            else:
                rows = torch.from_numpy(batch).to(X.device)
                Xb, Xb_sq_sum = X[rows], x_sq[rows].sum()
            optimizer.zero_grad(set_to_none=True)
            noise = ops.GumbelStream(noise_seed, step) if noise_seed is not None else None
            loss = ops.relaxed_kmeans_loss(Xb, M, inv_taus[step], loss=loss_kind, chunk_rows=step_chunk,
                                           noise=noise, x_sq_sum=Xb_sq_sum)
            loss.backward()
            optimizer.step()
            if (step + 1) % every == 0 or step + 1 == len(taus):
                last = float(loss.detach())
                trace(step + 1, M.detach())
        return M.detach(), last

    def _logit_steps(self, X, M0, taus, dbar, batches, generator, params, chunk, every, trace, loss_kind):  # noqa: ANN001, ANN202
        import torch

        from diffclust.backends import _torch_relaxed_ops as ops

        n, k = X.shape[0], M0.shape[0]
        with torch.no_grad():
            Theta = torch.empty((n, k), dtype=X.dtype, device=X.device)
            m_sq = torch.einsum("ij,ij->i", M0, M0)
            for rows in ops.row_slices(n, chunk):
                Theta[rows] = ops.squared_distances(X[rows], M0, m_sq).mul_(-rm.initial_logits_scale(dbar))
        Theta.requires_grad_(True)
        optimizer = torch.optim.Adam([Theta], lr=float(params["lr"]))
        M = M0
        last = float("nan")
        for step, batch in enumerate(batches):
            inv_tau = 1.0 / float(taus[step])
            with torch.no_grad():
                noise = ops.gumbel_noise(n, k, generator, X) if generator is not None else None
                if noise is None:
                    labels = ops.row_argmax(Theta.detach())
                else:
                    labels = ops.row_argmax(Theta.detach() * inv_tau + noise)
                M = ops.cluster_means(X, labels, k, M, chunk)
                if batch is None:
                    total, grad = ops.logits_value_and_grad(X, Theta, M, inv_tau, noise, labels, loss_kind, chunk)
                    grad /= n
                else:
                    rows = torch.from_numpy(batch).to(X.device)
                    total, batch_grad = ops.logits_value_and_grad(
                        X[rows], Theta[rows], M, inv_tau, None if noise is None else noise[rows], labels[rows], loss_kind, chunk
                    )
                    grad = torch.zeros_like(Theta)
                    grad[rows] = batch_grad / rows.numel()
            Theta.grad = grad
            optimizer.step()
            if (step + 1) % every == 0 or step + 1 == len(taus):
                last = float(total) / (n if batch is None else len(batch))
                trace(step + 1, M)
        with torch.no_grad():
            labels = ops.row_argmax(Theta.detach())
            M = ops.cluster_means(X, labels, k, M, chunk)
        return M, labels, last

    # -- conformance -------------------------------------------------------------------

    def surrogate_gradient(self, problem: diffclust.Problem, centroids: np.ndarray, logits: np.ndarray, *,
                           device: str, seed: int | None = None, **params: Any) -> np.ndarray:
        import torch

        from diffclust.backends import _torch_relaxed_ops as ops

        params = {**self.params, **params}
        with torch.no_grad():
            X = to_tensor(problem.X, device)
            M = to_tensor(np.asarray(centroids, dtype=problem.X.dtype), device)
            z = to_tensor(np.asarray(logits, dtype=problem.X.dtype), device).clone()
            if self.stochastic and seed is not None:
                z += ops.gumbel_noise(z.shape[0], z.shape[1], ops.noise_generator(seed, device), X)
            labels = ops.row_argmax(z)
            S = ops.cross_and_distances(X, M, torch.einsum("ij,ij->i", M, M))
            E = S.sub_(S.gather(1, labels[:, None]))
            G = ops.assignment_cotangent(E, ops.centroid_distances(M), labels, str(params["loss"]))
            return ops.softmax_vjp_(ops.softmax_(z), G).cpu().numpy()
