"""Chapter 6 (``beyond_architectures``) runners: other architectures and the standard
parameterization (paper Fig. 4, S2, S5 (CNN/WRN panels), S7, S8).

:func:`channel_sweep`: net vs f_lin (closed form, :func:`ntklib.experiments.pairs.closed_form_pair`,
with heavy-ball momentum) for any image model — CNN or ResNet spec — over channel counts;
:func:`parameterization_lr_sweep`, :func:`curve_gap` and :func:`compare_parameterizations`: final
accuracy vs learning rate in both parameterizations (Fig. S7); :func:`own_eta_critical`:
η_critical of a network's own empirical kernel (the standard parameterization's grows ∝ n,
Fig. S8); :func:`kernel_trace_growth`: tr Θ̂_0/N against width in both parameterizations.
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
from .pairs import accuracy, closed_form_pair

__all__ = ["own_eta_critical", "channel_sweep", "parameterization_lr_sweep", "curve_gap",
           "compare_parameterizations", "kernel_trace_growth"]


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

    The network is trained by full-batch (heavy-ball ``momentum``) GD on ½·mean MSE and f_lin
    follows the exact discrete closed form with its own Θ̂_0 (:func:`closed_form_pair`: the
    same outputs as training f_lin, one training loop instead of two). Returns a tidy frame
    (channels, seed, parameters, rmse_test, max_rmse_test, acc_*, loss_*, max gaps) and the
    runs of the first seed keyed by channel count (for curves).
    """
    if not hasattr(spec, "channels"):
        raise TypeError(f"spec must be an image-model spec with a channels field, got {spec!r}")
    channels = [v.positive_int("channels", int(c)) for c in channels]
    seeds = [v.nonnegative_int("seed", int(s)) for s in seeds]
    runs = {}

    def run(channels: int, seed: int) -> dict:
        net = models.build(dataclasses.replace(spec, channels=channels, out_dim=data.out_dim))
        params0 = net.init(seed, data.input_dim)
        pair = closed_form_pair(net, params0, data, lr=lr, steps=steps, record=record,
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


def compare_parameterizations(frame: pd.DataFrame, eta_crit: float, *,
                              metric: str = "acc_test") -> dict[str, float]:
    """Where the two curves of a :func:`parameterization_lr_sweep` frame agree (Fig. S7), with
    η_0 in units of ``eta_crit``: ``best_gap`` = |max_ntk − max_standard| of the metric;
    ``high_gap`` = max |ntk − standard| over η_0 ∈ [η_c/2, 2η_c] (NaN if a run there diverged);
    ``low_gap`` = mean (ntk − standard) over η_0 ≤ η_c/8; ``top_ratio`` = largest converged η_0
    of the standard net over that of the NTK net (:func:`curve_gap`)."""
    eta_crit = v.positive_float("eta_crit", eta_crit)
    table = frame.pivot(index="eta0", columns="parameterization", values=metric)
    high = table[(table.index >= eta_crit / 2) & (table.index <= eta_crit * 2)]
    low = table[table.index <= eta_crit / 8]
    if not len(high) or not len(low):
        raise ValueError(f"the sweep's η_0 grid ({table.index.min():.3g} … {table.index.max():.3g}) "
                         f"must reach below η_c/8 and into [η_c/2, 2η_c] for eta_crit={eta_crit:.3g}")
    gap = curve_gap(frame, metric)
    return {"best_gap": float(abs(table["ntk"].max() - table["standard"].max())),
            "high_gap": float(np.max(np.abs(high["ntk"] - high["standard"]).to_numpy())),
            "low_gap": float(np.mean((low["ntk"] - low["standard"]).to_numpy())),
            "top_ratio": gap["eta0_max_standard"] / gap["eta0_max_ntk"]}


def kernel_trace_growth(data: Dataset, widths: Sequence[int], *, depth: int, seed: int = 0,
                        activation: str = "relu", sigma_w2: float = 1.0,
                        sigma_b2: float = 0.1) -> pd.DataFrame:
    """tr Θ̂_0 / N of the same MLP in the NTK and the standard parameterization (same function
    at initialization, :func:`ntklib.models.ntk_to_standard_params`) at each width: a tidy frame
    with columns width, parameterization, trace. In the NTK parameterization the trace tends to
    a width-independent limit; in SP the hidden and readout contributions grow ∝ n."""
    def run(width: int) -> list[dict]:
        ntk_net = models.mlp(depth, width, activation=activation, sigma_w2=sigma_w2,
                             sigma_b2=sigma_b2, out_dim=data.out_dim)
        params = ntk_net.init(seed, data.input_dim)
        pairs_ = ((ntk_net, params),
                  (ntk_net.replace(parameterization="standard"),
                   models.ntk_to_standard_params(ntk_net, params)))
        return [dict(parameterization=net.parameterization,
                     trace=float(np.trace(kernels.empirical_ntk(net, p, data.x_train))) / data.n_train)
                for net, p in pairs_]

    widths = [v.positive_int("width", int(w)) for w in widths]
    return sweep(run, {"width": widths}, desc="widths")
