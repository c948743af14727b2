"""The built website at a desktop and a phone width, in light and dark mode: nothing clipped.

Run after ``make book`` (``make test`` does both), like tests/test_site.py (whose server, browser
and skip rules this module shares); marker ``site``. Every page is opened at 1280 px and 390 px
wide with every collapsed block (hidden code, solutions) opened, and checked:

- the page itself never scrolls sideways;
- every display equation (MathJax ``mjx-container[display]``) fits its box and the article column,
  and its equation number is not drawn over it;
- every image and figure lies inside the article column;
- a table, a code cell or a printed output wider than the column scrolls inside its own box
  (``overflow-x: auto``), which itself lies inside the column;
- and, in general (``OUTSIDE``), every element and every run of text in the article column ends
  inside the column's content box: inline math (also where the theme's ``span.math`` box would
  cut it off), long words and links, admonition, theorem and proof boxes, glued numbers. What
  scrolls inside its own box counts as fine when that box fits; a box that hides its overflow
  must hide nothing. Each problem names the element's kind, its text or TeX and the nearest id;
- no full stop or comma is left alone at the start of a line after the formula it follows.

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

# The general pass of MEASURE (a function of its own so that the snippet below can be tested on a
# hand-made page, tests/test_site_layout.py::test_outside_finds_what_sticks_out).
OUTSIDE = """(col, c, tol, seen) => {
  const problems = [];
  const px = x => Math.round(x);
  const tex = el => {
    try {
      const items = window.MathJax && MathJax.startup && MathJax.startup.document
        && MathJax.startup.document.getMathItemsWithin(el);
      if (items && items.length) return items[0].math;
    } catch (e) { /* no MathJax on this page */ }
    return null;
  };
  const kind = el => {
    const t = el.tagName.toLowerCase(), cls = el.classList;
    if (t === 'mjx-container') return el.hasAttribute('display') ? 'display equation' : 'inline math';
    if (cls.contains('math')) return t === 'div' ? 'display equation' : 'inline math';
    if (t === 'a') return 'link';
    if (t === 'code' || t === 'kbd' || t === 'samp') return 'inline code';
    if (t === 'img' || t === 'svg' || t === 'figure') return 'figure';
    if (t === 'table') return 'table';
    if (cls.contains('admonition') || cls.contains('dropdown')) return 'admonition box';
    if (cls.contains('proof') || cls.contains('exercise') || cls.contains('solution'))
      return 'theorem/proof box';
    if (cls.contains('pasted-text')) return 'glued text';
    if (cls.contains('cell')) return 'code cell';
    if (/^h[1-6]$/.test(t)) return 'heading';
    return `<${t}${typeof el.className === 'string' && el.className.trim()
                   ? '.' + el.className.trim().split(/\\s+/)[0] : ''}>`;
  };
  const where = el => {
    const around = el.parentElement && el.parentElement.closest('[id]');
    return (el.id ? ` #${el.id}` : '') + (around ? ` in #${around.id}` : '');
  };
  const snippet = s => (s || '').replace(/\\s+/g, ' ').trim().slice(0, 70);
  const label = el => {
    const t = tex(el);
    if (t !== null) return `$${snippet(t)}$`;
    return '"' + snippet(el.textContent || el.getAttribute('alt') || el.getAttribute('src')) + '"';
  };
  const sticksOut = r => r.width > 0 && (r.right > c.right + tol || r.left < c.left - tol);
  const span = r => `[${px(r.left)}, ${px(r.right)}] px, column [${px(c.left)}, ${px(c.right)}]`;
  const report = (el, r, why) => {
    problems.push(`${kind(el)} ${why} (${span(r)}): ${label(el)}${where(el)}`);
  };
  const range = document.createRange();
  // The first word of a text node that ends past the column (the text around it as the label).
  const word = node => {
    const re = /\\S+/g;
    for (let m; (m = re.exec(node.textContent)); ) {
      range.setStart(node, m.index);
      range.setEnd(node, m.index + m[0].length);
      const out = Array.from(range.getClientRects()).find(sticksOut);
      if (out) return [out, node.textContent.slice(Math.max(0, m.index - 20), m.index + 50)];
    }
    return null;
  };
  const walk = el => {
    for (const child of el.childNodes) {
      if (child.nodeType === 3) {
        if (!child.textContent.trim()) continue;
        range.selectNodeContents(child);
        if (!Array.from(range.getClientRects()).some(sticksOut)) continue;
        const [out, text] = word(child) || [range.getBoundingClientRect(), child.textContent];
        problems.push(`text past the column (${span(out)}): "${snippet(text)}" in ` +
                      `${kind(el)}${where(el)}`);
        continue;
      }
      if (child.nodeType !== 1 || seen.has(child)) continue;
      const s = getComputedStyle(child);
      if (s.display === 'none' || s.visibility === 'hidden' || s.position === 'fixed') continue;
      const rects = child.getClientRects();
      if (!rects.length) { walk(child); continue; }  // display: contents
      const out = Array.from(rects).find(sticksOut);
      if (out) { report(child, out, 'past the column'); continue; }
      const math = child.matches('mjx-container, span.math, div.math')
        ? Array.from(child.querySelectorAll('mjx-math')) : [];
      if (math.length) {
        // The theme's math boxes hide what does not fit (overflow: hidden) and an mjx-container
        // can be narrower than what it draws: compare the typeset formula with its box and the
        // column. (scrollWidth would count MathJax's invisible assistive copy.)
        const box = child.getBoundingClientRect();
        for (const m of math) {
          const r = m.getBoundingClientRect();
          if (['hidden', 'clip'].includes(s.overflowX) &&
              (r.right > box.right + tol || r.left < box.left - tol)) {
            report(child, r, `cut off by its box at [${px(box.left)}, ${px(box.right)}] px`);
            break;
          }
          if (sticksOut(r)) { report(child, r, 'past the column'); break; }
        }
        continue;
      }
      if (['auto', 'scroll'].includes(s.overflowX)) continue;  // scrolls inside its own box
      if (['hidden', 'clip'].includes(s.overflowX) && child.scrollWidth > child.clientWidth + tol)
        report(child, child.getBoundingClientRect(),
               `cuts off its content: ${child.scrollWidth} px of content in ${child.clientWidth} px`);
      walk(child);  // the culprit inside, if it sticks out of the column too
    }
  };
  walk(col);
  return problems;
}"""

# Open every collapsed block (myst-nb hide-input cells and togglebutton dropdowns are <details>),
# wait for images, then measure. Returns a list of problems, one string each.
MEASURE = """async (tol) => {
  const outside = """ + OUTSIDE + """;
  const seen = new Set();  // elements reported by the checks before the general pass
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
  // The column is the article's content box: text in its padding touches the window's edge.
  const box = col.getBoundingClientRect(), cs = getComputedStyle(col);
  const c = {left: box.left + parseFloat(cs.borderLeftWidth) + parseFloat(cs.paddingLeft),
             right: box.right - parseFloat(cs.borderRightWidth) - parseFloat(cs.paddingRight)};
  const shown = el => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
  const inColumn = r => r.left >= c.left - tol && r.right <= c.right + tol;
  const scrolls = el => ['auto', 'scroll'].includes(getComputedStyle(el).overflowX);
  const scrollBox = el => {
    for (let a = el; a && a !== col; a = a.parentElement) if (scrolls(a)) return a;
    return null;
  };
  const eqno = el => el.closest('div.math') && el.closest('div.math').querySelector('span.eqno');
  const span = r => `[${px(r.left)}, ${px(r.right)}] px, column [${px(c.left)}, ${px(c.right)}]`;
  const flag = (el, problem) => { seen.add(el); problems.push(problem); };

  for (const el of col.querySelectorAll('mjx-container[display]')) {
    if (!shown(el)) continue;
    const r = el.getBoundingClientRect();
    const math = el.querySelector('mjx-math') || el;
    const m = math.getBoundingClientRect();
    if (el.scrollWidth > el.clientWidth + tol)
      flag(el, `display equation wider than its box (${el.scrollWidth} px in ` +
               `${el.clientWidth} px): ${name(el)}`);
    else if (!inColumn(r) || !inColumn(m))
      flag(el, `display equation outside the column (${span(m)}): ${name(el)}`);
    else if (eqno(el) && shown(eqno(el))) {
      const number = eqno(el);
      const e = number.getBoundingClientRect();
      const overlap = Math.min(e.right, m.right) - Math.max(e.left, m.left) > tol &&
                      Math.min(e.bottom, m.bottom) - Math.max(e.top, m.top) > tol;
      if (overlap) flag(el, `equation number ${number.textContent.trim()} drawn over its ` +
                            `equation: ${name(el)}`);
    }
  }
  for (const el of col.querySelectorAll('img, figure, svg:not(mjx-container svg)')) {
    if (!shown(el)) continue;
    const r = el.getBoundingClientRect();
    if (r.width < 2) continue;  // icons collapsed to nothing
    if (!inColumn(r)) flag(el, `${el.tagName.toLowerCase()} outside the column ` +
                               `(${span(r)}): ${name(el)}`);
    if (el.tagName === 'IMG' && el.naturalWidth > 0) {
      const natural = el.naturalWidth / el.naturalHeight, drawn = r.width / r.height;
      if (Math.abs(drawn / natural - 1) > 0.02)
        flag(el, `image distorted (drawn ${px(r.width)} x ${px(r.height)} px, its pixels ` +
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
      flag(el, `content wider than its box and clipped (${el.scrollWidth} px in ` +
               `${el.clientWidth} px, overflow-x ${getComputedStyle(el).overflowX}): ${name(el)}`);
    else if (!inColumn(r) && !(box && inColumn(box.getBoundingClientRect())))
      flag(el, `box outside the column, not inside a scrolling box (${span(r)}): ${name(el)}`);
  }
  // Everything else in the column: every element and every run of text (a long word, a link,
  // inline math, a proof or admonition box, a glued number) must end inside the column. A box
  // that scrolls sideways (overflow-x auto/scroll) is measured itself and its content is not;
  // a box that hides its overflow must not hide any (scrollWidth <= clientWidth). Elements
  // already reported above are not reported again, nor is anything inside them.
  problems.push(...outside(col, c, tol, seen));

  // No line starts with the full stop or comma of the formula that ends the line before
  // (_ext/math_punctuation.py keeps them together).
  for (const el of col.querySelectorAll('span.math')) {
    const next = el.nextSibling;
    if (!next || next.nodeType !== 3 || !/^[.,;:!?)]/.test(next.textContent) || !shown(el)) continue;
    const mark = document.createRange();
    mark.setStart(next, 0);
    mark.setEnd(next, 1);
    if (mark.getBoundingClientRect().top >= el.getBoundingClientRect().bottom - tol)
      problems.push(`punctuation "${next.textContent[0]}" alone at the start of a line, after ` +
                    `${name(el)}`);
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


# --------------------------------------------------------------------------- the check itself

SAMPLE = """<article class="bd-article" style="width: 300px; margin: 0; padding: 0">
  <p id="long-word">A word longer than the column: Wwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwww.</p>
  <p>Inline math <mjx-container id="wide-math" style="display: inline-block; width: 400px">x=1</mjx-container>
  and a short one <mjx-container style="display: inline-block; width: 40px">y</mjx-container>.</p>
  <div class="admonition" id="box" style="width: 340px">a box wider than the column</div>
  <div id="scrolls" style="overflow-x: auto"><pre style="width: 900px">a wide code line</pre></div>
  <div id="hides" style="overflow-x: hidden"><span style="display: inline-block; width: 600px">cut</span></div>
  <p>Cut: <span class="math" id="cut-math" style="display: inline-flex; max-width: 100%; overflow: hidden"
  ><mjx-container><mjx-math style="display: inline-block; width: 500px">z=2</mjx-math></mjx-container
  ></span> and <span class="math" style="display: inline-flex; overflow: hidden"><mjx-container
  ><mjx-math style="display: inline-block; width: 20px">w</mjx-math></mjx-container></span>.</p>
  <p>Fits.</p>
</article>"""


def test_outside_finds_what_sticks_out(browser):
    """The general pass of MEASURE on a hand-made 300 px column: it finds the long word, the wide
    inline formula, the wide box, the box that cuts its content off (and the content), the
    formula its math box cuts off, and nothing else (the wide code line scrolls inside its own
    box, which fits; the short formula fits its box)."""
    context = browser.new_context(viewport={"width": 1000, "height": 600})
    try:
        page = context.new_page()
        page.set_content(f"<html><body style='margin: 0'>{SAMPLE}</body></html>")
        problems = page.evaluate(
            "tol => { const col = document.querySelector('article');"
            f" return ({OUTSIDE})(col, col.getBoundingClientRect(), tol, new Set()); }}",
            TOLERANCE_PX)
    finally:
        context.close()
    assert len(problems) == 6, problems
    text, math, box, hides, inside, cut = problems
    assert text.startswith("text past the column") and 'the column: Wwww' in text, text
    assert "#long-word" in text, text
    assert math.startswith("inline math past the column") and '"x=1" #wide-math' in math, math
    assert box.startswith("admonition box past the column") and "wider than the column" in box, box
    assert hides.startswith("<div> cuts off its content: 600 px of content in 300 px"), hides
    assert inside.startswith("<span> past the column") and "in #hides" in inside, inside
    assert cut.startswith("inline math cut off by its box at [0, 300] px") and '"z=2"' in cut, cut
