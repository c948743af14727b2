"""The proof's quantities (ntklib.bounds) and the learning-rate sweep, on cases with known answers."""

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from ntklib import bounds, claims, data, dynamics, kernels, models, stats
from ntklib.experiments import gronwall as lrx


# ----------------------------------------------------------------------------- pure functions


def test_residual_norms_and_contraction_of_a_geometric_sequence():
    y = np.zeros((4, 1))
    f = np.stack([0.5 ** s * np.ones((4, 1)) for s in range(5)])
    norms = bounds.residual_norms(f, y)
    np.testing.assert_allclose(norms, 2.0 * 0.5 ** np.arange(5))
    assert bounds.residual_norms(f[0], y) == pytest.approx(2.0)
    np.testing.assert_allclose(bounds.contraction_ratios(norms), 0.5)
    times = 0.1 * np.arange(5)
    assert bounds.decay_rate(times, norms) == pytest.approx(np.log(2) / 0.1)
    with pytest.raises(ValueError, match="shape of y"):
        bounds.residual_norms(f, np.zeros((3, 1)))


def test_contraction_bound_formula_and_validation():
    assert bounds.contraction_bound(2.0, 0.3, 10) == pytest.approx(1 - 2.0 * 0.3 / 30)
    with pytest.raises(ValueError, match="lr"):
        bounds.contraction_bound(-1.0, 0.3, 10)
    with pytest.raises(TypeError, match="n_outputs"):
        bounds.contraction_bound(1.0, 0.3, 2.5)


def test_linear_model_gd_obeys_the_exact_contraction():
    """Linear least squares: ||g_{s+1}|| ≤ (1 − ηλ_min/(Nk))||g_s|| ≤ the proof's 1 − ηλ_min/(3Nk)."""
    rng = np.random.default_rng(0)
    n = 12
    a = rng.standard_normal((n, 30))
    theta = a @ a.T
    lam = np.linalg.eigvalsh(theta)
    lr = kernels.eta_critical(theta)  # at η_critical itself ||I − ηΘ/N||_op = 1 − ηλ_min/N
    g = rng.standard_normal(n)
    norms = [np.linalg.norm(g)]
    for _ in range(50):
        g = g - lr / n * theta @ g
        norms.append(np.linalg.norm(g))
    ratios = bounds.contraction_ratios(np.array(norms))
    assert np.all(ratios <= 1 - lr * lam[0] / n + 1e-12)
    assert np.all(ratios <= bounds.contraction_bound(lr, lam[0], n))


def test_kernel_drift_and_operator_norm():
    k0 = np.eye(3)
    kt = np.stack([np.eye(3), np.eye(3) + np.diag([3.0, 4.0, 0.0])])
    np.testing.assert_allclose(bounds.kernel_drift(kt, k0), [0.0, 5.0])
    np.testing.assert_allclose(bounds.kernel_drift(kt, k0, norm="op"), [0.0, 4.0])
    assert bounds.operator_norm(np.diag([1.0, -7.0])) == pytest.approx(7.0)
    with pytest.raises(ValueError, match="norm"):
        bounds.kernel_drift(kt, k0, norm="nuc")


def test_gronwall_zero_drift_gives_zero_bound():
    """A linear model: Θ̂_t = Θ̂_0, so β = 0, α = 0 and the bound is exactly 0 = u."""
    t = np.array([0.0, 0.5, 1.0, 4.0])
    gw = bounds.gronwall_terms(t, 0.3, np.zeros(4), np.exp(-t), np.zeros(4))
    assert np.all(gw.rhs == 0) and np.all(gw.u == 0) and gw.fraction_holding == 1.0


def test_gronwall_upper_rule_against_closed_form():
    """β ≡ b, ||g_lin|| = G e^{−λt}: α(t) = bGt and ∫β = bt exactly; the rule bounds them from above
    and converges as the grid is refined."""
    lam, b, G = 0.7, 0.2, 3.0
    for num, slack in [(20, 0.5), (2000, 0.01)]:
        t = np.linspace(0, 5, num)
        gw = bounds.gronwall_terms(t, lam, np.full(num, b), G * np.exp(-lam * t), np.zeros(num))
        exact_alpha = b * G * t
        assert np.all(gw.alpha >= exact_alpha - 1e-12)
        assert np.all(gw.alpha <= exact_alpha * (1 + slack) + 1e-12)
        np.testing.assert_allclose(gw.int_beta, b * t, atol=1e-12)
        np.testing.assert_allclose(gw.rhs, gw.alpha * np.exp(b * t))
        np.testing.assert_allclose(gw.gap_bound, np.exp(-lam * t) * gw.rhs)


def test_gronwall_holds_for_discrete_gd_with_a_drifting_kernel():
    """Function-space GD g ← g − (η/N)Θ_s g with Θ_s = Θ_0 + s·D (known drift) against the linear
    model g_lin ← g_lin − (η/N)Θ_0 g_lin: the measured u never exceeds α·exp(∫β)."""
    rng = np.random.default_rng(3)
    n = 8
    a = rng.standard_normal((n, n))
    theta0 = a @ a.T + n * np.eye(n)
    d = rng.standard_normal((n, n))
    d = 1e-3 * (d + d.T)
    lr = 0.5 * kernels.eta_critical(theta0)
    g = glin = rng.standard_normal(n)
    gs, gls, betas = [g], [glin], [0.0]
    for s in range(1, 300):
        theta_prev = theta0 + (s - 1) * d
        g = g - lr / n * theta_prev @ g
        glin = glin - lr / n * theta0 @ glin
        gs.append(g)
        gls.append(glin)
        betas.append(bounds.operator_norm(s * d) / n)
    gs, gls = np.array(gs), np.array(gls)
    grid = dynamics.log_steps(299, 25)
    times = lr * grid
    lam0 = np.linalg.eigvalsh(theta0)[0] / n
    gw = bounds.gronwall_terms(times, lam0, np.array(betas)[grid], np.linalg.norm(gls[grid], axis=1),
                               np.linalg.norm((gls - gs)[grid], axis=1))
    assert gw.fraction_holding == 1.0
    assert gw.u[-1] > 0  # the test is not vacuous


def test_gronwall_validation():
    with pytest.raises(ValueError, match="start at 0"):
        bounds.gronwall_terms([1.0, 2.0], 0.1, [0, 0], [1, 1], [0, 0])
    with pytest.raises(ValueError, match="one shape"):
        bounds.gronwall_terms([0.0, 2.0], 0.1, [0, 0, 0], [1, 1], [0, 0])
    with pytest.raises(ValueError, match=">= 0"):
        bounds.gronwall_terms([0.0, 2.0], 0.1, [0, -1], [1, 1], [0, 0])


# ----------------------------------------------------------------------------- Jacobians


def test_jacobian_distance_is_zero_for_a_linear_model_and_exact_for_a_quadratic(x64):
    x = jnp.asarray(np.random.default_rng(0).standard_normal((5, 3)))
    linear = lambda p, xx: xx @ p["w"]
    pa, pb = {"w": jnp.ones((3, 1))}, {"w": jnp.arange(3.0)[:, None]}
    assert bounds.jacobian_distance(linear, pa, pb, x) == pytest.approx(0.0, abs=1e-12)
    assert bounds.jacobian_norm(linear, pa, x) == pytest.approx(float(jnp.linalg.norm(x)))
    quad = lambda p, xx: 0.5 * (xx @ p["w"]) ** 2  # J_i = (x_i·w) x_i
    diff = (x @ (pa["w"] - pb["w"]))  # (5, 1)
    expected = float(jnp.sqrt(jnp.sum(diff[:, 0] ** 2 * jnp.sum(x ** 2, axis=1))))
    assert bounds.jacobian_distance(quad, pa, pb, x) == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("parameterization", ["ntk", "standard"])
@pytest.mark.parametrize("activation", ["erf", "relu"])
def test_structured_formulas_match_full_jacobians(x64, parameterization, activation):
    ds = data.digits(6, 2, classes=[0, 1, 2], seed=4)
    net = models.mlp(2, 24, activation=activation, parameterization=parameterization, out_dim=3)
    to64 = lambda p: jax.tree_util.tree_map(lambda a: a.astype(jnp.float64), p)
    pa = to64(net.init(0, ds.input_dim))
    pb = bounds.random_direction(pa, 0.7, seed=5)
    x = ds.x_train.astype(np.float64)
    fast = bounds.jacobian_distance(net, pa, pb, x)
    full = bounds.jacobian_distance(net.apply_fn, pa, pb, x)
    assert fast == pytest.approx(full, rel=1e-8)
    assert bounds.jacobian_norm(net, pa, x) == pytest.approx(bounds.jacobian_norm(net.apply_fn, pa, x), rel=1e-8)
    assert bounds.jacobian_distance(net, pa, pa, x) == pytest.approx(0.0, abs=1e-6)
    cross = bounds.cross_ntk(net, pa, pb, x)  # J_a J_bᵀ by the per-layer formula
    assert cross.shape == (18, 18)
    np.testing.assert_allclose(cross, bounds.cross_ntk(net.apply_fn, pa, pb, x), rtol=1e-8, atol=1e-10)
    theta_a = bounds.cross_ntk(net, pa, pa, x)
    np.testing.assert_allclose(theta_a, kernels.empirical_ntk(net, pa, x), rtol=1e-8, atol=1e-10)
    # Cauchy–Schwarz: ||J_a (J_b − J_a)ᵀ||_F ≤ ||J_a||_F ||J_b − J_a||_F
    assert np.linalg.norm(cross - theta_a) <= bounds.jacobian_norm(net, pa, x) * fast


def test_sup_gap_bound_is_the_maximum_over_time_of_the_closed_form():
    sigma, lam0, r0 = 0.02, 0.05, 3.0
    t = np.linspace(0.0, 2000.0, 200001)
    closed = sigma * r0 * t * np.exp(-(lam0 - sigma) * t)
    assert bounds.sup_gap_bound(sigma, lam0, r0) == pytest.approx(closed.max(), rel=1e-6)
    assert bounds.sup_gap_bound(lam0, lam0, r0) == float("inf")
    with pytest.raises(ValueError, match="lam0"):
        bounds.sup_gap_bound(0.1, 0.0, 1.0)


def test_width_threshold_closes_step_three():
    k, r0, lam = 2.0, 3.0, 0.5
    n_star = bounds.width_threshold(k, r0, lam)
    # at n*, 2K·(K/√n)·3KR_0/λ equals λ/3; wider is below it
    assert 6 * k ** 3 * r0 / (lam * np.sqrt(n_star)) == pytest.approx(lam / 3)
    assert 6 * k ** 3 * r0 / (lam * np.sqrt(4 * n_star)) < lam / 3
    with pytest.raises(ValueError, match="k_const"):
        bounds.width_threshold(0.0, r0, lam)


def test_random_direction_has_the_requested_radius():
    net = models.mlp(1, 16, activation="erf")
    p = net.init(0, 5)
    q = bounds.random_direction(p, 2.5, seed=1)
    assert models.parameter_distance(p, q) == pytest.approx(2.5, rel=1e-5)


# ----------------------------------------------------------------------------- one training run


@pytest.fixture(scope="module")
def run():
    ds = data.digits(16, 8, binary=True, seed=1)
    net = models.mlp(1, 256, activation="erf")
    params = net.init(2, ds.input_dim)
    _, theta = kernels.erf_kernels(ds.x_train, depth=1)
    lr = 0.5 * kernels.eta_critical(theta)
    m = bounds.measure_run(net, params, ds, lr=lr, steps=60, record=dynamics.log_steps(60, 10))
    return ds, net, params, lr, theta, m


def test_measure_run_matches_dynamics_gradient_descent(run):
    ds, net, params, lr, _, m = run
    ref = dynamics.gradient_descent(net.apply_fn, params, ds.x_train, ds.y_train, lr=lr, steps=60,
                                    x_test=ds.x_test, record=m.steps)
    np.testing.assert_allclose(m.f_train, ref.f_train, atol=1e-5)
    np.testing.assert_allclose(m.f_test, ref.f_test, atol=1e-5)
    np.testing.assert_allclose(m.residual_norms[m.steps], bounds.residual_norms(ref.f_train, ds.y_train),
                               rtol=1e-3)
    assert m.residual_norms.shape == (61,)
    np.testing.assert_allclose(m.times, lr * m.steps)


def test_measure_run_linearization_and_records(run):
    ds, net, params, lr, _, m = run
    theta0 = kernels.empirical_ntk(net, params, ds.x_train)
    np.testing.assert_allclose(m.theta_0, theta0, rtol=1e-6)
    np.testing.assert_allclose(m.flin_train[0], m.f_train[0], atol=1e-6)
    assert m.drift_fro[0] == 0 and m.param_distance[0] == 0 and m.jacobian_distance[0] == 0
    assert np.all(m.drift_fro <= m.drift_chain_bound() + 1e-6)  # triangle inequality
    assert np.all(m.drift_op <= m.drift_fro + 1e-9)
    assert m.param_distance[-1] == pytest.approx(models.parameter_distance(params, _final_params(ds, net, params, lr)),
                                                  rel=1e-4)
    np.testing.assert_allclose(m.jacobian_norms[0], m.jacobian_norm_0)


def _final_params(ds, net, params, lr):
    return dynamics.gradient_descent(net.apply_fn, params, ds.x_train, ds.y_train, lr=lr, steps=60,
                                     record=[0, 60]).params_final


def test_measure_run_alignment_layers_and_norms(run):
    ds, net, params, lr, theta, m = run
    final = _final_params(ds, net, params, lr)
    np.testing.assert_allclose(m.layer_changes, models.relative_weight_change(params, final),
                               rtol=1e-4)
    expected = np.linalg.norm(bounds.cross_ntk(net, params, final, ds.x_train)
                              - bounds.cross_ntk(net, params, params, ds.x_train))
    assert m.cross_drift == pytest.approx(expected, rel=1e-3)
    assert 0 < m.alignment <= 1
    s = m.summary(theta)
    assert 0 < s["triangle_ratio"] <= 1 + 1e-6
    assert s["gap_train"] <= s["gap_train_l2"] <= np.sqrt(ds.y_train.size) * s["gap_train"]
    assert s["gap_train_l2"] <= s["gronwall_bound"] or s["sigma_ratio"] >= 1
    assert s["sigma_ratio"] == pytest.approx(m.sigma / m.lam0)
    assert set(f"layer_change_{i}" for i in (1, 2)) <= set(s)


def test_measure_run_summary_and_gronwall(run):
    *_, theta, m = run
    s = m.summary(theta)
    assert s["gronwall_fraction"] == 1.0
    assert s["max_contraction"] <= s["contraction_bound"]
    assert s["decay_rate"] >= s["decay_rate_bound"]
    assert 0 < s["gap_train"] < 0.5 and s["lipschitz"] > 0
    gw = m.gronwall()
    assert gw.u[0] == pytest.approx(0.0, abs=1e-6) and np.all(np.diff(gw.alpha) >= 0)
    with pytest.raises(ValueError, match="theta_analytic"):
        m.summary(np.eye(3))


def test_measure_run_validation(run):
    ds, net, params, lr, *_ = run
    with pytest.raises(TypeError, match="Model"):
        bounds.measure_run(net.apply_fn, params, ds, lr=lr, steps=5)
    with pytest.raises(ValueError, match="record"):
        bounds.measure_run(net, params, ds, lr=lr, steps=5, record=[1, 5])
    with pytest.raises(FloatingPointError, match="diverged"):
        bounds.measure_run(net, params, ds, lr=1e4, steps=40, record=[0, 40])


# ----------------------------------------------------------------------------- learning-rate sweep


def test_classify_outcomes():
    assert lrx.classify(True, True, np.nan) == "diverged"
    assert lrx.classify(False, True, 0.9) == "stuck"
    assert lrx.classify(False, True, 0.01) == "catapult"
    assert lrx.classify(False, False, 0.01) == "linear"


def test_dead_fraction_counts_units_never_active():
    net = models.mlp(2, 8, activation="relu", sigma_b2=1.0)
    params = net.init(0, 4)
    x = np.abs(np.random.default_rng(0).standard_normal((5, 4))).astype(np.float32)
    (w1, b1), act, (w2, b2), act2, last = params
    dead_params = [(w1, b1 - 100.0), act, (w2, b2), act2, last]
    # first layer all dead; second layer sees x = 0 and has pre-activation σ_b b2: dead where b2 ≤ 0
    expected = (8 + int(np.sum(np.asarray(b2) <= 0))) / 16
    assert lrx.dead_fraction(net, dead_params, x) == pytest.approx(expected)
    assert np.isnan(lrx.dead_fraction(models.mlp(1, 8, activation="tanh"), models.mlp(1, 8, activation="tanh").init(0, 4), x))


def test_lr_run_below_and_above_threshold():
    ds = data.digits(16, 8, binary=True, seed=0)
    net = models.mlp(1, 256, activation="erf")
    params = net.init(0, ds.input_dim)
    eta_c = kernels.eta_critical(kernels.analytic_ntk(net, ds.x_train))
    low = lrx.lr_run(net, params, ds, lr=0.5 * eta_c, steps=50, eta_crit=eta_c)
    assert low["outcome"] == "linear" and not low["lin_diverged"] and low["c"] == pytest.approx(0.5)
    assert low["lin_gap_test"] < 0.1 and low["kernel_change"] < 0.1
    theta0 = kernels.empirical_ntk(net, params, ds.x_train)
    assert low["c_lin"] == pytest.approx(2 * 16 / np.linalg.eigvalsh(theta0.astype(np.float64))[-1] / eta_c, rel=1e-5)
    high = lrx.lr_run(net, params, ds, lr=50 * eta_c, steps=50, eta_crit=eta_c)
    assert high["lin_diverged"] and high["outcome"] == "diverged" and np.isnan(high["kernel_change"])
    # the stability number: the linear model diverges iff η λ_max(Θ̂_0)/(Nk) > 2
    assert low["sharpness_0"] < 2 < high["sharpness_0"] and np.isnan(high["sharpness_T"])
    assert low["sharpness_0"] == pytest.approx(2 * 0.5 / low["c_lin"], rel=1e-6)
    assert 0 < low["sharpness_T"] < 2


def test_classify_uses_the_stated_threshold():
    assert lrx.classify(False, False, lrx.TRAINED_BELOW - 1e-9) == "linear"
    assert lrx.classify(False, False, lrx.TRAINED_BELOW) == "stuck"
    with pytest.raises(ValueError, match="trained_below"):
        lrx.classify(False, False, 0.1, trained_below=-1.0)


def test_state_exponent_checks_can_fail():
    claims.reset()
    try:
        fit = stats.PowerLaw(-0.8, 0.05, -0.9, -0.7, 1.0, "pooled ols")
        lrx.state_exponent("t_half", fit, contains=-0.5)       # interval excludes −0.5: fails
        lrx.state_exponent("t_one", fit, contains=-1.0)        # excludes −1: fails
        lrx.state_exponent("t_fast", fit, below=-0.5)          # whole interval below −0.5: holds
        lrx.state_exponent("t_faster", fit, below=-0.75)       # upper end −0.7 > −0.75: fails
        passes = {c.name: c.passes for c in claims.recorded()}
        assert not (passes["t_half_lo"] and passes["t_half_hi"])
        assert not (passes["t_one_lo"] and passes["t_one_hi"])
        assert passes["t_fast_hi"] and not passes["t_faster_hi"]
        lrx.state_exponent("t_near", fit, near=-0.5, tol=0.2)  # |−0.8 + 0.5| = 0.3 > 0.2: fails
        lrx.state_exponent("t_close", fit, near=-0.75, tol=0.1)  # within 0.1: holds
        passes = {c.name: c.passes for c in claims.recorded()}
        assert not passes["t_near"] and passes["t_close"]
        with pytest.raises(ValueError, match="contains=, below= or near="):
            lrx.state_exponent("t_none", fit)
        with pytest.raises(TypeError, match="PowerLaw"):
            lrx.state_exponent("t_bad", -0.5, contains=-0.5)
    finally:
        claims.reset()


def test_boundaries_from_a_synthetic_frame():
    rows = []
    for c, outcome in [(0.5, "linear"), (1.2, "catapult"), (2.0, "catapult"), (3.0, "diverged")]:
        rows.append({"net": "a", "seed": 0, "c": c, "c_lin": 1.05, "lin_diverged": c > 1.05,
                     "nn_diverged": outcome == "diverged", "outcome": outcome})
    rows.append({"net": "a", "seed": 1, "c": 2.0, "c_lin": 0.95, "lin_diverged": True, "nn_diverged": False,
                 "outcome": "stuck"})
    b = lrx.boundaries(pd.DataFrame(rows)).iloc[0]
    assert b["c_lin"] == 1.2 and b["c_nn_diverged"] == 3.0 and b["c_stuck"] == 2.0
    assert b["c_max_trained"] == 1.2  # at c = 2 one seed got stuck
    assert b["c_lin_exact"] == pytest.approx(sum([1.05] * 4 + [0.95]) / 5)
    with pytest.raises(ValueError, match="lacks columns"):
        lrx.boundaries(pd.DataFrame({"net": ["a"]}))


def test_learning_rate_sweep_is_tidy():
    ds = data.digits(12, 4, binary=True, seed=0)
    nets = {"relu": models.mlp(1, 64, activation="relu")}
    frame = lrx.learning_rate_sweep(nets, ds, [0.5, 30.0], steps=20, seeds=[0, 1])
    assert len(frame) == 4 and set(frame["outcome"]) <= set(lrx.OUTCOMES)
    assert frame.loc[frame["c"] == 0.5, "outcome"].eq("linear").all()
    with pytest.raises(ValueError, match="networks"):
        lrx.learning_rate_sweep({}, ds, [1.0], steps=5)


def test_learning_rate_sweep_keeps_the_grid_values(monkeypatch):
    """c is the multiplier asked for, not lr/η_crit: (0.8·η)/η is not 0.8 in floating point for
    every η, and a column split in two (one per network) broke chapter 4's outcome table on a CPU
    whose η_crit rounded differently."""
    eta = next(e for e in np.linspace(0.1, 3.0, 300) if (0.8 * e) / e != 0.8)
    monkeypatch.setattr(lrx, "eta_critical", lambda *args, **kwargs: float(eta))
    ds = data.digits(12, 4, binary=True, seed=0)
    frame = lrx.learning_rate_sweep({"relu": models.mlp(1, 32, activation="relu")}, ds, [0.8], steps=3)
    assert frame["c"].tolist() == [0.8]
    assert frame["lr"].tolist() == [0.8 * eta]
