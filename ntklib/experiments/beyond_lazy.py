"""Chapter 7 (``beyond_lazy``) runners: where the linear picture ends.

* :func:`centered`: the scaled model α·(f(x; θ) − f(x; θ_0)) of Chizat, Oyallon & Bach (2019),
  trained on the loss ℒ(α h)/α², i.e. by gradient descent at rate η/α². Its linearization
  follows the same function-space dynamics for every α (the kernel α²Θ̂ times the rate η/α²),
  while the weights it needs to move shrink like 1/α: α is the laziness dial.
* :func:`scaled_run`: one such run, with the kernel change, the weight and hidden-feature change,
  the gap to f_lin, the test errors of the network, of f_lin and of its own kernel regression
  (f_lin at t = ∞) and the kernel–target alignment before and after.
* :func:`alpha_sweep`: :func:`scaled_run` over α and seeds at one width.
* :func:`parameterization_sweep`: the NTK parameterization (α = 1) next to the mean-field one
  (α = n^{-1/2}: the readout scaled by 1/n instead of 1/√n, the rate by n) over widths and seeds.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import pandas as pd

from .. import _validate as v
from .. import dynamics, kernels
from ..data import Dataset
from ..models import MLP, Model, Params, check_model, forward_features
from ..stats import PowerLaw, fit_power_law_pooled
from . import sweep, width_seed_grid
from .linearization import flatten_params

__all__ = ["PARAMETERIZATIONS", "parameterization_alpha", "centered", "scaled_targets",
           "hidden_change", "scaled_run", "alpha_sweep", "parameterization_sweep", "power_fit"]

# α as a function of the width: the NTK parameterization leaves the network as it is; the
# mean-field one divides its output by a further √n (f = (σ_w/n) Σ_i a_i φ(h_i)).
PARAMETERIZATIONS = {"ntk": lambda width: 1.0, "mean_field": lambda width: width ** -0.5}


def parameterization_alpha(name: str, width: int) -> float:
    """α of ``name`` ("ntk": 1, "mean_field": n^{-1/2}) at ``width`` n.

    >>> parameterization_alpha("mean_field", 64)
    0.125
    """
    v.choice("parameterization", name, tuple(PARAMETERIZATIONS))
    return float(PARAMETERIZATIONS[name](v.positive_int("width", width)))


def centered(network: Model, params0: Params, alpha: float) -> Callable:
    """``apply_fn`` of the model α·(f(x; θ) − f(x; θ_0)): zero at θ_0, with Jacobian α·J(θ).

    >>> from ntklib import models
    >>> net = models.mlp(1, 8)
    >>> p0 = net.init(0, 3)
    >>> float(abs(centered(net, p0, 4.0)(p0, np.ones((2, 3)))).max())
    0.0
    """
    check_model(network, "network")
    alpha = v.positive_float("alpha", alpha)
    apply_fn = network.apply_fn
    return lambda params, x: alpha * (apply_fn(params, x) - apply_fn(params0, x))


def scaled_targets(network: Model, params0: Params, x, y, alpha: float) -> np.ndarray:
    """Targets that make plain GD on f the scaled run: y/α + f(x; θ_0).

    ℒ(α h)/α² with h = f − f(θ_0) is ½·mean (α h − y)²/α² = ½·mean (f − (y/α + f(θ_0)))², so
    gradient descent at rate η on that loss is gradient descent at rate η on the network's own
    MSE against these targets: the same iterates θ_s, and one compiled loop for every α.
    """
    check_model(network, "network")
    alpha = v.positive_float("alpha", alpha)
    f0 = np.asarray(network.apply_fn(params0, x), np.float64)
    return (np.asarray(y, np.float64) / alpha + f0).astype(np.float32)


def hidden_change(network: Model, params0: Params, params: Params, x) -> float:
    """‖x^L(θ) − x^L(θ_0)‖_F / ‖x^L(θ_0)‖_F: the relative change of the last hidden layer's
    activations on the inputs ``x`` (the features the readout combines)."""
    check_model(network, "network", spec=MLP, purpose="the hidden-feature change")
    x = v.finite_array("x", x, ndim=2)
    before = np.asarray(forward_features(network, params0, x)[1][-1], np.float64)
    after = np.asarray(forward_features(network, params, x)[1][-1], np.float64)
    return float(np.linalg.norm(after - before) / np.linalg.norm(before))


def _mse(f, y) -> float:
    return float(np.mean((np.asarray(f, np.float64) - np.asarray(y, np.float64)) ** 2))


def scaled_run(network: Model, data: Dataset, *, alpha: float, seed: int, lr_fraction: float,
               steps: int) -> dict[str, float]:
    """Train :func:`centered` (α, init ``seed``) by full-batch GD at η = lr_fraction·η_critical/α²
    (η_critical of the network's own Θ̂_0, so that α²Θ̂_0·η is the same for every α) for ``steps``
    steps on ½·mean MSE, and measure, with Θ̂ the network's empirical NTK on the training inputs:

    - ``kernel_change`` ‖Θ̂_T − Θ̂_0‖_F/‖Θ̂_0‖_F, ``weight_change`` ‖θ_T − θ_0‖/‖θ_0‖,
      ``hidden_change`` (:func:`hidden_change` on the training inputs);
    - ``gap`` the test RMSE between the model and its linearization after the same steps;
    - ``test_net``, ``test_lin`` and ``test_kernel``: test MSE of the model, of f_lin after the
      same steps and of f_lin at t = ∞ (kernel regression with Θ̂_0, the model's own NTK
      regression); ``train_loss`` the model's final training loss;
    - ``alignment_0``, ``alignment_T``: :func:`ntklib.kernels.kernel_alignment` of Θ̂_0, Θ̂_T with
      the training targets; ``diverged`` 1 if the loss blew up (the other metrics are then NaN).
    """
    check_model(network, "network", spec=MLP, purpose="scaled_run")
    if not isinstance(data, Dataset):
        raise TypeError(f"data must be an ntklib Dataset, got {type(data).__name__}")
    if data.out_dim != 1:
        raise ValueError(f"scaled_run needs one output (kernel–target alignment), got {data.out_dim}")
    alpha = v.positive_float("alpha", alpha)
    lr_fraction = v.positive_float("lr_fraction", lr_fraction)
    steps = v.positive_int("steps", steps)
    params0 = network.init(v.nonnegative_int("seed", seed), data.input_dim)
    theta0 = np.asarray(kernels.empirical_ntk(network, params0, data.x_train), np.float64)
    theta0_x = np.asarray(kernels.empirical_ntk(network, params0, data.x_test, data.x_train))
    lr = lr_fraction * kernels.eta_critical(theta0)  # on ℒ(α h)/α²: η/α² on ℒ(α h)
    targets = scaled_targets(network, params0, data.x_train, data.y_train, alpha)
    res = dynamics.gradient_descent(network.apply_fn, params0, data.x_train, targets, lr=lr,
                                    steps=steps, x_test=data.x_test, record=[0, steps],
                                    allow_divergence=True)
    row = {"lr": lr, "alignment_0": kernels.kernel_alignment(theta0, data.y_train)}
    if res.diverged_step is not None or not np.all(np.isfinite(res.f_train[-1])):
        keys = ("kernel_change", "weight_change", "hidden_change", "gap", "test_net", "test_lin",
                "test_kernel", "train_loss", "alignment_T")
        return {**row, **{k: float("nan") for k in keys}, "diverged": 1.0}
    # the scaled model α(f − f_0) and its linearization, α·(J_0 Δθ), on h's targets y/α
    model = lambda f, f0: alpha * (np.asarray(f, np.float64) - np.asarray(f0, np.float64))
    out_train, out_test = model(res.f_train[-1], res.f_train[0]), model(res.f_test[-1], res.f_test[0])
    zeros = lambda x: np.zeros((x.shape[0], 1))
    linear = dynamics.LinearPredictor.from_kernels(theta0, theta0_x, zeros(data.x_train),
                                                   zeros(data.x_test), data.y_train / alpha)
    lin_test = alpha * linear.predict(steps, lr=lr)[1]
    kernel_test = alpha * linear.predict(np.inf, lr=lr)[1]
    theta_t = np.asarray(kernels.empirical_ntk(network, res.params_final, data.x_train), np.float64)
    w0, w_t = flatten_params(params0), flatten_params(res.params_final)
    return {**row,
            "kernel_change": float(np.linalg.norm(theta_t - theta0) / np.linalg.norm(theta0)),
            "weight_change": float(np.linalg.norm(w_t - w0) / np.linalg.norm(w0)),
            "hidden_change": hidden_change(network, params0, res.params_final, data.x_train),
            "gap": float(np.sqrt(_mse(out_test, lin_test))),
            "test_net": _mse(out_test, data.y_test), "test_lin": _mse(lin_test, data.y_test),
            "test_kernel": _mse(kernel_test, data.y_test),
            "train_loss": 0.5 * _mse(out_train, data.y_train),
            "alignment_T": kernels.kernel_alignment(theta_t, data.y_train), "diverged": 0.0}


def alpha_sweep(network: Model, data: Dataset, alphas: Sequence[float], seeds: Sequence[int], *,
                lr_fraction: float, steps: int) -> pd.DataFrame:
    """:func:`scaled_run` for every α in ``alphas`` and seed: columns alpha, seed and its metrics."""
    alphas = [v.positive_float("alpha", a) for a in alphas]
    seeds = [v.nonnegative_int("seed", s) for s in seeds]
    if not alphas or not seeds:
        raise ValueError(f"need at least one alpha and one seed, got {alphas}, {seeds}")
    run = lambda alpha, seed: scaled_run(network, data, alpha=alpha, seed=seed,
                                         lr_fraction=lr_fraction, steps=steps)
    return sweep(run, {"alpha": alphas, "seed": seeds}, desc="alpha sweep")


def parameterization_sweep(make_network: Callable[[int], Model], data: Dataset,
                           widths: Sequence[int], seeds: Sequence[int], *,
                           parameterizations: Sequence[str] = tuple(PARAMETERIZATIONS),
                           lr_fraction: float, steps: int) -> pd.DataFrame:
    """:func:`scaled_run` at α = :func:`parameterization_alpha` for every parameterization, width
    and seed (``make_network(width)`` builds the NTK-parameterized network): columns
    parameterization, width, seed, alpha and the metrics of :func:`scaled_run`."""
    if not callable(make_network):
        raise TypeError(f"make_network must be a function width -> Model, got {type(make_network).__name__}")
    widths, seeds = width_seed_grid(data, widths, seeds, name="parameterization_sweep")
    for name in parameterizations:
        v.choice("parameterization", name, tuple(PARAMETERIZATIONS))

    def run(parameterization: str, width: int, seed: int) -> dict:
        alpha = parameterization_alpha(parameterization, width)
        return {"alpha": alpha, **scaled_run(make_network(width), data, alpha=alpha, seed=seed,
                                             lr_fraction=lr_fraction, steps=steps)}

    return sweep(run, {"parameterization": list(parameterizations), "width": widths, "seed": seeds},
                 desc="parameterization sweep")


def power_fit(frame: pd.DataFrame, metric: str, axis: str = "width") -> PowerLaw:
    """Pooled power-law fit of ``metric`` against ``axis`` ("width" or "alpha") over every
    (value, seed) point of a sweep frame (:func:`ntklib.stats.fit_power_law_pooled`: its 95%
    interval includes the scatter about the line). Filter the frame first (e.g. one
    parameterization, or α ≥ 1)."""
    for column in (metric, axis, "seed"):
        if column not in frame:
            raise ValueError(f"frame has no column {column!r}; columns: {list(frame.columns)}")
    table = frame.pivot(index="seed", columns=axis, values=metric).sort_index(axis=1)
    if table.shape[1] < 3 or table.isna().to_numpy().any():
        raise ValueError(f"need >= 3 values of {axis} and no missing {metric!r} to fit, got\n{table}")
    return fit_power_law_pooled(table.columns.to_numpy(), table.to_numpy())
