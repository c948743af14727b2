"""Figures in a notebook are 'retina' PNG: twice the pixels, shown at the normal size, reproducible.

``plotting.set_style()`` selects the format in a kernel (the book's build, nbval, Colab). Checked in
a real kernel (nbclient), drawing the same figure twice: the same figure gives the same bytes.
"""

from __future__ import annotations

import base64
import os
import struct
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]

CODE = """\
import matplotlib.pyplot as plt
from ntklib import plotting
plotting.set_style()
fig, ax = plt.subplots(figsize=(4, 2))
ax.plot([0, 1, 2], [0, 1, 4], label="a line")
ax.legend()
plt.show()
"""


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) in pixels from a PNG's IHDR chunk."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"not a PNG: starts with {data[:8]!r}")
    return struct.unpack(">II", data[16:24])


def run_cells(*cells: str) -> list[list]:
    """The outputs of each cell, executed in order in one fresh kernel."""
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(code) for code in cells]
    env_path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    os.environ["PYTHONPATH"] = env_path  # the kernel imports this checkout's ntklib
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    return [cell.outputs for cell in nb.cells]


@pytest.fixture(scope="module")
def outputs():
    """The same figure drawn twice (two cells, each calling set_style again)."""
    old = os.environ.get("PYTHONPATH")
    try:
        return run_cells(CODE, CODE)
    finally:
        if old is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old


def test_figure_is_retina_png_at_the_normal_display_size(outputs):
    (out,) = [o for o in outputs[0] if "image/png" in o.get("data", {})]
    pixels = png_size(base64.b64decode(out["data"]["image/png"]))
    shown = out["metadata"]["image/png"]
    # figure.dpi 100: a 4 x 2 inch figure shows at about 400 x 200 CSS pixels (the tight bbox trims
    # or adds a little) and has twice as many pixels each way (the display size is rounded down).
    assert (shown["width"], shown["height"]) == (pixels[0] // 2, pixels[1] // 2), (pixels, shown)
    assert 300 <= shown["width"] <= 450 and 150 <= shown["height"] <= 250, shown


def test_same_figure_same_bytes(outputs):
    first, second = ([o["data"]["image/png"] for o in run if "image/png" in o.get("data", {})]
                     for run in outputs)
    assert first == second


def test_png_size_rejects_other_data():
    with pytest.raises(ValueError, match="not a PNG"):
        png_size(b"GIF89a" + bytes(30))
