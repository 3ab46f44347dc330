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

Each reading process runs its own kernel, and PyTorch and NumPy start one thread per core in
each: with two kernels on two cores, four busy-waiting OpenMP threads share two cores and the
heaviest chapters ran up to eight times slower than alone (chapter 11: 41 s in the build, 5 s
alone; the clean build: 105 s against 69 s). So unless ``OMP_NUM_THREADS`` is already set,
the kernels get ``cores // jobs`` threads each. Every stored output is independent of the
thread count (CI checks them with one thread per process).

Sphinx hands the processes batches of about ten documents in alphabetical order; with 24
documents, two processes and three batches, one process sat idle for ten seconds while the other
executed the third. Here the notebooks come first and the Markdown pages (read in a fraction of
a second) last, in batches that shrink as the work runs out (a quarter of what is left per
process, down to one document), so a process that finishes early takes a small batch and both
finish together; the batches are handed to Sphinx in the order its scheduler starts them.

At exit, Python's last garbage collection walks every object the build left (1.4 million:
the doctrees, the environment) for three seconds before the process can end. The build is
over by then, so :func:`freeze_heap_at_exit` moves them out of the collector's sight first
(``gc.freeze``), at interpreter exit only, so a process that builds again loses nothing.
"""

from __future__ import annotations

import atexit
import gc
import math
import os
from collections.abc import Callable, Sequence
from typing import Any

import sphinx.builders
import sphinx.util.parallel
from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.util.build_phase import BuildPhase

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


def share_the_cores(
    jobs: int,
    environ: dict[str, str] | os._Environ[str] = os.environ,
    cores: int | None = None,
) -> None:
    """Give each of ``jobs`` parallel kernels ``cores // jobs`` threads (at least one), by
    setting ``OMP_NUM_THREADS`` for the processes started later, unless it is already set."""
    cores = cores if cores is not None else os.cpu_count() or 1
    if jobs > 1 and not environ.get("OMP_NUM_THREADS", "").strip():
        environ["OMP_NUM_THREADS"] = str(max(1, cores // jobs))


def reading_batches(
    docnames: Sequence[str], is_notebook: Callable[[str], bool], processes: int
) -> list[list[str]]:
    """The documents in the order they should be read, notebooks first, cut into batches of
    ``ceil(left / (2 * processes))`` documents: large while much is left, single at the end."""
    order = [name for name in docnames if is_notebook(name)]
    order += [name for name in docnames if not is_notebook(name)]
    batches: list[list[str]] = []
    start = 0
    while start < len(order):
        size = max(1, math.ceil((len(order) - start) / (2 * processes)))
        batches.append(order[start : start + size])
        start += size
    return batches


def submission_order(batches: list[list[str]], processes: int) -> list[list[str]]:
    """The order in which to hand ``batches`` to Sphinx's ``ParallelTasks`` so that they start
    in the order given: it starts the first ``processes`` tasks at once and then, as each ends,
    the most recently added of those still waiting (``dict.popitem``). A test runs the real
    scheduler, so a Sphinx that schedules otherwise fails it."""
    return batches[:processes] + batches[processes:][::-1]


def _read_in_shrinking_batches(app: Sphinx) -> None:
    default = sphinx.util.parallel.make_chunks

    def make_chunks(arguments: Sequence[str], nproc: int, maxbatch: int = 10) -> list[Any]:
        if app.phase != BuildPhase.READING:
            return default(arguments, nproc, maxbatch)  # writing keeps Sphinx's batches
        batches = reading_batches(
            arguments, lambda name: str(app.env.doc2path(name)).endswith(".ipynb"), nproc
        )
        return submission_order(batches, nproc)

    # Sphinx's builder calls the name it imported into its own module.
    sphinx.builders.make_chunks = make_chunks  # type: ignore[attr-defined]


def _enable_parallel_reading(app: Sphinx, config: Config) -> None:
    app.parallel = reading_jobs()
    share_the_cores(app.parallel)
    if app.parallel > 1:
        _read_in_shrinking_batches(app)
    for name in REVIEWED_AS_PARALLEL_SAFE:
        extension = app.extensions.get(name)
        if extension is not None and extension.parallel_read_safe is None:
            extension.parallel_read_safe = True


def freeze_heap_at_exit() -> None:
    """Skip the collector's final walk over the build's objects (the interpreter is exiting)."""
    gc.freeze()


def setup(app: Sphinx) -> dict[str, Any]:
    atexit.unregister(freeze_heap_at_exit)  # once, however many builds this process runs
    atexit.register(freeze_heap_at_exit)
    app.connect("config-inited", _enable_parallel_reading)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
