"""Two-sample tests: is a set of generated points distributed like held-out data?

Book chapter "Diffusion models" (``chapter-diffusion``): samples of a trained model against
held-out data, with the statistic's distribution under the null hypothesis (both sets drawn from
one distribution) obtained by permutation.

- :func:`energy_distance`: the squared energy distance,
  2 E‖X − Y‖ − E‖X − X′‖ − E‖Y − Y′‖, estimated with all pairs (a V-statistic: the same
  value ``scipy.stats.energy_distance`` gives, squared, for one-dimensional samples). It is
  zero exactly when the two distributions are equal.
- :func:`permutation_test`: the statistic on the two samples, its values on random
  re-splittings of the pooled points, and the p-value (1 + #{null >= observed}) / (1 + R).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from reparam._validation import check_count, check_finite, check_generator, check_tensor

__all__ = ["PermutationTest", "energy_distance", "permutation_test"]


def _points(x: object, name: str) -> Tensor:
    tensor = check_tensor(x, name, floating=True)
    if tensor.dim() != 2 or tensor.shape[0] < 2:
        raise ValueError(f"{name} must have shape (n, d) with n >= 2, got {tuple(tensor.shape)}")
    return check_finite(tensor, name)


def _mean_distance(a: Tensor, b: Tensor) -> Tensor:
    return torch.cdist(a, b).mean()


def energy_distance(x: Tensor, y: Tensor) -> Tensor:
    """2 E‖X − Y‖ − E‖X − X′‖ − E‖Y − Y′‖ over all pairs of points (a V-statistic).

    Args:
        x: shape ``(n, d)``; y: shape ``(m, d)``, the same d, in float32 or float64.

    Returns:
        A 0-d tensor, non-negative up to rounding.
    """
    x, y = _points(x, "x"), _points(y, "y")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same dimension, got {x.shape[1]} and {y.shape[1]}")
    y = y.to(x)
    return 2 * _mean_distance(x, y) - _mean_distance(x, x) - _mean_distance(y, y)


@dataclass(frozen=True)
class PermutationTest:
    """The statistic, its permutation null distribution and the p-value."""

    observed: float
    null: np.ndarray
    p_value: float


def permutation_test(
    x: Tensor,
    y: Tensor,
    num_permutations: int = 200,
    *,
    generator: torch.Generator | None = None,
) -> PermutationTest:
    """Energy-distance permutation test of "x and y come from one distribution".

    The pooled points are split at random into sets of the sizes of x and y
    ``num_permutations`` times; the p-value counts the splits whose statistic is at least
    the observed one, plus one, over ``num_permutations`` plus one.
    """
    x, y = _points(x, "x"), _points(y, "y")
    permutations = check_count(num_permutations, "num_permutations")
    generator = check_generator(generator)
    observed = float(energy_distance(x, y))
    pooled = torch.cat([x, y.to(x)])
    distances = torch.cdist(pooled, pooled)
    n, m = x.shape[0], y.shape[0]
    # Column r of `member` marks the points of the first set in split r. With D symmetric,
    # the within- and between-set sums are quadratic forms: s'Ds, s'D1 - s'Ds, and
    # 1'D1 - 2 s'D1 + s'Ds; all splits at once by one matrix product.
    member = torch.zeros(n + m, permutations, dtype=pooled.dtype, device=pooled.device)
    for r in range(permutations):
        order = torch.randperm(n + m, generator=generator).to(pooled.device)
        member[order[:n], r] = 1
    row_sums = distances.sum(1)
    within_first = (member * (distances @ member)).sum(0)
    to_all = row_sums @ member
    between = to_all - within_first
    within_second = row_sums.sum() - 2 * to_all + within_first
    null = (2 * between / (n * m) - within_first / n**2 - within_second / m**2).cpu().numpy()
    p_value = (1 + int((null >= observed).sum())) / (1 + permutations)
    return PermutationTest(observed, null, p_value)
