"""Univariate Gaussian mixtures with implicit reparameterization gradients.

Book section "Mixtures" of the chapter "When there is no explicit g" (``implicit-mixtures``).
A draw from p(z) = Σ_k w_k N(z; μ_k, σ_k²), w = softmax(a), picks a component k and then
z = μ_k + σ_k ε. The component index is discrete, so this path carries no gradient to the
logits a. The mixture's CDF F(z; θ) = Σ_k w_k Φ((z − μ_k)/σ_k) is continuous and strictly
increasing, so z = F⁻¹(u; θ) is a differentiable path after all, and implicit
differentiation of F(z; θ) = u gives, for every parameter θ,

    ∂z/∂θ = −∂_θ F(z; θ) / p(z; θ)

(Graves, 2016, for mixtures; Figurnov, Mohamed & Mnih, 2018, for the general
implicit gradient). :func:`mixture_rsample` draws z exactly (component, then Gaussian) and
attaches this derivative; no quantile function is ever evaluated.

Shapes: ``logits``, ``loc`` and ``scale`` broadcast to ``(*batch_shape, K)`` with K ≥ 1
components; draws and values have shape ``(N, *batch_shape)`` or broadcast against
``batch_shape``. The multivariate case (Graves's chain of conditionals, each a univariate
mixture whose weights depend on the earlier coordinates) is not implemented.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from reparam._validation import (
    as_tensors,
    check_finite,
    check_finite_and_positive,
    check_generator,
    check_num_samples,
    check_tensor,
    is_real_number,
)
from reparam.noise import open_uniform, standard_normal

__all__ = [
    "mixture_cdf",
    "mixture_log_prob",
    "mixture_rsample",
    "mixture_sample_with_components",
]

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def _parameters(logits: Any, loc: Any, scale: Any) -> tuple[Tensor, Tensor, Tensor]:
    """The three parameters as tensors of one floating dtype, broadcast to ``(*batch, K)``."""
    params = as_tensors({"logits": logits, "loc": loc, "scale": scale}, cast=True)
    check_finite_and_positive(
        {"logits": params["logits"], "loc": params["loc"]}, {"scale": params["scale"]}
    )
    for name, value in params.items():
        if value.dim() < 1:
            raise ValueError(f"{name} must have the components in its last dimension")
    try:
        shape = torch.broadcast_shapes(*(value.shape for value in params.values()))
    except RuntimeError:
        shapes = ", ".join(f"{k} {tuple(v.shape)}" for k, v in params.items())
        raise ValueError(f"logits, loc and scale must broadcast together, got {shapes}") from None
    logits, loc, scale = (value.expand(shape) for value in params.values())
    return logits, loc, scale


def _components(value: Tensor, loc: Tensor, scale: Tensor) -> Tensor:
    """Standardised values (z − μ_k)/σ_k of shape ``(*value.shape, K)``."""
    return (value.unsqueeze(-1) - loc) / scale


def _check_value(value: Any, like: Tensor) -> Tensor:
    """``value`` as a finite tensor in ``like``'s dtype and on its device (numbers too)."""
    if is_real_number(value):
        value = torch.tensor(float(value), dtype=like.dtype, device=like.device)
    value = check_tensor(value, "value", floating=True)
    return check_finite(value, "value").to(like.dtype)


def mixture_log_prob(value: Tensor | float, logits: Any, loc: Any, scale: Any) -> Tensor:
    """log p(z) = logsumexp_k [log w_k + log N(z; μ_k, σ_k²)], differentiable in everything.

    Args:
        value: z, finite, a tensor of shape broadcastable against ``batch_shape`` or a
            number.
        logits: a, finite, shape ``(*batch_shape, K)`` (broadcastable); w = softmax(a).
        loc: μ, finite, same convention.
        scale: σ > 0, finite, same convention.

    Returns:
        Tensor of the broadcast shape of ``value`` and ``batch_shape``.
    """
    logits, loc, scale = _parameters(logits, loc, scale)
    value = _check_value(value, loc)
    standard = _components(value, loc, scale)
    log_normal = -0.5 * standard**2 - torch.log(scale) - _LOG_SQRT_2PI
    return torch.logsumexp(torch.log_softmax(logits, -1) + log_normal, -1)


def mixture_cdf(value: Tensor | float, logits: Any, loc: Any, scale: Any) -> Tensor:
    """F(z) = Σ_k w_k Φ((z − μ_k)/σ_k), differentiable in everything; arguments as
    :func:`mixture_log_prob`."""
    logits, loc, scale = _parameters(logits, loc, scale)
    value = _check_value(value, loc)
    phi = torch.special.ndtr(_components(value, loc, scale))
    return (torch.softmax(logits, -1) * phi).sum(-1)


class _ImplicitMixture(torch.autograd.Function):
    """z drawn outside autograd; backward: ∂z/∂θ = −∂_θ F(z; θ) / p(z; θ)."""

    @staticmethod
    def forward(
        ctx: Any,
        draws: Tensor,
        logits: Tensor,
        loc: Tensor,
        scale: Tensor,
    ) -> Tensor:
        ctx.save_for_backward(draws, logits, loc, scale)
        return draws.clone()

    @staticmethod
    def backward(
        ctx: Any,
        grad_output: Tensor,
    ) -> tuple[None, Tensor, Tensor, Tensor]:
        draws, *saved = ctx.saved_tensors  # and logits, loc, scale
        with torch.enable_grad():
            params = [t.detach().requires_grad_(True) for t in saved]
            cdf = mixture_cdf(draws, *params)
            density = mixture_log_prob(draws, *params).detach().exp()
            # Σ_n g_n ∂z_n/∂θ = Σ_n (−g_n / p(z_n)) ∂F(z_n)/∂θ: one
            # vector-Jacobian product through the CDF for all draws.
            weights = -grad_output / density
            grads = torch.autograd.grad(cdf, params, grad_outputs=weights)
        return None, grads[0], grads[1], grads[2]


def mixture_sample_with_components(
    logits: Any,
    loc: Any,
    scale: Any,
    num_samples: int,
    *,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """Exact draws and their component indices, without gradients.

    The component by inversion of the cumulative weights (one uniform), then
    z = μ_k + σ_k ε with ε standard normal.

    Returns:
        ``(draws, components)``: shape ``(num_samples, *batch_shape)`` each, the second of
        dtype ``torch.long``.
    """
    logits, loc, scale = _parameters(logits, loc, scale)
    num_samples = check_num_samples(num_samples)
    check_generator(generator)
    shape = (num_samples, *loc.shape[:-1])
    u = open_uniform(shape, generator=generator, dtype=loc.dtype, device=loc.device)
    cumulative = torch.cumsum(torch.softmax(logits.detach(), -1), -1)
    # The first k with u < w_1 + ... + w_k; clamped against round-off in the last sum.
    component = (u.unsqueeze(-1) >= cumulative).sum(-1).clamp(max=loc.shape[-1] - 1)
    eps = standard_normal(shape, generator=generator, dtype=loc.dtype, device=loc.device)
    picked_loc = torch.gather(loc.detach().expand(*shape, -1), -1, component.unsqueeze(-1))
    picked_scale = torch.gather(scale.detach().expand(*shape, -1), -1, component.unsqueeze(-1))
    return picked_loc.squeeze(-1) + picked_scale.squeeze(-1) * eps, component


def mixture_rsample(
    logits: Any,
    loc: Any,
    scale: Any,
    num_samples: int,
    *,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Draws of the mixture with implicit reparameterization gradients (Graves, 2016).

    Each draw is exact (:func:`mixture_sample_with_components`); backpropagating through it
    applies ∂z/∂θ = −∂_θ F(z; θ) / p(z; θ) for the logits, the locations and the scales, so
    the mean of ∇_θ f(z) over the draws is an unbiased estimate of ∇_θ E[f(z)].

    Args:
        logits, loc, scale: as :func:`mixture_log_prob`; tensors that require gradients
            receive them (broadcast dimensions are summed back, as autograd does).
        num_samples: N ≥ 1.
        generator: source of the noise.

    Returns:
        Tensor of shape ``(num_samples, *batch_shape)``.
    """
    expanded = _parameters(logits, loc, scale)
    draws, _ = mixture_sample_with_components(*expanded, num_samples, generator=generator)
    output: Tensor = _ImplicitMixture.apply(draws, *expanded)
    return output
