"""Smarter sampling: antithetic and randomized quasi-Monte Carlo base noise for the path.

Book chapter "Smarter sampling". A pathwise estimate (1/N) Σₙ ∇_θ f(g(εₙ; θ)) stays
unbiased whatever the *joint* law of ε₁, …, ε_N, as long as each εₙ has the base
distribution p(ε). So the N draws need not be independent. Two ways to make them work
together, both for the standard normal base of a Gaussian q:

- ``"antithetic"`` (Hammersley & Morton, 1956): draws come in pairs (ε, −ε). The pair
  average of h(ε) is the even part of h, (h(ε) + h(−ε)) / 2: the odd part cancels exactly.
- ``"sobol"``, randomized quasi-Monte Carlo (Buchholz, Wenzel & Mandt, ICML 2018): the
  first N points of a scrambled Sobol sequence (``torch.quasirandom.SobolEngine``, linear
  matrix scrambling and a digital shift, Owen 1998), mapped through the normal quantile
  function. Each point is uniform on the cube, so each εₙ is N(0, I) (up to the 2⁻³⁰ grid of
  the engine), and together they fill the cube far more evenly than independent draws.

``"iid"`` is plain Monte Carlo, for comparison. Every function takes an explicit
``torch.Generator``: the scrambling seed is drawn from it, so results are reproducible.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import torch
from torch import Tensor
from torch.distributions import Distribution, Independent, MultivariateNormal, Normal

from reparam._validation import (
    check_callable,
    check_choice,
    check_floating_dtype,
    check_generator,
    check_num_samples,
)
from reparam.estimators import Cost, Params, _per_draw_cost, _target
from reparam.noise import _shape
from reparam.normal import NORMAL
from reparam.reparameterization import Reparameterization

__all__ = ["METHODS", "Method", "normal_noise", "pathwise_surrogate"]

#: How the N draws of base noise are made (see the module's documentation).
Method = Literal["iid", "antithetic", "sobol"]
METHODS: tuple[Method, ...] = ("iid", "antithetic", "sobol")

# torch's Sobol engine: points are multiples of 2^-30 in [0, 1), up to 21201 coordinates
_SOBOL_BITS = torch.quasirandom.SobolEngine.MAXBIT
_SOBOL_MAX_DIM = torch.quasirandom.SobolEngine.MAXDIM


def _sobol_uniforms(num_samples: int, dimension: int, generator: torch.Generator | None) -> Tensor:
    """(N, d) scrambled Sobol points in float64, moved to the centres of the 2⁻³⁰ grid.

    The engine's points are k · 2⁻³⁰ with 0 ≤ k < 2³⁰, so 0 can occur and the quantile
    function would send it to −∞. Adding half a grid step (exact in float64) keeps every
    point inside (0, 1), symmetric about ½, and uniform over the cell centres.
    """
    device = generator.device if generator is not None else torch.device("cpu")
    seed = int(torch.randint(0, 2**62, (), generator=generator, device=device))
    engine = torch.quasirandom.SobolEngine(dimension, scramble=True, seed=seed)
    points = engine.draw(num_samples, dtype=torch.float64)
    return points + 2.0 ** -(_SOBOL_BITS + 1)


def normal_noise(
    num_samples: int,
    shape: int | Sequence[int] = (),
    *,
    method: Method = "iid",
    generator: torch.Generator | None = None,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    """N draws of ε ~ N(0, I): independent, antithetic pairs or Sobol points.

    Args:
        num_samples: N ≥ 1; even for ``"antithetic"`` (N/2 pairs); a power of
            two for ``"sobol"`` (a Sobol net is balanced only at powers of
            two, and its error rates hold there).
        shape: the shape of one draw (``()`` for a scalar); its number of
            elements is the dimension D of the Sobol points (at most 21201).
        method: ``"iid"``, ``"antithetic"`` or ``"sobol"`` (see the module).
        generator: source of randomness (the draws, or the scrambling seed).
        dtype: floating dtype of the result (default: torch's). Sobol points
            are mapped in float64 and then cast, so float32 draws stay finite.
        device: device of the result (default: the generator's).

    Returns:
        ``(N, *shape)``. Each row is N(0, I)-distributed; the rows are
        independent only for ``"iid"``; for ``"antithetic"`` row n + N/2 is
        minus row n.
    """
    n = check_num_samples(num_samples)
    event = _shape(shape)
    method = check_choice(method, "method", METHODS)
    check_generator(generator)
    dtype = check_floating_dtype(dtype)
    where = generator.device if generator is not None else torch.device("cpu")
    dimension = math.prod(event)

    def randn(rows: int) -> Tensor:
        return torch.randn(
            (rows, *event),
            generator=generator,
            dtype=dtype,
            device=where,
        )

    if method == "iid":
        eps = randn(n)
    elif method == "antithetic":
        if n % 2:
            raise ValueError(
                f"num_samples must be even for method='antithetic', got {n}",
            )
        half = randn(n // 2)
        eps = torch.cat([half, -half])
    else:
        if n & (n - 1):
            raise ValueError(
                "num_samples must be a power of two for method='sobol' "
                f"(a Sobol net is balanced only at powers of two), got {n}"
            )
        if not 1 <= dimension <= _SOBOL_MAX_DIM:
            raise ValueError(
                f"shape must have between 1 and {_SOBOL_MAX_DIM} elements for "
                f"method='sobol' (torch's Sobol engine), got {dimension}"
            )
        uniforms = _sobol_uniforms(n, dimension, generator)
        eps = torch.special.ndtri(uniforms).to(dtype=dtype, device=where)
        eps = eps.reshape(n, *event)
    return eps.to(device) if device is not None else eps


def _gaussian_path(
    distribution: object, params: Params
) -> tuple[Tensor, Tensor, bool, torch.Size, torch.Size]:
    """(loc, scale or scale_tril, full covariance?, one draw's shape, batch shape) of q."""
    if isinstance(distribution, Reparameterization):
        if distribution is not NORMAL:
            raise TypeError(
                "distribution must be a Gaussian: reparam.NORMAL, or a torch Normal, "
                f"Independent(Normal) or MultivariateNormal, got {type(distribution).__name__}"
            )
        target = _target(distribution, params, needs="rsample")
        checked = target.values
        loc, scale = torch.broadcast_tensors(checked["loc"], checked["scale"])
        return loc, scale, False, loc.shape, loc.shape
    if params is not None:
        raise TypeError(
            "params must be None for a torch.distributions.Distribution (its parameters live "
            f"in it), got {type(params).__name__}"
        )
    base = distribution
    while isinstance(base, Independent):
        base = base.base_dist
    if isinstance(base, Normal):
        assert isinstance(distribution, Distribution)
        shape = distribution.batch_shape + distribution.event_shape
        loc, scale = base.loc.expand(shape), base.scale.expand(shape)
        return loc, scale, False, shape, distribution.batch_shape
    if isinstance(base, MultivariateNormal) and base is distribution:
        shape = base.batch_shape + base.event_shape
        return base.loc.expand(shape), base.scale_tril, True, shape, base.batch_shape
    raise TypeError(
        "distribution must be a Gaussian: reparam.NORMAL, or a torch Normal, "
        f"Independent(Normal) or MultivariateNormal, got {type(distribution).__name__}"
    )


def pathwise_surrogate(
    cost: Cost,
    distribution: Reparameterization | Distribution,
    params: Params,
    num_samples: int,
    *,
    method: Method = "iid",
    generator: torch.Generator | None = None,
) -> Tensor:
    """Pathwise surrogate (1/N) Σₙ f(μ + σ ⊙ εₙ) (or μ + L εₙ) with the draws of ``method``.

    :func:`reparam.surrogate.pathwise_surrogate` with the base noise of
    :func:`normal_noise`: value and gradient stay unbiased for every method. Randomized
    Sobol points lower the variance for smooth costs, most in few dimensions (Buchholz,
    Wenzel & Mandt, 2018); antithetic pairs lower it when the gradient's integrand is
    mostly odd in ε and raise it, up to twice, when it is mostly even (book chapter
    "Smarter sampling").

    Args:
        cost: draws ``(N, *batch_shape, *event_shape)`` -> per-draw costs ``(N, *S)``.
        distribution: a Gaussian q: :data:`reparam.NORMAL` with ``params``
            ``{"loc", "scale"}``, or a ``torch.distributions`` ``Normal``,
            ``Independent(Normal)`` or ``MultivariateNormal`` with ``params=None``.
        params: q's parameters, or ``None`` for a torch distribution.
        num_samples: N (even for antithetic, a power of two for Sobol).
        method: ``"iid"``, ``"antithetic"`` or ``"sobol"``.
        generator: source of the draws.

    Returns:
        The estimate of E[sum of the cost over its non-sample dimensions], 0-d.
    """
    cost_fn = check_callable(cost, "cost")
    n = check_num_samples(num_samples)
    check_generator(generator)
    method = check_choice(method, "method", METHODS)
    loc, scale, full, shape, batch_shape = _gaussian_path(distribution, params)
    eps = normal_noise(n, shape, method=method, generator=generator, dtype=loc.dtype)
    eps = eps.to(loc.device)
    if full:
        z = loc + (scale @ eps.unsqueeze(-1)).squeeze(-1)
    else:
        z = loc + scale * eps
    values = _per_draw_cost(cost_fn, z, n, batch_shape)
    return values.reshape(n, -1).sum(1).mean()
