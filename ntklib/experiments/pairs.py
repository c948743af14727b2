"""A network and its linearization trained side by side, shared by chapters 5 and 6 (paper SM §B).

* :func:`train_pair` trains a network and its linearization f_lin (paper eq. 5, built with
  :func:`ntklib.models.linearize`) *directly*, with identical optimizer settings: heavy-ball
  momentum, cross-entropy, minibatches, any model (MLP, CNN, ResNet, standard parameterization);
  :func:`closed_form_pair` takes f_lin from the exact discrete closed form instead (MSE, full
  batch, plain or heavy-ball GD: :class:`ntklib.dynamics.LinearPredictor`).
* :func:`linearized_ode` integrates the function-space ODE of f_lin (SM eq. S5–S11) with
  neural-tangents' ``predict.gradient_descent`` under *the same* loss function the training uses,
  so that ODE time and training time agree (t = η·steps; √η·steps with momentum).

Loss conventions (:mod:`ntklib.dynamics`): "mse" is ½·mean over all N·k entries, "cross_entropy"
is the softmax cross-entropy averaged over the N examples (summed over the k classes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import jax.numpy as jnp
import numpy as np

from .. import _validate as v
from .. import dynamics, kernels, models
from ..data import Dataset
from ..dynamics import TrainResult
from ..models import Params
from ..stats import rmse

nt = models.nt

__all__ = ["accuracy", "PairRun", "train_pair", "closed_form_pair", "linearized_ode", "ode_for_pair"]


def accuracy(f, y) -> np.ndarray:
    """Fraction of examples classified correctly; ``f`` of shape (..., N, k), ``y`` (N, k).

    k > 1: argmax of the outputs equals argmax of the (one-hot) targets; k = 1: the sign of the
    output equals the sign of the ±1 target. Leading axes (e.g. time) are kept.
    """
    f = np.asarray(f)
    y = v.finite_array("y", y, ndim=2)
    if f.shape[-2:] != y.shape:
        raise ValueError(f"f must end with the target shape {y.shape}, got {f.shape}")
    if y.shape[1] == 1:
        return np.mean(np.sign(f[..., 0]) == np.sign(y[:, 0]), axis=-1)
    return np.mean(np.argmax(f, axis=-1) == np.argmax(y, axis=-1), axis=-1)


@dataclass(frozen=True)
class PairRun:
    """A network and its linearization trained with the same optimizer from the same θ_0.

    ``net`` and ``lin`` are the two :class:`~ntklib.dynamics.TrainResult` (same recorded steps,
    same minibatch sequence); ``times`` is η·steps (√η·steps with momentum, SM §B.1).
    """

    net: TrainResult
    lin: TrainResult
    y_train: np.ndarray
    y_test: np.ndarray
    loss: str

    @property
    def steps(self) -> np.ndarray:
        return self.net.steps

    @property
    def times(self) -> np.ndarray:
        return self.net.times

    def accuracy(self, model: str, split: str) -> np.ndarray:
        """Accuracy over time, shape (T,), of ``model`` ("net"/"lin") on ``split`` ("train"/"test")."""
        v.choice("model", model, ("net", "lin"))
        v.choice("split", split, ("train", "test"))
        res = getattr(self, model)
        return accuracy(getattr(res, f"f_{split}"), getattr(self, f"y_{split}"))

    def output_rmse(self, split: str = "test") -> np.ndarray:
        """RMSE(f_t, f_lin_t) over all outputs of ``split`` at every recorded step, shape (T,)."""
        v.choice("split", split, ("train", "test"))
        return rmse(getattr(self.net, f"f_{split}"), getattr(self.lin, f"f_{split}"), axis=(1, 2))

    def max_loss_gap(self, split: str = "test", *, relative: bool = True) -> float:
        """max_t |L_net(t) − L_lin(t)|, divided by L(0) if ``relative`` (same at t = 0 for both)."""
        v.choice("split", split, ("train", "test"))
        a = getattr(self.net, f"loss_{split}")
        b = getattr(self.lin, f"loss_{split}")
        gap = float(np.max(np.abs(a - b)))
        return gap / float(a[0]) if relative else gap

    def max_accuracy_gap(self, split: str = "test") -> float:
        """max_t |accuracy_net(t) − accuracy_lin(t)| on ``split``."""
        return float(np.max(np.abs(self.accuracy("net", split) - self.accuracy("lin", split))))

    def summary(self) -> dict[str, float]:
        """Final accuracies, losses and test-output RMSE, the network's training loss relative
        to its initial one (``loss_net_train_ratio``), and the largest gaps along training
        (``max_*``: sup over the recorded steps)."""
        out = {}
        for model in ("net", "lin"):
            res = getattr(self, model)
            for split in ("train", "test"):
                out[f"acc_{model}_{split}"] = float(self.accuracy(model, split)[-1])
                out[f"loss_{model}_{split}"] = float(getattr(res, f"loss_{split}")[-1])
        out["loss_net_train_ratio"] = float(self.net.loss_train[-1] / self.net.loss_train[0])
        rmse_t = self.output_rmse("test")
        out["rmse_test"] = float(rmse_t[-1])
        out["max_rmse_test"] = float(np.max(rmse_t))
        out["max_loss_gap_test"] = self.max_loss_gap("test")
        out["max_acc_gap_test"] = self.max_accuracy_gap("test")
        return out


def train_pair(apply_fn: Callable, params0: Params, data: Dataset, *, lr, steps: int,
               record: Sequence[int] | None = None, momentum: float = 0.0, loss: str = "mse",
               batch_size: int | None = None, batch_seed: int = 0) -> PairRun:
    """Train f(θ, ·) = ``apply_fn`` and f_lin(θ, ·) = f(θ_0, ·) + ∇f(θ_0, ·)(θ − θ_0) (eq. 5)
    with :func:`ntklib.dynamics.gradient_descent`, same ``lr``, ``momentum``, ``loss`` and the
    same minibatches (``batch_size``, ``batch_seed``), recording both at the same steps.
    """
    if not isinstance(data, Dataset):
        raise TypeError(f"data must be an ntklib Dataset, got {type(data).__name__}")
    kwargs = dict(lr=lr, steps=steps, x_test=data.x_test, y_test=data.y_test, record=record,
                  momentum=momentum, loss=loss, batch_size=batch_size, batch_seed=batch_seed)
    net = dynamics.gradient_descent(apply_fn, params0, data.x_train, data.y_train, **kwargs)
    lin = dynamics.gradient_descent(models.linearize(apply_fn, params0), params0, data.x_train,
                                    data.y_train, **kwargs)
    return PairRun(net, lin, np.asarray(data.y_train), np.asarray(data.y_test), loss)


def closed_form_pair(network: models.Model, params0: Params, data: Dataset, *, lr: float,
                     steps: int, record: Sequence[int] | None = None,
                     momentum: float = 0.0) -> PairRun:
    """Full-batch GD (½·mean MSE; heavy ball with ``momentum`` β > 0) of any model — an MLP in
    either parameterization, a CNN, a ResNet — and its linearization from the exact discrete
    closed form (eq. 9–11; for heavy ball the per-mode recurrence of
    :func:`ntklib.dynamics.residual_filter`) with the network's own empirical Θ̂_0: the same
    outputs as training f_lin step by step (tested to 1e-9 in float64) without a second training
    loop (paper Fig. 3; in the standard parameterization, Fig. S8, where Θ̂_0 grows ∝ n and η
    must shrink as η_0/n).
    """
    models.check_model(network, "network")
    if not isinstance(data, Dataset):
        raise TypeError(f"data must be an ntklib Dataset, got {type(data).__name__}")
    lr = v.positive_float("lr", lr)
    net = dynamics.gradient_descent(network.apply_fn, params0, data.x_train, data.y_train, lr=lr,
                                    steps=steps, x_test=data.x_test, y_test=data.y_test,
                                    record=record, momentum=momentum)
    f_tr, f_te = dynamics.linear_predictor(network, params0, data.x_train, data.y_train,
                                           data.x_test).predict(net.steps, lr=lr, momentum=momentum)
    lin = TrainResult(net.steps, net.times, f_tr, f_te, dynamics.recorded_mse(f_tr, data.y_train),
                      dynamics.recorded_mse(f_te, data.y_test), params0, None, None, lr, momentum,
                      None)
    return PairRun(net, lin, np.asarray(data.y_train), np.asarray(data.y_test), "mse")


def _full_kernel(name: str, theta, n1: int, n2: int, k: int) -> np.ndarray:
    """(n1, n2) kernel (meaning Θ ⊗ I_k) or full (n1·k, n2·k) kernel (examples major) → the
    neural-tangents layout (n1, n2, k, k) ("zip(y1.shape, y2.shape)")."""
    theta = v.finite_array(name, theta, ndim=2).astype(np.float32)
    if theta.shape == (n1, n2) and k > 1:
        theta = np.kron(theta, np.eye(k, dtype=np.float32))
    if theta.shape != (n1 * k, n2 * k):
        raise ValueError(f"{name} has shape {theta.shape}; expected ({n1}, {n2}) or "
                         f"({n1 * k}, {n2 * k}) for {k} outputs")
    return theta.reshape(n1, k, n2, k).transpose(0, 2, 1, 3)


def linearized_ode(theta_train, theta_test_train, f0_train, f0_test, y_train, *, lr: float, steps,
                   loss: str = "cross_entropy", momentum: float | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Outputs of f_lin under gradient flow on ``loss`` (SM §B, eq. S5–S11), by an ODE solver.

    Solves ḟ_t(X) = −Θ̂_0 ∇_f L(f_t(X)), ḟ_t(x) = −Θ̂_0(x, X) ∇_f L(f_t(X)) (gradient flow of
    θ with rate η, at time t = η·s) or, with ``momentum`` β, the heavy-ball ODE
    f̈ = β̃ ḟ − Θ̂_0 ∇_f L with β̃ = (β − 1)/√η at t = √η·s (SM eq. S1–S4), through
    neural-tangents' ``predict.gradient_descent(loss, Θ̂_0, Y, η, β, trace_axes=())``.
    ``loss`` names :data:`ntklib.dynamics.LOSSES` — the very function gradient descent
    minimizes, so both share one time axis. For cross-entropy that is the mean over examples
    of −Σ_a y_a log softmax(f)_a, so ∇_f L = (softmax(f) − Y)/N: the paper's
    ḟ = −η Θ̂_0 (softmax(f) − Y) with the book's 1/N. (neural-tangents' docstring example
    −mean(log_softmax(f)·y) also averages over the k classes: its time runs k times slower.)

    Kernels: (N, N) meaning Θ ⊗ I_k, or the full (N·k, N·k) empirical kernel (examples major);
    ``theta_test_train`` likewise (M, N) or (M·k, N·k). ``steps``: step counts (may be fractional).
    Returns f_train (T, N, k) and f_test (T, M, k).
    """
    v.choice("loss", loss, tuple(dynamics.LOSSES))
    lr = v.positive_float("lr", lr)
    if momentum is not None:
        momentum = v.momentum("momentum", momentum)
    y = v.finite_array("y_train", y_train, ndim=2).astype(np.float32)
    f0 = v.finite_array("f0_train", f0_train, ndim=2).astype(np.float32)
    f0x = v.finite_array("f0_test", f0_test, ndim=2).astype(np.float32)
    if f0.shape != y.shape or f0x.shape[1] != y.shape[1]:
        raise ValueError(f"f0_train {f0.shape} must match y_train {y.shape} and f0_test "
                         f"{f0x.shape} must have {y.shape[1]} outputs")
    n, k = y.shape
    m = f0x.shape[0]
    theta = _full_kernel("theta_train", theta_train, n, n, k)
    theta_x = _full_kernel("theta_test_train", theta_test_train, m, n, k)
    steps = np.atleast_1d(np.asarray(steps, dtype=np.float64))
    if steps.ndim != 1 or np.any(~np.isfinite(steps)) or np.any(steps < 0) or np.any(np.diff(steps) <= 0):
        raise ValueError(f"steps must be finite, non-negative and strictly increasing, got {steps}")
    predict = nt.predict.gradient_descent(dynamics.LOSSES[loss], jnp.asarray(theta), jnp.asarray(y),
                                          learning_rate=lr, momentum=momentum, trace_axes=())
    f_train, f_test = predict(jnp.asarray(steps, jnp.float32), jnp.asarray(f0), jnp.asarray(f0x),
                              jnp.asarray(theta_x))
    return np.asarray(f_train), np.asarray(f_test)


def ode_for_pair(run: PairRun, model, data: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """:func:`linearized_ode` at the recorded steps of ``run``, same loss, rate and momentum, with
    the full empirical Θ̂_0 of ``model`` (a Model, or an ``apply_fn``) at ``run``'s θ_0."""
    if not isinstance(run, PairRun):
        raise TypeError(f"run must be a PairRun, got {type(run).__name__}")
    params0 = run.net.params_init
    theta = kernels.empirical_ntk(model, params0, data.x_train)
    theta_x = kernels.empirical_ntk(model, params0, data.x_test, data.x_train)
    momentum = run.net.momentum if run.net.momentum > 0 else None
    return linearized_ode(theta, theta_x, run.net.f_train[0], run.net.f_test[0], data.y_train,
                          lr=run.net.lr, steps=run.steps, loss=run.loss, momentum=momentum)
