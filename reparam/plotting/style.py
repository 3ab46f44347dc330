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

__all__ = ["COLORS", "LINESTYLES", "book_style", "new_axes"]

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
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "font.size": 10,
    "legend.frameon": False,
}


@contextmanager
def book_style() -> Iterator[None]:
    """Context manager applying the book's matplotlib style."""
    with mpl.rc_context(_RC):  # type: ignore[arg-type]
        yield


def new_axes(ax: Axes | None = None, figsize: tuple[float, float] = (6, 4)) -> tuple[Figure, Axes]:
    """Return ``(figure, axes)``: the given axes and their figure, or a new pair."""
    if ax is not None:
        return ax.figure, ax  # type: ignore[return-value]
    fig, new = plt.subplots(figsize=figsize)
    return fig, new
