"""Base noise p(ε): the few random draws every sampling path starts from.

Book section: "The reparameterization trick" (the base distribution p(ε) must not depend on
θ). The one home of the package's noise: the catalog, the discrete paths, the estimators and
the Gamma sampler all draw through these functions. Every function takes an explicit
``torch.Generator`` and draws on the generator's device (CPU generators draw on the CPU),
then moves the result to ``device``: one seeded CPU generator gives the same numbers
whatever device the computation runs on.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from reparam._validation import check_count, check_floating_dtype, check_generator

__all__ = ["open_uniform", "standard_normal", "uniform"]


def _draw_device(generator: torch.Generator | None) -> torch.device:
    check_generator(generator)
    return generator.device if generator is not None else torch.device("cpu")


def _shape(shape: int | Sequence[int]) -> tuple[int, ...]:
    """``shape`` as a tuple of Python ints >= 0 (an int is a 1-d shape); errors name it."""
    if isinstance(shape, (str, bytes)) or not isinstance(shape, (Sequence, torch.Size)):
        return (check_count(shape, "shape", minimum=0),)
    return tuple(check_count(size, "shape", minimum=0) for size in shape)


def _raw_uniform(
    shape: tuple[int, ...], generator: torch.Generator | None, dtype: torch.dtype
) -> Tensor:
    """``torch.rand`` on the generator's device: [0, 1) (the one call drawing uniforms).

    Kept separate so that tests can replace it by a constant and probe the edges of (0, 1).
    """
    return torch.rand(shape, generator=generator, dtype=dtype, device=_draw_device(generator))


def standard_normal(
    shape: int | Sequence[int],
    *,
    generator: torch.Generator | None = None,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    """Draw ε ~ N(0, 1) of the given shape (``dtype`` default: torch's default dtype)."""
    eps = torch.randn(
        _shape(shape),
        generator=generator,
        dtype=check_floating_dtype(dtype),
        device=_draw_device(generator),
    )
    return eps.to(device) if device is not None else eps


def uniform(
    shape: int | Sequence[int],
    *,
    generator: torch.Generator | None = None,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    """Draw u ~ U[0, 1) as ``torch.rand`` does: 0 is possible, 1 is not.

    Use :func:`open_uniform` wherever u enters a logarithm or an inverse CDF.
    """
    u = _raw_uniform(_shape(shape), generator, check_floating_dtype(dtype))
    return u.to(device) if device is not None else u


def open_uniform(
    shape: int | Sequence[int],
    *,
    generator: torch.Generator | None = None,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    """u ~ U(0, 1) on the *open* interval: log u, log(1 − u), F⁻¹(u) stay finite.

    The base noise of every inverse-CDF row of the catalog, of the Gumbel and
    logistic noise of :mod:`reparam.discrete` and of the Gamma sampler.
    ``torch.rand`` returns multiples of 2⁻²⁴ (float32) or 2⁻⁵³ (float64) in [0, 1),
    so an exact 0 has probability 2⁻²⁴ per float32 draw: once in sixteen million,
    which a long training run will meet (and which turns −log u into inf). We clamp
    to [tiny, 1 − eps/2], the smallest positive normal number and the largest number
    below 1 of the dtype. This moves the atom at 0 to ``tiny`` and changes no other
    value: the draws are those of :func:`uniform` with the same generator. Returns
    ``shape``, ``dtype`` (default: torch's), on ``device`` (default: generator's).
    """
    dtype = check_floating_dtype(dtype)
    info = torch.finfo(dtype)
    u = _raw_uniform(_shape(shape), generator, dtype)
    u = u.clamp_(info.tiny, 1.0 - info.eps / 2)
    return u.to(device) if device is not None else u
