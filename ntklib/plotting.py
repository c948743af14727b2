"""One look for every figure: seaborn style, width-scaling plots with guide lines and fits."""

from __future__ import annotations

from typing import Sequence

import matplotlib

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from . import stats

__all__ = [
    "PALETTE", "set_style", "width_colors", "guide_line", "scaling_plot", "finish",
]

PALETTE = "viridis"


def set_style() -> None:
    """Book-wide matplotlib/seaborn defaults (call once per notebook).

    In IPython/Jupyter (the book, Colab) figures are shown as 'retina' PNG: rendered at twice
    ``figure.dpi`` and displayed at the size of a ``figure.dpi`` image (the output records the
    display width and height), so lines and text stay sharp on high-density screens. The pixels
    are deterministic for given data (no timestamp in the PNG); nbval does not compare images.
    """
    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind")
    matplotlib.rcParams.update({
        "figure.figsize": (6.4, 4.0), "figure.dpi": 100, "savefig.dpi": 150,
        "axes.spines.top": False, "axes.spines.right": False, "legend.frameon": False,
        "figure.facecolor": "white",  # opaque paper: legible on the site's dark background too
        "svg.hashsalt": "ntklib",  # deterministic SVG ids
    })
    _retina_inline_figures()


def _retina_inline_figures() -> None:
    """Select 'retina' PNG for the inline backend when running under IPython (else nothing)."""
    try:
        from IPython import get_ipython
    except ImportError:  # no IPython: figures are saved or shown by other means
        return
    if get_ipython() is None:
        return
    from matplotlib_inline.backend_inline import set_matplotlib_formats

    set_matplotlib_formats("retina")


def width_colors(n: int) -> list:
    """``n`` colours from narrow (light) to wide (dark)."""
    return sns.color_palette(PALETTE, n)[::-1]


def guide_line(ax, widths, exponent: float, anchor: float, *, label: str | None = None, **kw) -> None:
    """Dashed reference line ∝ width^exponent through (widths[0], anchor)."""
    widths = np.asarray(widths, dtype=float)
    ax.plot(widths, anchor * (widths / widths[0]) ** exponent, ls="--", lw=1, color="0.5",
            label=label if label is not None else rf"$\propto n^{{{exponent:g}}}$", **kw)


def scaling_plot(ax, widths, values, *, label: str, color=None, fit: stats.PowerLaw | None = None,
                 marker: str = "o") -> stats.PowerLaw:
    """Log-log plot of ``values`` ((W,) or (S, W) over seeds: mean ± spread) against width,
    with the fitted power law drawn and its exponent ± uncertainty in the legend."""
    widths = np.asarray(widths, dtype=float)
    values = np.asarray(values, dtype=float)
    fit = fit or stats.fit_power_law(widths, values)
    center = stats.gmean(values, axis=0) if values.ndim == 2 else values
    line, = ax.plot(widths, center, marker=marker, ls="none", color=color)
    if values.ndim == 2 and values.shape[0] > 1:
        ax.fill_between(widths, values.min(axis=0), values.max(axis=0), color=line.get_color(), alpha=0.2, lw=0)
    ax.plot(widths, fit.predict(widths), color=line.get_color(), lw=1.5,
            label=f"{label}: slope {fit.exponent:.2f} ± {fit.stderr:.2f}")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log", base=2)
    ax.set_xlabel("width $n$")
    return fit


def finish(fig, axes: Sequence | None = None) -> None:
    """Tight layout; legends on every axis that has labelled artists."""
    for ax in (axes if axes is not None else fig.axes):
        handles, _ = ax.get_legend_handles_labels()
        if handles:
            ax.legend(fontsize="small")
    fig.tight_layout()
