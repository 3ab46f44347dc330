"""The book's local Sphinx extensions (book/_ext)."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book" / "_ext"))

import launch_buttons  # noqa: E402
import local_mathjax  # noqa: E402
import pdf_edition  # noqa: E402


def test_launch_buttons_off_without_repository() -> None:
    for url in ("", None, "   "):
        settings = launch_buttons.launch_settings({"repository_url": url, "launch_buttons": {}})
        assert settings["binderhub_url"] == "" and settings["colab_url"] == ""


def test_launch_buttons_on_with_a_github_repository() -> None:
    settings = launch_buttons.launch_settings(
        {
            "repository_url": "https://github.com/example-org/reparam-book",
            "launch_buttons": {"x": 1},
        }
    )
    assert settings["binderhub_url"] == launch_buttons.BINDERHUB_URL
    assert settings["colab_url"] == launch_buttons.COLAB_URL
    assert settings["x"] == 1


@pytest.mark.parametrize(
    "url",
    [
        "https://example.org/book",
        "https://gitlab.com/a/b",
        "github.com/a/b",
        "https://github.com/a",
    ],
)
def test_launch_buttons_off_for_other_hosts(url: str) -> None:
    # Colab and Binder open GitHub repositories; anything else switches the buttons off
    # (and the build warns, which -W makes an error).
    settings = launch_buttons.launch_settings({"repository_url": url})
    assert settings["binderhub_url"] == "" and settings["colab_url"] == ""
    with pytest.raises(ValueError, match="repository_url"):
        launch_buttons.launch_urls(url, "main", "score-function")


def _write_notebook(path: Path, markdown: str) -> None:
    import nbformat

    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_markdown_cell(markdown), nbformat.v4.new_code_cell("1 + 1")],
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)


def _mini_build(tmp_path: Path, repository_url: str) -> str:
    """Build a one-chapter site with the book's theme and this extension; its chapter's HTML."""
    from sphinx.application import Sphinx

    source = tmp_path / "src"
    _write_notebook(source / "book" / "score-function.ipynb", "# A chapter")
    (source / "index.md").write_text("# Home\n\n```{toctree}\nbook/score-function\n```\n")
    (source / "conf.py").write_text("")
    app = Sphinx(
        srcdir=str(source),
        confdir=str(source),
        outdir=str(tmp_path / "html"),
        doctreedir=str(tmp_path / "doctrees"),
        buildername="html",
        confoverrides={
            "extensions": ["myst_nb", "sphinx_book_theme", "launch_buttons"],
            "html_theme": "sphinx_book_theme",
            "nb_execution_mode": "off",
            "html_theme_options": {
                "repository_url": repository_url,
                "repository_branch": "main",
                "path_to_docs": "",
                "launch_buttons": {},
            },
        },
        status=None,
        warning=None,
        freshenv=True,
    )
    app.build()
    return (tmp_path / "html" / "book" / "score-function.html").read_text("utf-8")


def test_launch_button_urls_for_a_sample_repository(tmp_path: Path) -> None:
    # The theme builds the buttons; this extension aims them at the reader notebook under
    # notebooks/ (plain CommonMark), which Binder opens in JupyterLab and Colab from GitHub.
    html = _mini_build(tmp_path / "on", "https://github.com/example-org/reparam-book")
    binder = (
        "https://mybinder.org/v2/gh/example-org/reparam-book/main"
        "?urlpath=lab/tree/notebooks/score-function.ipynb"
    )
    colab = (
        "https://colab.research.google.com/github/example-org/reparam-book/blob/main/"
        "notebooks/score-function.ipynb"
    )
    assert f'href="{binder}"' in html
    assert f'href="{colab}"' in html
    assert "book/score-function.ipynb" not in html.replace("_sources/book/score-function.ipynb", "")
    assert launch_buttons.launch_urls(
        "https://github.com/example-org/reparam-book", "main", "score-function"
    ) == {"Binder": binder, "Colab": colab}
    off = _mini_build(tmp_path / "off", "")
    assert "mybinder.org" not in off and "colab.research.google.com" not in off


def test_the_reader_notebooks_the_buttons_open_exist() -> None:
    chapters = {path.stem for path in (ROOT / "book").glob("*.ipynb")}
    committed = {path.stem for path in (ROOT / launch_buttons.READER_NOTEBOOKS).glob("*.ipynb")}
    assert committed == chapters


def test_mathjax_is_installed_with_its_fonts() -> None:
    source = local_mathjax.mathjax_source()
    assert (source / local_mathjax.ENTRY_POINT).is_file()
    assert any((source / "output" / "chtml" / "fonts" / "woff-v2").glob("*.woff"))
    for folder in local_mathjax.LAZY_FOLDERS:
        assert (source / folder).is_dir()


def test_parallel_reading_jobs() -> None:
    import parallel_read

    assert parallel_read.reading_jobs({"BOOK_BUILD_JOBS": "3"}) == 3
    assert 1 <= parallel_read.reading_jobs({}) <= parallel_read.MAX_DEFAULT_JOBS
    with pytest.raises(ValueError, match="BOOK_BUILD_JOBS"):
        parallel_read.reading_jobs({"BOOK_BUILD_JOBS": "0"})


def test_parallel_kernels_share_the_cores() -> None:
    """Each of the build's parallel kernels gets its share of the cores, unless the reader
    chose a thread count; a serial build leaves the default alone."""
    import parallel_read

    environ: dict[str, str] = {}
    parallel_read.share_the_cores(2, environ, cores=2)
    assert environ == {"OMP_NUM_THREADS": "1"}
    environ = {}
    parallel_read.share_the_cores(2, environ, cores=8)
    assert environ == {"OMP_NUM_THREADS": "4"}
    environ = {}
    parallel_read.share_the_cores(4, environ, cores=2)
    assert environ == {"OMP_NUM_THREADS": "1"}
    environ = {"OMP_NUM_THREADS": "3"}
    parallel_read.share_the_cores(2, environ, cores=2)
    assert environ == {"OMP_NUM_THREADS": "3"}
    environ = {}
    parallel_read.share_the_cores(1, environ, cores=2)
    assert environ == {}


def test_reading_batches_put_notebooks_first_and_shrink() -> None:
    import parallel_read

    names = [f"page{i}" for i in range(7)] + [f"nb{i:02d}" for i in range(17)]
    batches = parallel_read.reading_batches(names, lambda name: name.startswith("nb"), 2)
    flat = [name for batch in batches for name in batch]
    assert flat == [f"nb{i:02d}" for i in range(17)] + [f"page{i}" for i in range(7)]
    sizes = [len(batch) for batch in batches]
    assert sizes == [6, 5, 4, 3, 2, 1, 1, 1, 1]  # ceil(left / 4) with 24, 18, 13, 9, 6, 4, ...
    assert parallel_read.reading_batches([], lambda name: True, 2) == []
    assert parallel_read.reading_batches(["a"], lambda name: False, 4) == [["a"]]


def _record_start(args: tuple[str, str]) -> None:
    import time

    log, name = args
    with open(log, "a") as handle:
        handle.write(name + "\n")
    time.sleep(0.15)


@pytest.mark.parametrize("processes", [2, 3])
def test_sphinx_starts_the_batches_in_the_order_given(tmp_path: Path, processes: int) -> None:
    """The real scheduler (Sphinx's ParallelTasks, which the reading uses) starts batches
    handed over in ``submission_order`` in the intended order: the first ``processes`` at
    once, then one by one. Handed over in the intended order, it would not."""
    import parallel_read
    from sphinx.util.parallel import ParallelTasks

    intended = [[f"b{i}"] for i in range(7)]
    log = tmp_path / "starts.txt"
    tasks = ParallelTasks(processes)
    for batch in parallel_read.submission_order(intended, processes):
        tasks.add_task(_record_start, (str(log), batch[0]))
    tasks.join()
    started = log.read_text().split()
    assert sorted(started[:processes]) == [f"b{i}" for i in range(processes)]
    assert started[processes:] == [f"b{i}" for i in range(processes, 7)]


def test_pdf_parts_are_runs_of_whole_pages_of_similar_size() -> None:
    import itertools
    import random

    rng = random.Random(5)
    for _ in range(200):
        pages = [f"p{i}.html" for i in range(rng.randint(1, 9))]
        sizes = [rng.randint(1, 100) for _ in pages]
        parts = rng.randint(1, 5)
        runs = pdf_edition.split_reading_order(pages, sizes, parts)
        assert [p for run in runs for p in run] == pages  # reading order, nothing lost
        assert len(runs) == min(parts, len(pages)) and all(runs)
        size = dict(zip(pages, sizes, strict=True))
        largest = max(sum(size[p] for p in run) for run in runs)
        # Oracle: every way to cut the pages into that many runs.
        best = min(
            max(sum(sizes[a:b]) for a, b in zip((0, *cuts), (*cuts, len(pages)), strict=True))
            for cuts in itertools.combinations(range(1, len(pages)), len(runs) - 1)
        )
        assert largest == best, (sizes, parts, runs)


def test_pdf_print_parts_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PDF_PRINT_PARTS", "3")
    assert pdf_edition.print_parts() == 3
    for bad in ("0", "-1", "two"):
        monkeypatch.setenv("PDF_PRINT_PARTS", bad)
        with pytest.raises(ValueError, match="PDF_PRINT_PARTS"):
            pdf_edition.print_parts()
    monkeypatch.delenv("PDF_PRINT_PARTS")
    assert 1 <= pdf_edition.print_parts() <= 4


def test_pdf_page_slug_matches_the_assembler() -> None:
    # ASSEMBLE: p.replace(/\.html$/, '').replace(/[^A-Za-z0-9_-]/g, '-')
    assert pdf_edition.page_slug("how-to-cite.html") == "how-to-cite"
    assert pdf_edition.page_slug("a b.c.html") == "a-b-c"


def test_citations_find_the_plaintext_backend_without_scanning_packages(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """After book/_ext/fast_references.py registers it, pybtex returns the same plain-text back
    end without looking at the installed packages' entry points."""
    import fast_references
    import pybtex.plugin
    from pybtex.backends.plaintext import Backend

    assert fast_references.register_plaintext_backend() is Backend

    def no_scan(**kwargs: object) -> None:
        raise AssertionError(f"entry points scanned for {kwargs}")

    monkeypatch.setattr(pybtex.plugin, "entry_points", no_scan)
    assert pybtex.plugin.find_plugin("pybtex.backends", "plaintext") is Backend


def test_figure_numbers_read_each_page_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """book/_ext/fast_references.py: three {numref}s to a table on another page give the same
    numbers as Sphinx's own resolution, and that page's doctree is read once for all three,
    not once per reference."""
    from sphinx.application import Sphinx
    from sphinx.environment import BuildEnvironment

    source = tmp_path / "src"
    source.mkdir()
    (source / "conf.py").write_text(
        f"import sys\nsys.path.insert(0, {str(ROOT / 'book' / '_ext')!r})\n"
        "extensions = ['fast_references']\nnumfig = True\n"
    )
    (source / "index.rst").write_text("Home\n====\n\n.. toctree::\n\n   a\n   b\n")
    table = ".. list-table:: Costs\n   :name: tab-costs\n\n   * - x\n     - y\n"
    (source / "a.rst").write_text("A\n=\n\n" + table)
    (source / "b.rst").write_text("B\n=\n\n" + " ".join([":numref:`tab-costs`"] * 3) + "\n")
    reads: list[str] = []
    original = BuildEnvironment.get_doctree

    def counting(self: BuildEnvironment, docname: str) -> object:
        reads.append(docname)
        return original(self, docname)

    monkeypatch.setattr(BuildEnvironment, "get_doctree", counting)
    warnings = io.StringIO()
    # (Not warningiserror: a second Sphinx in one process warns that docutils' node classes
    # are registered again; the pages' own warnings are checked below.)
    app = Sphinx(
        str(source), str(source), str(tmp_path / "out"), str(tmp_path / "doctrees"), "html",
        status=None, warning=warnings, freshenv=True,
    )  # fmt: skip
    app.build()
    assert not [line for line in warnings.getvalue().splitlines() if ".rst" in line]
    page = (tmp_path / "out" / "b.html").read_text()
    assert page.count("Table 1") == 3
    assert reads.count("a") <= 2  # once to write a.html, once for the numbering (not 1 + 3)


def test_the_heap_is_frozen_only_at_exit() -> None:
    """book/_ext/parallel_read.py freezes the heap (so that the interpreter's last collection
    skips the build's objects) from an exit handler, never during a build."""
    import gc

    import parallel_read

    before = gc.get_freeze_count()
    parallel_read.freeze_heap_at_exit()
    try:
        assert gc.get_freeze_count() > before
    finally:
        gc.unfreeze()
    # In a process that loads the extension, the heap is frozen once the process exits: a
    # handler registered before the extension's runs after it (last in, first out).
    script = (
        "import atexit, gc, sys\n"
        f"sys.path.insert(0, {str(ROOT / 'book' / '_ext')!r})\n"
        "atexit.register(lambda: print('frozen at exit:', gc.get_freeze_count() > 0))\n"
        "import parallel_read\n"
        "class App:\n"
        "    def connect(self, *args): pass\n"
        "parallel_read.setup(App())\n"
        "print('frozen during the build:', gc.get_freeze_count() > 0)\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert run.stdout.split("\n")[:2] == ["frozen during the build: False", "frozen at exit: True"]
