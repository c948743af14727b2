"""Introduction: the one-dimensional picture (the neural-tangents cookbook's set-up, with ntklib).

A few noisy samples of a smooth function of one variable (:func:`noisy_samples`); networks of
growing width trained by full-batch gradient descent (:func:`ntklib.dynamics.train_ensemble`:
the seeds of one width in one vmapped loop, one compile per width) next to their
linearizations (:func:`ntklib.dynamics.linear_predictor`: the closed form of eq. 9–11 with each
network's own Θ̂_0), and the two infinite-width predictions over a dense input grid: the NTK-GP
that gradient descent produces (eq. 14–15, :func:`ntklib.dynamics.gp_moments`) and the Bayesian
NNGP posterior (eq. 13, :func:`ntklib.dynamics.nngp_posterior`). :func:`regression_picture`
runs it all and returns a :class:`Picture`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from .. import _validate as v
from .. import dynamics, kernels, models
from ..data import Dataset, rng
from ..models import Model
from . import width_seed_grid
from .linearization import analytic_kernel_fn

__all__ = ["noisy_samples", "Picture", "regression_picture"]


def _interval(name: str, interval) -> tuple[float, float]:
    """(lo, hi) of finite numbers with lo < hi, or an error naming ``name`` and the value."""
    try:
        lo, hi = (float(a) for a in interval)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a pair (lo, hi) of numbers, got {name}={interval!r}") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ValueError(f"{name} must be finite with lo < hi, got {name}={interval!r}")
    return lo, hi


def noisy_samples(n_train: int, *, noise: float, interval: Sequence[float], grid_points: int,
                  grid_interval: Sequence[float], seed: int = 0,
                  target: Callable[[np.ndarray], np.ndarray] = np.sin) -> Dataset:
    """A one-dimensional regression task: ``n_train`` inputs, one drawn uniformly in each of
    ``n_train`` equal cells of ``interval`` (in increasing order: no two points much closer than
    the cells allow), targets y_i = target(x_i) + noise·ε_i with ε_i ~ N(0, 1), both from the
    generator of ``seed`` (:func:`ntklib.data.rng`, shifted by ``$NTKLIB_SEED_OFFSET``); the
    "test" set is the dense grid of ``grid_points`` evenly spaced points of ``grid_interval``
    with the noiseless target. Inputs are the numbers x themselves (n_0 = 1, not normalized):
    a network tells them apart through its biases.

    >>> ds = noisy_samples(5, noise=0.1, interval=(-3, 3), grid_points=7, grid_interval=(-4, 4))
    >>> ds.x_train.shape, ds.y_train.shape, ds.x_test.shape, bool(ds.x_test[-1, 0] == 4.0)
    ((5, 1), (5, 1), (7, 1), True)
    """
    n_train = v.positive_int("n_train", n_train)
    noise = v.positive_float("noise", noise, allow_zero=True)
    lo, hi = _interval("interval", interval)
    grid_lo, grid_hi = _interval("grid_interval", grid_interval)
    grid_points = v.positive_int("grid_points", grid_points)
    if grid_points < 2:
        raise ValueError(f"grid_points must be at least 2, got grid_points={grid_points}")
    if not callable(target):
        raise TypeError(f"target must be a function of an array, got {target!r}")
    gen = rng(seed)
    x = lo + (np.arange(n_train) + gen.uniform(size=n_train)) * (hi - lo) / n_train
    y = np.asarray(target(x), np.float64)
    if y.shape != x.shape or not np.all(np.isfinite(y)):
        raise ValueError(f"target must map the {n_train} inputs to as many finite numbers, "
                         f"got an array of shape {y.shape}")
    y = y + noise * gen.standard_normal(n_train)
    grid = np.linspace(grid_lo, grid_hi, grid_points)
    col = lambda a: np.asarray(a, np.float32)[:, None]
    return Dataset(col(x), col(y), col(grid), col(target(grid)), name="noisy samples")


@dataclass(frozen=True)
class Picture:
    """Networks, their linearizations and the infinite-width predictions on a 1-D grid.

    ``net``/``lin``: outputs of the networks and of their linearizations on ``grid``, shape
    (W, M, T, G) for the ``widths``, the M ``seeds``, the recorded ``steps`` (times t = η·steps)
    and the G grid points; ``loss_train`` (W, M, T): the networks' training loss
    ½·mean (f − y)². ``ntk_mean``/``ntk_sd`` (G,): the NTK-GP (eq. 14–15) after the last
    recorded step, ``ntk_mean_inf``/``ntk_sd_inf`` its t → ∞ limit (eq. 16);
    ``nngp_mean``/``nngp_sd`` (G,): the NNGP posterior (eq. 13).
    ``eta_critical``: 2N/(λ_min + λ_max) of the analytic NTK on the training inputs; ``lr``
    the rate used.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    grid: np.ndarray
    target: np.ndarray
    widths: tuple
    seeds: tuple
    steps: np.ndarray
    times: np.ndarray
    lr: float
    eta_critical: float
    net: np.ndarray
    lin: np.ndarray
    loss_train: np.ndarray
    ntk_mean: np.ndarray
    ntk_sd: np.ndarray
    ntk_mean_inf: np.ndarray
    ntk_sd_inf: np.ndarray
    nngp_mean: np.ndarray
    nngp_sd: np.ndarray

    @property
    def members(self) -> int:
        """M, the number of seeds (networks) per width."""
        return len(self.seeds)

    def _index(self, width: int | None) -> int:
        if width is None:
            return len(self.widths) - 1
        if width not in self.widths:
            raise ValueError(f"width={width!r} is not one of the picture's widths {self.widths}")
        return self.widths.index(width)

    def gap(self) -> np.ndarray:
        """sup over the recorded steps and the grid of |f_t(x) − f^lin_t(x)|, shape (M, W)
        (rows seeds, columns widths: the layout of :func:`ntklib.stats.fit_power_law_pooled`)."""
        return np.max(np.abs(self.net - self.lin), axis=(2, 3)).T

    def final(self, width: int | None = None) -> np.ndarray:
        """The M networks of ``width`` (default: the widest) after the last step, (M, G)."""
        return self.net[self._index(width), :, -1]

    def ensemble_mean(self, width: int | None = None) -> np.ndarray:
        """Mean over the M networks of ``width`` after the last step, (G,)."""
        return self.final(width).mean(axis=0)

    def standard_error(self, width: int | None = None) -> np.ndarray:
        """Monte-Carlo standard error of :meth:`ensemble_mean`, sd/√M (sd with ddof = 1), (G,)."""
        return self.final(width).std(axis=0, ddof=1) / np.sqrt(self.members)

    def band_fraction(self, width: int | None = None) -> float:
        """Fraction of the grid where the ensemble mean of ``width`` lies inside the NTK-GP
        band μ ± 2σ."""
        return float(np.mean(np.abs(self.ensemble_mean(width) - self.ntk_mean)
                             <= 2 * self.ntk_sd))

    def mean_z(self, width: int | None = None) -> np.ndarray:
        """(ensemble mean − NTK-GP mean) / standard error at each grid point, (G,)."""
        return (self.ensemble_mean(width) - self.ntk_mean) / self.standard_error(width)


def regression_picture(network: Model, data: Dataset, *, widths: Sequence[int],
                       seeds: Sequence[int], lr_fraction: float, steps: int, records: int = 12,
                       diag_reg: float = 0.0) -> Picture:
    """Train ``network`` (an MLP; its width replaced by each of ``widths``) from every seed on
    ``data`` (one output; ``data.x_test`` is the grid) by full-batch gradient descent on
    ½·mean (f − y)², next to its linearization, and compute the infinite-width predictions.

    The rate is η = ``lr_fraction`` · η_critical, η_critical = 2N/(λ_min + λ_max) of the
    analytic NTK Θ on the training inputs (the same at every width: NTK parameterization). With
    A = I − ηΘ̂_0/N and g_0 = f_0(X) − Y, each network's linearization after s steps is

        f^lin_s(x) = f_0(x) − Θ̂_0(x, X) Θ̂_0^{-1} (I − A^s) g_0          (eq. 9–11),

    with that network's own empirical Θ̂_0; the NTK-GP after the last step s = ``steps`` has,
    with M_s = Θ(x, X) Θ^{-1} (I − (I − ηΘ/N)^s) and the NNGP kernel K (σ = √diag Σ),

        μ(x) = M_s Y,   Σ = K(x, x) + M_s K M_sᵀ − M_s K(X, x) − K(x, X) M_sᵀ  (eq. 14–15),

    and the NNGP posterior μ(x) = K(x, X) K̃^{-1} Y, σ²(x) = K(x, x) − K(x, X) K̃^{-1} K(X, x)
    with K̃ = K + ``diag_reg``·I (eq. 13); s → ∞ gives eq. 16 (``ntk_mean_inf``). Outputs are recorded at ``records`` log-spaced
    steps (:func:`ntklib.dynamics.log_steps`).

    >>> from ntklib import models
    >>> ds = noisy_samples(4, noise=0.1, interval=(-2, 2), grid_points=9, grid_interval=(-3, 3))
    >>> pic = regression_picture(models.mlp(1, 8, activation="erf"), ds, widths=(16, 64),
    ...                          seeds=(0, 1, 2), lr_fraction=0.5, steps=20, records=3)
    >>> pic.net.shape, pic.gap().shape, pic.ntk_sd.shape
    ((2, 3, 4, 9), (3, 2), (9,))
    """
    models.check_model(network, "network", spec=models.MLP, purpose="regression_picture")
    widths, seeds = width_seed_grid(data, widths, seeds, name="regression_picture")
    if data.out_dim != 1 or network.out_dim != 1:
        raise ValueError(f"regression_picture draws one output: data has out_dim={data.out_dim}, "
                         f"the network out_dim={network.out_dim}")
    if data.input_dim != 1:
        raise ValueError(f"regression_picture draws functions of one input, got data with "
                         f"input_dim={data.input_dim}")
    if len(seeds) < 2:
        raise ValueError(f"regression_picture needs at least two seeds for an ensemble, got "
                         f"seeds={seeds}")
    lr_fraction = v.positive_float("lr_fraction", lr_fraction)
    if lr_fraction >= 1:
        raise ValueError(f"lr_fraction must be below 1 (η < η_critical, Theorem 2.1), got "
                         f"lr_fraction={lr_fraction}")
    steps = v.positive_int("steps", steps)
    records = v.positive_int("records", records)
    diag_reg = v.positive_float("diag_reg", diag_reg, allow_zero=True)
    record = dynamics.log_steps(steps, records)

    kernel = analytic_kernel_fn(network)
    x, y, grid = data.x_train, np.asarray(data.y_train, np.float64), data.x_test
    k_xx, th_xx = kernel(x)
    k_gx, th_gx = kernel(grid, x)
    k_gg = kernel(grid)[0]
    eta_c = kernels.eta_critical(th_xx)
    lr = lr_fraction * eta_c
    ntk_mean, ntk_cov = dynamics.gp_moments(th_xx, th_gx, k_xx, k_gx, k_gg, y, lr=lr, steps=steps)
    inf_mean, inf_cov = dynamics.gp_moments(th_xx, th_gx, k_xx, k_gx, k_gg, y, lr=lr,
                                            steps=np.inf)
    nngp_mean, nngp_cov = dynamics.nngp_posterior(k_xx, k_gx, k_gg, y, diag_reg=diag_reg)
    sd = lambda cov: np.sqrt(np.maximum(np.diag(cov), 0.0))

    net_out, lin_out, losses = [], [], []
    for width in widths:
        net_w = network.replace(width=width)
        ens = dynamics.train_ensemble(net_w, seeds, data, lr=lr, steps=steps, record=record,
                                      x_eval=grid, check_lr=False)  # η < η_critical: checked
        net_out.append(ens.f_eval[..., 0])
        losses.append(ens.loss_train)
        lin_w = []
        for seed in seeds:
            pred = dynamics.linear_predictor(net_w, net_w.init(seed, data.input_dim), x,
                                             data.y_train, grid)
            lin_w.append(pred.predict(ens.steps, lr=lr)[1][..., 0])
        lin_out.append(np.stack(lin_w))
    return Picture(
        x_train=np.asarray(x)[:, 0], y_train=y[:, 0], grid=np.asarray(grid)[:, 0],
        target=np.asarray(data.y_test)[:, 0], widths=tuple(widths), seeds=tuple(seeds),
        steps=ens.steps, times=ens.times, lr=lr, eta_critical=eta_c, net=np.stack(net_out),
        lin=np.stack(lin_out), loss_train=np.stack(losses), ntk_mean=ntk_mean[:, 0],
        ntk_sd=sd(ntk_cov), ntk_mean_inf=inf_mean[:, 0], ntk_sd_inf=sd(inf_cov),
        nngp_mean=nngp_mean[:, 0], nngp_sd=sd(nngp_cov))
