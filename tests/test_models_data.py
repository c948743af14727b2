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


@pytest.mark.parametrize("activation", ["relu", "erf", "tanh"])
def test_forward_features_equals_stax(activation):
    for par in ["ntk", "standard"]:
        net = models.mlp(3, 16, activation=activation, parameterization=par, out_dim=2, sigma_b2=0.2)
        x = data.gaussian_inputs(4, 5)
        params = net.init(0, 5)
        f, inputs = models.forward_features(net, params, x)
        np.testing.assert_allclose(f, net.apply_fn(params, x), rtol=1e-6, atol=1e-6)
        assert [a.shape[1] for a in inputs] == [5, 16, 16, 16]


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
