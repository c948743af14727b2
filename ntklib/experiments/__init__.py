"""The one sweep helper (:func:`sweep`: a grid of named axes → a tidy DataFrame, one progress bar)
and the progress bar itself; the chapters' runners live in one submodule per chapter id
(``parameterization``, ``ntk``, ``linearization``, ``gronwall``, ``beyond_optimizers``,
``beyond_architectures``; ``pairs``: a network and its linearization trained side by side, shared
by the last two). Power-law fits: :mod:`ntklib.stats`."""

from __future__ import annotations

import itertools
import os
import sys
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from .. import _validate as v
from ..data import Dataset

__all__ = [
    "progress", "Row", "sweep", "width_sweep", "pivot_seeds", "width_seed_grid",
]


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


Row = Mapping[str, object]


def sweep(run: Callable[..., Row | Sequence[Row]], axes: Mapping[str, Sequence], *,
          desc: str = "sweep") -> pd.DataFrame:
    """The one sweep helper: call ``run(**point)`` at every point of the grid ``axes`` and return a
    tidy DataFrame, one progress bar for the whole grid.

    ``axes`` maps each argument name to its values; the grid is their Cartesian product, the
    first axis outermost (put the architecture axes first, so a jit-compiled step built for one
    model is reused across the inner axes). ``run`` returns one row (a mapping of metrics) or a
    list of rows (e.g. one per recorded step); each row is prefixed with the point's values.

    >>> sweep(lambda width, seed: {"value": width + seed}, {"width": [2, 4], "seed": [0, 1]})
       width  seed  value
    0      2     0      2
    1      2     1      3
    2      4     0      4
    3      4     1      5
    """
    if not axes:
        raise ValueError("sweep needs at least one axis")
    values = {name: list(vals) for name, vals in axes.items()}
    for name, vals in values.items():
        if not vals:
            raise ValueError(f"sweep axis {name!r} has no values")
    points = list(itertools.product(*values.values()))
    rows = []
    for point in progress(points, total=len(points), desc=desc):
        kwargs = dict(zip(values, point))
        out = run(**kwargs)
        for row in ([out] if isinstance(out, Mapping) else out):
            rows.append({**kwargs, **dict(row)})
    return pd.DataFrame(rows)


def width_sweep(run: Callable[[int, int], Mapping[str, float]], widths, seeds, *,
                desc: str = "width sweep") -> pd.DataFrame:
    """:func:`sweep` over widths (outer) and seeds: ``run(width, seed)`` returns a row of metrics."""
    widths = [v.positive_int("width", int(w)) for w in widths]
    seeds = [v.nonnegative_int("seed", int(s)) for s in seeds]
    if not widths or not seeds:
        raise ValueError(f"width_sweep needs at least one width and one seed, got {widths}, {seeds}")
    return sweep(lambda width, seed: run(width, seed), {"width": widths, "seed": seeds}, desc=desc)


def pivot_seeds(frame: pd.DataFrame, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """(widths, values of shape (S, W)) from a :func:`width_sweep` frame, ready for :func:`ntklib.stats.fit_power_law`."""
    table = frame.pivot(index="seed", columns="width", values=metric).sort_index(axis=1)
    return table.columns.to_numpy(), table.to_numpy()


def width_seed_grid(data, widths: Sequence[int], seeds: Sequence[int], *,
                    name: str = "the sweep") -> tuple[list[int], list[int]]:
    """The validated (widths, seeds) of a width × seed sweep on ``data``: an ntklib Dataset,
    positive integer widths, non-negative integer seeds, at least one of each (errors name the
    bad value).

    >>> from ntklib import data
    >>> width_seed_grid(data.digits(4, 2), (64, 128.0), [0])
    ([64, 128], [0])
    """
    if not isinstance(data, Dataset):
        raise TypeError(f"data must be an ntklib Dataset, got {type(data).__name__}")
    widths = [v.positive_int("width", int(w)) for w in widths]
    seeds = [v.nonnegative_int("seed", int(s)) for s in seeds]
    if not widths or not seeds:
        raise ValueError(f"{name} needs at least one width and one seed, got {widths}, {seeds}")
    return widths, seeds
