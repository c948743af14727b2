"""Stated numbers: computed, rounded, glued into the prose and checked.

``state(name, value, digits=2, expect=-0.5, tol=0.15)`` rounds ``value``, glues it under
``name`` for ``{glue:text}`name:.2f``` in the book (myst-nb), records the claim with its
check in the output's metadata (read back by ``tests/test_claims.py`` from the stored
notebooks) and returns the rounded number. ``report()`` at the end of a chapter shows every
claim of the session as one table grouped by its check's outcome (``ClaimsReport``) and raises
if any fails, so a fresh run that breaks a claim fails nbval.
Outside Jupyter Book (Colab, a script) the glue falls back to printing ``name = value``.

``below(name, value, 1e-5)`` states an upper bound instead of a value: for agreement at round-off
level (two exact methods that agree to 1e-7), whose digits change with the CPU's instruction set,
the prose quotes the bound ("below 1e-05"), the claim records whether the measured value is below
it, and nothing printed depends on the round-off.

A failed check never stops a notebook: ``state`` records it and ``report()`` raises at the end,
listing every failure. With ``NTKLIB_CLAIMS_LOG=<path>`` set, every stated claim is also appended
to ``<path>`` as one JSON line (name, the number shown, the measured value, the check, whether it
passed), so a script that re-executes a chapter (``make seeds``) can list all of its failed
claims, with their values, even when several fail.
"""

from __future__ import annotations

import json
import math
import numbers
import os
from dataclasses import asdict, dataclass

__all__ = [
    "GLUE_PREFIX", "Claim", "round_value", "glue", "state", "below", "above", "recorded",
    "reset", "report", "ClaimsReport", "LOG_ENV", "log_record",
]

GLUE_PREFIX = "application/papermill.record/"  # myst-nb's glue mime prefix (display=False)
LOG_ENV = "NTKLIB_CLAIMS_LOG"


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
    _log(claim, rounded)
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


def log_record(claim: Claim, measured: float) -> dict:
    """The JSON line logged for ``claim`` under ``$NTKLIB_CLAIMS_LOG``: its name, the number the
    reader sees (``shown``: ``"< 1e-05"`` for a bound), the ``measured`` value (the rounded value
    for a plain claim, the unrounded one for a bound), the check as ``report()`` shows it,
    ``checked`` and ``passed`` (None when nothing is checked) and the claim's fields.

    >>> log_record(Claim("slope", -0.51, expect=-0.5, tol=0.1), -0.51)["passed"]
    True
    """
    measured = float(measured)
    return {"name": claim.name, "shown": _shown(claim),
            "measured": measured if math.isfinite(measured) else repr(measured),
            "check": _check(claim), "checked": claim.checked,
            "passed": bool(claim.passes) if claim.checked else None,
            "claim": {k: _plain(x) for k, x in asdict(claim).items()}}


def _plain(x):
    """A JSON value for a claim field (numpy scalars, e.g. a check's bounds, become Python's)."""
    if hasattr(x, "item") and not isinstance(x, (bool, int, float, str)):
        x = x.item()
    return repr(x) if isinstance(x, float) and not math.isfinite(x) else x


def _log(claim: Claim, measured: float) -> None:
    """Append ``claim``'s :func:`log_record` to ``$NTKLIB_CLAIMS_LOG`` (nothing when unset)."""
    path = os.environ.get(LOG_ENV)
    if not path:
        return
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(log_record(claim, measured)) + "\n")


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
    _log(claim, measured)
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


_STATUS = {"failed": "FAILED", "holds": "ok", "reported": "-"}
_GROUP_TITLE = {"failed": "checks that fail", "holds": "checks that hold",
                "reported": "reported without a check"}


def _status(claim: Claim) -> str:
    if not claim.checked:
        return "reported"
    return "holds" if claim.passes else "failed"


def _check(claim: Claim) -> str:
    """The check as the table shows it: ``-0.5 ± 0.1``, ``in [0, 2]``, ``measured < 1e-05``."""
    if not claim.checked:
        return "-"
    if claim.kind != "value":
        return "measured " + ("<" if claim.kind == "upper bound" else ">") + f" {claim.value:g}"
    return claim.describe()


def _shown(claim: Claim) -> str:
    """The number as the reader sees it: ``< 1e-05`` for an upper bound, ``-0.51`` for a value."""
    return {"upper bound": "< ", "lower bound": "> "}.get(claim.kind, "") + f"{claim.value:g}"


class ClaimsReport:
    """The claims of a session as one table, grouped: failing checks, holding checks, then the
    numbers reported without a check; each group in the order the claims were stated.

    ``str()`` is the plain-text table (what a script or Colab's text view shows); in Jupyter the
    table is shown as HTML (``_repr_html_``). Both print each number exactly as ``{value:g}``, so a
    re-execution on another CPU changes at most its last digit (tools/printed.py).

    >>> from ntklib.claims import Claim, ClaimsReport
    >>> print(ClaimsReport([Claim("slope", -0.51, expect=-0.5, tol=0.1), Claim("n", 512.0)]))
    claim  number  check       holds
    -- checks that hold (1)
    slope   -0.51  -0.5 ± 0.1  ok
    -- reported without a check (1)
    n         512  -           -
    1 of 1 checked claims hold; 1 reported only.
    """

    def __init__(self, claims: list[Claim]):
        self.claims = list(claims)
        self.groups = {key: [c for c in self.claims if _status(c) == key] for key in _STATUS}
        self.failed = [c.name for c in self.groups["failed"]]
        self.n_checked = len(self.groups["failed"]) + len(self.groups["holds"])

    @property
    def summary(self) -> str:
        """``"40 of 41 checked claims hold; 12 reported only."``"""
        return (f"{self.n_checked - len(self.failed)} of {self.n_checked} checked claims hold; "
                f"{len(self.groups['reported'])} reported only.")

    def _rows(self):
        for key, rows in self.groups.items():
            if rows:
                yield key, rows

    def __str__(self) -> str:
        cells = [(c.name, _shown(c), _check(c), _STATUS[_status(c)]) for c in self.claims]
        w_name = max([len(r[0]) for r in cells] + [len("claim")])
        w_num = max([len(r[1]) for r in cells] + [len("number")])
        w_check = max([len(r[2]) for r in cells] + [len("check")])
        line = lambda a, b, c, d: f"{a:<{w_name}}  {b:>{w_num}}  {c:<{w_check}}  {d}"  # noqa: E731
        out = [line("claim", "number", "check", "holds")]
        for key, rows in self._rows():
            out.append(f"-- {_GROUP_TITLE[key]} ({len(rows)})")
            out += [line(c.name, _shown(c), _check(c), _STATUS[key]) for c in rows]
        out.append(self.summary)
        return "\n".join(out)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        from html import escape

        body = []
        for key, rows in self._rows():
            body.append(f'<tr class="claims-group claims-{key}"><th colspan="4">'
                        f"{escape(_GROUP_TITLE[key])} ({len(rows)})</th></tr>")
            for c in rows:
                check = escape(_check(c)) if c.checked else "&ndash;"
                mark = {"failed": "<strong>FAILED</strong>", "holds": "ok",
                        "reported": "&ndash;"}[key]
                body.append(f'<tr class="claims-{key}"><td><code>{escape(c.name)}</code></td>'
                            f"<td>{escape(_shown(c))}</td><td>{check}</td><td>{mark}</td></tr>")
        return ('<table class="claims-report">'
                f"<caption>{escape(self.summary)}</caption>"
                "<thead><tr><th>claim</th><th>number in the text</th><th>check</th>"
                "<th>holds</th></tr></thead>"
                f"<tbody>{''.join(body)}</tbody></table>")


def report() -> None:
    """Show every stated number with its check as one table, then print the summary line
    ``"N of M checked claims hold; K reported only."``; raise AssertionError naming the failed
    claims if any check fails (after showing the table, so the reader sees which).

    In IPython/Jupyter the table is displayed (HTML, with the plain-text table as fallback);
    elsewhere the plain-text table is printed."""
    table = ClaimsReport(recorded())
    if _ipython() is not None:
        from IPython.display import display

        display(table)
    else:
        print("\n".join(str(table).splitlines()[:-1]))
    print(table.summary)
    if table.failed:
        raise AssertionError(f"claims failed: {table.failed}")
