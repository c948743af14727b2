"""Chapter 6 (``beyond_architectures``) runners: other architectures and the standard
parameterization (paper Fig. S2, S5 (CNN/ResNet panels), S7, S8).

:func:`channel_sweep`: net vs f_lin (:mod:`ntklib.experiments.pairs`) for any image model over
channel counts; :func:`parameterization_lr_sweep` and :func:`curve_gap`: final accuracy vs
learning rate in both parameterizations (Fig. S7); :func:`own_eta_critical`: η_critical of a
network's own empirical kernel (the standard parameterization's grows ∝ n, Fig. S8).
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np
import pandas as pd

from .. import _validate as v
from .. import dynamics, kernels, models
from ..data import Dataset
from ..models import Params
from . import sweep
from .pairs import accuracy, train_pair

__all__ = ["own_eta_critical", "channel_sweep", "parameterization_lr_sweep", "curve_gap"]


def own_eta_critical(network: models.Model, params: Params, x_train) -> float:
    """η_critical = 2Nk/(λ_min + λ_max) of a network's own empirical Θ̂_0 (full Nk × Nk kernel,
    so its eigenvalues already include the k outputs; :func:`ntklib.kernels.eta_critical`).
    Works for any model (MLP in either parameterization, CNN, ResNet)."""
    models.check_model(network, "network")
    return kernels.eta_critical(kernels.empirical_ntk(network, params, x_train))


def channel_sweep(spec: models.Spec, data: Dataset, channels: Sequence[int], *, seeds: Sequence[int],
                  lr: float, steps: int, momentum: float = 0.0,
                  record: Sequence[int] | None = None) -> tuple[pd.DataFrame, dict]:
    """Net vs f_lin for the image model ``spec`` (a :class:`~ntklib.models.CNN`, a
    :class:`~ntklib.models.ResNet`, …) at every channel count and seed: the models are
    ``build(dataclasses.replace(spec, channels=c, out_dim=data.out_dim))``.

    Both are trained directly (:func:`train_pair`, MSE, full batch, heavy-ball ``momentum``).
    Returns a tidy frame (channels, seed, parameters, rmse_test, acc_*, loss_*, max gaps) of
    final values, and the runs of the first seed keyed by channel count (for curves).
    """
    if not hasattr(spec, "channels"):
        raise TypeError(f"spec must be an image-model spec with a channels field, got {spec!r}")
    channels = [v.positive_int("channels", int(c)) for c in channels]
    seeds = [v.nonnegative_int("seed", int(s)) for s in seeds]
    runs = {}

    def run(channels: int, seed: int) -> dict:
        net = models.build(dataclasses.replace(spec, channels=channels, out_dim=data.out_dim))
        params0 = net.init(seed, data.input_dim)
        pair = train_pair(net.apply_fn, params0, data, lr=lr, steps=steps, record=record,
                          momentum=momentum)
        if seed == seeds[0]:
            runs[channels] = pair
        return dict(parameters=models.parameter_count(params0), **pair.summary())

    return sweep(run, {"channels": channels, "seed": seeds}, desc="channels"), runs


def parameterization_lr_sweep(data: Dataset, eta0s: Sequence[float], *, width: int, depth: int,
                              steps: int, seed: int = 0, loss: str = "mse",
                              activation: str = "relu", sigma_w2: float = 2.0,
                              sigma_b2: float = 0.1, batch_size: int | None = None) -> pd.DataFrame:
    """Final accuracy vs learning rate in the NTK and the standard parameterization (Fig. S7).

    For each η_0 the NTK-parameterized MLP is trained with rate η_0 and the standard one — same
    function at initialization (:func:`ntklib.models.ntk_to_standard_params`) — with the single
    rate η_0/n (n = ``width``, the paper's normalization, SM §F), for ``steps`` steps. Runs whose
    loss blows up are recorded as diverged (accuracy NaN). Returns a tidy frame with columns
    parameterization, eta0, lr, diverged, acc_train, acc_test, loss_train, loss_test.
    """
    width = v.positive_int("width", width)
    eta0s = [v.positive_float("eta0", float(e)) for e in eta0s]
    if not eta0s:
        raise ValueError("eta0s must contain at least one learning rate")
    make = lambda par: models.mlp(depth, width, activation=activation, sigma_w2=sigma_w2,
                                  sigma_b2=sigma_b2, parameterization=par, out_dim=data.out_dim)
    ntk_net, std_net = make("ntk"), make("standard")
    params_ntk = ntk_net.init(v.nonnegative_int("seed", seed), data.input_dim)
    starts = {"ntk": (ntk_net, params_ntk, 1.0),
              "standard": (std_net, models.ntk_to_standard_params(ntk_net, params_ntk), 1.0 / width)}

    def run(parameterization: str, eta0: float) -> dict:
        net, params, factor = starts[parameterization]
        res = dynamics.gradient_descent(net.apply_fn, params, data.x_train, data.y_train,
                                        lr=eta0 * factor, steps=steps, x_test=data.x_test,
                                        y_test=data.y_test, record=[0, steps], loss=loss,
                                        batch_size=batch_size, allow_divergence=True)
        ok = not res.diverged and res.steps[-1] == steps
        return dict(
            lr=eta0 * factor, diverged=not ok,
            acc_train=float(accuracy(res.f_train[-1], data.y_train)) if ok else np.nan,
            acc_test=float(accuracy(res.f_test[-1], data.y_test)) if ok else np.nan,
            loss_train=float(res.loss_train[-1]) if ok else np.nan,
            loss_test=float(res.loss_test[-1]) if ok else np.nan)

    return sweep(run, {"parameterization": list(starts), "eta0": eta0s}, desc="learning rates")


def curve_gap(frame: pd.DataFrame, metric: str = "acc_test") -> dict[str, float]:
    """Compare the two parameterizations' curves of a :func:`parameterization_lr_sweep` frame.

    Returns the largest |metric_ntk − metric_standard| over the η_0 where both converged
    (``max_gap``), the number of such η_0 (``n_common``), and the largest converged η_0 of each
    (``eta0_max_ntk``, ``eta0_max_standard``).
    """
    table = frame.pivot(index="eta0", columns="parameterization", values=metric)
    both = table.dropna()
    ok = frame[~frame.diverged]
    out = {"max_gap": float(np.max(np.abs(both["ntk"] - both["standard"]))) if len(both) else np.nan,
           "n_common": int(len(both))}
    for par in ("ntk", "standard"):
        sel = ok[ok.parameterization == par]
        out[f"eta0_max_{par}"] = float(sel.eta0.max()) if len(sel) else np.nan
    return out
