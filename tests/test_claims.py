"""Every stated number in the stored notebooks passes its check, and prose only cites glued names.

nbval (run in the same test command) re-executes each notebook and requires the same outputs
(words exactly, numbers within one unit in their last printed digit: tools/printed.py), so the
stored values checked here are the values a fresh run produces, on this CPU or another.
"""

import json
import re
from pathlib import Path

import nbformat
import pytest

from ntklib.claims import Claim

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "chapters").glob("*.ipynb"))


def stored_claims(nb):
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            meta = out.get("metadata", {}).get("ntklib_claim")
            if meta:
                yield Claim(**meta)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_stored_claims_hold(path):
    nb = nbformat.read(str(path), as_version=4)
    found = list(stored_claims(nb))
    assert any(c.checked for c in found), f"{path.name} states no checked claim"
    failed = [f"{c.name}={c.value} (expected {c.describe()})" for c in found if c.checked and not c.passes]
    assert not failed, failed


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_glue_reference_is_stated(path):
    nb = nbformat.read(str(path), as_version=4)
    stated = {c.name for c in stored_claims(nb)}
    cited = set()
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cited |= set(re.findall(r"\{glue:(?:text|)\}`([A-Za-z0-9_-]+)", cell.source))
    missing = cited - stated
    assert not missing, f"{path.name} cites unstated numbers: {sorted(missing)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_ends_with_claims_report_and_starts_with_setup(path):
    nb = nbformat.read(str(path), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "colab-setup" in code[0].metadata.get("tags", []), "first code cell must be the Colab setup"
    assert "claims.report()" in code[-1].source, "last code cell must be claims.report()"
    counts = [c.execution_count for c in code]
    assert counts == list(range(1, len(code) + 1)), f"not executed top to bottom once: {counts}"
    text = json.dumps(nb)
    for noise in ("oneDNN custom operations", "absl::InitializeLog", "cuda_dnn", "Traceback (most recent call last)"):
        assert noise not in text, f"stored output contains {noise!r}"


def test_setup_cells_in_sync_with_config():
    import subprocess
    import sys

    result = subprocess.run([sys.executable, str(ROOT / "tools" / "nbtool.py"), "check-sync"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_name_stated_twice_with_another_value_raises_and_a_rerun_does_not():
    from ntklib import claims

    claims.reset()
    claims.state("dup_demo", 1.234, digits=2, between=(0, 2))
    claims.state("dup_demo", 1.2341, digits=2, between=(0, 2))  # the same cell run again
    with pytest.raises(ValueError, match="dup_demo.*already stated as 1.23"):
        claims.state("dup_demo", 1.5, digits=2)
    with pytest.raises(ValueError, match="already stated"):
        claims.below("dup_demo", 0.1, 1.0)
    assert [c.value for c in claims.recorded()] == [1.23]
    claims.reset()


def _some_claims():
    from ntklib import claims

    claims.reset()
    claims.state("rep_slope", -0.5123, digits=2, expect=-0.5, tol=0.1)
    claims.state("rep_width", 512, digits=0)
    claims.state("rep_broken", 3.0, digits=1, between=(0, 2))
    claims.below("rep_gap", 2.3e-07, 1e-05)
    claims.state("rep_ratio", 0.93, digits=2, between=(0.9, None))
    return claims


def test_report_is_one_table_grouped_by_outcome_and_still_raises(capsys):
    claims = _some_claims()
    capsys.readouterr()
    with pytest.raises(AssertionError, match=r"claims failed: \['rep_broken'\]"):
        claims.report()
    out = capsys.readouterr().out.splitlines()
    claims.reset()
    # Header, then the groups in this order (failing first), each in the order stated.
    assert out[0].split() == ["claim", "number", "check", "holds"]
    groups = [i for i, line in enumerate(out) if line.startswith("-- ")]
    assert [out[i] for i in groups] == ["-- checks that fail (1)", "-- checks that hold (3)",
                                        "-- reported without a check (1)"]
    rows = [line.split()[0] for line in out[1:-1] if not line.startswith("-- ")]
    assert rows == ["rep_broken", "rep_slope", "rep_gap", "rep_ratio", "rep_width"]
    broken = next(line for line in out if line.startswith("rep_broken"))
    assert broken.split()[1] == "3" and broken.endswith("FAILED") and "in [0, 2]" in broken
    gap = next(line for line in out if line.startswith("rep_gap"))
    assert gap.split()[1:] == ["<", "1e-05", "measured", "<", "1e-05", "ok"]
    assert "2.3e-07" not in "\n".join(out)
    assert out[-1] == "3 of 4 checked claims hold; 1 reported only."
    assert len(out) == 1 + 3 + 5 + 1  # one line per claim: compact


def test_report_passes_quietly_on_success_and_is_deterministic(capsys):
    claims = _some_claims()
    claims._CLAIMS.pop("rep_broken")
    capsys.readouterr()
    assert claims.report() is None
    first = capsys.readouterr().out
    claims.report()
    assert capsys.readouterr().out == first  # the same claims print the same text
    assert first.splitlines()[-1] == "3 of 3 checked claims hold; 1 reported only."
    assert "FAILED" not in first and "checks that fail" not in first
    claims.reset()


def test_report_in_jupyter_displays_an_html_table_and_prints_the_summary(monkeypatch, capsys):
    """In a kernel the table is a display (HTML + plain text); the summary line stays a printed
    stream, which tools/colab_runtime.py reads."""
    import IPython.display

    claims = _some_claims()
    shown = []
    monkeypatch.setattr(claims, "_ipython", lambda: object())
    monkeypatch.setattr(IPython.display, "display", lambda obj: shown.append(obj))
    capsys.readouterr()
    with pytest.raises(AssertionError, match="rep_broken"):
        claims.report()
    claims.reset()
    assert capsys.readouterr().out == "3 of 4 checked claims hold; 1 reported only.\n"
    (table,) = shown
    html = table._repr_html_()
    assert html.startswith('<table class="claims-report">') and html.count("<tr") == 1 + 3 + 5
    assert "<caption>3 of 4 checked claims hold; 1 reported only.</caption>" in html
    assert html.index("rep_broken") < html.index("rep_slope") < html.index("rep_width")
    assert "<strong>FAILED</strong>" in html and "&lt; 1e-05" in html
    assert str(table).splitlines()[-1] == table.summary


def test_report_of_nothing_says_so(capsys):
    from ntklib import claims

    claims.reset()
    claims.report()
    assert capsys.readouterr().out.splitlines() == ["claim  number  check  holds",
                                                     "0 of 0 checked claims hold; 0 reported only."]
