"""Monte Carlo estimates of expectations, with their standard errors.

Book section: "Gradients of expectations", Monte Carlo estimation. A Monte Carlo
estimate of E[h(z)] from N independent draws is the sample mean; its standard error is
the sample standard deviation divided by sqrt(N).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from reparam._validation import check_count, check_num_samples, check_real, check_tensor

__all__ = ["MonteCarloEstimate", "summarize"]


@dataclass(frozen=True)
class MonteCarloEstimate:
    """A sample mean together with its standard error.

    Attributes:
        mean: sample mean over the sample dimension; shape ``batch_shape``.
        std_error: estimated standard deviation of ``mean``, ``std / sqrt(num_samples)``;
            shape ``batch_shape``.
        num_samples: how many independent draws the mean averages.
    """

    mean: Tensor
    std_error: Tensor
    num_samples: int

    @property
    def variance(self) -> Tensor:
        """Estimated variance of a single draw (not of the mean); shape ``batch_shape``."""
        return self.std_error.square() * self.num_samples

    def interval(self, z_score: float = 1.96) -> tuple[Tensor, Tensor]:
        """Normal-approximation confidence interval ``mean ± z_score · std_error``.

        The default ``z_score = 1.96`` gives an approximate 95% interval.
        """
        z_score = check_real(z_score, "z_score", positive=True)
        half_width = z_score * self.std_error
        return self.mean - half_width, self.mean + half_width


def summarize(draws: Tensor, dim: int = 0) -> MonteCarloEstimate:
    """Summarise independent draws of a random quantity by their mean and standard error.

    Args:
        draws: tensor of i.i.d. draws; the draws run along ``dim``, shape
            ``(..., num_samples, ...)``; integer and boolean tensors are promoted to torch's
            default floating dtype.
        dim: the sample dimension (negative values count from the end).

    Returns:
        A :class:`MonteCarloEstimate` whose tensors have ``draws``'s shape without ``dim``.
        With a single draw the standard error is undefined and reported as ``inf``
        rather than NaN.
    """
    check_tensor(draws, "draws")
    if not torch.is_floating_point(draws):
        draws = draws.to(torch.get_default_dtype())
    if draws.dim() == 0:
        raise ValueError("draws must have a sample dimension, got a 0-d tensor")
    dim = check_count(dim, "dim", minimum=-draws.dim())
    if dim >= draws.dim():
        raise ValueError(f"dim must be in [{-draws.dim()}, {draws.dim() - 1}], got {dim}")
    num_samples = check_num_samples(draws.shape[dim], "draws.shape[dim]")
    mean = draws.mean(dim=dim)
    if num_samples == 1:
        return MonteCarloEstimate(mean, torch.full_like(mean, math.inf), 1)
    std = draws.std(dim=dim, correction=1)
    return MonteCarloEstimate(mean, std / math.sqrt(num_samples), num_samples)
