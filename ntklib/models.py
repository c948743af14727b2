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
