"""Smoke test of an installed ``reparam`` wheel, run by CI in a fresh environment (issue #12).

Usage, with the environment's Python and from a directory outside the repository (so that
``import reparam`` finds the installed wheel, never the working tree)::

    python /path/to/tools/smoke_wheel.py core --readme /path/to/README.md
    python /path/to/tools/smoke_wheel.py book
    python /path/to/tools/smoke_wheel.py notebooks --folder /path/to/notebooks

``core`` (only the wheel and its dependencies installed): ``reparam`` comes from
site-packages; ``import reparam`` imports neither matplotlib nor scikit-learn, which are not
even installed (the core must not need them); every Python example of the README runs; and
every catalog row, as a ``torch.distributions.Distribution``, draws with ``rsample``, scores
its draws with a finite ``log_prob`` and passes gradients back to its parameters; and the
timeline data and the bibliography load from the files the wheel ships
(``reparam.book.history`` needs no extra).

``book`` (after installing the ``book`` extra): the book's plotting and data modules import.

``notebooks --folder notebooks/`` (with the ``book`` extra, ``ipykernel`` and ``nbclient``):
every reader notebook (issue #13) runs top to bottom in a fresh kernel of this environment,
from an empty folder, its setup cell finding everything installed (so it prints nothing).

Prints one line per check and exits non-zero on the first failure.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

BOOK_ONLY = ("matplotlib", "sklearn")


def check(condition: bool, message: str, detail: str = "") -> None:
    """Print ``ok: message``, or stop with ``FAILED: message`` and the ``detail``."""
    if not condition:
        raise SystemExit(f"FAILED: {message}\n{detail}")
    print(f"ok: {message}", flush=True)


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    """``code`` in a fresh interpreter of this environment, from an empty directory."""
    with tempfile.TemporaryDirectory() as empty:
        return subprocess.run(
            [sys.executable, "-c", code], cwd=empty, capture_output=True, text=True, check=False
        )


def check_installed_copy() -> None:
    import reparam

    location = Path(reparam.__file__).resolve()
    check("site-packages" in location.parts, f"reparam {reparam.__version__} from {location}")


def check_import_is_light() -> None:
    for name in BOOK_ONLY:
        check(importlib.util.find_spec(name) is None, f"{name} is not installed (core only)")
    result = run_python(
        "import sys, reparam\n"
        f"print(sorted(m for m in {BOOK_ONLY!r} if m in sys.modules))\n"
        "print('reparam.book' in sys.modules)"
    )
    check(result.returncode == 0, "import reparam runs", result.stderr)
    check(
        result.stdout.split() == ["[]", "False"],
        "import reparam imports no book code",
        f"loaded (book-only modules, reparam.book): {result.stdout}",
    )


def check_readme_examples(readme: Path) -> None:
    blocks = re.findall(r"```python\n(.*?)```", readme.read_text(encoding="utf-8"), re.DOTALL)
    check(len(blocks) >= 2, f"README has {len(blocks)} Python examples")
    for number, block in enumerate(blocks, start=1):
        result = run_python(block)
        check(result.returncode == 0, f"README example {number} runs", block + result.stderr)


def check_catalog() -> None:
    import torch

    from reparam import catalog
    from reparam.distributions import from_catalog

    torch.manual_seed(0)  # torch.distributions' rsample draws from the global generator
    for key, entry in catalog.CATALOG.items():
        params = {
            name: value.requires_grad_()
            for name, value in entry.example_params(torch.float64).items()
        }
        # validate_args by name: else mypy matches the Tensor values against it
        distribution = from_catalog(key, validate_args=None, **params)
        draws = distribution.rsample((64,))
        log_prob = distribution.log_prob(draws)
        (draws.sum() + log_prob.sum()).backward()
        gradients_finite = all(
            value.grad is not None and bool(torch.isfinite(value.grad).all())
            for value in params.values()
        )
        check(
            draws.shape[0] == 64
            and log_prob.shape == (64,)
            and bool(torch.isfinite(log_prob).all())
            and gradients_finite,
            f"catalog row {key}: rsample, log_prob and gradients",
        )
    check(len(catalog.CATALOG) > 0, f"{len(catalog.CATALOG)} catalog rows")


def check_timeline() -> None:
    from importlib import resources

    from reparam.book import history

    data = resources.files("reparam.book") / "_data" / "timeline.csv"
    check(data.is_file(), f"the wheel ships {data}")
    events = history.load_timeline()
    check(len(events) >= 20, f"load_timeline() reads {len(events)} events")
    check(
        {event.category for event in events} == set(history.CATEGORIES),
        "every timeline category is present",
    )
    bibliography = history.load_bibliography()
    history.validate_timeline(events, bibliography)
    check(len(bibliography) >= 30, f"load_bibliography() reads {len(bibliography)} entries")


def check_book_modules() -> None:
    import matplotlib

    matplotlib.use("Agg")
    from reparam.book import data, plotting

    check(callable(plotting.book_style), "reparam.book.plotting imports")
    check(hasattr(data, "DataSplit"), "reparam.book.data imports")


#: Executes one notebook in a fresh kernel of this environment, in an empty folder of its own.
_RUN_ONE = """
import sys, time, nbformat
from nbclient import NotebookClient
notebook = nbformat.read(sys.argv[1], as_version=4)
start = time.perf_counter()
NotebookClient(notebook, timeout=600, kernel_name="python3",
               resources={"metadata": {"path": "."}}).execute()
setup = notebook.cells[0]
assert setup.cell_type == "code" and not setup.outputs, (
    "the setup cell printed or installed something:", setup.outputs)
print(f"{time.perf_counter() - start:.1f}")
"""


def check_notebooks(folder: Path, jobs: int) -> None:
    """Run every reader notebook in ``folder`` top to bottom, ``jobs`` at a time, each in a
    fresh kernel and an empty working folder; its setup cell must find everything installed."""
    notebooks = sorted(folder.glob("*.ipynb"))
    check(len(notebooks) > 0, f"{len(notebooks)} reader notebooks in {folder.name}/")
    pending = list(notebooks)
    # Each kernel its share of the cores: ``jobs`` kernels with a thread per core each
    # oversubscribe the machine, and busy-waiting OpenMP threads slow them several times.
    environment = dict(os.environ)
    if not environment.get("OMP_NUM_THREADS", "").strip():
        environment["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // jobs))
    running: list[tuple[Path, subprocess.Popen[str], tempfile.TemporaryDirectory[str]]] = []
    while pending or running:
        while pending and len(running) < jobs:
            notebook = pending.pop(0)
            empty = tempfile.TemporaryDirectory()
            process = subprocess.Popen(
                [sys.executable, "-c", _RUN_ONE, str(notebook.resolve())],
                cwd=empty.name,
                env=environment,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            running.append((notebook, process, empty))
        notebook, process, empty = running.pop(0)
        out, err = process.communicate()
        empty.cleanup()
        check(
            process.returncode == 0,
            f"{notebook.name} runs top to bottom in a fresh kernel ({out.strip()} s)",
            err[-4000:],
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stage", choices=["core", "book", "notebooks"])
    parser.add_argument("--readme", type=Path, help="README.md of the repository (core stage)")
    parser.add_argument("--folder", type=Path, help="the reader notebooks (notebooks stage)")
    parser.add_argument("--jobs", type=int, default=2, help="notebooks run at a time")
    args = parser.parse_args()
    check_installed_copy()
    if args.stage == "notebooks":
        if args.folder is None:
            parser.error("the notebooks stage needs --folder")
        check_notebooks(args.folder, args.jobs)
        return 0
    if args.stage == "core":
        if args.readme is None:
            parser.error("the core stage needs --readme")
        check_import_is_light()
        check_readme_examples(args.readme)
        check_catalog()
        check_timeline()
    else:
        check_book_modules()
    return 0


if __name__ == "__main__":
    sys.exit(main())
