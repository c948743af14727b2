"""Stated numbers: computed, rounded, glued into the prose and checked.

``state(name, value, digits=2, expect=-0.5, tol=0.15)`` rounds ``value``, glues it under
``name`` for ``{glue:text}`name:.2f``` in the book (myst-nb), records the claim with its
check in the output's metadata (read back by ``tests/test_claims.py`` from the stored
notebooks) and returns the rounded number. ``report()`` at the end of a chapter prints every
claim of the session and raises if any fails, so a fresh run that breaks a claim fails nbval.
Outside Jupyter Book (Colab, a script) the glue falls back to printing ``name = value``.

``below(name, value, 1e-5)`` states an upper bound instead of a value: for agreement at round-off
level (two exact methods that agree to 1e-7), whose digits change with the CPU's instruction set,
the prose quotes the bound ("below 1e-05"), the claim records whether the measured value is below
it, and nothing printed depends on the round-off.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass

__all__ = [
    "GLUE_PREFIX", "Claim", "round_value", "glue", "state", "below", "above", "recorded",
    "reset", "report",
]

GLUE_PREFIX = "application/papermill.record/"  # myst-nb's glue mime prefix (display=False)


@dataclass(frozen=True)
class Claim:
    """A stated number and its check: |value − expect| ≤ tol and/or lo ≤ value ≤ hi.

    ``kind="upper bound"`` (``"lower bound"``): ``value`` is the bound the prose quotes and
    ``holds`` records whether the measured value was below (above) it; see ``below``.
    """

    name: str
    value: float
    expect: float | None = None
    tol: float | None = None
    lo: float | None = None
    hi: float | None = None
    kind: str = "value"
    holds: bool | None = None

    @property
    def checked(self) -> bool:
        return self.kind != "value" or self.expect is not None or self.lo is not None or self.hi is not None

    @property
    def passes(self) -> bool:
        if self.kind != "value":
            return bool(self.holds) and math.isfinite(self.value)
        ok = math.isfinite(self.value)
        if self.expect is not None:
            ok = ok and abs(self.value - self.expect) <= self.tol
        if self.lo is not None:
            ok = ok and self.value >= self.lo
        if self.hi is not None:
            ok = ok and self.value <= self.hi
        return ok

    def describe(self) -> str:
        if self.kind != "value":
            return "measured value " + ("below" if self.kind == "upper bound" else "above") + " it"
        parts = []
        if self.expect is not None:
            parts.append(f"{self.expect:g} ± {self.tol:g}")
        if self.lo is not None or self.hi is not None:
            lo = "-inf" if self.lo is None else f"{self.lo:g}"
            hi = "inf" if self.hi is None else f"{self.hi:g}"
            parts.append(f"in [{lo}, {hi}]")
        return " and ".join(parts) if parts else "reported"


_CLAIMS: dict[str, Claim] = {}


def _check_name(name) -> None:
    if not isinstance(name, str) or not name.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"name must be letters, digits, '_' or '-', got {name!r}")


def _metadata(claim: Claim) -> dict:
    """The claim as stored in the output's metadata (``Claim(**metadata)`` rebuilds it); the
    fields of a bound are left out of a plain value's record."""
    record = asdict(claim)
    if claim.kind == "value":
        del record["kind"], record["holds"]
    return record


def round_value(value, *, digits: int | None = None, sig: int | None = None) -> float:
    """Round to ``digits`` decimal places or to ``sig`` significant figures (exactly one)."""
    if (digits is None) == (sig is None):
        raise ValueError(f"give exactly one of digits or sig, got digits={digits}, sig={sig}")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        try:
            value = float(value)  # numpy / jax scalars
        except (TypeError, ValueError):
            raise TypeError(f"value must be a real number, got {value!r}") from None
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"cannot state a non-finite number, got {value}")
    if digits is not None:
        rounded = round(value, digits)
    elif value == 0:
        rounded = 0.0
    else:
        rounded = round(value, sig - 1 - int(math.floor(math.log10(abs(value)))))
    return rounded + 0.0  # turn -0.0 into 0.0 so reruns print identically


def _ipython():
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


def glue(name: str, value, *, metadata: dict | None = None) -> None:
    """myst-nb's ``glue(name, value, display=False)`` plus extra output metadata; prints elsewhere."""
    try:
        import myst_nb  # noqa: F401  (present when building the book)
    except ImportError:
        myst_nb = None
    if myst_nb is None or _ipython() is None:
        print(f"{name} = {value}")
        return
    import IPython
    from IPython.display import display

    bundle, meta = IPython.core.formatters.format_display_data(value)
    meta = dict(meta)
    meta["scrapbook"] = dict(name=name, mime_prefix=GLUE_PREFIX)
    meta.update(metadata or {})
    display({GLUE_PREFIX + k: val for k, val in bundle.items()}, raw=True, metadata=meta)


def state(name: str, value, *, digits: int | None = None, sig: int | None = None,
          expect: float | None = None, tol: float | None = None,
          between: tuple[float | None, float | None] | None = None) -> float:
    """Round ``value``, glue it as ``name``, record the claim; return the rounded value.

    Checks (optional, combinable): ``expect`` with ``tol`` (|value − expect| ≤ tol) and
    ``between=(lo, hi)`` (either end may be None). The check uses the rounded value, i.e. the
    number the reader sees.
    """
    _check_name(name)
    if (expect is None) != (tol is None):
        raise ValueError(f"expect and tol go together, got expect={expect}, tol={tol}")
    if tol is not None and not tol >= 0:
        raise ValueError(f"tol must be >= 0, got tol={tol}")
    lo, hi = between if between is not None else (None, None)
    if lo is not None and hi is not None and lo > hi:
        raise ValueError(f"between must be (lo, hi) with lo <= hi, got {between}")
    rounded = round_value(value, digits=digits, sig=sig)
    claim = _record(Claim(name, rounded, expect, tol, lo, hi))
    glue(name, rounded, metadata={"ntklib_claim": _metadata(claim)})
    return rounded


def _record(claim: Claim) -> Claim:
    """Keep ``claim``; a name already stated with another value or check raises (re-running the
    same cell states the same claim again, which is allowed)."""
    previous = _CLAIMS.get(claim.name)
    if previous is not None and previous != claim:
        raise ValueError(f"claim {claim.name!r} was already stated as {previous.value!r} "
                         f"({previous.describe() or 'no check'}); now {claim.value!r} "
                         f"({claim.describe() or 'no check'}): give each claim its own name")
    _CLAIMS[claim.name] = claim
    return claim


def _bound(name: str, value, bound: float, kind: str) -> float:
    _check_name(name)
    bound = float(bound)
    if not (math.isfinite(bound) and bound > 0):
        raise ValueError(f"bound must be a positive finite number, got {bound}")
    if isinstance(value, bool):
        raise TypeError(f"value must be a real number, got {value!r}")
    try:
        measured = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"value must be a real number, got {value!r}") from None
    holds = math.isfinite(measured) and (measured < bound if kind == "upper bound" else measured > bound)
    claim = _record(Claim(name, bound, kind=kind, holds=bool(holds)))
    glue(name, bound, metadata={"ntklib_claim": _metadata(claim)})
    return bound


def below(name: str, value, bound: float) -> float:
    """State that ``value`` is below ``bound``; glue the bound as ``name`` and return it.

    For round-off-level numbers: the measured ``value`` (say 2.3e-07, or 1.6e-06 on a CPU with
    another instruction set) is checked, never shown; the reader sees the bound, which every CPU
    reproduces. ``report()`` fails if the value is not finite or not below the bound.

    >>> from ntklib import claims
    >>> claims.below("demo_gap", 2.3e-07, 1e-05)
    demo_gap = 1e-05
    1e-05
    >>> claims.recorded()[-1].passes
    True
    """
    return _bound(name, value, bound, "upper bound")


def above(name: str, value, bound: float) -> float:
    """State that ``value`` exceeds ``bound`` (a floor for a round-off-level number); as ``below``."""
    return _bound(name, value, bound, "lower bound")


def recorded() -> list[Claim]:
    """Claims stated in this session, in order."""
    return list(_CLAIMS.values())


def reset() -> None:
    """Forget the claims of this session (each chapter starts afresh)."""
    _CLAIMS.clear()


def report() -> None:
    """Print every stated number with its check; raise AssertionError if a check fails."""
    rows = recorded()
    width = max([len(c.name) for c in rows] + [5])
    for c in rows:
        status = ("ok" if c.passes else "FAILED") if c.checked else "-"
        shown = {"upper bound": "< ", "lower bound": "> "}.get(c.kind, "") + f"{c.value:g}"
        print(f"{c.name:<{width}}  {shown:>12}  {c.describe():<24} {status}")
    failed = [c.name for c in rows if c.checked and not c.passes]
    n_checked = sum(c.checked for c in rows)
    print(f"{n_checked - len(failed)} of {n_checked} checked claims hold; {len(rows) - n_checked} reported only.")
    if failed:
        raise AssertionError(f"claims failed: {failed}")
