"""The scale switch: NTKLIB_SCALE=ci (default; each notebook ~1 min on 2 CPU cores) or paper.

Every chapter reads its widths, dataset sizes, step counts and seeds from :func:`settings`,
so switching scale changes numbers, never code paths.
"""

from __future__ import annotations

import os
from types import MappingProxyType, SimpleNamespace

SCALES = ("ci", "paper")

_SETTINGS = {
    "introduction": {
        "ci": dict(n_train=2, width=4096, depth=3, seeds=(0,)),
        "paper": dict(n_train=2, width=16384, depth=3, seeds=(0,)),
    },
    # chapters add their own entry: {"ci": {...}, "paper": {...}} with the same keys in both
}


def scale() -> str:
    """The active scale, from the NTKLIB_SCALE environment variable (default "ci")."""
    value = os.environ.get("NTKLIB_SCALE", "ci").strip().lower()
    if value not in SCALES:
        raise ValueError(f"NTKLIB_SCALE must be one of {SCALES}, got NTKLIB_SCALE={value!r}")
    return value


def settings(chapter: str) -> SimpleNamespace:
    """The settings of ``chapter`` at the active scale, as attributes (read-only values)."""
    if chapter not in _SETTINGS:
        raise ValueError(f"unknown chapter {chapter!r}; known: {sorted(_SETTINGS)}")
    values = dict(_SETTINGS[chapter][scale()])
    return SimpleNamespace(scale=scale(), **values)


def all_settings():
    """Every chapter's settings at both scales (read-only view, for the README and tests)."""
    return MappingProxyType(_SETTINGS)
