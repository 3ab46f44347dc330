"""reparam.policy and reparam.book.bandit (book chapter "Reparameterized policies").

Oracles: NumPy's ``logaddexp`` for log cosh, ``torch.distributions`` (a tanh-transformed
Normal with a cached pre-squash value), SciPy's adaptive quadrature and normal distribution,
closed forms, and finite differences. Monte Carlo checks use standard errors computed here,
from independent replicates, with |z| < 4.5.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import scipy.integrate
import scipy.stats
import torch
import torch.distributions as dist
from hypothesis import given, settings
from hypothesis import strategies as st

from reparam import policy
from reparam.book import bandit

F64 = torch.float64
TAU = 0.2
Z_LIMIT = 4.5


# Numbers given to the package become float64 tensors here (the oracles are float64).
pytestmark = pytest.mark.usefixtures("double_precision")


def cost(action: torch.Tensor) -> torch.Tensor:
    return 4 * (action - 0.75) ** 2


def t(*values: float, dtype: torch.dtype = F64) -> torch.Tensor:
    return torch.tensor(values if len(values) > 1 else values[0], dtype=dtype)


def log_one_minus_tanh_squared(u: float) -> float:
    """Independent oracle: log(1 − tanh² u) = −2 log cosh u, with
    log cosh u = logaddexp(u, −u) − log 2."""
    return float(-2 * (np.logaddexp(u, -u) - math.log(2)))


def scipy_log_density(a: float, loc: float, scale: float) -> float:
    u = math.atanh(a)
    return float(scipy.stats.norm.logpdf(u, loc, scale)) - log_one_minus_tanh_squared(u)


def scipy_soft_cost(f: Callable[[float], float], loc: float, scale: float, tau: float) -> float:
    """J = E_u[f(tanh u) + τ log π(tanh u)], u ~ N(loc, scale²), by adaptive quadrature in u."""

    def integrand(u: float) -> float:
        log_pi = float(scipy.stats.norm.logpdf(u, loc, scale)) - log_one_minus_tanh_squared(u)
        return float(scipy.stats.norm.pdf(u, loc, scale)) * (f(math.tanh(u)) + tau * log_pi)

    edges = np.linspace(loc - 14 * scale, loc + 14 * scale, 57)
    return sum(
        scipy.integrate.quad(integrand, lo, hi, epsabs=1e-14, epsrel=1e-13)[0]
        for lo, hi in itertools.pairwise(edges)
    )


def scipy_log_z(f: Callable[[float], float], tau: float) -> float:
    value = scipy.integrate.quad(
        lambda a: math.exp(-f(a) / tau), -1, 1, epsabs=1e-14, epsrel=1e-13, limit=200
    )[0]
    return math.log(value)


def exact_gradient(
    f: Callable[[torch.Tensor], torch.Tensor], loc: float, scale: float
) -> list[float]:
    mu = torch.tensor(loc, dtype=F64, requires_grad=True)
    sigma = torch.tensor(scale, dtype=F64, requires_grad=True)
    grads = torch.autograd.grad(policy.soft_objective(f, mu, sigma, TAU), [mu, sigma])
    return [g.item() for g in grads]


def replicate_means(
    estimator: Callable[..., dict[str, torch.Tensor]],
    f: Callable[[torch.Tensor], torch.Tensor],
    loc: float,
    scale: float,
    *,
    replicates: int = 20_000,
    batch: int = 8,
    seed: int = 0,
    **options: Any,
) -> dict[str, torch.Tensor]:
    """``replicates`` independent estimates, each the mean of ``batch`` per-draw estimates
    (the leave-one-out baseline couples the draws of one batch, never two batches)."""
    draws = estimator(
        f,
        torch.full((replicates,), loc, dtype=F64),
        torch.full((replicates,), scale, dtype=F64),
        TAU,
        batch,
        generator=torch.Generator().manual_seed(seed),
        **options,
    )
    return {key: value.mean(0) for key, value in draws.items()}


def z_score(samples: torch.Tensor, expected: float) -> float:
    return ((samples.mean() - expected) / (samples.std() / math.sqrt(samples.numel()))).item()


# -- the log-density correction ------------------------------------------------------------------
@pytest.mark.parametrize("u", [0.0, 1e-8, 0.3, -2.0, 7.5, -19.0, 40.0, 300.0, -1e4])
def test_correction_matches_log_cosh_oracle(u: float) -> None:
    ours = policy.tanh_log_abs_det_jacobian(t(u)).item()
    assert ours == pytest.approx(log_one_minus_tanh_squared(u), rel=1e-14, abs=1e-15)


def test_correction_matches_torch_and_the_naive_form_where_that_is_accurate() -> None:
    u = torch.linspace(-6, 6, 121, dtype=F64)
    ours = policy.tanh_log_abs_det_jacobian(u)
    torch_form = dist.TanhTransform().log_abs_det_jacobian(u, torch.tanh(u))
    naive = torch.log1p(-(torch.tanh(u) ** 2))
    assert torch.allclose(ours, torch_form, rtol=1e-13, atol=1e-14)
    assert torch.allclose(ours, naive, rtol=1e-9)


def test_correction_in_float32_keeps_every_digit_where_the_naive_form_fails() -> None:
    u = torch.tensor([0.5, 4.0, 8.0, 12.0, 30.0], dtype=torch.float32)
    ours = policy.tanh_log_abs_det_jacobian(u)
    assert ours.dtype == torch.float32
    exact = torch.tensor([log_one_minus_tanh_squared(v) for v in u.tolist()], dtype=F64)
    assert ((ours.double() - exact) / exact).abs().max() < 2e-7


def test_correction_at_infinities_and_nan() -> None:
    out = policy.tanh_log_abs_det_jacobian(t(math.inf, -math.inf, math.nan))
    assert out[0].item() == out[1].item() == -math.inf and math.isnan(out[2].item())


def test_correction_gradient_is_minus_two_tanh() -> None:
    u = torch.linspace(-5, 5, 41, dtype=F64).requires_grad_(True)
    (grad,) = torch.autograd.grad(policy.tanh_log_abs_det_jacobian(u).sum(), u)
    assert torch.allclose(grad, -2 * torch.tanh(u.detach()), atol=1e-14)


# -- the squashed Gaussian -------------------------------------------------------------------------
def test_log_prob_matches_torch_with_a_cached_pre_squash_value() -> None:
    loc, scale = t(-0.4, 0.9, 2.0), t(0.3, 1.0, 2.5)
    u = loc + scale * torch.randn(50, 3, generator=torch.Generator().manual_seed(1), dtype=F64)
    squashed = dist.TransformedDistribution(
        dist.Normal(loc, scale), [dist.TanhTransform(cache_size=1)]
    )
    theirs = squashed.log_prob(squashed.transforms[0](u))
    assert torch.allclose(policy.squashed_normal_log_prob(u, loc, scale), theirs, atol=1e-12)


@pytest.mark.parametrize(("loc", "scale"), [(0.0, 1.0), (1.5, 0.2), (-0.3, 2.5)])
def test_density_integrates_to_one_and_matches_scipy(loc: float, scale: float) -> None:
    def density(a: float) -> float:
        return math.exp(policy.squashed_normal_log_prob(t(math.atanh(a)), loc, scale).item())

    mass = scipy.integrate.quad(density, -1, 1, limit=400, epsabs=1e-12)[0]
    assert mass == pytest.approx(1, abs=1e-8)
    for a in (-0.9, 0.0, 0.6):
        ours = policy.squashed_normal_log_prob(t(math.atanh(a)), loc, scale).item()
        assert ours == pytest.approx(scipy_log_density(a, loc, scale), rel=1e-12, abs=1e-12)


def test_rsample_shapes_dtype_gradients_and_consistency() -> None:
    loc = torch.zeros(3, dtype=torch.float32, requires_grad=True)
    scale = torch.tensor(0.5, dtype=torch.float32, requires_grad=True)
    draws = policy.squashed_normal_rsample(
        loc, scale, 7, generator=torch.Generator().manual_seed(0)
    )
    for value in draws:
        assert value.shape == (7, 3) and value.dtype == torch.float32
    assert torch.equal(draws.action, torch.tanh(draws.pre_tanh))
    assert torch.allclose(
        draws.log_prob, policy.squashed_normal_log_prob(draws.pre_tanh, loc, scale), atol=1e-5
    )
    draws.action.sum().backward()
    assert loc.grad is not None and scale.grad is not None
    again = policy.squashed_normal_rsample(
        loc, scale, 7, generator=torch.Generator().manual_seed(0)
    )
    assert torch.equal(draws.action, again.action)


def test_rsample_actions_follow_the_squashed_normal_distribution() -> None:
    loc, scale = 0.8, 0.6
    draws = policy.squashed_normal_rsample(
        loc, scale, 50_000, generator=torch.Generator().manual_seed(3)
    )
    # P(a <= x) = Phi((atanh x - loc) / scale)
    result = scipy.stats.kstest(
        draws.action.numpy(), lambda x: scipy.stats.norm.cdf((np.arctanh(x) - loc) / scale)
    )
    assert result.pvalue > 1e-4


# -- exact values by quadrature --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("loc", "scale"), [(0.0, 1.0), (1.0, 0.3), (-1.2, 0.05), (0.0, 3.0), (2.0, 10.0)]
)
def test_soft_objective_matches_scipy(loc: float, scale: float) -> None:
    ours = policy.soft_objective(cost, loc, scale, TAU).item()
    theirs = scipy_soft_cost(lambda a: 4 * (a - 0.75) ** 2, loc, scale, TAU)
    assert ours == pytest.approx(theirs, abs=1e-12)


def test_soft_objective_gradient_matches_finite_differences_of_scipy() -> None:
    loc, scale, h = 0.3, 0.7, 1e-4
    grad = exact_gradient(cost, loc, scale)

    def j(m: float, s: float) -> float:
        return scipy_soft_cost(lambda a: 4 * (a - 0.75) ** 2, m, s, TAU)

    d_loc = (j(loc + h, scale) - j(loc - h, scale)) / (2 * h)
    d_scale = (j(loc, scale + h) - j(loc, scale - h)) / (2 * h)
    assert grad == pytest.approx([d_loc, d_scale], abs=1e-7)


def test_soft_cost_is_minus_tau_log_z_plus_tau_kl() -> None:
    log_z = policy.boltzmann_log_normalizer(cost, TAU).item()
    assert log_z == pytest.approx(scipy_log_z(lambda a: 4 * (a - 0.75) ** 2, TAU), abs=1e-12)
    for loc, scale in [(0.0, 1.0), (0.9, 0.4)]:

        def integrand(a: float, loc: float = loc, scale: float = scale) -> float:
            log_q = scipy_log_density(a, loc, scale)
            return math.exp(log_q) * (log_q + 4 * (a - 0.75) ** 2 / TAU + log_z)

        kl = scipy.integrate.quad(integrand, -1 + 1e-13, 1 - 1e-13, limit=400)[0]
        soft = policy.soft_objective(cost, loc, scale, TAU).item()
        assert soft == pytest.approx(-TAU * log_z + TAU * kl, abs=1e-8)
        assert kl > 0


def test_soft_objective_batches_and_dtype() -> None:
    loc = torch.tensor([[0.0], [1.0]], dtype=torch.float32)
    scale = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float32)
    out = policy.soft_objective(cost, loc, scale, TAU)
    assert out.shape == (2, 3) and out.dtype == torch.float32
    for i in range(2):
        for j in range(3):
            one = policy.soft_objective(cost, loc[i, 0].double(), scale[j].double(), TAU)
            assert out[i, j].item() == pytest.approx(one.item(), rel=1e-5)


@pytest.mark.parametrize("tau", [1.0, 0.2, 0.05])
def test_boltzmann_normalizer_and_density(tau: float) -> None:
    log_z = scipy_log_z(lambda a: 4 * (a - 0.75) ** 2, tau)
    assert policy.boltzmann_log_normalizer(cost, tau).item() == pytest.approx(log_z, abs=1e-12)
    actions = [-0.99, -0.3, 0.0, 0.75, 0.999]
    ours = policy.boltzmann_log_prob(t(*actions), cost, tau)
    theirs = [-4 * (a - 0.75) ** 2 / tau - log_z for a in actions]
    assert ours.tolist() == pytest.approx(theirs, abs=1e-11)


def test_boltzmann_batch_of_temperatures_and_edge_values() -> None:
    taus = t(1.0, 0.2, 0.05)
    batch = policy.boltzmann_log_normalizer(cost, taus)
    single = [policy.boltzmann_log_normalizer(cost, tau).item() for tau in taus.tolist()]
    assert batch.tolist() == pytest.approx(single, abs=1e-13)
    out = policy.boltzmann_log_prob(t(-1.0, 1.0, 2.0, math.nan, 0.5), cost, TAU)
    assert out[:3].tolist() == [-math.inf] * 3 and math.isnan(out[3].item())
    assert math.isfinite(out[4].item())


# -- the estimators -------------------------------------------------------------------------------
@pytest.mark.parametrize(("loc", "scale"), [(0.0, 1.0), (0.98, 0.29), (-0.5, 0.4)])
@pytest.mark.parametrize(
    ("estimator", "options"),
    [
        (policy.soft_pathwise_gradient, {}),
        (policy.soft_score_function_gradient, {}),
        (policy.soft_score_function_gradient, {"baseline": "none"}),
    ],
)
def test_estimators_are_unbiased(
    estimator: Callable[..., dict[str, torch.Tensor]],
    options: dict[str, Any],
    loc: float,
    scale: float,
) -> None:
    exact = exact_gradient(cost, loc, scale)
    means = replicate_means(estimator, cost, loc, scale, **options)
    for key, expected in zip(["loc", "scale"], exact, strict=True):
        assert abs(z_score(means[key], expected)) < Z_LIMIT, key


def test_score_function_handles_a_cost_that_is_a_step() -> None:
    # f(a) = 1{a > 1/2}: E f = 1 − Φ(z), z = (atanh(1/2) − μ)/σ, so dE f/dμ = φ(z)/σ and
    # dE f/dσ = φ(z) z/σ; the entropy part is the soft cost of a zero cost.
    loc, scale = 0.2, 0.8
    z = (math.atanh(0.5) - loc) / scale
    density = scipy.stats.norm.pdf(z)
    entropy_part = exact_gradient(lambda a: torch.zeros_like(a), loc, scale)
    exact = [density / scale + entropy_part[0], density * z / scale + entropy_part[1]]
    means = replicate_means(
        policy.soft_score_function_gradient, lambda a: (a > 0.5).to(a.dtype), loc, scale
    )
    for key, expected in zip(["loc", "scale"], exact, strict=True):
        assert abs(z_score(means[key], expected)) < Z_LIMIT, key


def test_event_dims_give_each_coordinate_its_exact_gradient() -> None:
    # A separable cost over D coordinates: each coordinate's gradient is the 1-D one.
    d, replicates = 4, 5_000
    loc = torch.tensor([0.0, 0.5, -0.5, 1.0], dtype=F64)
    scale = torch.tensor([1.0, 0.5, 0.8, 0.3], dtype=F64)
    exact = [exact_gradient(cost, loc[i].item(), scale[i].item()) for i in range(d)]
    for seed, estimator in enumerate(
        [policy.soft_pathwise_gradient, policy.soft_score_function_gradient]
    ):
        draws = estimator(
            lambda a: cost(a).sum(-1),
            loc.expand(replicates, d),
            scale.expand(replicates, d),
            TAU,
            8,
            event_dims=1,
            generator=torch.Generator().manual_seed(seed),
        )
        for k, key in enumerate(["loc", "scale"]):
            assert draws[key].shape == (8, replicates, d)
            means = draws[key].mean(0)
            for i in range(d):
                assert abs(z_score(means[:, i], exact[i][k])) < Z_LIMIT, (key, i)


def test_the_two_estimators_agree_on_a_coupled_cost() -> None:
    # f(a) = (a_1 + a_2 − 1)²: no 1-D oracle, but two unbiased estimators must agree.
    def coupled(a: torch.Tensor) -> torch.Tensor:
        return (a.sum(-1) - 1) ** 2

    loc, scale, replicates = t(0.2, -0.4), t(0.7, 0.5), 20_000
    means = []
    for seed, estimator in enumerate(
        [policy.soft_pathwise_gradient, policy.soft_score_function_gradient]
    ):
        draws = estimator(
            coupled,
            loc.expand(replicates, 2),
            scale.expand(replicates, 2),
            TAU,
            8,
            event_dims=1,
            generator=torch.Generator().manual_seed(10 + seed),
        )
        means.append({key: value.mean(0) for key, value in draws.items()})
    for key in ["loc", "scale"]:
        a, b = means[0][key], means[1][key]
        se = (a.var(0) / replicates + b.var(0) / replicates).sqrt()
        assert ((a.mean(0) - b.mean(0)).abs() / se).max() < Z_LIMIT, key


def test_score_variance_grows_with_dimension_and_pathwise_does_not() -> None:
    variances: dict[str, list[float]] = {"path": [], "score": []}
    for d in (1, 32):
        for name, estimator in [
            ("path", policy.soft_pathwise_gradient),
            ("score", policy.soft_score_function_gradient),
        ]:
            draws = estimator(
                lambda a: cost(a).sum(-1),
                torch.zeros(4_000, d, dtype=F64),
                torch.ones(4_000, d, dtype=F64),
                TAU,
                8,
                event_dims=1,
                generator=torch.Generator().manual_seed(d),
            )
            variances[name].append(draws["loc"].mean(0)[:, 0].var().item())
    # Sample variances of 4,000 estimates: relative standard error about 2-4 %.
    assert variances["path"][1] / variances["path"][0] == pytest.approx(1, abs=0.2)
    assert variances["score"][1] / variances["score"][0] > 10


def test_per_sample_shapes_follow_each_parameter() -> None:
    out = policy.soft_pathwise_gradient(
        cost, 0.0, torch.ones(3, dtype=F64), t(0.1, 0.2, 0.3), 5,
        generator=torch.Generator().manual_seed(0),
    )  # fmt: skip
    assert out["loc"].shape == (5,) and out["scale"].shape == (5, 3)
    out32 = policy.soft_score_function_gradient(
        cost, torch.zeros(2, dtype=torch.float32), 1.0, TAU, 4
    )  # numbers follow the float32 tensor, whatever the default dtype
    assert out32["loc"].shape == (4, 2) and out32["scale"].shape == (4,)
    assert all(v.dtype == torch.float32 for v in out32.values())


def test_seeded_estimates_are_reproducible() -> None:
    for estimator in [policy.soft_pathwise_gradient, policy.soft_score_function_gradient]:
        a = estimator(cost, 0.1, 0.9, TAU, 6, generator=torch.Generator().manual_seed(4))
        b = estimator(cost, 0.1, 0.9, TAU, 6, generator=torch.Generator().manual_seed(4))
        assert all(torch.equal(a[k], b[k]) for k in a)


# -- bad input -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("call", "names"),
    [
        (lambda: policy.soft_pathwise_gradient(cost, 0.0, 0.0, TAU, 4), ["scale", "positive"]),
        (lambda: policy.soft_pathwise_gradient(cost, math.nan, 1.0, TAU, 4), ["loc", "finite"]),
        (lambda: policy.soft_pathwise_gradient(cost, 0.0, 1.0, -1.0, 4), ["temperature"]),
        (lambda: policy.soft_pathwise_gradient(cost, 0.0, 1.0, TAU, 0), ["num_samples"]),
        (
            lambda: policy.soft_pathwise_gradient("f", 0.0, 1.0, TAU, 4),  # type: ignore[arg-type]
            ["cost", "callable"],
        ),
        (
            lambda: policy.soft_pathwise_gradient(lambda a: a.sum(), 0.0, t(1.0, 2.0), TAU, 4),
            ["cost", "one cost per action"],
        ),
        (
            lambda: policy.soft_pathwise_gradient(lambda a: a / 0, 0.0, 1.0, TAU, 4),
            ["cost", "finite"],
        ),
        (
            lambda: policy.soft_pathwise_gradient(cost, t(0.0, 1.0), t(1.0, 1.0, 1.0), TAU, 4),
            ["loc", "scale", "broadcast"],
        ),
        (
            lambda: policy.soft_pathwise_gradient(
                lambda a: a.sum(-1), torch.zeros(2, 3), 1.0, torch.ones(3), 4, event_dims=1
            ),
            ["temperature", "broadcast"],
        ),
        (
            lambda: policy.soft_pathwise_gradient(cost, torch.zeros(2), 1.0, TAU, 4, event_dims=2),
            ["event_dims", "at most 1"],
        ),
        (
            lambda: policy.soft_score_function_gradient(cost, 0.0, 1.0, TAU, 1),
            ["num_samples", "leave-one-out"],
        ),
        (
            lambda: policy.soft_score_function_gradient(cost, 0.0, 1.0, TAU, 4, baseline="mean"),
            ["baseline", "leave-one-out"],
        ),
        (lambda: policy.soft_objective(cost, 0.0, 200.0, TAU), ["scale", "at most 100"]),
        (lambda: policy.soft_objective(cost, 0.0, 1.0, 0.0), ["temperature", "positive"]),
        (lambda: policy.boltzmann_log_normalizer(cost, math.inf), ["temperature"]),
        (lambda: policy.boltzmann_log_normalizer(cost, TAU, panels=0), ["panels"]),
        (lambda: policy.squashed_normal_log_prob(t(0.0), 0.0, -1.0), ["scale", "positive"]),
        (
            lambda: policy.squashed_normal_log_prob("0", 0.0, 1.0),  # type: ignore[arg-type]
            ["pre_tanh"],
        ),
        (lambda: policy.tanh_log_abs_det_jacobian(torch.tensor([1, 2])), ["pre_tanh"]),
        (
            lambda: policy.squashed_normal_rsample(0.0, 1.0, 3, generator=1),  # type: ignore[arg-type]
            ["generator"],
        ),
        (lambda: policy.boltzmann_log_prob(torch.tensor([0]), cost, TAU), ["action"]),
    ],
)
def test_bad_input_is_named(call: Callable[[], object], names: list[str]) -> None:
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    for name in names:  # the name itself, not a longer word containing it
        assert re.search(rf"(?<![\w]){re.escape(name)}(?![\w])", str(info.value)), (
            name,
            str(info.value),
        )


@settings(max_examples=60, deadline=None)
@given(
    loc=st.floats(-6, 6),
    scale=st.floats(0.01, 6),
    tau=st.floats(0.01, 10),
)
def test_estimates_are_finite_for_any_valid_policy(loc: float, scale: float, tau: float) -> None:
    for estimator in [policy.soft_pathwise_gradient, policy.soft_score_function_gradient]:
        out = estimator(cost, loc, scale, tau, 4, generator=torch.Generator().manual_seed(0))
        assert all(bool(torch.isfinite(v).all()) for v in out.values())
    assert math.isfinite(policy.soft_objective(cost, loc, scale, tau).item())


@settings(max_examples=100, deadline=None)
@given(u=st.floats(-1e6, 1e6))
def test_correction_is_never_positive_and_matches_the_oracle(u: float) -> None:
    value = policy.tanh_log_abs_det_jacobian(t(u)).item()
    assert value <= 0
    assert value == pytest.approx(log_one_minus_tanh_squared(u), rel=1e-13, abs=1e-14)


# -- the book's bandit ----------------------------------------------------------------------------
def test_best_squashed_normal_is_a_stationary_point_and_below_its_neighbours() -> None:
    loc, scale, value = bandit.best_squashed_normal(cost, TAU)
    assert exact_gradient(cost, loc, scale) == pytest.approx([0, 0], abs=1e-10)
    for d_loc, d_scale in [(0.05, 0), (-0.05, 0), (0, 0.02), (0, -0.02)]:
        nearby = policy.soft_objective(cost, loc + d_loc, scale + d_scale, TAU).item()
        assert nearby > value
    assert value > -TAU * policy.boltzmann_log_normalizer(cost, TAU).item()


def test_train_policy_approaches_the_floor_and_steps_to_reach() -> None:
    _, _, best = bandit.best_squashed_normal(cost, TAU)
    floor = (best + TAU * policy.boltzmann_log_normalizer(cost, TAU).item()) / TAU
    run = bandit.train_policy(
        policy.soft_pathwise_gradient, cost, TAU, dim=2, runs=8, num_samples=8, steps=300,
        step_size=0.05, generator=torch.Generator().manual_seed(0),
    )  # fmt: skip
    assert run.kl.shape == (30, 8) and run.loc.shape == (8, 2)
    assert (run.kl >= 2 * floor - 1e-9).all()  # no policy beats the best of its family
    assert np.median(run.kl[-1]) < 2 * floor + 0.1 < np.median(run.kl[0])
    reached = bandit.steps_to_reach(run, 0.1, 2 * floor)
    assert reached in run.steps
    assert math.isnan(bandit.steps_to_reach(run, 1e-9, 2 * floor))


def test_steps_to_reach_needs_the_median_to_stay_inside() -> None:
    kl = np.array([[5.0, 5.0, 5.0], [0.5, 0.5, 5.0], [2.0, 2.0, 0.1], [0.5, 0.5, 0.5]])
    run = bandit.PolicyTraining(np.array([10, 20, 30, 40]), kl, np.zeros((3, 1)), np.ones((3, 1)))
    assert bandit.steps_to_reach(run, 1.0, 0.0) == 40  # inside at 20, out again at 30
    assert bandit.steps_to_reach(run, 10.0, 0.0) == 10


def test_every_tensor_created_follows_the_inputs_device() -> None:
    # torch's default device is "meta" meanwhile: a tensor made without naming the inputs'
    # device lands there, and mixing it with the CPU inputs raises (tests/test_devices.py).
    loc, scale, tau = t(0.1, 0.2), t(0.5, 1.0), t(0.2)
    u = t(0.3, 12.0)
    torch.set_default_device("meta")
    try:
        calls = [
            lambda: policy.tanh_log_abs_det_jacobian(u),
            lambda: policy.squashed_normal_log_prob(u, loc, scale),
            lambda: policy.squashed_normal_rsample(loc, scale, 3).action,
            lambda: policy.soft_pathwise_gradient(cost, loc, scale, tau, 3)["scale"],
            lambda: policy.soft_score_function_gradient(cost, loc, scale, tau, 3)["loc"],
            lambda: policy.soft_objective(cost, loc, scale, tau),
            lambda: policy.boltzmann_log_normalizer(cost, tau),
            lambda: policy.boltzmann_log_prob(u, cost, tau),
        ]
        for call in calls:
            assert call().device.type == "cpu"
    finally:
        torch.set_default_device(None)


def short_training(**overrides: Any) -> bandit.PolicyTraining:
    """One step of :func:`bandit.train_policy` with small settings, some of them overridden."""
    settings: dict[str, Any] = {
        "gradient": policy.soft_pathwise_gradient,
        "cost": cost,
        "temperature": TAU,
        "dim": 1,
        "runs": 1,
        "num_samples": 2,
        "steps": 1,
        "step_size": 0.1,
        "generator": torch.Generator(),
    }
    settings.update(overrides)
    gradient = settings.pop("gradient")
    return bandit.train_policy(
        gradient, settings.pop("cost"), settings.pop("temperature"), **settings
    )


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: bandit.best_squashed_normal(cost, 0.0), "temperature"),
        (lambda: bandit.best_squashed_normal("f", TAU), "cost"),  # type: ignore[arg-type]
        (lambda: short_training(gradient=None), "gradient"),
        (lambda: short_training(start=(0.0, -1.0)), "start scale"),
        (lambda: short_training(dim=0), "dim"),
        (
            lambda: bandit.steps_to_reach(
                bandit.PolicyTraining(
                    np.array([1]), np.ones((1, 1)), np.zeros((1, 1)), np.ones((1, 1))
                ),
                0.1,
                math.nan,
            ),
            "floor",
        ),
        (
            lambda: bandit.steps_to_reach(
                bandit.PolicyTraining(
                    np.array([1]), np.ones((1, 1)), np.zeros((1, 1)), np.ones((1, 1))
                ),
                0.0,
                0.0,
            ),
            "tolerance",
        ),
    ],
)
def test_bandit_bad_input_is_named(call: Callable[[], object], name: str) -> None:
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    assert re.search(rf"(?<![\w]){re.escape(name)}(?![\w])", str(info.value)), str(info.value)


def test_training_is_in_double_precision_whatever_the_default_dtype() -> None:
    torch.set_default_dtype(torch.float32)  # the autouse fixture restores it
    run = bandit.train_policy(
        policy.soft_pathwise_gradient, cost, TAU, dim=1, runs=2, num_samples=4, steps=10,
        step_size=0.05, generator=torch.Generator().manual_seed(0),
    )  # fmt: skip
    assert run.loc.dtype == np.float64 and run.scale.dtype == np.float64
    assert run.kl.dtype == np.float64


def test_per_draw_estimates_match_their_closed_forms() -> None:
    # With a = tanh(u), u = μ + σε, f(a) = 4(a − 0.75)², f'(a) = 8(a − 0.75):
    #   pathwise, μ: f'(a)(1 − a²) + 2τ tanh u;  σ: [f'(a)(1 − a²) + 2τ tanh u] ε − τ/σ;
    #   score (leave-one-out): (c_i − mean_{j≠i} c_j) (ε/σ, (ε² − 1)/σ), c = f(a) + τ log π(a).
    loc, scale, n = 0.3, 0.8, 6
    eps = torch.randn(n, generator=torch.Generator().manual_seed(7), dtype=F64)
    u = loc + scale * eps
    a = torch.tanh(u)
    slope = 8 * (a - 0.75) * (1 - a**2) + 2 * TAU * torch.tanh(u)
    path = policy.soft_pathwise_gradient(
        cost, loc, scale, TAU, n, generator=torch.Generator().manual_seed(7)
    )
    assert torch.allclose(path["loc"], slope, rtol=1e-12, atol=1e-13)
    assert torch.allclose(path["scale"], slope * eps - TAU / scale, rtol=1e-12, atol=1e-13)
    log_pi = torch.tensor(
        [scipy.stats.norm.logpdf(v, loc, scale) for v in u.tolist()], dtype=F64
    ) - torch.tensor([log_one_minus_tanh_squared(v) for v in u.tolist()], dtype=F64)
    soft = 4 * (a - 0.75) ** 2 + TAU * log_pi
    centred = soft - (soft.sum() - soft) / (n - 1)
    score = policy.soft_score_function_gradient(
        cost, loc, scale, TAU, n, generator=torch.Generator().manual_seed(7)
    )
    assert torch.allclose(score["loc"], centred * eps / scale, rtol=1e-11, atol=1e-12)
    assert torch.allclose(score["scale"], centred * (eps**2 - 1) / scale, rtol=1e-11, atol=1e-12)


def test_a_batch_of_temperatures_is_a_batch_of_problems() -> None:
    # Each policy of a batch uses its own temperature: the same draws as one call per τ.
    taus = [0.05, 0.2, 1.0]
    for estimator in [policy.soft_pathwise_gradient, policy.soft_score_function_gradient]:
        batched = estimator(
            cost, torch.zeros(3), torch.ones(3), t(*taus), 5,
            generator=torch.Generator().manual_seed(2),
        )  # fmt: skip
        for i, tau in enumerate(taus):
            one = estimator(
                cost, torch.zeros(3), torch.ones(3), tau, 5,
                generator=torch.Generator().manual_seed(2),
            )  # fmt: skip
            assert torch.allclose(batched["loc"][:, i], one["loc"][:, i], rtol=1e-13)
            assert torch.allclose(batched["scale"][:, i], one["scale"][:, i], rtol=1e-13)


def test_float32_policies_stay_float32_and_unbiased() -> None:
    loc = torch.tensor(0.4, dtype=torch.float32)
    scale = torch.tensor(0.7, dtype=torch.float32)
    exact = exact_gradient(cost, 0.4, 0.7)
    for seed, estimator in enumerate(
        [policy.soft_pathwise_gradient, policy.soft_score_function_gradient]
    ):
        draws = estimator(
            cost, loc.expand(20_000), scale.expand(20_000), t(TAU), 8,
            generator=torch.Generator().manual_seed(30 + seed),
        )  # fmt: skip
        for k, key in enumerate(["loc", "scale"]):
            assert draws[key].dtype == torch.float32  # a float64 temperature does not promote
            assert abs(z_score(draws[key].mean(0).double(), exact[k])) < Z_LIMIT, key


def test_pathwise_warns_for_a_cost_without_a_slope_and_refuses_an_infinite_one() -> None:
    with pytest.warns(RuntimeWarning, match="soft_score_function_gradient"):
        policy.soft_pathwise_gradient(lambda a: (a > 0.5).to(a.dtype), 0.0, 1.0, TAU, 4)
    with pytest.raises(ValueError, match=r"gradient of cost"):
        # sqrt(1 − a) has an infinite slope at a = 1, where this policy's actions round to.
        policy.soft_pathwise_gradient(lambda a: (1 - a).sqrt(), 25.0, 0.1, TAU, 4)
