"""Tests of reparam.estimators against exact gradients, torch.distributions and each other.

Statistical checks use fixed seeds and tolerances of 5 standard errors (computed from the
per-sample gradients themselves), plus a tiny absolute slack for zero-variance cases.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import torch
from torch import Tensor

import reparam
from reparam.estimators import (
    measure_valued_gradient,
    pathwise_gradient,
    score_function_gradient,
)
from reparam.noise import uniform
from reparam.reparameterization import (
    Parameter,
    Reparameterization,
    open_unit_interval,
    positive,
)

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


def _mean_and_std_error(draws: Tensor) -> tuple[Tensor, Tensor]:
    """Sample mean and standard error (sample std / sqrt(N)) over dim 0, computed here rather
    than by the package, so that a wrong error bar in the package cannot loosen a test."""
    n = draws.shape[0]
    assert n >= 2, "a standard error needs at least two draws"
    return draws.mean(0), draws.std(0) / math.sqrt(n)


def _assert_unbiased(draws: Tensor, exact: Tensor, what: str) -> None:
    mean, std_error = _mean_and_std_error(draws)
    tolerance = Z * std_error + 1e-9
    assert (mean - exact).abs().le(tolerance).all(), (
        f"{what}: estimate {mean.tolist()} ± {std_error.tolist()}, exact {exact.tolist()}"
    )


@pytest.mark.parametrize("cost", COSTS, ids=lambda c: c.name)
@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_unbiased_against_exact_gradient(cost: reparam.GaussianTestCost, name: str) -> None:
    torch.manual_seed(0)  # unused by the estimators; guards against accidental global use
    generator = torch.Generator().manual_seed(1234)
    loc = torch.tensor(LOC, dtype=torch.float64)
    params = {"loc": loc, "scale": SCALE}
    grads = ESTIMATORS[name](cost, reparam.NORMAL, params, 20_000, generator=generator)
    exact_loc, exact_scale = reparam.exact_gradient(cost, loc, SCALE)
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
        estimates[name] = {p: _mean_and_std_error(g) for p, g in grads.items()}
    reference = estimates["pathwise"]
    for name, estimate in estimates.items():
        for p in ("loc", "scale"):
            (mean, se_a), (ref_mean, se_b) = estimate[p], reference[p]
            gap = (mean - ref_mean).abs()
            se = (se_a.square() + se_b.square()).sqrt()
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


# -- baselines: the variance they remove, exactly -------------------------------------------
def _normal_moment(j: int) -> float:
    """E[u^j] for u ~ N(0, 1): 0 for odd j, (j − 1)!! for even j."""
    return 0.0 if j % 2 else float(math.prod(range(j - 1, 0, -2)))


def _expect(poly: np.polynomial.Polynomial) -> float:
    """E[poly(u)], u ~ N(0, 1), exactly (a finite sum of Gaussian moments)."""
    coefficients = [float(c) for c in poly.coef]
    return sum(c * _normal_moment(j) for j, c in enumerate(coefficients))


def _exact_score_function_moments(
    mu: float, sigma: float, k: float, parameter: str, baseline: float | str | None
) -> tuple[float, float]:
    """Mean and variance of (f(z) − b) s(z) for f(z) = (z − k)², z = μ + σu, in closed form.

    Independent of the package: f and the score s are polynomials in u (s = u/σ for the
    mean, (u² − 1)/σ for the scale), so every moment is a finite sum of Gaussian moments.
    The optimal constant is b* = E[f s²] / E[s²].
    """
    poly = np.polynomial.Polynomial
    f = poly([(mu - k) ** 2, 2 * sigma * (mu - k), sigma**2])
    s = poly([0.0, 1 / sigma]) if parameter == "loc" else poly([-1 / sigma, 0.0, 1 / sigma])
    if baseline == "optimal":
        b = _expect(f * s * s) / _expect(s * s)
    else:
        b = 0.0 if baseline is None else float(baseline)
    g = (f - b) * s
    mean = _expect(g)
    return mean, _expect(g * g) - mean**2


@pytest.mark.parametrize("baseline", [None, 0.7, -1.3, "optimal"], ids=str)
def test_score_function_variance_with_a_baseline_is_the_exact_value(
    baseline: float | str | None,
) -> None:
    """The sample mean *and variance* of the per-sample estimates against their closed forms:
    unbiasedness alone cannot tell a subtracted baseline from an added one (both are
    unbiased); the variance can. The optimal baseline's variance is the exact b*'s up to a
    factor 1 + O(1/N) (leave-one-out), negligible at N = 200 000."""
    mu, sigma, k, n = 0.4, 1.3, -0.5, 200_000
    cost = reparam.quadratic_cost(k)
    grads = score_function_gradient(
        cost,
        reparam.NORMAL,
        {"loc": torch.tensor(mu, dtype=torch.float64), "scale": sigma},
        n,
        generator=torch.Generator().manual_seed(31),
        baseline=baseline,  # type: ignore[arg-type]
    )
    for p in ("loc", "scale"):
        exact_mean, exact_var = _exact_score_function_moments(mu, sigma, k, p, baseline)
        _, no_baseline_var = _exact_score_function_moments(mu, sigma, k, p, None)
        g = grads[p]
        _assert_unbiased(g, torch.tensor(exact_mean, dtype=torch.float64), f"{baseline} {p}")
        centred = (g - g.mean()).square()
        var, var_se = _mean_and_std_error(centred)  # the sample variance and its error
        assert abs(var.item() - exact_var) <= Z * var_se.item(), (p, var.item(), exact_var)
        if baseline == "optimal":  # the reduction itself, against the exact no-baseline value
            assert exact_var < 0.8 * no_baseline_var
            assert var.item() + Z * var_se.item() < no_baseline_var


@pytest.mark.parametrize(
    "baseline", [None, 0.7, torch.tensor([0.2, -0.4], dtype=torch.float64), "optimal"], ids=str
)
def test_score_function_per_sample_estimates_by_hand(baseline: Any) -> None:
    """Same draws, the estimator written out by hand: (f(z) − b) ∇ log p(z), with the
    Gaussian scores ε/σ and (ε² − 1)/σ and, for ``"optimal"``, the leave-one-out
    b₋ₙ = Σ_{m≠n} f_m s_m² / Σ_{m≠n} s_m², one per parameter entry."""
    n = 64
    loc = torch.tensor([0.3, -1.0], dtype=torch.float64)
    scale = torch.tensor([0.8, 1.5], dtype=torch.float64)
    cost = reparam.quadratic_cost(0.5)
    grads = score_function_gradient(
        cost,
        reparam.NORMAL,
        {"loc": loc, "scale": scale},
        n,
        generator=torch.Generator().manual_seed(3),
        baseline=baseline,
    )
    eps = reparam.standard_normal(
        (n, 2), generator=torch.Generator().manual_seed(3), dtype=torch.float64
    )
    f = cost(loc + scale * eps)
    scores = {"loc": eps / scale, "scale": (eps.square() - 1) / scale}
    for p, s in scores.items():
        b: Tensor | float
        if baseline == "optimal":
            s2 = s.square()
            b = ((f * s2).sum(0) - f * s2) / (s2.sum(0) - s2)
        else:
            b = 0.0 if baseline is None else baseline
        torch.testing.assert_close(grads[p], (f - b) * s, rtol=1e-10, atol=1e-12)


def test_optimal_baseline_is_leave_one_out_and_unbiased_for_tiny_samples() -> None:
    """N = 3 draws per problem, 30 000 independent problems (a batch): still unbiased,
    while plugging in the all-draw baseline is visibly biased.

    ``scale`` is a batch of its own (not a float shared by the batch): then every problem
    gets its own per-sample gradients, shape (N, batch), and the 30 000 per-problem
    estimates give a finite standard error. (With a shared float the gradient is summed
    over the batch into one number per draw, the mean over N = 3 draws is a single
    estimate, and its standard error is infinite: such a test cannot fail.)
    """
    batch, n = 30_000, 3
    loc = torch.full((batch,), LOC, dtype=torch.float64)
    scale = torch.full((batch,), SCALE, dtype=torch.float64)
    cost = reparam.quadratic_cost(0.0)  # d/dσ E[z²] = 2σ
    grads = score_function_gradient(
        cost,
        reparam.NORMAL,
        {"loc": loc, "scale": scale},
        n,
        generator=torch.Generator().manual_seed(5),
        baseline="optimal",
    )
    assert grads["scale"].shape == (n, batch)
    per_problem = grads["scale"].mean(0)  # (batch,): independent N = 3 estimates of 2σ
    mean, se = _mean_and_std_error(per_problem)
    assert math.isfinite(se.item()) and se.item() < 0.05
    assert abs(mean.item() - 2 * SCALE) <= Z * se.item()
    # The plug-in version (same draws): b = Σ f s² / Σ s² including draw n itself.
    eps = reparam.standard_normal(
        (n, batch), generator=torch.Generator().manual_seed(5), dtype=torch.float64
    )
    f, s = cost(LOC + SCALE * eps), (eps.square() - 1) / SCALE
    # The draws are the estimator's: its leave-one-out baseline, by hand, reproduces it.
    s2 = s.square()
    leave_one_out = ((f * s2).sum(0) - f * s2) / (s2.sum(0) - s2)
    torch.testing.assert_close(grads["scale"], (f - leave_one_out) * s, rtol=1e-9, atol=1e-9)
    plug_in = (f - (f * s2).sum(0) / s2.sum(0)) * s
    plug_mean, plug_se = _mean_and_std_error(plug_in.mean(0))
    assert abs(plug_mean.item() - 2 * SCALE) > Z * plug_se.item()


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


@pytest.mark.parametrize("name", ["pathwise", "score_function", "measure_valued"])
def test_each_gradient_takes_its_parameters_dtype(name: str) -> None:
    """Mixed precisions: loc and scale of different dtypes, or a cost computed in a wider
    dtype than the draws; each gradient comes out in its own parameter's dtype (as autograd
    returns it), and still estimates the exact gradient."""
    f32, f64 = torch.float32, torch.float64
    cost = reparam.cosine_cost(1.0)

    def widened(z: Tensor) -> Tensor:
        return cost(z.to(f64))

    cases = [(f64, f32, cost), (f32, f64, cost), (f32, f32, widened)]
    exact = reparam.exact_gradient(cost, torch.tensor(LOC, dtype=f64), SCALE)
    for loc_dtype, scale_dtype, f in cases:
        params = {
            "loc": torch.tensor(LOC, dtype=loc_dtype),
            "scale": torch.tensor(SCALE, dtype=scale_dtype),
        }
        grads = ESTIMATORS[name](f, reparam.NORMAL, params, 20_000, generator=_gen_of(1))
        assert grads["loc"].dtype == loc_dtype and grads["scale"].dtype == scale_dtype
        for p, ex in zip(("loc", "scale"), exact, strict=True):
            _assert_unbiased(grads[p].double(), ex, f"{name} {loc_dtype} {scale_dtype} {p}")


def _gen_of(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


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


@pytest.mark.parametrize("baseline", [None, 0.3, "optimal"], ids=str)
def test_score_function_on_a_categorical_with_an_event_dimension(baseline: Any) -> None:
    """Logits of shape (batch, K) = (2, 4), one-hot draws with an event dimension K, and a
    cost f(z) = Σ_k v_k z_k. The exact gradient of E[f] = Σ_k π_k v_k, π = softmax(logits),
    is π_j (v_j − Σ_k π_k v_k); the score of a draw is z − π (the gradient of the
    *normalised* log-probability)."""
    from reparam.discrete import CATEGORICAL

    logits = torch.tensor([[0.5, -1.0, 0.2, 1.3], [0.0, 0.0, -2.0, 0.7]], dtype=torch.float64)
    values = torch.tensor([[1.0, -2.0, 0.5, 3.0], [-1.0, 4.0, 0.0, 2.0]], dtype=torch.float64)

    def cost(z: Tensor) -> Tensor:
        return (z * values).sum(-1)  # (N, 2): entry b depends on batch element b only

    n, seed = 20_000, 13
    grads = score_function_gradient(
        cost,
        CATEGORICAL,
        {"logits": logits},
        n,
        generator=torch.Generator().manual_seed(seed),
        baseline=baseline,
    )["logits"]
    assert grads.shape == (n, 2, 4)
    probs = torch.softmax(logits, -1)
    exact = probs * (values - (probs * values).sum(-1, keepdim=True))
    _assert_unbiased(grads, exact, f"categorical baseline={baseline}")
    # The same draws, by hand.
    z = CATEGORICAL.rsample(n, generator=torch.Generator().manual_seed(seed), logits=logits)
    f, score = cost(z).unsqueeze(-1), z - probs
    b: Tensor | float
    if baseline == "optimal":
        s2 = score.square()
        b = ((f * s2).sum(0) - f * s2) / (s2.sum(0) - s2)
    else:
        b = 0.0 if baseline is None else baseline
    torch.testing.assert_close(grads, (f - b) * score, rtol=1e-10, atol=1e-12)


def test_measure_valued_per_sample_estimates_by_hand() -> None:
    """Same noise stream, the estimator written out by hand: three uniforms and three normals
    per entry; W = sqrt(−2 log(1 − U₀)) (Weibull(√2, 2)), M = ±‖(N₀, N₁, N₂)‖ with the sign
    from U₁ (double-sided Maxwell), U₂·M ~ N(0, 1); (f(μ + σW) − f(μ − σW)) / (σ√(2π)) and
    (f(μ + σM) − f(μ + σU₂M)) / σ."""
    n = 50
    loc = torch.tensor([0.3, -1.2], dtype=torch.float64)
    scale = torch.tensor([0.7, 1.6], dtype=torch.float64)
    cost = reparam.cosine_cost(1.3)
    grads = measure_valued_gradient(
        cost,
        reparam.NORMAL,
        {"loc": loc, "scale": scale},
        n,
        generator=torch.Generator().manual_seed(4),
    )
    gen = torch.Generator().manual_seed(4)
    u = uniform((3, n, 2), generator=gen, dtype=torch.float64)
    g = reparam.standard_normal((3, n, 2), generator=gen, dtype=torch.float64)
    weibull = torch.sqrt(-2 * torch.log1p(-u[0]))
    maxwell = torch.where(u[1] < 0.5, -1.0, 1.0) * g.square().sum(0).sqrt()
    expected_loc = (cost(loc + scale * weibull) - cost(loc - scale * weibull)) / (
        scale * math.sqrt(2 * math.pi)
    )
    expected_scale = (cost(loc + scale * maxwell) - cost(loc + scale * u[2] * maxwell)) / scale
    torch.testing.assert_close(grads["loc"], expected_loc, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(grads["scale"], expected_scale, rtol=1e-12, atol=1e-14)


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
        ("best", 10, "^baseline must be None, a number, a tensor or 'optimal', got 'best'$"),
        ("optimal", 1, r"^num_samples must be at least 2 for baseline='optimal', got 1$"),
        (torch.zeros(4), 10, r"^baseline must broadcast to \(3,\), got shape \(4,\)$"),
        (torch.zeros(2, 1), 10, r"^baseline must broadcast to \(3,\), got shape \(2, 1\)$"),
        (float("inf"), 10, "^baseline must be finite, got inf$"),
        ([1.0], 10, "^baseline must be a real number or a torch.Tensor, got list$"),
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
    # The message names the distribution by its name (not its class name).
    with pytest.raises(TypeError, match=r"got Bernoulli \(step path\)$"):
        measure_valued_gradient(lambda z: z, reparam.discrete.BERNOULLI, {"probs": 0.5}, 10)
    # ... and needs the per-element cost.
    with pytest.raises(ValueError, match="cost"):
        measure_valued_gradient(
            lambda z: z.sum(-1), reparam.NORMAL, {"loc": torch.zeros(3), "scale": 1.0}, 10
        )


# -- torch.distributions in, params=None ---------------------------------------------------
TORCH_ESTIMATORS: dict[str, Callable[..., dict[str, Tensor]]] = {
    "pathwise": pathwise_gradient,
    "score_function": score_function_gradient,
    "score_function_optimal": _sf_optimal,
}
F64 = torch.float64


def _t(*values: float) -> Tensor:
    return torch.tensor(values[0] if len(values) == 1 else values, dtype=F64)


@pytest.mark.parametrize("name", [*TORCH_ESTIMATORS, "measure_valued"])
def test_torch_normal_gives_the_numbers_of_reparam_normal(name: str) -> None:
    """torch's Normal draws from the generator's own stream (its global state swapped for
    the generator's), so its per-sample gradients are reparam.NORMAL's, draw for draw, and
    the generator advances alike: a second call with the same generators agrees too."""
    loc, scale = _t(0.3, -1.0, 2.0), _t(0.7, 2.0, 1.1)
    estimator = ESTIMATORS[name]
    ours, theirs = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    for _ in range(2):
        expected = estimator(
            torch.cos, reparam.NORMAL, {"loc": loc, "scale": scale}, 64, generator=ours
        )
        got = estimator(
            torch.cos, torch.distributions.Normal(loc, scale), None, 64, generator=theirs
        )
        assert set(got) == {"loc", "scale"}
        for key in got:
            assert got[key].shape == (64, 3) and got[key].dtype == F64
            torch.testing.assert_close(got[key], expected[key], rtol=1e-12, atol=1e-12)


def _bernoulli_exact(logit: Tensor) -> Tensor:
    p = torch.sigmoid(logit)
    return p * (1 - p) * (3.0 - 0.5)  # d/dlogit of p f(1) + (1 - p) f(0), f(1) = 3, f(0) = 0.5


# name -> (distribution, cost of a draw (N, *batch, *event) -> (N, *batch), exact gradients)
TORCH_CASES: dict[
    str, tuple[torch.distributions.Distribution, Callable[[Tensor], Tensor], dict[str, Tensor]]
] = {
    # E (z - 1)^2 = (mu - 1)^2 + sigma^2
    "normal": (
        torch.distributions.Normal(_t(0.3, 2.0), _t(0.7, 1.5)),
        lambda z: (z - 1.0) ** 2,
        {"loc": 2 * (_t(0.3, 2.0) - 1.0), "scale": 2 * _t(0.7, 1.5)},
    ),
    # E z^2 = alpha (alpha + 1) / beta^2 (implicit reparameterization in torch's rsample)
    "gamma": (
        torch.distributions.Gamma(_t(0.5, 3.0), _t(2.0, 0.8)),
        lambda z: z**2,
        {
            "concentration": (2 * _t(0.5, 3.0) + 1) / _t(2.0, 0.8) ** 2,
            "rate": -2 * _t(0.5, 3.0) * (_t(0.5, 3.0) + 1) / _t(2.0, 0.8) ** 3,
        },
    ),
    # E z = a / (a + b)
    "beta": (
        torch.distributions.Beta(_t(2.0), _t(3.0)),
        lambda z: z,
        {"concentration1": _t(3.0 / 25.0), "concentration0": _t(-2.0 / 25.0)},
    ),
    # E |z|^2 = |mu|^2 + trace(L L^T): gradients 2 mu and 2 L (lower triangle)
    "multivariate_normal": (
        torch.distributions.MultivariateNormal(
            _t(0.5, -1.0), scale_tril=torch.tensor([[1.0, 0.0], [0.4, 0.6]], dtype=F64)
        ),
        lambda z: z.square().sum(-1),
        {
            "loc": 2 * _t(0.5, -1.0),
            "scale_tril": 2 * torch.tensor([[1.0, 0.0], [0.4, 0.6]], dtype=F64),
        },
    ),
    # Independent(Normal): the Normal's parameters, a cost summed over the event
    "independent_normal": (
        torch.distributions.Independent(torch.distributions.Normal(_t(0.3, 2.0), _t(0.7, 1.5)), 1),
        lambda z: ((z - 1.0) ** 2).sum(-1),
        {"loc": 2 * (_t(0.3, 2.0) - 1.0), "scale": 2 * _t(0.7, 1.5)},
    ),
}


@pytest.mark.parametrize("case", list(TORCH_CASES))
@pytest.mark.parametrize("name", list(TORCH_ESTIMATORS))
def test_torch_distributions_unbiased_against_exact_gradients(name: str, case: str) -> None:
    distribution, cost, exact = TORCH_CASES[case]
    grads = TORCH_ESTIMATORS[name](
        cost, distribution, None, 20_000, generator=torch.Generator().manual_seed(8)
    )
    assert set(grads) == set(exact)
    for key, value in exact.items():
        assert grads[key].shape == (20_000, *value.shape) and grads[key].dtype == F64
        grad = grads[key]
        if key == "scale_tril":  # only the lower triangle is a parameter
            grad, value = grad.tril(), value.tril()
        _assert_unbiased(grad, value, f"{name} {case} {key}")


@pytest.mark.parametrize("given", ["logits", "probs"])
def test_score_function_on_a_torch_bernoulli_uses_the_given_parameter(given: str) -> None:
    """Bernoulli has no rsample. Its parameter is the one given (probs or logits), even after
    torch has computed and cached the other (here by reading ``mean``)."""
    logit = _t(0.4)
    p = torch.sigmoid(logit)
    q = torch.distributions.Bernoulli(
        probs=p if given == "probs" else None, logits=logit if given == "logits" else None
    )
    q.mean  # noqa: B018 (caches probs, or nothing new)
    q.logits  # noqa: B018 (caches logits)
    grads = score_function_gradient(
        lambda b: 0.5 + 2.5 * b, q, None, 20_000, generator=torch.Generator().manual_seed(3)
    )
    assert set(grads) == {given}
    exact = _bernoulli_exact(logit) if given == "logits" else _t(2.5)  # d/dp: f(1) - f(0)
    _assert_unbiased(grads[given], exact, f"Bernoulli {given}")


def test_torch_gradients_follow_each_parameters_dtype() -> None:
    q = torch.distributions.Gamma(torch.tensor([1.5, 2.0]), torch.tensor([1.0, 0.5]))
    for estimator in TORCH_ESTIMATORS.values():
        grads = estimator(lambda z: z, q, None, 8, generator=torch.Generator().manual_seed(0))
        assert all(g.dtype == torch.float32 and g.shape == (8, 2) for g in grads.values())


def test_integer_parameters_of_a_torch_distribution_are_not_differentiated() -> None:
    """A parameter held as an integer tensor (here a Normal's scale) cannot carry a gradient:
    the estimators differentiate the floating one only, and get it right
    (d/dloc E[z²] = 2 loc per coordinate)."""
    loc = _t(0.3, -1.0)
    q = torch.distributions.Normal(loc, torch.tensor([1, 2]))
    for name, estimator in TORCH_ESTIMATORS.items():
        generator = torch.Generator().manual_seed(6)
        grads = estimator(torch.square, q, None, 20_000, generator=generator)
        assert set(grads) == {"loc"}, name
        _assert_unbiased(grads["loc"], 2 * loc, name)


def test_torch_distributions_leave_global_random_state_alone() -> None:
    q = torch.distributions.Gamma(_t(2.0), _t(1.0))
    state = torch.get_rng_state()
    for estimator in TORCH_ESTIMATORS.values():
        a = estimator(torch.sin, q, None, 10, generator=torch.Generator().manual_seed(1))
        b = estimator(torch.sin, q, None, 10, generator=torch.Generator().manual_seed(1))
        c = estimator(torch.sin, q, None, 10, generator=torch.Generator().manual_seed(2))
        assert torch.equal(a["rate"], b["rate"]) and not torch.equal(a["rate"], c["rate"])
    assert torch.equal(state, torch.get_rng_state())


def test_catalog_rows_as_torch_distributions_are_the_rows() -> None:
    """from_catalog(...) passed with params=None is the row with its params: same numbers."""
    from reparam import catalog
    from reparam.distributions import from_catalog

    entry = catalog.get("weibull")
    params: dict[str, Any] = dict(entry.example_params(F64))
    for estimator in TORCH_ESTIMATORS.values():
        a = estimator(
            torch.cos, entry.distribution, params, 8, generator=torch.Generator().manual_seed(4)
        )
        b = estimator(
            torch.cos,
            from_catalog("weibull", **params),
            None,
            8,
            generator=torch.Generator().manual_seed(4),
        )
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize(
    ("name", "distribution", "params", "match"),
    [
        ("pathwise", torch.distributions.Normal(0.0, 1.0), GOOD, "params must be None"),
        ("score_function", torch.distributions.Normal(0.0, 1.0), GOOD, "params must be None"),
        ("measure_valued", torch.distributions.Normal(0.0, 1.0), GOOD, "params must be None"),
        ("pathwise", torch.distributions.Bernoulli(0.3), None, "distribution must have rsample"),
        (
            "measure_valued",
            torch.distributions.Gamma(1.0, 1.0),
            None,
            r"^distribution must be the Gaussian.*got Gamma$",
        ),
        (
            "score_function",
            torch.distributions.MixtureSameFamily(
                torch.distributions.Categorical(torch.ones(2)),
                torch.distributions.Normal(torch.zeros(2), 1.0),
            ),
            None,
            "distribution must have a floating-point parameter.*got MixtureSameFamily",
        ),
        ("pathwise", "normal", None, "distribution must be a reparam.Reparameterization"),
    ],
)
def test_torch_distribution_errors_name_the_argument(
    name: str, distribution: Any, params: Any, match: str
) -> None:
    with pytest.raises(TypeError, match=match):
        ESTIMATORS[name](torch.cos, distribution, params, 4)


# -- no sympy on the first call ----------------------------------------------------------------
#: Run in a fresh interpreter: every estimator's first call, on parameters whose shapes differ
#: (so that broadcasting is computed), reports a call after which sympy is imported.
_SYMPY_PROBE = """
import sys

import torch

import reparam
from reparam.control_variates import apply_control_variate
from reparam.distributions import from_catalog
from reparam.estimators import (
    measure_valued_gradient,
    pathwise_gradient,
    score_function_gradient,
)

found = ["import reparam"] if "sympy" in sys.modules else []
loc, scale = torch.zeros(2, 3), torch.ones(3)
params = {"loc": loc, "scale": scale}
python = {"loc": 0.5, "scale": 2.0}
torch_normal = torch.distributions.Normal(loc, scale)
catalog_normal = from_catalog("normal", loc=loc, scale=scale)
estimators = {
    "pathwise": pathwise_gradient,
    "score_function": score_function_gradient,
    "measure_valued": measure_valued_gradient,
}
baselines = {"constant": torch.ones(3), "optimal": "optimal"}
calls = []
for name, estimator in estimators.items():
    for label, distribution, given in [
        ("reparam.NORMAL", reparam.NORMAL, params),
        ("reparam.NORMAL, Python numbers", reparam.NORMAL, python),
        ("torch Normal", torch_normal, None),
        ("from_catalog normal", catalog_normal, None),
    ]:
        calls.append((f"{name}, {label}", estimator, distribution, given, {}))
for label, baseline in baselines.items():
    options = {"baseline": baseline}
    calls.append(
        (f"score_function, baseline {label}", score_function_gradient,
         reparam.NORMAL, params, options)
    )
for label, estimator, distribution, given, options in calls:
    generator = torch.Generator().manual_seed(0)
    estimator(torch.sin, distribution, given, 4, generator=generator, **options)
    if "sympy" in sys.modules and not found:
        found.append(label)
estimates = torch.randn(5, 2, 3)
for coefficient in ["leave_one_out", "pooled", 0.5]:
    apply_control_variate(estimates, estimates, torch.zeros(3), coefficient=coefficient)
    if "sympy" in sys.modules and not found:
        found.append(f"apply_control_variate, coefficient {coefficient}")
print(found[0] if found else "none")
"""


def test_no_first_call_of_an_estimator_imports_sympy() -> None:
    """torch.broadcast_shapes imports sympy (most of a second) on its first call: the package's
    own shape checks must not call it, so a script's first gradient costs milliseconds."""
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", _SYMPY_PROBE], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "none", f"sympy imported by: {result.stdout.strip()}"


@dataclass(frozen=True)
class _ScaleOnlyDensity(Reparameterization):
    """z = scale · ε, ε ~ N(0, 1), with a first parameter ``offset`` that nothing reads: its
    score is absent (autograd returns None), the one after it is not."""

    name: str = "ScaleOnlyDensity"
    parameters: tuple[Parameter, ...] = (Parameter("offset"), Parameter("scale", positive))

    def sample_base(
        self, num_samples: int, params: Mapping[str, Tensor], generator: torch.Generator | None
    ) -> Tensor:
        scale = params["scale"]
        shape = (num_samples, *scale.shape)
        return reparam.standard_normal(shape, generator=generator, dtype=scale.dtype)

    def transform(self, eps: Tensor, params: Mapping[str, Tensor]) -> Tensor:
        return params["scale"] * eps

    def log_prob(self, value: Tensor, params: Mapping[str, Tensor]) -> Tensor:
        return torch.distributions.Normal(0.0, params["scale"]).log_prob(value)


def test_score_function_gives_zeros_for_a_parameter_the_density_ignores() -> None:
    """A parameter without a score gets zero gradients, and those after it still get theirs
    (the loop over parameters must go on past it)."""
    params = {
        "offset": torch.tensor([0.5, -1.0], dtype=torch.float64),
        "scale": torch.tensor([1.0, 2.0], dtype=torch.float64),
    }
    grads = score_function_gradient(
        torch.square, _ScaleOnlyDensity(), params, 64, generator=torch.Generator().manual_seed(0)
    )
    assert set(grads) == {"offset", "scale"}
    assert grads["offset"].shape == (64, 2) and torch.count_nonzero(grads["offset"]) == 0
    # d/dσ E[z²] = 2σ: the estimate's mean within five of its standard errors
    estimate = grads["scale"].mean(0)
    error = grads["scale"].std(0) / 64**0.5
    assert torch.all((estimate - 2 * params["scale"]).abs() < 5 * error)
