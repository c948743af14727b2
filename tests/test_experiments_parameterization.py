"""Chapter 1: parameterization maps (SM §F) and the lazy-regime width-sweep runner."""

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from ntklib import data, dynamics, kernels, models
from ntklib.experiments import parameterization as lazy


@pytest.fixture(scope="module")
def small():
    ds = data.digits(16, 8, binary=True, seed=3)
    net = models.mlp(2, 32, sigma_w2=2.0, sigma_b2=0.1)
    return ds, net, net.init(0, ds.input_dim)


# ----------------------------------------------------------------------------- models: SM §F


def test_ntk_to_standard_params_same_function_and_roundtrip(small):
    ds, net, params = small
    std = models.mlp(2, 32, sigma_w2=2.0, sigma_b2=0.1, parameterization="standard")
    converted = models.ntk_to_standard_params(net, params)
    np.testing.assert_allclose(std.apply_fn(converted, ds.x_train), net.apply_fn(params, ds.x_train),
                               rtol=1e-5, atol=1e-5)
    w0, b0 = models.dense_layers(params)[0]
    w1, b1 = models.dense_layers(converted)[0]
    np.testing.assert_allclose(w1, np.sqrt(2.0) * w0 / np.sqrt(ds.input_dim), rtol=1e-6)
    np.testing.assert_allclose(b1, np.sqrt(0.1) * b0, rtol=1e-6)
    back = models.standard_to_ntk_params(net, converted)
    for a, b in zip(jax.tree_util.tree_leaves(back), jax.tree_util.tree_leaves(params)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_ntk_to_standard_params_without_bias_and_errors():
    net = models.mlp(1, 8, sigma_b2=0.0)
    params = net.init(0, 3)
    out = models.ntk_to_standard_params(net, params)
    assert all(b is None for _, b in models.dense_layers(out))
    std = models.mlp(1, 8, sigma_b2=0.0, parameterization="standard")
    x = data.gaussian_inputs(4, 3)
    np.testing.assert_allclose(std.apply_fn(out, x), net.apply_fn(params, x), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="parameterization='ntk'"):
        models.ntk_to_standard_params(std, params)
    with pytest.raises(TypeError, match="Model"):
        models.ntk_to_standard_params(None, params)
    biased = models.mlp(1, 8).init(0, 3)
    with pytest.raises(ValueError, match="sigma_b2 = 0"):
        models.standard_to_ntk_params(net, biased)


def test_equivalent_learning_rates_formulas(small):
    ds, net, params = small
    to_std = models.equivalent_learning_rates(net, params, 0.4, to="standard")
    fans = [ds.input_dim, 32, 32]
    for (w_rate, b_rate), fan in zip(models.dense_layers(to_std), fans):
        assert w_rate == pytest.approx(0.4 * 2.0 / fan)
        assert b_rate == pytest.approx(0.4 * 0.1)
    # eq. S37: standard rate η_0/n  ->  η_ω = n_in η_0/(n σ_w²), η_β = η_0/(n σ_b²)
    eta0, n = 1.3, 32
    to_ntk = models.equivalent_learning_rates(net, params, eta0 / n, to="ntk")
    for (w_rate, b_rate), fan in zip(models.dense_layers(to_ntk), fans):
        assert w_rate == pytest.approx(fan * eta0 / (n * 2.0))
        assert b_rate == pytest.approx(eta0 / (n * 0.1))
    # a per-leaf pytree maps leaf by leaf, and the two maps are inverse
    back = models.equivalent_learning_rates(net, params, to_std, to="ntk")
    for r in jax.tree_util.tree_leaves(back):
        assert r == pytest.approx(0.4)
    assert jax.tree_util.tree_structure(to_std) == jax.tree_util.tree_structure(
        jax.tree_util.tree_map(lambda _: 0.0, params))


def test_equivalent_learning_rates_validation(small):
    _, net, params = small
    with pytest.raises(ValueError, match="to must be one of"):
        models.equivalent_learning_rates(net, params, 0.1, to="mup")
    with pytest.raises(ValueError, match="lr must be finite and > 0"):
        models.equivalent_learning_rates(net, params, -0.1, to="standard")
    with pytest.raises(TypeError, match="shaped like params"):
        models.equivalent_learning_rates(net, params, [0.1], to="standard")
    with pytest.raises(TypeError, match="pair"):
        models.equivalent_learning_rates(net, params, [0.1] * len(params), to="standard")


def test_standard_gd_by_hand_equals_ntk_gd_with_mapped_rates(small, x64):
    """Independent check of eq. S36–S37: a hand-written GD loop in standard coordinates with one
    rate η_0/n against ntklib's NTK-parameterized GD with the per-layer rates."""
    ds, _, _ = small
    net = models.mlp(2, 32, sigma_w2=2.0, sigma_b2=0.1)
    params = net.init(0, ds.input_dim)
    std_params = models.ntk_to_standard_params(net, params)
    x, y = jnp.asarray(ds.x_train, jnp.float64), jnp.asarray(ds.y_train, jnp.float64)

    def std_apply(p, xx):
        h = xx
        dense = models.dense_layers(p)
        for l, (w, b) in enumerate(dense):
            h = h @ w + b
            if l < len(dense) - 1:
                h = jnp.maximum(h, 0.0)
        return h

    eta_std, steps = 0.7 / 32, 40
    grad = jax.jit(jax.grad(lambda p: 0.5 * jnp.mean((std_apply(p, x) - y) ** 2)))
    p = std_params
    for _ in range(steps):
        p = jax.tree_util.tree_map(lambda a, g: a - eta_std * g, p, grad(p))
    rates = models.equivalent_learning_rates(net, params, eta_std, to="ntk")
    run = dynamics.gradient_descent(net.apply_fn, params, x, y, lr=rates, steps=steps, record=[0, steps])
    np.testing.assert_allclose(run.f_train[-1], std_apply(p, x), atol=1e-10)
    mapped = models.ntk_to_standard_params(net, run.params_final)
    for a, b in zip(jax.tree_util.tree_leaves(mapped), jax.tree_util.tree_leaves(p)):
        np.testing.assert_allclose(a, b, atol=1e-10)


@pytest.mark.parametrize("source", ["ntk", "standard"])
def test_parameterization_gap_is_round_off(small, x64, source):
    ds, _, _ = small
    net = models.mlp(2, 32)
    params = net.init(1, ds.input_dim)
    lr = 0.3 if source == "ntk" else 0.3 / 32
    gap = lazy.parameterization_gap(net, params, ds.x_train, ds.y_train, lr=lr, steps=30, source=source)
    assert gap["init_gap"] < 1e-12 and gap["output_gap"] < 1e-10 and gap["param_gap"] < 1e-10
    assert gap["ntk"].loss_train[-1] < gap["ntk"].loss_train[0]  # it did train
    with pytest.raises(ValueError, match="parameterization='ntk'"):
        lazy.parameterization_gap(models.mlp(1, 4, parameterization="standard"), params, ds.x_train,
                                  ds.y_train, lr=0.1, steps=1)


# ----------------------------------------------------------------------------- lazy metrics and runs


def test_lazy_metrics_on_known_perturbation(small):
    ds, net, params = small
    zero = lazy.lazy_metrics(net, params, params, ds.x_train, lr=0.1)
    assert zero["param_distance"] == 0 and zero["max_abs_dtheta"] == 0 and zero["kernel_change"] == 0
    assert [zero[k] for k in lazy.layer_metric_names(2)] == [0.0, 0.0, 0.0] and zero["stable"] == 1.0
    # move only the readout weights by 0.01
    moved = [p if i != len(params) - 1 else (p[0] + 0.01, p[1]) for i, p in enumerate(params)]
    m = lazy.lazy_metrics(net, params, moved, ds.x_train, lr=0.1)
    w_out = models.dense_layers(params)[-1][0]
    assert m["rel_w1"] == 0 and m["rel_w2"] == 0
    assert m["rel_w3"] == pytest.approx(0.01 * np.sqrt(w_out.size) / float(jnp.linalg.norm(w_out)), rel=1e-4)
    assert m["max_abs_dtheta"] == pytest.approx(0.01, rel=1e-4)
    assert m["param_distance"] == pytest.approx(0.01 * np.sqrt(w_out.size), rel=1e-4)
    # kernel change against the generic Jacobian implementation
    t0 = kernels.empirical_ntk(net.apply_fn, params, ds.x_train)
    t1 = kernels.empirical_ntk(net.apply_fn, moved, ds.x_train)
    assert m["kernel_change"] == pytest.approx(np.linalg.norm(t1 - t0) / np.linalg.norm(t0), rel=1e-3)
    # own η_critical of Θ̂_0 and the stable flag
    lam = np.linalg.eigvalsh(t0.astype(np.float64))
    eta_c = 2 * len(lam) / (lam[0] + lam[-1])
    assert m["eta_critical_emp"] == pytest.approx(eta_c, rel=1e-3)
    assert m["lr_ratio"] == pytest.approx(0.1 / eta_c, rel=1e-3)
    above = lazy.lazy_metrics(net, params, moved, ds.x_train, lr=1.1 * eta_c)
    assert above["stable"] == 0.0
    assert lazy.lazy_metrics(net, params, moved, ds.x_train, lr=0.1, max_kernel_change=1e-9)["stable"] == 0.0
    per_leaf = lazy.lazy_metrics(net, params, moved, ds.x_train, lr=jax.tree_util.tree_map(lambda _: 0.1, params))
    assert np.isnan(per_leaf["lr_ratio"]) and per_leaf["stable"] == 1.0


def test_lazy_run_outputs_and_divergence(small):
    ds, net, _ = small
    eta_c = kernels.eta_critical(kernels.analytic_ntk(net, ds.x_train))
    out = lazy.lazy_run(net, ds, seed=0, lr=0.5 * eta_c, steps=50)
    assert set(lazy.METRICS) | set(lazy.layer_metric_names(2)) <= set(out)
    assert out["diverged"] == 0 and out["loss_final"] < out["loss_init"]
    # output change recomputed independently from the trained parameters
    params = net.init(0, ds.input_dim)
    run = dynamics.gradient_descent(net.apply_fn, params, ds.x_train, ds.y_train, lr=0.5 * eta_c, steps=50,
                                    record=[0, 50])
    diff = np.asarray(net.apply_fn(run.params_final, ds.x_test)) - np.asarray(net.apply_fn(params, ds.x_test))
    assert out["output_change"] == pytest.approx(float(np.sqrt(np.mean(diff ** 2))), rel=1e-4)
    assert out["param_distance"] == pytest.approx(models.parameter_distance(params, run.params_final), rel=1e-5)
    # a callable learning rate gets (network, params)
    seen = []
    lazy.lazy_run(net, ds, seed=0, lr=lambda n, p: seen.append(n.width) or 0.1, steps=2)
    assert seen == [32]
    blown = lazy.lazy_run(net, ds, seed=0, lr=200 * eta_c, steps=50)
    assert blown["diverged"] == 1.0 and blown["stable"] == 0.0 and np.isnan(blown["kernel_change"])
    assert blown["lr_ratio"] > 1 and np.isnan(blown["loss_max"])
    with pytest.raises(TypeError, match="Dataset"):
        lazy.lazy_run(net, ds.x_train, seed=0, lr=0.1, steps=1)
    with pytest.raises(TypeError, match="Model"):
        lazy.lazy_run(net.apply_fn, ds, seed=0, lr=0.1, steps=1)


def test_lazy_sweep_reuses_networks_and_recovers_scaling():
    """One hidden layer: input and readout relative changes both scale as n^{-1/2} (Fig. S6)."""
    ds = data.digits(32, 8, binary=True, seed=0)
    calls = []

    def make(width):
        calls.append(width)
        return models.mlp(1, width)

    eta_c = kernels.eta_critical(kernels.analytic_ntk(models.mlp(1, 1024), ds.x_train))
    frame = lazy.lazy_sweep(make, ds, [128, 512, 2048], [0, 1], lr=0.5 * eta_c, steps=60)
    assert calls == [128, 512, 2048]
    assert len(frame) == 6 and {"width", "seed", "rel_w1", "rel_w2", "stable"} <= set(frame.columns)
    assert list(lazy.stable_widths(frame)) == [128, 512, 2048]
    for layer in ("rel_w1", "rel_w2"):
        assert lazy.fit_metric(frame, layer).exponent == pytest.approx(-0.5, abs=0.12)
    assert abs(lazy.fit_metric(frame, "param_distance").exponent) < 0.12


def test_stable_widths_and_fit_metric_on_synthetic_frame():
    widths = [16, 32, 64, 128, 256]
    rows = [{"width": w, "seed": s, "value": 2.0 * w ** -0.75 * (1 + 0.01 * s), "stable": float(w > 16 or s == 0)}
            for w in widths for s in range(3)]
    frame = pd.DataFrame(rows)
    assert list(lazy.stable_widths(frame)) == [32, 64, 128, 256]
    fit = lazy.fit_metric(frame, "value")
    assert fit.exponent == pytest.approx(-0.75, abs=1e-9)
    assert lazy.fit_metric(frame, "value", widths=[16, 32, 64]).exponent == pytest.approx(-0.75, abs=1e-9)
    w, table = lazy.seed_table(frame, "value", [64, 128])
    assert list(w) == [64, 128] and table.shape == (3, 2)
    with pytest.raises(ValueError, match=">= 3 widths"):
        lazy.fit_metric(frame, "value", widths=[16, 32])
    with pytest.raises(ValueError, match="no column"):
        lazy.fit_metric(frame, "nope")
    with pytest.raises(ValueError, match="stable"):
        lazy.stable_widths(frame.drop(columns="stable"))


def test_layer_names():
    assert lazy.layer_metric_names(3) == ["rel_w1", "rel_w2", "rel_w3", "rel_w4"]
    labels = lazy.layer_labels(2)
    assert len(labels) == 3 and "input" in labels[0] and "hidden" in labels[1] and "readout" in labels[2]
    with pytest.raises(ValueError):
        lazy.layer_metric_names(0)


def test_network_factory_memoizes_and_validates():
    make = lazy.network_factory(2, sigma_w2=1.5, activation="erf")
    assert make(16) is make(16) and make(16) is not make(32)
    assert make(16).sigma_w2 == 1.5 and make(16).activation == "erf" and make(16).depth == 2
    with pytest.raises(ValueError, match="activation"):
        lazy.network_factory(2, activation="gelu")


# ----------------------------------------------------------------------------- initialization


def test_init_outputs_have_the_law_of_networks_drawn_with_init():
    """The layer-by-layer conditional sampler against networks drawn with net.init: same law
    (two-sample KS per input, and the correlation between inputs), and Var f_0 = K(x, x)."""
    from scipy import stats

    x = data.digits(3, 1, seed=0).x_train
    make = lazy.network_factory(2)
    out = lazy.init_outputs(make, x, [16, 256], 3000, seed=5)
    assert set(out) == {16, 256} and out[16].shape == (3000, 3)
    net = make(16)
    keys = jax.random.split(jax.random.PRNGKey(11), 3000)
    draw = jax.jit(jax.vmap(lambda k: net.apply_fn(net.init_fn(k, (-1, x.shape[1]))[1], x).reshape(-1)))
    direct = np.asarray(draw(keys), np.float64)
    for j in range(3):
        assert stats.ks_2samp(direct[:, j], out[16][:, j]).pvalue > 0.01, j
    assert abs(np.corrcoef(direct.T)[0, 1] - np.corrcoef(out[16].T)[0, 1]) < 0.1
    k = np.diag(kernels.relu_kernels(x, depth=2)[0])
    for w in (16, 256):  # ReLU: Var f_0(x) = K(x, x) exactly at every width
        ratio = out[w].var(axis=0).mean() / k.mean()
        assert abs(ratio - 1) < 0.15, (w, ratio)
    again = lazy.init_outputs(make, x, [256, 16], 3000, seed=5)
    np.testing.assert_allclose(again[16], out[16], rtol=1e-6)
    with pytest.raises(ValueError, match="only the width"):
        lazy.init_outputs(lambda w: models.mlp(1 if w < 100 else 2, w), x, [16, 256], 10)
    with pytest.raises(TypeError, match="MLP"):
        lazy.init_outputs(lambda w: models.conv_net(w), x, [4], 10)


def test_lazy_sweep_members_match_single_gradient_descent(small):
    """Seeds trained together (vmapped) follow the iterates of one gradient_descent each."""
    ds, net, _ = small
    frame = lazy.lazy_sweep(lambda w: net, ds, [32], [0, 3], lr=0.2, steps=30)
    for seed in (0, 3):
        params = net.init(seed, ds.input_dim)
        run = dynamics.gradient_descent(net.apply_fn, params, ds.x_train, ds.y_train, lr=0.2, steps=30,
                                        record=[0, 30], record_losses=True)
        row = frame[frame.seed == seed].iloc[0]
        assert row.loss_final == pytest.approx(run.loss_train[-1], rel=1e-4)
        assert row.loss_max == pytest.approx(max(run.loss_steps.max(), run.loss_train[-1]), rel=1e-4)
        assert row.param_distance == pytest.approx(models.parameter_distance(params, run.params_final), rel=1e-4)
        theta_t = kernels.empirical_ntk(net, run.params_final, ds.x_train).astype(np.float64)
        assert row.lam_max_T == pytest.approx(np.linalg.eigvalsh(theta_t)[-1], rel=1e-4)
        assert row.eta_lam_max_T == pytest.approx(0.2 * row.lam_max_T / ds.n_train, rel=1e-9)
