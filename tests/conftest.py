"""Shared fixtures: seeded generators and the two floating dtypes every function must support."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest
import torch
from matplotlib.figure import Figure

# The package must not depend on the global default dtype: tests leave it at float32 and
# pass float64 explicitly where precision matters.

DTYPES = (torch.float32, torch.float64)


@pytest.fixture
def generator() -> torch.Generator:
    return torch.Generator().manual_seed(1234)


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
