"""Data, models and the parameterizations."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ntklib import data, kernels, models


def test_digits_shapes_normalization_and_disjoint_split():
    ds = data.digits(50, 20, seed=0)
    assert ds.x_train.shape == (50, 64) and ds.y_train.shape == (50, 10)
    np.testing.assert_allclose(np.sum(ds.x_train ** 2, axis=1), 64, rtol=1e-5)
    np.testing.assert_allclose(ds.y_train.sum(axis=1), 1)
    binary = data.digits(30, 10, binary=True, classes=[3, 8], seed=1)
    assert binary.y_train.shape == (30, 1) and set(np.unique(binary.y_train)) <= {-1.0, 1.0}
    rows = {tuple(np.round(r, 4)) for r in ds.x_train}
    assert not any(tuple(np.round(r, 4)) in rows for r in ds.x_test)
    again = data.digits(50, 20, seed=0)
    np.testing.assert_array_equal(ds.x_train, again.x_train)


def test_interpolate_and_gaussian_inputs():
    x1, x2 = np.ones(3), np.zeros(3)
    line = data.interpolate(x1, x2, np.array([-1.0, 0.0, 0.5, 2.0]))
    np.testing.assert_allclose(line[:, 0], [-1.0, 0.0, 0.5, 2.0])
    g = data.gaussian_inputs(2000, 3, seed=0)
    assert g.shape == (2000, 3) and abs(g.var() - 1) < 0.05


def _max_diff(a, b):
    return max(float(jnp.max(jnp.abs(u - w))) for u, w in
               zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)))


@pytest.mark.parametrize("activation", ["relu", "erf", "tanh"])
@pytest.mark.parametrize("parameterization", ["ntk", "standard"])
@pytest.mark.parametrize("sigma_b2", [0.0, 0.2])
def test_apply_fn_and_its_derivatives_equal_stax(x64, activation, parameterization, sigma_b2):
    # width 256 takes dense_product's rewritten tangent for the hidden 256×256 layer
    net = models.mlp(2, 256, activation=activation, parameterization=parameterization, out_dim=2,
                     sigma_b2=sigma_b2)
    ref = net.stax_apply_fn  # neural-tangents' own implementation of the same layers
    x = jnp.asarray(data.gaussian_inputs(6, 5, seed=1), jnp.float64)
    params = jax.tree_util.tree_map(lambda a: a.astype(jnp.float64), net.init(0, 5))
    tangent = jax.tree_util.tree_map(lambda a: jnp.cos(a), params)
    for f in (net.apply_fn, lambda p, z: models.forward_features(net, p, z)[0]):
        assert _max_diff(f(params, x), ref(params, x)) < 1e-12
        loss = lambda g: (lambda p: jnp.sum(jnp.sin(g(p, x))))
        assert _max_diff(jax.grad(loss(f))(params), jax.grad(loss(ref))(params)) < 1e-11
        jvp = lambda g: jax.jvp(lambda p: g(p, x), (params,), (tangent,))[1]
        assert _max_diff(jvp(f), jvp(ref)) < 1e-11
        hvp = lambda g: jax.jvp(jax.grad(loss(g)), (params,), (tangent,))[1]
        assert _max_diff(hvp(f), hvp(ref)) < 1e-10
        grad_x = lambda g: jax.grad(lambda z: jnp.sum(g(params, z) ** 2))(x)
        assert _max_diff(grad_x(f), grad_x(ref)) < 1e-11
    pair = jax.tree_util.tree_map(lambda a: jnp.stack([a, 2 * a]), params)
    vgrad = lambda g: jax.vmap(jax.grad(lambda p: jnp.sum(g(p, x) ** 2)))(pair)
    assert _max_diff(vgrad(net.apply_fn), vgrad(ref)) < 1e-10


def test_float32_inputs_meet_float64_weights_unrounded(x64):
    # the NTK scale is applied to the input before the product: it must not round float32 data
    net = models.mlp(2, 64)
    params = jax.tree_util.tree_map(lambda a: a.astype(jnp.float64), net.init(0, 5))
    x32 = jnp.asarray(data.gaussian_inputs(4, 5, seed=3), jnp.float32)
    out = net.apply_fn(params, x32)
    assert out.dtype == jnp.float64
    assert _max_diff(out, net.apply_fn(params, x32.astype(jnp.float64))) < 1e-14


def test_relu_derivative_convention():
    # the mask 1[x > 0]: 0 at an exact zero (as jax.nn.relu), stax's ABRelu gives 1/2 there
    relu = models.activation_fn("relu")
    x = jnp.array([-1.0, 0.0, 2.0])
    np.testing.assert_array_equal(relu(x), [0.0, 0.0, 2.0])
    np.testing.assert_array_equal(jax.vmap(jax.grad(relu))(x), [0.0, 0.0, 1.0])
    # forward mode and second derivatives follow the same rule (the mask is read off φ(x))
    np.testing.assert_array_equal(jax.jvp(relu, (x,), (jnp.full(3, 3.0),))[1], [0.0, 0.0, 3.0])
    np.testing.assert_array_equal(jax.vmap(jax.grad(jax.grad(relu)))(x), [0.0, 0.0, 0.0])


def test_variances_not_standard_deviations():
    """σ_w² = 4 must give Var[h¹] = 4·||x||²/n0 (stax would give 16 if passed W_std = 4)."""
    net = models.mlp(1, 4096, activation="relu", sigma_w2=4.0, sigma_b2=0.25)
    x = np.ones((1, 8), np.float32)
    k, _ = kernels.relu_kernels(x, depth=1, sigma_w2=4.0, sigma_b2=0.25)
    np.testing.assert_allclose(kernels.analytic_nngp(net, x), k, rtol=1e-6)
    params = net.init(0, 8)
    w, b = models.dense_layers(params)[0]
    h = 2.0 / np.sqrt(8) * x @ w + 0.5 * b
    assert abs(float(jnp.var(h)) - (4.0 + 0.25)) < 0.3


def test_parameterizations_agree_at_init_in_distribution():
    """Same σ's: NTK and standard parameterizations have the same NNGP kernel."""
    x = data.gaussian_inputs(3, 6)
    a = models.mlp(2, 32, parameterization="ntk")
    b = models.mlp(2, 32, parameterization="standard")
    np.testing.assert_allclose(kernels.analytic_nngp(a, x), kernels.analytic_nngp(b, x), rtol=1e-6)


def test_no_bias_when_sigma_b2_zero():
    net = models.mlp(2, 8, sigma_b2=0.0)
    assert all(b is None for _, b in models.dense_layers(net.init(0, 3)))


def test_linearize_is_exact_for_a_model_linear_in_parameters():
    apply_fn = lambda p, x: x @ p["w"] + p["b"]
    p0 = {"w": jnp.ones((3, 1)), "b": jnp.zeros((1,))}
    p1 = {"w": jnp.arange(3.0).reshape(3, 1), "b": jnp.ones((1,))}
    x = data.gaussian_inputs(4, 3)
    np.testing.assert_allclose(models.linearize(apply_fn, p0)(p1, x), apply_fn(p1, x), rtol=1e-6)


def test_relative_weight_change_and_distance():
    net = models.mlp(2, 8)
    p0, p1 = net.init(0, 3), net.init(1, 3)
    rel = models.relative_weight_change(p0, p0)
    np.testing.assert_allclose(rel, 0.0)
    assert models.relative_weight_change(p0, p1).shape == (3,)
    doubled = jax.tree_util.tree_map(lambda a: 2 * a, p0)
    expected = np.sqrt(sum(float(jnp.sum(a ** 2)) for a in jax.tree_util.tree_leaves(p0)))
    assert models.parameter_distance(p0, doubled) == pytest.approx(expected, rel=1e-5)
    assert models.parameter_count(p0) == 3 * 8 + 8 + 8 * 8 + 8 + 8 * 1 + 1


def test_ntklib_starts_without_tensorflow_and_neural_tangents_tf_interop_still_loads():
    """neural-tangents' TF interop (nt.experimental) is deferred: importing ntklib and using stax
    does not import TensorFlow; the first use of nt.experimental imports the real package."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from ntklib import models\n"
        "import jax.numpy as jnp\n"
        "nt = models.nt\n"
        "k = nt.stax.serial(nt.stax.Dense(4), nt.stax.Relu(), nt.stax.Dense(1))[2]\n"
        "k(jnp.ones((2, 3)), None, 'ntk')\n"
        "assert 'tensorflow' not in sys.modules, 'TensorFlow imported at start'\n"
        "f = nt.experimental.empirical_ntk_fn_tf\n"
        "assert callable(f) and 'tensorflow' in sys.modules\n"
        "assert type(sys.modules['neural_tangents.experimental']).__name__ == 'module'\n"
        "assert nt.experimental is sys.modules['neural_tangents.experimental']\n"
        "print('ok')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]
