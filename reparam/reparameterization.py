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
    as_tensor,
    broadcast_shapes,
    check_finite,
    check_generator,
    check_num_samples,
    check_real,
    describe,
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

#: A constraint checks a parameter tensor and raises ``ValueError`` naming it.
Constraint = Callable[[Tensor, str], None]


def real(value: Tensor, name: str) -> None:
    """Any finite real number."""
    check_finite(value, name)


def positive(value: Tensor, name: str) -> None:
    """Finite and strictly positive."""
    check_finite(value, name)
    if value.numel() == 1:  # one value: a Python comparison, no kernels
        if not float(value.detach()) > 0:
            raise ValueError(f"{name} must be strictly positive, got {_show(value)}")
        return
    if not bool((value.detach() > 0).all()):
        raise ValueError(
            f"{name} must be strictly positive, got {_show(value, value.detach() <= 0)}"
        )


def open_unit_interval(value: Tensor, name: str) -> None:
    """Strictly between 0 and 1."""
    check_finite(value, name)
    detached = value.detach()
    inside = (detached > 0) & (detached < 1)
    if not bool(inside.all()):
        raise ValueError(f"{name} must lie strictly between 0 and 1, got {_show(value, ~inside)}")


def positive_integer(value: Tensor, name: str) -> None:
    """A whole number >= 1 (stored as a floating tensor)."""
    check_finite(value, name)
    detached = value.detach()
    whole = (detached >= 1) & (detached == detached.round())
    if not bool(whole.all()):
        raise ValueError(f"{name} must be a whole number >= 1, got {_show(value, ~whole)}")


def greater_than(bound: float) -> Constraint:
    """Finite and strictly greater than ``bound`` (a finite real number)."""
    bound = check_real(bound, "bound")

    def check(value: Tensor, name: str) -> None:
        check_finite(value, name)
        above = value.detach() > bound
        if not bool(above.all()):
            raise ValueError(f"{name} must be greater than {bound:g}, got {_show(value, ~above)}")

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
        if not callable(self.constraint):
            raise TypeError(
                f"constraint must be callable (value, name) -> None, "
                f"got {type(self.constraint).__name__}"
            )
        if isinstance(self.event_dims, bool) or not isinstance(self.event_dims, int):
            raise TypeError(f"event_dims must be an int, got {type(self.event_dims).__name__}")
        if self.event_dims < 0:
            raise ValueError(f"event_dims must be at least 0, got {self.event_dims}")


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
        never on their values. Returns a tensor whose layout :meth:`transform` expects,
        with ``num_samples`` as its first dimension.
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

        Python and NumPy numbers become tensors of the dtype and device of the first tensor
        given (torch's default dtype if there is none, or it is an integer tensor); integer
        tensors are promoted to the default floating dtype. Raises ``ValueError`` (or
        ``TypeError``) naming the offending parameter, its constraint and its value.
        """
        expected = set(self.parameter_names)
        given = set(params)
        if given != expected:
            missing = ", ".join(sorted(expected - given)) or "none"
            unknown = ", ".join(sorted(given - expected)) or "none"
            raise ValueError(
                f"{self.name} takes parameters ({', '.join(self.parameter_names)}); "
                f"missing: {missing}; unknown: {unknown}"
            )
        like = next((v for v in params.values() if isinstance(v, Tensor)), None)
        if like is not None and not torch.is_floating_point(like):
            like = like.to(torch.get_default_dtype())
        checked: dict[str, Tensor] = {}
        for parameter in self.parameters:
            value = as_tensor(params[parameter.name], parameter.name, like=like)
            parameter.constraint(value, parameter.name)
            checked[parameter.name] = value
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


def _show(value: Tensor, bad: Tensor | None = None) -> str:
    """A one-element value, or a tensor's shape and its offending entries (``bad`` mask)."""
    if bad is None or value.numel() == 1:
        flat = value.detach().reshape(-1)
        if flat.numel() == 1:
            return f"{flat.item():g}"
        return f"a tensor of shape {tuple(value.shape)}"
    return describe(value, bad)
