"""Chapter 6's runners: channel sweeps of image models (closed-form f_lin with momentum), the
comparison of the two parameterizations' learning-rate curves, and the kernel-trace growth."""

import numpy as np
import pandas as pd
import pytest

from ntklib import data, dynamics, kernels, models
from ntklib.experiments import beyond_architectures as bx
from ntklib.experiments import pairs


def _frame(ntk, standard, eta0s):
    rows = [dict(parameterization=p, eta0=e, acc_test=a, diverged=np.isnan(a))
            for p, accs in (("ntk", ntk), ("standard", standard)) for e, a in zip(eta0s, accs)]
    return pd.DataFrame(rows)


def test_compare_parameterizations_on_known_curves():
    eta0s = [0.1, 0.5, 1.0, 2.0, 4.0]  # η_c = 1: low = {0.1}, high = {0.5, 1, 2}
    frame = _frame([0.6, 0.8, 0.9, 0.85, np.nan], [0.5, 0.78, 0.88, 0.9, 0.7], eta0s)
    out = bx.compare_parameterizations(frame, 1.0)
    assert out["best_gap"] == pytest.approx(0.0)
    assert out["high_gap"] == pytest.approx(0.05)
    assert out["low_gap"] == pytest.approx(0.1)
    assert out["top_ratio"] == pytest.approx(2.0)
    with pytest.raises(ValueError, match="must reach below"):
        bx.compare_parameterizations(frame, 100.0)
    with pytest.raises(ValueError, match="eta_crit"):
        bx.compare_parameterizations(frame, -1.0)


def test_kernel_trace_growth_grows_like_width_in_sp_only():
    ds = data.load("digits", 16, 4, binary=True)
    frame = bx.kernel_trace_growth(ds, [64, 256, 1024, 4096], depth=1)
    table = frame.pivot(index="width", columns="parameterization", values="trace")
    ntk, sp = table["ntk"].to_numpy(), table["standard"].to_numpy()
    _, theta = kernels.relu_kernels(ds.x_train, depth=1, sigma_w2=1.0, sigma_b2=0.1)
    limit = np.trace(np.asarray(theta)) / ds.n_train
    assert abs(ntk[-1] / limit - 1) < 0.1  # the NTK parameterization: tends to the analytic trace
    growth = np.diff(np.log(sp)) / np.log(4)
    assert np.all(growth > 0.5) and growth[-1] > growth[0]  # SP: towards ∝ n as n grows


def test_channel_sweep_closed_form_equals_trained_linearization():
    # the sweep's f_lin (closed form with momentum) is the f_lin that train_pair steps
    ds = data.load("digits", 8, 4, binary=True)
    spec = models.conv_net(4, depth=1, image_shape=ds.image_shape).spec
    record = [0, 3, 10]
    frame, runs = bx.channel_sweep(spec, ds, [2, 4], seeds=[0], lr=0.2, steps=10, momentum=0.9,
                                   record=record)
    assert list(frame.channels) == [2, 4] and (frame.max_rmse_test >= frame.rmse_test).all()
    net = models.build(models.CNN(channels=4, depth=1, image_shape=ds.image_shape))
    trained = pairs.train_pair(net.apply_fn, net.init(0, ds.input_dim), ds, lr=0.2, steps=10,
                               momentum=0.9, record=record)
    np.testing.assert_allclose(runs[4].lin.f_test, trained.lin.f_test, atol=2e-4)
    np.testing.assert_allclose(runs[4].net.f_test, trained.net.f_test, atol=1e-6)
    with pytest.raises(TypeError, match="channels field"):
        bx.channel_sweep(models.mlp(1, 8).spec, ds, [2], seeds=[0], lr=0.1, steps=2)
