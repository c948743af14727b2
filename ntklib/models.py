"""Fully connected networks in the NTK or standard parameterization (paper eq. 1, SM §F).

NTK parameterization, layer l with fan-in n_{l-1}:
    h^l = (σ_w / √n_{l-1}) x^{l-1} ω^l + σ_b β^l,   ω, β ~ N(0, 1)  (the trainable variables).
Standard parameterization:
    h^l = x^{l-1} W^l + b^l,   W ~ N(0, σ_w² / n_{l-1}),  b ~ N(0, σ_b²).
Both give the same function at initialization; they differ in what gradient descent sees.

Arguments are **variances** σ_w², σ_b² as in the paper; neural-tangents' ``stax.Dense`` takes the
standard deviations W_std = σ_w and b_std = σ_b — :func:`mlp` does the conversion.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from . import _validate as v
from ._quiet import import_neural_tangents

nt = import_neural_tangents()
stax = nt.stax

ACTIVATIONS = ("relu", "erf", "tanh")
PARAMETERIZATIONS = ("ntk", "standard")

Params = Any  # the stax pytree: a list with (W, b) per Dense layer and () per activation


@dataclass(frozen=True, eq=False)
class Network:
    """An MLP: stax ``init_fn``, ``apply_fn``, ``kernel_fn`` plus the hyper-parameters that built it."""

    init_fn: Callable
    apply_fn: Callable
    kernel_fn: Callable
    depth: int
    width: int
    activation: str
    sigma_w2: float
    sigma_b2: float
    parameterization: str
    out_dim: int

    def init(self, seed: int | jax.Array, input_dim: int) -> Params:
        """Draw initial parameters θ_0 for inputs of dimension ``input_dim``."""
        key = jax.random.PRNGKey(v.nonnegative_int("seed", seed)) if not isinstance(seed, jax.Array) else seed
        _, params = self.init_fn(key, (-1, v.positive_int("input_dim", input_dim)))
        return params

    def __repr__(self) -> str:
        return (f"mlp(depth={self.depth}, width={self.width}, activation={self.activation!r}, "
                f"sigma_w2={self.sigma_w2}, sigma_b2={self.sigma_b2}, "
                f"parameterization={self.parameterization!r}, out_dim={self.out_dim})")


def activation_fn(name: str) -> Callable[[jax.Array], jax.Array]:
    """The pointwise nonlinearity φ called ``name``."""
    v.choice("activation", name, ACTIVATIONS)
    return {"relu": jax.nn.relu, "erf": jax.scipy.special.erf, "tanh": jnp.tanh}[name]


def _stax_activation(name: str):
    if name == "relu":
        return stax.Relu()
    if name == "erf":
        return stax.Erf()  # a·erf(b·x) + c with a = b = 1, c = 0
    # tanh has no closed-form kernel: neural-tangents integrates it by Gauss–Hermite quadrature
    # and warns that it does so on every construction; the warning carries no information here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return stax.ElementwiseNumerical(fn=jnp.tanh, deg=25)


def mlp(depth: int, width: int, *, activation: str = "relu", sigma_w2: float = 2.0,
        sigma_b2: float = 0.1, parameterization: str = "ntk", out_dim: int = 1) -> Network:
    """``depth`` hidden Dense layers of ``width`` units, each followed by φ, then a Dense readout.

    sigma_w2, sigma_b2 are the weight and bias variances; sigma_b2 = 0 builds layers without bias.
    """
    depth = v.positive_int("depth", depth)
    width = v.positive_int("width", width)
    out_dim = v.positive_int("out_dim", out_dim)
    v.choice("activation", activation, ACTIVATIONS)
    v.choice("parameterization", parameterization, PARAMETERIZATIONS)
    sigma_w2 = v.positive_float("sigma_w2", sigma_w2)
    sigma_b2 = v.positive_float("sigma_b2", sigma_b2, allow_zero=True)
    w_std = float(np.sqrt(sigma_w2))
    b_std = float(np.sqrt(sigma_b2)) if sigma_b2 > 0 else None

    def dense(n):
        return stax.Dense(n, W_std=w_std, b_std=b_std, parameterization=parameterization)

    layers = []
    for _ in range(depth):
        layers += [dense(width), _stax_activation(activation)]
    layers.append(dense(out_dim))
    init_fn, apply_fn, kernel_fn = stax.serial(*layers)
    return Network(init_fn, apply_fn, kernel_fn, depth, width, activation, sigma_w2, sigma_b2,
                   parameterization, out_dim)


def dense_layers(params: Params) -> list[tuple]:
    """The (W, b) pairs of the Dense layers, input layer first, readout last (b may be None)."""
    return [p for p in params if len(p) > 0]


def forward_features(network: Network, params: Params, x: jax.Array, eps=None):
    """Forward pass that also returns every Dense layer's input x^{l-1}.

    ``eps`` (optional, one array per Dense layer) is added to each pre-activation h^l; its
    gradient is the back-propagated vector δ^l = ∂f/∂h^l used by the empirical NTK.
    Returns (f(x), [x^0, x^1, ..., x^L]).
    """
    phi = activation_fn(network.activation)
    dense = dense_layers(params)
    inputs, act = [], x
    for l, (W, b) in enumerate(dense):
        inputs.append(act)
        if network.parameterization == "ntk":
            h = (network.sigma_w2 ** 0.5 / act.shape[-1] ** 0.5) * (act @ W)
            if b is not None:
                h = h + network.sigma_b2 ** 0.5 * b
        else:
            h = act @ W
            if b is not None:
                h = h + b
        if eps is not None:
            h = h + eps[l]
        act = phi(h) if l < len(dense) - 1 else h
    return act, inputs


def linearize(apply_fn: Callable, params0: Params) -> Callable:
    """The first-order Taylor model (paper eq. 5):
    f_lin(θ, x) = f(θ_0, x) + ∇_θ f(θ_0, x) · (θ − θ_0), evaluated with one jvp.
    """

    def apply_lin(params, x, **kwargs):
        delta = jax.tree_util.tree_map(lambda p, p0: p - p0, params, params0)
        f0, df = jax.jvp(lambda p: apply_fn(p, x, **kwargs), (params0,), (delta,))
        return f0 + df

    return apply_lin


def parameter_count(params: Params) -> int:
    """Number of trainable scalars |θ|."""
    return int(sum(np.size(leaf) for leaf in jax.tree_util.tree_leaves(params)))


def relative_weight_change(params0: Params, params1: Params) -> np.ndarray:
    """Per Dense layer ||W^l_1 − W^l_0||_F / ||W^l_0||_F (paper Fig. 1b), input layer first."""
    out = []
    for (w0, _), (w1, _) in zip(dense_layers(params0), dense_layers(params1)):
        out.append(float(jnp.linalg.norm(w1 - w0) / jnp.linalg.norm(w0)))
    return np.array(out)


def parameter_distance(params0: Params, params1: Params) -> float:
    """||θ_1 − θ_0||_2 over all trainable variables."""
    sq = sum(float(jnp.sum((a - b) ** 2)) for a, b in
             zip(jax.tree_util.tree_leaves(params1), jax.tree_util.tree_leaves(params0)))
    return float(np.sqrt(sq))


# ----------------------------------------------------------------------------- SM §F: NTK ↔ standard


def _same_family(network: Network, name: str) -> None:
    if not isinstance(network, Network):
        raise TypeError(f"{name} must be an ntklib Network, got {type(network).__name__}")


def _per_leaf_rates(lr, params: Params) -> list:
    """``lr`` (a number or a pytree shaped like ``params``) as one (W-rate, b-rate) pair per layer slot."""
    if isinstance(lr, (int, float, np.floating, np.integer)) and not isinstance(lr, bool):
        eta = v.positive_float("lr", lr)
        return [((eta, None if p[1] is None else eta) if len(p) > 0 else ()) for p in params]
    if not isinstance(lr, (list, tuple)) or len(lr) != len(params):
        raise TypeError("lr must be a positive number or a pytree of rates shaped like params "
                        f"(a list of {len(params)} layer entries), got {type(lr).__name__}")
    out = []
    for i, (p, r) in enumerate(zip(params, lr)):
        if len(p) == 0:
            out.append(())
            continue
        if not isinstance(r, (list, tuple)) or len(r) != 2:
            raise TypeError(f"lr[{i}] must be a (W rate, b rate) pair, got {r!r}")
        w_rate = v.positive_float(f"lr[{i}][0]", float(r[0]))
        b_rate = None if p[1] is None else v.positive_float(f"lr[{i}][1]", float(r[1]))
        out.append((w_rate, b_rate))
    return out


def equivalent_learning_rates(network: Network, params: Params, lr, *, to: str) -> Params:
    """Per-leaf learning rates that make GD in the other parameterization follow the same path
    (paper SM §F, eq. S36–S37).

    With W = (σ_w/√n_in) ω and b = σ_b β, a GD step of rate η_ω on ω moves W by
    −η_ω (σ_w²/n_in) ∂L/∂W, and a step of rate η_β on β moves b by −η_β σ_b² ∂L/∂b. Hence

        to="standard":  η^l_{W,std} = η^l_ω σ_w² / n_in,   η^l_{b,std} = η^l_β σ_b²;
        to="ntk":       η^l_ω = η^l_{W,std} n_in / σ_w²,   η^l_β = η^l_{b,std} / σ_b²,

    which for η_std = η_0/n_max is eq. S37: η_ω = n_l η_0/(n_max σ_w²), η_β = η_0/(n_max σ_b²).
    ``network`` supplies σ_w², σ_b² (its own parameterization is not used); ``params`` supplies
    each layer's fan-in n_in and the pytree structure (the same in both parameterizations);
    ``lr`` is a number or a per-leaf pytree in the *source* parameterization. Returns a pytree
    with the structure of ``params`` (one rate per W and b, () for activation layers), usable as
    ``lr`` in :func:`ntklib.dynamics.gradient_descent`.
    """
    _same_family(network, "network")
    v.choice("to", to, PARAMETERIZATIONS)
    rates = _per_leaf_rates(lr, params)
    out = []
    for p, r in zip(params, rates):
        if len(p) == 0:
            out.append(())
            continue
        n_in = int(p[0].shape[0])
        w_factor = network.sigma_w2 / n_in
        b_factor = network.sigma_b2
        if to == "ntk":
            w_factor, b_factor = 1.0 / w_factor, (1.0 / b_factor if b_factor > 0 else 0.0)
        w_rate, b_rate = r
        out.append((w_rate * w_factor, None if b_rate is None else b_rate * b_factor))
    return out


def ntk_to_standard_params(network: Network, params: Params) -> Params:
    """Map NTK-parameterization variables (ω, β) to the equivalent standard-parameterization
    weights: W = σ_w ω / √n_in, b = σ_b β (paper eq. 1 and SM §F).

    ``network`` must be the NTK-parameterized network that ``params`` belong to; the result,
    fed to the ``parameterization="standard"`` network with the same σ's, computes the same
    function.
    """
    _same_family(network, "network")
    if network.parameterization != "ntk":
        raise ValueError(f"network must use parameterization='ntk', got {network.parameterization!r}")
    sw, sb = network.sigma_w2 ** 0.5, network.sigma_b2 ** 0.5
    out = []
    for p in params:
        if len(p) == 0:
            out.append(p)
            continue
        w, b = p
        out.append((w * (sw / w.shape[0] ** 0.5), None if b is None else b * sb))
    return out


def standard_to_ntk_params(network: Network, params: Params) -> Params:
    """Inverse of :func:`ntk_to_standard_params`: ω = √n_in W / σ_w, β = b / σ_b.

    ``network`` is either network of the pair (only σ_w², σ_b² are read); σ_b² must be > 0
    when the layers have biases.
    """
    _same_family(network, "network")
    sw, sb = network.sigma_w2 ** 0.5, network.sigma_b2 ** 0.5
    out = []
    for p in params:
        if len(p) == 0:
            out.append(p)
            continue
        w, b = p
        if b is not None and sb == 0:
            raise ValueError("params have biases but network.sigma_b2 = 0: β = b/σ_b is undefined")
        out.append((w * (w.shape[0] ** 0.5 / sw), None if b is None else b / sb))
    return out
