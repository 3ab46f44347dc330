"""Computational-graph figures (book chapter "The reparameterization trick").

Drawn with matplotlib patches and arrows, no graph-layout dependency. Conventions, stated
in the figure's legend: random (stochastic) nodes are circles, deterministic nodes are
rounded boxes, parameters are plain boxes; the forward pass is a solid black arrow, the
backward pass a dashed vermillion arrow, and a blocked backward path a vermillion cross.
Colours come from the Okabe–Ito palette and every distinction is also made by shape or
line style, so the figure reads in greyscale.
"""

from __future__ import annotations

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch, Patch

from reparam.plotting.style import COLORS, book_style

__all__ = ["plot_computational_graphs"]

_RADIUS = 0.42
_BOX_W, _BOX_H = 1.3, 0.7


def _node(ax: Axes, xy: tuple[float, float], text: str, kind: str) -> None:
    x, y = xy
    if kind == "random":
        ax.add_patch(
            Circle(xy, _RADIUS, facecolor=COLORS["sky"], edgecolor=COLORS["black"], lw=1.4)
        )
    else:
        face = "white" if kind == "parameter" else COLORS["orange"]
        style = "square,pad=0.02" if kind == "parameter" else "round,pad=0.02,rounding_size=0.15"
        ax.add_patch(
            FancyBboxPatch(
                (x - _BOX_W / 2, y - _BOX_H / 2),
                _BOX_W,
                _BOX_H,
                boxstyle=style,
                facecolor=face,
                edgecolor=COLORS["black"],
                lw=1.4,
            )
        )
    ax.text(x, y, text, ha="center", va="center", fontsize=11)


def _arrow(
    ax: Axes,
    start: tuple[float, float],
    end: tuple[float, float],
    *,
    backward: bool = False,
    rad: float = 0.0,
    label: str | None = None,
    label_offset: tuple[float, float] = (0.0, 0.0),
) -> None:
    ax.add_patch(
        FancyArrowPatch(
            start,
            end,
            arrowstyle="-|>",
            mutation_scale=14,
            connectionstyle=f"arc3,rad={rad}",
            color=COLORS["vermillion"] if backward else COLORS["black"],
            linestyle=(0, (4, 2)) if backward else "-",
            lw=1.6,
            shrinkA=4,
            shrinkB=4,
        )
    )
    if label:
        x = (start[0] + end[0]) / 2 + label_offset[0]
        y = (start[1] + end[1]) / 2 + label_offset[1]
        color = COLORS["vermillion"] if backward else COLORS["black"]
        ax.text(x, y, label, ha="center", va="center", fontsize=9.5, color=color)


def _panel(ax: Axes, title: str) -> None:
    ax.set_xlim(-0.2, 6.6)
    ax.set_ylim(-0.3, 4.3)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title, fontsize=11)


def plot_computational_graphs(*, figsize: tuple[float, float] = (10.0, 4.4)) -> Figure:
    """The original and the reparameterized computational graph, side by side.

    Left: θ feeds a *stochastic* node z ~ p_θ(z), which feeds the cost f(z). The forward
    pass runs; the backward pass reaches z (∂f/∂z exists) but is blocked between z and θ,
    because a draw has no derivative with respect to the parameters of its distribution.

    Right: the noise ε ~ p(ε) is a stochastic *input*; z = g(ε; θ) is a deterministic
    node, so the backward pass runs from f through z to θ (∂f/∂z · ∂g/∂θ) and never needs
    to enter the random node ε.

    Returns:
        The figure (two axes, no data axes).
    """
    with book_style():
        import matplotlib.pyplot as plt

        fig, (left, right) = plt.subplots(1, 2, figsize=figsize)
        _panel(left, "original form: z is a random node")
        theta, z, f = (1.0, 3.3), (3.3, 1.7), (5.6, 1.7)
        _node(left, theta, r"$\theta$", "parameter")
        _node(left, z, r"$z$", "random")
        _node(left, f, r"$f(z)$", "deterministic")
        left.text(z[0], z[1] - 0.8, r"$z \sim p_\theta(z)$", ha="center", fontsize=10)
        _arrow(left, (theta[0] + 0.5, theta[1] - 0.35), (z[0] - 0.3, z[1] + 0.3))
        _arrow(left, (z[0] + _RADIUS, z[1] + 0.1), (f[0] - _BOX_W / 2, f[1] + 0.1))
        _arrow(
            left,
            (f[0] - _BOX_W / 2, f[1] - 0.2),
            (z[0] + _RADIUS, z[1] - 0.2),
            backward=True,
            label=r"$\partial f/\partial z$",
            label_offset=(0.0, -0.35),
        )
        start, end = (z[0] - 0.15, z[1] + 0.55), (theta[0] + 0.75, theta[1] - 0.05)
        _arrow(left, start, end, backward=True, rad=0.25)
        cross = ((start[0] + end[0]) / 2 + 0.15, (start[1] + end[1]) / 2 + 0.2)
        left.text(*cross, "✕", ha="center", va="center", fontsize=18, color=COLORS["vermillion"])
        left.text(
            cross[0] + 0.25,
            cross[1] + 0.55,
            r"$\partial z/\partial\theta$ undefined",
            ha="left",
            fontsize=9.5,
            color=COLORS["vermillion"],
        )

        _panel(right, "reparameterized form: z = g(ε; θ) is deterministic")
        theta, eps, z, f = (1.0, 3.3), (1.0, 0.5), (3.3, 1.7), (5.6, 1.7)
        _node(right, theta, r"$\theta$", "parameter")
        _node(right, eps, r"$\epsilon$", "random")
        _node(right, z, r"$z = g(\epsilon;\theta)$", "deterministic")
        _node(right, f, r"$f(z)$", "deterministic")
        right.text(eps[0] + 0.6, eps[1] - 0.05, r"$\epsilon \sim p(\epsilon)$", fontsize=10)
        _arrow(right, (theta[0] + 0.3, theta[1] - 0.35), (z[0] - 0.5, z[1] + 0.35))
        _arrow(right, (eps[0] + 0.3, eps[1] + 0.3), (z[0] - 0.5, z[1] - 0.35))
        _arrow(right, (z[0] + _BOX_W / 2, z[1] + 0.1), (f[0] - _BOX_W / 2, f[1] + 0.1))
        _arrow(
            right,
            (f[0] - _BOX_W / 2, f[1] - 0.2),
            (z[0] + _BOX_W / 2, z[1] - 0.2),
            backward=True,
            label=r"$\partial f/\partial z$",
            label_offset=(0.0, -0.35),
        )
        _arrow(
            right,
            (z[0] - 0.2, z[1] + 0.35),
            (theta[0] + 0.65, theta[1] + 0.05),
            backward=True,
            rad=-0.3,
            label=r"$\partial g/\partial\theta$",
            label_offset=(0.55, 0.35),
        )

        handles = [
            Patch(facecolor=COLORS["sky"], edgecolor=COLORS["black"], label="random node"),
            Patch(
                facecolor=COLORS["orange"], edgecolor=COLORS["black"], label="deterministic node"
            ),
            Patch(facecolor="white", edgecolor=COLORS["black"], label="parameter"),
            Line2D([], [], color=COLORS["black"], lw=1.6, label="forward pass"),
            Line2D([], [], color=COLORS["vermillion"], lw=1.6, ls="--", label="backward pass"),
        ]
        fig.legend(handles=handles, loc="lower center", ncol=5, fontsize=9, frameon=False)
        fig.subplots_adjust(left=0.01, right=0.99, top=0.9, bottom=0.12, wspace=0.05)
    return fig
