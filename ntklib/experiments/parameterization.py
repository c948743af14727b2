"""The lazy regime: how far weights, outputs and kernels move when a wide network is trained
(paper §2.4 eq. 17, Fig. 1 and Fig. S6; standard parameterization, SM §F).

One run trains a freshly initialized network by full-batch gradient descent (MSE, the book's
½·mean convention) and measures, between θ_0 and θ_T:

=====================  ======================================================================
``rel_w1`` …           per Dense layer ||W^l_T − W^l_0||_F / ||W^l_0||_F, input layer first
``param_distance``     ||θ_T − θ_0||_2 over all trainable variables (O(1) in NTK param., eq. 17)
``max_abs_dtheta``     max_i |θ_T,i − θ_0,i| (the largest single-weight move)
``output_change``      RMS over test points of ||f_T(x) − f_0(x)||_2 (O(1))
``output_change_train`` the same on the training points
``kernel_change``      ||Θ̂_T − Θ̂_0||_F / ||Θ̂_0||_F on the training set (Fig. 1c)
``nngp_change``        ||K̂_T − K̂_0||_F / ||K̂_0||_F, readout feature kernel (Fig. 1d)
``eta_critical_emp``   2Nk/(λ_min + λ_max) of this network's own Θ̂_0
``lr_ratio``           η / ``eta_critical_emp`` (NaN for per-leaf rates)
``loss_init``, ``loss_final``, ``test_loss_final``  training / test loss
``diverged``           1.0 if the loss blew up (then the other metrics are NaN)
``stable``             1.0 if not diverged, η below the net's own η_critical (scalar η only) and
                       ``kernel_change`` < ``max_kernel_change`` — the regime Theorem 2.1 covers
=====================  ======================================================================

:func:`lazy_sweep` runs one network per (width, seed) through
:func:`ntklib.experiments.width_sweep` and returns the tidy frame; :func:`fit_metric` fits a
power law in width on the stable widths. :func:`init_outputs` samples f_0(x) over many
initializations; :func:`parameterization_gap` trains the same network in both
parameterizations with the SM §F learning-rate map.
"""

from __future__ import annotations

import functools
import numbers
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from .. import _validate as v
from .. import dynamics, kernels, models
from ..data import Dataset
from ..models import Model, Params
from ..stats import PowerLaw, fit_power_law, relative_error
from . import pivot_seeds, width_sweep

__all__ = [
    "LearningRate", "METRICS", "network_factory", "layer_metric_names", "layer_labels",
    "lazy_metrics", "lazy_run", "lazy_sweep", "stable_widths", "fit_metric", "seed_table",
    "init_outputs", "parameterization_gap",
]

#: a learning rate: a number, a per-leaf pytree, or a function (network, params) -> either
LearningRate = Any

METRICS = ("param_distance", "max_abs_dtheta", "output_change", "output_change_train",
           "kernel_change", "nngp_change", "eta_critical_emp", "lr_ratio", "loss_init",
           "loss_final", "test_loss_final", "diverged", "stable")


def network_factory(depth: int, **kwargs) -> Callable[[int], Model]:
    """``width -> models.mlp(depth, width, **kwargs)``; asking twice for a width returns the same
    Model (``models.build`` keeps one per spec), so every jit-compiled function keyed on it
    (training loop, kernels) is reused.
    """
    depth = v.positive_int("depth", depth)
    models.mlp(depth, 1, **kwargs)  # validate the keyword arguments once, up front
    return functools.partial(models.mlp, depth, **kwargs)


def _is_number(x) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def layer_metric_names(depth: int) -> list[str]:
    """Column names ``rel_w1`` … ``rel_w{depth+1}`` of the per-layer relative weight changes."""
    depth = v.positive_int("depth", depth)
    return [f"rel_w{l}" for l in range(1, depth + 2)]


def layer_labels(depth: int) -> list[str]:
    """Readable names of the Dense layers: input, hidden …, readout."""
    depth = v.positive_int("depth", depth)
    return (["$W^1$ (input)"] + [f"$W^{{{l}}}$ (hidden)" for l in range(2, depth + 1)]
            + [f"$W^{{{depth + 1}}}$ (readout)"])


def _max_abs_change(params0: Params, params1: Params) -> float:
    return float(max(jnp.max(jnp.abs(a - b)) for a, b in
                     zip(jax.tree_util.tree_leaves(params1), jax.tree_util.tree_leaves(params0))))


def _rms_change(f1, f0) -> float:
    """RMS over points of the Euclidean norm of the output change."""
    diff = np.asarray(f1, np.float64) - np.asarray(f0, np.float64)
    return float(np.sqrt(np.mean(np.sum(diff ** 2, axis=-1))))


def lazy_metrics(network: Model, params_0: Params, params_t: Params, x_train, *, lr=None,
                 max_kernel_change: float = 0.5) -> dict[str, float]:
    """Weight and kernel metrics between ``params_0`` and ``params_t`` (see the module table).

    ``lr``: the learning rate used, to compare with this network's own η_critical of Θ̂_0
    (a number; a pytree gives ``lr_ratio`` = NaN and ``stable`` judged on the kernel alone).
    """
    models.check_model(network, "network")
    max_kernel_change = v.positive_float("max_kernel_change", max_kernel_change)
    x_train = v.finite_array("x_train", x_train, ndim=2)
    rel = models.relative_weight_change(params_0, params_t)
    out = {name: float(r) for name, r in zip(layer_metric_names(network.depth), rel)}
    out["param_distance"] = models.parameter_distance(params_0, params_t)
    out["max_abs_dtheta"] = _max_abs_change(params_0, params_t)
    theta_0 = kernels.empirical_ntk(network, params_0, x_train)
    theta_t = kernels.empirical_ntk(network, params_t, x_train)
    out["kernel_change"] = relative_error(theta_t, theta_0)
    out["nngp_change"] = relative_error(kernels.empirical_nngp(network, params_t, x_train),
                                        kernels.empirical_nngp(network, params_0, x_train))
    sym = (np.asarray(theta_0, np.float64) + np.asarray(theta_0, np.float64).T) / 2
    eta_c = kernels.eta_critical(sym)  # full (Nk × Nk) kernel: 2·Nk/(λ_min + λ_max)
    out["eta_critical_emp"] = eta_c
    out["lr_ratio"] = float(lr) / eta_c if _is_number(lr) else float("nan")
    below = True if not _is_number(lr) else float(lr) < eta_c
    out["stable"] = float(below and out["kernel_change"] < max_kernel_change)
    return out


def lazy_run(network: Model, data: Dataset, *, seed: int, lr: LearningRate, steps: int,
             max_kernel_change: float = 0.5) -> dict[str, float]:
    """Initialize ``network`` with ``seed``, train it for ``steps`` full-batch GD steps on
    ``data`` (MSE, ½·mean) and return the metrics of the module table.

    ``lr`` is a number, a per-leaf pytree, or a function ``lr(network, params)`` returning
    either (e.g. η_0/n for the standard parameterization). A run whose loss diverges returns
    ``diverged = 1`` and NaN for the metrics that need θ_T.
    """
    models.check_model(network, "network")
    if not isinstance(data, Dataset):
        raise TypeError(f"data must be an ntklib Dataset, got {type(data).__name__}")
    steps = v.positive_int("steps", steps)
    params = network.init(v.nonnegative_int("seed", seed), data.input_dim)
    rates = lr(network, params) if callable(lr) else lr
    res = dynamics.gradient_descent(network.apply_fn, params, data.x_train, data.y_train, lr=rates,
                                    steps=steps, x_test=data.x_test, y_test=data.y_test,
                                    record=[0, steps], allow_divergence=True)
    nan = float("nan")
    if res.diverged:
        out = {name: nan for name in layer_metric_names(network.depth) + list(METRICS)}
        out.update(loss_init=float(res.loss_train[0]), diverged=1.0, stable=0.0)
        if _is_number(rates):
            theta_0 = kernels.empirical_ntk(network, params, data.x_train)
            out["eta_critical_emp"] = kernels.eta_critical((theta_0 + theta_0.T) / 2)
            out["lr_ratio"] = float(rates) / out["eta_critical_emp"]
        return out
    out = lazy_metrics(network, params, res.params_final, data.x_train, lr=rates,
                       max_kernel_change=max_kernel_change)
    out["output_change"] = _rms_change(res.f_test[-1], res.f_test[0])
    out["output_change_train"] = _rms_change(res.f_train[-1], res.f_train[0])
    out["loss_init"] = float(res.loss_train[0])
    out["loss_final"] = float(res.loss_train[-1])
    out["test_loss_final"] = float(res.loss_test[-1])
    out["diverged"] = 0.0
    return out


def lazy_sweep(make_network: Callable[[int], Model], data: Dataset, widths: Sequence[int],
               seeds: Sequence[int], *, lr: LearningRate, steps: int, max_kernel_change: float = 0.5,
               desc: str = "training sweep") -> pd.DataFrame:
    """One :func:`lazy_run` per (width, seed): the data of Fig. 1b–d / S6 as a tidy frame.

    ``make_network(width)`` builds the network (built once per width, so the jit-compiled
    training loop is reused across seeds). Columns: width, seed, ``rel_w1`` …, and
    :data:`METRICS`.
    """
    if not callable(make_network):
        raise TypeError(f"make_network must be a function width -> Model, got {type(make_network).__name__}")
    cache: dict[int, Model] = {}

    def run(width: int, seed: int) -> dict[str, float]:
        if width not in cache:
            net = make_network(width)
            models.check_model(net, "make_network")
            cache[width] = net
        return lazy_run(cache[width], data, seed=seed, lr=lr, steps=steps,
                        max_kernel_change=max_kernel_change)

    return width_sweep(run, widths, seeds, desc=desc)


def stable_widths(frame: pd.DataFrame) -> np.ndarray:
    """Widths at which every seed of a :func:`lazy_sweep` frame stayed in the stable regime."""
    if "stable" not in frame:
        raise ValueError("frame has no 'stable' column; pass the frame returned by lazy_sweep")
    ok = frame.groupby("width")["stable"].min()
    return ok.index[ok.to_numpy() >= 1.0].to_numpy()


def fit_metric(frame: pd.DataFrame, metric: str, widths: Sequence[int] | None = None) -> PowerLaw:
    """Power-law fit of ``metric`` against width (bootstrap over seeds when there are several),
    restricted to ``widths`` (default: :func:`stable_widths`)."""
    if metric not in frame:
        raise ValueError(f"frame has no column {metric!r}; columns: {list(frame.columns)}")
    keep = stable_widths(frame) if widths is None else np.asarray(widths)
    sub = frame[frame["width"].isin(keep)]
    if sub["width"].nunique() < 3:
        raise ValueError(f"need >= 3 widths to fit {metric!r}, have {sorted(sub['width'].unique())}")
    w, values = pivot_seeds(sub, metric)
    return fit_power_law(w, values)


def seed_table(frame: pd.DataFrame, metric: str, widths: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(widths, values (S, W)) of ``metric``, optionally restricted to ``widths`` (for plots)."""
    sub = frame if widths is None else frame[frame["width"].isin(np.asarray(widths))]
    return pivot_seeds(sub, metric)


# ----------------------------------------------------------------------------- initialization


def init_outputs(make_network: Callable[[int], Model], x, widths: Sequence[int], n_seeds: int, *,
                 seed: int = 0, chunk: int = 64) -> dict[int, np.ndarray]:
    """f_0(x) over ``n_seeds`` independent initializations at each width: {width: (S, M·k)}.

    The keys are ``jax.random.split(PRNGKey(seed), n_seeds)``; networks are drawn and applied
    ``chunk`` at a time (vmapped) to bound memory. As n → ∞ each column tends to N(0, K(x, x))
    (paper eq. 12).
    """
    x = jnp.asarray(v.finite_array("x", x, ndim=2))
    n_seeds = v.positive_int("n_seeds", n_seeds)
    chunk = v.positive_int("chunk", chunk)
    keys = jax.random.split(jax.random.PRNGKey(v.nonnegative_int("seed", seed)), n_seeds)
    out = {}
    for width in widths:
        net = make_network(v.positive_int("width", int(width)))
        models.check_model(net, "make_network")

        @jax.jit
        def sample(ks, net=net):
            return jax.vmap(lambda k: net.apply_fn(net.init_fn(k, (-1, x.shape[1]))[1], x).reshape(-1))(ks)

        parts = [np.asarray(sample(keys[i:i + chunk])) for i in range(0, n_seeds, chunk)]
        out[int(width)] = np.concatenate(parts, axis=0).astype(np.float64)
    return out


# ----------------------------------------------------------------------------- parameterizations


def parameterization_gap(network: Model, params: Params, x_train, y_train, *, lr: float, steps: int,
                         source: str = "ntk", record: Sequence[int] | None = None) -> dict[str, Any]:
    """Train the same network in both parameterizations with the SM §F learning-rate map.

    ``network`` is NTK-parameterized and ``params`` its variables (ω, β). ``source="ntk"``:
    NTK GD with the single rate ``lr`` against standard-parameterization GD with the per-layer
    rates :func:`~ntklib.models.equivalent_learning_rates` (to="standard");
    ``source="standard"``: standard GD with the single rate ``lr`` (e.g. η_0/n) against NTK GD
    with per-layer rates (eq. S37). Returns the two TrainResults (``ntk``, ``standard``), the
    largest output difference at initialization (``init_gap``) and over the recorded steps
    (``output_gap``), and the largest difference of the final variables after mapping the
    standard ones back to (ω, β) (``param_gap``).
    """
    if models.check_model(network, "network").parameterization != "ntk":
        raise ValueError(f"network must use parameterization='ntk', got {network.parameterization!r}")
    v.choice("source", source, ("ntk", "standard"))
    lr = v.positive_float("lr", lr)
    steps = v.positive_int("steps", steps)
    standard = network.replace(parameterization="standard")
    params_std = models.ntk_to_standard_params(network, params)
    if source == "ntk":
        lr_ntk, lr_std = lr, models.equivalent_learning_rates(network, params, lr, to="standard")
    else:
        lr_ntk, lr_std = models.equivalent_learning_rates(network, params, lr, to="ntk"), lr
    run_ntk = dynamics.gradient_descent(network.apply_fn, params, x_train, y_train, lr=lr_ntk,
                                        steps=steps, record=record)
    run_std = dynamics.gradient_descent(standard.apply_fn, params_std, x_train, y_train, lr=lr_std,
                                        steps=steps, record=record)
    back = models.standard_to_ntk_params(network, run_std.params_final)
    return {
        "ntk": run_ntk,
        "standard": run_std,
        "init_gap": float(np.max(np.abs(run_ntk.f_train[0] - run_std.f_train[0]))),
        "output_gap": float(np.max(np.abs(run_ntk.f_train - run_std.f_train))),
        "param_gap": _max_abs_change(run_ntk.params_final, back),
    }

