"""Gradient descent and the closed-form linearized dynamics."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ntklib import data, dynamics, kernels, models

nt = models.nt


@pytest.fixture(scope="module")
def setup():
    ds = data.digits(24, 9, classes=[0, 1, 2], seed=2)
    net = models.mlp(2, 128, activation="erf", out_dim=3)
    params = net.init(1, ds.input_dim)
    lr = 0.5 * kernels.eta_critical(kernels.analytic_ntk(net, ds.x_train), out_dim=3)
    return ds, net, params, lr


def _explicit(theta, theta_x, f0, f0x, y, lr, steps):
    """Step f ← f − (η/Nk) Θ (f − y) by hand in float64 (full Nk × Nk kernel)."""
    n, k = f0.shape
    f, fx, out = f0.reshape(-1).copy(), f0x.reshape(-1).copy(), {}
    for s in range(max(steps) + 1):
        if s in steps:
            out[s] = (f.reshape(n, k).copy(), fx.reshape(-1, k).copy())
        g = f - y.reshape(-1)
        f, fx = f - lr / (n * k) * theta @ g, fx - lr / (n * k) * theta_x @ g
    return out


def test_linearized_outputs_equal_explicit_steps(setup):
    ds, net, params, lr = setup
    theta = kernels.empirical_ntk(net, params, ds.x_train).astype(np.float64)
    theta = (theta + theta.T) / 2  # the float32 kernel is symmetric only to round-off
    theta_x = kernels.empirical_ntk(net, params, ds.x_test, ds.x_train).astype(np.float64)
    f0 = np.asarray(net.apply_fn(params, ds.x_train), np.float64)
    f0x = np.asarray(net.apply_fn(params, ds.x_test), np.float64)
    steps = [0, 1, 7, 50, 400]
    ref = _explicit(theta, theta_x, f0, f0x, ds.y_train, lr, steps)
    ft, fx = dynamics.linearized_outputs(theta, theta_x, f0, f0x, ds.y_train, lr=lr, steps=np.array(steps))
    for i, s in enumerate(steps):
        np.testing.assert_allclose(ft[i], ref[s][0], atol=1e-9)
        np.testing.assert_allclose(fx[i], ref[s][1], atol=1e-9)
    f_one, _ = dynamics.linearized_outputs(theta, theta_x, f0, f0x, ds.y_train, lr=lr, steps=50)
    np.testing.assert_allclose(f_one, ft[3])


def test_linearized_outputs_shared_kernel_equals_kron():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((6, 6))
    theta = a @ a.T + 0.1 * np.eye(6)
    tx = rng.standard_normal((3, 6))
    f0, y, f0x = rng.standard_normal((6, 2)), rng.standard_normal((6, 2)), rng.standard_normal((3, 2))
    shared = dynamics.linearized_outputs(theta, tx, f0, f0x, y, lr=0.3, steps=[5, 30])
    full = dynamics.linearized_outputs(np.kron(theta, np.eye(2)), np.kron(tx, np.eye(2)), f0, f0x, y,
                                       lr=0.3, steps=[5, 30])
    np.testing.assert_allclose(shared[0], full[0], atol=1e-12)
    np.testing.assert_allclose(shared[1], full[1], atol=1e-12)


def test_linearized_outputs_match_neural_tangents_gradient_descent_mse(setup):
    ds, net, params, lr = setup
    theta = kernels.empirical_ntk(net, params, ds.x_train, trace_outputs=True).astype(np.float64)
    theta_x = kernels.empirical_ntk(net, params, ds.x_test, ds.x_train, trace_outputs=True).astype(np.float64)
    f0 = np.asarray(net.apply_fn(params, ds.x_train), np.float64)
    f0x = np.asarray(net.apply_fn(params, ds.x_test), np.float64)
    predict = nt.predict.gradient_descent_mse(theta, ds.y_train, learning_rate=lr)
    for steps in [3, 100]:
        a, b = predict(steps, f0, f0x, theta_x)  # NT: gradient flow, absolute time = η·t
        c, d = dynamics.linearized_outputs(theta, theta_x, f0, f0x, ds.y_train, lr=lr, steps=steps,
                                           continuous=True)
        np.testing.assert_allclose(c, a, atol=1e-5)  # NT computes in float32
        np.testing.assert_allclose(d, b, atol=1e-5)


def test_zero_eigenvalue_is_safe_and_infinite_time():
    theta = np.diag([2.0, 1e-30, 0.0])
    f0, y = np.ones((3, 1)), np.zeros((3, 1))
    ft, fx = dynamics.linearized_outputs(theta, np.eye(3), f0, f0, y, lr=0.5, steps=[10, np.inf])
    assert np.all(np.isfinite(ft)) and np.all(np.isfinite(fx))
    np.testing.assert_allclose(ft[:, 1:], 1.0)  # flat directions do not move
    np.testing.assert_allclose(ft[1, 0], 0.0)  # the stiff direction converges
    # test point along the stiff direction: f0 − (1 − (1 − ηλ/N)^s)·g0
    np.testing.assert_allclose(fx[0, 0, 0], 1 - (1 - (1 - 0.5 * 2 / 3) ** 10) / 2.0, rtol=1e-12)
    # a flat direction moves the test output linearly in s (η s/N per unit of Θ(x, X) g0) ...
    np.testing.assert_allclose(fx[0, 2, 0], 1 - 10 * 0.5 / 3, rtol=1e-12)
    # ... and at s = ∞ the pseudo-inverse convention drops it
    np.testing.assert_allclose(fx[1, 2, 0], 1.0)


def test_weight_space_linearized_training_equals_closed_form(setup):
    """GD on f_lin (ours and nt.linearize) in weight space = the function-space closed form."""
    ds, net, params, lr = setup
    theta = kernels.empirical_ntk(net, params, ds.x_train)
    theta_x = kernels.empirical_ntk(net, params, ds.x_test, ds.x_train)
    f0 = np.asarray(net.apply_fn(params, ds.x_train))
    f0x = np.asarray(net.apply_fn(params, ds.x_test))
    steps = [0, 10, 200]
    ft, fx = dynamics.linearized_outputs(theta, theta_x, f0, f0x, ds.y_train, lr=lr, steps=steps)
    for f_lin in (models.linearize(net.apply_fn, params), nt.linearize(net.apply_fn, params)):
        res = dynamics.gradient_descent(f_lin, params, ds.x_train, ds.y_train, x_test=ds.x_test,
                                        lr=lr, steps=200, record=steps)
        np.testing.assert_allclose(res.f_train, ft, atol=2e-4)
        np.testing.assert_allclose(res.f_test, fx, atol=2e-4)


def test_train_records_grid_and_loss_decreases(setup):
    ds, net, params, lr = setup
    res = dynamics.train(net, params, ds, lr=lr, steps=300, record=[0, 10, 300], record_params=True)
    assert list(res.steps) == [0, 10, 300]
    np.testing.assert_allclose(res.times, lr * res.steps)
    assert res.loss_train[-1] < 0.1 * res.loss_train[0]
    np.testing.assert_allclose(res.f_train[0], net.apply_fn(params, ds.x_train), atol=1e-5)
    np.testing.assert_allclose(res.f_train[-1], net.apply_fn(res.params_final, ds.x_train), atol=1e-5)
    assert len(res.params) == 3 and not res.diverged


@pytest.mark.parametrize("momentum", [0.0, 0.5])
def test_gradient_descent_matches_hand_written_loop(momentum):
    # momentum 0 takes the plain-GD loop (no velocity carried), momentum > 0 the heavy-ball one
    x = data.gaussian_inputs(5, 3, seed=0)
    y = np.arange(5, dtype=np.float32)[:, None] / 5
    w0 = jnp.ones((3, 1)) * 0.1
    apply_fn = lambda w, x: jnp.tanh(x @ w)
    res = dynamics.gradient_descent(apply_fn, w0, x, y, lr=0.3, steps=20, record=[20],
                                    momentum=momentum)
    w, vel = w0, jnp.zeros_like(w0)
    grad = jax.grad(lambda w: 0.5 * jnp.mean((apply_fn(w, x) - y) ** 2))
    for _ in range(20):
        vel = momentum * vel - 0.3 * grad(w)
        w = w + vel
    assert float(jnp.max(jnp.abs(w - w0))) > 0.1  # the loop moved the weights
    np.testing.assert_allclose(res.params_final, w, rtol=1e-5)
    # momentum time: √η·steps; plain GD: η·steps
    np.testing.assert_allclose(res.times, [20 * (np.sqrt(0.3) if momentum else 0.3)])


def test_divergence_raises_or_is_reported(setup):
    ds, net, params, _ = setup
    theta = kernels.analytic_ntk(net, ds.x_train)
    too_big = 3 * kernels.divergence_learning_rate(theta, out_dim=3)
    with pytest.raises(ValueError, match="divergence bound"):
        dynamics.train(net, params, ds, lr=too_big, steps=10)
    res = dynamics.train(net, params, ds, lr=too_big, steps=3000, allow_divergence=True)
    assert res.diverged and res.diverged_step > 0
    assert res.steps[-1] <= res.diverged_step and np.all(np.isfinite(res.f_train))
    with pytest.raises(FloatingPointError, match="diverged at step"):
        dynamics.gradient_descent(net.apply_fn, params, ds.x_train, ds.y_train, lr=too_big, steps=3000)


def test_learning_rate_above_eta_critical_warns(setup):
    ds, net, params, _ = setup
    theta = kernels.analytic_ntk(net, ds.x_train)
    eta_c = kernels.eta_critical(theta, out_dim=3)
    eta_d = kernels.divergence_learning_rate(theta, out_dim=3)
    assert eta_c < eta_d
    with pytest.warns(UserWarning, match="η_critical"):
        dynamics.train(net, params, ds, lr=0.5 * (eta_c + eta_d), steps=1)


def _gp_reference(theta, theta_x, k, kx, kss, y, lr, steps):
    """Eq. 14–15 with explicit matrix powers and inverses."""
    theta, theta_x, k, kx, kss = (np.asarray(a, np.float64) for a in (theta, theta_x, k, kx, kss))
    n = theta.shape[0]
    a = np.linalg.matrix_power(np.eye(n) - lr / n * theta, steps)
    m = theta_x @ np.linalg.inv(theta) @ (np.eye(n) - a)
    return m @ y, kss + m @ k @ m.T - m @ kx.T - kx @ m.T


def test_gp_moments_against_explicit_formula_and_limits(x64):
    ds = data.digits(10, 4, binary=True, seed=3)
    net = models.mlp(2, 8, activation="erf", sigma_w2=1.5, sigma_b2=0.05)
    k, theta = kernels.analytic_kernels(net, ds.x_train)
    kx, theta_x = kernels.analytic_kernels(net, ds.x_test, ds.x_train)
    kss = kernels.analytic_nngp(net, ds.x_test)
    lr = kernels.eta_critical(theta) / 2
    mean, cov = dynamics.gp_moments(theta, theta_x, k, kx, kss, ds.y_train, lr=lr, steps=[0, 17, np.inf])
    k, theta, kx, theta_x, kss = (np.asarray(a, np.float64) for a in (k, theta, kx, theta_x, kss))
    ref_mean, ref_cov = _gp_reference(theta, theta_x, k, kx, kss, ds.y_train, lr, 17)
    np.testing.assert_allclose(mean[1], ref_mean, atol=1e-8)
    np.testing.assert_allclose(cov[1], ref_cov, atol=1e-8)
    # t = 0: the prior N(0, K(x, x))
    np.testing.assert_allclose(mean[0], 0, atol=1e-12)
    np.testing.assert_allclose(cov[0], kss, atol=1e-12)
    # t = ∞: eq. 16
    tinv = np.linalg.inv(theta)
    np.testing.assert_allclose(mean[2], theta_x @ tinv @ ds.y_train, atol=1e-8)
    # eq. 16 as printed (the "−2K(X, x)" shorthand) holds for the variances, i.e. the diagonal
    eq16 = kss + theta_x @ tinv @ (k @ tinv @ theta_x.T - 2 * kx.T)
    np.testing.assert_allclose(np.diag(cov[2]), np.diag(eq16), atol=1e-8)
    np.testing.assert_allclose(cov[2], cov[2].T, atol=1e-12)


def test_gp_moments_match_neural_tangents_ensemble(x64):
    ds = data.digits(10, 4, binary=True, seed=3)
    net = models.mlp(2, 8, activation="erf", sigma_w2=1.5, sigma_b2=0.05)
    k, theta = kernels.analytic_kernels(net, ds.x_train)
    kx, theta_x = kernels.analytic_kernels(net, ds.x_test, ds.x_train)
    kss = kernels.analytic_nngp(net, ds.x_test)
    lr = 0.7
    mean, cov = dynamics.gp_moments(theta, theta_x, k, kx, kss, ds.y_train, lr=lr, steps=40, continuous=True)
    predict = nt.predict.gradient_descent_mse_ensemble(net.kernel_fn, ds.x_train, ds.y_train, learning_rate=lr)
    ref = predict(t=40, x_test=ds.x_test, get="ntk", compute_cov=True)
    np.testing.assert_allclose(mean, ref.mean, atol=1e-6)
    np.testing.assert_allclose(cov, ref.covariance, atol=1e-6)


def test_nngp_posterior(x64):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((8, 5))
    k_all = a @ a.T + 0.5 * np.eye(8)
    k, kx, kss = k_all[:5, :5], k_all[5:, :5], k_all[5:, 5:]
    y = rng.standard_normal((5, 1))
    mean, cov = dynamics.nngp_posterior(k, kx, kss, y)
    np.testing.assert_allclose(mean, kx @ np.linalg.solve(k, y))
    np.testing.assert_allclose(cov, kss - kx @ np.linalg.solve(k, kx.T))


def test_log_steps():
    grid = dynamics.log_steps(1000, num=10)
    assert grid[0] == 0 and grid[-1] == 1000 and np.all(np.diff(grid) > 0)
    assert list(dynamics.log_steps(0)) == [0]


def test_per_leaf_learning_rates():
    x = data.gaussian_inputs(6, 3, seed=1)
    y = np.ones((6, 1), np.float32)
    apply_fn = lambda p, x: jnp.tanh(x @ p["w"]) + p["b"]
    p0 = {"w": jnp.full((3, 1), 0.2), "b": jnp.zeros((1,))}
    same = dynamics.gradient_descent(apply_fn, p0, x, y, lr={"w": 0.1, "b": 0.1}, steps=15, record=[15])
    scalar = dynamics.gradient_descent(apply_fn, p0, x, y, lr=0.1, steps=15, record=[15])
    np.testing.assert_allclose(same.f_train, scalar.f_train, rtol=1e-6)
    frozen_b = dynamics.gradient_descent(apply_fn, p0, x, y, lr={"w": 0.1, "b": 1e-30}, steps=15, record=[15])
    np.testing.assert_allclose(frozen_b.params_final["b"], 0.0, atol=1e-20)
    with pytest.raises(TypeError, match="pytree of positive numbers"):
        dynamics.gradient_descent(apply_fn, p0, x, y, lr={"w": 0.1}, steps=1)
    with pytest.raises(ValueError, match="lr \\(per-leaf\\) must be finite and > 0"):
        dynamics.gradient_descent(apply_fn, p0, x, y, lr={"w": 0.1, "b": -1.0}, steps=1)


def test_cross_entropy_and_minibatch_match_hand_loop():
    ds = data.digits(20, 5, classes=[0, 1, 2], seed=0)
    net = models.mlp(1, 16, activation="relu", out_dim=3)
    params = net.init(0, ds.input_dim)
    res = dynamics.gradient_descent(net.apply_fn, params, ds.x_train, ds.y_train, lr=0.5, steps=12,
                                    record=[12], loss="cross_entropy", batch_size=8, batch_seed=3)
    key = jax.random.PRNGKey(3)
    loss = lambda p, xb, yb: -jnp.mean(jnp.sum(yb * jax.nn.log_softmax(net.apply_fn(p, xb)), axis=-1))
    p = params
    for i in range(12):
        idx = jax.random.choice(jax.random.fold_in(key, i), 20, (8,), replace=False)
        g = jax.grad(loss)(p, ds.x_train[idx], ds.y_train[idx])
        p = jax.tree_util.tree_map(lambda a, b: a - 0.5 * b, p, g)
    np.testing.assert_allclose(res.f_train[-1], net.apply_fn(p, ds.x_train), atol=1e-5)
    assert res.loss_train[-1] == pytest.approx(float(loss(p, ds.x_train, ds.y_train)), rel=1e-4)
    with pytest.raises(ValueError, match="batch_size=50 exceeds"):
        dynamics.gradient_descent(net.apply_fn, params, ds.x_train, ds.y_train, lr=0.5, steps=1, batch_size=50)
    with pytest.raises(ValueError, match="loss must be one of"):
        dynamics.gradient_descent(net.apply_fn, params, ds.x_train, ds.y_train, lr=0.5, steps=1, loss="hinge")


def test_heavy_ball_modes_match_the_eigenvalues_of_the_mode_matrix():
    lam = np.geomspace(1e-5, 10.0, 41)
    beta, lr, nk = 0.9, 0.7, 4
    modes = dynamics.heavy_ball_modes(lam, lr, nk, beta)
    assert np.all(np.diff(modes["lam"]) < 0)  # largest first
    for x, radius, regime in zip(modes["x"], modes["contraction"], modes["regime"]):
        mu = np.linalg.eigvals(np.array([[1 - x, beta], [-x, beta]]))  # (r, u) mode matrix
        assert np.isclose(radius, np.max(np.abs(mu)), rtol=1e-6, atol=1e-12)
        assert (regime == "underdamped") == bool(np.abs(mu[0].imag) > 0)
        assert (regime == "unstable") == bool(np.max(np.abs(mu)) >= 1)
    with pytest.raises(ValueError, match="momentum"):
        dynamics.heavy_ball_modes(lam, lr, nk, 1.0)
