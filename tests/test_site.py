"""The built website, as a reader sees it: headless Chromium against ``_build/html`` on localhost.

Run after ``make book`` (``make test`` does both); marker ``site`` (``make unit`` deselects it).
Skipped, with the reason, only when ``_build/html`` does not exist. Chromium is Debian's
(``apt-get install -y chromium``; ``make env`` installs it); a missing browser fails the tests.

Checks, for every page of the site:
- it loads with no console error, no uncaught exception, no failed or 4xx/5xx local request;
- it requests nothing from any host but the local server (every request is recorded; external
  ones are also aborted so an offline failure cannot hide behind a slow network);
- MathJax (the local copy in ``_static/mathjax``) has typeset: ``mjx-container`` elements exist on
  every page with math and no raw TeX (``$$``, ``\\Theta``, ``\\frac`` ...) is left in visible prose.
For every chapter:
- every figure stored in the notebook is on the page and has loaded (``naturalWidth > 0``);
- every ``{glue:text}`` number of the prose appears, formatted as the role asks, in a rendered
  ``pasted-text`` span — values read from the stored notebooks' claim metadata, equal within one
  unit in the last printed digit (the build re-executes the notebooks; ``tools/printed.py``);
- the Colab launch link points at that chapter's ``.ipynb`` in the repository and branch of
  ``_config.yml``.
A static pass over all HTML files checks that every relative ``href``/``src`` resolves to a file
and every ``#anchor`` exists, and that no page loads a script, stylesheet, image or font from
another host. Layout at a desktop and a phone width, dark mode, figure captions and alt text, and
the screenshots of every page saved to ``_build/screenshots/`` (artifacts): tests/test_site_layout.py.
"""

from __future__ import annotations

import functools
import html.parser
import os
import re
import shutil
import threading
import urllib.parse
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import nbformat
import printed  # tools/printed.py (on sys.path through the root conftest.py)
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SITE = Path(os.environ.get("NTKLIB_SITE_DIR", ROOT / "_build" / "html"))  # override: check another build
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())


def toc_files() -> list[str]:
    """Every `file:` of _toc.yml, in order (the site has a page only for these)."""
    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                yield node["file"]
            for value in node.values():
                yield from walk(value)
        elif isinstance(node, list):
            for item in node:
                yield from walk(item)
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [toc["root"], *walk(toc.get("parts", toc.get("chapters", [])))]


CHAPTERS = [ROOT / f"{f}.ipynb" for f in toc_files() if (ROOT / f"{f}.ipynb").is_file()]

pytestmark = [
    pytest.mark.site,
    pytest.mark.skipif(not SITE.is_dir(), reason=f"{SITE} does not exist: run `make book` first"),
]

# Chromium: no background traffic (updates, safe browsing, metrics, translate, ...).
CHROMIUM_ARGS = [
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--disable-sync",
    "--disable-client-side-phishing-detection",
    "--disable-features=OptimizationHints,MediaRouter,Translate,AutofillServerCommunication,"
    "CertificateTransparencyComponentUpdater,InterestFeedContentSuggestions",
    "--metrics-recording-only",
    "--no-default-browser-check",
    "--no-first-run",
    "--no-pings",
    "--disable-dev-shm-usage",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
LOAD_TIMEOUT_MS = 120_000
RAW_TEX = re.compile(r"\$\$|\\(?:Theta|ntk|flin|etacrit|frac|lVert|rVert|mathcal|mathbb|sqrt|lambda|eta|sigma|begin)\b")


def pages() -> list[str]:
    """Every HTML page of the site, relative to the site root (assets and sources excluded)."""
    if not SITE.is_dir():
        return []
    return sorted(str(p.relative_to(SITE)) for p in SITE.rglob("*.html")
                  if not p.relative_to(SITE).parts[0].startswith("_"))


def chapter_page(nb_path: Path) -> str:
    return f"chapters/{nb_path.stem}.html"


def chromium_path() -> str:
    path = os.environ.get("NTKLIB_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path or not Path(path).exists():
        pytest.fail("Chromium not found. Install Debian's browser with `sudo apt-get install -y chromium` "
                    "(or `make env`), or set NTKLIB_CHROMIUM to a Chromium executable.", pytrace=False)
    return path


# --------------------------------------------------------------------------- fixtures

class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output clean
        pass


@pytest.fixture(scope="module")
def server():
    """The built site on http://127.0.0.1:<free port>/ (stdlib http.server in a thread)."""
    handler = functools.partial(_QuietHandler, directory=str(SITE))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


class LoadedPage:
    """A page opened in a fresh context, with everything it requested and complained about."""

    def __init__(self, browser, server: str, rel: str, *, width: int = 1280):
        self.rel = rel
        self.requests: list[str] = []
        self.external: list[str] = []
        self.errors: list[str] = []
        self.context = browser.new_context(viewport={"width": width, "height": 900}, service_workers="block")
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(f"console: {m.text}"))
        self.page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        self.page.on("requestfailed", lambda r: self._failed(r))
        self.page.on("response", lambda r: r.status >= 400 and self.errors.append(f"HTTP {r.status}: {r.url}"))
        # Generous limits: on a loaded 2-core machine a long chapter takes well over playwright's
        # default 30 s to go quiet; a page that never loads still fails.
        self.page.goto(server + rel, wait_until="load", timeout=LOAD_TIMEOUT_MS)
        self.page.wait_for_load_state("networkidle", timeout=LOAD_TIMEOUT_MS)
        # MathJax 3: wait until the initial typesetting promise has resolved (pages without math
        # do not load MathJax at all).
        self.page.evaluate("() => window.MathJax && window.MathJax.startup && window.MathJax.startup.promise"
                           " ? window.MathJax.startup.promise.then(() => true) : false")

    def _route(self, route):
        url = route.request.url
        self.requests.append(url)
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme in ("data", "blob", "about") or parsed.hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            self.external.append(url)
            route.abort()

    def _failed(self, request):
        host = urllib.parse.urlsplit(request.url).hostname
        if host in LOCAL_HOSTS:
            self.errors.append(f"request failed: {request.url} ({request.failure})")

    def close(self):
        self.context.close()


@pytest.fixture(scope="module")
def opened(browser, server):
    """Open each page once per module; later tests reuse it."""
    cache: dict[str, LoadedPage] = {}

    def get(rel: str) -> LoadedPage:
        if rel not in cache:
            cache[rel] = LoadedPage(browser, server, rel)
        return cache[rel]

    yield get
    for p in cache.values():
        p.close()


# --------------------------------------------------------------------------- every page

@pytest.mark.parametrize("rel", pages())
def test_page_loads_offline_and_typesets(opened, rel):
    lp = opened(rel)
    assert not lp.external, f"{rel} requested external hosts: {lp.external}"
    assert not lp.errors, f"{rel}: {lp.errors}"
    assert lp.requests and urllib.parse.urlsplit(lp.requests[0]).path == "/" + rel, lp.requests[:1]

    has_math = (SITE / rel).read_text(encoding="utf-8").count('class="math') > 0
    n_mjx = lp.page.locator("mjx-container").count()
    if has_math:
        assert n_mjx > 0, f"{rel} has math but MathJax typeset nothing"
        assert any("/_static/mathjax/" in u for u in lp.requests), f"{rel}: MathJax not loaded from the local copy"
    # Visible prose only: code listings and outputs may legitimately show TeX source.
    prose = lp.page.evaluate("""() => {
        const skip = 'PRE, CODE, SCRIPT, STYLE, MJX-CONTAINER, TEXTAREA';
        const out = [];
        const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
        while (walker.nextNode()) {
            const node = walker.currentNode, el = node.parentElement;
            if (!el || el.closest(skip) || el.closest('.cell_output, .output')) continue;
            if (el.closest('[style*="display:none"], [style*="display: none"]')) continue;
            if (!el.offsetParent && getComputedStyle(el).position !== 'fixed') continue;  // not rendered
            out.push(node.textContent);
        }
        return out.join(' ');
    }""")
    leftover = sorted(set(RAW_TEX.findall(prose)))
    assert not leftover, f"{rel}: raw TeX left in visible text: {leftover}"


# --------------------------------------------------------------------------- chapters

def stored_images(nb) -> int:
    return sum(1 for cell in nb.cells for out in cell.get("outputs", [])
               if any(k.startswith("image/") for k in out.get("data", {})))


def glue_references(nb) -> list[tuple[str, str]]:
    refs = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            refs += re.findall(r"\{glue:text\}`([A-Za-z0-9_-]+)(?::([^`]*))?`", cell.source)
    return refs


def stored_values(nb) -> dict[str, float]:
    values = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            meta = out.get("metadata", {}).get("ntklib_claim")
            if meta:
                values[meta["name"]] = meta["value"]
    return values


@pytest.mark.parametrize("nb_path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_figures_load(opened, nb_path):
    nb = nbformat.read(str(nb_path), as_version=4)
    lp = opened(chapter_page(nb_path))
    state = lp.page.evaluate("""async () => {
        const imgs = Array.from(document.querySelectorAll('main img, article img'));
        imgs.forEach(i => { i.loading = 'eager'; });
        await Promise.all(imgs.map(i => i.decode().catch(() => null)));
        return imgs.map(i => ({src: i.getAttribute('src'), ok: i.complete && i.naturalWidth > 0}));
    }""")
    expected = stored_images(nb)
    figures = [s for s in state if "_static/" not in (s["src"] or "")]  # theme logos are not figures
    assert len(figures) >= expected, f"{nb_path.stem}: {expected} figures stored, {len(figures)} on the page"
    broken = [s["src"] for s in figures if not s["ok"]]
    assert not broken, f"{nb_path.stem}: images did not load: {broken}"


@pytest.mark.parametrize("nb_path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_glued_numbers_rendered(opened, nb_path):
    nb = nbformat.read(str(nb_path), as_version=4)
    refs = glue_references(nb)
    if not refs:
        pytest.skip(f"{nb_path.stem} glues no number into its prose")
    values = stored_values(nb)
    lp = opened(chapter_page(nb_path))
    # textContent, not innerText: solutions are collapsed dropdowns until the reader opens them.
    pasted = lp.page.eval_on_selector_all("span.pasted-text", "els => els.map(e => e.textContent.trim())")
    expected = [format(values[name], spec) if spec else str(values[name]) for name, spec in refs]
    assert len(pasted) == len(expected), f"{len(expected)} glue references in the notebook, {len(pasted)} rendered"
    # Same order as in the notebook's markdown, so each number is checked at its own place. The
    # build executed the notebook afresh: on another CPU a number on a rounding boundary may show
    # one unit more or less in its last digit (tools/printed.py); anything else must be the same.
    missing = [f"{name}:{spec} -> {want!r}, page shows {got!r}"
               for (name, spec), want, got in zip(refs, expected, pasted) if not printed.agree(want, got)]
    assert not missing, f"{nb_path.stem}: glued values not in the rendered prose: {missing}"


def colab_link(nb_path: Path) -> str:
    repo = CONFIG["repository"]
    owner_repo = urllib.parse.urlsplit(repo["url"]).path.strip("/")
    book = (repo.get("path_to_book") or "").strip("/")
    path = "/".join(p for p in (book, "chapters", nb_path.name) if p)
    return f"{CONFIG['launch_buttons']['colab_url'].rstrip('/')}/github/{owner_repo}/blob/{repo['branch']}/{path}"


@pytest.mark.parametrize("nb_path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_colab_link(opened, nb_path):
    lp = opened(chapter_page(nb_path))
    colab = CONFIG["launch_buttons"]["colab_url"].rstrip("/")
    links = [h for h in lp.page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)") if h.startswith(colab)]
    assert links == [colab_link(nb_path)], f"Colab links on {nb_path.stem}: {links}"
    assert (ROOT / "chapters" / nb_path.name).is_file()


def test_every_toc_entry_has_a_page():
    missing = [f for f in toc_files() if not (SITE / f"{f}.html").is_file()]
    assert not missing, f"no page built for {missing}"
    assert len(CHAPTERS) >= 5


def test_numbered_equations_theorems_and_cross_references(opened):
    """Equation numbers, a theorem box, and links between chapters (from the notation page)."""
    ch4 = opened("chapters/04_gronwall.html")
    assert ch4.page.locator("span.eqno").count() >= 5, "numbered equations missing on chapter 4"
    theorem = ch4.page.locator("div.proof.theorem, div.theorem").first
    assert theorem.count() == 1 and "Theorem" in theorem.inner_text()
    notation = opened("notation.html")
    targets = {urllib.parse.urlsplit(h).path.rsplit("/", 1)[-1]
               for h in notation.page.eval_on_selector_all("a.reference.internal", "els => els.map(e => e.href)")}
    chapters_linked = {t for t in targets if re.match(r"0\d_.*\.html$", t)}
    assert len(chapters_linked) >= 4, f"notation page links to {sorted(chapters_linked)}"


def test_one_bibliography_page_and_citations_point_to_it():
    with_bibliography = [rel for rel in pages() if 'class="citation-list"' in (SITE / rel).read_text(encoding="utf-8")]
    assert with_bibliography == ["references.html"], with_bibliography
    for nb_path in CHAPTERS:
        text = (SITE / chapter_page(nb_path)).read_text(encoding="utf-8")
        cites = re.findall(r'<a class="reference internal" href="([^"]+)" title="[^"]*">[^<]*(?:<em>[^<]*</em>)?[^<]*, \d{4}', text)
        wrong = [c for c in cites if not c.startswith("../references.html#")]
        assert not wrong, f"{nb_path.stem}: citations that do not point at the bibliography page: {wrong}"


def test_build_info_lists_every_notebook_and_versions(opened):
    from importlib.metadata import version

    lp = opened("build_info.html")
    text = lp.page.inner_text("main")
    for nb_path in CHAPTERS:
        assert f"chapters/{nb_path.stem}" in text, f"{nb_path.stem} missing from the execution table"
    for name in ("jax", "jaxlib", "neural-tangents", "tensorflow"):
        assert re.search(rf"{re.escape(name)}\s+{re.escape(version(name))}\b", text), \
            f"{name} {version(name)} (this environment) not on the build-info page"


# --------------------------------------------------------------------------- static link check

class _Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.refs: list[tuple[str, str, str]] = []  # (tag, attribute, value)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("id", "name"):
            if attrs.get(key) and (key == "id" or tag == "a"):
                self.ids.add(attrs[key])
        for key in ("href", "src"):
            if attrs.get(key) is not None:
                self.refs.append((tag, key, attrs[key]))


@functools.lru_cache(maxsize=None)
def parsed(path: Path) -> _Links:
    p = _Links()
    p.feed(path.read_text(encoding="utf-8"))
    return p


def test_internal_links_resolve():
    html_files = [SITE / rel for rel in pages()]
    broken, loads_external = [], []
    for path in html_files:
        for tag, attr, value in parsed(path).refs:
            url = urllib.parse.urlsplit(value.strip())
            if url.scheme or url.netloc:
                # Plain links away (Colab, GitHub, DOIs) are fine; loading a resource is not.
                if url.scheme in ("http", "https") and not (tag == "a" or (tag == "link" and attr == "href" and
                                                                          _is_plain_link(path, value))):
                    loads_external.append(f"{path.relative_to(SITE)}: <{tag} {attr}={value}>")
                continue
            target = path if not url.path else (path.parent / urllib.parse.unquote(url.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            where = f"{path.relative_to(SITE)}: {value}"
            if not target.is_file():
                broken.append(where + " (no such file)")
            elif url.fragment and target.suffix == ".html" and url.fragment not in parsed(target).ids:
                broken.append(where + " (no such anchor)")
    assert not (broken or loads_external), (f"{len(broken)} broken internal links: {broken[:30]}; "
                                            f"resources loaded from other hosts: {loads_external[:30]}")


def _is_plain_link(path: Path, href: str) -> bool:
    """<link rel=canonical|alternate ...> is metadata, not a resource the browser fetches."""
    text = path.read_text(encoding="utf-8")
    m = re.search(r"<link[^>]*href=\"" + re.escape(href) + r"\"[^>]*>", text)
    return bool(m and re.search(r'rel="(canonical|alternate|search)"', m.group(0)))


def solution_code_cells(nb) -> int:
    """Code cells between a ``solution-start`` and its ``solution-end`` (gated solutions)."""
    inside, count = False, 0
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            if "{solution-start}" in cell.source:
                inside = True
            if "{solution-end}" in cell.source:
                inside = False
        elif inside:
            count += 1
    return count


@pytest.mark.parametrize("nb_path", CHAPTERS, ids=lambda p: p.stem)
def test_solutions_hidden_until_opened(opened, nb_path):
    """Every exercise's solution — its text, code and outputs — sits inside its dropdown: none of it
    is visible before the reader opens the solution, all of it after."""
    nb = nbformat.read(str(nb_path), as_version=4)
    exercises = sum(cell.source.count("{exercise}") for cell in nb.cells if cell.cell_type == "markdown")
    if not exercises:
        pytest.skip(f"{nb_path.stem} has no exercises")
    assert "{solution}" not in "".join(c.source for c in nb.cells if c.cell_type == "markdown"), (
        f"{nb_path.stem}: a solution directive that cannot hold code cells; use solution-start/-end")
    lp = opened(chapter_page(nb_path))
    probe = """() => Array.from(document.querySelectorAll('div.solution')).map(s => {
        const shown = el => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
        const body = Array.from(s.children).filter(c => !c.matches('.admonition-title, button'));
        return {id: s.id, cells: s.querySelectorAll('div.cell').length,
                outputs: Array.from(s.querySelectorAll('div.cell_output')).filter(shown).length,
                visible: body.filter(shown).length, title: shown(s.querySelector('.admonition-title'))};
    })"""
    closed = lp.page.evaluate(probe)
    assert len(closed) == exercises, f"{nb_path.stem}: {exercises} exercises, {len(closed)} solutions"
    assert sum(s["cells"] for s in closed) == solution_code_cells(nb), (
        f"{nb_path.stem}: the solutions' code cells are not all inside their dropdowns: {closed}")
    leaks = [s for s in closed if s["visible"] or s["outputs"] or not s["title"]]
    assert not leaks, f"{nb_path.stem}: solution content visible before it is opened: {leaks}"
    lp.page.evaluate("""() => document.querySelectorAll('div.solution button.toggle-button')
                                  .forEach(b => b.click())""")
    lp.page.wait_for_timeout(300)
    opened_state = lp.page.evaluate(probe)
    hidden = [s["id"] for s in opened_state if not s["visible"]]
    assert not hidden, f"{nb_path.stem}: solutions that do not open: {hidden}"
