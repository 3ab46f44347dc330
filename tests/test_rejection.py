"""Tests of :mod:`reparam.rejection` against independent oracles.

Oracles: the Gamma moments in closed form (d/dα E[z] = 1/β, d/dα E[z²] = (2α + 1)/β²,
d/dα E[log z] = ψ′(α), scipy's polygamma), scipy's Gamma distribution (a Kolmogorov–Smirnov
test of h(ε, α) at the accepted noise), adaptive quadrature (scipy.integrate.quad) of
densities and of estimators written here from the papers' formulas with finite differences
in α, and scipy's regularised incomplete gamma function for the implicit gradient. Every
Monte Carlo tolerance is a multiple of a standard error computed here from the draws.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import scipy.integrate
import scipy.special
import scipy.stats
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import reparam
from reparam import rejection as rj
from reparam.noise import open_uniform

F64 = torch.float64
Z_MAX = 4.5  # |z|-score allowed for a Monte Carlo mean (P < 1e-5 per check if unbiased)


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def proposal(eps: float, alpha: float) -> float:
    """h(ε, α), written from Marsaglia & Tsang (2000)."""
    d = alpha - 1 / 3
    return d * (1 + eps / math.sqrt(9 * d)) ** 3


def accepted_density(eps: float, alpha: float) -> float:
    """π(ε; α) = Gamma pdf at h times |∂h/∂ε| (change of variables); ∂h/∂ε = 3dc(1 + cε)²
    by hand (the package simplifies 3dc to √d)."""
    d = alpha - 1 / 3
    c = 1 / math.sqrt(9 * d)
    slope = 3 * d * c * (1 + c * eps) ** 2
    z = proposal(eps, alpha)
    return scipy.stats.gamma.pdf(z, alpha) * abs(slope) if z > 0 else 0.0


# Costs with closed-form gradients of E[f(z)], z ~ Gamma(α, β): (cost, ∂/∂α, ∂/∂β).
def _polygamma1(alpha: float) -> float:
    return float(scipy.special.polygamma(1, alpha))


COSTS: dict[str, tuple[Callable[[torch.Tensor], torch.Tensor], Any, Any]] = {
    "z": (lambda z: z, lambda a, b: 1 / b, lambda a, b: -a / b**2),
    "z2": (lambda z: z**2, lambda a, b: (2 * a + 1) / b**2, lambda a, b: -2 * a * (a + 1) / b**3),
    "log z": (lambda z: z.log(), lambda a, b: _polygamma1(a), lambda a, b: -1 / b),
}


def z_score(draws: torch.Tensor, exact: float) -> float:
    summary = reparam.summarize(draws)
    return float((summary.mean - exact) / summary.std_error)


# -- the proposal and its accepted noise --------------------------------------------------------
@pytest.mark.parametrize("alpha", [1.0, 1.7, 4.0, 30.0])
def test_accepted_noise_density_integrates_to_one_and_matches_the_oracle(alpha: float) -> None:
    low = -math.sqrt(9 * alpha - 3)
    mass, _ = scipy.integrate.quad(accepted_density, low, 40, args=(alpha,), limit=200)
    assert abs(mass - 1) < 1e-7
    eps = torch.linspace(low + 0.01, 6, 50, dtype=F64)
    ours = rj.accepted_noise_log_prob(eps, alpha).exp()
    oracle = torch.tensor([accepted_density(float(e), alpha) for e in eps], dtype=F64)
    assert torch.allclose(ours, oracle, rtol=1e-6, atol=1e-12)
    edges = torch.tensor([low - 1.0, low - 0.01, math.inf, -math.inf], dtype=F64)
    assert bool((rj.accepted_noise_log_prob(edges, alpha) == -math.inf).all())
    assert rj.accepted_noise_log_prob(torch.tensor([math.nan], dtype=F64), alpha).isnan().all()


@pytest.mark.parametrize("alpha", [1.0, 2.5, 40.0])
def test_accepted_noise_gives_gamma_draws(alpha: float) -> None:
    eps = rj.sample_accepted_noise(torch.tensor(alpha, dtype=F64), 20_000, generator=seeded(1))
    z = rj.marsaglia_tsang_proposal(eps, alpha)
    assert scipy.stats.kstest(z.numpy(), scipy.stats.gamma(alpha).cdf).pvalue > 1e-3
    direct = [proposal(float(e), alpha) for e in eps[:5]]
    assert torch.allclose(z[:5], torch.tensor(direct, dtype=F64), rtol=1e-13)


def test_first_round_of_the_sampler_is_the_published_test() -> None:
    """Marsaglia & Tsang's test, written out here on the same generator stream: the entries
    accepted in the first round are exactly the proposals that pass it (float64 normals, then
    float64 uniforms, one per entry)."""
    alpha, n = 1.3, 2_000
    gen = seeded(12)
    eps = reparam.noise.standard_normal((n,), generator=gen, dtype=F64)
    u = open_uniform((n,), generator=gen, dtype=F64)
    d = alpha - 1 / 3
    v = (1 + eps / math.sqrt(9 * d)) ** 3
    passed = (v > 0) & (u.log() < 0.5 * eps**2 + d - d * v + d * v.clamp_min(1e-300).log())
    drawn = rj.sample_accepted_noise(torch.tensor(alpha, dtype=F64), n, generator=seeded(12))
    assert 0.9 * n < int(passed.sum()) < n
    assert torch.equal(drawn[passed], eps[passed])


@pytest.mark.parametrize("alpha", [1.0, 2.0, 9.99, 10.0, 500.0])
def test_acceptance_probability_matches_quadrature(alpha: float) -> None:
    d, c = alpha - 1 / 3, 1 / math.sqrt(9 * alpha - 3)

    def accepted(eps: float) -> float:
        v = (1 + c * eps) ** 3
        log_ratio = 0.5 * eps**2 + d - d * v + d * math.log(v)
        return scipy.stats.norm.pdf(eps) * min(1.0, math.exp(log_ratio))

    oracle, _ = scipy.integrate.quad(accepted, -1 / c, 60, limit=200)
    assert abs(rj.acceptance_probability(alpha) - oracle) < 1e-9
    assert rj.acceptance_probability(1e12) < 1  # no rounding above one at huge shapes
    assert rj.acceptance_probability(alpha) > 0.95  # Marsaglia & Tsang's bound for α ≥ 1


# -- unbiasedness against closed forms ----------------------------------------------------------
def rsvi(boost: int | None) -> Callable[..., dict[str, torch.Tensor]]:
    def estimator(*args: Any, **kw: Any) -> dict[str, torch.Tensor]:
        return rj.rsvi_gradient(*args, boost=boost, **kw)

    return estimator


UNBIASED = {
    "rsvi, B=0": (rsvi(0), 1.3),
    "rsvi, B=1": (rsvi(1), 1.3),
    "rsvi, B=2, alpha<1": (rsvi(2), 0.4),
    "grep": (rj.grep_gradient, 0.7),
    "grep, alpha>1": (rj.grep_gradient, 3.0),
}


@pytest.mark.parametrize("cost_name", list(COSTS))
@pytest.mark.parametrize("name", list(UNBIASED))
def test_estimators_are_unbiased(name: str, cost_name: str) -> None:
    estimator, alpha = UNBIASED[name]
    cost, d_alpha, d_rate = COSTS[cost_name]
    rate = 1.7
    out = estimator(
        cost,
        torch.tensor(alpha, dtype=F64),
        torch.tensor(rate, dtype=F64),
        40_000,
        generator=seeded(2),
    )
    assert abs(z_score(out["concentration"], d_alpha(alpha, rate))) < Z_MAX
    rate_draws = out["rate"]
    if float(rate_draws.std()) < 1e-12:  # log z: the rate's estimate is exactly −1/β
        assert torch.allclose(rate_draws, torch.full_like(rate_draws, d_rate(alpha, rate)))
    else:
        assert abs(z_score(rate_draws, d_rate(alpha, rate))) < Z_MAX


def test_a_batch_with_a_coupled_cost_is_unbiased() -> None:
    """f(z) = z₁ z₂ with α broadcast over two coordinates and a shared rate."""
    alpha = torch.tensor([0.6, 2.0], dtype=F64)
    rate = torch.tensor(1.3, dtype=F64)
    for estimator in (rj.rsvi_gradient, rj.grep_gradient):
        out = estimator(lambda z: z[:, 0] * z[:, 1], alpha, rate, 40_000, generator=seeded(3))
        assert out["concentration"].shape == (40_000, 2) and out["rate"].shape == (40_000,)
        exact = [alpha[1] / rate**2, alpha[0] / rate**2]
        for i in range(2):
            assert abs(z_score(out["concentration"][:, i], float(exact[i]))) < Z_MAX
        exact_rate = float(-2 * alpha.prod() / rate**3)
        assert abs(z_score(out["rate"], exact_rate)) < Z_MAX


@pytest.mark.parametrize(
    ("estimator", "cost_name"), [(rj.rsvi_gradient, "log z"), (rj.grep_gradient, "z2")]
)
def test_without_the_correction_the_gradient_is_biased(estimator: Any, cost_name: str) -> None:
    # (for G-REP not with log z: ε is standardised by the exact mean of log z, so the pathwise
    # term alone is unbiased for that one cost)
    cost, d_alpha, _ = COSTS[cost_name]
    out = estimator(cost, 1.0, 1.0, 40_000, correction=False, generator=seeded(4))
    assert abs(z_score(out["concentration"], d_alpha(1.0, 1.0))) > 10


# -- exact moments against independent quadrature -------------------------------------------
def test_moments_have_the_exact_mean_for_every_estimator() -> None:
    for alpha in (0.4, 1.0, 3.0):
        for cost_name, (cost, d_alpha, _) in COSTS.items():
            for estimator in ("rsvi", "grep", "implicit", "score_function"):
                moments = rj.gamma_gradient_moments(cost, alpha, estimator=estimator)
                exact = d_alpha(alpha, 1.0)
                assert abs(moments.mean - exact) < 1e-7 * max(1.0, abs(exact)), (
                    alpha,
                    cost_name,
                    estimator,
                )


def rsvi_oracle(cost: Callable[[float], float], alpha: float) -> tuple[float, float]:
    """Mean and variance of the B = 0 RSVI estimate, from finite differences in α of
    f(h(ε, α)) and of log π(ε; α), integrated by scipy against π."""
    step = 1e-5

    def estimate(eps: float) -> float:
        plus, minus = proposal(eps, alpha + step), proposal(eps, alpha - step)
        if min(plus, minus) <= 0:
            return 0.0
        pathwise = (cost(plus) - cost(minus)) / (2 * step)
        score = (
            math.log(accepted_density(eps, alpha + step))
            - math.log(accepted_density(eps, alpha - step))
        ) / (2 * step)
        return pathwise + cost(proposal(eps, alpha)) * score

    low = -math.sqrt(9 * alpha - 3) + 1e-9
    moment = [
        scipy.integrate.quad(
            lambda e, k=k: estimate(e) ** k * accepted_density(e, alpha),
            low,
            12,
            limit=400,
            epsabs=1e-11,
        )[0]
        for k in (1, 2)
    ]
    return moment[0], moment[1] - moment[0] ** 2


@pytest.mark.parametrize("alpha", [1.5, 4.0])
def test_rsvi_variance_matches_an_independent_quadrature(alpha: float) -> None:
    mean, variance = rsvi_oracle(lambda z: z * z, alpha)
    moments = rj.gamma_gradient_moments(lambda z: z * z, alpha, estimator="rsvi", boost=0)
    assert abs(moments.mean - mean) < 1e-5 * abs(mean)
    assert abs(moments.variance - variance) < 1e-5 * variance


@pytest.mark.parametrize("alpha", [0.5, 2.0])
def test_implicit_and_score_function_variances_match_scipy(alpha: float) -> None:
    gamma = scipy.stats.gamma(alpha)
    psi = float(scipy.special.digamma(alpha))

    def dz_dalpha(z: float) -> float:  # −∂F/∂α / p, ∂F/∂α by a central difference
        step = 1e-6 * alpha
        if z < alpha:  # the lower tail from P, the upper from Q = 1 − P: no cancellation
            slope = scipy.special.gammainc(alpha + step, z) - scipy.special.gammainc(
                alpha - step, z
            )
        else:
            upper = scipy.special.gammaincc
            slope = upper(alpha - step, z) - upper(alpha + step, z)
        density = gamma.pdf(z)
        return -slope / (2 * step) / density if density > 0 else 0.0

    def second(estimate: Callable[[float], float]) -> float:
        # in two pieces: the density's power-law end at 0, and its exponential tail
        return sum(
            scipy.integrate.quad(
                lambda z: estimate(z) ** 2 * gamma.pdf(z), low, high, limit=400, epsrel=1e-8
            )[0]
            for low, high in ((0.0, 1.0), (1.0, np.inf))
        )

    cost = (lambda z: z * z, lambda z: 2 * z)
    exact = 2 * alpha + 1
    implicit = second(lambda z: cost[1](z) * dz_dalpha(z)) - exact**2
    score = second(lambda z: cost[0](z) * (math.log(z) - psi)) - exact**2
    for estimator, oracle in (("implicit", implicit), ("score_function", score)):
        moments = rj.gamma_gradient_moments(lambda z: z * z, alpha, estimator=estimator)
        assert abs(moments.variance - oracle) < 1e-5 * oracle, estimator


@pytest.mark.parametrize(
    ("estimator", "boost", "alpha", "cost_name"),
    [("rsvi", 0, 2.0, "z2"), ("rsvi", 1, 0.5, "log z"), ("grep", None, 0.7, "log z")],
)
def test_monte_carlo_variance_matches_the_moments(
    estimator: str, boost: int | None, alpha: float, cost_name: str
) -> None:
    # (without a boost, RSVI's estimate of E[log z]'s gradient has a long tail near the end
    # of the accepted noise's support, infinite third moment at α = 1, so a sample variance
    # converges slowly there: z² is checked instead)
    cost = COSTS[cost_name][0]
    moments = rj.gamma_gradient_moments(cost, alpha, estimator=estimator, boost=boost)
    n, shape = 100_000, torch.tensor(alpha, dtype=F64)
    if estimator == "rsvi":
        draws = rj.rsvi_gradient(cost, shape, 1.0, n, boost=boost, generator=seeded(5))
    else:
        draws = rj.grep_gradient(cost, shape, 1.0, n, generator=seeded(5))
    centred = (draws["concentration"] - moments.mean) ** 2
    # the sample mean of squared deviations from the exact mean, with its standard error
    assert abs(z_score(centred, moments.variance)) < Z_MAX


def test_the_boost_shrinks_the_correction() -> None:
    """At α = 1 without a boost the score of the accepted noise grows like 1/(1 + cε) at the
    end of its support; one boost moves the sampler to shape 2, and the variance of log z's
    gradient falls more than tenfold."""
    cost = COSTS["log z"][0]
    plain = rj.gamma_gradient_moments(cost, 1.0, estimator="rsvi", boost=0).variance
    boosted = rj.gamma_gradient_moments(cost, 1.0, estimator="rsvi", boost=1).variance
    assert boosted < plain / 10


# -- the surrogate, shapes, dtypes and composition ----------------------------------------------
def test_surrogate_value_is_the_cost_and_its_gradient_the_two_terms() -> None:
    alpha = torch.tensor(2.0, dtype=F64, requires_grad=True)
    draws = rj.rsvi_rsample(alpha, 1.0, 5, boost=0, generator=seeded(6))
    costs = draws.value**2
    surrogate = rj.corrected_surrogate(costs, draws.noise_log_prob)
    assert torch.equal(surrogate.detach(), costs.detach())
    (total,) = torch.autograd.grad(surrogate.sum(), alpha, retain_graph=True)
    (pathwise,) = torch.autograd.grad(costs.sum(), alpha, retain_graph=True)
    (score,) = torch.autograd.grad((costs.detach() * draws.noise_log_prob).sum(), alpha)
    assert torch.allclose(total, pathwise + score, rtol=1e-13)


@pytest.mark.parametrize("dtype", [torch.float32, F64])
@pytest.mark.parametrize("estimator", [rj.rsvi_gradient, rj.grep_gradient])
def test_shapes_and_dtypes_follow_the_parameters(estimator: Any, dtype: torch.dtype) -> None:
    alpha = torch.tensor([[0.5], [3.0]], dtype=dtype)
    rate = torch.tensor([1.0, 2.0, 4.0], dtype=dtype)
    out = estimator(lambda z: z.sum((1, 2)), alpha, rate, 7, generator=seeded(7))
    assert out["concentration"].shape == (7, 2, 1) and out["rate"].shape == (7, 3)
    assert all(v.dtype == dtype and bool(torch.isfinite(v).all()) for v in out.values())
    draws = rj.rsvi_rsample(alpha, rate, 4, generator=seeded(7))
    assert draws.value.shape == (4, 2, 3) and draws.value.dtype == dtype


@pytest.mark.parametrize("estimator", [rj.rsvi_gradient, rj.grep_gradient])
def test_same_seed_same_estimates(estimator: Any) -> None:
    a = estimator(lambda z: z.log(), 0.8, 2.0, 50, generator=seeded(8))
    b = estimator(lambda z: z.log(), 0.8, 2.0, 50, generator=seeded(8))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_estimates_at_given_noise_are_those_of_the_estimators() -> None:
    cost = COSTS["z2"][0]
    alpha, rate, n = torch.tensor(0.6, dtype=F64), torch.tensor(1.4, dtype=F64), 30
    expected = rj.rsvi_gradient(cost, alpha, rate, n, boost=2, generator=seeded(9))
    gen = seeded(9)
    noise = rj.sample_accepted_noise(alpha + 2, n, generator=gen)
    uniforms = open_uniform((2, n), generator=gen, dtype=F64)
    got = rj.rsvi_estimate(cost, alpha, rate, noise, uniforms)
    assert all(torch.allclose(got[k], expected[k], rtol=1e-13) for k in got)
    gen = seeded(10)
    expected = rj.grep_gradient(cost, alpha, rate, n, generator=gen)
    log_g = reparam.catalog.implicit.gamma_log_draw(alpha.expand(n), seeded(10))
    noise = (log_g - torch.digamma(alpha)) / torch.polygamma(1, alpha).sqrt()
    got = rj.grep_estimate(cost, alpha, rate, noise)
    assert all(torch.allclose(got[k], expected[k], rtol=1e-12) for k in got)


def test_training_with_the_surrogate_finds_the_optimum() -> None:
    """Minimise E[(z − 3)²] = α + (α − 3)² over α (rate 1): the optimum is α = 2.5.

    SGD at step 0.05 with 64 draws per step: the gradient's variance per step is about
    30/64, the curvature 2, so the iterates fluctuate with a standard deviation of about
    √(0.05 · 0.47 / 4) ≈ 0.08 and a correlation time of 1/(0.05 · 2) = 10 steps; the mean of
    the last 400 iterates has a standard error near 0.08/√40 ≈ 0.013."""
    alpha = torch.tensor(1.2, dtype=F64, requires_grad=True)
    optimizer = torch.optim.SGD([alpha], lr=0.05)
    gen, trace = seeded(11), []
    for step in range(600):
        draws = rj.rsvi_rsample(alpha, 1.0, 64, generator=gen)
        loss = rj.corrected_surrogate((draws.value - 3) ** 2, draws.noise_log_prob).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step >= 200:
            trace.append(alpha.item())
    assert abs(float(np.mean(trace)) - 2.5) < 0.06


@settings(max_examples=40, deadline=None)
@given(
    alpha=st.floats(0.05, 200.0),
    rate=st.floats(0.01, 100.0),
    seed=st.integers(0, 2**31 - 1),
)
def test_estimates_are_finite_for_any_positive_parameters(
    alpha: float, rate: float, seed: int
) -> None:
    shape, scale = torch.tensor(alpha, dtype=F64), torch.tensor(rate, dtype=F64)
    for estimator in (rj.rsvi_gradient, rj.grep_gradient):
        out = estimator(lambda z: torch.sqrt(z), shape, scale, 16, generator=seeded(seed))
        assert all(bool(torch.isfinite(v).all()) for v in out.values())


def test_draws_below_the_dtypes_range_are_not_silent() -> None:
    """At shape 0.01 many float32 draws fall below the smallest normal float32 number: they
    are clamped into range (finite), and a warning says that their gradient is zero."""
    alpha = torch.tensor(0.01, dtype=torch.float32)
    for estimator in (rj.rsvi_gradient, rj.grep_gradient):
        with pytest.warns(RuntimeWarning, match="clamped"):
            out = estimator(lambda z: z.log(), alpha, 1.0, 200, generator=seeded(13))
        assert all(bool(torch.isfinite(v).all()) for v in out.values())


@pytest.mark.parametrize("estimator", [rj.rsvi_gradient, rj.grep_gradient])
def test_large_shapes_in_float32_are_unbiased(estimator: Any) -> None:
    """The score of the noise is a small difference of terms of size α: computed in float32
    it biased d/dα E[z] = 1 by 0.5 % at α = 10⁴ (130 standard errors); in float64 inside,
    the float32 estimator is unbiased."""
    for alpha in (1e3, 1e4):
        shape = torch.tensor(alpha, dtype=torch.float32)
        out = estimator(lambda z: z, shape, 1.0, 40_000, generator=seeded(14))
        draws = out["concentration"]
        assert draws.dtype == torch.float32
        assert abs(z_score(draws.double(), 1.0)) < Z_MAX


# -- bad input ----------------------------------------------------------------------------------
def test_bad_input_is_named() -> None:
    ok = (lambda z: z, 1.5, 1.0, 4)
    cases: list[tuple[Callable[[], Any], type[Exception], str]] = [
        (lambda: rj.rsvi_gradient(lambda z: z, -1.0, 1.0, 4), ValueError, "concentration"),
        (lambda: rj.rsvi_gradient(lambda z: z, 1.0, math.nan, 4), ValueError, "rate"),
        (lambda: rj.grep_gradient(lambda z: z, 1.0, 0.0, 4), ValueError, "rate"),
        (lambda: rj.rsvi_gradient(*ok, boost=-1), ValueError, "boost"),
        (lambda: rj.rsvi_gradient(lambda z: z, 0.4, 1.0, 4, boost=0), ValueError, "boost"),
        (lambda: rj.rsvi_gradient(*ok, boost=1.0), TypeError, "boost"),  # type: ignore[arg-type]
        (lambda: rj.rsvi_gradient(lambda z: z, 1.5, 1.0, 0), ValueError, "num_samples"),
        (lambda: rj.grep_gradient(*ok, generator=3), TypeError, "generator"),  # type: ignore[arg-type]
        (lambda: rj.rsvi_gradient(None, 1.5, 1.0, 4), TypeError, "cost"),  # type: ignore[arg-type]
        (lambda: rj.rsvi_gradient(lambda z: z[:, None], 1.5, 1.0, 4), ValueError, "cost"),
        (lambda: rj.grep_gradient(lambda z: z / 0, 1.5, 1.0, 4), ValueError, "cost"),
        (
            lambda: rj.rsvi_gradient(lambda z: z, torch.ones(2), torch.ones(3), 4),
            ValueError,
            "concentration",
        ),
        (lambda: rj.marsaglia_tsang_proposal(torch.zeros(2), 0.5), ValueError, "concentration"),
        (lambda: rj.accepted_noise_log_prob([0.0], 2.0), TypeError, "noise"),  # type: ignore[arg-type]
        (lambda: rj.sample_accepted_noise(0.9, 3), ValueError, "concentration"),
        (lambda: rj.acceptance_probability(0.5), ValueError, "concentration"),
        (
            lambda: rj.rsvi_estimate(lambda z: z, 2.0, 1.0, torch.tensor([-9.0])),
            ValueError,
            "noise",
        ),
        (lambda: rj.rsvi_estimate(lambda z: z, 2.0, 1.0, torch.zeros(2, 2)), ValueError, "noise"),
        (
            lambda: rj.rsvi_estimate(lambda z: z, 2.0, 1.0, torch.zeros(2), torch.ones(1, 2)),
            ValueError,
            "uniforms",
        ),
        (
            lambda: rj.rsvi_estimate(lambda z: z, 2.0, 1.0, torch.zeros(2), torch.ones(2)),
            ValueError,
            "uniforms",
        ),
        (
            lambda: rj.grep_estimate(lambda z: z, 2.0, 1.0, torch.tensor([math.inf])),
            ValueError,
            "noise",
        ),
        (
            lambda: rj.corrected_surrogate(torch.zeros(3), torch.zeros(2)),
            ValueError,
            "noise_log_prob",
        ),
        (
            lambda: rj.gamma_gradient_moments(lambda z: z, 1.0, estimator="exact"),
            ValueError,
            "estimator",
        ),
        (
            lambda: rj.gamma_gradient_moments(lambda z: z, 1.0, estimator="rsvi", boost=2),
            ValueError,
            "boost",
        ),
        (
            lambda: rj.gamma_gradient_moments(lambda z: z, 0.0, estimator="grep"),
            ValueError,
            "concentration",
        ),
        (
            lambda: rj.gamma_gradient_moments(lambda z: z.log(), 0.02, estimator="implicit"),
            ValueError,
            "concentration",
        ),
        (
            lambda: rj.gamma_gradient_moments(lambda z: z, 2.0, estimator="grep", boost=1),
            ValueError,
            "boost",
        ),
    ]
    for call, kind, name in cases:
        with pytest.raises(kind, match=name):
            call()
