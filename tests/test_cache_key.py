"""The book's execution cache is keyed per chapter on what the chapter imports."""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import nbtool  # noqa: E402


def _names(chapter):
    return {f.relative_to(ROOT).as_posix() for f in nbtool.chapter_sources(ROOT / "chapters" / chapter)}


def test_each_chapter_depends_on_the_core_and_its_own_experiments_only():
    ch1, ch5 = _names("01_parameterization.ipynb"), _names("05_beyond_optimizers.ipynb")
    for names in (ch1, ch5):
        assert {"requirements.txt", "ntklib/models.py", "ntklib/kernels.py",
                "ntklib/experiments/__init__.py"} <= names
    assert "ntklib/experiments/parameterization.py" in ch1 and "ntklib/experiments/pairs.py" not in ch1
    assert "ntklib/experiments/beyond_optimizers.py" in ch5 and "ntklib/experiments/pairs.py" in ch5
    assert "ntklib/experiments/parameterization.py" not in ch5


def test_reset_cache_names_the_stale_chapters(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(nbtool, "CACHE_KEYS", tmp_path / "keys.json")
    monkeypatch.setattr(nbtool, "CACHE_DIR", tmp_path / "no-cache")
    n = len(nbtool.chapters())
    nbtool.reset_cache()
    assert f"{n} of {n} chapters" in capsys.readouterr().out
    nbtool.reset_cache()
    assert f"0 of {n} chapters" in capsys.readouterr().out
    keys = json.loads((tmp_path / "keys.json").read_text())
    keys["03_linearization.ipynb"] = "changed"
    (tmp_path / "keys.json").write_text(json.dumps(keys))
    nbtool.reset_cache()
    assert f"1 of {n} chapters to re-execute (03_linearization.ipynb)" in capsys.readouterr().out
