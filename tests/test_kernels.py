"""Kernels against closed forms and independent implementations."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ntklib import data, kernels, models

nt = models.nt


def brute_force_ntk(apply_fn, params, x1, x2):
    """Full Jacobians, flattened, multiplied: J(x1) J(x2)ᵀ, shape (N1 k, N2 k)."""
    def flat_jac(x):
        jac = jax.jacrev(lambda p: apply_fn(p, x))(params)
        leaves = jax.tree_util.tree_leaves(jac)
        n, k = x.shape[0], leaves[0].shape[1]
        return jnp.concatenate([leaf.reshape(n * k, -1) for leaf in leaves], axis=1)

    return np.asarray(flat_jac(x1) @ flat_jac(x2).T)


def nt_ntk(apply_fn, params, x1, x2, implementation):
    fn = nt.empirical_ntk_fn(apply_fn, trace_axes=(), vmap_axes=0, implementation=implementation)
    theta = np.asarray(fn(x1, x2, params))  # (N1, N2, k, k)
    n1, n2, k, _ = theta.shape
    return theta.transpose(0, 2, 1, 3).reshape(n1 * k, n2 * k)


@pytest.mark.parametrize("activation", ["relu", "erf", "tanh"])
@pytest.mark.parametrize("parameterization", ["ntk", "standard"])
def test_empirical_ntk_matches_brute_force_and_neural_tangents(x64, activation, parameterization):
    ds = data.digits(7, 5, classes=[0, 1, 2], seed=1)
    net = models.mlp(2, 48, activation=activation, parameterization=parameterization, out_dim=3)
    params = jax.tree_util.tree_map(lambda a: a.astype(jnp.float64), net.init(3, ds.input_dim))
    x1, x2 = ds.x_train.astype(np.float64), ds.x_test.astype(np.float64)
    ref = brute_force_ntk(net.apply_fn, params, x1, x2)
    scale = np.abs(ref).max()
    candidates = {
        "structured": kernels.empirical_ntk(net, params, x1, x2),
        "generic": kernels.empirical_ntk(net.apply_fn, params, x1, x2),
        "generic-blocked": kernels.empirical_ntk(net.apply_fn, params, x1, x2, max_jacobian_bytes=50_000,
                                                 implementation="jacobian_contraction"),
        "generic-jc": kernels.empirical_ntk(net.apply_fn, params, x1, x2, implementation="jacobian_contraction"),
        "generic-vp": kernels.empirical_ntk(net.apply_fn, params, x1, x2, implementation="vector_products"),
        "generic-vp-blocked": kernels.empirical_ntk(net.apply_fn, params, x1, x2, max_jacobian_bytes=50_000,
                                                    implementation="vector_products"),
        "nt-jacobian": nt_ntk(net.apply_fn, params, x1, x2, nt.NtkImplementation.JACOBIAN_CONTRACTION),
        "nt-ntvp": nt_ntk(net.apply_fn, params, x1, x2, nt.NtkImplementation.NTK_VECTOR_PRODUCTS),
    }
    for name, theta in candidates.items():
        assert theta.shape == (7 * 3, 5 * 3), name
        np.testing.assert_allclose(theta, ref, atol=1e-10 * scale, rtol=0, err_msg=name)


def test_generic_ntk_auto_choice_and_bad_implementation(monkeypatch):
    net = models.mlp(1, 16)
    params = net.init(0, 3)
    x = data.gaussian_inputs(6, 3, seed=0)
    calls = []
    original = kernels._ntk_vector_products
    monkeypatch.setattr(kernels, "_ntk_vector_products", lambda *a: calls.append(1) or original(*a))
    kernels.empirical_ntk(net.apply_fn, params, x)  # 6 columns: vector products
    assert calls
    calls.clear()
    monkeypatch.setattr(kernels, "VECTOR_PRODUCT_MAX_COLUMNS", 5)
    kernels.empirical_ntk(net.apply_fn, params, x)  # above the threshold: Jacobian contraction
    assert not calls
    with pytest.raises(ValueError, match="implementation"):
        kernels.empirical_ntk(net.apply_fn, params, x, implementation="structured_derivatives")


@pytest.mark.parametrize("batch_size", [1, 4, 100])
def test_batched_kernels_equal_unbatched(batch_size):
    x1, x2 = data.gaussian_inputs(7, 5, seed=0), data.gaussian_inputs(9, 5, seed=1)
    net = models.mlp(2, 32, out_dim=2)
    params = net.init(0, 5)
    for model in (net, net.apply_fn):
        full = kernels.empirical_ntk(model, params, x1, x2)
        tiled = kernels.empirical_ntk(model, params, x1, x2, batch_size=batch_size)
        np.testing.assert_allclose(tiled, full, rtol=1e-6, atol=1e-6 * np.abs(full).max())
    for full, tiled in zip(kernels.analytic_kernels(net, x1, x2),
                           kernels.analytic_kernels(net, x1, x2, batch_size=batch_size)):
        np.testing.assert_allclose(tiled, full, rtol=1e-6, atol=0)
    with pytest.raises(ValueError, match="batch_size"):
        kernels.empirical_ntk(net, params, x1, batch_size=0)


def test_empirical_ntk_symmetric_and_psd():
    x = data.gaussian_inputs(12, 9, seed=2)
    net = models.mlp(3, 64, activation="relu")
    theta = kernels.empirical_ntk(net, net.init(0, 9), x)
    np.testing.assert_allclose(theta, theta.T, rtol=1e-5, atol=1e-5)
    assert np.linalg.eigvalsh(theta.astype(np.float64)).min() > -1e-4 * np.abs(theta).max()


def test_trace_outputs_matches_neural_tangents_default():
    ds = data.digits(6, 4, classes=[0, 1, 2, 3])
    net = models.mlp(1, 32, activation="erf", out_dim=4)
    params = net.init(0, ds.input_dim)
    ours = kernels.empirical_ntk(net, params, ds.x_train, ds.x_test, trace_outputs=True)
    theirs = np.asarray(nt.empirical_ntk_fn(net.apply_fn, vmap_axes=0)(ds.x_train, ds.x_test, params))
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)


def test_empirical_ntk_average_converges_to_analytic():
    """Mean over 64 random networks of Θ̂_0 → Θ (the Monte-Carlo error shrinks as 1/√(M n))."""
    x = data.gaussian_inputs(4, 16, seed=0)
    net = models.mlp(2, 256, activation="relu")
    samples = [kernels.empirical_ntk(net, net.init(s, 16), x) for s in range(64)]
    analytic = kernels.analytic_ntk(net, x)
    rel = lambda k: np.linalg.norm(k - analytic) / np.linalg.norm(analytic)
    single = np.mean([rel(k) for k in samples])
    averaged = rel(np.mean(samples, axis=0))
    assert averaged < 0.05, averaged
    assert averaged < single / 3, (averaged, single)  # √64 = 8 in expectation


def test_empirical_nngp_is_readout_part_of_ntk_and_converges():
    x = data.gaussian_inputs(5, 8, seed=1)
    net = models.mlp(2, 2048, activation="erf", sigma_w2=1.5, sigma_b2=0.05)
    params = net.init(0, 8)
    k_hat = kernels.empirical_nngp(net, params, x)
    # Readout-only contribution of Θ̂: zero every gradient except the last layer's.
    dense = models.dense_layers(params)
    assert len(dense) == 3
    k_ref = kernels.analytic_nngp(net, x)
    assert np.linalg.norm(k_hat - k_ref) / np.linalg.norm(k_ref) < 0.1
    mean = np.mean([kernels.empirical_nngp(net, net.init(s, 8), x) for s in range(16)], axis=0)
    assert np.linalg.norm(mean - k_ref) / np.linalg.norm(k_ref) < 0.03


@pytest.mark.parametrize("depth", [1, 3])
def test_relu_closed_form_equals_stax(x64, depth):
    x = data.gaussian_inputs(6, 10, seed=depth).astype(np.float64)
    x2 = data.gaussian_inputs(4, 10, seed=9).astype(np.float64)
    net = models.mlp(depth, 8, activation="relu", sigma_w2=2.0, sigma_b2=0.1)
    nngp, ntk = kernels.relu_kernels(x, x2, depth=depth, sigma_w2=2.0, sigma_b2=0.1)
    np.testing.assert_allclose(nngp, kernels.analytic_nngp(net, x, x2), rtol=1e-10)
    np.testing.assert_allclose(ntk, kernels.analytic_ntk(net, x, x2), rtol=1e-10)


@pytest.mark.parametrize("depth", [1, 3])
def test_erf_closed_form_equals_stax(x64, depth):
    x = data.gaussian_inputs(6, 10, seed=depth).astype(np.float64)
    net = models.mlp(depth, 8, activation="erf", sigma_w2=1.5, sigma_b2=0.05)
    nngp, ntk = kernels.erf_kernels(x, depth=depth, sigma_w2=1.5, sigma_b2=0.05)
    np.testing.assert_allclose(nngp, kernels.analytic_nngp(net, x), rtol=1e-10)
    np.testing.assert_allclose(ntk, kernels.analytic_ntk(net, x), rtol=1e-10)


def test_relu_closed_form_against_monte_carlo():
    """K¹ → K² for one ReLU layer by sampling pre-activations: E[σ_w² relu(u) relu(v)] + σ_b²."""
    x = data.gaussian_inputs(3, 5, seed=4).astype(np.float64)
    k1 = 2.0 * x @ x.T / 5 + 0.1
    rng = np.random.default_rng(0)
    u = rng.multivariate_normal(np.zeros(3), k1, size=400_000)
    mc = 2.0 * (np.maximum(u, 0).T @ np.maximum(u, 0)) / len(u) + 0.1
    nngp, _ = kernels.relu_kernels(x, depth=1, sigma_w2=2.0, sigma_b2=0.1)
    np.testing.assert_allclose(nngp, mc, rtol=0.01)


def test_eta_critical_and_divergence_rate():
    theta = np.diag([1.0, 3.0, 7.0])
    assert kernels.eta_critical(theta) == pytest.approx(2 * 3 / 8)
    assert kernels.eta_critical(theta, out_dim=2) == pytest.approx(2 * 6 / 8)
    assert kernels.divergence_learning_rate(theta) == pytest.approx(6 / 7)
    assert kernels.divergence_learning_rate(theta, momentum=0.9) == pytest.approx(1.9 * 6 / 7)


def test_auto_takes_jacobian_contraction_for_weight_sharing_models(monkeypatch):
    # a convolution reuses its weights at every pixel: N2·k vector products would cost N2·k
    # forward-backward passes; a dense apply_fn with few columns keeps vector products
    calls = []
    for name in ("_ntk_vector_products", "_jacobian_block_ntk"):
        original = getattr(kernels, name)
        monkeypatch.setattr(kernels, name, lambda *a, _f=original, _n=name: calls.append(_n) or _f(*a))
    cnn = models.conv_net(8, depth=1, image_shape=(4, 4, 1))
    dense = models.mlp(1, 32)
    x = np.random.default_rng(0).standard_normal((6, 16)).astype(np.float32)
    for model, expected in ((cnn, "_jacobian_block_ntk"), (dense, "_ntk_vector_products")):
        calls.clear()
        params = model.init(0, 16)
        auto = kernels.empirical_ntk(model.apply_fn, params, x)
        assert calls == [expected]
        other = "vector_products" if expected == "_jacobian_block_ntk" else "jacobian_contraction"
        np.testing.assert_allclose(auto, kernels.empirical_ntk(model.apply_fn, params, x,
                                                               implementation=other),
                                   rtol=1e-4, atol=1e-5)
    assert kernels._flops_per_parameter.cache_info().currsize >= 2
