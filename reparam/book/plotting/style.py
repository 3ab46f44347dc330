"""The book's figure style: a colour-blind-safe palette and matplotlib settings.

Colours come from the Okabe–Ito palette (Okabe & Ito, 2008), distinguishable under the
common forms of colour-vision deficiency; lines also differ by marker or dash so that
figures survive greyscale printing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import matplotlib as mpl
import matplotlib.pyplot as plt
from cycler import cycler
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.text import Text

__all__ = [
    "COLORS",
    "COLUMN_WIDTH_IN",
    "FIGURE_DPI",
    "LINESTYLES",
    "SMALLEST_TEXT_PT",
    "book_style",
    "figure_problems",
    "new_axes",
]

#: Smallest font size (points) of any text in a figure. On the web page a figure is shown at
#: ``FIGURE_DPI`` CSS pixels per inch, so 10-pt text is 10 * 104 / 72 = 14.4 px: the size of the
#: figure captions (issue #11: figure text no smaller than the caption).
SMALLEST_TEXT_PT: float = 10.0
#: CSS pixels per figure inch on the page, and (doubled) the resolution of the stored PNGs.
FIGURE_DPI: int = 104
#: Widest figure (inches) that the page shows unscaled: a cell's output area is 741 px wide at
#: a 1366-px window, and the stored PNG adds 0.1 in of margin on each side, so
#: (6.9 + 0.2) * 104 = 738 px.
COLUMN_WIDTH_IN: float = 6.9

#: The Okabe–Ito palette, minus yellow (too light on white backgrounds).
COLORS: dict[str, str] = {
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "green": "#009E73",
    "purple": "#CC79A7",
    "orange": "#E69F00",
    "sky": "#56B4E9",
    "black": "#000000",
}
LINESTYLES: tuple[str, ...] = ("-", "--", "-.", ":")

_RC = {
    "axes.prop_cycle": cycler(color=list(COLORS.values())),
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "figure.dpi": FIGURE_DPI,
    "savefig.dpi": 2 * FIGURE_DPI,
    "font.size": SMALLEST_TEXT_PT,
    "axes.titlesize": SMALLEST_TEXT_PT + 1,
    "axes.labelsize": SMALLEST_TEXT_PT,
    "xtick.labelsize": SMALLEST_TEXT_PT,
    "ytick.labelsize": SMALLEST_TEXT_PT,
    "legend.fontsize": SMALLEST_TEXT_PT,
    "figure.titlesize": SMALLEST_TEXT_PT + 1,
    "legend.frameon": False,
}


@contextmanager
def book_style() -> Iterator[None]:
    """Context manager applying the book's matplotlib style."""
    with mpl.rc_context(_RC):  # type: ignore[arg-type]
        yield


def figure_problems(fig: Figure) -> list[str]:
    """What keeps ``fig`` from reading well in the book's column (empty when nothing does).

    Checks the two rules of the book's figures: at most ``COLUMN_WIDTH_IN`` wide, so the page
    shows it unscaled, and no visible text smaller than ``SMALLEST_TEXT_PT``.
    """
    problems = []
    width = float(fig.get_figwidth())
    if width > COLUMN_WIDTH_IN + 1e-9:
        problems.append(f"figure is {width:g} in wide (column: {COLUMN_WIDTH_IN:g} in)")
    fig.canvas.draw()
    for text in fig.findobj(Text):
        size = float(text.get_fontsize())
        if text.get_visible() and text.get_text().strip() and size < SMALLEST_TEXT_PT:
            problems.append(f"text {text.get_text()!r} at {size:g} pt")
    return problems


def new_axes(ax: Axes | None = None, figsize: tuple[float, float] = (6, 4)) -> tuple[Figure, Axes]:
    """Return ``(figure, axes)``: the given axes and their figure, or a new pair."""
    if ax is not None:
        return ax.figure, ax  # type: ignore[return-value]
    fig, new = plt.subplots(figsize=figsize)
    return fig, new
