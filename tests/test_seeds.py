"""NTKLIB_SEED_OFFSET shifts every seed ntklib turns into randomness (seed s → s + offset), offset 0
is today's numbers, bad values are rejected; the claims log; the committed seed-robustness report
covers every chapter and the claims the chapters state now."""

import json
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import nbformat
import numpy as np
import pytest

from ntklib import _seeds, bounds, claims, data, dynamics, models, stats
from ntklib.experiments import ntk as nx
from ntklib.experiments import parameterization as px

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import seed_robustness as sr  # noqa: E402

OFFSET = 1000


def _leaves(tree):
    return [np.asarray(x) for x in jax.tree_util.tree_leaves(tree)]


def _same(a, b) -> bool:
    a, b = (_leaves(t) if not isinstance(t, np.ndarray) else [t] for t in (a, b))
    return len(a) == len(b) and all(x.shape == y.shape and np.array_equal(x, y) for x, y in zip(a, b))


# every place an integer seed becomes randomness, as seed ↦ what it draws
_X = data.gaussian_inputs(4, 3, seed=9)
_NET = models.mlp(1, 16)
_P0 = _NET.init_fn(jax.random.PRNGKey(0), (-1, 3))[1]  # fixed, whatever the offset
_DRAWS = {
    "rng": lambda s: data.rng(s).standard_normal(5),
    "gaussian_inputs": lambda s: data.gaussian_inputs(4, 3, seed=s),
    "digits split": lambda s: data.digits(20, 10, binary=True, seed=s).x_train,
    "model init": lambda s: _NET.init(s, 3),
    "minibatch order": lambda s: dynamics.gradient_descent(
        _NET.apply_fn, _P0, _X, jnp.ones((4, 1)), lr=0.5, steps=3, batch_size=2,
        batch_seed=s).f_train,
    "random direction": lambda s: bounds.random_direction(_P0, 1.0, seed=s),
    "bootstrap": lambda s: (lambda fit: np.array([fit.stderr, fit.ci_low, fit.ci_high]))(
        stats.fit_power_law(np.array([8, 16, 32]), np.random.default_rng(0).uniform(1, 2, (4, 3)),
                            n_boot=50, seed=s)),
    "layer-by-layer init": lambda s: px.init_outputs(lambda w: models.mlp(1, w), _X, [8], 2,
                                                     seed=s)[8],
    "Monte Carlo kernels": lambda s: nx.monte_carlo_errors(
        _X, depth=1, widths=[8], samples=[1], seed=s)[["ntk_error", "nngp_error"]].to_numpy(),
}


def test_offset_zero_when_unset(monkeypatch):
    monkeypatch.delenv(_seeds.OFFSET_ENV, raising=False)
    assert _seeds.offset() == 0
    monkeypatch.setenv(_seeds.OFFSET_ENV, "0")
    assert _seeds.offset() == 0 and _seeds.shifted("seed", 5) == 5


@pytest.mark.parametrize("name", sorted(_DRAWS))
def test_offset_zero_draws_what_the_seed_draws(monkeypatch, name):
    """Offset 0 (unset or "0") reproduces the draws of the plain seed bit for bit."""
    monkeypatch.delenv(_seeds.OFFSET_ENV, raising=False)
    unset = _DRAWS[name](3)
    monkeypatch.setenv(_seeds.OFFSET_ENV, "0")
    assert _same(_DRAWS[name](3), unset)


def test_offset_zero_is_the_plain_generators(monkeypatch):
    monkeypatch.delenv(_seeds.OFFSET_ENV, raising=False)
    np.testing.assert_array_equal(data.gaussian_inputs(4, 3, seed=7),
                                  np.random.default_rng(7).standard_normal((4, 3)).astype(np.float32))
    # Model.init folds the width into the seed's key (independent draws per width)
    _, direct = _NET.init_fn(jax.random.fold_in(jax.random.PRNGKey(7), _NET.spec.width), (-1, 3))
    assert _same(_NET.init(7, 3), direct)


@pytest.mark.parametrize("name", sorted(_DRAWS))
def test_offset_k_draws_seed_plus_k(monkeypatch, name):
    """Under offset k, seed s draws exactly what seed s + k draws without an offset, and a
    different thing from seed s (so the switch really moves it)."""
    monkeypatch.delenv(_seeds.OFFSET_ENV, raising=False)
    plain, target = _DRAWS[name](2), _DRAWS[name](2 + OFFSET)
    monkeypatch.setenv(_seeds.OFFSET_ENV, str(OFFSET))
    shifted = _DRAWS[name](2)
    assert _same(shifted, target)
    assert not _same(shifted, plain)


def test_distinct_seeds_stay_distinct(monkeypatch):
    monkeypatch.setenv(_seeds.OFFSET_ENV, str(OFFSET))
    assert [_seeds.shifted("seed", s) for s in range(3)] == [OFFSET, OFFSET + 1, OFFSET + 2]


@pytest.mark.parametrize("raw", ["-1", "1.5", "abc", "", "1e3", "0x10", "2 000"])
def test_bad_offset_is_rejected_naming_the_value(monkeypatch, raw):
    monkeypatch.setenv(_seeds.OFFSET_ENV, raw)
    with pytest.raises(ValueError, match="NTKLIB_SEED_OFFSET") as err:
        data.gaussian_inputs(2, 2, seed=0)
    assert repr(raw) in str(err.value)


def test_bad_seed_still_named(monkeypatch):
    monkeypatch.setenv(_seeds.OFFSET_ENV, "5")
    with pytest.raises(ValueError, match="seed=-1"):
        _NET.init(-1, 3)


# ----------------------------------------------------------------------------- claims log


def test_claims_log_records_every_claim_and_report_lists_all_failures(tmp_path, monkeypatch):
    log = tmp_path / "claims.jsonl"
    monkeypatch.setenv(claims.LOG_ENV, str(log))
    claims.reset()
    try:
        claims.state("demo_ok", 0.51, digits=2, expect=0.5, tol=0.1)
        claims.state("demo_bad", 2.0, digits=1, between=(0, 1))  # fails, and the run goes on
        claims.below("demo_bound", 3e-4, 1e-5)  # fails too
        claims.state("demo_n", 64, digits=0)
        with pytest.raises(AssertionError, match=r"demo_bad.*demo_bound"):
            claims.report()
    finally:
        claims.reset()
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["name"] for r in records] == ["demo_ok", "demo_bad", "demo_bound", "demo_n"]
    assert [r["passed"] for r in records] == [True, False, False, None]
    assert records[1]["check"] == "in [0, 1]" and records[1]["shown"] == "2"
    assert records[2]["shown"] == "< 1e-05" and records[2]["measured"] == pytest.approx(3e-4)
    assert not records[3]["checked"]


def test_claims_log_takes_numpy_numbers(tmp_path, monkeypatch):
    """Checks given as numpy scalars (a bound computed by the chapter) are logged as numbers."""
    log = tmp_path / "claims.jsonl"
    monkeypatch.setenv(claims.LOG_ENV, str(log))
    claims.reset()
    try:
        claims.state("demo_np", np.float32(0.25), digits=2,
                     between=(np.float32(0.0), np.float64(0.2)))
        claims.state("demo_np_tol", np.float64(1.0), digits=1, expect=np.float32(1.0),
                     tol=np.float32(0.5))
        claims.below("demo_np_bound", np.float32(1e-7), np.float64(1e-5))
    finally:
        claims.reset()
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["passed"] for r in records] == [False, True, True]
    assert records[0]["claim"]["hi"] == pytest.approx(0.2)


def test_no_log_without_the_variable(tmp_path, monkeypatch):
    monkeypatch.delenv(claims.LOG_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    claims.reset()
    try:
        claims.state("demo_x", 1.0, digits=1)
    finally:
        claims.reset()
    assert not list(tmp_path.iterdir())


# ----------------------------------------------------------------------------- the report


def _stored() -> dict[str, list[str]]:
    return {p.stem: sr.stored_checked_claims(p) for p in sr.chapters()}


def test_report_problems_detects_missing_chapters_and_stale_claims():
    stored = {"a": ["a_x", "a_y"], "b": ["b_z"]}
    run = lambda ch, names, ok=True: {  # noqa: E731
        "offset": 1, "chapter": ch, "seconds": 1.0, "checked": len(names),
        "passed": len(names) if ok else len(names) - 1, "missing": [], "errors": [],
        "claims": {n: (ok or i > 0) for i, n in enumerate(names)},
        "failed": [] if ok else [{"name": names[0], "shown": "1", "measured": 1.0, "check": "in [0, 0]"}]}
    good = {"offsets": [1, 2], "scale": "ci", "commit": "x", "date": "d", "seconds": 1,
            "chapters": ["a", "b"],
            "runs": [dict(run("a", ["a_x", "a_y"]), offset=o) for o in (1, 2)]
                    + [dict(run("b", ["b_z"], ok=False), offset=o) for o in (1, 2)]}
    assert sr.report_problems(good, stored) == []
    no_b = dict(good, runs=[r for r in good["runs"] if not (r["chapter"] == "b" and r["offset"] == 2)])
    assert any("b" in p and "2" in p for p in sr.report_problems(no_b, stored))
    assert sr.report_problems(good, dict(stored, c=["c_w"]))  # a chapter the report lacks
    assert sr.report_problems(good, dict(stored, a=["a_x"]))  # a claim that no longer exists
    assert sr.report_problems(good, dict(stored, a=["a_x", "a_y", "a_new"]))  # a new claim
    wrong_count = json.loads(json.dumps(good))
    wrong_count["runs"][0]["passed"] = 1
    assert sr.report_problems(wrong_count, stored)
    hidden = json.loads(json.dumps(good))
    hidden["runs"][2]["failed"] = []
    assert sr.report_problems(hidden, stored)  # a failure in the claims but not listed
    assert sr.report_problems(dict(good, offsets=[0, 2]), stored)  # offset 0 is no test


def test_committed_report_covers_every_chapter_and_its_current_claims():
    report = json.loads(sr.REPORT_JSON.read_text())
    problems = sr.report_problems(report, _stored())
    assert not problems, "seed_robustness.json is stale (rerun make seeds):\n" + "\n".join(problems)


def test_committed_markdown_is_the_report():
    report = json.loads(sr.REPORT_JSON.read_text())
    assert sr.REPORT_MD.read_text() == sr.markdown(report), \
        "seed_robustness.md differs from seed_robustness.json: rerun " \
        "python tools/seed_robustness.py --markdown-only"


def test_build_info_page_includes_the_report():
    assert "```{include} seed_robustness.md" in (ROOT / "build_info.md").read_text()


def test_a_chapter_run_lists_every_failed_claim_and_error(tmp_path):
    """A throwaway notebook executed by the tool at an offset: the kernel sees the offset, both
    failed claims are listed (not only the first), the cell error is reported and the claims
    report's own failure is not counted as a cell error."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(src) for src in (
        "from ntklib import _seeds, claims",
        "claims.state('demo_offset', _seeds.offset(), digits=0, between=(7, 7))",
        "claims.state('demo_a', 2.0, digits=1, between=(0, 1))",
        "raise RuntimeError('boom')",
        "claims.state('demo_b', 3.0, digits=1, expect=0.0, tol=1.0)",
        "claims.report()")]
    path = tmp_path / "99_demo.ipynb"
    nbformat.write(nb, str(path))
    run = sr.run_chapter(path, 7, tmp_path / "scratch", timeout=120)
    assert run["checked"] == 3 and run["passed"] == 1
    assert [f["name"] for f in run["failed"]] == ["demo_a", "demo_b"]
    assert [(e["cell"], e["error"]) for e in run["errors"]] == [(3, "RuntimeError")]
    assert nbformat.read(str(path), as_version=4).cells[1].outputs == []  # the original untouched


def test_update_replaces_only_the_rerun_chapters():
    run = lambda off, ch, ok, commit: {"offset": off, "chapter": ch, "seconds": 10.0,
                                       "checked": 1, "passed": int(ok), "failed": [],
                                       "missing": [], "errors": [], "claims": {}, "commit": commit}
    old = {"offsets": [1, 2], "scale": "ci", "commit": "a", "date": "d0", "seconds": 40,
           "chapters": ["c1", "c2"],
           "runs": [run(1, "c1", True, "a"), run(1, "c2", False, "a"),
                    run(2, "c1", True, "a"), run(2, "c2", True, "a")]}
    new = {"offsets": [1], "scale": "ci", "commit": "b", "date": "d1", "seconds": 10,
           "chapters": ["c2"], "runs": [run(1, "c2", True, "b")]}
    merged = sr.updated(old, new)
    assert [(r["offset"], r["chapter"], r["commit"]) for r in merged["runs"]] == [
        (1, "c1", "a"), (1, "c2", "b"), (2, "c1", "a"), (2, "c2", "a")]
    assert merged["commit"] == "a, b" and merged["date"] == "d1" and sr.failures(merged) == 0
    with pytest.raises(SystemExit, match="every offset"):  # a new chapter, at one offset only
        sr.updated(old, {**new, "chapters": ["c3"], "runs": [run(1, "c3", True, "b")]})
    added = sr.updated(old, {**new, "offsets": [1, 2], "chapters": ["c3"],
                             "runs": [run(1, "c3", True, "b"), run(2, "c3", False, "b")]})
    assert added["chapters"] == ["c1", "c2", "c3"] and len(added["runs"]) == 6
    assert [(r["offset"], r["chapter"]) for r in added["runs"][4:]] == [(1, "c3"), (2, "c3")]
    with pytest.raises(SystemExit, match="not in the report"):
        sr.updated(old, {**new, "offsets": [3]})
    with pytest.raises(SystemExit, match="scale"):
        sr.updated(old, {**new, "scale": "paper"})
    # runs written before per-run commits take the report's list, once each
    legacy = {**old, "commit": "x, y", "runs": [{k: v for k, v in r.items() if k != "commit"}
                                                for r in old["runs"][:3]] + [old["runs"][3]]}
    legacy["runs"][3] = {**legacy["runs"][3], "commit": "x"}
    assert sr.updated(legacy, new)["commit"] == "x, y, b"


def test_a_partial_run_cannot_overwrite_the_report():
    one = str(sr.chapters()[-1])
    with pytest.raises(SystemExit) as exit_info:  # argparse's usage error, before any execution
        sr.main(["--chapters", one])
    assert exit_info.value.code == 2
