"""pytest configuration shared by tests/ and the nbval run over chapters/.

Notebook kernels started by nbval inherit this environment: no tqdm progress widgets, whose
output the stored notebooks (executed with TQDM_DISABLE=1) do not contain.

nbval compares stored and fresh outputs as exact text. ``_compare_within_printed_precision``
wraps that comparison: a fresh output string that agrees with the stored one in the sense of
``tools/printed.py`` (same words, each number within one unit in its last printed digit, integers
equal) is replaced by the stored string before nbval's own exact comparison runs, so everything
else (other strings, the count and kind of outputs) is still compared exactly and a real
difference is reported by nbval as before. Another CPU's float32 round-off moves a number sitting
on a rounding boundary by one unit in its last digit; that is all this admits.
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent / "tools"))

import printed  # noqa: E402


def _install_nbval_comparison() -> None:
    try:
        from nbval.plugin import IPyNbCell
    except ImportError:  # nbval not installed: nothing to wrap
        return
    if getattr(IPyNbCell.compare_outputs, "within_printed_precision", False):
        return
    exact = IPyNbCell.compare_outputs

    def compare_outputs(self, test, ref, skip_compare=None):
        return exact(self, printed.reconcile_outputs(test, ref, self.sanitize), ref, skip_compare)

    compare_outputs.within_printed_precision = True
    IPyNbCell.compare_outputs = compare_outputs



_install_nbval_comparison()
