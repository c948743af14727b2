"""Code a reader sees fits the column: every code-cell line of every chapter is at most 88 characters.

On the site a longer line scrolls sideways inside its cell (tests/test_site_layout.py checks that it
never widens the page); in Colab it wraps. The failure lists every offending line, as
``notebook, cell N (counted from 0 over all cells), line L: length``, so each can be fixed at once.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "chapters").glob("*.ipynb"))
MAX_LINE = 88


def long_lines(nb, limit: int = MAX_LINE) -> list[tuple[int, int, int, str]]:
    """``(cell index, line number from 1, length, line)`` of every code line longer than ``limit``."""
    if not (isinstance(limit, int) and limit > 0):
        raise ValueError(f"limit must be a positive integer, got {limit!r}")
    found = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for number, line in enumerate(cell.source.splitlines(), 1):
            if len(line) > limit:
                found.append((index, number, len(line), line))
    return found


def test_long_lines_are_found_and_named():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("x" * 200),
                nbformat.v4.new_code_cell("a = 1\n" + "b" * 89 + "\n" + "c" * 88)]
    assert long_lines(nb) == [(1, 2, 89, "b" * 89)]
    with pytest.raises(ValueError, match="limit"):
        long_lines(nb, 0)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_code_lines_fit(path):
    nb = nbformat.read(str(path), as_version=4)
    found = long_lines(nb)
    where = [f"{path.name}, cell {i}, line {n}: {length} characters: {line.strip()[:60]}"
             for i, n, length, line in found]
    if found:
        pytest.fail(f"{len(found)} code lines longer than {MAX_LINE} characters:\n  " + "\n  ".join(where),
                    pytrace=False)
