"""Chapter 5 (``beyond_optimizers``) runners: net vs f_lin over widths under momentum,
cross-entropy and minibatches (paper Fig. 4, S2, S3, S4).

:func:`width_pairs`, :func:`logit_deviation`, :func:`separation_time` and
:func:`separation_table`: how the gap between a network and its linearization
(:mod:`ntklib.experiments.pairs`) closes with width (Fig. S4).
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import pandas as pd

from .. import _validate as v
from ..data import Dataset
from . import sweep
from .pairs import PairRun, train_pair

__all__ = ["width_pairs", "logit_deviation", "separation_time", "separation_table"]


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
