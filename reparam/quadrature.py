"""Deterministic expectations: Gaussian by Gauss–Hermite, uniform by Gauss–Legendre.

Book sections: "Gradients of expectations" (checking closed forms) and "Which
estimator, when" (exact estimator variances). With the probabilists' Hermite rule of
degree n, E_{N(μ, σ²)}[h(z)] ≈ Σ_i w_i h(μ + σ x_i) / sqrt(2π), exact for
polynomials of degree up to 2n − 1.

Accuracy: the rule resolves features of h on the scale of σ. For integrands that vary much
faster (exp(−k z²) with kσ² ≫ 1, cos(kz) with kσ ≫ 1) the error grows: for exp(−k z²) with
n = 200 nodes it stays below 1e-8 up to kσ² = 10 and reaches about 2e-4 at kσ² = 40 (see
``tests/test_core.py``). Raise ``degree`` or integrate adaptively in such cases.

:func:`uniform_moments` gives the mean and variance of h(u) for u uniform on the unit square
(or interval) by Gauss–Legendre on cells between given breakpoints: exact for a piecewise
constant h whose jumps are the breakpoints (book chapter "Unbiased gradients for discrete
variables": ARM and DisARM are step functions of their uniform noise).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import lru_cache

import numpy as np
import torch
from torch import Tensor

from reparam._validation import (
    as_tensors,
    check_broadcast,
    check_callable,
    check_count,
    check_finite_and_positive,
    check_floating_dtype,
)

__all__ = ["gauss_hermite_expectation", "gauss_hermite_rule", "uniform_moments"]


@lru_cache(maxsize=16)
def _hermite_rule(degree: int) -> tuple[np.ndarray, np.ndarray]:
    nodes, weights = np.polynomial.hermite_e.hermegauss(degree)
    return nodes, weights / math.sqrt(2 * math.pi)


def gauss_hermite_rule(
    degree: int, *, dtype: torch.dtype | None = None, device: torch.device | str | None = None
) -> tuple[Tensor, Tensor]:
    """Nodes x_i and weights w_i with E_{N(0, 1)}[h(ε)] ≈ Σ_i w_i h(x_i).

    The probabilists' Gauss–Hermite rule with the weights already divided by sqrt(2π), so
    they sum to 1. Useful to take a gradient *per node* and average afterwards.

    Args:
        degree: number of nodes, 1 to 250 (a Python or NumPy integer).
        dtype, device: of the returned tensors (default dtype: torch's default; a floating
            dtype).

    Returns:
        ``(nodes, weights)``, each of shape ``(degree,)``.
    """
    degree = _check_degree(degree)
    dtype = check_floating_dtype(dtype)
    nodes, weights = _hermite_rule(degree)
    return (
        torch.as_tensor(nodes, dtype=dtype, device=device),
        torch.as_tensor(weights, dtype=dtype, device=device),
    )


def _check_degree(degree: object) -> int:
    """``degree`` as an int in [1, 250] (Python or NumPy integer); ``ValueError`` otherwise."""
    try:
        value = check_count(degree, "degree")
    except (TypeError, ValueError):
        value = 0
    if not 1 <= value <= 250:
        raise ValueError(f"degree must be an int between 1 and 250, got {degree!r}")
    return value


def gauss_hermite_expectation(
    function: Callable[[Tensor], Tensor],
    loc: Tensor | float,
    scale: Tensor | float,
    degree: int = 100,
) -> Tensor:
    """E_{N(loc, scale²)}[function(z)] by Gauss–Hermite quadrature.

    Args:
        function: h, applied elementwise to a tensor of shape ``(degree, *batch_shape)``.
        loc: μ, finite, shape ``batch_shape`` (broadcastable with ``scale``); a tensor or a
            Python or NumPy number.
        scale: σ > 0, finite.
        degree: number of quadrature nodes, 1 to 250 (NumPy's rule loses accuracy beyond).

    Returns:
        Tensor of shape ``batch_shape`` in the dtype ``loc`` and ``scale`` promote to (as
        in :func:`reparam.normal_log_prob`), on the first tensor's device.
    """
    check_callable(function, "function")
    degree = _check_degree(degree)
    promoted = as_tensors({"loc": loc, "scale": scale}, cast=True)
    loc_t, scale_t = promoted["loc"], promoted["scale"]
    check_finite_and_positive({"loc": loc_t}, {"scale": scale_t})
    check_broadcast(loc=loc_t.shape, scale=scale_t.shape)
    loc_t, scale_t = torch.broadcast_tensors(loc_t, scale_t)
    nodes_np, weights_np = _hermite_rule(degree)
    shape = (degree,) + (1,) * loc_t.dim()
    nodes = torch.as_tensor(nodes_np, dtype=loc_t.dtype, device=loc_t.device).reshape(shape)
    weights = torch.as_tensor(weights_np, dtype=loc_t.dtype, device=loc_t.device).reshape(shape)
    return (weights * function(loc_t + scale_t * nodes)).sum(dim=0)


def _legendre_cells(breakpoints: Sequence[float], degree: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of Gauss–Legendre on each cell of [0, 1] cut at ``breakpoints``."""
    edges = np.unique(np.clip(np.r_[0.0, np.asarray(breakpoints, dtype=float), 1.0], 0, 1))
    x, w = np.polynomial.legendre.leggauss(degree)
    low, high = edges[:-1, None], edges[1:, None]
    return (low + (high - low) * (x + 1) / 2).ravel(), ((high - low) * w / 2).ravel()


def uniform_moments(
    function: Callable[[Tensor], Tensor],
    breakpoints: Sequence[Sequence[float]],
    *,
    degree: int = 32,
    dtype: torch.dtype = torch.float64,
) -> tuple[Tensor, Tensor]:
    """Mean and variance of ``function(u)`` for u uniform on the unit cube [0, 1]^d.

    Tensor-product Gauss–Legendre with ``degree`` nodes per cell and dimension; dimension j is
    cut into cells at ``breakpoints[j]``. The mean is exact when ``function`` is a polynomial
    of degree up to 2 ``degree`` − 1 on each cell, the variance when its square is: both are
    for a piecewise constant function with its jumps at the breakpoints. The nodes lie
    strictly inside (0, 1).

    Args:
        function: maps nodes of shape ``(M, d)`` to values of shape ``(M, *S)``.
        breakpoints: d sequences of cut points in (0, 1) (possibly empty), d ≥ 1.
        degree: nodes per cell and dimension, at least 1.
        dtype: floating dtype of the nodes.

    Returns:
        ``(mean, variance)``, each of shape ``S``.
    """
    function = check_callable(function, "function")
    degree = check_count(degree, "degree", 1)
    dtype = check_floating_dtype(dtype)
    if len(breakpoints) < 1:
        raise ValueError("breakpoints must give one sequence of cut points per dimension")
    for j, cuts in enumerate(breakpoints):
        points = np.asarray(cuts, dtype=float)
        if points.size and not bool(np.all((points > 0) & (points < 1))):
            raise ValueError(f"breakpoints[{j}] must lie in (0, 1), got {points.tolist()}")
    rules = [_legendre_cells(cuts, degree) for cuts in breakpoints]
    nodes = np.stack(np.meshgrid(*(x for x, _ in rules), indexing="ij"), -1)
    weights = np.prod(np.stack(np.meshgrid(*(w for _, w in rules), indexing="ij"), -1), -1)
    u = torch.as_tensor(nodes.reshape(-1, len(rules)), dtype=dtype)
    w = torch.as_tensor(weights.reshape(-1), dtype=dtype)
    values = function(u)
    if not isinstance(values, Tensor) or values.shape[:1] != (u.shape[0],):
        raise ValueError(f"function must return values of shape ({u.shape[0]}, ...)")
    w = w.to(values).reshape((-1,) + (1,) * (values.dim() - 1))
    mean = (w * values).sum(0)
    return mean, (w * (values - mean) ** 2).sum(0)
