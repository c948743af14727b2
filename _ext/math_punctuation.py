"""Sphinx extension: keep inline math together with the punctuation that touches it.

A browser may break a line on either side of an atomic inline box, and typeset inline math is
one (MathJax draws it as an inline-block inside the theme's ``span.math``), so on a narrow
screen ``$x$.`` can leave the full stop, or the comma, at the start of the next line, and
``($x$`` the bracket at the end of the line before. This post-transform wraps each inline math
node together with the closing punctuation right after it and the opening bracket right before
it in ``<span class="math-nowrap">`` (``white-space: nowrap`` in _static/page-fit.css). Nothing
else changes: the text, the math and its TeX are the same.
"""

from __future__ import annotations

import re

from docutils import nodes
from sphinx.transforms.post_transforms import SphinxPostTransform

CLOSING = re.compile(r"^[.,;:!?)\]’”]+")
OPENING = re.compile(r"[(\[‘“]+$")


class KeepPunctuationWithMath(SphinxPostTransform):
    default_priority = 999
    formats = ("html",)

    def run(self, **kwargs) -> None:
        for math in list(self.document.findall(nodes.math)):
            parent = math.parent
            if parent is None or "math-nowrap" in parent.get("classes", []):
                continue
            # By identity: docutils Text nodes are strings, equal to any other with the same text.
            children = parent.children
            i = next(k for k, child in enumerate(children) if child is math)
            after = children[i + 1] if i + 1 < len(children) else None
            before = children[i - 1] if i > 0 else None
            closing = CLOSING.match(str(after)) if isinstance(after, nodes.Text) else None
            opening = OPENING.search(str(before)) if isinstance(before, nodes.Text) else None
            if not (closing or opening):
                continue
            wrapper, pieces = nodes.inline(classes=["math-nowrap"]), []
            if opening:
                head = str(before)[: opening.start()]
                pieces += [nodes.Text(head)] if head else []
                wrapper += nodes.Text(opening.group(0))
            wrapper += math
            pieces.append(wrapper)
            if closing:
                wrapper += nodes.Text(closing.group(0))
                tail = str(after)[closing.end():]
                pieces += [nodes.Text(tail)] if tail else []
            parent[i - 1 if opening else i: i + 2 if closing else i + 1] = pieces


def setup(app):
    app.add_post_transform(KeepPunctuationWithMath)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
