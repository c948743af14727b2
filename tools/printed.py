"""Compare printed outputs: the words exactly, each number within what its printed digits promise.

A number printed as ``0.011`` promises its value to ±0.001 (one unit in its last printed digit):
the same computation on another CPU, whose instruction set rounds float32 sums differently, may
print ``0.012`` when the unrounded value sits on a rounding boundary. ``agree(stored, fresh)``
accepts exactly that and nothing more:

- the text between the numbers must be the same, character for character, except that a run of
  spaces may change length where a number's width changed (aligned table columns);
- both texts must hold the same count of numbers, and each pair of decimals (a point or an
  exponent) must differ by at most one unit in the last printed digit of the coarser of the two
  (``9.9`` vs ``10.0``: one unit is 0.1; ``2.3e-07`` vs ``1.6e-06``: fails, as it should — such
  round-off is stated as a bound instead);
- integers (counts, sizes, seeds, steps) must be equal.

A number is a decimal literal that is not part of a word (``ch5b`` holds no number, ``1e-5`` is
one number, ``x2`` and ``1.5.2`` none; ``5.9x`` holds 5.9).

>>> agree("err = 0.011 (n = 512)", "err = 0.012 (n = 512)")
True
>>> agree("err = 0.011", "err = 0.013")
False
>>> agree("ratio 5.9x", "ratio 6.0x")
True
>>> agree("3 of 5 seeds", "4 of 5 seeds")
False
>>> agree("ok", "FAILED")
False
>>> agree("map error 2.3e-07", "map error 1.6e-06")
False
"""

from __future__ import annotations

import copy
import re
from decimal import Decimal

__all__ = ["NUMBER", "split", "unit", "agree", "first_disagreement", "reconcile_outputs", "notebook_disagreements"]

# A decimal literal that does not continue a word or a number: 12, -0.5, .5, 1.6e-06, 3E+2; also
# 5.9 in "5.9x" and 0.011 in "is 0.011." (a unit or a full stop may follow); none in "ch5b", "x2",
# "1.5.2".
NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?!\d|\.\d)")
_SPACES = re.compile(r"[ \t]+")


def split(text: str) -> tuple[list[str], list[str]]:
    """``(words, numbers)``: the text between numbers (len(numbers) + 1 pieces) and the numbers."""
    words, numbers, last = [], [], 0
    for m in NUMBER.finditer(text):
        words.append(text[last:m.start()])
        numbers.append(m.group())
        last = m.end()
    words.append(text[last:])
    return words, numbers


def unit(number: str) -> Decimal:
    """One unit in the last printed digit: ``0.011`` → 0.001, ``1.6e-06`` → 1e-07, ``512`` → 1."""
    mantissa, _, exponent = number.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    return Decimal(1).scaleb(-decimals + int(exponent or 0))


def _is_integer(number: str) -> bool:
    return not any(c in number for c in ".eE")


def _same_words(a: str, b: str) -> bool:
    return a == b or _SPACES.sub(" ", a) == _SPACES.sub(" ", b)


def first_disagreement(stored: str, fresh: str) -> str | None:
    """None when ``agree(stored, fresh)``, else a one-line reason naming the first difference."""
    if stored == fresh:
        return None
    words_s, nums_s = split(stored)
    words_f, nums_f = split(fresh)
    if len(nums_s) != len(nums_f):
        return f"{len(nums_s)} numbers stored, {len(nums_f)} printed"
    for i, (a, b) in enumerate(zip(words_s, words_f)):
        if not _same_words(a, b):
            return f"text differs: {a!r} stored, {b!r} printed"
    for a, b in zip(nums_s, nums_f):
        if _is_integer(a) and _is_integer(b):
            if int(a) != int(b):
                return f"integer {b} printed where {a} is stored"
            continue
        tolerance = max(unit(a), unit(b))
        if abs(Decimal(a) - Decimal(b)) > tolerance:
            return f"{b} printed where {a} is stored (more than one unit, {tolerance}, in the last printed digit)"
    return None


def agree(stored: str, fresh: str) -> bool:
    """Same words; each number within one unit in its last printed digit (see the module text)."""
    return first_disagreement(stored, fresh) is None


def _reconcile(fresh: str, stored: str, sanitize) -> str:
    if isinstance(fresh, str) and isinstance(stored, str) and fresh != stored \
            and agree(sanitize(stored), sanitize(fresh)):
        return stored
    return fresh


def reconcile_outputs(fresh_outputs, stored_outputs, sanitize=lambda s: s):
    """Fresh outputs with each string that ``agree``s with its stored counterpart
    replaced by the stored string; outputs are paired in order and only when their counts and
    kinds match (otherwise nbval reports the difference unchanged)."""
    if len(fresh_outputs) != len(stored_outputs):
        return fresh_outputs
    result = []
    for fresh, stored in zip(fresh_outputs, stored_outputs):
        fresh = copy.deepcopy(fresh)
        if fresh.get("output_type") == stored.get("output_type") and fresh.get("name") == stored.get("name"):
            if "text" in fresh and "text" in stored:
                fresh["text"] = _reconcile(fresh["text"], stored["text"], sanitize)
            for key, value in fresh.get("data", {}).items():
                if key in stored.get("data", {}):
                    fresh["data"][key] = _reconcile(value, stored["data"][key], sanitize)
        result.append(fresh)
    return result


# nbval's own choice: images and widget ids are not compared, nor output metadata.
SKIPPED_DATA = ("image/png", "image/jpeg", "image/svg+xml", "application/vnd.jupyter.widget-view+json")


def _coalesce_streams(outputs) -> list:
    """Consecutive stream outputs of one name as one (how a kernel splits printed text between
    messages depends on timing; nbval merges them the same way)."""
    merged = []
    for out in outputs:
        if (out.get("output_type") == "stream" and merged and merged[-1].get("output_type") == "stream"
                and merged[-1].get("name") == out.get("name")):
            merged[-1] = {**merged[-1], "text": merged[-1]["text"] + out["text"]}
        else:
            merged.append(out)
    return merged


def notebook_disagreements(stored_nb, fresh_nb, sanitize=lambda s: s, compared=lambda cell: True) -> list[str]:
    """Every code cell whose fresh outputs do not ``agree`` with the stored ones, one line each.

    The same rule as the nbval run: the kind and count of outputs exactly, every stream text and
    every data string (text/plain, text/html, glued values; not images) within printed precision.
    ``compared(cell)`` False leaves a cell out (nbval's ``# NBVAL_IGNORE_OUTPUT``, say).
    """
    stored_cells = [c for c in stored_nb.cells if c.cell_type == "code"]
    fresh_cells = [c for c in fresh_nb.cells if c.cell_type == "code"]
    if [c.source for c in stored_cells] != [c.source for c in fresh_cells]:
        return ["the code cells differ: not the same notebook"]
    problems = []
    for index, (stored, fresh) in enumerate(zip(stored_cells, fresh_cells)):
        if not compared(stored):
            continue
        s_out, f_out = _coalesce_streams(stored.get("outputs", [])), _coalesce_streams(fresh.get("outputs", []))
        kinds = lambda outs: [(o.get("output_type"), o.get("name")) for o in outs]  # noqa: E731
        if kinds(s_out) != kinds(f_out):
            problems.append(f"code cell {index}: outputs {kinds(f_out)} where {kinds(s_out)} are stored")
            continue
        for s, f in zip(s_out, f_out):
            pairs = [("text", s.get("text"), f.get("text"))] if "text" in s or "text" in f else []
            s_data, f_data = s.get("data", {}), f.get("data", {})
            if {k for k in s_data if k not in SKIPPED_DATA} != {k for k in f_data if k not in SKIPPED_DATA}:
                problems.append(f"code cell {index}: output kinds {sorted(f_data)} where {sorted(s_data)} are stored")
                continue
            pairs += [(k, s_data[k], f_data[k]) for k in s_data if k not in SKIPPED_DATA]
            for key, a, b in pairs:
                if not (isinstance(a, str) and isinstance(b, str)):
                    if a != b:
                        problems.append(f"code cell {index} {key}: differs")
                    continue
                why = first_disagreement(sanitize(a), sanitize(b))
                if why:
                    problems.append(f"code cell {index} {key}: {why}")
    return problems
