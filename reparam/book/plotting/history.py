"""The timeline figure of the chapter "History", drawn from ``reparam/book/_data/timeline.csv``."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from reparam.book.history import CATEGORIES, TimelineEvent, validate_timeline
from reparam.book.plotting.style import COLORS, COLUMN_WIDTH_IN, book_style

__all__ = ["CATEGORY_STYLE", "plot_timeline"]

#: Colour (Okabe–Ito), marker and legend text of each event category. Categories differ by
#: marker shape as well as colour, so the figure reads in greyscale too.
CATEGORY_STYLE: dict[str, tuple[str, str, str]] = {
    "root": (COLORS["blue"], "o", "roots (before the 2014 papers)"),
    "2014": (COLORS["vermillion"], "D", "the three 2014 papers"),
    "after": (COLORS["green"], "^", "after 2014"),
}

#: Height (inches) of one event's row.
_ROW_IN = 0.25


def plot_timeline(
    events: Sequence[TimelineEvent],
    *,
    split_year: float = 2011.0,
    width: float = COLUMN_WIDTH_IN,
) -> Figure:
    """One row per event, earliest at the top, in two stacked panels split at ``split_year``.

    The decades before ``split_year`` share the upper panel; the dense years after it get
    the lower panel, on an expanded time scale. Each row is labelled with the event's
    authors and year (:attr:`~reparam.book.history.TimelineEvent.author_year`); a marker whose
    month or day is known carries the date as written in the data file.

    Args:
        events: the timeline, e.g. :func:`reparam.book.history.load_timeline`; drawn in date order.
        split_year: where the time axis breaks (a fractional year).
        width: figure width in inches (the default: the column's, margins included); the
            height grows with the number of events.

    Returns:
        The figure, with two axes (before and from ``split_year``); the legend is on the
        first.
    """
    validate_timeline(events)
    ordered = sorted(events, key=lambda event: (event.decimal_year, event.label))
    early = [event for event in ordered if event.decimal_year < split_year]
    late = [event for event in ordered if event.decimal_year >= split_year]
    if not early or not late:
        raise ValueError(f"split_year={split_year} must leave events on both sides of the break")
    with book_style():
        fig, (top, bottom) = plt.subplots(
            2,
            1,
            figsize=(width, _ROW_IN * len(ordered) + 1.6),
            gridspec_kw={"height_ratios": [len(early) + 1, len(late) + 1]},
        )
        first = min(event.decimal_year for event in early)
        top.set_xlim(5 * (first // 5) - 2, split_year)
        bottom.set_xlim(split_year, max(event.decimal_year for event in late) + 1.2)
        for ax, panel in ((top, early), (bottom, late)):
            _draw_rows(ax, panel)
            ax.xaxis.set_major_locator(MaxNLocator(nbins=8, steps=[1, 2, 5, 10]))
        top.set_xlabel(f"year (before {split_year:g})")
        bottom.set_xlabel(f"year (from {split_year:g}, expanded scale)")
        handles = [
            Line2D([], [], color=color, marker=marker, linestyle="none", label=text)
            for color, marker, text in (CATEGORY_STYLE[c] for c in CATEGORIES)
        ]
        top.legend(handles=handles, loc="upper right", borderaxespad=0.2)
        fig.tight_layout(h_pad=1.0)
    return fig


def _draw_rows(ax: Axes, events: Sequence[TimelineEvent]) -> None:
    """One row per event on ``ax``: a line from the left edge, a marker, and the date."""
    low, high = ax.get_xlim()
    for row, event in enumerate(events):
        color, marker, _ = CATEGORY_STYLE[event.category]
        time = event.decimal_year
        ax.plot([low, time], [row, row], color=color, linewidth=0.8, alpha=0.5)
        ax.plot(time, row, marker=marker, color=color, markersize=7, linestyle="none")
        if event.precision == "year":  # the year is in the row's label already
            continue
        near_edge = time > high - 0.15 * (high - low)  # write the date left of the marker
        ax.annotate(
            event.date,
            (time, row),
            xytext=(-7 if near_edge else 7, 0),
            textcoords="offset points",
            ha="right" if near_edge else "left",
            va="center",
            color=COLORS["black"],
        )
    ax.set_yticks(range(len(events)))
    ax.set_yticklabels([event.author_year for event in events])
    ax.set_ylim(len(events) - 0.5, -0.5)  # earliest at the top
    ax.grid(axis="y", visible=False)
    ax.tick_params(axis="y", length=0)
