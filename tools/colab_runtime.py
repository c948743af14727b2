"""Run the chapters' stored Colab setup cell on an emulation of Colab's current runtime (make colab).

    python3 tools/colab_runtime.py [chapters/02_ntk.ipynb chapters/04_gronwall.ipynb ...]

1. builds a Python 3.13 venv in _build/colab-venv (from scratch every time) and installs, with
   --no-deps, exactly the Colab package versions listed in colab/runtime-2026-08.txt (PyPI);
2. builds an ntklib wheel from this checkout and runs the setup cell stored in
   chapters/04_gronwall.ipynb there, with NTKLIB_FORCE_COLAB_SETUP=1 (Colab detection forced) and
   NTKLIB_SOURCE=<that wheel>; pip reaches PyPI for the pinned packages, as on Colab;
3. checks the venv afterwards: jax/jaxlib are the book's 0.5.3, and every other package of
   Colab's runtime (tensorflow 2.20.0, numpy 2.1.3, ...) is still at Colab's version;
4. executes copies of the chapters (in _build/colab-run, never in place) in that venv's kernel with
   TQDM_DISABLE=1, and checks that each ran without error (the last cell, claims.report(), raises
   if a claim fails), that every claim of the session passes and they are the claims the stored
   notebook records (`ntklib_claim` output metadata; outside Jupyter Book claims are printed, so an
   appended cell reads them from ntklib.claims.recorded()), and that the kernel was this venv's
   Python 3.13 with the versions above.

Prints a summary and exits 1 on any failure. Only stdlib here; the venv does the rest.
Set COLAB_PYTHON=/path/to/python3.13 to choose the interpreter.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNTIME = ROOT / "colab" / "runtime-2026-08.txt"
BUILD = ROOT / "_build"
VENV = BUILD / "colab-venv"
RUN_DIR = BUILD / "colab-run"
SETUP_NOTEBOOK = ROOT / "chapters" / "04_gronwall.ipynb"
DEFAULT_CHAPTERS = ["chapters/02_ntk.ipynb", "chapters/04_gronwall.ipynb"]
BOOK_PINS = {"jax": "0.5.3", "jaxlib": "0.5.3"}  # what the setup cell is meant to change
MUST_KEEP = ("tensorflow", "numpy")  # named in the summary; every other Colab pin is checked as well
CHAPTER_TIMEOUT = 900


class Failure(Exception):
    pass


def log(msg: str) -> None:
    print(f"[colab {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_pins() -> dict[str, str]:
    pins = {}
    for line in RUNTIME.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, sep, version = line.partition("==")
            if not sep:
                raise Failure(f"{RUNTIME.relative_to(ROOT)}: {line!r} is not name==version")
            pins[norm(name)] = version
    return pins


def find_python313() -> str:
    tried = []
    candidates = [os.environ["COLAB_PYTHON"]] if os.environ.get("COLAB_PYTHON") else []
    candidates += [shutil.which("python3.13") or "python3.13"]
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.13*/bin/python3.13")), reverse=True)
    for exe in candidates:
        tried.append(exe)
        try:
            out = subprocess.run([exe, "-c", "import sys; print(sys.version_info[:2] == (3, 13))"],
                                 capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if out.returncode == 0 and out.stdout.strip() == "True":
            return exe
        if os.environ.get("COLAB_PYTHON") == exe:
            raise Failure(f"COLAB_PYTHON={exe} is not a working Python 3.13")
    raise Failure("no Python 3.13 found (tried: " + ", ".join(tried) + "). Colab's runtime is Python 3.13: "
                  "install it (e.g. `pyenv install 3.13`) or set COLAB_PYTHON=/path/to/python3.13")


def run(cmd, what: str, **kw) -> subprocess.CompletedProcess:
    result = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    if result.returncode != 0:
        raise Failure(f"{what} failed (exit {result.returncode}):\n{(result.stdout + result.stderr)[-3000:]}")
    return result


def clean_env(**extra) -> dict:
    """The environment of a Colab user: none of this machine's venv, no forced pip/Python settings."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "VIRTUAL_ENV", "NTKLIB_", "JUPYTER_", "MPL"))}
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1", TF_CPP_MIN_LOG_LEVEL="3",
               TQDM_DISABLE="1", PATH=f"{VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}")
    env.update(extra)
    return env


def build_venv(python: str, pins: dict[str, str]) -> Path:
    shutil.rmtree(VENV, ignore_errors=True)
    run([python, "-m", "venv", VENV], "creating the venv")
    py = VENV / "bin" / "python"
    tools = [f"{n}=={pins[n]}" for n in ("pip", "setuptools", "wheel")]
    run([py, "-m", "pip", "install", "-q", *tools], "installing Colab's pip/setuptools/wheel", env=clean_env())
    run([py, "-m", "pip", "install", "-q", "--no-deps", "-r", RUNTIME], "installing Colab's runtime",
        env=clean_env())
    return py


def installed(py: Path) -> dict[str, str]:
    out = run([py, "-c", "import importlib.metadata as m, json; print(json.dumps("
                         "{d.metadata['Name']: d.version for d in m.distributions()}))"],
              "listing installed packages", env=clean_env())
    return {norm(k): v for k, v in json.loads(out.stdout).items()}


def build_wheel(py: Path, tmp: Path) -> Path:
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "ntklib", src / "ntklib", ignore=shutil.ignore_patterns("__pycache__"))
    # With build isolation, as `pip install git+...` does on Colab: pip fetches the build backend
    # pyproject.toml asks for (setuptools>=77 reads its SPDX licence; Colab's own setuptools may not).
    run([py, "-m", "pip", "wheel", "-q", "--no-deps", "-w", tmp / "wheels", src],
        "building the ntklib wheel", env=clean_env())
    return next((tmp / "wheels").glob("ntklib-*.whl"))


def stored_setup_cell(path: Path) -> str:
    nb = json.loads(path.read_text())
    cell = next(c for c in nb["cells"] if c["cell_type"] == "code")
    if "colab-setup" not in cell.get("metadata", {}).get("tags", []):
        raise Failure(f"{path.relative_to(ROOT)}: the first code cell is not the Colab setup cell")
    src = cell["source"]
    return "".join(src) if isinstance(src, list) else src


# Runs inside the venv: execute one notebook copy, then report its claims and the kernel's versions.
# Outside Jupyter Book (Colab, here) there is no myst_nb, so claims are printed, not glued with
# `ntklib_claim` metadata; an appended cell dumps the session's claims (ntklib.claims.recorded()).
EXECUTE = r"""
import json, sys
import nbformat
from nbclient import NotebookClient

src, dst, kernel, timeout = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
nb = nbformat.read(src, as_version=4)
stored = sorted({o["metadata"]["ntklib_claim"]["name"] for c in nb.cells for o in c.get("outputs", [])
                 if "ntklib_claim" in o.get("metadata", {})})
nb.cells.append(nbformat.v4.new_code_cell(
    "import dataclasses as _d, importlib.metadata as _m, json as _j, sys as _s, ntklib as _n\n"
    "from ntklib import claims as _c\n"
    "print('COLAB-KERNEL ' + _j.dumps({'python': _s.version.split()[0], 'ntklib': _n.__file__,\n"
    "    'claims': [{**_d.asdict(c), 'checked': bool(c.checked), 'passes': bool(c.passes),\n"
    "                'expected': c.describe()} for c in _c.recorded()],\n"
    "    **{p: _m.version(p) for p in ('jax', 'jaxlib', 'numpy', 'tensorflow', 'neural-tangents', 'tf2jax')}},\n"
    "    default=float))"))
error = None
try:
    NotebookClient(nb, timeout=timeout, kernel_name=kernel, record_timing=False,
                   resources={"metadata": {"path": str(__import__("pathlib").Path(dst).parent)}}).execute()
except Exception as exc:
    error = f"{type(exc).__name__}: {str(exc)[-2500:]}"
nbformat.write(nb, dst)
kernel_info, report = {}, ""
for cell in nb.cells:
    for out in cell.get("outputs", []):
        text = out.get("text", "")
        if "COLAB-KERNEL " in text:
            kernel_info = json.loads(text.split("COLAB-KERNEL ", 1)[1])
        if "checked claims hold" in text:
            report = [l for l in text.splitlines() if "checked claims hold" in l][-1]
print(json.dumps({"error": error, "kernel": kernel_info, "report": report, "stored": stored}))
"""


def execute_chapter(py: Path, path: Path, kernel_dir: Path, expected: dict[str, str]) -> str:
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    dst = RUN_DIR / path.name
    start = time.time()
    env = clean_env(JUPYTER_PATH=str(kernel_dir), JUPYTER_PLATFORM_DIRS="1",
                    JUPYTER_CONFIG_DIR=str(kernel_dir / "config"), JUPYTER_DATA_DIR=str(kernel_dir / "data"))
    result = run([py, "-c", EXECUTE, path, dst, "colab-py313", CHAPTER_TIMEOUT], f"executing {path.name}",
                 env=env, cwd=RUN_DIR)
    info = json.loads(result.stdout.strip().splitlines()[-1])
    seconds = time.time() - start
    if info["error"]:
        raise Failure(f"{path.name} raised in execution ({seconds:.0f} s; copy kept at "
                      f"{dst.relative_to(ROOT)}):\n{info['error']}")
    kernel = info["kernel"]
    claims = kernel.get("claims", [])
    checked = [c for c in claims if c["checked"]]
    failed = [f"{c['name']}={c['value']} (expected {c['expected']})" for c in checked if not c["passes"]]
    if not checked:
        raise Failure(f"{path.name}: the session recorded no checked claim")
    if failed:
        raise Failure(f"{path.name}: claims failed: {failed}")
    if sorted(c["name"] for c in claims) != info["stored"]:
        raise Failure(f"{path.name}: the claims stated here {sorted(c['name'] for c in claims)} differ from the "
                      f"stored notebook's {info['stored']}")
    m = re.match(r"(\d+) of (\d+) checked claims hold", info["report"])
    if not m or m.group(1) != m.group(2) or int(m.group(2)) != len(checked):
        raise Failure(f"{path.name}: claims.report() says {info['report']!r}, the session recorded "
                      f"{len(checked)} checked claims")
    kernel = {k: v for k, v in kernel.items() if k != "claims"}
    wrong = {k: kernel.get(k) for k, v in expected.items() if kernel.get(k) != v}
    if wrong or not Path(kernel.get("ntklib", "/")).resolve().is_relative_to(VENV.resolve()):
        raise Failure(f"{path.name}: the kernel did not run the emulated runtime: {kernel}")
    return (f"{path.name}: {len(checked)} of {len(checked)} checked claims hold, the same claims as the stored "
            f"notebook ({seconds:.0f} s)")


def main(argv: list[str]) -> int:
    start = time.time()
    chapters = [ROOT / a for a in (argv or DEFAULT_CHAPTERS)]
    for path in chapters:
        if not path.is_file() or path.suffix != ".ipynb":
            print(f"colab: no notebook {path}")
            return 2
    summary = []
    try:
        pins = runtime_pins()
        python = find_python313()
        log(f"building {VENV.relative_to(ROOT)} with {python} and {len(pins)} packages of "
            f"{RUNTIME.relative_to(ROOT)} (--no-deps, from PyPI)")
        py = build_venv(python, pins)
        before = installed(py)
        missing = sorted(n for n, v in pins.items() if before.get(n) != v)
        if missing:
            raise Failure(f"the venv does not match {RUNTIME.name} for {missing}")
        version = run([py, "-c", "import sys; print(sys.version.split()[0])"], "python").stdout.strip()
        summary.append(f"emulated runtime: Python {version}, "
                       + ", ".join(f"{n} {pins[n]}" for n in ("jax", "jaxlib", "numpy", "tensorflow")))

        setup = stored_setup_cell(SETUP_NOTEBOOK)
        for path in chapters:
            if stored_setup_cell(path) != setup:
                raise Failure(f"{path.name}'s setup cell differs from {SETUP_NOTEBOOK.name}'s: run make sync")
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            wheel = build_wheel(py, tmp)
            log(f"running the stored setup cell of {SETUP_NOTEBOOK.name} (NTKLIB_SOURCE={wheel.name})")
            t0 = time.time()
            cell = subprocess.run([str(py), "-c", setup], capture_output=True, text=True, cwd=tmp, timeout=1200,
                                  env=clean_env(NTKLIB_FORCE_COLAB_SETUP="1", NTKLIB_SOURCE=str(wheel)))
        printed = cell.stdout.strip()
        print("  | " + printed.replace("\n", "\n  | "))
        if cell.returncode != 0 or not printed.startswith("Installed "):
            raise Failure(f"the setup cell did not install the stack (exit {cell.returncode}):\n"
                          f"{printed}\n{cell.stderr[-2000:]}")
        summary.append(f"setup cell: {printed.splitlines()[0]} ({time.time() - t0:.0f} s)")

        after = installed(py)
        expected = {**pins, **BOOK_PINS}
        changed = sorted(f"{n} {pins.get(n, '-')} -> {after.get(n, 'removed')}"
                         for n, v in expected.items() if after.get(n) != v)
        if changed:
            raise Failure("after the setup cell the venv no longer has Colab's (or the book's) versions: "
                          + "; ".join(changed))
        added = sorted(f"{n} {v}" for n, v in after.items() if n not in pins)
        summary.append("after the cell: " + ", ".join(f"{n} {after[n]}" for n in (*BOOK_PINS, *MUST_KEEP))
                       + f"; every other Colab package unchanged; added: {', '.join(added)}")

        kernel_dir = Path(tempfile.mkdtemp(prefix="colab-kernel-"))
        try:
            spec = kernel_dir / "kernels" / "colab-py313"
            spec.mkdir(parents=True)
            (spec / "kernel.json").write_text(json.dumps({
                "argv": [str(py), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Python 3.13 (Colab runtime 2026-08)", "language": "python"}))
            want = {"python": version, **BOOK_PINS, **{n: pins[n] for n in MUST_KEEP}}
            for path in chapters:
                log(f"executing a copy of {path.relative_to(ROOT)} in {RUN_DIR.relative_to(ROOT)}")
                summary.append(execute_chapter(py, path, kernel_dir, want))
        finally:
            shutil.rmtree(kernel_dir, ignore_errors=True)
    except Failure as exc:
        print("\n".join(["", "make colab FAILED", *("  ok: " + s for s in summary), f"  FAILED: {exc}"]))
        return 1
    print("\n".join(["", f"make colab passed ({time.time() - start:.0f} s): Colab's runtime of 2026-08 "
                     f"({RUNTIME.relative_to(ROOT)})", *("  ok: " + s for s in summary)]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
