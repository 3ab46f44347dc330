"""The timeline figure of the chapter "History", drawn from ``reparam/_data/timeline.csv``."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from reparam.history import CATEGORIES, TimelineEvent, validate_timeline
from reparam.plotting.style import COLORS, book_style

__all__ = ["CATEGORY_STYLE", "plot_timeline"]

#: Colour (Okabe–Ito), marker and legend text of each event category. Categories differ by
#: marker shape as well as colour, so the figure reads in greyscale too.
CATEGORY_STYLE: dict[str, tuple[str, str, str]] = {
    "root": (COLORS["blue"], "o", "roots (before the 2014 papers)"),
    "2014": (COLORS["vermillion"], "D", "the three 2014 papers"),
    "after": (COLORS["green"], "^", "after 2014"),
}


def plot_timeline(
    events: Sequence[TimelineEvent],
    *,
    split_year: float = 2011.0,
    width: float = 10.0,
) -> Figure:
    """One row per event, earliest at the top, on a time axis broken at ``split_year``.

    The decades before ``split_year`` share the left panel; the dense years after it get the
    wider right panel. Each row is labelled with the event's label and its citation key, and
    its marker carries the date as written in the data file.

    Args:
        events: the timeline, e.g. :func:`reparam.history.load_timeline`; drawn in date order.
        split_year: where the time axis breaks (a fractional year).
        width: figure width in inches; the height grows with the number of events.

    Returns:
        The figure, with two axes (before and after ``split_year``).
    """
    validate_timeline(events)
    ordered = sorted(events, key=lambda event: (event.decimal_year, event.label))
    times = [event.decimal_year for event in ordered]
    early = [t for t in times if t < split_year]
    late = [t for t in times if t >= split_year]
    if not early or not late:
        raise ValueError(f"split_year={split_year} must leave events on both sides of the break")
    rows = list(range(len(ordered)))
    with book_style():
        fig, (left, right) = plt.subplots(
            1,
            2,
            sharey=True,
            figsize=(width, 0.32 * len(ordered) + 1.4),
            gridspec_kw={"width_ratios": [1.0, 1.6], "wspace": 0.04},
        )
        left_start = 5 * (min(early) // 5) - 2
        left.set_xlim(left_start, split_year)
        right.set_xlim(split_year, max(late) + 2.2)
        for row, event, time in zip(rows, ordered, times, strict=True):
            color, marker, _ = CATEGORY_STYLE[event.category]
            ax = left if time < split_year else right
            if ax is right:
                left.axhline(row, color=COLORS["black"], linewidth=0.4, alpha=0.15)
            ax.plot(
                [ax.get_xlim()[0], time],
                [row, row],
                color=color,
                linewidth=0.8,
                alpha=0.5,
            )
            ax.plot(time, row, marker=marker, color=color, markersize=7, linestyle="none")
            low, high = ax.get_xlim()
            near_edge = time > high - 0.12 * (high - low)  # write the date left of the marker
            ax.annotate(
                event.date,
                (time, row),
                xytext=(-7 if near_edge else 7, 0),
                textcoords="offset points",
                ha="right" if near_edge else "left",
                va="center",
                fontsize=8,
                color=COLORS["black"],
            )
        left.set_yticks(rows)
        left.set_yticklabels([f"{event.label}  [{event.key}]" for event in ordered], fontsize=8)
        left.set_ylim(len(ordered) - 0.5, -0.5)  # earliest at the top
        for ax in (left, right):
            ax.grid(axis="y", visible=False)
        left.spines["right"].set_visible(False)
        right.spines["left"].set_visible(False)
        right.tick_params(axis="y", left=False)
        # Diagonal marks where the time axis is broken.
        for ax, x in ((left, 1.0), (right, 0.0)):
            ax.plot(
                [x - 0.012, x + 0.012],
                [-0.012, 0.012],
                transform=ax.transAxes,
                color=COLORS["black"],
                linewidth=1.0,
                clip_on=False,
            )
        left.set_xlabel(f"year (to {split_year:g})")
        right.set_xlabel(f"year (from {split_year:g}, expanded scale)")
        handles = [
            Line2D([], [], color=color, marker=marker, linestyle="none", label=text)
            for color, marker, text in (CATEGORY_STYLE[c] for c in CATEGORIES)
        ]
        right.legend(handles=handles, loc="upper right", fontsize=8)
    return fig
