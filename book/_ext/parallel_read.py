"""Read (and so execute) the book's notebooks in parallel.

Every build re-executes every notebook, which dominates the build time. Sphinx can read
documents in parallel processes, but the Jupyter Book 1 command line has no ``-j`` option.
This extension sets the number of reading processes to ``BOOK_BUILD_JOBS`` (default: the
number of CPUs, at most 4).

Sphinx reads in parallel only if every extension declares itself safe for it. Two extensions
that Jupyter Book adds do not declare anything; after review they are safe, and we say so:

- ``sphinx_multitoc_numbering`` replaces the section-numbering method of Sphinx's toctree
  collector, which runs in the main process after all documents are read;
- ``sphinx_jupyterbook_latex`` only registers transforms for the LaTeX builder.

A serial build (``BOOK_BUILD_JOBS=1``) and a parallel build produce identical HTML except for
the timings on the execution-statistics page.
"""

from __future__ import annotations

import os
from typing import Any

from sphinx.application import Sphinx
from sphinx.config import Config

REVIEWED_AS_PARALLEL_SAFE = ("sphinx_multitoc_numbering", "sphinx_jupyterbook_latex")
MAX_DEFAULT_JOBS = 4


def reading_jobs(environ: dict[str, str] | os._Environ[str] = os.environ) -> int:
    """Number of parallel reading processes: ``BOOK_BUILD_JOBS`` or the CPU count (<= 4)."""
    requested = environ.get("BOOK_BUILD_JOBS", "").strip()
    if requested:
        jobs = int(requested)
        if jobs < 1:
            raise ValueError(f"BOOK_BUILD_JOBS must be at least 1, got {requested!r}")
        return jobs
    return max(1, min(os.cpu_count() or 1, MAX_DEFAULT_JOBS))


def _enable_parallel_reading(app: Sphinx, config: Config) -> None:
    app.parallel = reading_jobs()
    for name in REVIEWED_AS_PARALLEL_SAFE:
        extension = app.extensions.get(name)
        if extension is not None and extension.parallel_read_safe is None:
            extension.parallel_read_safe = True


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("config-inited", _enable_parallel_reading)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
