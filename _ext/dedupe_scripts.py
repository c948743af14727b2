"""Sphinx extension: drop duplicate <script> tags from every HTML page.

Inline scripts that an extension adds after the builder is initialised (sphinx-thebe's
``const THEBE_JS_URL = ...``, sphinx-togglebutton's settings) reach Sphinx 7.4's page context
twice, once with filename ``None`` and once with ``''``, so they are not recognised as equal. A
repeated ``const`` declaration is a JavaScript error on every page, which the browser tests
(tests/test_site.py) rightly reject.
"""

from __future__ import annotations


def _key(js) -> tuple:
    attrs = tuple(sorted((k, str(v)) for k, v in getattr(js, "attributes", {}).items() if k != "priority"))
    return (getattr(js, "filename", str(js)) or "", attrs)


def dedupe_scripts(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if not isinstance(scripts, list):
        return
    seen, unique = set(), []
    for js in scripts:
        key = _key(js)
        if key not in seen:
            seen.add(key)
            unique.append(js)
    scripts[:] = unique


def setup(app):
    app.connect("html-page-context", dedupe_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
