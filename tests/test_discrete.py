"""Tests of :mod:`reparam.discrete` against independent oracles: scipy.stats (Gumbel, logistic,
chi-square), torch.distributions (relaxed categorical and Bernoulli), closed forms of the
Bernoulli problem E[(b − t)²], finite differences (gradcheck) and adaptive quadrature."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest
import scipy.integrate
import scipy.stats
import torch

from reparam import discrete
from reparam.discrete import (
    BERNOULLI,
    CATEGORICAL,
    RelaxedBernoulli,
    RelaxedCategorical,
    StraightThroughBernoulli,
    StraightThroughCategorical,
)
from reparam.estimators import pathwise_gradient, score_function_gradient
from reparam.noise import open_uniform

F64 = torch.float64
TARGET = 0.45  # the target t of the Bernoulli problem E[(b - t)^2]


def squared_error(b: torch.Tensor) -> torch.Tensor:
    return (b - TARGET) ** 2


def exact_objective(probs: torch.Tensor) -> torch.Tensor:
    """J(p) = E[(b − t)²] = p (1 − t)² + (1 − p) t², so dJ/dp = (1 − t)² − t² = 1 − 2t."""
    return probs * (1 - TARGET) ** 2 + (1 - probs) * TARGET**2


# --- noise --------------------------------------------------------------------------------


def test_gumbel_and_logistic_match_scipy(generator: torch.Generator) -> None:
    gumbel = discrete.sample_gumbel((20_000,), generator=generator, dtype=F64)
    logistic = discrete.sample_logistic((20_000,), generator=generator, dtype=F64)
    # Seeded, so the p-values are fixed numbers; a wrong distribution gives p ~ 0.
    assert scipy.stats.kstest(gumbel.numpy(), scipy.stats.gumbel_r.cdf).pvalue > 1e-3
    assert scipy.stats.kstest(logistic.numpy(), scipy.stats.logistic.cdf).pvalue > 1e-3


def test_noise_is_finite_even_when_rand_returns_the_endpoints(
    monkeypatch: pytest.MonkeyPatch, dtype: torch.dtype
) -> None:
    # torch.rand can return exactly 0 (probability 2^-24 per float32 draw): force it, and 1.
    def endpoints(shape: tuple[int, ...], **kwargs: object) -> torch.Tensor:
        values = torch.tensor([0.0, 1.0], dtype=kwargs["dtype"])  # type: ignore[arg-type]
        return values.repeat(math.prod(shape) // 2).reshape(shape)

    monkeypatch.setattr(torch, "rand", endpoints)
    u = open_uniform((4,), dtype=dtype)
    assert bool(((u > 0) & (u < 1)).all())
    for sampler in (discrete.sample_gumbel, discrete.sample_logistic):
        assert bool(torch.isfinite(sampler((4,), dtype=dtype)).all())


def test_noise_dtype_device_and_seed() -> None:
    a = discrete.sample_gumbel((3,), generator=torch.Generator().manual_seed(5), dtype=F64)
    b = discrete.sample_gumbel(
        (3,), generator=torch.Generator().manual_seed(5), dtype=F64, device="cpu"
    )
    assert a.dtype == F64 and torch.equal(a, b)
    assert discrete.sample_logistic((2,), dtype=torch.float32).dtype == torch.float32
    with pytest.raises(TypeError, match="dtype"):
        open_uniform((2,), dtype=torch.int64)
    with pytest.raises(TypeError, match="generator"):
        discrete.sample_gumbel((2,), generator=0)  # type: ignore[arg-type]


# --- Gumbel-max -----------------------------------------------------------------------------


def test_gumbel_max_frequencies_match_softmax(generator: torch.Generator) -> None:
    logits = torch.tensor([[0.0, 1.0, -1.0, 2.0], [0.5, 0.5, 0.5, -3.0]], dtype=F64)
    num_samples = 100_000
    index = discrete.gumbel_max_sample(logits, num_samples, generator=generator)
    assert index.shape == (num_samples, 2) and index.dtype == torch.int64
    probs = torch.softmax(logits, dim=-1)
    for row in range(2):
        counts = torch.bincount(index[:, row], minlength=4).numpy()
        expected = num_samples * probs[row].numpy()
        # Seeded chi-square goodness-of-fit test (3 degrees of freedom).
        assert scipy.stats.chisquare(counts, expected).pvalue > 1e-3


def test_categorical_path_is_one_hot_with_softmax_frequencies(generator: torch.Generator) -> None:
    logits = torch.tensor([1.0, 0.0, -0.5], dtype=F64)
    draws = CATEGORICAL.rsample(60_000, generator=generator, logits=logits)
    assert draws.shape == (60_000, 3) and draws.dtype == F64
    assert torch.equal(draws.sum(-1), torch.ones(60_000, dtype=F64))
    counts = draws.sum(0).numpy()
    assert scipy.stats.chisquare(counts, 60_000 * torch.softmax(logits, 0).numpy()).pvalue > 1e-3


def test_gumbel_max_probability_by_quadrature() -> None:
    # Independent oracle for the proof in the chapter: P(argmax = k) as a 1-d integral of the
    # Gumbel density of component k times the Gumbel CDFs of the others.
    logits = np.array([0.3, -1.2, 1.1])
    for k in range(3):

        def integrand(x: float, k: int = k) -> float:
            if x < logits.min() - 8:  # exp(-e^8) underflows: the integrand is 0 to double precision
                return 0.0
            density = math.exp(-(x - logits[k]) - math.exp(-(x - logits[k])))
            others = [math.exp(-math.exp(-(x - a))) for j, a in enumerate(logits) if j != k]
            return density * math.prod(others)

        value, _ = scipy.integrate.quad(integrand, -np.inf, np.inf)
        assert value == pytest.approx(math.exp(logits[k]) / np.exp(logits).sum(), abs=1e-9)


# --- the relaxations ----------------------------------------------------------------------


@pytest.mark.parametrize("temperature", [0.05, 0.5, 1.0, 5.0])
def test_relaxed_samples_lie_on_the_simplex(
    temperature: float, generator: torch.Generator, dtype: torch.dtype
) -> None:
    logits = torch.tensor([[0.0, 2.0, -1.0], [1.0, 1.0, 1.0]], dtype=dtype)
    y = discrete.relaxed_one_hot_sample(logits, temperature, 1_000, generator=generator)
    assert y.shape == (1_000, 2, 3) and y.dtype == dtype
    assert bool((y >= 0).all()) and bool(torch.isfinite(y).all())
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    assert torch.allclose(y.sum(-1), torch.ones((), dtype=dtype), atol=tol)


def test_relaxed_samples_approach_one_hot_as_temperature_falls() -> None:
    logits = torch.tensor([0.0, 1.0, -0.5, 0.2], dtype=F64)
    gumbel = discrete.sample_gumbel(
        (5_000, 4), generator=torch.Generator().manual_seed(0), dtype=F64
    )
    hard = CATEGORICAL.transform(gumbel, {"logits": logits})
    distances = []
    for temperature in [2.0, 1.0, 0.3, 0.1, 0.01]:
        y = RelaxedCategorical(temperature=temperature).transform(gumbel, {"logits": logits})
        # The argmax of the relaxed sample is the Gumbel-max sample, at every temperature.
        assert torch.equal(y.argmax(-1), hard.argmax(-1))
        distances.append((y - hard).abs().sum(-1).mean().item())
    assert all(a > b for a, b in itertools.pairwise(distances))
    assert distances[-1] < 0.02  # the mean L1 distance shrinks roughly in proportion to τ
    # And to the uniform vector as the temperature grows.
    y = RelaxedCategorical(temperature=1e4).transform(gumbel, {"logits": logits})
    assert torch.allclose(y, torch.full_like(y, 0.25), atol=2e-3)


def test_relaxed_bernoulli_approaches_the_step_sample() -> None:
    probs = torch.tensor([0.2, 0.5, 0.9], dtype=F64)
    u = open_uniform((4_000, 3), generator=torch.Generator().manual_seed(1), dtype=F64)
    b = BERNOULLI.transform(u, {"probs": probs})
    for temperature in [1.0, 0.1, 1e-3]:
        y = RelaxedBernoulli(temperature=temperature).transform(u, {"probs": probs})
        assert torch.equal((y > 0.5).to(F64), b)  # same u: thresholding is exact
    assert (y - b).abs().mean().item() < 1e-3


def test_relaxed_categorical_agrees_with_torch_for_the_same_noise() -> None:
    # torch.distributions draws from the global generator and accepts no noise, so we rebuild
    # its noise: reseed the global generator (inside fork_rng, leaving global state untouched),
    # draw torch's sample, reseed, redraw the same uniforms, and apply torch's documented
    # noise map g = -log(-log(clamp(u))) before feeding g to our transform.
    logits = torch.tensor([[0.2, -1.0, 1.5], [0.0, 0.0, 3.0]], dtype=F64)
    temperature = 0.7
    reference = torch.distributions.RelaxedOneHotCategorical(
        torch.tensor(temperature, dtype=F64), logits=logits
    )
    with torch.random.fork_rng():
        torch.manual_seed(11)
        theirs = reference.rsample((500,))
        torch.manual_seed(11)
        u = torch.distributions.utils.clamp_probs(torch.rand(500, 2, 3, dtype=F64))
    ours = RelaxedCategorical(temperature=temperature).transform(
        -torch.log(-torch.log(u)), {"logits": logits}
    )
    torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-14)


def test_relaxed_bernoulli_agrees_with_torch_for_the_same_noise() -> None:
    # torch uses logistic noise logit(u); ours is logit(1 − u') with the same u', so u' = 1 − u.
    probs = torch.tensor([0.1, 0.45, 0.8], dtype=F64)
    temperature = 0.4
    reference = torch.distributions.RelaxedBernoulli(
        torch.tensor(temperature, dtype=F64), probs=probs
    )
    with torch.random.fork_rng():
        torch.manual_seed(12)
        theirs = reference.rsample((500,))
        torch.manual_seed(12)
        u = torch.distributions.utils.clamp_probs(torch.rand(500, 3, dtype=F64))
    ours = RelaxedBernoulli(temperature=temperature).transform(1 - u, {"probs": probs})
    torch.testing.assert_close(ours, theirs, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("temperature", [0.3, 1.0, 2.5])
def test_log_densities_agree_with_torch(temperature: float, generator: torch.Generator) -> None:
    # A second, path-free comparison: the Concrete densities (written independently in
    # torch as a transformed ExpRelaxedCategorical / LogitRelaxedBernoulli).
    logits = torch.tensor([[0.2, -1.0, 1.5, 0.0]], dtype=F64)
    concrete = RelaxedCategorical(temperature=temperature)
    y = concrete.rsample(200, generator=generator, logits=logits)
    tau = torch.tensor(temperature, dtype=F64)
    torch.testing.assert_close(
        concrete.log_prob(y, {"logits": logits}),
        torch.distributions.RelaxedOneHotCategorical(tau, logits=logits).log_prob(y),
    )
    probs = torch.tensor([0.3, 0.7], dtype=F64)
    binary = RelaxedBernoulli(temperature=temperature)
    y = binary.rsample(200, generator=generator, probs=probs)
    torch.testing.assert_close(
        binary.log_prob(y, {"probs": probs}),
        torch.distributions.RelaxedBernoulli(tau, probs=probs).log_prob(y),
    )


def test_binary_concrete_is_the_two_category_concrete_and_integrates_to_one() -> None:
    probs, temperature = 0.3, 0.6
    binary = RelaxedBernoulli(temperature=temperature)
    p = torch.tensor(probs, dtype=F64)
    y = torch.linspace(0.01, 0.99, 50, dtype=F64)
    two = RelaxedCategorical(temperature=temperature).log_prob(
        torch.stack([y, 1 - y], -1), {"logits": torch.stack([torch.log(p), torch.log1p(-p)])}
    )
    torch.testing.assert_close(binary.log_prob(y, {"probs": p}), two)

    def density(v: float) -> float:
        return math.exp(binary.log_prob(torch.tensor(v, dtype=F64), {"probs": p}).item())

    total, _ = scipy.integrate.quad(density, 0, 1, points=[1e-6, 1 - 1e-6], limit=200)
    assert total == pytest.approx(1.0, abs=1e-6)


def test_relaxed_paths_pass_gradcheck() -> None:
    # Finite differences are an oracle for the autograd derivative of the relaxed paths.
    gen = torch.Generator().manual_seed(3)
    gumbel = discrete.sample_gumbel((5, 3), generator=gen, dtype=F64)
    logits = torch.tensor([0.1, -0.4, 0.9], dtype=F64, requires_grad=True)
    concrete = RelaxedCategorical(temperature=0.5)
    assert torch.autograd.gradcheck(lambda a: concrete.transform(gumbel, {"logits": a}), (logits,))
    u = open_uniform((6,), generator=gen, dtype=F64)
    probs = torch.tensor([0.3], dtype=F64, requires_grad=True)
    binary = RelaxedBernoulli(temperature=0.5)
    assert torch.autograd.gradcheck(lambda p: binary.transform(u, {"probs": p}), (probs,))


def test_relaxed_categorical_is_stable_at_tiny_temperature() -> None:
    logits = torch.tensor([0.0, 500.0, -500.0], dtype=torch.float32, requires_grad=True)
    y = discrete.relaxed_one_hot_sample(
        logits, 1e-3, 100, generator=torch.Generator().manual_seed(0)
    )
    assert bool(torch.isfinite(y).all())
    y[:, 0].sum().backward()
    assert logits.grad is not None and bool(torch.isfinite(logits.grad).all())


# --- the Bernoulli problem: step path, score function, straight-through ---------------------


def test_step_path_is_exact_but_its_pathwise_gradient_is_zero(generator: torch.Generator) -> None:
    probs = torch.tensor([0.2, 0.6], dtype=F64)
    b = BERNOULLI.rsample(50_000, generator=generator, probs=probs)
    assert set(b.unique().tolist()) <= {0.0, 1.0}
    se = torch.sqrt(probs * (1 - probs) / 50_000)
    assert bool(((b.mean(0) - probs).abs() < 5 * se).all())
    grads = pathwise_gradient(
        squared_error, BERNOULLI, {"probs": probs}, 1_000, generator=generator
    )
    assert torch.equal(grads["probs"], torch.zeros(1_000, 2, dtype=F64))
    # The same holds for the Gumbel-max path.
    logits = torch.tensor([0.0, 1.0], dtype=F64)
    grads = pathwise_gradient(
        lambda z: z[..., 0], CATEGORICAL, {"logits": logits}, 100, generator=generator
    )
    assert torch.equal(grads["logits"], torch.zeros(100, 2, dtype=F64))


@pytest.mark.parametrize("baseline", [None, 0.25, "optimal"])
def test_score_function_is_unbiased_on_the_bernoulli_problem(
    baseline: object, generator: torch.Generator
) -> None:
    probs = torch.tensor([0.1, 0.45, 0.5, 0.9], dtype=F64)
    exact = torch.func.grad(lambda p: exact_objective(p).sum())(probs)
    assert torch.allclose(exact, torch.full_like(probs, 1 - 2 * TARGET))  # algebra check
    grads = score_function_gradient(
        squared_error,
        BERNOULLI,
        {"probs": probs},
        40_000,
        generator=generator,
        baseline=baseline,  # type: ignore[arg-type]
    )["probs"]
    se = grads.std(0) / math.sqrt(grads.shape[0])
    assert bool(((grads.mean(0) - exact).abs() < 5 * se).all())


def test_score_function_through_logits_includes_the_chain_rule(generator: torch.Generator) -> None:
    # With p = sigmoid(θ), dJ/dθ = (1 − 2t) p (1 − p): estimate dJ/dp, multiply by dp/dθ.
    theta = torch.tensor([-1.0, 0.0, 2.0], dtype=F64)
    probs = torch.sigmoid(theta)
    exact = torch.func.grad(lambda a: exact_objective(torch.sigmoid(a)).sum())(theta)
    assert torch.allclose(exact, (1 - 2 * TARGET) * probs * (1 - probs))
    grads = score_function_gradient(
        squared_error, BERNOULLI, {"probs": probs}, 40_000, generator=generator
    )["probs"] * (probs * (1 - probs))
    se = grads.std(0) / math.sqrt(grads.shape[0])
    assert bool(((grads.mean(0) - exact).abs() < 5 * se).all())


def test_plain_straight_through_bernoulli(generator: torch.Generator) -> None:
    probs = torch.tensor([0.2, 0.7], dtype=F64)
    u = open_uniform((2_000, 2), generator=generator, dtype=F64)
    p = probs.clone().requires_grad_(True)
    b = StraightThroughBernoulli().transform(u, {"probs": p})
    assert torch.equal(b.detach(), BERNOULLI.transform(u, {"probs": probs}))  # exact forward
    b.sum().backward()
    assert p.grad is not None and torch.equal(p.grad, torch.full_like(probs, 2_000.0))  # db/dp := 1
    # Its expected gradient on the Bernoulli problem is E[2 (b − t)] = 2 (p − t), not 1 − 2t.
    grads = pathwise_gradient(
        squared_error, StraightThroughBernoulli(), {"probs": probs}, 40_000, generator=generator
    )["probs"]
    se = grads.std(0) / math.sqrt(grads.shape[0])
    assert bool(((grads.mean(0) - 2 * (probs - TARGET)).abs() < 5 * se).all())


def test_gumbel_straight_through_bernoulli_uses_the_relaxed_gradient() -> None:
    probs = torch.tensor([0.35], dtype=F64)
    u = open_uniform((300, 1), generator=torch.Generator().manual_seed(4), dtype=F64)
    weights = torch.linspace(-1, 1, 300, dtype=F64).reshape(300, 1)
    p1, p2 = probs.clone().requires_grad_(True), probs.clone().requires_grad_(True)
    b = StraightThroughBernoulli(temperature=0.3).transform(u, {"probs": p1})
    y = RelaxedBernoulli(temperature=0.3).transform(u, {"probs": p2})
    assert torch.equal(b.detach(), (u < probs).to(F64))
    (weights * b).sum().backward()
    (weights * y).sum().backward()  # a linear cost: the gradients must coincide
    torch.testing.assert_close(p1.grad, p2.grad)


def test_straight_through_categorical(generator: torch.Generator) -> None:
    logits = torch.tensor([0.3, -0.2, 1.0], dtype=F64)
    gumbel = discrete.sample_gumbel((400, 3), generator=generator, dtype=F64)
    a1, a2 = logits.clone().requires_grad_(True), logits.clone().requires_grad_(True)
    st = StraightThroughCategorical(temperature=0.5).transform(gumbel, {"logits": a1})
    soft = RelaxedCategorical(temperature=0.5).transform(gumbel, {"logits": a2})
    assert torch.equal(st.detach(), CATEGORICAL.transform(gumbel, {"logits": logits}))
    weights = torch.tensor([1.0, -2.0, 0.5], dtype=F64)
    (st * weights).sum().backward()
    (soft * weights).sum().backward()
    torch.testing.assert_close(a1.grad, a2.grad)


def test_straight_through_helper_is_exact_forward_and_broadcasts() -> None:
    hard = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=F64)
    soft = torch.tensor([0.3, 0.7], dtype=F64, requires_grad=True)
    out = discrete.straight_through(hard, soft)
    assert torch.equal(out.detach(), hard)
    out.sum().backward()
    assert soft.grad is not None and torch.equal(soft.grad, torch.tensor([2.0, 2.0], dtype=F64))
    x = torch.tensor([-1.0, 2.0], dtype=F64, requires_grad=True)
    discrete.heaviside(x).sum().backward()
    assert x.grad is not None and torch.equal(x.grad, torch.zeros(2, dtype=F64))


def test_score_function_works_with_relaxed_log_densities(generator: torch.Generator) -> None:
    # The score function on the relaxed Bernoulli estimates the same gradient of E[f(y)] as the
    # pathwise estimator (two unbiased estimators of one quantity must agree).
    relaxed = RelaxedBernoulli(temperature=1.0)
    params = {"probs": torch.tensor([0.3], dtype=F64)}
    path = pathwise_gradient(squared_error, relaxed, params, 100_000, generator=generator)["probs"]
    score = score_function_gradient(
        squared_error, relaxed, params, 100_000, generator=generator, baseline="optimal"
    )["probs"]
    se = math.sqrt(path.var().item() / 100_000 + score.var().item() / 100_000)
    assert abs(path.mean().item() - score.mean().item()) < 5 * se


# --- bad inputs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "logits, match",
    [
        (torch.tensor(1.0), "logits must have a last dimension"),
        (torch.tensor([1.0]), "logits must have at least 2 categories"),
        (torch.tensor([[0.0], [1.0]]), "logits must have at least 2 categories"),
        (torch.tensor([0.0, float("nan")]), "logits must be finite"),
        (torch.tensor([0.0, float("inf")]), "logits must be finite"),
    ],
)
def test_bad_logits(logits: torch.Tensor, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        discrete.gumbel_max_sample(logits, 10)
    with pytest.raises(ValueError, match=match):
        discrete.relaxed_one_hot_sample(logits, 1.0, 10)
    with pytest.raises(ValueError, match=match):
        StraightThroughCategorical().rsample(10, logits=logits)


def test_bernoulli_log_prob_checks_every_entry_of_probs() -> None:
    for bad in ([0.5, 1.5], [-0.5, 0.5]):
        with pytest.raises(ValueError, match=r"^probs must lie in \[0, 1\]"):
            discrete.bernoulli_log_prob(torch.ones(2), torch.tensor(bad))
    with pytest.raises(ValueError, match=r"^scores must have at least 2 categories"):
        discrete.hard_one_hot(torch.tensor([1.0]))


def test_log_probabilities_name_a_bad_value() -> None:
    with pytest.raises(ValueError, match=r"^the shapes of value, logits must broadcast together"):
        discrete.categorical_log_prob(torch.eye(3).expand(2, 3, 3), torch.zeros(4, 3))
    with pytest.raises(TypeError, match=r"^value must be a real number or a torch.Tensor"):
        RelaxedCategorical().log_prob("y", {"logits": torch.zeros(3)})  # type: ignore[arg-type]


@pytest.mark.parametrize("temperature", [0.0, -1.0, float("inf"), float("nan")])
def test_bad_temperature_values(temperature: float) -> None:
    for make in (RelaxedCategorical, RelaxedBernoulli, StraightThroughCategorical):
        with pytest.raises(ValueError, match="temperature"):
            make(temperature=temperature)
    with pytest.raises(ValueError, match="temperature"):
        StraightThroughBernoulli(temperature=temperature)
    with pytest.raises(ValueError, match="temperature"):
        discrete.relaxed_bernoulli_sample(0.5, temperature, 3)


@pytest.mark.parametrize("temperature", ["1", True, None, torch.tensor(1.0)])
def test_bad_temperature_types(temperature: object) -> None:
    with pytest.raises(TypeError, match="temperature"):
        RelaxedCategorical(temperature=temperature)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="temperature"):
        discrete.relaxed_one_hot_sample(torch.zeros(2), temperature, 3)  # type: ignore[arg-type]


def test_temperature_is_keyword_only() -> None:
    for make in (RelaxedCategorical, RelaxedBernoulli, StraightThroughCategorical):
        with pytest.raises(TypeError, match=rf"^{make.__name__} takes the temperature by keyword"):
            make(0.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^StraightThroughBernoulli takes the temperature by"):
        StraightThroughBernoulli(0.5)  # type: ignore[arg-type]
    # The messages start with the name of the bad argument.
    with pytest.raises(ValueError, match=r"^temperature must be"):
        discrete.check_temperature(0.0)
    with pytest.raises(ValueError, match=r"^tau must be"):
        discrete.check_temperature(-1.0, "tau")
    with pytest.raises(TypeError, match=r"^x must be a floating-point torch.Tensor, got dtype"):
        discrete.heaviside(torch.tensor([1, 2]))


@pytest.mark.parametrize("probs", [0.0, 1.0, 1.5, -0.1, float("nan")])
def test_bad_probs(probs: float) -> None:
    for dist in (BERNOULLI, RelaxedBernoulli(), StraightThroughBernoulli()):
        with pytest.raises(ValueError, match="probs"):
            dist.rsample(5, probs=torch.tensor([0.5, probs]))
    with pytest.raises(ValueError, match="probs"):
        discrete.relaxed_bernoulli_sample(probs, 1.0, 3)
    with pytest.raises(TypeError, match="probs"):
        discrete.relaxed_bernoulli_sample("0.5", 1.0, 3)  # type: ignore[arg-type]


def test_bad_sample_counts_generators_and_tensors() -> None:
    logits = torch.zeros(3)
    with pytest.raises(ValueError, match="num_samples"):
        discrete.gumbel_max_sample(logits, 0)
    with pytest.raises(TypeError, match="num_samples"):
        discrete.gumbel_max_sample(logits, 2.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="generator"):
        discrete.gumbel_max_sample(logits, 2, generator=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="scores"):
        discrete.hard_one_hot(torch.tensor([1, 2]))
    with pytest.raises(TypeError, match="x"):
        discrete.heaviside(torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="shapes of hard, soft must broadcast"):
        discrete.straight_through(torch.zeros(3), torch.zeros(2))


def test_float32_parameters_give_float32_draws(generator: torch.Generator) -> None:
    for dist, params in [
        (BERNOULLI, {"probs": torch.tensor([0.3], dtype=torch.float32)}),
        (RelaxedBernoulli(temperature=0.5), {"probs": torch.tensor([0.3], dtype=torch.float32)}),
        (CATEGORICAL, {"logits": torch.zeros(2, 3, dtype=torch.float32)}),
        (StraightThroughCategorical(), {"logits": torch.zeros(2, 3, dtype=torch.float32)}),
    ]:
        z = dist.rsample(4, generator=generator, **params)
        assert z.dtype == torch.float32


# --- figures (drawn off screen) -------------------------------------------------------------


def test_discrete_figures_draw_and_label_their_axes() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from reparam.book.plotting import discrete as plots

    grid = np.linspace(0, 1, 11)
    fig = plots.plot_step_path(grid, (grid > 0.5)[None].astype(float), grid, grid, uniforms=[0.5])
    assert all(ax.get_xlabel() and ax.get_ylabel() for ax in fig.axes)
    plt.close(fig)
    rng = np.random.default_rng(0)
    fig = plots.plot_simplex_samples({0.5: rng.dirichlet(np.ones(3), 20)}, probs=[0.2, 0.3, 0.5])
    assert fig.axes[0].get_title() == r"$\tau = 0.5$"
    plt.close(fig)
    fig = plots.plot_relaxed_bars(
        {0.1: np.array([0.9, 0.1]), 1.0: np.array([0.6, 0.4])}, hard=[1, 0]
    )
    assert len(fig.axes[0].patches) == 6 and fig.axes[0].get_ylabel()
    plt.close(fig)
    tau = np.array([0.1, 1.0])
    fig = plots.plot_bias_variance(tau, {"a": (tau, tau)}, flat={"b": (0.0, 1.0)})
    assert fig.axes[1].get_yscale() == "log" and fig.axes[0].get_xlabel()
    plt.close(fig)
    fig = plots.plot_trajectories({"a": rng.uniform(size=(5, 3))}, stationary={"a": 0.5})
    assert fig.axes[0].get_xlabel() == "optimisation step"
    plt.close(fig)


def test_discrete_figures_fit_the_column() -> None:
    """Four temperatures make a 2 x 2 grid of triangles; long runs are thinned; all fit."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from reparam.book.plotting import discrete as plots
    from reparam.book.plotting.style import figure_problems

    rng = np.random.default_rng(1)
    points = {tau: rng.dirichlet(np.ones(3), 30) for tau in (0.1, 0.5, 1.0, 5.0)}
    fig = plots.plot_simplex_samples(points, probs=[0.2, 0.3, 0.5])
    assert len(fig.axes) == 4 and fig.axes[2].get_title() == r"$\tau = 1$"
    assert not figure_problems(fig)
    plt.close(fig)
    three = dict(list(points.items())[:3])
    fig = plots.plot_simplex_samples(three)
    assert [ax.get_visible() for ax in fig.axes] == [True, True, True, False]
    plt.close(fig)
    runs = rng.uniform(size=(501, 4))
    fig = plots.plot_trajectories({"a": runs, "b": runs}, max_points=50)
    (median, *_) = fig.axes[0].get_lines()
    steps: Any = median.get_xdata()
    assert steps[0] == 0 and steps[-1] == 500 and len(steps) <= 52
    assert not figure_problems(fig)
    plt.close(fig)
    tau = np.logspace(-2, 1, 4)
    fig = plots.plot_bias_variance(
        tau, {"Concrete": (tau, tau), "ST Gumbel": (tau, tau)}, flat={"score": (0.0, 1.0)}
    )
    assert len(fig.legends) == 1 and not figure_problems(fig)
    plt.close(fig)
    grid = np.linspace(0.05, 0.95, 19)
    with_a_zero = grid.copy()
    with_a_zero[9] = 0.0
    fig = plots.plot_variance_against_probability(grid, {"a": grid, "b": with_a_zero})
    (_, second) = fig.axes[0].get_lines()
    assert np.isnan(np.asarray(second.get_ydata(), dtype=float)[9])  # the zero is left out
    assert fig.axes[0].get_yscale() == "log" and not figure_problems(fig)
    plt.close(fig)
    names = ["score function", "ARM", "DisARM", "REBAR", "RELAX", "Concrete", "ST"]
    ones = np.ones(7)
    fig = plots.plot_bias_and_variance_bars(names, 0.1 * ones, 0.01 * ones, 10 * ones)
    labels = [tick.get_text() for tick in fig.axes[0].get_yticklabels()]
    positions = [tick for tick in fig.axes[0].get_yticks()]
    assert labels == names and positions[0] > positions[-1]  # the first name on top
    assert fig.axes[1].get_xscale() == "log"
    assert not figure_problems(fig)
    plt.close(fig)


def test_discrete_figures_reject_bad_shapes() -> None:
    from reparam.book.plotting import discrete as plots

    with pytest.raises(ValueError, match="at least one"):
        plots.plot_trajectories({})
    with pytest.raises(ValueError, match="shape"):
        plots.plot_trajectories({"a": np.zeros(4)})
    with pytest.raises(ValueError, match="same length"):
        plots.plot_relaxed_bars({1.0: np.ones(2), 2.0: np.ones(3)})
    with pytest.raises(ValueError, match="must match"):
        plots.plot_step_path(np.zeros(3), np.zeros((1, 3)), np.zeros(2), np.zeros(3))
    with pytest.raises(ValueError, match="must match temperatures"):
        plots.plot_bias_variance([0.1, 1.0], {"a": (np.zeros(3), np.zeros(3))})
    with pytest.raises(ValueError, match="must match probs"):
        plots.plot_variance_against_probability([0.1, 0.5], {"a": np.ones(3)})
    with pytest.raises(ValueError, match="at least one"):
        plots.plot_variance_against_probability([0.1], {})
    with pytest.raises(ValueError, match="total_variance must have one entry per name"):
        plots.plot_bias_and_variance_bars(["a", "b"], [0.1, 0.2], [0.0, 0.0], [1.0])
    with pytest.raises(ValueError, match="names must contain"):
        plots.plot_bias_and_variance_bars([], [], [], [])


# -- sampling without replacement (Gumbel-top-k) -------------------------------------------
def _inclusion_by_quadrature(logits: list[float], k: int) -> np.ndarray:
    """P(i among the k largest of a_j + g_j), by integrating over the value x of a_i + g_i:
    the density of a Gumbel at x times P(at most k − 1 of the others exceed x), a
    Poisson-binomial probability (an oracle independent of the tuple enumeration)."""
    a = np.asarray(logits)

    def at_most(probabilities: np.ndarray, count: int) -> float:
        distribution = np.zeros(len(probabilities) + 1)
        distribution[0] = 1.0
        for q in probabilities:
            distribution[1:] = distribution[1:] * (1 - q) + distribution[:-1] * q
            distribution[0] *= 1 - q
        return float(distribution[: count + 1].sum())

    result = []
    for i in range(len(a)):
        others = np.delete(a, i)

        def integrand(x: float, i: int = i, others: np.ndarray = others) -> float:
            density = math.exp(-(x - a[i]) - math.exp(-(x - a[i])))
            exceed = -np.expm1(-np.exp(-(x - others)))
            return density * at_most(exceed, k - 1)

        result.append(scipy.integrate.quad(integrand, a[i] - 10, a[i] + 40, limit=200)[0])
    return np.array(result)


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_inclusion_probabilities_match_quadrature(k: int) -> None:
    logits = [1.0, 0.0, -0.5, 2.0, 0.3]
    exact = discrete.inclusion_probabilities(torch.tensor(logits, dtype=F64), k)
    np.testing.assert_allclose(exact.numpy(), _inclusion_by_quadrature(logits, k), atol=1e-8)
    assert exact.sum().item() == pytest.approx(k)


def test_gumbel_top_k_draws_ordered_samples_without_replacement() -> None:
    """Frequencies of the 12 ordered pairs of 4 classes against the products of
    renormalised softmax probabilities (chi-square test), and distinct entries."""
    logits = torch.tensor([0.5, -1.0, 1.2, 0.0], dtype=F64)
    n = 60_000
    draws = discrete.gumbel_top_k_sample(logits, 2, n, generator=torch.Generator().manual_seed(21))
    assert draws.shape == (n, 2) and draws.dtype == torch.long
    assert bool((draws[:, 0] != draws[:, 1]).all())
    pairs = list(itertools.permutations(range(4), 2))
    softmax = torch.softmax(logits, 0).numpy()
    probs = np.array([softmax[i] * softmax[j] / (1 - softmax[i]) for i, j in pairs])
    counts = np.array([int(((draws[:, 0] == i) & (draws[:, 1] == j)).sum()) for i, j in pairs])
    assert scipy.stats.chisquare(counts, n * probs).pvalue > 1e-3
    log_probs = discrete.ordered_sample_log_prob(logits, torch.tensor(pairs))
    np.testing.assert_allclose(log_probs.exp().numpy(), probs, rtol=1e-12)


def test_gumbel_top_k_batches_and_dtypes(dtype: torch.dtype) -> None:
    logits = torch.zeros(3, 6, dtype=dtype)
    draws = discrete.gumbel_top_k_sample(logits, 4, 5, generator=torch.Generator().manual_seed(0))
    assert draws.shape == (5, 3, 4)
    assert bool((torch.sort(draws, -1).values.diff(dim=-1) > 0).all())
    first = discrete.gumbel_top_k_sample(logits, 1, 5, generator=torch.Generator().manual_seed(1))
    again = discrete.gumbel_max_sample(logits, 5, generator=torch.Generator().manual_seed(1))
    assert torch.equal(first[..., 0], again)  # top-1 is the Gumbel-max draw
    log_prob = discrete.ordered_sample_log_prob(torch.zeros(6, dtype=dtype), draws[:, 0])
    assert log_prob.shape == (5,) and log_prob.dtype == dtype
    # Uniform logits: every ordered 4-tuple of 6 has probability 1 / (6 * 5 * 4 * 3).
    torch.testing.assert_close(log_prob.exp(), torch.full((5,), 1 / 360, dtype=dtype))


def test_sampling_without_replacement_rejects_bad_input() -> None:
    logits = torch.zeros(4, dtype=F64)
    with pytest.raises(ValueError, match=r"k must be at most 4 \(logits has 4 classes\)"):
        discrete.gumbel_top_k_sample(logits, 5, 3)
    with pytest.raises(ValueError, match="k must be at least 1"):
        discrete.inclusion_probabilities(logits, 0)
    with pytest.raises(TypeError, match="k must be an int"):
        discrete.inclusion_probabilities(logits, 2.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="indices must be distinct"):
        discrete.ordered_sample_log_prob(logits, torch.tensor([[1, 1]]))
    with pytest.raises(ValueError, match=r"indices must lie in \[0, 4\)"):
        discrete.ordered_sample_log_prob(logits, torch.tensor([[1, 4]]))
    with pytest.raises(TypeError, match="indices must be a long tensor"):
        discrete.ordered_sample_log_prob(logits, torch.tensor([[1.0, 2.0]]))
    with pytest.raises(ValueError, match=r"logits must have shape \(K,\)"):
        discrete.inclusion_probabilities(torch.zeros(2, 3, dtype=F64), 1)
    with pytest.raises(ValueError, match="logits must be finite"):
        discrete.inclusion_probabilities(torch.tensor([0.0, math.inf], dtype=F64), 1)
    with pytest.raises(ValueError, match="ordered tuples"):
        discrete.inclusion_probabilities(torch.zeros(12, dtype=F64), 8)
    with pytest.raises(TypeError, match="logits must be a floating-point"):
        discrete.inclusion_probabilities(torch.zeros(4, dtype=torch.long), 1)
    with pytest.raises(TypeError, match=r"indices must be a torch\.Tensor"):
        discrete.ordered_sample_log_prob(logits, [1, 2])  # type: ignore[arg-type]
