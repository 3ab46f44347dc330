"""Figures of chapter "Gaussians at scale": the exact ELBO gap while fitting, and the variance
of minibatch gradients against the minibatch size."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from reparam.book.plotting.multisample import _draw, _line_figure, _series
from reparam.book.plotting.sampling import _check_panels
from reparam.book.plotting.style import COLORS, COLUMN_WIDTH_IN, book_style

__all__ = ["plot_gap_against_step", "plot_gradient_variance_against_batch"]

#: How the figure names the methods of :mod:`reparam.weights`.
_METHOD_LABELS = {
    "shared": "shared",
    "per_example": "per example",
    "local": "local reparam.",
    "flipout": "Flipout",
}


def plot_gap_against_step(
    gaps: Mapping[str, Sequence[float]],
    *,
    best_mean_field: float,
    ax: Axes | None = None,
    figsize: tuple[float, float] = (COLUMN_WIDTH_IN, 3.4),
) -> Figure:
    """The exact gap KL(q ‖ posterior) against the optimisation step, on a log scale.

    Args:
        gaps: series name -> the gap after each step (positive), all of one length ≥ 2.
        best_mean_field: the smallest gap a diagonal q can reach, drawn as a dotted line.
        ax: axes to draw on; a new figure is made if omitted.
        figsize: size of a new figure (inches).
    """
    lengths = {len(curve) for curve in gaps.values()}
    if len(lengths) != 1:
        raise ValueError(f"every series in gaps must have one length, got {sorted(lengths)}")
    steps = list(range(1, lengths.pop() + 1))
    xs, ys = _series(steps, gaps, "steps")
    if any((y <= 0).any() or not np.isfinite(y).all() for y in ys.values()):
        raise ValueError("gaps must be finite and positive (a log scale)")
    if not (np.isfinite(best_mean_field) and best_mean_field > 0):
        raise ValueError(f"best_mean_field must be finite and positive, got {best_mean_field}")

    def reference(axes: Axes) -> None:
        axes.axhline(
            best_mean_field,
            color=COLORS["black"],
            linestyle=":",
            label="best mean field",
        )
        axes.set_yscale("log")
        for line in axes.get_lines()[: len(ys)]:
            line.set_marker("")  # hundreds of steps: lines, not markers

    return _line_figure(
        xs,
        ys,
        xlabel="optimisation step",
        ylabel=r"gap $\mathrm{KL}(q \,\Vert\, p(z \mid y))$",
        ax=ax,
        figsize=figsize,
        extra=reference,
    )


def plot_gradient_variance_against_batch(
    batch_sizes: Sequence[int],
    variances: Mapping[str, Mapping[str, Sequence[float]]],
    *,
    predicted_shared: Mapping[str, Sequence[float]] | None = None,
    figsize: tuple[float, float] = (COLUMN_WIDTH_IN, 3.6),
) -> Figure:
    """Gradient variance against the minibatch size, log–log, one panel per parameter.

    Args:
        batch_sizes: the B of each point, increasing.
        variances: panel title (the parameter, e.g. ``"$M$"``) -> (method of
            :mod:`reparam.weights` -> variance at each B); one or two panels, each with the
            same methods, every variance positive (NaN where a method was not measured: no
            point is drawn there).
        predicted_shared: panel title -> the predicted variance of shared weights at each B,
            drawn dotted; optional.
        figsize: size of the figure (inches).
    """
    methods = _check_panels(variances, "variances", 2, "methods")
    unknown = [name for name in methods if name not in _METHOD_LABELS]
    if unknown:
        raise ValueError(f"unknown methods {unknown}; expected some of {list(_METHOD_LABELS)}")
    with book_style():
        fig, axes = plt.subplots(1, len(variances), figsize=figsize, squeeze=False)
        for i, (ax, (panel, curves)) in enumerate(zip(axes[0], variances.items(), strict=True)):
            labelled = {_METHOD_LABELS[name]: values for name, values in curves.items()}
            bs, ys = _series(batch_sizes, labelled, "batch_sizes")
            if any((y <= 0).any() for y in ys.values()):
                raise ValueError("variances must be positive (log–log axes)")
            _draw(ax.loglog, bs, ys)
            if predicted_shared is not None and panel in predicted_shared:
                line = np.asarray(predicted_shared[panel], dtype=float)
                if line.shape != bs.shape:
                    raise ValueError(f"predicted_shared[{panel!r}] must have shape {bs.shape}")
                ax.loglog(bs, line, ":", color=COLORS["black"], label="shared, predicted")
            ax.set_xscale("log", base=2)
            ax.set_xticks(bs, [f"{b:g}" for b in bs])  # the measured sizes, as numbers
            ax.minorticks_off()
            ax.set_title(f"gradient of {panel}")
            ax.set_xlabel("minibatch size $B$")
            if i == 0:
                ax.set_ylabel("total gradient variance")
                ax.legend(loc="lower left")
        fig.tight_layout()
    return fig
