"""The PDF edition: the built site, printed by Chromium into one ``book.pdf``.

At the end of every HTML build this extension serves the site on 127.0.0.1, opens the front
page in headless Chromium (Debian's ``chromium``, driven by Playwright; nothing is
downloaded), replaces its text by every page of the table of contents in reading order (but
those that ``pdf_edition_exclude`` names, whose links in the PDF become plain text), lets
MathJax typeset the whole, and prints it (A4) to ``<html output>/book.pdf``, which the front
page links to through the ``{pdf-edition}`` role. The pages keep the site's numbering of
chapters, sections, equations and figures, and their cross-references become links inside the
PDF; the PDF has bookmarks (one per chapter) and numbered pages.

For print, ``book/_static/reader.css`` hides the site's navigation and wraps code and outputs;
here, solutions are unfolded and a display equation or table wider than the text is set in a
smaller size until it fits (at most down to half size).

Without Chromium (or with ``pdf_edition: false`` in ``sphinx.config``) no PDF is built and the
front page says how to build it: ``python tools/build_pdf.py`` (see README.md).
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import posixpath
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.util import logging

logger = logging.getLogger(__name__)

PDF_NAME = "book.pdf"
CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
# Headless, offline and quiet: no GPU, no QUIC, no background requests to any other host.
# Shared by the PDF edition, the reader-view checks (tools/reader_view.py) and the browser tests.
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--hide-scrollbars",
]
#: Layout width of the A4 text column at 96 px per inch (210 mm - 2 x 16 mm margins).
PRINT_WIDTH_PX = 672
#: Height of the A4 text area at 96 px per inch (297 mm - 16 mm top - 18 mm bottom margin).
PRINT_HEIGHT_PX = round((297 - 16 - 18) / 25.4 * 96)

ASSEMBLE = r"""
async ({pages}) => {
  const slug = p => p.replace(/\.html$/, '').replace(/[^A-Za-z0-9_-]/g, '-');
  const here = location.pathname.split('/').pop();
  const article = document.querySelector('article.bd-article');
  const chapters = [];
  for (const page of pages) {
    const html = await (await fetch(page)).text();
    const doc = new DOMParser().parseFromString(html, 'text/html');
    const body = doc.querySelector('article.bd-article');
    if (!body) continue;
    const prefix = slug(page);
    // The theme's print-only page header repeats the title and lists the sections.
    body.querySelectorAll('.onlyprint').forEach(el => el.remove());
    for (const el of body.querySelectorAll('[id]')) el.id = prefix + '--' + el.id;
    for (const a of body.querySelectorAll('a[href]')) {
      const href = a.getAttribute('href');
      if (/^[a-z]+:/i.test(href)) continue;
      const [path, fragment] = href.split('#');
      const target = path ? path.split('/').pop() : page;
      if (path && (path.includes('/') || !pages.includes(target))) {
        // A page or file the PDF does not hold (the API reference, a download): a relative
        // link would lead nowhere from a PDF, so the text stays and the link goes.
        a.removeAttribute('href');
        continue;
      }
      a.setAttribute('href', '#' + slug(target) + '--' + (fragment || 'top'));
    }
    const chapter = document.createElement('section');
    chapter.className = 'pdf-chapter';
    chapter.id = prefix + '--top';
    chapter.append(...Array.from(body.childNodes).map(n => document.importNode(n, true)));
    chapter.dataset.title = (body.querySelector('h1') || {}).textContent || page;
    chapters.push(chapter);
  }
  article.replaceChildren(...chapters);
  // Unfold solutions and other toggles: a PDF cannot be clicked.
  document.querySelectorAll('details').forEach(d => { d.open = true; });
  document.querySelectorAll('.toggle-hidden').forEach(e => e.classList.remove('toggle-hidden'));
  document.querySelectorAll('.dropdown').forEach(e => e.classList.remove('dropdown'));
  // The theme prints a page's title in a print-only header and hides the article's first
  // heading; here every chapter keeps its own heading instead.
  document.querySelectorAll('.onlyprint').forEach(el => el.remove());
  const style = document.createElement('style');
  style.textContent = `
    .pdf-chapter + .pdf-chapter { break-before: page; }
    .bd-main .bd-content .bd-article .pdf-chapter h1:first-of-type { display: block; }`;
  document.head.append(style);
  if (window.MathJax && MathJax.typesetPromise) {
    await MathJax.startup.promise;
    MathJax.typesetClear();
    await MathJax.typesetPromise([article]);
  }
  await Promise.all(Array.from(document.images).map(img => img.complete ? null :
    new Promise(resolve => { img.onload = img.onerror = resolve; })));
  await document.fonts.ready;
  // One link to each chapter, so that the PDF has a named destination there (the outline
  // points at it); hidden from the reader, who has the front page's table of contents.
  const index = document.createElement('nav');
  index.style.cssText = 'position:absolute;width:1px;height:1px;overflow:hidden;';
  for (const chapter of chapters) {
    const a = document.createElement('a');
    a.href = '#' + chapter.id;
    a.textContent = '.';
    index.append(a);
  }
  article.prepend(index);
  return chapters.map(c => ({id: c.id, title: c.dataset.title.replace(/#$/, '').trim()}));
}
"""

# In the print layout: shrink what is wider than the text column, then count what still is.
FIT = r"""
() => {
  let scaled = 0;
  const fit = (el, inner) => {
    const column = el.parentElement.clientWidth;
    const width = inner.getBoundingClientRect().width;
    if (column > 0 && width > column + 1) {
      const ratio = Math.max(0.5, (column - 2) / width);
      el.style.fontSize = (ratio * 100).toFixed(1) + '%';
      scaled += 1;
    }
  };
  for (const c of document.querySelectorAll('mjx-container[display="true"]')) {
    fit(c, c.querySelector('mjx-math') || c);
  }
  for (const t of document.querySelectorAll('article table')) fit(t, t);
  // The theme keeps code blocks and admonitions on one page (break-inside: avoid). One taller
  // than a third of a page then leaves the rest of the page empty, its frame drawn there
  // (a notebook cell's border) while its text starts on the next: such blocks may break.
  const third = PAGE_HEIGHT_PX / 3;
  let unblocked = 0;
  for (const el of document.querySelectorAll(
         'article div.highlight, article div[class*="highlight-"], article .admonition')) {
    if (el.getBoundingClientRect().height > third) {
      el.style.breakInside = 'auto';
      unblocked += 1;
    }
  }
  const clippedCode = Array.from(document.querySelectorAll('div.highlight pre, .cell_output pre'))
    .filter(pre => pre.scrollWidth > pre.clientWidth + 1)
    .map(pre => pre.textContent.slice(0, 80));
  const wideMath = Array.from(document.querySelectorAll('mjx-container[display="true"]'))
    .filter(c => (c.querySelector('mjx-math') || c).getBoundingClientRect().width
                 > c.parentElement.clientWidth + 1).length;
  return {scaled, clippedCode, wideMath, unblocked};
}
""".replace("PAGE_HEIGHT_PX", str(PRINT_HEIGHT_PX))

FOOTER = (
    '<div style="font-size:8px;width:100%;text-align:center;color:#555;">'
    '<span class="pageNumber"></span> / <span class="totalPages"></span></div>'
)


@dataclass
class PdfReport:
    path: Path
    chapters: int
    pages: int
    seconds: float
    scaled: int
    clipped_code: list[str]
    wide_equations: int


def add_outline(path: Path, chapters: list[dict[str, str]]) -> int:
    """Bookmark every chapter at its first page; return the number of pages."""
    import logging as std_logging

    from pypdf import PdfReader, PdfWriter

    # Chromium's trailer undercounts its objects; pypdf logs that harmless repair as a warning.
    std_logging.getLogger("pypdf").setLevel(std_logging.ERROR)
    reader = PdfReader(str(path))
    destinations = reader.named_destinations
    writer = PdfWriter(clone_from=reader)
    for chapter in chapters:
        destination = destinations.get("/" + chapter["id"]) or destinations.get(chapter["id"])
        if destination is not None:
            number = reader.get_destination_page_number(destination)
            writer.add_outline_item(title=chapter["title"], page_number=number)
    writer.page_mode = "/UseOutlines"
    with path.open("wb") as handle:
        writer.write(handle)
    return len(reader.pages)


def find_chromium() -> str | None:
    """The system's Chromium (Debian: ``apt-get install chromium``), or None."""
    for name in CHROMIUM_CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def can_print() -> bool:
    """Chromium and Playwright are both there."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return find_chromium() is not None


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def serve(site: Path) -> Iterator[str]:
    """Serve ``site`` on 127.0.0.1 (a free port) and yield its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


def build_pdf(
    site: Path,
    docnames: list[str],
    output: Path | None = None,
    chromium: str | None = None,
) -> PdfReport:
    """Print the pages ``docnames`` (in this order; the first is the front page) of ``site``."""
    from playwright.sync_api import sync_playwright

    start = time.perf_counter()
    chromium = chromium or find_chromium()
    if chromium is None:
        raise RuntimeError("Chromium not found: install it (Debian: apt-get install chromium)")
    output = output or site / PDF_NAME
    first = docnames[0]
    folder = posixpath.dirname(first)
    pages = [posixpath.relpath(f"{d}.html", folder or ".") for d in docnames]
    with serve(site) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": PRINT_WIDTH_PX, "height": 1000})
            host = base.split("/")[2]
            context.route(
                "**/*",
                lambda route, request: (
                    route.continue_()
                    if request.url.split("/")[2:3] == [host] or request.url.startswith("data:")
                    else route.abort()
                ),
            )
            page = context.new_page()
            page.goto(f"{base}{first}.html", wait_until="load")
            page.emulate_media(media="print")
            chapters = page.evaluate(ASSEMBLE, {"pages": pages})
            fitted = page.evaluate(FIT)
            output.parent.mkdir(parents=True, exist_ok=True)
            # Chromium's own outline needs a tagged PDF, which takes as long again to print;
            # add_outline writes the same bookmarks from the chapters' named destinations.
            page.pdf(
                path=str(output),
                format="A4",
                margin={"top": "16mm", "bottom": "18mm", "left": "16mm", "right": "16mm"},
                print_background=True,
                display_header_footer=True,
                header_template="<span></span>",
                footer_template=FOOTER,
            )
        finally:
            browser.close()
    count = add_outline(output, chapters)
    return PdfReport(
        output,
        len(chapters),
        count,
        time.perf_counter() - start,
        fitted["scaled"],
        fitted["clippedCode"],
        fitted["wideMath"],
    )


def reading_order(app: Sphinx) -> list[str]:
    """The documents of the table of contents, depth first from the root document."""
    includes = app.env.toctree_includes
    order: list[str] = []

    def visit(docname: str) -> None:
        if docname in order:
            return
        order.append(docname)
        for child in includes.get(docname, []):
            visit(child)

    visit(app.config.root_doc)
    left_out = set(app.config.pdf_edition_exclude)
    return [d for d in order if d in app.env.all_docs and d not in left_out]


def _decide(app: Sphinx, config: Config) -> None:
    config.pdf_edition_active = bool(config.pdf_edition) and can_print()


def pdf_edition_role(
    name: str,
    rawtext: str,
    text: str,
    lineno: int,
    inliner: Any,
    options: dict[str, Any] | None = None,
    content: list[str] | None = None,
) -> tuple[list[nodes.Node], list[Any]]:
    """``{pdf-edition}`text``` links to the PDF edition from any page."""
    env = inliner.document.settings.env
    if env.config.pdf_edition_active:
        target = posixpath.relpath(PDF_NAME, posixpath.dirname(env.docname) or ".")
        node: nodes.Node = nodes.reference(rawtext, text, refuri=target, classes=["pdf-edition"])
    else:
        node = nodes.inline(rawtext, "")
        node += nodes.Text(f"{text} (not part of this build: Chromium prints it, with ")
        node += nodes.literal(text="python tools/build_pdf.py")
        node += nodes.Text(")")
    return [node], []


def _print_after_build(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.name != "html":
        return
    if not app.config.pdf_edition_active:
        logger.info("PDF edition not built (pdf_edition off, or no Chromium/Playwright)")
        return
    report = build_pdf(Path(app.outdir), reading_order(app))
    logger.info(
        f"PDF edition: {report.path.name}, {report.pages} pages, "
        f"{report.chapters} chapters, {report.seconds:.1f} s"
    )
    if report.clipped_code:
        logger.warning(f"PDF edition: code cut at the page edge: {report.clipped_code[:3]}")


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("pdf_edition", True, "env", [bool])
    app.add_config_value("pdf_edition_active", False, "env", [bool])
    # Documents the PDF leaves out (read on the site): their links in the PDF become text.
    app.add_config_value("pdf_edition_exclude", [], "env", [list])
    app.connect("config-inited", _decide)
    app.add_role("pdf-edition", pdf_edition_role)
    # After the other build-finished handlers: MathJax and the icon font must be in place.
    app.connect("build-finished", _print_after_build, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
