"""The wheel ships the package, its data and its type marker, and nothing else (issue #12).

Built once per run from a copy of the sources (so no ``build/`` folder lands in the working
tree); CI (``.ci/run``) also installs the wheel in a fresh environment and runs
``tools/smoke_wheel.py`` there.
"""

from __future__ import annotations

import email.parser
import importlib.metadata
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import tomllib
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]


def build_backend_installed() -> bool:
    """Whether this environment has what pyproject's build-system asks for, so the wheel can
    be built without an isolated build environment (faster, and offline)."""
    build_system = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]
    for text in build_system["requires"]:
        requirement = Requirement(text)
        try:
            version = importlib.metadata.version(requirement.name)
        except importlib.metadata.PackageNotFoundError:
            return False
        if not requirement.specifier.contains(version):
            return False
    return True


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[zipfile.ZipFile]:
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".*", "_build", "build", "dist", "venv", "*.egg-info", "__pycache__", "mutants"
        ),
    )
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(work)]
    if build_backend_installed():
        command.append("--no-build-isolation")
    result = subprocess.run([*command, str(source)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    (path,) = work.glob("reparam-*.whl")
    with zipfile.ZipFile(path) as archive:
        yield archive


def test_wheel_ships_the_book_data_and_the_type_marker(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    assert "reparam/py.typed" in names
    for data in ("timeline.csv", "references.bib"):
        assert f"reparam/book/_data/{data}" in names
        shipped = wheel.read(f"reparam/book/_data/{data}").decode()
        assert shipped == (ROOT / "reparam" / "book" / "_data" / data).read_text()


def test_wheel_holds_every_module_and_nothing_else(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    top_level = {name.split("/")[0] for name in names}
    (dist_info,) = (name for name in top_level if name.endswith(".dist-info"))
    # Not tests/, tools/ or the book's pages: only the package and its metadata.
    assert top_level == {"reparam", dist_info}, sorted(top_level)
    sources = {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "reparam").rglob("*.py")
        if "__pycache__" not in path.parts
    }
    assert sources <= names, f"missing from the wheel: {sorted(sources - names)}"


def test_wheel_metadata_keeps_book_dependencies_in_the_book_extra(
    wheel: zipfile.ZipFile,
) -> None:
    (metadata_name,) = (n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
    metadata = email.parser.Parser().parsestr(wheel.read(metadata_name).decode())
    assert {"book", "test"} <= set(metadata.get_all("Provides-Extra") or [])
    unconditional = {
        Requirement(text).name
        for text in metadata.get_all("Requires-Dist") or []
        if Requirement(text).marker is None
    }
    assert unconditional == {"torch", "numpy"}, unconditional
