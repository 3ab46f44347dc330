"""Control variates: the leave-one-out coefficient is the pooled formula on the other draws
(brute force), the correction keeps the mean exactly (unbiased against an exact gradient,
tolerance from standard errors computed here) and removes a linear dependence entirely."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import reparam
from reparam.control_variates import (
    apply_control_variate,
    leave_one_out_mean,
    optimal_coefficient,
)

F64 = torch.float64


def test_leave_one_out_mean_by_brute_force() -> None:
    values = torch.randn(6, 3, dtype=F64, generator=torch.Generator().manual_seed(0))
    expected = torch.stack([torch.cat([values[:n], values[n + 1 :]]).mean(0) for n in range(6)])
    torch.testing.assert_close(leave_one_out_mean(values), expected)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(3, 12), seed=st.integers(0, 10_000))
def test_leave_one_out_coefficient_by_brute_force(n: int, seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    g = torch.randn(n, 2, dtype=F64, generator=generator)
    h = torch.randn(n, 2, dtype=F64, generator=generator) + 0.5 * g
    corrected = apply_control_variate(g, h, 0.25, coefficient="leave_one_out")
    for row in range(n):
        others = [m for m in range(n) if m != row]
        c = optimal_coefficient(g[others], h[others])
        torch.testing.assert_close(corrected[row], g[row] - c * (h[row] - 0.25))


def test_pooled_coefficient_removes_a_linear_dependence() -> None:
    h = torch.randn(50, dtype=F64, generator=torch.Generator().manual_seed(1))
    g = 3.0 - 2.0 * h
    torch.testing.assert_close(optimal_coefficient(g, h), torch.tensor(-2.0, dtype=F64))
    corrected = apply_control_variate(g, h, 0.0, coefficient="pooled")
    assert corrected.var().item() < 1e-20
    # A constant control carries no information: coefficient 0, estimates unchanged.
    flat = torch.ones(50, dtype=F64)
    assert optimal_coefficient(g, flat).item() == 0.0
    torch.testing.assert_close(apply_control_variate(g, flat, 1.0), g)


def test_score_function_with_the_score_as_control_is_unbiased_and_better() -> None:
    """d/dmu E[z^2] = 2 mu with the score eps = z - mu (mean 0) as control variate.

    g = (mu + eps)^2 eps has Var g = mu^4 + 14 mu^2 + 15 and Cov(g, eps) = mu^2 + 3, so the
    best coefficient leaves the fraction 1 - rho^2 of the variance.
    """
    mu, n, repeats = 0.7, 32, 400
    exact = 2 * mu
    remaining = 1 - (mu**2 + 3) ** 2 / (mu**4 + 14 * mu**2 + 15)
    generator = torch.Generator().manual_seed(4)
    plain, corrected = [], []
    for _ in range(repeats):
        z = mu + torch.randn(n, dtype=F64, generator=generator)
        score = z - mu
        g = z**2 * score
        plain.append(g.mean())
        corrected.append(apply_control_variate(g, score, 0.0).mean())
    for estimates in (torch.stack(plain), torch.stack(corrected)):
        se = estimates.std() / math.sqrt(repeats)
        assert abs(estimates.mean().item() - exact) < 5 * se.item()
    # The ratio of two sample variances of 400 draws has a relative error of about
    # sqrt(2/399 + 2/399) = 0.1; allow five of them.
    ratio = (torch.stack(corrected).var() / torch.stack(plain).var()).item()
    assert ratio < remaining * (1 + 5 * math.sqrt(4 / (repeats - 1)))


def test_composes_with_the_estimators() -> None:
    """Per-sample score-function gradients corrected with the score itself."""
    params = {"loc": torch.tensor(0.3, dtype=F64), "scale": torch.tensor(1.0, dtype=F64)}
    generator = torch.Generator().manual_seed(2)
    grads = reparam.estimators.score_function_gradient(
        lambda z: z**2, reparam.NORMAL, params, 64, generator=generator
    )["loc"]
    generator = torch.Generator().manual_seed(2)
    z = reparam.NORMAL.rsample(64, generator=generator, **params)
    corrected = apply_control_variate(grads, z - 0.3, 0.0)
    assert corrected.shape == grads.shape and corrected.var() < grads.var()


def test_bad_input_names_the_argument() -> None:
    g = torch.randn(5, dtype=F64)
    with pytest.raises(ValueError, match="estimates must have shape"):
        apply_control_variate(g[:2], g[:2], 0.0)
    message = r"^estimates must have shape \(N, \.\.\.\) with N >= 2 draws for coefficient='pooled'"
    with pytest.raises(ValueError, match=message + r", got shape \(1,\)$"):
        apply_control_variate(g[:1], g[:1], 0.0, coefficient="pooled")
    with pytest.raises(ValueError, match=r"N >= 3 draws for coefficient='leave_one_out'"):
        apply_control_variate(g[:2], g[:2], 0.0)
    assert apply_control_variate(g[:1], g[:1], 0.0, coefficient=0.5).shape == (1,)
    with pytest.raises(ValueError, match="same shape"):
        apply_control_variate(g, g[:4], 0.0, coefficient="pooled")
    with pytest.raises(ValueError, match="coefficient must be"):
        apply_control_variate(g, g, 0.0, coefficient="optimal")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="control_mean must be finite"):
        apply_control_variate(g, g, math.nan)
    with pytest.raises(
        ValueError, match=r"^control_mean must broadcast to \(\), got shape \(3,\)$"
    ):
        apply_control_variate(g, g, torch.zeros(3))
    gg = torch.randn(5, 2, 3, dtype=F64)
    for mean in (torch.zeros(2, 1), torch.zeros(3), torch.zeros(1, 3), 0.5):
        assert apply_control_variate(gg, gg, mean).shape == gg.shape
    with pytest.raises(
        ValueError, match=r"^control_mean must broadcast to \(2, 3\), got shape \(1, 2, 3\)$"
    ):
        apply_control_variate(gg, gg, torch.zeros(1, 2, 3))
    with pytest.raises(ValueError, match="controls must be finite"):
        apply_control_variate(g, g.clone().fill_(math.inf), 0.0)
    with pytest.raises(TypeError, match="floating"):
        leave_one_out_mean(torch.ones(4, dtype=torch.int64))
    with pytest.raises(ValueError, match="N >= 2"):
        leave_one_out_mean(torch.ones(1))
    with pytest.raises(ValueError, match="coefficient must be finite"):
        apply_control_variate(g, g, 0.0, coefficient=math.inf)
    torch.testing.assert_close(apply_control_variate(g, g, 0.0, coefficient=1.0), 0 * g)
    # optimal_coefficient on its own checks and names both of its arguments
    with pytest.raises(ValueError, match=r"^estimates must have shape \(N, \.\.\.\) with N >= 2"):
        optimal_coefficient(g[:1], g[:1])
    with pytest.raises(ValueError, match=r"^estimates must be finite"):
        optimal_coefficient(g.clone().fill_(math.nan), g)
    with pytest.raises(ValueError, match=r"^controls must be finite"):
        optimal_coefficient(g, g.clone().fill_(math.nan))
