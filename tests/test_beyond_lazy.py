"""Chapter 7's pieces: the single-index task, kernel–target alignment and the scaled
(Chizat-Oyallon-Bach) runs, checked against closed forms and against direct computation."""

import math

import jax
import numpy as np
import pytest

from ntklib import data, dynamics, kernels, models
from ntklib.experiments import beyond_lazy as bl


def test_single_index_target_is_the_normalized_hermite_of_one_projection():
    ds = data.single_index(50, 30, 6, degree=3, seed=4)
    x = np.concatenate([ds.x_train, ds.x_test]).astype(np.float64)
    y = np.concatenate([ds.y_train, ds.y_test]).ravel().astype(np.float64)
    # the direction is the unit vector that makes y a cubic in one projection: recover it
    gen = np.random.default_rng(4)
    w = gen.standard_normal(6)
    w /= np.linalg.norm(w)
    z = x @ w
    np.testing.assert_allclose(y, (z ** 3 - 3 * z) / math.sqrt(6), rtol=1e-5, atol=1e-5)
    again = data.single_index(50, 30, 6, degree=3, seed=4)
    np.testing.assert_array_equal(again.x_train, ds.x_train)
    assert ds.name == "single_index_He3" and ds.out_dim == 1


def test_single_index_has_unit_variance_and_rejects_bad_sizes():
    big = data.single_index(20000, 1, 4, degree=2, seed=0)
    assert abs(big.y_train.var() - 1.0) < 0.05 and abs(big.y_train.mean()) < 0.03
    with pytest.raises(ValueError, match="degree"):
        data.single_index(4, 2, 3, degree=0)
    with pytest.raises(ValueError, match="input_dim"):
        data.single_index(4, 2, -1)


def test_kernel_alignment_closed_forms_and_errors():
    rng = np.random.default_rng(0)
    y = rng.standard_normal(7)
    assert kernels.kernel_alignment(np.outer(y, y), y) == pytest.approx(1.0)
    assert kernels.kernel_alignment(5.0 * np.eye(7), y) == pytest.approx(1 / math.sqrt(7))
    a = rng.standard_normal((7, 7))
    k = a @ a.T
    assert kernels.kernel_alignment(3.0 * k, y) == pytest.approx(kernels.kernel_alignment(k, y))
    with pytest.raises(ValueError, match="entries"):
        kernels.kernel_alignment(k, y[:3])
    with pytest.raises(ValueError, match="nonzero"):
        kernels.kernel_alignment(np.zeros((7, 7)), y)


def test_centered_model_and_scaled_targets_give_the_same_iterates():
    """GD at rate η on L(αh)/α² (the centred model, a closure) equals GD at rate η on f's MSE
    against scaled_targets (what scaled_run runs)."""
    ds = data.single_index(16, 4, 5, seed=1)
    net = models.mlp(1, 32)
    p0 = net.init(0, ds.input_dim)
    alpha, eta, steps = 0.5, 0.3, 20
    model = bl.centered(net, p0, alpha)
    direct = dynamics.gradient_descent(model, p0, ds.x_train, ds.y_train, lr=eta / alpha ** 2,
                                       steps=steps, record=[steps])
    targets = bl.scaled_targets(net, p0, ds.x_train, ds.y_train, alpha)
    shifted = dynamics.gradient_descent(net.apply_fn, p0, ds.x_train, targets, lr=eta,
                                        steps=steps, record=[steps])
    leaves = lambda tree: [np.asarray(leaf) for leaf in jax.tree_util.tree_leaves(tree)]
    for a, b in zip(leaves(direct.params_final), leaves(shifted.params_final)):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-6)


def test_scaled_run_measures_its_quantities_directly():
    ds = data.single_index(32, 16, 6, seed=2)
    net = models.mlp(1, 64, activation="relu", sigma_w2=2.0, sigma_b2=0.0)
    row = bl.scaled_run(net, ds, alpha=2.0, seed=3, lr_fraction=0.5, steps=50)
    p0 = net.init(3, ds.input_dim)
    theta0 = kernels.empirical_ntk(net, p0, ds.x_train)
    assert row["lr"] == pytest.approx(0.5 * kernels.eta_critical(theta0))
    assert row["alignment_0"] == pytest.approx(kernels.kernel_alignment(theta0, ds.y_train))
    # f_lin of the centred model at rate lr/α² on L(αh), from the model's own kernel α²Θ̂_0
    model = bl.centered(net, p0, 2.0)
    pred = dynamics.linear_predictor(model, p0, ds.x_train, ds.y_train, ds.x_test)
    _, lin_test = pred.predict(50, lr=row["lr"] / 4.0)
    assert row["test_lin"] == pytest.approx(np.mean((lin_test - ds.y_test) ** 2), rel=1e-3)
    assert row["diverged"] == 0.0 and 0 < row["kernel_change"] < 1
    assert row["train_loss"] < 0.5 * np.mean(ds.y_train ** 2)


def test_larger_alpha_is_lazier():
    ds = data.single_index(32, 16, 6, seed=2)
    net = models.mlp(1, 64, activation="relu", sigma_w2=2.0, sigma_b2=0.0)
    frame = bl.alpha_sweep(net, ds, [1.0, 4.0, 16.0], [0], lr_fraction=0.5, steps=100)
    wc = frame.sort_values("alpha").weight_change.to_numpy()
    assert wc[0] > wc[1] > wc[2]
    assert wc[1] / wc[2] == pytest.approx(4.0, rel=0.15)  # ∝ 1/α for large α
    assert np.ptp(frame.test_lin) < 1e-4  # f_lin does not depend on α


def test_mean_field_is_alpha_n_to_the_minus_half_and_bad_names_are_named():
    assert bl.parameterization_alpha("ntk", 256) == 1.0
    assert bl.parameterization_alpha("mean_field", 256) == pytest.approx(1 / 16)
    with pytest.raises(ValueError, match="muP"):
        bl.parameterization_alpha("muP", 64)
    with pytest.raises(ValueError, match="alpha"):
        bl.centered(models.mlp(1, 8), models.mlp(1, 8).init(0, 2), -1.0)


def test_power_fit_needs_three_points():
    ds = data.single_index(16, 8, 4, seed=0)
    frame = bl.alpha_sweep(models.mlp(1, 16), ds, [1.0, 2.0], [0], lr_fraction=0.5, steps=5)
    with pytest.raises(ValueError, match=">= 3"):
        bl.power_fit(frame, "weight_change", axis="alpha")
    with pytest.raises(ValueError, match="no column"):
        bl.power_fit(frame, "nothing", axis="alpha")
