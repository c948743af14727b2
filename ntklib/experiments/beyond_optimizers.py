"""Chapter 5 (``beyond_optimizers``) runners: net vs f_lin under momentum, cross-entropy and
minibatches (paper Fig. 4, S2, S3, S4).

* Heavy ball on the linear model, mode by mode: :func:`ntklib.dynamics.heavy_ball_modes` (regime,
  contraction and period of every eigenmode of Θ̂_0), :func:`mode_coefficients` (a run's residual in that
  eigenbasis) and :func:`oscillation` (the half-period and per-step contraction of a recorded
  oscillation), so that the prediction can be checked against the network.
* :func:`momentum_width_sweep`: RMSE(net, f_lin) against width under full-batch heavy ball,
  the networks of all seeds trained at once (vmapped) and f_lin from the exact heavy-ball
  recursion with each network's own Θ̂_0.
* :func:`width_pairs`, :func:`logit_deviation`, :func:`separation_time` and
  :func:`separation_table`: how the gap between a network and its linearization
  (:mod:`ntklib.experiments.pairs`) opens under cross-entropy, per width (Fig. S4).
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import pandas as pd

from .. import _validate as v
from .. import dynamics, kernels
from ..data import Dataset
from ..models import Model, check_model
from ..stats import rmse
from . import sweep, width_seed_grid
from .pairs import PairRun, train_pair

__all__ = [
    "mode_coefficients", "rayleigh_ratio", "oscillation", "clock_gap",
    "momentum_width_sweep",
    "width_pairs", "logit_deviation", "separation_time", "separation_table",
]


def mode_coefficients(theta_train, f_train, y_train) -> tuple[np.ndarray, np.ndarray]:
    """(eigenvalues λ, largest first; coefficients (T, P)) of the train residuals
    f_t(X) − Y of a recorded run in the eigenbasis of ``theta_train`` (the full (N·k, N·k)
    kernel, examples major, or (N, N) for one output). ``f_train``: (T, N, k)."""
    theta = v.symmetric_matrix("theta_train", theta_train).astype(np.float64)
    f = v.finite_array("f_train", f_train, ndim=3).astype(np.float64)
    y = v.finite_array("y_train", y_train, ndim=2).astype(np.float64)
    if f.shape[1:] != y.shape or theta.shape[0] != y.size:
        raise ValueError(f"f_train {f.shape}, y_train {y.shape} and theta_train {theta.shape} "
                         "must describe the same N·k outputs")
    lam, vecs = np.linalg.eigh((theta + theta.T) / 2)
    order = np.argsort(lam)[::-1]
    residual = (f - y[None]).reshape(f.shape[0], -1)
    return lam[order], residual @ vecs[:, order]


def rayleigh_ratio(theta_0, theta_t) -> float:
    """v_0ᵀ Θ_t v_0 / v_0ᵀ Θ_0 v_0 for the top eigenvector v_0 of ``theta_0``: how much a
    kernel measured later (e.g. at the end of training) has changed along the top mode.

    >>> rayleigh_ratio(np.diag([4.0, 1.0]), np.diag([3.0, 2.0]))
    0.75
    """
    theta_0 = v.symmetric_matrix("theta_0", theta_0).astype(np.float64)
    theta_t = v.symmetric_matrix("theta_t", theta_t).astype(np.float64)
    if theta_0.shape != theta_t.shape:
        raise ValueError(f"theta_0 {theta_0.shape} and theta_t {theta_t.shape} must match")
    lam, vecs = np.linalg.eigh(theta_0)
    top = vecs[:, -1]
    return float(top @ theta_t @ top / lam[-1])


def clock_gap(t_a, loss_a, t_b, loss_b, *, points: int = 50) -> float:
    """Largest |loss_a − loss_b| / loss_a(0) of two recorded runs on their common time range,
    both interpolated on ``points`` log-spaced times (linear in log t); entry 0 of each run
    is t = 0 (the initial loss) and is left out of the interpolation.

    >>> t = np.array([0.0, 1.0, 2.0, 4.0])
    >>> clock_gap(t, np.array([2.0, 1.0, 0.5, 0.25]), 2 * t, np.array([2.0, 1.0, 0.5, 0.25]))
    0.25
    """
    arrays = [v.finite_array(name, a, ndim=1).astype(np.float64) for name, a in
              (("t_a", t_a), ("loss_a", loss_a), ("t_b", t_b), ("loss_b", loss_b))]
    t_a, loss_a, t_b, loss_b = arrays
    if t_a.shape != loss_a.shape or t_b.shape != loss_b.shape or t_a.size < 3 or t_b.size < 3:
        raise ValueError("each run needs matching times and losses, at least 3 records each")
    lo, hi = max(t_a[1], t_b[1]), min(t_a[-1], t_b[-1])
    if not 0 < lo < hi:
        raise ValueError(f"the two runs share no positive time range (from {lo} to {hi})")
    grid = np.log(np.geomspace(lo, hi, v.positive_int("points", points)))
    interp = lambda t, y: np.interp(grid, np.log(t[1:]), y[1:])
    return float(np.max(np.abs(interp(t_a, loss_a) - interp(t_b, loss_b))) / loss_a[0])


def oscillation(steps, values) -> dict[str, float]:
    """Half-period and per-step contraction of a recorded damped oscillation.

    ``steps``: recorded step indices (increasing), ``values``: the oscillating quantity there.
    The zero crossings are located by linear interpolation between recorded steps;
    ``half_period`` is their mean spacing, ``crossings`` their number, and ``contraction`` is
    exp(slope) of a least-squares line through log max|value| between consecutive crossings
    against the step of that maximum (the envelope's factor per step). Needs at least three
    crossings.

    >>> s = np.arange(200)
    >>> out = oscillation(s, 0.95 ** s * np.cos(2 * np.pi * s / 20 + 0.3))
    >>> round(out["half_period"], 2), round(out["contraction"], 3)
    (10.0, 0.95)
    """
    steps = v.finite_array("steps", steps, ndim=1).astype(np.float64)
    values = v.finite_array("values", values, ndim=1).astype(np.float64)
    if steps.shape != values.shape:
        raise ValueError(f"steps {steps.shape} and values {values.shape} must match")
    if np.any(np.diff(steps) <= 0):
        raise ValueError("steps must be strictly increasing")
    i = np.flatnonzero(np.sign(values[:-1]) * np.sign(values[1:]) < 0)
    if i.size < 3:
        raise ValueError(f"values change sign {i.size} times; an oscillation needs at least 3 "
                         "zero crossings (record more steps, or a longer run)")
    crossings = steps[i] + values[i] / (values[i] - values[i + 1]) * (steps[i + 1] - steps[i])
    peak_steps, peaks = [], []
    for a, b in zip(i[:-1] + 1, i[1:] + 1):
        j = a + int(np.argmax(np.abs(values[a:b])))
        peak_steps.append(steps[j])
        peaks.append(abs(values[j]))
    slope = np.polyfit(peak_steps, np.log(peaks), 1)[0]
    return dict(half_period=float(np.mean(np.diff(crossings))), crossings=int(i.size),
                contraction=float(np.exp(slope)))


def momentum_width_sweep(make_network: Callable[[int], Model], data: Dataset,
                         widths: Sequence[int], seeds: Sequence[int], *, lr: float,
                         momentum: float, steps: int,
                         record: Sequence[int] | None = None) -> pd.DataFrame:
    """RMSE(f_t, f_lin_t) on the test inputs under full-batch heavy ball on ½·mean MSE, per
    (width, seed): one row with ``rmse_sup`` (max over the recorded steps) and ``rmse_final``.

    At each width the networks of all ``seeds`` (θ_0 = ``make_network(width).init(seed, d)``)
    are trained together by :func:`ntklib.dynamics.train_ensemble` (``momentum=β``: the
    heavy-ball loop vmapped over members, one compilation per width), recording their outputs at ``record``
    (default :func:`ntklib.dynamics.log_steps`). f_lin is the exact function-space heavy-ball
    recursion with the member's own empirical Θ̂_0 (``LinearPredictor.predict(...,
    momentum=β)``), which equals training f_lin directly (:func:`~ntklib.experiments.pairs.train_pair`)
    up to float round-off. A diverging member raises.
    """
    widths, seeds = width_seed_grid(data, widths, seeds, name="momentum_width_sweep")
    lr = v.positive_float("lr", lr)
    beta = v.momentum("momentum", momentum)
    steps = v.nonnegative_int("steps", steps)
    grid = dynamics.log_steps(steps) if record is None else np.unique(np.asarray(record, int))
    if grid.size == 0 or grid[0] != 0 or grid[-1] > steps:
        raise ValueError(f"record must start at 0 and lie in [0, steps={steps}], got {record}")
    both = np.concatenate([data.x_train, data.x_test])
    n, k = data.n_train, data.out_dim

    def run(width: int) -> list[dict]:
        network = check_model(make_network(width), "make_network(width)")
        try:
            ens = dynamics.train_ensemble(network, seeds, data, lr=lr, steps=steps, record=grid,
                                          momentum=beta, check_lr=False)
        except FloatingPointError as err:
            raise FloatingPointError(f"width {width}: {err}") from None
        rows = []
        for m, seed in enumerate(seeds):
            p0 = network.init(seed, data.input_dim)  # member m of train_ensemble's θ_0
            theta = kernels.empirical_ntk(network, p0, both, data.x_train)  # (N + M)k × Nk
            pred = dynamics.LinearPredictor.from_kernels(theta[:n * k], theta[n * k:],
                                                         ens.f_train[m, 0], ens.f_eval[m, 0],
                                                         data.y_train)
            _, lin = pred.predict(grid, lr=lr, momentum=beta)
            dev = rmse(ens.f_eval[m], lin, axis=(1, 2))
            rows.append(dict(seed=seed, rmse_sup=float(np.max(dev)), rmse_final=float(dev[-1])))
        return rows

    return sweep(run, {"width": widths}, desc="momentum widths")


def width_pairs(make_network: Callable[[int], object], data: Dataset, widths: Sequence[int], *,
                seed: int, **train_kwargs) -> dict[int, PairRun]:
    """:func:`train_pair` for ``make_network(width)`` (initialized with ``seed``) at every width."""
    widths = [v.positive_int("width", int(w)) for w in widths]
    seed = v.nonnegative_int("seed", seed)
    runs = {}

    def run(width: int) -> dict:
        net = make_network(width)
        runs[width] = train_pair(net.apply_fn, net.init(seed, data.input_dim), data, **train_kwargs)
        return {}

    sweep(run, {"width": widths}, desc="widths")
    return runs


def logit_deviation(runs: dict[int, PairRun], split: str = "test") -> pd.DataFrame:
    """Tidy frame (width, step, time, rmse) of RMSE(f_t, f_lin_t) along training, per width."""
    rows = []
    for width, run in runs.items():
        dev = run.output_rmse(split)
        for s, t, d in zip(run.steps, run.times, dev):
            rows.append(dict(width=int(width), step=int(s), time=float(t), rmse=float(d)))
    return pd.DataFrame(rows)


def separation_time(times, deviation, threshold: float) -> float:
    """First recorded time at which ``deviation`` exceeds ``threshold`` (log-linear interpolation
    between the two recorded times around the crossing); ``inf`` if it never does."""
    times = v.finite_array("times", times, ndim=1).astype(np.float64)
    deviation = v.finite_array("deviation", deviation, ndim=1).astype(np.float64)
    threshold = v.positive_float("threshold", threshold)
    if times.shape != deviation.shape:
        raise ValueError(f"times {times.shape} and deviation {deviation.shape} must match")
    above = np.flatnonzero(deviation > threshold)
    if above.size == 0:
        return float("inf")
    i = int(above[0])
    if i == 0 or times[i - 1] <= 0:
        return float(times[i])
    lo, hi = np.log(times[i - 1]), np.log(times[i])
    d0, d1 = deviation[i - 1], deviation[i]
    frac = (threshold - d0) / (d1 - d0)
    return float(np.exp(lo + frac * (hi - lo)))


def separation_table(runs: dict[int, PairRun], threshold: float, split: str = "test") -> pd.DataFrame:
    """Per width: the time at which RMSE(f_t, f_lin_t) on ``split`` first exceeds ``threshold``
    (:func:`separation_time`), the final RMSE and the final accuracies of net and f_lin."""
    threshold = v.positive_float("threshold", threshold)
    rows = []
    for width, run in runs.items():
        dev = run.output_rmse(split)
        rows.append(dict(width=int(width), t_sep=separation_time(run.times, dev, threshold),
                         rmse_final=float(dev[-1]),
                         acc_net=float(run.accuracy("net", split)[-1]),
                         acc_lin=float(run.accuracy("lin", split)[-1])))
    return pd.DataFrame(rows)
