"""The introduction's one-dimensional picture: samples, networks, linearizations and GP bands,
each checked against code that does not share the runner's path (explicit Jacobians, step-by-step
sums, neural-tangents' kernels, numpy's solves)."""

import jax
import jax.flatten_util
import numpy as np
import pytest

from ntklib import data, dynamics, kernels, models
from ntklib.experiments import introduction as intro

WIDTHS, SEEDS, STEPS = (16, 64), (0, 1, 2), 25


@pytest.fixture(scope="module")
def samples():
    return intro.noisy_samples(5, noise=0.1, interval=(-2.0, 2.0), grid_points=13,
                               grid_interval=(-3.0, 3.0), seed=3)


@pytest.fixture(scope="module")
def network():
    return models.mlp(1, 8, activation="erf", sigma_w2=1.0, sigma_b2=2.0)


@pytest.fixture(scope="module")
def pic(network, samples):
    return intro.regression_picture(network, samples, widths=WIDTHS, seeds=SEEDS,
                                    lr_fraction=0.5, steps=STEPS, records=4)


# ----------------------------------------------------------------------------- samples


def test_samples_are_seeded_one_per_cell_with_the_stated_noise():
    kwargs = dict(noise=0.1, interval=(-3.0, 3.0), grid_points=7, grid_interval=(-4.0, 4.0))
    a, b = intro.noisy_samples(10, seed=5, **kwargs), intro.noisy_samples(10, seed=5, **kwargs)
    c = intro.noisy_samples(10, seed=6, **kwargs)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    np.testing.assert_array_equal(a.y_train, b.y_train)
    assert not np.allclose(a.x_train, c.x_train)
    x = a.x_train[:, 0]
    cells = np.floor((x + 3.0) / 0.6).astype(int)  # ten cells of width 6/10
    np.testing.assert_array_equal(cells, np.arange(10))
    np.testing.assert_allclose(a.x_test[:, 0], np.linspace(-4.0, 4.0, 7), rtol=1e-6)
    np.testing.assert_allclose(a.y_test[:, 0], np.sin(a.x_test[:, 0]), atol=1e-6)
    # the noise: the same draw as numpy's generator of the shifted seed, scaled by `noise`
    gen = data.rng(5)
    u = gen.uniform(size=10)
    eps = gen.standard_normal(10)
    np.testing.assert_allclose(x, -3.0 + (np.arange(10) + u) * 0.6, rtol=1e-6)
    np.testing.assert_allclose(a.y_train[:, 0], np.sin(x) + 0.1 * eps, atol=1e-6)
    clean = intro.noisy_samples(10, seed=5, **{**kwargs, "noise": 0.0}, target=np.cos)
    np.testing.assert_allclose(clean.y_train[:, 0], np.cos(clean.x_train[:, 0]), atol=1e-6)


@pytest.mark.parametrize("change, error, match", [
    (dict(n_train=0), ValueError, "n_train"),
    (dict(noise=-0.1), ValueError, "noise"),
    (dict(interval=(1.0, -1.0)), ValueError, "interval"),
    (dict(interval=3.0), TypeError, "interval"),
    (dict(grid_interval=(0.0, np.inf)), ValueError, "grid_interval"),
    (dict(grid_points=1), ValueError, "grid_points"),
    (dict(target="sin"), TypeError, "target"),
    (dict(target=lambda x: np.ones(3)), ValueError, "target"),
])
def test_samples_reject_bad_input(change, error, match):
    kwargs = dict(n_train=4, noise=0.1, interval=(-1.0, 1.0), grid_points=5,
                  grid_interval=(-2.0, 2.0))
    with pytest.raises(error, match=match):
        intro.noisy_samples(**{**kwargs, **change})


# ----------------------------------------------------------------------------- the runner


def test_shapes_steps_and_rate(pic, network, samples):
    assert pic.net.shape == pic.lin.shape == (2, 3, len(pic.steps), 13)
    assert pic.loss_train.shape == (2, 3, len(pic.steps))
    assert pic.steps[0] == 0 and pic.steps[-1] == STEPS
    eta_c = kernels.eta_critical(kernels.analytic_ntk(network, samples.x_train))
    assert pic.lr == pytest.approx(0.5 * eta_c, rel=1e-5)
    np.testing.assert_allclose(pic.times, pic.steps * pic.lr)
    # at step 0 the linearization is the network itself
    np.testing.assert_allclose(pic.lin[:, :, 0], pic.net[:, :, 0], atol=1e-6)


def test_networks_are_gradient_descent_from_each_seed(pic, network, samples):
    for i, width in enumerate(WIDTHS):
        net = network.replace(width=width)
        for m, seed in enumerate(SEEDS):
            run = dynamics.gradient_descent(net.apply_fn, net.init(seed, 1), samples.x_train,
                                            samples.y_train, lr=pic.lr, steps=STEPS,
                                            x_test=samples.x_test, record=pic.steps)
            np.testing.assert_allclose(pic.net[i, m], run.f_test[..., 0], atol=2e-5)
            np.testing.assert_allclose(pic.loss_train[i, m], run.loss_train, rtol=1e-4)


def test_linearization_equals_the_explicit_jacobian_sum(pic, network, samples):
    """f_lin_s(x) = f_0(x) − (η/N) Θ̂_0(x, X) Σ_{j<s} A^j g_0, A = I − ηΘ̂_0/N, with Θ̂_0 = J Jᵀ
    from jax.jacrev: gradient descent on the linear model written out step by step (no
    eigendecomposition, no inverse)."""
    x, y, grid = samples.x_train, samples.y_train[:, 0].astype(np.float64), samples.x_test
    n = x.shape[0]
    for i, width in enumerate(WIDTHS):
        net = network.replace(width=width)
        seed_index = len(SEEDS) - 1
        p0 = net.init(SEEDS[seed_index], 1)
        flat, unravel = jax.flatten_util.ravel_pytree(p0)
        jac = lambda pts: np.asarray(jax.jacrev(
            lambda w: net.apply_fn(unravel(w), pts)[:, 0])(flat), np.float64)
        j_x, j_g = jac(x), jac(grid)
        theta, theta_g = j_x @ j_x.T, j_g @ j_x.T
        g = np.asarray(net.apply_fn(p0, x), np.float64)[:, 0] - y
        f0_grid = np.asarray(net.apply_fn(p0, grid), np.float64)[:, 0]
        a = np.eye(n) - pic.lr / n * theta
        acc, residual, expected = np.zeros(n), g, {}
        for s in range(STEPS + 1):
            expected[s] = f0_grid - pic.lr / n * theta_g @ acc
            acc, residual = acc + residual, a @ residual
        for t, s in enumerate(pic.steps):
            np.testing.assert_allclose(pic.lin[i, seed_index, t], expected[int(s)], atol=2e-5)


def test_gp_bands_against_neural_tangents_kernels_and_numpy(pic, network, samples, x64):
    """Eq. 14–15 with explicit matrix powers and inverses, eq. 13 with numpy's solve, both from
    neural-tangents' analytic kernels (the runner uses ntklib's closed-form erf recursion)."""
    x = np.asarray(samples.x_train, np.float64)
    grid = np.asarray(samples.x_test, np.float64)
    y = np.asarray(samples.y_train, np.float64)[:, 0]
    get = lambda a, b=None: network.kernel_fn(a, b, ("nngp", "ntk"))
    k, theta = (np.asarray(m) for m in get(x))
    kg, theta_g = (np.asarray(m) for m in get(grid, x))
    kgg = np.asarray(get(grid).nngp)
    n = x.shape[0]
    m_s = theta_g @ np.linalg.inv(theta) @ (
        np.eye(n) - np.linalg.matrix_power(np.eye(n) - pic.lr / n * theta, STEPS))
    cov = kgg + m_s @ k @ m_s.T - m_s @ kg.T - kg @ m_s.T
    np.testing.assert_allclose(pic.ntk_mean, m_s @ y, atol=1e-7)
    np.testing.assert_allclose(pic.ntk_sd, np.sqrt(np.clip(np.diag(cov), 0, None)), atol=1e-6)
    # t → ∞ (eq. 16): mean Θ(x, X) Θ^{-1} Y, covariance with M = Θ(x, X) Θ^{-1}
    m_inf = theta_g @ np.linalg.inv(theta)
    cov_inf = kgg + m_inf @ k @ m_inf.T - m_inf @ kg.T - kg @ m_inf.T
    np.testing.assert_allclose(pic.ntk_mean_inf, m_inf @ y, atol=1e-6)
    np.testing.assert_allclose(pic.ntk_sd_inf, np.sqrt(np.clip(np.diag(cov_inf), 0, None)),
                               atol=1e-5)
    post = kgg - kg @ np.linalg.solve(k, kg.T)
    np.testing.assert_allclose(pic.nngp_mean, kg @ np.linalg.solve(k, y), atol=1e-6)
    np.testing.assert_allclose(pic.nngp_sd, np.sqrt(np.clip(np.diag(post), 0, None)), atol=1e-5)


def test_summaries_are_what_they_say(pic):
    gap = pic.gap()
    assert gap.shape == (len(SEEDS), len(WIDTHS))
    assert gap[1, 0] == pytest.approx(np.max(np.abs(pic.net[0, 1] - pic.lin[0, 1])))
    final = pic.net[-1, :, -1]
    np.testing.assert_array_equal(pic.final(), final)
    np.testing.assert_array_equal(pic.final(WIDTHS[0]), pic.net[0, :, -1])
    np.testing.assert_allclose(pic.ensemble_mean(), final.mean(axis=0))
    se = final.std(axis=0, ddof=1) / np.sqrt(len(SEEDS))
    np.testing.assert_allclose(pic.standard_error(), se)
    np.testing.assert_allclose(pic.mean_z(), (final.mean(axis=0) - pic.ntk_mean) / se)
    inside = np.abs(final.mean(axis=0) - pic.ntk_mean) <= 2 * pic.ntk_sd
    assert pic.band_fraction() == pytest.approx(inside.mean())
    assert pic.members == len(SEEDS)
    with pytest.raises(ValueError, match="width=32"):
        pic.final(32)


def test_band_fraction_fails_when_the_networks_are_elsewhere(pic):
    """The check the chapter states can fail: shifted networks leave the band."""
    import dataclasses

    shifted = dataclasses.replace(pic, net=pic.net + 10 * np.max(pic.ntk_sd) + 1.0)
    assert shifted.band_fraction() == 0.0


@pytest.mark.parametrize("change, error, match", [
    (dict(network=models.conv_net(2)), TypeError, "MLP"),
    (dict(network=models.mlp(1, 8, activation="erf", out_dim=2)), ValueError, "out_dim"),
    (dict(widths=()), ValueError, "width"),
    (dict(seeds=(0,)), ValueError, "two seeds"),
    (dict(lr_fraction=1.0), ValueError, "lr_fraction"),
    (dict(lr_fraction=0.0), ValueError, "lr_fraction"),
    (dict(steps=0), ValueError, "steps"),
    (dict(records=0), ValueError, "records"),
    (dict(diag_reg=-1.0), ValueError, "diag_reg"),
    (dict(data=data.digits(4, 2, binary=True)), ValueError, "input_dim=64"),
])
def test_runner_rejects_bad_input(change, error, match, network, samples):
    kwargs = dict(network=network, data=samples, widths=(8,), seeds=(0, 1), lr_fraction=0.5,
                  steps=2)
    kwargs.update(change)
    with pytest.raises(error, match=match):
        intro.regression_picture(kwargs.pop("network"), kwargs.pop("data"), **kwargs)
