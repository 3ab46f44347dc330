"""Any :class:`reparam.Reparameterization` as a ``torch.distributions.Distribution``.

Book chapter: "The standard reparameterizations" (every catalog row can be used this way).
Code written for ``torch.distributions`` (``dist.rsample(sample_shape)``, ``dist.log_prob``,
``batch_shape``, ``event_shape``, ``support``, ``arg_constraints``) takes a catalog row by
changing one line::

    q = torch.distributions.Gumbel(loc, scale)          # before
    q = reparam.distributions.from_catalog("gumbel", loc=loc, scale=scale)  # after

Draws follow the row's sampling path z = g(ε; θ), so they are differentiable in the
parameters, and an optional ``generator`` makes them reproducible (torch's own ``rsample``
has no generator argument).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor
from torch.distributions import Distribution, constraints

from reparam._validation import check_generator
from reparam.reparameterization import (
    Constraint,
    Reparameterization,
    open_unit_interval,
    positive,
    positive_integer,
    real,
)

__all__ = ["ReparamDistribution", "SupportRule", "from_catalog", "torch_constraint"]

#: The support of a distribution, given its validated parameters.
SupportRule = Callable[[Mapping[str, Tensor]], constraints.Constraint]


class _OpenInterval(constraints.Constraint):
    """``lower < x < upper`` (torch's ``interval`` includes its ends)."""

    def __init__(self, lower_bound: float, upper_bound: float) -> None:
        self.lower_bound = lower_bound
        self.upper_bound = upper_bound
        super().__init__()

    def check(self, value: Tensor) -> Tensor:
        return (self.lower_bound < value) & (value < self.upper_bound)

    def __repr__(self) -> str:
        return f"OpenInterval(lower_bound={self.lower_bound}, upper_bound={self.upper_bound})"


_KNOWN: dict[Any, constraints.Constraint] = {
    real: constraints.real,
    positive: constraints.positive,
    positive_integer: constraints.positive_integer,
    open_unit_interval: _OpenInterval(0.0, 1.0),
}
# Vector and matrix parameters of the catalog's multivariate rows, by the name of the check.
_BY_NAME: dict[str, constraints.Constraint] = {
    "_check_vector": constraints.real_vector,
    "_check_cholesky": constraints.lower_cholesky,
    "_check_concentration_vector": constraints.independent(constraints.positive, 1),
}


def torch_constraint(constraint: Constraint) -> constraints.Constraint:
    """The ``torch.distributions.constraints`` object for one of reparam's constraints.

    The constraints of :mod:`reparam.reparameterization` (``real``, ``positive``,
    ``positive_integer``, ``open_unit_interval``, ``greater_than(bound)``) and the catalog's
    vector and Cholesky checks map to their torch counterparts; any other constraint (a user's own)
    becomes ``constraints.dependent``, torch's placeholder for a constraint it cannot check.
    """
    if constraint in _KNOWN:
        return _KNOWN[constraint]
    name = getattr(constraint, "__name__", "")
    if name in _BY_NAME:
        return _BY_NAME[name]
    if getattr(constraint, "__qualname__", "").startswith("greater_than."):
        bound = inspect.getclosurevars(constraint).nonlocals.get("bound")
        if isinstance(bound, float):
            return constraints.greater_than(bound)
    return constraints.dependent


class ReparamDistribution(Distribution):
    """A :class:`reparam.Reparameterization` at fixed parameters, as a torch distribution.

    Args:
        reparameterization: the sampling path and log-density, e.g. ``reparam.NORMAL`` or
            ``reparam.catalog.get("gumbel").distribution``.
        params: parameter name -> tensor or number, validated by
            ``reparameterization.validate`` (errors name the parameter). Tensors keep their
            autograd history: draws and log-densities are differentiable in them.
        support: the support, as a torch constraint or a rule ``params -> constraint``;
            ``None`` leaves ``support`` unknown (accessing it raises
            ``NotImplementedError``, as for torch's own distributions without one).
        validate_args: if true, :meth:`log_prob` checks that its value lies in the support.

    Shapes: ``batch_shape`` is the broadcast shape of the parameters without their event
    dimensions; ``event_shape`` that of one draw (``()`` for univariate rows, ``(d,)`` for
    the multivariate ones). ``rsample(sample_shape)`` returns
    ``(*sample_shape, *batch_shape, *event_shape)``.
    """

    has_rsample = True

    def __init__(
        self,
        reparameterization: Reparameterization,
        params: Mapping[str, Tensor | float],
        *,
        support: constraints.Constraint | SupportRule | None = None,
        validate_args: bool | None = None,
    ) -> None:
        if not isinstance(reparameterization, Reparameterization):
            raise TypeError(
                "reparameterization must be a reparam.Reparameterization, "
                f"got {type(reparameterization).__name__}"
            )
        if not isinstance(params, Mapping):
            raise TypeError(f"params must be a mapping name -> value, got {type(params).__name__}")
        self.reparameterization = reparameterization
        self.params = reparameterization.validate(params)
        batch_shape = reparameterization.batch_shape(self.params)
        # One draw from a private, seeded generator gives the event shape without touching
        # the caller's random state.
        like = next(iter(self.params.values()))
        probe = torch.Generator(device=like.device).manual_seed(0)
        with torch.no_grad():
            eps = reparameterization.sample_base(1, self.params, probe)
            draw = reparameterization.transform(eps, self.params)
        event_shape = draw.shape[1 + len(batch_shape) :]
        if callable(support) and not isinstance(support, constraints.Constraint):
            support = support(self.params)
        self._support = support
        # Parameter names such as ``mode`` clash with Distribution's properties, so torch's
        # argument validation (which reads them as attributes) is off; ``validate`` has
        # already checked every constraint, with messages that name the parameter.
        super().__init__(batch_shape, event_shape, validate_args=False)
        self._validate_args = bool(validate_args)

    @property
    def arg_constraints(self) -> dict[str, constraints.Constraint]:
        return {p.name: torch_constraint(p.constraint) for p in self.reparameterization.parameters}

    @property
    def support(self) -> constraints.Constraint:
        if self._support is None:
            raise NotImplementedError(
                f"the support of {self.reparameterization.name} is not known: pass support="
            )
        return self._support

    def rsample(
        self,
        sample_shape: torch.Size | list[int] | tuple[int, ...] = (),
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Draws of shape ``(*sample_shape, *batch_shape, *event_shape)`` along the path g."""
        check_generator(generator)
        shape = torch.Size(sample_shape)
        count = math.prod(shape)
        eps = self.reparameterization.sample_base(max(count, 1), self.params, generator)
        draws = self.reparameterization.transform(eps, self.params)
        if count == 0:
            draws = draws[:0]
        return draws.reshape(*shape, *self.batch_shape, *self.event_shape)

    def sample(
        self,
        sample_shape: torch.Size | list[int] | tuple[int, ...] = (),
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Like :meth:`rsample`, without autograd history."""
        with torch.no_grad():
            return self.rsample(sample_shape, generator=generator)

    def log_prob(self, value: Tensor) -> Tensor:
        """log p_θ(value), shape ``value.shape`` minus the event dimensions."""
        if self._validate_args:
            self._validate_sample(value)
        return self.reparameterization.log_prob(value, self.params)

    def expand(
        self, batch_shape: torch.Size | list[int] | tuple[int, ...], _instance: Any = None
    ) -> ReparamDistribution:
        """The same distribution with parameters broadcast to ``batch_shape``."""
        batch_shape = torch.Size(batch_shape)
        expanded = {}
        for parameter in self.reparameterization.parameters:
            value = self.params[parameter.name]
            event = value.shape[value.dim() - parameter.event_dims :]
            expanded[parameter.name] = value.expand(*batch_shape, *event)
        return ReparamDistribution(
            self.reparameterization,
            expanded,
            support=self._support,
            validate_args=self._validate_args,
        )

    def __repr__(self) -> str:
        shapes = ", ".join(f"{k}: {tuple(v.shape)}" for k, v in self.params.items())
        return f"ReparamDistribution({self.reparameterization.name}; {shapes})"


# Supports of the catalog rows that have no torch.distributions counterpart to take it from.
_SUPPORTS: dict[str, SupportRule] = {
    "logistic": lambda p: constraints.real,
    "rayleigh": lambda p: constraints.positive,
    "gompertz": lambda p: constraints.positive,
    "reciprocal": lambda p: constraints.interval(p["low"], p["high"]),
    "triangular": lambda p: constraints.interval(p["low"], p["high"]),
    "multivariate_student_t": lambda p: constraints.real_vector,
}


def from_catalog(
    key: str, *, validate_args: bool | None = None, **params: Tensor | float
) -> ReparamDistribution:
    """The catalog row ``key`` (see ``reparam.catalog.CATALOG``) as a torch distribution.

    Its ``support`` is that of the row's ``torch.distributions`` counterpart where torch has
    one, and given by the row's definition otherwise. Raises ``KeyError`` naming the known
    keys for an unknown ``key``, and ``ValueError`` naming a parameter that breaks its
    constraint.
    """
    from reparam import catalog  # the catalog imports this package: import on use

    entry = catalog.get(key)
    checked = entry.distribution.validate(params)
    support: constraints.Constraint | SupportRule | None = _SUPPORTS.get(entry.key)
    if support is None and entry.torch_distribution is not None:
        support = entry.torch_distribution(checked).support
    return ReparamDistribution(
        entry.distribution, checked, support=support, validate_args=validate_args
    )
