"""The PDF edition: the built site, printed by Chromium into one ``book.pdf``.

At the end of every HTML build this extension serves the site on 127.0.0.1, opens the front
page in headless Chromium (Debian's ``chromium``, driven by Playwright; nothing is
downloaded), replaces its text by every page of the table of contents in reading order (but
those that ``pdf_edition_exclude`` names, whose links in the PDF become plain text), lets
MathJax typeset the whole, and prints it (A4) to ``<html output>/book.pdf``, which the front
page links to through the ``{pdf-edition}`` role. The pages keep the site's numbering of
chapters, sections, equations and figures, and their cross-references become links inside the
PDF; the PDF has bookmarks (one per chapter) and numbered pages.

Chromium prints a document on one core, so the book is printed in parts (one per core, at most
four), each a run of whole chapters, at the same time, and the parts are joined with pypdf:
every chapter starts a new sheet, so the joined PDF has the pages of a single print, and the
links between parts are kept (:func:`merge_parts`); the pages are numbered after the join.

For print, ``book/_static/reader.css`` hides the site's navigation and wraps code and outputs;
here, solutions are unfolded and a display equation or table wider than the text is set in a
smaller size until it fits (at most down to half size).

Without Chromium (or with ``pdf_edition: false`` in ``sphinx.config``) no PDF is built and the
front page says how to build it: ``python tools/build_pdf.py`` (see README.md).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import http.server
import os
import posixpath
import re
import shutil
import tempfile
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
async ({pages, book}) => {
  const slug = p => p.replace(/\.html$/, '').replace(/[^A-Za-z0-9_-]/g, '-');
  const here = location.pathname.split('/').pop();
  const article = document.querySelector('article.bd-article');
  const chapters = [];
  // Targets in another part of the book (printed beside this one, see build_pdf): a
  // placeholder of the same id keeps the link, which the merged PDF resolves to the target.
  const elsewhere = new Set();
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
      if (path && (path.includes('/') || !book.includes(target))) {
        // A page or file the PDF does not hold (the API reference, a download): a relative
        // link would lead nowhere from a PDF, so the text stays and the link goes.
        a.removeAttribute('href');
        continue;
      }
      const id = slug(target) + '--' + (fragment || 'top');
      a.setAttribute('href', '#' + id);
      if (!pages.includes(target)) elsewhere.add(id);
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
  // Chromium writes a named destination only where a link points. One hidden link to each
  // chapter (the outline points there) and to each element with an id (see below).
  const index = document.createElement('nav');
  index.style.cssText = 'position:absolute;width:1px;height:1px;overflow:hidden;';
  // A link from another part may point at any element of this one: each gets a destination.
  const ids = chapters.flatMap(c => [c.id, ...Array.from(c.querySelectorAll('[id]'), e => e.id)]);
  for (const id of ids) {
    const a = document.createElement('a');
    a.href = '#' + id;
    a.textContent = '.';
    index.append(a);
  }
  article.prepend(index);
  const placeholders = document.createElement('div');
  placeholders.style.cssText = 'position:absolute;width:1px;height:1px;overflow:hidden;';
  for (const id of elsewhere) {
    const span = document.createElement('span');
    span.id = id;
    span.textContent = '.';
    placeholders.append(span);
  }
  article.prepend(placeholders);
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

#: Baseline of the page number above the bottom edge of the sheet (the margin is 18 mm).
FOOTER_BASELINE_PT = 24.0


@dataclass
class PdfReport:
    path: Path
    chapters: int
    pages: int
    seconds: float
    scaled: int
    clipped_code: list[str]
    wide_equations: int


def page_slug(page: str) -> str:
    """The prefix ASSEMBLE gives the ids of ``page`` (its ``slug``)."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", page.removesuffix(".html"))


def _slug(name: str) -> str:
    """The page slug of a named destination (``/<slug>--<id>``, as ASSEMBLE names them)."""
    return name.lstrip("/").split("--", 1)[0]


def merge_parts(parts: list[Path], owners: list[set[str]], output: Path) -> Any:
    """Join the parts' PDFs into one and keep each named destination where it really is.

    A part holds placeholders for the targets of its links into other parts (ASSEMBLE);
    their destinations are dropped, so that every link resolves to the part that owns the
    page (``owners[i]``: the page slugs of part ``i``). Returns the pypdf writer.
    """
    import logging as std_logging

    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import ArrayObject, DictionaryObject, FloatObject, NameObject

    # Chromium's trailer undercounts its objects; pypdf logs that harmless repair as a warning.
    std_logging.getLogger("pypdf").setLevel(std_logging.ERROR)
    writer = PdfWriter()
    real: dict[str, Any] = {}
    for path, owned in zip(parts, owners, strict=True):
        reader = PdfReader(str(path))
        offset = len(writer.pages)
        # pypdf keeps the first of two destinations of one name, which may be a placeholder:
        # the name tree is rebuilt below from each part's own destinations.
        writer.append(reader, import_outline=False)
        for title, destination in reader.named_destinations.items():
            page = reader.get_destination_page_number(destination)
            if _slug(title) in owned and page is not None:
                number = offset + page
                real[title] = ArrayObject(
                    [
                        writer.pages[number].indirect_reference,
                        NameObject("/XYZ"),
                        FloatObject(destination.left or 0),
                        FloatObject(destination.top or 0),
                        FloatObject(0),
                    ]
                )
    # Chromium's links name their targets with name objects, which a viewer looks up in the
    # catalogue's /Dests dictionary (as Chromium writes it), not in a name tree of strings.
    catalog = writer._root_object
    names = catalog.get("/Names")
    names = names.get_object() if names is not None else None
    if isinstance(names, DictionaryObject):
        names.pop(NameObject("/Dests"), None)
        if not names:
            del catalog["/Names"]
    catalog[NameObject("/Dests")] = writer._add_object(
        DictionaryObject({NameObject(title): real[title] for title in sorted(real)})
    )
    return writer


def stamp_page_numbers(writer: Any) -> None:
    """Write "n / N" centred in the bottom margin of every page (Helvetica, 6 pt, grey).

    Chromium numbers the pages of each part from one, so the merged book is numbered here.
    Helvetica's digits, space and slash have fixed widths, so centring needs no font file.
    """
    from pypdf.generic import ArrayObject, DictionaryObject, NameObject

    widths = {**dict.fromkeys("0123456789", 0.556), " ": 0.278, "/": 0.278}
    size = 6.0
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
            NameObject("/Encoding"): NameObject("/WinAnsiEncoding"),
        }
    )
    font_ref = writer._add_object(font)
    # The page's own drawing is wrapped in q ... Q, so that the graphics state it leaves (a
    # transformation, a colour) does not move the number; the streams are shared, not copied.
    save = writer._add_object(_stream(writer, b"q\n"))
    total = len(writer.pages)
    for number, page in enumerate(writer.pages, start=1):
        label = f"{number} / {total}"
        width = sum(widths[c] for c in label) * size
        box = page.mediabox
        x = float(box.left) + (float(box.width) - width) / 2
        y = float(box.bottom) + FOOTER_BASELINE_PT
        resources = page.setdefault(NameObject("/Resources"), DictionaryObject()).get_object()
        fonts = resources.setdefault(NameObject("/Font"), DictionaryObject()).get_object()
        fonts[NameObject("/FPageNumber")] = font_ref
        stamp = f"\nQ q 0.333 g BT /FPageNumber {size} Tf {x:.2f} {y:.2f} Td ({label}) Tj ET Q\n"
        contents = page.get(NameObject("/Contents"))
        own = list(contents.get_object()) if isinstance(contents.get_object(), list) else [contents]
        page[NameObject("/Contents")] = ArrayObject(
            [save, *own, writer._add_object(_stream(writer, stamp.encode()))]
        )


def _stream(writer: Any, data: bytes) -> Any:
    from pypdf.generic import DecodedStreamObject

    stream = DecodedStreamObject()
    stream.set_data(data)
    return stream


def add_outline(writer: Any, path: Path, chapters: list[dict[str, str]]) -> int:
    """Bookmark every chapter at its first page, write the PDF; return the number of pages."""
    destinations = writer._root_object["/Dests"].get_object()
    page_index = {page.indirect_reference: i for i, page in enumerate(writer.pages)}
    for chapter in chapters:
        destination = destinations.get("/" + chapter["id"])
        if destination is not None:
            writer.add_outline_item(title=chapter["title"], page_number=page_index[destination[0]])
    writer.page_mode = "/UseOutlines"
    with path.open("wb") as handle:
        writer.write(handle)
    return len(writer.pages)


def split_reading_order(pages: list[str], sizes: list[int], parts: int) -> list[list[str]]:
    """Cut ``pages`` (in reading order) into ``min(parts, len(pages))`` runs whose largest
    total size is as small as it can be (the parts print at once: the largest sets the time).
    """
    count = max(1, min(parts, len(pages)))
    prefix = [0]
    for size in sizes:
        prefix.append(prefix[-1] + size)
    # cost[k][i]: the smallest largest run when the first i pages form k runs; cut[k][i]: where
    # the last of those runs starts.
    infinity = float("inf")
    cost = [[infinity] * (len(pages) + 1) for _ in range(count + 1)]
    cut = [[0] * (len(pages) + 1) for _ in range(count + 1)]
    cost[0][0] = 0
    for k in range(1, count + 1):
        for i in range(k, len(pages) + 1):
            for j in range(k - 1, i):
                largest = max(cost[k - 1][j], prefix[i] - prefix[j])
                if largest < cost[k][i]:
                    cost[k][i], cut[k][i] = largest, j
    runs: list[list[str]] = []
    end = len(pages)
    for k in range(count, 0, -1):
        runs.insert(0, pages[cut[k][end] : end])
        end = cut[k][end]
    return runs


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


def _print_part(
    base: str, chromium: str, pages: list[str], book: list[str], first: str, output: Path
) -> tuple[list[dict[str, str]], dict[str, Any]]:
    """Print ``pages`` (of the whole ``book``) into ``output``; return chapters and fit report."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
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
            chapters = page.evaluate(ASSEMBLE, {"pages": pages, "book": book})
            fitted = page.evaluate(FIT)
            # Page numbers are stamped on the merged book (stamp_page_numbers). Chromium's own
            # outline needs a tagged PDF, which takes as long again to print; add_outline
            # writes the same bookmarks from the chapters' named destinations.
            page.pdf(
                path=str(output),
                format="A4",
                margin={"top": "16mm", "bottom": "18mm", "left": "16mm", "right": "16mm"},
                print_background=True,
            )
        finally:
            browser.close()
    return chapters, fitted


def print_parts() -> int:
    """How many parts of the book are printed at once: ``PDF_PRINT_PARTS`` or the CPU count
    (at most 4); Chromium prints a document on one core."""
    requested = os.environ.get("PDF_PRINT_PARTS", "").strip()
    if requested:
        if not requested.isdigit() or int(requested) < 1:
            raise ValueError(f"PDF_PRINT_PARTS must be a whole number >= 1, got {requested!r}")
        return int(requested)
    return max(1, min(os.cpu_count() or 1, 4))


def build_pdf(
    site: Path,
    docnames: list[str],
    output: Path | None = None,
    chromium: str | None = None,
    parts: int | None = None,
) -> PdfReport:
    """Print the pages ``docnames`` (in this order; the first is the front page) of ``site``.

    The pages are cut into ``parts`` runs of similar size (default :func:`print_parts`),
    printed at the same time by one Chromium each, and joined (:func:`merge_parts`): every
    chapter starts a new sheet, so the pages, their numbers and the links are those of one
    print of the whole book, in about half the time on two cores.
    """
    start = time.perf_counter()
    chromium = chromium or find_chromium()
    if chromium is None:
        raise RuntimeError("Chromium not found: install it (Debian: apt-get install chromium)")
    output = output or site / PDF_NAME
    first = docnames[0]
    folder = posixpath.dirname(first)
    pages = [posixpath.relpath(f"{d}.html", folder or ".") for d in docnames]
    sizes = [(site / f"{d}.html").stat().st_size for d in docnames]
    runs = split_reading_order(pages, sizes, parts or print_parts())
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch, serve(site) as base:
        paths = [Path(scratch) / f"part-{i}.pdf" for i in range(len(runs))]
        with concurrent.futures.ThreadPoolExecutor(len(runs)) as pool:
            futures = [
                pool.submit(_print_part, base, chromium, run, pages, first, path)
                for run, path in zip(runs, paths, strict=True)
            ]
            results = [future.result() for future in futures]
        owners = [{page_slug(page) for page in run} for run in runs]
        writer = merge_parts(paths, owners, output)
    stamp_page_numbers(writer)
    chapters = [chapter for part_chapters, _ in results for chapter in part_chapters]
    count = add_outline(writer, output, chapters)
    fitted = [report for _, report in results]
    return PdfReport(
        output,
        len(chapters),
        count,
        time.perf_counter() - start,
        sum(f["scaled"] for f in fitted),
        [code for f in fitted for code in f["clippedCode"]],
        sum(f["wideMath"] for f in fitted),
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
