"""Static checks as tests, so the README's one test command runs them too:
ruff (lint and format) and mypy (strict) over the package, the tests and the tools;
and the README names every chapter of the table of contents."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

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


def test_mypy_strict() -> None:
    result = run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr


def test_readme_lists_every_chapter() -> None:
    readme = (ROOT / "README.md").read_text()
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    for part in toc["parts"]:
        for chapter in part["chapters"]:
            stem = Path(chapter["file"]).name
            assert stem in readme, f"README's chapter list does not mention {chapter['file']}"


def test_readme_examples_run() -> None:
    """Every Python block of the README runs as written (in a fresh interpreter)."""
    import re
    import subprocess
    import sys

    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, re.DOTALL)
    assert len(blocks) >= 2
    for block in blocks:
        result = subprocess.run(
            [sys.executable, "-c", block], capture_output=True, text=True, cwd=ROOT, check=False
        )
        assert result.returncode == 0, f"README example failed:\n{block}\n{result.stderr}"


def test_test_extra_declares_what_addopts_needs() -> None:
    """``pip install reparam[test]`` must be enough for plain ``pytest`` (issue #12)."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    extra = " ".join(project["project"]["optional-dependencies"]["test"])
    addopts = project["tool"]["pytest"]["ini_options"]["addopts"]
    needed = {"--dist": "pytest-xdist", "--nbval": "nbval"}
    for option, package in needed.items():
        if option in addopts:
            assert package in extra, f"addopts uses {option}: the test extra needs {package}"
    for package in ("scipy", "hypothesis", "pyyaml", "scikit-learn"):
        assert package in extra, f"the tests import {package}: declare it in the test extra"
