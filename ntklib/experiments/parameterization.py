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
``lam_max_0``, ``_T``  λ_max of Θ̂_0 and of Θ̂_T
``eta_lam_max_0``, ``_T``  η·λ_max/(Nk) at θ_0 and θ_T: below 2, GD on the linearized model is
                       stable along the top eigenvector (NaN for per-leaf rates)
``loss_init``, ``loss_final``, ``test_loss_final``  training / test loss
``loss_max``           the largest training loss before any step or at the end (> ``loss_init``:
                       the loss grew on the way)
``diverged``           1.0 if the loss blew up (then the metrics of θ_T are NaN)
``stable``             1.0 if not diverged, η below the net's own η_critical (scalar η only) and
                       ``kernel_change`` < ``max_kernel_change`` — the regime Theorem 2.1 covers
=====================  ======================================================================

:func:`lazy_sweep` trains the seeds of each width together (vmapped) and returns one row per
(width, seed); :func:`fit_metric` fits a power law in width on the stable widths.
:func:`init_outputs` samples f_0(x) over many initializations, layer by layer from the exact
conditional Gaussians; :func:`parameterization_gap` trains the same network in both
parameterizations with the SM §F learning-rate map.
"""

from __future__ import annotations

import dataclasses
import functools
import numbers
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from .. import _seeds
from .. import _validate as v
from .. import dynamics, kernels, models
from ..data import Dataset
from ..models import Model, Params
from ..stats import PowerLaw, fit_power_law_pooled, relative_error
from . import pivot_seeds, sweep, width_seed_grid

__all__ = [
    "LearningRate", "METRICS", "network_factory", "layer_metric_names", "layer_labels",
    "lazy_metrics", "lazy_run", "lazy_sweep", "stable_widths", "fit_metric", "seed_table",
    "init_outputs", "parameterization_gap",
]

#: a learning rate: a number, a per-leaf pytree, or a function (network, params) -> either
LearningRate = Any

METRICS = ("param_distance", "max_abs_dtheta", "output_change", "output_change_train",
           "kernel_change", "nngp_change", "eta_critical_emp", "lr_ratio", "lam_max_0",
           "lam_max_T", "eta_lam_max_0", "eta_lam_max_T", "loss_init", "loss_max", "loss_final",
           "test_loss_final", "diverged", "stable")


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
    """max_i |θ_1,i − θ_0,i| over all trainable variables (on the host, in float64)."""
    return float(max(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))) for a, b in
                     zip(jax.tree_util.tree_leaves(params1), jax.tree_util.tree_leaves(params0))))


@functools.lru_cache(maxsize=None)
def _end_measurements(network: Model) -> Callable:
    """Jitted, vmapped over members: Θ̂ and K̂ at both ends on the training inputs and the
    outputs at both ends on training and test inputs. One compile per network and input shape."""
    ntk = kernels.structured_ntk(network.spec)
    if ntk is None:
        raise TypeError(f"network must have a structured NTK formula (an MLP), got {network.spec!r}")

    def nngp(params, x):
        feats = network.features_fn(params, x)
        return (network.sigma_w2 / feats.shape[-1]) * feats @ feats.T + network.sigma_b2

    def one(p0, p1, x_train, x_test):
        return {
            "ntk0": ntk(network, p0, x_train, x_train), "ntk1": ntk(network, p1, x_train, x_train),
            "nngp0": nngp(p0, x_train), "nngp1": nngp(p1, x_train),
            "f0_train": network.apply_fn(p0, x_train), "f1_train": network.apply_fn(p1, x_train),
            "f0_test": network.apply_fn(p0, x_test), "f1_test": network.apply_fn(p1, x_test),
        }

    return jax.jit(jax.vmap(one, in_axes=(0, 0, None, None)))


def _weight_changes(params_0: Params, params_t: Params) -> dict[str, np.ndarray]:
    """Per member (leading axis) of stacked parameters: :func:`ntklib.models.relative_weight_change`,
    :func:`ntklib.models.parameter_distance` and :func:`_max_abs_change`, all on the host (as
    compiled, vmapped reductions they cost XLA about 0.6 s to compile per width and almost nothing
    to run)."""
    member = lambda tree, m: jax.tree_util.tree_map(lambda a: np.asarray(a)[m], tree)
    n = len(jax.tree_util.tree_leaves(params_0)[0])
    pairs = [(member(params_0, m), member(params_t, m)) for m in range(n)]
    return {"rel": np.stack([models.relative_weight_change(a, b) for a, b in pairs]),
            "distance": np.array([models.parameter_distance(a, b) for a, b in pairs]),
            "max_abs": np.array([_max_abs_change(a, b) for a, b in pairs])}


def _pair_measurements(network: Model) -> Callable:
    """(θ_0, θ_T stacked over members, x_train, x_test) ↦ everything :func:`lazy_metrics` needs:
    :func:`_weight_changes` and :func:`_end_measurements`."""
    ends = _end_measurements(network)
    return lambda p0, p1, x_train, x_test: {**_weight_changes(p0, p1), **ends(p0, p1, x_train, x_test)}


def _rms_change(f1, f0) -> float:
    """RMS over points of the Euclidean norm of the output change."""
    diff = np.asarray(f1, np.float64) - np.asarray(f0, np.float64)
    return float(np.sqrt(np.mean(np.sum(diff ** 2, axis=-1))))


def _half_mse(f, y) -> float:
    return float(0.5 * np.mean((np.asarray(f, np.float64) - np.asarray(y, np.float64)) ** 2))


def _member_metrics(network: Model, measured: dict, m: int, *, lr, n_outputs: int,
                    max_kernel_change: float) -> dict[str, float]:
    """The module table's metrics of member ``m`` of :func:`_pair_measurements`' output."""
    get = lambda key: np.asarray(measured[key][m], np.float64)
    out = {name: float(r) for name, r in zip(layer_metric_names(network.depth), get("rel"))}
    out["param_distance"] = float(get("distance"))
    out["max_abs_dtheta"] = float(get("max_abs"))
    theta_0, theta_t = get("ntk0"), get("ntk1")
    out["kernel_change"] = relative_error(theta_t, theta_0)
    out["nngp_change"] = relative_error(get("nngp1"), get("nngp0"))
    sym = (theta_0 + theta_0.T) / 2
    out["eta_critical_emp"] = kernels.eta_critical(sym)  # full (Nk × Nk) kernel: 2·Nk/(λ_min + λ_max)
    out["lam_max_0"] = float(np.linalg.eigvalsh(sym)[-1])
    out["lam_max_T"] = float(np.linalg.eigvalsh((theta_t + theta_t.T) / 2)[-1])
    scalar = _is_number(lr)
    nan = float("nan")
    out["lr_ratio"] = float(lr) / out["eta_critical_emp"] if scalar else nan
    out["eta_lam_max_0"] = float(lr) * out["lam_max_0"] / n_outputs if scalar else nan
    out["eta_lam_max_T"] = float(lr) * out["lam_max_T"] / n_outputs if scalar else nan
    below = True if not scalar else float(lr) < out["eta_critical_emp"]
    out["stable"] = float(below and out["kernel_change"] < max_kernel_change)
    out["output_change"] = _rms_change(get("f1_test"), get("f0_test"))
    out["output_change_train"] = _rms_change(get("f1_train"), get("f0_train"))
    return out


def lazy_metrics(network: Model, params_0: Params, params_t: Params, x_train, *, lr=None,
                 max_kernel_change: float = 0.5) -> dict[str, float]:
    """Weight and kernel metrics between ``params_0`` and ``params_t`` (see the module table;
    the output changes are measured on ``x_train``).

    ``lr``: the learning rate used, to compare with this network's own η_critical of Θ̂_0
    (a number; a pytree gives ``lr_ratio`` = NaN and ``stable`` judged on the kernel alone).
    """
    models.check_model(network, "network")
    max_kernel_change = v.positive_float("max_kernel_change", max_kernel_change)
    x_train = jnp.asarray(v.finite_array("x_train", x_train, ndim=2))
    stack = dynamics.stack_members
    measured = _pair_measurements(network)(stack([params_0]), stack([params_t]), x_train, x_train)
    k = int(measured["f0_train"].shape[-1])
    return _member_metrics(network, measured, 0, lr=lr, n_outputs=x_train.shape[0] * k,
                           max_kernel_change=max_kernel_change)


def _lazy_members(network: Model, data: Dataset, seeds: Sequence[int], *, lr: LearningRate,
                  steps: int, max_kernel_change: float) -> list[dict[str, float]]:
    """One row of metrics per seed: the networks ``network.init(seed)`` trained together
    (:func:`ntklib.dynamics.step_fn`, vmapped over the members: one compile per width)."""
    params = dynamics.ensemble_params(network, seeds, data.input_dim)
    first = jax.tree_util.tree_map(lambda leaf: np.asarray(leaf)[0], params)  # host view: no compile
    rates = lr(network, first) if callable(lr) else lr
    if _is_number(rates):
        rates = v.positive_float("lr", rates)
        tree = jax.tree_util.tree_map(lambda _: rates, first)
    else:
        try:
            tree = jax.tree_util.tree_map(lambda _, r: v.positive_float("lr (per-leaf)", float(r)),
                                          first, rates)
        except (ValueError, TypeError) as exc:
            raise type(exc)(f"lr must be a positive number or a pytree of positive numbers with "
                            f"the structure of params ({exc})") from None
    x, y = jnp.asarray(data.x_train), jnp.asarray(data.y_train)
    advance = dynamics.step_fn(network.apply_fn, members=True)
    losses = jnp.zeros((len(seeds), steps), jnp.float32)  # the loss before every step
    final, _, losses, bad = advance(params, (), losses, x, y, tree, 0.0, None, 0, steps)
    measured = _pair_measurements(network)(params, final, x, jnp.asarray(data.x_test))
    losses = np.asarray(losses, np.float64)
    bad = np.asarray(bad)
    n_outputs = data.n_train * data.out_dim
    rows = []
    for m in range(len(seeds)):
        out = _member_metrics(network, measured, m, lr=rates, n_outputs=n_outputs,
                              max_kernel_change=max_kernel_change)
        out["loss_init"] = _half_mse(measured["f0_train"][m], data.y_train)
        out["loss_final"] = _half_mse(measured["f1_train"][m], data.y_train)
        out["test_loss_final"] = _half_mse(measured["f1_test"][m], data.y_test)
        out["loss_max"] = float(max(np.max(losses[m]), out["loss_final"]))
        diverged = bad[m] >= 0 or not (out["loss_final"] <= dynamics.DIVERGENCE_LOSS)
        out["diverged"] = float(diverged)
        if diverged:  # the metrics of θ_T are meaningless; keep what θ_0 determines
            keep = {"loss_init", "eta_critical_emp", "lam_max_0", "eta_lam_max_0", "lr_ratio"}
            out = {name: (val if name in keep else float("nan")) for name, val in out.items()}
            out.update(diverged=1.0, stable=0.0)
        rows.append(out)
    return rows


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
    return _lazy_members(network, data, [v.nonnegative_int("seed", seed)], lr=lr,
                         steps=v.positive_int("steps", steps),
                         max_kernel_change=v.positive_float("max_kernel_change", max_kernel_change))[0]


def lazy_sweep(make_network: Callable[[int], Model], data: Dataset, widths: Sequence[int],
               seeds: Sequence[int], *, lr: LearningRate, steps: int, max_kernel_change: float = 0.5,
               desc: str = "training sweep") -> pd.DataFrame:
    """:func:`lazy_run` for every (width, seed): the data of Fig. 1b / S6 as a tidy frame.

    The seeds of one width train together, vmapped (the same iterates as :func:`lazy_run` up to
    float round-off), so each width compiles its training loop and its measurements once.
    ``make_network(width)`` builds the network; a callable ``lr(network, params)`` is called
    once per width with the first seed's θ_0. Columns: width, seed, ``rel_w1`` …, and
    :data:`METRICS`.
    """
    if not callable(make_network):
        raise TypeError(f"make_network must be a function width -> Model, got {type(make_network).__name__}")
    widths, seeds = width_seed_grid(data, widths, seeds, name="lazy_sweep")
    steps = v.positive_int("steps", steps)
    max_kernel_change = v.positive_float("max_kernel_change", max_kernel_change)

    def run(width: int) -> list[dict]:
        net = models.check_model(make_network(width), "make_network")
        rows = _lazy_members(net, data, seeds, lr=lr, steps=steps, max_kernel_change=max_kernel_change)
        return [{"seed": s, **row} for s, row in zip(seeds, rows)]

    return sweep(run, {"width": widths}, desc=desc)


def stable_widths(frame: pd.DataFrame) -> np.ndarray:
    """Widths at which every seed of a :func:`lazy_sweep` frame stayed in the stable regime."""
    if "stable" not in frame:
        raise ValueError("frame has no 'stable' column; pass the frame returned by lazy_sweep")
    ok = frame.groupby("width")["stable"].min()
    return ok.index[ok.to_numpy() >= 1.0].to_numpy()


def fit_metric(frame: pd.DataFrame, metric: str, widths: Sequence[int] | None = None) -> PowerLaw:
    """Power-law fit of ``metric`` against width, restricted to ``widths`` (default:
    :func:`stable_widths`): OLS over every (width, seed) point, with the 95% t-interval of
    :func:`ntklib.stats.fit_power_law_pooled` (it includes the scatter about the line)."""
    if metric not in frame:
        raise ValueError(f"frame has no column {metric!r}; columns: {list(frame.columns)}")
    keep = stable_widths(frame) if widths is None else np.asarray(widths)
    sub = frame[frame["width"].isin(keep)]
    if sub["width"].nunique() < 3:
        raise ValueError(f"need >= 3 widths to fit {metric!r}, have {sorted(sub['width'].unique())}")
    w, values = pivot_seeds(sub, metric)
    return fit_power_law_pooled(w, values)


def seed_table(frame: pd.DataFrame, metric: str, widths: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(widths, values (S, W)) of ``metric``, optionally restricted to ``widths`` (for plots)."""
    sub = frame if widths is None else frame[frame["width"].isin(np.asarray(widths))]
    return pivot_seeds(sub, metric)


# ----------------------------------------------------------------------------- initialization


@functools.lru_cache(maxsize=None)
def _conditional_sampler(spec: models.MLP, n_seeds: int, max_width: int) -> Callable:
    """Jitted (key, x, width) ↦ f_0(x) of ``n_seeds`` MLPs of ``spec`` at any width up to
    ``max_width``, sampled layer by layer (see :func:`init_outputs`). The hidden layers are
    ``max_width`` wide with the units beyond ``width`` masked to zero, so every width shares one
    compiled function."""
    phi = models.activation_fn(spec.activation)
    w_std, b_std = spec.sigma_w2 ** 0.5, spec.sigma_b2 ** 0.5
    n_layers = spec.depth + 1

    @jax.jit
    def sample(key, x, width):
        mask = (jnp.arange(max_width) < width).astype(x.dtype)
        act, fan_in = jnp.broadcast_to(x, (n_seeds,) + x.shape), x.shape[1]  # (S, M, n_0)
        for l in range(n_layers):
            units = max_width if l < n_layers - 1 else spec.out_dim
            # act = R^T Q^T with Q orthonormal (reduced QR of act^T): act @ ω = R^T (Q^T ω) and
            # Q^T ω has i.i.d. N(0, 1) entries, so z below has the law of Q^T ω (masked units of
            # act are zero rows of act^T: they change neither R nor the law)
            _, r = jnp.linalg.qr(jnp.swapaxes(act, 1, 2))  # (S, min(M, n_{l-1}), M)
            z = jax.random.normal(jax.random.fold_in(key, 2 * l), (n_seeds, r.shape[1], units))
            h = (w_std / jnp.sqrt(fan_in)) * jnp.swapaxes(r, 1, 2) @ z
            if spec.sigma_b2 > 0:
                h = h + b_std * jax.random.normal(jax.random.fold_in(key, 2 * l + 1), (n_seeds, 1, units))
            if l < n_layers - 1:
                act, fan_in = phi(h) * mask, width
            else:
                act = h
        return act.reshape(n_seeds, -1)

    return sample


def init_outputs(make_network: Callable[[int], Model], x, widths: Sequence[int], n_seeds: int, *,
                 seed: int = 0) -> dict[int, np.ndarray]:
    """f_0(x) of ``n_seeds`` independently initialized MLPs at each width: {width: (S, M·k)}.

    On M inputs a random Dense layer acts only through M·n numbers: given the previous layer's
    outputs X^{l−1} (M × n_{l−1}), the pre-activations h^l = c·X^{l−1}ω^l + σ_b β^l
    (c = σ_w/√n_{l−1}, ω, β ~ N(0, 1)) are, unit by unit, independent Gaussian vectors with
    covariance c²X^{l−1}X^{l−1ᵀ} + σ_b². Writing X^{l−1} = RᵀQᵀ (reduced QR of its transpose),
    X^{l−1}ω = Rᵀ(Qᵀω) and Qᵀω is an i.i.d. N(0, 1) matrix; so each layer is sampled as
    c·Rᵀz + σ_b β with z of shape min(M, n_{l−1}) × n_l. This is exactly the law of the outputs
    of networks drawn with ``net.init`` (a test compares the two), at a cost of M·n instead of
    n² random numbers per layer. Layer l of the S networks uses the keys fold_in(PRNGKey(s), 2l)
    (s = seed + $NTKLIB_SEED_OFFSET; weights) and 2l + 1 (biases), drawn at the largest width
    (units beyond a network's width are masked), so every width shares one compiled sampler.
    As n → ∞ each column tends to N(0, K(x, x)) (paper eq. 12).
    """
    x = jnp.asarray(v.finite_array("x", x, ndim=2))
    n_seeds = v.positive_int("n_seeds", n_seeds)
    key = _seeds.key("seed", seed)
    nets = {int(w): models.check_model(make_network(v.positive_int("width", int(w))), "make_network")
            for w in widths}
    if not nets:
        raise ValueError("widths must name at least one width")
    for net in nets.values():
        models.check_model(net, "make_network", spec=models.MLP, purpose="layer-by-layer sampling")
    specs = {dataclasses.replace(net.spec, width=1) for net in nets.values()}
    if len(specs) != 1:
        raise ValueError(f"make_network must change only the width, got {sorted(map(repr, specs))}")
    sample = _conditional_sampler(specs.pop(), n_seeds, max(nets))
    return {w: np.asarray(sample(key, x, jnp.int32(w)), np.float64) for w in nets}


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

