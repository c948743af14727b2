"""Student editions (tools/student.py), built into a temporary folder; nothing is executed here.

Per chapter: (a) no solution text, code or output appears in the edition, (b) every exercise is
followed by its stub (comments only), (c) building leaves the instructor notebooks' bytes as they
were, (d) no kept code cell reads a name that it would get from a removed cell, and the kept
cells are the instructor's, outputs included (only the claims table is rebuilt, from the claims
the kept cells state), (e) the committed ``student_editions.json`` (``make student``) records
these editions' code and that each executed in a fresh kernel. Each check is a function that
lists problems; the self-tests at the end feed each one a small hand-made notebook with a leak,
a missing stub or a solution's name used later, and assert it is caught. The site test checks
that the instructors page links the zip and that the website serves these editions.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import io
import json
import os
import re
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import student as st  # noqa: E402

CHAPTERS = st.chapters()
SITE = Path(os.environ.get("NTKLIB_SITE_DIR", ROOT / "_build" / "html"))
IMAGE_MIMES = ("image/png", "image/jpeg", "image/svg+xml")
TEXT_MIMES = ("text/plain", "text/html", "text/markdown", "text/latex")
MIN_LINE = 25  # a line this long (stripped) is distinctive enough to be searched for


def _digest(paths) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Every chapter's edition built into a temporary folder; the instructor notebooks' hashes
    before and after the build."""
    before = _digest(CHAPTERS)
    out = tmp_path_factory.mktemp("student")
    editions = st.write_editions(out)
    return {"out": out, "editions": editions, "before": before, "after": _digest(CHAPTERS)}


def _read(path: Path):
    return nbformat.read(str(path), as_version=4)


# --------------------------------------------------------------------------- what is a solution
# Read independently of tools/student.py: a cell holding `{solution-start}` opens a solution (its
# text after the directive's closing fence is solution text), every cell up to the one holding
# `{solution-end}` is solution.


def solution_parts(nb) -> dict:
    """The instructor notebook's solutions: their markdown lines, code cells, the ids of the
    cells that are wholly solution, and the markdown lines outside solutions (narrative)."""
    md_lines, narrative, code_cells, ids = [], [], [], set()
    inside = False
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            lines = cell.source.split("\n")
            if "{solution-start}" in cell.source:
                start = next(i for i, line in enumerate(lines) if "{solution-start}" in line)
                close = next(i for i in range(start + 1, len(lines)) if lines[i].strip() == ":::")
                narrative += lines[:start]
                lines, inside = lines[close + 1:], True
                if start == 0:
                    ids.add(cell.get("id"))
            elif inside:
                ids.add(cell.get("id"))
            if inside:
                end = next((i for i, line in enumerate(lines) if "{solution-end}" in line), None)
                md_lines += lines if end is None else lines[:end]
                if end is not None:
                    inside = False
                    narrative += lines[end + 2:]
            else:
                narrative += lines
        elif inside:
            code_cells.append(cell)
            ids.add(cell.get("id"))
    return {"md": md_lines, "narrative": narrative, "code": code_cells, "ids": ids}


def _output_strings(out) -> list[str]:
    """The text an output shows (stream text, error, rich text), glue records left out."""
    if out.get("output_type") == "stream":
        return [out.get("text", "")]
    if out.get("output_type") == "error":
        return [out.get("evalue", ""), *out.get("traceback", [])]
    data = out.get("data", {})
    return [data[m] if isinstance(data[m], str) else "".join(data[m])
            for m in TEXT_MIMES if m in data]


def _images(cells) -> set[str]:
    return {hashlib.sha256("".join(out["data"][m]).encode()).hexdigest()
            for cell in cells for out in cell.get("outputs", [])
            for m in IMAGE_MIMES if m in out.get("data", {})}


def _lines(texts) -> set[str]:
    return {line.strip() for text in texts for line in text.split("\n")}


def _claim_names(cells) -> set[str]:
    return {out["metadata"]["ntklib_claim"]["name"] for cell in cells
            for out in cell.get("outputs", []) if "ntklib_claim" in out.get("metadata", {})}


def leaks(instructor, student) -> list[str]:
    """(a) Solution material in ``student``: a distinctive line of a solution's markdown or code,
    a solution output's picture or distinctive text line, the name of a claim only a solution
    states (e.g. in the claims table), or a solution directive."""
    sol = solution_parts(instructor)
    kept_code = [c for c in instructor.cells
                 if c.cell_type == "code" and c.get("id") not in sol["ids"]]
    narrative = "\n".join(sol["narrative"])
    kept_source = "\n".join(c.source for c in kept_code)
    kept_shown = "\n".join(s for c in kept_code for out in c.get("outputs", [])
                           for s in _output_strings(out))
    student_md = "\n".join(c.source for c in student.cells if c.cell_type == "markdown")
    student_code = "\n".join(c.source for c in student.cells if c.cell_type == "code")
    shown = "\n".join(s for c in student.cells for out in c.get("outputs", [])
                      for s in _output_strings(out))

    def found(lines, where: str, instructor_text: str) -> list[str]:
        """Distinctive lines that are in ``where`` but nowhere in the instructor's kept text."""
        return [line for line in sorted(_lines(lines)) if len(line) >= MIN_LINE
                and line in where and line not in instructor_text]

    problems = [f"solution text: {line[:80]!r}"
                for line in found(sol["md"], student_md + "\n" + student_code, narrative)]
    problems += [f"solution code: {line[:80]!r}"
                 for line in found([c.source for c in sol["code"]], student_code, kept_source)]
    problems += [f"solution output: {line[:80]!r}"
                 for line in found([s for c in sol["code"] for out in c.get("outputs", [])
                                    for s in _output_strings(out)], shown, kept_shown)]
    for digest in _images(sol["code"]) & _images(student.cells):
        problems.append(f"solution figure {digest[:12]}")
    only_solution = _claim_names(sol["code"]) - _claim_names(
        c for c in student.cells if c.cell_type == "code")
    for name in sorted(only_solution):
        if re.search(rf"\b{re.escape(name)}\b", shown):
            problems.append(f"a solution's claim {name} is shown")
    for directive in ("{solution-start}", "{solution-end}", "{solution}"):
        if directive in student_md:
            problems.append(f"directive {directive} left in")
    return problems


def _exercise_labels(nb) -> list[str]:
    return [m.group(1) for c in nb.cells if c.cell_type == "markdown"
            for m in re.finditer(r"^:{3,}\{exercise\}.*\n(?::\w+:.*\n)*?:label:\s*(\S+)",
                                 c.source, re.M)]


def _plain_words(text: str) -> set[str]:
    text = re.sub(r"\{[\w:-]+\}`[^`]*`", " ", text)  # roles
    text = re.sub(r"\$[^$]*\$", " ", text)  # math
    return {w.lower() for w in re.findall(r"[A-Za-z]{4,}", text)}


def stub_problems(instructor, student) -> list[str]:
    """(b) Every exercise of ``instructor`` ends a markdown cell of ``student`` that is followed
    by a code cell ``# Exercise <label>: your code here`` holding only comments, no outputs, and
    most of the exercise's words; no other stubs."""
    problems = []
    labels = _exercise_labels(instructor)
    cells = student.cells
    stubs = [c for c in cells if c.cell_type == "code" and c.source.startswith("# Exercise ")]
    if len(stubs) != len(labels):
        problems.append(f"{len(labels)} exercises, {len(stubs)} stubs")
    for label in labels:
        pattern = re.compile(r"^:{3,}\{exercise\}.*\n(?::\w+:.*\n)*?:label:\s*"
                             + re.escape(label) + r"\s*\n(.*?)^:{3,}\s*\Z", re.M | re.S)
        at = [i for i, c in enumerate(cells) if c.cell_type == "markdown"
              and pattern.search(c.source.rstrip() + "\n")]
        if len(at) != 1:
            problems.append(f"exercise {label}: not once at the end of a markdown cell ({at})")
            continue
        i = at[0]
        body = pattern.search(cells[i].source.rstrip() + "\n").group(1)
        stub = cells[i + 1] if i + 1 < len(cells) else None
        first = st.STUB_FIRST_LINE.format(label=label)
        if stub is None or stub.cell_type != "code" or stub.source.split("\n")[0] != first:
            problems.append(f"exercise {label}: not followed by its stub {first!r}")
            continue
        code = [line for line in stub.source.split("\n") if line.strip()
                and not line.lstrip().startswith("#")]
        if code or stub.get("outputs"):
            problems.append(f"exercise {label}: the stub holds code or outputs: {code[:3]}")
        words = _plain_words(body)
        missing = words - _plain_words(stub.source)
        if len(missing) > 0.4 * len(words):
            problems.append(f"exercise {label}: the stub lacks the exercise's words {missing}")
    return problems


def name_flow_problems(instructor, student) -> list[str]:
    """(d) A kept code cell (same id as an instructor cell) that reads a name whose binding, in
    the instructor notebook, comes from a cell the edition does not have; a code cell that is
    neither a stub nor an instructor cell with the same source."""
    problems = []
    kept = {c.get("id") for c in student.cells}
    source = {c.get("id"): c.source for c in instructor.cells if c.cell_type == "code"}
    last_binder: dict[str, str] = {}
    for cell in instructor.cells:
        if cell.cell_type != "code":
            continue
        bound, free = st.cell_names(cell.source)
        if cell.get("id") in kept:
            for name in sorted(free):
                if name in last_binder and last_binder[name] not in kept:
                    problems.append(f"cell {cell.get('id')} reads {name!r}, which removed cell "
                                    f"{last_binder[name]} binds")
        for name in bound:
            last_binder[name] = cell.get("id")
    for cell in student.cells:
        if cell.cell_type == "code" and not cell.source.startswith("# Exercise "):
            if source.get(cell.get("id")) != cell.source:
                problems.append(f"code cell {cell.get('id')} is not the instructor's cell")
    return problems


def output_problems(instructor, student) -> list[str]:
    """Kept code cells keep their stored outputs, except the claims table, which must list
    exactly the claims the edition's cells state."""
    from ntklib.claims import Claim, ClaimsReport

    problems = []
    by_id = {c.get("id"): c for c in instructor.cells}
    stated = {}
    for cell in student.cells:
        for out in cell.get("outputs", []):
            if "ntklib_claim" in out.get("metadata", {}):
                meta = out["metadata"]["ntklib_claim"]
                stated[meta["name"]] = meta
    table = ClaimsReport([Claim(**m) for m in stated.values()])
    for cell in student.cells:
        if cell.cell_type != "code" or cell.get("id") not in by_id:
            continue
        original = by_id[cell.get("id")]
        for mine, theirs in zip(cell.outputs, original.outputs, strict=False):
            html = mine.get("data", {}).get("text/html", "")
            if html.startswith(st.CLAIMS_TABLE):
                if html != table._repr_html_():
                    problems.append(f"cell {cell.get('id')}: the claims table does not list the "
                                    f"claims the edition states ({table.summary})")
            elif mine.get("output_type") == "stream" and "checked claims hold" in mine["text"]:
                if table.summary not in mine["text"]:
                    problems.append(f"cell {cell.get('id')}: summary {mine['text']!r}")
            elif mine != theirs:
                problems.append(f"cell {cell.get('id')}: an output differs from the instructor's")
        if len(cell.outputs) != len(original.outputs):
            problems.append(f"cell {cell.get('id')}: {len(cell.outputs)} outputs, instructor "
                            f"{len(original.outputs)}")
    return problems


# --------------------------------------------------------------------------- the chapters


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_edition_has_no_solution_and_a_stub_per_exercise(built, path):
    instructor, student = _read(path), _read(built["out"] / path.name)
    assert not leaks(instructor, student), leaks(instructor, student)
    assert not stub_problems(instructor, student), stub_problems(instructor, student)
    assert not name_flow_problems(instructor, student), name_flow_problems(instructor, student)
    assert not output_problems(instructor, student), output_problems(instructor, student)
    nbformat.validate(student)


def test_every_chapter_with_exercises_loses_its_solutions(built):
    """The checks above are not vacuous: the book has exercises, and the editions remove cells."""
    editions = built["editions"]
    assert sorted(editions) == [p.stem for p in CHAPTERS]
    for path in CHAPTERS:
        labels = _exercise_labels(_read(path))
        edition = editions[path.stem]
        assert [e.label for e in edition.exercises] == labels
        if labels:
            assert all(e.solution for e in edition.exercises), path.stem
            sol = solution_parts(_read(path))
            assert edition.removed_cells and sol["code"], path.stem
            assert len([line for line in _lines(sol["md"]) if len(line) >= MIN_LINE]) \
                >= len(labels), f"{path.stem}: too few solution lines to search for"
            assert any(c.get("outputs") for c in sol["code"]), path.stem
    assert sum(len(e.exercises) for e in editions.values()) >= 10


def test_instructor_notebooks_unchanged_by_the_build(built):
    assert built["before"] == built["after"]


def test_zip_holds_every_edition(built):
    with zipfile.ZipFile(built["out"] / st.ZIP_NAME) as z:
        names = sorted(z.namelist())
        assert names == sorted(f"{st.ZIP_FOLDER}/{p.name}" for p in CHAPTERS)
        for path in CHAPTERS:
            assert z.read(f"{st.ZIP_FOLDER}/{path.name}") == \
                (built["out"] / path.name).read_bytes()
    again = st.zip_bytes({p.name: (built["out"] / p.name).read_bytes() for p in CHAPTERS})
    assert again == (built["out"] / st.ZIP_NAME).read_bytes(), "the zip is not reproducible"


def test_claims_table_rebuilt_exactly_when_nothing_is_removed():
    """claims_outputs reproduces every stored claims table from the stored claims, byte for byte
    (so a rebuilt table in an edition is what claims.report() shows for its claims)."""
    for path in CHAPTERS:
        nb = _read(path)
        stated = st._claims_of(nb.cells)
        tables = [c for c in nb.cells if c.cell_type == "code" and any(
            o.get("data", {}).get("text/html", "").startswith(st.CLAIMS_TABLE) for o in c.outputs)]
        assert len(tables) == 1, path.stem
        assert st.claims_outputs(tables[0], stated) == tables[0].outputs, path.stem


def test_committed_report_matches_the_editions(built):
    """(e) student_editions.json records the current editions' code, each executed."""
    assert st.REPORT.exists(), "student_editions.json is missing: run make student"
    report = json.loads(st.REPORT.read_text())
    problems = st.report_problems(report, built["editions"])
    assert not problems, ("student_editions.json is stale or records a failure (run make "
                          "student):\n" + "\n".join(problems))


# --------------------------------------------------------------------------- self-tests

PNG = base64.b64encode(b"\x89PNG fake solution figure bytes").decode()


def _hand_made(tmp_path: Path, later: str = "print(a)") -> Path:
    """A chapter with narrative, one exercise, its gated solution (text, code, output, figure),
    a cell after the solution and a claims table."""
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    stream = nbformat.v4.new_output
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = [
        md("# A chapter\n\nSome narrative that stays in the student notebook."),
        code("a = 3", outputs=[stream("stream", name="stdout",
                                      text="a kept output line that students see\n")]),
        md("More narrative before the exercise.\n\n:::{exercise}\n:label: t-ex\nSquare the "
           "variable `a` and print it with its {glue:text}`t_digits:.0f` digits.\n:::\n\n"
           ":::{solution-start} t-ex\n:class: dropdown\n:::\nThe distinctive solution "
           "sentence says that squaring gives nine."),
        code("answer = a ** 2\nprint(f'the secret answer is {answer} exactly here')",
             outputs=[stream("stream", name="stdout",
                             text="the secret answer is 9 exactly here\n"),
                      stream("display_data", data={"image/png": PNG, "text/plain": "<Figure>"}),
                      stream("display_data",
                             data={st.GLUE_MIME: "9.0"},
                             metadata={"scrapbook": {"name": "t_answer",
                                                     "mime_prefix": st.GLUE_MIME[:-10]},
                                       "ntklib_claim": {"name": "t_answer", "value": 9.0,
                                                        "expect": 9, "tol": 0, "lo": None,
                                                        "hi": None}})]),
        md(":::{solution-end}\n:::\n\nText after the solution, in the same cell."),
        code(later, outputs=[stream("display_data", data={st.GLUE_MIME: "1.0"},
                                    metadata={"scrapbook": {"name": "t_digits",
                                                            "mime_prefix": st.GLUE_MIME[:-10]},
                                              "ntklib_claim": {"name": "t_digits",
                                                               "value": 1.0, "expect": None,
                                                               "tol": None, "lo": None,
                                                               "hi": None}})]),
    ]
    from ntklib.claims import Claim, ClaimsReport

    table = ClaimsReport([Claim("t_answer", 9.0, 9, 0), Claim("t_digits", 1.0)])
    nb.cells.append(code("claims.report()", outputs=[
        stream("display_data", data={"text/html": table._repr_html_(),
                                     "text/plain": str(table)}),
        stream("stream", name="stdout", text=table.summary + "\n")]))
    for i, cell in enumerate(nb.cells):
        cell.id = f"c{i}"
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "99_hand_made.ipynb"
    nbformat.write(nb, str(path))
    return path


def _all_problems(instructor, student) -> list[str]:
    return (leaks(instructor, student) + stub_problems(instructor, student)
            + name_flow_problems(instructor, student) + output_problems(instructor, student))


def test_hand_made_edition_passes_and_keeps_the_right_parts(tmp_path):
    path = _hand_made(tmp_path)
    before = path.read_bytes()
    edition = st.build(path)
    assert path.read_bytes() == before
    instructor, student = _read(path), edition.notebook
    assert not _all_problems(instructor, student), _all_problems(instructor, student)
    sources = [c.source for c in student.cells]
    assert sources[2].startswith("More narrative") and sources[2].endswith(":::")
    assert sources[3].startswith("# Exercise t-ex: your code here")
    assert "with its 1 digits" in sources[3]  # the glued number filled in
    assert sources[4] == "Text after the solution, in the same cell."
    assert sources[5] == "print(a)"
    assert "t_answer" not in json.dumps(student.cells[-1].outputs)
    assert "0 of 0 checked claims hold; 1 reported only." in student.cells[-1].outputs[1].text
    assert edition.removed_cells == [3] and edition.removed_claims == ["t_answer"]
    assert edition.solution_text == [
        ("t-ex", "The distinctive solution sentence says that squaring gives nine.")]


def test_checks_catch_leaks(tmp_path):
    path = _hand_made(tmp_path)
    instructor, clean = _read(path), st.build(path).notebook

    def broken(change):
        nb = copy.deepcopy(clean)
        change(nb)
        return leaks(instructor, nb)

    def text(nb):
        nb.cells[0].source += "\nThe distinctive solution sentence says that squaring gives nine."

    def output(nb):
        nb.cells[1].outputs.append(copy.deepcopy(instructor.cells[3].outputs[0]))

    def figure(nb):
        nb.cells[1].outputs.append(copy.deepcopy(instructor.cells[3].outputs[1]))

    def claims_table(nb):
        nb.cells[-1].outputs = copy.deepcopy(instructor.cells[-1].outputs)

    def code(nb):
        nb.cells[5].source = instructor.cells[3].source

    def directive(nb):
        nb.cells[4].source = ":::{solution-end}\n:::\n" + nb.cells[4].source

    for change, what in [(text, "solution text"), (output, "solution output"),
                         (figure, "solution figure"), (claims_table, "t_answer"),
                         (code, "solution code"), (directive, "directive")]:
        found = broken(change)
        assert any(what in p for p in found), (change.__name__, found)


def test_checks_catch_missing_or_computing_stubs(tmp_path):
    path = _hand_made(tmp_path)
    instructor, clean = _read(path), st.build(path).notebook
    no_stub = copy.deepcopy(clean)
    del no_stub.cells[3]
    assert any("not followed by its stub" in p for p in stub_problems(instructor, no_stub))
    computing = copy.deepcopy(clean)
    computing.cells[3].source += "\nanswer = a ** 2"
    assert any("holds code" in p for p in stub_problems(instructor, computing))
    wordless = copy.deepcopy(clean)
    wordless.cells[3].source = st.STUB_FIRST_LINE.format(label="t-ex")
    assert any("lacks the exercise's words" in p for p in stub_problems(instructor, wordless))


def test_checks_catch_a_solution_name_used_later(tmp_path):
    """A kept cell that reads what only the solution binds: the name-flow check lists it; the
    build removes such a cell with the solution; a name the solution rebinds is an error."""
    path = _hand_made(tmp_path, later="print(answer + a)")
    instructor = _read(path)
    naive = copy.deepcopy(st.build(_hand_made(tmp_path / "plain")).notebook)
    naive.cells[5].source = "print(answer + a)"  # as if the build had kept the cell
    assert any("reads 'answer'" in p for p in name_flow_problems(instructor, naive))
    edition = st.build(path)
    assert edition.dependent_cells == [5]
    assert "print(answer + a)" not in [c.source for c in edition.notebook.cells]
    assert not name_flow_problems(instructor, edition.notebook)
    with pytest.raises(st.StudentEditionError, match="an earlier kept cell binds"):
        st.build(_shadowed(tmp_path))
    edited = copy.deepcopy(edition.notebook)
    edited.cells[1].source = "a = 4"
    assert any("not the instructor's" in p for p in name_flow_problems(instructor, edited))


def _shadowed(tmp_path: Path) -> Path:
    """The hand-made chapter whose solution rebinds ``a``, read by a later kept cell."""
    path = _hand_made(tmp_path / "shadow")
    nb = _read(path)
    nb.cells[3].source = "a = 4\n" + nb.cells[3].source
    nbformat.write(nb, str(path))
    return path


def test_checks_catch_changed_outputs(tmp_path):
    path = _hand_made(tmp_path)
    instructor, edition = _read(path), st.build(path).notebook
    changed = copy.deepcopy(edition)
    changed.cells[1].outputs[0]["text"] = "another output\n"
    assert any("differs" in p for p in output_problems(instructor, changed))
    stale_table = copy.deepcopy(edition)
    stale_table.cells[-1].outputs = copy.deepcopy(instructor.cells[-1].outputs)
    assert any("claims table" in p for p in output_problems(instructor, stale_table))


def test_malformed_solutions_are_errors(tmp_path):
    cases = {
        "no-end": ":::{exercise}\n:label: e\nText.\n:::\n:::{solution-start} e\n:class: "
                  "dropdown\n:::\nSolution.",
        "other-label": ":::{exercise}\n:label: e\nText.\n:::\n:::{solution-start} f\n:::\n"
                       ":::{solution-end}\n:::",
        "end-only": "Text.\n:::{solution-end}\n:::",
        "body": ":::{exercise}\n:label: e\nText.\n:::\n:::{solution-start} e\nA body.\n:::\n"
                ":::{solution-end}\n:::",
        "unclosed": ":::{exercise}\n:label: e\nText that never closes.",
    }
    messages = {"no-end": "has no solution-end", "other-label": "does not follow its exercise",
                "end-only": "without a solution-start", "body": "has a body",
                "unclosed": "is never closed"}
    for name, source in cases.items():
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_markdown_cell(source)]
        path = tmp_path / f"{name}.ipynb"
        nbformat.write(nb, str(path))
        with pytest.raises(st.StudentEditionError, match=messages[name]):
            st.build(path)


def test_cell_names_reads_and_binds():
    cases = {
        "x = y + 1": ({"x"}, {"y"}),
        "x = 1\nprint(x)": ({"x"}, {"print"}),
        "x += 1": ({"x"}, {"x"}),
        "[k * w for k in range(3)]": (set(), {"w", "range"}),
        "def f(u):\n    return u + v\nv = 2": ({"f", "v"}, set()),
        "import numpy as np\nfrom a.b import c\nimport os.path": ({"np", "c", "os"}, set()),
        "for i in items:\n    total = i": ({"i", "total"}, {"items"}),
        "with ctx() as h:\n    pass": ({"h"}, {"ctx"}),
        "try:\n    pass\nexcept E as err:\n    err": ({"err"}, {"E"}),
        "%time z = q": ({"z"}, {"q"}),
        "%%capture out\nw = r": ({"out", "w"}, {"r"}),
        "%%timeit -n 1\nw = r": ({"w"}, {"r"}),
        "%matplotlib inline\nw = 1": ({"w"}, {"get_ipython"}),
        "f = lambda t: t + s": ({"f"}, {"s"}),
        "(n := m)": ({"n"}, {"m"}),
    }
    for source, (bound, free) in cases.items():
        assert st.cell_names(source) == (bound, free), source


def test_report_check_catches_a_stale_or_failed_report(built):
    editions = built["editions"]
    good = {"chapters": {name: {"code_sha256": st.code_sha256(e.notebook), "executed": True,
                                "seconds": 1.0, "error": None, "claims_stated": 0,
                                "claims_as_stored": True}
                         for name, e in editions.items()}}
    assert st.report_problems(good, editions) == []
    name = next(iter(editions))
    for key, value, message in [("code_sha256", "0" * 64, "code changed"),
                                ("executed", False, "did not execute"),
                                ("claims_as_stored", False, "other claims"),
                                ("seconds", 0, "no execution time")]:
        bad = copy.deepcopy(good)
        bad["chapters"][name][key] = value
        assert any(message in p for p in st.report_problems(bad, editions)), key
    missing = copy.deepcopy(good)
    del missing["chapters"][name]
    assert st.report_problems(missing, editions)


def test_instructor_bytes_check_can_fail(tmp_path):
    """The unchanged-bytes comparison of test_instructor_notebooks_unchanged_by_the_build sees
    a changed notebook."""
    path = _hand_made(tmp_path)
    before = _digest([path])
    nb = _read(path)
    nb.cells[0].source += " "
    nbformat.write(nb, str(path))
    assert _digest([path]) != before


# --------------------------------------------------------------------------- the website


@pytest.mark.site
@pytest.mark.skipif(not SITE.is_dir(), reason=f"{SITE} does not exist: run `make book` first")
def test_instructors_page_links_the_current_zip(built):
    """The instructors page links a downloadable zip, and it holds these editions."""
    page = (SITE / "instructors.html").read_text(encoding="utf-8")
    links = re.findall(r'href="([^"]*' + re.escape(st.ZIP_NAME) + r')"', page)
    assert links, "instructors.html does not link the student notebooks"
    for href in set(links):
        target = (SITE / href).resolve()
        assert target.is_file(), f"{href} does not resolve in {SITE}"
        served = zipfile.ZipFile(io.BytesIO(target.read_bytes()))
        for path in CHAPTERS:
            assert served.read(f"{st.ZIP_FOLDER}/{path.name}") == \
                (built["out"] / path.name).read_bytes(), \
                f"the website's zip has an old {path.name}: rebuild the book (make book)"
