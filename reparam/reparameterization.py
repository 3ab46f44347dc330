"""The sampling path z = g(eps; theta): the one abstraction every estimator shares.

Book section: "The reparameterization trick". A :class:`Reparameterization` bundles

- the parameters theta, with their constraints (validated, with errors naming the parameter);
- the base distribution p(eps), which must not depend on the *values* of theta;
- the transform g(eps; theta), differentiable in every parameter marked differentiable;
- the log-density log p_theta(z), which the score-function estimator needs.

The pathwise, score-function and measure-valued estimators of :mod:`reparam.estimators`
accept any :class:`Reparameterization`, and every entry of the book's table of standard
reparameterizations is one.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import torch
from torch import Tensor

from reparam._validation import (
    as_tensors,
    broadcast_shapes,
    check_callable,
    check_count,
    check_finite,
    check_generator,
    check_greater_than,
    check_in_interval,
    check_num_samples,
    check_positive,
    check_real,
    check_whole,
)

__all__ = [
    "Constraint",
    "Parameter",
    "Reparameterization",
    "greater_than",
    "open_unit_interval",
    "positive",
    "positive_integer",
    "real",
]

#: A constraint checks a parameter tensor and raises ``ValueError`` naming it. The ones
#: below are the checks of ``reparam._validation`` under the names the parameter tables
#: use (and that :func:`reparam.distributions.torch_constraint` maps to torch's).
Constraint = Callable[[Tensor, str], None]


def real(value: Tensor, name: str) -> None:
    """Any finite real number."""
    check_finite(value, name)


def positive(value: Tensor, name: str) -> None:
    """Finite and strictly positive."""
    check_positive(value, name)


def open_unit_interval(value: Tensor, name: str) -> None:
    """Strictly between 0 and 1."""
    check_in_interval(value, name, 0.0, 1.0)


def positive_integer(value: Tensor, name: str) -> None:
    """A whole number >= 1 (stored as a floating tensor)."""
    check_whole(value, name, minimum=1)


def greater_than(bound: float) -> Constraint:
    """Finite and strictly greater than ``bound`` (a finite real number)."""
    bound = check_real(bound, "bound")

    def check(value: Tensor, name: str) -> None:
        check_greater_than(value, name, bound)

    return check


@dataclass(frozen=True)
class Parameter:
    """One parameter of a distribution.

    Attributes:
        name: the keyword used in code (``"loc"``, ``"scale"``, ``"concentration"``, ...).
        constraint: a :data:`Constraint`, e.g. :func:`positive`.
        differentiable: whether g(eps; theta) is differentiable in this parameter
            (False for integer parameters such as the Erlang shape).
        event_dims: how many trailing dimensions of the parameter belong to one event
            (0 for scalars, 1 for a mean vector, 2 for a Cholesky factor).
    """

    name: str
    constraint: Constraint = real
    differentiable: bool = True
    event_dims: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"name must be a non-empty str, got {self.name!r}")
        check_callable(self.constraint, "constraint")
        # a NumPy or 0-d tensor integer is stored as the int it stands for
        object.__setattr__(self, "event_dims", check_count(self.event_dims, "event_dims", 0))


@dataclass(frozen=True)
class Reparameterization(abc.ABC):
    """A distribution p_theta(z) written as z = g(eps; theta), eps ~ p(eps).

    Subclasses implement :meth:`sample_base`, :meth:`transform` and :meth:`log_prob`.
    All shapes follow one convention: draws have shape ``(num_samples, *batch_shape,
    *event_shape)`` where ``batch_shape`` is the broadcast shape of the parameters
    (without their event dimensions).

    Attributes:
        name: human-readable name, e.g. ``"Normal"``.
        parameters: the parameters, in the order they are documented.
    """

    name: str
    parameters: tuple[Parameter, ...] = field(default=())

    # -- to implement --------------------------------------------------------------------
    @abc.abstractmethod
    def sample_base(
        self, num_samples: int, params: Mapping[str, Tensor], generator: torch.Generator | None
    ) -> Tensor:
        """Draw eps ~ p(eps) for ``num_samples`` draws at these (validated) parameters.

        The distribution of eps may depend on the parameters' shapes, dtype and device,
        never on their values. Draw it in the dtype the parameters promote to
        (``reparam._validation.common_dtype``), on their device, so that mixed
        precisions give draws in the wider dtype, as ``torch.distributions`` does. Returns
        a tensor whose layout :meth:`transform` expects, with ``num_samples`` as its first
        dimension.
        """

    @abc.abstractmethod
    def transform(self, eps: Tensor, params: Mapping[str, Tensor]) -> Tensor:
        """Apply the sampling path z = g(eps; theta); differentiable in the parameters.

        Returns draws of shape ``(num_samples, *batch_shape, *event_shape)``.
        """

    @abc.abstractmethod
    def log_prob(self, value: Tensor, params: Mapping[str, Tensor]) -> Tensor:
        """log p_theta(value), summed over event dimensions; shape ``value.shape`` minus
        the event dimensions; −inf for a ``value`` outside the support."""

    # -- provided -----------------------------------------------------------------------
    @property
    def parameter_names(self) -> tuple[str, ...]:
        """The names of the parameters, in order."""
        return tuple(p.name for p in self.parameters)

    def validate(self, params: Mapping[str, Tensor | float]) -> dict[str, Tensor]:
        """Check and convert parameters: the right names, floating tensors, constraints met.

        Conversion and promotion as ``torch.distributions.utils.broadcast_all`` (by
        ``reparam._validation.as_tensors``, the one place this happens): tensors keep
        their dtype and device (integer tensors are promoted to the default floating
        dtype); Python and NumPy numbers become tensors of the dtype the tensors promote to
        (a float next to a float32 tensor is float32; next to float32 and float64 tensors,
        float64; numbers alone take the default dtype) on the first tensor's device. Draws
        and log-densities come out in that promoted dtype. Raises ``ValueError`` (or
        ``TypeError``) naming the offending parameter, its constraint and its value.
        """
        names = self.parameter_names
        if len(params) != len(names) or any(name not in params for name in names):
            expected, given = set(names), set(params)
            missing = ", ".join(sorted(expected - given)) or "none"
            unknown = ", ".join(sorted(given - expected)) or "none"
            raise ValueError(
                f"{self.name} takes parameters ({', '.join(names)}); "
                f"missing: {missing}; unknown: {unknown}"
            )
        checked = as_tensors({name: params[name] for name in names})
        for parameter in self.parameters:
            parameter.constraint(checked[parameter.name], parameter.name)
        self.batch_shape(checked)  # raises if the shapes do not broadcast
        return checked

    def batch_shape(self, params: Mapping[str, Tensor]) -> torch.Size:
        """Broadcast shape of the parameters, without their event dimensions."""
        shapes = []
        for parameter in self.parameters:
            shape = params[parameter.name].shape
            shapes.append(shape[: len(shape) - parameter.event_dims])
        try:
            return broadcast_shapes(*shapes)
        except RuntimeError as error:
            listed = ", ".join(f"{p.name}: {tuple(params[p.name].shape)}" for p in self.parameters)
            raise ValueError(
                f"{self.name}: the parameter shapes must broadcast together, got {listed}"
            ) from error

    def rsample(
        self,
        num_samples: int,
        *,
        generator: torch.Generator | None = None,
        **params: Tensor | float,
    ) -> Tensor:
        """Reparameterized draws z = g(eps; theta), differentiable in the parameters.

        Returns a tensor of shape ``(num_samples, *batch_shape, *event_shape)``.
        """
        num_samples = check_num_samples(num_samples)
        check_generator(generator)
        checked = self.validate(params)
        return self.transform(self.sample_base(num_samples, checked, generator), checked)
