"""Catalog rows as torch.distributions: shapes, support, constraints, log_prob against
torch's own distributions, reproducible rsample, and a torch training loop that takes a
catalog row by changing one line."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
import torch
from torch import Tensor
from torch.distributions import constraints

import reparam
from reparam import catalog
from reparam.distributions import ReparamDistribution, from_catalog, torch_constraint
from reparam.estimators import pathwise_gradient
from reparam.noise import standard_normal
from reparam.reparameterization import Parameter, Reparameterization

F64 = torch.float64
KEYS = list(catalog.CATALOG)


@pytest.mark.parametrize("key", KEYS)
def test_every_row_is_a_torch_distribution(key: str) -> None:
    entry = catalog.get(key)
    params: dict[str, Any] = dict(entry.example_params(F64))
    q = from_catalog(key, **params)
    assert isinstance(q, torch.distributions.Distribution) and q.has_rsample
    z = q.rsample((3, 4), generator=torch.Generator().manual_seed(0))
    assert z.shape == (3, 4, *q.batch_shape, *q.event_shape) and z.dtype == F64
    # Draws lie in the support, and log_prob is the row's (and torch's, where torch has it).
    assert bool(q.support.check(z).all())
    logp = q.log_prob(z)
    assert logp.shape == (3, 4, *q.batch_shape)
    torch.testing.assert_close(logp, entry.distribution.log_prob(z, params))
    if entry.torch_distribution is not None:
        theirs = entry.torch_distribution(entry.distribution.validate(params))
        torch.testing.assert_close(logp, theirs.log_prob(z), rtol=1e-9, atol=1e-9)
        assert q.event_shape == theirs.event_shape and q.batch_shape == theirs.batch_shape
    # Every parameter has a torch constraint, which its example value meets.
    assert set(q.arg_constraints) == set(entry.distribution.parameter_names)
    for name, constraint in q.arg_constraints.items():
        assert isinstance(constraint, constraints.Constraint)
        if constraint is not constraints.dependent:
            assert bool(constraint.check(params[name]).all()), name


def test_rsample_is_differentiable_and_reproducible() -> None:
    scale = torch.tensor([1.0, 2.0], dtype=F64, requires_grad=True)
    q = from_catalog("weibull", scale=scale, concentration=1.5)
    a = q.rsample((5,), generator=torch.Generator().manual_seed(1))
    b = q.rsample((5,), generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and a.shape == (5, 2)
    (grad,) = torch.autograd.grad(a.sum(), scale)
    # Weibull draws are proportional to the scale: d z / d scale = z / scale.
    torch.testing.assert_close(grad, (a / scale).sum(0).detach())
    s = q.sample((5,), generator=torch.Generator().manual_seed(1))
    assert not s.requires_grad and torch.equal(s, a.detach())
    assert q.rsample().shape == (2,) and q.rsample((0,)).shape == (0, 2)


def test_expand_and_shapes() -> None:
    q = from_catalog("multivariate_normal", loc=torch.zeros(3), scale_tril=torch.eye(3))
    assert q.batch_shape == () and q.event_shape == (3,)
    wide = q.expand((4,))
    assert wide.batch_shape == (4,) and wide.rsample((2,)).shape == (2, 4, 3)
    assert "MultivariateNormal" in repr(q) or "Multivariate" in repr(q)


def test_expand_keeps_the_support() -> None:
    """An expanded distribution has the same support as the original (torch's ``expand``
    keeps it too), whether the support was given as a rule or as a constraint, and
    ``validate_args`` still checks values against it."""
    gumbel = from_catalog("gumbel", loc=torch.zeros(2, dtype=F64), scale=1.0)
    theirs = torch.distributions.Gumbel(torch.zeros(2, dtype=F64), 1.0).expand((3, 2))
    assert gumbel.expand((3, 2)).support is theirs.support
    q = from_catalog("reciprocal", low=0.5, high=4.0, validate_args=True)
    before = q.expand((3,))  # q's support rule not applied yet
    assert float(q.support.lower_bound) == 0.5  # type: ignore[attr-defined]
    after = q.expand((2, 3))
    values = torch.tensor([0.25, 1.0, 8.0], dtype=F64)
    for wide in (before, after):
        assert wide.support.check(values).tolist() == [False, True, False]
        with pytest.raises(ValueError, match="support"):
            wide.log_prob(values)
        assert wide.log_prob(torch.ones(3, dtype=F64)).shape == wide.batch_shape


def test_validate_args_rejects_values_outside_the_support() -> None:
    q = from_catalog("exponential", rate=2.0, validate_args=True)
    with pytest.raises(ValueError):
        q.log_prob(torch.tensor(-1.0))
    assert torch.isinf(from_catalog("exponential", rate=2.0).log_prob(torch.tensor(-1.0)))


def _at_most(bound: float, value: torch.Tensor, name: str) -> None:
    if bool((value > bound).any()):
        raise ValueError(f"{name} must be at most {bound}")


class _AtMostTen:
    """A constraint that is a callable object (it has neither __name__ nor __qualname__)."""

    def __call__(self, value: torch.Tensor, name: str) -> None:
        _at_most(10.0, value, name)


def test_constraints_map_to_torch() -> None:
    assert torch_constraint(reparam.reparameterization.real) is constraints.real
    assert torch_constraint(reparam.reparameterization.positive) is constraints.positive
    above = torch_constraint(reparam.reparameterization.greater_than(2.0))
    assert isinstance(above, constraints.greater_than) and above.lower_bound == 2.0
    unit = torch_constraint(reparam.reparameterization.open_unit_interval)
    assert unit.check(torch.tensor([0.5, 0.0, 1.0])).tolist() == [True, False, False]
    assert torch_constraint(lambda value, name: None) is constraints.dependent
    # a user's constraint may be any callable: one without __name__ or __qualname__ (a
    # callable object, a functools.partial) is unknown to torch too
    assert torch_constraint(_AtMostTen()) is constraints.dependent
    assert torch_constraint(functools.partial(_at_most, 10.0)) is constraints.dependent


def test_unknown_support_and_bad_input() -> None:
    q = ReparamDistribution(reparam.NORMAL, {"loc": 0.0, "scale": 1.0})
    with pytest.raises(NotImplementedError, match="support"):
        q.support  # noqa: B018
    with pytest.raises(ValueError, match="scale"):
        from_catalog("normal", loc=0.0, scale=-1.0)
    with pytest.raises(KeyError):
        from_catalog("no-such-row", loc=0.0)
    with pytest.raises(
        TypeError, match=r"^reparameterization must be a reparam.Reparameterization, got str$"
    ):
        ReparamDistribution("normal", {"loc": 0.0})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^params must be a mapping name -> value, got list$"):
        ReparamDistribution(reparam.NORMAL, [0.0, 1.0])  # type: ignore[arg-type]


class _Forgetful(torch.distributions.Normal):
    """A Normal whose constructor takes an argument it does not keep."""

    def __init__(self, loc: float, scale: float, width: float) -> None:
        super().__init__(loc, scale)


def test_torch_helpers_errors_name_the_argument_and_the_constraint() -> None:
    from reparam.distributions import _default_generator, _rebuild

    message = (
        "^distribution must hold its constructor argument 'width' as an attribute "
        r"\(to be rebuilt at other parameter values\), got a _Forgetful without it$"
    )
    with pytest.raises(TypeError, match=message):
        _rebuild(_Forgetful(0.0, 1.0, 2.0), {"loc": torch.zeros(2), "scale": torch.ones(2)})
    with pytest.raises(
        ValueError, match=r"^generator must be None for torch.distributions draws on device meta"
    ):
        _default_generator(torch.device("meta"))


def test_an_unindexed_cuda_device_is_the_current_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """torch's rule: ``torch.device("cuda")`` is the current CUDA device. Checked without a GPU
    by standing in for torch.cuda's current device (1) and default generators."""
    from reparam.distributions import _default_generator, _same_device

    generators = (torch.Generator(), torch.Generator())
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 1)
    monkeypatch.setattr(torch.cuda, "default_generators", generators)
    cuda, cuda0, cuda1 = torch.device("cuda"), torch.device("cuda", 0), torch.device("cuda", 1)
    assert _default_generator(cuda) is generators[1]
    assert _default_generator(cuda0) is generators[0]
    assert _default_generator(cuda1) is generators[1]
    assert _same_device(cuda, cuda1) and _same_device(cuda1, cuda) and _same_device(cuda, cuda)
    assert not _same_device(cuda, cuda0) and not _same_device(cuda0, cuda)
    assert not _same_device(cuda0, cuda1)
    cpu = torch.device("cpu")
    assert _same_device(cpu, cpu) and not _same_device(cpu, cuda1)


def _seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@dataclass(frozen=True, eq=False)
class _CountingShift(Reparameterization):
    """z = loc + ε, ε ~ N(0, 1), counting its base draws (a user's own row)."""

    name: str = "CountingShift"
    parameters: tuple[Parameter, ...] = (Parameter("loc"),)
    base_draws: list[int] = field(default_factory=list)

    def sample_base(
        self, num_samples: int, params: Mapping[str, Tensor], generator: torch.Generator | None
    ) -> Tensor:
        self.base_draws.append(num_samples)
        loc = params["loc"]
        return standard_normal((num_samples, *loc.shape), generator=generator, dtype=loc.dtype)

    def transform(self, eps: Tensor, params: Mapping[str, Tensor]) -> Tensor:
        return params["loc"] + eps

    def log_prob(self, value: Tensor, params: Mapping[str, Tensor]) -> Tensor:
        return torch.distributions.Normal(params["loc"], 1.0).log_prob(value)


def test_building_a_distribution_probes_once_per_shape_off_the_global_stream() -> None:
    """The event shape comes from one probe draw per row and parameter shapes (a training
    loop building the distribution at every step draws once), from a private generator:
    torch's global random state is left as it was."""
    row = _CountingShift()
    state = torch.get_rng_state()
    for _ in range(3):
        q = ReparamDistribution(row, {"loc": torch.zeros(2, 3, dtype=F64)})
        assert q.batch_shape == (2, 3) and q.event_shape == ()
    assert row.base_draws == [1]
    q = ReparamDistribution(row, {"loc": torch.zeros(4, dtype=F64)})
    assert q.batch_shape == (4,) and row.base_draws == [1, 1]  # new shapes: a new probe
    assert torch.equal(state, torch.get_rng_state())


def test_torch_draws_do_not_depend_on_whether_cuda_is_initialized(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Once CUDA is initialized, the draws of a torch distribution are redirected to the
    generator by looking up the parameters' device (not assuming the CPU): for CPU
    parameters and a CPU generator, the same numbers, and the global state left alone."""
    q = torch.distributions.Gamma(torch.tensor([2.0, 0.5], dtype=F64), 1.5)
    expected = pathwise_gradient(torch.square, q, None, 4, generator=_seeded(3))
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
    state = torch.get_rng_state()
    got = pathwise_gradient(torch.square, q, None, 4, generator=_seeded(3))
    assert got.keys() == expected.keys()
    assert all(torch.equal(got[name], expected[name]) for name in got)
    assert torch.equal(state, torch.get_rng_state())


def fit(make_q: object, steps: int = 300) -> torch.Tensor:
    """A training loop written for torch.distributions: fit q to minimise E_q[(z - 3)^2]."""
    torch.manual_seed(0)
    loc = torch.zeros((), dtype=F64, requires_grad=True)
    log_scale = torch.zeros((), dtype=F64, requires_grad=True)
    optimiser = torch.optim.Adam([loc, log_scale], lr=0.05)
    for _ in range(steps):
        q = make_q(loc, log_scale.exp())  # type: ignore[operator]
        loss = ((q.rsample((32,)) - 3.0) ** 2).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return loc.detach()


def test_a_torch_training_loop_takes_a_catalog_row_by_changing_one_line() -> None:
    def torch_normal(loc: torch.Tensor, scale: torch.Tensor) -> object:
        return torch.distributions.Normal(loc, scale)

    def catalog_normal(loc: torch.Tensor, scale: torch.Tensor) -> object:
        return from_catalog("normal", loc=loc, scale=scale)

    def catalog_laplace(loc: torch.Tensor, scale: torch.Tensor) -> object:
        return from_catalog("laplace", loc=loc, scale=scale)

    for make_q in (torch_normal, catalog_normal, catalog_laplace):
        # E[(z - 3)^2] = (loc - 3)^2 + Var z: the optimum is loc = 3 with the scale shrinking.
        assert abs(fit(make_q).item() - 3.0) < 0.05


def test_event_shapes_follow_the_parameter_shapes_of_each_construction() -> None:
    """The event shape is remembered per row *and parameter shapes*: building the same row
    with other shapes gives their event shape, not the first one's."""
    for dim, batch in ((2, ()), (3, ()), (3, (4,)), (2, ())):
        q = from_catalog(
            "multivariate_normal",
            loc=torch.zeros(*batch, dim, dtype=F64),
            scale_tril=torch.eye(dim, dtype=F64),
        )
        assert q.batch_shape == batch and q.event_shape == (dim,)
        assert q.rsample((5,)).shape == (5, *batch, dim)


def test_support_is_the_rows_at_these_parameters_and_built_once() -> None:
    q = from_catalog("reciprocal", low=torch.tensor(0.5, dtype=F64), high=4.0)
    support = q.support
    assert support is q.support  # the rule runs on first use only
    assert isinstance(support, constraints.interval)
    assert float(support.lower_bound) == 0.5 and float(support.upper_bound) == 4.0
    beta = from_catalog("beta", concentration1=2.0, concentration0=3.0).support
    assert beta is torch.distributions.Beta(2.0, 3.0).support  # torch's counterpart's
