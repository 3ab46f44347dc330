"""Figures of the catalog chapters: small multiples of g(ε; θ) against the exact density, and
the implicit Gamma gradient.

Book chapters: "The standard reparameterizations" and "When there is no explicit g:
implicit reparameterization".
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.ticker import LogLocator, MaxNLocator
from torch import Tensor

from reparam.book.plotting.style import (
    COLORS,
    COLUMN_WIDTH_IN,
    LINESTYLES,
    SMALLEST_TEXT_PT,
    book_style,
)
from reparam.catalog import get

__all__ = ["plot_catalog_densities", "plot_implicit_gradient"]

#: Okabe–Ito sky blue at 70% opacity on white, as an opaque colour.
_LIGHT_SKY = "#89CAF0"


def plot_catalog_densities(
    samples: Mapping[str, Tensor],
    params: Mapping[str, Mapping[str, Tensor]] | None = None,
    *,
    ncols: int = 4,
    bins: int = 40,
    panel_size: tuple[float, float] = (1.7, 1.4),
) -> Figure:
    """Small multiples: for each catalog key, a histogram of draws z = g(ε; θ) (or of the
    entry's scalar statistic for multivariate rows) against the exact density.

    At the defaults four panels share a row of ``COLUMN_WIDTH_IN``; pass the keys of one
    approach at a time (:func:`reparam.catalog.entries`) to keep each figure short.

    Args:
        samples: catalog key -> draws of shape ``(N, *event_shape)`` at ``params[key]``.
        params: catalog key -> parameters; default each entry's example parameters.
        ncols: panels per row.
        bins: histogram bins; the histogram spans the central 95% of the draws, so heavy
            tails (Cauchy, Pareto) do not squash the panel.
        panel_size: inches per panel.
    """
    keys = list(samples)
    if not keys:
        raise ValueError("samples must hold at least one catalog key")
    ncols = min(ncols, len(keys))
    nrows = math.ceil(len(keys) / ncols)
    with book_style():
        fig, axes = plt.subplots(
            nrows,
            ncols,
            figsize=(panel_size[0] * ncols, panel_size[1] * nrows + 0.35),
            squeeze=False,
        )
        for ax, key in zip(axes.flat, keys, strict=False):
            entry = get(key)
            p = params[key] if params is not None else entry.example_params(torch.float64)
            s = entry.summary(samples[key].detach()).double().reshape(-1)
            quantiles = torch.tensor([0.025, 0.975], dtype=s.dtype)
            low, high = torch.quantile(s, quantiles).tolist()
            inside = s[(s >= low) & (s <= high)]
            # normalised by all draws, so that the bars match the exact density
            counts, edges = np.histogram(inside.numpy(), bins=bins, range=(low, high))
            width = edges[1] - edges[0]
            # one filled outline (no seams between bars), in the sky blue at 70% on white
            ax.stairs(
                counts / (s.numel() * width),
                edges,
                fill=True,
                color=_LIGHT_SKY,
                linewidth=0,
            )
            grid = torch.linspace(low, high, 200, dtype=torch.float64)
            density = entry.summary_log_prob(grid, p).exp()
            ax.plot(grid.numpy(), density.numpy(), color=COLORS["vermillion"], lw=1.4)
            title = textwrap.fill(entry.name, 16, break_on_hyphens=False)
            ax.set_title(title, fontsize=SMALLEST_TEXT_PT)
            ax.xaxis.set_major_locator(MaxNLocator(nbins=3))
            ax.set_yticks([])
            ax.grid(False)
            if entry.statistic is not None:
                ax.set_xlabel(f"${entry.statistic_label}$", labelpad=1)
        for ax in list(axes.flat)[len(keys) :]:
            ax.set_visible(False)
        for ax in axes[:, 0]:
            ax.set_ylabel("density")
        fig.supxlabel("z = g(ε; θ), central 95% of the draws")
        fig.tight_layout(pad=0.3, h_pad=0.5, w_pad=1.2)
    return fig


def plot_implicit_gradient(
    quantiles: Sequence[float],
    alphas: Tensor,
    ours: Tensor,
    torch_relative_error: Tensor,
) -> Figure:
    """Left: |d log z/dα| at fixed quantiles u = F(z; α) against α (log axes). Right: the
    relative difference of torch's Gamma gradient from ours. One legend below both.

    Args:
        quantiles: the fixed quantiles u, one curve each.
        alphas: shapes α, shape ``(A,)``.
        ours: d log z/dα, shape ``(len(quantiles), A)``.
        torch_relative_error: |torch − ours| / |ours|, shape ``(len(quantiles), A)``.
    """
    with book_style():
        fig, (left, right) = plt.subplots(1, 2, figsize=(COLUMN_WIDTH_IN, 3.4))
        colors = list(COLORS.values())
        markers = ("o", "s", "^", "D", "v", "P", "X")
        for i, u in enumerate(quantiles):
            style = {
                "color": colors[i % len(colors)],
                "linestyle": LINESTYLES[i % len(LINESTYLES)],
                "label": f"u = {u:g}",
            }
            left.loglog(alphas.numpy(), ours[i].abs().numpy(), **style)
            right.loglog(
                alphas.numpy(),
                torch_relative_error[i].clamp_min(1e-17).numpy(),
                marker=markers[i % len(markers)],
                ms=3,
                lw=0.8,
                **style,
            )
        for ax in (left, right):
            ax.set_xlabel(r"shape $\alpha$")
            ax.xaxis.set_major_locator(LogLocator(numticks=4))
        left.set_ylabel(r"$|\partial \log z / \partial\alpha|$ at fixed $u$")
        right.set_ylabel("relative difference,\ntorch vs ours")
        right.set_ylim(1e-17, 1e-1)
        right.yaxis.set_major_locator(LogLocator(numticks=5))
        handles, labels = right.get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncols=len(labels))
        fig.tight_layout(rect=(0, 0.1, 1, 1), w_pad=1.5)
    return fig
