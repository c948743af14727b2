"""One model type: specs, build, the ResNet, dispatch of fast paths, every function on every model."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ntklib import bounds, data, dynamics, kernels, models


def _x(n, d, seed=0, dtype=jnp.float32):
    return jnp.asarray(jax.random.normal(jax.random.PRNGKey(seed), (n, d)), dtype)


def _max_diff(a, b):
    return max(float(jnp.max(jnp.abs(u - w))) for u, w in
               zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)))


def test_specs_are_frozen_hashable_and_build_once():
    spec = models.MLP(2, 32, activation="erf")
    assert models.build(spec) is models.build(models.MLP(2, 32, activation="erf"))
    assert models.mlp(2, 32, activation="erf") == models.build(spec)
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.width = 64
    variant = models.build(spec).replace(parameterization="standard")
    assert variant.spec == dataclasses.replace(spec, parameterization="standard")
    assert variant.width == 32 and variant != models.build(spec)
    assert {models.build(spec): 1}[models.mlp(2, 32, activation="erf")] == 1


@pytest.mark.parametrize("bad, match", [
    (lambda: models.MLP(0, 4), "depth"),
    (lambda: models.MLP(1, 4, activation="gelu"), "activation"),
    (lambda: models.CNN(4, image_shape=(8, 8)), "image_shape"),
    (lambda: models.ResNet(4, blocks=0), "blocks"),
    (lambda: models.ResNet(4, sigma_w2=-1.0), "sigma_w2"),
    (lambda: models.build("mlp"), "no ntklib architecture"),
    (lambda: kernels.analytic_ntk(lambda p, x: x, np.ones((2, 2))), "Model"),
    (lambda: models.resnet(2).init(0, 10), "input_dim=10"),
    (lambda: models.mlp(1, 4).init(0), "needs input_dim"),
    (lambda: models.mlp(1, 4).blocks, "no attribute 'blocks'"),
])
def test_bad_specs_and_models_are_named(bad, match):
    with pytest.raises((ValueError, TypeError, AttributeError), match=match):
        bad()


@pytest.mark.parametrize("parameterization", ["ntk", "standard"])
@pytest.mark.parametrize("sigma_b2", [0.0, 0.1])
def test_resnet_apply_fn_and_gradients_equal_stax(x64, parameterization, sigma_b2):
    net = models.resnet(3, blocks=2, image_shape=(5, 4, 2), activation="relu",
                        parameterization=parameterization, sigma_b2=sigma_b2, out_dim=2)
    params = jax.tree_util.tree_map(lambda a: a.astype(jnp.float64), net.init(1))
    x = _x(3, 40, dtype=jnp.float64)
    assert _max_diff(net.apply_fn(params, x), net.stax_apply_fn(params, x)) < 1e-12
    loss = lambda f: (lambda p: jnp.sum(jnp.sin(f(p, x))))
    assert _max_diff(jax.grad(loss(net.apply_fn))(params), jax.grad(loss(net.stax_apply_fn))(params)) < 1e-11


def test_resnet_empirical_ntk_equals_neural_tangents_and_converges_to_its_kernel_fn():
    x = _x(4, 64, seed=3)
    narrow = models.resnet(4, blocks=1)
    params = narrow.init(0)
    ours = kernels.empirical_ntk(narrow, params, x)
    theirs = models.nt.empirical_ntk_fn(narrow.stax_apply_fn, trace_axes=(), vmap_axes=0)(x, None, params)
    np.testing.assert_allclose(ours, np.asarray(theirs).reshape(4, 4), rtol=2e-4, atol=2e-4)
    # wider: the empirical NTK approaches the analytic one (stax kernel_fn with FanOut/FanInSum)
    analytic = kernels.analytic_ntk(narrow, x)
    errors = []
    for channels in (8, 128):
        net = models.resnet(channels, blocks=1)
        emp = np.mean([kernels.empirical_ntk(net, net.init(s), x) for s in range(3)], axis=0)
        errors.append(np.linalg.norm(emp - analytic) / np.linalg.norm(analytic))
    # Monte Carlo over 3 independent initializations: error ~ (3·channels)^(-1/2), so 16x the
    # channels should cut it about 4x; allow 3x and a 0.15 ceiling for the scatter of 3 draws
    assert errors[1] < errors[0] / 3 and errors[1] < 0.15, errors


@pytest.mark.parametrize("make", [lambda: models.mlp(2, 16, out_dim=2),
                                  lambda: models.conv_net(3, image_shape=(4, 4, 1), out_dim=2),
                                  lambda: models.resnet(3, image_shape=(4, 4, 1), out_dim=2)])
def test_every_function_takes_every_model(make):
    net = make()
    x = _x(5, 16, seed=2)
    params = net.init(0, 16)
    emp = kernels.empirical_ntk(net, params, x)
    generic = kernels.empirical_ntk(net.apply_fn, params, x)
    np.testing.assert_allclose(emp, generic, rtol=1e-4, atol=1e-4)
    assert kernels.analytic_ntk(net, x).shape == (5, 5)
    nngp = kernels.empirical_nngp(net, params, x)
    feats = models.readout_features(net, params, x)
    np.testing.assert_allclose(nngp, net.sigma_w2 * feats @ feats.T / feats.shape[1] + net.sigma_b2, rtol=1e-5)
    ds = data.Dataset(np.asarray(x), np.ones((5, 2)), np.asarray(x[:2]), np.ones((2, 2)))
    run = dynamics.train(net, params, ds, lr=0.1, steps=3, record=[0, 3])
    assert run.f_train.shape == (2, 5, 2)
    moved = run.params_final
    # the Jacobian distance's fast path (MLP) and the generic one agree
    np.testing.assert_allclose(bounds.jacobian_distance(net, moved, params, x),
                               bounds.jacobian_distance(net.apply_fn, moved, params, x), rtol=1e-3)
    np.testing.assert_allclose(bounds.jacobian_norm(net, params, x) ** 2, np.trace(emp), rtol=1e-5)


@pytest.mark.parametrize("make", [lambda p: models.conv_net(3, image_shape=(4, 4, 1), parameterization=p),
                                  lambda p: models.resnet(2, blocks=1, image_shape=(4, 4, 1), parameterization=p)])
def test_parameterization_maps_work_for_image_models(x64, make):
    # SM §F for convolutions: fan-in kh·kw·c_in; same function, and GD with the mapped per-layer
    # rates follows the same path in both parameterizations
    ntk, std = make("ntk"), make("standard")
    x = _x(6, 16, dtype=jnp.float64)
    y = jnp.ones((6, 1))
    params = jax.tree_util.tree_map(lambda a: a.astype(jnp.float64), ntk.init(0))
    params_std = models.ntk_to_standard_params(ntk, params)
    assert _max_diff(ntk.apply_fn(params, x), std.apply_fn(params_std, x)) < 1e-12
    assert _max_diff(models.standard_to_ntk_params(ntk, params_std), params) < 1e-12
    rates = models.equivalent_learning_rates(ntk, params, 0.5, to="standard")
    run_ntk = dynamics.gradient_descent(ntk.apply_fn, params, x, y, lr=0.5, steps=5)
    run_std = dynamics.gradient_descent(std.apply_fn, params_std, x, y, lr=rates, steps=5)
    np.testing.assert_allclose(run_ntk.f_train, run_std.f_train, atol=1e-10)


def test_a_new_spec_type_plugs_in_by_registration():
    # a registered builder and fast path are all a new architecture needs
    @dataclasses.dataclass(frozen=True)
    class Linear:
        out_dim: int = 1
        sigma_w2: float = 1.0
        sigma_b2: float = 0.0
        parameterization: str = "ntk"

    def build_linear(spec):
        init_fn, apply_fn, kernel_fn = models.stax.Dense(spec.out_dim, b_std=None)
        features = lambda params, x: x
        return models.Model(spec, init_fn, apply_fn, kernel_fn, apply_fn, features)

    models._builder.register(Linear)(build_linear)
    calls = []

    def fast(model, params, x1, x2):
        calls.append(1)
        return x1 @ x2.T / x1.shape[1]

    kernels.structured_ntk.register(Linear)(lambda spec: fast)
    net = models.build(Linear())
    x = _x(3, 4)
    theta = kernels.empirical_ntk(net, net.init(0, 4), x)
    assert calls and np.allclose(theta, kernels.empirical_ntk(net.apply_fn, net.init(0, 4), x), atol=1e-5)


def test_linear_predictor_of_any_model_equals_gradient_descent_on_its_linearization(x64):
    # one predictor, one decomposition, several rates: each equals GD on f_lin (eq. 5) step by step
    net = models.conv_net(3, image_shape=(4, 4, 1), out_dim=2)
    x, xt = _x(6, 16, dtype=jnp.float64), _x(3, 16, seed=5, dtype=jnp.float64)
    y = jnp.asarray(np.eye(2)[np.arange(6) % 2])
    params = jax.tree_util.tree_map(lambda a: a.astype(jnp.float64), net.init(0))
    pred = dynamics.linear_predictor(net, params, x, y, xt)
    f_lin = models.linearize(net.apply_fn, params)
    for lr in (0.5, 2.0):
        gd = dynamics.gradient_descent(f_lin, params, x, y, x_test=xt, lr=lr, steps=20, record=[0, 7, 20])
        f_train, f_test = pred.predict(gd.steps, lr=lr)
        np.testing.assert_allclose(f_train, gd.f_train, atol=1e-9)
        np.testing.assert_allclose(f_test, gd.f_test, atol=1e-9)
        omega = dynamics.linearized_weights(net.apply_fn, params, x, y, lr=lr, steps=20, predictor=pred)
        moved = jax.tree_util.tree_map(lambda a, b: a - b, gd.params_final, params)
        assert _max_diff(omega, moved) < 1e-9
    with pytest.raises(ValueError, match="full"):
        shared = dynamics.LinearPredictor.from_kernels(np.eye(6), None, np.zeros((6, 2)), None, y)
        dynamics.linearized_weights(net.apply_fn, params, x, y, lr=0.5, steps=3, predictor=shared)


@pytest.mark.parametrize("spec_name", ["cnn", "resnet"])
def test_heavy_ball_predictor_equals_heavy_ball_on_the_linearization(x64, spec_name):
    # function-space heavy ball (one 2×2 recurrence per mode of Θ̂_0) = stepping f_lin's weights,
    # for an overdamped-to-underdamped range of modes and past the GD stability limit
    make = {"cnn": lambda: models.conv_net(3, image_shape=(4, 4, 1), out_dim=2),
            "resnet": lambda: models.resnet(3, blocks=1, image_shape=(4, 4, 1), out_dim=2)}
    net = make[spec_name]()
    x, xt = _x(6, 16, dtype=jnp.float64), _x(3, 16, seed=5, dtype=jnp.float64)
    y = jnp.asarray(np.eye(2)[np.arange(6) % 2])
    params = jax.tree_util.tree_map(lambda a: a.astype(jnp.float64), net.init(0))
    pred = dynamics.linear_predictor(net, params, x, y, xt)
    eta_crit = kernels.eta_critical(kernels.empirical_ntk(net, params, x))
    f_lin = models.linearize(net.apply_fn, params)
    for fraction, beta in ((0.05, 0.9), (1.5, 0.5)):  # 1.5 η_crit: unstable for GD, not for β = 0.5
        lr = fraction * eta_crit
        hb = dynamics.gradient_descent(f_lin, params, x, y, x_test=xt, lr=lr, steps=40,
                                       momentum=beta, record=[0, 1, 9, 40])
        f_train, f_test = pred.predict(hb.steps, lr=lr, momentum=beta)
        np.testing.assert_allclose(f_train, hb.f_train, atol=1e-9)
        np.testing.assert_allclose(f_test, hb.f_test, atol=1e-9)
    f_inf, _ = pred.predict(np.inf, lr=0.05 * eta_crit, momentum=0.9)
    np.testing.assert_allclose(f_inf, y, atol=1e-6)  # full-rank Θ̂_0 on 6 points: fits the targets
    with pytest.raises(ValueError, match="momentum must be in"):
        pred.predict(3, lr=0.1, momentum=1.0)
    with pytest.raises(ValueError, match="second-order ODE"):
        pred.predict(3, lr=0.1, momentum=0.5, continuous=True)


def test_heavy_ball_filter_tends_to_its_small_eigenvalue_limit():
    lam = np.array([0.0, 1e-3, 1.0])
    decay, ratio = dynamics.residual_filter(lam, 0.1, 1, np.array([5.0, np.inf]), momentum=0.9)
    b, s = 0.9, 5
    cumulative = sum((1 - b ** j) / (1 - b) for j in range(1, s + 1))
    assert decay[0, 0] == 1.0 and np.isclose(ratio[0, 0], 0.1 * cumulative)
    assert np.isclose(ratio[0, 1], 0.1 * cumulative, rtol=1e-3)  # 1e-3 ≈ small: near the limit
    assert ratio[1, 0] == 0.0 and np.isclose(ratio[1, 2], 1.0) and decay[1, 2] == 0.0


def test_mlp_only_formulas_name_the_architecture_they_need():
    cnn = models.conv_net(2, image_shape=(4, 4, 1), activation="relu")
    from ntklib.experiments import linearization, ntk

    with pytest.raises(TypeError, match="MLP spec for the MLP memory formula"):
        ntk.ntk_memory(cnn, 4, 16)
    with pytest.raises(TypeError, match="MLP spec for the layer-by-layer pass"):
        models.forward_features(cnn, cnn.init(0), _x(2, 16))
    # a ReLU CNN's analytic kernel is stax's, not the ReLU MLP's closed form of the same depth
    x = _x(3, 16)
    nngp, theta = linearization.analytic_kernel_fn(cnn)(np.asarray(x))
    np.testing.assert_allclose(theta, kernels.analytic_ntk(cnn, x), rtol=1e-5)
