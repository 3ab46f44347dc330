"""Variance figures (book chapter "Which estimator, when: variance").

One colour, line style and marker per estimator, fixed across every panel of the chapter:
exact curves (by quadrature, :mod:`reparam.variance`) are lines, Monte Carlo checks are
markers of the same colour on top.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FormatStrFormatter, NullFormatter

from reparam.book.plotting.style import COLORS, COLUMN_WIDTH_IN, book_style, new_axes

__all__ = [
    "ESTIMATOR_STYLES",
    "plot_error_by_estimator",
    "plot_variance_curves",
    "plot_variance_grid",
]

#: estimator key -> (label, colour, line style, marker).
ESTIMATOR_STYLES: dict[str, tuple[str, str, str, str]] = {
    "score_function": ("score function", COLORS["vermillion"], "-", "o"),
    "score_function_optimal_baseline": ("score function + baseline", COLORS["orange"], "--", "s"),
    "pathwise": ("pathwise", COLORS["blue"], "-.", "^"),
    "measure_valued": ("measure-valued + coupling", COLORS["green"], ":", "D"),
}


def _style(name: str) -> tuple[str, str, str, str]:
    return ESTIMATOR_STYLES.get(name, (name, COLORS["black"], "-", "x"))


def plot_variance_curves(
    ks: Sequence[float],
    exact: Mapping[str, Sequence[float]],
    *,
    monte_carlo: Mapping[str, tuple[Sequence[float], Sequence[float]]] | None = None,
    ax: Axes | None = None,
    log_k: bool = False,
    xlabel: str = "$k$",
    ylabel: str = "variance of one per-sample estimate",
    title: str | None = None,
    legend: bool = True,
) -> Figure:
    """Per-sample variance against the cost parameter k, one line per estimator.

    Args:
        ks: the k grid of the exact curves.
        exact: estimator key -> exact variances on ``ks`` (keys of :data:`ESTIMATOR_STYLES`).
        monte_carlo: estimator key -> (k values, Monte Carlo variances), drawn as markers.
        ax: axes to draw on; a new figure is made if omitted.
        log_k: logarithmic k axis (the exp and cos costs of Mohamed et al. 2020, section 3).
        xlabel, ylabel, title: labels.
        legend: whether to draw a legend on these axes.
    """
    k = np.asarray(ks, dtype=float)
    with book_style():
        fig, ax = new_axes(ax)
        for name, values in exact.items():
            label, color, ls, _ = _style(name)
            v = np.asarray(values, dtype=float)
            if v.shape != k.shape:
                raise ValueError(f"exact[{name!r}] has shape {v.shape}, expected {k.shape}")
            ax.plot(k, np.maximum(v, 1e-300), ls, color=color, lw=1.8, label=label)
        for name, (k_mc, v_mc) in (monte_carlo or {}).items():
            _, color, _, marker = _style(name)
            ax.plot(k_mc, v_mc, marker, color=color, ms=5, mfc="white", mew=1.3, ls="none")
        ax.set_yscale("log")
        if log_k:
            ax.set_xscale("log")
            ticks = [t for t in (0.1, 0.2, 0.5, 1, 2, 5, 10) if k.min() <= t <= k.max()]
            ax.set_xticks(ticks)
            ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
            ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        if title:
            ax.set_title(title)
        if legend:
            ax.legend()
    return fig


def plot_variance_grid(
    panels: Sequence[Mapping[str, object]],
    *,
    ncols: int = 2,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """A grid of :func:`plot_variance_curves` panels with one shared legend below.

    Args:
        panels: keyword arguments of :func:`plot_variance_curves` for each panel, row by
            row (``ax`` and ``legend`` are set here).
        ncols: panels per row.
        figsize: figure size in inches; by default the column width and 2.5 in per row.
    """
    if not panels:
        raise ValueError("panels must hold at least one panel")
    nrows = -(-len(panels) // ncols)
    if figsize is None:
        figsize = (COLUMN_WIDTH_IN, 2.5 * nrows + 0.9)
    with book_style():
        fig, axes = plt.subplots(nrows, ncols, figsize=figsize, squeeze=False)
        for panel, ax in zip(panels, axes.flat, strict=False):
            plot_variance_curves(**{**panel, "ax": ax, "legend": False})
        for ax in axes.flat[len(panels) :]:
            ax.set_visible(False)
        handles, labels = axes.flat[0].get_legend_handles_labels()
        handles.append(Line2D([], [], marker="o", color=COLORS["black"], mfc="white", ls="none"))
        labels.append("Monte Carlo check")
        # Column by column: two entries per column, so the legend fits the column width.
        fig.legend(handles, labels, loc="lower center", ncol=-(-len(labels) // 2))
        legend_height = 0.55 / figsize[1]  # two rows of 10-pt text, in figure fractions
        fig.tight_layout(rect=(0, legend_height, 1, 1), h_pad=0.8)
    return fig


def plot_error_by_estimator(
    num_samples: Sequence[int],
    errors: Mapping[str, Sequence[float]],
    predicted: Mapping[str, Sequence[float]] | None = None,
    *,
    ax: Axes | None = None,
    ylabel: str = "root-mean-square error",
    title: str | None = None,
) -> Figure:
    """Error of the N-sample gradient estimate against N, log–log, one colour per estimator.

    Args:
        num_samples: the N values.
        errors: estimator key -> observed errors (markers).
        predicted: estimator key -> predicted errors, e.g. sqrt(variance / N) (lines).
        ax: axes to draw on; a new figure is made if omitted.
        ylabel, title: labels.
    """
    n = np.asarray(num_samples, dtype=float)
    with book_style():
        fig, ax = new_axes(ax, figsize=(6.0, 4.8))
        handles = []
        for name, values in errors.items():
            label, color, ls, marker = _style(name)
            ax.loglog(n, values, marker, color=color, ls="none", ms=6)
            # One legend entry per estimator: its marker on its line style.
            line = ls if predicted and name in predicted else "none"
            handles.append(Line2D([], [], color=color, ls=line, marker=marker, label=label))
        for name, values in (predicted or {}).items():
            _, color, ls, _ = _style(name)
            ax.loglog(n, values, ls, color=color, lw=1.4)
        ax.set_xlabel("number of samples $N$")
        ax.set_ylabel(ylabel)
        if title:
            ax.set_title(title)
        # Below the axes, where it cannot hide a marker.
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
        fig.tight_layout()
    return fig
