"""Notebook maintenance for the book: execute, convert, and keep the Colab setup cell in sync.

    python tools/nbtool.py execute chapters/01_parameterization.ipynb [...]   # fresh kernel, in place
    python tools/nbtool.py sync                                               # rewrite setup cells
    python tools/nbtool.py check-sync                                         # exit 1 if out of date
    python tools/nbtool.py to-py chapters/X.ipynb > /tmp/X.py                 # percent-format view
    python tools/nbtool.py from-py /tmp/X.py chapters/X.ipynb                 # and back (.ipynb stays the source)

Execution sets TQDM_DISABLE=1 (no progress-bar text in stored outputs) and keeps no timing
metadata, so re-executing an unchanged notebook leaves an identical file.
"""

from __future__ import annotations

import json
import os
import re
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


def setup_source() -> str:
    """The first code cell of every chapter (Colab only; silent elsewhere)."""
    url, branch = repository()
    return f'''# Colab setup: installs the book's pinned stack and ntklib in Google Colab; elsewhere it does nothing.
import os, subprocess, sys
if "google.colab" in sys.modules or os.environ.get("NTKLIB_FORCE_COLAB_SETUP"):
    _source = os.environ.get("NTKLIB_SOURCE", "git+{url}@{branch}")
    _cmd = [sys.executable, "-m", "pip", "install", "-q", {", ".join(repr(p) for p in PINS)}, _source]
    _run = subprocess.run(_cmd + os.environ.get("NTKLIB_PIP_ARGS", "").split(), capture_output=True, text=True)
    print("Installed {", ".join(PINS)} and ntklib; restart the session if jax was imported before."
          if _run.returncode == 0 else
          "Install failed. If pip found no wheel for this Python, choose Runtime > Change runtime type > "
          "runtime version 2025.10, then rerun this cell.\\n" + _run.stderr[-1500:])'''


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


def main(argv) -> int:
    if not argv:
        print(__doc__)
        return 2
    cmd, args = argv[0], argv[1:]
    if cmd == "execute":
        return execute(args or chapters())
    if cmd == "sync":
        return sync(args or None)
    if cmd == "check-sync":
        return sync(args or None, check=True)
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
