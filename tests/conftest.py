"""Shared fixtures: seeded generators and the two floating dtypes every function must support."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Before torch (and NumPy's BLAS) start their thread pools: under pytest-xdist each worker, and
# each notebook kernel it starts, gets its share of the cores. Two workers with a thread per
# core each left four busy-waiting OpenMP threads on two cores, and the heaviest notebook
# cells and tests ran about ten times slower (book/_ext/parallel_read.py does the same for
# the build). Stored outputs do not depend on the thread count (CI checks them with one).
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or "1")
if _WORKERS > 1 and not os.environ.get("OMP_NUM_THREADS", "").strip():
    os.environ["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // _WORKERS))

import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

# The package must not depend on the global default dtype: tests leave it at float32 and
# pass float64 explicitly where precision matters.

DTYPES = (torch.float32, torch.float64)


@pytest.fixture
def generator() -> torch.Generator:
    return torch.Generator().manual_seed(1234)


@pytest.fixture
def double_precision() -> Iterator[None]:
    """Torch's default dtype float64 during a test, so that numbers given to the package become
    float64 tensors (for tests whose oracles are float64); restored afterwards."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(before)


@pytest.fixture(params=DTYPES, ids=lambda d: str(d).removeprefix("torch."))
def dtype(request: pytest.FixtureRequest) -> torch.dtype:
    return request.param


@pytest.fixture(autouse=True)
def figures_fit_the_column(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every figure a test draws obeys the book's figure rules (issue #11).

    Checked when the test closes the figure and, for figures left open, after the test:
    at most ``COLUMN_WIDTH_IN`` wide and no text under ``SMALLEST_TEXT_PT``
    (:func:`reparam.book.plotting.style.figure_problems`).
    """
    if "matplotlib.pyplot" not in sys.modules and "reparam.book.plotting" not in sys.modules:
        yield
        return
    import matplotlib.pyplot as plt

    from reparam.book.plotting.style import figure_problems

    problems: list[str] = []
    close = plt.close

    def checked_close(fig: Any = None) -> None:
        targets = [fig] if isinstance(fig, Figure) else []
        if fig in (None, "all"):
            targets = [plt.figure(n) for n in plt.get_fignums()] if fig == "all" else []
        for target in targets:
            problems.extend(figure_problems(target))
        close(fig)

    monkeypatch.setattr(plt, "close", checked_close)
    before = set(plt.get_fignums())
    yield
    for number in set(plt.get_fignums()) - before:
        problems.extend(figure_problems(plt.figure(number)))
        close(number)
    assert not problems, "figure does not fit the book's column:\n" + "\n".join(problems)


#: Test files that start first, in this order: the site's build and browser pass, the longest
#: chain of the run (about half of it), then the notebooks that take longest under strict nbval.
FIRST = (
    "tests/test_site.py",
    "book/variational-autoencoder.ipynb",
    "book/bayesian-logistic-regression.ipynb",
    "book/reparameterizations-table.ipynb",
    "book/discrete-relaxations.ipynb",
    "book/smarter-sampling.ipynb",
    "book/gaussians-at-scale.ipynb",
    "book/estimator-variance.ipynb",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Longest first: the files of FIRST lead, the rest keep their order.

    pytest-xdist (``--dist loadfile --no-loadscope-reorder``, in pyproject.toml) hands the files
    to its two workers in this order, a new one to whichever finishes first. So one worker
    builds the site and drives the browser while the other runs the long notebooks and then
    the unit tests, instead of the build starting halfway through and the run ending on it.
    """
    root = Path(str(config.rootpath))

    def rank(item: pytest.Item) -> int:
        path = Path(str(item.path)).resolve()
        name = path.relative_to(root).as_posix() if path.is_relative_to(root) else ""
        return FIRST.index(name) if name in FIRST else len(FIRST)

    items.sort(key=rank)  # stable: within a rank, the collection order


@pytest.fixture(scope="session")
def built_site(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """The book built once per test run (stored outputs, no execution), shared by every test
    file that reads the site (test_site.py, test_reader_notebooks.py); returns the HTML root.

    The build uses the notebooks' stored outputs instead of executing them a second time:
    strict nbval, in the same test run, re-executes every notebook and fails unless it
    reproduces every stored output, so this site is the one an executing build (the README's
    build command, ``execute_notebooks: force``) produces. Under pytest-xdist the workers share
    the run's temporary folder, so the first to ask builds and the others wait on a lock.
    ``READER_VIEW_SITE`` reuses a site built earlier.
    """
    prebuilt = os.environ.get("READER_VIEW_SITE")
    if prebuilt:
        return Path(prebuilt).resolve()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
    import reader_view as rv
    from filelock import FileLock

    # Without xdist ("master") the run's own folder; with it, the folder all workers share.
    shared = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        shared = shared.parent
    record = shared / "book-site.json"
    with FileLock(str(shared / "book-site.lock")):
        if not record.exists():
            start = time.perf_counter()
            html, log = rv.build_site(shared / "book-site")
            warnings = [
                line for line in log.splitlines() if "WARNING" in line and "IPKernelApp" not in line
            ]
            seconds = time.perf_counter() - start
            record.write_text(json.dumps({"html": str(html), "warnings": warnings}))
            print(f"book build took {seconds:.1f} s")
        built = json.loads(record.read_text())
    assert not built["warnings"], "book build had warnings:\n" + "\n".join(built["warnings"])
    return Path(built["html"])
