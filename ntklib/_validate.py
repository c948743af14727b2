"""Argument checks shared by every layer: each raises with the argument's name and value."""

from __future__ import annotations

import numbers
from collections.abc import Iterable

import numpy as np

__all__ = [
    "positive_int", "nonnegative_int", "positive_float", "momentum", "choice", "finite_array",
    "same_length", "symmetric_matrix",
]


def positive_int(name: str, value) -> int:
    """Return ``value`` as an int, or raise if it is not an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a positive integer, got {value!r} of type {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, got {name}={value}")
    return int(value)


def nonnegative_int(name: str, value) -> int:
    """Return ``value`` as an int, or raise if it is not an integer >= 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a non-negative integer, got {value!r} of type {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {name}={value}")
    return int(value)


def positive_float(name: str, value, *, allow_zero: bool = False) -> float:
    """Return ``value`` as a float, or raise if it is not a finite number > 0 (>= 0 if allowed)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} of type {type(value).__name__}")
    value = float(value)
    if not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be finite and {bound}, got {name}={value}")
    return value


def momentum(name: str, value) -> float:
    """Return a heavy-ball momentum β as a float, or raise if it is not in [0, 1)."""
    beta = positive_float(name, value, allow_zero=True)
    if beta >= 1:
        raise ValueError(f"{name} must be in [0, 1), got {name}={beta}")
    return beta


def choice(name: str, value, options: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``options``, else raise naming all of them."""
    options = tuple(options)
    if value not in options:
        raise ValueError(f"{name} must be one of {options}, got {name}={value!r}")
    return value


def finite_array(name: str, x, *, ndim: int | tuple[int, ...] | None = None) -> np.ndarray:
    """Return ``x`` as an array after checking its rank and that every entry is finite."""
    arr = np.asarray(x)
    if not np.issubdtype(arr.dtype, np.number):
        raise TypeError(f"{name} must be a numeric array, got dtype {arr.dtype}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else ndim
        if arr.ndim not in allowed:
            raise ValueError(f"{name} must have {' or '.join(map(str, allowed))} dimensions, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{name} contains {bad} non-finite value(s) (NaN or inf)")
    return arr


def same_length(name_a: str, a, name_b: str, b) -> None:
    """Raise if the leading (example) axes of ``a`` and ``b`` differ."""
    if np.shape(a)[0] != np.shape(b)[0]:
        raise ValueError(
            f"{name_a} and {name_b} must have the same number of examples, "
            f"got {name_a}.shape={np.shape(a)} and {name_b}.shape={np.shape(b)}"
        )


def symmetric_matrix(name: str, k, *, rtol: float = 1e-4) -> np.ndarray:
    """Return ``k`` as a finite square symmetric 2-d array (up to ``rtol`` relative asymmetry)."""
    k = finite_array(name, k, ndim=2)
    if k.shape[0] != k.shape[1]:
        raise ValueError(f"{name} must be square, got shape {k.shape}")
    scale = float(np.max(np.abs(k))) if k.size else 0.0
    asym = float(np.max(np.abs(k - k.T))) if k.size else 0.0
    if asym > rtol * max(scale, 1e-30):
        raise ValueError(f"{name} must be symmetric, got max |K - K^T| = {asym:.3g} (max |K| = {scale:.3g})")
    return k
