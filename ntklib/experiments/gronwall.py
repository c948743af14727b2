"""The book's learning-rate experiment: η = c·η_critical swept across the threshold of Theorem 2.1.

The paper states the condition η < η_critical = 2Nk/(λ_min + λ_max) (book convention) but runs
no such sweep; this module is the book's own experiment. For each network and multiplier c it
trains the network by full-batch GD (divergence allowed and recorded), evaluates its
linearization exactly (:class:`ntklib.dynamics.LinearPredictor` with Θ̂_0) and records how far
the empirical NTK moved — the catapult picture of Lewkowycz et al. (2020).

Before the proof, the chapter gives the one-line reason for linearization (Liu, Zhu & Belkin
2020): Taylor's theorem bounds |f(θ; x) − f_lin(θ; x)| by ½ sup ||H||_op ||θ − θ_0||², with H the
Hessian of the output in the parameters. :func:`hessian_norm` measures ||H||_op by power iteration
with Hessian-vector products, :func:`taylor_remainder` and :func:`taylor_bound` evaluate both
sides of the inequality, and :func:`linearity_sweep` does both for every run of a width sweep.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from .. import _validate as v
from .. import claims, models
from ..data import Dataset
from ..dynamics import LinearPredictor, gradient_descent, log_steps
from ..kernels import analytic_ntk, empirical_ntk, eta_critical
from ..data import rng
from ..bounds import RunMeasurements, _apply_fn  # Model or apply_fn → apply_fn
from ..models import Model, Params, forward_features, parameter_distance
from ..stats import PowerLaw, relative_error, rmse
from . import sweep

__all__ = [
    "OUTCOMES", "TRAINED_BELOW", "state_exponent", "dead_fraction", "classify", "lr_run", "learning_rate_sweep", "boundaries",
    "HessianNorm", "hessian_norm", "taylor_remainder", "TaylorBound", "taylor_bound",
    "linearity_sweep",
]

OUTCOMES = ("linear", "catapult", "stuck", "diverged")
TRAINED_BELOW = 0.5  # a run "trained" if its final loss is below this fraction of the initial one


def state_exponent(name: str, fit: PowerLaw, *, contains: float | None = None,
                   below: float | None = None, near: float | None = None, tol: float = 0.1,
                   digits: int = 2) -> PowerLaw:
    """State a fitted exponent and its 95% interval as claims ``name``, ``name_lo``, ``name_hi``.

    ``contains``: the sentence says the exponent is consistent with this value, so the check
    is ci_low ≤ value ≤ ci_high. ``below``: the sentence says the quantity decays faster than
    n^below, so the check is ci_high < below. ``near``: the sentence says the exponent is close
    to this value, so the check is |exponent − near| ≤ ``tol`` (for narrow intervals that a
    finite-width correction can shift off the asymptotic value). At least one must be given (an
    exponent stated without a check could not fail). Returns ``fit``.

    >>> fit = PowerLaw(-0.48, 0.02, -0.52, -0.44, 1.0, "pooled ols")
    >>> state_exponent("doc_exp", fit, contains=-0.5) is fit
    doc_exp = -0.48
    doc_exp_lo = -0.52
    doc_exp_hi = -0.44
    True
    >>> [c.passes for c in claims.recorded() if c.name.startswith("doc_exp")]
    [True, True, True]
    """
    if not isinstance(fit, PowerLaw):
        raise TypeError(f"fit must be a stats.PowerLaw, got {type(fit).__name__}")
    if contains is None and below is None and near is None:
        raise ValueError(f"state_exponent({name!r}) needs contains=, below= or near= "
                         "(a check that can fail)")
    tol = v.positive_float("tol", tol)
    lo_check = (None, contains) if contains is not None else None
    hi_check = (contains if contains is not None else None,
                below - 10.0 ** -digits if below is not None else None)
    point_check = (near - tol, near + tol) if near is not None else None
    claims.state(name, fit.exponent, digits=digits, between=point_check)
    claims.state(f"{name}_lo", fit.ci_low, digits=digits, between=lo_check)
    claims.state(f"{name}_hi", fit.ci_high, digits=digits, between=hi_check)
    return fit


def dead_fraction(network: Model, params: Params, x) -> float:
    """Fraction of hidden units (all layers) whose pre-activation is ≤ 0 on every input of ``x``.

    For ReLU such a unit has zero gradient on the data and never recovers ("dead"); for smooth
    activations the number is reported but means nothing.
    """
    models.check_model(network, "network")
    x = jnp.asarray(v.finite_array("x", x, ndim=2))
    _, inputs = forward_features(network, params, x)
    hidden = inputs[1:]  # x^1 … x^L = φ(h^l); for ReLU x^l > 0 ⇔ h^l > 0
    if not hidden:
        return 0.0
    if network.activation != "relu":
        return float("nan")
    dead = sum(int(np.sum(np.all(np.asarray(a) <= 0, axis=0))) for a in hidden)
    return dead / sum(a.shape[1] for a in hidden)


def classify(nn_diverged: bool, lin_diverged: bool, loss_ratio: float, *,
             trained_below: float = TRAINED_BELOW) -> str:
    """One word per run: "diverged" (network loss blew up: non-finite or above
    :data:`ntklib.dynamics.DIVERGENCE_LOSS`), "stuck" (finite but final/initial loss ≥
    ``trained_below``), "catapult" (network trains while its linearization diverges), "linear"
    (both train)."""
    trained_below = v.positive_float("trained_below", trained_below)
    if nn_diverged:
        return "diverged"
    if not np.isfinite(loss_ratio) or loss_ratio >= trained_below:
        return "stuck"
    return "catapult" if lin_diverged else "linear"


def lr_run(network: Model, params: Params, data: Dataset, *, lr: float, steps: int,
           eta_crit: float) -> dict[str, float]:
    """One run at rate ``lr``: the network by GD, its linearization in closed form, and metrics.

    Returns c = lr/η_crit, whether the network and the linear model diverge (the latter iff
    η λ_max(Θ̂_0)/(Nk) > 2, with c_lin = 2Nk/(λ_max(Θ̂_0) η_crit) its exact threshold), initial,
    peak and final training loss, the kernel's relative move ||Θ̂_T − Θ̂_0||_F/||Θ̂_0||_F, the
    RMS test-output gap to the linearization (if neither diverged), the dead-unit fraction,
    the step's stability numbers η λ_max(Θ̂_0)/(Nk) (``sharpness_0``; the linear model diverges
    iff > 2) and η λ_max(Θ̂_T)/(Nk) (``sharpness_T``, if the network did not diverge) and the
    outcome label of :func:`classify`.
    """
    lr = v.positive_float("lr", lr)
    eta_crit = v.positive_float("eta_crit", eta_crit)
    steps = v.positive_int("steps", steps)
    res = gradient_descent(network.apply_fn, params, data.x_train, data.y_train, lr=lr, steps=steps,
                           x_test=data.x_test, y_test=data.y_test, record=log_steps(steps, 20),
                           allow_divergence=True)
    n_out = data.y_train.size
    theta0 = empirical_ntk(network, params, data.x_train).astype(np.float64)
    lam_max = float(np.linalg.eigvalsh(theta0)[-1])
    lin_threshold = 2.0 * n_out / lam_max
    lin_diverged = lr > lin_threshold
    loss0 = float(res.loss_train[0])
    out = {"c": lr / eta_crit, "lr": lr, "nn_diverged": res.diverged, "lin_diverged": lin_diverged,
           "c_lin": lin_threshold / eta_crit, "loss_0": loss0,
           "loss_peak_ratio": float(np.max(res.loss_train)) / loss0,
           "loss_ratio": float("nan"), "kernel_change": float("nan"), "lin_gap_test": float("nan"),
           "dead_fraction": float("nan"), "sharpness_0": lr * lam_max / n_out,
           "sharpness_T": float("nan")}
    if not res.diverged:
        out["loss_ratio"] = float(res.loss_train[-1]) / loss0
        theta_t = empirical_ntk(network, res.params_final, data.x_train).astype(np.float64)
        out["sharpness_T"] = lr * float(np.linalg.eigvalsh(theta_t)[-1]) / n_out
        out["kernel_change"] = relative_error(theta_t, theta0)
        out["dead_fraction"] = dead_fraction(network, res.params_final, data.x_train)
        if not lin_diverged:
            theta_x = empirical_ntk(network, params, data.x_test, data.x_train)
            _, flin_test = LinearPredictor.from_kernels(theta0, theta_x, res.f_train[0], res.f_test[0],
                                                        data.y_train).predict(steps, lr=lr)
            out["lin_gap_test"] = float(rmse(res.f_test[-1], flin_test))
    out["outcome"] = classify(out["nn_diverged"], lin_diverged, out["loss_ratio"])
    return out


def learning_rate_sweep(networks: Mapping[str, Model], data: Dataset, multipliers: Sequence[float], *,
                        steps: int, seeds: Sequence[int] = (0,)) -> pd.DataFrame:
    """Train every network at η = c·η_critical for every c in ``multipliers`` and seed.

    η_critical = 2Nk/(λ_min + λ_max) of each network's *analytic* NTK on ``data.x_train``.
    Returns a tidy frame: one row per (net, seed, c) with the columns of :func:`lr_run` plus
    ``net``, ``seed`` and ``eta_crit``.
    """
    if not networks:
        raise ValueError("networks must name at least one network")
    mults = [v.positive_float("multiplier", float(c)) for c in multipliers]
    if not mults:
        raise ValueError("multipliers must not be empty")
    seeds = [v.nonnegative_int("seed", int(s)) for s in seeds]
    eta_c = {name: eta_critical(analytic_ntk(net, data.x_train), out_dim=data.out_dim)
             for name, net in networks.items()}
    init = {}

    def run(net: str, seed: int, c: float) -> dict:
        if (net, seed) not in init:
            init[(net, seed)] = networks[net].init(seed, data.input_dim)
        out = lr_run(networks[net], init[(net, seed)], data, lr=c * eta_c[net], steps=steps,
                     eta_crit=eta_c[net])
        # c is the grid value itself: lr/η_crit can differ from it in the last bit, which would
        # split one column of the grid into two for a network whose η_crit rounds differently.
        return {"eta_crit": eta_c[net], **{k: val for k, val in out.items() if k != "c"}}

    frame = sweep(run, {"net": list(networks), "seed": seeds, "c": mults}, desc="learning-rate sweep")
    first = ["net", "seed", "eta_crit", "c"]
    return frame[first + [col for col in frame.columns if col not in first]]


def boundaries(frame: pd.DataFrame) -> pd.DataFrame:
    """Per network, the measured thresholds on the c grid (NaN where the grid shows none).

    ``c_lin_exact``: mean over seeds of the linear model's exact threshold 2Nk/(λ_max(Θ̂_0) η_crit);
    ``c_lin``: smallest c at which the linearization diverged; ``c_max_trained``: largest c at which
    the network still trained (outcome linear or catapult) in every seed; ``c_nn_diverged``: smallest
    c at which the network diverged in some seed; ``c_stuck``: smallest c with a stuck run.
    """
    need = {"net", "c", "c_lin", "lin_diverged", "nn_diverged", "outcome"}
    missing = need - set(frame.columns)
    if missing:
        raise ValueError(f"frame lacks columns {sorted(missing)}; pass learning_rate_sweep's output")

    def smallest(mask, cs):
        return float(cs[mask].min()) if mask.any() else float("nan")

    rows = []
    for name, g in frame.groupby("net", sort=False):
        per_c = g.groupby("c")
        cs = np.array(sorted(g["c"].unique()))
        trained = per_c["outcome"].agg(lambda o: bool(np.all(o.isin(["linear", "catapult"])))).reindex(cs).to_numpy()
        lin = per_c["lin_diverged"].any().reindex(cs).to_numpy()
        div = per_c["nn_diverged"].any().reindex(cs).to_numpy()
        stuck = per_c["outcome"].agg(lambda o: bool(np.any(o == "stuck"))).reindex(cs).to_numpy()
        rows.append({"net": name, "c_lin_exact": float(g["c_lin"].mean()), "c_lin": smallest(lin, cs),
                     "c_max_trained": float(cs[trained].max()) if trained.any() else float("nan"),
                     "c_nn_diverged": smallest(div, cs), "c_stuck": smallest(stuck, cs)})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- the Hessian view


def _one_input(x) -> np.ndarray:
    """A single input as a 1-d array (an (n0,) vector or a (1, n0) row)."""
    x = v.finite_array("x", x, ndim=(1, 2))
    if x.ndim == 2:
        if x.shape[0] != 1:
            raise ValueError(f"x must be one input, shape (n0,) or (1, n0), got {x.shape}")
        x = x[0]
    return x


def _check_scalar_output(apply_fn: Callable, params: Params, x: np.ndarray) -> None:
    shape = jax.eval_shape(lambda p: apply_fn(p, x[None]), params).shape
    if shape != (1, 1):
        raise ValueError(f"the model must have one output (f(x) of shape (1, 1)), got {shape}: the "
                         "Hessian of a vector output is a tensor; take one output")


def _tree_norm(tree) -> jax.Array:
    return jnp.sqrt(sum(jnp.vdot(a, a).real for a in jax.tree_util.tree_leaves(tree)))


@lru_cache(maxsize=32)
def _power_step(apply_fn: Callable) -> Callable:
    """Jitted (θ, v, x) ↦ (Hv/||Hv||, ||Hv||) with H = ∇²_θ f(θ; x): a JVP of the gradient."""

    def step(params, vec, x):
        grad = jax.grad(lambda p: apply_fn(p, x[None])[0, 0])
        hv = jax.jvp(grad, (params,), (vec,))[1]
        norm = _tree_norm(hv)
        safe = jnp.where(norm > 0, norm, 1.0)
        return jax.tree_util.tree_map(lambda a: a / safe, hv), norm

    return jax.jit(step)


@dataclass(frozen=True)
class HessianNorm:
    """Power-iteration estimate of ||H||_op, H = ∇²_θ f(θ; x) (see :func:`hessian_norm`).

    ``history[k]`` = ||H v_k|| for the unit vectors v_0, v_1, …; it never decreases and never
    exceeds ||H||_op, so ``value`` (the last entry) is a lower bound that converges to ||H||_op.
    """

    value: float
    history: np.ndarray

    def growth(self, last: int = 10) -> float:
        """Relative increase of the estimate over its ``last`` iterations: small once converged
        (it does not bound the remaining error when the top eigenvalues are close)."""
        last = v.positive_int("last", last)
        if last >= self.history.size:
            raise ValueError(f"last must be below the {self.history.size} iterations, got last={last}")
        before = float(self.history[-1 - last])
        return float(self.value / before - 1.0) if before > 0 else float("inf")


def hessian_norm(model: Model | Callable, params: Params, x, *, iterations: int = 50,
                 seed: int = 0) -> HessianNorm:
    """||H||_op = max_i |λ_i(H)| of the Hessian of the output, H = ∇²_θ f(θ; x), by power iteration.

    v_{k+1} = H v_k / ||H v_k||, starting from a Gaussian unit vector v_0 (drawn with
    :func:`ntklib.data.rng` (``seed``)); H v = d/dε ∇_θ f(θ + εv; x) at ε = 0 is a forward-mode
    derivative (``jax.jvp``) of the reverse-mode gradient (``jax.grad``), so H (|θ|² entries) is
    never formed. For symmetric H, ||H v_k|| increases with k to ||H||_op (its largest
    |eigenvalue|, whatever its sign): the estimate is a lower bound. ``model`` is an ntklib
    :class:`~ntklib.models.Model` or an ``apply_fn(params, x)`` with one output; ``x`` is one input.

    >>> A = jnp.diag(jnp.array([3.0, -5.0, 1.0]))
    >>> f = lambda p, x: 0.5 * (p @ A @ p) * x[:, :1]  # H = A at x = 1
    >>> round(hessian_norm(f, jnp.ones(3), jnp.ones(1), iterations=60).value, 4)
    5.0
    """
    apply_fn = _apply_fn(model)
    iterations = v.positive_int("iterations", iterations)
    x = _one_input(x)
    _check_scalar_output(apply_fn, params, x)
    gen = rng(seed)  # the start vector on the host: no small device computations to compile
    start = jax.tree_util.tree_map(lambda a: gen.standard_normal(np.shape(a)), params)
    scale = np.sqrt(sum(np.sum(a ** 2) for a in jax.tree_util.tree_leaves(start)))
    vec = jax.tree_util.tree_map(lambda a, p: jnp.asarray((a / scale).astype(np.dtype(p.dtype))),
                                 start, params)  # cast on the host: a device cast compiles
    step = _power_step(apply_fn)
    x = jnp.asarray(x)
    history = []
    for _ in range(iterations):
        vec, norm = step(params, vec, x)
        history.append(float(norm))
        if history[-1] == 0.0:  # H v = 0: a model linear in θ along v (H = 0 for a linear model)
            break
    history = np.array(history)
    return HessianNorm(float(history[-1]), history)


def _check_same_structure(params0: Params, params: Params) -> None:
    leaves0, tree0 = jax.tree_util.tree_flatten(params0)
    leaves1, tree1 = jax.tree_util.tree_flatten(params)
    if tree0 != tree1 or any(np.shape(a) != np.shape(b) for a, b in zip(leaves0, leaves1)):
        raise ValueError("params0 and params must have the same structure and shapes")


def taylor_remainder(model: Model | Callable, params0: Params, params: Params, x) -> np.ndarray:
    """|f(θ; x) − f_lin(θ; x)| for each input row of ``x`` (N, n0): the network at ``params``
    against its first-order Taylor model around ``params0``, f_lin(θ) = f(θ_0) + ∇_θ f(θ_0)·(θ − θ_0)
    (one JVP at θ_0). One output; returns shape (N,), float64.

    >>> f = lambda p, x: x[:, :1] * p[0] ** 2  # f_lin(θ) = θ_0² + 2θ_0(θ − θ_0): remainder (θ − θ_0)²
    >>> taylor_remainder(f, jnp.ones(1), 3.0 * jnp.ones(1), np.ones((2, 1)))
    array([4., 4.])
    """
    apply_fn = _apply_fn(model)
    x = v.finite_array("x", x, ndim=2)
    _check_scalar_output(apply_fn, params0, x[0])
    _check_same_structure(params0, params)
    terms = _remainder_terms(apply_fn)(params0, params, jnp.asarray(x))
    f1, f0, df = (np.asarray(a, np.float64) for a in terms)
    return np.abs(f1 - f0 - df)


@lru_cache(maxsize=32)
def _remainder_terms(apply_fn: Callable) -> Callable:
    """Jitted (θ_0, θ, x) ↦ (f(θ; x), f(θ_0; x), ∇_θ f(θ_0; x)·(θ − θ_0)), one output each."""

    def terms(params0, params, x):
        delta = jax.tree_util.tree_map(lambda a, b: b - a, params0, params)
        f = lambda p: apply_fn(p, x)[:, 0]
        f0, df = jax.jvp(f, (params0,), (delta,))
        return f(params), f0, df

    return jax.jit(terms)


@dataclass(frozen=True)
class TaylorBound:
    """Both sides of |f(θ; x) − f_lin(θ; x)| ≤ ½ sup_τ ||H(θ_τ; x)||_op ||θ − θ_0||²
    (see :func:`taylor_bound`): ``remainder`` is the left side, ``bound`` the right one, with
    the sup over the grid ``taus`` of the segment θ_τ = θ_0 + τ(θ − θ_0)."""

    remainder: float
    distance: float
    taus: np.ndarray
    hessian_norms: np.ndarray

    @property
    def hessian_sup(self) -> float:
        """The largest ||H(θ_τ; x)||_op on the grid of τ."""
        return float(np.max(self.hessian_norms))

    @property
    def bound(self) -> float:
        """½ · :attr:`hessian_sup` · ||θ − θ_0||²."""
        return 0.5 * self.hessian_sup * self.distance ** 2


def taylor_bound(model: Model | Callable, params0: Params, params: Params, x, *,
                 taus: Sequence[float] = (0.0, 0.5, 1.0), iterations: int = 50,
                 seed: int = 0) -> TaylorBound:
    """The linearization error at ``params`` and Taylor's bound on it, for one input ``x``.

    With Δθ = θ − θ_0, θ_τ = θ_0 + τΔθ and H = ∇²_θ f, Taylor's theorem with integral remainder
    gives f(θ) − f_lin(θ) = ∫_0^1 (1 − τ) Δθᵀ H(θ_τ) Δθ dτ, where f_lin(θ) = f(θ_0) + ∇f(θ_0)·Δθ,
    hence |f(θ) − f_lin(θ)| ≤ ½ sup_τ ||H(θ_τ)||_op ||Δθ||² (Liu, Zhu & Belkin 2020). The remainder
    is computed exactly (one JVP at θ_0); the sup is taken over the grid ``taus`` ⊂ [0, 1] with
    :func:`hessian_norm` (``iterations``, ``seed``), so the bound is evaluated, not proven: a
    finer grid or more iterations can only raise it.

    >>> A = jnp.diag(jnp.array([3.0, -5.0, 1.0]))
    >>> f = lambda p, x: 0.5 * (p @ A @ p) * x[:, :1]
    >>> tb = taylor_bound(f, jnp.zeros(3), jnp.array([0.0, 1.0, 0.0]), jnp.ones(1))
    >>> round(tb.remainder, 4), round(tb.bound, 4)  # equal along the top eigenvector
    (2.5, 2.5)
    """
    apply_fn = _apply_fn(model)
    x = _one_input(x)
    _check_scalar_output(apply_fn, params0, x)
    _check_same_structure(params0, params)
    taus = v.finite_array("taus", taus, ndim=1).astype(np.float64)
    if taus.size == 0 or np.any((taus < 0) | (taus > 1)):
        raise ValueError(f"taus must be a non-empty grid in [0, 1], got {taus}")
    remainder = float(taylor_remainder(apply_fn, params0, params, x[None])[0])
    # θ_τ = θ_0 + τ(θ − θ_0) on the host (float64, then the parameters' dtype)
    point = lambda tau, a, b: ((1 - tau) * np.asarray(a, np.float64)
                               + tau * np.asarray(b, np.float64))
    on_segment = lambda tau: jax.tree_util.tree_map(
        lambda a, b: jnp.asarray(point(tau, a, b).astype(np.dtype(a.dtype))), params0, params)
    norms = [hessian_norm(apply_fn, on_segment(tau), x, iterations=iterations, seed=seed).value
             for tau in taus]
    return TaylorBound(remainder, parameter_distance(params0, params), taus, np.array(norms))


def linearity_sweep(network_fn: Callable[[int], Model], runs: Mapping[tuple[int, int], RunMeasurements],
                    x, *, input_dim: int, iterations: int = 25, seed: int = 0) -> pd.DataFrame:
    """The Hessian view of every run of a width sweep, one row per (width, seed, input).

    ``runs`` maps (width, seed) to :func:`ntklib.bounds.measure_run`'s record of the network
    ``network_fn(width)`` trained from θ_0 = ``network_fn(width).init(seed, input_dim)``. For
    each input row x of ``x``: ``hessian_norm`` = ||H(θ_0; x)||_op (:func:`hessian_norm` with
    ``iterations``, ``seed``) and its ``hessian_growth`` over the last 5 iterations,
    ``remainder`` = |f(θ_T; x) − f_lin(θ_T; x)| at the trained parameters (:func:`taylor_remainder`),
    ``distance`` = ||θ_T − θ_0|| and ``bound_at_init`` = ½ ||H(θ_0; x)||_op ||θ_T − θ_0||², Taylor's
    bound with the Hessian at θ_0 in place of its sup over the segment (:func:`taylor_bound` takes
    the sup).
    """
    x = v.finite_array("x", x, ndim=2)
    input_dim = v.positive_int("input_dim", input_dim)
    iterations = v.positive_int("iterations", iterations)
    if iterations < 6:
        raise ValueError(f"iterations must be at least 6 (growth over the last 5), got {iterations}")
    if not runs:
        raise ValueError("runs must hold at least one (width, seed) run")
    rows = []
    for (width, run_seed), run in runs.items():
        if not isinstance(run, RunMeasurements) or run.params_final is None:
            raise ValueError(f"runs[{width}, {run_seed}] must be a measure_run record with params_final")
        network = network_fn(width)
        params0 = network.init(run_seed, input_dim)
        distance = parameter_distance(params0, run.params_final)
        for i, xi in enumerate(x):
            h = hessian_norm(network, params0, xi, iterations=iterations, seed=seed)
            # one input at a time: the shape taylor_bound uses, so both share one compilation
            remainder = taylor_remainder(network, params0, run.params_final, xi[None])[0]
            rows.append({"width": width, "seed": run_seed, "input": i, "hessian_norm": h.value,
                         "hessian_growth": h.growth(5), "remainder": float(remainder),
                         "distance": distance, "bound_at_init": 0.5 * h.value * distance ** 2})
    return pd.DataFrame(rows)
