"""Chapter 2: computing the empirical NTK, its convergence to the analytic kernel, its stability.

* Four implementations of Θ̂ = J Jᵀ (paper eq. 3) on the same network and their cost:
  :func:`ntk_functions`, :func:`neural_tangents_ntk`, :func:`ntk_memory`,
  :func:`time_ntk_implementations`.
* Paper Fig. S9/S10: relative error of the average of M empirical kernels at initialization
  against the analytic NTK Θ and NNGP kernel K, over width n and M: :func:`monte_carlo_errors`,
  :func:`fit_joint_power_law`.
* Paper Fig. 1(a, c, d): relative change ||Θ̂_t − Θ̂_0||_F / ||Θ̂_0||_F (and the same for K̂)
  during full-batch gradient descent: :func:`kernel_change`, :func:`kernel_change_sweep`.
* The spectrum of Θ on a training set and η_critical: :func:`spectrum_summary`, :func:`spectra`.
* The one-hidden-layer derivation checked by sampling: Monte-Carlo estimates of the Gaussian
  expectations E[g(u)g(v)] behind the kernel maps T and Ṫ, with standard errors:
  :func:`gaussian_expectations`, :class:`GaussianExpectation`.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import scipy.stats

from .. import _seeds
from .. import _validate as v
from .. import models
from ..data import Dataset, gaussian_inputs, rng
from ..dynamics import ensemble_params, log_steps, stack_members, step_fn, train
from ..kernels import (analytic_kernels, analytic_ntk, divergence_learning_rate,
                       empirical_nngp, empirical_ntk, eta_critical, structured_ntk)
from ..models import Model, Params, forward_features, mlp, nt
from ..stats import relative_error
from . import sweep, width_seed_grid

__all__ = [
    "METHODS", "NT_IMPLEMENTATIONS", "BYTES_PER_FLOAT", "brute_force_ntk",
    "neural_tangents_ntk", "ntk_functions", "implementation_gaps",
    "offdiagonal_output_fraction", "ntk_memory", "time_ntk_implementations",
    "monte_carlo_errors", "error_table", "error_grid", "JointPowerLaw", "fit_joint_power_law",
    "KernelChange", "kernel_change", "KernelChangeSweep", "kernel_change_sweep",
    "spectrum_summary", "spectra", "GaussianExpectation", "gaussian_expectations",
]

BRUTE, NTKLIB, NT_JAC, NT_NTVP = ("brute force J Jᵀ", "ntklib", "NT jacobian contraction",
                                  "NT NTK-vector products")
METHODS = (BRUTE, NTKLIB, NT_JAC, NT_NTVP)
NT_IMPLEMENTATIONS = ("jacobian_contraction", "ntk_vector_products")
BYTES_PER_FLOAT = 4  # float32


# ----------------------------------------------------------------------------- implementations


def _flat_jacobian(apply_fn: Callable, params: Params, x) -> jax.Array:
    """J(x) = ∂f(x)/∂θ as one (N·k, |θ|) matrix, examples major (row i·k + a = output a of x_i)."""
    jac = jax.jacrev(lambda p: apply_fn(p, x))(params)
    leaves = jax.tree_util.tree_leaves(jac)
    n, k = x.shape[0], leaves[0].shape[1]
    return jnp.concatenate([leaf.reshape(n * k, -1) for leaf in leaves], axis=1)


@lru_cache(maxsize=None)
def _brute_force_fn(apply_fn: Callable) -> Callable:
    @jax.jit
    def ntk(params, x1, x2):
        return _flat_jacobian(apply_fn, params, x1) @ _flat_jacobian(apply_fn, params, x2).T

    return ntk


def brute_force_ntk(apply_fn: Callable, params: Params, x1, x2=None) -> np.ndarray:
    """Θ̂ = J(x1) J(x2)ᵀ with both Jacobians formed in full (paper eq. 3), shape (N1·k, N2·k).

    Memory grows as N·k·|θ| floats: the reference, not the method of choice.
    """
    x1 = jnp.asarray(v.finite_array("x1", x1, ndim=2))
    x2 = x1 if x2 is None else jnp.asarray(v.finite_array("x2", x2, ndim=2))
    return np.asarray(_brute_force_fn(apply_fn)(params, x1, x2))


@lru_cache(maxsize=None)
def _nt_fn(apply_fn: Callable, implementation: str, trace_outputs: bool) -> Callable:
    impl = {"jacobian_contraction": nt.NtkImplementation.JACOBIAN_CONTRACTION,
            "ntk_vector_products": nt.NtkImplementation.NTK_VECTOR_PRODUCTS}[implementation]
    fn = nt.empirical_ntk_fn(apply_fn, trace_axes=(-1,) if trace_outputs else (), vmap_axes=0,
                             implementation=impl)
    return jax.jit(fn)


def neural_tangents_ntk(apply_fn: Callable, params: Params, x1, x2=None, *,
                        implementation: str = "jacobian_contraction",
                        trace_outputs: bool = False) -> np.ndarray:
    """neural-tangents' ``empirical_ntk_fn`` (jitted, ``vmap_axes=0``) in ntklib's layout.

    ``trace_outputs=False`` is NT's ``trace_axes=()``: NT returns (N1, N2, k, k), reshaped here to
    the examples-major (N1·k, N2·k) matrix of :func:`ntklib.kernels.empirical_ntk`.
    ``trace_outputs=True`` is NT's default ``trace_axes=(-1,)``: the (N1, N2) mean over the k
    diagonal output blocks. ``implementation``: "jacobian_contraction" or "ntk_vector_products".
    """
    v.choice("implementation", implementation, NT_IMPLEMENTATIONS)
    x1 = jnp.asarray(v.finite_array("x1", x1, ndim=2))
    x2 = x1 if x2 is None else jnp.asarray(v.finite_array("x2", x2, ndim=2))
    with warnings.catch_warnings():
        # NT 0.6.5's NTK-vector-product path calls jnp.size/jnp.shape on ShapeDtypeStructs while
        # tracing; JAX 0.5.3 deprecates that but computes the right sizes. Nothing else is hidden.
        warnings.filterwarnings("ignore", message=r"(size|shape) requires ndarray", category=DeprecationWarning)
        theta = np.asarray(_nt_fn(apply_fn, implementation, bool(trace_outputs))(x1, x2, params))
    if trace_outputs:
        return theta
    n1, n2, k, _ = theta.shape
    return theta.transpose(0, 2, 1, 3).reshape(n1 * k, n2 * k)


def ntk_functions(network: Model) -> dict[str, Callable]:
    """The four implementations of the full empirical NTK, each ``fn(params, x1, x2) -> (N1·k, N2·k)``.

    Keys (:data:`METHODS`): brute-force J Jᵀ, ntklib's per-layer formula
    (:func:`ntklib.kernels.empirical_ntk`), neural-tangents' Jacobian contraction and its
    NTK-vector products.
    """
    models.check_model(network, "network")
    apply_fn = network.apply_fn
    return {
        BRUTE: lambda p, x1, x2: brute_force_ntk(apply_fn, p, x1, x2),
        NTKLIB: lambda p, x1, x2: empirical_ntk(network, p, x1, x2),
        NT_JAC: lambda p, x1, x2: neural_tangents_ntk(apply_fn, p, x1, x2, implementation="jacobian_contraction"),
        NT_NTVP: lambda p, x1, x2: neural_tangents_ntk(apply_fn, p, x1, x2, implementation="ntk_vector_products"),
    }


def implementation_gaps(kernels: Mapping[str, np.ndarray], reference: str = BRUTE) -> pd.DataFrame:
    """max |Θ̂_method − Θ̂_reference| / max |Θ̂_reference| for every method (one row each)."""
    if reference not in kernels:
        raise ValueError(f"reference {reference!r} is not among the kernels {sorted(kernels)}")
    ref = np.asarray(kernels[reference], dtype=np.float64)
    scale = float(np.max(np.abs(ref)))
    rows = [{"method": name, "shape": str(np.shape(k)),
             "max_rel_gap": float(np.max(np.abs(np.asarray(k, np.float64) - ref))) / scale}
            for name, k in kernels.items()]
    return pd.DataFrame(rows)


def offdiagonal_output_fraction(theta, out_dim: int) -> float:
    """||off-diagonal output blocks of Θ̂||_F / ||Θ̂||_F for a full (N1·k, N2·k) examples-major kernel.

    Block (a, b) of Θ̂ couples output a at x with output b at x'. The analytic kernel is Θ ⊗ I_k,
    so at infinite width this fraction is 0; at width n it shrinks like n^{−1/2}.
    """
    theta = v.finite_array("theta", theta, ndim=2).astype(np.float64)
    k = v.positive_int("out_dim", out_dim)
    if theta.shape[0] % k or theta.shape[1] % k:
        raise ValueError(f"theta shape {theta.shape} is not a multiple of out_dim={k} on both axes")
    blocks = theta.reshape(theta.shape[0] // k, k, theta.shape[1] // k, k)
    off = blocks * (1.0 - np.eye(k))[None, :, None, :]
    return float(np.linalg.norm(off) / np.linalg.norm(theta))


def ntk_memory(network: Model, n_examples: int, input_dim: int) -> dict[str, int]:
    """Array sizes (bytes, float32) behind one Θ̂(X, X) of ``n_examples`` inputs, from the shapes.

    ``n_params`` = |θ|; ``jacobian_bytes`` = N·k·|θ|·4 (what J Jᵀ materializes);
    ``kernel_bytes`` = (N·k)²·4 (the result); ``features_bytes`` = 4·N·Σ_l (n_{l−1} + k·n_l), the
    layer inputs x^{l−1} and back-propagated δ^l that ntklib's per-layer formula keeps instead of J.
    """
    models.check_model(network, "network", spec=models.MLP, purpose="the MLP memory formula")
    n = v.positive_int("n_examples", n_examples)
    d = v.positive_int("input_dim", input_dim)
    k = network.out_dim
    fan_in = [d] + [network.width] * network.depth
    fan_out = [network.width] * network.depth + [k]
    bias = 1 if network.sigma_b2 > 0 else 0
    n_params = sum(a * b + bias * b for a, b in zip(fan_in, fan_out))
    return {
        "n_params": int(n_params),
        "jacobian_bytes": int(BYTES_PER_FLOAT * n * k * n_params),
        "kernel_bytes": int(BYTES_PER_FLOAT * (n * k) ** 2),
        "features_bytes": int(BYTES_PER_FLOAT * n * sum(a + k * b for a, b in zip(fan_in, fan_out))),
    }


def time_ntk_implementations(configs: Sequence[tuple[int, int]], *, depth: int, input_dim: int,
                             out_dim: int = 1, activation: str = "relu", repeats: int = 3,
                             methods: Sequence[str] = METHODS, seed: int = 0) -> pd.DataFrame:
    """Wall time of Θ̂(X, X) for each method and each (width, N) in ``configs``.

    Each method is called once to compile (not timed), then ``repeats`` times; the best time is
    kept. Inputs are Gaussian, x ~ N(0, I_{input_dim}). Rows: method, width, n_examples, seconds
    and the :func:`ntk_memory` sizes. Wall times depend on the machine and its load.
    """
    repeats = v.positive_int("repeats", repeats)
    for m in methods:
        v.choice("method", m, METHODS)
    configs = [(v.positive_int("width", int(w)), v.positive_int("n_examples", int(n))) for w, n in configs]

    def run(config: tuple[int, int]) -> list[dict]:
        width, n = config
        net = mlp(depth, width, activation=activation, out_dim=out_dim)
        params = net.init(seed, input_dim)
        x = jnp.asarray(gaussian_inputs(n, input_dim, seed=seed))
        fns = ntk_functions(net)
        mem = ntk_memory(net, n, input_dim)
        rows = []
        for name in methods:
            fns[name](params, x, x)  # compile
            best = math.inf
            for _ in range(repeats):
                start = time.perf_counter()
                fns[name](params, x, x)
                best = min(best, time.perf_counter() - start)
            rows.append({"method": name, "width": width, "n_examples": n, "seconds": best, **mem})
        return rows

    return sweep(run, {"config": configs}, desc="timing").drop(columns="config")


# ----------------------------------------------------------------------------- Fig. S9 / S10


# parameters of the Monte-Carlo networks held at once (float32: 64 MiB); a width's draws are
# split into equal chunks below this
MC_CHUNK_PARAMS = 1 << 24


@lru_cache(maxsize=None)
def _kernels_at_init(network: Model) -> Callable:
    """Jitted (stacked θ_0, x) ↦ (Θ̂_0(x, x), K̂_0(x, x)) of every member (single output),
    stacked: one compiled loop over the members (``lax.map``: one network after the other)."""

    def one(params, x):
        ntk = structured_ntk(network.spec)(network, params, x, x)  # the MLP's formula, traceable
        _, inputs = forward_features(network, params, x)
        last = inputs[-1]
        nngp = (network.sigma_w2 / last.shape[-1]) * last @ last.T + network.sigma_b2
        return ntk, nngp

    return jax.jit(lambda stacked, x: jax.lax.map(lambda params: one(params, x), stacked))


def _sample_kernels(network: Model, keys, x) -> tuple[np.ndarray, np.ndarray]:
    """(Θ̂_0, K̂_0) of ``network.init(key)`` for each key, stacked (float64). The networks are
    drawn outside the compiled loop: their random draws compile once per array size and are
    shared across widths (:func:`ntklib._seeds.normal`), where a jitted draw recompiles the
    generator for every width; they go through the loop in equal chunks of at most
    :data:`MC_CHUNK_PARAMS` parameters."""
    input_dim = int(x.shape[1])
    shapes = jax.eval_shape(lambda key: network.init_fn(key, (-1, input_dim))[1], keys[0])
    n = len(keys)
    limit = max(1, min(n, MC_CHUNK_PARAMS // models.parameter_count(shapes)))
    chunk = max(c for c in range(1, limit + 1) if n % c == 0)
    kernels_of = _kernels_at_init(network)
    ntk, nngp = [], []
    for start in range(0, n, chunk):
        members = [network.init(key, input_dim) for key in keys[start:start + chunk]]
        a, b = kernels_of(stack_members(members), x)
        ntk.append(np.asarray(a, np.float64))
        nngp.append(np.asarray(b, np.float64))
    return np.concatenate(ntk), np.concatenate(nngp)


def monte_carlo_errors(x, *, depth: int, widths: Sequence[int], samples: Sequence[int],
                       replicates: int = 1, activation: str = "relu", sigma_w2: float = 2.0,
                       sigma_b2: float = 0.1, seed: int = 0) -> pd.DataFrame:
    """Relative Frobenius errors of M-sample Monte-Carlo kernels at init (paper Fig. S9, S10).

    For each width n and replicate r, draws max(samples) independent networks (single output,
    NTK parameterization) and, for every M in ``samples``, averages the first M empirical kernels:
        ntk_error  = ||mean_M Θ̂_0 − Θ||_F / ||Θ||_F,   nngp_error = ||mean_M K̂_0 − K||_F / ||K||_F,
    with Θ, K the analytic kernels on ``x`` (neural-tangents' stax). Replicates use disjoint
    networks, so their spread measures the sampling noise. Keys: fold_in(fold_in(PRNGKey(s),
    width), r·max(samples) + m − 1) for the m-th network of replicate r, s = seed +
    $NTKLIB_SEED_OFFSET; the networks of one width are drawn in one compiled call. Returns a
    tidy frame: depth, width, samples, replicate, ntk_error, nngp_error.
    """
    x = jnp.asarray(v.finite_array("x", x, ndim=2))
    depth = v.positive_int("depth", depth)
    widths = [v.positive_int("width", int(w)) for w in widths]
    samples = sorted({v.positive_int("samples", int(m)) for m in samples})
    replicates = v.positive_int("replicates", replicates)
    seed = v.nonnegative_int("seed", seed)
    if not widths or not samples:
        raise ValueError(f"need at least one width and one sample count, got {widths}, {samples}")
    m_max = samples[-1]
    make = lambda w: mlp(depth, w, activation=activation, sigma_w2=sigma_w2, sigma_b2=sigma_b2)
    nngp_inf, ntk_inf = (np.asarray(k, np.float64) for k in analytic_kernels(make(widths[0]), x))
    base = _seeds.key("seed", seed)
    index = jnp.arange(replicates * m_max)

    def run(width: int) -> list[dict]:
        width_key = jax.random.fold_in(base, width)
        keys = jax.vmap(lambda i: jax.random.fold_in(width_key, i))(index)
        ntk, nngp = _sample_kernels(make(width), list(keys), x)
        counts = np.arange(1, m_max + 1)[:, None, None]
        rows = []
        for r in range(replicates):  # running means over the replicate's m_max networks
            block = slice(r * m_max, (r + 1) * m_max)
            mean_ntk = np.cumsum(ntk[block], axis=0) / counts
            mean_nngp = np.cumsum(nngp[block], axis=0) / counts
            rows += [{"depth": depth, "samples": m, "replicate": r,
                      "ntk_error": relative_error(mean_ntk[m - 1], ntk_inf),
                      "nngp_error": relative_error(mean_nngp[m - 1], nngp_inf)} for m in samples]
        return rows

    frame = sweep(run, {"width": widths}, desc=f"Monte Carlo, depth {depth}")
    return frame[["depth", "width", "samples", "replicate", "ntk_error", "nngp_error"]]


def error_table(frame: pd.DataFrame, metric: str, *, samples: int | None = None,
                width: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(axis values, errors of shape (replicates, ·)) from :func:`monte_carlo_errors`.

    Give ``samples`` to get errors against width at that M, or ``width`` to get errors against M
    at that width — ready for :func:`ntklib.stats.fit_power_law`.
    """
    if (samples is None) == (width is None):
        raise ValueError(f"give exactly one of samples or width, got samples={samples}, width={width}")
    if metric not in frame.columns:
        raise ValueError(f"metric {metric!r} is not a column of the frame: {list(frame.columns)}")
    sel = frame[frame["samples"] == samples] if samples is not None else frame[frame["width"] == width]
    axis = "width" if samples is not None else "samples"
    if sel.empty:
        raise ValueError(f"no rows with samples={samples}, width={width}")
    table = sel.pivot(index="replicate", columns=axis, values=metric).sort_index(axis=1)
    return table.columns.to_numpy(), table.to_numpy()


def error_grid(frame: pd.DataFrame, metric: str, *, per_replicate: bool = False
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(widths, samples, errors): the geometric mean over replicates, of shape
    (len(samples), len(widths)); with ``per_replicate`` every replicate's errors, of shape
    (replicates, len(samples), len(widths)) — for :func:`fit_joint_power_law` over all cells."""
    if metric not in frame.columns:
        raise ValueError(f"metric {metric!r} is not a column of the frame: {list(frame.columns)}")
    logs = frame.assign(_log=np.log(frame[metric].to_numpy()))
    table = logs.groupby(["samples", "width"])["_log"].mean().unstack("width").sort_index().sort_index(axis=1)
    widths, samples = table.columns.to_numpy(), table.index.to_numpy()
    if not per_replicate:
        return widths, samples, np.exp(table.to_numpy())
    cube = (frame.pivot_table(index=["replicate", "samples"], columns="width", values=metric)
            .sort_index().sort_index(axis=1))
    replicates = cube.index.get_level_values("replicate").unique()
    return widths, samples, cube.to_numpy().reshape(len(replicates), samples.size, widths.size)


@dataclass(frozen=True)
class JointPowerLaw:
    """error ≈ prefactor · n^width_exponent · M^samples_exponent (OLS on the log grid), with
    each exponent's standard error and 95% t-interval (``width_interval``, ``samples_interval``)."""

    width_exponent: float
    width_stderr: float
    samples_exponent: float
    samples_stderr: float
    prefactor: float
    width_interval: tuple[float, float]
    samples_interval: tuple[float, float]

    def predict(self, widths, samples) -> np.ndarray:
        return (self.prefactor * np.asarray(widths, float) ** self.width_exponent
                * np.asarray(samples, float) ** self.samples_exponent)


def fit_joint_power_law(widths, samples, errors) -> JointPowerLaw:
    """Fit log error = log c + a·log n + b·log M over a grid of errors.

    ``errors`` of shape (len(samples), len(widths)), or (replicates, len(samples), len(widths))
    to fit every replicate's cells pooled (the interval then includes the scatter between
    replicates). Ordinary least squares; standard errors and 95% t-intervals (dof = cells − 3)
    treat the cells as independent. Theory for the Monte-Carlo kernel (paper §I): a = b = −1/2.
    """
    widths = v.finite_array("widths", widths, ndim=1).astype(np.float64)
    samples = v.finite_array("samples", samples, ndim=1).astype(np.float64)
    errors = np.asarray(errors, dtype=np.float64)
    if errors.ndim == 2:
        errors = errors[None]
    errors = v.finite_array("errors", errors, ndim=3)
    if errors.shape[1:] != (samples.size, widths.size):
        raise ValueError(f"errors must have shape ([replicates,] len(samples), len(widths)) = "
                         f"{(samples.size, widths.size)}, got {errors.shape}")
    if np.any(errors <= 0) or np.any(widths <= 0) or np.any(samples <= 0):
        raise ValueError("widths, samples and errors must be > 0 for a log-log fit")
    if widths.size < 2 or samples.size < 2 or errors.size < 4:
        raise ValueError(f"need >= 2 widths and >= 2 sample counts, got {widths.size} and {samples.size}")
    logn, logm = np.meshgrid(np.log(widths), np.log(samples))
    reps = errors.shape[0]
    design = np.stack([np.tile(logn.ravel(), reps), np.tile(logm.ravel(), reps),
                       np.ones(errors.size)], axis=1)
    y = np.log(errors).ravel()
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    resid = y - design @ coef
    dof = y.size - 3
    sigma2 = float(resid @ resid) / dof
    cov = sigma2 * np.linalg.inv(design.T @ design)
    se = np.sqrt(np.diag(cov))
    half = float(scipy.stats.t.ppf(0.975, dof)) * se
    return JointPowerLaw(float(coef[0]), float(se[0]), float(coef[1]), float(se[1]),
                         float(np.exp(coef[2])),
                         (float(coef[0] - half[0]), float(coef[0] + half[0])),
                         (float(coef[1] - half[1]), float(coef[1] + half[1])))


# ----------------------------------------------------------------------------- Fig. 1


@dataclass(frozen=True)
class KernelChange:
    """Relative kernel change along one gradient-descent run (paper Fig. 1a).

    ``ntk_change[t]`` = ||Θ̂_t − Θ̂_0||_F / ||Θ̂_0||_F and ``nngp_change[t]`` = ||K̂_t − K̂_0||_F / ||K̂_0||_F
    on the training inputs, at the recorded ``steps`` (``times`` = η·steps); ``loss_train`` as in
    :class:`ntklib.dynamics.TrainResult`.
    """

    steps: np.ndarray
    times: np.ndarray
    ntk_change: np.ndarray
    nngp_change: np.ndarray
    loss_train: np.ndarray


def kernel_change(network: Model, params: Params, data: Dataset, *, lr: float, steps: int,
                  record: Sequence[int] | None = None) -> KernelChange:
    """Train ``network`` by full-batch GD (:func:`ntklib.dynamics.train`, recorded parameters) and
    measure Θ̂_t and K̂_t on ``data.x_train`` at every recorded step against their values at t = 0."""
    result = train(network, params, data, lr=lr, steps=steps, record=record, record_params=True)
    x = data.x_train
    ntk0 = empirical_ntk(network, result.params[0], x)
    nngp0 = empirical_nngp(network, result.params[0], x)
    ntk_change = [relative_error(empirical_ntk(network, p, x), ntk0) for p in result.params]
    nngp_change = [relative_error(empirical_nngp(network, p, x), nngp0) for p in result.params]
    return KernelChange(result.steps, result.times, np.array(ntk_change), np.array(nngp_change),
                        result.loss_train)


@dataclass(frozen=True)
class KernelChangeSweep:
    """:func:`kernel_change` over widths and seeds: ``trajectories`` (one row per recorded step) and
    ``final`` (one row per run: the change at the last step), the learning rate ``lr`` and the
    ``eta_critical`` of the analytic NTK it was chosen from."""

    lr: float
    eta_critical: float
    trajectories: pd.DataFrame
    final: pd.DataFrame


@lru_cache(maxsize=None)
def _member_kernels(network: Model) -> Callable:
    """Jitted, vmapped over members: (Θ̂(x, x), K̂(x, x), f(x)) of stacked parameters."""
    ntk = structured_ntk(network.spec)

    def one(params, x):
        feats = network.features_fn(params, x)
        nngp = (network.sigma_w2 / feats.shape[-1]) * feats @ feats.T + network.sigma_b2
        return ntk(network, params, x, x), nngp, network.apply_fn(params, x)

    return jax.jit(jax.vmap(one, in_axes=(0, None)))


def kernel_change_sweep(data: Dataset, *, widths: Sequence[int], seeds: Sequence[int], depth: int,
                        steps: int, lr_fraction: float, num_records: int = 12,
                        activation: str = "relu", sigma_w2: float = 2.0,
                        sigma_b2: float = 0.1) -> KernelChangeSweep:
    """Paper Fig. 1(a, c, d): relative change of Θ̂ and K̂ during training, for each width and seed.

    The learning rate is ``lr_fraction`` · η_critical, with η_critical = 2Nk/(λ_min + λ_max) of the
    analytic NTK on ``data.x_train`` (the same for every width in the NTK parameterization).
    Records at :func:`ntklib.dynamics.log_steps` (``steps``, ``num_records``). The seeds of one
    width start from ``net.init(seed)`` and train together (:func:`ntklib.dynamics.step_fn`,
    vmapped: the iterates of :func:`kernel_change` up to round-off), so each width compiles its
    loop and its kernels once.
    """
    widths, seeds = width_seed_grid(data, widths, seeds, name="kernel_change_sweep")
    lr_fraction = v.positive_float("lr_fraction", lr_fraction)
    steps = v.positive_int("steps", steps)
    make = lambda w: mlp(depth, w, activation=activation, sigma_w2=sigma_w2, sigma_b2=sigma_b2,
                         out_dim=data.out_dim)
    eta_c = eta_critical(analytic_ntk(make(widths[0]), data.x_train), out_dim=data.out_dim)
    lr = lr_fraction * eta_c
    record = log_steps(steps, v.positive_int("num_records", num_records))
    x, y = jnp.asarray(data.x_train), jnp.asarray(data.y_train)
    y64 = np.asarray(data.y_train, np.float64)

    def run(width: int) -> list[dict]:
        net = make(width)
        params = ensemble_params(net, seeds, data.input_dim)
        rates = jax.tree_util.tree_map(lambda _: lr, jax.tree_util.tree_map(lambda l: l[0], params))
        advance = step_fn(net.apply_fn, members=True)
        measure = _member_kernels(net)
        no_losses = jnp.zeros((len(seeds), 0), jnp.float32)
        rows, current, first = [], 0, None
        for s in record:
            if s > current:
                params = advance(params, (), no_losses, x, y, rates, 0.0, None, current, int(s) - current)[0]
                current = int(s)
            ntk, nngp, f = (np.asarray(a, np.float64) for a in measure(params, x))
            first = (ntk, nngp) if first is None else first
            for m, seed in enumerate(seeds):
                rows.append({"seed": seed, "step": current, "time": lr * current,
                             "ntk_change": relative_error(ntk[m], first[0][m]),
                             "nngp_change": relative_error(nngp[m], first[1][m]),
                             "loss_train": float(0.5 * np.mean((f[m] - y64) ** 2))})
        return rows

    traj = sweep(run, {"width": widths}, desc="kernel change")
    ends = traj.sort_values("step").groupby(["width", "seed"], sort=True)
    final = pd.DataFrame({"ntk_change": ends.ntk_change.last(), "nngp_change": ends.nngp_change.last(),
                          "loss_initial": ends.loss_train.first(),
                          "loss_final": ends.loss_train.last()}).reset_index()
    return KernelChangeSweep(lr, eta_c, traj[["width", "seed", "step", "time", "ntk_change",
                                              "nngp_change", "loss_train"]], final)


# ----------------------------------------------------------------------------- spectra


def spectrum_summary(theta_train, *, out_dim: int = 1) -> dict[str, float]:
    """λ_min, λ_max, condition number λ_max/λ_min, η_critical = 2Nk/(λ_min + λ_max) and the
    linear-model divergence rate 2Nk/λ_max of an (N, N) train kernel (book's ½·mean loss)."""
    theta = v.symmetric_matrix("theta_train", theta_train).astype(np.float64)
    lam = np.linalg.eigvalsh(theta)
    return {"lam_min": float(lam[0]), "lam_max": float(lam[-1]), "condition": float(lam[-1] / lam[0]),
            "eta_critical": eta_critical(theta, out_dim=out_dim),
            "eta_divergence": divergence_learning_rate(theta, out_dim=out_dim)}


def spectra(networks: Mapping[str, Model], x) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Analytic-NTK spectra on ``x`` for several architectures.

    Returns a frame (one row per label: depth, activation and :func:`spectrum_summary`) and the
    eigenvalues of each Θ(x, x), largest first.
    """
    x = v.finite_array("x", x, ndim=2)
    rows, eigs = [], {}
    for label, net in networks.items():
        models.check_model(net, "networks")
        theta = np.asarray(analytic_ntk(net, x), np.float64)
        theta = (theta + theta.T) / 2
        eigs[label] = np.linalg.eigvalsh(theta)[::-1]
        rows.append({"label": label, "depth": net.depth, "activation": net.activation,
                     **spectrum_summary(theta)})
    return pd.DataFrame(rows), eigs


# ----------------------------------------------------------------------------- Gaussian expectations


@dataclass(frozen=True)
class GaussianExpectation:
    """Monte-Carlo estimate of E[g(u_i) g(u_j)] for u ~ N(0, Σ), all pairs (i, j) at once.

    ``mean`` (N, N) is the sample mean of g(u_i)g(u_j) over ``samples`` draws, ``standard_error``
    (N, N) its standard error sd/√samples (sd of the products, ddof = 1).
    """

    mean: np.ndarray
    standard_error: np.ndarray
    samples: int

    def z_scores(self, exact) -> np.ndarray:
        """(mean − exact) / standard_error on the upper triangle i ≤ j (each pair once), flat.

        Entries with a zero standard error (g(u_i)g(u_j) constant, e.g. identically 0) must match
        ``exact`` exactly and give z = 0; a mismatch there raises.
        """
        exact = v.finite_array("exact", exact, ndim=2)
        if exact.shape != self.mean.shape:
            raise ValueError(f"exact must have shape {self.mean.shape}, got {exact.shape}")
        rows, cols = np.triu_indices(self.mean.shape[0])
        diff = self.mean[rows, cols] - exact[rows, cols]
        se = self.standard_error[rows, cols]
        if np.any((se == 0) & (diff != 0)):
            raise ValueError("a constant product g(u_i)g(u_j) differs from its exact value")
        return np.divide(diff, se, out=np.zeros_like(diff), where=se > 0)


def gaussian_expectations(cov, functions: Mapping[str, Callable[[np.ndarray], np.ndarray]], *,
                          samples: int, seed: int = 0) -> dict[str, GaussianExpectation]:
    """E[g(u_i) g(u_j)], u ~ N(0, Σ) with Σ = ``cov`` (N, N), for each g of ``functions``.

    The kernel maps of the NNGP/NTK recursion are such expectations over a pair of jointly
    Gaussian pre-activations: T(Σ) = E[φ(u)φ(v)] and Ṫ(Σ) = E[φ'(u)φ'(v)] (paper SM §E). One
    draw of u = Σ^{1/2} z, z ~ N(0, I_N) (z from :func:`ntklib.data.rng`, so shifted by
    ``$NTKLIB_SEED_OFFSET``), gives every pair (u_i, u_j) with its 2 × 2 covariance block at
    once; Σ^{1/2} is the symmetric square root (Σ may be singular). Each g maps an array of
    pre-activations to an array of the same shape (numpy, element-wise). float64.

    >>> cov = np.array([[1.0, 0.5], [0.5, 2.0]])
    >>> est = gaussian_expectations(cov, {"id": lambda u: u}, samples=100_000, seed=0)["id"]
    >>> bool(np.all(np.abs(est.z_scores(cov)) < 5))  # E[u_i u_j] = Σ_ij
    True
    """
    cov = v.symmetric_matrix("cov", cov).astype(np.float64)
    cov = (cov + cov.T) / 2
    samples = v.positive_int("samples", samples)
    if samples < 2:
        raise ValueError(f"samples must be at least 2 (for a standard error), got samples={samples}")
    if not functions:
        raise ValueError("functions must name at least one function g")
    lam, vecs = np.linalg.eigh(cov)
    if lam[0] < -1e-10 * max(1.0, abs(lam[-1])):
        raise ValueError(f"cov must be positive semi-definite, got smallest eigenvalue {lam[0]:.3g}")
    root = (vecs * np.sqrt(np.maximum(lam, 0.0))) @ vecs.T
    u = rng(seed).standard_normal((samples, cov.shape[0])) @ root
    out = {}
    for name, g in functions.items():
        if not callable(g):
            raise TypeError(f"functions[{name!r}] must be callable, got {type(g).__name__}")
        a = np.asarray(g(u), np.float64)
        if a.shape != u.shape:
            raise ValueError(f"functions[{name!r}] must keep the shape {u.shape}, got {a.shape}")
        mean = a.T @ a / samples
        second = (a ** 2).T @ (a ** 2) / samples  # E[g(u_i)² g(u_j)²]
        var = np.maximum(second - mean ** 2, 0.0) * samples / (samples - 1)
        out[name] = GaussianExpectation(mean, np.sqrt(var / samples), samples)
    return out
