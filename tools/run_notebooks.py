"""Execute notebooks top to bottom in a fresh kernel and store their outputs in place.

Usage (from the repository root)::

    python tools/run_notebooks.py                 # every notebook in book/
    python tools/run_notebooks.py book/foo.ipynb  # just these
    python tools/run_notebooks.py --no-write      # only time them (the notebook benchmark)

Each notebook runs in its own fresh ``python3`` kernel with ``book/`` as working directory,
exactly as the book build and nbval run it. Cells tagged ``raises-exception`` may fail; any
other error stops with a non-zero exit. The time each notebook takes is printed, so this
script doubles as the benchmark of the per-notebook budgets, which it reads from
``_config.yml`` (``exec_budget_seconds`` and ``exec_budget_overrides``, the numbers the
execution-statistics page shows).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat
import yaml
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]


def budget_seconds(path: Path) -> float:
    """The notebook's budget in seconds, from ``_config.yml``."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text("utf-8"))["sphinx"]["config"]
    docname = path.resolve().relative_to(ROOT).with_suffix("").as_posix()
    overrides = config.get("exec_budget_overrides") or {}
    return float(overrides.get(docname, config["exec_budget_seconds"]))


def run(path: Path, timeout: int, write: bool = True) -> float:
    notebook = nbformat.read(path, as_version=4)
    notebook.metadata["kernelspec"] = {
        "display_name": "Python 3",
        "language": "python",
        "name": "python3",
    }
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    # Drop the per-run timing metadata nbclient adds, so re-running does not change the file.
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
    if write:
        nbformat.write(notebook, path)
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--timeout", type=int, default=300, help="seconds allowed per cell")
    parser.add_argument(
        "--no-write",
        action="store_true",
        help="only time the notebooks; leave the files as they are",
    )
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted(
        p
        for p in (ROOT / "book").rglob("*.ipynb")
        if "_build" not in p.parts and ".ipynb_checkpoints" not in p.parts
    )
    for path in paths:
        seconds = run(path, args.timeout, write=not args.no_write)
        budget = budget_seconds(path)
        flag = "" if seconds <= budget else f"  (over the {budget:.0f} s budget)"
        print(f"{seconds:6.1f} s  {path}{flag}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
