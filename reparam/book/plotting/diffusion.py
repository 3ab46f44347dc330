"""Figures for the chapter "Diffusion models" (``chapter-diffusion``).

- :func:`plot_forward_process`: the data noised to several time steps, one panel per step;
- :func:`plot_samples_and_null`: generated points over held-out data (left), and the
  permutation null distribution of the energy distance with the observed values (right).

Inputs are numpy arrays (or anything ``np.asarray`` accepts); every function returns the figure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from reparam.book.plotting.style import COLORS, COLUMN_WIDTH_IN, LINESTYLES, book_style

__all__ = ["plot_forward_process", "plot_samples_and_null"]

_PALETTE = [COLORS[name] for name in ("vermillion", "green", "purple", "orange")]


def _points(values: object, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 2 or array.shape[1] != 2:
        raise ValueError(f"{name} must have shape (n, 2), got {array.shape}")
    return array


def plot_forward_process(panels: Mapping[str, Sequence[Sequence[float]] | np.ndarray]) -> Figure:
    """Scatter plots of points in the plane, one panel per entry (title -> points (n, 2)),
    on shared axes, two panels per row."""
    if not panels:
        raise ValueError("panels must contain at least one entry")
    data = {title: _points(points, f"panels[{title!r}]") for title, points in panels.items()}
    rows = (len(data) + 1) // 2
    with book_style():
        fig, axes = plt.subplots(
            rows, 2, figsize=(COLUMN_WIDTH_IN, 3.0 * rows), layout="constrained",
            sharex=True, sharey=True, squeeze=False,
        )  # fmt: skip
        for ax, (title, points) in zip(axes.flat, data.items(), strict=False):
            ax.scatter(points[:, 0], points[:, 1], s=3, color=COLORS["blue"], alpha=0.5)
            ax.set_title(title)
            ax.set_aspect("equal")
        for ax in list(axes.flat)[len(data) :]:
            ax.set_visible(False)
        for ax in axes[-1]:
            ax.set_xlabel("$x_1$")
        for ax in axes[:, 0]:
            ax.set_ylabel("$x_2$")
    return fig


def plot_samples_and_null(
    data: Sequence[Sequence[float]] | np.ndarray,
    samples: Sequence[Sequence[float]] | np.ndarray,
    null: Sequence[float] | np.ndarray,
    observed: Mapping[str, float],
) -> Figure:
    """Left: generated ``samples`` over held-out ``data``. Right: a histogram of the
    permutation ``null`` of the energy distance and a vertical line per ``observed`` value
    (label -> statistic), on a log scale when the values span more than two decades."""
    held, drawn = _points(data, "data"), _points(samples, "samples")
    values = np.asarray(null, dtype=float)
    if values.ndim != 1 or values.size == 0:
        raise ValueError("null must be a non-empty 1-d array")
    if not observed:
        raise ValueError("observed must contain at least one entry")
    with book_style():
        fig, (left, right) = plt.subplots(
            1, 2, figsize=(COLUMN_WIDTH_IN, 3.6), layout="constrained"
        )
        left.scatter(held[:, 0], held[:, 1], s=3, color="0.6", label="held-out data")
        left.scatter(drawn[:, 0], drawn[:, 1], s=3, color=COLORS["blue"], alpha=0.6,
                     label="model samples")  # fmt: skip
        left.set_aspect("equal")
        left.set_xlabel("$x_1$")
        left.set_ylabel("$x_2$")
        positive = np.concatenate([values, list(observed.values())])
        positive = positive[positive > 0]
        log_scale = positive.size > 1 and positive.max() / positive.min() > 100
        bins = np.geomspace(positive.min(), positive.max(), 40) if log_scale else 30
        right.hist(values, bins=bins, color=COLORS["sky"], label="null (permutations)")
        for i, (label, value) in enumerate(observed.items()):
            style = LINESTYLES[i % len(LINESTYLES)]
            color = _PALETTE[i % len(_PALETTE)]
            right.axvline(
                value, color=color, linestyle=style, linewidth=2, label=f"observed: {label}"
            )
        if log_scale:
            right.set_xscale("log")
        right.set_xlabel("energy distance")
        right.set_ylabel("count")
        handles, labels = [], []
        for ax in (left, right):
            h, lab = ax.get_legend_handles_labels()
            handles += h
            labels += lab
        fig.legend(handles, labels, loc="outside lower center", ncol=2, markerscale=4)
    return fig
