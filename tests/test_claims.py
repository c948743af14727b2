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
