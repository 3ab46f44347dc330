"""Static checks as tests, so the README's one test command runs them too:
ruff (lint and format) and mypy (strict) over the package, the tests, the tools and the book's
extensions; the README names every chapter of the table of contents and its examples run; and
pyproject.toml declares every package the code imports, in the right place."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import tomllib
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
CODE = ["reparam", "tests", "tools", "book/_ext"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, check=False
    )


def test_ruff_lint() -> None:
    result = run("ruff", "check", *CODE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format() -> None:
    result = run("ruff", "format", "--check", *CODE)
    assert result.returncode == 0, result.stdout + result.stderr


def python_files(folders: Iterable[str]) -> list[Path]:
    return sorted(path for folder in folders for path in (ROOT / folder).rglob("*.py"))


def test_mypy_strict() -> None:
    """mypy, as configured in pyproject.toml, passes over every Python file of ``CODE``."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    assert config["strict"] is True
    assert set(CODE) <= set(config["files"]), "pyproject's [tool.mypy] files must cover CODE"
    result = run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr
    checked = re.search(r"in (\d+) source files?", result.stdout)
    assert checked is not None, result.stdout
    assert int(checked.group(1)) >= len(python_files(CODE)), result.stdout


def test_readme_lists_every_chapter() -> None:
    readme = (ROOT / "README.md").read_text()
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    for part in toc["parts"]:
        for chapter in part["chapters"]:
            stem = Path(chapter["file"]).name
            assert stem in readme, f"README's chapter list does not mention {chapter['file']}"


def readme_python_examples() -> list[str]:
    """The README's Python blocks (```` ```python ````), in order."""
    return re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.DOTALL)


def test_readme_examples_run() -> None:
    """Every Python block of the README runs as written (in a fresh interpreter)."""
    blocks = readme_python_examples()
    assert len(blocks) >= 2
    for block in blocks:
        result = subprocess.run(
            [sys.executable, "-c", block], capture_output=True, text=True, cwd=ROOT, check=False
        )
        assert result.returncode == 0, f"README example failed:\n{block}\n{result.stderr}"


# --- declared dependencies ---------------------------------------------------------------


def project_table() -> dict[str, Any]:
    project: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return project


def requirements(extras: Iterable[str] = ()) -> list[Requirement]:
    """The core dependencies and those of ``extras``, an extra's ``reparam[...]`` expanded."""
    project = project_table()
    found = [Requirement(text) for text in project["dependencies"]]
    pending, seen = list(extras), set()
    while pending:
        extra = pending.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for text in project["optional-dependencies"][extra]:
            requirement = Requirement(text)
            if canonicalize_name(requirement.name) == "reparam":
                pending.extend(requirement.extras)
            else:
                found.append(requirement)
    return found


def declared(extras: Iterable[str] = ()) -> set[str]:
    return {canonicalize_name(requirement.name) for requirement in requirements(extras)}


def imported_modules(paths: Iterable[Path]) -> dict[str, set[str]]:
    """Top-level names of the non-standard-library modules the files import, with the
    files importing each (imports inside functions included)."""
    modules: dict[str, set[str]] = {}
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.partition(".")[0]
                if top not in sys.stdlib_module_names:
                    modules.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return modules


def undeclared(
    paths: Iterable[Path], allowed: set[str], local: set[str], *, installed: bool = True
) -> list[str]:
    """The imports of ``paths`` that neither a declared distribution nor ``local`` provides.

    With ``installed=False`` (an extra the test environment does not install), a module that
    is not installed is taken to come from the distribution of the same name."""
    distributions = importlib.metadata.packages_distributions()
    problems = []
    for module, importers in sorted(imported_modules(paths).items()):
        if module in local or module == "reparam":
            continue
        provided_by = {canonicalize_name(name) for name in distributions.get(module, [])}
        if not provided_by and not installed:
            provided_by = {canonicalize_name(module)}
        if not provided_by:
            problems.append(f"{module} (imported by {sorted(importers)}) is not installed")
        elif not provided_by & allowed:
            problems.append(f"{module} (imported by {sorted(importers)}): declare {provided_by}")
    return problems


def test_library_declares_what_it_imports() -> None:
    """The core needs only the core dependencies; reparam.book adds the ``book`` extra."""
    book = ROOT / "reparam" / "book"
    core_files = [path for path in python_files(["reparam"]) if book not in path.parents]
    assert not undeclared(core_files, declared(), set())
    assert not undeclared(python_files(["reparam/book"]), declared(["book"]), set())
    for name in ("matplotlib", "scikit-learn"):
        assert canonicalize_name(name) not in declared(), f"{name} is a book dependency"


def test_test_extra_declares_what_the_tests_and_tools_import() -> None:
    """``pip install -e ".[test]"`` is enough for plain ``pytest`` and the tools (issue #12)."""
    local = {path.stem for path in python_files(["tests", "tools", "book/_ext"])}
    mutation = ROOT / "tools" / "mutation"
    files = [path for path in python_files(["tests", "tools"]) if mutation not in path.parents]
    problems = undeclared(files, declared(["test"]), local)
    # The mutation run has an extra of its own (mutmut).
    problems += undeclared(
        python_files(["tools/mutation"]), declared(["mutation"]), local, installed=False
    )
    assert not problems, "\n".join(problems)
    addopts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"][
        "addopts"
    ]
    plugins = {"--dist": "pytest-xdist", "--nbval": "nbval", "-n ": "pytest-xdist"}
    for option, package in plugins.items():
        if option in addopts:
            assert package in declared(["test"]), f"addopts uses {option}: declare {package}"
    # What the suite runs besides imports: the notebooks' kernel, the book build, the linters.
    for package in ("ipykernel", "jupyter-book", "mypy", "ruff"):
        assert package in declared(["test"]), f"the test command runs {package}"


def test_requirements_install_the_declared_extras() -> None:
    """requirements.txt is the editable package with its extras plus environment pins, each
    of a package pyproject.toml declares (so the two lists cannot drift apart)."""
    lines = [
        line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()
    ]
    lines = [line for line in lines if line]
    assert "-e .[book,test]" in lines
    everything = declared(["book", "test"])
    for line in lines:
        if line.startswith("-e "):
            continue
        name = canonicalize_name(Requirement(line).name)
        assert name in everything, f"requirements.txt pins {name}, which pyproject never declares"


def test_installed_versions_meet_the_declared_ranges() -> None:
    """Every declared package installed here is in its declared range (the ranges are live)."""
    for requirement in requirements(["book", "test"]):
        try:
            version = importlib.metadata.version(requirement.name)
        except importlib.metadata.PackageNotFoundError:
            continue
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{requirement.name} {version} is installed; pyproject asks {requirement}"
        )


def marked_command(text: str, marker: str) -> str:
    """The command of the ```bash block after ``<!-- marker -->`` (continuation lines joined)."""
    match = re.search(rf"<!-- {marker} -->\n```bash\n(.*?)\n```", text, re.DOTALL)
    assert match, f"no ```bash block after <!-- {marker} -->"
    return re.sub(r"\s*\\\n\s*", " ", match.group(1))


def test_the_notebook_command_is_the_same_in_the_readme_and_the_book() -> None:
    readme = marked_command((ROOT / "README.md").read_text(), "notebook-command")
    page = marked_command((ROOT / "book" / "run-the-notebooks.md").read_text(), "notebook-command")
    assert readme == page
    # It installs the book's requirements and JupyterLab, and opens the reader notebooks.
    assert readme.startswith("python -m pip install -r requirements.txt ")
    assert '"jupyterlab>=4,<5"' in readme
    assert readme.endswith("&& python -m jupyter lab notebooks/")
    assert (ROOT / "notebooks").is_dir()
