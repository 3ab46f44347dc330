"""The Gaussian reparameterization z = loc + scale · eps, eps ~ N(0, 1).

Book section: "Gradients of expectations" (the running example) and "The
reparameterization trick" (its derivation). Every sampler here takes an explicit
``torch.Generator`` so that results are reproducible, and works on any device and
floating dtype: the output follows ``loc``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor

from reparam._validation import (
    as_tensors,
    check_broadcast,
    check_finite_and_positive,
    common_dtype,
)
from reparam.noise import standard_normal
from reparam.reparameterization import Parameter, Reparameterization, positive, real

__all__ = [
    "NORMAL",
    "NormalReparameterization",
    "kl_to_standard_normal",
    "normal_cdf",
    "normal_log_prob",
    "normal_rsample",
    "standard_normal",
]


def normal_rsample(
    loc: Tensor | float,
    scale: Tensor | float,
    num_samples: int,
    *,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Reparameterized draws z = loc + scale · eps from N(loc, scale²).

    Args:
        loc: mean, finite, shape ``batch_shape`` (any shape broadcastable with ``scale``); a
            tensor or a Python or NumPy number (integer tensors are promoted to floating).
        scale: standard deviation, finite and strictly positive, broadcastable with ``loc``.
        num_samples: number of independent draws, at least 1 (a Python or NumPy integer).
        generator: source of randomness for eps.

    Returns:
        Tensor of shape ``(num_samples, *batch_shape)``, differentiable in ``loc`` and
        ``scale``, in the dtype they promote to (as ``torch.distributions.Normal`` would
        give: a float with a float32 tensor is float32, float32 with float64 is float64,
        numbers alone take the default dtype), on the device of the first tensor.
    """
    return NORMAL.rsample(num_samples, generator=generator, loc=loc, scale=scale)


def _normal_arguments(
    value: Tensor | float, loc: Tensor | float, scale: Tensor | float
) -> tuple[Tensor, Tensor, Tensor]:
    """Check and convert (value, loc, scale): tensors of the dtype the three promote to
    (``reparam._validation.as_tensors``), loc finite, scale > 0, broadcastable shapes;
    ``ValueError``/``TypeError`` naming the culprit."""
    promoted = as_tensors({"value": value, "loc": loc, "scale": scale}, cast=True)
    value_t, loc_t, scale_t = promoted["value"], promoted["loc"], promoted["scale"]
    check_finite_and_positive({"loc": loc_t}, {"scale": scale_t})
    check_broadcast(value=value_t.shape, loc=loc_t.shape, scale=scale_t.shape)
    return value_t, loc_t, scale_t


def normal_log_prob(value: Tensor | float, loc: Tensor | float, scale: Tensor | float) -> Tensor:
    """Log-density of N(loc, scale²) at ``value``; shapes broadcast.

    ``value`` may be any real tensor (integer tensors are promoted to torch's default
    floating dtype, like a Python number) and may hold ±inf (log-density −inf) or NaN (NaN);
    ``loc`` must be finite and ``scale`` finite and strictly positive. Promotion as
    ``torch.distributions.utils.broadcast_all``: Python and NumPy numbers take the dtype the
    tensors promote to (the default dtype if all three are numbers). Returns the broadcast
    shape, in that promoted floating dtype.
    """
    value, loc, scale = _normal_arguments(value, loc, scale)
    standardized = (value - loc) / scale
    return -0.5 * standardized.square() - scale.log() - 0.5 * math.log(2 * math.pi)


def normal_cdf(value: Tensor | float, loc: Tensor | float, scale: Tensor | float) -> Tensor:
    """CDF of N(loc, scale²) at ``value``, ½ erfc(−(value − loc) / (scale √2)); shapes broadcast.

    Arguments as in :func:`normal_log_prob`.
    """
    value, loc, scale = _normal_arguments(value, loc, scale)
    return 0.5 * torch.erfc(-(value - loc) / (scale * math.sqrt(2)))


@dataclass(frozen=True)
class NormalReparameterization(Reparameterization):
    """N(loc, scale²) as z = loc + scale · eps with eps ~ N(0, 1) (location-scale path)."""

    name: str = "Normal"
    parameters: tuple[Parameter, ...] = (Parameter("loc", real), Parameter("scale", positive))

    def sample_base(
        self, num_samples: int, params: Mapping[str, Tensor], generator: torch.Generator | None
    ) -> Tensor:
        loc, scale = params["loc"], params["scale"]
        shape = (num_samples, *self.batch_shape(params))
        # in the promoted dtype: a float32 loc with a float64 scale gives float64 draws
        dtype = common_dtype(loc, scale)
        return standard_normal(shape, generator=generator, dtype=dtype, device=loc.device)

    def transform(self, eps: Tensor, params: Mapping[str, Tensor]) -> Tensor:
        return params["loc"] + params["scale"] * eps

    def log_prob(self, value: Tensor, params: Mapping[str, Tensor]) -> Tensor:
        return normal_log_prob(value, params["loc"], params["scale"])


#: The Gaussian sampling path, shared by the estimators and the catalog.
NORMAL = NormalReparameterization()


def kl_to_standard_normal(loc: Tensor, scale: Tensor) -> Tensor:
    """KL(N(loc, diag scale²) ‖ N(0, I)) in closed form, summed over the last dimension.

    Kingma & Welling (2014), appendix B:
    KL = ½ Σⱼ (μⱼ² + σⱼ² − 1 − log σⱼ²).

    Args:
        loc: means μ, finite, shape ``(*batch_shape, latent_dim)``.
        scale: standard deviations σ > 0, finite, same shape (or broadcastable).

    Returns:
        Shape ``batch_shape``.
    """
    promoted = as_tensors({"loc": loc, "scale": scale}, cast=True)
    loc, scale = promoted["loc"], promoted["scale"]
    check_finite_and_positive({"loc": loc}, {"scale": scale})
    check_broadcast(loc=loc.shape, scale=scale.shape)
    return _kl_to_standard_normal(loc, scale)


def _kl_to_standard_normal(loc: Tensor, scale: Tensor) -> Tensor:
    """:func:`kl_to_standard_normal` of tensors already checked (same dtype, finite, scale > 0)."""
    return 0.5 * (loc.square() + scale.square() - 1.0 - 2.0 * scale.log()).sum(dim=-1)
