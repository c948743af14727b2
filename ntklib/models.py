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

import functools
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
    """An MLP: ``init_fn`` and ``kernel_fn`` from stax, ntklib's ``apply_fn`` (the same function as
    stax's, with faster gradients: :func:`dense_product`), and the hyper-parameters that built it."""

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
    stax_apply_fn: Callable | None = None  # neural-tangents' apply_fn of the same layers (cross-checks)

    def init(self, seed: int | jax.Array, input_dim: int) -> Params:
        """Draw initial parameters θ_0 for inputs of dimension ``input_dim``."""
        key = jax.random.PRNGKey(v.nonnegative_int("seed", seed)) if not isinstance(seed, jax.Array) else seed
        _, params = self.init_fn(key, (-1, v.positive_int("input_dim", input_dim)))
        return params

    def __repr__(self) -> str:
        return (f"mlp(depth={self.depth}, width={self.width}, activation={self.activation!r}, "
                f"sigma_w2={self.sigma_w2}, sigma_b2={self.sigma_b2}, "
                f"parameterization={self.parameterization!r}, out_dim={self.out_dim})")


@jax.custom_jvp
def _relu(x: jax.Array) -> jax.Array:
    """max(x, 0) with derivative 1[x > 0], read off the output: 1[φ(x) > 0] = 1[x > 0].

    Taking the mask from φ(x) instead of x lets backpropagation drop the pre-activation as soon
    as φ(x) is computed, so XLA reuses its buffer: one N × width array less in cache during
    a gradient step (12–17% faster GD steps for a 1×16384 MLP on 2 CPU cores). Values equal
    stax.Relu's; so do derivatives except at exact zeros of x (here 0, as in ``jax.nn.relu``;
    stax: 1/2)."""
    return jnp.where(x > 0, x, 0.0)


@_relu.defjvp
def _relu_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    out = _relu(x)
    return out, jnp.where(out > 0, dx, jnp.zeros_like(dx))


def activation_fn(name: str) -> Callable[[jax.Array], jax.Array]:
    """The pointwise nonlinearity φ called ``name``."""
    v.choice("activation", name, ACTIVATIONS)
    return {"relu": _relu, "erf": jax.scipy.special.erf, "tanh": jnp.tanh}[name]


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


def _layer_variances(activation: str, parameterization: str, sigma_w2: float,
                     sigma_b2: float) -> tuple[float, float, float, float | None]:
    """Check the shared layer hyperparameters; return (σ_w², σ_b², σ_w, σ_b), σ_b = None for no bias."""
    v.choice("activation", activation, ACTIVATIONS)
    v.choice("parameterization", parameterization, PARAMETERIZATIONS)
    sigma_w2 = v.positive_float("sigma_w2", sigma_w2)
    sigma_b2 = v.positive_float("sigma_b2", sigma_b2, allow_zero=True)
    return (sigma_w2, sigma_b2, float(np.sqrt(sigma_w2)),
            float(np.sqrt(sigma_b2)) if sigma_b2 > 0 else None)


def mlp(depth: int, width: int, *, activation: str = "relu", sigma_w2: float = 2.0,
        sigma_b2: float = 0.1, parameterization: str = "ntk", out_dim: int = 1) -> Network:
    """``depth`` hidden Dense layers of ``width`` units, each followed by φ, then a Dense readout.

    sigma_w2, sigma_b2 are the weight and bias variances; sigma_b2 = 0 builds layers without bias.
    """
    depth = v.positive_int("depth", depth)
    width = v.positive_int("width", width)
    out_dim = v.positive_int("out_dim", out_dim)
    sigma_w2, sigma_b2, w_std, b_std = _layer_variances(activation, parameterization,
                                                        sigma_w2, sigma_b2)

    def dense(n):
        return stax.Dense(n, W_std=w_std, b_std=b_std, parameterization=parameterization)

    layers = []
    for _ in range(depth):
        layers += [dense(width), _stax_activation(activation)]
    layers.append(dense(out_dim))
    init_fn, stax_apply_fn, kernel_fn = stax.serial(*layers)
    layer = _dense_layer(parameterization, sigma_w2, sigma_b2)
    phi = activation_fn(activation)

    def apply_fn(params: Params, x: jax.Array, **kwargs) -> jax.Array:
        """f(θ, x): the same function as the stax ``apply_fn`` of these layers (a test checks it)."""
        dense = dense_layers(params)
        for l, (W, b) in enumerate(dense):
            x = layer(x, W, b)
            x = phi(x) if l < len(dense) - 1 else x
        return x

    return Network(init_fn, apply_fn, kernel_fn, depth, width, activation, sigma_w2, sigma_b2,
                   parameterization, out_dim, stax_apply_fn)


@jax.custom_jvp
def dense_product(x: jax.Array, W: jax.Array) -> jax.Array:
    """x W, the product inside every Dense layer, with a derivative rule chosen for speed.

    The derivative is the usual one, d(x W) = dx W + x dW; only the way the dx-term is written
    differs. Backpropagation needs its transpose, c ↦ c Wᵀ, and XLA's CPU backend runs
    ``c @ W.T`` with a large W 5–10x below its matmul rate, while (W cᵀ)ᵀ runs at full rate.
    Writing the tangent as (Wᵀ dxᵀ)ᵀ behind optimization barriers makes its transpose
    exactly (W cᵀ)ᵀ. Forward-mode products (jvp) pay for it instead, with a slower dx-term.
    """
    return x @ W


# Below this size on either side of W the plain c @ W.T is as fast (measured on 2 CPU cores).
_LEFT_TANGENT_MIN_DIM = 256


def _barrier(a: jax.Array) -> jax.Array:
    return jax.lax.optimization_barrier(a)


def _left_tangent(W: jax.Array, dx: jax.Array) -> jax.Array:
    """dx W written as (Wᵀ dxᵀ)ᵀ (contracting W's first axis); supports leading batch axes of dx."""
    lead = dx.shape[:-1]
    dx2 = dx.reshape((-1, dx.shape[-1]))
    out = jax.lax.dot_general(W, _barrier(dx2.T), (((0,), (0,)), ((), ())))
    return _barrier(out).T.reshape(lead + (W.shape[-1],))


@functools.partial(dense_product.defjvp, symbolic_zeros=True)
def _dense_product_jvp(primals, tangents):
    x, W = primals
    dx, dW = tangents
    out = x @ W
    terms = []
    if not isinstance(dW, jax.custom_derivatives.SymbolicZero):
        terms.append(x @ dW)
    if not isinstance(dx, jax.custom_derivatives.SymbolicZero):
        big = W.ndim == 2 and dx.ndim >= 2 and min(W.shape) >= _LEFT_TANGENT_MIN_DIM
        terms.append(_left_tangent(W, dx) if big else dx @ W)
    if not terms:
        return out, jnp.zeros_like(out)
    return out, terms[0] if len(terms) == 1 else terms[0] + terms[1]


def _dense_layer(parameterization: str, sigma_w2: float, sigma_b2: float) -> Callable:
    """(x, W, b) ↦ h: one Dense layer in either parameterization (module docstring), b may be None."""
    w_std, b_std = sigma_w2 ** 0.5, sigma_b2 ** 0.5

    def layer(x, W, b):
        if parameterization == "ntk":
            scale = w_std / x.shape[-1] ** 0.5
            # scale the smaller of x and xW: the gradient then needs no extra pass over the
            # larger one (input layer: x is N×d, xW is N×n; readout: the other way round)
            if x.shape[-1] <= W.shape[-1]:
                # the scale in W's dtype, so float32 data meets float64 weights before rounding
                h = dense_product(x * jnp.asarray(scale, W.dtype), W)
            else:
                h = scale * dense_product(x, W)
            return h if b is None else h + b_std * b
        h = dense_product(x, W)
        return h if b is None else h + b
    return layer


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
    layer = _dense_layer(network.parameterization, network.sigma_w2, network.sigma_b2)
    dense = dense_layers(params)
    inputs, act = [], x
    for l, (W, b) in enumerate(dense):
        inputs.append(act)
        h = layer(act, W, b)
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
    return _rescale_dense(params, lambda n_in: sw / n_in ** 0.5, lambda b: b * sb)


def standard_to_ntk_params(network: Network, params: Params) -> Params:
    """Inverse of :func:`ntk_to_standard_params`: ω = √n_in W / σ_w, β = b / σ_b.

    ``network`` is either network of the pair (only σ_w², σ_b² are read); σ_b² must be > 0
    when the layers have biases.
    """
    _same_family(network, "network")
    sw, sb = network.sigma_w2 ** 0.5, network.sigma_b2 ** 0.5
    if sb == 0 and any(b is not None for _, b in dense_layers(params)):
        raise ValueError("params have biases but network.sigma_b2 = 0: β = b/σ_b is undefined")
    return _rescale_dense(params, lambda n_in: n_in ** 0.5 / sw, lambda b: b / sb)


def _rescale_dense(params: Params, weight_factor: Callable[[int], float], rescale_bias: Callable) -> Params:
    """Each Dense layer (W, b) → (W · weight_factor(n_in), rescale_bias(b)); other layers as they are."""
    return [p if len(p) == 0 else
            (p[0] * weight_factor(p[0].shape[0]), None if p[1] is None else rescale_bias(p[1]))
            for p in params]


# ----------------------------------------------------------------------------- convolutional networks


@dataclass(frozen=True, eq=False)
class ConvNetwork:
    """A small CNN (paper Fig. S2): stax ``init_fn``, ``apply_fn``, ``kernel_fn`` on *flattened*
    images of shape (N, H·W·C), reshaped to ``image_shape`` inside, so that it plugs into
    :func:`ntklib.dynamics.gradient_descent` and the generic path of
    :func:`ntklib.kernels.empirical_ntk` (deliberately not a :class:`Network`: the fast per-layer
    NTK formula there is for MLPs only).
    """

    init_fn: Callable
    apply_fn: Callable
    kernel_fn: Callable
    depth: int
    channels: int
    image_shape: tuple
    filter_shape: tuple
    activation: str
    sigma_w2: float
    sigma_b2: float
    parameterization: str
    out_dim: int

    @property
    def input_dim(self) -> int:
        return int(np.prod(self.image_shape))

    def init(self, seed: int | jax.Array, input_dim: int | None = None) -> Params:
        """Draw θ_0; ``input_dim`` (optional) must equal H·W·C of ``image_shape``."""
        if input_dim is not None and v.positive_int("input_dim", input_dim) != self.input_dim:
            raise ValueError(f"input_dim={input_dim} does not match image_shape={self.image_shape} "
                             f"({self.input_dim} values per image)")
        key = jax.random.PRNGKey(v.nonnegative_int("seed", seed)) if not isinstance(seed, jax.Array) else seed
        _, params = self.init_fn(key, (-1, self.input_dim))
        return params

    def __repr__(self) -> str:
        return (f"conv_net(channels={self.channels}, depth={self.depth}, image_shape={self.image_shape}, "
                f"activation={self.activation!r}, sigma_w2={self.sigma_w2}, sigma_b2={self.sigma_b2}, "
                f"parameterization={self.parameterization!r}, out_dim={self.out_dim})")


def conv_net(channels: int, *, depth: int = 2, image_shape: tuple = (8, 8, 1),
             filter_shape: tuple = (3, 3), activation: str = "tanh", sigma_w2: float = 2.0,
             sigma_b2: float = 0.1, parameterization: str = "ntk", out_dim: int = 1) -> ConvNetwork:
    """``depth`` 'SAME'-padded convolutions of ``channels`` filters of size ``filter_shape``, each
    followed by φ, then global average pooling over pixels and a Dense readout (paper Fig. S2:
    tanh, 3×3, average pooling after the last convolution, σ_w² = 2, σ_b² = 0.1).

    Each layer is h = (σ_w/√fan_in) x * ω + σ_b β in the NTK parameterization (fan_in = C_in·3·3
    for a 3×3 convolution). Inputs are flattened images, (N, H·W·C), row-major in (H, W, C).
    ``init_fn`` and ``kernel_fn`` (infinite-channel NNGP/NTK) are neural-tangents' stax ones;
    ``apply_fn`` computes the same function with the same parameters by slices and matrix
    products, which differentiate much faster than XLA's CPU convolutions.
    """
    depth = v.positive_int("depth", depth)
    channels = v.positive_int("channels", channels)
    out_dim = v.positive_int("out_dim", out_dim)
    if len(image_shape) != 3:
        raise ValueError(f"image_shape must be (height, width, channels), got {image_shape!r}")
    image_shape = tuple(v.positive_int("image_shape entry", int(s)) for s in image_shape)
    if len(filter_shape) != 2:
        raise ValueError(f"filter_shape must be (height, width), got {filter_shape!r}")
    filter_shape = tuple(v.positive_int("filter_shape entry", int(s)) for s in filter_shape)
    sigma_w2, sigma_b2, w_std, b_std = _layer_variances(activation, parameterization,
                                                        sigma_w2, sigma_b2)

    layers = []
    for _ in range(depth):
        layers += [stax.Conv(channels, filter_shape, padding="SAME", W_std=w_std, b_std=b_std,
                             parameterization=parameterization),
                   _stax_activation(activation)]
    layers += [stax.GlobalAvgPool(),
               stax.Dense(out_dim, W_std=w_std, b_std=b_std, parameterization=parameterization)]
    inner_init, _, inner_kernel = stax.serial(*layers)
    size = int(np.prod(image_shape))
    phi = activation_fn(activation)
    ntk = parameterization == "ntk"

    def to_images(x):
        if x.shape[-1] != size:
            raise ValueError(f"inputs must be flattened images with {size} values "
                             f"(image_shape={image_shape}), got shape {x.shape}")
        return x.reshape((x.shape[0],) + image_shape)

    def init_fn(key, input_shape):
        return inner_init(key, (-1,) + image_shape)

    def apply_fn(params, x, **kwargs):
        # Same function as stax's apply_fn (tested), but each convolution is written as shifted
        # slices and one matrix product: XLA's CPU convolution gradients are ~20x slower.
        h = to_images(x)
        for W, b in (params[2 * i] for i in range(depth)):
            fan_in = W.shape[0] * W.shape[1] * W.shape[2]
            h = _conv_same(h, W) * (w_std / fan_in ** 0.5 if ntk else 1.0)
            if b is not None:
                h = h + (b_std if ntk else 1.0) * b
            h = phi(h)
        h = jnp.mean(h, axis=(1, 2))  # global average pooling over pixels
        W, b = params[-1]
        out = h @ W * (w_std / W.shape[0] ** 0.5 if ntk else 1.0)
        return out if b is None else out + (b_std if ntk else 1.0) * b

    def kernel_fn(x1, x2=None, get=None, **kwargs):
        return inner_kernel(to_images(x1), None if x2 is None else to_images(x2), get, **kwargs)

    return ConvNetwork(init_fn, apply_fn, kernel_fn, depth, channels, image_shape, filter_shape,
                       activation, sigma_w2, sigma_b2, parameterization, out_dim)


def _conv_same(x: jax.Array, W: jax.Array) -> jax.Array:
    """'SAME'-padded, stride-1 convolution (cross-correlation, as lax.conv) of NHWC images with an
    HWIO kernel, as a sum over filter offsets of shifted slices times W[i, j] (one einsum)."""
    kh, kw, c_in, c_out = W.shape
    height, width = x.shape[1], x.shape[2]
    lo_h, lo_w = (kh - 1) // 2, (kw - 1) // 2
    xp = jnp.pad(x, ((0, 0), (lo_h, kh - 1 - lo_h), (lo_w, kw - 1 - lo_w), (0, 0)))
    patches = jnp.stack([xp[:, i:i + height, j:j + width, :] for i in range(kh) for j in range(kw)],
                        axis=3)
    return jnp.einsum("nhwpc,pco->nhwo", patches, W.reshape(kh * kw, c_in, c_out))
