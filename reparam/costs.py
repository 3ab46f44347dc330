"""Cost functions with closed-form Gaussian expectations, used as ground truth.

Book sections: "Gradients of expectations" (the worked example E[z²] = μ² + σ²) and
"Which estimator, when" (the three costs of Mohamed, Rosca, Figurnov & Mnih, 2020,
section 3). For each cost f, ``GaussianTestCost.expectation`` gives
E_{N(μ, σ²)}[f(z)] in closed form, written with torch operations so that
:func:`exact_gradient` obtains the exact gradient with respect to (μ, σ) by autograd.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from reparam._validation import (
    as_tensors,
    check_broadcast,
    check_finite_and_positive,
    check_instance,
    check_real,
)

__all__ = [
    "GaussianTestCost",
    "constant_cost",
    "cosine_cost",
    "exact_gradient",
    "exp_quadratic_cost",
    "linear_cost",
    "quadratic_cost",
]


@dataclass(frozen=True)
class GaussianTestCost:
    """A cost f(z) together with its exact Gaussian expectation.

    Attributes:
        name: short identifier, e.g. ``"quadratic(k=1)"``.
        latex: the formula of f in LaTeX, for tables and legends.
        function: f, applied elementwise; any shape in, same shape out.
        expectation: ``(loc, scale) -> E_{N(loc, scale²)}[f(z)]``, elementwise in the
            broadcast shape of ``loc`` and ``scale``.
        lipschitz: the Lipschitz constant of f on the real line (``inf`` if unbounded).
    """

    name: str
    latex: str
    function: Callable[[Tensor], Tensor]
    expectation: Callable[[Tensor, Tensor], Tensor]
    lipschitz: float

    def __call__(self, z: Tensor) -> Tensor:
        return self.function(z)


def constant_cost(c: float = 1.0) -> GaussianTestCost:
    """f(z) = c (c finite). Its expectation does not depend on (μ, σ): the gradient is zero."""
    c = check_real(c, "c")
    return GaussianTestCost(
        name=f"constant(c={c:g})",
        latex=f"{c:g}",
        # Written as arithmetic on the inputs (not torch.full_like) so autograd sees them.
        function=lambda z: 0.0 * z + c,
        expectation=lambda loc, scale: 0.0 * (loc + scale) + c,
        lipschitz=0.0,
    )


def linear_cost(a: float = 1.0, b: float = 0.0) -> GaussianTestCost:
    """f(z) = a z + b (a, b finite), with E[f] = a μ + b."""
    a, b = check_real(a, "a"), check_real(b, "b")
    return GaussianTestCost(
        name=f"linear(a={a:g}, b={b:g})",
        latex=f"{a:g}\\,z + {b:g}",
        function=lambda z: a * z + b,
        expectation=lambda loc, scale: a * loc + b + 0.0 * scale,
        lipschitz=abs(a),
    )


def quadratic_cost(k: float = 0.0) -> GaussianTestCost:
    """f(z) = (z − k)² (k finite), with E[f] = (μ − k)² + σ²."""
    k = check_real(k, "k")
    return GaussianTestCost(
        name=f"quadratic(k={k:g})",
        latex=f"(z - {k:g})^2" if k else "z^2",
        function=lambda z: (z - k).square(),
        expectation=lambda loc, scale: (loc - k).square() + scale.square(),
        lipschitz=float("inf"),
    )


def exp_quadratic_cost(k: float = 1.0) -> GaussianTestCost:
    """f(z) = exp(−k z²), k > 0, with E[f] = exp(−k μ² / (1 + 2kσ²)) / sqrt(1 + 2kσ²).

    Its Lipschitz constant is sqrt(2k / e), attained at z = ±1/sqrt(2k).
    """
    k = check_real(k, "k", positive=True)

    def expectation(loc: Tensor, scale: Tensor) -> Tensor:
        denominator = 1 + 2 * k * scale.square()
        return torch.exp(-k * loc.square() / denominator) / denominator.sqrt()

    return GaussianTestCost(
        name=f"exp_quadratic(k={k:g})",
        latex=f"\\exp(-{k:g}\\,z^2)",
        function=lambda z: torch.exp(-k * z.square()),
        expectation=expectation,
        lipschitz=(2 * k / torch.e) ** 0.5,
    )


def cosine_cost(k: float = 1.0) -> GaussianTestCost:
    """f(z) = cos(k z) (k finite), with E[f] = cos(k μ) exp(−k² σ² / 2).

    Its Lipschitz constant is abs(k).
    """
    k = check_real(k, "k")
    return GaussianTestCost(
        name=f"cosine(k={k:g})",
        latex=f"\\cos({k:g}\\,z)",
        function=lambda z: torch.cos(k * z),
        expectation=lambda loc, scale: torch.cos(k * loc) * torch.exp(-0.5 * k**2 * scale.square()),
        lipschitz=abs(k),
    )


def exact_gradient(
    cost: GaussianTestCost, loc: Tensor | float, scale: Tensor | float
) -> tuple[Tensor, Tensor]:
    """Exact (∂/∂μ, ∂/∂σ) of E_{N(μ, σ²)}[f(z)], by autograd through the closed form.

    Args:
        cost: a :class:`GaussianTestCost`.
        loc: μ, finite, any shape broadcastable with ``scale`` (a tensor, or a Python or
            NumPy number).
        scale: σ > 0, finite.

    Returns:
        ``(d_loc, d_scale)``, each of the broadcast shape of ``loc`` and ``scale``, in the
        dtype they promote to.
    """
    check_instance(
        cost, "cost", GaussianTestCost, "a GaussianTestCost (e.g. reparam.quadratic_cost())"
    )
    promoted = as_tensors({"loc": loc, "scale": scale}, cast=True)
    loc_t, scale_t = promoted["loc"], promoted["scale"]
    check_finite_and_positive({"loc": loc_t}, {"scale": scale_t})
    check_broadcast(loc=loc_t.shape, scale=scale_t.shape)
    loc_t, scale_t = torch.broadcast_tensors(loc_t.detach(), scale_t.detach())
    loc_t = loc_t.clone().requires_grad_(True)
    scale_t = scale_t.clone().requires_grad_(True)
    with torch.enable_grad():
        value = cost.expectation(loc_t, scale_t)
        d_loc, d_scale = torch.autograd.grad(value.sum(), (loc_t, scale_t))
    return d_loc, d_scale
