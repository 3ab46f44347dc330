"""Figures of the part "The trick at work": the variational autoencoder and Bayesian
logistic regression chapters.

Curves use the Okabe–Ito palette of :mod:`reparam.book.plotting.style` and differ by line style
and marker as well, so they read in greyscale. Images are drawn in grey levels (``gray_r``:
ink is dark), which every form of colour-vision deficiency sees alike; the latent map draws
each image as its digit, so the class is read from the glyph and not only from its colour.
Every figure fits the book's text column (``COLUMN_WIDTH_IN``) with no text smaller than
``SMALLEST_TEXT_PT``: panels are stacked rather than set side by side.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

from reparam.book.plotting.style import (
    COLORS,
    COLUMN_WIDTH_IN,
    LINESTYLES,
    SMALLEST_TEXT_PT,
    book_style,
    new_axes,
)

__all__ = [
    "plot_elbo_curves",
    "plot_gradient_variance",
    "plot_gradient_variances",
    "plot_image_grid",
    "plot_latent_map",
    "plot_logistic_training",
    "plot_reconstructions",
]

_MARKERS = ("o", "s", "^", "D", "v", "P", "X")


def _style(index: int) -> tuple[str, str, str]:
    """Colour, line style and marker of the ``index``-th series."""
    colors = list(COLORS.values())
    return (
        colors[index % len(colors)],
        LINESTYLES[index % len(LINESTYLES)],
        _MARKERS[index % len(_MARKERS)],
    )


def _curves(
    curves: Mapping[str, tuple[ArrayLike, ArrayLike]],
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    if not curves:
        raise ValueError("curves must name at least one series")
    out = {}
    for name, (x, y) in curves.items():
        xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        if xs.ndim != 1 or xs.shape != ys.shape:
            raise ValueError(
                f"series {name!r}: steps and values must be 1-d and of one length, got "
                f"{xs.shape} and {ys.shape}"
            )
        out[name] = (xs, ys)
    return out


def plot_elbo_curves(
    curves: Mapping[str, tuple[ArrayLike, ArrayLike]],
    *,
    ax: Axes | None = None,
    xlabel: str = "training step",
    ylabel: str = "held-out ELBO (nats per image)",
    ylim: tuple[float, float] | None = None,
) -> Figure:
    """ELBO against training step, one line per training run.

    Args:
        curves: run name -> ``(steps, values)``, two 1-d sequences of one length.
        ax: axes to draw on; a new figure is made if omitted.
        xlabel, ylabel: axis labels.
        ylim: limits of the vertical axis (the first evaluations, before training, are often
            far below the rest).
    """
    series = _curves(curves)
    with book_style():
        fig, ax = new_axes(ax)
        for i, (name, (steps, values)) in enumerate(series.items()):
            every = max(1, len(steps) // 10)
            color, linestyle, marker = _style(i)
            ax.plot(
                steps,
                values,
                label=name,
                color=color,
                linestyle=linestyle,
                marker=marker,
                markevery=every,
                markersize=4,
            )
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        if ylim is not None:
            ax.set_ylim(*ylim)
        ax.legend()
    return fig


def _as_images(images: ArrayLike, side: int | None) -> np.ndarray:
    array = np.asarray(images, dtype=float)
    if array.ndim == 2:
        side = side or math.isqrt(array.shape[1])
        if side * side != array.shape[1]:
            raise ValueError(f"images of {array.shape[1]} pixels are not square; pass side")
        array = array.reshape(array.shape[0], side, side)
    if array.ndim != 3:
        raise ValueError(f"images must have shape (n, pixels) or (n, h, w), got {array.shape}")
    return array


def plot_image_grid(
    images: ArrayLike,
    *,
    ncols: int = 10,
    side: int | None = None,
    title: str | None = None,
    row_labels: Sequence[str] | None = None,
    cell: float = 0.6,
) -> Figure:
    """Images (pixel intensities in [0, 1]) in a grid, dark ink on white.

    Args:
        images: shape ``(n, pixels)`` with square images (8×8 digits: 64 pixels) or
            ``(n, h, w)``.
        ncols: images per row.
        side: image side if ``images`` is flat and not a perfect square.
        title: figure title.
        row_labels: one label per row, written left of the row.
        cell: inches per image, reduced if the row would be wider than the text column.
    """
    array = _as_images(images, side)
    n = array.shape[0]
    if n == 0:
        raise ValueError("images must hold at least one image")
    if ncols < 1:
        raise ValueError(f"ncols must be at least 1, got {ncols}")
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    if row_labels is not None and len(row_labels) != nrows:
        raise ValueError(f"row_labels must have {nrows} entries, got {len(row_labels)}")
    margin = 1.2 if row_labels else 0.2
    cell = min(cell, (COLUMN_WIDTH_IN - margin) / ncols)
    with book_style():
        fig, axes = plt.subplots(
            nrows,
            ncols,
            figsize=(cell * ncols + margin, cell * nrows + (0.5 if title else 0.1)),
            squeeze=False,
        )
        for index, ax in enumerate(axes.flat):
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            for spine in ax.spines.values():
                spine.set_visible(False)
            if index < n:
                ax.imshow(array[index], cmap="gray_r", vmin=0.0, vmax=1.0, interpolation="nearest")
        if row_labels is not None:
            for row, label in enumerate(row_labels):
                axes[row, 0].set_ylabel(label, rotation=0, ha="right", va="center")
        if title:
            fig.suptitle(title)
        fig.tight_layout()
    return fig


def plot_reconstructions(
    originals: ArrayLike, reconstructions: ArrayLike, *, title: str | None = None
) -> Figure:
    """Held-out images (top row) above their reconstructions (bottom row).

    Args:
        originals: shape ``(n, pixels)``.
        reconstructions: same shape; e.g. decoder means at the encoder means.
        title: figure title.
    """
    first, second = np.asarray(originals, dtype=float), np.asarray(reconstructions, dtype=float)
    if first.shape != second.shape:
        raise ValueError(
            "originals and reconstructions must have one shape, got "
            f"{first.shape} and {second.shape}"
        )
    return plot_image_grid(
        np.concatenate([first, second]),
        ncols=first.shape[0],
        title=title,
        row_labels=["data", "reconstruction"],
    )


def plot_latent_map(
    locations: ArrayLike,
    labels: ArrayLike,
    *,
    ax: Axes | None = None,
    xlabel: str = "$z_1$",
    ylabel: str = "$z_2$",
) -> Figure:
    """A two-dimensional latent space: each image drawn as its digit at its encoder mean.

    The digits are written at the book's smallest text size, so a few hundred points are
    about as many as the figure shows without hiding one another; pass a subset of a larger
    set.

    Args:
        locations: encoder means, shape ``(n, 2)``.
        labels: the digit of each image, shape ``(n,)``, integers 0–9.
        ax: axes to draw on; a new figure is made if omitted.
        xlabel, ylabel: axis labels.
    """
    points = np.asarray(locations, dtype=float)
    digits = np.asarray(labels).astype(int)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"locations must have shape (n, 2), got {points.shape}")
    if digits.shape != points.shape[:1]:
        raise ValueError(f"labels must have shape ({points.shape[0]},), got {digits.shape}")
    colors = list(COLORS.values())
    with book_style():
        fig, ax = new_axes(ax, figsize=(6, 5.5))
        for (x, y), digit in zip(points, digits, strict=True):
            ax.text(
                x,
                y,
                str(digit),
                color=colors[digit % len(colors)],
                fontsize=SMALLEST_TEXT_PT,
                ha="center",
                va="center",
                fontweight="bold",
            )
        pad = 0.05 * (points.max(0) - points.min(0) + 1e-9)
        ax.set_xlim(points[:, 0].min() - pad[0], points[:, 0].max() + pad[0])
        ax.set_ylim(points[:, 1].min() - pad[1], points[:, 1].max() + pad[1])
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_aspect("equal", adjustable="box")
    return fig


def plot_logistic_training(
    steps: Mapping[str, ArrayLike],
    elbos: Mapping[str, ArrayLike],
    accuracies: Mapping[str, ArrayLike],
    *,
    elbo_ylim: tuple[float, float] | None = None,
) -> Figure:
    """Training-set ELBO (top) and held-out accuracy (bottom) against step, one line per
    estimator; the legend is in the top panel.

    Args:
        steps: estimator -> recorded steps.
        elbos: estimator -> ELBO at those steps.
        accuracies: estimator -> held-out accuracy at those steps.
        elbo_ylim: limits of the ELBO axis.
    """
    if set(steps) != set(elbos) or set(steps) != set(accuracies):
        raise ValueError("steps, elbos and accuracies must name the same estimators")
    elbo_curves = _curves({name: (steps[name], elbos[name]) for name in steps})
    accuracy_curves = _curves({name: (steps[name], accuracies[name]) for name in steps})
    with book_style():
        fig, (top, bottom) = plt.subplots(
            2, 1, figsize=(6.0, 5.0), sharex=True, gridspec_kw={"height_ratios": (3, 2)}
        )
        plot_elbo_curves(elbo_curves, ax=top, ylabel="training-set ELBO (nats)", ylim=elbo_ylim)
        top.set_xlabel("")
        plot_elbo_curves(accuracy_curves, ax=bottom, ylabel="held-out accuracy")
        legend = bottom.get_legend()
        if legend is not None:
            legend.remove()
        top.legend(loc="lower right")
        fig.align_ylabels()
        fig.tight_layout()
    return fig


def plot_gradient_variance(
    steps: ArrayLike,
    variances: Mapping[str, ArrayLike],
    *,
    parameter: str = r"$\mu$",
    ax: Axes | None = None,
) -> Figure:
    """Per-parameter gradient variance over training, log scale, one colour per estimator.

    For each estimator the line is the median over the parameters and the band spans the
    smallest to the largest parameter's variance.

    Args:
        steps: the recorded steps, shape ``(T,)``.
        variances: estimator -> variances of shape ``(T, D)`` (one column per parameter).
        parameter: name of the parameter block, for the axis label.
        ax: axes to draw on; a new figure is made if omitted.
    """
    xs = np.asarray(steps, dtype=float)
    if not variances:
        raise ValueError("variances must name at least one estimator")
    with book_style():
        fig, ax = new_axes(ax)
        for i, (name, values) in enumerate(variances.items()):
            v = np.asarray(values, dtype=float)
            if v.ndim != 2 or v.shape[0] != xs.shape[0]:
                raise ValueError(
                    f"variances[{name!r}] must have shape ({xs.shape[0]}, D), got {v.shape}"
                )
            color, linestyle, marker = _style(i)
            every = max(1, len(xs) // 10)
            ax.plot(
                xs,
                np.median(v, axis=1),
                label=name,
                color=color,
                linestyle=linestyle,
                marker=marker,
                markevery=every,
                markersize=4,
            )
            # no edge line: the band reads as an area, and the PNG stays light
            ax.fill_between(xs, v.min(axis=1), v.max(axis=1), color=color, alpha=0.15, linewidth=0)
        ax.set_yscale("log")
        ax.set_xlabel("training step")
        ax.set_ylabel(f"variance of a one-sample gradient in {parameter}")
        ax.legend()
    return fig


def plot_gradient_variances(
    steps: ArrayLike,
    blocks: Mapping[str, Mapping[str, ArrayLike]],
) -> Figure:
    """:func:`plot_gradient_variance` for several parameter blocks, in stacked panels.

    The panels share the step axis; one legend, above the top panel, names the estimators.

    Args:
        steps: the recorded steps, shape ``(T,)``.
        blocks: parameter block name (e.g. ``r"$\\mu$"``) -> estimator -> variances of shape
            ``(T, D)``, as for :func:`plot_gradient_variance`.
    """
    if not blocks:
        raise ValueError("blocks must name at least one parameter block")
    with book_style():
        fig, axes = plt.subplots(
            len(blocks), 1, figsize=(6.0, 0.8 + 2.4 * len(blocks)), sharex=True, squeeze=False
        )
        column = axes[:, 0]
        for ax, (parameter, variances) in zip(column, blocks.items(), strict=True):
            plot_gradient_variance(steps, variances, parameter=parameter, ax=ax)
            ax.set_ylabel(f"one-draw gradient\nvariance, {parameter}")
            legend = ax.get_legend()
            if legend is not None:
                legend.remove()
            if ax is not column[-1]:
                ax.set_xlabel("")
        handles, labels = column[0].get_legend_handles_labels()
        column[0].legend(handles, labels, loc="lower center", bbox_to_anchor=(0.5, 1.02), ncols=2)
        fig.align_ylabels()
        fig.tight_layout()
    return fig
