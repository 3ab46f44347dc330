"""Tests of the foundation modules: validation, Monte Carlo summaries, the Gaussian path,
the test costs and Gauss–Hermite quadrature. Each is checked against an independent oracle."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.integrate
import scipy.stats
import torch

import reparam
from reparam._validation import (
    check_choice,
    check_in_interval,
    check_instance,
    check_relation,
    check_square,
    check_tensor,
    check_values,
)
from reparam.catalog.location_scale import laplace_cdf, laplace_log_prob
from reparam.reparameterization import greater_than, open_unit_interval, positive_integer

COSTS = [
    reparam.constant_cost(2.0),
    reparam.linear_cost(1.5, -0.5),
    reparam.quadratic_cost(0.0),
    reparam.quadratic_cost(-1.0),
    reparam.exp_quadratic_cost(0.3),
    reparam.exp_quadratic_cost(5.0),
    reparam.cosine_cost(0.7),
    reparam.cosine_cost(3.0),
]
POINTS = [(0.0, 1.0), (1.0, 1.0), (-0.7, 0.4), (2.0, 2.5)]


# --- Monte Carlo summaries ---------------------------------------------------------------


def test_summarize_matches_numpy(generator: torch.Generator) -> None:
    draws = torch.randn(500, 3, generator=generator, dtype=torch.float64)
    estimate = reparam.summarize(draws)
    array = draws.numpy()
    np.testing.assert_allclose(estimate.mean.numpy(), array.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(
        estimate.std_error.numpy(), array.std(axis=0, ddof=1) / math.sqrt(500), rtol=1e-12
    )
    np.testing.assert_allclose(estimate.variance.numpy(), array.var(axis=0, ddof=1), rtol=1e-12)
    assert estimate.num_samples == 500


def test_summarize_along_other_dim(generator: torch.Generator) -> None:
    draws = torch.randn(4, 200, generator=generator)
    assert reparam.summarize(draws, dim=1).mean.shape == (4,)


def test_single_draw_has_infinite_not_nan_error() -> None:
    estimate = reparam.summarize(torch.tensor([3.0]))
    assert estimate.mean.item() == 3.0 and math.isinf(estimate.std_error.item())
    assert estimate.num_samples == 1 and math.isinf(estimate.variance.item())


def test_summarize_along_a_negative_dim(generator: torch.Generator) -> None:
    draws = torch.randn(3, 40, generator=generator, dtype=torch.float64)
    estimate = reparam.summarize(draws, dim=-1)
    torch.testing.assert_close(estimate.mean, draws.mean(1))
    torch.testing.assert_close(estimate.std_error, draws.std(1) / math.sqrt(40))
    assert estimate.num_samples == 40


def test_interval_covers_at_nominal_rate(generator: torch.Generator) -> None:
    # 2000 independent 95% intervals from N = 200 Gaussian draws: coverage is Binomial(2000, .95)
    # up to the small t-versus-normal difference; 5 binomial standard errors is not flaky.
    draws = torch.randn(200, 2000, generator=generator, dtype=torch.float64)
    low, high = reparam.summarize(draws).interval()
    coverage = ((low <= 0) & (0 <= high)).double().mean().item()
    assert abs(coverage - 0.95) < 5 * math.sqrt(0.95 * 0.05 / 2000)


@pytest.mark.parametrize("bad", [0.0, -1.0, math.inf, math.nan])
def test_interval_rejects_bad_z_score(bad: float) -> None:
    with pytest.raises(ValueError, match=r"^z_score must be"):
        reparam.summarize(torch.ones(3)).interval(bad)


def test_summarize_rejects_bad_input() -> None:
    # Messages start with the name of the bad argument and say what was passed.
    with pytest.raises(TypeError, match=r"^draws must be a torch.Tensor, got list$"):
        reparam.summarize([1.0, 2.0])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^draws must have a sample dimension"):
        reparam.summarize(torch.tensor(1.0))
    with pytest.raises(ValueError, match=r"^dim must be in \[-2, 1\], got 2$"):
        reparam.summarize(torch.ones(3, 2), dim=2)
    with pytest.raises(TypeError, match=r"^dim must be"):
        reparam.summarize(torch.ones(3, 2), dim=0.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^draws\.shape\[dim\] must be"):
        reparam.summarize(torch.ones(0, 2))


# --- the Gaussian path --------------------------------------------------------------------


def test_normal_rsample_distribution(generator: torch.Generator) -> None:
    z = reparam.normal_rsample(1.5, 0.5, 20_000, generator=generator)
    result = scipy.stats.kstest(z.numpy(), scipy.stats.norm(1.5, 0.5).cdf)
    assert result.pvalue > 1e-3


def test_normal_rsample_shapes_dtype_and_gradient(dtype: torch.dtype) -> None:
    loc = torch.zeros(3, dtype=dtype, requires_grad=True)
    scale = torch.tensor(2.0, dtype=dtype, requires_grad=True)
    z = reparam.normal_rsample(loc, scale, 7, generator=torch.Generator().manual_seed(0))
    assert z.shape == (7, 3) and z.dtype == dtype
    z.sum().backward()
    # dz/dloc = 1 per draw; dz/dscale = eps = (z - loc) / scale.
    assert torch.equal(loc.grad, torch.full((3,), 7.0, dtype=dtype))  # type: ignore[arg-type]
    expected = ((z.detach() - loc.detach()) / 2.0).sum()
    assert torch.allclose(scale.grad, expected)  # type: ignore[arg-type]


def test_normal_cdf_matches_torch_distributions(dtype: torch.dtype) -> None:
    loc = torch.tensor([0.3, -1.0], dtype=dtype)
    scale = torch.tensor([0.5, 2.0], dtype=dtype)
    z = torch.linspace(-4.0, 4.0, 17, dtype=dtype).unsqueeze(-1)
    expected = torch.distributions.Normal(loc, scale).cdf(z)
    torch.testing.assert_close(reparam.normal.normal_cdf(z, loc, scale), expected)
    with pytest.raises(ValueError, match="scale"):
        reparam.normal.normal_cdf(z, loc, -1.0)


def test_same_seed_same_draws() -> None:
    a = reparam.normal_rsample(0.0, 1.0, 5, generator=torch.Generator().manual_seed(3))
    b = reparam.normal_rsample(0.0, 1.0, 5, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def test_normal_path_matches_torch_distributions(dtype: torch.dtype) -> None:
    loc = torch.tensor([0.3, -1.0], dtype=dtype, requires_grad=True)
    scale = torch.tensor([0.5, 2.0], dtype=dtype, requires_grad=True)
    eps = torch.randn(11, 2, generator=torch.Generator().manual_seed(5), dtype=dtype)
    ours = reparam.NORMAL.transform(eps, {"loc": loc, "scale": scale})
    theirs = torch.distributions.Normal(loc, scale)
    torch.testing.assert_close(
        reparam.NORMAL.log_prob(ours, {"loc": loc, "scale": scale}), theirs.log_prob(ours)
    )
    torch.testing.assert_close(reparam.normal_log_prob(ours, loc, scale), theirs.log_prob(ours))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"loc": 0.0, "scale": 0.0}, "scale"),
        ({"loc": 0.0, "scale": -2.0}, "scale"),
        ({"loc": math.nan, "scale": 1.0}, "loc"),
        ({"loc": 0.0, "scale": math.inf}, "scale"),
        ({"loc": torch.zeros(2), "scale": torch.ones(3)}, "broadcast"),
    ],
)
def test_normal_rsample_rejects_bad_parameters(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        reparam.normal_rsample(num_samples=3, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("num_samples", [0, -1])
def test_rejects_too_few_samples(num_samples: int) -> None:
    with pytest.raises(ValueError, match="num_samples"):
        reparam.normal_rsample(0.0, 1.0, num_samples)


def test_rejects_non_integer_samples_and_bad_generator() -> None:
    with pytest.raises(TypeError, match="num_samples"):
        reparam.normal_rsample(0.0, 1.0, 2.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="generator"):
        reparam.normal_rsample(0.0, 1.0, 2, generator=0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="scale"):
        reparam.normal_rsample(0.0, "1", 2)  # type: ignore[arg-type]


def test_validate_names_missing_and_unknown_parameters() -> None:
    with pytest.raises(ValueError, match="missing: scale; unknown: sigma"):
        reparam.NORMAL.validate({"loc": 0.0, "sigma": 1.0})


def test_constraints() -> None:
    positive_integer(torch.tensor([1.0, 4.0]), "k")
    with pytest.raises(ValueError, match="k must be a whole number"):
        positive_integer(torch.tensor(2.5), "k")
    with pytest.raises(ValueError, match="p must lie strictly between 0 and 1"):
        open_unit_interval(torch.tensor([0.5, 1.0]), "p")
    with pytest.raises(ValueError, match="nu must be greater than 2"):
        greater_than(2.0)(torch.tensor(2.0), "nu")


def test_every_message_names_the_parameter_and_the_constraint() -> None:
    """The shared checks of reparam._validation: "{name} must {constraint}, got {value}"."""
    with pytest.raises(ValueError, match=r"^high must be greater than low, got high = 1, low = 1$"):
        check_relation(torch.tensor(1.0), "high", ">", torch.tensor(1.0), "low")
    with pytest.raises(ValueError, match=r"^mode must be at most high, got mode = .*\[4\.0\]"):
        check_relation(torch.tensor([1.0, 4.0]), "mode", "<=", torch.tensor(3.0), "high")
    check_relation(torch.tensor([1.0, 3.0]), "mode", "<=", torch.tensor(3.0), "high")
    with pytest.raises(ValueError, match=r"^probs must lie in \[0, 1\], got .*\[1\.5\]"):
        check_in_interval(torch.tensor([0.5, 1.5]), "probs", 0.0, 1.0, closed=True)
    with pytest.raises(ValueError, match=r"^L must be lower triangular, got .*\[2\.0\]"):
        check_values(
            torch.tensor([[1.0, 2.0], [0.0, 1.0]]),
            "L",
            "be lower triangular",
            lambda t: t.triu(1) == 0,
        )
    with pytest.raises(
        ValueError, match=r"^cov must be a square matrix \(d, d\), got shape \(2, 3\)$"
    ):
        check_square(torch.zeros(2, 3), "cov")
    with pytest.raises(TypeError, match=r"^draws must be a torch.Tensor, got list$"):
        check_tensor([1.0], "draws")
    with pytest.raises(TypeError, match=r"^x must be a floating-point torch.Tensor, got dtype"):
        check_tensor(torch.tensor([1]), "x", floating=True)
    with pytest.raises(ValueError, match=r"^mode must be one of 'a', 'b', got 'c'$"):
        check_choice("c", "mode", ("a", "b"))
    with pytest.raises(TypeError, match=r"^key must be a str, got int$"):
        check_instance(1, "key", str, "a str")


def test_the_uniforms_are_torch_rand_clamped_into_the_open_interval() -> None:
    """One source of uniforms: the draws are torch.rand's (streams unchanged), only an exact
    0 moves to the smallest normal number."""
    for dtype in (torch.float32, torch.float64):
        reference = torch.rand(1000, generator=torch.Generator().manual_seed(5), dtype=dtype)
        half_open = reparam.noise.uniform(
            1000, generator=torch.Generator().manual_seed(5), dtype=dtype
        )
        open_ = reparam.noise.open_uniform(
            (1000,), generator=torch.Generator().manual_seed(5), dtype=dtype
        )
        assert torch.equal(half_open, reference) and torch.equal(open_, reference)


def test_noise_functions_name_a_bad_generator() -> None:
    noise = reparam.noise
    message = r"^generator must be a torch.Generator or None, got int$"
    for draw in (noise.standard_normal, noise.uniform, noise.open_uniform):
        with pytest.raises(TypeError, match=message):
            draw(3, generator=0)  # type: ignore[arg-type]


def test_laplace_density_and_cdf_match_torch() -> None:
    """The one Laplace density and CDF, used by both Laplace rows of the catalog."""
    p = {
        "loc": torch.tensor(0.5, dtype=torch.float64),
        "scale": torch.tensor(1.5, dtype=torch.float64),
    }
    z = torch.linspace(-6.0, 6.0, 25, dtype=torch.float64)
    reference = torch.distributions.Laplace(p["loc"], p["scale"])
    torch.testing.assert_close(laplace_log_prob(z, p), reference.log_prob(z))
    torch.testing.assert_close(laplace_cdf(z, p), reference.cdf(z))
    for key in ("laplace", "laplace_log_ratio"):
        e = reparam.catalog.get(key)
        torch.testing.assert_close(e.distribution.log_prob(z, p), reference.log_prob(z))


def test_mixed_precision_multivariate_normal_draws_in_the_wider_dtype() -> None:
    """A float32 loc with a float64 Cholesky factor: the noise is float64 (it was drawn in
    loc's dtype, and L @ eps then failed on the mismatched dtypes)."""
    mvn = reparam.catalog.get("multivariate_normal")
    loc = torch.tensor([1.0, -1.0])
    tril = torch.tensor([[1.0, 0.0], [0.5, 0.8]], dtype=torch.float64)
    z = mvn.rsample(5, generator=torch.Generator().manual_seed(0), loc=loc, scale_tril=tril)
    wide = mvn.rsample(
        5, generator=torch.Generator().manual_seed(0), loc=loc.double(), scale_tril=tril
    )
    assert z.dtype == torch.float64 and torch.equal(z, wide)


def test_mixed_precision_normal_draws_in_the_wider_dtype() -> None:
    """A float64 loc with a float32 scale (either way round): the noise is drawn in float64,
    so the draws are those of float64 parameters of the same values (as torch.distributions
    promotes), not float32 noise widened afterwards."""
    gen = torch.Generator
    loc, scale = torch.tensor([0.5, -2.0]), torch.tensor([1.5, 0.25])  # exact in float32
    wide = reparam.NORMAL.rsample(
        6, generator=gen().manual_seed(0), loc=loc.double(), scale=scale.double()
    )
    for loc_, scale_ in ((loc.double(), scale), (loc, scale.double())):
        z = reparam.NORMAL.rsample(6, generator=gen().manual_seed(0), loc=loc_, scale=scale_)
        assert z.dtype == torch.float64 and torch.equal(z, wide)


def test_standard_normal_device_argument() -> None:
    eps = reparam.standard_normal((4,), generator=torch.Generator().manual_seed(0), device="cpu")
    assert eps.device.type == "cpu" and eps.shape == (4,)


def test_noise_is_drawn_on_the_generators_device_then_moved_to_device() -> None:
    """Every noise function draws where its generator is, then moves the draws to ``device``:
    on the generator's own device the same numbers as without ``device``, and on another
    device (``meta``, available without a GPU) the result is there."""
    noise = reparam.noise
    for draw in (noise.standard_normal, noise.uniform, noise.open_uniform):
        plain = draw((4,), generator=torch.Generator().manual_seed(0))
        here = draw((4,), generator=torch.Generator().manual_seed(0), device="cpu")
        assert here.device.type == "cpu" and torch.equal(here, plain), draw.__name__
        there = draw(
            (4,), generator=torch.Generator().manual_seed(0), dtype=torch.float64, device="meta"
        )
        assert there.device.type == "meta", draw.__name__
        assert there.shape == (4,) and there.dtype == torch.float64


# --- test costs and their closed forms ----------------------------------------------------


@pytest.mark.parametrize("cost", COSTS, ids=lambda c: c.name)
@pytest.mark.parametrize(("loc", "scale"), POINTS)
def test_closed_form_expectation_matches_adaptive_quadrature(
    cost: reparam.GaussianTestCost, loc: float, scale: float
) -> None:
    # Independent oracle: scipy's adaptive quadrature of f times the Gaussian density.
    def integrand(z: float) -> float:
        value = cost(torch.tensor(z, dtype=torch.float64)).item()
        return value * scipy.stats.norm.pdf(z, loc, scale)

    oracle, _ = scipy.integrate.quad(integrand, loc - 14 * scale, loc + 14 * scale, limit=400)
    closed = cost.expectation(
        torch.tensor(loc, dtype=torch.float64), torch.tensor(scale, dtype=torch.float64)
    )
    assert closed.item() == pytest.approx(oracle, abs=1e-9)


@pytest.mark.parametrize("cost", COSTS, ids=lambda c: c.name)
@pytest.mark.parametrize(("loc", "scale"), POINTS)
def test_exact_gradient_matches_finite_differences(
    cost: reparam.GaussianTestCost, loc: float, scale: float
) -> None:
    d_loc, d_scale = reparam.exact_gradient(
        cost, torch.tensor(loc, dtype=torch.float64), torch.tensor(scale, dtype=torch.float64)
    )
    h = 1e-6

    def expectation(m: float, s: float) -> float:
        return cost.expectation(
            torch.tensor(m, dtype=torch.float64), torch.tensor(s, dtype=torch.float64)
        ).item()

    fd_loc = (expectation(loc + h, scale) - expectation(loc - h, scale)) / (2 * h)
    fd_scale = (expectation(loc, scale + h) - expectation(loc, scale - h)) / (2 * h)
    assert d_loc.item() == pytest.approx(fd_loc, abs=1e-6)
    assert d_scale.item() == pytest.approx(fd_scale, abs=1e-6)


def test_exact_gradient_broadcasts() -> None:
    d_loc, d_scale = reparam.exact_gradient(
        reparam.quadratic_cost(), torch.tensor([0.0, 1.0, 2.0]), 1.5
    )
    torch.testing.assert_close(d_loc, torch.tensor([0.0, 2.0, 4.0]))
    torch.testing.assert_close(d_scale, torch.full((3,), 3.0))


def test_lipschitz_constants_are_attained() -> None:
    grid = torch.linspace(-10, 10, 200_001, dtype=torch.float64)
    for cost in COSTS:
        z = grid.clone().requires_grad_(True)
        (slope,) = torch.autograd.grad(cost(z).sum(), z)
        observed = slope.abs().max().item()
        if math.isinf(cost.lipschitz):
            assert observed > 10
        else:
            assert observed == pytest.approx(cost.lipschitz, rel=1e-6, abs=1e-12)


def test_exp_quadratic_rejects_nonpositive_k() -> None:
    with pytest.raises(ValueError, match="k must be strictly positive"):
        reparam.exp_quadratic_cost(0.0)


# --- Gauss–Hermite quadrature --------------------------------------------------------------


@pytest.mark.parametrize("power", range(0, 9))
def test_quadrature_exact_on_gaussian_moments(power: int) -> None:
    # E[z^p] for z ~ N(0, 1) is (p - 1)!! for even p and 0 for odd p.
    exact = 0.0 if power % 2 else float(np.prod(np.arange(power - 1, 0, -2)))
    value = reparam.gauss_hermite_expectation(
        lambda z: z**power, torch.tensor(0.0, dtype=torch.float64), 1.0, degree=10
    )
    assert value.item() == pytest.approx(exact, abs=1e-10)


def test_quadrature_matches_closed_forms_in_batch() -> None:
    loc = torch.tensor([[0.0], [1.0]], dtype=torch.float64)
    scale = torch.tensor([0.5, 1.0, 1.4], dtype=torch.float64)  # k σ² <= 10 for every cost
    for cost in COSTS:
        by_rule = reparam.gauss_hermite_expectation(cost, loc, scale, degree=200)
        assert by_rule.shape == (2, 3)
        # Documented accuracy: below 1e-8 while the integrand is smooth on the scale of σ.
        torch.testing.assert_close(by_rule, cost.expectation(loc, scale), rtol=0, atol=1e-8)


def test_quadrature_accuracy_limit_is_as_documented() -> None:
    cost = reparam.exp_quadratic_cost(10.0)
    loc = torch.tensor(1.0, dtype=torch.float64)
    fine = reparam.gauss_hermite_expectation(cost, loc, 1.0, degree=200)  # k σ² = 10
    coarse = reparam.gauss_hermite_expectation(cost, loc, 2.0, degree=200)  # k σ² = 40
    assert abs(fine - cost.expectation(loc, torch.tensor(1.0, dtype=torch.float64))) < 1e-9
    error = abs(coarse - cost.expectation(loc, torch.tensor(2.0, dtype=torch.float64))).item()
    assert 1e-5 < error < 1e-3


@pytest.mark.parametrize("degree", [0, 251, 2.0, True])
def test_quadrature_rejects_bad_degree(degree: object) -> None:
    with pytest.raises(ValueError, match="degree"):
        reparam.gauss_hermite_expectation(torch.exp, 0.0, 1.0, degree=degree)  # type: ignore[arg-type]


def test_gauss_hermite_rule_matches_numpy_and_normalises() -> None:
    nodes, weights = reparam.quadrature.gauss_hermite_rule(30, dtype=torch.float64)
    ref_nodes, ref_weights = np.polynomial.hermite_e.hermegauss(30)
    np.testing.assert_allclose(nodes.numpy(), ref_nodes)
    np.testing.assert_allclose(weights.numpy(), ref_weights / math.sqrt(2 * math.pi))
    assert weights.sum().item() == pytest.approx(1.0, abs=1e-14)
    # E[eps^4] = 3 under N(0, 1)
    assert (weights * nodes**4).sum().item() == pytest.approx(3.0, abs=1e-12)
    with pytest.raises(ValueError, match="degree"):
        reparam.quadrature.gauss_hermite_rule(0)


def test_quadrature_rejects_bad_scale() -> None:
    with pytest.raises(ValueError, match="scale"):
        reparam.gauss_hermite_expectation(torch.exp, 0.0, -1.0)


def test_package_version_is_public() -> None:
    assert reparam.__version__.count(".") == 2
