"""The PDF of the whole book (``make pdf``; ``make book`` builds it and links it from the website).

Marker ``site``: runs after the build (``make test``). Read with poppler's ``pdftotext`` and
``pdfimages`` (Debian's poppler-utils, installed with LaTeX by ``make latex``). Checks:
- the PDF exists in the website's folder (where the home page links it) and is the build's;
- every chapter's title is in it, in the table of contents and as a chapter heading, numbered as
  on the website (the introduction is Chapter 0, the lectures 1-6);
- every figure stored in a chapter is embedded on that chapter's pages;
- every ``{glue:text}`` number of a chapter's prose appears in that chapter's text, formatted as
  the role asks, in the notebook's order (within one unit in the last printed digit: the build
  executes the notebooks afresh, ``tools/printed.py``);
- the LaTeX preamble defines the same macros as the website's MathJax configuration.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import printed  # tools/printed.py (on sys.path through the root conftest.py)
import pytest
import yaml
from test_site import CHAPTERS, glue_references, stored_images, stored_values

pytestmark = pytest.mark.site

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
NAME = Path(CONFIG["latex"]["latex_documents"]["targetname"]).with_suffix(".pdf").name
BUILT = ROOT / "_build" / "latex" / NAME
LINKED = ROOT / "_build" / "html" / NAME


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not found: install poppler-utils (make latex)", pytrace=False)
    return path


@pytest.fixture(scope="module")
def pages() -> list[str]:
    """The PDF's text, one string per page (pdftotext separates pages by form feeds)."""
    if not LINKED.exists():
        pytest.fail(f"{LINKED.relative_to(ROOT)} is missing: run `make book` (it builds the PDF "
                    "with `make pdf`, which needs XeLaTeX: `make latex`)", pytrace=False)
    assert BUILT.exists() and BUILT.read_bytes() == LINKED.read_bytes(), \
        "the website's PDF is not the one the LaTeX build made"
    text = subprocess.run([_tool("pdftotext"), "-layout", str(LINKED), "-"], check=True,
                          capture_output=True, text=True).stdout
    return text.split("\f")


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def _title(nb) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    raise AssertionError("no '# ' title")


@pytest.fixture(scope="module")
def chapter_pages(pages) -> dict[str, range]:
    """Pages of each chapter: from its heading page to the next chapter's. A heading page starts
    with "CHAPTER ZERO", "CHAPTER ONE" … (fncychap's style spells the number) and the title."""
    starts = {}
    for number, path in enumerate(CHAPTERS):
        title = _norm(_title(nbformat.read(str(path), as_version=4)))
        heading = f"chapter {NUMBER_WORDS[number]} {title}"
        head = [i for i, page in enumerate(pages) if _norm(page).startswith(heading)]
        assert len(head) == 1, f"{path.stem}: {len(head)} pages start with {heading!r}"
        starts[path.stem] = head[0]
    order = sorted(starts.values())
    assert order == [starts[p.stem] for p in CHAPTERS], "chapters out of order in the PDF"
    ends = order[1:] + [len(pages)]
    return {stem: range(start, ends[order.index(start)]) for stem, start in starts.items()}


def test_every_chapter_title_in_contents_and_as_heading(pages, chapter_pages):
    whole = _norm(" ".join(pages))
    for path in CHAPTERS:
        title = _norm(_title(nbformat.read(str(path), as_version=4)))
        assert whole.count(title) >= 2, f"{path.stem}: title {title!r} not in contents and heading"


def test_every_stored_figure_is_on_its_chapters_pages(chapter_pages):
    listing = subprocess.run([_tool("pdfimages"), "-list", str(LINKED)], check=True,
                             capture_output=True, text=True).stdout.splitlines()[2:]
    image_pages = [int(row.split()[0]) - 1 for row in listing if row.split()[2] == "image"]
    for path in CHAPTERS:
        expected = stored_images(nbformat.read(str(path), as_version=4))
        found = sum(1 for p in image_pages if p in chapter_pages[path.stem])
        assert found >= expected, f"{path.stem}: {expected} figures stored, {found} in the PDF"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_glued_numbers_in_the_chapter_text(pages, chapter_pages, path):
    nb = nbformat.read(str(path), as_version=4)
    refs = glue_references(nb)
    if not refs:
        pytest.skip(f"{path.stem} glues no number into its prose")
    values = stored_values(nb)
    text = " ".join(pages[i] for i in chapter_pages[path.stem]).replace("−", "-")
    tokens = printed.split(text)[1]  # its numbers: "width-256" holds 256, "3%" holds 3
    position, missing = 0, []
    for name, spec in refs:
        want = format(values[name], spec) if spec else str(values[name])
        numbers = printed.split(want)[1]
        k = len(numbers)
        hit = next((i for i in range(position, len(tokens) - k + 1)
                    if all(printed.agree(a, b) for a, b in zip(numbers, tokens[i:i + k]))), None)
        if hit is None:
            missing.append(f"{name}:{spec} -> {want!r}")
        else:
            position = hit + k
    assert not missing, f"{path.stem}: glued numbers not found in the PDF, in order: {missing}"


def test_latex_macros_match_mathjax():
    config = CONFIG["sphinx"]["config"]
    mathjax = {name: body for name, body in config["mathjax3_config"]["tex"]["macros"].items()}
    latex = dict(re.findall(r"\\(?:newcommand|providecommand)\{\\(\w+)\}\{(.*)\}\s*$",
                            config["latex_elements"]["preamble"], flags=re.M))
    assert latex == mathjax, f"LaTeX preamble macros {latex} differ from MathJax's {mathjax}"
