# The bad-input cases pass ill-typed values on purpose.
# mypy: disable-error-code="arg-type"
"""reparam.sampling: antithetic and randomized quasi-Monte Carlo base noise.

Oracles: the normal CDF of SciPy (the Sobol points' one-point-per-cell balance), closed-form
Gaussian expectations and their gradients (:mod:`reparam.costs`, E‖Lε + μ‖² = tr LLᵀ + ‖μ‖²),
Gauss–Hermite quadrature of the even and odd parts of an integrand (antithetic variance),
:func:`reparam.surrogate.pathwise_surrogate` for the independent draws. Tolerances are
standard errors computed here from independent replicates.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
import scipy.stats
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import reparam
from reparam import sampling
from reparam.quadrature import gauss_hermite_rule

F64 = torch.float64


def replicate_gradients(
    method: str,
    num_samples: int,
    replicates: int,
    loc: torch.Tensor,
    scale: torch.Tensor,
    cost: Callable[[torch.Tensor], torch.Tensor],
    seed: int,
) -> torch.Tensor:
    """(replicates, 2 d) gradients in (μ, σ), each from its own call (independent scrambles)."""
    gen = torch.Generator().manual_seed(seed)
    rows = []
    for _ in range(replicates):
        mu = loc.clone().requires_grad_(True)
        sigma = scale.clone().requires_grad_(True)
        value = sampling.pathwise_surrogate(
            cost,
            reparam.NORMAL,
            {"loc": mu, "scale": sigma},
            num_samples,
            method=method,
            generator=gen,
        )
        rows.append(torch.cat(torch.autograd.grad(value, [mu, sigma])))
    return torch.stack(rows)


def variance_and_error(samples: torch.Tensor) -> tuple[float, float]:
    """The sample variance and its standard error, from the replicates' fourth moment."""
    variance = samples.var().item()
    centred = samples - samples.mean()
    fourth = (centred**4).mean().item()
    return variance, math.sqrt(max(fourth - variance**2, 0.0) / samples.numel())


def exact_product_gradient(k: float, loc: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """∇ of E[exp(−k‖z‖²)] = Π E[exp(−k zᵢ²)] for z ~ N(μ, diag σ²), from the closed form."""
    cost = reparam.exp_quadratic_cost(k)
    mu = loc.clone().requires_grad_(True)
    sigma = scale.clone().requires_grad_(True)
    value = cost.expectation(mu, sigma).prod()
    return torch.cat(torch.autograd.grad(value, [mu, sigma]))


def product_cost(k: float) -> Callable[[torch.Tensor], torch.Tensor]:
    return lambda z: torch.exp(-k * z.square().sum(-1))


def test_iid_noise_is_torch_randn_and_the_surrogate_is_the_plain_one() -> None:
    eps = sampling.normal_noise(5, (2, 3), generator=torch.Generator().manual_seed(0))
    expected = torch.randn(5, 2, 3, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(eps, expected, rtol=0, atol=0)
    loc = torch.tensor([0.3, -0.2], dtype=F64, requires_grad=True)
    scale = torch.tensor([1.2, 0.7], dtype=F64, requires_grad=True)
    values = []
    for surrogate in (sampling.pathwise_surrogate, reparam.surrogate.pathwise_surrogate):
        value = surrogate(
            lambda z: torch.cos(z).sum(-1),
            reparam.NORMAL,
            {"loc": loc, "scale": scale},
            7,
            generator=torch.Generator().manual_seed(1),
        )
        values.append((value, *torch.autograd.grad(value, [loc, scale])))
    for ours, theirs in zip(*values, strict=True):
        torch.testing.assert_close(ours, theirs, rtol=1e-14, atol=0)


def test_antithetic_rows_come_in_pairs() -> None:
    eps = sampling.normal_noise(
        6, 3, method="antithetic", generator=torch.Generator().manual_seed(2)
    )
    assert eps.shape == (6, 3)
    torch.testing.assert_close(eps[3:], -eps[:3], rtol=0, atol=0)
    first = torch.randn(3, 3, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(eps[:3], first, rtol=0, atol=0)


@pytest.mark.parametrize("num_samples", [1, 8, 256])
def test_sobol_points_put_one_point_in_every_cell_of_each_coordinate(num_samples: int) -> None:
    eps = sampling.normal_noise(
        num_samples, 5, method="sobol", generator=torch.Generator().manual_seed(3), dtype=F64
    )
    u = scipy.stats.norm.cdf(eps.numpy())  # back to the unit cube, by SciPy
    cells = np.floor(u * num_samples).astype(int)
    for column in cells.T:  # a (0, m, 1)-net in every coordinate: a permutation of the cells
        assert sorted(column.tolist()) == list(range(num_samples))


def test_sobol_points_sit_at_the_centres_of_the_engines_grid_in_double_precision() -> None:
    # the engine's points are k / 2^30; moved by half a step, in float64 (exact there), every
    # u = Φ(ε) is (k + 1/2) / 2^30: never 0 or 1, so no draw is infinite in any dtype
    eps = sampling.normal_noise(
        1024, 3, method="sobol", generator=torch.Generator().manual_seed(12), dtype=F64
    )
    scaled = torch.special.ndtr(eps) * 2.0**30
    assert ((scaled - scaled.floor() - 0.5).abs() < 1e-4).all()


def test_sobol_scrambles_differ_between_calls_and_repeat_with_the_seed() -> None:
    gen = torch.Generator().manual_seed(4)
    a = sampling.normal_noise(8, 2, method="sobol", generator=gen)
    b = sampling.normal_noise(8, 2, method="sobol", generator=gen)
    assert not torch.equal(a, b)
    again = sampling.normal_noise(8, 2, method="sobol", generator=torch.Generator().manual_seed(4))
    torch.testing.assert_close(again, a, rtol=0, atol=0)


def test_sobol_rows_are_standard_normal_marginally() -> None:
    # the first row of 4000 independent scrambles: 4000 independent N(0, I) draws
    gen = torch.Generator().manual_seed(5)
    rows = torch.stack(
        [
            sampling.normal_noise(4, 2, method="sobol", generator=gen, dtype=F64)[0]
            for _ in range(4000)
        ]
    )
    for column in rows.T:
        assert scipy.stats.kstest(column.numpy(), "norm").pvalue > 1e-3


@pytest.mark.parametrize("method", sampling.METHODS)
def test_gradients_are_unbiased_for_every_method(method: str) -> None:
    loc = torch.tensor([0.8, -0.4, 0.2], dtype=F64)
    scale = torch.tensor([0.6, 0.9, 0.7], dtype=F64)
    grads = replicate_gradients(method, 8, 1500, loc, scale, product_cost(0.5), seed=6)
    exact = exact_product_gradient(0.5, loc, scale)
    mean = grads.mean(0)
    std_error = grads.std(0) / math.sqrt(grads.shape[0])
    assert ((mean - exact).abs() <= 5 * std_error).all(), (mean, exact, std_error)


def test_sobol_error_falls_faster_than_monte_carlo_in_two_dimensions() -> None:
    loc = torch.tensor([-1.0, 1.2], dtype=F64)
    scale = torch.tensor([0.5, 0.8], dtype=F64)
    exact = exact_product_gradient(0.5, loc, scale)
    sizes = [16, 64, 256, 1024]
    slopes = {}
    for method in ("iid", "sobol"):
        rmse = [
            (replicate_gradients(method, n, 60, loc, scale, product_cost(0.5), seed=n) - exact)
            .square()
            .sum(1)
            .mean()
            .sqrt()
            .item()
            for n in sizes
        ]
        slopes[method] = np.polyfit(np.log(sizes), np.log(rmse), 1)[0]
    assert -0.65 < slopes["iid"] < -0.35  # Monte Carlo: N^(-1/2)
    assert slopes["sobol"] < -0.85  # randomized QMC: markedly faster


def test_antithetic_variance_is_that_of_the_even_part() -> None:
    # one dimension, h(ε) = d/dμ f(μ + σε) for f(z) = exp(−z²/2): Var of the pair average is
    # Var(h_even) / (N/2), which quadrature gives exactly; iid draws give Var(h) / N
    mu, sigma = 0.7, 0.9
    nodes, weights = gauss_hermite_rule(80, dtype=F64)

    def h(eps: torch.Tensor) -> torch.Tensor:
        z = mu + sigma * eps
        return -z * torch.exp(-0.5 * z**2)

    mean = (weights * h(nodes)).sum()
    even = 0.5 * (h(nodes) + h(-nodes))
    var_h = (weights * (h(nodes) - mean) ** 2).sum().item()
    var_even = (weights * (even - mean) ** 2).sum().item()
    num_samples = 4
    predicted = {"iid": var_h / num_samples, "antithetic": var_even / (num_samples // 2)}
    cost = reparam.exp_quadratic_cost(0.5)
    for method, variance in predicted.items():
        grads = replicate_gradients(
            method,
            num_samples,
            4000,
            torch.tensor([mu], dtype=F64),
            torch.tensor([sigma], dtype=F64),
            lambda z: cost(z).squeeze(-1),
            seed=7,
        )[:, 0]
        measured, se = variance_and_error(grads)
        assert abs(measured - variance) < 5 * se, (method, measured, variance, se)


def test_antithetic_makes_a_linear_cost_exact_and_can_double_an_even_variance() -> None:
    gen = torch.Generator().manual_seed(8)
    loc = torch.tensor([0.3], dtype=F64, requires_grad=True)
    scale = torch.tensor([1.5], dtype=F64, requires_grad=True)
    # f(z) = z²: d/dμ = 2(μ + σε), odd part 2σε cancels in every pair
    value = sampling.pathwise_surrogate(
        lambda z: z.square().squeeze(-1),
        reparam.NORMAL,
        {"loc": loc, "scale": scale},
        2,
        method="antithetic",
        generator=gen,
    )
    (d_loc,) = torch.autograd.grad(value, loc)
    torch.testing.assert_close(d_loc, 2 * loc.detach(), rtol=1e-14, atol=1e-14)
    # at μ = 0, σ = 1 the σ-integrand 2ε² is even: a pair holds two copies of one value.
    # Var(2ε²) = 8, so N = 4 independent draws give 8 / 4 = 2, two antithetic pairs 8 / 2 = 4
    zero = torch.tensor([0.0], dtype=F64)
    one = torch.tensor([1.0], dtype=F64)
    cost = lambda z: z.square().squeeze(-1)  # noqa: E731
    for method, exact in (("iid", 2.0), ("antithetic", 4.0)):
        grads = replicate_gradients(method, 4, 2000, zero, one, cost, seed=9)[:, 1]
        measured, se = variance_and_error(grads)
        assert abs(measured - exact) < 5 * se, (method, measured, exact, se)


def test_multivariate_normal_with_a_cholesky_factor() -> None:
    loc = torch.tensor([0.5, -1.0], dtype=F64, requires_grad=True)
    tril = torch.tensor([[1.0, 0.0], [0.5, 2.0]], dtype=F64, requires_grad=True)
    gen = torch.Generator().manual_seed(10)
    grads = []
    for _ in range(300):
        q = torch.distributions.MultivariateNormal(loc, scale_tril=tril)
        value = sampling.pathwise_surrogate(
            lambda z: z.square().sum(-1), q, None, 16, method="sobol", generator=gen
        )
        d_loc, d_tril = torch.autograd.grad(value, [loc, tril])
        grads.append(torch.cat([d_loc, d_tril.flatten()]))
    samples = torch.stack(grads)
    # E‖μ + Lε‖² = ‖μ‖² + tr(LLᵀ): gradient 2μ and 2L (lower triangle; the upper is unused)
    exact = torch.cat([2 * loc.detach(), (2 * tril.detach()).flatten()])
    std_error = samples.std(0) / math.sqrt(samples.shape[0])
    assert ((samples.mean(0) - exact).abs() <= 5 * std_error + 1e-12).all()


@pytest.mark.parametrize("method", sampling.METHODS)
def test_dtype_and_torch_normal_follow_their_inputs(method: str) -> None:
    loc = torch.zeros(3, requires_grad=True)
    scale = torch.ones(3, requires_grad=True)
    for distribution, params in (
        (reparam.NORMAL, {"loc": loc, "scale": scale}),
        (torch.distributions.Independent(torch.distributions.Normal(loc, scale), 1), None),
    ):
        value = sampling.pathwise_surrogate(
            lambda z: z.sum(-1) if z.dim() == 2 else z,
            distribution,
            params,
            4,
            method=method,
            generator=torch.Generator().manual_seed(11),
        )
        assert value.dtype == torch.float32
    eps = sampling.normal_noise(4, 2, method=method, dtype=torch.float32)
    assert eps.dtype == torch.float32 and bool(torch.isfinite(eps).all())


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: sampling.normal_noise(4, 2, method="qmc"), ValueError, r"^method must be one of"),
        (
            lambda: sampling.normal_noise(3, 2, method="antithetic"),
            ValueError,
            r"^num_samples must be even for method='antithetic'",
        ),
        (
            lambda: sampling.normal_noise(12, 2, method="sobol"),
            ValueError,
            r"^num_samples must be a power of two for method='sobol'.*got 12$",
        ),
        (
            lambda: sampling.normal_noise(4, (0,), method="sobol"),
            ValueError,
            r"^shape must have between 1 and 21201 elements",
        ),
        (
            lambda: sampling.normal_noise(4, 30000, method="sobol"),
            ValueError,
            r"^shape must have between 1 and 21201 elements.*got 30000$",
        ),
        (lambda: sampling.normal_noise(0, 2), ValueError, r"^num_samples must be"),
        (lambda: sampling.normal_noise(2.5, 2), TypeError, r"^num_samples must be"),
        (lambda: sampling.normal_noise(4, -1), ValueError, r"^shape must be"),
        (lambda: sampling.normal_noise(4, 2, dtype=torch.int64), TypeError, r"^dtype must be"),
        (lambda: sampling.normal_noise(4, 2, generator=3), TypeError, r"^generator must be"),
        (
            lambda: sampling.pathwise_surrogate(
                lambda z: z,
                reparam.catalog.get("gamma").distribution,
                {"concentration": 2.0, "rate": 1.0},
                4,
            ),
            TypeError,
            r"^distribution must be a Gaussian.*got PathReparameterization$",
        ),
        (
            lambda: sampling.pathwise_surrogate(
                lambda z: z, torch.distributions.Gamma(2.0, 1.0), None, 4
            ),
            TypeError,
            r"^distribution must be a Gaussian.*got Gamma$",
        ),
        (
            lambda: sampling.pathwise_surrogate(
                lambda z: z, torch.distributions.Normal(0.0, 1.0), {"loc": 0.0}, 4
            ),
            TypeError,
            r"^params must be None for a torch.distributions.Distribution",
        ),
        (
            lambda: sampling.pathwise_surrogate(
                lambda z: z, reparam.NORMAL, {"loc": 0.0, "scale": -1.0}, 4
            ),
            ValueError,
            r"scale",
        ),
        (
            lambda: sampling.pathwise_surrogate(
                lambda z: z, reparam.NORMAL, {"loc": 0.0, "scale": 1.0}, 6, method="sobol"
            ),
            ValueError,
            r"^num_samples must be a power of two",
        ),
        (
            lambda: sampling.pathwise_surrogate(1, reparam.NORMAL, {"loc": 0.0, "scale": 1.0}, 4),
            TypeError,
            r"^cost must be callable",
        ),
        (
            lambda: sampling.pathwise_surrogate(
                lambda z: z.sum(), reparam.NORMAL, {"loc": 0.0, "scale": 1.0}, 4
            ),
            ValueError,
            r"^cost must return per-draw costs",
        ),
    ],
)
def test_bad_input_names_the_parameter(call, error, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=message):
        call()


@given(
    log2_n=st.integers(min_value=0, max_value=9),
    dimension=st.integers(min_value=1, max_value=6),
    seed=st.integers(min_value=0, max_value=2**31 - 1),
    double=st.booleans(),
)
@settings(max_examples=60, deadline=None)
def test_sobol_noise_is_finite_balanced_and_of_the_asked_shape(
    log2_n: int, dimension: int, seed: int, double: bool
) -> None:
    n = 2**log2_n
    dtype = F64 if double else torch.float32
    eps = sampling.normal_noise(
        n, dimension, method="sobol", generator=torch.Generator().manual_seed(seed), dtype=dtype
    )
    assert eps.shape == (n, dimension) and eps.dtype == dtype
    assert bool(torch.isfinite(eps).all())
    cells = torch.floor(torch.special.ndtr(eps.double()) * n).long()
    for column in cells.T:
        assert sorted(column.tolist()) == list(range(n))


@given(
    half=st.integers(min_value=1, max_value=50),
    seed=st.integers(min_value=0, max_value=2**31 - 1),
)
@settings(max_examples=40, deadline=None)
def test_antithetic_pairs_sum_to_zero(half: int, seed: int) -> None:
    eps = sampling.normal_noise(
        2 * half, (2,), method="antithetic", generator=torch.Generator().manual_seed(seed)
    )
    assert bool((eps[:half] + eps[half:] == 0).all())
