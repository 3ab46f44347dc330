# The bad-input cases pass ill-typed values on purpose.
# mypy: disable-error-code="arg-type, return-value, list-item"
"""reparam.multisample: the ELBO and IWAE bounds and their standard, STL and DReG gradients.

Oracles: a one-dimensional linear-Gaussian model, z ~ N(0, 1), x | z ~ N(z, σ₀²), whose
evidence, posterior and ELBO have closed forms; the IWAE bound L₂ by two-dimensional
Gauss–Hermite quadrature (NumPy's nodes), differentiated by autograd; torch.distributions.
Tolerances are standard errors computed here from the replicates.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import reparam
from reparam import multisample

F64 = torch.float64
X, SIGMA0 = 1.3, 0.8  # the observation and the likelihood's standard deviation


def log_joint(z: torch.Tensor) -> torch.Tensor:
    """log N(x; z, σ₀²) + log N(z; 0, 1), elementwise."""
    return -0.5 * ((X - z) / SIGMA0) ** 2 - math.log(SIGMA0) - 0.5 * z**2 - math.log(2 * math.pi)


def log_evidence() -> float:  # x ~ N(0, 1 + σ₀²)
    var = 1.0 + SIGMA0**2
    return -0.5 * X**2 / var - 0.5 * math.log(2 * math.pi * var)


def posterior() -> tuple[float, float]:
    var = SIGMA0**2 / (1.0 + SIGMA0**2)
    return X / (1.0 + SIGMA0**2), math.sqrt(var)


def exact_elbo(loc: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """E_q[log p(x, z)] + entropy of q, in closed form."""
    expected_joint = (
        -0.5 * ((X - loc) ** 2 + scale**2) / SIGMA0**2
        - math.log(SIGMA0)
        - 0.5 * (loc**2 + scale**2)
        - math.log(2 * math.pi)
    )
    entropy = 0.5 * math.log(2 * math.pi * math.e) + torch.log(scale)
    return expected_joint + entropy


def quadrature_iwae2(loc: torch.Tensor, scale: torch.Tensor, order: int = 60) -> torch.Tensor:
    """L₂ = E[log ½(w(z₁) + w(z₂))] by a tensor-product Gauss–Hermite rule in (ε₁, ε₂)."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(order)  # weight exp(-ε²/2)
    eps = torch.tensor(nodes, dtype=F64)
    prob = torch.tensor(weights / math.sqrt(2 * math.pi), dtype=F64)
    z = loc + scale * eps
    log_q = -0.5 * eps**2 - torch.log(scale) - 0.5 * math.log(2 * math.pi)
    log_w = log_joint(z) - log_q
    pair = torch.logaddexp(log_w[:, None], log_w[None, :]) - math.log(2.0)
    return (prob[:, None] * prob[None, :] * pair).sum()


def replicated(loc: float, scale: float, copies: int) -> dict[str, torch.Tensor]:
    """``copies`` leaf copies of (loc, scale): each gets its own independent estimate."""
    return {
        "loc": torch.full((copies,), loc, dtype=F64, requires_grad=True),
        "scale": torch.full((copies,), scale, dtype=F64, requires_grad=True),
    }


def per_copy_gradients(surrogate, params, **options) -> torch.Tensor:  # type: ignore[no-untyped-def]
    value = surrogate(log_joint, reparam.NORMAL, params, **options)
    loc_grad, scale_grad = torch.autograd.grad(value, [params["loc"], params["scale"]])
    return torch.stack([loc_grad, scale_grad], dim=-1)  # (copies, 2)


def assert_mean_is(samples: torch.Tensor, expected: torch.Tensor, z: float = 5.0) -> None:
    mean = samples.mean(dim=0)
    std_error = samples.std(dim=0) / math.sqrt(samples.shape[0])
    assert ((mean - expected).abs() <= z * std_error + 1e-12).all(), (mean, expected, std_error)


def test_iwae_bound_is_the_log_mean_of_the_weights() -> None:
    gen = torch.Generator().manual_seed(0)
    log_w = 3.0 * torch.randn(7, 4, generator=gen, dtype=F64)
    expected = np.log(np.mean(np.exp(log_w.numpy()), axis=0))
    np.testing.assert_allclose(multisample.iwae_bound(log_w).numpy(), expected, rtol=1e-14)
    np.testing.assert_allclose(
        multisample.iwae_bound(log_w.T, dim=-1).numpy(), expected, rtol=1e-14
    )
    # far outside exp's range: still log-mean-exp, without overflow
    shifted = multisample.iwae_bound(log_w + 1000.0)
    torch.testing.assert_close(shifted, torch.as_tensor(expected) + 1000.0, rtol=1e-14, atol=0)
    torch.testing.assert_close(multisample.iwae_bound(log_w[:1]), log_w[0])  # K = 1
    assert multisample.iwae_bound(log_w.float()).dtype == torch.float32


@pytest.mark.parametrize("gradient", ["standard", "stl"])
def test_elbo_value_and_gradients_are_unbiased(gradient: str) -> None:
    loc, scale = 0.2, 1.1  # far from the posterior
    params = replicated(loc, scale, 4000)
    gen = torch.Generator().manual_seed(1)
    value = multisample.elbo_surrogate(
        log_joint, reparam.NORMAL, params, 1, gradient=gradient, generator=gen
    )
    exact_loc, exact_scale = torch.tensor(loc, dtype=F64), torch.tensor(scale, dtype=F64)
    exact_loc.requires_grad_()
    exact_scale.requires_grad_()
    exact = exact_elbo(exact_loc, exact_scale)
    exact_grad = torch.stack(torch.autograd.grad(exact, [exact_loc, exact_scale]))
    grads = torch.stack(torch.autograd.grad(value, [params["loc"], params["scale"]]), dim=-1)
    assert_mean_is(grads, exact_grad)
    # the value: 4000 one-draw estimates, summed over the copies
    gen = torch.Generator().manual_seed(2)
    with torch.no_grad():
        eps = torch.randn(4000, generator=gen, dtype=F64)
    draws = loc + scale * eps
    single = log_joint(draws) - torch.distributions.Normal(loc, scale).log_prob(draws)
    assert abs(value.item() / 4000 - exact.item()) < 5 * single.std().item() / math.sqrt(4000)


def test_stl_has_zero_variance_at_the_exact_posterior_and_standard_does_not() -> None:
    loc, scale = posterior()
    grads = {
        gradient: per_copy_gradients(
            multisample.elbo_surrogate,
            replicated(loc, scale, 500),
            num_samples=1,
            gradient=gradient,
            generator=torch.Generator().manual_seed(3),
        )
        for gradient in ("standard", "stl")
    }
    assert grads["stl"].abs().max().item() < 1e-12  # every single draw: exactly zero
    # the standard estimator's score term stays: its mean is zero, its variance is not
    assert grads["standard"].std(dim=0).min().item() > 0.1
    assert_mean_is(grads["standard"], torch.zeros(2, dtype=F64))


def test_iwae_at_the_exact_posterior_is_the_evidence_for_every_draw() -> None:
    loc, scale = posterior()
    params = {"loc": torch.tensor(loc, dtype=F64), "scale": torch.tensor(scale, dtype=F64)}
    for k in (1, 5, 50):
        value = multisample.iwae_surrogate(
            log_joint, reparam.NORMAL, params, k, generator=torch.Generator().manual_seed(k)
        )
        assert value.item() == pytest.approx(log_evidence(), abs=1e-12)


def test_iwae_bound_tightens_with_k_towards_the_evidence() -> None:
    loc, scale, copies = 0.2, 1.1, 4000
    means, errors = [], []
    for k in (1, 4, 32):
        per_copy = multisample.iwae_bound(_per_copy_log_weights(loc, scale, k, copies, k), dim=0)
        means.append(per_copy.mean().item())
        errors.append(per_copy.std().item() / math.sqrt(copies))
    assert means[0] + 5 * errors[0] < means[1] and means[1] + 5 * errors[1] < means[2]
    assert means[2] < log_evidence() + 5 * errors[2]
    # L₁ is the ELBO, in closed form
    exact = exact_elbo(torch.tensor(loc, dtype=F64), torch.tensor(scale, dtype=F64)).item()
    assert abs(means[0] - exact) < 5 * errors[0]


def _per_copy_log_weights(loc: float, scale: float, k: int, copies: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    z = loc + scale * torch.randn(k, copies, generator=gen, dtype=F64)
    return log_joint(z) - torch.distributions.Normal(loc, scale).log_prob(z)


def test_iwae_gradients_against_quadrature_dreg_unbiased_stl_biased() -> None:
    loc, scale = 0.2, 1.1
    exact_loc = torch.tensor(loc, dtype=F64, requires_grad=True)
    exact_scale = torch.tensor(scale, dtype=F64, requires_grad=True)
    bound = quadrature_iwae2(exact_loc, exact_scale, 120)
    exact_grad = torch.stack(torch.autograd.grad(bound, [exact_loc, exact_scale]))
    # log(w₁ + w₂) is smooth but not polynomial-like: the rule converges slowly, yet a
    # coarser rule moves the gradient by far less than the Monte Carlo standard errors
    coarse_loc = torch.tensor(loc, dtype=F64, requires_grad=True)
    coarse_scale = torch.tensor(scale, dtype=F64, requires_grad=True)
    coarse = quadrature_iwae2(coarse_loc, coarse_scale, 80)
    coarse_grad = torch.stack(torch.autograd.grad(coarse, [coarse_loc, coarse_scale]))
    assert (coarse_grad - exact_grad).abs().max().item() < 1e-5
    # L₂ lies between the ELBO and the evidence
    elbo = exact_elbo(torch.tensor(loc, dtype=F64), torch.tensor(scale, dtype=F64)).item()
    assert elbo < bound.item() < log_evidence()
    grads = {
        gradient: per_copy_gradients(
            multisample.iwae_surrogate,
            replicated(loc, scale, 20000),
            num_samples=2,
            gradient=gradient,
            generator=torch.Generator().manual_seed(4),
        )
        for gradient in ("standard", "stl", "dreg", "score", "vimco")
    }
    for unbiased in ("standard", "dreg", "score", "vimco"):
        assert_mean_is(grads[unbiased], exact_grad)
    # VIMCO's baseline removes most of the plain score function's variance
    assert grads["vimco"].var(dim=0).sum() < 0.5 * grads["score"].var(dim=0).sum()
    # STL on IWAE is biased (Tucker et al., 2019): its mean misses by many standard errors
    stl = grads["stl"]
    std_error = stl.std(dim=0) / math.sqrt(stl.shape[0])
    assert ((stl.mean(dim=0) - exact_grad).abs() / std_error).max().item() > 10
    # same draws, same value: the three differ only in the gradient
    assert grads["dreg"].var(dim=0).sum() < grads["standard"].var(dim=0).sum()


def test_theta_gradient_is_the_standard_one_for_every_estimator() -> None:
    theta = torch.tensor(0.7, dtype=F64, requires_grad=True)

    def joint(z: torch.Tensor) -> torch.Tensor:  # a prior mean θ to learn
        return log_joint(z) - 0.5 * ((z - theta) ** 2 - z**2)

    params = {"loc": torch.tensor(0.1, dtype=F64), "scale": torch.tensor(0.9, dtype=F64)}
    grads = []
    for gradient in ("standard", "stl", "dreg", "score", "vimco"):
        value = multisample.iwae_surrogate(
            joint,
            reparam.NORMAL,
            params,
            8,
            gradient=gradient,
            generator=torch.Generator().manual_seed(5),
        )
        (grad,) = torch.autograd.grad(value, theta)
        grads.append(grad)
    for grad in grads[1:]:  # the score-function draws are the same draws, without a path
        torch.testing.assert_close(grad, grads[0], rtol=1e-13, atol=0)


def test_latent_dims_sum_log_q_over_one_latent_vector() -> None:
    gen = torch.Generator().manual_seed(6)
    loc = torch.randn(4, 3, generator=gen, dtype=F64)  # 4 data points, 3 latent coordinates
    scale = 0.5 + torch.rand(4, 3, generator=gen, dtype=F64)

    def joint(z: torch.Tensor) -> torch.Tensor:  # (K, 4, 3) -> (K, 4)
        return log_joint(z).sum(dim=-1)

    value = multisample.iwae_surrogate(
        joint,
        reparam.NORMAL,
        {"loc": loc, "scale": scale},
        6,
        latent_dims=1,
        generator=torch.Generator().manual_seed(7),
    )
    z = loc + scale * torch.randn(6, 4, 3, generator=torch.Generator().manual_seed(7), dtype=F64)
    log_q = torch.distributions.Normal(loc, scale).log_prob(z).sum(dim=-1)
    expected = (torch.logsumexp(joint(z) - log_q, dim=0) - math.log(6)).sum()
    torch.testing.assert_close(value, expected, rtol=1e-13, atol=0)


def test_a_torch_distribution_gives_the_same_value_and_gradients() -> None:
    loc = torch.tensor([0.3, -0.2], dtype=F64, requires_grad=True)
    scale = torch.tensor([1.2, 0.7], dtype=F64, requires_grad=True)
    results = []
    for distribution, params in (
        (reparam.NORMAL, {"loc": loc, "scale": scale}),
        (torch.distributions.Normal(loc, scale), None),
    ):
        value = multisample.iwae_surrogate(
            log_joint,
            distribution,
            params,
            5,
            gradient="dreg",
            generator=torch.Generator().manual_seed(8),
        )
        results.append((value, *torch.autograd.grad(value, [loc, scale])))
    for ours, theirs in zip(*results, strict=True):
        torch.testing.assert_close(ours, theirs, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("gradient", ["standard", "stl", "dreg"])
def test_float32_stays_float32(gradient: str) -> None:
    params = {
        "loc": torch.zeros(3, requires_grad=True),
        "scale": torch.ones(3, requires_grad=True),
    }
    value = multisample.iwae_surrogate(
        log_joint,
        reparam.NORMAL,
        params,
        4,
        gradient=gradient,
        generator=torch.Generator().manual_seed(9),
    )
    value.backward()
    assert value.dtype == params["loc"].grad.dtype == torch.float32  # type: ignore[union-attr]


def _normal() -> dict[str, torch.Tensor]:
    return {"loc": torch.zeros(2, dtype=F64), "scale": torch.ones(2, dtype=F64)}


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda: multisample.iwae_bound(torch.tensor(1.0)),
            ValueError,
            r"^log_weights must have at least one dimension",
        ),
        (
            lambda: multisample.iwae_bound(torch.zeros(0, 2)),
            ValueError,
            r"^log_weights must hold at least one draw",
        ),
        (
            lambda: multisample.iwae_bound(torch.zeros(2, dtype=torch.int64)),
            TypeError,
            r"^log_weights must be floating point",
        ),
        (
            lambda: multisample.iwae_bound(torch.tensor([0.0, math.nan])),
            ValueError,
            r"^log_weights must not contain NaN$",
        ),
        (
            lambda: multisample.iwae_bound(torch.zeros(2), dim=1),
            ValueError,
            r"^dim must index a dimension of log_weights",
        ),
        (
            lambda: multisample.iwae_surrogate(log_joint, reparam.NORMAL, _normal(), 0),
            ValueError,
            r"^num_samples must be",
        ),
        (
            lambda: multisample.iwae_surrogate(
                log_joint, reparam.NORMAL, _normal(), 2, gradient="rloo"
            ),
            ValueError,
            r"^gradient must be one of 'standard', 'stl', 'dreg', 'score', 'vimco', got 'rloo'$",
        ),
        (
            lambda: multisample.elbo_surrogate(
                log_joint, reparam.NORMAL, _normal(), 2, gradient="dreg"
            ),
            ValueError,
            r"^gradient must be one of 'standard', 'stl', got 'dreg'$",
        ),
        (
            lambda: multisample.iwae_surrogate(
                log_joint, reparam.NORMAL, _normal(), 1, gradient="vimco"
            ),
            ValueError,
            r"^num_samples must be .*2.* for gradient='vimco'",
        ),
        (
            lambda: multisample.iwae_surrogate(1, reparam.NORMAL, _normal(), 2),
            TypeError,
            r"^log_joint must be callable, got int$",
        ),
        (
            lambda: multisample.iwae_surrogate(
                log_joint, reparam.NORMAL, _normal(), 2, latent_dims=2
            ),
            ValueError,
            r"^latent_dims must not exceed the distribution's batch dimensions \(1\), got 2$",
        ),
        (
            lambda: multisample.iwae_surrogate(
                log_joint, reparam.NORMAL, _normal(), 2, latent_dims=-1
            ),
            ValueError,
            r"^latent_dims must be",
        ),
        (
            lambda: multisample.iwae_surrogate(lambda z: z.sum(), reparam.NORMAL, _normal(), 2),
            ValueError,
            r"^log_joint must return one value per draw",
        ),
        (
            lambda: multisample.iwae_surrogate(
                lambda z: z[..., None].expand(2, 2, 3), reparam.NORMAL, _normal(), 2
            ),
            ValueError,
            r"^log_joint must return shape \(2, \*S\)",
        ),
        (
            lambda: multisample.iwae_surrogate(lambda z: 1.0, reparam.NORMAL, _normal(), 2),
            TypeError,
            r"^log_joint must return a Tensor, got float$",
        ),
        (
            lambda: multisample.iwae_surrogate(
                log_joint, reparam.NORMAL, {"loc": torch.zeros(2), "scale": -torch.ones(2)}, 2
            ),
            ValueError,
            r"scale",
        ),
        (
            lambda: multisample.iwae_surrogate(
                log_joint, reparam.NORMAL, _normal(), 2, generator=1
            ),
            TypeError,
            r"^generator must be a torch.Generator or None, got int$",
        ),
    ],
)
def test_bad_input_names_the_parameter(call, error, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=message):
        call()


@given(
    log_w=st.lists(
        st.floats(min_value=-1e300, max_value=1e300, allow_nan=False), min_size=1, max_size=8
    )
)
@settings(max_examples=200, deadline=None)
def test_iwae_bound_lies_between_the_mean_and_the_max_of_the_log_weights(
    log_w: list[float],
) -> None:
    values = torch.tensor(log_w, dtype=F64)
    bound = multisample.iwae_bound(values).item()
    # Jensen below, log-sum-exp ≤ max + log K above (minus log K): mean ≤ L ≤ max
    scale = max(1.0, max(abs(v) for v in log_w))
    assert values.mean().item() - 1e-12 * scale <= bound <= values.max().item() + 1e-12 * scale


@pytest.mark.parametrize("gradient", ["standard", "stl"])
def test_elbo_with_several_draws_against_a_hand_written_estimate(gradient: str) -> None:
    # STL by hand: q's density with its parameters detached, so only the path remains
    loc = torch.tensor([0.3, -0.4], dtype=F64, requires_grad=True)
    scale = torch.tensor([0.8, 1.3], dtype=F64, requires_grad=True)
    value = multisample.elbo_surrogate(
        log_joint,
        reparam.NORMAL,
        {"loc": loc, "scale": scale},
        5,
        gradient=gradient,
        generator=torch.Generator().manual_seed(11),
    )
    grads = torch.autograd.grad(value, [loc, scale])
    eps = torch.randn(5, 2, generator=torch.Generator().manual_seed(11), dtype=F64)
    z = loc + scale * eps
    density = (
        torch.distributions.Normal(loc.detach(), scale.detach())
        if gradient == "stl"
        else torch.distributions.Normal(loc, scale)
    )
    by_hand = (log_joint(z) - density.log_prob(z)).mean(dim=0).sum()
    expected = torch.autograd.grad(by_hand, [loc, scale])
    torch.testing.assert_close(value, by_hand.detach(), rtol=1e-14, atol=0)
    for ours, theirs in zip(grads, expected, strict=True):
        torch.testing.assert_close(ours, theirs, rtol=1e-13, atol=1e-15)


def test_two_latent_dims_sum_over_both() -> None:
    gen = torch.Generator().manual_seed(12)
    loc = torch.randn(4, 2, 3, generator=gen, dtype=F64)  # 4 points, a 2 x 3 latent array
    scale = 0.5 + torch.rand(4, 2, 3, generator=gen, dtype=F64)

    def joint(z: torch.Tensor) -> torch.Tensor:  # (N, 4, 2, 3) -> (N, 4)
        return log_joint(z).sum(dim=(-2, -1))

    value = multisample.iwae_surrogate(
        joint,
        reparam.NORMAL,
        {"loc": loc, "scale": scale},
        3,
        latent_dims=2,
        generator=torch.Generator().manual_seed(13),
    )
    z = loc + scale * torch.randn(
        3, 4, 2, 3, generator=torch.Generator().manual_seed(13), dtype=F64
    )
    log_q = torch.distributions.Normal(loc, scale).log_prob(z).sum(dim=(-2, -1))
    expected = (torch.logsumexp(joint(z) - log_q, dim=0) - math.log(3)).sum()
    torch.testing.assert_close(value, expected, rtol=1e-13, atol=0)


def test_vimco_baselines_against_a_loop_over_the_left_out_draw() -> None:
    gen = torch.Generator().manual_seed(21)
    log_w = 2.0 * torch.randn(5, 3, generator=gen, dtype=F64)
    got = multisample._leave_one_out_bounds(log_w)
    for j in range(5):
        others = torch.cat([log_w[:j], log_w[j + 1 :]])
        swapped = torch.cat([others, others.mean(dim=0, keepdim=True)])
        expected = torch.logsumexp(swapped, dim=0) - math.log(5)
        torch.testing.assert_close(got[j], expected, rtol=1e-14, atol=0)


@pytest.mark.parametrize("gradient", ["score", "vimco"])
def test_score_function_iwae_gradients_against_a_hand_written_estimate(gradient: str) -> None:
    loc = torch.tensor(0.4, dtype=F64, requires_grad=True)
    scale = torch.tensor(0.8, dtype=F64, requires_grad=True)
    n = 3
    value = multisample.iwae_surrogate(
        log_joint,
        reparam.NORMAL,
        {"loc": loc, "scale": scale},
        n,
        gradient=gradient,
        generator=torch.Generator().manual_seed(22),
    )
    got = torch.stack(torch.autograd.grad(value, [loc, scale]))
    with torch.no_grad():  # the same draws, by hand, with the formulas of Mnih & Rezende
        eps = torch.randn(n, generator=torch.Generator().manual_seed(22), dtype=F64)
        z = 0.4 + 0.8 * eps
        log_q = -0.5 * eps**2 - math.log(0.8) - 0.5 * math.log(2 * math.pi)
        log_w = log_joint(z) - log_q
        bound = torch.logsumexp(log_w, 0) - math.log(n)
        normalized = torch.softmax(log_w, 0)
        score = torch.stack([(z - 0.4) / 0.8**2, ((z - 0.4) ** 2 - 0.8**2) / 0.8**3])
        signal = bound.expand(n).clone()
        if gradient == "vimco":
            for j in range(n):
                others = torch.cat([log_w[:j], log_w[j + 1 :]])
                baseline = torch.logsumexp(
                    torch.cat([others, others.mean().reshape(1)]), 0
                ) - math.log(n)
                signal[j] = bound - baseline
        # ∇ log w = −∇ log q at fixed draws (log p does not depend on q's parameters)
        expected = (signal * score).sum(1) - (normalized * score).sum(1)
    torch.testing.assert_close(value.detach(), bound, rtol=1e-14, atol=0)
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-14)


def test_vimco_is_unbiased_for_a_discrete_latent_against_enumeration() -> None:
    # z ∈ {0, 1}, q = Bernoulli(sigmoid(φ)), p(x, z) a fixed table: L₂ by enumeration
    log_p = torch.tensor([math.log(0.3), math.log(0.05)], dtype=F64)
    logits = torch.tensor(0.7, dtype=F64, requires_grad=True)
    q = torch.distributions.Bernoulli(logits=logits)
    values = torch.tensor([0.0, 1.0], dtype=F64)
    log_q = q.log_prob(values)
    log_w = log_p - log_q
    pair = torch.logaddexp(log_w[:, None], log_w[None, :]) - math.log(2.0)
    exact = (log_q[:, None].exp() * log_q[None, :].exp() * pair).sum()
    (exact_grad,) = torch.autograd.grad(exact, logits)

    def joint(z: torch.Tensor) -> torch.Tensor:
        return torch.where(z > 0.5, log_p[1], log_p[0])

    copies = 20000
    batch = torch.full((copies,), 0.7, dtype=F64, requires_grad=True)
    grads = {}
    for gradient in ("score", "vimco"):
        value = multisample.iwae_surrogate(
            joint,
            torch.distributions.Bernoulli(logits=batch),
            None,
            2,
            gradient=gradient,
            generator=torch.Generator().manual_seed(23),
        )
        (grads[gradient],) = torch.autograd.grad(value, batch)
        assert_mean_is(grads[gradient][:, None], exact_grad.reshape(1))
    assert grads["vimco"].var() < grads["score"].var()
    with pytest.raises(TypeError, match="rsample"):  # the pathwise ones need a path
        multisample.iwae_surrogate(
            joint, torch.distributions.Bernoulli(logits=batch), None, 2, gradient="dreg"
        )
