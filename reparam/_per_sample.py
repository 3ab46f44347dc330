"""Per-sample gradients: one estimate per draw, summed back to each parameter's shape.

Shared by the estimators that take their per-sample gradients by differentiating copies of
the parameters, one copy per draw (:mod:`reparam.rejection`, :mod:`reparam.policy`).
"""

from __future__ import annotations

import torch
from torch import Tensor


def sum_to_shape(grad: Tensor | None, like: Tensor, shape: torch.Size) -> Tensor:
    """Per-sample gradient ``(N, *batch)`` summed over the dimensions a parameter of
    ``shape`` was broadcast along: ``(N, *shape)``. ``None`` (the parameter did not enter
    the objective) is a zero gradient shaped like ``like``."""
    if grad is None:
        grad = torch.zeros_like(like)
    extra = grad.dim() - 1 - len(shape)
    if extra:
        grad = grad.sum(tuple(range(1, 1 + extra)))
    return grad.sum_to_size((grad.shape[0], *shape)).detach()
