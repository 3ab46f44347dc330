"""Write the reader-view table of a built site: what each page shows a reader (issue #11).

Usage (from the repository root)::

    python tools/reader_view_report.py                      # build from stored outputs, report
    python tools/reader_view_report.py --site _build/html   # report on a site already built
    python tools/reader_view_report.py --screenshots /tmp/shots --output report.md

The checks are those of ``tests/test_site.py`` (one implementation, in
``tools/reader_view.py``): each page is opened in headless Chromium on a cold cache at 1366 px
and at 390 px. The table counts, per page, the findings of each check; below it every finding
is listed with its page, width and element, so that a fix is easy to find.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import reader_view as rv

COLUMNS = [
    ("unrendered", "raw source"),
    ("machine_text", "paths/reprs"),
    ("clipped_equation", "clipped eqs"),
    ("wide_code", "wide code"),
    ("uncaptioned_figure", "uncaptioned figs"),
    ("distorted_figure", "distorted figs"),
    ("small_figure_text", "small fig text"),
    ("bold_glue", "bold glue"),
    ("emoji", "emoji"),
    ("clipped_text", "cut titles"),
]


def table(results: list[rv.PageResult], title: str) -> list[str]:
    by_page: dict[str, dict[int, rv.PageResult]] = {}
    for result in results:
        by_page.setdefault(result.page, {})[result.width] = result
    desktop, phone = rv.WIDTHS["desktop"], rv.WIDTHS["phone"]
    header = (
        ["page"]
        + [name for _, name in COLUMNS]
        + ["phone overflow px", "axe violations (rule: nodes)", "bytes", "requests"]
    )
    lines = [f"## {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    totals: Counter[str] = Counter()
    for page, widths in by_page.items():
        wide = widths.get(desktop) or next(iter(widths.values()))
        narrow = widths.get(phone)
        cells = [page.removeprefix("book/").removesuffix(".html")]
        for check, _ in COLUMNS:
            # A check that runs at both widths counts its worst width.
            count = max(result.count(check) for result in widths.values())
            totals[check] += count
            cells.append(str(count) if count else "·")
        overflow = narrow.overflow_px if narrow else 0
        totals["overflow pages"] += overflow > 0
        cells.append(str(overflow) if overflow else "·")
        rules: Counter[str] = Counter()
        for result in widths.values():
            for rule, nodes in result.axe_rules.items():
                rules[rule] = max(rules[rule], nodes)
        totals["axe"] += sum(rules.values())
        cells.append(", ".join(f"{rule}: {n}" for rule, n in sorted(rules.items())) or "·")
        cells += [f"{wide.bytes:,}", str(wide.requests)]
        lines.append("| " + " | ".join(cells) + " |")
    total_cells = (
        ["**total**"]
        + [str(totals[check]) for check, _ in COLUMNS]
        + [f"{totals['overflow pages']} pages", f"{totals['axe']} nodes", "", ""]
    )
    lines.append("| " + " | ".join(total_cells) + " |")
    return lines


def details(results: list[rv.PageResult]) -> list[str]:
    lines = ["## Every finding", ""]
    seen = set()
    for check, description in rv.CHECKS.items():
        found = [f for r in results for f in r.findings if f.check == check]
        if not found:
            continue
        lines += [f"### {check}: {description}", ""]
        for finding in found:
            key = (finding.page, finding.detail, finding.element)
            # Text findings repeat at both widths: list them once (at the first width).
            if check in {"unrendered", "machine_text", "emoji", "axe"} and key in seen:
                continue
            seen.add(key)
            text = str(finding).replace("|", "\\|")
            lines.append(f"- {text}")
        lines.append("")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, help="a built site (its _build/html folder)")
    parser.add_argument("--output", type=Path, default=None, help="markdown file to write")
    parser.add_argument("--screenshots", type=Path, default=None, help="folder for PNGs")
    parser.add_argument("--title", default="Reader view", help="heading of the table")
    parser.add_argument("--pages", nargs="*", help="only these pages (e.g. book/history.html)")
    parser.add_argument("--workers", type=int, default=2, help="browser processes (default 2)")
    args = parser.parse_args(argv)
    chromium = rv.find_chromium()
    if chromium is None:
        print("Chromium not found: install it (`apt-get install chromium`)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as scratch:
        site = args.site
        if site is None:
            print("building the book from its stored outputs ...", flush=True)
            site, _ = rv.build_site(Path(scratch))
        start = time.perf_counter()
        results = rv.inspect_site(
            site, chromium, args.pages, screenshots=args.screenshots, workers=args.workers
        )
        seconds = time.perf_counter() - start
    lines = [*table(results, args.title), "", *details(results)]
    text = "\n".join(lines) + "\n"
    if args.output:
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {args.output} ({len(results)} page views in {seconds:.0f} s)")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
