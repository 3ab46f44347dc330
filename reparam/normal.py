"""The Gaussian reparameterization z = loc + scale · eps, eps ~ N(0, 1).

Book section: "Gradients of expectations" (the running example) and "The
reparameterization trick" (its derivation). Every sampler here takes an explicit
``torch.Generator`` so that results are reproducible, and works on any device and
floating dtype: the output follows ``loc``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from reparam._validation import (
    as_tensor,
    broadcast_parameters,
    check_finite,
    check_generator,
    check_num_samples,
    check_positive,
)

__all__ = ["normal_log_prob", "normal_rsample", "standard_normal"]


def standard_normal(
    shape: tuple[int, ...],
    *,
    generator: torch.Generator | None = None,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    """Draw eps ~ N(0, 1) of the given shape, from ``generator``.

    The draw is made on the generator's device (CPU generators draw on the CPU) and
    then moved, so one seeded CPU generator gives the same numbers whatever ``device`` is.
    """
    check_generator(generator)
    gen_device = generator.device if generator is not None else torch.device("cpu")
    eps = torch.randn(shape, generator=generator, dtype=dtype, device=gen_device)
    return eps.to(device) if device is not None else eps


def normal_rsample(
    loc: Tensor | float,
    scale: Tensor | float,
    num_samples: int,
    *,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Reparameterized draws z = loc + scale · eps from N(loc, scale²).

    Args:
        loc: mean, shape ``batch_shape`` (any shape broadcastable with ``scale``).
        scale: standard deviation, strictly positive, broadcastable with ``loc``.
        num_samples: number of independent draws, at least 1.
        generator: source of randomness for eps.

    Returns:
        Tensor of shape ``(num_samples, *batch_shape)``, differentiable in ``loc`` and
        ``scale``, on ``loc``'s device and with its dtype.
    """
    loc = check_finite(as_tensor(loc, "loc"), "loc")
    scale = check_positive(as_tensor(scale, "scale", like=loc), "scale")
    loc, scale = broadcast_parameters(loc=loc, scale=scale)
    num_samples = check_num_samples(num_samples)
    eps = standard_normal(
        (num_samples, *loc.shape), generator=generator, dtype=loc.dtype, device=loc.device
    )
    return loc + scale * eps


def normal_log_prob(value: Tensor, loc: Tensor | float, scale: Tensor | float) -> Tensor:
    """Log-density of N(loc, scale²) at ``value``; shapes broadcast."""
    loc = as_tensor(loc, "loc", like=value)
    scale = check_positive(as_tensor(scale, "scale", like=value), "scale")
    standardized = (value - loc) / scale
    return -0.5 * standardized.square() - scale.log() - 0.5 * math.log(2 * math.pi)
