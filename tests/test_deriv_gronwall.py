"""Chapter 4's Hessian view of linearization: ||H||_op by power iteration, Taylor's bound."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from ntklib import bounds, data, dynamics, models
from ntklib.experiments import gronwall as gx


def _tiny(width=5, depth=2, activation="erf", input_dim=3, seed=0, out_dim=1):
    net = models.mlp(depth, width, activation=activation, out_dim=out_dim)
    params = net.init(seed, input_dim)
    x = data.gaussian_inputs(1, input_dim, seed=seed + 7)[0]
    return net, params, x


def _explicit_hessian(net, params, x) -> np.ndarray:
    flat, unravel = ravel_pytree(params)
    f = lambda p: net.apply_fn(unravel(p), jnp.asarray(x)[None])[0, 0]
    return np.asarray(jax.hessian(f)(flat), np.float64)


@pytest.mark.parametrize("activation, depth", [("erf", 2), ("tanh", 1), ("erf", 3)])
def test_power_iteration_matches_the_explicit_hessian(activation, depth):
    net, params, x = _tiny(activation=activation, depth=depth)
    hess = _explicit_hessian(net, params, x)
    exact = float(np.max(np.abs(np.linalg.eigvalsh((hess + hess.T) / 2))))
    est = gx.hessian_norm(net, params, x, iterations=400, seed=1)
    assert est.value == pytest.approx(exact, rel=2e-4)
    # a lower bound that never decreases (float32 round-off aside)
    assert np.all(est.history <= exact * (1 + 1e-5))
    assert np.all(np.diff(est.history) >= -1e-5 * exact)
    assert est.history.size == 400
    assert est.growth(10) == pytest.approx(0.0, abs=1e-4)


def test_power_iteration_takes_the_largest_magnitude_of_either_sign():
    a = jnp.diag(jnp.array([2.0, -7.0, 6.5, 0.5]))
    f = lambda p, x: 0.5 * (p @ a @ p) * x[:, :1]
    est = gx.hessian_norm(f, jnp.ones(4), jnp.ones(1), iterations=300)
    assert est.value == pytest.approx(7.0, rel=1e-5)


def test_a_model_linear_in_its_parameters_has_zero_hessian():
    f = lambda p, x: x[:, :1] * jnp.sum(p)
    est = gx.hessian_norm(f, jnp.ones(3), jnp.ones(2), iterations=20)
    assert est.value == 0.0
    assert est.history.size == 1  # stops at H v = 0


def test_hessian_norm_seed_sets_the_start_only():
    net, params, x = _tiny()
    a = gx.hessian_norm(net, params, x, iterations=5, seed=0)
    b = gx.hessian_norm(net, params, x, iterations=5, seed=0)
    c = gx.hessian_norm(net, params, x, iterations=5, seed=3)
    np.testing.assert_array_equal(a.history, b.history)
    assert not np.array_equal(a.history, c.history)
    long = gx.hessian_norm(net, params, x, iterations=300, seed=3)
    assert long.value == pytest.approx(gx.hessian_norm(net, params, x, iterations=300).value,
                                       rel=1e-4)


def test_hessian_norm_shrinks_with_width_in_the_ntk_parameterization():
    x = data.gaussian_inputs(1, 4, seed=0)[0]
    norms = []
    for width in (16, 256):
        net = models.mlp(1, width, activation="erf")
        norms.append(np.mean([gx.hessian_norm(net, net.init(s, 4), x, iterations=80).value
                              for s in range(3)]))
    assert norms[1] < 0.6 * norms[0]  # n^{-1/2}: a factor 4 in theory, up to log factors


def test_hessian_norm_validation():
    net, params, x = _tiny()
    with pytest.raises(ValueError, match="iterations"):
        gx.hessian_norm(net, params, x, iterations=0)
    with pytest.raises(ValueError, match="one input"):
        gx.hessian_norm(net, params, np.ones((2, 3)), iterations=3)
    vec_net, vec_params, _ = _tiny(out_dim=2)
    with pytest.raises(ValueError, match="one output"):
        gx.hessian_norm(vec_net, vec_params, x, iterations=3)
    with pytest.raises(TypeError, match="model"):
        gx.hessian_norm("net", params, x)
    est = gx.hessian_norm(net, params, x, iterations=4)
    with pytest.raises(ValueError, match="last"):
        est.growth(4)


def test_taylor_remainder_is_second_order_and_below_the_bound():
    net, params0, x = _tiny(width=7)
    flat0, unravel = ravel_pytree(params0)
    hess = _explicit_hessian(net, params0, x)
    direction = np.asarray(data.rng(5).standard_normal(flat0.size), np.float32)
    direction /= np.linalg.norm(direction)
    for radius in (0.05, 0.5, 2.0):
        moved = unravel(flat0 + radius * direction)
        tb = gx.taylor_bound(net, params0, moved, x, taus=np.linspace(0, 1, 5), iterations=200)
        assert tb.distance == pytest.approx(radius, rel=1e-5)
        assert tb.remainder <= tb.bound * (1 + 1e-4)
        assert tb.hessian_sup == np.max(tb.hessian_norms)
        assert tb.bound == pytest.approx(0.5 * tb.hessian_sup * radius ** 2)
    # small steps: the remainder is the quadratic form ½ Δθᵀ H(θ_0) Δθ
    small = 0.05
    tb = gx.taylor_bound(net, params0, unravel(flat0 + small * direction), x, taus=[0.0])
    quadratic = 0.5 * small ** 2 * abs(direction @ hess @ direction)
    assert tb.remainder == pytest.approx(quadratic, rel=0.05)


def test_taylor_bound_validation():
    net, params0, x = _tiny()
    other, other_params, _ = _tiny(width=6)
    with pytest.raises(ValueError, match="structure"):
        gx.taylor_bound(net, params0, other_params, x)
    with pytest.raises(ValueError, match="taus"):
        gx.taylor_bound(net, params0, params0, x, taus=[0.0, 1.5])
    with pytest.raises(ValueError, match="taus"):
        gx.taylor_bound(net, params0, params0, x, taus=[])


def test_taylor_remainder_of_a_batch_matches_one_input_at_a_time():
    net, params0, _ = _tiny(width=6)
    params = net.init(9, 3)
    x = data.gaussian_inputs(4, 3, seed=2)
    batch = gx.taylor_remainder(net, params0, params, x)
    single = [gx.taylor_bound(net, params0, params, xi, taus=[0.0], iterations=6).remainder
              for xi in x]
    assert batch.shape == (4,) and batch.dtype == np.float64
    np.testing.assert_allclose(batch, single, rtol=1e-5, atol=1e-7)
    assert np.all(gx.taylor_remainder(net, params0, params0, x) == 0.0)


@pytest.fixture(scope="module")
def small_sweep():
    ds = data.digits(12, 4, binary=True, seed=0)
    network = lambda width: models.mlp(1, width, activation="erf")
    runs = {}
    for width in (16, 64):
        for seed in (0, 1):
            net = network(width)
            runs[width, seed] = bounds.measure_run(net, net.init(seed, ds.input_dim), ds, lr=0.5,
                                                   steps=20, record=[0, 10, 20])
    return ds, network, runs


def test_measure_run_keeps_the_trained_parameters(small_sweep):
    ds, network, runs = small_sweep
    net = network(16)
    res = dynamics.gradient_descent(net.apply_fn, net.init(0, ds.input_dim), ds.x_train,
                                    ds.y_train, lr=0.5, steps=20, record=[0, 20])
    for a, b in zip(jax.tree_util.tree_leaves(runs[16, 0].params_final),
                    jax.tree_util.tree_leaves(res.params_final)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-7)


def test_linearity_sweep_rows_and_values(small_sweep):
    ds, network, runs = small_sweep
    x = ds.x_test[:3]
    frame = gx.linearity_sweep(network, runs, x, input_dim=ds.input_dim, iterations=8)
    assert len(frame) == 4 * 3
    assert list(frame.columns) == ["width", "seed", "input", "hessian_norm", "hessian_growth",
                                   "remainder", "distance", "bound_at_init"]
    row = frame[(frame.width == 64) & (frame.seed == 1) & (frame.input == 2)].iloc[0]
    net = network(64)
    p0 = net.init(1, ds.input_dim)
    assert row.hessian_norm == pytest.approx(
        gx.hessian_norm(net, p0, x[2], iterations=8).value, rel=1e-6)
    # float32: the batch and the single input round differently
    assert row.remainder == pytest.approx(
        gx.taylor_remainder(net, p0, runs[64, 1].params_final, x)[2], rel=1e-4, abs=1e-6)
    assert row.distance == pytest.approx(runs[64, 1].param_distance[-1], rel=1e-5)
    assert row.bound_at_init == pytest.approx(0.5 * row.hessian_norm * row.distance ** 2)
    assert (frame.remainder <= frame.bound_at_init).all()


def test_linearity_sweep_validation(small_sweep):
    ds, network, runs = small_sweep
    with pytest.raises(ValueError, match="at least one"):
        gx.linearity_sweep(network, {}, ds.x_test, input_dim=ds.input_dim)
    with pytest.raises(ValueError, match="iterations"):
        gx.linearity_sweep(network, runs, ds.x_test, input_dim=ds.input_dim, iterations=5)
    with pytest.raises(ValueError, match="params_final"):
        gx.linearity_sweep(network, {(16, 0): "run"}, ds.x_test, input_dim=ds.input_dim)
