"""Surrogate losses: their gradients are the estimators' (exactly, at the same draws), they
flow into parameters upstream, they take torch.distributions, and they are unbiased against
exact gradients (tolerances from standard errors computed here)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch.distributions import Distribution

import reparam
from reparam import catalog
from reparam.distributions import from_catalog
from reparam.estimators import (
    measure_valued_gradient,
    pathwise_gradient,
    score_function_gradient,
)
from reparam.surrogate import (
    measure_valued_surrogate,
    pathwise_surrogate,
    score_function_surrogate,
    surrogate_from_gradients,
)

F64 = torch.float64


def square(z: torch.Tensor) -> torch.Tensor:
    return z**2


def seeded(seed: int = 7) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def grads_of(loss: torch.Tensor, *leaves: torch.Tensor) -> tuple[torch.Tensor, ...]:
    return torch.autograd.grad(loss, leaves)


def test_pathwise_surrogate_gradient_is_the_estimators_mean() -> None:
    loc = torch.tensor([0.3, -1.0], dtype=F64, requires_grad=True)
    scale = torch.tensor([0.7, 2.0], dtype=F64, requires_grad=True)
    loss = pathwise_surrogate(
        square, reparam.NORMAL, {"loc": loc, "scale": scale}, 64, generator=seeded()
    )
    g_loc, g_scale = grads_of(loss, loc, scale)
    per_sample = pathwise_gradient(
        square, reparam.NORMAL, {"loc": loc, "scale": scale}, 64, generator=seeded()
    )
    torch.testing.assert_close(g_loc, per_sample["loc"].mean(0), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(g_scale, per_sample["scale"].mean(0), rtol=1e-12, atol=1e-12)
    # The value is the Monte Carlo estimate of E[sum f]: the same draws, averaged.
    z = reparam.NORMAL.rsample(64, generator=seeded(), loc=loc, scale=scale)
    torch.testing.assert_close(loss, (z**2).sum(1).mean(), rtol=1e-12, atol=0)


@pytest.mark.parametrize("key", ["gumbel", "weibull", "kumaraswamy", "multivariate_normal"])
def test_pathwise_surrogate_matches_estimator_on_catalog_rows(key: str) -> None:
    entry = catalog.get(key)
    params = {k: v.requires_grad_(True) for k, v in entry.example_params(F64).items()}
    differentiable = [p.name for p in entry.distribution.parameters if p.differentiable]

    def cost(z: torch.Tensor) -> torch.Tensor:
        return entry.summary(z) ** 2

    loss = pathwise_surrogate(cost, entry.distribution, params, 32, generator=seeded())
    grads = grads_of(loss, *(params[name] for name in differentiable))
    per_sample = pathwise_gradient(cost, entry.distribution, params, 32, generator=seeded())
    for name, grad in zip(differentiable, grads, strict=True):
        torch.testing.assert_close(grad, per_sample[name].mean(0), rtol=1e-10, atol=1e-12)


def test_gradient_flows_into_an_upstream_network() -> None:
    """loc and scale computed by a linear 'encoder': the chain rule through the surrogate."""
    x = torch.tensor([1.0, -2.0, 0.5], dtype=F64)
    weight = torch.tensor([[0.2, 0.1, -0.3], [0.0, 0.4, 0.2]], dtype=F64, requires_grad=True)
    out = weight @ x
    loc, scale = out[0], torch.nn.functional.softplus(out[1])
    loss = pathwise_surrogate(
        square, reparam.NORMAL, {"loc": loc, "scale": scale}, 16, generator=seeded()
    )
    (g_weight,) = grads_of(loss, weight)
    per_sample = pathwise_gradient(
        square,
        reparam.NORMAL,
        {"loc": loc.detach(), "scale": scale.detach()},
        16,
        generator=seeded(),
    )
    d_scale = torch.sigmoid(out[1].detach())  # softplus'
    expected = torch.stack([per_sample["loc"].mean() * x, per_sample["scale"].mean() * d_scale * x])
    torch.testing.assert_close(g_weight, expected, rtol=1e-12, atol=1e-12)


def unbiased(estimates: torch.Tensor, exact: torch.Tensor, z: float = 5.0) -> None:
    """The mean of independent estimates is within z standard errors of the exact value."""
    mean = estimates.mean(0)
    se = estimates.std(0) / math.sqrt(estimates.shape[0])
    assert bool(((mean - exact).abs() <= z * se).all()), (mean, exact, se)


def test_surrogates_are_unbiased_for_torch_normal() -> None:
    mu, sigma = 0.4, 1.3
    exact = torch.tensor([2 * mu, 2 * sigma], dtype=F64)  # d/d(mu, sigma) of mu^2 + sigma^2
    generator = seeded(11)
    rows: dict[str, list[torch.Tensor]] = {"pathwise": [], "score": [], "loo": [], "measure": []}
    for _ in range(300):
        loc = torch.tensor(mu, dtype=F64, requires_grad=True)
        scale = torch.tensor(sigma, dtype=F64, requires_grad=True)
        q = torch.distributions.Normal(loc, scale)
        losses = {
            "pathwise": pathwise_surrogate(square, q, None, 8, generator=generator),
            "score": score_function_surrogate(square, q, None, 8, generator=generator),
            "loo": score_function_surrogate(
                square, q, None, 8, generator=generator, baseline="leave_one_out"
            ),
            "measure": measure_valued_surrogate(square, q, None, 8, generator=generator),
        }
        for name, loss in losses.items():
            rows[name].append(torch.stack(grads_of(loss, loc, scale)))
    for estimates in rows.values():
        unbiased(torch.stack(estimates), exact)
    # The leave-one-out baseline lowers the variance of the score-function surrogate.
    assert torch.stack(rows["loo"]).var(0).sum() < torch.stack(rows["score"]).var(0).sum()


def test_score_function_surrogate_with_a_discrete_torch_distribution() -> None:
    """Bernoulli has no rsample: the score-function surrogate still gives d/dlogit E[f]."""
    logit = torch.tensor(0.3, dtype=F64, requires_grad=True)
    target = 0.45
    p = torch.sigmoid(logit.detach())
    exact = (1 - 2 * target) * p * (1 - p)  # d/dlogit [p (1-t)^2 + (1-p) t^2]
    generator = seeded(3)
    estimates = []
    for _ in range(400):
        q = torch.distributions.Bernoulli(logits=logit)
        loss = score_function_surrogate(
            lambda b: (b - target) ** 2, q, None, 16, generator=generator, baseline="leave_one_out"
        )
        estimates.append(grads_of(loss, logit)[0])
    unbiased(torch.stack(estimates), exact)
    with pytest.raises(TypeError, match="distribution must have rsample"):
        pathwise_surrogate(square, torch.distributions.Bernoulli(logits=logit), None, 4)


def test_score_function_surrogate_value_and_per_batch_scores() -> None:
    loc = torch.tensor([0.0, 1.0, -1.0], dtype=F64, requires_grad=True)
    params = {"loc": loc, "scale": torch.ones(3, dtype=F64)}
    loss = score_function_surrogate(square, reparam.NORMAL, params, 64, generator=seeded())
    z = reparam.NORMAL.rsample(64, generator=seeded(), **{k: v.detach() for k, v in params.items()})
    torch.testing.assert_close(loss, (z**2).sum(1).mean(), rtol=1e-12, atol=0)
    (g_loc,) = grads_of(loss, loc)
    per_sample = score_function_gradient(square, reparam.NORMAL, params, 64, generator=seeded())
    torch.testing.assert_close(g_loc, per_sample["loc"].mean(0), rtol=1e-10, atol=1e-12)
    # A constant baseline changes the gradient as (f - b) s does, and not the value.
    loss_b = score_function_surrogate(
        square, reparam.NORMAL, params, 64, generator=seeded(), baseline=2.0
    )
    (g_b,) = grads_of(loss_b, loc)
    score = z - loc.detach()  # d/dloc log N(z; loc, 1)
    torch.testing.assert_close(g_b, ((z**2 - 2.0) * score).mean(0), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(loss_b.detach(), loss.detach(), rtol=1e-12, atol=0)


def test_measure_valued_surrogate_is_the_estimators_mean_with_value_zero() -> None:
    loc = torch.tensor(0.2, dtype=F64, requires_grad=True)
    scale = torch.tensor(0.9, dtype=F64, requires_grad=True)
    loss = measure_valued_surrogate(
        torch.cos, reparam.NORMAL, {"loc": loc, "scale": scale}, 32, generator=seeded()
    )
    assert loss.item() == 0.0
    per_sample = measure_valued_gradient(
        torch.cos, reparam.NORMAL, {"loc": loc, "scale": scale}, 32, generator=seeded()
    )
    g_loc, g_scale = grads_of(loss, loc, scale)
    torch.testing.assert_close(g_loc, per_sample["loc"].mean(0), rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(g_scale, per_sample["scale"].mean(0), rtol=1e-12, atol=1e-14)


def test_generator_makes_torch_draws_reproducible_and_leaves_global_state() -> None:
    q = torch.distributions.Gamma(torch.tensor(2.0, dtype=F64), torch.tensor(1.0, dtype=F64))
    state = torch.get_rng_state()
    a = pathwise_surrogate(square, q, None, 10, generator=seeded(5))
    b = pathwise_surrogate(square, q, None, 10, generator=seeded(5))
    c = pathwise_surrogate(square, q, None, 10, generator=seeded(6))
    assert a.item() == b.item() and a.item() != c.item()
    assert torch.equal(state, torch.get_rng_state())


def test_bad_input_names_the_argument() -> None:
    q = torch.distributions.Normal(0.0, 1.0)
    with pytest.raises(TypeError, match="params must be None"):
        pathwise_surrogate(square, q, {"loc": 0.0}, 4)
    with pytest.raises(TypeError, match="distribution must be"):
        pathwise_surrogate(square, "normal", {"loc": 0.0}, 4)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="num_samples"):
        pathwise_surrogate(square, q, None, 0)
    with pytest.raises(ValueError, match="leave_one_out"):
        score_function_surrogate(square, q, None, 1, baseline="leave_one_out")
    with pytest.raises(ValueError, match="baseline must be"):
        score_function_surrogate(square, q, None, 4, baseline="optimal")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="baseline must be finite"):
        score_function_surrogate(square, q, None, 4, baseline=math.nan)
    with pytest.raises(ValueError, match=r"^num_samples must be at least 2 for .*leave_one_out"):
        score_function_surrogate(square, q, None, 1, baseline="leave_one_out")
    # a baseline per batch element for a cost summed over the batch: not broadcast up
    pair = torch.distributions.Normal(torch.zeros(2), torch.ones(2))
    with pytest.raises(ValueError, match=r"^baseline must broadcast to the cost's shape"):
        score_function_surrogate(lambda z: z.sum(-1), pair, None, 4, baseline=torch.ones(2))
    with pytest.raises(TypeError, match=r"^distribution must be the Gaussian.*got Gamma$"):
        measure_valued_surrogate(square, torch.distributions.Gamma(1.0, 1.0), None, 4)
    with pytest.raises(TypeError, match="params must be None"):
        measure_valued_surrogate(square, q, {"loc": 0.0, "scale": 1.0}, 4)
    with pytest.raises(ValueError, match="scale"):
        pathwise_surrogate(square, reparam.NORMAL, {"loc": 0.0, "scale": -1.0}, 4)
    with pytest.raises(ValueError, match="lacks: nope"):
        surrogate_from_gradients({"loc": torch.zeros(2)}, {"nope": torch.zeros(3, 2)})
    with pytest.raises(ValueError, match=r"shape \(N, \*\(2,\)\)"):
        surrogate_from_gradients({"loc": torch.zeros(2)}, {"loc": torch.zeros(3, 4)})
    # each message starts with the name of the argument at fault
    for surrogate in (pathwise_surrogate, score_function_surrogate, measure_valued_surrogate):
        with pytest.raises(TypeError, match=r"^cost must be callable"):
            surrogate(3.0, q, None, 4)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^baseline must be a real number or a torch.Tensor"):
        score_function_surrogate(square, q, None, 4, baseline=[0.5])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^params must be a mapping name -> tensor, got list$"):
        surrogate_from_gradients([torch.zeros(2)], {"loc": torch.zeros(3, 2)})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^gradients must be a mapping name -> tensor, got list$"):
        surrogate_from_gradients({"loc": torch.zeros(2)}, [torch.zeros(3, 2)])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^gradients must name at least one parameter$"):
        surrogate_from_gradients({"loc": torch.zeros(2)}, {})


def _torch_rows() -> dict[str, tuple[Callable[..., Distribution], dict[str, list[float]]]]:
    return {
        "normal": (torch.distributions.Normal, {"loc": [0.3, -1.0], "scale": [0.7, 2.0]}),
        "gamma": (torch.distributions.Gamma, {"concentration": [0.6, 3.0], "rate": [1.0, 2.5]}),
        "beta": (
            torch.distributions.Beta,
            {"concentration1": [0.8, 2.0], "concentration0": [1.5, 0.9]},
        ),
    }


@pytest.mark.parametrize("key", list(_torch_rows()))
def test_torch_surrogates_are_the_estimators_means_at_the_same_draws(key: str) -> None:
    """A torch distribution with a generator: the surrogate and the per-sample estimator draw
    the same stream (the estimator from a distribution rebuilt with one parameter copy per
    draw), so the surrogate's gradient is the per-sample gradients' mean, to rounding."""
    cls, raw = _torch_rows()[key]
    params = {k: torch.tensor(v, dtype=F64, requires_grad=True) for k, v in raw.items()}
    q = cls(**params)
    for surrogate, estimator in (
        (pathwise_surrogate, pathwise_gradient),
        (score_function_surrogate, score_function_gradient),
    ):
        loss = surrogate(square, q, None, 16, generator=seeded())
        grads = grads_of(loss, *params.values())
        per_sample = estimator(square, q, None, 16, generator=seeded())
        assert set(per_sample) == set(params)
        for name, grad in zip(params, grads, strict=True):
            torch.testing.assert_close(grad, per_sample[name].mean(0), rtol=1e-9, atol=1e-12)


def test_torch_normal_surrogates_equal_reparam_normal() -> None:
    """torch's Normal draws from the generator's own stream: the same draws, values and
    gradients as reparam.NORMAL, and the generator advances alike (second call too)."""
    loc = torch.tensor([0.3, -1.0], dtype=F64, requires_grad=True)
    scale = torch.tensor([0.7, 2.0], dtype=F64, requires_grad=True)
    params = {"loc": loc, "scale": scale}
    ours, theirs = seeded(), seeded()
    for surrogate in (pathwise_surrogate, score_function_surrogate, pathwise_surrogate):
        a = surrogate(torch.cos, reparam.NORMAL, params, 8, generator=ours)
        b = surrogate(torch.cos, torch.distributions.Normal(loc, scale), None, 8, generator=theirs)
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
        for g_a, g_b in zip(grads_of(a, loc, scale), grads_of(b, loc, scale), strict=True):
            torch.testing.assert_close(g_a, g_b, rtol=1e-12, atol=1e-12)


def test_catalog_rows_as_distributions_take_the_rows_path() -> None:
    """from_catalog(...) in a surrogate is the row itself: the same draws from the generator."""
    entry = catalog.get("gumbel")
    params: dict[str, Any] = {
        k: v.requires_grad_(True) for k, v in entry.example_params(F64).items()
    }
    q = from_catalog("gumbel", **params)
    a = pathwise_surrogate(square, q, None, 8, generator=seeded())
    b = pathwise_surrogate(square, entry.distribution, params, 8, generator=seeded())
    assert a.item() == b.item()
    with pytest.raises(TypeError, match="params must be None"):
        pathwise_surrogate(square, q, params, 8)


# -- costs that depend on trainable tensors (the full DiCE-style gradient) ---------------------
def shifted_square(theta: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """The cost f_θ(z) = (z − θ)², differentiable in θ."""
    return lambda z: (z - theta) ** 2


def _shifted_square_gradients(
    make: Callable[[torch.Tensor, torch.Tensor], tuple[Any, Any]],
    baseline: float | str | None,
    calls: int,
    generator: torch.Generator,
) -> torch.Tensor:
    """Gradients (θ, μ, σ) of the score-function surrogate of E[(z − θ)²], z ~ N(μ, σ²), one
    row per independent call of 4 draws (a gradient the loss does not reach counts as 0)."""
    rows = []
    for _ in range(calls):
        theta = torch.tensor(-0.5, dtype=F64, requires_grad=True)
        loc = torch.tensor(0.4, dtype=F64, requires_grad=True)
        scale = torch.tensor(1.3, dtype=F64, requires_grad=True)
        distribution, params = make(loc, scale)
        loss = score_function_surrogate(
            shifted_square(theta),
            distribution,
            params,
            4,
            generator=generator,
            baseline=baseline,  # type: ignore[arg-type]
        )
        grads = torch.autograd.grad(loss, (theta, loc, scale), allow_unused=True)
        rows.append(torch.stack([torch.zeros((), dtype=F64) if g is None else g for g in grads]))
    return torch.stack(rows)


_NORMALS: dict[str, Callable[[torch.Tensor, torch.Tensor], tuple[Any, Any]]] = {
    "reparam": lambda loc, scale: (reparam.NORMAL, {"loc": loc, "scale": scale}),
    "torch": lambda loc, scale: (torch.distributions.Normal(loc, scale), None),
}


@pytest.mark.parametrize("baseline", [None, 1.5, "leave_one_out"])
@pytest.mark.parametrize("form", list(_NORMALS))
def test_score_function_surrogate_differentiates_a_parameter_dependent_cost(
    form: str, baseline: float | str | None
) -> None:
    """f_θ(z) = (z − θ)², z ~ N(μ, σ²): E[f] = (μ − θ)² + σ², so the exact gradients are
    ∂θ = −2(μ − θ), ∂μ = 2(μ − θ), ∂σ = 2σ. The surrogate must give θ the cost's own
    gradient at the draws, E[∇θ f], on top of the score term (which gets μ and σ right
    alone): a cost evaluated without autograd leaves θ without gradient, and a score term
    built from the undetached cost counts ∇θ f again, weighted by log p."""
    mu, theta, sigma = 0.4, -0.5, 1.3
    exact = torch.tensor([-2 * (mu - theta), 2 * (mu - theta), 2 * sigma], dtype=F64)
    estimates = _shifted_square_gradients(_NORMALS[form], baseline, 500, seeded(31))
    unbiased(estimates, exact)


def test_parameter_dependent_cost_value_and_direct_gradient_at_the_draws() -> None:
    """The value is the mean cost at the draws, as for any cost; θ's gradient is the
    exact (1/N) Σₙ ∇θ f_θ(zₙ) at those draws, summed over the batch."""
    theta = torch.tensor([0.3, -0.2], dtype=F64, requires_grad=True)
    loc = torch.tensor([0.5, 1.0], dtype=F64, requires_grad=True)
    params = {"loc": loc, "scale": torch.tensor([0.8, 1.1], dtype=F64)}
    loss = score_function_surrogate(
        shifted_square(theta), reparam.NORMAL, params, 16, generator=seeded(4)
    )
    z = reparam.NORMAL.rsample(16, generator=seeded(4), loc=loc.detach(), scale=params["scale"])
    torch.testing.assert_close(loss, ((z - theta.detach()) ** 2).sum(1).mean(), rtol=1e-12, atol=0)
    (g_theta,) = grads_of(loss, theta)
    torch.testing.assert_close(g_theta, (-2 * (z - theta.detach())).mean(0), rtol=1e-12, atol=0)


def test_cost_free_of_trainable_tensors_builds_no_graph() -> None:
    """A cost of the draws alone is evaluated without building a graph (the draws carry
    none), so the loss and its gradient are the plain score-function surrogate's; under
    ``torch.no_grad()`` a parameter-dependent cost builds none either."""
    loc = torch.tensor([0.2, -0.4], dtype=F64, requires_grad=True)
    params = {"loc": loc, "scale": torch.tensor([1.0, 0.5], dtype=F64)}
    outputs: list[torch.Tensor] = []

    def cost(z: torch.Tensor) -> torch.Tensor:
        outputs.append(torch.cos(z))
        return outputs[-1]

    loss = score_function_surrogate(cost, reparam.NORMAL, params, 8, generator=seeded(8))
    assert not outputs[0].requires_grad
    z = reparam.NORMAL.rsample(8, generator=seeded(8), loc=loc.detach(), scale=params["scale"])
    f = torch.cos(z)
    score = (z - loc.detach()) / params["scale"] ** 2
    (g_loc,) = grads_of(loss, loc)
    assert torch.equal(loss.detach(), f.reshape(8, -1).sum(1).mean())
    torch.testing.assert_close(g_loc, (f * score).mean(0), rtol=1e-12, atol=1e-15)
    theta = torch.tensor(0.1, dtype=F64, requires_grad=True)
    with torch.no_grad():
        quiet = score_function_surrogate(
            shifted_square(theta), reparam.NORMAL, params, 8, generator=seeded(8)
        )
    assert quiet.grad_fn is None


@pytest.mark.parametrize("form", ["torch", "reparam"])
def test_results_do_not_depend_on_torchs_default_device(form: str) -> None:
    """Draws follow the parameters' device and the generator's stream, not torch's default
    device: with another default device set (``meta``), CPU parameters and a CPU generator
    give the same numbers, on the CPU, as without."""
    loc = torch.tensor([0.3, -1.0], dtype=F64, requires_grad=True)
    scale = torch.tensor([0.7, 2.0], dtype=F64)
    distribution: Any = (
        torch.distributions.Normal(loc, scale) if form == "torch" else reparam.NORMAL
    )
    params = None if form == "torch" else {"loc": loc, "scale": scale}
    functions: list[Callable[..., Any]] = [
        pathwise_surrogate,
        score_function_surrogate,
        measure_valued_surrogate,
        pathwise_gradient,
        score_function_gradient,
        measure_valued_gradient,
    ]
    for function in functions:
        expected = function(square, distribution, params, 5, generator=seeded())
        with torch.device("meta"):
            got = function(square, distribution, params, 5, generator=seeded())
        if isinstance(expected, dict):
            assert got.keys() == expected.keys()
            got, expected = torch.stack(list(got.values())), torch.stack(list(expected.values()))
        assert got.device.type == "cpu" and torch.equal(got, expected), function.__name__
