"""Copy the reader notebooks of a built site into ``notebooks/`` (or check that they match).

The build writes a plain-CommonMark *reader notebook* for every chapter into
``_build/html/_notebooks/`` (book/_ext/reader_notebooks.py). The repository keeps the same files
under ``notebooks/``: the launch buttons (Binder, Colab) open them from GitHub, and the README's
"run a notebook" route opens them in JupyterLab. tests/test_reader_notebooks.py fails when the
two differ, so after changing a chapter, build the book and run this script.

Usage (from the repository root)::

    python tools/sync_reader_notebooks.py                 # _build/html -> notebooks/
    python tools/sync_reader_notebooks.py --check         # exit 1 if they differ
    python tools/sync_reader_notebooks.py --site DIR      # another built site
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
READER_FOLDER = "_notebooks"  # book/_ext/reader_notebooks.py: READER_FOLDER
COMMITTED = ROOT / "notebooks"


def differences(site: Path, committed: Path = COMMITTED) -> list[str]:
    """What differs between the site's reader notebooks and the committed copies."""
    built = {path.name: path for path in (site / READER_FOLDER).glob("*.ipynb")}
    kept = {path.name: path for path in committed.glob("*.ipynb")}
    if not built:
        return [f"no reader notebooks in {site / READER_FOLDER}: build the book first"]
    found = [f"{name}: not in {committed.name}/" for name in sorted(built.keys() - kept.keys())]
    found += [f"{name}: no such chapter any more" for name in sorted(kept.keys() - built.keys())]
    found += [
        f"{name}: differs from the build's"
        for name in sorted(built.keys() & kept.keys())
        if built[name].read_bytes() != kept[name].read_bytes()
    ]
    return found


def sync(site: Path, committed: Path = COMMITTED) -> list[str]:
    """Make ``committed`` hold exactly the site's reader notebooks; return what changed."""
    changed = differences(site, committed)
    if changed and not any((site / READER_FOLDER).glob("*.ipynb")):
        raise SystemExit(changed[0])
    committed.mkdir(exist_ok=True)
    built = {path.name for path in (site / READER_FOLDER).glob("*.ipynb")}
    for stale in committed.glob("*.ipynb"):
        if stale.name not in built:
            stale.unlink()
    for name in built:
        (committed / name).write_bytes((site / READER_FOLDER / name).read_bytes())
    return changed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", type=Path, default=ROOT / "_build" / "html")
    parser.add_argument("--check", action="store_true", help="only report differences")
    args = parser.parse_args()
    if args.check:
        found = differences(args.site)
        for line in found:
            print(line)
        return 1 if found else 0
    for line in sync(args.site) or ["notebooks/ already matches the build"]:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
