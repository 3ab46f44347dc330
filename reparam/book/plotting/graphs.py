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

from reparam.book.plotting.style import COLORS, COLUMN_WIDTH_IN, book_style

__all__ = ["plot_computational_graphs"]

_RADIUS = 0.42
_BOX_W, _BOX_H = 1.3, 0.7
#: Size (points) of the node labels and of the arrow labels.
_NODE_PT, _LABEL_PT = 11.0, 10.5
#: Upper limit of both panels and lower limits of the top and bottom panel (data units).
_TOP, _BOTTOMS = 2.75, (0.25, -0.25)


def _node(ax: Axes, xy: tuple[float, float], text: str, kind: str, width: float = _BOX_W) -> None:
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
                (x - width / 2, y - _BOX_H / 2),
                width,
                _BOX_H,
                boxstyle=style,
                facecolor=face,
                edgecolor=COLORS["black"],
                lw=1.4,
            )
        )
    ax.text(x, y, text, ha="center", va="center", fontsize=_NODE_PT)


def _arrow(
    ax: Axes,
    start: tuple[float, float],
    end: tuple[float, float],
    *,
    backward: bool = False,
    rad: float = 0.0,
    label: str | None = None,
    label_at: tuple[float, float] | None = None,
) -> None:
    color = COLORS["vermillion"] if backward else COLORS["black"]
    ax.add_patch(
        FancyArrowPatch(
            start,
            end,
            arrowstyle="-|>",
            mutation_scale=14,
            connectionstyle=f"arc3,rad={rad}",
            color=color,
            linestyle=(0, (4, 2)) if backward else "-",
            lw=1.6,
            shrinkA=4,
            shrinkB=4,
        )
    )
    if label:
        x, y = label_at or ((start[0] + end[0]) / 2, (start[1] + end[1]) / 2)
        ax.text(x, y, label, ha="center", va="center", fontsize=_LABEL_PT, color=color)


def _panel(ax: Axes, title: str, bottom: float) -> None:
    ax.set_xlim(-0.1, 7.0)
    ax.set_ylim(bottom, _TOP)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title, loc="left")


def plot_computational_graphs(*, figsize: tuple[float, float] = (COLUMN_WIDTH_IN, 6.2)) -> Figure:
    """The original and the reparameterized computational graph, one above the other.

    Top: θ feeds a *stochastic* node z ~ p_θ(z), which feeds the cost f(z). The forward
    pass runs; the backward pass reaches z (∂f/∂z exists) but is blocked between z and θ,
    because a draw has no derivative with respect to the parameters of its distribution.

    Bottom: the noise ε ~ p(ε) is a stochastic *input*; z = g(ε; θ) is a deterministic
    node, so the backward pass runs from f through z to θ (∂f/∂z · ∂g/∂θ) and never needs
    to enter the random node ε.

    Returns:
        The figure (two axes, no data axes: the original graph first).
    """
    with book_style():
        import matplotlib.pyplot as plt

        heights = [_TOP - b for b in _BOTTOMS]
        fig, (top, bottom) = plt.subplots(
            2, 1, figsize=figsize, gridspec_kw={"height_ratios": heights}
        )
        _panel(top, "original form: z is a random node", _BOTTOMS[0])
        theta, z, f = (0.8, 2.2), (3.5, 1.2), (6.1, 1.2)
        _node(top, theta, r"$\theta$", "parameter")
        _node(top, z, r"$z$", "random")
        _node(top, f, r"$f(z)$", "deterministic")
        top.text(z[0], z[1] - 0.75, r"$z \sim p_\theta(z)$", ha="center", fontsize=_LABEL_PT)
        _arrow(top, (theta[0] + 0.4, theta[1] - 0.37), (z[0] - 0.36, z[1] - 0.05))
        _arrow(top, (z[0] + _RADIUS, z[1] + 0.12), (f[0] - _BOX_W / 2, f[1] + 0.12))
        _arrow(
            top,
            (f[0] - _BOX_W / 2, f[1] - 0.18),
            (z[0] + _RADIUS, z[1] - 0.18),
            backward=True,
            label=r"$\partial f/\partial z$",
            label_at=((z[0] + f[0]) / 2, z[1] - 0.55),
        )
        start, end = (z[0] - 0.05, z[1] + _RADIUS), (theta[0] + _BOX_W / 2, theta[1] + 0.1)
        _arrow(top, start, end, backward=True, rad=0.3)
        # the midpoint of the arc (a quadratic Bézier curve through `start` and `end`)
        cross = (
            (start[0] + end[0]) / 2 + 0.15 * (end[1] - start[1]),
            (start[1] + end[1]) / 2 - 0.15 * (end[0] - start[0]),
        )
        top.text(*cross, "✕", ha="center", va="center", fontsize=18, color=COLORS["vermillion"])
        top.text(
            cross[0] + 0.3,
            cross[1] + 0.25,
            r"$\partial z/\partial\theta$ undefined",
            ha="left",
            va="center",
            fontsize=_LABEL_PT,
            color=COLORS["vermillion"],
        )

        _panel(bottom, "reparameterized form: z = g(ε; θ) is deterministic", _BOTTOMS[1])
        theta, eps, z, f = (0.8, 2.2), (0.8, 0.25), (3.5, 1.2), (6.1, 1.2)
        z_width = 1.7
        _node(bottom, theta, r"$\theta$", "parameter")
        _node(bottom, eps, r"$\epsilon$", "random")
        _node(bottom, z, r"$z = g(\epsilon;\theta)$", "deterministic", width=z_width)
        _node(bottom, f, r"$f(z)$", "deterministic")
        bottom.text(
            eps[0] + 0.6, eps[1], r"$\epsilon \sim p(\epsilon)$", va="center", fontsize=_LABEL_PT
        )
        left_edge = z[0] - z_width / 2
        _arrow(bottom, (theta[0] + 0.4, theta[1] - 0.37), (left_edge, z[1] + 0.15))
        _arrow(bottom, (eps[0] + 0.38, eps[1] + 0.2), (left_edge, z[1] - 0.2))
        _arrow(bottom, (z[0] + z_width / 2, z[1] + 0.12), (f[0] - _BOX_W / 2, f[1] + 0.12))
        _arrow(
            bottom,
            (f[0] - _BOX_W / 2, f[1] - 0.18),
            (z[0] + z_width / 2, z[1] - 0.18),
            backward=True,
            label=r"$\partial f/\partial z$",
            label_at=((z[0] + z_width / 2 + f[0] - _BOX_W / 2) / 2, z[1] - 0.55),
        )
        _arrow(
            bottom,
            (z[0] - 0.2, z[1] + _BOX_H / 2),
            (theta[0] + _BOX_W / 2, theta[1] + 0.1),
            backward=True,
            rad=0.3,
            label=r"$\partial g/\partial\theta$",
            label_at=(2.95, 2.45),
        )

        # Three columns filled column by column: the node kinds on the first row, the
        # two passes on the second.
        handles = [
            Patch(facecolor=COLORS["sky"], edgecolor=COLORS["black"], label="random node"),
            Line2D([], [], color=COLORS["black"], lw=1.6, label="forward pass"),
            Patch(
                facecolor=COLORS["orange"], edgecolor=COLORS["black"], label="deterministic node"
            ),
            Line2D([], [], color=COLORS["vermillion"], lw=1.6, ls="--", label="backward pass"),
            Patch(facecolor="white", edgecolor=COLORS["black"], label="parameter"),
        ]
        fig.legend(handles=handles, loc="lower center", ncol=3, frameon=False)
        fig.subplots_adjust(left=0.02, right=0.98, top=0.95, bottom=0.11, hspace=0.12)
    return fig
