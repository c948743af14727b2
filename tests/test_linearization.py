"""Chapter 3: linearized weights (eq. 8), vmapped ensembles, and the net-vs-linearization runners."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ntklib import data, dynamics, kernels, models
from ntklib.experiments import linearization as lin

nt = models.nt


@pytest.fixture(scope="module")
def small():
    ds = data.digits(16, 6, binary=True, seed=4)
    net = models.mlp(2, 64, activation="erf", sigma_w2=1.5, sigma_b2=0.05)
    lr = 0.5 * kernels.eta_critical(kernels.analytic_ntk(net, ds.x_train))
    return ds, net, lr


def _leaves(tree):
    return [np.asarray(a) for a in jax.tree_util.tree_leaves(tree)]


# ----------------------------------------------------------------------------- eq. 8


def test_linearized_weights_equal_weight_space_gd_on_the_linear_model(small):
    ds, net, lr = small
    p0 = net.init(3, ds.input_dim)
    steps = [0, 5, 60]
    omega = dynamics.linearized_weights(net.apply_fn, p0, ds.x_train, ds.y_train, lr=lr, steps=steps)
    for f_lin in (models.linearize(net.apply_fn, p0), nt.linearize(net.apply_fn, p0)):
        res = dynamics.gradient_descent(f_lin, p0, ds.x_train, ds.y_train, lr=lr, steps=60, record=steps,
                                        record_params=True)
        for i in range(len(steps)):
            moved = jax.tree_util.tree_map(lambda a, b: a - b, res.params[i], p0)
            for a, b in zip(_leaves(moved), _leaves(omega)):
                np.testing.assert_allclose(b[i], a, atol=2e-5)
    single = dynamics.linearized_weights(net.apply_fn, p0, ds.x_train, ds.y_train, lr=lr, steps=5)
    for a, b in zip(_leaves(single), _leaves(omega)):
        np.testing.assert_allclose(a, b[1], atol=1e-7)


def test_linearized_weights_equal_explicit_jacobian_formula(x64):
    """ω_s = −J_0ᵀ Θ̂_0^{-1}(I − A^s)(f_0 − Y) with J_0 from jax.jacrev, two outputs (full Nk kernel)."""
    x = data.gaussian_inputs(5, 3, seed=0).astype(np.float64)
    y = np.random.default_rng(1).standard_normal((5, 2))
    net = models.mlp(1, 7, activation="erf", out_dim=2)
    p0 = jax.tree_util.tree_map(lambda a: a.astype(jnp.float64), net.init(2, 3))
    flat, unravel = jax.flatten_util.ravel_pytree(p0)
    jac = np.asarray(jax.jacrev(lambda w: net.apply_fn(unravel(w), x).reshape(-1))(flat))  # (Nk, P)
    theta = jac @ jac.T
    g0 = np.asarray(net.apply_fn(p0, x)).reshape(-1) - y.reshape(-1)
    lr, s = 0.7, 23
    a_s = np.linalg.matrix_power(np.eye(10) - lr / 10 * theta, s)
    expected = -jac.T @ np.linalg.solve(theta, (np.eye(10) - a_s) @ g0)
    omega = dynamics.linearized_weights(net.apply_fn, p0, x, y, lr=lr, steps=s)
    np.testing.assert_allclose(jax.flatten_util.ravel_pytree(omega)[0], expected, rtol=1e-8, atol=1e-10)
    # the default Θ̂_0 is the same J Jᵀ; the continuous form uses the matrix exponential
    cont = dynamics.linearized_weights(net.apply_fn, p0, x, y, lr=lr, steps=s, theta_train=theta, continuous=True)
    lam, vec = np.linalg.eigh(theta)
    expm = vec @ np.diag(np.exp(-lr * s / 10 * lam)) @ vec.T
    np.testing.assert_allclose(jax.flatten_util.ravel_pytree(cont)[0],
                               -jac.T @ np.linalg.solve(theta, (np.eye(10) - expm) @ g0), rtol=1e-7, atol=1e-10)


def test_linearized_weights_validate(small):
    ds, net, lr = small
    p0 = net.init(0, ds.input_dim)
    with pytest.raises(ValueError, match="full"):
        dynamics.linearized_weights(net.apply_fn, p0, ds.x_train, ds.y_train, lr=lr, steps=3,
                                    theta_train=np.eye(3))
    with pytest.raises(ValueError, match="lr must be finite and > 0"):
        dynamics.linearized_weights(net.apply_fn, p0, ds.x_train, ds.y_train, lr=-1.0, steps=3)
    with pytest.raises(ValueError, match="same number of examples"):
        dynamics.linearized_weights(net.apply_fn, p0, ds.x_train, ds.y_train[:3], lr=lr, steps=3)


# ----------------------------------------------------------------------------- ensembles


def test_train_ensemble_equals_members_one_by_one(small):
    ds, net, lr = small
    seeds = [3, 0, 11]
    steps = [0, 4, 40]
    ens = dynamics.train_ensemble(net, seeds, ds, lr=lr, steps=40, record=steps)
    assert ens.f_eval.shape == (3, 3, ds.n_test, 1) and ens.f_train.shape == (3, 3, ds.n_train, 1)
    np.testing.assert_allclose(ens.times, lr * np.array(steps))
    for m, seed in enumerate(seeds):
        one = dynamics.gradient_descent(net.apply_fn, net.init(seed, ds.input_dim), ds.x_train, ds.y_train,
                                        x_test=ds.x_test, y_test=ds.y_test, lr=lr, steps=40, record=steps)
        np.testing.assert_allclose(ens.f_eval[m], one.f_test, atol=2e-5)
        np.testing.assert_allclose(ens.f_train[m], one.f_train, atol=2e-5)
        np.testing.assert_allclose(ens.loss_train[m], one.loss_train, rtol=1e-4, atol=1e-7)
    chunked = dynamics.train_ensemble(net, seeds, ds, lr=lr, steps=40, record=steps, member_batch=2)
    np.testing.assert_allclose(chunked.f_eval, ens.f_eval, atol=1e-6)


def test_train_ensemble_heavy_ball_equals_members_one_by_one(small):
    """momentum=β: each member follows gradient_descent's heavy-ball iterates (zero velocity)."""
    ds, net, lr = small
    seeds, steps = [2, 7], [0, 5, 30]
    ens = dynamics.train_ensemble(net, seeds, ds, lr=lr, steps=30, record=steps, momentum=0.7,
                                  check_lr=False)
    plain = dynamics.train_ensemble(net, seeds, ds, lr=lr, steps=30, record=steps)
    assert np.max(np.abs(ens.f_eval[:, -1] - plain.f_eval[:, -1])) > 1e-3  # momentum matters
    for m, seed in enumerate(seeds):
        one = dynamics.gradient_descent(net.apply_fn, net.init(seed, ds.input_dim), ds.x_train,
                                        ds.y_train, x_test=ds.x_test, y_test=ds.y_test, lr=lr,
                                        steps=30, record=steps, momentum=0.7)
        np.testing.assert_allclose(ens.f_eval[m], one.f_test, atol=2e-5)
        np.testing.assert_allclose(ens.f_train[m], one.f_train, atol=2e-5)
    with pytest.raises(ValueError, match="check_lr=False"):
        dynamics.train_ensemble(net, seeds, ds, lr=lr, steps=3, momentum=0.7)
    with pytest.raises(ValueError, match=r"momentum must be in \[0, 1\)"):
        dynamics.train_ensemble(net, seeds, ds, lr=lr, steps=3, momentum=1.0, check_lr=False)


def test_ensemble_params_equal_init_and_custom_eval_points(small):
    ds, net, lr = small
    stacked = dynamics.ensemble_params(net, [5, 6], ds.input_dim)
    for m, seed in enumerate([5, 6]):
        for a, b in zip(_leaves(stacked), _leaves(net.init(seed, ds.input_dim))):
            np.testing.assert_array_equal(a[m], b)
    line = data.interpolate(ds.x_train[0], ds.x_train[1], np.linspace(-1, 2, 7))
    ens = dynamics.train_ensemble(net, [5], ds, lr=lr, steps=0, record=[0], x_eval=line)
    np.testing.assert_allclose(ens.f_eval[0, 0], net.apply_fn(net.init(5, ds.input_dim), line), atol=1e-6)


def test_train_ensemble_validates(small):
    ds, net, lr = small
    with pytest.raises(ValueError, match="at least one"):
        dynamics.train_ensemble(net, [], ds, lr=lr, steps=1)
    with pytest.raises(ValueError, match="input dimension"):
        dynamics.train_ensemble(net, [0], ds, lr=lr, steps=1, x_eval=np.zeros((2, 3)))
    with pytest.raises(ValueError, match="divergence bound"):
        dynamics.train_ensemble(net, [0], ds, lr=100 * lr, steps=1)
    with pytest.raises(FloatingPointError, match="diverged"):
        dynamics.train_ensemble(net, [0], ds, lr=100 * lr, steps=400, check_lr=False)


# ----------------------------------------------------------------------------- runners


def test_analytic_kernel_fn_matches_neural_tangents():
    x = data.digits(6, 1, seed=0).x_train
    for act in ("relu", "erf"):
        net = models.mlp(3, 8, activation=act, sigma_w2=1.7, sigma_b2=0.2)
        k, th = lin.analytic_kernel_fn(net)(x)
        k_nt, th_nt = kernels.analytic_kernels(net, x)
        np.testing.assert_allclose(k, k_nt, rtol=2e-5, atol=1e-6)
        np.testing.assert_allclose(th, th_nt, rtol=2e-5, atol=1e-6)


def test_net_vs_linearization_is_consistent(small):
    ds, net, lr = small
    run = lin.net_vs_linearization(net, ds, seed=2, lr=lr, steps=50, record=[0, 3, 50])
    assert run.rmse_empirical[0] == pytest.approx(0.0, abs=1e-6)
    assert run.rmse_analytic[0] == pytest.approx(0.0, abs=1e-6)
    p0 = net.init(2, ds.input_dim)
    theta = kernels.empirical_ntk(net, p0, ds.x_train)
    theta_x = kernels.empirical_ntk(net, p0, ds.x_test, ds.x_train)
    f0, f0x = net.apply_fn(p0, ds.x_train), net.apply_fn(p0, ds.x_test)
    ft, fx = dynamics.linearized_outputs(theta, theta_x, f0, f0x, ds.y_train, lr=lr, steps=[0, 3, 50])
    np.testing.assert_allclose(run.lin_train, ft, atol=1e-5)
    np.testing.assert_allclose(run.lin_test, fx, atol=1e-5)
    omega = dynamics.linearized_weights(net.apply_fn, p0, ds.x_train, ds.y_train, lr=lr, steps=50)
    np.testing.assert_allclose(run.omega_lin, lin.flatten_params(omega), atol=1e-6)
    assert run.omega_net.shape == run.omega_lin.shape == (models.parameter_count(p0),)
    assert 0.5 < run.weight_correlation <= 1.0
    assert run.loss_net_train[-1] < run.loss_net_train[0]
    # the same member trained inside an ensemble gives the same final RMSE
    out = lin.final_rmse(net, ds, seeds=[2, 7], lr=lr, steps=50)
    assert out["rmse_empirical"][0] == pytest.approx(run.rmse_empirical[-1], rel=1e-3, abs=1e-6)
    assert out["rmse_analytic"][0] == pytest.approx(run.rmse_analytic[-1], rel=1e-3, abs=1e-6)


def test_rmse_vs_width_frame():
    frame = lin.rmse_vs_width([16, 32], [dict(depth=1, n_train=8), dict(depth=2, n_train=8)], seeds=[0, 1],
                              steps=5, n_test=4)
    assert list(frame.columns) == ["depth", "n_train", "width", "seed", "lr", "rmse_empirical", "rmse_analytic"]
    assert len(frame) == 8 and np.all(frame.rmse_empirical > 0)
    with pytest.raises(ValueError, match="lr_fraction must be < 1"):
        lin.rmse_vs_width([16], [dict(depth=1, n_train=8)], seeds=[0], steps=5, lr_fraction=1.5)


def test_continuous_time_error_vanishes_for_small_lr(small):
    ds, net, _ = small
    p0 = net.init(0, ds.input_dim)
    theta = kernels.empirical_ntk(net, p0, ds.x_train)
    theta_x = kernels.empirical_ntk(net, p0, ds.x_test, ds.x_train)
    f0, f0x = net.apply_fn(p0, ds.x_train), net.apply_fn(p0, ds.x_test)
    eta_c = kernels.eta_critical(theta)
    err = lin.continuous_time_error(theta, theta_x, f0, f0x, ds.y_train, lr_fractions=[0.001, 0.1, 0.9],
                                    eta_critical=eta_c, steps=[1, 2, 5])
    assert err[0] < 1e-3 and err[0] < err[1] < err[2]


def test_ensemble_vs_gp_limits(small):
    ds, net, lr = small
    alphas = np.linspace(-1, 2, 7)  # contains α = 0 and α = 1, the two training points
    cmp = lin.ensemble_vs_gp(net, ds, seeds=range(6), lr=lr, record=[0, 10], alphas=alphas)
    i, j = lin.class_pair(ds)
    assert ds.y_train[i, 0] > 0 > ds.y_train[j, 0]
    line = data.interpolate(ds.x_train[i], ds.x_train[j], alphas)
    k_line = kernels.erf_kernels(line, depth=2, sigma_w2=1.5, sigma_b2=0.05)[0]
    np.testing.assert_allclose(cmp.gp_mean[0], 0.0, atol=1e-12)  # t = 0: the prior
    np.testing.assert_allclose(cmp.gp_sd[0], np.sqrt(np.diag(k_line)), rtol=1e-10)
    np.testing.assert_allclose(cmp.nngp_mean[[2, 4]], [-1.0, 1.0], atol=1e-6)  # posterior interpolates
    np.testing.assert_allclose(cmp.gp_mean_inf[[2, 4]], [-1.0, 1.0], atol=1e-6)
    assert cmp.outputs.shape == (6, 2, 7) and cmp.members == 6
    np.testing.assert_allclose(cmp.mean, cmp.outputs.mean(axis=0))
    assert cmp.mean_z.shape == (2, 7)


def test_discriminating_pair_maximizes_the_gap(small):
    ds, net, _ = small
    alphas = np.linspace(-2, 3, 6)
    i, j = lin.discriminating_pair(net, ds, alphas)
    assert ds.y_train[i, 0] > 0 > ds.y_train[j, 0]
    kern = lin.analytic_kernel_fn(net)
    k_xx, th_xx = kern(ds.x_train)

    def score(a, b):
        line = data.interpolate(ds.x_train[a], ds.x_train[b], alphas)
        k_sx, th_sx = kern(line, ds.x_train)
        mean, cov = dynamics.gp_moments(th_xx, th_sx, k_xx, k_sx, kern(line)[0], ds.y_train, lr=1.0, steps=np.inf)
        post, _ = dynamics.nngp_posterior(k_xx, k_sx, kern(line)[0], ds.y_train)
        return np.max(np.abs(mean - post)[:, 0] / np.sqrt(np.maximum(np.diag(cov), 1e-12)))

    y = ds.y_train[:, 0]
    best = max(score(a, b) for a in np.flatnonzero(y > 0) for b in np.flatnonzero(y < 0))
    assert score(i, j) == pytest.approx(best, rel=1e-6)


def test_readout_only_gp_variance_needs_exp_minus_2_eta_k_t(x64):
    """gp_moments with Θ → K is readout-only training (SM §D); its variance is the corrected S23,
    K** − K*X K^{-1}(I − e^{−2ηKt}) KX*, not the printed one with e^{−ηKt}."""
    ds = data.digits(8, 3, binary=True, seed=1)
    k_all = kernels.erf_kernels(np.concatenate([ds.x_train, ds.x_test]), depth=2, sigma_w2=1.5, sigma_b2=0.0)[0]
    k, kx, kss = k_all[:8, :8], k_all[8:, :8], k_all[8:, 8:]
    lr, t = 0.8, 5.0
    mean, cov = dynamics.gp_moments(k, kx, k, kx, kss, ds.y_train, lr=lr, steps=t, continuous=True)
    lam, vec = np.linalg.eigh(k)
    e = lambda c: vec @ np.diag(np.exp(-c * lr * t / 8 * lam)) @ vec.T
    kinv = np.linalg.inv(k)
    np.testing.assert_allclose(mean, kx @ kinv @ (np.eye(8) - e(1)) @ ds.y_train, atol=1e-10)
    np.testing.assert_allclose(cov, kss - kx @ kinv @ (np.eye(8) - e(2)) @ kx.T, atol=1e-10)
    printed = kss - kx @ kinv @ (np.eye(8) - e(1)) @ kx.T
    assert np.max(np.abs(np.diag(cov) - np.diag(printed))) > 1e-3


def test_ensemble_statistics_helpers(small):
    ds, net, lr = small
    cmp = lin.ensemble_vs_gp(net, ds, seeds=range(5), lr=lr, record=[0, 200], alphas=np.linspace(-1, 2, 7))
    mask = cmp.away_from_data(0.05)
    assert mask[0].all() and not mask[1, 2] and not mask[1, 4]  # trained: the data points drop out
    z = np.abs(cmp.mean - cmp.gp_mean) / (cmp.sd / np.sqrt(5))
    assert cmp.max_abs_z(cmp.gp_mean, 0.05) == pytest.approx(np.max(z[mask]))
    assert cmp.max_abs_z(cmp.gp_mean, 0.05, times=[0]) == pytest.approx(np.max(z[0]))
    assert cmp.max_sd_ratio_error(0.05) == pytest.approx(np.max(np.abs(cmp.sd[mask] / cmp.gp_sd[mask] - 1)))
    # readout-only GP: the prior at t = 0
    np.testing.assert_allclose(cmp.readout_sd[0], cmp.gp_sd[0], rtol=1e-12)
    np.testing.assert_allclose(cmp.readout_mean[0], 0.0, atol=1e-12)


def test_weight_slices_and_fit_by_case():
    net = models.mlp(2, 5, out_dim=2)
    params = net.init(0, 3)
    flat = lin.flatten_params(params)
    slices = lin.weight_slices(params)
    assert [n for n, _ in slices] == ["W1 (input)", "W2", "W3 (readout)"]
    for (_, sl), (w, _) in zip(slices, models.dense_layers(params)):
        np.testing.assert_array_equal(flat[sl], np.asarray(w).ravel())
    import pandas as pd

    frame = pd.DataFrame([dict(depth=1, n_train=8, width=w, seed=s, rmse_empirical=2.0 * w ** -0.5 * (1 + 0.01 * s))
                          for w in (16, 32, 64) for s in (0, 1)])
    (widths, values, fit), = lin.fit_by_case(frame).values()
    assert list(widths) == [16, 32, 64] and values.shape == (2, 3)
    assert fit.exponent == pytest.approx(-0.5, abs=1e-6) and fit.method == "pooled ols"


# ----------------------------------------------------------------------------- chapter 3 analysis


def test_weight_discrepancy_measures_layers_patterns_and_row_space():
    ds = data.digits(12, 4, binary=True, seed=2)
    net = models.mlp(2, 48, activation="relu", sigma_w2=2.0, sigma_b2=0.1)
    lr = 0.5 * kernels.eta_critical(kernels.relu_kernels(ds.x_train, depth=2)[1])
    run = lin.net_vs_linearization(net, ds, seed=1, lr=lr, steps=40, record=[0, 40])
    wd = lin.weight_discrepancy(net, ds, run)
    assert wd.layers == ("W1 (input)", "W2", "W3 (readout)")
    slices = lin.weight_slices(run.params0)
    for l, (_, sl) in enumerate(slices):
        a, b = run.omega_net[sl], run.omega_lin[sl]
        assert wd.rms_net[l] == pytest.approx(np.sqrt(np.mean(a ** 2)))
        assert wd.rms_error[l] == pytest.approx(np.sqrt(np.mean((a - b) ** 2)))
        assert wd.sign_flipped[l] == pytest.approx(np.mean(np.sign(a) != np.sign(b)))
    np.testing.assert_allclose(wd.relative_error, wd.rms_error / wd.rms_lin)
    # the on/off split: the readout entry j belongs to unit j of the last hidden layer
    _, a0 = models.forward_features(net, run.params0, ds.x_train)
    _, aT = models.forward_features(net, run.params_final, ds.x_train)
    switched = np.any((np.asarray(a0[2]) > 0) != (np.asarray(aT[2]) > 0), axis=0)
    flipped = np.sign(run.omega_net[slices[-1][1]]) != np.sign(run.omega_lin[slices[-1][1]])
    assert wd.units_switched[-1] == pytest.approx(np.mean(switched))
    if switched.any():
        assert wd.flipped_if_switched[-1] == pytest.approx(np.mean(flipped[switched]))
    if (~switched).any():
        assert wd.flipped_if_not[-1] == pytest.approx(np.mean(flipped[~switched]))
    # eq. 8's ω_T lies in the row space of J_0; the network's displacement mostly does
    assert lin._row_space_fraction(net, run.params0, ds.x_train, run.theta_train,
                                   run.omega_lin) == pytest.approx(1.0, abs=1e-3)
    assert 0.5 < wd.row_space_net <= 1.0 + 1e-3 and 0.0 <= wd.row_space_error <= 1.0 + 1e-3
    with pytest.raises(ValueError, match="ReLU"):
        lin.weight_discrepancy(models.mlp(2, 48, activation="erf"), ds, run)
    with pytest.raises(TypeError, match="LinearizationRun"):
        lin.weight_discrepancy(net, ds, run.net)


def _frame(exponents, seeds=(0, 1, 2), widths=(16, 32, 64, 128), noise=0.05, prefactors=None):
    rng = np.random.default_rng(0)
    import pandas as pd

    rows = []
    for j, (case, p) in enumerate(exponents.items()):
        c = 1.0 if prefactors is None else prefactors[j]
        for w in widths:
            for s in seeds:
                rows.append(dict(depth=case[0], n_train=case[1], width=w, seed=s,
                                 rmse_empirical=c * w ** p * np.exp(noise * rng.standard_normal())))
    return pd.DataFrame(rows)


def test_common_exponent_recovers_the_shared_slope_and_prefactors():
    frame = _frame({(1, 8): -0.6, (2, 8): -0.6, (2, 32): -0.6}, prefactors=[1.0, 2.0, 4.0])
    fit = lin.common_exponent(frame)
    assert fit.ci_low < -0.6 < fit.ci_high and fit.ci_high - fit.ci_low < 0.2
    assert fit.prefactors[(2, 32)] / fit.prefactors[(1, 8)] == pytest.approx(4.0, rel=0.1)
    assert fit.dof == len(frame) - 4
    # one case: the same slope and interval as the pooled fit of ntklib.stats
    one = frame[(frame.depth == 1)]
    (_, _, pooled), = lin.fit_by_case(one).values()
    single = lin.common_exponent(one)
    assert pooled.method == "pooled ols"
    assert single.exponent == pytest.approx(pooled.exponent) and single.ci_low == pytest.approx(pooled.ci_low)
    with pytest.raises(ValueError, match="no column"):
        lin.common_exponent(frame, metric="nope")
    bad = frame.copy()
    bad.loc[0, "rmse_empirical"] = -1.0
    with pytest.raises(ValueError, match="> 0"):
        lin.common_exponent(bad)
    with pytest.raises(ValueError, match="two widths per case"):
        lin.common_exponent(frame[frame.width == 16])


def test_exponent_difference_interval():
    fits = lin.fit_by_case(_frame({(2, 8): -0.9, (2, 32): -0.5}, seeds=range(5)))
    diff, lo, hi = lin.exponent_difference(fits[(2, 8)], fits[(2, 32)])
    assert diff == pytest.approx(fits[(2, 8)][2].exponent - fits[(2, 32)][2].exponent)
    assert lo < -0.4 < hi and hi < 0 and diff - lo == pytest.approx(hi - diff)
    same = lin.fit_by_case(_frame({(2, 8): -0.7, (2, 32): -0.7}, seeds=range(5), noise=0.2))
    _, lo, hi = lin.exponent_difference(same[(2, 8)], same[(2, 32)])
    assert lo < 0 < hi
    with pytest.raises(TypeError, match="fit_by_case entries"):
        lin.exponent_difference((None, np.ones((2, 3)), 0.5), fits[(2, 8)])


def test_ensemble_sd_z_and_far_from_data(small):
    ds, net, lr = small
    alphas = np.linspace(-1, 2, 7)
    cmp = lin.ensemble_vs_gp(net, ds, seeds=range(5), lr=lr, record=[0, 200], alphas=alphas)
    assert cmp.sd_mc_error == pytest.approx(1 / np.sqrt(8))
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = (cmp.sd / cmp.gp_sd - 1) * np.sqrt(8)
    mask = cmp.gp_sd > 0
    np.testing.assert_allclose(cmp.sd_z[mask], expected[mask])
    far = cmp.far_from_data(0.05, 0.6)
    # α = -1, 2 are farther than 0.6 from both training points; α = -0.5, 0, 0.5, 1, 1.5 are not
    assert not far[:, 1:6].any() and far[0, [0, 6]].all()
    with pytest.raises(ValueError, match="distance"):
        cmp.far_from_data(0.05, -1.0)
