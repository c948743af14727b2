"""Stored vs fresh outputs: words exact, numbers within their printed precision (tools/printed.py).

The comparison is what lets the notebooks' stored outputs pass on a CPU with another instruction
set; these tests pin down that it admits one unit in the last printed digit and nothing more, and
that nbval really uses it (a notebook whose stored output is two units off must still fail).
"""

from __future__ import annotations

import doctest
import subprocess
import sys
from pathlib import Path

import nbformat
import printed
import pytest

reconcile_outputs = printed.reconcile_outputs

ROOT = Path(__file__).resolve().parents[1]


def test_module_examples():
    result = doctest.testmod(printed)
    assert result.attempted >= 5 and result.failed == 0


@pytest.mark.parametrize("stored, fresh", [
    ("0.011", "0.012"),                       # a value on a rounding boundary, another CPU
    ("5.9", "6.0"),
    ("9.9", "10.0"),                          # width changes
    ("|  9.9 | a", "| 10.0 | a"),             # aligned table column
    ("0.0099", "0.010"),                      # significant figures across a decade
    ("1.60e-06 s", "1.61e-06 s"),
    ("-0.0", "0.0"),
    ("ratio 24.1x, 12 seeds", "ratio 24.2x, 12 seeds"),
    ("end 0.5.", "end 0.6."),
])
def test_agree_within_one_unit(stored, fresh):
    assert printed.agree(stored, fresh), printed.first_disagreement(stored, fresh)


@pytest.mark.parametrize("stored, fresh, reason", [
    ("0.011", "0.013", "more than one unit"),
    ("2.3e-07", "1.6e-06", "more than one unit"),    # round-off: state a bound, not a value
    ("3 of 5 seeds", "4 of 5 seeds", "integer"),
    ("width 512", "width 513", "integer"),
    ("ok", "FAILED", "text differs"),
    ("holds", "holds 0.1", "numbers stored"),
    ("err 0.11 ok", "err 0.11 FAILED", "text differs"),
    ("a 0.5", "a  0.5", None),                       # spacing inside words may change (tables) ...
    ("a0.5", "b0.5", "text differs"),                # ... letters may not
    ("ch5b_x 1.0", "ch6b_x 1.0", "text differs"),    # digits inside a name are text
    ("v1.5.2", "v1.5.3", "text differs"),
])
def test_disagreements_are_named(stored, fresh, reason):
    why = printed.first_disagreement(stored, fresh)
    if reason is None:
        assert why is None
    else:
        assert why is not None and reason in why, why


def test_unit_of_last_digit():
    assert str(printed.unit("0.011")) == "0.001"
    assert printed.unit("1.6e-06") == printed.unit("1e-07") * 1
    assert printed.unit("512") == 1
    assert printed.unit("3E+2") == 100


def _out(text, kind="stream", **data):
    if kind == "stream":
        return nbformat.from_dict({"output_type": "stream", "name": "stdout", "text": text})
    return nbformat.from_dict({"output_type": kind, "data": {"text/plain": text, **data},
                               "metadata": {}, **({"execution_count": 1} if kind == "execute_result" else {})})


def test_reconcile_replaces_only_agreeing_strings():
    stored = [_out("err 0.011\n"), _out("0.50", "execute_result", **{"text/html": "<td>0.50</td>"})]
    fresh = [_out("err 0.012\n"), _out("0.51", "execute_result", **{"text/html": "<td>0.53</td>"})]
    got = reconcile_outputs(fresh, stored)
    assert got[0]["text"] == "err 0.011\n"
    assert got[1]["data"]["text/plain"] == "0.50"
    assert got[1]["data"]["text/html"] == "<td>0.53</td>"  # two units off: left for nbval to report
    assert fresh[0]["text"] == "err 0.012\n"                 # the fresh outputs are not modified


def test_reconcile_leaves_mismatched_outputs_alone():
    stored = [_out("a 1.0\n")]
    fresh = [_out("a 1.1\n"), _out("extra\n")]
    assert reconcile_outputs(fresh, stored) == fresh
    assert reconcile_outputs([_out("1.0", "execute_result")], [_out("1.0\n")])[0]["output_type"] == "execute_result"


def _notebook(path: Path, code: str, stored: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}}
    cell = nbformat.v4.new_code_cell(code, execution_count=1)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=stored)]
    nb.cells = [cell]
    nbformat.write(nb, str(path))


def test_nbval_uses_the_comparison():
    """End to end: nbval (through the root conftest.py) passes one unit off and fails two units off."""
    folder = ROOT / "_build" / "nbval-selftest"
    folder.mkdir(parents=True, exist_ok=True)
    code = 'print(f"error {0.01151:.3f} after {12} steps")'   # prints "error 0.012 after 12 steps"
    _notebook(folder / "one_unit.ipynb", code, "error 0.011 after 12 steps\n")
    _notebook(folder / "two_units.ipynb", code, "error 0.010 after 12 steps\n")
    _notebook(folder / "other_count.ipynb", code, "error 0.012 after 13 steps\n")
    result = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--nbval", "-q",
                             "-o", "addopts=", "-rA", str(folder)], capture_output=True, text=True, cwd=ROOT,
                            timeout=300)
    outcome = {name: ("PASSED" if f"PASSED {Path(folder.relative_to(ROOT), name)}" in result.stdout else "FAILED")
               for name in ("one_unit.ipynb", "two_units.ipynb", "other_count.ipynb")}
    assert outcome == {"one_unit.ipynb": "PASSED", "two_units.ipynb": "FAILED", "other_count.ipynb": "FAILED"}, \
        result.stdout[-4000:]


def test_notebook_disagreements_name_the_cell():
    def nb(text, extra=()):
        book = nbformat.v4.new_notebook()
        cell = nbformat.v4.new_code_cell("print(x)", execution_count=1)
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text), *extra]
        book.cells = [nbformat.v4.new_markdown_cell("# title"), cell]
        return book
    stored = nb("rate 0.25 at 12 steps\n")
    assert printed.notebook_disagreements(stored, nb("rate 0.26 at 12 steps\n")) == []
    assert "code cell 0" in printed.notebook_disagreements(stored, nb("rate 0.27 at 12 steps\n"))[0]
    figure = nbformat.v4.new_output("display_data", data={"image/png": "iVBOR", "text/plain": "<Figure>"})
    assert "outputs" in printed.notebook_disagreements(stored, nb("rate 0.25 at 12 steps\n", [figure]))[0]
    split = nb("rate 0.25 ")
    split.cells[1].outputs.append(nbformat.v4.new_output("stream", name="stdout", text="at 12 steps\n"))
    assert printed.notebook_disagreements(stored, split) == []  # a stream split in two by timing
    other = nb("rate 0.25 at 12 steps\n")
    other.cells[1].source = "print(y)"
    assert printed.notebook_disagreements(stored, other) == ["the code cells differ: not the same notebook"]
