"""The data model of the catalog: one :class:`CatalogEntry` per row of the book's table.

Book chapter: "The standard reparameterizations" (``reparameterizations-table``). Each entry
bundles a :class:`reparam.Reparameterization` (the sampling path the estimators use) with what
the table prints and what the tests check: the approach, the base distribution, the formula
of g(ε; θ) in LaTeX, the parameter constraints, a moment with a closed-form expectation (for
the gradient check), the CDF where it is elementary, and the ``torch.distributions``
counterpart where one exists.

Base noise is drawn by :func:`reparam.noise.open_uniform` and
:func:`reparam.noise.standard_normal` with an explicit generator, on the generator's device,
then moved to the parameters' device, in the dtype the parameters promote to
(:func:`noise_like`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor

from reparam._validation import as_tensors, broadcast_shapes, common_dtype
from reparam.noise import open_uniform, standard_normal
from reparam.reparameterization import Reparameterization

__all__ = [
    "APPROACHES",
    "Approach",
    "CatalogEntry",
    "KnownError",
    "Moment",
    "PathReparameterization",
    "clamp_into",
    "exp_in_range",
    "inside",
    "noise_like",
    "normal_noise",
    "open_unit",
    "positive_finite",
    "strictly_inside",
    "uniform_noise",
]

#: The four ways of writing z = g(ε; θ), in the order of Kingma & Welling (2014), §2.4,
#: plus implicit reparameterization (Figurnov, Mohamed & Mnih, 2018).
Approach = Literal["inverse CDF", "location-scale", "composition", "implicit"]
#: The approaches, in the order the book presents them.
APPROACHES: tuple[Approach, ...] = ("inverse CDF", "location-scale", "composition", "implicit")

Params = Mapping[str, Tensor]


def _log_max(dtype: torch.dtype) -> float:
    """A bound b with exp(b) finite in ``dtype``: log(max) lowered by a few ulps."""
    info = torch.finfo(dtype)
    return math.log(info.max) * (1.0 - 4.0 * info.eps)


def _log_tiny(dtype: torch.dtype) -> float:
    """A bound b with exp(b) at least ``tiny`` in ``dtype``: log(tiny) raised by a few ulps."""
    info = torch.finfo(dtype)
    return math.log(info.tiny) * (1.0 - 4.0 * info.eps)


def inside(x: Tensor, low: float, high: float) -> bool:
    """Whether every entry of ``x`` lies in [low, high] (one pass, outside autograd; NaN: no)."""
    if x.numel() == 0:
        return True
    smallest, largest = torch.aminmax(x.detach())
    return float(smallest) >= low and float(largest) <= high


def strictly_inside(x: Tensor, low: float, high: float) -> bool:
    """Whether every entry of ``x`` lies in the open interval (low, high): one pass, outside
    autograd; NaN: no.

    The log-densities use it (and :func:`inside`) to take their common case without masks:
    when every value is strictly inside the support, the −inf mask, the clamp and ``xlogy``
    (whose 0 · log 0 = 0 matters only at the ends) change nothing, and ``log`` is much
    cheaper than ``xlogy``.
    """
    if x.numel() == 0:
        return True
    smallest, largest = torch.aminmax(x.detach())
    return float(smallest) > low and float(largest) < high


def clamp_into(z: Tensor, low: float, high: float) -> Tensor:
    """``z`` clamped into [low, high], with gradient 0 for the clamped entries.

    The common case costs one pass and adds nothing to the backward pass: when every entry is
    already inside, ``z`` itself is returned (a clamp would return the same values but record
    a masked backward). NaN entries stay NaN.
    """
    return z if inside(z, low, high) else z.clamp(min=low, max=high)


def exp_in_range(x: Tensor) -> Tensor:
    """exp(x) kept within the positive normal numbers of x's dtype, [tiny, max].

    Draws computed in log space (log G of a Gamma variate of shape 0.01 is often below −10³)
    would otherwise round to exactly 0 or overflow to +inf: outside the support (0, ∞), and
    fatal to a later log z. The exponent is clamped *before* exp, so no inf enters the
    backward pass (a clamped entry gets gradient 0, never 0 · inf = NaN); results below
    ``tiny`` are raised to it after. Entries not clamped are bit for bit exp(x), and when no
    entry needs it (the common case) this is exactly ``torch.exp(x)``.
    """
    log_max = _log_max(x.dtype)
    if inside(x, _log_tiny(x.dtype), log_max):
        return torch.exp(x)
    return torch.exp(x.clamp(max=log_max)).clamp(min=torch.finfo(x.dtype).tiny)


def positive_finite(z: Tensor) -> Tensor:
    """``z`` clamped into [tiny, max] of its dtype: strictly positive and finite.

    For draws of a distribution on (0, ∞) formed from finite factors (so no inf reaches the
    backward pass; clamped entries get gradient 0). See :func:`clamp_into`.
    """
    info = torch.finfo(z.dtype)
    return clamp_into(z, info.tiny, info.max)


def open_unit(z: Tensor) -> Tensor:
    """``z`` clamped into [tiny, 1 − eps/2] of its dtype: strictly inside (0, 1).

    A Beta or Kumaraswamy draw within eps/2 of 1 (or below the smallest normal number)
    rounds to exactly 1 (or 0) in floating point, where log z or log(1 − z) is infinite;
    clamped entries get gradient 0. See :func:`clamp_into`.
    """
    info = torch.finfo(z.dtype)
    return clamp_into(z, info.tiny, 1.0 - info.eps / 2)


def noise_like(params: Params) -> tuple[torch.dtype, torch.device]:
    """The dtype and device of base noise for ``params``: the dtype they promote to (float32
    and float64 parameters together get float64 noise, so that draws come out in the promoted
    dtype, as ``torch.distributions`` arithmetic on ``broadcast_all``'s outputs gives) and the
    first parameter's device."""
    return common_dtype(*params.values()), next(iter(params.values())).device


NoiseSampler = Callable[[int, Params, "torch.Generator | None", torch.Size], Tensor]


def uniform_noise(*event: int) -> NoiseSampler:
    """A base sampler drawing ε ~ U(0, 1) of shape ``(N, *batch_shape, *event)``."""

    def sample(
        num_samples: int, params: Params, generator: torch.Generator | None, batch: torch.Size
    ) -> Tensor:
        dtype, device = noise_like(params)
        shape = (num_samples, *batch, *event)
        return open_uniform(shape, generator=generator, dtype=dtype, device=device)

    return sample


def normal_noise(*event: int) -> NoiseSampler:
    """A base sampler drawing ε ~ N(0, 1) of shape ``(N, *batch_shape, *event)``."""

    def sample(
        num_samples: int, params: Params, generator: torch.Generator | None, batch: torch.Size
    ) -> Tensor:
        dtype, device = noise_like(params)
        shape = (num_samples, *batch, *event)
        return standard_normal(shape, generator=generator, dtype=dtype, device=device)

    return sample


# -- a Reparameterization assembled from functions --------------------------------------------
@dataclass(frozen=True, kw_only=True)
class PathReparameterization(Reparameterization):
    """A :class:`reparam.Reparameterization` given by three functions.

    Attributes:
        noise: draws ε for ``(num_samples, params, generator, batch_shape)``; shape
            ``(N, *batch_shape, *base_event_shape)``.
        path: g(ε; θ), ``(eps, params) -> z`` of shape ``(N, *batch_shape, *event_shape)``;
            written with broadcasting so that parameters may carry a leading sample dimension
            (the per-sample gradients of :func:`reparam.estimators.pathwise_gradient`).
        density: ``(value, params) -> log p_θ(value)``, summed over event dimensions, −inf
            outside the support (called by :meth:`log_prob` with validated parameters).
        check: optional cross-parameter check (``low < high``, matching shapes, ...) run
            after the per-parameter constraints; raises ``ValueError`` naming a parameter.
    """

    noise: NoiseSampler
    path: Callable[[Tensor, Params], Tensor]
    density: Callable[[Tensor, Params], Tensor]
    check: Callable[[Params], None] | None = None

    def sample_base(
        self, num_samples: int, params: Params, generator: torch.Generator | None
    ) -> Tensor:
        return self.noise(num_samples, params, generator, self.batch_shape(params))

    def transform(self, eps: Tensor, params: Params) -> Tensor:
        return self.path(eps, params)

    def log_prob(self, value: Tensor, params: Params) -> Tensor:
        """log p_θ(value): parameters validated (errors name them), ``value`` any real tensor
        or number broadcasting against them (integer tensors promoted); −inf outside the
        support. Computed in the dtype ``value`` and the parameters promote to."""
        checked = self.validate(params)
        # the parameters are tensors already (never named in an error): a leading space keeps
        # their keys apart from "value"
        promoted = as_tensors(
            {"value": value, **{" " + name: v for name, v in checked.items()}}, cast=True
        )
        cast = {name: promoted[" " + name] for name in checked}
        return self.density(self._check_value(promoted["value"], cast), cast)

    def _check_value(self, value: Tensor, params: Params) -> Tensor:
        """``value`` after checking its shape fits the parameters (``ValueError``)."""
        event = [params[p.name].shape[-1] for p in self.parameters if p.event_dims > 0]
        if event:  # multivariate rows: values are vectors of the parameters' dimension
            if value.dim() == 0 or value.shape[-1] != event[0]:
                raise ValueError(
                    f"value must be a vector (..., {event[0]}) for {self.name}, "
                    f"got shape {tuple(value.shape)}"
                )
            batch_value = value.shape[:-1]
        else:
            batch_value = value.shape
        batch = self.batch_shape(params)
        try:
            broadcast_shapes(batch_value, batch)
        except RuntimeError as error:
            raise ValueError(
                f"value must broadcast with the parameters' batch shape {tuple(batch)}, "
                f"got shape {tuple(value.shape)}"
            ) from error
        return value

    def validate(self, params: Mapping[str, Tensor | float]) -> dict[str, Tensor]:
        checked = super().validate(params)
        if self.check is not None:
            self.check(checked)
        return checked


# -- the entry ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Moment:
    """A test function f(z) with a closed-form expectation, for the gradient check.

    Attributes:
        latex: how the table prints it, e.g. ``r"\\mathbb{E}[z]"``.
        function: z of shape ``(N, *batch_shape, *event_shape)`` -> ``(N, *batch_shape)``.
        expectation: θ -> E_{p_θ}[f(z)] of shape ``batch_shape``, written in torch so that
            autograd gives its exact gradient.
    """

    latex: str
    function: Callable[[Tensor], Tensor]
    expectation: Callable[[Params], Tensor]


@dataclass(frozen=True)
class KnownError:
    """A widely met formula or description that is wrong (or breaks numerically).

    Attributes:
        claim: the formula or statement, in LaTeX/markdown.
        problem: what goes wrong.
        fix: what the catalog does instead.
    """

    claim: str
    problem: str
    fix: str


@dataclass(frozen=True)
class CatalogEntry:
    """One row of the table of standard reparameterizations.

    Attributes:
        key: registry key, e.g. ``"exponential"``.
        name: display name.
        approach: how g is obtained (see :data:`~reparam.catalog.entry.APPROACHES`).
        distribution: the :class:`reparam.Reparameterization` (what the estimators take).
        base: LaTeX for the base distribution p(ε).
        formula: LaTeX for z = g(ε; θ).
        constraints: LaTeX for the parameter constraints (they are enforced by
            ``distribution.validate``).
        example: parameter values used by the book's figure and checks (floats or nested
            lists for vector/matrix parameters).
        moment: the test function of the gradient check.
        cdf: ``(value, params) -> F_θ(value)`` in torch where the CDF is elementary (or a
            torch special function), else ``None`` (0 below the support, 1 above); for
            multivariate entries the CDF of ``statistic``.
        torch_distribution: builds the ``torch.distributions`` counterpart from validated
            parameters, or ``None`` when torch has none.
        kingma_welling: where Kingma & Welling (2014), §2.4 list it (``None``: not listed).
        implicit: the parameters whose gradient comes from implicit reparameterization.
        statistic: for multivariate entries, a scalar summary of a draw
            (``(N, *batch, *event) -> (N, *batch)``) whose law is known; ``None`` for
            univariate entries.
        statistic_label: LaTeX for ``statistic``.
        statistic_log_prob: log-density of ``statistic`` (for the figure).
        notes: one line for the table.
        known_errors: formulas met elsewhere that fail, with the fix.
    """

    key: str
    name: str
    approach: Approach
    distribution: Reparameterization
    base: str
    formula: str
    constraints: str
    example: Mapping[str, float | list[float] | list[list[float]]]
    moment: Moment
    cdf: Callable[[Tensor, Params], Tensor] | None = None
    torch_distribution: Callable[[Params], torch.distributions.Distribution] | None = None
    kingma_welling: str | None = None
    implicit: tuple[str, ...] = ()
    statistic: Callable[[Tensor], Tensor] | None = None
    statistic_label: str = "z"
    statistic_log_prob: Callable[[Tensor, Params], Tensor] | None = None
    notes: str = ""
    known_errors: tuple[KnownError, ...] = field(default=())

    def example_params(
        self, dtype: torch.dtype | None = None, device: torch.device | str | None = None
    ) -> dict[str, Tensor]:
        """The example parameters as tensors of ``dtype`` (default: torch's) on ``device``."""
        dtype = dtype if dtype is not None else torch.get_default_dtype()
        return {
            name: torch.tensor(value, dtype=dtype, device=device)
            for name, value in self.example.items()
        }

    def rsample(
        self,
        num_samples: int,
        *,
        generator: torch.Generator | None = None,
        **params: Tensor | float,
    ) -> Tensor:
        """Shortcut for ``self.distribution.rsample``."""
        return self.distribution.rsample(num_samples, generator=generator, **params)

    def summary(self, z: Tensor) -> Tensor:
        """The scalar statistic of draws ``z`` (``z`` itself for univariate entries)."""
        return z if self.statistic is None else self.statistic(z)

    def summary_log_prob(self, value: Tensor, params: Params) -> Tensor:
        """Log-density of :meth:`summary` (the entry's own log-density when univariate)."""
        if self.statistic_log_prob is not None:
            return self.statistic_log_prob(value, params)
        return self.distribution.log_prob(value, params)
