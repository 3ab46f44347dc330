"""Figures for the chapter "Reparameterized policies" (``chapter-policies``).

- :func:`plot_policy_densities`: densities of policies over actions in (−1, 1), such as the
  soft-optimal (Boltzmann) policy, the best tanh-squashed Gaussian and learned policies;
- :func:`plot_variance_and_training`: per-coordinate gradient variance against the action
  dimension (left), and the KL from the Boltzmann policy during training (right), median and
  interquartile band over runs.

Inputs are numpy arrays (or anything ``np.asarray`` accepts); every function returns the figure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from reparam.book.plotting.style import COLORS, COLUMN_WIDTH_IN, LINESTYLES, book_style

__all__ = ["plot_policy_densities", "plot_variance_and_training"]

_PALETTE = [COLORS[name] for name in ("blue", "vermillion", "green", "purple", "orange")]
_MARKERS = ("o", "s", "^", "D", "v")

Array = Sequence[float] | np.ndarray


def plot_policy_densities(grid: Array, densities: Mapping[str, Array]) -> Figure:
    """Densities over the action a in (−1, 1), one line per policy.

    Args:
        grid: actions, shape ``(G,)``, increasing, inside (−1, 1); the plot spans it.
        densities: label -> density on the grid, shape ``(G,)`` each (at least one).
    """
    if not densities:
        raise ValueError("densities must contain at least one entry")
    x = np.asarray(grid, dtype=float)
    with book_style():
        fig, ax = plt.subplots(figsize=(COLUMN_WIDTH_IN, 3.9), layout="constrained")
        for i, (label, values) in enumerate(densities.items()):
            density = np.asarray(values, dtype=float)
            if density.shape != x.shape:
                raise ValueError(f"densities[{label!r}] must match grid of shape {x.shape}")
            ax.plot(x, density, label=label, color=_PALETTE[i % len(_PALETTE)],
                    linestyle=LINESTYLES[i % len(LINESTYLES)], linewidth=2)  # fmt: skip
        ax.set_xlabel("action $a$")
        ax.set_ylabel("density")
        ax.set_xlim(x[0], x[-1])
        ax.set_ylim(bottom=0)
        fig.legend(loc="outside lower center", ncol=2)
    return fig


def plot_variance_and_training(
    dims: Array,
    variances: Mapping[str, Array],
    steps: Array,
    kl: Mapping[str, np.ndarray],
    floor: float,
) -> Figure:
    """Gradient variance against dimension (left); KL during training (right).

    Args:
        dims: action dimensions D, shape ``(K,)``.
        variances: estimator -> variance of one coordinate's gradient estimate at each D,
            shape ``(K,)``.
        steps: recorded training steps, shape ``(T,)``.
        kl: estimator -> KL from the Boltzmann policy per coordinate, shape ``(T, runs)``;
            the same estimators as ``variances``, in the same order (one shared legend).
        floor: the lowest KL per coordinate a tanh-squashed Gaussian reaches (dotted line,
            labelled as such).
    """
    if not variances or list(variances) != list(kl):
        raise ValueError("variances and kl must name the same estimators, in the same order")
    d = np.asarray(dims, dtype=float)
    t = np.asarray(steps, dtype=float)
    with book_style():
        fig, (left, right) = plt.subplots(
            1, 2, figsize=(COLUMN_WIDTH_IN, 3.9), layout="constrained"
        )
        for i, name in enumerate(variances):
            color = _PALETTE[i % len(_PALETTE)]
            values = np.asarray(variances[name], dtype=float)
            if values.shape != d.shape:
                raise ValueError(f"variances[{name!r}] must match dims of shape {d.shape}")
            left.loglog(d, values, marker=_MARKERS[i % len(_MARKERS)], color=color,
                        linestyle=LINESTYLES[i % len(LINESTYLES)], label=name)  # fmt: skip
            runs = np.asarray(kl[name], dtype=float)
            if runs.ndim != 2 or runs.shape[0] != t.shape[0]:
                raise ValueError(f"kl[{name!r}] must have shape ({t.shape[0]}, runs)")
            low, middle, high = np.percentile(runs, [25, 50, 75], axis=1)
            right.plot(t, middle, color=color, linestyle=LINESTYLES[i % len(LINESTYLES)])
            right.fill_between(t, low, high, color=color, alpha=0.25, linewidth=0)
        right.axhline(floor, color="0.3", linestyle=":", label="best tanh-squashed Gaussian")
        left.set_xlabel("action dimension $D$")
        left.set_ylabel("variance per coordinate")
        right.set_xlabel("SGD step")
        right.set_ylabel("KL per coordinate")
        right.set_yscale("log")
        handles, labels = left.get_legend_handles_labels()
        extra_handles, extra_labels = right.get_legend_handles_labels()
        fig.legend(handles + extra_handles, labels + extra_labels,
                   loc="outside lower center", ncol=3)  # fmt: skip
    return fig
