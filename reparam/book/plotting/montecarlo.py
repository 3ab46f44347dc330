"""Figures about Monte Carlo estimates (book chapter "Gradients of expectations")."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from reparam.book.plotting.style import COLORS, book_style, new_axes

__all__ = ["plot_error_vs_samples", "plot_estimator_histograms"]


def plot_error_vs_samples(
    num_samples: Sequence[int],
    abs_errors: Sequence[float],
    std_errors: Sequence[float],
    *,
    ax: Axes | None = None,
    label: str = "observed error",
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
        fig, ax = new_axes(ax)
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
        fig, ax = new_axes(ax)
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
