"""Figures of chapter "Lower-variance pathwise gradients": variance and signal-to-noise."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from reparam.book.plotting.style import COLORS, COLUMN_WIDTH_IN, LINESTYLES, book_style, new_axes

__all__ = ["plot_snr_against_k", "plot_variance_along_path"]

_MARKERS = ("o", "s", "^", "D")
_COLORS = (COLORS["blue"], COLORS["vermillion"], COLORS["green"], COLORS["purple"])


def _series(
    x: Sequence[float], curves: Mapping[str, Sequence[float]], what: str
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    xs = np.asarray(x, dtype=float)
    if xs.ndim != 1 or xs.size < 2:
        raise ValueError(f"{what} must be 1-d with at least two points, got shape {xs.shape}")
    if not curves or len(curves) > len(_MARKERS):
        raise ValueError(f"curves must hold 1 to {len(_MARKERS)} series, got {len(curves)}")
    ys = {name: np.asarray(y, dtype=float) for name, y in curves.items()}
    for name, y in ys.items():
        if y.shape != xs.shape:
            raise ValueError(f"curve {name!r} has shape {y.shape}, {what} has {xs.shape}")
    return xs, ys


def _draw(plot: Callable[..., object], xs: np.ndarray, ys: Mapping[str, np.ndarray]) -> None:
    """One line per series, each in its own colour, marker and dash (greyscale-safe)."""
    for i, (name, y) in enumerate(ys.items()):
        plot(xs, y, marker=_MARKERS[i], linestyle=LINESTYLES[i], color=_COLORS[i], label=name)


def _line_figure(
    xs: np.ndarray,
    ys: Mapping[str, np.ndarray],
    *,
    xlabel: str,
    ylabel: str,
    ax: Axes | None,
    figsize: tuple[float, float],
    loglog: bool = False,
    extra: Callable[[Axes], object] | None = None,
) -> Figure:
    """The series on linear or log–log axes (N in powers of two), labelled, with a legend;
    ``extra`` adds to the axes before the legend is drawn (reference lines, limits)."""
    with book_style():
        fig, ax = new_axes(ax, figsize)
        _draw(ax.loglog if loglog else ax.plot, xs, ys)
        if extra is not None:
            extra(ax)
        if loglog:
            ax.set_xscale("log", base=2)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.legend()
        fig.tight_layout()
    return fig


def plot_variance_along_path(
    t: Sequence[float],
    variances: Mapping[str, Sequence[float]],
    *,
    ax: Axes | None = None,
    figsize: tuple[float, float] = (COLUMN_WIDTH_IN, 3.6),
) -> Figure:
    """Variance of single-draw gradient estimates as q moves towards the exact posterior.

    Args:
        t: positions along the path, 0 (the starting q) to 1 (the posterior).
        variances: estimator name -> variance at each ``t``.
        ax: axes to draw on; a new figure is made if omitted.
        figsize: size of a new figure (inches).
    """
    xs, ys = _series(t, variances, "t")
    return _line_figure(
        xs,
        ys,
        xlabel="position of q on the path to the posterior, $t$",
        ylabel="variance of one-draw gradient",
        ax=ax,
        figsize=figsize,
        extra=lambda axes: axes.set_ylim(bottom=0.0),
    )


def plot_snr_against_k(
    num_samples: Sequence[int],
    snrs: Mapping[str, Sequence[float]],
    *,
    ax: Axes | None = None,
    figsize: tuple[float, float] = (COLUMN_WIDTH_IN, 4.0),
) -> Figure:
    """Signal-to-noise ratio |E g| / sd(g) of gradient estimators against N, log–log.

    Dotted reference lines of slope +1/2 and −1/2 pass through the first point of the first
    and second series, the rates Rainforth et al. (2018) derive for the generative and the
    inference network's IWAE gradients.

    Args:
        num_samples: the N of each estimate, increasing.
        snrs: estimator name -> SNR at each N.
        ax: axes to draw on; a new figure is made if omitted.
        figsize: size of a new figure (inches).
    """
    ks, ys = _series(num_samples, snrs, "num_samples")
    firsts = [y[0] for y in ys.values()]

    def references(ax: Axes) -> None:
        ax.loglog(
            ks,
            firsts[0] * np.sqrt(ks / ks[0]),
            ":",
            color=COLORS["black"],
            label=r"$\propto N^{1/2}$ and $\propto N^{-1/2}$",
        )
        if len(firsts) > 1:
            ax.loglog(ks, firsts[1] * np.sqrt(ks[0] / ks), ":", color=COLORS["black"])

    return _line_figure(
        ks,
        ys,
        xlabel="importance samples $N$",
        ylabel="signal-to-noise ratio",
        ax=ax,
        figsize=figsize,
        loglog=True,
        extra=references,
    )
