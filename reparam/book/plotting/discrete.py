"""Figures for the chapter "Discrete variables" (``chapter-discrete``).

- :func:`plot_step_path`: the step path b = 1[u < p] and the staircase a fixed-noise Monte
  Carlo estimate of E[f(b)] makes, against the smooth exact expectation;
- :func:`plot_simplex_samples`: Concrete samples on the 2-simplex at several temperatures;
- :func:`plot_relaxed_bars`: one relaxed sample, same Gumbel noise, at several temperatures;
- :func:`plot_bias_variance`: bias and variance of gradient estimators against temperature;
- :func:`plot_trajectories`: optimisation trajectories of p under several estimators;
- :func:`plot_variance_against_probability`: exact per-estimate variances against p
  (chapter "Unbiased gradients for discrete variables");
- :func:`plot_bias_and_variance_bars`: relative bias and total variance per estimator.

Inputs are numpy arrays (or anything ``np.asarray`` accepts); every function returns the figure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from reparam.book.plotting.style import COLORS, COLUMN_WIDTH_IN, LINESTYLES, book_style

__all__ = [
    "plot_bias_and_variance_bars",
    "plot_bias_variance",
    "plot_relaxed_bars",
    "plot_simplex_samples",
    "plot_step_path",
    "plot_trajectories",
    "plot_variance_against_probability",
]

_PALETTE = list(COLORS.values())
_MARKERS = ("o", "s", "^", "D", "v", "P", "X")


def _style(i: int) -> dict[str, object]:
    return {
        "color": _PALETTE[i % len(_PALETTE)],
        "linestyle": LINESTYLES[i % len(LINESTYLES)],
        "marker": _MARKERS[i % len(_MARKERS)],
    }


def _nonempty(mapping: Mapping[Any, Any], name: str) -> None:
    if not mapping:
        raise ValueError(f"{name} must contain at least one entry")


def plot_step_path(
    probs: Sequence[float] | np.ndarray,
    paths: np.ndarray,
    estimate: Sequence[float] | np.ndarray,
    exact: Sequence[float] | np.ndarray,
    *,
    uniforms: Sequence[float] | None = None,
) -> Figure:
    """Two panels: sample paths b(u; p) = 1[u < p], and E[f(b)] estimated with fixed noise.

    Args:
        probs: the grid of p, shape ``(P,)``.
        paths: b(u_i; p) for a few fixed u_i, shape ``(num_paths, P)``.
        estimate: the fixed-noise Monte Carlo estimate of E[f(b)] on the grid, shape ``(P,)``
            (a staircase in p).
        exact: the exact E[f(b)] on the grid, shape ``(P,)``.
        uniforms: the u_i, written next to their paths' jumps (optional).
    """
    p = np.asarray(probs, dtype=float)
    paths = np.atleast_2d(np.asarray(paths, dtype=float))
    est, ex = np.asarray(estimate, dtype=float), np.asarray(exact, dtype=float)
    if p.ndim != 1 or paths.shape[1] != p.size or est.shape != p.shape or ex.shape != p.shape:
        raise ValueError(
            "probs must be 1-d and paths, estimate, exact must match it, got shapes "
            f"{p.shape}, {paths.shape}, {est.shape}, {ex.shape}"
        )
    with book_style():
        fig, (left, right) = plt.subplots(
            1, 2, figsize=(COLUMN_WIDTH_IN, 3.1), layout="constrained"
        )
        for i, path in enumerate(paths):
            offset = 0.02 * (i - (len(paths) - 1) / 2)  # separate overlapping steps
            left.step(p, path + offset, where="post", color=_PALETTE[i])
            if uniforms is not None:  # label each path at its jump, p = u
                left.annotate(
                    f"$u = {uniforms[i]:.2f}$",
                    (uniforms[i], 0.2 + 0.6 * i / max(1, len(paths) - 1)),
                    xytext=(4, 0),
                    textcoords="offset points",
                    va="center",
                )
        left.set_xlabel("$p$")
        left.set_ylabel(r"$b = \mathbf{1}[u < p]$")
        left.set_title("sample paths")
        right.plot(p, ex, color=COLORS["black"], linestyle=":", label="exact $J(p)$")
        right.step(p, est, where="post", color=COLORS["vermillion"], label="fixed noise")
        right.set_xlabel("$p$")
        right.set_ylabel(r"$\mathbb{E}[f(b)]$")
        right.set_title("estimates of $J(p)$")
        right.legend(loc="upper left")
    return fig


def _barycentric_to_xy(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    corners = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, math.sqrt(3) / 2]])
    xy = points @ corners
    return xy[:, 0], xy[:, 1]


def plot_simplex_samples(
    samples: Mapping[float, np.ndarray],
    *,
    probs: Sequence[float] | np.ndarray | None = None,
) -> Figure:
    """Concrete samples on the 2-simplex (a triangle), one panel per temperature.

    The panels fill rows of two, so that each triangle stays legible in the text column.

    Args:
        samples: temperature τ -> points of the simplex, shape ``(N, 3)``.
        probs: the class probabilities π (drawn as a cross), shape ``(3,)``.
    """
    _nonempty(samples, "samples")
    columns = min(2, len(samples))
    rows = math.ceil(len(samples) / columns)
    with book_style():
        fig, axes = plt.subplots(
            rows, columns, figsize=(2.4 * columns, 2.2 * rows), layout="constrained"
        )
        axes_list: list[Axes] = list(np.atleast_1d(axes).ravel())
        for spare in axes_list[len(samples) :]:
            spare.set_visible(False)
        triangle = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, math.sqrt(3) / 2], [0.0, 0.0]])
        for ax, (temperature, points) in zip(axes_list, samples.items(), strict=False):
            pts = np.asarray(points, dtype=float)
            if pts.ndim != 2 or pts.shape[1] != 3:
                raise ValueError(f"samples must have shape (N, 3), got {pts.shape}")
            ax.plot(triangle[:, 0], triangle[:, 1], color=COLORS["black"], linewidth=0.8)
            x, y = _barycentric_to_xy(pts)
            ax.scatter(x, y, s=4, alpha=0.35, color=COLORS["blue"], linewidths=0)
            if probs is not None:
                px, py = _barycentric_to_xy(np.asarray(probs, dtype=float).reshape(1, 3))
                ax.plot(px, py, "x", color=COLORS["vermillion"], markersize=9, mew=2)
            for (cx, cy), text in zip(triangle[:3], ("1", "2", "3"), strict=True):
                top = text == "3"
                ax.annotate(
                    f"class {text}",
                    (cx, cy),
                    xytext=(0, 4 if top else -4),
                    textcoords="offset points",
                    ha="center",
                    va="bottom" if top else "top",
                )
            ax.set_title(rf"$\tau = {temperature:g}$")
            ax.set_aspect("equal")
            ax.set_xlim(-0.2, 1.2)
            ax.set_ylim(-0.2, 1.1)
            ax.axis("off")
    return fig


def plot_relaxed_bars(
    samples: Mapping[float, np.ndarray],
    *,
    hard: Sequence[float] | np.ndarray | None = None,
) -> Figure:
    """One relaxed sample per temperature (same noise), as grouped bars over the categories.

    Args:
        samples: temperature τ -> relaxed sample y on the simplex, shape ``(K,)``.
        hard: the Gumbel-max one-hot sample for the same noise, shape ``(K,)`` (outlined).
    """
    _nonempty(samples, "samples")
    rows = [np.asarray(v, dtype=float) for v in samples.values()]
    num_categories = rows[0].size
    if any(r.shape != (num_categories,) for r in rows):
        raise ValueError("every sample must be a vector of the same length K")
    with book_style():
        fig, ax = plt.subplots(figsize=(6.0, 3.2), layout="constrained")
        width = 0.8 / (len(rows) + (hard is not None))
        positions = np.arange(num_categories)
        for i, (temperature, row) in enumerate(zip(samples, rows, strict=True)):
            ax.bar(
                positions + i * width,
                row,
                width,
                color=_PALETTE[i % len(_PALETTE)],
                label=rf"$\tau = {temperature:g}$",
            )
        if hard is not None:
            ax.bar(
                positions + len(rows) * width,
                np.asarray(hard, dtype=float),
                width,
                facecolor="none",
                edgecolor=COLORS["black"],
                hatch="//",
                label="Gumbel-max one-hot",
            )
        ax.set_xticks(positions + width * (len(rows) + (hard is not None) - 1) / 2)
        ax.set_xticklabels([f"{k + 1}" for k in range(num_categories)])
        ax.set_xlabel("category $k$")
        ax.set_ylabel("$y_k$")
        ax.set_ylim(0, 1.05)
        ax.legend(ncol=2)
    return fig


def plot_bias_variance(
    temperatures: Sequence[float] | np.ndarray,
    curves: Mapping[str, tuple[np.ndarray, np.ndarray]],
    *,
    flat: Mapping[str, tuple[float, float]] | None = None,
) -> Figure:
    """Bias (left) and per-sample variance (right, log scale) against the temperature.

    One legend for both panels, below them.

    Args:
        temperatures: the τ grid, shape ``(T,)``.
        curves: estimator name -> (bias, variance), each of shape ``(T,)``.
        flat: estimators that have no temperature, name -> (bias, variance), drawn as
            horizontal lines.
    """
    _nonempty(curves, "curves")
    tau = np.asarray(temperatures, dtype=float)
    with book_style():
        fig, (left, right) = plt.subplots(
            1, 2, figsize=(COLUMN_WIDTH_IN, 3.9), layout="constrained"
        )
        left.axhline(0.0, color=COLORS["black"], linewidth=0.8)
        for i, (name, (bias, variance)) in enumerate(curves.items()):
            bias, variance = np.asarray(bias, dtype=float), np.asarray(variance, dtype=float)
            if bias.shape != tau.shape or variance.shape != tau.shape:
                raise ValueError(f"curves[{name!r}] must match temperatures of shape {tau.shape}")
            left.semilogx(tau, bias, label=name, markersize=4, **_style(i))
            right.loglog(tau, variance, label=name, markersize=4, **_style(i))
        for j, (name, (bias_value, variance_value)) in enumerate((flat or {}).items()):
            style = _style(len(curves) + j)
            for ax, value in ((left, bias_value), (right, variance_value)):
                ax.axhline(
                    value,
                    color=style["color"],
                    linestyle=style["linestyle"],
                    label=name,
                )
        left.set_xlabel(r"temperature $\tau$")
        left.set_ylabel("bias")
        right.set_xlabel(r"temperature $\tau$")
        right.set_ylabel("per-sample variance")
        handles, labels = left.get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncol=2)
    return fig


def plot_trajectories(
    trajectories: Mapping[str, np.ndarray],
    *,
    stationary: Mapping[str, float] | None = None,
    ylabel: str = "$p$",
    max_points: int = 100,
) -> Figure:
    """Optimisation trajectories: the median over runs and the 10–90% band, per estimator.

    The legend sits below the axes, so that it hides no trajectory.

    Args:
        trajectories: estimator name -> values along optimisation, shape
            ``(num_steps + 1, num_runs)``.
        stationary: estimator name -> predicted end point (a root of its expected
            gradient), drawn as a thin dashed line of the estimator's colour.
        ylabel: label of the vertical axis.
        max_points: draw at most about this many steps (evenly spaced, the last one
            included), which keeps the figure light without changing what it shows.
    """
    _nonempty(trajectories, "trajectories")
    with book_style():
        fig, ax = plt.subplots(figsize=(6.4, 4.0), layout="constrained")
        for i, (name, values) in enumerate(trajectories.items()):
            runs = np.asarray(values, dtype=float)
            if runs.ndim != 2:
                raise ValueError(
                    f"trajectories[{name!r}] must have shape (num_steps + 1, num_runs), "
                    f"got {runs.shape}"
                )
            stride = max(1, math.ceil(runs.shape[0] / max_points))
            steps = np.unique(np.r_[np.arange(0, runs.shape[0], stride), runs.shape[0] - 1])
            color = _PALETTE[i % len(_PALETTE)]
            low, mid, high = np.quantile(runs[steps], [0.1, 0.5, 0.9], axis=1)
            ax.plot(steps, mid, color=color, linestyle=LINESTYLES[i % len(LINESTYLES)], label=name)
            ax.fill_between(steps, low, high, color=color, alpha=0.15, linewidth=0)
            if stationary is not None and name in stationary:
                ax.axhline(stationary[name], color=color, linestyle=(0, (2, 4)), linewidth=0.9)
        ax.set_xlabel("optimisation step")
        ax.set_ylabel(ylabel)
        fig.legend(loc="outside lower center", ncol=2)
    return fig


def plot_variance_against_probability(
    probs: Sequence[float] | np.ndarray, curves: Mapping[str, np.ndarray]
) -> Figure:
    """Per-estimate variance (log scale) against the Bernoulli probability p, per estimator.

    Args:
        probs: the grid of p, shape ``(P,)``.
        curves: estimator name -> variance at each p, shape ``(P,)``; zeros (an estimator
            that is exact at some p) are left out of the log-scale line.
    """
    _nonempty(curves, "curves")
    grid = np.asarray(probs, dtype=float)
    with book_style():
        fig, ax = plt.subplots(figsize=(6.4, 4.2), layout="constrained")
        for i, (name, values) in enumerate(curves.items()):
            variance = np.asarray(values, dtype=float)
            if variance.shape != grid.shape:
                raise ValueError(f"curves[{name!r}] must match probs of shape {grid.shape}")
            shown = np.where(variance > 0, variance, np.nan)
            ax.semilogy(grid, shown, label=name, markersize=4, **_style(i))
        ax.set_xlabel("$p$")
        ax.set_ylabel("variance per estimate")
        fig.legend(loc="outside lower center", ncol=2)
    return fig


def plot_bias_and_variance_bars(
    names: Sequence[str],
    relative_bias: Sequence[float] | np.ndarray,
    bias_error: Sequence[float] | np.ndarray,
    total_variance: Sequence[float] | np.ndarray,
) -> Figure:
    """Two panels of horizontal bars, one row per estimator: the relative bias
    ‖E ĝ − ∇J‖ / ‖∇J‖ with its Monte Carlo error bar (left), and the total variance of one
    estimate, the trace of its covariance, on a log scale (right).

    Args:
        names: estimator names, top to bottom, shape ``(E,)``.
        relative_bias, bias_error, total_variance: shape ``(E,)`` each.
    """
    labels = list(names)
    if not labels:
        raise ValueError("names must contain at least one entry")
    columns = [np.asarray(v, dtype=float) for v in (relative_bias, bias_error, total_variance)]
    for name, column in zip(
        ("relative_bias", "bias_error", "total_variance"), columns, strict=True
    ):
        if column.shape != (len(labels),):
            raise ValueError(f"{name} must have one entry per name, shape ({len(labels)},)")
    bias, error, variance = columns
    rows = np.arange(len(labels))[::-1]
    with book_style():
        fig, (left, right) = plt.subplots(
            1, 2, figsize=(COLUMN_WIDTH_IN, 0.42 * len(labels) + 1.3), sharey=True,
            layout="constrained",
        )  # fmt: skip
        left.barh(rows, bias, xerr=2 * error, color=COLORS["vermillion"], height=0.6)
        right.barh(rows, variance, color=COLORS["blue"], height=0.6)
        right.set_xscale("log")
        left.set_yticks(rows, labels)
        left.set_xlabel("relative bias (bars: ±2 s.e.)")
        right.set_xlabel("total variance per estimate")
        for ax in (left, right):
            ax.grid(axis="y", visible=False)
    return fig
