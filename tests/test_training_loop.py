"""The one training loop (dynamics.step_fn) behind gradient_descent, train_ensemble and measure_run."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ntklib import data, dynamics, models


@pytest.fixture(scope="module")
def setup():
    ds = data.digits(24, 8, binary=True, seed=3)
    net = models.mlp(1, 64)
    return ds, net, net.init(0, ds.input_dim)


def test_recorded_losses_are_the_loss_before_every_step(setup):
    ds, net, params = setup
    res = dynamics.gradient_descent(net.apply_fn, params, ds.x_train, ds.y_train, lr=1.0, steps=6,
                                    record=list(range(7)), record_losses=True)
    direct = [float(dynamics.mse_loss(f, ds.y_train)) for f in res.f_train[:6]]
    np.testing.assert_allclose(res.loss_steps[:6], direct, rtol=1e-5)
    assert res.loss_steps.shape == (7,)
    assert dynamics.gradient_descent(net.apply_fn, params, ds.x_train, ds.y_train, lr=1.0,
                                     steps=6).loss_steps is None


def test_members_follow_their_own_gradient_descent(setup):
    ds, net, _ = setup
    ens = dynamics.train_ensemble(net, [0, 5], ds, lr=1.0, steps=12, record=[0, 4, 12])
    for m, seed in enumerate([0, 5]):
        one = dynamics.gradient_descent(net.apply_fn, net.init(seed, ds.input_dim), ds.x_train,
                                        ds.y_train, lr=1.0, steps=12, record=[0, 4, 12])
        np.testing.assert_allclose(ens.f_train[m], one.f_train, atol=2e-5)


def test_heavy_ball_rule_by_hand():
    # f(θ, x) = θ x on one point: ∇L = (θ − 1) for L = ½(θ − 1)², x = y = 1
    advance = dynamics.step_fn(lambda p, x: p * x, rule="heavy_ball")
    x = y = jnp.ones((1, 1))
    p, vel, _, bad = advance(jnp.zeros(()), jnp.zeros(()), jnp.zeros(0), x, y, 0.5, 0.9, None, 0, 2)
    # step 1: v = −0.5·(−1) = 0.5, θ = 0.5; step 2: v = 0.9·0.5 − 0.5·(−0.5) = 0.7, θ = 1.2
    assert abs(float(vel) - 0.7) < 1e-6 and abs(float(p) - 1.2) < 1e-6 and int(bad) == -1


def test_divergence_is_reported_at_its_step():
    advance = dynamics.step_fn(lambda p, x: p * x)
    x = y = jnp.ones((1, 1))
    # θ ← θ − η(θ − 1) with η = 3: the error multiplies by −2 per step; L > 1e8 after ~14 steps
    _, _, losses, bad = advance(jnp.zeros(()), (), jnp.zeros(40), x, y, 3.0, 0.0, None, 0, 40)
    first = int(np.argmax(np.asarray(losses) > dynamics.DIVERGENCE_LOSS))
    assert int(bad) == first > 0
    with pytest.raises(ValueError, match="rule"):
        dynamics.step_fn(lambda p, x: p * x, rule="adam")
