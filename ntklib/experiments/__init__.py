"""Width sweeps and power-law fits shared by the chapters; chapter-specific runners live in submodules."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping

import numpy as np
import pandas as pd

from .. import _validate as v


@dataclass(frozen=True)
class PowerLaw:
    """value ≈ prefactor · width^exponent; ``stderr`` and the 95% interval [ci_low, ci_high]."""

    exponent: float
    stderr: float
    ci_low: float
    ci_high: float
    prefactor: float
    method: str

    def __str__(self) -> str:
        return f"{self.exponent:.2f} ± {self.stderr:.2f}"

    def predict(self, widths) -> np.ndarray:
        return self.prefactor * np.asarray(widths, dtype=float) ** self.exponent


def _ols_slope(logx: np.ndarray, logy: np.ndarray) -> tuple[float, float, float]:
    """Least-squares slope, intercept and the slope's standard error."""
    design = np.stack([logx, np.ones_like(logx)], axis=1)
    coef, *_ = np.linalg.lstsq(design, logy, rcond=None)
    dof = len(logx) - 2
    if dof > 0:
        resid = logy - design @ coef
        sigma2 = float(resid @ resid) / dof
        se = float(np.sqrt(sigma2 / np.sum((logx - logx.mean()) ** 2)))
    else:
        se = float("nan")
    return float(coef[0]), float(coef[1]), se


def fit_power_law(widths, values, *, n_boot: int = 2000, seed: int = 0) -> PowerLaw:
    """Fit log value = log c + p·log width.

    ``values`` of shape (W,) — one value per width: ordinary least squares, standard error and a
    t-interval. Shape (S, W) — S seeds: the fit is to the per-width geometric mean over seeds and
    the uncertainty is a bootstrap over seeds (``n_boot`` resamples; stderr = bootstrap std,
    interval = 2.5/97.5 percentiles).
    """
    widths = v.finite_array("widths", widths, ndim=1).astype(np.float64)
    values = v.finite_array("values", values, ndim=(1, 2)).astype(np.float64)
    if values.shape[-1] != widths.size:
        raise ValueError(f"values must have one column per width ({widths.size}), got shape {values.shape}")
    if widths.size < 3:
        raise ValueError(f"a power-law fit with an uncertainty needs >= 3 widths, got {widths.size}")
    if np.any(widths <= 0) or np.any(values <= 0):
        raise ValueError("widths and values must be > 0 for a log-log fit, got "
                         f"min width {widths.min()}, min value {values.min()}")
    logx, logy = np.log(widths), np.log(values)
    if logy.ndim == 1 or logy.shape[0] == 1:
        slope, icpt, se = _ols_slope(logx, logy.reshape(-1))
        from scipy import stats

        half = float(stats.t.ppf(0.975, widths.size - 2)) * se
        return PowerLaw(slope, se, slope - half, slope + half, float(np.exp(icpt)), "ols")
    slope, icpt, _ = _ols_slope(logx, logy.mean(axis=0))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, logy.shape[0], size=(v.positive_int("n_boot", n_boot), logy.shape[0]))
    boot = np.array([_ols_slope(logx, logy[i].mean(axis=0))[0] for i in idx])
    lo, hi = np.percentile(boot, [2.5, 97.5])
    return PowerLaw(slope, float(boot.std(ddof=1)), float(lo), float(hi), float(np.exp(icpt)), "bootstrap")


def progress(iterable: Iterable, *, total: int | None = None, desc: str = ""):
    """tqdm.auto progress bar; silent when TQDM_DISABLE is set or stderr is not interactive.

    In Jupyter the bar is a widget; the book build and CI set TQDM_DISABLE=1 so no bar text
    enters stored outputs.
    """
    from tqdm.auto import tqdm

    disable = bool(os.environ.get("TQDM_DISABLE")) or (not _in_notebook() and not sys.stderr.isatty())
    return tqdm(iterable, total=total, desc=desc, disable=disable, leave=False)


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython

        shell = get_ipython()
        return shell is not None and shell.__class__.__name__ == "ZMQInteractiveShell"
    except ImportError:
        return False


def width_sweep(run: Callable[[int, int], Mapping[str, float]], widths, seeds, *,
                desc: str = "width sweep") -> pd.DataFrame:
    """Call ``run(width, seed)`` for every pair; return a tidy DataFrame with one row per run.

    ``run`` returns a mapping of scalar metrics; the frame has columns width, seed and one per
    metric. Widths are the outer loop so a jit-compiled step is reused across seeds.
    """
    widths = [v.positive_int("width", int(w)) for w in widths]
    seeds = [v.nonnegative_int("seed", int(s)) for s in seeds]
    if not widths or not seeds:
        raise ValueError(f"width_sweep needs at least one width and one seed, got {widths}, {seeds}")
    rows = []
    pairs = [(w, s) for w in widths for s in seeds]
    for w, s in progress(pairs, total=len(pairs), desc=desc):
        metrics = dict(run(w, s))
        rows.append({"width": w, "seed": s, **metrics})
    return pd.DataFrame(rows)


def pivot_seeds(frame: pd.DataFrame, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """(widths, values of shape (S, W)) from a :func:`width_sweep` frame, ready for fit_power_law."""
    table = frame.pivot(index="seed", columns="width", values=metric).sort_index(axis=1)
    return table.columns.to_numpy(), table.to_numpy()
