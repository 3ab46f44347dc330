"""Reader notebooks (issue #13, book/_ext/reader_notebooks.py): plain CommonMark that shows no
MyST, the chapter's structure kept, and each notebook runs top to bottom in a fresh kernel.

The notebooks come from one build of the book into a temporary directory (the notebooks'
stored outputs, no execution: strict nbval proves them fresh), or from the site named by
``READER_VIEW_SITE``, as in test_site.py.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest
from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "book" / "_ext"))

import reader_notebooks as rn  # noqa: E402

CHAPTERS = sorted(path.stem for path in (ROOT / "book").glob("*.ipynb"))

# MyST that a plain CommonMark renderer shows as text. Roles and fenced directives are found in
# the rendered HTML as it is ("{cite:t}<code>key</code>", "language-{exercise}"); the rest in
# its text outside code, where MyST-looking text can be legitimate (a docstring's :class:).
MYST_IN_HTML = [
    ("role", re.compile(r"\{[a-z][\w:.+-]*\}<code>")),
    ("fenced directive", re.compile(r"language-\{")),
]
MYST_IN_TEXT = [
    ("directive", re.compile(r"(?:```|~~~|:::)\s*\{[a-z][\w:.-]*\}")),
    ("directive option", re.compile(r"(?:^|<p>)\s*:(?:label|class|name|pyobject|nowrap):", re.M)),
    ("MyST target", re.compile(r"(?:^|<p>)\([\w.:-]+\)=", re.M)),
    ("equation label", re.compile(r"\$\$\s*\([\w.:-]+\)")),
    ("directive name", re.compile(r"literalinclude|solution-(?:start|end)|exercise-(?:start|end)")),
    ("role name", re.compile(r"\{(?:glue|cite|eq|numref|ref|doc|term|download|math)(?::\w+)?\}")),
    (
        "bracketed citation",
        re.compile(r"\[(?:[A-Z][^\]\n]{0,80}, )?(?:1[89]|20)\d\d[a-z]?\]"),
    ),
]


def myst_leftovers(markdown: str) -> list[str]:
    """What of ``markdown``, rendered by a plain CommonMark renderer, is still MyST."""
    html = MarkdownIt("commonmark").render(markdown)
    text = re.sub(r"<pre>.*?</pre>|<code>.*?</code>", "", html, flags=re.S)
    found = [
        f"{name}: {match.group(0)!r}"
        for patterns, where in ((MYST_IN_HTML, html), (MYST_IN_TEXT, text))
        for name, pattern in patterns
        for match in pattern.finditer(where)
    ]
    return sorted(set(found))


@pytest.fixture(scope="module")
def site(built_site: Path) -> Path:
    """The site of this test run, built once (see ``built_site`` in conftest.py)."""
    return built_site


def reader_notebook(site: Path, chapter: str) -> Any:
    return nbformat.read(site / rn.READER_FOLDER / f"{chapter}.ipynb", as_version=4)


def markdown_of(notebook: Any) -> str:
    return "\n\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")


def test_every_chapter_has_a_reader_notebook(site: Path) -> None:
    written = sorted(path.stem for path in (site / rn.READER_FOLDER).glob("*.ipynb"))
    assert written == CHAPTERS


def test_the_committed_reader_notebooks_are_the_builds(site: Path) -> None:
    # notebooks/ is what the launch buttons and the README's JupyterLab route open.
    from sync_reader_notebooks import COMMITTED, READER_FOLDER, differences

    assert READER_FOLDER == rn.READER_FOLDER
    found = differences(site, COMMITTED)
    assert not found, (
        "notebooks/ is not what the build writes; build the book, then run "
        f"`python tools/sync_reader_notebooks.py`: {found}"
    )


def test_the_detector_finds_myst() -> None:
    """The check below can fail: each kind of leftover is caught, plain text is not."""
    samples = [
        "as {cite:t}`kingma2014auto` showed",
        "see {eq}`eq-score`",
        "is {glue:text}`mean_f`",
        "```{exercise}\n:label: ex-a\nText\n```",
        ":::{admonition} Title\n:class: dropdown\nBody\n:::",
        "```{literalinclude} ../reparam/normal.py\n:pyobject: kl\n```",
        "(chapter-score)=\n# Title",
        "$$\nx\n$$ (eq-x)",
        "the trick [Kingma and Welling, 2014]",
        "Mohamed et al. [2020] survey",
        "{numref}`fig-x` shows",
        "value {glue}`x`",
    ]
    for sample in samples:
        assert myst_leftovers(sample), sample
    clean = "See (3.1), Fig. 7.1 and Kingma and Welling (2014); `{x}` is a dict, $a_{ij}$."
    assert myst_leftovers(clean) == []


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_markdown_is_plain_commonmark(site: Path, chapter: str) -> None:
    notebook = reader_notebook(site, chapter)
    found = [
        f"cell {index}: {leftover}"
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "markdown"
        for leftover in myst_leftovers(cell.source)
    ]
    assert not found, f"{chapter}: MyST left in the reader notebook:\n" + "\n".join(found)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_structure_is_kept(site: Path, chapter: str) -> None:
    """Code, exercises, numbered equations, figures and cited works: all there, counted
    against the chapter's source."""
    source = nbformat.read(ROOT / "book" / f"{chapter}.ipynb", as_version=4)
    notebook = reader_notebook(site, chapter)
    text = "\n".join(cell.source for cell in source.cells if cell.cell_type == "markdown")
    markdown = markdown_of(notebook)

    code = [cell.source for cell in source.cells if cell.cell_type == "code"]
    reader_code = [cell.source for cell in notebook.cells[1:] if cell.cell_type == "code"]
    assert reader_code == [rn.reader_code(cell) for cell in code]
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code")

    exercises = len(re.findall(r"^```\{exercise\}", text, re.M))
    assert len(re.findall(r"^#+ Exercise \d+\.\d+", markdown, re.M)) == exercises
    assert len(re.findall(r"^#+ Solution to Exercise \d+\.\d+$", markdown, re.M)) == len(
        re.findall(r"^```\{solution(?:-start)?\}", text, re.M)
    )
    labelled = len(re.findall(r"^\$\$ *\([\w-]+\)", text, re.M))
    assert len(re.findall(r"\\tag\{\d+\.\d+\}\n\$\$", markdown)) == labelled

    figures = sum("figure" in cell.metadata.get("mystnb", {}) for cell in source.cells)
    assert len(re.findall(r"^\*\*Fig\. \d+\.\d+\.\*\* \S", markdown, re.M)) == figures

    keys: set[str] = set()
    for group in re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", text):
        keys.update(key.strip() for key in group.split(","))
    works = markdown.partition("## Works cited\n")[2]
    assert len(re.findall(r"^- \*\*.+?, \d{4}[a-z]?\.\*\* ", works, re.M)) == len(keys)


def test_sample_renderings(site: Path) -> None:
    """One chapter read closely: a citation, an equation reference, an exercise."""
    markdown = markdown_of(reader_notebook(site, "score-function"))
    assert "method (Glynn, 1990); in reinforcement learning" in markdown
    assert "Mohamed *et al.* (2020) traces the first derivations" in markdown
    assert "Substituting\n(3.1) in the gradient of the expected cost, (1.2), turns" in markdown
    assert re.search(r"\n### Exercise 3\.1\n\nFor the exponential density", markdown)
    assert "\n#### Solution to Exercise 3.1\n" in markdown
    assert "- **Glynn, 1990.** Peter W. Glynn. Likelihood ratio gradient" in markdown


def test_first_cell_is_the_setup_template(site: Path) -> None:
    expected = rn.setup_cell_source("", "main")  # _config.yml: repository.url is empty
    for chapter in CHAPTERS:
        first = reader_notebook(site, chapter).cells[0]
        assert first.cell_type == "code" and first.source == expected, chapter


def test_chapter_pages_offer_the_reader_notebook(site: Path) -> None:
    for chapter in CHAPTERS:
        page = (site / "book" / f"{chapter}.html").read_text(encoding="utf-8")
        link = re.search(
            r'<a href="([^"]+)"[^>]*btn-download-reader-notebook-button.*?'
            r'btn__text-container">([^<]+)<',
            page,
            re.S,
        )
        assert link, f"{chapter}: no reader notebook in the download menu"
        assert link.group(2) == rn.DOWNLOAD_TEXT
        assert (site / "book" / link.group(1)).resolve() == (
            site / rn.READER_FOLDER / f"{chapter}.ipynb"
        ).resolve()


def imported_modules(code: str) -> set[str]:
    """Top-level names of the modules a code cell imports (IPython magics skipped)."""
    lines = [line for line in code.splitlines() if not line.lstrip().startswith(("%", "!"))]
    names: set[str] = set()
    for node in ast.walk(ast.parse("\n".join(lines))):
        if isinstance(node, ast.Import):
            names.update(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.partition(".")[0])
    return names


def test_book_extra_covers_what_the_chapters_import() -> None:
    """``pip install reparam[book]`` (what the setup cell installs) runs every chapter: each
    module a reader notebook imports is the standard library's, reparam's, a dependency of
    reparam or of the kernel, or declared in the ``book`` extra."""
    from importlib.metadata import packages_distributions

    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirement = re.compile(r"[A-Za-z0-9._-]+")
    declared = {
        requirement.match(spec).group(0).lower()  # type: ignore[union-attr]
        for spec in [*project["dependencies"], *project["optional-dependencies"]["book"]]
    }
    kernel = {"IPython"}  # every Jupyter kernel (ipykernel) brings it
    distributions = packages_distributions()
    for chapter in CHAPTERS:
        source = nbformat.read(ROOT / "book" / f"{chapter}.ipynb", as_version=4)
        cells = [rn.reader_code(c.source) for c in source.cells if c.cell_type == "code"]
        modules = set().union(*(imported_modules(code) for code in cells))
        for module in sorted(modules - set(sys.stdlib_module_names) - kernel - {"reparam"}):
            dists = {name.lower() for name in distributions.get(module, [module])}
            assert dists & declared, f"{chapter} imports {module}: declare it in the book extra"


# --- the setup cell ---------------------------------------------------------------------------

REAL_FIND_SPEC = importlib.util.find_spec


def run_setup(
    monkeypatch: pytest.MonkeyPatch, url: str, absent: set[str]
) -> tuple[list[list[str]], BaseException | None]:
    """Run the setup cell as if the modules in ``absent`` were not installed."""
    calls: list[list[str]] = []
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *args: None if name in absent else REAL_FIND_SPEC(name, *args),
    )
    monkeypatch.setattr(subprocess, "check_call", lambda command: calls.append(command))
    try:
        exec(rn.setup_cell_source(url, "main"), {"__name__": "__main__"})
    except ModuleNotFoundError as error:
        return calls, error
    return calls, None


def test_setup_does_nothing_where_everything_is_installed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls, error = run_setup(monkeypatch, "https://github.com/owner/repo", absent=set())
    assert calls == [] and error is None and capsys.readouterr().out == ""


def test_setup_without_repository_says_what_to_run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls, error = run_setup(monkeypatch, "", absent={"reparam", "torch"})
    out = capsys.readouterr().out
    assert calls == [] and error is not None
    python = f'"{sys.executable}" -m pip install'
    assert f"{python} torch --index-url https://download.pytorch.org/whl/cpu\n" in out
    assert f'{python} ".[book]"\n' in out
    calls, error = run_setup(monkeypatch, "", absent={"sklearn"})  # torch present: left alone
    out = capsys.readouterr().out
    assert error is not None and "torch" not in out and '".[book]"' in out


def test_setup_with_repository_installs_cpu_torch_then_the_package(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = "https://github.com/owner/repo"
    calls, error = run_setup(monkeypatch, url, absent={"reparam", "torch"})
    pip = [sys.executable, "-m", "pip", "install", "--quiet"]
    assert error is None
    assert calls == [
        [*pip, "torch", "--index-url", "https://download.pytorch.org/whl/cpu"],
        [*pip, f"reparam[book] @ git+{url}@main"],
    ]
    calls, _ = run_setup(monkeypatch, url, absent={"reparam"})  # a torch is there: kept
    assert calls == [[*pip, f"reparam[book] @ git+{url}@main"]]


def test_setup_cell_quotes_the_setting() -> None:
    source = rn.setup_cell_source('https://example.org/a"b', "dev")
    assert 'REPOSITORY_URL = "https://example.org/a\\"b"' in source
    assert 'REPOSITORY_BRANCH = "dev"' in source
    assert all(len(line) <= 79 for line in source.splitlines())


# --- execution ------------------------------------------------------------------------------


def execute(notebook: Any, cwd: Path) -> float:
    from nbclient import NotebookClient

    start = time.perf_counter()
    client = NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
    )
    client.execute()
    return time.perf_counter() - start


#: Which reader notebooks the test run executes. Each one's code cells are its chapter's code
#: cells (test_structure_is_kept), which strict nbval executes in the same run; what only a
#: reader notebook runs is its first cell and the glue stand-in, the same in every chapter, so
#: by default one chapter checks them; READER_NOTEBOOKS_EXECUTE=all runs every chapter.
EXECUTED = CHAPTERS if os.environ.get("READER_NOTEBOOKS_EXECUTE") == "all" else ["score-function"]


@pytest.mark.parametrize("chapter", EXECUTED)
def test_reader_notebook_runs_in_a_fresh_kernel(site: Path, chapter: str, tmp_path: Path) -> None:
    """Top to bottom in a fresh kernel, from an empty folder (a download's situation)."""
    seconds = execute(reader_notebook(site, chapter), tmp_path)
    print(f"{chapter}: {seconds:.1f} s")


def test_notebooks_are_valid_json_with_a_python_kernel(site: Path) -> None:
    for chapter in CHAPTERS:
        path = site / rn.READER_FOLDER / f"{chapter}.ipynb"
        data = json.loads(path.read_text(encoding="utf-8"))
        nbformat.validate(nbformat.from_dict(data))
        assert data["metadata"]["kernelspec"]["name"] == "python3"
        # numbered cell ids, so that two builds write identical files
        assert [cell["id"] for cell in data["cells"]] == [
            f"cell-{index}" for index in range(len(data["cells"]))
        ]
