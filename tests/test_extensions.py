"""The book's local Sphinx extensions (book/_ext)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book" / "_ext"))

import launch_buttons  # noqa: E402
import local_mathjax  # noqa: E402


def test_launch_buttons_off_without_repository() -> None:
    for url in ("", None, "   "):
        settings = launch_buttons.launch_settings({"repository_url": url, "launch_buttons": {}})
        assert settings["binderhub_url"] == "" and settings["colab_url"] == ""


def test_launch_buttons_on_with_repository() -> None:
    settings = launch_buttons.launch_settings(
        {"repository_url": "https://example.org/book", "launch_buttons": {"x": 1}}
    )
    assert settings["binderhub_url"] == launch_buttons.BINDERHUB_URL
    assert settings["colab_url"] == launch_buttons.COLAB_URL
    assert settings["x"] == 1


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
