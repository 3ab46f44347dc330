"""Tests of :mod:`reparam.mixture` against independent oracles: ``torch.distributions``'
MixtureSameFamily (density and CDF), Gauss–Hermite expectations differentiated by autograd
(the exact gradient of E[f(z)]), bisection on the CDF with central differences (the
derivative of each draw along its quantile path), scipy's Kolmogorov–Smirnov and chi-square
tests, and exact identities of the path (shift, scale and softmax invariance)."""

from __future__ import annotations

import math

import pytest
import scipy.stats
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.distributions import Categorical, MixtureSameFamily, Normal

from reparam import mixture
from reparam.quadrature import gauss_hermite_expectation

F64 = torch.float64
LOGITS = [0.3, -0.5, 1.0]
LOC = [-2.0, 0.5, 3.0]
SCALE = [0.7, 1.2, 0.5]


def params(requires_grad: bool = True, dtype: torch.dtype = F64) -> list[torch.Tensor]:
    return [
        torch.tensor(values, dtype=dtype, requires_grad=requires_grad)
        for values in (LOGITS, LOC, SCALE)
    ]


def cost(z: torch.Tensor) -> torch.Tensor:
    return torch.sin(z) + 0.1 * z**2


def test_density_and_cdf_match_torch() -> None:
    logits = torch.tensor([[0.3, -0.5, 1.0], [0.0, 2.0, -1.0]], dtype=F64)
    loc = torch.tensor([-2.0, 0.5, 3.0], dtype=F64)
    scale = torch.tensor([[0.7, 1.2, 0.5]], dtype=F64)
    reference = MixtureSameFamily(
        Categorical(logits=logits), Normal(loc.expand(2, 3), scale.expand(2, 3))
    )
    x = torch.linspace(-6, 6, 25, dtype=F64).unsqueeze(-1)
    torch.testing.assert_close(
        mixture.mixture_log_prob(x, logits, loc, scale), reference.log_prob(x), rtol=0, atol=1e-12
    )
    torch.testing.assert_close(
        mixture.mixture_cdf(x, logits, loc, scale), reference.cdf(x), rtol=0, atol=1e-12
    )


def test_draws_have_the_mixture_distribution() -> None:
    logits, loc, scale = params(requires_grad=False)
    n = 40_000
    draws, components = mixture.mixture_sample_with_components(
        logits, loc, scale, n, generator=torch.Generator().manual_seed(1)
    )
    counts = torch.bincount(components, minlength=3).numpy()
    expected = (torch.softmax(logits, 0) * n).numpy()
    assert scipy.stats.chisquare(counts, expected).pvalue > 1e-3

    def cdf(x: object) -> object:
        values = torch.as_tensor(x, dtype=F64)
        return mixture.mixture_cdf(values, logits, loc, scale).numpy()

    assert scipy.stats.kstest(draws.numpy(), cdf).pvalue > 1e-3


def test_gradients_are_unbiased() -> None:
    """Mean of ∇f(z) over draws against the exact gradient of Σ_k w_k E_N(μk,σk)[f]."""
    logits, loc, scale = params()
    expectation = (torch.softmax(logits, 0) * gauss_hermite_expectation(cost, loc, scale)).sum()
    exact = torch.cat([g.flatten() for g in torch.autograd.grad(expectation, [logits, loc, scale])])
    batches = []
    for seed in range(30):
        z = mixture.mixture_rsample(
            logits, loc, scale, 4_000, generator=torch.Generator().manual_seed(seed)
        )
        grads = torch.autograd.grad(cost(z).mean(), [logits, loc, scale])
        batches.append(torch.cat([g.flatten() for g in grads]))
    stacked = torch.stack(batches)
    mean, se = stacked.mean(0), stacked.std(0) / math.sqrt(len(batches))
    z_scores = (mean - exact) / se
    assert bool((z_scores.abs() < 4.5).all()), z_scores.tolist()


def _quantile(u: float, logits: list[float], loc: list[float], scale: list[float]) -> float:
    """F⁻¹(u) by bisection in float64, an oracle independent of the package's sampler."""
    weights = torch.softmax(torch.tensor(logits, dtype=F64), 0).tolist()

    def cdf(x: float) -> float:
        return sum(
            w * 0.5 * math.erfc(-(x - m) / (s * math.sqrt(2)))
            for w, m, s in zip(weights, loc, scale, strict=True)
        )

    low, high = -50.0, 50.0
    for _ in range(200):
        middle = 0.5 * (low + high)
        low, high = (middle, high) if cdf(middle) < u else (low, middle)
    return 0.5 * (low + high)


def test_each_draw_moves_along_its_quantile_path() -> None:
    """∂z/∂θ of single draws against central differences of F⁻¹(u; θ) at u = F(z; θ)."""
    logits, loc, scale = params()
    z = mixture.mixture_rsample(logits, loc, scale, 4, generator=torch.Generator().manual_seed(2))
    base = [LOGITS, LOC, SCALE]
    h = 1e-6
    for n in range(4):
        grads = torch.autograd.grad(z[n], [logits, loc, scale], retain_graph=True)
        u = mixture.mixture_cdf(z[n].detach(), *params(requires_grad=False)).item()
        for which in range(3):
            for k in range(3):
                up = [list(values) for values in base]
                down = [list(values) for values in base]
                up[which][k] += h
                down[which][k] -= h
                numeric = (_quantile(u, *up) - _quantile(u, *down)) / (2 * h)
                assert grads[which][k].item() == pytest.approx(numeric, abs=1e-6), (n, which, k)


def test_path_identities() -> None:
    """Per draw: shifting every μ_k shifts z (Σ_k ∂z/∂μ_k = 1); scaling μ and σ scales z
    (Σ_k μ_k ∂z/∂μ_k + σ_k ∂z/∂σ_k = z); the softmax ignores a common shift of the logits
    (Σ_k ∂z/∂a_k = 0)."""
    logits, loc, scale = params()
    z = mixture.mixture_rsample(logits, loc, scale, 200, generator=torch.Generator().manual_seed(3))
    jac = [torch.autograd.grad(z[n], [logits, loc, scale], retain_graph=True) for n in range(200)]
    d_logits = torch.stack([j[0] for j in jac])
    d_loc = torch.stack([j[1] for j in jac])
    d_scale = torch.stack([j[2] for j in jac])
    torch.testing.assert_close(d_loc.sum(-1), torch.ones(200, dtype=F64))
    torch.testing.assert_close(
        (d_loc * loc.detach()).sum(-1) + (d_scale * scale.detach()).sum(-1), z.detach()
    )
    torch.testing.assert_close(d_logits.sum(-1), torch.zeros(200, dtype=F64), atol=1e-12, rtol=0)


def test_shapes_dtypes_and_seeds(dtype: torch.dtype) -> None:
    logits = torch.zeros(2, 4, dtype=dtype, requires_grad=True)
    loc = torch.randn(4, dtype=dtype, generator=torch.Generator().manual_seed(0))
    scale = torch.ones(2, 4, dtype=dtype)
    z = mixture.mixture_rsample(logits, loc, scale, 5, generator=torch.Generator().manual_seed(4))
    assert z.shape == (5, 2) and z.dtype == dtype
    (grad,) = torch.autograd.grad(z.sum(), [logits])
    assert grad.shape == (2, 4) and grad.dtype == dtype
    again = mixture.mixture_rsample(
        logits, loc, scale, 5, generator=torch.Generator().manual_seed(4)
    )
    assert torch.equal(z, again)
    one = torch.tensor([0.0], dtype=dtype)
    single = mixture.mixture_rsample(one, one + 1.5, one + 2.0, 3, generator=torch.Generator())
    assert single.shape == (3,)


@settings(max_examples=40, deadline=None)
@given(
    logits=st.lists(st.floats(-30, 30), min_size=1, max_size=4),
    shift=st.floats(-100, 100),
    log_scale=st.floats(-5, 3),
)
def test_draws_and_gradients_are_finite(
    logits: list[float], shift: float, log_scale: float
) -> None:
    k = len(logits)
    a = torch.tensor(logits, dtype=F64, requires_grad=True)
    loc = torch.linspace(-1, 1, k, dtype=F64) * 3 + shift
    loc.requires_grad_(True)
    scale = torch.full((k,), math.exp(log_scale), dtype=F64, requires_grad=True)
    z = mixture.mixture_rsample(a, loc, scale, 32, generator=torch.Generator().manual_seed(5))
    grads = torch.autograd.grad(z.sum(), [a, loc, scale])
    assert bool(torch.isfinite(z).all())
    assert all(bool(torch.isfinite(g).all()) for g in grads)


def test_bad_input_is_named() -> None:
    a, m, s = params(requires_grad=False)
    with pytest.raises(ValueError, match="scale must be strictly positive"):
        mixture.mixture_rsample(a, m, torch.tensor([1.0, 0.0, 1.0]), 4)
    with pytest.raises(ValueError, match="loc must be finite"):
        mixture.mixture_log_prob(0.0, a, torch.tensor([0.0, math.nan, 1.0]), s)
    with pytest.raises(ValueError, match="logits must be finite"):
        mixture.mixture_cdf(0.0, torch.tensor([0.0, math.inf, 1.0]), m, s)
    with pytest.raises(ValueError, match="logits, loc and scale must broadcast together"):
        mixture.mixture_rsample(torch.zeros(2), m, s, 4)
    with pytest.raises(ValueError, match="loc must have the components in its last dimension"):
        mixture.mixture_rsample(a, 0.0, s, 4)
    with pytest.raises(ValueError, match="num_samples must be at least 1"):
        mixture.mixture_rsample(a, m, s, 0)
    with pytest.raises(TypeError, match="value must be"):
        mixture.mixture_cdf("0.5", a, m, s)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="value must be finite"):
        mixture.mixture_log_prob(math.nan, a, m, s)
    with pytest.raises(TypeError, match="generator"):
        mixture.mixture_rsample(a, m, s, 4, generator=1)  # type: ignore[arg-type]
    # A number is a value like any other, taken in the parameters' dtype (0.1 is not a
    # float32 number, so a detour through torch's default dtype would show).
    assert torch.equal(
        mixture.mixture_cdf(0.1, a, m, s),
        mixture.mixture_cdf(torch.tensor(0.1, dtype=F64), a, m, s),
    )
