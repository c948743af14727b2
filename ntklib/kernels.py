"""Empirical and analytic kernels.

Empirical NTK (paper eq. 3): Θ̂(x, x') = ∇_θ f(x) ∇_θ f(x')ᵀ, a (N1·k) × (N2·k) matrix with
examples major and outputs minor (row i·k + a is output a of example i).
Empirical NNGP: the readout layer's feature kernel K̂(x, x') = (σ_w²/n_L) x^L·x'^L + σ_b²
(NTK parameterization), which converges to the NNGP kernel K as n → ∞.
Analytic kernels: the infinite-width recursions of SM §E, through neural-tangents' stax and
through closed forms written here (ReLU: arc-cosine, Cho & Saul 2009; erf: Williams 1997).
Every function takes any ntklib model; a spec type with a faster exact formula registers it with
:func:`structured_ntk` (the MLP's per-layer formula), every other model takes the generic path.
"""

from __future__ import annotations

from functools import lru_cache, partial, singledispatch
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from . import _validate as v
from .models import MLP, Model, Params, check_model, dense_layers, forward_features, readout_features

__all__ = [
    "DEFAULT_JACOBIAN_BYTES", "layer_jacobian_factors", "VECTOR_PRODUCT_MAX_COLUMNS",
    "structured_ntk", "empirical_ntk", "empirical_nngp", "analytic_kernels", "analytic_ntk",
    "analytic_nngp", "relu_kernels", "erf_kernels", "eta_critical", "divergence_learning_rate",
    "kernel_alignment",
]

DEFAULT_JACOBIAN_BYTES = 1 << 30  # 1 GiB: above this the generic path works in blocks of inputs


# ----------------------------------------------------------------------------- empirical NTK


def _check_inputs(x1, x2):
    x1 = v.finite_array("x1", x1, ndim=2)
    x2 = x1 if x2 is None else v.finite_array("x2", x2, ndim=2)
    if x1.shape[1] != x2.shape[1]:
        raise ValueError(f"x1 and x2 must have the same input dimension, got {x1.shape} and {x2.shape}")
    return jnp.asarray(x1), jnp.asarray(x2)


def _layer_scales(network: Model, W, b) -> tuple[float, float]:
    """(c_w, c_b) with ∂h/∂ω = c_w^{1/2} x and ∂h/∂β = c_b^{1/2} for one Dense layer."""
    if network.parameterization == "ntk":
        return network.sigma_w2 / W.shape[0], (network.sigma_b2 if b is not None else 0.0)
    return 1.0, (1.0 if b is not None else 0.0)


def layer_jacobian_factors(network: Model, params: Params, x: jax.Array) -> list[tuple]:
    """Per Dense layer l: (x^{l-1} (N, n_{l-1}), δ^l = ∂f/∂h^l (k, N, n_l), c_w, c_b).

    The Jacobian of layer l factorizes: ∂f_a(x)/∂ω^l_{ij} = c_w^{1/2} x^{l-1}_i δ^l_{a,j} and
    ∂f_a(x)/∂β^l_j = c_b^{1/2} δ^l_{a,j}, so Θ = Σ_l (c_w x^{l-1}x'^{l-1ᵀ} + c_b) · δ^l δ'^{lᵀ}.
    """
    dense = dense_layers(params)
    eps = [jnp.zeros((x.shape[0], W.shape[1]), x.dtype) for W, _ in dense]
    (out, inputs), vjp = jax.vjp(lambda e: forward_features(network, params, x, e), eps)
    k = out.shape[-1]
    cotangents = jnp.broadcast_to(jnp.eye(k, dtype=out.dtype)[:, None, :], (k,) + out.shape)
    zeros_inputs = [jnp.zeros_like(a) for a in inputs]
    deltas = jax.vmap(lambda ct: vjp((ct, zeros_inputs))[0])(cotangents)
    return [(a, e) + _layer_scales(network, W, b) for (W, b), a, e in zip(dense, inputs, deltas)]


@partial(jax.jit, static_argnums=(0,))
def _mlp_ntk(network: Model, params: Params, x1, x2):
    f1 = layer_jacobian_factors(network, params, x1)
    f2 = layer_jacobian_factors(network, params, x2)
    n1, n2, k = x1.shape[0], x2.shape[0], f1[0][1].shape[0]
    theta = jnp.zeros((n1, k, n2, k), x1.dtype)
    for (a1, e1, c_w, c_b), (a2, e2, _, _) in zip(f1, f2):
        gram = c_w * a1 @ a2.T + c_b  # Σ over the layer's parameters of ∂h·∂h'
        theta = theta + gram[:, None, :, None] * jnp.einsum("aim,bjm->iajb", e1, e2)
    return theta.reshape(n1 * k, n2 * k)


def _per_example_jacobian(apply_fn: Callable, params: Params, x):
    """Leaves of shape (B, k, *leaf.shape): ∂f(x_i)/∂θ for each example of the block."""
    single = lambda p, xi: apply_fn(p, xi[None])[0]
    return jax.vmap(jax.jacrev(single), in_axes=(None, 0))(params, x)


@partial(jax.jit, static_argnums=(0,))
def _jacobian_block_ntk(apply_fn: Callable, params: Params, x1, x2):
    j1 = _per_example_jacobian(apply_fn, params, x1)
    j2 = _per_example_jacobian(apply_fn, params, x2)
    contract = lambda a, b: jnp.einsum("iaP,jbP->iajb", a.reshape(a.shape[:2] + (-1,)),
                                       b.reshape(b.shape[:2] + (-1,)))
    blocks = jax.tree_util.tree_map(contract, j1, j2)
    theta = sum(jax.tree_util.tree_leaves(blocks))
    n1, k, n2, _ = theta.shape
    return theta.reshape(n1 * k, n2 * k)


@partial(jax.jit, static_argnums=(0,))
def _ntk_vector_products(apply_fn: Callable, params: Params, x1, x2):
    """Θ̂(x1_i, x2_j)_{ab} = ∂_θ f_a(x1_i) · ∂_θ f_b(x2_j) from NTK-vector products, vmapped over
    all pairs; returns (N1·k, N2·k). Never forms J(x1).

    The map δ ↦ J(x1_i) J(x2_j)ᵀ δ (a VJP at x2_j, then a JVP at x1_i) is transposed with
    ``jax.linear_transpose`` and applied to the basis vectors e_a: (J(x1_i) J(x2_j)ᵀ)ᵀ e_a is row a.
    This is neural-tangents' NTK_VECTOR_PRODUCTS order; it runs the reverse-mode (backward) pass
    at x1_i, which is faster than forward mode for ntklib's networks (models.dense_product).
    """
    single = lambda p, x: apply_fn(p, x[None])[0]
    out = jax.eval_shape(single, params, x2[0])
    k = out.shape[-1]
    eye = jnp.eye(k, dtype=x2.dtype)

    def pair(xi, xj):
        def vjp_then_jvp(delta):
            _, pullback = jax.vjp(lambda p: single(p, xj), params)
            return jax.jvp(lambda p: single(p, xi), (params,), pullback(delta))[1]
        transposed = jax.linear_transpose(vjp_then_jvp, out)
        return jax.vmap(lambda e: transposed(e)[0])(eye)  # [a, b]

    theta = jax.vmap(lambda xi: jax.vmap(lambda xj: pair(xi, xj))(x2))(x1)  # (N1, N2, k, k)
    return theta.transpose(0, 2, 1, 3).reshape(x1.shape[0] * k, x2.shape[0] * k)


@lru_cache(maxsize=64)
def _output_dim(apply_fn: Callable, treedef, leaf_specs: tuple, input_shape: tuple) -> int:
    """k of ``apply_fn`` for parameters of this structure (traced once per structure, then cached)."""
    params = jax.tree_util.tree_unflatten(treedef, [jax.ShapeDtypeStruct(s, d) for s, d in leaf_specs])
    return int(jax.eval_shape(apply_fn, params, jax.ShapeDtypeStruct((1,) + input_shape, jnp.float32)).shape[-1])


#: the generic path switches from NTK-vector products to Jacobian contraction above this many
#: columns N2·k (measured crossover on CPU for dense layers; see BENCHMARKS.md)
VECTOR_PRODUCT_MAX_COLUMNS = 64

#: ... and takes vector products only for models whose forward pass uses each parameter about
#: once per example (dense layers: FLOPs/parameter ≈ 2). A convolution reuses each filter weight
#: at every pixel (FLOPs/parameter ≈ 2·pixels), so N2·k forward-backward passes over x1 cost far
#: more than per-example Jacobians: measured for chapter 6's 64-channel CNN and ResNet on 8×8
#: images (128 inputs), Jacobian contraction was 47× and 27× faster.
VECTOR_PRODUCT_MAX_FLOPS_PER_PARAMETER = 4.0


@lru_cache(maxsize=64)
def _flops_per_parameter(apply_fn: Callable, treedef, leaf_specs: tuple, input_shape: tuple) -> float:
    """XLA's FLOP count of one example's forward pass over the number of parameters (cached per
    structure); inf when XLA gives no count, so that ``auto`` then takes Jacobian contraction
    (the method whose cost does not grow with the number of output columns)."""
    params = jax.tree_util.tree_unflatten(treedef, [jax.ShapeDtypeStruct(s, d) for s, d in leaf_specs])
    x = jax.ShapeDtypeStruct((1,) + input_shape, jnp.float32)
    cost = jax.jit(apply_fn).lower(params, x).cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) and cost else cost
    flops = float(cost.get("flops", np.inf)) if isinstance(cost, dict) else np.inf
    return flops / max(1, sum(int(np.prod(s)) for s, _ in leaf_specs))


def _generic_ntk(apply_fn, params, x1, x2, max_bytes, implementation):
    leaves, treedef = jax.tree_util.tree_flatten(params)
    n_params = sum(np.size(leaf) for leaf in leaves)
    leaf_specs = tuple((leaf.shape, leaf.dtype) for leaf in leaves)
    k = _output_dim(apply_fn, treedef, leaf_specs, x1.shape[1:])
    n1, n2 = x1.shape[0], x2.shape[0]
    if implementation == "auto":
        dense = (_flops_per_parameter(apply_fn, treedef, leaf_specs, x1.shape[1:])
                 <= VECTOR_PRODUCT_MAX_FLOPS_PER_PARAMETER)
        implementation = ("vector_products" if dense and n2 * k <= VECTOR_PRODUCT_MAX_COLUMNS
                          else "jacobian_contraction")
    if implementation == "vector_products":
        # the reverse passes at a block of x1 hold J(x1_block)ᵀ: at most max_bytes of it at once
        block = int(max(1, max_bytes // max(1, 2 * 4 * k * n_params)))  # J(x1_block)ᵀ + temporaries
        block = -(-n1 // -(-n1 // block))  # equal blocks: ceil(n1 / number of blocks)
        return jnp.concatenate([_ntk_vector_products(apply_fn, params, x1[i:i + block], x2)
                                for i in range(0, n1, block)], axis=0)
    per_example = max(1, 4 * k * n_params)
    block = int(max(1, max_bytes // (2 * per_example)))
    if block >= max(n1, n2):
        return _jacobian_block_ntk(apply_fn, params, x1, x2)
    rows = []
    for i in range(0, n1, block):
        rows.append(jnp.concatenate([_jacobian_block_ntk(apply_fn, params, x1[i:i + block], x2[j:j + block])
                                     for j in range(0, n2, block)], axis=1))
    return jnp.concatenate(rows, axis=0)


@singledispatch
def structured_ntk(spec) -> Callable | None:
    """The fast empirical-NTK formula registered for a spec type, ``(model, params, x1, x2) ↦ Θ̂``,
    or None (then :func:`empirical_ntk` takes the generic Jacobian path). Register with
    ``@structured_ntk.register`` on a new spec type."""
    return None


@structured_ntk.register
def _(spec: MLP) -> Callable:
    return _mlp_ntk


def empirical_ntk(model: Model | Callable, params: Params, x1, x2=None, *,
                  trace_outputs: bool = False, max_jacobian_bytes: int = DEFAULT_JACOBIAN_BYTES,
                  implementation: str = "auto", batch_size: int | None = None) -> np.ndarray:
    """Θ̂(x1, x2) = J(x1) J(x2)ᵀ (paper eq. 3), shape (N1·k, N2·k), examples major.

    ``model`` is an ntklib :class:`~ntklib.models.Model` or any ``apply_fn(params, x)``. A model
    whose spec type has a structured formula uses it (:func:`structured_ntk`; the MLP's is exact
    per layer, Θ̂ = Σ_l (c_w x^{l-1}·x'^{l-1} + c_b) δ^l·δ'^l, never forming J); every other
    model by one of two generic methods that agree to float rounding:
    ``"jacobian_contraction"`` (per-example Jacobians contracted in blocks of inputs so that no
    block exceeds ``max_jacobian_bytes``) or ``"vector_products"`` (Θ̂_ij = J(x1_i)(J(x2_j)ᵀe_b):
    a VJP then a JVP, in blocks of x2 within the same budget); ``"auto"`` picks vector products
    for at most :data:`VECTOR_PRODUCT_MAX_COLUMNS` columns N2·k, where they are faster.
    ``batch_size`` computes Θ̂ in (batch_size·k)² tiles on the device and assembles it in host
    memory (for kernels larger than the device). ``trace_outputs=True`` returns the (N1, N2)
    mean of the k diagonal output blocks — neural-tangents' default ``trace_axes=(-1,)``.
    """
    x1, x2 = _check_inputs(x1, x2)
    v.choice("implementation", implementation, ("auto", "jacobian_contraction", "vector_products"))
    max_jacobian_bytes = v.positive_int("max_jacobian_bytes", max_jacobian_bytes)
    fast = structured_ntk(model.spec) if isinstance(model, Model) else None
    if fast is not None:
        block_fn = lambda a, b: fast(model, params, a, b)
    elif callable(model) or isinstance(model, Model):
        apply_fn = model.apply_fn if isinstance(model, Model) else model
        block_fn = lambda a, b: _generic_ntk(apply_fn, params, a, b, max_jacobian_bytes, implementation)
    else:
        raise TypeError(f"model must be an ntklib Model or an apply_fn(params, x), got {type(model).__name__}")
    theta = _tiled(block_fn, x1, x2, batch_size)
    if trace_outputs:
        n1, n2 = x1.shape[0], x2.shape[0]
        k = theta.shape[0] // n1
        theta = np.einsum("iajb->ij", (theta.reshape(n1, k, n2, k) * np.eye(k)[None, :, None, :])) / k
    return theta


def _tiled(block_fn: Callable, x1, x2, batch_size: int | None) -> np.ndarray:
    """block_fn(x1, x2) assembled on the host from tiles of at most batch_size × batch_size inputs."""
    if batch_size is None:
        return np.asarray(block_fn(x1, x2))
    batch_size = v.positive_int("batch_size", batch_size)
    return np.block([[np.asarray(block_fn(x1[i:i + batch_size], x2[j:j + batch_size]))
                      for j in range(0, x2.shape[0], batch_size)]
                     for i in range(0, x1.shape[0], batch_size)])


def empirical_nngp(network: Model, params: Params, x1, x2=None) -> np.ndarray:
    """K̂(x1, x2) = c_w x^L(x1)·x^L(x2) + c_b: the readout layer's feature kernel, shape (N1, N2).

    x^L is the readout's input (:func:`~ntklib.models.readout_features`: the last hidden layer,
    or the pooled features of an image model). With c_w = σ_w²/n_L, c_b = σ_b² (NTK param.) this
    is the readout-only part of Θ̂ and converges to the NNGP kernel K as the width n_L → ∞
    (paper §2.3.1, Fig. 1d, Fig. S9).
    """
    check_model(network, "network")
    square = x2 is None
    x1, x2 = _check_inputs(x1, x2)
    feat1 = readout_features(network, params, x1)
    feat2 = feat1 if square else readout_features(network, params, x2)
    c_w, c_b = network.sigma_w2 / feat1.shape[-1], network.sigma_b2  # same in both parameterizations
    return np.asarray(c_w * feat1 @ feat2.T + c_b)


# ----------------------------------------------------------------------------- analytic kernels


def analytic_kernels(network: Model, x1, x2=None, *,
                     batch_size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Infinite-width (NNGP K, NTK Θ) of ``network`` via neural-tangents' stax, each (N1, N2);
    ``batch_size`` tiles the inputs as in :func:`empirical_ntk` (``nt.batch``-style)."""
    check_model(network, "network")
    square = x2 is None
    x1, x2 = _check_inputs(x1, x2)

    def block(a, b):
        kern = network.kernel_fn(a, b, ("nngp", "ntk"))
        return np.stack([np.asarray(kern.nngp), np.asarray(kern.ntk)])

    nngp, ntk = _tiled(block, x1, x2, batch_size)
    if square:  # K(X, X) is symmetric; stax's float32 convolutions leave ~1e-4 round-off asymmetry
        nngp, ntk = (nngp + nngp.T) / 2, (ntk + ntk.T) / 2
    return nngp, ntk


def analytic_ntk(network: Model, x1, x2=None) -> np.ndarray:
    """Analytic NTK Θ(x1, x2) of the infinite-width network (SM §E), shape (N1, N2)."""
    return analytic_kernels(network, x1, x2)[1]


def analytic_nngp(network: Model, x1, x2=None) -> np.ndarray:
    """Analytic NNGP kernel K(x1, x2) = lim E[f_0(x1) f_0(x2)] (paper eq. 12), shape (N1, N2)."""
    return analytic_kernels(network, x1, x2)[0]


def _relu_expectations(k11, k22, k12):
    """ReLU arc-cosine forms: T = √(k11 k22)(sin θ + (π − θ) cos θ)/(2π), Ṫ = (π − θ)/(2π)."""
    norm = np.sqrt(k11 * k22)
    cos = np.clip(k12 / norm, -1.0, 1.0)
    angle = np.arccos(cos)
    t = norm * (np.sin(angle) + (np.pi - angle) * cos) / (2 * np.pi)
    t_dot = (np.pi - angle) / (2 * np.pi)
    return t, t_dot


def _erf_expectations(k11, k22, k12):
    """erf forms: T = (2/π) arcsin(2k12/√((1+2k11)(1+2k22))), Ṫ = (4/π) det(I + 2Σ)^{-1/2}."""
    prod = (1 + 2 * k11) * (1 + 2 * k22)
    t = (2 / np.pi) * np.arcsin(np.clip(2 * k12 / np.sqrt(prod), -1.0, 1.0))
    t_dot = (4 / np.pi) / np.sqrt(prod - 4 * k12 ** 2)
    return t, t_dot


def _recursion(expectations, x1, x2, depth, sigma_w2, sigma_b2):
    """SM §E: K¹ = σ_w² x·x'/n0 + σ_b²; K^{l+1} = σ_w² T(K^l) + σ_b²; Θ^{l+1} = K^{l+1} + σ_w² Θ^l Ṫ(K^l)."""
    x1 = v.finite_array("x1", x1, ndim=2).astype(np.float64)
    x2 = x1 if x2 is None else v.finite_array("x2", x2, ndim=2).astype(np.float64)
    if x1.shape[1] != x2.shape[1]:
        raise ValueError(f"x1 and x2 must have the same input dimension, got {x1.shape} and {x2.shape}")
    depth = v.positive_int("depth", depth)
    sigma_w2 = v.positive_float("sigma_w2", sigma_w2)
    sigma_b2 = v.positive_float("sigma_b2", sigma_b2, allow_zero=True)
    n0 = x1.shape[1]
    k12 = sigma_w2 * x1 @ x2.T / n0 + sigma_b2
    k11 = (sigma_w2 * np.sum(x1 ** 2, axis=1) / n0 + sigma_b2)[:, None]
    k22 = (sigma_w2 * np.sum(x2 ** 2, axis=1) / n0 + sigma_b2)[None, :]
    ntk = k12.copy()
    for _ in range(depth):
        t, t_dot = expectations(k11, k22, k12)
        t11, _ = expectations(k11, k11, k11)
        t22, _ = expectations(k22, k22, k22)
        k12 = sigma_w2 * t + sigma_b2
        ntk = k12 + sigma_w2 * ntk * t_dot
        k11, k22 = sigma_w2 * t11 + sigma_b2, sigma_w2 * t22 + sigma_b2
    return k12, ntk


def relu_kernels(x1, x2=None, *, depth: int, sigma_w2: float = 2.0, sigma_b2: float = 0.1):
    """Closed-form (NNGP, NTK) of a depth-``depth`` ReLU MLP in float64 (SM §C, §E)."""
    return _recursion(_relu_expectations, x1, x2, depth, sigma_w2, sigma_b2)


def erf_kernels(x1, x2=None, *, depth: int, sigma_w2: float = 2.0, sigma_b2: float = 0.1):
    """Closed-form (NNGP, NTK) of a depth-``depth`` erf MLP in float64 (SM §C, §E)."""
    return _recursion(_erf_expectations, x1, x2, depth, sigma_w2, sigma_b2)


# ----------------------------------------------------------------------------- spectra


def _spectrum(theta_train) -> np.ndarray:
    theta = v.symmetric_matrix("theta_train", theta_train).astype(np.float64)
    return np.linalg.eigvalsh(theta)


def eta_critical(theta_train, *, out_dim: int = 1) -> float:
    """η_critical = 2·N·k / (λ_min + λ_max) of the train NTK (Theorem 2.1).

    Book convention: loss = ½·mean over all N·k output entries, t = η·steps. ``theta_train`` is the
    (N, N) kernel of one output (the analytic NTK is Θ ⊗ I_k, so its eigenvalues are those of Θ).
    The paper's summed loss gives 2/(λ_min + λ_max); the two differ by the factor N·k.
    """
    lam = _spectrum(theta_train)
    k = v.positive_int("out_dim", out_dim)
    return float(2.0 * lam.size * k / (lam[0] + lam[-1]))


def divergence_learning_rate(theta_train, *, out_dim: int = 1, momentum: float = 0.0) -> float:
    """2·(1 + β)·N·k / λ_max: above it gradient descent on the *linear* model diverges.

    This is what neural-tangents' ``predict.max_learning_rate`` returns; it is not η_critical.
    """
    lam = _spectrum(theta_train)
    k = v.positive_int("out_dim", out_dim)
    beta = v.positive_float("momentum", momentum, allow_zero=True)
    return float(2.0 * (1.0 + beta) * lam.size * k / lam[-1])


def kernel_alignment(theta, y) -> float:
    """Kernel–target alignment A(Θ, y) = yᵀΘy / (‖Θ‖_F ‖y‖²) (Cristianini et al. 2002): 1 when Θ
    is a multiple of yyᵀ, about 1/N for an identity-like kernel; invariant to the kernel's scale.
    ``theta`` (N, N), ``y`` N targets (one output). A kernel that moves during training toward the
    target's direction (feature learning) raises it.

    >>> y = np.array([1.0, -1.0])
    >>> kernel_alignment(np.outer(y, y), y), kernel_alignment(np.eye(2), y)
    (1.0, 0.7071067811865475)
    """
    theta = v.symmetric_matrix("theta", theta).astype(np.float64)
    y = v.finite_array("y", y).astype(np.float64).ravel()
    if y.size != theta.shape[0]:
        raise ValueError(f"y has {y.size} entries but theta is {theta.shape}")
    norm_y, norm_theta = float(y @ y), float(np.linalg.norm(theta))
    if norm_y == 0.0 or norm_theta == 0.0:
        raise ValueError("kernel_alignment needs a nonzero kernel and nonzero targets")
    return float(y @ theta @ y / (norm_theta * norm_y))
