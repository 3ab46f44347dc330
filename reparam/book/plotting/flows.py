"""Figures for the chapter "Normalizing flows" (``chapter-flows``).

- :func:`plot_flow_fits`: draws of fitted flows over the target's contours, one panel per
  flow (top), and each flow's ELBO during training against log Z (bottom).

Inputs are numpy arrays (or anything ``np.asarray`` accepts); the function returns the figure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from reparam.book.plotting.style import COLORS, COLUMN_WIDTH_IN, LINESTYLES, book_style

__all__ = ["plot_flow_fits"]

_PALETTE = [COLORS[name] for name in ("vermillion", "green", "blue", "purple")]


def _running_mean(values: np.ndarray, window: int) -> np.ndarray:
    window = max(1, min(window, values.size))
    kernel = np.ones(window) / window
    return np.convolve(values, kernel, mode="valid")


def plot_flow_fits(
    contour: tuple[np.ndarray, np.ndarray, np.ndarray],
    samples: Mapping[str, Sequence[Sequence[float]] | np.ndarray],
    curves: Mapping[str, Sequence[float] | np.ndarray],
    log_z: float,
    window: int = 50,
) -> Figure:
    """Top: ``samples`` (label -> points (n, 2)), one panel each (at most four), over the
    contours of ``contour = (x, y, density)`` (as for ``plt.contour``). Bottom: each
    ``curves`` entry (label -> ELBO per step) as a running mean over ``window`` steps, with
    a horizontal line at ``log_z``."""
    if not samples or len(samples) > 4:
        raise ValueError(f"samples must have one to four entries, got {len(samples)}")
    if not curves:
        raise ValueError("curves must contain at least one entry")
    points = {label: np.asarray(value, dtype=float) for label, value in samples.items()}
    for label, value in points.items():
        if value.ndim != 2 or value.shape[1] != 2:
            raise ValueError(f"samples[{label!r}] must have shape (n, 2), got {value.shape}")
    grid_x, grid_y, density = (np.asarray(part, dtype=float) for part in contour)
    top: list[Any] = [f"s{i}" for i in range(len(points))]
    with book_style():
        fig, axes = plt.subplot_mosaic(
            [top, ["elbo"] * len(top)], figsize=(COLUMN_WIDTH_IN, 5.6), layout="constrained",
            height_ratios=[1.1, 1.0],
        )  # fmt: skip
        for i, (label, value) in enumerate(points.items()):
            ax = axes[f"s{i}"]
            ax.contour(grid_x, grid_y, density, levels=5, colors="0.45", linewidths=1)
            ax.scatter(value[:, 0], value[:, 1], s=2, color=COLORS["blue"], alpha=0.35)
            ax.set_title(label)
            ax.set_xlim(grid_x.min(), grid_x.max())
            ax.set_ylim(grid_y.min(), grid_y.max())
            ax.set_xlabel("$z_1$")
            if i == 0:
                ax.set_ylabel("$z_2$")
            else:
                ax.tick_params(labelleft=False)
        ax = axes["elbo"]
        settled = []
        for i, (label, values) in enumerate(curves.items()):
            smooth = _running_mean(np.asarray(values, dtype=float), window)
            steps = np.arange(smooth.size) + min(window, len(values))
            style = LINESTYLES[i % len(LINESTYLES)]
            color = _PALETTE[i % len(_PALETTE)]
            ax.plot(steps, smooth, color=color, linestyle=style, linewidth=2, label=label)
            settled.append(smooth[smooth.size // 10 :].min())
        ax.axhline(log_z, color=COLORS["black"], linewidth=1, linestyle=":", label="log Z")
        # The first steps of a fresh flow can sit far below: show the settled range.
        low = min(settled)
        ax.set_ylim(low - 0.15 * (log_z - low), log_z + 0.1 * (log_z - low))
        ax.set_xlabel("training step")
        ax.set_ylabel(f"ELBO (mean of {window} steps)")
        fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=4)
    return fig
