"""The book build's own execution, at this CPU's full instruction set, against the stored outputs.

``make test`` executes every notebook twice: the book build (myst-nb, execution cache
``_build/.jupyter_cache``) at the machine's own instruction set, and the nbval run at a restricted
one (``XLA_FLAGS=--xla_cpu_max_isa=...``, the stand-in for another CPU). nbval compares the
second with the stored outputs; this test compares the first, cell by cell, by the same rule
(``tools/printed.py``: words exact, numbers within one unit in their last printed digit), and
leaves out the cells nbval leaves out (``# NBVAL_IGNORE_OUTPUT``: chapter 2's timing table).
Marker ``site``: it needs the built book.
"""

from __future__ import annotations

import configparser
import re
from pathlib import Path

import nbformat
import printed
import pytest

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "_build" / ".jupyter_cache"
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))

pytestmark = [
    pytest.mark.site,
    pytest.mark.skipif(not CACHE.is_dir(), reason=f"{CACHE} does not exist: run `make book` first"),
]


def sanitizer():
    """The regexes of tests/nbval_sanitize.cfg, as nbval applies them."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / "tests" / "nbval_sanitize.cfg")
    rules = [(re.compile(parser[s]["regex"]), parser[s]["replace"]) for s in parser.sections()]

    def sanitize(text: str) -> str:
        for regex, replace in rules:
            text = regex.sub(replace, text)
        return text
    return sanitize


def compared_by_nbval(cell) -> bool:
    """False for a cell whose outputs nbval does not compare (its comment markers and tags, read
    with nbval's own functions): ``# NBVAL_IGNORE_OUTPUT``, ``# NBVAL_SKIP`` and their tags."""
    from nbval.plugin import find_comment_markers, find_metadata_tags

    options = dict(find_comment_markers(cell.source))
    options.update(find_metadata_tags(cell.get("metadata", {})))
    return options.get("check", True) and not options.get("skip", False)


def test_ignored_cells_are_those_nbval_ignores():
    ignored = nbformat.v4.new_code_cell("# NBVAL_IGNORE_OUTPUT\nprint(timings)")
    skipped = nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["nbval-skip"]})
    checked = nbformat.v4.new_code_cell("print(1)  # NBVAL_IGNORE_OUTPUT only counts as a whole comment line")
    assert [compared_by_nbval(c) for c in (ignored, skipped, checked)] == [False, False, True]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_book_execution_matches_stored_outputs(path):
    from jupyter_cache import get_cache

    stored = nbformat.read(str(path), as_version=4)
    cache = get_cache(str(CACHE))
    try:
        record = cache.match_cache_notebook(stored)
    except KeyError:
        pytest.fail(f"{path.stem}: the book build cached no execution of this notebook's code "
                    "(it changed after the build: run `make book`)", pytrace=False)
    fresh = cache.get_cache_bundle(record.pk).nb
    problems = printed.notebook_disagreements(stored, fresh, sanitizer(), compared_by_nbval)
    assert not problems, f"{path.stem}: the book's execution differs from the stored outputs:\n" + "\n".join(problems)
