# The bad-input cases pass ill-typed values on purpose.
# mypy: disable-error-code="arg-type"
"""reparam.weights: a Bayesian linear layer's outputs under four ways of drawing its weights.

Oracles: the closed-form mean, variance and cross-example covariance of y = x Wᵀ for
W ~ N(M, S²); the exact gradient of E[mean over the batch of ‖y‖²], by hand; SciPy's
Kolmogorov–Smirnov test against N(0, 1). Tolerances are standard errors computed here from
independent replicates.
"""

from __future__ import annotations

import math

import pytest
import scipy.stats
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from reparam import weights

F64 = torch.float64


def layer(seed: int = 0, batch: int = 8) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, 4, generator=gen, dtype=F64)
    loc = torch.randn(3, 4, generator=gen, dtype=F64)
    scale = 0.2 + torch.rand(3, 4, generator=gen, dtype=F64)
    return x, loc, scale


def replicates(method: str, x, loc, scale, count: int, seed: int) -> torch.Tensor:  # type: ignore[no-untyped-def]
    """(count, *y.shape): independent draws of the layer's output."""
    gen = torch.Generator().manual_seed(seed)
    return torch.stack(
        [weights.linear(x, loc, scale, method=method, generator=gen) for _ in range(count)]
    )


def within(samples: torch.Tensor, expected: torch.Tensor, z: float = 5.0) -> bool:
    mean = samples.mean(0)
    se = samples.std(0) / math.sqrt(samples.shape[0])
    return bool(((mean - expected).abs() <= z * se + 1e-12).all())


@pytest.mark.parametrize("method", weights.METHODS)
def test_every_example_has_the_mean_and_variance_of_its_own_weights(method: str) -> None:
    x, loc, scale = layer()
    y = replicates(method, x, loc, scale, 4000, seed=1)
    mean = x @ loc.T
    variance = x.square() @ scale.square().T
    assert within(y, mean)
    # the variance: the mean of the squared deviations from the exact mean
    assert within((y - mean).square(), variance)


@pytest.mark.parametrize("method", weights.METHODS)
def test_outputs_are_gaussian_per_example(method: str) -> None:
    x, loc, scale = layer(2)
    y = replicates(method, x, loc, scale, 3000, seed=3)
    standard = (y - x @ loc.T) / (x.square() @ scale.square().T).sqrt()
    assert scipy.stats.kstest(standard[:, 0, 0].numpy(), "norm").pvalue > 1e-3
    assert scipy.stats.kstest(standard[:, 5, 2].numpy(), "norm").pvalue > 1e-3


@pytest.mark.parametrize("method", weights.METHODS)
def test_only_shared_weights_correlate_examples(method: str) -> None:
    x, loc, scale = layer(4)
    y = replicates(method, x, loc, scale, 6000, seed=5)
    centred = y - x @ loc.T
    product = centred[:, 0, :] * centred[:, 1, :]  # examples 0 and 1, every unit
    covariance = (x[0] * x[1] * scale.square()).sum(-1)  # Σᵢ x₀ᵢ x₁ᵢ Sⱼᵢ²
    expected = covariance if method == "shared" else torch.zeros_like(covariance)
    assert within(product, expected)
    assert covariance.abs().max() > 0.3  # far from zero: the test can tell the two apart


def exact_gradient(
    x: torch.Tensor, loc: torch.Tensor, scale: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """∇ of J = E[(1/B) Σₙ ‖yₙ‖²] = (1/B) Σₙ Σⱼ ((xₙ·Mⱼ)² + Σᵢ xₙᵢ² Sⱼᵢ²), by hand."""
    batch = x.shape[0]
    d_loc = 2 * (x @ loc.T).T @ x / batch
    d_scale = 2 * scale * (x.square().sum(0) / batch)
    return d_loc, d_scale


def gradient_replicates(method: str, x, loc, scale, count: int, seed: int) -> torch.Tensor:  # type: ignore[no-untyped-def]
    gen = torch.Generator().manual_seed(seed)
    rows = []
    for _ in range(count):
        m = loc.clone().requires_grad_(True)
        s = scale.clone().requires_grad_(True)
        y = weights.linear(x, m, s, method=method, generator=gen)
        loss = y.square().sum(-1).mean()
        rows.append(torch.cat([g.flatten() for g in torch.autograd.grad(loss, [m, s])]))
    return torch.stack(rows)


@pytest.mark.parametrize("method", weights.METHODS)
def test_pathwise_gradients_are_unbiased(method: str) -> None:
    x, loc, scale = layer(6)
    grads = gradient_replicates(method, x, loc, scale, 1500, seed=7)
    exact = torch.cat([g.flatten() for g in exact_gradient(x, loc, scale)])
    assert within(grads, exact)


def variance_and_error(samples: torch.Tensor) -> tuple[float, float]:
    """Sample variance of a scalar statistic and its standard error (fourth moment)."""
    variance = samples.var().item()
    fourth = ((samples - samples.mean()) ** 4).mean().item()
    return variance, math.sqrt(max(fourth - variance**2, 0.0) / samples.numel())


def test_gradient_variances_of_the_four_methods() -> None:
    x, loc, scale = layer(8, batch=64)
    results = {}
    for method in weights.METHODS:
        grads = gradient_replicates(method, x, loc, scale, 1500, seed=9)
        # d/dM of the first weight, d/dS of the last
        results[method] = (variance_and_error(grads[:, 0]), variance_and_error(grads[:, -1]))
    # the M-gradient, 2 Σₙ yₙⱼ xₙᵢ / B, is a function of the outputs alone, whose
    # distribution local reparameterization reproduces exactly: the same variance
    (local, local_se), (ideal, ideal_se) = results["local"][0], results["per_example"][0]
    assert abs(local - ideal) < 5 * math.hypot(local_se, ideal_se)
    # the S-gradient is not (it depends on how the noise enters): local reparameterization's
    # is lower than that of independent weights per example
    (local_s, local_s_se), (ideal_s, ideal_s_se) = results["local"][1], results["per_example"][1]
    assert local_s + 5 * local_s_se < ideal_s - 5 * ideal_s_se
    # with 64 examples the shared perturbation's variance does not average out: for both
    # parameters it is more than twice that of every other method
    for k in (0, 1):
        shared, shared_se = results["shared"][k]
        for method in ("per_example", "local", "flipout"):
            other, other_se = results[method][k]
            assert shared - 5 * shared_se > 2 * (other + 5 * other_se), (k, method)


def test_a_zero_input_row_gets_finite_gradients() -> None:
    x, loc, scale = layer(10)
    x[0] = 0.0
    for method in weights.METHODS:
        m = loc.clone().requires_grad_(True)
        s = scale.clone().requires_grad_(True)
        y = weights.linear(x, m, s, method=method, generator=torch.Generator().manual_seed(0))
        y.square().sum().backward()
        assert torch.isfinite(m.grad).all() and torch.isfinite(s.grad).all()
        torch.testing.assert_close(y[0], torch.zeros(3, dtype=F64), rtol=0, atol=0)


@pytest.mark.parametrize("method", weights.METHODS)
def test_batch_shapes_bias_and_dtype(method: str) -> None:
    gen = torch.Generator().manual_seed(11)
    x = torch.randn(2, 5, 4, generator=gen)  # float32, two batch dimensions
    loc, scale = torch.zeros(3, 4), torch.full((3, 4), 0.5)
    bias = torch.tensor([1.0, -2.0, 0.5])
    y = weights.linear(x, loc, scale, bias, method=method, generator=gen)
    assert y.shape == (2, 5, 3) and y.dtype == torch.float32
    tiny = weights.linear(x, loc, torch.full((3, 4), 1e-30), bias, method=method, generator=gen)
    torch.testing.assert_close(tiny, bias.expand(2, 5, 3))


def test_without_a_generator_torch_global_generator_draws() -> None:
    x, loc, scale = layer(14)
    for method in weights.METHODS:
        torch.manual_seed(5)
        a = weights.linear(x, loc, scale, method=method)
        torch.manual_seed(5)
        b = weights.linear(x, loc, scale, method=method)
        torch.testing.assert_close(a, b, rtol=0, atol=0)
        assert a.shape == (8, 3) and bool(torch.isfinite(a).all())


def test_the_same_generator_state_gives_the_same_draws() -> None:
    x, loc, scale = layer(12)
    for method in weights.METHODS:
        a = weights.linear(x, loc, scale, method=method, generator=torch.Generator().manual_seed(3))
        b = weights.linear(x, loc, scale, method=method, generator=torch.Generator().manual_seed(3))
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def _bad(**changes: object) -> dict[str, object]:
    x, loc, scale = layer(13)
    kwargs: dict[str, object] = {"x": x, "weight_loc": loc, "weight_scale": scale}
    kwargs.update(changes)
    return kwargs


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (_bad(method="mc"), ValueError, r"^method must be one of"),
        (_bad(x=[[1.0] * 4]), TypeError, r"^x must be a floating-point torch.Tensor, got list$"),
        (_bad(x=torch.ones(2, 4, dtype=torch.int64)), TypeError, r"^x must be a floating-point"),
        (
            _bad(x=torch.ones(2, 5, dtype=F64)),
            ValueError,
            r"^x must have shape \(\.\.\., in_features\)",
        ),
        (_bad(x=torch.tensor(1.0, dtype=F64)), ValueError, r"^x must have shape"),
        (_bad(weight_loc=torch.zeros(4, dtype=F64)), ValueError, r"^weight_loc must have shape"),
        (
            _bad(weight_scale=torch.ones(4, 3, dtype=F64)),
            ValueError,
            r"^weight_scale must have the shape",
        ),
        (
            _bad(weight_scale=torch.zeros(3, 4, dtype=F64)),
            ValueError,
            r"^weight_scale must be strictly positive",
        ),
        (
            _bad(weight_scale=torch.full((3, 4), math.nan, dtype=F64)),
            ValueError,
            r"^weight_scale must be finite",
        ),
        (
            _bad(weight_loc=torch.full((3, 4), math.inf, dtype=F64)),
            ValueError,
            r"^weight_loc must be finite",
        ),
        (
            _bad(bias=torch.zeros(4, dtype=F64)),
            ValueError,
            r"^bias must have shape \(out_features,\) = \(3,\)",
        ),
        (
            _bad(bias=torch.tensor([0.0, math.nan, 0.0], dtype=F64)),
            ValueError,
            r"^bias must be finite",
        ),
        (
            _bad(weight_loc=torch.zeros(3, 4)),
            TypeError,
            r"^x, weight_loc, weight_scale and bias must share one dtype",
        ),
        (_bad(generator=1), TypeError, r"^generator must be a torch.Generator or None"),
        (
            _bad(weight_loc=torch.zeros(3, 4, dtype=torch.int64)),
            TypeError,
            r"^weight_loc must be a floating-point torch.Tensor, got dtype torch.int64$",
        ),
        (
            _bad(weight_scale=[[1.0] * 4] * 3),
            TypeError,
            r"^weight_scale must be a floating-point torch.Tensor, got list$",
        ),
        (
            _bad(bias=torch.zeros(3, dtype=torch.int64)),
            TypeError,
            r"^bias must be a floating-point torch.Tensor, got dtype torch.int64$",
        ),
    ],
)
def test_bad_input_names_the_parameter(kwargs, error, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=message):
        weights.linear(**kwargs)


@given(
    batch=st.lists(st.integers(min_value=1, max_value=4), min_size=0, max_size=2),
    in_features=st.integers(min_value=1, max_value=6),
    out_features=st.integers(min_value=1, max_value=6),
    method=st.sampled_from(weights.METHODS),
    seed=st.integers(min_value=0, max_value=2**31 - 1),
)
@settings(max_examples=80, deadline=None)
def test_any_shapes_give_finite_outputs_of_the_right_shape(
    batch: list[int], in_features: int, out_features: int, method: str, seed: int
) -> None:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(*batch, in_features, generator=gen, dtype=F64)
    loc = torch.randn(out_features, in_features, generator=gen, dtype=F64)
    scale = 0.1 + torch.rand(out_features, in_features, generator=gen, dtype=F64)
    y = weights.linear(x, loc, scale, method=method, generator=gen)
    assert y.shape == (*batch, out_features)
    assert bool(torch.isfinite(y).all())
