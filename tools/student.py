"""Student editions of the chapters: every solution removed, each exercise followed by a stub.

    python tools/student.py                  # write _build/student/<chapter>.ipynb and the zip
    python tools/student.py --out DIR        # the same into DIR
    python tools/student.py --execute        # also run every edition in a fresh kernel and write
                                             # student_editions.json (make student)
    python tools/student.py --execute --only-stale   # only the chapters whose record is stale

An exercise is a ``:::{exercise}`` block; its solution is gated: a markdown cell opening
``:::{solution-start} <label>`` (options, then the closing fence, no body), the solution's text
and cells, and ``:::{solution-end}`` / ``:::`` (sphinx-exercise). The student edition of a
chapter keeps every other cell, with its stored outputs, and removes

- every line and cell from a ``solution-start`` through its ``solution-end``, both included
  (a markdown cell that holds narrative or an exercise before the ``solution-start`` keeps that
  part; text after a ``solution-end`` in the same cell is kept as its own cell);
- every later code cell that reads a name only removed cells bind (such a cell computes the
  solution's numbers; it would fail with a ``NameError`` in the edition). A kept cell that would
  read, from a removed cell, a name an earlier kept cell also binds would compute something else
  than in the instructor notebook: that is an error naming the cell;

and puts, right after each exercise, a code cell ``# Exercise <label>: your code here`` followed
by the exercise's text as comments (glued numbers filled in from the stored outputs). The table
of ``claims.report()`` is rebuilt from the claims the kept cells state, so that no number of a
removed solution shows in it. The instructor notebooks are only read.

``--execute`` copies each edition to ``_build/student-run`` and executes it top to bottom in a
fresh kernel (nbclient), then writes ``student_editions.json``: per chapter the sha256 of the
edition's code cells' source, whether it executed without error, how long it took, and whether
it stated the claims its stored report shows. It exits 1 if any edition fails.
"""

from __future__ import annotations

import argparse
import ast
import copy
import datetime
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import textwrap
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = ROOT / "_build" / "student"
RUN_DIR = ROOT / "_build" / "student-run"
REPORT = ROOT / "student_editions.json"
ZIP_NAME = "student-notebooks.zip"
ZIP_FOLDER = "student-notebooks"
GLUE_MIME = "application/papermill.record/text/plain"
CLAIMS_TABLE = '<table class="claims-report">'
STUB_FIRST_LINE = "# Exercise {label}: your code here"
STUB_WIDTH = 88

_FENCE_OPEN = re.compile(r"^(:{3,})\{([\w:-]+)\}\s*(.*?)\s*$")
_OPTION = re.compile(r"^:([\w-]+):\s*(.*?)\s*$")


class StudentEditionError(ValueError):
    """A chapter whose exercises and solutions cannot be turned into a student edition."""


def chapters() -> list[Path]:
    """The instructor notebooks, in book order (their file names sort that way)."""
    return sorted((ROOT / "chapters").glob("*.ipynb"))


# --------------------------------------------------------------------------- names a cell uses


class _Names(ast.NodeVisitor):
    """Top-level names a cell binds and names it reads before binding them (see cell_names)."""

    def __init__(self, cell_bound: set[str]):
        self.bound: set[str] = set()  # module level, so far
        self.free: set[str] = set()
        self.cell_bound = cell_bound  # everything the cell binds at top level (for function bodies)
        self.scopes: list[set[str]] = []  # enclosing function / comprehension / class scopes

    def _load(self, name: str) -> None:
        if any(name in scope for scope in self.scopes):
            return
        if name in self.bound or (self.scopes and name in self.cell_bound):
            return
        self.free.add(name)

    def _store(self, name: str) -> None:
        (self.scopes[-1] if self.scopes else self.bound).add(name)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self._load(node.id)
        else:
            self._store(node.id)

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        for target in node.targets:
            self.visit(target)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)
        self.visit(node.annotation)
        self.visit(node.target)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.visit(node.value)
        if isinstance(node.target, ast.Name):
            self._load(node.target.id)
            self._store(node.target.id)
        else:
            self.visit(node.target)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        self._store(node.target.id)

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        self.visit(node.iter)
        self.visit(node.target)
        for stmt in node.body + node.orelse:
            self.visit(stmt)

    visit_AsyncFor = visit_For

    def visit_withitem(self, node: ast.withitem) -> None:
        self.visit(node.context_expr)
        if node.optional_vars is not None:
            self.visit(node.optional_vars)

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name != "*":
                self._store(alias.asname or alias.name.split(".")[0])

    visit_ImportFrom = visit_Import

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.type is not None:
            self.visit(node.type)
        if node.name:
            self._store(node.name)
        for stmt in node.body:
            self.visit(stmt)

    def visit_MatchAs(self, node) -> None:
        if node.pattern is not None:
            self.visit(node.pattern)
        if node.name:
            self._store(node.name)

    def visit_MatchStar(self, node) -> None:
        if node.name:
            self._store(node.name)

    def _function(self, node, body: list) -> None:
        args = node.args
        for default in args.defaults + [d for d in args.kw_defaults if d is not None]:
            self.visit(default)
        local = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
        local |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
        declared = set()
        for stmt in body:
            for sub in ast.walk(stmt):
                if isinstance(sub, (ast.Global, ast.Nonlocal)):
                    declared |= set(sub.names)
                elif isinstance(sub, ast.Name) and not isinstance(sub.ctx, ast.Load):
                    local.add(sub.id)
                elif isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    local.add(sub.name)
                elif isinstance(sub, ast.alias):
                    local.add(sub.asname or sub.name.split(".")[0])
        self.scopes.append(local - declared)
        for stmt in body:
            self.visit(stmt)
        self.scopes.pop()

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for decorator in node.decorator_list:
            self.visit(decorator)
        self._store(node.name)
        self._function(node, node.body)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._function(node, [ast.Expr(node.body)])

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for expr in node.decorator_list + node.bases + [k.value for k in node.keywords]:
            self.visit(expr)
        self._store(node.name)
        self.scopes.append(set())
        for stmt in node.body:
            self.visit(stmt)
        self.scopes.pop()

    def _comprehension(self, node, results: list) -> None:
        generators = node.generators
        self.visit(generators[0].iter)  # evaluated in the enclosing scope
        self.scopes.append(set())
        for i, gen in enumerate(generators):
            if i:
                self.visit(gen.iter)
            self.visit(gen.target)
            for cond in gen.ifs:
                self.visit(cond)
        for expr in results:
            self.visit(expr)
        self.scopes.pop()

    def visit_ListComp(self, node) -> None:
        self._comprehension(node, [node.elt])

    visit_SetComp = visit_GeneratorExp = visit_ListComp

    def visit_DictComp(self, node: ast.DictComp) -> None:
        self._comprehension(node, [node.key, node.value])


_CELL_MAGIC = re.compile(r"\A%%(time|timeit|capture)\b[^\n]*(?:\n|\Z)")
_LINE_MAGIC = re.compile(r"^(\s*)%(?:time|timeit)\s+(?:-\S+\s+)*", re.M)


def _python(source: str) -> str:
    """A cell's source as Python: the code that timing and capturing magics run is kept as code
    (``%%capture out`` binds ``out``); other magics and shell escapes become calls (IPython)."""
    from IPython.core.inputtransformer2 import TransformerManager

    m = _CELL_MAGIC.match(source)
    if m:
        words = m.group(0).split()
        target = [w for w in words[1:] if not w.startswith("-")] if m.group(1) == "capture" else []
        source = (f"{target[0]} = None\n" if target else "") + source[m.end():]
    return TransformerManager().transform_cell(_LINE_MAGIC.sub(r"\1", source))


def cell_names(source: str) -> tuple[set[str], set[str]]:
    """``(bound, free)`` for a code cell: the names it binds at top level (assignments, imports,
    definitions, loop and ``with`` targets), and the names it reads that it has not bound before
    reading them, i.e. that must come from an earlier cell (or be builtins).

    >>> bound, free = cell_names("y = x + 1\\nz = [y * k for k in range(3)]\\n%time f(z)")
    >>> sorted(bound), sorted(free - {"get_ipython"})
    (['y', 'z'], ['f', 'range', 'x'])
    """
    try:
        tree = ast.parse(_python(source))
    except SyntaxError as exc:
        raise StudentEditionError(f"cannot parse code cell {source[:60]!r}: {exc}") from None
    everything = _Names(set())
    everything.visit(tree)
    names = _Names(everything.bound)
    names.visit(tree)
    return names.bound, names.free


# --------------------------------------------------------------------------- the edition


@dataclass
class Exercise:
    label: str
    text: str  # the body, after the options
    solution: bool = False  # a gated solution follows


@dataclass
class Edition:
    """The student edition of one chapter and what was taken out of the instructor notebook."""

    chapter: str
    notebook: nbformat.NotebookNode
    exercises: list[Exercise]
    removed_cells: list[int] = field(default_factory=list)  # instructor indices, whole cells
    dependent_cells: list[int] = field(default_factory=list)  # of those: code after a solution
    solution_text: list[tuple[str, str]] = field(default_factory=list)  # (label, markdown)
    removed_claims: list[str] = field(default_factory=list)


def _block(lines: list[str], i: int, fence: str, where: str) -> tuple[dict, list[str], int]:
    """The directive opened at ``lines[i]`` by ``fence``: (options, body lines, index of the
    closing fence)."""
    options, body = {}, []
    j = i + 1
    while j < len(lines) and (m := _OPTION.match(lines[j])):
        options[m.group(1)] = m.group(2)
        j += 1
    while j < len(lines) and lines[j].strip() != fence:
        body.append(lines[j])
        j += 1
    if j == len(lines):
        raise StudentEditionError(f"{where}: {lines[i]!r} is never closed by {fence!r}")
    return options, body, j


def _stub_id(label: str, taken: set[str]) -> str:
    base = "stub-" + re.sub(r"[^A-Za-z0-9_-]", "-", label)[:50]
    new, k = base, 1
    while new in taken:
        k += 1
        new = f"{base}-{k}"
    taken.add(new)
    return new


def glued_values(nb) -> dict[str, str]:
    """Every glued ``text/plain`` value in the notebook's stored outputs, by glue name."""
    values = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            name = out.get("metadata", {}).get("scrapbook", {}).get("name")
            if name and GLUE_MIME in out.get("data", {}):
                values[name] = out["data"][GLUE_MIME]
    return values


def _titles(nb) -> dict[str, str]:
    """Section titles by their MyST target label (``(label)=`` above a heading)."""
    titles = {}
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for m in re.finditer(r"^\(([\w:-]+)\)=\s*\n#+\s+(.+?)\s*$", cell.source, re.M):
                titles[m.group(1)] = m.group(2)
    return titles


def plain_text(text: str, glued: dict[str, str], titles: dict[str, str], where: str) -> str:
    """MyST roles in ``text`` written out for a code comment: ``{glue:text}`name:fmt``` as the
    stored value formatted like the book does, ``{ref}`words <label>``` (and doc, numref,
    prf:ref, ...) as its words, ``{ref}`label``` as the section's title in quotes (the label
    itself when it is no section of this chapter), ``{eq}`label``` as ``(label)``."""
    from myst_nb.core.variables import format_plain_text

    def role(m: re.Match) -> str:
        kind, content = m.group(1), m.group(2)
        if kind.startswith("glue"):
            key, _, spec = content.partition(":")
            if key not in glued:
                raise StudentEditionError(f"{where}: {m.group(0)} names no glued value")
            return format_plain_text(glued[key], spec or "s")
        if kind == "eq":
            return f"({content})"
        words = re.fullmatch(r"(.*?)\s*<([^<>]+)>", content, re.S)
        if words:
            return words.group(1)
        return f'"{titles[content]}"' if content in titles else content

    return re.sub(r"\{([\w:-]+)\}`([^`]*)`", role, text)


def stub_source(exercise: Exercise, glued: dict[str, str], titles: dict[str, str],
                where: str) -> str:
    """The code cell a student edition puts after ``exercise``: comments only."""
    text = plain_text(exercise.text, glued, titles, f"{where}, exercise {exercise.label}")
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    lines = [STUB_FIRST_LINE.format(label=exercise.label), "#"]
    for k, paragraph in enumerate(paragraphs):
        if k:
            lines.append("#")
        lines += textwrap.wrap(paragraph, STUB_WIDTH - 2, initial_indent="# ",
                               subsequent_indent="# ", break_on_hyphens=False)
    return "\n".join(lines)


def _split(nb, where: str):
    """Walk the instructor notebook in order. Yields ``("keep", index, cell_or_text, piece)`` for
    a kept code cell or a kept part of a markdown cell (``piece``: its number within the cell),
    ``("stub", exercise)`` right after each exercise, ``("text", label, text)`` for the markdown
    a solution removes from a cell, and ``("removed", index, label)`` for each cell that is
    removed whole."""
    inside = None  # label of the open solution
    last_exercise = None
    count = 0
    for index, cell in enumerate(nb.cells):
        here = f"{where}, cell {index} ({cell.get('id')})"
        if cell.cell_type != "markdown":
            yield ("removed", index, inside) if inside is not None else ("keep", index, cell, 0)
            continue
        lines = cell.source.split("\n")
        kept, removed = [], []
        pieces, touched = 0, inside is not None
        events = []

        def flush() -> None:
            nonlocal kept, pieces
            text = "\n".join(kept).strip("\n")
            if text.strip():
                events.append(("keep", index, text, pieces))
                pieces += 1
            kept = []

        i = 0
        while i < len(lines):
            m = _FENCE_OPEN.match(lines[i])
            name = m.group(2) if m else None
            if name == "solution-start":
                if inside is not None:
                    raise StudentEditionError(f"{here}: solution-start inside solution {inside!r}")
                _, body, j = _block(lines, i, m.group(1), here)
                if any(line.strip() for line in body):
                    raise StudentEditionError(f"{here}: a gated solution-start has a body: {body}")
                label = m.group(3)
                if last_exercise is None or label != last_exercise.label:
                    raise StudentEditionError(
                        f"{here}: solution-start {label!r} does not follow its exercise "
                        f"(last exercise: {last_exercise.label if last_exercise else None!r})")
                last_exercise.solution = True
                flush()
                inside, touched, i = label, True, j + 1
            elif name == "solution-end":
                if inside is None:
                    raise StudentEditionError(f"{here}: solution-end without a solution-start")
                _, body, j = _block(lines, i, m.group(1), here)
                if any(line.strip() for line in body):
                    raise StudentEditionError(f"{here}: solution-end has a body: {body}")
                if any(line.strip() for line in removed):
                    events.append(("text", inside, "\n".join(removed)))
                inside, removed, i = None, [], j + 1
            elif inside is not None:
                if name == "exercise":
                    raise StudentEditionError(f"{here}: exercise inside solution {inside!r}")
                removed.append(lines[i])
                i += 1
            elif name == "exercise":
                options, body, j = _block(lines, i, m.group(1), here)
                count += 1
                last_exercise = Exercise(options.get("label") or f"exercise-{count}",
                                         "\n".join(body))
                kept += lines[i:j + 1]
                flush()
                events.append(("stub", last_exercise))
                i = j + 1
            else:
                kept.append(lines[i])
                i += 1
        if inside is not None and any(line.strip() for line in removed):
            events.append(("text", inside, "\n".join(removed)))
        flush()
        yield from events
        if touched and not any(e[0] in ("keep", "stub") for e in events):
            yield ("removed", index, inside)
    if inside is not None:
        raise StudentEditionError(f"{where}: solution {inside!r} has no solution-end")


def _markdown_cell(original, text: str, piece: int, taken: set[str]):
    if piece == 0 and text == original.source:
        return copy.deepcopy(original)
    cell = copy.deepcopy(original)
    cell.source = text
    if piece:
        new = f"{original.get('id', 'cell')}-{piece}"
        while new in taken:
            new += "x"
        cell.id = new
        taken.add(new)
    return cell


def _claims_of(cells) -> dict[str, dict]:
    """Claims stated by the stored outputs of ``cells`` (last statement of a name wins, first
    position kept: like ntklib.claims' session record)."""
    stated = {}
    for cell in cells:
        for out in cell.get("outputs", []):
            meta = out.get("metadata", {}).get("ntklib_claim")
            if meta:
                stated[meta["name"]] = meta
    return stated


def claims_outputs(cell, stated: dict[str, dict]) -> list:
    """``cell``'s outputs with the claims table (``claims.report()``) and its summary line rebuilt
    from the claims ``stated`` (name → metadata, in order)."""
    from ntklib.claims import Claim, ClaimsReport

    table = ClaimsReport([Claim(**meta) for meta in stated.values()])
    outputs = copy.deepcopy(cell.outputs)
    summary = re.compile(r"^\d+ of \d+ checked claims hold; \d+ reported only\.$", re.M)
    for out in outputs:
        data = out.get("data", {})
        if data.get("text/html", "").startswith(CLAIMS_TABLE):
            data["text/html"] = table._repr_html_()
            data["text/plain"] = str(table)
        elif out.get("output_type") == "stream" and summary.search(out.get("text", "")):
            out["text"] = summary.sub(table.summary, out["text"])
    return outputs


def build(path: Path) -> Edition:
    """The student edition of the instructor notebook at ``path`` (which is only read)."""
    where = path.stem
    nb = nbformat.read(str(path), as_version=4)
    glued, titles = glued_values(nb), _titles(nb)
    taken = {c.get("id") for c in nb.cells}
    kept, exercises, removed, texts = [], [], set(), []
    origin = {}  # id(new cell) -> instructor index (kept code cells)
    for item in _split(nb, where):
        kind = item[0]
        if kind == "keep":
            _, index, content, piece = item
            original = nb.cells[index]
            if original.cell_type == "markdown":
                kept.append(_markdown_cell(original, content, piece, taken))
            else:
                cell = copy.deepcopy(original)
                origin[id(cell)] = index
                kept.append(cell)
        elif kind == "stub":
            exercise = item[1]
            exercises.append(exercise)
            stub = nbformat.v4.new_code_cell(stub_source(exercise, glued, titles, where))
            stub.id = _stub_id(exercise.label, taken)
            kept.append(stub)
        elif kind == "removed":
            removed.add(item[1])
        else:
            texts.append((item[1], item[2]))
    # code after a solution that reads what only the solution binds is the solution's too
    last_binder: dict[str, int] = {}
    kept_bound: set[str] = set()
    dependent = []
    kept_index = {index: cell for cell in kept if (index := origin.get(id(cell))) is not None}
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        bound, free = cell_names(cell.source)
        if index in kept_index:
            from_removed = sorted(n for n in free if last_binder.get(n) in removed)
            shadowed = [n for n in from_removed if n in kept_bound]
            if shadowed:
                raise StudentEditionError(
                    f"{where}, cell {index} ({cell.get('id')}) reads {shadowed} from a removed "
                    "solution cell, and an earlier kept cell binds the same names: the student "
                    "edition would compute something else; rename them in the solution")
            if from_removed:
                removed.add(index)
                dependent.append(index)
                kept = [c for c in kept if c is not kept_index[index]]
            else:
                kept_bound |= bound
        for name in bound:
            last_binder[name] = index
    removed_claims = [n for n in _claims_of(nb.cells[i] for i in sorted(removed))
                      if n not in _claims_of(c for c in kept if c.cell_type == "code")]
    if removed_claims:
        stated = _claims_of(c for c in kept if c.cell_type == "code")
        for cell in kept:
            if cell.cell_type == "code" and any(
                    out.get("data", {}).get("text/html", "").startswith(CLAIMS_TABLE)
                    for out in cell.get("outputs", [])):
                cell.outputs = claims_outputs(cell, stated)
    student = copy.deepcopy(nb)
    student.cells = kept
    nbformat.validate(student)
    return Edition(where, student, exercises, sorted(removed), dependent, texts, removed_claims)


def notebook_bytes(nb) -> bytes:
    """The notebook as the book stores its notebooks (nbformat.write's layout)."""
    return (nbformat.writes(nb) + "\n").encode("utf-8")


def zip_bytes(files: dict[str, bytes]) -> bytes:
    """A zip of ``files`` (name → bytes) under ``student-notebooks/``, the same bytes for the same
    files (fixed timestamps and order)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for name in sorted(files):
            info = zipfile.ZipInfo(f"{ZIP_FOLDER}/{name}", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, files[name])
    return buffer.getvalue()


def _write(path: Path, data: bytes) -> None:
    """Write ``data`` unless ``path`` holds it already (an unchanged zip keeps its time stamp,
    so the book does not re-read the page that links it)."""
    if not path.exists() or path.read_bytes() != data:
        path.write_bytes(data)


def write_editions(out: Path = OUT_DIR, paths: list[Path] | None = None) -> dict[str, Edition]:
    """Build every chapter's edition into ``out`` (``<chapter>.ipynb``) and the zip; return them."""
    out.mkdir(parents=True, exist_ok=True)
    editions, files = {}, {}
    for path in paths or chapters():
        edition = build(path)
        editions[path.stem] = edition
        files[path.name] = notebook_bytes(edition.notebook)
        _write(out / path.name, files[path.name])
    _write(out / ZIP_NAME, zip_bytes(files))
    return editions


def code_sha256(nb) -> str:
    """sha256 of the code cells' sources, in order (what student_editions.json records)."""
    sources = [cell.source for cell in nb.cells if cell.cell_type == "code"]
    return hashlib.sha256(json.dumps(sources, ensure_ascii=False).encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- execution


def execute(path: Path, workdir: Path, timeout: int) -> dict:
    """Execute a copy of the edition at ``path`` in ``workdir`` in a fresh kernel; its record."""
    from nbclient import NotebookClient

    workdir.mkdir(parents=True, exist_ok=True)
    nb = nbformat.read(str(path), as_version=4)
    stored = list(_claims_of(nb.cells))
    start = time.time()
    error = None
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                       resources={"metadata": {"path": str(workdir)}}).execute()
    except Exception as exc:
        error = f"{type(exc).__name__}: {str(exc)[-1500:]}"
    seconds = time.time() - start
    nbformat.write(nb, str(workdir / path.name))
    fresh = list(_claims_of(nb.cells))
    return {"code_sha256": code_sha256(nb), "executed": error is None,
            "seconds": round(seconds, 1), "error": error,
            "claims_stated": len(fresh), "claims_as_stored": fresh == stored}


def _commit() -> str:
    out = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True)
    return out.stdout.strip() or "unknown"


def run_problems(name: str, run: dict, edition: Edition) -> list[str]:
    """Why ``run`` (one chapter's record in student_editions.json) is no record of ``edition``
    now: another code hash (a stale record), no successful execution, other claims stated than
    the edition shows, or no timing."""
    problems = []
    if run.get("code_sha256") != code_sha256(edition.notebook):
        problems.append(f"{name}: the edition's code changed since it was executed")
    if run.get("executed") is not True or run.get("error") is not None:
        problems.append(f"{name}: did not execute: {run.get('error')}")
    if run.get("claims_as_stored") is not True:
        problems.append(f"{name}: the executed edition stated other claims than it shows")
    if not isinstance(run.get("seconds"), (int, float)) or run["seconds"] <= 0:
        problems.append(f"{name}: no execution time")
    return problems


def report_problems(report: dict, editions: dict[str, Edition]) -> list[str]:
    """Why ``report`` (student_editions.json) is no record of ``editions`` as they are now: a
    chapter missing or extra, or a chapter's :func:`run_problems`."""
    problems = []
    runs = report.get("chapters", {})
    if sorted(runs) != sorted(editions):
        problems.append(f"chapters {sorted(runs)} are not the book's {sorted(editions)}")
    for name, edition in editions.items():
        if name in runs:
            problems += run_problems(name, runs[name], edition)
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    parser.add_argument("--execute", action="store_true",
                        help="execute every edition in a fresh kernel; write student_editions.json")
    parser.add_argument("--chapters", nargs="+", default=None, metavar="NAME",
                        help="with --execute: only these chapters (e.g. 05_beyond_optimizers); "
                             "the report keeps the others' records")
    parser.add_argument("--only-stale", action="store_true",
                        help="with --execute: only the chapters whose record is stale or failed")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    args = parser.parse_args(argv)
    editions = write_editions(args.out)
    for name, e in editions.items():
        extra = (f"; {len(e.dependent_cells)} later code cells that use only the solutions' "
                 f"names (instructor cells {e.dependent_cells})" if e.dependent_cells else "")
        print(f"{name}: {len(e.exercises)} exercises, {len(e.removed_cells)} cells removed"
              f"{extra}", flush=True)
    print(f"{args.out / ZIP_NAME}")
    if not args.execute:
        return 0
    os.environ.setdefault("TQDM_DISABLE", "1")
    from ntklib import config

    unknown = sorted(set(args.chapters or []) - set(editions))
    if unknown:
        parser.error(f"no such chapters: {unknown} (chapters: {sorted(editions)})")
    scale = config.scale()
    old = json.loads(REPORT.read_text()) if REPORT.exists() else {}
    runs = dict(old.get("chapters", {})) if old.get("scale") == scale else {}
    if args.chapters:
        todo = list(args.chapters)
    elif args.only_stale:
        todo = [n for n, e in editions.items() if n not in runs or run_problems(n, runs[n], e)]
    else:
        todo = list(editions)
    for name in todo:
        run = execute(args.out / f"{name}.ipynb", RUN_DIR, args.timeout)
        run.update(commit=_commit(), date=datetime.date.today().isoformat())
        runs[name] = run
        print(f"{name}: {'ok' if run['executed'] else 'FAILED'} in {run['seconds']:.0f} s"
              + ("" if run["claims_as_stored"] else " (stated other claims than it shows)")
              + (f"\n  {run['error']}" if run["error"] else ""), flush=True)
    report = {"scale": scale, "chapters": {n: runs[n] for n in editions if n in runs}}
    REPORT.write_text(json.dumps(report, indent=1) + "\n")
    problems = report_problems(report, editions)
    print("\n".join(problems) if problems else "every student edition executes")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
