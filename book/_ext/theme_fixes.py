"""Small fixes to what the theme shows a reader (issue #11), checked by the reader-view test.

- **No icon-font script.** pydata-sphinx-theme loads Font Awesome's JavaScript
  (``scripts/fontawesome.js``, 1.49 MB) on every page, only to turn a dozen ``<i>`` icons into
  SVG. The theme's stylesheet already draws the same icons from Font Awesome's web font, so the
  script is dropped from the page (``book/_templates/layout.html`` filters it out of the
  ``css`` block with :func:`without_fontawesome`), and the web font is cut down to the glyphs
  the site uses (:func:`subset_icon_font`): about 160 KB become a few KB. The theme's
  stylesheet keeps the rules of those icons only (:func:`purge_icon_rules`, 86 KB less).
- **Lighter figures.** The PNG figures are recompressed, as 256-colour palettes where no pixel
  moves visibly (:func:`optimize_png`).
- **No unused scripts.** The theme loads the search index and Sphinx's search tools on every
  page for a search-as-you-type that is off (:func:`without_inline_search`, also through
  ``layout.html``), and sphinx-design's stylesheet and script go to every page though none
  uses its components: they are left out of pages that do not need them.
- **A valid bibliography list.** docutils writes the citation list as ``role="list"`` holding
  entries with the deprecated ``role="doc-biblioentry"``, which is not a list item: axe-core
  reports a critical violation (aria-required-children). The entries become list items.

The accessible names of the search buttons and of the colour switch are fixed by template
overrides in ``book/_templates`` (the theme looks its components up by file name); colours,
wrapping and print layout by ``book/_static/reader.css``; keyboard access to boxes that scroll
by ``book/_static/reader.js``.
"""

from __future__ import annotations

import concurrent.futures
import math
import os
import re
from pathlib import Path
from typing import Any

from markupsafe import Markup
from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)

FONTAWESOME_SCRIPT = re.compile(r"\s*<script[^>]*scripts/fontawesome\.js[^>]*>\s*</script>")
INLINE_SEARCH_SCRIPT = re.compile(
    r"\s*<script[^>]*(?:searchtools|language_data|searchindex)\.js[^>]*>\s*</script>"
)
#: sphinx-design's assets, needed only on pages that use its components (none, today).
DESIGN_ASSETS = ("sphinx-design", "design-tabs.js")
DESIGN_CLASS = re.compile(r'class="(?:[^"]*\s)?sd-')
#: The theme's solid-icon font (its TTF: reading WOFF2 needs brotli) and the subset.
ICON_FONT = Path("_static") / "vendor" / "fontawesome" / "webfonts" / "fa-solid-900.ttf"
ICON_SUBSET = Path("_static") / "icons-solid-subset.woff"
THEME_CSS = Path("_static") / "styles" / "pydata-sphinx-theme.css"
ICON_CLASS = re.compile(r"\bfa-([a-z0-9-]+)")
#: Below this many pixels a figure's RGB encoding may beat its palette (see optimize_png).
SMALL_FIGURE_PIXELS = 600_000
CSS_RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")
CSS_ESCAPE = re.compile(r"\\([0-9a-fA-F]{4,5})")
ICON_SELECTOR = re.compile(r"\.fa-([a-z0-9-]+):(?:before|after)")
ICON_RULE = re.compile(r"(?:\.fa-[a-z0-9-]+:(?:before|after)\s*,?\s*)+")


def without_fontawesome(html: str) -> Markup:
    """Remove the ``<script>`` that loads Font Awesome's JavaScript from a chunk of HTML."""
    return Markup(FONTAWESOME_SCRIPT.sub("", str(html)))


def without_inline_search(html: str, pagename: str, as_you_type: object) -> Markup:
    """Remove the search index and tools that the theme loads on every page.

    pydata-sphinx-theme loads them everywhere for its search-as-you-type, which is off in this
    book: its search box then sends the reader to the search page, which loads them itself.
    """
    if pagename == "search" or str(as_you_type).lower() in {"true", "1"}:
        return Markup(html)
    return Markup(INLINE_SEARCH_SCRIPT.sub("", str(html)))


def _register_filter(app: Sphinx) -> None:
    templates = getattr(app.builder, "templates", None)
    if templates is not None and hasattr(templates, "environment"):
        templates.environment.filters["without_fontawesome"] = without_fontawesome
        templates.environment.filters["without_inline_search"] = without_inline_search


def fix_bibliography_roles(body: str) -> str:
    """Citations inside a ``role="list"`` container become ``role="listitem"``."""
    return body.replace('role="doc-biblioentry"', 'role="listitem"')


def _fix_page(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    body = context.get("body", "")
    if 'role="doc-biblioentry"' in body:
        context["body"] = fix_bibliography_roles(body)
    if not DESIGN_CLASS.search(body):
        for key in ("css_files", "script_files"):
            if key in context:
                context[key] = [
                    asset
                    for asset in context[key]
                    if not any(
                        name in str(getattr(asset, "filename", asset)) for name in DESIGN_ASSETS
                    )
                ]


def icon_names(outdir: Path) -> set[str]:
    """The names of the ``fa-*`` classes that the built pages use."""
    names: set[str] = set()
    for page in outdir.rglob("*.html"):
        names.update(ICON_CLASS.findall(page.read_text(encoding="utf-8", errors="replace")))
    return names


def purge_icon_rules(css: str, names: set[str]) -> str:
    """Drop Font Awesome's ``.fa-NAME:before{content:...}`` rules for icons no page uses.

    The theme's stylesheet carries the whole icon catalogue (1,881 rules, 86 KB) for the dozen
    icons the site shows; every other rule is left as it is.
    """

    def keep(match: re.Match[str]) -> str:
        selector = match.group(1)
        if ICON_RULE.fullmatch(selector.strip()) and not names.intersection(
            ICON_SELECTOR.findall(selector)
        ):
            return ""
        return match.group(0)

    return CSS_RULE.sub(keep, css)


def icon_codepoints(outdir: Path) -> set[int]:
    """Every Font Awesome codepoint the built site can show.

    The icons named by ``fa-*`` classes in the HTML, plus every private-use codepoint that the
    stylesheets use outside Font Awesome's own class list (the theme's admonition titles,
    dropdown arrows, ``--pst-icon-*`` properties, ...).
    """
    names = icon_names(outdir)
    codepoints: set[int] = set()
    for sheet in (outdir / "_static").rglob("*.css"):
        css = sheet.read_text(encoding="utf-8", errors="replace")
        for selector, body in CSS_RULE.findall(css):
            found = {int(c, 16) for c in CSS_ESCAPE.findall(body)}
            found |= {ord(c) for c in body if 0xE000 <= ord(c) <= 0xF8FF}
            found = {c for c in found if 0xE000 <= c <= 0xF8FF}
            if not found:
                continue
            icons = ICON_SELECTOR.findall(selector)
            if icons and ICON_RULE.fullmatch(selector.strip()):
                # Font Awesome's own class list: only the icons the pages name.
                if names.intersection(icons):
                    codepoints |= found
            else:
                # The theme's own use of the font (admonition titles, dropdown arrows, ...).
                codepoints |= found
    return codepoints


def subset_icon_font(outdir: Path) -> Path | None:
    """Write a WOFF font holding only the solid icons the site uses, and point the CSS at it.

    Returns the subset's path, or None when the theme's font is not where expected (then the
    theme's full font is used, which is correct, only heavier).
    """
    source = outdir / ICON_FONT
    if not source.is_file():
        return None
    from fontTools import subset

    options = subset.Options()
    options.flavor = "woff"
    options.layout_features = ["*"]
    options.notdef_outline = True
    font = subset.load_font(str(source), options)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(icon_codepoints(outdir)))
    subsetter.subset(font)
    target = outdir / ICON_SUBSET
    subset.save_font(font, str(target), options)
    # The later @font-face with the same family, weight and style wins.
    css = outdir / "_static" / "icons.css"
    css.write_text(
        "/* Written by book/_ext/theme_fixes.py: the solid icons the site uses. */\n"
        '@font-face{font-display:block;font-family:"Font Awesome 6 Free";font-style:normal;'
        f'font-weight:900;src:url({ICON_SUBSET.name}) format("woff")}}\n',
        encoding="utf-8",
    )
    return target


# A palette image replaces the full-colour one only if it is visibly the same: the peak
# signal-to-noise ratio of the difference must be at least 45 dB (a root-mean-square error
# of about 1.4 grey levels in 255; the errors sit on single anti-aliased edge pixels).
MIN_PSNR_DB = 45.0


def _palette_version(image: Any) -> Any | None:
    """The image in at most 256 colours (no dithering), or None if none is close enough.

    Matplotlib figures are flat colours plus anti-aliased edges, so a 256-colour palette
    holds them nearly exactly at a third to a half of the bytes. Two quantizers are tried
    and the closer result kept; the fidelity is measured on every image, not assumed.
    """
    import numpy as np
    from PIL import Image

    rgb = image.convert("RGB")
    original = np.asarray(rgb, dtype=np.float64)
    best, best_psnr = None, -math.inf
    for method in (Image.Quantize.MAXCOVERAGE, Image.Quantize.MEDIANCUT):
        palette = rgb.quantize(colors=256, method=method, dither=Image.Dither.NONE)
        mse = float(np.mean((np.asarray(palette.convert("RGB"), dtype=np.float64) - original) ** 2))
        psnr = math.inf if mse == 0 else 10 * math.log10(255**2 / mse)
        if psnr > best_psnr:
            best, best_psnr = palette, psnr
    return best if best_psnr >= MIN_PSNR_DB else None


def optimize_png(path: Path) -> int:
    """Recompress a PNG (no alpha channel if it is opaque); return bytes saved.

    Matplotlib writes opaque figures as RGBA at zlib's default level; the same pixels as RGB at
    the best level are about 11% smaller, and as a 256-colour palette (kept only when no pixel
    moves visibly, see :func:`_palette_version`) about half. The resolution (pHYs) is kept.
    """
    import io

    from PIL import Image

    with Image.open(path) as opened:
        opened.load()
        image: Image.Image = opened
        dpi = image.info.get("dpi")
        opaque = image.mode == "RGB" or (
            image.mode == "RGBA" and image.getchannel("A").getextrema() == (255, 255)
        )
        if opaque:
            image = image.convert("RGB")
        palette = _palette_version(image) if opaque else None
        # A palette is about half the size of the best RGB encoding, except for the smallest
        # figures (a row of panels, a legend): only those try both.
        candidates = [image] if palette is None else [palette]
        if palette is not None and image.width * image.height < SMALL_FIGURE_PIXELS:
            candidates.append(image)
        best = None
        for candidate in candidates:
            buffer = io.BytesIO()
            candidate.save(buffer, "PNG", optimize=True, **({"dpi": dpi} if dpi else {}))
            if best is None or buffer.tell() < best.tell():
                best = buffer
    before = path.stat().st_size
    assert best is not None
    if best.tell() < before:
        path.write_bytes(best.getvalue())
        return before - best.tell()
    return 0


def _subset_after_build(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    outdir = Path(app.outdir)
    target = subset_icon_font(outdir)
    if target is not None:
        logger.info(f"icon font subset: {target.stat().st_size} bytes")
    sheet = outdir / THEME_CSS
    if sheet.is_file():
        names = icon_names(outdir)
        css = sheet.read_text(encoding="utf-8")
        sheet.write_text(purge_icon_rules(css, names), encoding="utf-8")
    images = sorted((outdir / "_images").glob("*.png"))
    workers = min(len(images), os.cpu_count() or 1)
    if workers > 1:  # each figure on its own: one process per core
        with concurrent.futures.ProcessPoolExecutor(workers) as pool:
            saved = sum(pool.map(optimize_png, images))
    else:
        saved = sum(optimize_png(image) for image in images)
    logger.info(f"figures recompressed: {saved} bytes saved")


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("builder-inited", _register_filter)
    app.connect("html-page-context", _fix_page)
    app.connect("build-finished", _subset_after_build)
    # Written at the end of the build (it depends on every page); linked from every page.
    app.add_css_file("icons.css", priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
