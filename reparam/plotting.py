"""Figures for the book, drawn with matplotlib in a colour-blind-safe palette.

Every figure of the book comes from a function here, so that notebooks only narrate.
Colours come from the Okabe–Ito palette (Okabe & Ito, 2008), distinguishable under the
common forms of colour-vision deficiency; lines also differ by marker or dash so that
figures survive greyscale printing.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from cycler import cycler
from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = [
    "COLORS",
    "LINESTYLES",
    "book_style",
    "plot_error_vs_samples",
    "plot_estimator_histograms",
]

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


def plot_error_vs_samples(
    num_samples: Sequence[int],
    abs_errors: Sequence[float],
    std_errors: Sequence[float],
    *,
    ax: Axes | None = None,
    label: str = "Monte Carlo estimate",
) -> Figure:
    """Absolute error of Monte Carlo estimates against the number of samples, log–log.

    Draws the observed absolute errors, the reported standard errors, and a reference
    line proportional to 1/sqrt(N) through the first standard error.

    Args:
        num_samples: the N of each estimate, increasing.
        abs_errors: |estimate − exact value| for each N.
        std_errors: the estimated standard error for each N.
        ax: axes to draw on; a new figure is made if omitted.
        label: legend entry for the observed errors.
    """
    n = np.asarray(num_samples, dtype=float)
    errors = np.asarray(abs_errors, dtype=float)
    std_err = np.asarray(std_errors, dtype=float)
    if not (n.shape == errors.shape == std_err.shape) or n.ndim != 1:
        raise ValueError(
            "num_samples, abs_errors and std_errors must be 1-d and of one length, got "
            f"{n.shape}, {errors.shape}, {std_err.shape}"
        )
    with book_style():
        if ax is None:
            fig, ax = plt.subplots(figsize=(6, 4))
        else:
            fig = ax.figure  # type: ignore[assignment]
        ax.loglog(n, errors, "o", color=COLORS["blue"], label=label)
        ax.loglog(n, std_err, "-", color=COLORS["vermillion"], label="reported standard error")
        ax.loglog(
            n,
            std_err[0] * np.sqrt(n[0] / n),
            ":",
            color=COLORS["black"],
            label=r"$\propto 1/\sqrt{N}$",
        )
        ax.set_xlabel("number of samples $N$")
        ax.set_ylabel("absolute error")
        ax.legend()
    return fig


def plot_estimator_histograms(
    estimates: dict[str, np.ndarray],
    *,
    truth: float | None = None,
    ax: Axes | None = None,
    xlabel: str = "estimate",
    bins: int = 60,
) -> Figure:
    """Overlaid histograms of repeated estimates, one per estimator, with the true value.

    Args:
        estimates: estimator name -> 1-d array of independent estimates.
        truth: the exact value, drawn as a vertical line if given.
        ax: axes to draw on; a new figure is made if omitted.
        xlabel: label of the horizontal axis.
        bins: number of histogram bins (shared by all estimators).
    """
    if not estimates:
        raise ValueError("estimates must name at least one estimator")
    with book_style():
        if ax is None:
            fig, ax = plt.subplots(figsize=(6, 4))
        else:
            fig = ax.figure  # type: ignore[assignment]
        pooled = np.concatenate([np.asarray(v, dtype=float).ravel() for v in estimates.values()])
        edges = np.histogram_bin_edges(pooled, bins=bins)
        for (name, values), color, hatch in zip(
            estimates.items(), COLORS.values(), ("", "//", "\\\\", "..", "xx"), strict=False
        ):
            ax.hist(
                np.asarray(values, dtype=float).ravel(),
                bins=edges.tolist(),
                density=True,
                histtype="stepfilled",
                alpha=0.45,
                color=color,
                edgecolor=color,
                hatch=hatch,
                label=name,
            )
        if truth is not None:
            ax.axvline(truth, color=COLORS["black"], linestyle="--", label="exact value")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("density")
        ax.legend()
    return fig
