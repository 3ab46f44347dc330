"""The Binder environment (binder/): CPU-only PyTorch pinned as everywhere else, JupyterLab,
and the book's package installed by postBuild, so that the reader notebooks it opens run."""

from __future__ import annotations

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"


def requirement_lines(path: Path) -> list[str]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text("utf-8").splitlines())
    return [line for line in lines if line]


def test_binder_takes_the_pinned_torch_as_its_cpu_build() -> None:
    pinned = next(
        line for line in requirement_lines(ROOT / "requirements.txt") if line.startswith("torch")
    )
    version = pinned.partition("==")[2]
    assert re.fullmatch(r"\d+\.\d+\.\d+", version), pinned
    lines = requirement_lines(BINDER / "requirements.txt")
    assert f"torch=={version}+cpu" in lines
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in lines
    assert any(line.startswith("jupyterlab") for line in lines)
    numpy_pins = {
        line
        for line in lines + requirement_lines(ROOT / "requirements.txt")
        if line.startswith("numpy")
    }
    assert len(numpy_pins) == 1, numpy_pins  # the same numpy range as the book's outputs


def test_binder_post_build_installs_the_package_with_the_book_extra() -> None:
    post_build = BINDER / "postBuild"
    assert os.access(post_build, os.X_OK)
    text = post_build.read_text("utf-8")
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text
    assert 'python -m pip install --no-cache-dir ".[book]"' in text
    # repo2docker reads binder/ instead of the top level: nothing else there to shadow it.
    assert sorted(path.name for path in BINDER.iterdir()) == ["postBuild", "requirements.txt"]
