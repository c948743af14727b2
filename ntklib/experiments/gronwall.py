"""The book's learning-rate experiment: η = c·η_critical swept across the threshold of Theorem 2.1.

The paper states the condition η < η_critical = 2Nk/(λ_min + λ_max) (book convention) but runs
no such sweep; this module is the book's own experiment. For each network and multiplier c it
trains the network by full-batch GD (divergence allowed and recorded), evaluates its
linearization exactly (:class:`ntklib.dynamics.LinearPredictor` with Θ̂_0) and records how far
the empirical NTK moved — the catapult picture of Lewkowycz et al. (2020).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import jax.numpy as jnp
import numpy as np
import pandas as pd

from .. import _validate as v
from .. import claims, models
from ..data import Dataset
from ..dynamics import LinearPredictor, gradient_descent, log_steps
from ..kernels import analytic_ntk, empirical_ntk, eta_critical
from ..models import Model, Params, forward_features
from ..stats import PowerLaw, relative_error, rmse
from . import sweep

__all__ = [
    "OUTCOMES", "TRAINED_BELOW", "state_exponent", "dead_fraction", "classify", "lr_run", "learning_rate_sweep", "boundaries",
]

OUTCOMES = ("linear", "catapult", "stuck", "diverged")
TRAINED_BELOW = 0.5  # a run "trained" if its final loss is below this fraction of the initial one


def state_exponent(name: str, fit: PowerLaw, *, contains: float | None = None,
                   below: float | None = None, digits: int = 2) -> PowerLaw:
    """State a fitted exponent and its 95% interval as claims ``name``, ``name_lo``, ``name_hi``.

    ``contains``: the sentence says the exponent is consistent with this value, so the check
    is ci_low ≤ value ≤ ci_high. ``below``: the sentence says the quantity decays faster than
    n^below, so the check is ci_high < below. At least one must be given (an exponent stated
    without a check could not fail). Returns ``fit``.

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
    if contains is None and below is None:
        raise ValueError(f"state_exponent({name!r}) needs contains= or below= (a check that can fail)")
    lo_check = (None, contains) if contains is not None else None
    hi_check = (contains if contains is not None else None,
                below - 10.0 ** -digits if below is not None else None)
    claims.state(name, fit.exponent, digits=digits)
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
