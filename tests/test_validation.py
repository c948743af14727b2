"""Every bad input gets a clear error naming the argument and the value."""

import numpy as np
import pytest

from ntklib import claims, config, data, dynamics, kernels, models, stats


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(depth=0, width=8), ValueError, "depth must be a positive integer, got depth=0"),
    (dict(depth=-2, width=8), ValueError, "depth=-2"),
    (dict(depth=2, width=0), ValueError, "width must be a positive integer, got width=0"),
    (dict(depth=2.5, width=8), TypeError, "depth must be a positive integer"),
    (dict(depth=1, width=8, sigma_w2=0.0), ValueError, "sigma_w2 must be finite and > 0, got sigma_w2=0.0"),
    (dict(depth=1, width=8, sigma_w2=-1.0), ValueError, "sigma_w2=-1.0"),
    (dict(depth=1, width=8, sigma_b2=-0.1), ValueError, "sigma_b2 must be finite and >= 0"),
    (dict(depth=1, width=8, activation="gelu"), ValueError, "activation must be one of"),
    (dict(depth=1, width=8, parameterization="mup"), ValueError, "parameterization must be one of"),
    (dict(depth=1, width=8, out_dim=0), ValueError, "out_dim=0"),
])
def test_mlp_rejects(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        models.mlp(**kwargs)


def test_data_rejects():
    with pytest.raises(ValueError, match="n_train must be a positive integer, got n_train=0"):
        data.digits(0, 5)
    with pytest.raises(ValueError, match="exceeds the"):
        data.digits(2000, 5)
    with pytest.raises(ValueError, match="classes must be"):
        data.digits(5, 5, classes=[3, 12])
    with pytest.raises(ValueError, match="x_train and y_train must have the same number of examples"):
        data.Dataset(np.zeros((3, 2)), np.zeros((4, 1)), np.zeros((1, 2)), np.zeros((1, 1)))
    with pytest.raises(ValueError, match="x_train contains 1 non-finite"):
        data.Dataset(np.array([[np.nan, 0.0]]), np.zeros((1, 1)), np.zeros((1, 2)), np.zeros((1, 1)))
    with pytest.raises(ValueError, match="x1 and x2 must have the same shape"):
        data.interpolate(np.zeros(3), np.zeros(4), [0.5])


def test_kernel_rejects():
    net = models.mlp(1, 8)
    params = net.init(0, 4)
    with pytest.raises(ValueError, match="x1 contains 1 non-finite"):
        kernels.empirical_ntk(net, params, np.array([[np.inf, 0, 0, 0]]))
    with pytest.raises(ValueError, match="same input dimension"):
        kernels.empirical_ntk(net, params, np.zeros((2, 4)), np.zeros((2, 5)))
    with pytest.raises(TypeError, match="model must be an ntklib Model or an apply_fn"):
        kernels.empirical_ntk("mlp", params, np.zeros((2, 4)))
    with pytest.raises(ValueError, match="theta_train must be square"):
        kernels.eta_critical(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="theta_train must be symmetric"):
        kernels.eta_critical(np.array([[1.0, 2.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="depth must be a positive integer"):
        kernels.relu_kernels(np.zeros((2, 3)), depth=0)


def test_dynamics_rejects():
    theta = np.eye(3)
    f0, y = np.zeros((3, 1)), np.ones((3, 1))
    with pytest.raises(ValueError, match="lr must be finite and > 0, got lr=0.0"):
        dynamics.linearized_outputs(theta, None, f0, None, y, lr=0.0, steps=3)
    with pytest.raises(ValueError, match="f0_train and y_train must have the same shape"):
        dynamics.linearized_outputs(theta, None, f0, None, np.ones((2, 1)), lr=0.1, steps=3)
    with pytest.raises(ValueError, match="theta_train has shape"):
        dynamics.linearized_outputs(np.eye(4), None, f0, None, y, lr=0.1, steps=3)
    with pytest.raises(ValueError, match="steps must be non-negative"):
        dynamics.linearized_outputs(theta, None, f0, None, y, lr=0.1, steps=-1)
    with pytest.raises(ValueError, match="theta_test_train has shape"):
        dynamics.linearized_outputs(theta, np.zeros((2, 4)), f0, np.zeros((2, 1)), y, lr=0.1, steps=3)
    net = models.mlp(1, 8)
    ds = data.digits(5, 2, binary=True)
    with pytest.raises(ValueError, match="steps must be a non-negative integer, got steps=-3"):
        dynamics.train(net, net.init(0, 64), ds, lr=0.1, steps=-3)
    with pytest.raises(ValueError, match="momentum must be in"):
        dynamics.train(net, net.init(0, 64), ds, lr=0.1, steps=3, momentum=1.0)
    with pytest.raises(ValueError, match="data has 10 outputs but the network has out_dim=1"):
        dynamics.train(net, net.init(0, 64), data.digits(5, 2), lr=0.1, steps=3)
    with pytest.raises(ValueError, match="record steps must lie in"):
        dynamics.train(net, net.init(0, 64), ds, lr=0.1, steps=3, record=[5])


def test_experiments_config_claims_reject(monkeypatch):
    with pytest.raises(ValueError, match="needs >= 3 widths"):
        stats.fit_power_law([1, 2], [1, 2])
    with pytest.raises(ValueError, match=r"must be > 0 .* got values\[1\]=0"):
        stats.fit_power_law([1, 2, 4], [1, 0, 2])
    with pytest.raises(ValueError, match="one column per width"):
        stats.fit_power_law([1, 2, 4], np.ones((2, 4)))
    monkeypatch.setenv("NTKLIB_SCALE", "huge")
    with pytest.raises(ValueError, match="NTKLIB_SCALE must be one of .* got NTKLIB_SCALE='huge'"):
        config.settings("introduction")
    monkeypatch.setenv("NTKLIB_SCALE", "ci")
    with pytest.raises(ValueError, match="unknown chapter 'nope'"):
        config.settings("nope")
    with pytest.raises(ValueError, match="cannot state a non-finite number"):
        claims.state("bad", float("nan"), digits=2)
    with pytest.raises(ValueError, match="exactly one of digits or sig"):
        claims.state("bad", 1.0)
    with pytest.raises(ValueError, match="expect and tol go together"):
        claims.state("bad", 1.0, digits=1, expect=1.0)


def test_settings_are_read_only():
    cfg = config.settings("introduction")
    with pytest.raises(AttributeError, match="read-only: cannot set 'depth'"):
        cfg.depth = 1
    with pytest.raises(AttributeError, match="read-only"):
        del cfg.depth
    assert config.settings("introduction").depth == cfg.depth
