"""What a reader sees: checks of the built site in a real browser (issue #11).

One implementation shared by the browser test (``tests/test_site.py``) and the report
(``tools/reader_view_report.py``). Every page of a built site is opened in headless Chromium
(Debian's ``chromium``, driven by Playwright; nothing is downloaded) at a desktop width
(1366 px) and a phone width (390 px), on a cold cache, and checked for what a reader would
trip over:

=====================  ==============================================================  =========
check                  what fails                                                      widths
=====================  ==============================================================  =========
``unrendered``         source left in the visible text: raw ``$...$`` outside MathJax,   both
                       markdown table rows (``| --- |``), MyST syntax (```` ```{ ````,
                       ``{glue:``, ``{cite``, ``{eq}`` ...)
``machine_text``       machine paths and raw reprs: ``np.float64(``, ``tensor(``,        both
                       ``/tmp/``, ``/root/``, ``/home/...``, ``site-packages``
``emoji``              emoji (they need an emoji font; without one they are boxes)      both
``clipped_equation``   display equations wider than the text column, or overlapping     desktop
                       their equation number
``phone_overflow``     a document wider than the phone's viewport (sideways scrolling)  phone
``clipped_text``       headings and the site title wider than their box (cut off)       both
``wide_code``          code and output blocks that scroll sideways                      desktop
``uncaptioned_figure`` a figure (an image in a cell output or a figure) without a       desktop
                       number and a caption
``distorted_figure``   a figure shown with another aspect ratio than it was drawn with   both
                       (an inline height kept while the width shrinks)
``small_figure_text``  a figure whose smallest text (10 pt, enforced for every figure   desktop
                       by tests/conftest.py) shows smaller than the caption text, or a
                       PNG with fewer than twice the pixels it is shown at
``bold_glue``          glued numbers set in bold                                        desktop
``axe``                axe-core violations of WCAG 2.0/2.1 A and AA (plus the rule      both
                       label-content-name-mismatch, WCAG 2.5.3, which axe marks
                       experimental); colour contrast, the slowest rule, at desktop only,
                       once per text style (colour, backgrounds, opacity, size, weight)
                       in the whole pass, and outside typeset math (drawn in the
                       surrounding text colour)
``weight``             a chapter heavier than 2 MB on a cold load, MathJax included     desktop
=====================  ==============================================================  =========

Folded content (exercise solutions) is unfolded before the checks, so what a reader sees
after a click is checked too; screenshots are taken before that, as the page first appears.
Each finding names the page, the width and the offending element's text (truncated).
"""

from __future__ import annotations

import contextlib
import re
import struct
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlparse

import yaml

ROOT = Path(__file__).resolve().parents[1]
# The browser plumbing (finding Chromium, its flags, a local server) has one home: the PDF
# edition's Sphinx extension, which must work without tools/ on the path.
sys.path.insert(0, str(ROOT / "book" / "_ext"))
import pdf_edition  # noqa: E402

CHROMIUM_ARGS = pdf_edition.CHROMIUM_ARGS
CHROMIUM_CANDIDATES = pdf_edition.CHROMIUM_CANDIDATES
find_chromium = pdf_edition.find_chromium
serve = pdf_edition.serve

WIDTHS = {"desktop": 1366, "phone": 390}
HEIGHTS = {"desktop": 900, "phone": 844}
#: A chapter's cold load, MathJax and its fonts included, in bytes.
WEIGHT_BUDGET = 2_000_000
#: The smallest text reparam.book.plotting puts in a figure (legends, annotations), in points,
#: and the smallest size, in CSS pixels, at which it is still legible on screen.
# The smallest text in the book's figures (reparam.book.plotting.style.SMALLEST_TEXT_PT, enforced
# for every figure the tests draw by tests/conftest.py): it must show no smaller than the
# caption text, and the PNG must carry twice the pixels it is shown at (sharp on high-density
# screens and in the PDF).
FIGURE_LABEL_PT = 10.0
MIN_FIGURE_SHARPNESS = 1.9
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
#: WCAG rules that axe-core ships as "experimental" (so off by default) and that we want.
AXE_EXTRA_RULES = ["label-content-name-mismatch"]

CHECKS: dict[str, str] = {
    "unrendered": "unrendered source (raw $...$, markdown table rows, MyST syntax)",
    "machine_text": "machine paths and raw reprs in the visible text",
    "emoji": "emoji in the visible text",
    "clipped_equation": "display equations wider than the text column (desktop)",
    "phone_overflow": "page wider than a 390 px phone",
    "clipped_text": "headings or site title cut off",
    "wide_code": "code/output blocks scrolling sideways (desktop)",
    "uncaptioned_figure": "figures without a number and caption",
    "distorted_figure": "figures shown with another aspect ratio than drawn",
    "small_figure_text": "figure text smaller than the caption, or a PNG under 2x (desktop)",
    "bold_glue": "glued numbers in bold",
    "axe": "axe-core WCAG 2.1 AA violations",
    "weight": f"chapter heavier than {WEIGHT_BUDGET / 1e6:.0f} MB on a cold load",
    "math": "mathematics not typeset (left as source, raw \\( or \\[, MathJax errors)",
    "broken_image": "images that failed to load",
    "foreign_request": "requests to any host but the site's own (refused)",
    "console_error": "errors in the browser console",
}


def clip(text: str, limit: int = 90) -> str:
    """One line of at most ``limit`` characters."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class Finding:
    check: str
    page: str
    width: int
    element: str
    detail: str = ""

    def __str__(self) -> str:
        detail = f" ({self.detail})" if self.detail else ""
        return f"{self.page} @ {self.width}px: {self.check}{detail}: “{clip(self.element)}”"


@dataclass
class PageResult:
    page: str
    width: int
    findings: list[Finding] = field(default_factory=list)
    bytes: int = 0
    requests: int = 0
    overflow_px: int = 0
    axe_rules: Counter[str] = field(default_factory=Counter)
    #: Elements holding mathematics (``.math``) on the page.
    math: int = 0

    def count(self, check: str) -> int:
        return sum(f.check == check for f in self.findings)


# --- the site --------------------------------------------------------------------------------


def toc_docnames(root: Path = ROOT) -> list[str]:
    """The documents of the table of contents, in reading order."""
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    return [toc["root"]] + [c["file"] for part in toc["parts"] for c in part["chapters"]]


def pdf_docnames(root: Path = ROOT) -> list[str]:
    """The documents of the PDF edition: the table of contents, in reading order, without
    those ``pdf_edition_exclude`` in ``_config.yml`` names (the build prints the same)."""
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    left_out = set(config["sphinx"]["config"].get("pdf_edition_exclude", []))
    return [docname for docname in toc_docnames(root) if docname not in left_out]


def site_pages(site: Path) -> list[str]:
    """Every HTML page of a built site (relative paths), meta-refresh redirects excluded."""
    pages = []
    for path in sorted(site.rglob("*.html")):
        if {"_static", "_sources", "_images"} & set(path.relative_to(site).parts):
            continue
        head = path.read_text(encoding="utf-8", errors="replace")[:2000].lower()
        if 'http-equiv="refresh"' in head:
            continue
        pages.append(path.relative_to(site).as_posix())
    return pages


def noexec_config(root: Path, target: Path) -> Path:
    """Write a copy of ``_config.yml`` that shows the stored outputs instead of executing.

    Paths in the configuration (the local extensions) are made absolute, since Jupyter Book
    resolves them against the configuration file's folder.
    """
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    config.setdefault("execute", {})["execute_notebooks"] = "off"
    local = config.get("sphinx", {}).get("local_extensions") or {}
    for name, folder in local.items():
        local[name] = str((root / folder).resolve())
    target.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return target


def build_site(output: Path, root: Path = ROOT, execute: bool = False) -> tuple[Path, str]:
    """Build the book into ``output`` and return the HTML folder and the build log.

    Without ``execute`` the notebooks are not run: the site shows their stored outputs, which
    strict nbval checks against a fresh execution, so it is what an executed build shows.
    """
    output.mkdir(parents=True, exist_ok=True)
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    command = [
        str(jupyter_book) if jupyter_book.exists() else "jupyter-book",
        "build",
        str(root),
        "-W",
        "-n",
        "--keep-going",
        "--path-output",
        str(output),
    ]
    with tempfile.TemporaryDirectory() as scratch:
        if not execute:
            command += ["--config", str(noexec_config(root, Path(scratch) / "_config.yml"))]
        result = subprocess.run(command, cwd=root, capture_output=True, text=True, check=False)
    log = result.stdout + result.stderr
    html = output / "_build" / "html"
    if not (html / "index.html").is_file():
        raise RuntimeError("book build failed:\n" + "\n".join(log.splitlines()[-60:]))
    return html, log


def png_dpi(path: Path) -> float:
    """Horizontal resolution from a PNG's pHYs chunk (matplotlib writes it); 72 if absent."""
    try:
        data = path.read_bytes()
    except OSError:
        return 72.0
    if not data.startswith(b"\x89PNG"):
        return 72.0
    position = 8
    while position + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        if kind == b"pHYs":
            x_per_unit, _, unit = struct.unpack(">IIB", data[position + 8 : position + 17])
            return x_per_unit * 0.0254 if unit == 1 else 72.0
        if kind == b"IDAT":
            break
        position += 12 + length
    return 72.0


# --- in the browser ---------------------------------------------------------------------------

# Waits for MathJax, then unfolds folded content (solutions) so that it is checked too.
SETTLE = """
async () => {
  if (window.MathJax && window.MathJax.startup && window.MathJax.startup.promise) {
    await window.MathJax.startup.promise;
  }
  await document.fonts.ready;
}
"""

UNFOLD = """
async () => {
  document.querySelectorAll('details').forEach(d => { d.open = true; });
  document.querySelectorAll('.toggle-hidden').forEach(e => e.classList.remove('toggle-hidden'));
  document.querySelectorAll('.toggle-details__container, .toggle-content')
          .forEach(e => { e.style.display = ''; });
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
}
"""

INSPECT = r"""
async ({desktop}) => {
  const clip = (s, n = 200) => {
    s = (s || '').replace(/\s+/g, ' ').trim();
    return s.length > n ? s.slice(0, n - 1) + '…' : s;
  };
  const visible = el => el && el.checkVisibility({visibilityProperty: true});
  const out = {text: [], equations: [], overflow: 0, offenders: [], wideCode: [],
               figures: [], glue: [], clippedText: [], math: 0, untypeset: [],
               mathErrors: [], rawDelimiters: 0, brokenImages: []};

  // 1. Visible text, grouped by block, outside typeset math, scripts and source listings.
  const SKIP = 'mjx-container, script, style, noscript, textarea, template, .cell_input';
  const BLOCK = 'p, li, td, th, pre, dt, dd, h1, h2, h3, h4, h5, h6, figcaption, caption, '
              + 'summary, blockquote, div, nav, header, footer, label, button, a';
  const blocks = new Map();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!el || el.closest(SKIP) || !visible(el)) continue;
    const listing = el.closest('div[class*="highlight-"]');
    if (listing && !listing.closest('.cell_output')) continue;  // code shown as code
    const block = el.closest(BLOCK) || document.body;
    blocks.set(block, (blocks.get(block) || '') + node.nodeValue);
  }
  for (const [block, text] of blocks) out.text.push(text);

  // 2. Display equations wider than their column or drawn under their number.
  if (desktop) {
    const tex = new Map();
    if (window.MathJax && MathJax.startup && MathJax.startup.document) {
      for (const item of MathJax.startup.document.math) tex.set(item.typesetRoot, item.math);
    }
    for (const c of document.querySelectorAll('mjx-container[display="true"]')) {
      if (!visible(c)) continue;
      const box = c.closest('.math') || c.parentElement;
      const math = c.querySelector('mjx-math') || c;
      const m = math.getBoundingClientRect();
      const column = box.getBoundingClientRect();
      const over = Math.round(m.width - box.clientWidth);
      const eqno = box.querySelector('.eqno');
      let covered = false;
      if (eqno) {
        const n = eqno.getBoundingClientRect();
        covered = n.width > 0 && n.left < m.right - 1 && m.left < n.right - 1
                  && n.top < m.bottom && m.top < n.bottom;
      }
      const scrolls = c.scrollWidth > c.clientWidth + 1;
      if (over > 1 || covered || scrolls || m.right > column.right + 1) {
        out.equations.push({
          tex: clip(tex.get(c) || c.textContent, 120),
          label: eqno ? clip(eqno.textContent.replace('#', ''), 20) : '',
          over: Math.max(over, Math.round(m.right - column.right)), covered});
      }
    }
  }

  // 3. Sideways scrolling of the whole document (the phone check).
  const doc = document.documentElement;
  out.overflow = Math.max(0, doc.scrollWidth - doc.clientWidth);
  if (out.overflow > 0) {
    const limit = doc.clientWidth + 1;
    // Inside a scrolling box or a fixed (off-canvas) panel: does not widen the page.
    const scroller = el => {
      if (getComputedStyle(el).position === 'fixed') return true;
      for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
        const style = getComputedStyle(a);
        if (style.overflowX !== 'visible' || style.position === 'fixed') return true;
      }
      return false;
    };
    // Invisible elements (a heading's hidden # link) widen the page too: only display counts.
    const wide = Array.from(document.body.querySelectorAll('*')).filter(el => {
      if (!el.checkVisibility() || el.closest('mjx-container mjx-container')) return false;
      const r = el.getBoundingClientRect();
      return r.right > limit && r.width > 0 && !scroller(el);
    });
    const leaves = wide.filter(el => !wide.some(o => o !== el && el.contains(o)));
    const seen = new Set();
    for (const el of leaves) {
      const block = el.closest('p, li, dt, dd, h1, h2, h3, h4, h5, h6, pre, td, th, figure, '
                               + 'table, .cell_output, div') || el;
      if (seen.has(block)) continue;
      seen.add(block);
      const cls = typeof el.className === 'string' && el.className.trim()
                  ? '.' + el.className.trim().split(/\s+/).slice(0, 2).join('.') : '';
      out.offenders.push({
        tag: el.tagName.toLowerCase() + cls,
        text: clip(block.textContent || el.getAttribute('alt') || '', 100),
        right: Math.round(el.getBoundingClientRect().right)});
      if (out.offenders.length >= 8) break;
    }
  }

  // 4. Code and output blocks that scroll sideways.
  if (desktop) {
    for (const pre of document.querySelectorAll('div.highlight pre, .cell_output pre')) {
      if (!visible(pre)) continue;
      if (pre.scrollWidth > pre.clientWidth + 1) {
        const lines = pre.textContent.split('\n');
        const longest = lines.reduce((a, b) => (b.length > a.length ? b : a), '');
        out.wideCode.push({text: clip(longest, 120), over: pre.scrollWidth - pre.clientWidth,
                           output: !!pre.closest('.cell_output')});
      }
    }
  }

  // 5. Figures: images that are cell outputs or figures, with their caption and size.
  const main = document.querySelector('main') || document.body;
  for (const img of main.querySelectorAll('img')) {
    if (!img.closest('.cell_output, figure')) continue;
    const figure = img.closest('figure');
    const number = figure && figure.querySelector('figcaption .caption-number');
    const caption = figure && figure.querySelector('figcaption .caption-text');
    // The caption's text size, or what a caption on this page would get (0.9 of the body).
    const captionPx = caption ? parseFloat(getComputedStyle(caption).fontSize)
      : 0.9 * parseFloat(getComputedStyle(main.querySelector('p') || main).fontSize);
    out.figures.push({captionPx: captionPx,
      src: new URL(img.src, location.href).pathname, alt: clip(img.alt, 100),
      numbered: !!number, captioned: !!(caption && caption.textContent.trim()),
      naturalWidth: img.naturalWidth, width: img.getBoundingClientRect().width,
      naturalHeight: img.naturalHeight, height: img.getBoundingClientRect().height});
  }

  // 6. Glued numbers.
  for (const span of document.querySelectorAll('span.pasted-text')) {
    if (!visible(span)) continue;
    const weight = parseInt(getComputedStyle(span).fontWeight, 10);
    const inStrong = !!span.closest('strong, b, th, h1, h2, h3, h4, h5, h6');
    if (weight >= 600 && !inStrong) {
      const context = (span.closest('p, li, td') || span).textContent;
      out.glue.push({text: span.textContent, context: clip(context, 100)});
    }
  }

  // 7. Headings and the site title wider than their box.
  for (const el of document.querySelectorAll(
         'h1, h2, h3, .navbar-brand, .logo__title, .title.logo__title')) {
    if (!visible(el)) continue;
    // Wider than its box: cut off by an ancestor, or drawn over what is beside it.
    if (el.scrollWidth > el.clientWidth + 1) {
      out.clippedText.push({text: clip(el.textContent, 100),
                            shown: el.clientWidth, needed: el.scrollWidth});
    }
  }

  // 8. Mathematics left untypeset or typeset as an error; images that did not load.
  const math = Array.from(document.querySelectorAll('.math'));
  out.math = math.length;
  out.untypeset = math.filter(el => !el.querySelector('mjx-container'))
                      .map(el => clip(el.textContent, 80));
  out.mathErrors = Array.from(document.querySelectorAll('mjx-merror'))
                        .map(el => clip(el.getAttribute('data-mjx-error') || el.textContent, 80));
  out.rawDelimiters = (document.body.innerText.match(/\\\(|\\\[/g) || []).length;
  out.brokenImages = Array.from(document.images)
    .filter(img => img.complete && img.naturalWidth === 0)
    .map(img => new URL(img.src, location.href).pathname);
  return out;
}
"""

RUN_AXE = """
async ({tags, extra, contrast, seen}) => {
  const rules = {};
  for (const id of extra) rules[id] = {enabled: true};
  rules['color-contrast'] = {enabled: false};
  // At the phone width (contrast false) the rules run on everything whose markup or styling
  // can differ with the width. Typeset math is MathJax's markup at every width (thousands of
  // glyph elements per chapter), and link colours do not depend on the width: the desktop
  // pass checks both, and the phone pass skips them (a third of axe's time).
  if (!contrast) rules['link-in-text-block'] = {enabled: false};
  const scope = contrast ? document : {include: [document], exclude: [['mjx-container']]};
  const result = await axe.run(scope, {
    runOnly: {type: 'tag', values: tags}, rules, resultTypes: ['violations']});
  const fresh = [];
  if (contrast) {
    // Colour contrast, by far the slowest rule (seconds per chapter), depends only on the
    // text's colour, the backgrounds behind it, the opacity above it and its size and weight.
    // So it runs on one element per combination of these (its "style"), the first one met,
    // and a style checked on an earlier page (``seen``) is not checked again. Elements over a
    // background image, or with a text shadow, are always checked. Skipped as before: typeset
    // math, which MathJax draws in the colour of the surrounding text (checked there), and
    // highlighted code, whose colours tests/test_site.py::test_code_colours_have_contrast
    // checks token by token.
    const known = new Set(seen);
    const picks = [];
    const transparent = c => c === 'transparent' || /rgba\\(.*,\\s*0\\)$/.test(c);
    // What lies behind an element's text, memoised per element (a parent's answer is
    // reused by all its children): the non-transparent background colours up to the first
    // opaque one, and the product of the opacities; null over a background image.
    const memo = new Map();
    const behind = el => {
      if (!el || el.nodeType !== 1) return {layers: [], opacity: 1, done: false};
      if (memo.has(el)) return memo.get(el);
      const cs = getComputedStyle(el);
      let answer;
      if (cs.backgroundImage !== 'none') {
        answer = null;
      } else {
        const own = transparent(cs.backgroundColor) ? [] : [cs.backgroundColor];
        const opaque = own.length > 0 && !cs.backgroundColor.startsWith('rgba');
        const above = opaque ? {layers: [], opacity: 1, done: true} : behind(el.parentElement);
        answer = above === null ? null : {
          layers: [...own, ...above.layers],
          opacity: parseFloat(cs.opacity) * above.opacity,
          done: opaque || above.done};
        // the opacity of ancestors above an opaque background still applies
        if (answer && opaque) {
          let opacity = parseFloat(cs.opacity);
          for (let node = el.parentElement; node; node = node.parentElement) {
            opacity *= parseFloat(getComputedStyle(node).opacity);
          }
          answer.opacity = opacity;
        }
      }
      memo.set(el, answer);
      return answer;
    };
    for (const el of document.body.querySelectorAll('*')) {
      if (el.closest('mjx-container, div.highlight, script, style, noscript')) continue;
      const own = Array.from(el.childNodes).some(
        n => n.nodeType === 3 && n.textContent.trim() !== '');
      if (!own || el.getClientRects().length === 0) continue;
      const cs = getComputedStyle(el);
      if (cs.visibility !== 'visible') continue;
      const background = behind(el);
      if (background === null || cs.textShadow !== 'none') { picks.push(el); continue; }
      const layers = background.layers.join('/') + ' @' + background.opacity.toFixed(3);
      const style = [cs.color, layers, cs.fontSize, cs.fontWeight].join(' | ');
      if (known.has(style)) continue;
      known.add(style);
      fresh.push(style);
      picks.push(el);
    }
    if (picks.length) {
      const more = await axe.run({include: picks}, {
        runOnly: {type: 'rule', values: ['color-contrast']}, resultTypes: ['violations']});
      result.violations.push(...more.violations);
    }
  }
  return {fresh, violations: result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map(n => ({target: n.target.join(' '), html: n.html,
                              summary: n.failureSummary || ''}))}))};
}
"""

UNRENDERED = [
    ("raw $...$ math", re.compile(r"(?<![\\$])\$(?!\s)[^$\n]{1,300}?(?<!\s)\$(?!\d)")),
    # An opening $ whose closing one went elsewhere (a line break that began a quote or a
    # list inside the formula): a dollar right before a LaTeX command, or a command that
    # only appears in formulas, left in the visible text.
    (
        "raw LaTeX",
        re.compile(r"\$[^$\n]{0,40}?\\(?:mathbb|mathrm|operatorname|t?frac|sigma|theta)\b"),
    ),
    ("markdown table row", re.compile(r"\|\s*:?(?:-{3,}|[—–]+)\s*:?\|")),
    ("MyST directive", re.compile(r"(?:```|:::)\s*\{[a-z-]+\}")),
    (
        "MyST role",
        re.compile(r"\{(?:glue(?::\w+)?|cite(?::\w+)?|eq|ref|numref|doc|term|download)\}`"),
    ),
    ("glue reference", re.compile(r"\{glue:")),
]
MACHINE_TEXT = [
    ("numpy scalar repr", re.compile(r"\bnp\.(?:float|int|uint|bool|complex|str)_?\d*\(")),
    ("tensor repr", re.compile(r"(?<![\w.])tensor\(")),
    ("machine path", re.compile(r"/tmp/|/root/|/home/[\w.-]+/|site-packages|/usr/lib/python")),
]
EMOJI = re.compile(r"[\U0001F000-\U0001FAFF\u2705\u274C\u274E\u2753-\u2755\u2757\u2B50\u2B55]")


def _snippet(text: str, match: re.Match[str], span: int = 40) -> str:
    start = max(0, match.start() - span)
    return clip(text[start : match.end() + span], 110)


def text_findings(page: str, width: int, texts: list[str]) -> list[Finding]:
    """One finding per block of text and kind of defect, naming every pattern it matches."""
    findings = []
    for text in texts:
        for kind, patterns in (("unrendered", UNRENDERED), ("machine_text", MACHINE_TEXT)):
            matches = [(label, m) for label, pattern in patterns if (m := pattern.search(text))]
            if matches:
                labels = ", ".join(label for label, _ in matches)
                first = min((m for _, m in matches), key=lambda m: m.start())
                findings.append(Finding(kind, page, width, _snippet(text, first), labels))
        match = EMOJI.search(text)
        if match:
            findings.append(
                Finding("emoji", page, width, _snippet(text, match), f"U+{ord(match[0]):04X}")
            )
    return findings


def inspect(
    browser: Any,
    base_url: str,
    site: Path,
    page_name: str,
    width_name: str,
    screenshots: Path | None = None,
    axe: bool = True,
    context: Any = None,
    contrast_seen: set[str] | None = None,
) -> PageResult:
    """Open one page at one width and run every check.

    Without ``context`` the page opens in a context of its own, on a cold cache (what the
    weight check measures); a ``context`` from :func:`new_context` is reused, cache and all.
    ``contrast_seen`` holds the text styles whose colour contrast an earlier page checked
    (see ``RUN_AXE``); this page's new ones are added to it.
    """
    from axe_playwright_python.base import AXE_SCRIPT

    width = WIDTHS[width_name]
    desktop = width_name == "desktop"
    result = PageResult(page_name, width)
    host = urlparse(base_url).netloc
    own_context = context is None
    if own_context:
        context = new_context(browser, width_name, host)
    sizes: list[int] = []
    requests: list[str] = []
    found = result.findings

    def finished(request: Any) -> None:
        requests.append(request.url)
        with contextlib.suppress(Exception):
            sizes.append(max(0, request.sizes()["responseBodySize"]))

    def failed(request: Any) -> None:
        requests.append(request.url)
        if not is_own(request.url, host):  # refused by new_context's guard
            found.append(Finding("foreign_request", page_name, width, clip(request.url, 120)))

    def console(message: Any) -> None:
        if message.type == "error":
            found.append(Finding("console_error", page_name, width, clip(message.text, 160)))

    page = context.new_page()
    page.on("requestfinished", finished)
    page.on("requestfailed", failed)
    page.on("console", console)
    page.on(
        "pageerror",
        lambda error: found.append(
            Finding("console_error", page_name, width, clip(str(error), 160), "uncaught")
        ),
    )
    try:
        response = page.goto(urljoin(base_url, page_name), wait_until="load")
        if response is None or not response.ok:
            result.findings.append(Finding("weight", page_name, width, page_name, "HTTP error"))
            return result
        page.evaluate(SETTLE)
        with contextlib.suppress(Exception):
            page.wait_for_load_state("networkidle", timeout=5000)
        result.bytes = sum(sizes)
        result.requests = len([u for u in requests if not u.startswith("data:")])
        if screenshots is not None:
            screenshots.mkdir(parents=True, exist_ok=True)
            stem = page_name.removesuffix(".html").replace("/", "_")
            page.screenshot(path=str(screenshots / f"{stem}-{width}.png"), full_page=True)
        page.evaluate(UNFOLD)
        report = page.evaluate(INSPECT, {"desktop": desktop})
        found += text_findings(page_name, width, report["text"])
        result.math = int(report["math"])
        for source in report["untypeset"]:
            found.append(Finding("math", page_name, width, source, "not typeset"))
        for error in report["mathErrors"]:
            found.append(Finding("math", page_name, width, error, "MathJax error"))
        if report["rawDelimiters"]:
            count = report["rawDelimiters"]
            found.append(Finding("math", page_name, width, f"{count} raw \\( or \\[", "left"))
        for source in report["brokenImages"]:
            found.append(Finding("broken_image", page_name, width, source))
        for eq in report["equations"]:
            what = f"{eq['over']} px too wide" if eq["over"] > 1 else "overflows"
            if eq["covered"]:
                what += ", under its number"
            label = f" {eq['label']}" if eq["label"] else ""
            found.append(Finding("clipped_equation", page_name, width, eq["tex"], what + label))
        if not desktop:
            result.overflow_px = int(report["overflow"])
            if result.overflow_px > 0:
                culprits = report["offenders"] or [{"tag": "?", "text": "", "right": 0}]
                for culprit in culprits[:3]:
                    found.append(
                        Finding(
                            "phone_overflow",
                            page_name,
                            width,
                            culprit["text"] or culprit["tag"],
                            f"page is {width + result.overflow_px} px wide; "
                            f"{culprit['tag']} ends at {culprit['right']} px",
                        )
                    )
        for code in report["wideCode"]:
            kind = "output" if code["output"] else "code"
            found.append(
                Finding("wide_code", page_name, width, code["text"], f"{kind}, +{code['over']} px")
            )
        for figure in report["figures"]:
            if figure["naturalWidth"] and figure["naturalHeight"] and figure["height"]:
                drawn = figure["naturalWidth"] / figure["naturalHeight"]
                shown = figure["width"] / figure["height"]
                if abs(shown / drawn - 1) > 0.02:
                    found.append(
                        Finding(
                            "distorted_figure",
                            page_name,
                            width,
                            figure["alt"] or figure["src"],
                            f"drawn {drawn:.2f}:1, shown {shown:.2f}:1",
                        )
                    )
        if desktop:
            for figure in report["figures"]:
                if not (figure["numbered"] and figure["captioned"]):
                    missing = "no number" if not figure["numbered"] else "no caption"
                    found.append(
                        Finding(
                            "uncaptioned_figure",
                            page_name,
                            width,
                            figure["alt"] or figure["src"],
                            missing,
                        )
                    )
                label_px = figure_text_px(site, figure)
                scale = figure["width"] / max(1, figure["naturalWidth"])
                if label_px is not None and (
                    label_px < figure["captionPx"] - 0.05 or 1 / scale < MIN_FIGURE_SHARPNESS
                ):
                    size = (
                        f"{FIGURE_LABEL_PT:.0f}-pt text ≈ {label_px:.1f} px, "
                        f"caption {figure['captionPx']:.1f} px"
                    )
                    found.append(
                        Finding(
                            "small_figure_text",
                            page_name,
                            width,
                            figure["alt"] or figure["src"],
                            f"{size}; shown at {scale:.0%}",
                        )
                    )
            for glued in report["glue"]:
                found.append(
                    Finding("bold_glue", page_name, width, glued["context"], glued["text"])
                )
        for cut in report["clippedText"]:
            found.append(
                Finding(
                    "clipped_text",
                    page_name,
                    width,
                    cut["text"],
                    f"{cut['shown']} px shown of {cut['needed']} px",
                )
            )
        if axe:
            # What a reader's console shows ends here: axe fetches the style sheets itself
            # (its CSSOM preload, which resolves the theme's @import against the site root)
            page.remove_listener("console", console)
            page.evaluate(AXE_SCRIPT)
            # Colour contrast (by far the slowest rule) does not depend on the width.
            outcome = page.evaluate(
                RUN_AXE,
                {
                    "tags": AXE_TAGS,
                    "extra": AXE_EXTRA_RULES,
                    "contrast": desktop,
                    "seen": sorted(contrast_seen) if contrast_seen is not None else [],
                },
            )
            if contrast_seen is not None:
                contrast_seen.update(outcome["fresh"])
            for violation in outcome["violations"]:
                result.axe_rules[violation["id"]] += len(violation["nodes"])
                for node in violation["nodes"][:3]:
                    found.append(
                        Finding(
                            "axe",
                            page_name,
                            width,
                            node["html"],
                            f"{violation['id']} [{violation['impact']}] at {node['target']}",
                        )
                    )
        if desktop and result.bytes > WEIGHT_BUDGET and page_name.startswith("book/"):
            found.append(
                Finding(
                    "weight",
                    page_name,
                    width,
                    f"{result.requests} requests",
                    f"{result.bytes / 1e6:.2f} MB > {WEIGHT_BUDGET / 1e6:.0f} MB",
                )
            )
    finally:
        page.close()
        if own_context:
            context.close()
    return result


def is_own(url: str, host: str) -> bool:
    """Whether a request goes to the site's own server (or is inline data)."""
    return url.startswith("data:") or urlparse(url).netloc == host


def new_context(browser: Any, width_name: str, host: str) -> Any:
    """A browser context at one width that refuses every request to another host."""
    context = browser.new_context(
        viewport={"width": WIDTHS[width_name], "height": HEIGHTS[width_name]}
    )
    context.route(
        "**/*",
        lambda route, request: route.continue_() if is_own(request.url, host) else route.abort(),
    )
    return context


def figure_text_px(site: Path, figure: dict[str, Any]) -> float | None:
    """The on-screen size of the figure's smallest (8-point) text, from the PNG's resolution."""
    source = site / unquote(figure["src"]).lstrip("/")
    if source.suffix.lower() != ".png" or not figure["naturalWidth"]:
        return None
    scale = figure["width"] / figure["naturalWidth"]
    return float(FIGURE_LABEL_PT * png_dpi(source) / 72.0 * scale)


def inspect_site(
    site: Path,
    chromium: str,
    pages: list[str] | None = None,
    widths: tuple[str, ...] = ("desktop", "phone"),
    screenshots: Path | None = None,
    axe: bool = True,
    base_url: str | None = None,
    workers: int = 1,
) -> list[PageResult]:
    """Inspect every page of ``site`` at every width (served at ``base_url``, or here).

    With ``workers > 1`` the pages are shared among that many processes, each with its own
    browser (the checks are independent per page; the results come back in page order).
    """
    from playwright.sync_api import sync_playwright

    pages = pages if pages is not None else site_pages(site)
    results = []
    with contextlib.ExitStack() as stack:
        if base_url is None:
            base_url = stack.enter_context(serve(site))
        if workers > 1 and len(pages) > 1:
            import concurrent.futures
            import multiprocessing

            # Largest pages first, dealt out in turn, so the processes finish together.
            by_size = sorted(pages, key=lambda p: -(site / p).stat().st_size)
            shares = [by_size[i::workers] for i in range(workers)]
            context = multiprocessing.get_context("spawn")
            with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
                futures = [
                    pool.submit(
                        inspect_site, site, chromium, share, widths, screenshots, axe, base_url
                    )
                    for share in shares
                    if share
                ]
                found = [r for future in futures for r in future.result()]
            order = {page: i for i, page in enumerate(pages)}
            return sorted(found, key=lambda r: (order[r.page], r.width != WIDTHS[widths[0]]))
        playwright = stack.enter_context(sync_playwright())
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        host = urlparse(base_url).netloc
        # Desktop views load cold, each in a context of its own (the weight check); the other
        # widths share one context, whose cache makes a page load about twice as fast.
        shared = {w: new_context(browser, w, host) for w in widths if w != "desktop"}
        contrast_seen: set[str] = set()  # text styles whose contrast was checked
        try:
            for page_name in pages:
                for width_name in widths:
                    results.append(
                        inspect(
                            browser,
                            base_url,
                            site,
                            page_name,
                            width_name,
                            screenshots,
                            axe,
                            context=shared.get(width_name),
                            contrast_seen=contrast_seen,
                        )
                    )
        finally:
            browser.close()
    return results
