"""The one place where an integer seed becomes randomness.

Every seed that ntklib turns into a JAX key or a numpy Generator goes through :func:`shifted`,
which adds the offset named by the environment variable ``NTKLIB_SEED_OFFSET`` (a non-negative
integer; unset means 0, today's numbers bit for bit). Seed s becomes s + offset, so distinct seeds
stay distinct and independent runs stay independent; one switch moves every network
initialization, data subset, Gaussian input, minibatch order and bootstrap resample of a chapter
at once (``make seeds`` re-executes the book with two other offsets).

>>> shifted("seed", 3) - offset()
3
"""

from __future__ import annotations

import os
import re

import numpy as np

from . import _validate as v

__all__ = ["OFFSET_ENV", "offset", "shifted", "key", "generator"]

OFFSET_ENV = "NTKLIB_SEED_OFFSET"


def offset() -> int:
    """The seed offset from ``$NTKLIB_SEED_OFFSET`` (0 when unset); anything but a non-negative
    integer (decimal digits) raises, naming the value."""
    raw = os.environ.get(OFFSET_ENV)
    if raw is None:
        return 0
    if not re.fullmatch(r"\s*[0-9]+\s*", raw):
        raise ValueError(f"{OFFSET_ENV} must be a non-negative integer, got {OFFSET_ENV}={raw!r}")
    return int(raw)


def shifted(name: str, seed) -> int:
    """``seed`` (checked: a non-negative integer, named ``name`` in the error) plus :func:`offset`."""
    return v.nonnegative_int(name, seed) + offset()


def key(name: str, seed):
    """``jax.random.PRNGKey(shifted(name, seed))``."""
    import jax

    return jax.random.PRNGKey(shifted(name, seed))


def generator(name: str, seed) -> np.random.Generator:
    """``numpy.random.default_rng(shifted(name, seed))``."""
    return np.random.default_rng(shifted(name, seed))
