"""Catalog rows as torch.distributions: shapes, support, constraints, log_prob against
torch's own distributions, reproducible rsample, and a torch training loop that takes a
catalog row by changing one line."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch.distributions import constraints

import reparam
from reparam import catalog
from reparam.distributions import ReparamDistribution, from_catalog, torch_constraint

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


def test_validate_args_rejects_values_outside_the_support() -> None:
    q = from_catalog("exponential", rate=2.0, validate_args=True)
    with pytest.raises(ValueError):
        q.log_prob(torch.tensor(-1.0))
    assert torch.isinf(from_catalog("exponential", rate=2.0).log_prob(torch.tensor(-1.0)))


def test_constraints_map_to_torch() -> None:
    assert torch_constraint(reparam.reparameterization.real) is constraints.real
    assert torch_constraint(reparam.reparameterization.positive) is constraints.positive
    above = torch_constraint(reparam.reparameterization.greater_than(2.0))
    assert isinstance(above, constraints.greater_than) and above.lower_bound == 2.0
    unit = torch_constraint(reparam.reparameterization.open_unit_interval)
    assert unit.check(torch.tensor([0.5, 0.0, 1.0])).tolist() == [True, False, False]
    assert torch_constraint(lambda value, name: None) is constraints.dependent


def test_unknown_support_and_bad_input() -> None:
    q = ReparamDistribution(reparam.NORMAL, {"loc": 0.0, "scale": 1.0})
    with pytest.raises(NotImplementedError, match="support"):
        q.support  # noqa: B018
    with pytest.raises(ValueError, match="scale"):
        from_catalog("normal", loc=0.0, scale=-1.0)
    with pytest.raises(KeyError):
        from_catalog("no-such-row", loc=0.0)
    with pytest.raises(TypeError, match="reparameterization must be"):
        ReparamDistribution("normal", {"loc": 0.0})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="params must be a mapping"):
        ReparamDistribution(reparam.NORMAL, [0.0, 1.0])  # type: ignore[arg-type]


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
