"""Chapter 2 runners: NTK implementations, Monte-Carlo kernel errors, kernel change, spectra."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

from ntklib import data, kernels, models, stats
from ntklib.experiments import ntk as kc


# ----------------------------------------------------------------------------- implementations


def test_four_implementations_agree_in_float64(x64):
    ds = data.digits(6, 4, classes=[0, 1, 2], seed=2)
    net = models.mlp(2, 40, activation="erf", out_dim=3)
    params = jax.tree_util.tree_map(lambda a: a.astype(jnp.float64), net.init(1, ds.input_dim))
    x1, x2 = ds.x_train.astype(np.float64), ds.x_test.astype(np.float64)
    found = {name: fn(params, x1, x2) for name, fn in kc.ntk_functions(net).items()}
    assert list(found) == list(kc.METHODS)
    for theta in found.values():
        assert theta.shape == (6 * 3, 4 * 3)
    gaps = kc.implementation_gaps(found)
    assert list(gaps["method"]) == list(kc.METHODS)
    assert gaps["max_rel_gap"].max() < 1e-12
    # the brute force really is J Jᵀ: the diagonal is the squared norm of each Jacobian row
    jac = kc._flat_jacobian(net.apply_fn, params, jnp.asarray(x1))
    np.testing.assert_allclose(np.diag(kc.brute_force_ntk(net.apply_fn, params, x1)),
                               np.sum(np.asarray(jac) ** 2, axis=1), rtol=1e-12)


def test_traced_kernel_is_mean_of_diagonal_output_blocks():
    ds = data.digits(5, 3, classes=[0, 1, 2, 3], seed=0)
    net = models.mlp(1, 32, out_dim=4)
    params = net.init(0, ds.input_dim)
    full = kc.neural_tangents_ntk(net.apply_fn, params, ds.x_train, ds.x_test, implementation="ntk_vector_products")
    traced = kc.neural_tangents_ntk(net.apply_fn, params, ds.x_train, ds.x_test, trace_outputs=True)
    blocks = full.reshape(5, 4, 3, 4)
    np.testing.assert_allclose(traced, np.einsum("iaja->ij", blocks) / 4, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(traced, kernels.empirical_ntk(net, params, ds.x_train, ds.x_test, trace_outputs=True),
                               rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="implementation"):
        kc.neural_tangents_ntk(net.apply_fn, params, ds.x_train, implementation="auto")


def test_implementation_gaps_needs_reference():
    with pytest.raises(ValueError, match="reference"):
        kc.implementation_gaps({"a": np.eye(2)})


@pytest.mark.parametrize("sigma_b2", [0.1, 0.0])
def test_ntk_memory_matches_actual_arrays(sigma_b2):
    net = models.mlp(2, 24, sigma_b2=sigma_b2, out_dim=3)
    params = net.init(0, 7)
    mem = kc.ntk_memory(net, 5, 7)
    assert mem["n_params"] == models.parameter_count(params)
    jac = kc._flat_jacobian(net.apply_fn, params, jnp.asarray(data.gaussian_inputs(5, 7)))
    assert mem["jacobian_bytes"] == jac.size * 4
    assert mem["kernel_bytes"] == (5 * 3) ** 2 * 4
    assert mem["features_bytes"] == 4 * 5 * ((7 + 3 * 24) + (24 + 3 * 24) + (24 + 3 * 3))
    with pytest.raises(ValueError):
        kc.ntk_memory(net, 0, 7)


def test_time_ntk_implementations_shape_and_validation():
    frame = kc.time_ntk_implementations([(16, 4), (32, 4)], depth=1, input_dim=5, repeats=1)
    assert len(frame) == 2 * len(kc.METHODS)
    assert (frame["seconds"] > 0).all()
    assert set(frame["method"]) == set(kc.METHODS)
    with pytest.raises(ValueError, match="method"):
        kc.time_ntk_implementations([(16, 4)], depth=1, input_dim=5, methods=["auto"])


def test_offdiagonal_output_fraction():
    a = np.array([[2.0, 1.0], [1.0, 3.0]])
    assert kc.offdiagonal_output_fraction(np.kron(a, np.eye(3)), 3) == 0.0
    ones = np.ones((4, 4))  # k = 2: half of the 16 entries lie in off-diagonal output blocks
    assert kc.offdiagonal_output_fraction(ones, 2) == pytest.approx(np.sqrt(0.5))
    with pytest.raises(ValueError, match="multiple"):
        kc.offdiagonal_output_fraction(np.ones((3, 3)), 2)


def test_offdiagonal_fraction_shrinks_with_width():
    ds = data.digits(6, 1, classes=[0, 1, 2], seed=0)
    frac = [kc.offdiagonal_output_fraction(kernels.empirical_ntk(net, net.init(0, 64), ds.x_train), 3)
            for net in (models.mlp(1, 32, out_dim=3), models.mlp(1, 2048, out_dim=3))]
    assert frac[1] < frac[0] / 3  # √64 = 8 in expectation


# ----------------------------------------------------------------------------- Monte Carlo


def test_monte_carlo_errors_reproduce_by_hand():
    x = data.gaussian_inputs(5, 6, seed=3)
    frame = kc.monte_carlo_errors(x, depth=2, widths=[16, 32], samples=[1, 3], replicates=2, seed=7)
    assert list(frame.columns) == ["depth", "width", "samples", "replicate", "ntk_error", "nngp_error"]
    assert len(frame) == 2 * 2 * 2
    net = models.mlp(2, 32)
    nngp_inf, ntk_inf = kernels.analytic_kernels(net, x)
    key = jax.random.fold_in(jax.random.PRNGKey(7), 32)
    draws = [net.init(jax.random.fold_in(key, 1 * 3 + m), 6) for m in range(3)]  # replicate 1
    ntk = np.mean([kernels.empirical_ntk(net, p, x) for p in draws], axis=0)
    nngp = np.mean([kernels.empirical_nngp(net, p, x) for p in draws], axis=0)
    row = frame[(frame.width == 32) & (frame.samples == 3) & (frame.replicate == 1)].iloc[0]
    assert row.ntk_error == pytest.approx(stats.relative_error(ntk, ntk_inf), rel=1e-4)
    assert row.nngp_error == pytest.approx(stats.relative_error(nngp, nngp_inf), rel=1e-4)


def test_monte_carlo_error_falls_with_width_and_samples():
    x = data.gaussian_inputs(8, 16, seed=0)
    frame = kc.monte_carlo_errors(x, depth=1, widths=[16, 1024], samples=[1, 16], replicates=4)
    widths, grid_samples, grid = kc.error_grid(frame, "ntk_error")
    assert list(widths) == [16, 1024] and list(grid_samples) == [1, 16]
    assert grid[0, 1] < grid[0, 0] / 3 and grid[1, 0] < grid[0, 0] / 3
    _, _, cube = kc.error_grid(frame, "ntk_error", per_replicate=True)
    assert cube.shape == (4, 2, 2)
    row = frame[(frame.replicate == 2) & (frame.samples == 16) & (frame.width == 1024)]
    assert cube[2, 1, 1] == row.ntk_error.iloc[0]
    np.testing.assert_allclose(np.exp(np.log(cube).mean(axis=0)), grid, rtol=1e-12)
    w, table = kc.error_table(frame, "nngp_error", samples=1)
    assert list(w) == [16, 1024] and table.shape == (4, 2)
    m, table = kc.error_table(frame, "ntk_error", width=1024)
    assert list(m) == [1, 16] and table.shape == (4, 2)
    with pytest.raises(ValueError, match="exactly one"):
        kc.error_table(frame, "ntk_error")
    with pytest.raises(ValueError, match="metric"):
        kc.error_table(frame, "nope", samples=1)
    with pytest.raises(ValueError, match="no rows"):
        kc.error_table(frame, "ntk_error", samples=2)


def test_fit_joint_power_law_exact_and_noisy():
    widths = 2.0 ** np.arange(3, 9)
    samples = 2.0 ** np.arange(0, 5)
    exact = 1.7 * widths[None, :] ** -0.5 * samples[:, None] ** -0.4
    fit = kc.fit_joint_power_law(widths, samples, exact)
    assert fit.width_exponent == pytest.approx(-0.5, abs=1e-10)
    assert fit.samples_exponent == pytest.approx(-0.4, abs=1e-10)
    assert fit.prefactor == pytest.approx(1.7)
    np.testing.assert_allclose(fit.predict(widths[None, :], samples[:, None]), exact)
    rng = np.random.default_rng(0)
    noisy = kc.fit_joint_power_law(widths, samples, exact * np.exp(0.1 * rng.standard_normal(exact.shape)))
    assert abs(noisy.width_exponent + 0.5) < 4 * noisy.width_stderr + 1e-3
    assert 0 < noisy.samples_stderr < 0.05
    lo, hi = noisy.width_interval
    assert lo < noisy.width_exponent < hi
    assert hi - lo == pytest.approx(2 * scipy.stats.t.ppf(0.975, exact.size - 3) * noisy.width_stderr)
    # replicates pooled: the same exponents as the fit of their (geometric) mean grid, and an
    # interval from all cells' scatter (statsmodels-free check: numpy least squares by hand)
    cube = exact[None] * np.exp(0.1 * rng.standard_normal((5,) + exact.shape))
    pooled = kc.fit_joint_power_law(widths, samples, cube)
    mean_fit = kc.fit_joint_power_law(widths, samples, np.exp(np.log(cube).mean(axis=0)))
    assert pooled.width_exponent == pytest.approx(mean_fit.width_exponent, abs=1e-12)
    assert pooled.samples_exponent == pytest.approx(mean_fit.samples_exponent, abs=1e-12)
    assert pooled.samples_interval[0] < -0.4 < pooled.samples_interval[1]
    with pytest.raises(ValueError, match="shape"):
        kc.fit_joint_power_law(widths, samples, exact.T)
    with pytest.raises(ValueError, match="> 0"):
        kc.fit_joint_power_law(widths, samples, -exact)


# ----------------------------------------------------------------------------- kernel change


def test_kernel_change_matches_direct_computation():
    ds = data.digits(12, 4, binary=True, seed=0)
    net = models.mlp(2, 64)
    params = net.init(0, ds.input_dim)
    run = kc.kernel_change(net, params, ds, lr=0.2, steps=20, record=[0, 5, 20])
    assert list(run.steps) == [0, 5, 20]
    np.testing.assert_allclose(run.times, 0.2 * np.array([0, 5, 20]))
    assert run.ntk_change[0] == 0.0 and run.nngp_change[0] == 0.0
    assert np.all(run.ntk_change[1:] > 0) and np.all(run.nngp_change[1:] > 0)
    from ntklib import dynamics

    final = dynamics.train(net, params, ds, lr=0.2, steps=20, record=[0, 20]).params_final
    ntk0 = kernels.empirical_ntk(net, params, ds.x_train)
    assert run.ntk_change[-1] == pytest.approx(
        stats.relative_error(kernels.empirical_ntk(net, final, ds.x_train), ntk0), rel=1e-3)


def test_kernel_change_sweep_frames_and_width_trend():
    ds = data.digits(16, 4, binary=True, seed=1)
    sweep = kc.kernel_change_sweep(ds, widths=[32, 1024], seeds=[0, 1], depth=1, steps=40,
                                   lr_fraction=0.5, num_records=4)
    eta_c = kernels.eta_critical(kernels.analytic_ntk(models.mlp(1, 8), ds.x_train))
    assert sweep.eta_critical == pytest.approx(eta_c)
    assert sweep.lr == pytest.approx(0.5 * eta_c)
    assert len(sweep.final) == 4
    assert set(sweep.trajectories.columns) >= {"width", "seed", "step", "time", "ntk_change", "nngp_change"}
    assert (sweep.trajectories.groupby(["width", "seed"]).size() == 5).all()  # 0 + 4 log steps
    by_width = sweep.final.groupby("width")["ntk_change"].mean()
    assert by_width[1024] < by_width[32] / 4
    with pytest.raises(ValueError):
        kc.kernel_change_sweep(ds, widths=[], seeds=[0], depth=1, steps=4, lr_fraction=0.5)


# ----------------------------------------------------------------------------- spectra


def test_spectrum_summary_and_spectra():
    summary = kc.spectrum_summary(np.diag([1.0, 3.0, 7.0]))
    assert summary["lam_min"] == pytest.approx(1.0) and summary["lam_max"] == pytest.approx(7.0)
    assert summary["condition"] == pytest.approx(7.0)
    assert summary["eta_critical"] == pytest.approx(6 / 8)
    assert summary["eta_divergence"] == pytest.approx(6 / 7)
    x = data.gaussian_inputs(6, 5, seed=0)
    nets = {"relu-1": models.mlp(1, 8), "erf-3": models.mlp(3, 8, activation="erf")}
    frame, eigs = kc.spectra(nets, x)
    assert list(frame["label"]) == ["relu-1", "erf-3"] and list(frame["depth"]) == [1, 3]
    for label, lam in eigs.items():
        assert lam.shape == (6,) and np.all(np.diff(lam) <= 0)
        row = frame[frame.label == label].iloc[0]
        assert row.lam_max == pytest.approx(lam[0], rel=1e-9)
    with pytest.raises(TypeError):
        kc.spectra({"bad": object()}, x)


def test_kernel_change_sweep_members_follow_single_runs():
    """Seeds trained together (vmapped) give the kernel changes of one kernel_change run each."""
    ds = data.digits(16, 4, binary=True, seed=2)
    sweep = kc.kernel_change_sweep(ds, widths=[64], seeds=[0, 5], depth=2, steps=30,
                                   lr_fraction=0.5, num_records=3)
    net = models.mlp(2, 64)
    for seed in (0, 5):
        single = kc.kernel_change(net, net.init(seed, ds.input_dim), ds, lr=sweep.lr, steps=30,
                                  record=sorted(sweep.trajectories.step.unique()))
        rows = sweep.trajectories[sweep.trajectories.seed == seed].sort_values("step")
        np.testing.assert_allclose(rows.ntk_change, single.ntk_change, rtol=1e-3, atol=1e-6)
        np.testing.assert_allclose(rows.loss_train, single.loss_train, rtol=1e-4)
