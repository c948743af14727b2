"""Chapter 3 runners: a network against its linearization (paper Fig. 3, S5) and an ensemble of
networks against the NTK Gaussian process (Fig. 2).

Book convention throughout (see :mod:`ntklib.dynamics`): the loss is ½·mean over the N·k output
entries, time is t = η·steps, and the linearized model f_lin is evaluated with the closed forms
of eq. 8–11 in their discrete-time version, which equal gradient descent on f_lin step by step.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable, Sequence

import jax
import jax.flatten_util
import numpy as np
import pandas as pd
import scipy.stats

from .. import _validate as v
from .. import data as data_mod
from .. import dynamics, kernels, models
from ..data import Dataset
from ..models import Model, Params
from ..stats import PowerLaw, fit_power_law_pooled, rmse
from . import sweep
from .pairs import PairRun

__all__ = [
    "KernelFn", "analytic_kernel_fn", "flatten_params", "LinearizationRun",
    "net_vs_linearization", "WeightDiscrepancy", "weight_discrepancy", "final_rmse",
    "rmse_vs_width", "continuous_time_error", "EnsembleComparison", "class_pair",
    "ensemble_vs_gp", "discriminating_pair", "fit_by_case", "CommonExponent", "common_exponent",
    "exponent_difference", "weight_slices",
]

KernelFn = Callable[[np.ndarray, np.ndarray | None], tuple[np.ndarray, np.ndarray]]


# ----------------------------------------------------------------------------- helpers


def analytic_kernel_fn(network: Model) -> KernelFn:
    """(x1, x2) ↦ (K, Θ) of the infinite-width ``network``, float64.

    ReLU and erf MLPs use the closed forms of SM §C/§E (:func:`ntklib.kernels.relu_kernels`,
    :func:`ntklib.kernels.erf_kernels`); every other model (tanh, CNN, ResNet) takes
    neural-tangents' stax kernel.
    """
    models.check_model(network, "network")
    closed = {"relu": kernels.relu_kernels, "erf": kernels.erf_kernels}.get(network.activation)
    if closed is not None and isinstance(network.spec, models.MLP):  # the closed forms are the MLP's
        return lambda x1, x2=None: closed(x1, x2, depth=network.depth, sigma_w2=network.sigma_w2,
                                          sigma_b2=network.sigma_b2)
    return lambda x1, x2=None: tuple(np.asarray(a, np.float64)
                                     for a in kernels.analytic_kernels(network, x1, x2))


def flatten_params(params: Params) -> np.ndarray:
    """All trainable scalars of a parameter pytree as one float64 vector (leaf order)."""
    leaves = jax.tree_util.tree_leaves(params)
    return np.concatenate([np.asarray(leaf, np.float64).ravel() for leaf in leaves])


# ----------------------------------------------------------------------------- one network (Fig. 3)


@dataclass(frozen=True)
class LinearizationRun(PairRun):
    """A :class:`~ntklib.experiments.pairs.PairRun` — the network trained by full-batch GD
    (``net``) and its linearization from the discrete closed form with Θ̂_0 (eq. 9–11, ``lin``) at
    the same recorded steps — plus what chapter 3 compares it with.

    Outputs have shape (T, ·, k). ``lin_analytic_test``: f_lin with the analytic Θ in place of Θ̂_0
    (same f_0); ``lin_continuous_*``: the gradient-flow form e^{−Θ̂_0 t/(Nk)} at t = η·steps.
    ``omega_net``/``omega_lin``: final weight changes θ_T − θ_0 of the network and of f_lin (eq. 8),
    flattened. ``theta_train``/``theta_test_train``: Θ̂_0(X, X) and Θ̂_0(x, X). The old flat names
    (``net_test``, ``lin_test``, ``loss_net_train``, ``params0``, …) read the two TrainResults.
    """

    eta_critical: float = float("nan")
    lin_analytic_test: np.ndarray | None = None
    lin_continuous_train: np.ndarray | None = None
    lin_continuous_test: np.ndarray | None = None
    omega_net: np.ndarray | None = None
    omega_lin: np.ndarray | None = None
    theta_train: np.ndarray | None = None
    theta_test_train: np.ndarray | None = None

    lr = property(lambda self: self.net.lr)
    net_train = property(lambda self: self.net.f_train)
    net_test = property(lambda self: self.net.f_test)
    lin_train = property(lambda self: self.lin.f_train)
    lin_test = property(lambda self: self.lin.f_test)
    loss_net_train = property(lambda self: self.net.loss_train)
    loss_net_test = property(lambda self: self.net.loss_test)
    loss_lin_train = property(lambda self: self.lin.loss_train)
    loss_lin_test = property(lambda self: self.lin.loss_test)
    params0 = property(lambda self: self.net.params_init)
    params_final = property(lambda self: self.net.params_final)

    @property
    def rmse_empirical(self) -> np.ndarray:
        """RMSE(f_t, f_lin_t) on the test points at every recorded step, f_lin from Θ̂_0."""
        return rmse(self.net_test, self.lin_test, axis=(1, 2))

    @property
    def rmse_analytic(self) -> np.ndarray:
        """RMSE(f_t, f_lin_t) on the test points with f_lin from the analytic Θ."""
        return rmse(self.net_test, self.lin_analytic_test, axis=(1, 2))

    @property
    def rmse_continuous(self) -> np.ndarray:
        """RMSE(f_t, f_lin_t) on the test points with the continuous-time (gradient-flow) form."""
        return rmse(self.net_test, self.lin_continuous_test, axis=(1, 2))

    @property
    def weight_correlation(self) -> float:
        """Pearson correlation of the individual weight changes of the network and of f_lin."""
        return float(np.corrcoef(self.omega_net, self.omega_lin)[0, 1])


def net_vs_linearization(network: Model, data: Dataset, *, seed: int, lr: float, steps: int,
                         record: Sequence[int] | None = None) -> LinearizationRun:
    """Train ``network`` (init ``seed``) by full-batch GD and evaluate its linearization.

    f_lin needs no training: Θ̂_0, Θ̂_0(x, X) and f_0 give its outputs at every step (eq. 9–11)
    and its final weights (eq. 8, :func:`ntklib.dynamics.linearized_weights`).
    """
    if not isinstance(data, Dataset):
        raise TypeError(f"data must be an ntklib Dataset, got {type(data).__name__}")
    params0 = network.init(v.nonnegative_int("seed", seed), data.input_dim)
    res = dynamics.train(network, params0, data, lr=lr, steps=steps, record=record)
    x, xt, y = data.x_train, data.x_test, np.asarray(data.y_train, np.float64)
    theta = kernels.empirical_ntk(network, params0, x)
    theta_x = kernels.empirical_ntk(network, params0, xt, x)
    f0, f0x = res.f_train[0], res.f_test[0]
    if res.steps[0] != 0:
        f0 = np.asarray(network.apply_fn(params0, x))
        f0x = np.asarray(network.apply_fn(params0, xt))
    empirical = dynamics.LinearPredictor.from_kernels(theta, theta_x, f0, f0x, y)
    lin_tr, lin_te = empirical.predict(res.steps, lr=lr)
    cont_tr, cont_te = empirical.predict(res.steps, lr=lr, continuous=True)
    k_a, th_a = analytic_kernel_fn(network)(x)
    _, th_ax = analytic_kernel_fn(network)(xt, x)
    _, ana_te = dynamics.LinearPredictor.from_kernels(th_a, th_ax, f0, f0x, y).predict(res.steps, lr=lr)
    omega_lin = dynamics.linearized_weights(network.apply_fn, params0, x, y, lr=lr,
                                            steps=int(res.steps[-1]), predictor=empirical)
    omega_net = jax.tree_util.tree_map(lambda a, b: a - b, res.params_final, params0)
    lin_run = dynamics.TrainResult(res.steps, res.times, lin_tr, lin_te,
                                   dynamics.recorded_mse(lin_tr, data.y_train),
                                   dynamics.recorded_mse(lin_te, data.y_test), params0, None, None,
                                   res.lr, 0.0, None)
    return LinearizationRun(
        res, lin_run, np.asarray(data.y_train), np.asarray(data.y_test), "mse",
        eta_critical=kernels.eta_critical(th_a, out_dim=data.out_dim),
        lin_analytic_test=ana_te, lin_continuous_train=cont_tr, lin_continuous_test=cont_te,
        omega_net=flatten_params(omega_net), omega_lin=flatten_params(omega_lin),
        theta_train=np.asarray(theta), theta_test_train=np.asarray(theta_x))



@dataclass(frozen=True)
class WeightDiscrepancy:
    """How the network's weight changes θ_T − θ_0 differ from eq. 8's ω_T, layer by layer.

    Per weight matrix (``layers``, names of :func:`weight_slices`): ``rms_net`` and ``rms_lin``,
    the RMS change of one entry in the network and in f_lin; ``rms_error``, the RMS of the
    difference d = (θ_T − θ_0) − ω_T; ``sign_flipped``, the fraction of entries whose change has
    the opposite sign in the two; ``flipped_if_switched`` / ``flipped_if_not``, the same fraction
    among the entries of ReLU units whose on/off pattern on the training inputs changed between
    θ_0 and θ_T (on at least one input) / did not change — an entry of a hidden layer belongs to
    the unit it feeds, a readout entry to the unit it reads; ``units_switched``, the fraction of
    those units that switched. ``row_space_error``: the fraction of ‖d‖² in the row space of
    J_0 (the directions that move the training outputs at first order, where ω_T lies entirely);
    ``row_space_net``: the same fraction of ‖θ_T − θ_0‖².
    """

    layers: tuple
    rms_net: np.ndarray
    rms_lin: np.ndarray
    rms_error: np.ndarray
    sign_flipped: np.ndarray
    flipped_if_switched: np.ndarray
    flipped_if_not: np.ndarray
    units_switched: np.ndarray
    row_space_error: float
    row_space_net: float

    @property
    def relative_error(self) -> np.ndarray:
        """rms_error / rms_lin per layer: the typical discrepancy of one entry, relative."""
        return self.rms_error / self.rms_lin


def _row_space_fraction(network: Model, params0: Params, x, theta, vector: np.ndarray) -> float:
    """‖P v‖²/‖v‖², P the projector onto the row space of J_0 = ∇_θ f_0(X):
    ‖P v‖² = (J_0 v)ᵀ Θ̂_0⁻¹ (J_0 v), with J_0 v one Jacobian-vector product."""
    flat, unravel = jax.flatten_util.ravel_pytree(params0)
    tangent = unravel(jax.numpy.asarray(vector, flat.dtype))
    _, jv = jax.jvp(lambda p: network.apply_fn(p, x), (params0,), (tangent,))
    jv = np.asarray(jv, np.float64).reshape(-1)
    theta = np.asarray(theta, np.float64)
    return float(jv @ np.linalg.solve(theta, jv) / np.sum(np.asarray(vector, np.float64) ** 2))


def weight_discrepancy(network: Model, data: Dataset, run: "LinearizationRun") -> WeightDiscrepancy:
    """Measure where the network's weight changes leave eq. 8's prediction (``run`` from
    :func:`net_vs_linearization` of this ReLU MLP on ``data``): see :class:`WeightDiscrepancy`."""
    spec = models.check_model(network, "network", spec=models.MLP,
                              purpose="ReLU on/off patterns").spec
    if spec.activation != "relu":
        raise ValueError(f"on/off patterns need a ReLU network, got activation={spec.activation!r}")
    if not isinstance(run, LinearizationRun) or run.omega_net is None:
        raise TypeError(f"run must be a LinearizationRun from net_vs_linearization, got {type(run).__name__}")
    x = np.asarray(data.x_train)
    _, acts0 = models.forward_features(network, run.params0, x)
    _, actsT = models.forward_features(network, run.params_final, x)
    switched = [np.any((np.asarray(a) > 0) != (np.asarray(b) > 0), axis=0)  # (n_l,) per layer
                for a, b in zip(acts0[1:], actsT[1:])]
    net, lin, diff = run.omega_net, run.omega_lin, run.omega_net - run.omega_lin
    slices = weight_slices(run.params0)
    shapes = [np.shape(w) for w, _ in models.dense_layers(run.params0)]
    out = {k: [] for k in ("rms_net", "rms_lin", "rms_error", "sign_flipped", "flipped_if_switched",
                           "flipped_if_not", "units_switched")}
    for l, ((_, sl), shape) in enumerate(zip(slices, shapes)):
        a, b = net[sl].reshape(shape), lin[sl].reshape(shape)
        flipped = np.sign(a) != np.sign(b)
        last = l == len(slices) - 1
        unit = switched[l - 1][:, None] if last else switched[l][None, :]  # broadcast to shape
        unit = np.broadcast_to(unit, shape)
        out["rms_net"].append(np.sqrt(np.mean(a ** 2)))
        out["rms_lin"].append(np.sqrt(np.mean(b ** 2)))
        out["rms_error"].append(np.sqrt(np.mean((a - b) ** 2)))
        out["sign_flipped"].append(np.mean(flipped))
        out["flipped_if_switched"].append(np.mean(flipped[unit]) if unit.any() else np.nan)
        out["flipped_if_not"].append(np.mean(flipped[~unit]) if (~unit).any() else np.nan)
        out["units_switched"].append(np.mean(switched[l - 1] if last else switched[l]))
    return WeightDiscrepancy(
        layers=tuple(name for name, _ in slices), **{k: np.array(v) for k, v in out.items()},
        row_space_error=_row_space_fraction(network, run.params0, x, run.theta_train, diff),
        row_space_net=_row_space_fraction(network, run.params0, x, run.theta_train, net))


# ----------------------------------------------------------------------------- width sweeps (Fig. S5)


def final_rmse(network: Model, data: Dataset, *, seeds: Sequence[int], lr: float,
               steps: int, analytic: tuple[np.ndarray, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Test RMSE(f_T, f_lin_T) after ``steps`` of GD for every seed (members trained vmapped).

    Returns {"rmse_empirical": (S,), "rmse_analytic": (S,)}: f_lin from each member's own Θ̂_0,
    and from the analytic Θ (``analytic`` = (Θ(X, X), Θ(x, X)) if already computed; then the
    caller is trusted to have checked ``lr`` against η_critical).
    """
    seeds = [v.nonnegative_int("seed", s) for s in seeds]
    ens = dynamics.train_ensemble(network, seeds, data, lr=lr, steps=steps, record=[0, steps],
                                  check_lr=analytic is None)
    x, xt, y = data.x_train, data.x_test, np.asarray(data.y_train, np.float64)
    n = x.shape[0]
    if analytic is None:
        kern = analytic_kernel_fn(network)
        analytic = (kern(x)[1], kern(xt, x)[1])
    both = np.concatenate([x, xt])
    emp, ana = [], []
    analytic_lin = None
    for m in range(len(seeds)):
        params0 = network.init(seeds[m], data.input_dim)  # member m of train_ensemble's θ_0
        f0, f0x = ens.f_train[m, 0], ens.f_eval[m, 0]
        theta_all = kernels.empirical_ntk(network, params0, both, x)  # one kernel call: (N + M, N)
        _, lin = dynamics.LinearPredictor.from_kernels(theta_all[:n], theta_all[n:], f0, f0x, y
                                                       ).predict(steps, lr=lr)
        if analytic_lin is None:  # the analytic Θ is the same for every member: decompose it once
            analytic_lin = dynamics.LinearPredictor.from_kernels(analytic[0], analytic[1], f0, f0x, y)
        _, lin_a = dataclasses.replace(analytic_lin, f0_train=np.asarray(f0, np.float64),
                                       f0_test=np.asarray(f0x, np.float64)).predict(steps, lr=lr)
        emp.append(rmse(ens.f_eval[m, -1], lin))
        ana.append(rmse(ens.f_eval[m, -1], lin_a))
    return {"rmse_empirical": np.array(emp), "rmse_analytic": np.array(ana)}


def rmse_vs_width(widths: Sequence[int], cases: Sequence[dict], *, seeds: Sequence[int], steps: int,
                  lr_fraction: float = 0.5, n_test: int = 128, activation: str = "relu",
                  sigma_w2: float = 2.0, sigma_b2: float = 0.1, data_seed: int = 0) -> pd.DataFrame:
    """Final test RMSE(net, f_lin) for every width and every case (paper Fig. S5).

    Each case is a dict with ``depth`` and ``n_train`` (binary digits, ±1 targets). The learning
    rate is ``lr_fraction``·η_critical of the case's analytic NTK (width-independent), the same
    for every width; all runs stop after ``steps``. Returns a tidy frame with columns depth,
    n_train, width, seed, lr, rmse_empirical, rmse_analytic.
    """
    widths = [v.positive_int("width", int(w)) for w in widths]
    steps = v.positive_int("steps", steps)
    lr_fraction = v.positive_float("lr_fraction", lr_fraction)
    if lr_fraction >= 1:
        raise ValueError(f"lr_fraction must be < 1 (a fraction of η_critical), got {lr_fraction}")
    if not cases:
        raise ValueError("cases must name at least one (depth, n_train)")
    prepared = {}

    def run(case: int, width: int) -> list[dict]:
        if case not in prepared:  # data, analytic kernels and rate of a case: once per case
            depth = v.positive_int("depth", cases[case]["depth"])
            n_train = v.positive_int("n_train", cases[case]["n_train"])
            ds = data_mod.digits(n_train, n_test, binary=True, seed=data_seed)
            kern = analytic_kernel_fn(models.mlp(depth, 1, activation=activation, sigma_w2=sigma_w2,
                                                 sigma_b2=sigma_b2))
            theta, theta_x = kern(ds.x_train)[1], kern(ds.x_test, ds.x_train)[1]
            prepared[case] = (depth, n_train, ds, theta, theta_x, lr_fraction * kernels.eta_critical(theta))
        depth, n_train, ds, theta, theta_x, lr = prepared[case]
        net = models.mlp(depth, width, activation=activation, sigma_w2=sigma_w2, sigma_b2=sigma_b2)
        out = final_rmse(net, ds, seeds=seeds, lr=lr, steps=steps, analytic=(theta, theta_x))
        return [dict(depth=depth, n_train=n_train, seed=int(seed), lr=lr,
                     rmse_empirical=float(out["rmse_empirical"][m]),
                     rmse_analytic=float(out["rmse_analytic"][m])) for m, seed in enumerate(seeds)]

    frame = sweep(run, {"case": list(range(len(cases))), "width": widths}, desc="cases × widths")
    return frame[["depth", "n_train", "width", "seed", "lr", "rmse_empirical", "rmse_analytic"]]


# ----------------------------------------------------------------------------- continuous vs discrete


def continuous_time_error(theta_train, theta_test_train, f0_train, f0_test, y_train, *,
                          lr_fractions: Sequence[float], eta_critical: float, steps) -> np.ndarray:
    """max over recorded steps and test points of |f_lin(discrete) − f_lin(continuous)|, per η.

    For each η = fraction·η_critical compares the exact GD iterates (I − ηΘ/(Nk))^s with the
    gradient-flow form e^{−ηΘs/(Nk)} at the same time t = η·s. Returns shape (len(lr_fractions),).
    """
    eta_critical = v.positive_float("eta_critical", eta_critical)
    predictor = dynamics.LinearPredictor.from_kernels(theta_train, theta_test_train, f0_train,
                                                      f0_test, y_train)  # one decomposition
    out = []
    for frac in lr_fractions:
        lr = v.positive_float("lr_fraction", frac) * eta_critical
        _, disc = predictor.predict(steps, lr=lr)
        _, cont = predictor.predict(steps, lr=lr, continuous=True)
        out.append(float(np.max(np.abs(disc - cont))))
    return np.array(out)


# ----------------------------------------------------------------------------- ensembles (Fig. 2)


@dataclass(frozen=True)
class EnsembleComparison:
    """Ensemble statistics and Gaussian-process predictions on the line x(α) (paper Fig. 2).

    ``mean``/``sd``: ensemble mean and standard deviation (ddof = 1), shape (T, A);
    ``gp_mean``/``gp_sd``: NTK-GP of eq. 14–15 at the same times; ``gp_mean_inf``/``gp_sd_inf``:
    eq. 16 (t = ∞); ``readout_mean``/``readout_sd``: the GP of readout-only training at the same
    times (SM §D: Θ → K, variance with e^{−2ηKt}); ``nngp_mean``/``nngp_sd``: exact NNGP posterior
    (eq. 13), the readout-only limit t → ∞; ``outputs``: the M members' outputs (M, T, A).
    """

    alphas: np.ndarray
    steps: np.ndarray
    times: np.ndarray
    lr: float
    eta_critical: float
    outputs: np.ndarray
    mean: np.ndarray
    sd: np.ndarray
    gp_mean: np.ndarray
    gp_sd: np.ndarray
    gp_mean_inf: np.ndarray
    gp_sd_inf: np.ndarray
    readout_mean: np.ndarray
    readout_sd: np.ndarray
    nngp_mean: np.ndarray
    nngp_sd: np.ndarray
    loss_train: np.ndarray

    @property
    def members(self) -> int:
        return int(self.outputs.shape[0])

    @property
    def standard_error(self) -> np.ndarray:
        """Monte-Carlo standard error of the ensemble mean, sd/√M, shape (T, A)."""
        return self.sd / np.sqrt(self.members)

    @property
    def mean_z(self) -> np.ndarray:
        """(ensemble mean − μ_t) / (sd/√M): the mean's error in Monte-Carlo standard errors, (T, A)."""
        return (self.mean - self.gp_mean) / self.standard_error

    @property
    def sd_mc_error(self) -> float:
        """Relative Monte-Carlo error of an ensemble standard deviation, 1/√(2(M − 1))
        (Gaussian outputs)."""
        return float(1.0 / np.sqrt(2.0 * (self.members - 1)))

    @property
    def sd_z(self) -> np.ndarray:
        """(ensemble sd / NTK-GP sd − 1) / :attr:`sd_mc_error`: the standard deviation's error in
        Monte-Carlo standard errors, (T, A); NaN where the GP sd is 0."""
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(self.gp_sd > 0, self.sd / self.gp_sd, np.nan)
        return (ratio - 1.0) / self.sd_mc_error

    def far_from_data(self, sd_floor: float, distance: float) -> np.ndarray:
        """:meth:`away_from_data` and, in addition, farther than ``distance`` in α from both
        training points (α = 0 and α = 1), shape (T, A)."""
        distance = v.positive_float("distance", distance)
        far = np.minimum(np.abs(self.alphas), np.abs(self.alphas - 1.0)) > distance
        return self.away_from_data(sd_floor) & far[None, :]

    def away_from_data(self, sd_floor: float) -> np.ndarray:
        """Mask (T, A) of the points where the NTK-GP sd is at least ``sd_floor``.

        Near the training points both the GP sd and the ensemble sd tend to 0 as training
        proceeds, and ratios or z-scores there compare two small numbers.
        """
        return self.gp_sd >= v.positive_float("sd_floor", sd_floor)

    def max_abs_z(self, reference, sd_floor: float, times=None) -> float:
        """max |ensemble mean − reference| / (sd/√M) over the masked points (and ``times`` indices)."""
        z = np.abs(self.mean - np.broadcast_to(reference, self.mean.shape)) / self.standard_error
        mask = self.away_from_data(sd_floor)
        rows = range(len(self.steps)) if times is None else times
        return float(max(np.max(z[t][mask[t]]) for t in rows))

    def max_sd_ratio_error(self, sd_floor: float) -> float:
        """max |ensemble sd / NTK-GP sd − 1| over the masked points."""
        mask = self.away_from_data(sd_floor)
        return float(np.max(np.abs(self.sd / np.where(mask, self.gp_sd, 1.0) - 1)[mask]))


def class_pair(data: Dataset) -> tuple[int, int]:
    """Indices of the first training point with target +1 and the first with target −1."""
    y = np.asarray(data.y_train)[:, 0]
    pos, neg = np.flatnonzero(y > 0), np.flatnonzero(y < 0)
    if pos.size == 0 or neg.size == 0:
        raise ValueError("the training set needs points of both classes (targets +1 and −1)")
    return int(pos[0]), int(neg[0])


def ensemble_vs_gp(network: Model, data: Dataset, *, seeds: Sequence[int], lr: float,
                   record: Sequence[int], alphas, pair: tuple[int, int] | None = None,
                   member_batch: int | None = None) -> EnsembleComparison:
    """Train one network per seed (vmapped) and compare the ensemble on x(α) = αx⁽¹⁾ + (1−α)x⁽²⁾
    with the NTK-GP (eq. 14–15, discrete time), its t = ∞ limit (eq. 16) and the NNGP posterior
    (eq. 13), all from the closed-form analytic kernels.
    """
    alphas = v.finite_array("alphas", alphas, ndim=1).astype(np.float64)
    record = np.asarray(record, dtype=int)
    i, j = pair if pair is not None else class_pair(data)
    x_line = data_mod.interpolate(data.x_train[i], data.x_train[j], alphas)
    ens = dynamics.train_ensemble(network, seeds, data, lr=lr, steps=int(record.max()), record=record,
                                  x_eval=x_line, member_batch=member_batch)
    outputs = ens.f_eval[..., 0]  # (M, T, A)
    kern = analytic_kernel_fn(network)
    k_xx, th_xx = kern(data.x_train)
    k_sx, th_sx = kern(x_line, data.x_train)
    k_ss = kern(x_line)[0]
    y = np.asarray(data.y_train, np.float64)
    mean_t, cov_t = dynamics.gp_moments(th_xx, th_sx, k_xx, k_sx, k_ss, y, lr=lr, steps=ens.steps)
    mean_inf, cov_inf = dynamics.gp_moments(th_xx, th_sx, k_xx, k_sx, k_ss, y, lr=lr, steps=np.inf)
    ro_mean, ro_cov = dynamics.gp_moments(k_xx, k_sx, k_xx, k_sx, k_ss, y, lr=lr, steps=ens.steps)
    nngp_mean, nngp_cov = dynamics.nngp_posterior(k_xx, k_sx, k_ss, y)
    sd = lambda cov: np.sqrt(np.maximum(np.diagonal(cov, axis1=-2, axis2=-1), 0.0))
    return EnsembleComparison(
        alphas=alphas, steps=ens.steps, times=ens.times, lr=lr,
        eta_critical=kernels.eta_critical(th_xx), outputs=outputs,
        mean=outputs.mean(axis=0), sd=outputs.std(axis=0, ddof=1),
        gp_mean=mean_t[..., 0], gp_sd=sd(cov_t), gp_mean_inf=mean_inf[:, 0], gp_sd_inf=sd(cov_inf),
        readout_mean=ro_mean[..., 0], readout_sd=sd(ro_cov), nngp_mean=nngp_mean[:, 0], nngp_sd=sd(nngp_cov), loss_train=ens.loss_train)


def discriminating_pair(network: Model, data: Dataset, alphas) -> tuple[int, int]:
    """The training pair (x⁽¹⁾ with target +1, x⁽²⁾ with target −1) whose line x(α) best separates
    the two t = ∞ predictions: it maximizes max_α |μ_∞(x) − μ_NNGP(x)| / σ_∞(x) (eq. 16 vs eq. 13).

    Uses the analytic kernels only (no training), so choosing the line cannot favour either theory.
    """
    alphas = v.finite_array("alphas", alphas, ndim=1).astype(np.float64)
    kern = analytic_kernel_fn(network)
    x = data.x_train
    y = np.asarray(data.y_train, np.float64)[:, 0]
    pos, neg = np.flatnonzero(y > 0), np.flatnonzero(y < 0)
    if pos.size == 0 or neg.size == 0:
        raise ValueError("the training set needs points of both classes (targets +1 and −1)")
    k_xx, th_xx = kern(x)
    th_inv, k_inv = np.linalg.inv(th_xx), np.linalg.inv(k_xx)
    best, pair = -np.inf, (int(pos[0]), int(neg[0]))
    for i in pos:
        for j in neg:
            line = data_mod.interpolate(x[i], x[j], alphas)
            k_sx, th_sx = kern(line, x)
            k_ss = np.diag(kern(line)[0])
            m = th_sx @ th_inv
            gap = (m - k_sx @ k_inv) @ y
            var = k_ss + np.einsum("ij,jk,ik->i", m, k_xx, m) - 2 * np.einsum("ij,ij->i", m, k_sx)
            score = float(np.max(np.abs(gap) / np.sqrt(np.maximum(var, 1e-12))))
            if score > best:
                best, pair = score, (int(i), int(j))
    return pair


def fit_by_case(frame: pd.DataFrame, metric: str = "rmse_empirical") -> dict:
    """Power law ``metric`` ∝ width^p for every (depth, n_train) of a :func:`rmse_vs_width` frame.

    Returns {(depth, n_train): (widths, values (S, W), PowerLaw)}: least squares over all
    (width, seed) points of the case, with the 95% t-interval of the slope
    (:func:`ntklib.stats.fit_power_law_pooled`).
    """
    from . import pivot_seeds

    out = {}
    for (depth, n_train), group in frame.groupby(["depth", "n_train"]):
        widths, values = pivot_seeds(group, metric)
        out[(int(depth), int(n_train))] = (widths, values, fit_power_law_pooled(widths, values))
    return out


@dataclass(frozen=True)
class CommonExponent:
    """One exponent shared by several cases, each with its own prefactor (see :func:`common_exponent`).

    ``exponent`` ± ``stderr``, 95% interval [``ci_low``, ``ci_high``]; ``prefactors``
    {case: c_case}; ``dof`` residual degrees of freedom.
    """

    exponent: float
    stderr: float
    ci_low: float
    ci_high: float
    prefactors: dict
    dof: int


def common_exponent(frame: pd.DataFrame, metric: str = "rmse_empirical") -> CommonExponent:
    """Fit log metric = log c_case + p·log width to every (width, seed) point of every
    (depth, n_train) case of a :func:`rmse_vs_width` frame: one slope p for all cases, one
    intercept per case, least squares; the 95% interval is p ± t_{0.975, dof}·se with the residual
    variance pooled over all points.

    >>> rows = [dict(depth=d, n_train=8, width=w, seed=s, rmse_empirical=c * w ** -0.5 * (1 + 0.1 * s))
    ...         for d, c in ((1, 1.0), (2, 3.0)) for w in (16, 32, 64) for s in (0, 1)]
    >>> fit = common_exponent(pd.DataFrame(rows))
    >>> round(fit.exponent, 6), fit.dof, round(fit.prefactors[(2, 8)] / fit.prefactors[(1, 8)], 6)
    (-0.5, 9, 3.0)
    """
    if metric not in frame:
        raise ValueError(f"frame has no column {metric!r}; columns: {list(frame.columns)}")
    values = frame[metric].to_numpy(np.float64)
    widths = frame["width"].to_numpy(np.float64)
    if np.any(~np.isfinite(values) | (values <= 0)) or np.any(widths <= 0):
        raise ValueError(f"{metric} and width must be > 0 and finite for a log-log fit")
    cases = sorted({(int(d), int(n)) for d, n in zip(frame["depth"], frame["n_train"])})
    design = np.zeros((len(frame), 1 + len(cases)))
    design[:, 0] = np.log(widths)
    for j, (d, n) in enumerate(cases):
        design[:, 1 + j] = (frame["depth"].to_numpy() == d) & (frame["n_train"].to_numpy() == n)
    dof = len(frame) - design.shape[1]
    if dof < 1 or np.linalg.matrix_rank(design) < design.shape[1]:
        raise ValueError("a common exponent needs at least two widths per case and one more point "
                         f"than parameters; got {len(frame)} points for {len(cases)} cases")
    logy = np.log(values)
    coef, *_ = np.linalg.lstsq(design, logy, rcond=None)
    resid = logy - design @ coef
    cov = np.sum(resid ** 2) / dof * np.linalg.inv(design.T @ design)
    se = float(np.sqrt(cov[0, 0]))
    half = float(scipy.stats.t.ppf(0.975, dof)) * se
    return CommonExponent(float(coef[0]), se, float(coef[0]) - half, float(coef[0]) + half,
                          {case: float(np.exp(c)) for case, c in zip(cases, coef[1:])}, int(dof))


def exponent_difference(case_a: tuple, case_b: tuple) -> tuple[float, float, float]:
    """p_a − p_b and its 95% interval for two entries (widths, values, PowerLaw) of
    :func:`fit_by_case` (independent runs): standard error √(se_a² + se_b²), t-quantile with the
    two fits' residual degrees of freedom added (S·W − 2 each). Returns (difference, low, high)."""
    (_, va, fa), (_, vb, fb) = case_a, case_b
    for fit in (fa, fb):
        if not isinstance(fit, PowerLaw):
            raise TypeError(f"expected fit_by_case entries (widths, values, PowerLaw), got {type(fit).__name__}")
    dof = np.size(va) + np.size(vb) - 4
    if dof < 1:
        raise ValueError(f"the two fits have {dof} residual degrees of freedom; need >= 1")
    diff = fa.exponent - fb.exponent
    half = float(scipy.stats.t.ppf(0.975, dof)) * float(np.hypot(fa.stderr, fb.stderr))
    return float(diff), float(diff - half), float(diff + half)


def weight_slices(params: Params) -> list[tuple[str, slice]]:
    """Name and position, in :func:`flatten_params` order, of every Dense layer's weight matrix:
    [("W1 (input)", slice), ("W2", slice), ..., ("W{L+1} (readout)", slice)]."""
    dense = models.dense_layers(params)
    ids = {id(w): l for l, (w, _) in enumerate(dense)}
    out, start = [], 0
    for leaf in jax.tree_util.tree_leaves(params):
        size = int(np.size(leaf))
        if id(leaf) in ids:
            out.append((f"W{ids[id(leaf)] + 1}", slice(start, start + size)))
        start += size
    out[0] = (out[0][0] + " (input)", out[0][1])
    out[-1] = (out[-1][0] + " (readout)", out[-1][1])
    return out
