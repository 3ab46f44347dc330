"""A target with a known normalizing constant, and fitting flows to it, for the chapter
"Normalizing flows" (``chapter-flows``).

:class:`Banana` is a bent Gaussian in the plane, p̃(z) = exp(−z₁²/(2a²) − (z₂ − c(z₁² − a²))²/2).
The shear v = z₂ − c(z₁² − a²) has unit Jacobian, so Z = ∫p̃ = (√(2π) a)(√(2π)) = 2πa exactly,
and the inverse shear is an exact sampler. :func:`fit_flow` maximises the evidence lower bound
of a :class:`reparam.flows.PlanarFlow` with Adam; :func:`exact_elbo` computes the bound by
tensor-product Gauss–Hermite quadrature over the flow's noise (D <= 3), so that
log Z − ELBO = KL(q ‖ p) is known to quadrature accuracy rather than up to a standard error.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from reparam._validation import check_count, check_instance, check_real
from reparam.flows import PlanarFlow, elbo_terms, target_values
from reparam.noise import standard_normal
from reparam.quadrature import gauss_hermite_rule

__all__ = ["Banana", "exact_elbo", "fit_flow"]


@dataclass(frozen=True)
class Banana:
    """p̃(z) = exp(−z₁²/(2a²) − (z₂ − c(z₁² − a²))²/2) on R², with Z = 2πa.

    Attributes:
        width: a > 0, the standard deviation of z₁.
        bend: c, how strongly z₂ follows z₁² (c = 0: a Gaussian).
    """

    width: float = 1.5
    bend: float = 0.8

    def __post_init__(self) -> None:
        check_real(self.width, "width", positive=True)
        check_real(self.bend, "bend")

    @property
    def log_normalizer(self) -> float:
        """log Z = log(2πa)."""
        return math.log(2 * math.pi * self.width)

    def log_unnormalized(self, z: Tensor) -> Tensor:
        """log p̃(z) for points of shape ``(..., 2)``; returns shape ``(...)``."""
        z1, z2 = z[..., 0], z[..., 1]
        shear = z2 - self.bend * (z1 * z1 - self.width**2)
        return -z1 * z1 / (2 * self.width**2) - shear * shear / 2

    def sample(
        self,
        num_samples: int,
        *,
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
    ) -> Tensor:
        """Exact draws, shape ``(N, 2)``: z₁ = aε₁, z₂ = ε₂ + c(z₁² − a²)."""
        num_samples = check_count(num_samples, "num_samples")
        noise = standard_normal((num_samples, 2), generator=generator, dtype=dtype)
        z1 = self.width * noise[:, 0]
        return torch.stack([z1, noise[:, 1] + self.bend * (z1 * z1 - self.width**2)], dim=-1)


def fit_flow(
    flow: PlanarFlow,
    log_target: Callable[[Tensor], Tensor],
    *,
    steps: int,
    num_samples: int,
    learning_rate: float,
    generator: torch.Generator,
) -> np.ndarray:
    """Maximise the ELBO of ``flow`` by Adam on the pathwise gradient of the mean of
    :func:`reparam.flows.elbo_terms` over ``num_samples`` fresh draws per step; returns each
    step's ELBO estimate (shape ``(steps,)``)."""
    steps = check_count(steps, "steps")
    learning_rate = check_real(learning_rate, "learning_rate", positive=True)
    optimizer = torch.optim.Adam(flow.parameters(), lr=learning_rate)
    history = np.empty(steps)
    for step in range(steps):
        elbo = elbo_terms(log_target, flow, num_samples, generator=generator).mean()
        optimizer.zero_grad()
        (-elbo).backward()
        optimizer.step()
        history[step] = float(elbo.detach())
    return history


def exact_elbo(
    flow: PlanarFlow, log_target: Callable[[Tensor], Tensor], degree: int = 100
) -> Tensor:
    """E_ε[log p̃(g(ε)) − log q(g(ε))] by a tensor-product Gauss–Hermite rule with ``degree``
    nodes per dimension (``degree``^D points, D <= 3); differentiable in the flow's parameters.

    The integrand is smooth in ε, but a flow that stretches the noise far (into a target's
    thin tails) needs many nodes: compare with a larger ``degree`` before trusting digits."""
    check_instance(flow, "flow", PlanarFlow, "a reparam.flows.PlanarFlow")
    check_count(degree, "degree", 1, 250)
    dim = flow.dim
    if dim > 3:
        raise ValueError(f"flow.dim must be at most 3 for a tensor-product rule, got {dim}")
    nodes, weights = gauss_hermite_rule(degree, dtype=flow.loc.dtype, device=flow.loc.device)
    grids = torch.meshgrid(*([nodes] * dim), indexing="ij")
    noise = torch.stack([grid.reshape(-1) for grid in grids], dim=-1)
    weight = torch.ones(noise.shape[0], dtype=nodes.dtype, device=nodes.device)
    for grid in torch.meshgrid(*([weights] * dim), indexing="ij"):
        weight = weight * grid.reshape(-1)
    z, log_q = flow(noise)
    return (weight * (target_values(log_target, z) - log_q)).sum()
