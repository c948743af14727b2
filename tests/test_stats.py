"""ntklib.stats: power-law fits (OLS, bootstrap over seeds, pooled OLS), geometric mean, RMSE,
relative Frobenius error — against closed forms, independent least squares and coverage rates."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from ntklib import stats

WIDTHS = 2.0 ** np.arange(4, 10)  # 16 … 512
TRUE_P, TRUE_C, SIGMA = -0.7, 2.0, 0.2


def _noisy(rng, n_seeds):
    """(S, W) values c·w^p·exp(σ ε), ε iid standard normal (or (W,) for n_seeds=None)."""
    shape = (WIDTHS.size,) if n_seeds is None else (n_seeds, WIDTHS.size)
    return TRUE_C * WIDTHS ** TRUE_P * np.exp(SIGMA * rng.standard_normal(shape))


def _covers(fit, truth=TRUE_P):
    return fit.ci_low <= truth <= fit.ci_high


# ----------------------------------------------------------------------------- power laws


@pytest.mark.parametrize("fitter", [stats.fit_power_law, stats.fit_power_law_pooled])
def test_exact_power_law_is_recovered(fitter):
    fit = fitter(WIDTHS, 3.0 * WIDTHS ** -0.5)
    assert fit.method == "ols"
    assert fit.exponent == pytest.approx(-0.5, abs=1e-12) and fit.prefactor == pytest.approx(3.0, rel=1e-12)
    assert fit.stderr == pytest.approx(0.0, abs=1e-12) and fit.ci_high - fit.ci_low < 1e-11
    np.testing.assert_allclose(fit.predict([64.0, 256.0]), 3.0 * np.array([64.0, 256.0]) ** -0.5, rtol=1e-12)


def test_exact_power_laws_over_seeds_have_no_bootstrap_spread():
    """Seeds differing only by a prefactor: every resample of seeds has the same slope, so the
    bootstrap resamples whole rows (a resampling within widths would give a spread)."""
    offsets = np.array([[1.0], [1.7], [0.6], [2.5]])
    fit = stats.fit_power_law(WIDTHS, offsets * WIDTHS ** 1.5)
    assert fit.method == "bootstrap"
    assert fit.exponent == pytest.approx(1.5, abs=1e-12)
    assert fit.prefactor == pytest.approx(np.exp(np.log(offsets).mean()), rel=1e-12)
    assert fit.stderr < 1e-12 and fit.ci_high - fit.ci_low < 1e-11


def test_two_seed_bootstrap_interval_is_the_two_slopes():
    """Two seeds with slopes -0.4 and -0.6: resamples give -0.4, -0.6 (¼ each) or -0.5 (½), so the
    2.5/97.5 percentiles are the two slopes and the bootstrap sd is √(0.1²/2)."""
    values = np.stack([WIDTHS ** -0.4, WIDTHS ** -0.6])
    fit = stats.fit_power_law(WIDTHS, values, n_boot=4000, seed=3)
    assert fit.exponent == pytest.approx(-0.5, abs=1e-12)
    assert fit.ci_low == pytest.approx(-0.6, abs=1e-12) and fit.ci_high == pytest.approx(-0.4, abs=1e-12)
    assert fit.stderr == pytest.approx(0.1 / np.sqrt(2), rel=0.05)


def test_ols_matches_independent_least_squares():
    rng = np.random.default_rng(2)
    values = _noisy(rng, None)
    fit = stats.fit_power_law(WIDTHS, values)
    (slope, icpt), cov = np.polyfit(np.log(WIDTHS), np.log(values), 1, cov=True)  # cov scaled by χ²/(W-2)
    se = np.sqrt(cov[0, 0])
    half = sps.t.ppf(0.975, WIDTHS.size - 2) * se
    assert fit.exponent == pytest.approx(slope, abs=1e-12) and fit.prefactor == pytest.approx(np.exp(icpt), rel=1e-12)
    assert fit.stderr == pytest.approx(se, rel=1e-10)
    assert (fit.ci_low, fit.ci_high) == pytest.approx((slope - half, slope + half), abs=1e-12)


def test_pooled_matches_least_squares_over_all_points():
    rng = np.random.default_rng(3)
    values = _noisy(rng, 3)
    fit = stats.fit_power_law_pooled(WIDTHS, values)
    x, y = np.tile(np.log(WIDTHS), 3), np.log(values).ravel()
    (slope, icpt), cov = np.polyfit(x, y, 1, cov=True)
    half = sps.t.ppf(0.975, x.size - 2) * np.sqrt(cov[0, 0])
    assert fit.method == "pooled ols"
    assert fit.exponent == pytest.approx(slope, abs=1e-12) and fit.prefactor == pytest.approx(np.exp(icpt), rel=1e-12)
    assert (fit.ci_low, fit.ci_high) == pytest.approx((slope - half, slope + half), abs=1e-12)
    # balanced design: the same line as the fit to the per-width mean of log values
    boot = stats.fit_power_law(WIDTHS, values)
    assert boot.exponent == pytest.approx(fit.exponent, abs=1e-12)
    assert boot.prefactor == pytest.approx(fit.prefactor, rel=1e-12)


def test_bootstrap_stderr_matches_the_slope_scatter_over_seeds():
    """Many seeds: sd of the slope of the mean is σ/√(S·Σ(log w − mean)²), up to √((S−1)/S)."""
    rng = np.random.default_rng(4)
    n_seeds = 40
    fit = stats.fit_power_law(WIDTHS, _noisy(rng, n_seeds), n_boot=4000)
    dx = np.log(WIDTHS) - np.log(WIDTHS).mean()
    expected = SIGMA / np.sqrt(n_seeds * dx @ dx)
    assert fit.stderr == pytest.approx(expected, rel=0.25)
    assert fit.ci_high - fit.ci_low == pytest.approx(2 * 1.96 * expected, rel=0.3)


def test_bootstrap_is_reproducible_and_uses_the_seed():
    values = _noisy(np.random.default_rng(5), 4)
    a, b = stats.fit_power_law(WIDTHS, values, seed=1), stats.fit_power_law(WIDTHS, values, seed=1)
    c = stats.fit_power_law(WIDTHS, values, seed=2)
    assert a == b
    assert a.exponent == c.exponent and a.stderr != c.stderr


@pytest.mark.parametrize("fitter, n_seeds, low", [
    (stats.fit_power_law, None, 0.9),         # OLS t-interval, one value per width
    (stats.fit_power_law_pooled, 2, 0.9),     # pooled t-interval, few seeds
    (stats.fit_power_law_pooled, 3, 0.9),
    (stats.fit_power_law, 30, 0.85),          # percentile bootstrap, many seeds (slightly narrow)
])
def test_95_percent_intervals_cover_the_truth(fitter, n_seeds, low):
    rng = np.random.default_rng(6)
    hits = [_covers(fitter(WIDTHS, _noisy(rng, n_seeds))) for _ in range(200)]
    assert low <= np.mean(hits) <= 0.99


def test_pooled_interval_is_wider_than_the_bootstrap_with_few_seeds():
    """A bootstrap over 2-3 seeds sees too little of the scatter: its interval under-covers and
    the pooled t-interval is at least as wide in most draws."""
    rng = np.random.default_rng(7)
    for n_seeds, min_wider in [(2, 0.9), (3, 0.7)]:
        wider, boot_hits = [], []
        for _ in range(200):
            values = _noisy(rng, n_seeds)
            boot, pooled = stats.fit_power_law(WIDTHS, values), stats.fit_power_law_pooled(WIDTHS, values)
            wider.append(pooled.ci_high - pooled.ci_low >= boot.ci_high - boot.ci_low)
            boot_hits.append(_covers(boot))
        assert np.mean(wider) >= min_wider
        assert np.mean(boot_hits) < 0.85


def test_power_law_str():
    fit = stats.PowerLaw(-0.5, 0.0123, -0.53, -0.47, 1.0, "ols")
    assert str(fit) == "-0.50 ± 0.01"


@pytest.mark.parametrize("widths, values, match", [
    ([1, 2], [1, 2], "needs >= 3 widths, got 2"),
    ([1, 2, 4], [1, 0, 2], r"values must be > 0 and finite for a log-log fit, got values\[1\]=0.0"),
    ([1, 2, 4], [[1, 2, 3], [1, 2, -3]], r"got values\[1, 2\]=-3.0"),
    ([1, 2, 4], [[1, 2, 3], [1, np.nan, 3]], r"got values\[1, 1\]=nan"),
    ([0, 2, 4], [1, 2, 3], r"widths must be > 0 and finite for a log-log fit, got widths\[0\]=0.0"),
    ([1, 2, 4], np.ones((2, 4)), r"one column per width \(3\), got shape \(2, 4\)"),
    ([1, 2, 4], np.ones((2, 2, 3)), r"1 or 2 dimensions, got shape \(2, 2, 3\)"),
])
@pytest.mark.parametrize("fitter", [stats.fit_power_law, stats.fit_power_law_pooled])
def test_fit_rejects_bad_input(fitter, widths, values, match):
    with pytest.raises(ValueError, match=match):
        fitter(widths, values)


def test_fit_rejects_bad_n_boot():
    with pytest.raises(ValueError, match="n_boot=0"):
        stats.fit_power_law(WIDTHS, np.ones((2, WIDTHS.size)), n_boot=0)


# ----------------------------------------------------------------------------- gmean, rmse, relative_error


def test_gmean_by_hand():
    assert stats.gmean([2.0, 8.0]) == pytest.approx(4.0, rel=1e-14)
    table = np.array([[1.0, 2.0], [4.0, 8.0], [16.0, 32.0]])  # (seeds, widths)
    np.testing.assert_allclose(stats.gmean(table), [(1 * 4 * 16) ** (1 / 3), (2 * 8 * 32) ** (1 / 3)], rtol=1e-14)
    np.testing.assert_allclose(stats.gmean(table, axis=1), [np.sqrt(2), np.sqrt(32), np.sqrt(512)], rtol=1e-14)
    assert stats.gmean(table, axis=None) == pytest.approx(np.prod(table) ** (1 / 6), rel=1e-14)
    assert stats.gmean(pd.Series([1.0, 10.0, 100.0])) == pytest.approx(10.0, rel=1e-14)
    assert stats.gmean(np.ones((3, 0))).shape == (0,)  # no widths selected: nothing to plot


@pytest.mark.parametrize("values, match", [
    ([1.0, 0.0], r"values must be > 0 and finite for a geometric mean, got values\[1\]=0.0"),
    ([[1.0, 2.0], [-3.0, 1.0]], r"got values\[1, 0\]=-3.0"),
    ([1.0, np.inf], r"got values\[1\]=inf"),
    ([np.nan], r"got values\[0\]=nan"),
    ([], r"no entries to average along axis=0, got shape \(0,\)"),
    (np.ones((0, 3)), r"no entries to average along axis=0, got shape \(0, 3\)"),
])
def test_gmean_rejects_bad_values(values, match):
    with pytest.raises(ValueError, match=match):
        stats.gmean(values)


def test_rmse_closed_forms():
    assert stats.rmse([3.0, 0.0], [0.0, 4.0]) == pytest.approx(np.sqrt(12.5))
    np.testing.assert_allclose(stats.rmse(np.zeros((2, 3)), [[1.0] * 3, [2.0] * 3], axis=1), [1.0, 2.0])
    a = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_allclose(stats.rmse(a, a + np.array([1.0, 2.0])[:, None, None], axis=(1, 2)), [1.0, 2.0])
    assert stats.rmse([1.0, -1.0, 1.0, -1.0], 0.0) == pytest.approx(1.0)  # broadcasts
    assert stats.rmse(np.float32([0.1]), np.float32([0.3])) == pytest.approx(0.2, rel=1e-7)


def test_relative_error_closed_forms_and_checks():
    ref = np.diag([3.0, 4.0])  # ‖ref‖_F = 5
    assert stats.relative_error(2 * ref, ref) == pytest.approx(1.0)
    assert stats.relative_error(ref + np.array([[0.0, 1.0], [0.0, 0.0]]), ref) == pytest.approx(0.2)
    assert stats.relative_error(ref, ref) == 0.0
    assert isinstance(stats.relative_error(np.float32(ref), ref), float)
    with pytest.raises(ValueError, match=r"shapes differ: estimate \(3,\), reference \(4,\)"):
        stats.relative_error(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="reference must have a finite non-zero norm, got ‖reference‖_F=0.0"):
        stats.relative_error(np.ones(3), np.zeros(3))


def test_module_surface():
    assert set(stats.__all__) == {"PowerLaw", "fit_power_law", "fit_power_law_pooled", "gmean", "rmse",
                                  "relative_error"}
    import ntklib

    assert ntklib.stats is stats and "stats" in ntklib.__all__


def test_scaling_plot_draws_the_geometric_mean_and_the_fit():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ntklib import plotting

    values = _noisy(np.random.default_rng(8), 3)
    fig, ax = plt.subplots()
    fit = plotting.scaling_plot(ax, WIDTHS, values, label="x")
    assert fit == stats.fit_power_law(WIDTHS, values)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), stats.gmean(values), rtol=1e-12)
    np.testing.assert_allclose(ax.lines[1].get_ydata(), fit.predict(WIDTHS), rtol=1e-12)
    plt.close(fig)
