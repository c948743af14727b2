"""Networks in the NTK or standard parameterization (paper eq. 1, SM §F): one ``Model`` type.

A *spec* — :class:`MLP`, :class:`CNN` or :class:`ResNet` — is a frozen, hashable description of
an architecture; :func:`build` turns it into the one :class:`Model` type (``init``, ``apply_fn``,
``kernel_fn``, ``spec``), cached per spec, so that every compile cache keyed on a model is reused
when the same spec is built again. :func:`mlp`, :func:`conv_net` and :func:`resnet` are
shorthands. Architecture-specific fast paths elsewhere (the MLP's structured empirical NTK in
``kernels``, its Jacobian norms in ``bounds``) are registered on the spec type with
``functools.singledispatch``; every function that takes a model takes any model. Variants:
``model.replace(parameterization="standard")`` (``dataclasses.replace`` on the spec).

NTK parameterization, layer l with fan-in n_{l-1}:
    h^l = (σ_w / √n_{l-1}) x^{l-1} ω^l + σ_b β^l,   ω, β ~ N(0, 1)  (the trainable variables).
Standard parameterization:
    h^l = x^{l-1} W^l + b^l,   W ~ N(0, σ_w² / n_{l-1}),  b ~ N(0, σ_b²).
Both give the same function at initialization; they differ in what gradient descent sees.

Arguments are **variances** σ_w², σ_b² as in the paper; neural-tangents' ``stax`` layers take the
standard deviations W_std = σ_w and b_std = σ_b — the builders do the conversion.
"""

from __future__ import annotations

import dataclasses
import functools
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Union

import jax
import jax.numpy as jnp
import numpy as np

from . import _seeds
from . import _validate as v
from ._quiet import import_neural_tangents

nt = import_neural_tangents()
stax = nt.stax

__all__ = [
    "ACTIVATIONS", "PARAMETERIZATIONS", "SpecFields", "MLP", "ImageSpec", "CNN", "ResNet", "Spec",
    "Model", "build", "mlp",
    "conv_net", "resnet", "check_model", "activation_fn", "dense_product", "dense_layers",
    "weight_layers", "forward_features", "readout_features", "linearize", "parameter_count",
    "relative_weight_change", "parameter_distance", "equivalent_learning_rates",
    "ntk_to_standard_params", "standard_to_ntk_params", "nt", "stax",
]

ACTIVATIONS = ("relu", "erf", "tanh")
PARAMETERIZATIONS = ("ntk", "standard")

Params = Any  # the stax pytree: (W, b) per weight layer, () per parameter-free layer


# ----------------------------------------------------------------------------- specs


def _check_common(spec) -> None:
    """Validate and normalize the fields every spec has (frozen: set through object.__setattr__)."""
    set_ = lambda name, value: object.__setattr__(spec, name, value)
    set_("activation", v.choice("activation", spec.activation, ACTIVATIONS))
    set_("parameterization", v.choice("parameterization", spec.parameterization, PARAMETERIZATIONS))
    set_("sigma_w2", v.positive_float("sigma_w2", spec.sigma_w2))
    set_("sigma_b2", v.positive_float("sigma_b2", spec.sigma_b2, allow_zero=True))
    set_("out_dim", v.positive_int("out_dim", spec.out_dim))


def _check_image(spec) -> None:
    set_ = lambda name, value: object.__setattr__(spec, name, value)
    for name in ("image_shape", "filter_shape"):
        if not isinstance(getattr(spec, name), (tuple, list)):
            raise TypeError(f"{name} must be a tuple, got {name}={getattr(spec, name)!r}")
    if len(tuple(spec.image_shape)) != 3:
        raise ValueError(f"image_shape must be (height, width, channels), got {spec.image_shape!r}")
    set_("image_shape", tuple(v.positive_int("image_shape entry", int(s)) for s in spec.image_shape))
    if len(tuple(spec.filter_shape)) != 2:
        raise ValueError(f"filter_shape must be (height, width), got {spec.filter_shape!r}")
    set_("filter_shape", tuple(v.positive_int("filter_shape entry", int(s)) for s in spec.filter_shape))


@dataclass(frozen=True, kw_only=True)
class SpecFields:
    """The keyword-only fields every spec has: the nonlinearity φ, the weight and bias variances
    σ_w², σ_b² (0 → no biases), the parameterization ("ntk" or "standard") and the number k of
    outputs. Each architecture's spec adds its own shape fields in front."""

    activation: str = "relu"
    sigma_w2: float = 2.0
    sigma_b2: float = 0.1
    parameterization: str = "ntk"
    out_dim: int = 1

    def __post_init__(self):
        _check_common(self)

    def __repr__(self) -> str:  # the architecture's own fields first, then these
        own = [f.name for f in dataclasses.fields(self) if f.name not in _COMMON_FIELDS]
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in own + list(_COMMON_FIELDS))
        return f"{type(self).__name__}({shown})"


_COMMON_FIELDS = ("activation", "sigma_w2", "sigma_b2", "parameterization", "out_dim")


@dataclass(frozen=True, repr=False)
class MLP(SpecFields):
    """``depth`` hidden Dense layers of ``width`` units, each followed by φ, then a Dense readout
    of ``out_dim`` units."""

    depth: int
    width: int

    def __post_init__(self):
        object.__setattr__(self, "depth", v.positive_int("depth", self.depth))
        object.__setattr__(self, "width", v.positive_int("width", self.width))
        super().__post_init__()


@dataclass(frozen=True, repr=False)
class ImageSpec(SpecFields):
    """The shape fields every convolutional spec shares: ``channels`` filters of size
    ``filter_shape`` on flattened images of ``image_shape`` (H, W, C)."""

    channels: int
    image_shape: tuple = (8, 8, 1)
    filter_shape: tuple = (3, 3)

    def __post_init__(self):
        object.__setattr__(self, "channels", v.positive_int("channels", self.channels))
        _check_image(self)
        super().__post_init__()


@dataclass(frozen=True, repr=False)
class CNN(ImageSpec):
    """``depth`` 'SAME'-padded convolutions of ``channels`` filters of size ``filter_shape``, each
    followed by φ, then global average pooling over pixels and a Dense readout (paper Fig. S2:
    tanh, 3×3, σ_w² = 2, σ_b² = 0.1). Inputs are flattened images of ``image_shape`` (H, W, C)."""

    depth: int = field(default=2, kw_only=True)
    activation: str = field(default="tanh", kw_only=True)

    def __post_init__(self):
        object.__setattr__(self, "depth", v.positive_int("depth", self.depth))
        super().__post_init__()


@dataclass(frozen=True, repr=False)
class ResNet(ImageSpec):
    """A wide residual network without batch norm (paper Fig. 4 / S5, at small scale): a 'SAME'
    convolution to ``channels`` channels, then ``blocks`` residual blocks
    x ↦ x + Conv(φ(Conv(φ(x)))) at constant channel count (stax FanOut / parallel / FanInSum),
    then φ, global average pooling and a Dense readout."""

    blocks: int = field(default=2, kw_only=True)

    def __post_init__(self):
        object.__setattr__(self, "blocks", v.positive_int("blocks", self.blocks))
        super().__post_init__()


Spec = Union[MLP, CNN, ResNet]


# ----------------------------------------------------------------------------- the model type


@dataclass(frozen=True, eq=False)
class Model:
    """A network: ``init_fn`` and ``kernel_fn`` (infinite-width NNGP/NTK) from neural-tangents'
    stax, ntklib's ``apply_fn`` (the same function as stax's ``stax_apply_fn``, with faster
    gradients on CPU), and the ``spec`` that built it. Equal specs give equal models.

    The spec's fields read as attributes (``model.width``, ``model.parameterization``).

    >>> net = mlp(2, 64, out_dim=3)
    >>> net.spec
    MLP(depth=2, width=64, activation='relu', sigma_w2=2.0, sigma_b2=0.1, parameterization='ntk', out_dim=3)
    >>> params = net.init(0, input_dim=5)
    >>> net.apply_fn(params, jnp.ones((4, 5))).shape
    (4, 3)
    >>> net.replace(parameterization="standard").parameterization
    'standard'
    """

    spec: Spec
    init_fn: Callable
    apply_fn: Callable
    kernel_fn: Callable
    stax_apply_fn: Callable
    features_fn: Callable  # (params, x) ↦ the readout layer's input x^L (see readout_features)
    input_dim: int | None = None  # fixed by the architecture (image models); None: any

    def __getattr__(self, name: str):
        if name.startswith("__") or name == "spec":
            raise AttributeError(name)
        try:
            return getattr(self.spec, name)
        except AttributeError:
            raise AttributeError(f"{type(self.spec).__name__} model has no attribute {name!r}") from None

    def __eq__(self, other) -> bool:
        return isinstance(other, Model) and other.spec == self.spec

    def __hash__(self) -> int:
        return hash(self.spec)

    def __repr__(self) -> str:
        return f"Model({self.spec!r})"

    def init(self, seed: int | jax.Array, input_dim: int | None = None) -> Params:
        """Draw initial parameters θ_0 (``input_dim`` is required for an MLP; for image models it
        may be given and must equal H·W·C).

        An integer ``seed`` is folded with the width (an MLP's units, an image model's channels;
        a spec with neither uses the seed's key as it is):
        networks of different widths drawn with one seed are independent. Without it JAX's
        counter-based generator would hand a wide network the narrow one's weights as its first
        entries, and the points of every width sweep would be correlated. A JAX key is used as
        given.

        >>> a, b = mlp(1, 8).init(0, 2), mlp(1, 16).init(0, 2)
        >>> bool(jnp.allclose(a[0][0][0, :4], b[0][0][0, :4]))
        False
        """
        if input_dim is None:
            if self.input_dim is None:
                raise ValueError(f"{type(self.spec).__name__} needs input_dim to draw parameters")
            input_dim = self.input_dim
        input_dim = v.positive_int("input_dim", input_dim)
        if self.input_dim is not None and input_dim != self.input_dim:
            raise ValueError(f"input_dim={input_dim} does not match image_shape={self.image_shape} "
                             f"({self.input_dim} values per image)")
        if isinstance(seed, jax.Array):
            key = seed
        else:
            key = _seeds.key("seed", seed)
            width = getattr(self.spec, "width", getattr(self.spec, "channels", None))
            key = key if width is None else jax.random.fold_in(key, width)
        with _seeds.shape_agnostic_normal():  # stax's numbers, fewer compiles (see there)
            _, params = self.init_fn(key, (-1, input_dim))
        return params

    def replace(self, **changes) -> "Model":
        """The model of ``dataclasses.replace(self.spec, **changes)``."""
        return build(dataclasses.replace(self.spec, **changes))


def check_model(model, name: str = "model", *, spec: type | None = None, purpose: str = "") -> "Model":
    """``model`` if it is a :class:`Model` (built from a ``spec`` of that type, when given), else a
    TypeError naming what it is — for formulas that hold for one architecture only."""
    if not isinstance(model, Model):
        raise TypeError(f"{name} must be an ntklib Model (models.mlp / conv_net / resnet / build), "
                        f"got {type(model).__name__}")
    if spec is not None and not isinstance(model.spec, spec):
        raise TypeError(f"{name} must be built from a {spec.__name__} spec{' for ' + purpose if purpose else ''}, "
                        f"got {model.spec!r}")
    return model


@functools.singledispatch
def _builder(spec) -> Model:
    raise TypeError(f"no ntklib architecture for spec {spec!r}; expected one of MLP, CNN, ResNet")


@functools.lru_cache(maxsize=None)
def build(spec: Spec) -> Model:
    """The :class:`Model` of ``spec`` (one per distinct spec: built once, then reused)."""
    return _builder(spec)


def mlp(depth: int, width: int, *, activation: str = "relu", sigma_w2: float = 2.0,
        sigma_b2: float = 0.1, parameterization: str = "ntk", out_dim: int = 1) -> Model:
    """``build(MLP(...))``: ``depth`` hidden Dense layers of ``width`` units, each followed by φ,
    then a Dense readout; sigma_b2 = 0 builds layers without bias.

    >>> mlp(1, 128).apply_fn(mlp(1, 128).init(0, input_dim=2), jnp.ones((1, 2))).shape
    (1, 1)
    """
    return build(MLP(depth, width, activation=activation, sigma_w2=sigma_w2, sigma_b2=sigma_b2,
                     parameterization=parameterization, out_dim=out_dim))


def conv_net(channels: int, *, depth: int = 2, image_shape: tuple = (8, 8, 1),
             filter_shape: tuple = (3, 3), activation: str = "tanh", sigma_w2: float = 2.0,
             sigma_b2: float = 0.1, parameterization: str = "ntk", out_dim: int = 1) -> Model:
    """``build(CNN(...))``: a small CNN (paper Fig. S2) on flattened images (N, H·W·C).

    >>> conv_net(4, image_shape=(8, 8, 1)).input_dim
    64
    """
    return build(CNN(channels, tuple(image_shape), tuple(filter_shape), depth=depth,
                     activation=activation, sigma_w2=sigma_w2, sigma_b2=sigma_b2,
                     parameterization=parameterization, out_dim=out_dim))


def resnet(channels: int, *, blocks: int = 2, image_shape: tuple = (8, 8, 1),
           filter_shape: tuple = (3, 3), activation: str = "relu", sigma_w2: float = 2.0,
           sigma_b2: float = 0.1, parameterization: str = "ntk", out_dim: int = 1) -> Model:
    """``build(ResNet(...))``: a BN-free wide residual network on flattened images.

    >>> resnet(4, blocks=1).spec.blocks
    1
    """
    return build(ResNet(channels, tuple(image_shape), tuple(filter_shape), blocks=blocks,
                        activation=activation, sigma_w2=sigma_w2, sigma_b2=sigma_b2,
                        parameterization=parameterization, out_dim=out_dim))


# ----------------------------------------------------------------------------- layers

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



def _stds(spec) -> tuple[float, float | None]:
    """(σ_w, σ_b) for stax, σ_b = None when σ_b² = 0 (layers without bias)."""
    return float(np.sqrt(spec.sigma_w2)), (float(np.sqrt(spec.sigma_b2)) if spec.sigma_b2 > 0 else None)


@_builder.register
def _build_mlp(spec: MLP) -> Model:
    w_std, b_std = _stds(spec)

    def dense(n):
        return stax.Dense(n, W_std=w_std, b_std=b_std, parameterization=spec.parameterization)

    layers = []
    for _ in range(spec.depth):
        layers += [dense(spec.width), _stax_activation(spec.activation)]
    layers.append(dense(spec.out_dim))
    init_fn, stax_apply_fn, kernel_fn = stax.serial(*layers)
    layer = _dense_layer(spec.parameterization, spec.sigma_w2, spec.sigma_b2)
    phi = activation_fn(spec.activation)

    def apply_fn(params: Params, x: jax.Array, **kwargs) -> jax.Array:
        """f(θ, x): the same function as the stax ``apply_fn`` of these layers (a test checks it)."""
        dense = dense_layers(params)
        for l, (W, b) in enumerate(dense):
            x = layer(x, W, b)
            x = phi(x) if l < len(dense) - 1 else x
        return x

    def features_fn(params: Params, x: jax.Array) -> jax.Array:
        dense = dense_layers(params)
        for W, b in dense[:-1]:
            x = phi(layer(x, W, b))
        return x

    return Model(spec, init_fn, apply_fn, kernel_fn, stax_apply_fn, features_fn)


def _image_model(spec, layers: list, features: Callable) -> Model:
    """Model on flattened images: stax ``layers`` on (N, H, W, C) inside; ``features(params, h)``
    is ntklib's forward pass up to the readout's input (the pooled features)."""
    inner_init, inner_apply, inner_kernel = stax.serial(*layers)
    size = int(np.prod(spec.image_shape))
    w_std, b_std = _stds(spec)
    ntk = spec.parameterization == "ntk"

    def to_images(x):
        if x.shape[-1] != size:
            raise ValueError(f"inputs must be flattened images with {size} values "
                             f"(image_shape={spec.image_shape}), got shape {x.shape}")
        return x.reshape((x.shape[0],) + spec.image_shape)

    def init_fn(key, input_shape):
        return inner_init(key, (-1,) + spec.image_shape)

    def apply_fn(params, x, **kwargs):
        # Same function as stax's apply_fn (tested), but each convolution is written as shifted
        # slices and one matrix product: XLA's CPU convolution gradients are ~20x slower.
        h = features(params, to_images(x))
        W, b = params[-1]
        out = h @ W * (w_std / W.shape[0] ** 0.5 if ntk else 1.0)
        return out if b is None else out + (b_std if ntk else 1.0) * b

    def stax_apply_fn(params, x, **kwargs):
        return inner_apply(params, to_images(x), **kwargs)

    def kernel_fn(x1, x2=None, get=None, **kwargs):
        # A residual sum x + g(x) is covered by stax's independence assumption because g ends in
        # a convolution with its own zero-mean weights (E[x g(x)] = 0); stax warns on every call.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="`FanIn` layers assume independent inputs")
            return inner_kernel(to_images(x1), None if x2 is None else to_images(x2), get, **kwargs)

    return Model(spec, init_fn, apply_fn, kernel_fn, stax_apply_fn,
                 lambda params, x: features(params, to_images(x)), input_dim=size)


def _conv_layer(spec) -> Callable:
    """(h, W, b) ↦ the 'SAME' convolution of one layer in the spec's parameterization."""
    w_std, b_std = _stds(spec)
    ntk = spec.parameterization == "ntk"

    def conv(h, W, b):
        fan_in = W.shape[0] * W.shape[1] * W.shape[2]
        h = _conv_same(h, W) * (w_std / fan_in ** 0.5 if ntk else 1.0)
        return h if b is None else h + (b_std if ntk else 1.0) * b
    return conv


def _stax_conv(spec):
    w_std, b_std = _stds(spec)
    return stax.Conv(spec.channels, spec.filter_shape, padding="SAME", W_std=w_std, b_std=b_std,
                     parameterization=spec.parameterization)


def _stax_readout(spec):
    w_std, b_std = _stds(spec)
    return stax.Dense(spec.out_dim, W_std=w_std, b_std=b_std, parameterization=spec.parameterization)


@_builder.register
def _build_cnn(spec: CNN) -> Model:
    layers = []
    for _ in range(spec.depth):
        layers += [_stax_conv(spec), _stax_activation(spec.activation)]
    layers += [stax.GlobalAvgPool(), _stax_readout(spec)]
    conv, phi = _conv_layer(spec), activation_fn(spec.activation)

    def features(params, h):
        for W, b in (params[2 * i] for i in range(spec.depth)):
            h = phi(conv(h, W, b))
        return jnp.mean(h, axis=(1, 2))  # global average pooling over pixels

    return _image_model(spec, layers, features)


@_builder.register
def _build_resnet(spec: ResNet) -> Model:
    act = lambda: _stax_activation(spec.activation)
    branch = stax.serial(act(), _stax_conv(spec), act(), _stax_conv(spec))
    block = stax.serial(stax.FanOut(2), stax.parallel(branch, stax.Identity()), stax.FanInSum())
    layers = [_stax_conv(spec)] + [block] * spec.blocks + [act(), stax.GlobalAvgPool(),
                                                          _stax_readout(spec)]
    conv, phi = _conv_layer(spec), activation_fn(spec.activation)

    def features(params, h):
        h = conv(h, *params[0])
        for block_params in params[1:1 + spec.blocks]:
            # stax layout of one block: [FanOut (), (branch, Identity ()), FanInSum ()],
            # branch = [φ (), conv (W, b), φ (), conv (W, b)]
            (_, first, _, second), _ = block_params[1]
            h = h + conv(phi(conv(phi(h), *first)), *second)
        return jnp.mean(phi(h), axis=(1, 2))

    return _image_model(spec, layers, features)


# ----------------------------------------------------------------------------- features


def forward_features(network: Model, params: Params, x: jax.Array, eps=None):
    """MLP forward pass that also returns every Dense layer's input x^{l-1}.

    ``eps`` (optional, one array per Dense layer) is added to each pre-activation h^l; its
    gradient is the back-propagated vector δ^l = ∂f/∂h^l used by the empirical NTK.
    Returns (f(x), [x^0, x^1, ..., x^L]).
    """
    spec = check_model(network, "network", spec=MLP, purpose="the layer-by-layer pass").spec
    phi = activation_fn(spec.activation)
    layer = _dense_layer(spec.parameterization, spec.sigma_w2, spec.sigma_b2)
    dense = dense_layers(params)
    inputs, act = [], x
    for l, (W, b) in enumerate(dense):
        inputs.append(act)
        h = layer(act, W, b)
        if eps is not None:
            h = h + eps[l]
        act = phi(h) if l < len(dense) - 1 else h
    return act, inputs


def readout_features(model: Model, params: Params, x) -> jax.Array:
    """x^L: the input of the readout layer (last hidden layer's activations; for image models the
    pooled features), shape (N, n_L). Its Gram matrix gives the empirical NNGP kernel."""
    return check_model(model).features_fn(params, x)


# ----------------------------------------------------------------------------- parameters


def _is_weight_layer(p) -> bool:
    """A (W, b) pair of a Dense or Conv layer (b may be None)."""
    return (isinstance(p, (tuple, list)) and len(p) == 2 and hasattr(p[0], "ndim") and p[0].ndim >= 2
            and (p[1] is None or hasattr(p[1], "ndim")))


def dense_layers(params: Params) -> list[tuple]:
    """The (W, b) pairs of a flat layer list (MLP), input layer first, readout last (b may be None)."""
    return [p for p in params if len(p) > 0]


def weight_layers(params: Params) -> list[tuple]:
    """Every (W, b) pair of any model's parameters, in layer order (nested blocks included)."""
    if _is_weight_layer(params):
        return [tuple(params)]
    if isinstance(params, (tuple, list)):
        return [layer for p in params for layer in weight_layers(p)]
    return []


def _map_weight_layers(params: Params, fn: Callable) -> Params:
    """``params`` with every (W, b) pair replaced by ``fn(W, b)``; structure kept."""
    if _is_weight_layer(params):
        return type(params)(fn(*params))
    if isinstance(params, (tuple, list)):
        return type(params)(_map_weight_layers(p, fn) for p in params)
    return params


def _fan_in(W) -> int:
    """n_in of a Dense (n_in, n_out) or Conv (kh, kw, c_in, c_out) kernel."""
    return int(np.prod(W.shape[:-1]))


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
    """Per weight layer ||W^l_1 − W^l_0||_F / ||W^l_0||_F (paper Fig. 1b), input layer first."""
    out = []
    for (w0, _), (w1, _) in zip(weight_layers(params0), weight_layers(params1)):
        w0, w1 = np.asarray(w0, np.float64), np.asarray(w1, np.float64)  # host: no compile per shape
        out.append(float(np.linalg.norm(w1 - w0) / np.linalg.norm(w0)))
    return np.array(out)


def parameter_distance(params0: Params, params1: Params) -> float:
    """||θ_1 − θ_0||_2 over all trainable variables."""
    # on the host in float64: eager jnp reductions would compile once per leaf shape
    sq = sum(float(np.sum((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2)) for a, b in
             zip(jax.tree_util.tree_leaves(params1), jax.tree_util.tree_leaves(params0)))
    return float(np.sqrt(sq))


# ----------------------------------------------------------------------------- SM §F: NTK ↔ standard


def _per_layer_rates(lr, params: Params) -> Params:
    """``lr`` (a number or a pytree shaped like ``params``) as a (W-rate, b-rate) pair per layer."""
    if isinstance(lr, (int, float, np.floating, np.integer)) and not isinstance(lr, bool):
        eta = v.positive_float("lr", lr)
        return _map_weight_layers(params, lambda W, b: (eta, None if b is None else eta))

    def check(p, r, where):
        if _is_weight_layer(p):
            if not isinstance(r, (list, tuple)) or len(r) != 2:
                raise TypeError(f"lr{where} must be a (W rate, b rate) pair, got {r!r}")
            w_rate = v.positive_float(f"lr{where}[0]", float(r[0]))
            b_rate = None if p[1] is None else v.positive_float(f"lr{where}[1]", float(r[1]))
            return (w_rate, b_rate)
        if isinstance(p, (tuple, list)):
            if not isinstance(r, (list, tuple)) or len(r) != len(p):
                raise TypeError("lr must be a positive number or a pytree of rates shaped like "
                                f"params: at lr{where or ' (top level)'} expected {len(p)} entries, got {r!r}")
            return type(p)(check(a, b, f"{where}[{i}]") for i, (a, b) in enumerate(zip(p, r)))
        return r

    return check(params, lr, "")


def equivalent_learning_rates(network: Model, params: Params, lr, *, to: str) -> Params:
    """Per-leaf learning rates that make GD in the other parameterization follow the same path
    (paper SM §F, eq. S36–S37).

    With W = (σ_w/√n_in) ω and b = σ_b β, a GD step of rate η_ω on ω moves W by
    −η_ω (σ_w²/n_in) ∂L/∂W, and a step of rate η_β on β moves b by −η_β σ_b² ∂L/∂b. Hence

        to="standard":  η^l_{W,std} = η^l_ω σ_w² / n_in,   η^l_{b,std} = η^l_β σ_b²;
        to="ntk":       η^l_ω = η^l_{W,std} n_in / σ_w²,   η^l_β = η^l_{b,std} / σ_b²,

    which for η_std = η_0/n_max is eq. S37: η_ω = n_l η_0/(n_max σ_w²), η_β = η_0/(n_max σ_b²).
    ``network`` supplies σ_w², σ_b² (its own parameterization is not used); ``params`` supplies
    each layer's fan-in n_in (Dense: rows of W; Conv: kh·kw·c_in) and the pytree structure (the
    same in both parameterizations); ``lr`` is a number or a per-leaf pytree in the *source*
    parameterization. Returns a pytree with the structure of ``params`` (one rate per W and b,
    () for parameter-free layers), usable as ``lr`` in :func:`ntklib.dynamics.gradient_descent`.
    """
    check_model(network, "network")
    v.choice("to", to, PARAMETERIZATIONS)
    rates = _per_layer_rates(lr, params)
    sigma_w2, sigma_b2 = network.sigma_w2, network.sigma_b2

    def convert(p, r):
        if not _is_weight_layer(p):
            return type(p)(convert(a, b) for a, b in zip(p, r)) if isinstance(p, (tuple, list)) else r
        w_factor, b_factor = sigma_w2 / _fan_in(p[0]), sigma_b2
        if to == "ntk":
            w_factor, b_factor = 1.0 / w_factor, (1.0 / b_factor if b_factor > 0 else 0.0)
        w_rate, b_rate = r
        return (float(w_rate) * w_factor, None if b_rate is None else float(b_rate) * b_factor)

    return convert(params, rates)


def ntk_to_standard_params(network: Model, params: Params) -> Params:
    """Map NTK-parameterization variables (ω, β) to the equivalent standard-parameterization
    weights: W = σ_w ω / √n_in, b = σ_b β (paper eq. 1 and SM §F).

    ``network`` must be the NTK-parameterized network that ``params`` belong to; the result,
    fed to ``network.replace(parameterization="standard")``, computes the same function.
    """
    check_model(network, "network")
    if network.parameterization != "ntk":
        raise ValueError(f"network must use parameterization='ntk', got {network.parameterization!r}")
    sw, sb = network.sigma_w2 ** 0.5, network.sigma_b2 ** 0.5
    return _map_weight_layers(params, lambda W, b: (W * (sw / _fan_in(W) ** 0.5),
                                                    None if b is None else b * sb))


def standard_to_ntk_params(network: Model, params: Params) -> Params:
    """Inverse of :func:`ntk_to_standard_params`: ω = √n_in W / σ_w, β = b / σ_b.

    ``network`` is either network of the pair (only σ_w², σ_b² are read); σ_b² must be > 0
    when the layers have biases.
    """
    check_model(network, "network")
    sw, sb = network.sigma_w2 ** 0.5, network.sigma_b2 ** 0.5
    if sb == 0 and any(b is not None for _, b in weight_layers(params)):
        raise ValueError("params have biases but network.sigma_b2 = 0: β = b/σ_b is undefined")
    return _map_weight_layers(params, lambda W, b: (W * (_fan_in(W) ** 0.5 / sw),
                                                    None if b is None else b / sb))


# ----------------------------------------------------------------------------- convolutions


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
