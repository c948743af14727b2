"""The course kit: problem sets (course/problems_<k>.md), their worked solutions
(course/solutions/solutions_<k>.md, instructors only), the numerical solutions
(course/solutions/numerics.py) and the instructors page.

Every numerical solution is run once; each number a worked solution quotes from it is
compared with the code at the precision printed (one unit in the last digit), and the
statement the solution makes about it is checked by a test that fails if it is false.
"""

from __future__ import annotations

import functools
import importlib.util
import io
import re
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COURSE = ROOT / "course"
SOLUTIONS = COURSE / "solutions"
KINDS = ("**Derivation.**", "**Design an experiment.**", "**Predict, then run.**")
NUMERICAL_KINDS = KINDS[1:]
MARKER = re.compile(r"(-?\d+(?:\.\d+)?(?:e[+-]?\d+)?)<!--\s*(p\d+_\d+):(\w+)\s*-->")
PROBLEM = re.compile(r"^## Problem (\d+)\.(\d+): (.+)$", re.M)
LECTURES = range(1, 7)


def problem_pages() -> list[Path]:
    return sorted(COURSE.glob("problems_*.md"))


def solution_pages() -> list[Path]:
    return sorted(SOLUTIONS.glob("solutions_*.md"))


def lecture(path: Path) -> int:
    return int(path.stem.split("_")[1])


def problems(path: Path) -> dict[str, str]:
    """'k.j' -> the problem's text (heading to the next heading), in page order."""
    text = path.read_text(encoding="utf-8")
    heads = list(PROBLEM.finditer(text))
    ends = [h.start() for h in heads[1:]] + [len(text)]
    return {f"{h[1]}.{h[2]}": text[h.end():end] for h, end in zip(heads, ends)}


def _numerics():
    path = SOLUTIONS / "numerics.py"
    spec = importlib.util.spec_from_file_location("course_numerics", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@functools.lru_cache(maxsize=None)
def numerics():
    return _numerics()


@functools.lru_cache(maxsize=None)
def result(name: str) -> dict:
    return numerics().PROBLEMS[name]()


# --------------------------------------------------------------------------- the pages


def test_one_problem_page_per_lecture_and_a_solutions_file_for_each():
    assert [lecture(p) for p in problem_pages()] == list(LECTURES)
    assert [lecture(p) for p in solution_pages()] == list(LECTURES)


@pytest.mark.parametrize("k", LECTURES)
def test_problem_page_has_three_to_five_problems_of_the_three_kinds(k):
    page = COURSE / f"problems_{k}.md"
    found = problems(page)
    assert 3 <= len(found) <= 5, f"{page.name}: {len(found)} problems"
    assert all(key.startswith(f"{k}.") for key in found), sorted(found)
    kinds = []
    for key, text in found.items():
        tags = [kind for kind in KINDS if kind in text]
        assert len(tags) == 1, f"problem {key}: tagged {tags}, expected one of {KINDS}"
        assert text.lstrip().startswith(tags[0]), f"problem {key} does not open with it"
        kinds.append(tags[0])
    assert set(kinds) == set(KINDS), f"{page.name} lacks {set(KINDS) - set(kinds)}"
    assert "{doc}`../chapters/" in page.read_text(encoding="utf-8"), \
        f"{page.name} links no chapter"


@pytest.mark.parametrize("k", LECTURES)
def test_solutions_answer_exactly_the_problems_of_their_page(k):
    asked = (COURSE / f"problems_{k}.md").read_text(encoding="utf-8")
    titles = dict(re.findall(r"^## Problem (\d+\.\d+): (.+)$", asked, re.M))
    page = SOLUTIONS / f"solutions_{k}.md"
    answered = problems(page)
    assert list(answered) == list(titles), f"{page.name} answers {list(answered)}"
    for key, text in answered.items():
        assert f"## Problem {key}: {titles[key]}" in page.read_text(encoding="utf-8")
        assert "**Grading.**" in text, f"solution {key} has no grading note"


def test_every_numerical_problem_has_its_function_and_every_function_its_problem():
    functions = set(numerics().PROBLEMS)
    needed = set()
    for page in problem_pages():
        k = lecture(page)
        solved = problems(SOLUTIONS / f"solutions_{k}.md")
        for key, text in problems(page).items():
            name = "p" + key.replace(".", "_")
            if any(kind in text for kind in NUMERICAL_KINDS):
                needed.add(name)
            if name in functions:
                assert f"`numerics.{name}`" in solved[key], f"{key}: no {name}"
    assert needed <= functions, f"numerical problems without code: {needed - functions}"
    quoted = {m[2] for page in solution_pages()
              for m in MARKER.finditer(page.read_text(encoding="utf-8"))}
    assert functions <= quoted, f"functions no solution quotes: {functions - quoted}"


def test_solutions_are_left_out_of_the_website_and_the_toc():
    from sphinx.util.matching import Matcher

    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    excluded = Matcher(config["exclude_patterns"])
    for path in [*solution_pages(), SOLUTIONS / "numerics.py"]:
        assert excluded(str(path.relative_to(ROOT))), f"{path} is built"
    for path in problem_pages():
        assert not excluded(str(path.relative_to(ROOT))), f"{path} is not built"
    assert "solutions" not in (ROOT / "_toc.yml").read_text(encoding="utf-8")


def test_the_student_zip_holds_only_chapter_notebooks():
    sys.path.insert(0, str(ROOT / "tools"))
    import student as st

    sources = st.chapters()
    assert sources and all(p.parent == ROOT / "chapters" and p.suffix == ".ipynb"
                           for p in sources)
    zipped = st.zip_bytes({p.name: b"" for p in sources})
    names = zipfile.ZipFile(io.BytesIO(zipped)).namelist()
    assert names == [f"{st.ZIP_FOLDER}/{p.name}" for p in sources]
    assert not any("solution" in n or "problems" in n or "course" in n for n in names)


def test_toc_has_a_course_part_and_keeps_the_back_matter():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    parts = {p["caption"]: [c["file"] for c in p["chapters"]] for p in toc["parts"]}
    sets = [f"course/problems_{k}" for k in LECTURES]
    assert parts["Course"] == ["instructors"] + sets
    assert parts["Back matter"] == ["notation", "build_info", "references"]


@pytest.mark.parametrize("path",
                         [*problem_pages(), *solution_pages(), ROOT / "instructors.md"],
                         ids=lambda p: p.name)
def test_markdown_lines_at_most_100_characters(path):
    long = [i for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
            if len(line) > 100]
    assert not long, f"{path.name}: lines {long} are longer than 100 characters"


@pytest.mark.parametrize("path", [SOLUTIONS / "numerics.py", Path(__file__)],
                         ids=lambda p: p.name)
def test_python_lines_at_most_88_characters(path):
    long = [i for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
            if len(line) > 88]
    assert not long, f"{path.name}: lines {long} are longer than 88 characters"


# ------------------------------------------------------------------- instructors page


def instructors() -> str:
    return (ROOT / "instructors.md").read_text(encoding="utf-8")


def test_instructors_page_links_every_problem_set_and_the_build_info_page():
    text = instructors()
    for k in LECTURES:
        linked = (f"<course/problems_{k}>`" in text
                  or f"{{doc}}`course/problems_{k}`" in text)
        assert linked, f"instructors.md does not link problem set {k}"
    assert "{ref}`build-info`" in text or "<build-info>`" in text
    zip_link = "student-notebooks.zip <_build/student/student-notebooks.zip>`"
    assert "{download}`" + zip_link in text


def test_instructors_page_has_a_six_lecture_plan():
    text = instructors()
    plan = text.split("## A six-lecture plan", 1)
    assert len(plan) == 2, "no '## A six-lecture plan' section"
    section = plan[1].split("\n## ", 1)[0]
    lectures = re.findall(r"^### Lecture (\d+):", section, re.M)
    assert lectures == [str(k) for k in LECTURES]
    for k in LECTURES:
        body = section.split(f"### Lecture {k}:", 1)[1].split("### Lecture", 1)[0]
        for item in ("The one idea", "On the board", "Run live", "Show precomputed",
                     "Problem set"):
            assert f"**{item}" in body, f"lecture {k} has no '{item}'"
        assert f"course/problems_{k}" in body, f"lecture {k} names no problem set"


def test_instructors_page_states_no_hand_typed_run_times():
    text = instructors()
    assert not re.search(r"≈\s*\d+\s*(s|min)\b", text), "a hand-typed run time"
    assert "| notebook | whole notebook |" not in text


# ------------------------------------------------------------------------ the numbers


@pytest.mark.parametrize("path", solution_pages(), ids=lambda p: p.name)
def test_quoted_numbers_are_the_codes(path):
    text = path.read_text(encoding="utf-8")
    marks = MARKER.findall(text)
    assert all(name.startswith(f"p{lecture(path)}_") for _, name, _ in marks)
    for printed, name, key in marks:
        value = float(result(name)[key])
        mantissa, _, exponent = printed.partition("e")
        decimals = len(mantissa.partition(".")[2])
        unit = 10.0 ** (int(exponent or 0) - decimals)
        assert abs(value - float(printed)) <= unit * (1 + 1e-9), \
            f"{path.name}: {name}:{key} is {value!r}, the text says {printed}"


def _within(value, center, tol) -> bool:
    return abs(value - center) <= tol


STATEMENTS = {
    # each estimate within three standard errors of 15/n
    "p1_2": lambda r: all(_within(r[f"kurt_{w}"], 15 / w, 3 * r[f"se_{w}"])
                          for w in (8, 32)),
    # the variance matches K(x, x) within three standard errors at both widths
    "p1_3": lambda r: r["z_4"] < 3 and r["z_256"] < 3,
    # the 95% interval contains -1/2; some narrow nets, no wide net, below 0.9
    "p1_4": lambda r: (r["ci_low"] <= -0.5 <= r["ci_high"] and r["below_narrow"] > 0
                       and r["below_wide"] == 0),
    "p2_1": lambda r: r["max_rel_dev"] < 1e-12,
    "p2_2": lambda r: _within(r["ratio"], 1, 0.15) and _within(r["m_ratio"], 2, 0.3),
    "p2_3": lambda r: (r["eta_decreasing"] and r["share_increasing"]
                       and _within(r["approx_1"], 1, 0.02)
                       and _within(r["approx_8"], 1, 0.02)
                       and _within(r["diag_ratio"], r["diag_ratio_formula"], 1e-6)
                       and r["diag_ratio"] > r["share_ratio"]),
    # equal to round-off at s = infinity, slightly different at equal finite t
    "p3_3": lambda r: (r["inf_gap"] < 1e-12 and r["train_fit"] < 1e-12
                       and 1e-4 < r["finite_gap"] < 0.05),
    # the interval lies below -1/2 and contains -1; every run trained
    "p3_4": lambda r: (r["ci_high"] < -0.5 and r["ci_low"] <= -1 <= r["ci_high"]
                       and r["loss_ratio_max"] < 0.01),
    # quadratic: ratios near 4; the remainder small next to the outputs
    "p4_3": lambda r: (3.5 < r["ratio_min"] <= r["ratio_max"] < 4.1
                       and r["gap_max"] < 1e-3 * r["f_scale"]),
    "p4_4": lambda r: (all(r[f"rel_{w}"] < 0.02 for w in (128, 512, 2048))
                       and r["rel_512"] < 0.002 and r["rel_2048"] < 0.002
                       and r["bound_over_min"] > 10),
    "p5_1": lambda r: (r["contraction_dev"] < 1e-6
                       and _within(r["speedup"], r["sqrt_kappa"],
                                   0.05 * r["sqrt_kappa"])),
    "p5_2": lambda r: (r["contraction_dev"] < 1e-12
                       and r["regimes"] == "underdamped/underdamped/underdamped"
                       and _within(r["measured_min"], r["sqrt_beta"], 0.005)
                       and _within(r["measured_max"], r["sqrt_beta"], 0.005)),
    # falls from each width to the next, faster than n^-1/2; the widest net trained
    "p5_3": lambda r: (r["decreasing"] and r["exponent"] < -0.5
                       and r["loss_final"] < 1e-6),
    "p6_3": lambda r: _within(r["exponent"], -1, 0.15) and r["ratio"] > 10,
    "p6_4": lambda r: r["ci_low"] <= -1 <= r["ci_high"] and r["loss_max"] < 1e-6,
}


def test_every_numerical_solution_has_a_statement_check():
    assert set(STATEMENTS) == set(numerics().PROBLEMS)


@pytest.mark.parametrize("name", sorted(STATEMENTS))
def test_worked_solution_statement_holds(name):
    values = result(name)
    assert STATEMENTS[name](values), f"{name}: the statement fails: {values}"


def test_statement_checks_can_fail():
    """A false statement is caught: shift each checked number and the check fails."""
    assert not STATEMENTS["p1_4"](dict(result("p1_4"), ci_high=-0.6))
    assert not STATEMENTS["p3_3"](dict(result("p3_3"), inf_gap=1e-3))
    assert not STATEMENTS["p6_4"](dict(result("p6_4"), ci_low=-0.9))
    assert not STATEMENTS["p5_2"](dict(result("p5_2"), measured_min=0.9))
