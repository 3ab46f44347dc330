"""Build the PDF edition of the book, offline, with the Chromium of the system.

Usage (from the repository root)::

    python tools/build_pdf.py                          # build the site, then _build/html/book.pdf
    python tools/build_pdf.py --site _build/html       # print a site already built
    python tools/build_pdf.py --site _build/html --output book.pdf

Without ``--site`` the book is built into ``_build/`` from the notebooks' stored outputs (no
execution: a minute rather than several; strict nbval keeps those outputs equal to a fresh
run), and the build itself prints the PDF (``book/_ext/pdf_edition.py``). With ``--site`` an
existing HTML build is printed. Either way the pages of the table of contents (but those
``pdf_edition_exclude`` in ``_config.yml`` names) are printed in reading order into one A4
PDF, with the site's numbering of chapters, equations and figures, links for
cross-references, a bookmark per chapter and numbered pages. Needs Chromium
(Debian: ``apt-get install chromium``); nothing is downloaded.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "book" / "_ext"))

import pdf_edition  # noqa: E402
import reader_view  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, help="an HTML build to print (its _build/html)")
    parser.add_argument("--output", type=Path, help="where to write the PDF")
    args = parser.parse_args(argv)
    if pdf_edition.find_chromium() is None:
        print("Chromium not found: install it (Debian: apt-get install chromium)", file=sys.stderr)
        return 2
    start = time.perf_counter()
    if args.site is None:
        print("building the site from the stored outputs into _build/ ...", flush=True)
        site, log = reader_view.build_site(ROOT)
        pdf = site / pdf_edition.PDF_NAME
        if not pdf.is_file():
            print(log[-3000:], file=sys.stderr)
            return 1
        if args.output:
            args.output.write_bytes(pdf.read_bytes())
            pdf = args.output
        from pypdf import PdfReader

        pages = len(PdfReader(str(pdf)).pages)
        print(f"{pdf}: {pages} pages, {time.perf_counter() - start:.0f} s with the site build")
        return 0
    report = pdf_edition.build_pdf(args.site, reader_view.pdf_docnames(), args.output)
    print(
        f"{report.path}: {report.pages} pages, {report.chapters} chapters, "
        f"{report.seconds:.0f} s; {report.scaled} wide equations or tables set smaller"
    )
    if report.clipped_code:
        print(f"code cut at the page edge: {report.clipped_code}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
