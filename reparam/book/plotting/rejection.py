"""Figures for the chapter "Rejection samplers and generalized reparameterization"
(``chapter-rejection``).

- :func:`plot_accepted_noise`: the density of the noise a rejection sampler accepts, for
  several shapes, against the proposal's noise density, with a histogram of accepted draws;
- :func:`plot_variance_against_shape`: per-estimate variances against the Gamma shape α, one
  panel per cost, one line per estimator.

Inputs are numpy arrays (or anything ``np.asarray`` accepts); every function returns the figure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from reparam.book.plotting.style import COLORS, COLUMN_WIDTH_IN, LINESTYLES, book_style

__all__ = ["plot_accepted_noise", "plot_variance_against_shape"]

_PALETTE = [COLORS[name] for name in ("blue", "vermillion", "green", "orange", "purple")]
_MARKERS = ("o", "s", "^", "D", "v")


def _line_style(i: int) -> dict[str, object]:
    return {
        "color": _PALETTE[i % len(_PALETTE)],
        "linestyle": LINESTYLES[i % len(LINESTYLES)],
        "marker": _MARKERS[i % len(_MARKERS)],
    }


def plot_accepted_noise(
    grid: Sequence[float] | np.ndarray,
    densities: Mapping[str, Sequence[float] | np.ndarray],
    proposal: Sequence[float] | np.ndarray,
    samples: Sequence[float] | np.ndarray | None = None,
    samples_label: str = "accepted draws",
) -> Figure:
    """Densities of the accepted noise (lines) and of the proposal's noise (grey, dashed).

    Args:
        grid: the values of ε, shape ``(G,)``.
        densities: label -> π(ε) on the grid, shape ``(G,)`` each (at least one).
        proposal: the proposal's density on the grid, shape ``(G,)``.
        samples: optional accepted draws for the first density, shown as a histogram.
        samples_label: the histogram's legend entry.
    """
    if not densities:
        raise ValueError("densities must contain at least one entry")
    x = np.asarray(grid, dtype=float)
    base = np.asarray(proposal, dtype=float)
    if base.shape != x.shape:
        raise ValueError(f"proposal must match grid of shape {x.shape}")
    with book_style():
        fig, ax = plt.subplots(figsize=(COLUMN_WIDTH_IN, 3.9), layout="constrained")
        if samples is not None:
            ax.hist(np.asarray(samples, dtype=float), bins=60, range=(x[0], x[-1]),
                    density=True, color=COLORS["sky"], alpha=0.6, label=samples_label)  # fmt: skip
        ax.plot(x, base, color="0.45", linestyle="--", label="proposal N(0, 1)")
        for i, (label, values) in enumerate(densities.items()):
            density = np.asarray(values, dtype=float)
            if density.shape != x.shape:
                raise ValueError(f"densities[{label!r}] must match grid of shape {x.shape}")
            style = _line_style(i)
            ax.plot(x, density, label=label, color=style["color"], linestyle=style["linestyle"])
        ax.set_xlabel(r"noise $\epsilon$")
        ax.set_ylabel("density")
        ax.set_xlim(x[0], x[-1])
        ax.set_ylim(bottom=0)
        fig.legend(loc="outside lower center", ncol=3)
    return fig


def plot_variance_against_shape(
    shapes: Sequence[float] | np.ndarray,
    panels: Mapping[str, Mapping[str, Sequence[float] | np.ndarray]],
) -> Figure:
    """Per-estimate variance (log scale) against the shape α (log scale), one panel per cost.

    Args:
        shapes: the grid of α, shape ``(A,)``.
        panels: panel title -> (estimator name -> variance at each α, shape ``(A,)``); NaN
            where an estimator does not apply. Every panel must name the same estimators, in
            the same order (one shared legend).
    """
    if not panels:
        raise ValueError("panels must contain at least one entry")
    grid = np.asarray(shapes, dtype=float)
    names = [list(curves) for curves in panels.values()]
    if not names[0] or any(n != names[0] for n in names):
        raise ValueError("every panel must name the same estimators, in the same order")
    with book_style():
        fig, axes = plt.subplots(
            1, len(panels), figsize=(COLUMN_WIDTH_IN, 4.2), layout="constrained", squeeze=False
        )
        for ax, (title, curves) in zip(axes[0], panels.items(), strict=True):
            for i, (name, values) in enumerate(curves.items()):
                variance = np.asarray(values, dtype=float)
                if variance.shape != grid.shape:
                    raise ValueError(f"panels[{title!r}][{name!r}] must match shapes {grid.shape}")
                ax.loglog(grid, variance, label=name, markersize=4, **_line_style(i))
            ax.set_title(title)
            ax.set_xlabel(r"shape $\alpha$")
        axes[0][0].set_ylabel("variance per estimate")
        handles, labels = axes[0][0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncol=3)
    return fig
