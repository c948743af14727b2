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
    "channel_sweep_figure",
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


def channel_sweep_figure(frame, runs: dict, fit: stats.PowerLaw, *, name: str,
                         extra_curves: dict | None = None):
    """Three panels for a net-vs-f_lin sweep over channel counts
    (:func:`ntklib.experiments.beyond_architectures.channel_sweep`): RMSE(f_t, f_lin_t) on the
    test inputs along training for each channel count (first seed), test accuracy of net and
    f_lin of the widest model (plus ``extra_curves``: label ↦ (times, accuracy)), and the final
    RMSE of every seed against the channel count with the pooled power-law fit ``fit``."""
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    channels = sorted(runs)
    for color, ch in zip(width_colors(len(channels)), channels):
        run = runs[ch]
        axes[0].plot(run.times[1:], run.output_rmse("test")[1:], color=color, label=f"C = {ch}")
    axes[0].set(xscale="log", yscale="log", xlabel=r"$t = \sqrt{\eta}\cdot$steps",
                ylabel=r"RMSE$(f_t, f^{\mathrm{lin}}_t)$, test",
                title=f"{name}: gap along training (seed {int(frame.seed.min())})")
    wide = runs[channels[-1]]
    axes[1].plot(wide.times, wide.accuracy("net", "test"), "k-", label="network")
    axes[1].plot(wide.times, wide.accuracy("lin", "test"), "C1--", label=r"$f^{\mathrm{lin}}$")
    for (label, (t, acc)), style in zip((extra_curves or {}).items(), ("C0:", "C2-.")):
        axes[1].plot(t, acc, style, lw=2, label=label)
    axes[1].set(xscale="symlog", xlabel=r"$t = \sqrt{\eta}\cdot$steps", ylabel="test accuracy",
                title=f"{name}, C = {channels[-1]}")
    table = frame.pivot(index="seed", columns="channels", values="rmse_test")
    scaling_plot(axes[2], table.columns.to_numpy(), table.to_numpy(), label="final RMSE", fit=fit)
    axes[2].set(xlabel="channels $C$", ylabel=r"final RMSE$(f, f^{\mathrm{lin}})$, test",
                title=f"{len(table)} seeds (band: their range)")
    finish(fig)
    return fig
