"""Notebook maintenance for the book: execute, convert, and keep the Colab setup cell in sync.

    python tools/nbtool.py execute chapters/01_parameterization.ipynb [...]   # fresh kernel, in place
    python tools/nbtool.py sync                                               # rewrite setup cells
    python tools/nbtool.py sync --ref v0.1.1                                  # set ntklib_ref, then sync
    python tools/nbtool.py check-sync                                         # exit 1 if out of date
    python tools/nbtool.py to-py chapters/X.ipynb > /tmp/X.py                 # percent-format view
    python tools/nbtool.py from-py /tmp/X.py chapters/X.ipynb                 # and back (.ipynb stays the source)
    python tools/nbtool.py reset-cache                                        # drop stale book-cache entries
    python tools/nbtool.py execute-cache [--jobs N]                           # fill the book's cache, N at a time

Execution sets TQDM_DISABLE=1 (no progress-bar text in stored outputs) and keeps no timing
metadata, so re-executing an unchanged notebook leaves an identical file.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
SETUP_TAG = "colab-setup"
PINS = ["jax==0.5.3", "jaxlib==0.5.3", "neural-tangents==0.6.5", "tf2jax==0.3.7"]


def repository() -> tuple[str, str]:
    """(url, branch) from _config.yml — the one place the repository is named."""
    text = (ROOT / "_config.yml").read_text()
    block = text[text.index("\nrepository:"):]
    url = re.search(r'\n\s+url:\s*"?([^"\n]+)"?', block).group(1).strip()
    branch = re.search(r'\n\s+branch:\s*"?([^"\n]+)"?', block).group(1).strip()
    return url, branch


REF_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._/-]*"


def ntklib_ref() -> str:
    """The fixed ref (tag or commit) the Colab cell installs ntklib from: `ntklib_ref` in _config.yml."""
    text = (ROOT / "_config.yml").read_text()
    match = re.search(r'^\s+ntklib_ref:\s*"?([^"\n#]*?)"?\s*(?:#.*)?$', text, re.M)
    if match is None:
        raise SystemExit("_config.yml has no repository.ntklib_ref (the tag or commit Colab installs ntklib from)")
    ref = match.group(1).strip()
    check_ref(ref)
    return ref


def _git(*args) -> bool:
    """True if `git args...` succeeds in this checkout (False without git or outside a checkout)."""
    if shutil.which("git") is None:
        return False
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True).returncode == 0


def check_ref(ref: str) -> None:
    """A fixed ref: a tag or commit name, never the moving branch the website follows."""
    _, branch = repository()
    if not re.fullmatch(REF_PATTERN, ref) or ref.endswith((".", "/", ".lock")) or ".." in ref:
        raise SystemExit(f"ntklib_ref {ref!r} is not a git tag or commit name")
    if ref in (branch, "HEAD", "main", "master"):
        raise SystemExit(f"ntklib_ref {ref!r} is a moving branch; give a tag (e.g. v0.1.0) or a commit")
    if _git("show-ref", "--verify", "--quiet", f"refs/heads/{ref}"):
        raise SystemExit(f"ntklib_ref {ref!r} is a branch of this checkout; give a tag or a commit")


def set_ref(ref: str) -> None:
    """Write `ntklib_ref: "<ref>"` into _config.yml (the `repository:` block)."""
    check_ref(ref)
    path = ROOT / "_config.yml"
    text, n = re.subn(r'^(\s+ntklib_ref:\s*)"?[^"\n#]*"?', lambda m: f'{m.group(1)}"{ref}"', path.read_text(),
                      count=1, flags=re.M)
    if n != 1:
        raise SystemExit("_config.yml has no repository.ntklib_ref line to set")
    path.write_text(text)
    if not _git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"):
        print(f"note: {ref!r} is not a tag or commit of this checkout yet; create and push it before publishing")


# The cell; setup_source() fills in @URL@ and @REF@ (from _config.yml), @PINS@ and @JAXLIB@ (from PINS).
# The CUDA plugin must match jaxlib: Colab's GPU runtime ships jax-cuda12-plugin/-pjrt for its own jax,
# and a newer plugin crashes an older jaxlib at the first array (jax-ml/jax#24901), so the cell removes it.
SETUP_TEMPLATE = """\
# Colab setup: installs the book's pinned stack and ntklib @REF@ in Google Colab;
# elsewhere it does nothing.
import importlib.metadata as _md, os, subprocess, sys
if "google.colab" in sys.modules or os.environ.get("NTKLIB_FORCE_COLAB_SETUP"):
    _repo, _ref = "@URL@", "@REF@"
    _pins = [@PINS@]
    _src = os.environ.get("NTKLIB_SOURCE", f"git+{_repo}@{_ref}")
    _version = "Runtime > Change runtime type > runtime version 2025.10"

    def _pip(*args):
        extra = os.environ.get("NTKLIB_PIP_ARGS", "").split()
        extra = extra if args[0] == "install" else []
        r = subprocess.run([sys.executable, "-m", "pip", *args, *extra],
                           capture_output=True, text=True)
        return r.returncode == 0, r.stdout + r.stderr

    def _failed(what, out):
        _tail = "\\n".join(out.strip().splitlines()[-10:])
        if "ResolutionImpossible" in out or "conflicting dependencies" in out:
            _keys = ("ERROR", " requires ", " depends on ", "user requested")
            _why = [l for l in out.splitlines()
                    if l.startswith("ERROR") or any(k in l for k in _keys[1:])]
            return (f"Install failed: {what} conflicts with this runtime's packages. "
                    f"Pick {_version} and rerun, or report these lines at "
                    f"{_repo}/issues:\\n" + "\\n".join(_why))
        if "No matching distribution" in out:
            _py = sys.version.split()[0]
            return (f"Install failed: pip found no wheel of {what} for Python {_py}. "
                    f"Pick {_version}, then rerun this cell.\\n" + _tail)
        return (f"Install failed: could not download {what} (no connection, or no "
                f"such tag there). Rerun; if it fails again, report it at "
                f"{_repo}/issues.\\n" + _tail)

    # Colab's GPU runtime has a CUDA plugin for its own, newer jaxlib; it would crash
    # jaxlib @JAXLIB@: remove it.
    _gpu = {n: d.version
            for n in ("jax-cuda12-plugin", "jax-cuda12-pjrt", "jax-cuda13-plugin",
                      "jax-cuda13-pjrt")
            for d in _md.distributions(name=n) if d.version != "@JAXLIB@"}
    _ok, _out = _pip("install", *_pins)
    if not _ok:
        print(_failed(", ".join(_pins), _out))
    elif _gpu and not _pip("uninstall", "-y", *_gpu)[0]:
        _names = " ".join(_gpu)
        print(f"Could not remove {', '.join(_gpu)}: run  !pip uninstall -y {_names}  "
              "and rerun this cell.")
    else:
        _ok, _out = _pip("install", _src)
        print(f"Installed {', '.join(_pins)} and ntklib {_ref}." if _ok
              else _failed(f"ntklib {_ref} from {_src}", _out))
        if _ok and _gpu:
            _removed = ", ".join(f"{n} {v}" for n, v in _gpu.items())
            print(f"Removed {_removed} (built for a newer jaxlib, it would crash "
                  "jaxlib @JAXLIB@): jax runs on the CPU.")
        if _ok and "jax" in sys.modules:
            print("jax was imported before this cell ran, so this session still runs "
                  "the old jax: pick Runtime > Restart session, then run the notebook "
                  "from the top.")"""


def setup_source() -> str:
    """The first code cell of every chapter (Colab only; silent elsewhere)."""
    url, _ = repository()
    ref = ntklib_ref()
    jaxlib = next(p.split("==")[1] for p in PINS if p.startswith("jaxlib=="))
    return (SETUP_TEMPLATE.replace("@URL@", url).replace("@REF@", ref).replace("@JAXLIB@", jaxlib)
            .replace("@PINS@", "\n             ".join(f'"{p}",' for p in PINS).rstrip(",")))


def load(path) -> nbformat.NotebookNode:
    return nbformat.read(str(path), as_version=4)


def save(nb, path) -> None:
    nbformat.write(nb, str(path))


def chapters() -> list[Path]:
    return sorted((ROOT / "chapters").glob("*.ipynb"))


def _setup_cell(nb):
    for cell in nb.cells:
        if cell.cell_type == "code" and SETUP_TAG in cell.get("metadata", {}).get("tags", []):
            return cell
    return None


def sync(paths=None, check=False) -> int:
    stale = []
    for path in paths or chapters():
        nb = load(path)
        cell = _setup_cell(nb)
        if cell is None:
            cell = nbformat.v4.new_code_cell(setup_source(), metadata={"tags": [SETUP_TAG, "hide-cell"]})
            first_code = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
            nb.cells.insert(first_code, cell)
            stale.append(path)
        elif cell.source != setup_source():
            cell.source = setup_source()
            stale.append(path)
        if stale and stale[-1] == path and not check:
            save(nb, path)
    for p in stale:
        print(("out of date: " if check else "synced: ") + str(Path(p).resolve().relative_to(ROOT)))
    return 1 if (check and stale) else 0


def execute(paths, timeout=900) -> int:
    from nbclient import NotebookClient

    os.environ.setdefault("TQDM_DISABLE", "1")
    status = 0
    for path in paths:
        path = Path(path).resolve()
        nb = load(path)
        start = time.time()
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                                resources={"metadata": {"path": str(path.parent)}})
        try:
            client.execute()
        except Exception as exc:  # keep the partial outputs for inspection
            print(f"FAILED {path.name}: {type(exc).__name__}: {str(exc)[-3000:]}")
            status = 1
        save(nb, path)
        print(f"{path.relative_to(ROOT)}: {time.time() - start:.1f} s")
    return status


def to_py(path) -> str:
    nb = load(path)
    out = []
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        suffix = f" tags={json.dumps(tags)}" if tags else ""
        if cell.cell_type == "markdown":
            out.append(f"# %% [markdown]{suffix}\n" + "\n".join(("# " + l) if l else "#" for l in cell.source.splitlines()))
        else:
            out.append(f"# %%{suffix}\n" + cell.source)
    return "\n\n".join(out) + "\n"


def from_py(src, dst) -> None:
    text = Path(src).read_text()
    parts = re.split(r"^# %%(.*)$", text, flags=re.M)
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                   "language_info": {"name": "python"}}
    for header, body in zip(parts[1::2], parts[2::2]):
        tags = []
        m = re.search(r"tags=(\[.*\])", header)
        if m:
            tags = json.loads(m.group(1))
        meta = {"tags": tags} if tags else {}
        body = body.strip("\n")
        if "[markdown]" in header:
            lines = [l[2:] if l.startswith("# ") else ("" if l == "#" else l) for l in body.splitlines()]
            nb.cells.append(nbformat.v4.new_markdown_cell("\n".join(lines), metadata=meta))
        else:
            nb.cells.append(nbformat.v4.new_code_cell(body, metadata=meta))
    save(nb, dst)


# ----------------------------------------------------------------------------- execution cache


CACHE_DIR = ROOT / "_build" / ".jupyter_cache"
CACHE_KEYS = ROOT / "_build" / ".cache-keys.json"
_EXPERIMENTS_USE = re.compile(r"ntklib\.experiments(?:\.(\w+)|\s+import\s+\(?([\w ,]+))")
_RELATIVE_IMPORT = re.compile(r"^from \.(\w*) import ([\w ,()]+)", re.M)


def _experiment_modules(names: set[str]) -> set[str]:
    """``names`` closed over the imports among ntklib.experiments' submodules."""
    todo, seen = list(names), set()
    while todo:
        name = todo.pop()
        path = ROOT / "ntklib" / "experiments" / f"{name}.py"
        if name in seen or not path.exists():
            continue
        seen.add(name)
        for module, imported in _RELATIVE_IMPORT.findall(path.read_text()):
            todo += [module] if module else [n.strip() for n in imported.strip("()").split(",")]
    return seen


def chapter_sources(path: Path) -> list[Path]:
    """The files a chapter's computation depends on: the lock, ntklib's top-level modules (every
    chapter imports ntklib), ntklib.experiments' package and the experiment modules the chapter
    imports (and theirs)."""
    code = "\n".join("".join(c.source) for c in load(path).cells if c.cell_type == "code")
    names = set()
    for module, listed in _EXPERIMENTS_USE.findall(code):
        names |= {module} if module else {n.split(" as ")[0].strip() for n in listed.split(",")}
    files = [ROOT / "requirements.txt", *sorted((ROOT / "ntklib").glob("*.py")),
             ROOT / "ntklib" / "experiments" / "__init__.py"]
    files += [ROOT / "ntklib" / "experiments" / f"{m}.py" for m in sorted(_experiment_modules(names))]
    return files


def chapter_key(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    for f in chapter_sources(path):
        digest.update(f.relative_to(ROOT).as_posix().encode() + b"\0" + f.read_bytes())
    return digest.hexdigest()[:16]


def reset_cache() -> int:
    """Drop the book's cached execution of each chapter whose sources (:func:`chapter_sources`)
    changed since the last build; the others stay cached (jupyter-cache keys on the notebook)."""
    old = json.loads(CACHE_KEYS.read_text()) if CACHE_KEYS.exists() else {}
    new = {p.name: chapter_key(p) for p in chapters()}
    stale = sorted(name for name in new if old.get(name) != new[name])
    if stale and CACHE_DIR.exists():
        from jupyter_cache import get_cache

        cache = get_cache(str(CACHE_DIR))
        for record in cache.list_cache_records():
            if Path(record.uri).name in stale:
                cache.remove_cache(record.pk)
    CACHE_KEYS.parent.mkdir(parents=True, exist_ok=True)
    CACHE_KEYS.write_text(json.dumps(new, indent=1, sort_keys=True) + "\n")
    print(f"execution cache: {len(stale)} of {len(new)} chapters to re-execute"
          + (f" ({', '.join(stale)})" if stale else ""))
    return 0


def _execute_for_cache(path: str, timeout: int) -> tuple[str, object, float, str | None]:
    """Worker of :func:`execute_cache`: run one notebook in its own directory, as myst-nb does."""
    from jupyter_cache.executors.utils import single_nb_execution

    os.environ.setdefault("TQDM_DISABLE", "1")
    nb = load(path)
    result = single_nb_execution(nb, cwd=str(Path(path).parent), timeout=timeout, allow_errors=False,
                                 meta_override=True)
    return path, result.nb, result.time, result.exc_string


def _execute_setting(key: str, default):
    """A value of _config.yml's ``execute:`` section (the book build's own settings)."""
    text = (ROOT / "_config.yml").read_text()
    block = text[text.index("\nexecute:"):].split("\n\n", 1)[0]
    match = re.search(rf"^\s+{key}:\s*(\S+)", block, re.M)
    return type(default)(match.group(1)) if match else default


def execute_cache(jobs: int | None = None) -> int:
    """Execute every chapter the book's execution cache lacks, ``jobs`` notebooks at a time (each
    in a fresh kernel in its own directory, exactly as the book build would), and store the
    results in that cache, so that ``jupyter-book build`` then only renders. The build executes
    one notebook after another; a chapter's kernel keeps about 1.4 of 2 cores busy (compilation
    and small arrays are mostly single-threaded), so two at a time finish the book sooner. A
    notebook that fails is printed with its error and not cached, and the command exits 1."""
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    if jobs is None:
        jobs = min(os.cpu_count() or 1, 4)
    if jobs < 1:
        raise SystemExit(f"--jobs must be a positive number of notebooks, got {jobs}")
    cache = get_cache(str(CACHE_DIR))
    todo = []
    for path in chapters():
        try:
            cache.match_cache_notebook(load(path))
        except KeyError:
            todo.append(str(path))
    print(f"execution cache: executing {len(todo)} of {len(chapters())} chapters, {jobs} at a time",
          flush=True)
    if not todo:
        return 0
    timeout = _execute_setting("timeout", 900)
    start, total, status = time.time(), 0.0, 0
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(_execute_for_cache, p, timeout) for p in todo]
        for future in as_completed(futures):
            path, nb, seconds, error = future.result()
            name = Path(path).relative_to(ROOT)
            if error is not None:
                print(f"FAILED {name} (not cached):\n{error}", flush=True)
                status = 1
                continue
            total += seconds
            stage = cache.add_nb_to_project(path)
            cache.cache_notebook_bundle(CacheBundleIn(nb, stage.uri, data={"execution_seconds": seconds}),
                                        check_validity=False, overwrite=True)
            print(f"Executed {name} in {seconds:.1f} s (cached)", flush=True)
    print(f"execution cache: {len(todo)} chapters in {time.time() - start:.1f} s wall time, "
          f"{jobs} at a time (their own times add up to {total:.1f} s)")
    return status


def main(argv) -> int:
    if not argv:
        print(__doc__)
        return 2
    cmd, args = argv[0], argv[1:]
    if cmd == "execute":
        return execute(args or chapters())
    if cmd == "sync":
        if args[:1] == ["--ref"]:
            if len(args) < 2:
                print("sync --ref needs a tag or commit, e.g. sync --ref v0.1.1")
                return 2
            set_ref(args[1])
            args = args[2:]
        return sync(args or None)
    if cmd == "check-sync":
        return sync(args or None, check=True)
    if cmd == "reset-cache":
        return reset_cache()
    if cmd == "execute-cache":
        if args[:1] == ["--jobs"] and len(args) == 2 and args[1].isdigit():
            return execute_cache(int(args[1]))
        if args:
            print("usage: execute-cache [--jobs N]")
            return 2
        return execute_cache()
    if cmd == "to-py":
        sys.stdout.write(to_py(args[0]))
        return 0
    if cmd == "from-py":
        from_py(args[0], args[1])
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
