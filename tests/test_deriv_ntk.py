"""Chapter 2's one-hidden-layer derivation checked by sampling: gaussian_expectations."""

import numpy as np
import pytest

from ntklib import data, kernels
from ntklib.experiments import ntk as nx

RELU = {"relu": lambda u: np.maximum(u, 0.0), "step": lambda u: (u > 0).astype(float)}


def _first_layer_kernel(points=5, dim=12, seed=3, sigma_w2=2.0, sigma_b2=0.1):
    x = data.gaussian_inputs(points, dim, seed=seed).astype(np.float64)
    return sigma_w2 * x @ x.T / dim + sigma_b2


def test_second_moments_of_the_gaussian_itself():
    cov = _first_layer_kernel()
    est = nx.gaussian_expectations(cov, {"id": lambda u: u}, samples=50_000, seed=0)["id"]
    z = est.z_scores(cov)
    assert z.shape == (15,)  # 5·6/2 pairs, each once
    assert np.max(np.abs(z)) < 4.5
    assert est.samples == 50_000
    np.testing.assert_allclose(est.mean, est.mean.T)


def test_relu_and_step_expectations_match_the_arc_cosine_forms():
    cov = _first_layer_kernel(points=6)
    k11 = np.diag(cov)[:, None]
    t, t_dot = kernels._relu_expectations(k11, k11.T, cov)
    est = nx.gaussian_expectations(cov, RELU, samples=100_000, seed=2)
    z = np.concatenate([est["relu"].z_scores(t), est["step"].z_scores(t_dot)])
    assert np.max(np.abs(z)) < 4.5
    assert 0.5 < np.sqrt(np.mean(z ** 2)) < 1.6
    # and a closed form off by 0.02 is caught
    wrong = est["step"].z_scores(t_dot + 0.02)
    assert np.max(np.abs(wrong)) > 6


def test_standard_error_is_the_sampling_error():
    cov = np.array([[1.0, 0.3], [0.3, 1.0]])
    means = [nx.gaussian_expectations(cov, RELU, samples=2_000, seed=s)["relu"] for s in range(40)]
    spread = np.std([m.mean for m in means], axis=0, ddof=1)
    typical = np.mean([m.standard_error for m in means], axis=0)
    np.testing.assert_allclose(spread, typical, rtol=0.35)


def test_seeds_and_the_seed_offset(monkeypatch):
    cov = _first_layer_kernel(points=3)
    a = nx.gaussian_expectations(cov, RELU, samples=1_000, seed=1)["relu"].mean
    b = nx.gaussian_expectations(cov, RELU, samples=1_000, seed=1)["relu"].mean
    np.testing.assert_array_equal(a, b)
    monkeypatch.setenv("NTKLIB_SEED_OFFSET", "1000")
    c = nx.gaussian_expectations(cov, RELU, samples=1_000, seed=1)["relu"].mean
    assert not np.array_equal(a, c)


def test_singular_covariance_and_constant_products():
    x = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])  # two equal inputs: K is singular
    cov = x @ x.T
    est = nx.gaussian_expectations(cov, {"zero": lambda u: 0.0 * u, **RELU}, samples=5_000)
    np.testing.assert_allclose(est["relu"].mean[0, 1], est["relu"].mean[0, 0])
    assert np.all(est["zero"].z_scores(np.zeros((3, 3))) == 0.0)
    with pytest.raises(ValueError, match="constant"):
        est["zero"].z_scores(np.ones((3, 3)))


def test_gaussian_expectations_validation():
    cov = _first_layer_kernel(points=3)
    with pytest.raises(ValueError, match="positive semi-definite"):
        nx.gaussian_expectations(np.array([[1.0, 2.0], [2.0, 1.0]]), RELU, samples=10)
    with pytest.raises(ValueError, match="samples"):
        nx.gaussian_expectations(cov, RELU, samples=1)
    with pytest.raises(ValueError, match="at least one"):
        nx.gaussian_expectations(cov, {}, samples=10)
    with pytest.raises(TypeError, match="callable"):
        nx.gaussian_expectations(cov, {"relu": 3.0}, samples=10)
    with pytest.raises(ValueError, match="shape"):
        nx.gaussian_expectations(cov, {"sum": lambda u: u.sum(axis=1)}, samples=10)
    est = nx.gaussian_expectations(cov, RELU, samples=10)["relu"]
    with pytest.raises(ValueError, match="shape"):
        est.z_scores(np.zeros((2, 2)))
