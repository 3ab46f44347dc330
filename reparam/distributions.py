"""torch.distributions interop: catalog rows as ``Distribution`` objects, and torch's
distributions in the estimators.

Book chapter: "The standard reparameterizations" (every catalog row can be used this way).
Code written for ``torch.distributions`` (``dist.rsample(sample_shape)``, ``dist.log_prob``,
``batch_shape``, ``event_shape``, ``support``, ``arg_constraints``) takes a catalog row by
changing one line::

    q = torch.distributions.Gumbel(loc, scale)          # before
    q = reparam.distributions.from_catalog("gumbel", loc=loc, scale=scale)  # after

Draws follow the row's sampling path z = g(ε; θ), so they are differentiable in the
parameters, and an optional ``generator`` makes them reproducible (torch's own ``rsample``
has no generator argument).

The other direction, a ``torch.distributions.Distribution`` passed to the estimators of
:mod:`reparam.estimators` and :mod:`reparam.surrogate`, rests on three helpers here:
``_torch_parameters`` (what the estimators differentiate), ``_rebuild`` (the same
distribution at other parameter values, e.g. one copy per draw) and ``_DrawingFrom``
(torch's samplers drawing from a ``torch.Generator``).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor
from torch.distributions import Distribution, Independent, constraints

from reparam._validation import check_generator, check_instance
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


#: Event shapes found by a probe draw, by (id of the row, parameter shapes) -> (row, shape).
#: The row itself is kept so that its id cannot be reused while the entry exists.
_EVENT_SHAPES: dict[tuple[int, tuple[torch.Size, ...]], tuple[Reparameterization, torch.Size]] = {}
_EVENT_SHAPES_KEPT = 1024


def _event_shape(
    reparameterization: Reparameterization, params: Mapping[str, Tensor], batch_shape: torch.Size
) -> torch.Size:
    """The shape of one draw beyond ``batch_shape``.

    One draw from a private, seeded generator gives it without touching the caller's random
    state. It depends on the parameters' shapes only (the base distribution may depend on
    their shapes, dtype and device, never on their values), so it is remembered per row and
    parameter shapes: building a distribution in every step of a training loop draws once.
    """
    key = (id(reparameterization), tuple(value.shape for value in params.values()))
    known = _EVENT_SHAPES.get(key)
    if known is not None and known[0] is reparameterization:
        return known[1]
    like = next(iter(params.values()))
    probe = torch.Generator(device=like.device).manual_seed(0)
    with torch.no_grad():
        eps = reparameterization.sample_base(1, params, probe)
        draw = reparameterization.transform(eps, params)
    event_shape = draw.shape[1 + len(batch_shape) :]
    if len(_EVENT_SHAPES) >= _EVENT_SHAPES_KEPT:
        _EVENT_SHAPES.clear()
    _EVENT_SHAPES[key] = (reparameterization, event_shape)
    return event_shape


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
        wanted = "a reparam.Reparameterization"
        check_instance(reparameterization, "reparameterization", Reparameterization, wanted)
        check_instance(params, "params", Mapping, "a mapping name -> value")
        self.reparameterization = reparameterization
        self.params = reparameterization.validate(params)
        batch_shape = reparameterization.batch_shape(self.params)
        event_shape = _event_shape(reparameterization, self.params, batch_shape)
        # A rule is applied on first use of ``support``: building a torch distribution to
        # ask it costs as much as building this one, and most code never asks.
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
        if not isinstance(self._support, constraints.Constraint):
            self._support = self._support(self.params)
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
        if len(shape) == 1:  # (N,): the draws already have their shape
            return draws
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
    support: constraints.Constraint | SupportRule | None = _SUPPORTS.get(entry.key)
    counterpart = entry.torch_distribution
    if support is None and counterpart is not None:

        def support(checked: Mapping[str, Tensor]) -> constraints.Constraint:
            found = counterpart(checked).support
            return constraints.dependent if found is None else found

    # The parameters are validated once, by ReparamDistribution.
    return ReparamDistribution(
        entry.distribution, params, support=support, validate_args=validate_args
    )


# -- torch's distributions in the estimators --------------------------------------------------
def _default_generator(device: torch.device) -> torch.Generator:
    """The generator torch's samplers use on ``device`` (the CPU's or a CUDA device's)."""
    if device.type == "cpu":
        return torch.default_generator
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return torch.cuda.default_generators[index]
    raise ValueError(
        f"generator must be None for torch.distributions draws on device {device} (only CPU "
        "and CUDA draws can be redirected to a torch.Generator), got a torch.Generator"
    )


def _parameter_device(distribution: Distribution) -> torch.device | None:
    """The device of the first tensor a distribution holds (looking into the distributions it
    wraps, such as a ``TransformedDistribution``'s base), or ``None`` if it holds none."""
    for value in vars(distribution).values():
        if isinstance(value, Tensor):
            return value.device
        if isinstance(value, Distribution):
            inner = _parameter_device(value)
            if inner is not None:
                return inner
    return None


class _DrawingFrom:
    """``with _DrawingFrom(generator, distribution):`` torch's samplers draw from ``generator``.

    ``torch.distributions`` samplers take no generator: they draw from the default generator
    of their parameters' device. In the block, that default generator holds ``generator``'s
    state, and on exit ``generator`` takes over the advanced state while the default gets
    its own back. So the draws are exactly those a sampler given ``generator`` would make
    (``Normal(loc, scale).rsample((n,))`` equals :data:`reparam.NORMAL`'s draws from the same
    generator), ``generator`` advances past them, and torch's global random state is left
    as it was. Swapping the state costs a few microseconds (a seed drawn from ``generator``
    costs about three times as much and gives another stream).

    If the draws are on another device than ``generator`` (a CPU generator and CUDA
    parameters, say), that device's default generator is seeded from ``generator`` for the
    block and restored afterwards: reproducible, but not the same stream. With
    ``generator=None`` nothing changes: the draws come from torch's global state.
    """

    __slots__ = ("_default", "_generator", "_saved", "_swap", "_target")

    def __init__(self, generator: torch.Generator | None, distribution: Distribution) -> None:
        self._generator = generator
        self._target = distribution

    def __enter__(self) -> None:
        generator = self._generator
        if generator is None:
            return
        device = _parameter_device(self._target) or generator.device
        if device.type == "cpu" and generator.device.type == "cpu":
            # the common case, without the device bookkeeping below
            default, swap = torch.default_generator, True
        else:
            default, swap = _default_generator(device), _same_device(device, generator.device)
        self._default, self._saved, self._swap = default, default.get_state(), swap
        if swap:
            default.set_state(generator.get_state())
        else:
            seed = torch.randint(0, 2**62, (), generator=generator, device=generator.device)
            default.manual_seed(int(seed))

    def __exit__(self, *exc_info: object) -> None:
        generator = self._generator
        if generator is None:
            return
        if self._swap:
            generator.set_state(self._default.get_state())
        self._default.set_state(self._saved)


def _same_device(a: torch.device, b: torch.device) -> bool:
    if a.type != b.type:
        return False
    if a.type == "cuda":  # an unindexed CUDA device is the current one
        current = torch.cuda.current_device()
        return (a.index if a.index is not None else current) == (
            b.index if b.index is not None else current
        )
    return True


_CONSTRUCTORS: dict[type[Distribution], tuple[dict[str, inspect.Parameter], bool]] = {}


def _constructor(cls: type[Distribution]) -> tuple[dict[str, inspect.Parameter], bool]:
    """The keyword arguments of ``cls``'s constructor (without ``validate_args``), and
    whether it takes ``validate_args`` (read once per class: ``inspect`` is slow)."""
    if cls not in _CONSTRUCTORS:
        kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        signature = inspect.signature(cls.__init__)
        arguments = {
            name: argument
            for name, argument in list(signature.parameters.items())[1:]
            if argument.kind in kinds
        }
        takes_validate_args = arguments.pop("validate_args", None) is not None
        _CONSTRUCTORS[cls] = arguments, takes_validate_args
    return _CONSTRUCTORS[cls]


def _torch_parameters(distribution: Distribution) -> dict[str, Any]:
    """The parameters that define a torch distribution, as it holds them.

    These are the constructor's arguments that ``arg_constraints`` names (``loc`` and
    ``scale`` of a ``Normal``; ``concentration1`` and ``concentration0`` of a ``Beta``).
    Alternatives, the arguments that default to ``None`` (``probs`` or ``logits``;
    ``covariance_matrix``, ``precision_matrix`` or ``scale_tril``), count once: the one
    given to the constructor, which torch stores on the distribution before the other is
    ever computed, or on the distribution it wraps (the first in the constructor's order if
    neither stores one). Torch broadcasts most parameters to ``batch_shape`` (plus their
    event dimensions). An ``Independent`` has the parameters of the distribution it wraps.
    """
    if isinstance(distribution, Independent):
        return _torch_parameters(distribution.base_dist)
    arguments, _ = _constructor(type(distribution))
    named = distribution.arg_constraints
    names = [name for name in arguments if name in named]
    alternatives = [name for name in names if arguments[name].default is None]
    kept = [name for name in names if arguments[name].default is not None]
    if alternatives:
        given = [name for name in _stored_names(distribution) if name in alternatives]
        kept.append(given[0] if given else alternatives[0])
    return {name: getattr(distribution, name) for name in names if name in kept}


def _stored_names(distribution: Distribution) -> list[str]:
    """The attributes a distribution stores, and those of the distributions it wraps (a
    ``OneHotCategorical``'s ``Categorical``), in the order they were set."""
    names: list[str] = []
    for name, value in vars(distribution).items():
        names.append(name)
        if isinstance(value, Distribution):
            names.extend(_stored_names(value))
    return names


def _constraint_property(constraint: constraints.Constraint, name: str, default: Any) -> Any:
    """``constraint.is_discrete`` or ``.event_dim``, or ``default`` where torch cannot tell
    (``constraints.dependent`` raises ``NotImplementedError``)."""
    try:
        return getattr(constraint, name)
    except NotImplementedError:
        return default


def _differentiable_parameters(distribution: Distribution) -> dict[str, int]:
    """Name -> event dimensions of the parameters of ``_torch_parameters`` the estimators
    differentiate: floating-point tensors with a continuous constraint (not ``Binomial``'s
    ``total_count``). Event dimensions come from the constraint (1 for a ``real_vector``
    mean, 2 for a ``lower_cholesky`` factor), else from the shape beyond ``batch_shape``;
    an ``Independent`` adds the batch dimensions it reinterprets as event dimensions."""
    if isinstance(distribution, Independent):
        extra = distribution.reinterpreted_batch_ndims
        inner = _differentiable_parameters(distribution.base_dist)
        return {name: dims + extra for name, dims in inner.items()}
    batch_dims = len(distribution.batch_shape)
    named = distribution.arg_constraints
    result: dict[str, int] = {}
    for name, value in _torch_parameters(distribution).items():
        if not (isinstance(value, Tensor) and value.is_floating_point()):
            continue
        if _constraint_property(named[name], "is_discrete", False):
            continue
        fallback = max(value.dim() - batch_dims, 0)
        result[name] = int(_constraint_property(named[name], "event_dim", fallback))
    return result


def _rebuild(distribution: Distribution, parameters: Mapping[str, Any]) -> Distribution:
    """A distribution of the same class at other parameter values.

    ``parameters`` maps the names of ``_torch_parameters`` to values (per-draw copies of
    shape ``(N, *param_shape)``, say, for a distribution of batch shape
    ``(N, *batch_shape)``); the constructor's other arguments (``RelaxedBernoulli``'s
    ``temperature``) are read from the distribution. Argument validation is off: the
    parameters are the checked ones, or copies of them.
    """
    if isinstance(distribution, Independent):
        base = _rebuild(distribution.base_dist, parameters)
        extra = distribution.reinterpreted_batch_ndims
        return Independent(base, extra, validate_args=False)
    arguments, takes_validate_args = _constructor(type(distribution))
    named = distribution.arg_constraints
    kwargs = dict(parameters)
    for name, argument in arguments.items():
        if name in kwargs or name in named:
            continue
        if hasattr(distribution, name):
            kwargs[name] = getattr(distribution, name)
        elif argument.default is inspect.Parameter.empty:
            raise TypeError(
                f"distribution must hold its constructor argument {name!r} as an attribute "
                "(to be rebuilt at other parameter values), got a "
                f"{type(distribution).__name__} without it"
            )
    if takes_validate_args:
        kwargs["validate_args"] = False
    return type(distribution)(**kwargs)
