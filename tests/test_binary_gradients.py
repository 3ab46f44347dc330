"""Tests of :mod:`reparam.binary_gradients` against independent oracles.

Oracles: the closed-form gradient of E[(b − t)²], central finite differences of the exact
expectation, adaptive quadrature over the uniform noise (exact means and variances of ARM
and DisARM for one variable, written here from the papers' formulas, not with the
package), scipy's two-sample Kolmogorov–Smirnov test, and finite differences of the RELAX
terms along a fixed noise path. Every Monte Carlo tolerance is a multiple of a standard
error computed here from the draws.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
import scipy.integrate
import scipy.special
import scipy.stats
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import reparam
from reparam import binary_gradients as bg
from reparam.noise import open_uniform

F64 = torch.float64
TARGET = 0.45
WEIGHTS = torch.tensor([0.3, -1.2, 0.8], dtype=F64)


def squared_error(b: torch.Tensor) -> torch.Tensor:
    """f(b) = Σ_i (b_i − t)², one value per draw."""
    return ((b - TARGET) ** 2).reshape(b.shape[0], -1).sum(-1)


def entangled(b: torch.Tensor) -> torch.Tensor:
    """A cost that couples the variables, so no coordinate can be treated alone."""
    flat = b.reshape(b.shape[0], -1)
    return (flat @ WEIGHTS.to(b) - 0.2) ** 2 + flat[:, 0] * flat[:, 2]


def tuned_rebar(cost: Any, logits: torch.Tensor, n: int, **kw: Any) -> dict[str, torch.Tensor]:
    return bg.rebar_gradient(cost, logits, n, temperature=0.3, scale=0.7, **kw)


def learned_relax(cost: Any, logits: torch.Tensor, n: int, **kw: Any) -> dict[str, torch.Tensor]:
    def control(z: torch.Tensor) -> torch.Tensor:
        return torch.tanh(z).reshape(z.shape[0], -1).sum(-1) + 0.1 * z.reshape(z.shape[0], -1)[:, 0]

    return bg.relax_gradient(cost, logits, n, control=control, **kw)


ESTIMATORS: dict[str, Callable[..., dict[str, torch.Tensor]]] = {
    "reinforce_loo": bg.reinforce_loo_gradient,
    "arm": bg.arm_gradient,
    "disarm": bg.disarm_gradient,
    "rebar": tuned_rebar,
    "relax": learned_relax,
}


# -- the oracle ---------------------------------------------------------------------------
def test_enumeration_matches_the_closed_form() -> None:
    p = 0.3
    logits = torch.tensor(math.log(p / (1 - p)), dtype=F64)
    expectation, gradient = bg.exact_gradient_by_enumeration(squared_error, logits)
    assert expectation.item() == pytest.approx(p * (1 - TARGET) ** 2 + (1 - p) * TARGET**2)
    # dE/dθ = dE/dp · p (1 − p) = (1 − 2t) p (1 − p).
    assert gradient.item() == pytest.approx((1 - 2 * TARGET) * p * (1 - p), rel=1e-12)


def test_enumeration_matches_finite_differences() -> None:
    logits = torch.tensor([[0.5, -1.0, 2.0]], dtype=F64)
    _, gradient = bg.exact_gradient_by_enumeration(entangled, logits)
    assert gradient.shape == logits.shape
    h = 1e-6
    for i in range(3):
        step = torch.zeros_like(logits)
        step[0, i] = h
        up, _ = bg.exact_gradient_by_enumeration(entangled, logits + step)
        down, _ = bg.exact_gradient_by_enumeration(entangled, logits - step)
        assert gradient[0, i].item() == pytest.approx(((up - down) / (2 * h)).item(), abs=1e-8)


# -- unbiasedness -------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(ESTIMATORS))
@pytest.mark.parametrize(
    ("cost", "logits"),
    [
        (squared_error, [math.log(0.3 / 0.7)]),
        (entangled, [0.5, -1.0, 2.0]),
        (entangled, [-3.0, 0.0, 4.0]),
    ],
    ids=["one-variable", "three-coupled", "three-skewed"],
)
def test_estimators_are_unbiased(name: str, cost: Any, logits: list[float]) -> None:
    phi = torch.tensor(logits, dtype=F64)
    _, exact = bg.exact_gradient_by_enumeration(cost, phi)
    draws = ESTIMATORS[name](cost, phi, 100_000, generator=torch.Generator().manual_seed(3))[
        "logits"
    ]
    assert draws.shape == (100_000, *phi.shape) and draws.dtype == F64
    estimate = reparam.summarize(draws)
    z = (estimate.mean - exact) / estimate.std_error
    assert bool((z.abs() < 4.5).all()), f"{name}: z-scores {z.tolist()}"


# -- variances, against quadrature over the noise ------------------------------------------
def _one_variable_moments(
    per_sample: Callable[[float], float], breaks: list[float]
) -> tuple[float, float]:
    mean = scipy.integrate.quad(per_sample, 0, 1, points=breaks)[0]
    second = scipy.integrate.quad(lambda u: per_sample(u) ** 2, 0, 1, points=breaks)[0]
    return mean, second - mean**2


def _f(b: float) -> float:
    return (b - TARGET) ** 2


@pytest.mark.parametrize("p", [0.3, 0.8])
def test_arm_and_disarm_variances_match_quadrature(p: float) -> None:
    """For one variable the estimates are step functions of u: their exact moments come
    from integrating Yin & Zhou's and Dong et al.'s formulas over u, written out here."""
    logit = math.log(p / (1 - p))

    def arm(u: float) -> float:
        return (_f(float(u > 1 - p)) - _f(float(u < p))) * (u - 0.5)

    def disarm(u: float) -> float:
        b, b_tilde = float(u < p), float(1 - u < p)
        if b == b_tilde:
            return 0.0
        return 0.5 * (_f(b) - _f(b_tilde)) * (-1) ** b_tilde * scipy.special.expit(abs(logit))

    breaks = sorted({p, 1 - p})
    exact_gradient = (1 - 2 * TARGET) * p * (1 - p)
    n = 200_000
    for name, formula in (("arm", arm), ("disarm", disarm)):
        mean, variance = _one_variable_moments(formula, breaks)
        assert mean == pytest.approx(exact_gradient, abs=1e-10)
        draws = ESTIMATORS[name](
            squared_error, torch.tensor([logit], dtype=F64), n,
            generator=torch.Generator().manual_seed(4),
        )["logits"][:, 0]  # fmt: skip
        centred = draws - draws.mean()
        sample_variance = centred.pow(2).mean()
        # Standard error of a sample variance: sqrt((m4 - s^4) / n).
        se = math.sqrt((centred.pow(4).mean() - sample_variance**2).item() / n)
        assert abs(sample_variance.item() - variance) < 5 * se + 1e-12, name
    # DisARM is ARM averaged over u given the pair: never the larger variance.
    assert _one_variable_moments(disarm, breaks)[1] <= _one_variable_moments(arm, breaks)[1]


def test_disarm_is_zero_where_the_pair_agrees() -> None:
    """With the generator's draws rebuilt here: coordinates whose antithetic pair agrees get
    exactly 0, the others ±½ (f(b) − f(b̃)) σ(|θ|)."""
    phi = torch.tensor([0.4, -2.0, 1.5, 0.0], dtype=F64)
    draws = bg.disarm_gradient(entangled4, phi, 500, generator=torch.Generator().manual_seed(5))
    u = open_uniform((500, 4), generator=torch.Generator().manual_seed(5), dtype=F64)
    probs = torch.sigmoid(phi)
    agree = (u < probs) == (1 - u < probs)
    assert bool((draws["logits"][agree] == 0).all())
    assert bool((~agree).any())


def entangled4(b: torch.Tensor) -> torch.Tensor:
    return (b.sum(-1) - 1.5) ** 2 + b[:, 0] * b[:, 3]


# -- REBAR and RELAX ----------------------------------------------------------------------
def test_conditional_noise_is_distributed_as_z_given_b() -> None:
    """z is logistic(θ); z̃ drawn given b has the law of z given b (two-sample KS tests)."""
    phi = torch.tensor(0.7, dtype=F64)
    g = torch.Generator().manual_seed(6)
    n = 40_000
    u, v, w = (open_uniform((n,), generator=g, dtype=F64) for _ in range(3))
    z, b, z_tilde = bg.conditional_noise(phi, u, v)
    assert scipy.stats.kstest(z.numpy(), scipy.stats.logistic(loc=0.7).cdf).pvalue > 1e-3
    assert torch.equal(b, (u < torch.sigmoid(phi)).to(F64))
    assert torch.equal(z_tilde > 0, z > 0)
    # An independent z with the same b-labels: compare z̃ | b with z' | b.
    fresh = phi + torch.log1p(-w) - torch.log(w)
    for label in (0.0, 1.0):
        ours = z_tilde[b == label].numpy()
        theirs = fresh[(fresh > 0).to(F64) == label].numpy()
        assert scipy.stats.ks_2samp(ours, theirs).pvalue > 1e-3, label


@pytest.mark.parametrize("phi", [-40.0, -5.0, 0.0, 5.0, 40.0])
def test_conditional_noise_is_finite_for_extreme_logits(phi: float) -> None:
    g = torch.Generator().manual_seed(7)
    u, v = (open_uniform((1000,), generator=g, dtype=F64) for _ in range(2))
    z, b, z_tilde = bg.conditional_noise(torch.tensor(phi, dtype=F64), u, v)
    assert bool(torch.isfinite(z).all() and torch.isfinite(z_tilde).all())
    assert torch.equal(z_tilde > 0, b > 0)


def test_rebar_matches_finite_differences_along_the_noise_path() -> None:
    """Each REBAR estimate, rebuilt from the same uniforms with the pathwise terms taken by
    central differences in θ (b held fixed) instead of autograd."""
    phi, tau, beta, n = 0.6, 0.4, 0.8, 50
    estimates = bg.rebar_gradient(
        squared_error, torch.tensor(phi, dtype=F64), n, temperature=tau, scale=beta,
        generator=torch.Generator().manual_seed(8),
    )["logits"]  # fmt: skip
    g = torch.Generator().manual_seed(8)
    u = open_uniform((n,), generator=g, dtype=F64)
    v = open_uniform((n,), generator=g, dtype=F64)

    def control(z: torch.Tensor) -> torch.Tensor:
        return beta * (torch.sigmoid(z / tau) - TARGET) ** 2

    def terms(at: float) -> torch.Tensor:
        z, _, z_tilde = bg.conditional_noise(torch.tensor(at, dtype=F64), u, v)
        return control(z) - control(z_tilde)

    _, b, z_tilde = bg.conditional_noise(torch.tensor(phi, dtype=F64), u, v)
    h = 1e-6
    pathwise = (terms(phi + h) - terms(phi - h)) / (2 * h)
    score = ((b - TARGET) ** 2 - control(z_tilde)) * (b - torch.sigmoid(torch.tensor(phi)))
    torch.testing.assert_close(estimates, score + pathwise, atol=1e-7, rtol=1e-6)


def test_relax_graph_gives_the_gradient_of_the_mean_square() -> None:
    """With create_graph, d/dβ of the mean square of the estimates (RELAX's objective for its
    control) agrees with central differences over β at the same seed."""
    phi = torch.tensor([0.3, -0.8], dtype=F64)

    def mean_square(beta: torch.Tensor, create_graph: bool) -> torch.Tensor:
        draws = bg.rebar_gradient(
            entangled2, phi, 400, temperature=0.5, scale=beta,
            generator=torch.Generator().manual_seed(9), create_graph=create_graph,
        )["logits"]  # fmt: skip
        return draws.pow(2).mean()

    beta = torch.tensor(0.9, dtype=F64, requires_grad=True)
    (derivative,) = torch.autograd.grad(mean_square(beta, True), beta)
    h = 1e-5
    up = mean_square(torch.tensor(0.9 + h, dtype=F64), False)
    down = mean_square(torch.tensor(0.9 - h, dtype=F64), False)
    assert derivative.item() == pytest.approx(((up - down) / (2 * h)).item(), rel=1e-5)
    # Without create_graph the estimates are plain tensors.
    assert not bg.rebar_gradient(entangled2, phi, 3, scale=beta)["logits"].requires_grad


def entangled2(b: torch.Tensor) -> torch.Tensor:
    return (b[:, 0] - 2 * b[:, 1] + 0.3) ** 2


def test_a_constant_control_gives_the_score_function() -> None:
    """RELAX with c = 0 is the plain score function: (f(b)) (b − σ(θ)) per draw."""
    phi = torch.tensor([0.2, -0.4], dtype=F64)
    draws = bg.relax_gradient(
        entangled2, phi, 100, control=lambda z: z.new_zeros(z.shape[0]),
        generator=torch.Generator().manual_seed(10),
    )["logits"]  # fmt: skip
    u = open_uniform((100, 2), generator=torch.Generator().manual_seed(10), dtype=F64)
    b = (u < torch.sigmoid(phi)).to(F64)
    torch.testing.assert_close(draws, entangled2(b)[:, None] * (b - torch.sigmoid(phi)))


# -- conventions --------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_shapes_and_dtypes_follow_the_logits(name: str, dtype: torch.dtype) -> None:
    phi = torch.zeros(2, 3, dtype=dtype)
    out = ESTIMATORS[name](squared_error, phi, 7, generator=torch.Generator().manual_seed(0))
    assert set(out) == {"logits"}
    assert out["logits"].shape == (7, 2, 3) and out["logits"].dtype == dtype
    assert not out["logits"].requires_grad


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_same_seed_same_estimates(name: str) -> None:
    phi = torch.tensor([0.1, -0.3], dtype=F64)
    first, second = (
        ESTIMATORS[name](entangled2, phi, 20, generator=torch.Generator().manual_seed(11))
        for _ in range(2)
    )
    assert torch.equal(first["logits"], second["logits"])


@settings(max_examples=40, deadline=None)
@given(
    logits=st.lists(st.floats(-60, 60), min_size=1, max_size=4),
    name=st.sampled_from(list(ESTIMATORS)),
)
def test_estimates_are_finite_for_any_finite_logits(logits: list[float], name: str) -> None:
    phi = torch.tensor(logits, dtype=F64)
    out = ESTIMATORS[name](squared_error, phi, 16, generator=torch.Generator().manual_seed(12))
    assert bool(torch.isfinite(out["logits"]).all())


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_bad_input_is_named(name: str) -> None:
    estimator = ESTIMATORS[name]
    good = torch.zeros(2, dtype=F64)
    with pytest.raises(TypeError, match="logits"):
        estimator(squared_error, torch.zeros(2, dtype=torch.long), 4)
    with pytest.raises(TypeError, match="logits"):
        estimator(squared_error, [0.0, 1.0], 4)
    with pytest.raises(ValueError, match="logits must be finite"):
        estimator(squared_error, torch.tensor([0.0, math.nan], dtype=F64), 4)
    with pytest.raises(ValueError, match="num_samples"):
        estimator(squared_error, good, 0)
    with pytest.raises(TypeError, match="cost"):
        estimator("not a function", good, 4)
    with pytest.raises(ValueError, match="cost must return one value per draw"):
        estimator(lambda b: b, good, 4)
    with pytest.raises(ValueError, match="cost must be finite"):
        estimator(lambda b: b.sum(-1) / 0 * 0, good, 4)
    with pytest.raises(TypeError, match="generator"):
        estimator(squared_error, good, 4, generator=0)


def test_rebar_and_relax_options_are_checked() -> None:
    good = torch.zeros(2, dtype=F64)
    with pytest.raises(ValueError, match="temperature must be strictly positive"):
        bg.rebar_gradient(squared_error, good, 4, temperature=0.0)
    with pytest.raises(ValueError, match="temperature must be finite"):
        bg.rebar_gradient(squared_error, good, 4, temperature=math.inf)
    with pytest.raises(ValueError, match="scale must be finite"):
        bg.rebar_gradient(squared_error, good, 4, scale=math.nan)
    with pytest.raises(ValueError, match="scale must be a number or a one-element tensor"):
        bg.rebar_gradient(squared_error, good, 4, scale=torch.ones(2, dtype=F64))
    with pytest.raises(TypeError, match="control"):
        bg.relax_gradient(squared_error, good, 4, control=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="control must return one value per draw"):
        bg.relax_gradient(squared_error, good, 4, control=lambda z: z)
    with pytest.raises(ValueError, match="u must lie in the open interval"):
        bg.conditional_noise(good, torch.zeros(3, 2, dtype=F64), torch.full((3, 2), 0.5))
    with pytest.raises(ValueError, match=r"logits.numel\(\) must be at most 16"):
        bg.exact_gradient_by_enumeration(squared_error, torch.zeros(17, dtype=F64))


def test_estimators_compose_with_a_training_loop() -> None:
    """The estimates drive gradient descent on E[(b − t)²] to p → 0 (the minimum, t < ½)."""
    phi = torch.tensor([0.0], dtype=F64, requires_grad=True)
    optimizer = torch.optim.SGD([phi], lr=2.0)
    g = torch.Generator().manual_seed(13)
    for _ in range(300):
        optimizer.zero_grad()
        phi.grad = bg.disarm_gradient(squared_error, phi, 8, generator=g)["logits"].mean(0)
        optimizer.step()
    assert torch.sigmoid(phi).item() < 0.1


def test_estimates_at_given_noise_are_those_of_the_estimators() -> None:
    """The *_estimate functions at the generator's uniforms give the estimators' draws
    (the book evaluates them at quadrature nodes); their noise is checked."""
    phi = torch.tensor([0.3, -0.6], dtype=F64)
    seed = 14

    def uniforms(count: int) -> list[torch.Tensor]:
        g = torch.Generator().manual_seed(seed)
        return [open_uniform((9, 2), generator=g, dtype=F64) for _ in range(count)]

    def run(estimator: Any, **kw: Any) -> torch.Tensor:
        g = torch.Generator().manual_seed(seed)
        return estimator(entangled2, phi, 9, generator=g, **kw)["logits"]

    (u,) = uniforms(1)
    torch.testing.assert_close(bg.arm_estimate(entangled2, phi, u), run(bg.arm_gradient))
    torch.testing.assert_close(bg.disarm_estimate(entangled2, phi, u), run(bg.disarm_gradient))
    u, other = uniforms(2)
    torch.testing.assert_close(
        bg.reinforce_loo_estimate(entangled2, phi, u, other), run(bg.reinforce_loo_gradient)
    )
    control = bg.rebar_control(entangled2, temperature=0.4, scale=0.5)
    torch.testing.assert_close(
        bg.relax_estimate(entangled2, phi, u, other, control=control),
        run(bg.rebar_gradient, temperature=0.4, scale=0.5),
    )
    with pytest.raises(ValueError, match=r"u must have shape \(N, \*logits.shape\)"):
        bg.arm_estimate(entangled2, phi, torch.full((9, 3), 0.5, dtype=F64))
    with pytest.raises(ValueError, match="u must lie in the open interval"):
        bg.disarm_estimate(entangled2, phi, torch.ones(9, 2, dtype=F64))
    with pytest.raises(ValueError, match="other must lie in the open interval"):
        bg.reinforce_loo_estimate(entangled2, phi, u, torch.zeros(9, 2, dtype=F64))
    with pytest.raises(TypeError, match=r"v must be a floating-point torch\.Tensor"):
        bg.relax_estimate(entangled2, phi, u, torch.ones(9, 2, dtype=torch.long), control=control)


def test_noise_follows_the_logits_and_options_are_named() -> None:
    """float32 noise with float64 logits gives float64 estimates; a NaN tensor scale, a
    non-callable control at given noise and the documented defaults (τ = 0.5, β = 1)."""
    phi = torch.tensor([0.3, -0.6], dtype=F64)
    u = torch.full((4, 2), 0.3, dtype=torch.float32)
    assert bg.arm_estimate(entangled2, phi, u).dtype == F64
    # The noise is converted before any arithmetic: float32 noise gives exactly what its
    # float64 copy gives.
    g = torch.Generator().manual_seed(15)
    u32, v32 = (open_uniform((6, 2), generator=g, dtype=torch.float32) for _ in range(2))
    control = bg.rebar_control(entangled2, temperature=0.4)
    torch.testing.assert_close(
        bg.relax_estimate(entangled2, phi, u32, v32, control=control),
        bg.relax_estimate(entangled2, phi, u32.double(), v32.double(), control=control),
        rtol=0,
        atol=0,
    )
    with pytest.raises(ValueError, match="scale must be finite"):
        bg.rebar_gradient(entangled2, phi, 4, scale=torch.tensor(math.nan, dtype=F64))
    with pytest.raises(TypeError, match="control must be callable"):
        bg.relax_estimate(entangled2, phi, u, u, control=None)  # type: ignore[arg-type]
    z = torch.linspace(-2, 2, 8, dtype=F64).reshape(4, 2)
    torch.testing.assert_close(
        bg.rebar_control(entangled2)(z),
        bg.rebar_control(entangled2, temperature=0.5, scale=1.0)(z),
    )
