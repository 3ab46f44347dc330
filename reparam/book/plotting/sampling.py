"""Figures of chapter "Smarter sampling": error and variance against the number of draws."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

from reparam.book.plotting.multisample import _draw, _line_figure, _series
from reparam.book.plotting.style import COLORS, COLUMN_WIDTH_IN, book_style

__all__ = ["plot_error_against_n", "plot_point_sets", "plot_variance_against_n"]


def _check_panels(
    panels: Mapping[str, Mapping[str, object]], name: str, maximum: int, noun: str
) -> list[str]:
    """The series names every panel shares, or ``ValueError`` naming ``name``."""
    if not 1 <= len(panels) <= maximum:
        limit = "1 or 2" if maximum == 2 else f"1 to {maximum}"
        raise ValueError(f"{name} must hold {limit} panels, got {len(panels)}")
    series = [list(curves) for curves in panels.values()]
    if any(names != series[0] for names in series):
        raise ValueError(f"every panel must have the same {noun}, got {series}")
    return series[0]


def plot_error_against_n(
    num_samples: Sequence[int],
    panels: Mapping[str, Mapping[str, Sequence[float]]],
    *,
    figsize: tuple[float, float] = (COLUMN_WIDTH_IN, 3.6),
) -> Figure:
    """Root-mean-square error against N, log–log, one panel per setting (side by side).

    Each panel draws its series and two dotted reference lines through the first point of
    its first series: slope −1/2 (Monte Carlo) and slope −1. The legend is in the first
    panel only; the panels share their y-axis.

    Args:
        num_samples: the N of each point, increasing.
        panels: panel title -> (series name -> error at each N); one to three panels, each
            with the same series names.
        figsize: size of the figure (inches).
    """
    _check_panels(panels, "panels", 3, "series")
    with book_style():
        fig, axes = plt.subplots(1, len(panels), figsize=figsize, sharey=True, squeeze=False)
        for i, (ax, (title, curves)) in enumerate(zip(axes[0], panels.items(), strict=True)):
            ns, ys = _series(num_samples, curves, "num_samples")
            _draw(ax.loglog, ns, ys)
            first = next(iter(ys.values()))[0]
            ax.loglog(
                ns,
                first * (ns / ns[0]) ** -0.5,
                ":",
                color=COLORS["black"],
                label=r"$\propto N^{-1/2}$, $\propto N^{-1}$",
            )
            ax.loglog(ns, first * (ns / ns[0]) ** -1.0, ":", color=COLORS["black"])
            ax.set_xscale("log", base=2)
            ax.set_title(title)
            ax.set_xlabel("draws per estimate $N$")
            if i == 0:
                ax.set_ylabel("RMS error of the gradient")
                ax.legend(loc="lower left")
        fig.tight_layout()
    return fig


def plot_variance_against_n(
    num_samples: Sequence[int],
    variances: Mapping[str, Sequence[float]],
    *,
    ax: Axes | None = None,
    figsize: tuple[float, float] = (COLUMN_WIDTH_IN, 3.6),
) -> Figure:
    """Variance of gradient estimators against N, log–log.

    Args:
        num_samples: the N of each estimate, increasing.
        variances: estimator name -> variance at each N.
        ax: axes to draw on; a new figure is made if omitted.
        figsize: size of a new figure (inches).
    """
    ns, ys = _series(num_samples, variances, "num_samples")
    return _line_figure(
        ns,
        ys,
        xlabel="importance samples $N$",
        ylabel="variance of the gradient",
        ax=ax,
        figsize=figsize,
        loglog=True,
    )


def plot_point_sets(
    points: Mapping[str, ArrayLike],
    *,
    figsize: tuple[float, float] = (COLUMN_WIDTH_IN, 3.6),
) -> Figure:
    """Point sets in the unit square, one panel each, with the grid of N cells per side.

    Args:
        points: panel title -> an (N, 2) array of points in [0, 1)², one or two panels, all
            with the same N (the dotted grid has N rows and N columns of cells, drawn when
            N ≤ 64, so that the one-point-per-row-and-column balance of a Sobol net shows).
        figsize: size of the figure (inches).
    """
    if not 1 <= len(points) <= 2:
        raise ValueError(f"points must hold 1 or 2 point sets, got {len(points)}")
    arrays = {title: np.asarray(xy, dtype=float) for title, xy in points.items()}
    for title, xy in arrays.items():
        if xy.ndim != 2 or xy.shape[1] != 2 or xy.shape[0] < 1:
            raise ValueError(f"point set {title!r} must have shape (N, 2), got {xy.shape}")
        if ((xy < 0) | (xy > 1)).any():
            raise ValueError(f"point set {title!r} must lie in the unit square")
    with book_style():
        fig, axes = plt.subplots(1, len(arrays), figsize=figsize, squeeze=False)
        for i, (ax, (title, xy)) in enumerate(zip(axes[0], arrays.items(), strict=True)):
            n = xy.shape[0]
            if n <= 64:
                for edge in np.arange(1, n) / n:
                    ax.axhline(edge, color=COLORS["black"], linewidth=0.4, alpha=0.25)
                    ax.axvline(edge, color=COLORS["black"], linewidth=0.4, alpha=0.25)
            color = (COLORS["blue"], COLORS["vermillion"])[i]
            marker = ("o", "s")[i]
            ax.plot(xy[:, 0], xy[:, 1], marker, color=color, markersize=4, linestyle="none")
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1)
            ax.set_aspect("equal")
            ax.grid(False)
            ax.set_title(title)
            ax.set_xlabel("$u_1$")
            if i == 0:
                ax.set_ylabel("$u_2$")
        fig.tight_layout()
    return fig
