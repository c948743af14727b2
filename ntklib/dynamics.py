"""Gradient descent on networks and the closed-form dynamics of their linearization.

Book convention, used everywhere: the loss is ½·mean over all N·k output entries,
    L(θ) = 1/(2Nk) Σ_i ||f(x_i) − y_i||²,
and time is t = η·steps (η·steps ↔ the paper's t; its summed loss has Θ in place of Θ/(Nk)).
Gradient descent in function space then reads f_{s+1}(X) ≈ f_s(X) − (η/Nk) Θ̂_s (f_s(X) − Y)
(exact for f_lin, with Θ̂_0; first order in η for the network).

One training loop, :func:`step_fn` (an update rule from :data:`UPDATE_RULES`, a loss from
:data:`LOSSES`, optional minibatches), drives :func:`gradient_descent`, :func:`train` and
:func:`train_ensemble`; one linearization, :class:`LinearPredictor`, gives f_lin in closed form
with Θ̂_0's eigendecomposition computed once — for gradient descent, gradient flow and heavy ball
(:func:`residual_filter`; :func:`heavy_ball_modes` classifies each mode's damping).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from . import _seeds
from . import _validate as v
from .data import Dataset
from .kernels import analytic_ntk, divergence_learning_rate, empirical_ntk, eta_critical
from .models import Model, Params, check_model

__all__ = [
    "DIVERGENCE_LOSS", "log_steps", "TrainResult", "mse_loss", "recorded_mse",
    "cross_entropy_loss", "LOSSES", "gd_update", "heavy_ball_update", "UPDATE_RULES", "step_fn",
    "gradient_descent", "check_learning_rate", "train", "heavy_ball_modes", "residual_filter",
    "LinearPredictor",
    "linear_predictor", "linearized_outputs", "gp_moments", "nngp_posterior",
    "linearized_weights", "EnsembleResult", "ensemble_params", "stack_members", "train_ensemble",
]

DIVERGENCE_LOSS = 1e8  # a training loss above this (or non-finite) counts as divergence


# ----------------------------------------------------------------------------- time grids


def log_steps(steps: int, num: int = 40) -> np.ndarray:
    """Record grid: 0 and ~``num`` log-spaced integer steps in [1, steps], ``steps`` included."""
    steps = v.nonnegative_int("steps", steps)
    num = v.positive_int("num", num)
    if steps == 0:
        return np.array([0])
    grid = np.unique(np.round(np.geomspace(1, steps, num)).astype(int))
    return np.concatenate([[0], grid])


def _record_grid(record, steps: int) -> np.ndarray:
    if record is None:
        return log_steps(steps)
    grid = np.unique(np.asarray(record).astype(int).ravel())
    if grid.size == 0 or grid[0] < 0 or grid[-1] > steps:
        raise ValueError(f"record steps must lie in [0, steps={steps}], got {np.asarray(record)}")
    return grid


# ----------------------------------------------------------------------------- training


@dataclass(frozen=True)
class TrainResult:
    """Outputs recorded during full-batch gradient descent.

    ``steps``: recorded step indices; ``times``: η·steps (√η·steps with momentum, SM §B);
    ``f_train`` (T, N, k) and ``f_test`` (T, M, k) outputs; ``loss_train``/``loss_test`` (T,);
    ``params``: parameters at each recorded step (if asked for); ``diverged_step``: first step
    whose loss was non-finite or above ``DIVERGENCE_LOSS`` (only with ``allow_divergence``),
    after which nothing is recorded.
    """

    steps: np.ndarray
    times: np.ndarray
    f_train: np.ndarray
    f_test: np.ndarray | None
    loss_train: np.ndarray
    loss_test: np.ndarray | None
    params_init: Params
    params_final: Params
    params: list | None
    lr: float
    momentum: float
    diverged_step: int | None
    loss_steps: np.ndarray | None = None  # loss before every step 0 … steps−1 (record_losses)

    @property
    def diverged(self) -> bool:
        return self.diverged_step is not None


def mse_loss(f, y) -> jax.Array:
    """½·mean over all entries of (f − y)²."""
    return 0.5 * jnp.mean((f - y) ** 2)


def recorded_mse(f, y) -> np.ndarray:
    """½·mean of (f − y)² over the last two axes (examples, outputs), in float64: the book's loss of
    recorded outputs ``f`` of shape (…, N, k) against targets ``y`` (N, k).

    >>> recorded_mse(np.zeros((2, 3, 1)), np.ones((3, 1)))
    array([0.5, 0.5])
    """
    with np.errstate(over="ignore", invalid="ignore"):
        return 0.5 * np.mean((np.asarray(f, np.float64) - np.asarray(y, np.float64)) ** 2, axis=(-2, -1))


def cross_entropy_loss(f, y) -> jax.Array:
    """Softmax cross-entropy, mean over examples: −(1/N) Σ_i Σ_a y_ia log softmax(f_i)_a (SM §B.2)."""
    return -jnp.mean(jnp.sum(y * jax.nn.log_softmax(f, axis=-1), axis=-1))


LOSSES = {"mse": mse_loss, "cross_entropy": cross_entropy_loss}


def gd_update(params: Params, velocity: Params, grads: Params, lr, momentum):
    """Plain gradient descent, θ ← θ − η∇L (per-leaf η); no velocity is carried."""
    return jax.tree_util.tree_map(lambda p, g, eta: p - eta * g, params, grads, lr), velocity


def heavy_ball_update(params: Params, velocity: Params, grads: Params, lr, momentum):
    """Heavy ball (SM §B.1): v ← βv − η∇L, θ ← θ + v (per-leaf η)."""
    velocity = jax.tree_util.tree_map(lambda v_, g, eta: momentum * v_ - eta * g, velocity, grads, lr)
    return jax.tree_util.tree_map(lambda p, v_: p + v_, params, velocity), velocity


#: update rules ``(params, velocity, grads, lr, momentum) ↦ (params, velocity)`` by name
UPDATE_RULES = {"gd": gd_update, "heavy_ball": heavy_ball_update}


@lru_cache(maxsize=None)
def step_fn(apply_fn: Callable, *, loss: str = "mse", rule: str = "gd", batch_size: int | None = None,
            members: bool = False) -> Callable:
    """The one training loop: a jitted ``advance(params, velocity, losses, x, y, lr, momentum, key,
    start, n) ↦ (params, velocity, losses, bad)`` running ``n`` steps of ``rule`` on ``loss``.

    Each step evaluates L and ∇L of ``apply_fn`` at θ (on a minibatch of ``batch_size`` examples
    drawn without replacement with key fold_in(key, step), or the full batch), writes L into
    ``losses[start + i]`` when ``losses`` is non-empty, and applies the update rule
    (:data:`UPDATE_RULES`). ``bad`` is the first step whose loss was non-finite or above
    :data:`DIVERGENCE_LOSS`, or -1. The loop runs on the device (lax.fori_loop): no host
    round-trips. ``members=True`` vmaps it over a leading axis of params, velocity and losses
    (an ensemble trained at once; ``bad`` per member). Cached per (apply_fn, options), so a model
    built once compiles once per input shape.

    >>> import jax.numpy as jnp
    >>> advance = step_fn(lambda p, x: x * p, rule="gd")
    >>> p, _, losses, bad = advance(jnp.ones(()), (), jnp.zeros(3), jnp.ones((2, 1)), jnp.zeros((2, 1)),
    ...                             0.5, 0.0, None, 0, 3)
    >>> [round(float(a), 4) for a in losses], int(bad)
    ([0.5, 0.125, 0.0312], -1)
    """
    v.choice("loss", loss, tuple(LOSSES))
    v.choice("rule", rule, tuple(UPDATE_RULES))
    loss_fn, update = LOSSES[loss], UPDATE_RULES[rule]
    grad_fn = jax.value_and_grad(lambda params, x, y: loss_fn(apply_fn(params, x), y))

    def advance(params, velocity, losses, x, y, lr, momentum, key, start, n):
        def body(i, carry):
            p, vel, buf, bad = carry
            if batch_size is None:
                xb, yb = x, y
            else:
                idx = jax.random.choice(jax.random.fold_in(key, start + i), x.shape[0], (batch_size,),
                                        replace=False)
                xb, yb = x[idx], y[idx]
            value, g = grad_fn(p, xb, yb)
            is_bad = ~jnp.isfinite(value) | (value > DIVERGENCE_LOSS)
            bad = jnp.where((bad < 0) & is_bad, start + i, bad)
            if buf.shape[0]:
                buf = buf.at[start + i].set(value.astype(buf.dtype))
            p, vel = update(p, vel, g, lr, momentum)
            return p, vel, buf, bad

        return jax.lax.fori_loop(0, n, body, (params, velocity, losses, jnp.array(-1, jnp.int32)))

    if members:
        advance = jax.vmap(advance, in_axes=(0, 0, 0) + (None,) * 7)
    return jax.jit(advance)


def _advance_through(grid: np.ndarray, advance_to: Callable[[int, int], int], observe: Callable[[int], None]
                     ) -> tuple[list[int], int | None]:
    """Walk the record grid: ``advance_to(current, s)`` trains from step ``current`` to ``s`` and
    returns the first diverged step or -1; ``observe(s)`` records at each reached grid step.
    Stops at the first divergence. Returns (recorded steps, diverged step or None)."""
    recorded, current = [], 0
    for s in grid:
        s = int(s)
        if s > current:
            bad = int(advance_to(current, s))
            if bad >= 0:
                return recorded, bad
            current = s
        observe(current)
        recorded.append(current)
    return recorded, None


def _learning_rates(lr, params) -> tuple[Any, float]:
    """(per-leaf rate tree, a representative scalar for reporting) from a number or a pytree."""
    if isinstance(lr, (int, float, np.floating, np.integer)) and not isinstance(lr, bool):
        eta = v.positive_float("lr", lr)
        return jax.tree_util.tree_map(lambda _: eta, params), eta
    try:
        rates = jax.tree_util.tree_map(lambda _, r: r, params, lr)
    except (ValueError, TypeError) as exc:
        raise TypeError("lr must be a positive number or a pytree of positive numbers with the "
                        f"structure of params ({exc})") from None
    leaves = [v.positive_float("lr (per-leaf)", float(r)) for r in jax.tree_util.tree_leaves(rates)]
    return rates, float(max(leaves))


def gradient_descent(apply_fn: Callable, params: Params, x_train, y_train, *, lr, steps: int,
                     x_test=None, y_test=None, record: Sequence[int] | None = None,
                     momentum: float = 0.0, record_params: bool = False,
                     allow_divergence: bool = False, loss: str = "mse",
                     batch_size: int | None = None, batch_seed: int = 0,
                     record_losses: bool = False) -> TrainResult:
    """(Heavy-ball) gradient descent on ``loss`` for any ``apply_fn``: full batch by default.

    ``loss``: "mse" (½·mean (f − y)² over all entries, the book's convention) or
    "cross_entropy" (softmax, mean over examples). ``lr``: a number, or a pytree of per-leaf
    rates with the structure of ``params`` (e.g. the per-layer map between parameterizations,
    SM §F). ``batch_size``: minibatch SGD with a fixed-seed sample per step. Records outputs at
    the steps in ``record`` (default: :func:`log_steps`); ``record_losses`` also keeps the loss
    before every step (``TrainResult.loss_steps``). Works equally on a network and on its
    linearization (:func:`ntklib.models.linearize`). The loop itself is :func:`step_fn`.
    """
    rates, lr_scalar = _learning_rates(lr, params)
    steps = v.nonnegative_int("steps", steps)
    momentum = v.momentum("momentum", momentum)
    v.choice("loss", loss, tuple(LOSSES))
    x_train = jnp.asarray(v.finite_array("x_train", x_train, ndim=2))
    y_train = jnp.asarray(v.finite_array("y_train", y_train, ndim=2))
    v.same_length("x_train", x_train, "y_train", y_train)
    if batch_size is not None:
        batch_size = v.positive_int("batch_size", batch_size)
        if batch_size > x_train.shape[0]:
            raise ValueError(f"batch_size={batch_size} exceeds the {x_train.shape[0]} training examples")
    key = _seeds.key("batch_seed", batch_seed)
    if x_test is not None:
        x_test = jnp.asarray(v.finite_array("x_test", x_test, ndim=2))
    if y_test is not None:
        y_test = jnp.asarray(v.finite_array("y_test", y_test, ndim=2))
    grid = _record_grid(record, steps)

    advance = step_fn(apply_fn, loss=loss, rule="heavy_ball" if momentum > 0 else "gd",
                      batch_size=batch_size)
    evaluate = jax.jit(apply_fn)
    zeros = lambda: jax.tree_util.tree_map(jnp.zeros_like, params)
    state = {"params": params, "velocity": zeros() if momentum > 0 else (),
             "losses": jnp.zeros(steps + 1 if record_losses else 0, jnp.float32)}
    f_tr, f_te, kept_params = [], [], []

    def advance_to(current, target):
        p, vel, buf, bad = advance(state["params"], state["velocity"], state["losses"], x_train,
                                   y_train, rates, momentum, key, current, target - current)
        state.update(params=p, velocity=vel, losses=buf)
        return bad

    def observe(_):
        f_tr.append(np.asarray(evaluate(state["params"], x_train)))
        if x_test is not None:
            f_te.append(np.asarray(evaluate(state["params"], x_test)))
        if record_params:
            kept_params.append(state["params"])

    rec_steps, diverged_step = _advance_through(grid, advance_to, observe)
    if diverged_step is not None and not allow_divergence:
        raise FloatingPointError(
            f"training diverged at step {diverged_step} (loss non-finite or > {DIVERGENCE_LOSS:g}) "
            f"with lr={lr_scalar:.4g}; lower lr, or pass allow_divergence=True to record it")
    p = state["params"]
    rec_steps = np.array(rec_steps, dtype=int)
    loss_np = lambda f, y: np.array([float(LOSSES[loss](jnp.asarray(fi), y)) for fi in f])
    f_tr = np.stack(f_tr)
    loss_train = loss_np(f_tr, y_train)
    f_te = np.stack(f_te) if x_test is not None else None
    loss_test = loss_np(f_te, y_test) if f_te is not None and y_test is not None else None
    times = rec_steps * (np.sqrt(lr_scalar) if momentum > 0 else lr_scalar)
    loss_steps = np.asarray(state["losses"], np.float64) if record_losses else None
    return TrainResult(rec_steps, times, f_tr, f_te, loss_train, loss_test, params, p,
                       kept_params if record_params else None, lr_scalar, momentum, diverged_step,
                       loss_steps)


def check_learning_rate(network: Model, x_train, lr: float, *, out_dim: int = 1,
                        momentum: float = 0.0, allow_divergence: bool = False) -> dict[str, float]:
    """Compare ``lr`` with η_critical and the linear-model divergence bound of the analytic NTK.

    Warns above η_critical; raises above 2(1+β)Nk/λ_max unless ``allow_divergence``.
    Returns {"eta_critical": ..., "eta_divergence": ...}.
    """
    theta = analytic_ntk(network, x_train)
    eta_c = eta_critical(theta, out_dim=out_dim)
    eta_d = divergence_learning_rate(theta, out_dim=out_dim, momentum=momentum)
    if lr > eta_d and not allow_divergence:
        raise ValueError(
            f"lr={lr:.4g} exceeds the linear model's divergence bound 2(1+β)Nk/λ_max = {eta_d:.4g} "
            f"(η_critical = {eta_c:.4g}); pass allow_divergence=True to run it anyway")
    if lr > eta_c and not allow_divergence:
        warnings.warn(f"lr={lr:.4g} is above η_critical = 2Nk/(λ_min+λ_max) = {eta_c:.4g}: "
                      "Theorem 2.1 does not cover this run", stacklevel=3)
    return {"eta_critical": eta_c, "eta_divergence": eta_d}


def _check_network_data(network: Model, data: Dataset) -> None:
    """Raise unless ``network`` is a Model and ``data`` a Dataset with the same number of outputs."""
    check_model(network, "network")
    if not isinstance(data, Dataset):
        raise TypeError(f"data must be an ntklib Dataset, got {type(data).__name__}")
    if data.out_dim != network.out_dim:
        raise ValueError(f"data has {data.out_dim} outputs but the network has out_dim={network.out_dim}")


def train(network: Model, params: Params, data: Dataset, *, lr: float, steps: int,
          record: Sequence[int] | None = None, momentum: float = 0.0, record_params: bool = False,
          allow_divergence: bool = False) -> TrainResult:
    """Full-batch GD of ``network`` on ``data`` under the book's ½·mean MSE loss.

    The learning rate is checked against η_critical of the analytic NTK on ``data.x_train``
    (:func:`check_learning_rate`); with ``allow_divergence`` a divergence is reported in
    ``TrainResult.diverged_step`` instead of raising.
    """
    _check_network_data(network, data)
    if not isinstance(lr, (int, float, np.floating, np.integer)) or isinstance(lr, bool):
        raise TypeError(f"train() takes one learning rate, got {type(lr).__name__}; for per-leaf "
                        "rates call gradient_descent(network.apply_fn, ...) directly")
    lr = v.positive_float("lr", lr)
    check_learning_rate(network, data.x_train, lr, out_dim=data.out_dim, momentum=momentum,
                        allow_divergence=allow_divergence)
    return gradient_descent(network.apply_fn, params, data.x_train, data.y_train, lr=lr, steps=steps,
                            x_test=data.x_test, y_test=data.y_test, record=record, momentum=momentum,
                            record_params=record_params, allow_divergence=allow_divergence)


# ----------------------------------------------------------------------------- closed forms


def _eigh(name: str, theta) -> tuple[np.ndarray, np.ndarray]:
    """Eigen-decomposition in float64 with float round-off negatives clipped to 0."""
    theta = v.symmetric_matrix(name, theta).astype(np.float64)
    lam, vecs = np.linalg.eigh((theta + theta.T) / 2)
    return np.maximum(lam, 0.0), vecs


def _steps_array(steps) -> tuple[np.ndarray, bool]:
    arr = np.asarray(steps, dtype=np.float64)
    scalar = arr.ndim == 0
    arr = np.atleast_1d(arr)
    if arr.ndim != 1 or np.any(np.isnan(arr)) or np.any(arr < 0):
        raise ValueError(f"steps must be non-negative numbers (np.inf allowed), got {steps}")
    return arr, scalar


def heavy_ball_modes(lam, lr: float, n_outputs: int, momentum: float) -> pd.DataFrame:
    """Heavy ball on the linear model, one row per eigenvalue λ of Θ̂_0 (largest first).

    Along λ's eigenvector the residual obeys r_{s+1} = (1 + β − x) r_s − β r_{s−1} with
    x = ηλ/(Nk) (``n_outputs`` = N·k; :func:`residual_filter`), whose characteristic roots z
    solve z² − (1 + β − x) z + β = 0. Columns ``lam``, ``x``; ``regime``: "overdamped"
    for x < (1 − √β)² (real positive roots, monotone decay; for x ≪ (1 − √β)² at the rate
    x/(1 − β) per step), "underdamped" for (1 − √β)² < x < (1 + √β)² (complex roots of modulus
    √β: oscillation by the angle φ = arccos((1 + β − x)/(2√β)) per step), "alternating" for
    (1 + √β)² ≤ x < 2(1 + β) (a negative root) and "unstable" for x ≥ 2(1 + β), i.e. above the
    rate 2(1 + β)Nk/λ (gradient descent's limit is 2Nk/λ); ``contraction`` = max |z| (the
    residual's factor per step); ``period`` = 2π/φ steps (underdamped modes; NaN otherwise).

    >>> modes = heavy_ball_modes([4.0, 1.0, 0.01], lr=0.1, n_outputs=1, momentum=0.81)
    >>> modes["regime"].tolist(), round(float(modes["contraction"][1]), 3)
    (['underdamped', 'underdamped', 'overdamped'], 0.9)
    """
    lam = np.sort(v.finite_array("lam", lam, ndim=1).astype(np.float64))[::-1]
    lr = v.positive_float("lr", lr)
    n_outputs = v.positive_int("n_outputs", n_outputs)
    beta = v.momentum("momentum", momentum)
    x = lr * lam / n_outputs
    b = 1 + beta - x
    disc = b * b - 4 * beta
    sqrt_disc = np.sqrt(np.abs(disc))
    real = disc >= 0
    contraction = np.where(real, np.maximum(np.abs(b + sqrt_disc), np.abs(b - sqrt_disc)) / 2,
                           np.sqrt(beta))
    omega = (np.arccos(np.clip(b / (2 * np.sqrt(beta)), -1.0, 1.0)) if beta > 0
             else np.zeros_like(x))
    regime = np.select([x >= 2 * (1 + beta), ~real, b < 0],
                       ["unstable", "underdamped", "alternating"], "overdamped")
    with np.errstate(divide="ignore"):
        period = np.where(real, np.nan, 2 * np.pi / np.where(omega > 0, omega, np.nan))
    return pd.DataFrame(dict(lam=lam, x=x, regime=regime, contraction=contraction, period=period))


def _heavy_ball_filter(c: float, lam: np.ndarray, momentum: float, steps: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray]:
    """(d_s, e_s = (1 − d_s)/λ) of heavy ball on one mode, a = cλ: with w = −u/λ the state
    (e, w, 1) evolves linearly, e_{s+1} = (1 − a)e_s + βw_s + c, w_{s+1} = −a e_s + βw_s + c
    from e_0 = w_0 = 0 (no division by λ, so e → c·S_s as λ → 0), evaluated for every (s, λ)
    at once by binary powering of the 3×3 matrix; d_s = 1 − λe_s. s = inf: d = 0 and e = 1/λ
    where the mode is stable (0 < a < 2(1 + β)), d = inf where it is not, and d = 1, e = 0 on
    the numerical null space of Θ (λ ≤ 10⁻¹² λ_max), as for gradient descent."""
    beta = float(momentum)
    if np.any(np.isfinite(steps) & (steps != np.round(steps))):
        raise ValueError(f"heavy-ball steps must be integers (or inf), got {steps.ravel()}")
    finite = np.where(np.isinf(steps), 0.0, steps).astype(np.int64)  # (T, 1)
    a = c * lam  # (1, P)
    shape = np.broadcast_shapes(finite.shape, a.shape)
    base = np.zeros(shape + (3, 3))
    base[..., 0, 0], base[..., 0, 1], base[..., 0, 2] = 1.0 - a, beta, c
    base[..., 1, 0], base[..., 1, 1], base[..., 1, 2] = -a, beta, c
    base[..., 2, 2] = 1.0
    power = np.broadcast_to(np.eye(3), base.shape).copy()
    remaining = np.broadcast_to(finite, shape).copy()
    while np.any(remaining > 0):
        odd = (remaining & 1).astype(bool)[..., None, None]
        power = np.where(odd, power @ base, power)
        base = base @ base
        remaining >>= 1
    ratio = power[..., 0, 2]  # (e, w, 1) = M^s (0, 0, 1)
    decay = 1.0 - lam * ratio
    small = lam <= 1e-12 * max(float(np.max(lam)), 1e-300)  # numerical null space: never moves
    stable = (a < 2.0 * (1.0 + beta)) & ~small
    with np.errstate(divide="ignore"):
        ratio = np.where(np.isinf(steps), np.where(stable, 1.0 / lam, 0.0), ratio)
    decay = np.where(np.isinf(steps), np.where(small, 1.0, np.where(stable, 0.0, np.inf)), decay)
    return decay, ratio


def residual_filter(lam: np.ndarray, lr: float, n_outputs: int, steps: np.ndarray, *,
                    continuous: bool = False, momentum: float = 0.0
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Per eigenvalue λ of Θ and each step count s: the decay d and (1 − d)/λ, shape (T, P).

    Discrete GD: d = (1 − ηλ/(Nk))^s.  Gradient flow (``continuous``): d = exp(−ηλs/(Nk)).
    Heavy ball (``momentum`` β > 0, v ← βv − η∇L, θ ← θ + v from v = 0): in function space each
    mode's residual r and velocity u = J v obey r_{s+1} = (1 − a) r_s + β u_s,
    u_{s+1} = β u_s − a r_s with a = ηλ/(Nk) — exact for the linearized model, so d = r_s and
    the test outputs follow from the same (1 − d)/λ. (1 − d)/λ is evaluated stably, tending to
    ηs/(Nk) (GD) or η S_s/(Nk), S_s = Σ_{j≤s} (1 − β^j)/(1 − β) (heavy ball), as λ → 0; s = inf
    gives d = 0 and the pseudo-inverse 1/λ (0 for λ ≈ 0).
    """
    momentum = v.momentum("momentum", momentum)
    if momentum > 0 and continuous:
        raise ValueError("continuous=True is gradient flow; heavy ball (momentum > 0) is discrete "
                         "here (its continuous limit is a second-order ODE: pairs.linearized_ode)")
    c = lr / n_outputs
    if momentum > 0:
        return _heavy_ball_filter(c, lam[None, :], momentum, steps[:, None])
    s = steps[:, None]
    lam = lam[None, :]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if continuous:
            decay = np.exp(-c * lam * s)
            ratio = -np.expm1(-c * lam * s) / lam
        else:
            base = 1.0 - c * lam
            decay = np.where(np.isinf(s), np.where(np.abs(base) < 1, 0.0, np.inf),
                             np.power(base, np.where(np.isinf(s), 0.0, s)))
            positive = base > 0
            stable = -np.expm1(s * np.log1p(-np.minimum(c * lam, 1 - 1e-300))) / lam
            ratio = np.where(positive, stable, (1.0 - decay) / lam)
        small = lam <= 1e-12 * max(float(np.max(lam)), 1e-300)
        ratio = np.where(small, c * s, ratio)
        decay = np.where(small, 1.0, decay)
        # s = ∞: Θ^{-1} on the range of Θ, 0 on its (numerical) null space — the pseudo-inverse
        ratio = np.where(np.isinf(s), np.where(small, 0.0, 1.0 / lam), ratio)
    return decay, ratio


@dataclass(frozen=True, eq=False)
class LinearPredictor:
    """The linearized network under gradient descent on ½·mean MSE (paper eq. 9–11, book
    convention), built once from (Θ̂_0, Θ̂_0(x, X), f_0, Y) with Θ̂_0's eigendecomposition cached —
    neural-tangents' ``predict.gradient_descent_mse`` style. With A = I − ηΘ/(Nk), g_0 = f_0(X) − Y:

        f_lin_s(X) = Y + A^s g_0,
        f_lin_s(x) = f_0(x) − Θ(x, X) Θ^{-1} (I − A^s) g_0,

    or e^{−Θ t/(Nk)} in place of A^s for gradient flow at t = η·s (``continuous``). Θ may be
    (N, N) — shared by the k outputs, Θ ⊗ I_k — or the full (N·k, N·k); then Θ(x, X) is (M, N) or
    (M·k, N·k). Build with :meth:`from_kernels` or, for a model at θ_0, :func:`linear_predictor`.

    >>> import numpy as np
    >>> pred = LinearPredictor.from_kernels(np.eye(2), None, np.zeros((2, 1)), None, np.ones((2, 1)))
    >>> pred.predict(np.inf, lr=0.5)[0].ravel()   # converges to the targets
    array([1., 1.])
    """

    lam: np.ndarray
    vecs: np.ndarray
    f0_train: np.ndarray
    f0_test: np.ndarray | None
    y_train: np.ndarray
    theta_test_vecs: np.ndarray | None  # Θ(x, X) V, the test kernel in Θ's eigenbasis
    shared: bool  # Θ is (N, N), shared by the k outputs

    @classmethod
    def from_kernels(cls, theta_train, theta_test_train, f0_train, f0_test, y_train) -> "LinearPredictor":
        """Validate the pieces and decompose Θ once (float64, round-off negatives clipped)."""
        f0_train = v.finite_array("f0_train", f0_train, ndim=2).astype(np.float64)
        y_train = v.finite_array("y_train", y_train, ndim=2).astype(np.float64)
        if f0_train.shape != y_train.shape:
            raise ValueError(f"f0_train and y_train must have the same shape, got {f0_train.shape} and {y_train.shape}")
        n, k = f0_train.shape
        theta = v.symmetric_matrix("theta_train", theta_train)
        if theta.shape not in ((n, n), (n * k, n * k)):
            raise ValueError(f"theta_train has shape {theta.shape}, expected ({n}, {n}) or ({n * k}, {n * k})")
        shared = theta.shape == (n, n)
        lam, vecs = _eigh("theta_train", theta)
        tv = None
        if f0_test is not None:
            f0_test = v.finite_array("f0_test", f0_test, ndim=2).astype(np.float64)
            m = f0_test.shape[0]
            tx = v.finite_array("theta_test_train", theta_test_train, ndim=2).astype(np.float64)
            expected = (m, n) if shared else (m * k, n * k)
            if tx.shape != expected:
                raise ValueError(f"theta_test_train has shape {tx.shape}, expected {expected}")
            tv = tx @ vecs
        return cls(lam, vecs, f0_train, f0_test, y_train, tv, shared)

    def predict(self, steps, *, lr: float, continuous: bool = False, momentum: float = 0.0
                ) -> tuple[np.ndarray, np.ndarray | None]:
        """(f_train, f_test) after ``steps`` of GD at rate ``lr`` (an int, np.inf or an array,
        which adds a leading time axis); shaped like f0_train / f0_test. ``momentum`` β > 0:
        heavy ball from zero velocity instead (:func:`residual_filter`; same eigenbasis)."""
        lr = v.positive_float("lr", lr)
        s, scalar = _steps_array(steps)
        n, k = self.f0_train.shape
        g0 = self.f0_train - self.y_train  # (N, k)
        decay, ratio = residual_filter(self.lam, lr, n * k, s, continuous=continuous,
                                       momentum=momentum)
        # project: shared kernel acts on each output column; full kernel on the flattened vector
        coeff = self.vecs.T @ (g0 if self.shared else g0.reshape(-1, 1))  # (P, k) or (P, 1)
        g_t = np.einsum("pq,tq,qc->tpc", self.vecs, decay, coeff)
        f_train = self.y_train[None] + g_t.reshape((len(s), n, k))
        f_test = None
        if self.f0_test is not None:
            m = self.f0_test.shape[0]
            correction = np.einsum("mq,tq,qc->tmc", self.theta_test_vecs, ratio, coeff)
            f_test = self.f0_test[None] - correction.reshape((len(s), m, k))  # Θ(x,X) Θ^{-1}(I − A^s) g0
        if scalar:
            return f_train[0], None if f_test is None else f_test[0]
        return f_train, f_test


def linear_predictor(model: Model | Callable, params0: Params, x_train, y_train, x_test=None
                     ) -> LinearPredictor:
    """The :class:`LinearPredictor` of ``model`` (any ntklib Model, or an ``apply_fn``) at θ_0:
    the full empirical Θ̂_0 = J_0 J_0ᵀ on ``x_train`` (and Θ̂_0(x, X) on ``x_test``) and f_0.

    >>> from ntklib import data, models
    >>> ds = data.digits(8, 4, binary=True)
    >>> net = models.mlp(1, 64)
    >>> pred = linear_predictor(net, net.init(0, ds.input_dim), ds.x_train, ds.y_train, ds.x_test)
    >>> f_train, f_test = pred.predict([0, 10], lr=1.0)
    >>> f_train.shape, f_test.shape
    ((2, 8, 1), (2, 4, 1))
    """
    apply_fn = model.apply_fn if isinstance(model, Model) else model
    x_train = jnp.asarray(v.finite_array("x_train", x_train, ndim=2))
    theta = empirical_ntk(model, params0, x_train)
    f0 = np.asarray(apply_fn(params0, x_train))
    theta_x = f0x = None
    if x_test is not None:
        x_test = jnp.asarray(v.finite_array("x_test", x_test, ndim=2))
        theta_x = empirical_ntk(model, params0, x_test, x_train)
        f0x = np.asarray(apply_fn(params0, x_test))
    return LinearPredictor.from_kernels(theta, theta_x, f0, f0x, y_train)


def linearized_outputs(theta_train, theta_test_train, f0_train, f0_test, y_train, *, lr: float,
                       steps, continuous: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """One-shot :class:`LinearPredictor`: ``LinearPredictor.from_kernels(...).predict(steps, lr=lr)``.
    Build the predictor once instead when the same kernel serves several rates or step grids."""
    return LinearPredictor.from_kernels(theta_train, theta_test_train, f0_train, f0_test,
                                        y_train).predict(steps, lr=lr, continuous=continuous)


def gp_moments(ntk_train, ntk_test_train, nngp_train, nngp_test_train, nngp_test_test, y_train, *,
               lr: float, steps, continuous: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of the infinite-width network's test outputs after GD (eq. 14–15).

    With M_s = Θ(x, X) Θ^{-1} (I − A^s), A = I − ηΘ/(Nk) (or e^{−ηΘs/(Nk)} for gradient flow):
        μ_s(x) = M_s Y,   Σ_s(x) = K(x, x) + M_s K M_sᵀ − (M_s K(X, x) + h.c.).
    steps = np.inf gives eq. 16. Kernels are the (single-output) analytic ones: Θ, K of shape
    (N, N), Θ(x, X), K(x, X) of shape (M, N), K(x, x) of shape (M, M). Returns mean (…, M, k)
    and covariance (…, M, M) (shared by the k outputs), with a leading time axis if ``steps``
    is an array.
    """
    lr = v.positive_float("lr", lr)
    y_train = v.finite_array("y_train", y_train, ndim=2).astype(np.float64)
    n, k = y_train.shape
    lam, vecs = _eigh("ntk_train", ntk_train)
    if lam.size != n:
        raise ValueError(f"ntk_train must be ({n}, {n}) for {n} training targets, got {np.shape(ntk_train)}")
    kxx = v.symmetric_matrix("nngp_train", nngp_train).astype(np.float64)
    tx = v.finite_array("ntk_test_train", ntk_test_train, ndim=2).astype(np.float64)
    kx = v.finite_array("nngp_test_train", nngp_test_train, ndim=2).astype(np.float64)
    kss = v.finite_array("nngp_test_test", nngp_test_test, ndim=2).astype(np.float64)
    if kxx.shape != (n, n) or tx.shape[1] != n or kx.shape != tx.shape or kss.shape != (tx.shape[0],) * 2:
        raise ValueError("kernel shapes disagree: ntk_train, nngp_train (N, N); ntk_test_train, "
                         f"nngp_test_train (M, N); nngp_test_test (M, M); got {np.shape(ntk_train)}, "
                         f"{kxx.shape}, {tx.shape}, {kx.shape}, {kss.shape}")
    s, scalar = _steps_array(steps)
    _, ratio = residual_filter(lam, lr, n * k, s, continuous=continuous)
    proj = tx @ vecs  # (M, P)
    m_s = np.einsum("mp,tp,qp->tmq", proj, ratio, vecs)  # (T, M, N)
    mean = m_s @ y_train
    cross = m_s @ kx.T  # M_s K(X, x)
    cov = kss[None] + m_s @ kxx @ np.swapaxes(m_s, 1, 2) - cross - np.swapaxes(cross, 1, 2)
    if scalar:
        return mean[0], cov[0]
    return mean, cov


def nngp_posterior(nngp_train, nngp_test_train, nngp_test_test, y_train, *,
                   diag_reg: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Exact Bayesian posterior of the NNGP (paper eq. 13):
    μ(x) = K(x, X) K^{-1} Y,  Σ(x) = K(x, x) − K(x, X) K^{-1} K(X, x), with K + diag_reg·I.
    """
    kxx = v.symmetric_matrix("nngp_train", nngp_train).astype(np.float64)
    kx = v.finite_array("nngp_test_train", nngp_test_train, ndim=2).astype(np.float64)
    kss = v.finite_array("nngp_test_test", nngp_test_test, ndim=2).astype(np.float64)
    y_train = v.finite_array("y_train", y_train, ndim=2).astype(np.float64)
    reg = v.positive_float("diag_reg", diag_reg, allow_zero=True)
    if kxx.shape[0] != y_train.shape[0] or kx.shape[1] != kxx.shape[0]:
        raise ValueError(f"shapes disagree: nngp_train {kxx.shape}, nngp_test_train {kx.shape}, y_train {y_train.shape}")
    chol = np.linalg.cholesky(kxx + reg * np.eye(kxx.shape[0]))
    solve = lambda b: np.linalg.solve(chol.T, np.linalg.solve(chol, b))
    mean = kx @ solve(y_train)
    cov = kss - kx @ solve(kx.T)
    return mean, cov


# ----------------------------------------------------------------------------- linearized weights (eq. 8)


def linearized_weights(apply_fn: Callable, params0: Params, x_train, y_train, *, lr: float, steps,
                       theta_train=None, predictor: LinearPredictor | None = None,
                       continuous: bool = False) -> Params:
    """Weight change ω_s = θ_s − θ_0 of the linearized network after ``steps`` of GD (paper eq. 8).

    Book convention (loss ½·mean over N·k entries, A = I − ηΘ̂_0/(Nk)):
        ω_s = −J_0ᵀ Θ̂_0^{-1} (I − A^s) (f_0(X) − Y),   J_0 = ∇_θ f(X; θ_0),  Θ̂_0 = J_0 J_0ᵀ,
    (e^{−ηΘ̂_0 s/(Nk)} with ``continuous``). J_0ᵀ is applied with one vector–Jacobian product, so
    J_0 is never formed. ``predictor``: the :class:`LinearPredictor` of the same θ_0 and data (its
    cached eigendecomposition is reused), or ``theta_train``: the full (N·k, N·k) empirical NTK at
    θ_0; computed when both are omitted. ``steps``: a number (returns a pytree shaped like ``params0``) or an array (every
    leaf gets a leading time axis). Θ̂_0^{-1} acts on its range (pseudo-inverse convention of
    :func:`residual_filter`).
    """
    lr = v.positive_float("lr", lr)
    x_train = jnp.asarray(v.finite_array("x_train", x_train, ndim=2))
    y_train = v.finite_array("y_train", y_train, ndim=2).astype(np.float64)
    v.same_length("x_train", x_train, "y_train", y_train)
    n, k = y_train.shape
    f0, vjp = jax.vjp(lambda p: apply_fn(p, x_train), params0)
    if f0.shape != y_train.shape:
        raise ValueError(f"apply_fn gives outputs of shape {f0.shape} but y_train has shape {y_train.shape}")
    if predictor is not None:
        if predictor.lam.size != n * k:
            raise ValueError(f"predictor must hold the full ({n * k}, {n * k}) empirical NTK, "
                             f"got a kernel of size {predictor.lam.size}")
        lam, vecs = predictor.lam, predictor.vecs
    else:
        if theta_train is None:
            theta_train = empirical_ntk(apply_fn, params0, x_train)
        theta = v.symmetric_matrix("theta_train", theta_train)
        if theta.shape != (n * k, n * k):
            raise ValueError(f"theta_train must be the full ({n * k}, {n * k}) empirical NTK, got {theta.shape}")
        lam, vecs = _eigh("theta_train", theta)
    s, scalar = _steps_array(steps)
    _, ratio = residual_filter(lam, lr, n * k, s, continuous=continuous)  # (T, P): (1 − d)/λ
    g0 = np.asarray(f0, np.float64).reshape(-1) - y_train.reshape(-1)
    coeff = -np.einsum("pq,tq,q->tp", vecs, ratio, vecs.T @ g0)  # (T, N·k): −Θ̂^{-1}(I − A^s) g0
    cot = jnp.asarray(coeff.reshape(len(s), n, k), dtype=f0.dtype)
    omega = jax.vmap(lambda c: vjp(c)[0])(cot)
    if scalar:
        return jax.tree_util.tree_map(lambda leaf: leaf[0], omega)
    return omega


# ----------------------------------------------------------------------------- ensembles


@dataclass(frozen=True)
class EnsembleResult:
    """Outputs of M independently initialized networks trained together (:func:`train_ensemble`).

    ``steps``/``times`` (T,); ``f_train`` (M, T, N, k); ``f_eval`` (M, T, P, k) on ``x_eval``;
    ``loss_train`` (M, T) (½·mean MSE); ``seeds`` the M initialization seeds.
    """

    steps: np.ndarray
    times: np.ndarray
    f_train: np.ndarray
    f_eval: np.ndarray
    loss_train: np.ndarray
    seeds: tuple
    lr: float


def ensemble_params(network: Model, seeds: Sequence[int], input_dim: int) -> Params:
    """θ_0 of every seed, stacked on a leading axis: member m equals ``network.init(seeds[m], input_dim)``."""
    check_model(network, "network")
    seeds = [v.nonnegative_int("seed", s) for s in seeds]
    if not seeds:
        raise ValueError("seeds must name at least one initialization")
    input_dim = v.positive_int("input_dim", input_dim)
    # seed by seed: the small random kernels are compiled once per shape and reused across
    # networks, whereas one jitted, vmapped init would recompile threefry for every network
    members = [network.init(s, input_dim) for s in seeds]
    return stack_members(members)


def stack_members(trees: Sequence[Params]) -> Params:
    """Pytrees of one structure stacked leaf by leaf on a new leading axis (members of an
    ensemble). Stacked on the host: ``jnp.stack`` would compile once per leaf shape."""
    if not trees:
        raise ValueError("need at least one pytree to stack")
    return jax.tree_util.tree_map(lambda *leaves: jnp.asarray(np.stack([np.asarray(a) for a in leaves])),
                                  *trees)


def train_ensemble(network: Model, seeds: Sequence[int], data: Dataset, *, lr: float, steps: int,
                   record: Sequence[int] | None = None, x_eval=None,
                   member_batch: int | None = None, check_lr: bool = True,
                   momentum: float = 0.0) -> EnsembleResult:
    """Full-batch GD (½·mean MSE) of one network per seed, vmapped: all members in one jit.

    Member m starts from ``network.init(seeds[m], d)`` and follows exactly the iterates of
    :func:`gradient_descent` on ``data`` (heavy ball with ``momentum`` β > 0, zero initial
    velocity); outputs are recorded at the steps in ``record`` (default :func:`log_steps`) on the
    training inputs and on ``x_eval`` (default ``data.x_test``). ``member_batch`` trains the
    members in groups of that size (bounds memory). The learning rate is checked against
    η_critical as in :func:`train` — for plain GD only: heavy ball is stable up to a larger rate,
    so with β > 0 the caller must pass ``check_lr=False`` (``check_lr=False`` also skips the
    analytic kernel when the caller has already checked the rate); a diverging member raises.
    """
    _check_network_data(network, data)
    lr = v.positive_float("lr", lr)
    momentum = v.momentum("momentum", momentum)
    if momentum > 0 and check_lr:
        raise ValueError("check_lr compares lr with plain gradient descent's η_critical; with "
                         f"momentum={momentum} pass check_lr=False (heavy ball's limit is "
                         "2(1 + β)Nk/λ_max: dynamics.heavy_ball_modes)")
    steps = v.nonnegative_int("steps", steps)
    seeds = tuple(v.nonnegative_int("seed", s) for s in seeds)
    if not seeds:
        raise ValueError("seeds must name at least one initialization")
    if member_batch is not None:
        member_batch = v.positive_int("member_batch", member_batch)
    x_eval = data.x_test if x_eval is None else v.finite_array("x_eval", x_eval, ndim=2)
    if x_eval.shape[1] != data.input_dim:
        raise ValueError(f"x_eval has input dimension {x_eval.shape[1]}, the data {data.input_dim}")
    if check_lr:
        check_learning_rate(network, data.x_train, lr, out_dim=data.out_dim)
    grid = _record_grid(record, steps)
    x, y, xe = jnp.asarray(data.x_train), jnp.asarray(data.y_train), jnp.asarray(x_eval)
    rule = "heavy_ball" if momentum > 0 else "gd"
    advance = step_fn(network.apply_fn, rule=rule, members=True)  # gradient_descent's loop, vmapped
    evaluate = jax.jit(jax.vmap(network.apply_fn, in_axes=(0, None)))
    size = member_batch or len(seeds)
    f_train, f_eval = [], []
    for start in range(0, len(seeds), size):
        group = seeds[start:start + size]
        state = {"params": ensemble_params(network, group, data.input_dim)}
        state["velocity"] = (jax.tree_util.tree_map(jnp.zeros_like, state["params"])
                             if momentum > 0 else ())
        rates = jax.tree_util.tree_map(lambda _: lr, state["params"])
        no_losses = jnp.zeros((len(group), 0), jnp.float32)  # no loss record
        tr, ev = [], []

        def advance_to(current, target):
            state["params"], state["velocity"] = advance(
                state["params"], state["velocity"], no_losses, x, y, rates, momentum, None,
                current, target - current)[:2]
            return -1  # members are checked together below, from their recorded outputs

        def observe(_):
            tr.append(np.asarray(evaluate(state["params"], x)))
            ev.append(np.asarray(evaluate(state["params"], xe)))

        _advance_through(grid, advance_to, observe)
        f_train.append(np.stack(tr, axis=1))
        f_eval.append(np.stack(ev, axis=1))
    f_train = np.concatenate(f_train)
    f_eval = np.concatenate(f_eval)
    loss = recorded_mse(f_train, data.y_train)
    bad = ~np.isfinite(loss) | (loss > DIVERGENCE_LOSS)
    if np.any(bad):
        member = int(np.argmax(bad.any(axis=1)))
        raise FloatingPointError(f"member with seed {seeds[member]} diverged (lr={lr:.4g}"
                                 f"{f', momentum={momentum}' if momentum else ''}); lower lr")
    return EnsembleResult(grid, grid * lr, f_train, f_eval, loss, seeds, lr)
