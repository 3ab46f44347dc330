"""Tests of reparam.estimators against exact gradients, torch.distributions and each other.

Statistical checks use fixed seeds and tolerances of 5 standard errors (computed from the
per-sample gradients themselves), plus a tiny absolute slack for zero-variance cases.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
import torch
from torch import Tensor

import reparam
from reparam.estimators import (
    measure_valued_gradient,
    pathwise_gradient,
    score_function_gradient,
)
from reparam.reparameterization import Parameter, Reparameterization, open_unit_interval

Z = 5.0  # tolerance in standard errors
LOC, SCALE = 1.0, 1.0

COSTS = [
    reparam.constant_cost(2.0),
    reparam.linear_cost(2.0, 1.0),
    reparam.quadratic_cost(0.5),
    reparam.exp_quadratic_cost(1.0),
    reparam.cosine_cost(2.0),
]


def _sf_optimal(*args: Any, **kwargs: Any) -> dict[str, Tensor]:
    return score_function_gradient(*args, baseline="optimal", **kwargs)


def _sf_constant(*args: Any, **kwargs: Any) -> dict[str, Tensor]:
    return score_function_gradient(*args, baseline=0.7, **kwargs)


ESTIMATORS: dict[str, Callable[..., dict[str, Tensor]]] = {
    "pathwise": pathwise_gradient,
    "score_function": score_function_gradient,
    "score_function_optimal": _sf_optimal,
    "score_function_constant": _sf_constant,
    "measure_valued": measure_valued_gradient,
}


def _assert_unbiased(draws: Tensor, exact: Tensor, what: str) -> None:
    estimate = reparam.summarize(draws)
    tolerance = Z * estimate.std_error + 1e-9
    assert (estimate.mean - exact).abs().le(tolerance).all(), (
        f"{what}: estimate {estimate.mean.tolist()} ± {estimate.std_error.tolist()}, "
        f"exact {exact.tolist()}"
    )


@pytest.mark.parametrize("cost", COSTS, ids=lambda c: c.name)
@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_unbiased_against_exact_gradient(cost: reparam.GaussianTestCost, name: str) -> None:
    torch.manual_seed(0)  # unused by the estimators; guards against accidental global use
    generator = torch.Generator().manual_seed(1234)
    params = {"loc": torch.tensor(LOC, dtype=torch.float64), "scale": SCALE}
    grads = ESTIMATORS[name](cost, reparam.NORMAL, params, 20_000, generator=generator)
    exact_loc, exact_scale = reparam.exact_gradient(cost, params["loc"], SCALE)
    assert set(grads) == {"loc", "scale"}
    assert grads["loc"].shape == grads["scale"].shape == (20_000,)
    _assert_unbiased(grads["loc"], exact_loc, f"{name} d/dloc {cost.name}")
    _assert_unbiased(grads["scale"], exact_scale, f"{name} d/dscale {cost.name}")


@pytest.mark.parametrize("name", ["pathwise", "score_function_optimal", "measure_valued"])
def test_unbiased_over_a_range_of_parameters(name: str) -> None:
    """A batch of (μ, σ, k) settings in one call: each entry is its own problem."""
    generator = torch.Generator().manual_seed(7)
    loc = torch.tensor([-1.5, 0.0, 0.5, 2.0], dtype=torch.float64)
    scale = torch.tensor([0.3, 1.0, 2.0, 0.7], dtype=torch.float64)
    k = torch.tensor([0.5, 1.0, 2.0, 5.0], dtype=torch.float64)

    def cost(z: Tensor) -> Tensor:
        return torch.cos(k * z)

    grads = ESTIMATORS[name](
        cost, reparam.NORMAL, {"loc": loc, "scale": scale}, 40_000, generator=generator
    )
    loc_r = loc.clone().requires_grad_(True)
    scale_r = scale.clone().requires_grad_(True)
    value = (torch.cos(k * loc_r) * torch.exp(-0.5 * k**2 * scale_r**2)).sum()
    exact_loc, exact_scale = torch.autograd.grad(value, (loc_r, scale_r))
    _assert_unbiased(grads["loc"], exact_loc, f"{name} loc")
    _assert_unbiased(grads["scale"], exact_scale, f"{name} scale")


def test_estimators_agree_with_each_other() -> None:
    """A cost with no closed form at hand: all estimators agree within their errors."""

    def cost(z: Tensor) -> Tensor:
        return torch.tanh(z) * z + torch.sin(3 * z)

    params = {"loc": torch.tensor([0.3, -0.8]), "scale": torch.tensor([0.9, 1.4])}
    params = {k: v.double() for k, v in params.items()}
    estimates = {}
    for i, (name, estimator) in enumerate(ESTIMATORS.items()):
        grads = estimator(
            cost, reparam.NORMAL, params, 40_000, generator=torch.Generator().manual_seed(100 + i)
        )
        estimates[name] = {p: reparam.summarize(g) for p, g in grads.items()}
    reference = estimates["pathwise"]
    for name, estimate in estimates.items():
        for p in ("loc", "scale"):
            gap = (estimate[p].mean - reference[p].mean).abs()
            se = (estimate[p].std_error.square() + reference[p].std_error.square()).sqrt()
            assert gap.le(Z * se).all(), f"{name} disagrees with pathwise on {p}"


def test_pathwise_equals_autograd_through_torch_normal_rsample(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Same ε: pathwise per-sample gradients equal autograd through Normal.rsample.

    ``Normal.rsample`` draws its ε with ``torch.distributions.normal._standard_normal``
    from the global generator; we replace that one function by one returning *our* ε
    (drawn from a generator with the same seed as the one handed to the estimator). The
    rest of ``rsample`` (``loc + eps * scale``) and all of autograd run unchanged, so the
    comparison tests the estimator against PyTorch's own reparameterized path.
    """
    num_samples, batch = 64, (3,)
    loc = torch.tensor([0.2, -1.0, 2.5], dtype=torch.float64)
    scale = torch.tensor([0.5, 1.3, 2.0], dtype=torch.float64)
    cost = reparam.exp_quadratic_cost(0.7)
    seed = 2024
    eps = reparam.standard_normal(
        (num_samples, *batch), generator=torch.Generator().manual_seed(seed), dtype=torch.float64
    )
    calls = []

    def fake_standard_normal(shape: Any, dtype: Any, device: Any) -> Tensor:
        calls.append(tuple(shape))
        assert tuple(shape) == (num_samples, *batch)
        return eps.to(dtype=dtype, device=device)

    monkeypatch.setattr(torch.distributions.normal, "_standard_normal", fake_standard_normal)
    # Per-sample autograd: one copy of the parameters per draw.
    loc_n = loc.expand(num_samples, *batch).clone().requires_grad_(True)
    scale_n = scale.expand(num_samples, *batch).clone().requires_grad_(True)
    z = torch.distributions.Normal(loc_n, scale_n).rsample()
    d_loc, d_scale = torch.autograd.grad(cost(z).sum(), (loc_n, scale_n))
    assert calls == [(num_samples, *batch)]

    grads = pathwise_gradient(
        cost,
        reparam.NORMAL,
        {"loc": loc, "scale": scale},
        num_samples,
        generator=torch.Generator().manual_seed(seed),
    )
    torch.testing.assert_close(grads["loc"], d_loc, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(grads["scale"], d_scale, rtol=1e-12, atol=1e-14)


def test_pathwise_total_equals_autograd_of_the_mean() -> None:
    """The mean of the per-sample gradients is the gradient of the sample mean."""
    seed, n = 3, 500
    cost = reparam.cosine_cost(1.5)
    grads = pathwise_gradient(
        cost,
        reparam.NORMAL,
        {"loc": 0.4, "scale": 1.2},
        n,
        generator=torch.Generator().manual_seed(seed),
    )
    loc = torch.tensor(0.4, requires_grad=True)
    scale = torch.tensor(1.2, requires_grad=True)
    z = reparam.normal_rsample(loc, scale, n, generator=torch.Generator().manual_seed(seed))
    d_loc, d_scale = torch.autograd.grad(cost(z).mean(), (loc, scale))
    torch.testing.assert_close(grads["loc"].mean(), d_loc)
    torch.testing.assert_close(grads["scale"].mean(), d_scale)


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_monte_carlo_variance_matches_quadrature(name: str) -> None:
    from reparam import variance

    kind = {
        "pathwise": "pathwise",
        "score_function": "score_function",
        "score_function_optimal": "score_function_optimal_baseline",
        "score_function_constant": "score_function",  # of the shifted cost f - 0.7
        "measure_valued": "measure_valued",
    }[name]
    cost = reparam.cosine_cost(1.5)
    shift = 0.7 if name == "score_function_constant" else 0.0

    def shifted(x: Tensor) -> Tensor:
        return cost(x) - shift

    n = 100_000
    grads = ESTIMATORS[name](
        cost,
        reparam.NORMAL,
        {"loc": LOC, "scale": SCALE},
        n,
        generator=torch.Generator().manual_seed(11),
    )
    for p in ("loc", "scale"):
        g = grads[p].double()
        exact = variance.gradient_moments(shifted, LOC, SCALE, estimator=kind, parameter=p).variance
        centred = (g - g.mean()).square()
        se = centred.std() / math.sqrt(n)  # standard error of the sample variance
        assert abs(centred.mean().item() - exact) <= Z * se.item() + 1e-6 * exact, (name, p)


def test_optimal_baseline_is_leave_one_out_and_unbiased_for_tiny_samples() -> None:
    """N = 3 draws per problem, 30 000 independent problems (a batch): still unbiased,
    while plugging in the all-draw baseline is visibly biased."""
    batch, n = 30_000, 3
    loc = torch.full((batch,), LOC, dtype=torch.float64)
    cost = reparam.quadratic_cost(0.0)  # d/dσ E[z²] = 2σ
    grads = score_function_gradient(
        cost,
        reparam.NORMAL,
        {"loc": loc, "scale": SCALE},
        n,
        generator=torch.Generator().manual_seed(5),
        baseline="optimal",
    )
    per_problem = grads["scale"].mean(0)  # (batch,): one N=3 estimate of d/dσ E[Σ_b f]
    _assert_unbiased(
        per_problem.unsqueeze(-1), torch.tensor([2 * SCALE], dtype=torch.float64), "leave-one-out"
    )
    # The plug-in version (same draws): b = Σ f s² / Σ s² including draw n itself.
    eps = reparam.standard_normal(
        (n, batch), generator=torch.Generator().manual_seed(5), dtype=torch.float64
    )
    f, s = cost(LOC + SCALE * eps), (eps.square() - 1) / SCALE
    plug_in = (f - (f * s**2).sum(0) / (s**2).sum(0)) * s
    estimate = reparam.summarize(plug_in.mean(0))
    assert (estimate.mean - 2 * SCALE).abs() > Z * estimate.std_error


def test_generator_reproducibility_and_global_state() -> None:
    for estimator in ESTIMATORS.values():
        a = estimator(
            reparam.cosine_cost(1.0),
            reparam.NORMAL,
            {"loc": 0.0, "scale": 1.0},
            10,
            generator=torch.Generator().manual_seed(9),
        )
        b = estimator(
            reparam.cosine_cost(1.0),
            reparam.NORMAL,
            {"loc": 0.0, "scale": 1.0},
            10,
            generator=torch.Generator().manual_seed(9),
        )
        for p in a:
            assert torch.equal(a[p], b[p])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_dtype_follows_parameters(dtype: torch.dtype, name: str) -> None:
    params = {"loc": torch.tensor(LOC, dtype=dtype), "scale": torch.tensor(SCALE, dtype=dtype)}
    cost = reparam.cosine_cost(1.0)
    grads = ESTIMATORS[name](
        cost, reparam.NORMAL, params, 20_000, generator=torch.Generator().manual_seed(0)
    )
    exact = reparam.exact_gradient(cost, params["loc"].double(), SCALE)
    for p, ex in zip(("loc", "scale"), exact, strict=True):
        assert grads[p].dtype == dtype
        _assert_unbiased(grads[p].double(), ex, f"{name} {dtype} {p}")


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_batch_shapes_and_broadcast_parameters(name: str) -> None:
    """loc of shape (2, 3), scale a scalar shared by all six: gradients take the shapes of
    the parameters, the scalar's being the sum over the batch."""
    loc = torch.tensor([[0.0, 0.5, 1.0], [-1.0, 2.0, 0.3]], dtype=torch.float64)
    cost = reparam.cosine_cost(1.3)
    n = 40_000
    grads = ESTIMATORS[name](
        cost,
        reparam.NORMAL,
        {"loc": loc, "scale": 0.8},
        n,
        generator=torch.Generator().manual_seed(21),
    )
    assert grads["loc"].shape == (n, 2, 3)
    assert grads["scale"].shape == (n,)
    exact_loc, exact_scale = reparam.exact_gradient(cost, loc, 0.8)
    _assert_unbiased(grads["loc"], exact_loc, f"{name} loc batch")
    _assert_unbiased(grads["scale"], exact_scale.sum(), f"{name} scale batch")


@pytest.mark.parametrize("name", ["pathwise", "score_function", "score_function_optimal"])
def test_cost_summed_over_the_batch(name: str) -> None:
    """A cost returning one total per draw, shape (N,), estimates the same gradient."""
    loc = torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64)
    cost = reparam.cosine_cost(1.3)
    grads = ESTIMATORS[name](
        lambda z: cost(z).sum(-1),
        reparam.NORMAL,
        {"loc": loc, "scale": 0.8},
        40_000,
        generator=torch.Generator().manual_seed(4),
    )
    assert grads["loc"].shape == (40_000, 3)
    exact_loc, exact_scale = reparam.exact_gradient(cost, loc, 0.8)
    _assert_unbiased(grads["loc"], exact_loc, f"{name} loc")
    _assert_unbiased(grads["scale"], exact_scale.sum(), f"{name} scale")


@dataclass(frozen=True)
class _StepBernoulli(Reparameterization):
    """Bernoulli(p) as z = 1[u < p], u ~ U(0, 1): a path with zero derivative almost
    everywhere, used to check that the score-function estimator never differentiates it."""

    name: str = "StepBernoulli"
    parameters: tuple[Parameter, ...] = (Parameter("probs", open_unit_interval),)

    def sample_base(
        self, num_samples: int, params: Mapping[str, Tensor], generator: torch.Generator | None
    ) -> Tensor:
        probs = params["probs"]
        return torch.rand((num_samples, *probs.shape), generator=generator, dtype=probs.dtype)

    def transform(self, eps: Tensor, params: Mapping[str, Tensor]) -> Tensor:
        return (eps < params["probs"]).to(eps.dtype)

    def log_prob(self, value: Tensor, params: Mapping[str, Tensor]) -> Tensor:
        p = params["probs"]
        return value * p.log() + (1 - value) * (1 - p).log()


def test_score_function_with_a_non_differentiable_path() -> None:
    probs = torch.tensor([0.2, 0.5, 0.9], dtype=torch.float64)

    def cost(z: Tensor) -> Tensor:
        return (z - 0.3).square()

    exact = cost(torch.ones(3)) - cost(torch.zeros(3))  # d/dp [p f(1) + (1-p) f(0)]
    for baseline in (None, 0.25, "optimal"):
        grads = score_function_gradient(
            cost,
            _StepBernoulli(),
            {"probs": probs},
            20_000,
            generator=torch.Generator().manual_seed(8),
            baseline=baseline,
        )
        _assert_unbiased(grads["probs"], exact.double(), f"Bernoulli baseline={baseline}")
    # The pathwise estimator through the step function returns zero: the wrong answer.
    zero = pathwise_gradient(
        cost, _StepBernoulli(), {"probs": probs}, 100, generator=torch.Generator().manual_seed(8)
    )
    assert torch.equal(zero["probs"], torch.zeros(100, 3, dtype=torch.float64))


# -- bad inputs -----------------------------------------------------------------------------
GOOD = {"loc": 0.0, "scale": 1.0}
T = torch.tensor


@pytest.mark.parametrize("name", list(ESTIMATORS))
@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"params": {"loc": 0.0, "scale": 0.0}}, ValueError, "scale"),
        ({"params": {"loc": 0.0, "scale": -1.0}}, ValueError, "scale"),
        ({"params": {"loc": float("nan"), "scale": 1.0}}, ValueError, "loc"),
        # tensor parameters take the fused fast path, which must fail the same way
        ({"params": {"loc": T(0.0), "scale": T(0.0)}}, ValueError, "scale"),
        ({"params": {"loc": T(math.inf), "scale": T(1.0)}}, ValueError, "loc"),
        ({"params": {"loc": torch.zeros(2), "scale": T([1.0, -1.0])}}, ValueError, "scale"),
        ({"params": {"loc": torch.zeros(2), "scale": T([1.0, math.nan])}}, ValueError, "scale"),
        ({"params": {"loc": 0.0}}, ValueError, "scale"),
        ({"params": {"loc": 0.0, "scale": "1"}}, TypeError, "scale"),
        ({"num_samples": 0}, ValueError, "num_samples"),
        ({"num_samples": 2.5}, TypeError, "num_samples"),
        ({"cost": "not a function"}, TypeError, "cost"),
        ({"cost": lambda z: z.sum()}, ValueError, "cost"),
        ({"cost": lambda z: z[:3]}, ValueError, "cost"),
        ({"cost": lambda z: z.unsqueeze(-1).expand(-1, 4)}, ValueError, "cost"),
        ({"cost": lambda z: 1.0}, TypeError, "cost"),
        ({"distribution": torch.distributions.Normal(0.0, 1.0)}, TypeError, "distribution"),
        ({"generator": 0}, TypeError, "generator"),
        ({"params": {"loc": torch.zeros(2), "scale": torch.ones(3)}}, ValueError, "shape"),
    ],
)
def test_bad_inputs(name: str, kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    arguments: dict[str, Any] = {
        "cost": reparam.cosine_cost(1.0),
        "distribution": reparam.NORMAL,
        "params": GOOD,
        "num_samples": 10,
    }
    arguments.update(kwargs)
    generator = arguments.pop("generator", None)
    with pytest.raises(error, match=match):
        ESTIMATORS[name](
            arguments["cost"],
            arguments["distribution"],
            arguments["params"],
            arguments["num_samples"],
            generator=generator,
        )


@pytest.mark.parametrize(
    ("baseline", "num_samples", "match"),
    [
        ("best", 10, "baseline"),
        ("optimal", 1, "num_samples"),
        (torch.zeros(4), 10, "baseline"),
        (float("inf"), 10, "baseline"),
        ([1.0], 10, "baseline"),
    ],
)
def test_bad_baselines(baseline: Any, num_samples: int, match: str) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        score_function_gradient(
            reparam.cosine_cost(1.0),
            reparam.NORMAL,
            {"loc": torch.zeros(3), "scale": 1.0},
            num_samples,
            baseline=baseline,
        )


def test_measure_valued_is_gaussian_only() -> None:
    with pytest.raises(TypeError, match="distribution"):
        measure_valued_gradient(lambda z: z, _StepBernoulli(), {"probs": 0.5}, 10)
    # ... and needs the per-element cost.
    with pytest.raises(ValueError, match="cost"):
        measure_valued_gradient(
            lambda z: z.sum(-1), reparam.NORMAL, {"loc": torch.zeros(3), "scale": 1.0}, 10
        )
