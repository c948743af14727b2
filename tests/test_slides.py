"""The lecture decks of tools/slides.py: one per lecture, no solution, nothing from another host.

The decks are built afresh (from the stored notebooks; nothing is executed) into a temporary
folder, or taken from ``$NTKLIB_SLIDES_DIR`` when it is set (check another build). Static checks:
one deck per lecture of :data:`slides.LECTURES` and the zip holding them with their assets; no
deck contains a sentence of any exercise's solution (the text between ``solution-start`` and
``solution-end``, as tools/student.py cuts it) nor a MyST leftover (``{glue``, ``{doc}``,
``{prf:`` ...); every script, stylesheet and image is a local file next to the deck. Browser test
(marker ``site``, headless Chromium as in tests/test_site.py): each deck opened from ``file://``
with every other request aborted initialises reveal.js, has slides, MathJax has typeset formulas
(``mjx-container``) and no raw ``$$`` or TeX is left in the visible text, and at least one figure
``<img>`` has loaded (``naturalWidth > 0``).
"""

from __future__ import annotations

import html.parser
import os
import re
import sys
import urllib.parse
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import slides  # noqa: E402  (tools/slides.py)
import student  # noqa: E402  (tools/student.py)

LEFTOVERS = ["{glue", "{doc}", "{prf:", "{ref}", "{numref}", "{cite", "{eq}", "{exercise",
             "{solution", "{admonition", "{math}", ":::", "(ch1-sec", "]="]
RAW_TEX = re.compile(r"\$\$|\\(?:Theta|ntk|flin|etacrit|frac|lVert|rVert|mathcal|mathbb|sqrt|begin)\b")


@pytest.fixture(scope="module")
def deck_dir(tmp_path_factory) -> Path:
    given = os.environ.get("NTKLIB_SLIDES_DIR")
    if given:
        return Path(given)
    out = tmp_path_factory.mktemp("slides")
    slides.build(out)
    return out


def deck_paths(folder: Path) -> dict[int, Path]:
    return {k: slides.deck_path(folder, k) for k in sorted(slides.LECTURES)}


class _Page(html.parser.HTMLParser):
    """The text a deck shows (no script or style) and every script/stylesheet/image it loads."""

    def __init__(self):
        super().__init__()
        self.text: list[str] = []
        self.assets: list[tuple[str, str]] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("script", "style"):
            self._skip += 1
        if tag == "script" and a.get("src"):
            self.assets.append(("script", a["src"]))
        elif tag == "link" and "stylesheet" in (a.get("rel") or ""):
            self.assets.append(("stylesheet", a.get("href", "")))
        elif tag == "img":
            self.assets.append(("img", a.get("src", "")))

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.text.append(data)


def parsed(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def normalized(text: str) -> str:
    return " ".join(text.split())


def solution_phrases() -> list[tuple[str, str]]:
    """``(chapter:label, phrase)``: every run of 8 plain words (no math, code or roles) of every
    exercise solution in the chapters."""
    out = []
    for path in student.chapters():
        for label, text in student.build(path).solution_text:
            plain = re.sub(r"\$\$.*?\$\$|\$[^$]*\$|`[^`]*`|\{[\w:-]+\}|:::.*", " ", text, flags=re.S)
            for sentence in re.split(r"[.;:!?()\[\]]", plain):
                words = sentence.split()
                for k in range(0, max(len(words) - 7, 0), 4):
                    out.append((f"{path.stem}:{label}", " ".join(words[k:k + 8])))
    return out


def test_one_deck_per_lecture(deck_dir):
    assert sorted(slides.LECTURES) == [1, 2, 3, 4, 5, 6]
    decks = sorted(deck_dir.glob("lecture_*.slides.html"))
    assert decks == sorted(deck_paths(deck_dir).values())
    with zipfile.ZipFile(deck_dir / slides.ZIP_NAME) as z:
        names = set(z.namelist())
    for path in decks:
        assert f"{slides.ZIP_FOLDER}/{path.name}" in names
    assert f"{slides.ZIP_FOLDER}/reveal.js/dist/reveal.js" in names
    assert f"{slides.ZIP_FOLDER}/mathjax/tex-chtml.js" in names


def test_lecture_plan_sections_exist():
    """Every section the plan names is a section of its chapter (a renamed heading fails here)."""
    import nbformat

    for lecture, (_, ranges) in slides.LECTURES.items():
        for stem, first, stop in ranges:
            nb = nbformat.read(str(ROOT / "chapters" / f"{stem}.ipynb"), as_version=4)
            assert slides.in_range(nb, first, stop, f"lecture {lecture}"), (lecture, stem)


def test_no_solution_in_any_deck(deck_dir):
    phrases = solution_phrases()
    assert len(phrases) > 100  # the chapters' solutions are found
    for k, path in deck_paths(deck_dir).items():
        text = normalized(" ".join(parsed(path).text))
        leaked = [(where, p) for where, p in phrases if p in text]
        assert not leaked, f"lecture {k} shows solution text: {leaked[:5]}"
        assert "Solution" not in text and "solution-start" not in text


def test_no_myst_leftovers(deck_dir):
    for k, path in deck_paths(deck_dir).items():
        text = " ".join(parsed(path).text)
        found = [s for s in LEFTOVERS if s in text]
        assert not found, f"lecture {k}: MyST left in the deck: {found}"


def test_every_asset_is_local(deck_dir):
    for k, path in deck_paths(deck_dir).items():
        page = parsed(path)
        kinds = {kind for kind, _ in page.assets}
        assert {"script", "stylesheet", "img"} <= kinds, (k, kinds)
        for kind, url in page.assets:
            parts = urllib.parse.urlsplit(url)
            if parts.scheme == "data":
                continue
            assert not parts.scheme and not parts.netloc, f"lecture {k}: {kind} from another host: {url}"
            assert (deck_dir / parts.path).is_file(), f"lecture {k}: {kind} {url} is not next to the deck"
        source = path.read_text(encoding="utf-8")
        assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", source), k
        assert not re.search(r"@import\s+url\(\s*['\"]?(?:https?:)?//", source), k


def test_first_sentence():
    assert slides.first_sentence("The gap is 0.12 (Fig. 2). It shrinks.") == "The gap is 0.12 (Fig. 2)."
    assert slides.first_sentence("At $x = 1.5$ the loss: more") == "At $x = 1.5$ the loss."
    assert slides.first_sentence("e.g. [a: b] holds") == "e.g. [a: b] holds"


# --------------------------------------------------------------------------- in the browser

_CHECK = """() => {
  const slides = Reveal.getSlides();
  const text = slides.map(s => {
    const c = s.cloneNode(true);
    c.querySelectorAll('mjx-container, script, style, aside.notes').forEach(e => e.remove());
    return c.textContent;
  });
  const imgs = [...document.querySelectorAll('.reveal .slides img')];
  return {ready: Reveal.isReady(), slides: Reveal.getTotalSlides(),
          math: document.querySelectorAll('.reveal .slides mjx-container').length,
          mathErrors: document.querySelectorAll('mjx-merror').length,
          text: text,
          loaded: imgs.filter(i => i.complete && i.naturalWidth > 0).length, images: imgs.length};
}"""


@pytest.mark.site
def test_decks_render_offline(deck_dir):
    from playwright.sync_api import sync_playwright
    from test_site import CHROMIUM_ARGS, chromium_path

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True)
        try:
            for k, path in deck_paths(deck_dir).items():
                context = browser.new_context(viewport={"width": 1280, "height": 720}, service_workers="block")
                external, errors = [], []

                def route(r, external=external):
                    if urllib.parse.urlsplit(r.request.url).scheme in ("file", "data", "blob", "about"):
                        r.continue_()
                    else:
                        external.append(r.request.url)
                        r.abort()

                context.route("**/*", route)
                page = context.new_page()
                page.on("console", lambda m, errors=errors: m.type == "error" and errors.append(m.text))
                page.on("pageerror", lambda e, errors=errors: errors.append(f"uncaught: {e}"))
                page.goto(path.resolve().as_uri(), wait_until="load", timeout=120_000)
                page.wait_for_function("() => window.Reveal && Reveal.isReady()", timeout=60_000)
                page.evaluate("() => MathJax.startup.promise")
                got = page.evaluate(_CHECK)
                context.close()
                assert not external, f"lecture {k} requested other hosts: {external}"
                assert not errors, f"lecture {k}: {errors}"
                assert got["ready"] and got["slides"] >= 5, (k, got["slides"])
                assert got["math"] > 0 and got["mathErrors"] == 0, (k, got["math"], got["mathErrors"])
                raw = [t for t in got["text"] if RAW_TEX.search(t)]
                assert not raw, f"lecture {k}: raw TeX left on a slide: {[RAW_TEX.search(t).group(0) for t in raw]}"
                assert got["loaded"] >= 1 and got["loaded"] == got["images"], (k, got["loaded"], got["images"])
        finally:
            browser.close()
