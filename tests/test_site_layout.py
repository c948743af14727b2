"""The built website at a desktop and a phone width, in light and dark mode: nothing clipped.

Run after ``make book`` (``make test`` does both), like tests/test_site.py (whose server, browser
and skip rules this module shares); marker ``site``. Every page is opened at 1280 px and 390 px
wide with every collapsed block (hidden code, solutions) opened, and checked:

- the page itself never scrolls sideways;
- every display equation (MathJax ``mjx-container[display]``) fits its box and the article column,
  and its equation number is not drawn over it;
- every image and figure lies inside the article column;
- a table, a code cell or a printed output wider than the column scrolls inside its own box
  (``overflow-x: auto``), which itself lies inside the column.

Then the theme's own switch turns on dark mode, in which every chapter figure must keep an opaque
white background and no dimming filter. A failure names the page, the width and each offending
element (its id or classes, the nearest id around it and the start of its text). Screenshots of
every page at both widths, light and dark, are saved as ``_build/screenshots/<page>__<width>.png``
and ``..._<width>-dark.png`` (artifacts, with every collapsed block open: look at them).
Every chapter figure is a ``<figure>`` with a numbered, non-empty caption and non-empty alt text
(the notebooks' cell metadata ``mystnb.figure.caption``/``name`` and ``mystnb.image.alt``).
"""

from __future__ import annotations

import html.parser

import nbformat
import pytest
from test_site import (  # noqa: F401  (fixtures)
    CHAPTERS,
    ROOT,
    SITE,
    LoadedPage,
    browser,
    chapter_page,
    pages,
    server,
    stored_images,
)

pytestmark = [
    pytest.mark.site,
    pytest.mark.skipif(not SITE.is_dir(), reason=f"{SITE} does not exist: run `make book` first"),
]

SHOTS = ROOT / "_build" / "screenshots"
WIDTHS = {"desktop": 1280, "phone": 390}
TOLERANCE_PX = 1  # sub-pixel rounding of layout boxes

# Open every collapsed block (myst-nb hide-input cells and togglebutton dropdowns are <details>),
# wait for images, then measure. Returns a list of problems, one string each.
MEASURE = """async (tol) => {
  document.querySelectorAll('details').forEach(d => { d.open = true; });
  const imgs = Array.from(document.querySelectorAll('img'));
  imgs.forEach(i => { i.loading = 'eager'; });
  await Promise.all(imgs.map(i => i.decode().catch(() => null)));
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  const problems = [];
  const px = x => Math.round(x);
  const name = el => {
    let s = el.tagName.toLowerCase();
    if (el.id) s += '#' + el.id;
    else if (typeof el.className === 'string' && el.className.trim())
      s += '.' + el.className.trim().split(/\\s+/).slice(0, 3).join('.');
    const text = (el.textContent || el.getAttribute('alt') || el.getAttribute('src') || '')
      .replace(/\\s+/g, ' ').trim().slice(0, 70);
    const id = el.closest('[id]');
    const where = id && id !== el ? ` in #${id.id}` : '';
    return `<${s}>${where} "${text}"`;
  };
  const doc = document.scrollingElement;
  if (doc.scrollWidth > doc.clientWidth + tol)
    problems.push(`the page scrolls sideways: ${doc.scrollWidth} px of content in a ` +
                  `${doc.clientWidth} px window`);
  const col = document.querySelector('article.bd-article') || document.querySelector('main');
  if (!col) return ['no article column found'];
  const c = col.getBoundingClientRect();
  const shown = el => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
  const inColumn = r => r.left >= c.left - tol && r.right <= c.right + tol;
  const scrolls = el => ['auto', 'scroll'].includes(getComputedStyle(el).overflowX);
  const scrollBox = el => {
    for (let a = el; a && a !== col; a = a.parentElement) if (scrolls(a)) return a;
    return null;
  };
  const eqno = el => el.closest('div.math') && el.closest('div.math').querySelector('span.eqno');
  const span = r => `[${px(r.left)}, ${px(r.right)}] px, column [${px(c.left)}, ${px(c.right)}]`;

  for (const el of col.querySelectorAll('mjx-container[display]')) {
    if (!shown(el)) continue;
    const r = el.getBoundingClientRect();
    const math = el.querySelector('mjx-math') || el;
    const m = math.getBoundingClientRect();
    if (el.scrollWidth > el.clientWidth + tol)
      problems.push(`display equation wider than its box (${el.scrollWidth} px in ` +
                    `${el.clientWidth} px): ${name(el)}`);
    else if (!inColumn(r) || !inColumn(m))
      problems.push(`display equation outside the column (${span(m)}): ${name(el)}`);
    else if (eqno(el) && shown(eqno(el))) {
      const number = eqno(el);
      const e = number.getBoundingClientRect();
      const overlap = Math.min(e.right, m.right) - Math.max(e.left, m.left) > tol &&
                      Math.min(e.bottom, m.bottom) - Math.max(e.top, m.top) > tol;
      if (overlap) problems.push(`equation number ${number.textContent.trim()} drawn over its ` +
                                 `equation: ${name(el)}`);
    }
  }
  for (const el of col.querySelectorAll('img, figure, svg:not(mjx-container svg)')) {
    if (!shown(el)) continue;
    const r = el.getBoundingClientRect();
    if (r.width < 2) continue;  // icons collapsed to nothing
    if (!inColumn(r)) problems.push(`${el.tagName.toLowerCase()} outside the column ` +
                                    `(${span(r)}): ${name(el)}`);
    if (el.tagName === 'IMG' && el.naturalWidth > 0) {
      const natural = el.naturalWidth / el.naturalHeight, drawn = r.width / r.height;
      if (Math.abs(drawn / natural - 1) > 0.02)
        problems.push(`image distorted (drawn ${px(r.width)} x ${px(r.height)} px, its pixels ` +
                      `${el.naturalWidth} x ${el.naturalHeight}): ${name(el)}`);
    }
  }
  const boxes = 'table, div.highlight pre, div.cell_output pre, div.cell_output .output, ' +
                'div.cell_output .text_html';
  for (const el of col.querySelectorAll(boxes)) {
    if (!shown(el)) continue;
    const r = el.getBoundingClientRect();
    const box = scrollBox(el);
    if (el.scrollWidth > el.clientWidth + tol && !scrolls(el))
      problems.push(`content wider than its box and clipped (${el.scrollWidth} px in ` +
                    `${el.clientWidth} px, overflow-x ${getComputedStyle(el).overflowX}): ${name(el)}`);
    else if (!inColumn(r) && !(box && inColumn(box.getBoundingClientRect())))
      problems.push(`box outside the column, not inside a scrolling box (${span(r)}): ${name(el)}`);
  }
  return problems;
}"""

# Switch to dark mode with the theme's own button (light -> dark -> auto), as a reader would, then
# read how every chapter figure is drawn.
DARK = """async () => {
  const button = document.querySelector('.theme-switch-button');
  for (let i = 0; button && i < 3 && document.documentElement.dataset.theme !== 'dark'; i++)
    button.click();
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  const figs = Array.from(document.querySelectorAll('article.bd-article img'))
    .filter(i => (i.getAttribute('src') || '').includes('_images/'));
  return {theme: document.documentElement.dataset.theme, figures: figs.map(i => {
    const s = getComputedStyle(i);
    return {src: i.getAttribute('src'), background: s.backgroundColor, filter: s.filter};
  })};
}"""


def shot_name(rel: str, width: int, dark: bool) -> str:
    return rel.replace("/", "__").removesuffix(".html") + f"__{width}{'-dark' if dark else ''}.png"


@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
@pytest.mark.parametrize("rel", pages())
def test_nothing_clipped_and_figures_legible_in_dark_mode(browser, server, rel, width):
    """One load per page and width: measure and screenshot in light mode, switch the theme to
    dark, check the figures and screenshot again."""
    lp = LoadedPage(browser, server, rel, width=width)
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        problems = lp.page.evaluate(MEASURE, TOLERANCE_PX)
        lp.page.screenshot(path=str(SHOTS / shot_name(rel, width, False)), full_page=True)
        dark = lp.page.evaluate(DARK)
        lp.page.screenshot(path=str(SHOTS / shot_name(rel, width, True)), full_page=True)
    finally:
        lp.close()
    if dark["theme"] != "dark":
        problems.append(f"dark mode: the theme switch did not turn it on (data-theme={dark['theme']!r})")
    problems += [f"dark mode: figure without white paper or dimmed (background {f['background']}, "
                 f"filter {f['filter']}): {f['src']}" for f in dark["figures"]
                 if f["background"] != "rgb(255, 255, 255)" or f["filter"] != "none"]
    if problems:
        pytest.fail(f"{rel} at {width} px: {len(problems)} clipped, overflowing or illegible:\n  "
                    + "\n  ".join(problems), pytrace=False)


# --------------------------------------------------------------------------- captions and alt text

class _Figures(html.parser.HTMLParser):
    """Every chapter image (``_images/``) of a page: its alt text and the figure around it."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.images: list[dict] = []
        self._figures: list[dict] = []
        self._caption_depth = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "figure":
            self._figures.append({"id": attrs.get("id") or "", "caption": "", "number": ""})
        elif tag == "figcaption" and self._figures:
            self._caption_depth += 1
        elif tag == "img" and "_images/" in (attrs.get("src") or ""):
            self.images.append({"src": attrs["src"], "alt": (attrs.get("alt") or "").strip(),
                                "figure": self._figures[-1] if self._figures else None})
        elif self._caption_depth and tag == "span" and "caption-number" in (attrs.get("class") or ""):
            self._figures[-1]["_in_number"] = True

    def handle_endtag(self, tag):
        if tag == "figure" and self._figures:
            self._figures.pop()
        elif tag == "figcaption" and self._caption_depth:
            self._caption_depth -= 1
        elif tag == "span" and self._figures and self._figures[-1].pop("_in_number", False):
            pass

    def handle_data(self, data):
        if self._caption_depth and self._figures:
            fig = self._figures[-1]
            fig["number" if fig.get("_in_number") else "caption"] += data


def chapter_figures(nb_path) -> list[dict]:
    parser = _Figures()
    parser.feed((SITE / chapter_page(nb_path)).read_text(encoding="utf-8"))
    return parser.images


@pytest.mark.parametrize("nb_path", CHAPTERS, ids=lambda p: p.stem)
def test_every_figure_has_a_caption_and_alt_text(nb_path):
    images = chapter_figures(nb_path)
    expected = stored_images(nbformat.read(str(nb_path), as_version=4))
    assert len(images) >= expected, f"{nb_path.stem}: {expected} figures stored, {len(images)} built"
    missing = []
    for i, img in enumerate(images, 1):
        fig, src = img["figure"], img["src"].rsplit("/", 1)[-1][:16]
        caption = (fig or {}).get("caption", "").replace("#", "").strip()
        what = []
        if fig is None:
            what.append("not in a <figure> (no mystnb.figure metadata on its cell)")
        else:
            if not caption:
                what.append("empty caption")
            if not fig["number"].strip().startswith("Fig."):
                what.append("caption not numbered")
            if not fig["id"]:
                what.append("no name to refer to it by")
        # myst-nb's default alt text is the file path: that is no description.
        if not img["alt"] or "_images/" in img["alt"] or img["alt"].endswith(".png"):
            what.append("no alt text")
        if what:
            missing.append(f"image {i} ({src}…): " + ", ".join(what))
    if missing:
        pytest.fail(f"{nb_path.stem}: {len(missing)} of {len(images)} figures lack a caption or alt text:\n  "
                    + "\n  ".join(missing), pytrace=False)
