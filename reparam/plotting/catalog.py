"""Figures of the catalog chapters: small multiples of g(ε; θ) against the exact density, and
the implicit Gamma gradient.

Book chapters: "The standard reparameterizations" and "When there is no explicit g:
implicit reparameterization".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from torch import Tensor

from reparam.catalog import get
from reparam.plotting.style import COLORS, book_style

__all__ = ["plot_catalog_densities", "plot_implicit_gradient"]


def plot_catalog_densities(
    samples: Mapping[str, Tensor],
    params: Mapping[str, Mapping[str, Tensor]] | None = None,
    *,
    ncols: int = 6,
    bins: int = 60,
    panel_size: tuple[float, float] = (1.9, 1.5),
) -> Figure:
    """Small multiples: for each catalog key, a histogram of draws z = g(ε; θ) (or of the
    entry's scalar statistic for multivariate rows) against the exact density.

    Args:
        samples: catalog key -> draws of shape ``(N, *event_shape)`` at ``params[key]``.
        params: catalog key -> parameters; default each entry's example parameters.
        ncols: panels per row.
        bins: histogram bins; the histogram spans the central 95% of the draws, so heavy
            tails (Cauchy, Pareto) do not squash the panel.
        panel_size: inches per panel.
    """
    keys = list(samples)
    nrows = math.ceil(len(keys) / ncols)
    with book_style():
        fig, axes = plt.subplots(
            nrows,
            ncols,
            figsize=(panel_size[0] * ncols, panel_size[1] * nrows),
            squeeze=False,
        )
        for ax, key in zip(axes.flat, keys, strict=False):
            entry = get(key)
            p = params[key] if params is not None else entry.example_params(torch.float64)
            s = entry.summary(samples[key].detach()).double().reshape(-1)
            low, high = torch.quantile(s, torch.tensor([0.025, 0.975], dtype=s.dtype)).tolist()
            inside = s[(s >= low) & (s <= high)]
            # normalised by all draws, so that the bars match the exact density
            counts, edges = np.histogram(inside.numpy(), bins=bins, range=(low, high))
            width = edges[1] - edges[0]
            ax.bar(
                edges[:-1],
                counts / (s.numel() * width),
                width=width,
                align="edge",
                color=COLORS["sky"],
                alpha=0.7,
                linewidth=0,
            )
            grid = torch.linspace(low, high, 400, dtype=torch.float64)
            density = entry.summary_log_prob(grid, p).exp()
            ax.plot(grid.numpy(), density.numpy(), color=COLORS["vermillion"], lw=1.4)
            ax.set_title(entry.name, fontsize=8)
            ax.tick_params(labelsize=6)
            ax.set_yticks([])
            ax.grid(False)
            if entry.statistic is not None:
                ax.set_xlabel(f"${entry.statistic_label}$", fontsize=7, labelpad=1)
        for ax in list(axes.flat)[len(keys) :]:
            ax.set_visible(False)
        fig.supxlabel(
            "z = g(ε; θ), central 95% of the draws (multivariate rows: the statistic below)",
            fontsize=9,
        )
        fig.supylabel("density", fontsize=9)
        fig.tight_layout(pad=0.4, h_pad=0.6, w_pad=0.3)
    return fig


def plot_implicit_gradient(
    quantiles: Sequence[float],
    alphas: Tensor,
    ours: Tensor,
    torch_relative_error: Tensor,
) -> Figure:
    """Left: |d log z/dα| at fixed quantiles u = F(z; α) against α (log axes). Right: the
    relative difference of torch's Gamma gradient from ours.

    Args:
        quantiles: the fixed quantiles u, one curve each.
        alphas: shapes α, shape ``(A,)``.
        ours: d log z/dα, shape ``(len(quantiles), A)``.
        torch_relative_error: |torch − ours| / |ours|, shape ``(len(quantiles), A)``.
    """
    with book_style():
        fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4))
        colors = list(COLORS.values())
        for i, u in enumerate(quantiles):
            color = colors[i % len(colors)]
            left.loglog(alphas.numpy(), ours[i].abs().numpy(), color=color, label=f"u = {u:g}")
            right.loglog(
                alphas.numpy(),
                torch_relative_error[i].clamp_min(1e-17).numpy(),
                color=color,
                marker="o",
                ms=3,
                label=f"u = {u:g}",
            )
        left.set_xlabel(r"shape $\alpha$")
        left.set_ylabel(r"$|\partial \log z / \partial\alpha|$ at fixed $u$")
        left.legend(fontsize=7)
        right.set_xlabel(r"shape $\alpha$")
        right.set_ylabel("relative difference, torch vs ours")
        right.set_ylim(1e-17, 1e-1)
        fig.tight_layout()
    return fig
