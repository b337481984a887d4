"""The JAX implementation of the relaxed backends (``jax-ste``, ``jax-gumbel``).

The same method and parameters as :mod:`diffclust.backends._torch_relaxed`: the maths is
in :mod:`diffclust.backends._jax_relaxed_ops`, the schedules, step sizes and mini-batch
order in :mod:`diffclust.backends._relaxed_math` (so both frameworks see the same batches
for one seed). Adam is optax's, with torch's defaults. Steps between two trace points run
inside one jit-compiled ``fori_loop``; compiled functions are cached per static
configuration, so the steady-state calls of a cell do not compile again. Computes in
float32 unless ``jax_enable_x64`` is on.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, ClassVar

import numpy as np

import diffclust
from diffclust.backends import _relaxed_math as rm
from diffclust.backends._jax_base import JaxBackend, compute_dtype, import_jax, put
from diffclust.backends.em import tolerance


def adam(lr: float, eps: float = 1e-8) -> Any:
    """optax's Adam with the step size and epsilon in its state (not baked into the
    compiled code, so data of another scale reuses it), ``b1=0.9, b2=0.999`` as torch."""
    import optax

    return optax.inject_hyperparams(optax.adam)(learning_rate=lr, eps=eps)


@lru_cache(maxsize=32)
def centroid_runner(chunk_rows: int, loss: str, stochastic: bool) -> Any:
    """``run_block`` for centroid mode: ``len(inv_taus)`` Adam steps on ``M`` in one
    compiled loop."""
    jax = import_jax()
    import jax.numpy as jnp
    import optax

    from diffclust.backends._jax_relaxed_ops import relaxed_kmeans_loss

    optimizer = adam(0.0)  # update() reads the step size from the state
    value_and_grad = jax.value_and_grad(relaxed_kmeans_loss)

    @jax.jit
    def run_block(M, opt_state, X, inv_taus, batch_rows, key, step0):  # noqa: ANN001, ANN202
        def step(i, carry):  # noqa: ANN001, ANN202
            M, opt_state, _ = carry
            Xb = X if batch_rows is None else X[batch_rows[i]]
            value, grad = value_and_grad(M, Xb, inv_taus[i], jax.random.fold_in(key, step0 + i), chunk_rows, loss, stochastic)
            updates, opt_state = optimizer.update(grad, opt_state, M)
            return optax.apply_updates(M, updates), opt_state, value

        return jax.lax.fori_loop(0, inv_taus.shape[0], step, (M, opt_state, jnp.zeros((), X.dtype)))

    return run_block


@lru_cache(maxsize=32)
def logit_runner(loss: str, stochastic: bool) -> Any:
    """``run_block`` for logit mode (free ``n x k`` logits, ``M`` the cluster means)."""
    jax = import_jax()
    import jax.numpy as jnp
    import optax

    from diffclust.backends._jax_relaxed_ops import cluster_means, gumbel_noise, logits_value_and_grad

    optimizer = adam(0.0)  # update() reads the step size from the state

    @jax.jit
    def run_block(Theta, M, opt_state, X, inv_taus, batch_rows, key, step0):  # noqa: ANN001, ANN202
        n, k = Theta.shape

        def step(i, carry):  # noqa: ANN001, ANN202
            Theta, M, opt_state, _ = carry
            inv_tau = inv_taus[i]
            noise = gumbel_noise(jax.random.fold_in(key, step0 + i), (n, k), X.dtype) if stochastic else None
            labels = jnp.argmax(Theta if noise is None else Theta * inv_tau + noise, axis=1)
            M = cluster_means(X, labels, k, M)
            if batch_rows is None:
                value, grad = logits_value_and_grad(X, Theta, M, inv_tau, noise, labels, loss)
                grad, value = grad / n, value / n
            else:
                rows = batch_rows[i]
                value, part = logits_value_and_grad(
                    X[rows], Theta[rows], M, inv_tau, None if noise is None else noise[rows], labels[rows], loss
                )
                grad = jnp.zeros_like(Theta).at[rows].set(part / rows.shape[0])
                value = value / rows.shape[0]
            updates, opt_state = optimizer.update(grad, opt_state, Theta)
            return optax.apply_updates(Theta, updates), M, opt_state, value

        return jax.lax.fori_loop(0, inv_taus.shape[0], step, (Theta, M, opt_state, jnp.zeros((), X.dtype)))

    return run_block


class JaxRelaxedBackend(rm.RelaxedParams, JaxBackend):
    """Adam (optax) on a straight-through relaxation of k-means, then a Lloyd polish."""

    differentiable = True
    stochastic: ClassVar[bool] = False

    def fit(self, problem: diffclust.Problem, *, device: str, seed: int, trace: diffclust.Trace | None = None, **params: Any) -> diffclust.Fit:
        jax = import_jax()
        import jax.numpy as jnp

        from diffclust.backends._jax_lloyd import lloyd, nearest_jit
        from diffclust.backends._jax_relaxed_ops import squared_distances

        self.check_params(params)
        trace = trace or (lambda step, centroids: None)
        n, d, k = problem.n, problem.d, problem.k
        dbar = problem.mean_sq_distance
        steps = int(params["steps"])
        dtype = compute_dtype(problem.X.dtype)
        jdev = self.jax_device(device)
        X = put(problem.X, jdev, dtype)
        M = put(problem.init, jdev, dtype)
        chunk = rm.chunk_rows_for(n, k, int(params["chunk_rows"]), accelerator=device != "cpu")
        batch_size = int(params["batch_size"])
        if 0 < batch_size < n:
            chunk = min(chunk, batch_size)
        start, end, schedule = self.temperature_range(params)
        taus = rm.temperatures(steps, start, end, schedule)
        key = jax.random.PRNGKey(int(seed) & 0xFFFF_FFFF)
        every = rm.trace_interval(steps)
        batches = list(rm.batch_indices(n, batch_size, steps, seed))
        loss_kind = str(params["loss"])
        logit_mode = params["mode"] == "logits"
        if logit_mode:
            run_block = logit_runner(loss_kind, self.stochastic)
            inv_taus = 1.0 / taus
            m_sq = jnp.einsum("ij,ij->i", M, M)
            Theta = -squared_distances(X, M, m_sq) * rm.initial_logits_scale(dbar)
            state = jax.device_put(adam(float(params["lr"])).init(Theta), jdev)
        else:
            lr = float(params["lr"]) * rm.feature_scale(dbar, d)
            run_block = centroid_runner(chunk, loss_kind, self.stochastic)
            inv_taus = rm.inverse_temperatures(taus, dbar)
            state = jax.device_put(adam(lr, rm.adam_eps(dbar, d)).init(M), jdev)
        last = float("nan")
        for start_step in range(0, steps, every):
            stop = min(start_step + every, steps)
            block_taus = jax.device_put(inv_taus[start_step:stop].astype(dtype), jdev)
            rows = None
            if batches[start_step] is not None:
                rows = jax.device_put(np.stack(batches[start_step:stop]).astype(np.int32), jdev)
            if logit_mode:
                Theta, M, state, value = run_block(Theta, M, state, X, block_taus, rows, key, start_step)
            else:
                M, state, value = run_block(M, state, X, block_taus, rows, key, start_step)
            last = float(value)  # waits for the block
            trace(stop, M.block_until_ready())
        if logit_mode:
            from diffclust.backends._jax_relaxed_ops import cluster_means

            labels = jnp.argmax(Theta, axis=1)
            M = cluster_means(X, labels, k, M)
        else:
            labels = nearest_jit(X, M, chunk_rows=chunk)
        info: dict[str, Any] = {
            "estimator": self.estimator_name(), "mode": params["mode"], "loss": loss_kind, "steps": steps,
            "tau_final": float(taus[-1]) if steps else start, "loss_final": last, "chunk_rows": chunk,
            "dtype": str(dtype),
        }
        n_iter, converged = steps, None
        if params["polish"]:
            info["objective_before_polish"] = _objective(problem.X, labels, M)
            labels, M, polish_iter, converged, relocations = lloyd(
                X, M, max_iter=int(params["max_polish_iter"]), abs_tol=tolerance(problem.X, 1e-4),
                chunk_rows=chunk, trace=trace, step_offset=steps,
            )
            info.update(polish_iter=polish_iter, relocations=relocations,
                        empty_cluster_rule="farthest point (scikit-learn), in the polish")
            n_iter += polish_iter
        labels = np.asarray(jnp.asarray(labels).block_until_ready(), dtype=np.int64)
        return diffclust.Fit(labels=labels, centroids=np.asarray(M), n_iter=n_iter, converged=converged, info=info)

    # -- conformance -------------------------------------------------------------------

    def surrogate_gradient(self, problem: diffclust.Problem, centroids: np.ndarray, logits: np.ndarray, *,
                           device: str, seed: int | None = None, **params: Any) -> np.ndarray:
        jax = import_jax()
        import jax.numpy as jnp

        from diffclust.backends import _jax_relaxed_ops as ops

        params = {**self.params, **params}
        dtype = compute_dtype(problem.X.dtype)
        jdev = self.jax_device(device)
        X, M, z = (put(a, jdev, dtype) for a in (problem.X, centroids, logits))
        if self.stochastic and seed is not None:
            z = z + ops.gumbel_noise(jax.random.PRNGKey(int(seed) & 0xFFFF_FFFF), z.shape, z.dtype)
        labels = jnp.argmax(z, axis=1)
        S = ops.cross_and_distances(X, M, jnp.einsum("ij,ij->i", M, M))
        E = S - jnp.take_along_axis(S, labels[:, None], axis=1)
        G = ops.assignment_cotangent(E, ops.centroid_distances(M), labels, str(params["loss"]))
        return np.asarray(ops.softmax_vjp(jax.nn.softmax(z, axis=1), G))


def _objective(X: np.ndarray, labels: Any, M: Any) -> float:
    """``||X - U M||_F^2`` in float64 on the host copy of the data (chunked)."""
    from diffclust.kmeans_math import assignment_cost

    return assignment_cost(X, np.asarray(labels, dtype=np.int64), np.asarray(M, dtype=np.float64))
