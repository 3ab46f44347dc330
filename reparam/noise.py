"""Base noise p(ε): the few random draws every sampling path starts from.

Book section: "The reparameterization trick" (the base distribution p(ε) must not depend on
θ). Every function takes an explicit ``torch.Generator`` and draws on the generator's device
(CPU generators draw on the CPU), then moves the result to ``device``: one seeded CPU
generator gives the same numbers whatever device the computation runs on.
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


def _floating(dtype: torch.dtype | None) -> torch.dtype:
    return check_floating_dtype(dtype)


def _shape(shape: int | Sequence[int]) -> tuple[int, ...]:
    """``shape`` as a tuple of Python ints >= 0 (an int is a 1-d shape); errors name it."""
    if isinstance(shape, (str, bytes)) or not isinstance(shape, (Sequence, torch.Size)):
        return (check_count(shape, "shape", minimum=0),)
    return tuple(check_count(size, "shape", minimum=0) for size in shape)


def standard_normal(
    shape: int | Sequence[int],
    *,
    generator: torch.Generator | None = None,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    """Draw ε ~ N(0, 1) of the given shape."""
    eps = torch.randn(
        _shape(shape), generator=generator, dtype=_floating(dtype), device=_draw_device(generator)
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
    u = torch.rand(
        _shape(shape), generator=generator, dtype=_floating(dtype), device=_draw_device(generator)
    )
    return u.to(device) if device is not None else u


def open_uniform(
    shape: int | Sequence[int],
    *,
    generator: torch.Generator | None = None,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    """Draw u ~ U(0, 1) on the *open* interval: log u, log(1 − u) and F⁻¹(u) stay finite.

    ``torch.rand`` returns multiples of 2⁻²⁴ (float32) or 2⁻⁵³ (float64) in [0, 1), so an
    exact 0 has probability 2⁻²⁴ per float32 draw: once in sixteen million, which a long
    training run will meet. We clamp to [tiny, 1 − eps/2], the smallest positive normal
    number and the largest number below 1 of the dtype. This moves the atom at 0 to ``tiny``
    and changes no other value.
    """
    dtype = _floating(dtype)
    info = torch.finfo(dtype)
    u = torch.rand(_shape(shape), generator=generator, dtype=dtype, device=_draw_device(generator))
    u = u.clamp(min=info.tiny, max=1.0 - info.eps / 2)
    return u.to(device) if device is not None else u
