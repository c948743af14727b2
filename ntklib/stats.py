"""Fits and error measures shared by the chapters: power laws in width, geometric means, RMSE,
relative Frobenius errors.

A bottom layer beside :mod:`ntklib.data`: it imports numpy, scipy and ntklib's argument checks
only. Power laws are fitted on log-log axes with :func:`scipy.stats.linregress`; the uncertainty
over seeds is :func:`scipy.stats.bootstrap` (seeds resampled) or a pooled t-interval.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import numpy as np
import scipy.stats

from . import _seeds
from . import _validate as v

__all__ = ["PowerLaw", "fit_power_law", "fit_power_law_pooled", "gmean", "rmse", "relative_error"]

# scipy >= 1.15 names bootstrap's generator ``rng``; older releases (pyproject allows 1.11) ``random_state``
_RNG_ARG = "rng" if "rng" in inspect.signature(scipy.stats.bootstrap).parameters else "random_state"


@dataclass(frozen=True)
class PowerLaw:
    """value ≈ prefactor · width^exponent; ``stderr`` and the 95% interval [ci_low, ci_high].

    ``method`` says where the uncertainty comes from: "ols" (one value per width, t-interval),
    "bootstrap" (bootstrap over seeds) or "pooled ols" (every (width, seed) point, t-interval).

    >>> fit = PowerLaw(-0.5, 0.02, -0.54, -0.46, 3.0, "ols")
    >>> str(fit), fit.predict([4.0, 16.0]).tolist()
    ('-0.50 ± 0.02', [1.5, 0.75])
    """

    exponent: float
    stderr: float
    ci_low: float
    ci_high: float
    prefactor: float
    method: str

    def __str__(self) -> str:
        return f"{self.exponent:.2f} ± {self.stderr:.2f}"

    def predict(self, widths) -> np.ndarray:
        """prefactor · widths^exponent."""
        return self.prefactor * np.asarray(widths, dtype=float) ** self.exponent


def _first_bad(name: str, arr: np.ndarray, bad: np.ndarray) -> str:
    """``name[i, j]=value`` for the first entry where ``bad`` holds."""
    idx = tuple(int(i) for i in np.argwhere(bad)[0])
    value = float(arr[idx])
    return f"{name}[{', '.join(map(str, idx))}]={value!r}" if idx else f"{name}={value!r}"


def _positive_finite(name: str, x, *, purpose: str) -> np.ndarray:
    """``x`` as a float64 array after checking that every entry is finite and > 0."""
    arr = np.asarray(x)
    if not np.issubdtype(arr.dtype, np.number):
        raise TypeError(f"{name} must be a numeric array, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    bad = ~np.isfinite(arr) | (arr <= 0)
    if np.any(bad):
        raise ValueError(f"{name} must be > 0 and finite {purpose}, got {_first_bad(name, arr, bad)}")
    return arr


def _log_inputs(widths, values) -> tuple[np.ndarray, np.ndarray]:
    """Checked log widths (W,) and log values (S, W)."""
    widths = v.finite_array("widths", widths, ndim=1).astype(np.float64)
    values = np.asarray(values)
    if values.ndim not in (1, 2):
        raise ValueError(f"values must have 1 or 2 dimensions, got shape {values.shape}")
    if values.shape[-1] != widths.size:
        raise ValueError(f"values must have one column per width ({widths.size}), got shape {values.shape}")
    if widths.size < 3:
        raise ValueError(f"a power-law fit with an uncertainty needs >= 3 widths, got {widths.size}")
    widths = _positive_finite("widths", widths, purpose="for a log-log fit")
    values = _positive_finite("values", values, purpose="for a log-log fit")
    return np.log(widths), np.log(values).reshape(-1, widths.size)


def _t_interval(fit, dof: int) -> tuple[float, float, float]:
    """(stderr, ci_low, ci_high): slope ± t_{0.975, dof} · stderr."""
    se = float(fit.stderr)
    half = float(scipy.stats.t.ppf(0.975, dof)) * se
    return se, float(fit.slope) - half, float(fit.slope) + half


def _slope(logx: np.ndarray, logy: np.ndarray) -> np.ndarray:
    """Least-squares slope of ``logy`` against ``logx`` along the last axis (vectorized)."""
    dx = logx - logx.mean()
    return (logy - logy.mean(axis=-1, keepdims=True)) @ dx / (dx @ dx)


def fit_power_law(widths, values, *, n_boot: int = 2000, seed: int = 0) -> PowerLaw:
    """Fit log value = log c + p·log width by least squares (:func:`scipy.stats.linregress`).

    ``values`` of shape (W,), one value per width: ordinary least squares; ``stderr`` is the
    slope's standard error se = √(Σ rᵢ² / (W − 2) / Σ (log wᵢ − mean log w)²) and the interval
    p ± t_{0.975, W−2}·se (method "ols").

    Shape (S, W), S seeds: the fit is to the per-width mean of log values (the log of the
    geometric mean over seeds), and the uncertainty is :func:`scipy.stats.bootstrap` over seeds:
    ``n_boot`` resamples of the S rows, drawn with ``numpy.random.default_rng(seed + $NTKLIB_SEED_OFFSET)``; the
    statistic is the slope of the resampled per-width mean of log values; ``stderr`` is the
    bootstrap standard error and [ci_low, ci_high] the 95% percentile interval (method
    "bootstrap"). With only 2-3 seeds that interval is too narrow; see
    :func:`fit_power_law_pooled`.

    >>> widths = np.array([64, 128, 256, 512])
    >>> fit = fit_power_law(widths, 3.0 * widths ** -0.5)
    >>> round(fit.exponent, 9), round(fit.prefactor, 9), fit.method
    (-0.5, 3.0, 'ols')
    >>> rng = np.random.default_rng(0)
    >>> seeds = widths ** -1.0 * np.exp(0.1 * rng.standard_normal((8, 4)))
    >>> fit = fit_power_law(widths, seeds)
    >>> fit.method, fit.ci_low < fit.exponent < fit.ci_high, str(fit)
    ('bootstrap', True, '-0.98 ± 0.02')
    """
    logx, logy = _log_inputs(widths, values)
    if logy.shape[0] == 1:
        fit = scipy.stats.linregress(logx, logy[0])
        return PowerLaw(float(fit.slope), *_t_interval(fit, logx.size - 2), float(np.exp(fit.intercept)), "ols")
    n_boot = v.positive_int("n_boot", n_boot)
    fit = scipy.stats.linregress(logx, logy.mean(axis=0))

    def mean_log_slope(*columns, axis=-1):
        # one sample per width, paired: every resample draws the same seeds at every width
        return _slope(logx, np.stack([np.mean(c, axis=axis) for c in columns], axis=-1))

    boot = scipy.stats.bootstrap(tuple(logy.T), mean_log_slope, paired=True, vectorized=True,
                                 n_resamples=n_boot, confidence_level=0.95, method="percentile",
                                 **{_RNG_ARG: _seeds.generator("seed", seed)})
    ci = boot.confidence_interval
    return PowerLaw(float(fit.slope), float(boot.standard_error), float(ci.low), float(ci.high),
                    float(np.exp(fit.intercept)), "bootstrap")


def fit_power_law_pooled(widths, values) -> PowerLaw:
    """Fit log value = log c + p·log width by least squares over all (width, seed) points pooled.

    Each of the S·W entries of ``values`` (shape (S, W)) is one point (log wⱼ, log v_sj). The
    exponent equals :func:`fit_power_law`'s (the design is balanced); the uncertainty is the
    slope's standard error from the scatter about the fit, se = √(Σ r_sj² / (SW − 2) /
    (S·Σⱼ (log wⱼ − mean log w)²)), with the 95% t-interval p ± t_{0.975, SW−2}·se (method
    "pooled ols"). Unlike a bootstrap over 2-3 seeds, this interval includes the scatter of the
    per-width means about the line. A (W,) array is the plain "ols" fit.

    >>> widths = np.array([64, 128, 256, 512])
    >>> seeds = widths ** -0.5 * np.array([[1.0, 1.1, 0.9, 1.0], [1.1, 0.9, 1.0, 1.1]])
    >>> fit, boot = fit_power_law_pooled(widths, seeds), fit_power_law(widths, seeds)
    >>> fit.method, str(fit), str(boot), abs(fit.exponent - boot.exponent) < 1e-12
    ('pooled ols', '-0.51 ± 0.04', '-0.51 ± 0.02', True)
    """
    logx, logy = _log_inputs(widths, values)
    n_seeds = logy.shape[0]
    fit = scipy.stats.linregress(np.tile(logx, n_seeds), logy.reshape(-1))
    method = "ols" if n_seeds == 1 else "pooled ols"
    return PowerLaw(float(fit.slope), *_t_interval(fit, logy.size - 2), float(np.exp(fit.intercept)), method)


def gmean(values, axis: int | None = 0):
    """Geometric mean exp(mean(log values)) along ``axis`` (:func:`scipy.stats.gmean`).

    Every value must be > 0 and finite; the error names the first one that is not. An empty
    table of shape (S, 0) gives an empty result; nothing to average along ``axis`` is an error.

    >>> print(f"{gmean([1.0, 4.0, 16.0]):.6g}")
    4
    >>> np.round(gmean([[1.0, 2.0], [4.0, 8.0]]), 12)  # over seeds (rows), per width
    array([2., 4.])
    """
    arr = _positive_finite("values", values, purpose="for a geometric mean")
    if arr.size == 0 and (axis is None or arr.ndim == 0 or arr.shape[axis] == 0):
        raise ValueError(f"values has no entries to average along axis={axis}, got shape {arr.shape}")
    return scipy.stats.gmean(arr, axis=axis)


def rmse(a, b, axis=None):
    """Root mean square difference √(mean((a − b)²)) over all entries, or along ``axis``.

    ``a`` and ``b`` broadcast against each other; both are taken in float64.

    >>> float(rmse([3.0, 0.0], [0.0, 4.0]))  # √((9 + 16) / 2)
    3.5355339059327378
    >>> rmse(np.zeros((2, 3)), [[1.0] * 3, [2.0] * 3], axis=1)
    array([1., 2.])
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.sqrt(np.mean((a - b) ** 2, axis=axis))


def relative_error(estimate, reference) -> float:
    """Relative Frobenius error ‖estimate − reference‖_F / ‖reference‖_F, in float64.

    Both must have the same shape and ``reference`` a non-zero norm.

    >>> relative_error([[2.0, 0.0], [0.0, 2.0]], np.eye(2))  # ‖I‖_F / ‖I‖_F
    1.0
    """
    estimate = np.asarray(estimate, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    if estimate.shape != reference.shape:
        raise ValueError(f"shapes differ: estimate {estimate.shape}, reference {reference.shape}")
    norm = float(np.linalg.norm(reference))
    if norm == 0.0 or not np.isfinite(norm):
        raise ValueError(f"reference must have a finite non-zero norm, got ‖reference‖_F={norm}")
    return float(np.linalg.norm(estimate - reference) / norm)
