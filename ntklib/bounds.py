"""The quantities in the proof of Theorem 2.1 (paper SM §G–§H), measured along a real trajectory.

Book convention (see :mod:`ntklib.dynamics`): loss ½·mean over the N·k output entries, time
t = η·steps, residual g(θ) = f(X; θ) − Y flattened to N·k entries. Gradient descent in function
space is g_{s+1} ≈ g_s − (η/Nk) Θ̂_s g_s, so the *normalized* kernel Θ̄ = Θ̂/(Nk) plays the role
of the paper's η_0-free Θ: the paper's η_0 λ becomes η λ(Θ)/(Nk) per step, and its η_0 t becomes
our t. Every bound below is written in these units:

- one-step contraction (S60):  ||g_{s+1}|| ≤ (1 − η λ_min(Θ)/(3Nk)) ||g_s||;
- residual decay (S49/S51):    ||g_s|| ≤ (1 − η λ_min/(3Nk))^s R_0 ≤ e^{−λ̄_min t/3} R_0;
- Grönwall coupling (S101–S114), with Δ = g_lin − g, λ_0 = λ_min(Θ̂_0)/(Nk) and
  β(t) = ||Θ̂_t − Θ̂_0||_op/(Nk):
      u(t) = e^{λ_0 t} ||Δ(t)|| ≤ α(t) + ∫_0^t β u ds,   α(t) = ∫_0^t e^{λ_0 s} β(s) ||g_lin(s)|| ds,
  hence u(t) ≤ α(t) exp(∫_0^t β ds) (integral Grönwall inequality, α non-decreasing).

:func:`measure_run` trains a network once, recording every step's residual norm and, on a
(log-spaced) grid, the empirical NTK, parameter distance and Jacobian distance; the pure
functions turn those records into the proof's inequalities.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import singledispatch
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from . import _seeds
from . import _validate as v
from .data import Dataset
from .dynamics import LinearPredictor, gradient_descent, log_steps, recorded_mse
from .kernels import empirical_ntk, layer_jacobian_factors
from .models import MLP, Model, Params, check_model, parameter_distance, relative_weight_change
from .stats import relative_error

__all__ = [
    "residual_norms", "contraction_ratios", "contraction_bound", "decay_rate", "operator_norm",
    "kernel_drift", "jacobian_norm", "jacobian_distance", "cross_ntk", "random_direction",
    "Gronwall", "gronwall_terms", "sup_gap_bound", "width_threshold", "RunMeasurements",
    "measure_run",
]

# ----------------------------------------------------------------------------- residuals


def residual_norms(f, y) -> np.ndarray:
    """||f − Y||_2 over all N·k entries; ``f`` (N, k) gives a number, (T, N, k) one per time."""
    f = v.finite_array("f", f, ndim=(2, 3)).astype(np.float64)
    y = v.finite_array("y", y, ndim=2).astype(np.float64)
    if f.shape[-2:] != y.shape:
        raise ValueError(f"f must end in the shape of y {y.shape}, got {f.shape}")
    diff = (f - y).reshape(f.shape[:-2] + (-1,))
    out = np.linalg.norm(diff, axis=-1)
    return float(out) if out.ndim == 0 else out


def contraction_ratios(norms) -> np.ndarray:
    """Per-step ratios ||g_{s+1}|| / ||g_s|| from every step's residual norm, shape (S,)."""
    norms = v.finite_array("norms", norms, ndim=1).astype(np.float64)
    if norms.size < 2:
        raise ValueError(f"need the residual at >= 2 consecutive steps, got {norms.size}")
    if np.any(norms[:-1] <= 0):
        raise ValueError("residual norms must be > 0 to form ratios")
    return norms[1:] / norms[:-1]


def contraction_bound(lr: float, lam_min: float, n_outputs: int) -> float:
    """The proof's per-step factor 1 − η λ_min / (3 N k) (paper S60 with η_0 λ ↦ η λ/(Nk))."""
    lr = v.positive_float("lr", lr)
    lam_min = v.positive_float("lam_min", lam_min)
    n_outputs = v.positive_int("n_outputs", n_outputs)
    return 1.0 - lr * lam_min / (3.0 * n_outputs)


def decay_rate(times, norms) -> float:
    """Average exponential decay rate −log(||g(t_end)|| / ||g(0)||) / t_end of the residual.

    The proof's gradient-flow bound (S51) says it is ≥ λ_min(Θ)/(3Nk) in the book's time units.
    """
    times = v.finite_array("times", times, ndim=1).astype(np.float64)
    norms = v.finite_array("norms", norms, ndim=1).astype(np.float64)
    if times.shape != norms.shape or times.size < 2 or times[-1] <= times[0]:
        raise ValueError(f"times and norms must be matching increasing series, got {times.shape}, {norms.shape}")
    if norms[0] <= 0 or norms[-1] <= 0:
        raise ValueError("residual norms must be > 0")
    return float(-np.log(norms[-1] / norms[0]) / (times[-1] - times[0]))


# ----------------------------------------------------------------------------- kernels


def operator_norm(m) -> float:
    """Largest singular value ||M||_op (float64)."""
    m = v.finite_array("m", m, ndim=2).astype(np.float64)
    return float(np.linalg.norm(m, 2))


def kernel_drift(kernels_t, kernel_0, *, norm: str = "fro") -> np.ndarray:
    """||Θ̂_t − Θ̂_0|| for a stack of kernels (T, P, P): Frobenius ("fro") or operator ("op")."""
    v.choice("norm", norm, ("fro", "op"))
    kt = v.finite_array("kernels_t", kernels_t, ndim=3).astype(np.float64)
    k0 = v.finite_array("kernel_0", kernel_0, ndim=2).astype(np.float64)
    if kt.shape[1:] != k0.shape:
        raise ValueError(f"kernels_t must be (T, {k0.shape[0]}, {k0.shape[1]}), got {kt.shape}")
    diff = kt - k0[None]
    if norm == "fro":
        return np.linalg.norm(diff, axis=(1, 2))
    return np.linalg.norm(diff, ord=2, axis=(1, 2))


# ----------------------------------------------------------------------------- Jacobians


_jit_factors = jax.jit(layer_jacobian_factors, static_argnums=(0,))


def _layer_pieces(network: Model, params: Params, x) -> list[tuple]:
    """:func:`ntklib.kernels.layer_jacobian_factors` (compiled once per network) in float64."""
    return [(np.asarray(a, np.float64), np.asarray(e, np.float64), float(c_w), float(c_b))
            for a, e, c_w, c_b in _jit_factors(network, params, jnp.asarray(x))]


def _pieces_distance(pieces_a: list[tuple], pieces_b: list[tuple]) -> float:
    """||J_a − J_b||_F from two lists of :func:`_layer_pieces`."""
    total = 0.0
    for (xa, da, cw, cb), (xb, db, _, _) in zip(pieces_a, pieces_b):
        sa, sb = np.sum(xa ** 2, axis=1), np.sum(xb ** 2, axis=1)  # (N,)
        ta, tb = np.sum(da ** 2, axis=2), np.sum(db ** 2, axis=2)  # (k, N)
        cross_x = np.sum(xa * xb, axis=1)
        cross_d = np.sum(da * db, axis=2)
        weights = sa * ta + sb * tb - 2.0 * cross_x * cross_d
        total += cw * float(np.sum(weights))
        if cb:
            total += cb * float(np.sum((da - db) ** 2))
    return float(np.sqrt(max(total, 0.0)))


def _pieces_cross(pieces_a: list[tuple], pieces_b: list[tuple]) -> np.ndarray:
    """J_a J_bᵀ (Nk, Nk) from two lists of :func:`_layer_pieces`, rows (example, output)."""
    out = None
    for (xa, da, cw, cb), (xb, db, _, _) in zip(pieces_a, pieces_b):
        k, n, width = da.shape
        gram = cw * xa @ xb.T + cb  # (N, N): Σ over the layer's parameters of ∂h_a·∂h_b
        dd = (da.reshape(k * n, width) @ db.reshape(k * n, width).T).reshape(k, n, k, n)
        term = gram[:, None, :, None] * dd.transpose(1, 0, 3, 2)
        out = term if out is None else out + term
    n, k = out.shape[:2]
    return out.reshape(n * k, n * k)


def _flat_jacobian(apply_fn: Callable, params: Params, x) -> np.ndarray:
    jac = jax.jacrev(lambda p: apply_fn(p, x))(params)
    leaves = jax.tree_util.tree_leaves(jac)
    n, k = leaves[0].shape[:2]
    return np.concatenate([np.asarray(leaf, np.float64).reshape(n * k, -1) for leaf in leaves], axis=1)


def _apply_fn(model: Model | Callable) -> Callable:
    if isinstance(model, Model):
        return model.apply_fn
    if callable(model):
        return model
    raise TypeError(f"model must be an ntklib Model or an apply_fn(params, x), got {type(model).__name__}")


def jacobian_norm(model: Model | Callable, params: Params, x) -> float:
    """||J(θ)||_F = √tr Θ̂(X, X) (the proof's ||J|| ≤ K, Lemma 1 / Lemma 2), for any model."""
    x = v.finite_array("x", x, ndim=2)
    _apply_fn(model)
    return float(np.sqrt(np.trace(empirical_ntk(model, params, x).astype(np.float64))))


@singledispatch
def _structured_pieces(spec) -> Callable | None:
    """Per-layer Jacobian factors ``(model, params, x) ↦ [(x^{l-1}, δ^l, c_w, c_b), …]`` for a
    spec type whose Jacobian has that structure (:func:`_layer_pieces`), or None."""
    return None


@_structured_pieces.register
def _(spec: MLP) -> Callable:
    return _layer_pieces


def _pieces_fn(model) -> Callable | None:
    return _structured_pieces(model.spec) if isinstance(model, Model) else None


def jacobian_distance(model: Model | Callable, params_a: Params, params_b: Params, x) -> float:
    """||J(θ_a) − J(θ_b)||_F on inputs ``x`` (the Jacobian's local Lipschitz numerator, S47/S99).

    For an MLP it uses the per-layer structure ∂f_a(x_i)/∂ω^l = √c_w x^{l-1}_i ⊗ δ^l_{a,i}
    and ∂f_a(x_i)/∂β^l = √c_b δ^l_{a,i}: per example and layer
    ||x_a⊗δ_a − x_b⊗δ_b||² = |x_a|²|δ_a|² + |x_b|²|δ_b|² − 2(x_a·x_b)(δ_a·δ_b), summed in float64 so
    the cancellation costs no precision beyond that of the float32 features. Any other model or
    ``apply_fn(params, x)`` uses the full Jacobian (small models only).
    """
    return _on_pair(model, params_a, params_b, x, _pieces_distance,
                    lambda ja, jb: float(np.linalg.norm(ja - jb)))


def cross_ntk(model: Model | Callable, params_a: Params, params_b: Params, x) -> np.ndarray:
    """J(θ_a) J(θ_b)ᵀ on inputs ``x``, (Nk, Nk) in float64 (Θ̂ when θ_a = θ_b).

    With θ_a = θ_0 and θ_b = θ_t, ``cross_ntk − Θ̂_0`` = J_0 (J_t − J_0)ᵀ, the term whose
    Frobenius norm Cauchy–Schwarz bounds by ||J_0||_F ||J_t − J_0||_F in Step 6. An MLP uses
    its per-layer structure (Θ = Σ_l (c_w x^{l-1}x'^{l-1ᵀ} + c_b) · δ^l δ'^{lᵀ} with the two
    factors taken at θ_a and θ_b); any other model the full Jacobians (small models only).
    """
    return _on_pair(model, params_a, params_b, x, _pieces_cross, lambda ja, jb: ja @ jb.T)


def _on_pair(model, params_a: Params, params_b: Params, x, on_pieces: Callable,
             on_jacobians: Callable):
    """``on_pieces`` of the per-layer Jacobian factors at θ_a and θ_b for models that have them
    (the MLP), else ``on_jacobians`` of the two flattened full Jacobians."""
    x = v.finite_array("x", x, ndim=2)
    apply_fn = _apply_fn(model)
    pieces = _pieces_fn(model)
    if pieces is not None:
        return on_pieces(pieces(model, params_a, x), pieces(model, params_b, x))
    xj = jnp.asarray(x)
    return on_jacobians(_flat_jacobian(apply_fn, params_a, xj), _flat_jacobian(apply_fn, params_b, xj))


def random_direction(params: Params, radius: float, seed: int = 0) -> Params:
    """θ + radius·u with u a uniformly random unit vector over all trainable variables."""
    radius = v.positive_float("radius", radius, allow_zero=True)
    leaves, tree = jax.tree_util.tree_flatten(params)
    keys = jax.random.split(_seeds.key("seed", seed), len(leaves))
    noise = [_seeds.normal(k, leaf.shape, leaf.dtype) for k, leaf in zip(keys, leaves)]
    scale = radius / float(np.sqrt(sum(float(jnp.sum(z ** 2)) for z in noise)))
    return jax.tree_util.tree_unflatten(tree, [leaf + scale * z for leaf, z in zip(leaves, noise)])


# ----------------------------------------------------------------------------- Grönwall


@dataclass(frozen=True)
class Gronwall:
    """The terms of the integral Grönwall inequality (S113–S114) on a recorded time grid.

    ``u`` = e^{λ_0 t}||g_lin − g||; ``alpha`` = α(t); ``int_beta`` = ∫_0^t β; ``rhs`` =
    α(t)·exp(∫β); ``gap_bound`` = e^{−λ_0 t}·rhs, the implied bound on ||g_lin(t) − g(t)||.
    """

    times: np.ndarray
    u: np.ndarray
    alpha: np.ndarray
    int_beta: np.ndarray
    rhs: np.ndarray
    gap_bound: np.ndarray
    lam0: float
    atol: float = 0.0

    @property
    def holds(self) -> np.ndarray:
        """u(t) ≤ α(t) exp(∫β) at each recorded t, allowing ``atol`` of round-off in ||g_lin − g||."""
        return self.u <= self.rhs * (1 + 1e-9) + self.atol * np.exp(self.lam0 * self.times)

    @property
    def fraction_holding(self) -> float:
        return float(np.mean(self.holds))


def gronwall_terms(times, lam0: float, beta, glin_norms, gap_norms, *, atol: float = 0.0) -> Gronwall:
    """u, α, ∫β and α·exp(∫β) on the grid ``times`` (book units; t = η·steps).

    ``lam0`` = λ_min(Θ̂_0)/(Nk); ``beta`` = ||Θ̂_t − Θ̂_0||_op/(Nk); ``glin_norms`` = ||g_lin(t)||;
    ``gap_norms`` = ||g_lin(t) − g(t)||, all at ``times`` (which start at 0). ``atol``: absolute
    allowance in :attr:`Gronwall.holds` for round-off in the measured u (float32 training).

    The integrals use a conservative (upper) rule on each interval [t_j, t_{j+1}]: every factor
    is replaced by its larger endpoint value (e^{λ_0 s} by e^{λ_0 t_{j+1}}, β by max(β_j, β_{j+1}),
    ||g_lin|| by ||g_lin(t_j)||). This over-estimates the integral whenever the factors are
    monotone between grid points (e^{λ_0 s} and ||g_lin|| are; the kernel drift β is close to it),
    and its right-endpoint exponential also covers the one-step lag of discrete gradient descent.
    """
    times = v.finite_array("times", times, ndim=1).astype(np.float64)
    beta = v.finite_array("beta", beta, ndim=1).astype(np.float64)
    glin = v.finite_array("glin_norms", glin_norms, ndim=1).astype(np.float64)
    gap = v.finite_array("gap_norms", gap_norms, ndim=1).astype(np.float64)
    lam0 = v.positive_float("lam0", lam0, allow_zero=True)
    if not (times.shape == beta.shape == glin.shape == gap.shape):
        raise ValueError(f"times, beta, glin_norms, gap_norms must have one shape, got "
                         f"{times.shape}, {beta.shape}, {glin.shape}, {gap.shape}")
    if times.size < 2 or times[0] != 0 or np.any(np.diff(times) <= 0):
        raise ValueError("times must start at 0 and increase strictly")
    if np.any(beta < 0) or np.any(glin < 0) or np.any(gap < 0):
        raise ValueError("beta, glin_norms and gap_norms are norms: they must be >= 0")
    dt = np.diff(times)
    beta_up = np.maximum(beta[:-1], beta[1:])
    glin_up = np.maximum(glin[:-1], glin[1:])
    alpha = np.concatenate([[0.0], np.cumsum(dt * np.exp(lam0 * times[1:]) * beta_up * glin_up)])
    int_beta = np.concatenate([[0.0], np.cumsum(dt * beta_up)])
    rhs = alpha * np.exp(int_beta)
    u = np.exp(lam0 * times) * gap
    atol = v.positive_float("atol", atol, allow_zero=True)
    return Gronwall(times, u, alpha, int_beta, rhs, np.exp(-lam0 * times) * rhs, lam0, atol)


def sup_gap_bound(sigma: float, lam0: float, r0: float) -> float:
    """sup_t of Step 7's closed-form bound t σ e^{(σ − λ_0) t} R_0: σ R_0 / (e (λ_0 − σ)).

    From u ≤ α exp(∫β) with β ≤ σ and ||g_lin(s)|| ≤ e^{−λ_0 s} R_0: α(t) ≤ σ t R_0 and
    ||g_lin(t) − g(t)|| ≤ σ t R_0 e^{(σ−λ_0)t}, maximal at t = 1/(λ_0 − σ). Book units: ``sigma``
    = sup_t ||Θ̂_t − Θ̂_0||_op/(Nk), ``lam0`` = λ_min(Θ̂_0)/(Nk). Infinite when σ ≥ λ_0 (the
    bound grows without limit in t: the width is below the theorem's threshold).

    >>> round(sup_gap_bound(0.1, 0.2, 1.0), 6) == round(0.1 / (np.e * 0.1), 6)
    True
    >>> sup_gap_bound(0.3, 0.2, 1.0)
    inf
    """
    sigma = v.positive_float("sigma", sigma, allow_zero=True)
    lam0 = v.positive_float("lam0", lam0)
    r0 = v.positive_float("r0", r0, allow_zero=True)
    if sigma >= lam0:
        return float("inf")
    return float(sigma * r0 / (np.e * (lam0 - sigma)))


def width_threshold(k_const: float, r0: float, lam_min: float) -> float:
    """The width n* = (18 K³ R_0 / λ_min²)² at which the proof's Step 3 closes (paper S67).

    Step 3 needs ||J(θ̃)J(θ)ᵀ − Θ̂_0||_F ≤ λ_min/3 along training; Steps 1 and 5 bound the left
    side by 2K · (K/√n) · 3KR_0/λ_min, which is ≤ λ_min/3 iff n ≥ n*. ``k_const`` is K (a bound on
    ||J||_F and on √n times the Jacobian's Lipschitz constant), ``r0`` the initial residual and
    ``lam_min`` = λ_min(Θ) of the unnormalized analytic kernel (the η's cancel, so the paper's
    and the book's units agree here).

    >>> width_threshold(1.0, 1.0, 1.0)
    324.0
    """
    k_const = v.positive_float("k_const", k_const)
    r0 = v.positive_float("r0", r0)
    lam_min = v.positive_float("lam_min", lam_min)
    return float((18.0 * k_const ** 3 * r0 / lam_min ** 2) ** 2)


# ----------------------------------------------------------------------------- one training run


@dataclass(frozen=True)
class RunMeasurements:
    """One full-batch GD run of a network, with what the proof needs, in the book's units.

    Every step: ``residual_norms`` (S+1,) = ||f_s(X) − Y||. On the record grid ``steps`` (R,):
    ``times`` = η·steps, outputs ``f_train`` (R, N, k), ``f_test`` (R, M, k), the linearized
    model's exact discrete outputs ``flin_train``, ``flin_test`` (eq. 9–11 with Θ̂_0),
    ``param_distance`` ||θ_t − θ_0||, ``jacobian_distance`` ||J(θ_t) − J(θ_0)||_F,
    ``drift_fro`` / ``drift_op`` = ||Θ̂_t − Θ̂_0||_F / _op (unnormalized Θ̂ = J Jᵀ),
    ``jacobian_norms`` = ||J(θ_t)||_F; ``cross_drift`` = ||J(θ_0)(J(θ_T) − J(θ_0))ᵀ||_F at the end.
    ``theta_0`` is Θ̂_0 (Nk, Nk); ``jacobian_norm_0`` = ||J(θ_0)||_F; ``jacobian_distance_random``
    = ||J(θ_0 + r u) − J(θ_0)||_F for a random unit u and r = ||θ_T − θ_0||;
    ``layer_changes`` = ||W^l_T − W^l_0||_F/||W^l_0||_F per weight layer, input layer first;
    ``triangle_ratio`` = ||Θ̂_T − Θ̂_0||_F / (||J_T ΔJᵀ||_F + ||ΔJ J_0ᵀ||_F) ≤ 1 with
    ΔJ = J_T − J_0: how much of the triangle inequality of Step 6 the kernel's motion uses.
    ``params_final`` is θ_T, the trained parameters (for measurements at the end of training).
    """

    lr: float
    steps: np.ndarray
    times: np.ndarray
    residual_norms: np.ndarray
    f_train: np.ndarray
    f_test: np.ndarray
    flin_train: np.ndarray
    flin_test: np.ndarray
    y_train: np.ndarray
    theta_0: np.ndarray
    drift_fro: np.ndarray
    drift_op: np.ndarray
    param_distance: np.ndarray
    jacobian_distance: np.ndarray
    jacobian_norms: np.ndarray
    jacobian_norm_0: float
    jacobian_distance_random: float
    cross_drift: float
    triangle_ratio: float
    layer_changes: np.ndarray
    params_final: Params | None = None

    @property
    def n_outputs(self) -> int:
        """N·k, the normalization of the book's loss."""
        return int(self.y_train.size)

    @property
    def lam0(self) -> float:
        """λ_min(Θ̂_0)/(Nk), the rate of the linearized model's slowest mode (clipped at 0)."""
        return max(float(np.linalg.eigvalsh(self.theta_0.astype(np.float64))[0]), 0.0) / self.n_outputs

    def gronwall(self, *, atol_per_entry: float = 1e-5) -> Gronwall:
        """The Grönwall terms along this run (:func:`gronwall_terms`).

        The network runs in float32: ``atol_per_entry``·√(Nk) is allowed as round-off in
        ||g_lin − g|| when checking the inequality (it matters only at t = 0, where both are 0).
        """
        glin = residual_norms(self.flin_train, self.y_train)
        gap = np.linalg.norm((self.flin_train - self.f_train).reshape(len(self.times), -1), axis=1)
        atol = v.positive_float("atol_per_entry", atol_per_entry, allow_zero=True) * np.sqrt(self.n_outputs)
        return gronwall_terms(self.times, self.lam0, self.drift_op / self.n_outputs, glin, gap, atol=atol)

    def drift_chain_bound(self) -> np.ndarray:
        """(||J_t||_F + ||J_0||_F)·||J_t − J_0||_F at each record: ≥ ||Θ̂_t − Θ̂_0||_F, since
        J_t J_tᵀ − J_0 J_0ᵀ = J_t (J_t − J_0)ᵀ + (J_t − J_0) J_0ᵀ (the step from Lemma 1/2 to S50/S98)."""
        return (self.jacobian_norms + self.jacobian_norm_0) * self.jacobian_distance

    @property
    def sigma(self) -> float:
        """σ = sup_t ||Θ̂_t − Θ̂_0||_op/(Nk), the kernel drift that Step 7 compares with λ_0."""
        return float(np.max(self.drift_op)) / self.n_outputs

    @property
    def alignment(self) -> float:
        """||J_0 ΔJᵀ||_F / (||J_0||_F ||ΔJ||_F) with ΔJ = J(θ_T) − J(θ_0): the fraction of the
        Cauchy–Schwarz bound ||J_0 ΔJᵀ||_F ≤ ||J_0||_F ||ΔJ||_F of Step 6 that is used (≤ 1)."""
        return self.cross_drift / (self.jacobian_norm_0 * float(self.jacobian_distance[-1]))

    def summary(self, theta_analytic) -> dict[str, float]:
        """Scalars per run for width sweeps: one entry per step of the proof.

        ``param_distance_bound`` is S97's 3KR_0/λ_min(Θ) with K = max_t ||J(θ_t)||_F (the
        η's cancel: Σ_s (η/Nk) K ||g_s|| ≤ (η/Nk) K R_0 · 3Nk/(η λ_min)). ``gap_train_l2`` is
        sup_t ||f_t(X) − f^lin_t(X)||_2 over all Nk training entries, the norm the Grönwall bound
        ``gronwall_bound`` bounds; ``gap_train``/``gap_test`` are sup_t of the largest |entry|.
        ``alignment`` is :attr:`alignment`; ``triangle_ratio`` is :attr:`triangle_ratio`;
        ``sigma_ratio`` = σ/λ_0;
        ``sup_gap_bound`` = :func:`sup_gap_bound` (inf if σ ≥ λ_0); ``layer_change_l`` the
        relative change of weight layer l = 1 … L+1.

        ``theta_analytic`` is the (N, N) analytic NTK on the training inputs (λ_min, and the
        concentration ||Θ̂_0 − Θ||_F).
        """
        theta = v.symmetric_matrix("theta_analytic", theta_analytic).astype(np.float64)
        n, k = self.y_train.shape
        if theta.shape != (n, n):
            raise ValueError(f"theta_analytic must be ({n}, {n}), got {theta.shape}")
        full = np.kron(theta, np.eye(k)) if k > 1 else theta
        lam_min = float(np.linalg.eigvalsh(theta)[0])
        bound = contraction_bound(self.lr, lam_min, self.n_outputs)
        ratios = contraction_ratios(self.residual_norms)
        t_steps = self.lr * np.arange(self.residual_norms.size)
        gw = self.gronwall()
        last = -1
        return {
            "residual_0": float(self.residual_norms[0]),
            "jacobian_norm_0": self.jacobian_norm_0,
            "lipschitz": float(self.jacobian_distance[last] / self.param_distance[last]),
            "lipschitz_random": float(self.jacobian_distance_random / self.param_distance[last]),
            "kernel_init_error": float(np.linalg.norm(self.theta_0 - full)),
            "kernel_init_rel_error": relative_error(self.theta_0, full),
            "max_contraction": float(np.max(ratios)),
            "contraction_bound": bound,
            "decay_rate": decay_rate(t_steps, self.residual_norms),
            "decay_rate_bound": lam_min / (3.0 * self.n_outputs),
            "param_distance": float(np.max(self.param_distance)),
            "jacobian_norm_max": float(np.max(self.jacobian_norms)),
            "param_distance_bound": 3.0 * float(np.max(self.jacobian_norms)) * float(self.residual_norms[0]) / lam_min,
            "kernel_drift": float(np.max(self.drift_fro)),
            "kernel_drift_rel": float(np.max(self.drift_fro) / np.linalg.norm(self.theta_0)),
            "drift_chain_bound": float(np.max(self.drift_chain_bound())),
            "gronwall_fraction": gw.fraction_holding,
            "gronwall_bound": float(np.max(gw.gap_bound)),
            "gap_train": float(np.max(np.abs(self.f_train - self.flin_train))),
            "gap_train_l2": float(np.max(np.linalg.norm(
                (self.f_train - self.flin_train).reshape(len(self.times), -1), axis=1))),
            "alignment": self.alignment,
            "triangle_ratio": self.triangle_ratio,
            "sigma_ratio": self.sigma / self.lam0,
            "sup_gap_bound": sup_gap_bound(self.sigma, self.lam0, float(self.residual_norms[0])),
            **{f"layer_change_{i + 1}": float(c) for i, c in enumerate(self.layer_changes)},
            "gap_test": float(np.max(np.abs(self.f_test - self.flin_test))),
            "final_residual": float(self.residual_norms[-1]),
        }


def measure_run(network: Model, params: Params, data: Dataset, *, lr: float, steps: int,
                record: Sequence[int] | None = None, direction_seed: int = 0) -> RunMeasurements:
    """Train ``network`` from ``params`` by full-batch GD (½·mean MSE, rate ``lr``) and measure.

    Records every step's residual norm and, at the steps of ``record`` (default
    :func:`~ntklib.dynamics.log_steps`), the empirical NTK on the training set, ||θ_t − θ_0||,
    ||J(θ_t) − J(θ_0)||_F and the outputs; the linearized model's outputs come from the exact
    discrete closed form (:class:`~ntklib.dynamics.LinearPredictor` with Θ̂_0). Raises if the
    loss becomes non-finite (the theorem's runs use η < η_critical).
    """
    check_model(network, "network")
    if not isinstance(data, Dataset):
        raise TypeError(f"data must be an ntklib Dataset, got {type(data).__name__}")
    lr = v.positive_float("lr", lr)
    steps = v.positive_int("steps", steps)
    grid = log_steps(steps) if record is None else np.unique(np.asarray(record, dtype=int).ravel())
    if grid[0] != 0 or grid[-1] != steps:
        raise ValueError(f"record must start at 0 and end at steps={steps}, got {grid}")
    res = gradient_descent(network.apply_fn, params, data.x_train, data.y_train, lr=lr, steps=steps,
                           x_test=data.x_test, record=grid, record_params=True, record_losses=True,
                           allow_divergence=True)
    if res.diverged:
        raise FloatingPointError(f"training diverged with lr={lr:.4g}; Theorem 2.1 needs lr < η_critical")
    theta_0 = empirical_ntk(network, params, data.x_train)
    f_tr, f_te, kernels_t, dist, jdist = list(res.f_train), list(res.f_test), [], [], []
    pieces = _pieces_fn(network)
    structured = pieces is not None
    pieces_0 = pieces(network, params, data.x_train) if structured else None
    pieces_t = None
    for s, p in zip(res.steps, res.params):
        kernels_t.append(theta_0 if s == 0 else empirical_ntk(network, p, data.x_train))
        dist.append(parameter_distance(params, p))
        if s == 0:
            jdist.append(0.0)
        elif structured:
            pieces_t = pieces(network, p, data.x_train)
            jdist.append(_pieces_distance(pieces_t, pieces_0))
        else:
            jdist.append(jacobian_distance(network, p, params, data.x_train))
    # At the end of training, every product by the same float64 rule: J_0 J_0ᵀ, J_0 J_Tᵀ, J_T J_Tᵀ
    if structured:
        c00, c0t, ctt = (_pieces_cross(pieces_0, pieces_0), _pieces_cross(pieces_0, pieces_t),
                         _pieces_cross(pieces_t, pieces_t))
    else:
        pt = res.params[-1]
        c00, c0t, ctt = (cross_ntk(network, a, b, data.x_train)
                         for a, b in ((params, params), (params, pt), (pt, pt)))
    cross_0 = float(np.linalg.norm(c0t - c00))  # ||J_0 ΔJᵀ||_F = ||ΔJ J_0ᵀ||_F
    cross_t = float(np.linalg.norm(ctt - c0t.T))  # ||J_T ΔJᵀ||_F
    drift_t = float(np.linalg.norm(ctt - c00))  # ||Θ̂_T − Θ̂_0||_F
    losses = np.array(res.loss_steps)
    losses[-1] = float(recorded_mse(f_tr[-1], data.y_train))
    if not np.all(np.isfinite(losses)):
        raise FloatingPointError(f"training diverged with lr={lr:.4g}; Theorem 2.1 needs lr < η_critical")
    norms = np.sqrt(2.0 * data.y_train.size * np.maximum(losses, 0.0))
    kernels_t = np.stack(kernels_t)
    f0_tr, f0_te = np.asarray(f_tr[0], np.float64), np.asarray(f_te[0], np.float64)
    theta_x = empirical_ntk(network, params, data.x_test, data.x_train)
    flin_tr, flin_te = LinearPredictor.from_kernels(theta_0, theta_x, f0_tr, f0_te,
                                                    data.y_train).predict(grid, lr=lr)
    r = dist[-1]
    j_rand = jacobian_distance(network, random_direction(params, r, direction_seed), params, data.x_train)
    return RunMeasurements(
        lr=lr, steps=grid, times=lr * grid, residual_norms=norms,
        f_train=np.stack(f_tr).astype(np.float64), f_test=np.stack(f_te).astype(np.float64),
        flin_train=flin_tr, flin_test=flin_te, y_train=np.asarray(data.y_train, np.float64),
        theta_0=np.asarray(theta_0, np.float64),
        drift_fro=kernel_drift(kernels_t, theta_0, norm="fro"),
        drift_op=kernel_drift(kernels_t, theta_0, norm="op"),
        param_distance=np.array(dist), jacobian_distance=np.array(jdist),
        jacobian_norms=np.sqrt(np.einsum("tii->t", kernels_t.astype(np.float64))),
        jacobian_norm_0=float(np.sqrt(np.trace(np.asarray(theta_0, np.float64)))),
        jacobian_distance_random=j_rand, cross_drift=cross_0,
        triangle_ratio=drift_t / (cross_0 + cross_t),
        layer_changes=relative_weight_change(params, res.params[-1]), params_final=res.params[-1])
