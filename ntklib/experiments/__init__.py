"""Width sweeps shared by the chapters (their power-law fits: :mod:`ntklib.stats`); chapter-specific
runners live in submodules."""

from __future__ import annotations

import os
import sys
from typing import Callable, Iterable, Mapping

import numpy as np
import pandas as pd

from .. import _validate as v


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
    """(widths, values of shape (S, W)) from a :func:`width_sweep` frame, ready for :func:`ntklib.stats.fit_power_law`."""
    table = frame.pivot(index="seed", columns="width", values=metric).sort_index(axis=1)
    return table.columns.to_numpy(), table.to_numpy()
