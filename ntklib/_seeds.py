"""The one place where an integer seed becomes randomness.

Every seed that ntklib turns into a JAX key or a numpy Generator goes through :func:`shifted`,
which adds the offset named by the environment variable ``NTKLIB_SEED_OFFSET`` (a non-negative
integer; unset means 0, today's numbers bit for bit). Seed s becomes s + offset, so distinct seeds
stay distinct and independent runs stay independent; one switch moves every network
initialization, data subset, Gaussian input, minibatch order and bootstrap resample of a chapter
at once (``make seeds`` re-executes the book with two other offsets).

>>> shifted("seed", 3) - offset()
3

:func:`normal` draws exactly ``jax.random.normal``'s numbers with one compiled generator per
power-of-two size instead of one per shape (see there); :func:`shape_agnostic_normal` makes a
block of code — a model's ``init_fn`` — draw through it.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import re
from typing import Iterator

import numpy as np

from . import _validate as v

__all__ = ["OFFSET_ENV", "offset", "shifted", "key", "generator", "normal", "shape_agnostic_normal"]

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


# ----------------------------------------------------------------------------- normal draws

MIN_BUCKET = 1 << 10  # the smallest flat draw: shapes with fewer entries share one compile


@functools.lru_cache(maxsize=None)
def _prefix(size: int, shape: tuple[int, ...]):
    import jax

    return jax.jit(lambda flat: flat[:size].reshape(shape))


def _bucket(size: int) -> int:
    return max(MIN_BUCKET, 1 << max(size - 1, 0).bit_length())


def normal(key, shape=(), dtype=float):
    """``jax.random.normal(key, shape, dtype)``, bit for bit, compiled once per power-of-two size.

    JAX compiles its generator (threefry, then the inverse error function) for every shape it
    is asked for: a sweep over widths compiles it once per weight matrix, about 0.1 s each on a
    CPU. With JAX's partitionable threefry (the default since jax 0.5) entry i of a draw depends
    only on the key and i in row-major order, so a draw of S entries is the first S entries of a
    flat draw of any size B ≥ S; this draws B = the next power of two (at least
    :data:`MIN_BUCKET`) and keeps the first S, at most twice the generator's work. Traced calls
    (inside ``jit``) and any other setting go to ``jax.random.normal`` itself.

    >>> import jax
    >>> k = jax.random.PRNGKey(0)
    >>> bool((normal(k, (3, 5)) == jax.random.normal(k, (3, 5))).all())
    True
    """
    import jax
    import jax.numpy as jnp

    shape = tuple(int(d) for d in (shape if isinstance(shape, (tuple, list)) else (shape,)))
    partitionable = bool(jax.config.jax_threefry_partitionable)
    if (not partitionable or isinstance(key, jax.core.Tracer) or not isinstance(key, jax.Array)
            or key.shape != (2,) or key.dtype != jnp.uint32):
        return _jax_normal()(key, shape, dtype)
    size = math.prod(shape)
    return _prefix(size, shape)(_jax_normal()(key, (_bucket(size),), dtype))


_JAX_NORMAL = None  # jax.random.normal, bound on first use (this module does not import jax)


def _jax_normal():
    global _JAX_NORMAL
    if _JAX_NORMAL is None:
        import jax

        _JAX_NORMAL = jax.random.normal
    return _JAX_NORMAL


@contextlib.contextmanager
def shape_agnostic_normal() -> Iterator[None]:
    """Within the block, ``jax.random.normal`` is :func:`normal` (same numbers, fewer compiles):
    for library code that draws through it, such as neural-tangents' stax ``init_fn``. Not
    thread-safe; it restores the original on exit, also on an exception."""
    import jax

    original = _jax_normal()
    if jax.random.normal is not original:  # nested: already in place
        yield
        return
    jax.random.normal = normal
    try:
        yield
    finally:
        jax.random.normal = original
