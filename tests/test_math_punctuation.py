"""_ext/math_punctuation.py: inline math and the punctuation touching it go into one nowrap span,
and the text of the paragraph stays exactly what it was."""

from __future__ import annotations

import sys
from pathlib import Path

from docutils import nodes
from docutils.frontend import get_default_settings
from docutils.parsers.rst import Parser
from docutils.utils import new_document

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "_ext"))
from math_punctuation import KeepPunctuationWithMath  # noqa: E402


def paragraph(*parts) -> tuple[nodes.document, nodes.paragraph]:
    document = new_document("test", get_default_settings(Parser))
    para = nodes.paragraph()
    for part in parts:
        para += nodes.math(part[1:-1], part[1:-1]) if part.startswith("$") else nodes.Text(part)
    document += para
    return document, para


def test_punctuation_joins_its_formula_and_the_text_is_unchanged():
    # The same text (", and ") twice: a node must be found by identity, not by equal text.
    document, para = paragraph("see ", "$x$", ", and ", "$y$", ", and (", "$z$", ").",
                               " ", "$w$", " ends")
    before = para.astext()
    KeepPunctuationWithMath(document).run()
    assert para.astext() == before == "see x, and y, and (z). w ends"
    wrappers = [n for n in para.children if isinstance(n, nodes.inline)]
    assert [w.astext() for w in wrappers] == ["x,", "y,", "(z)."]
    assert all("math-nowrap" in w["classes"] for w in wrappers)
    assert [type(n).__name__ for n in para.children] == [
        "Text", "inline", "Text", "inline", "Text", "inline", "Text", "math", "Text"]


def test_math_without_touching_punctuation_is_left_alone():
    document, para = paragraph("a ", "$x$", " b")
    KeepPunctuationWithMath(document).run()
    assert [type(n).__name__ for n in para.children] == ["Text", "math", "Text"]
