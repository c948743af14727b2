"""Sphinx extension: leave each chapter's Colab setup cell out of the PDF.

The cell tagged ``colab-setup`` installs the pinned stack in Colab and does nothing elsewhere; the
website folds it away (``hide-cell``), but LaTeX has no fold, so it would print a page of install
code at the start of every chapter. This post-transform removes the cell's container (myst-nb
gives it the class ``tag_colab-setup``) from LaTeX output only; the website is unchanged.
"""

from __future__ import annotations

from docutils import nodes
from sphinx.transforms.post_transforms import SphinxPostTransform

TAG_CLASS = "tag_colab-setup"


class DropColabSetup(SphinxPostTransform):
    default_priority = 999
    formats = ("latex",)

    def run(self, **kwargs) -> None:
        for cell in list(self.document.findall(nodes.container)):
            if TAG_CLASS in cell.get("classes", []) and cell.parent is not None:
                cell.parent.remove(cell)


def setup(app):
    app.add_post_transform(DropColabSetup)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
