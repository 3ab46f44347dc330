"""Tests of reparam.book.logistic: the model, the ELBO, five surrogate losses, training.

Oracles: torch.distributions.Bernoulli for the likelihood; Gauss–Hermite quadrature for the
exact ELBO (each logit xᵢᵀw is Gaussian under q, so E_q[log p(yᵢ | xᵢ, w)] is a
one-dimensional integral) and, through autograd, for its exact gradient; the library's own
estimators and surrogates at the same seed; repeated seeded runs. Statistical checks use 5
standard errors, computed here from the draws.
"""

from __future__ import annotations

import inspect
import math
from typing import Any

import pytest
import torch
from torch import Tensor
from torch.distributions import Bernoulli

from reparam import NORMAL, gauss_hermite_expectation
from reparam.book import data, logistic
from reparam.control_variates import Coefficient, apply_control_variate
from reparam.estimators import score_function_gradient
from reparam.surrogate import score_function_surrogate

Z = 5.0
F64 = torch.float64


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _problem(seed: int = 0, batch: int = 8, dim: int = 3) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    g = _gen(seed)
    features = torch.randn(batch, dim, generator=g, dtype=F64)
    labels = (torch.rand(batch, generator=g) < 0.5).to(F64)
    loc = 0.5 * torch.randn(dim, generator=g, dtype=F64)
    log_scale = -0.5 + 0.3 * torch.randn(dim, generator=g, dtype=F64)
    return features, labels, loc, log_scale


def _mean_and_std_error(draws: Tensor) -> tuple[Tensor, Tensor]:
    """Mean and standard error (sample std / sqrt(N)) over dim 0, computed here rather than
    by the package (a wrong error bar in the package must not widen a test's tolerance)."""
    return draws.mean(0), draws.std(0) / math.sqrt(draws.shape[0])


def _total_variance(per_sample: Tensor) -> tuple[float, float]:
    """Σ_d Var(g_d) of per-sample gradients ``(N, D)`` and its standard error.

    sₙ = Σ_d (g_nd − ḡ_d)² has mean (N − 1)/N · Σ_d Var(g_d); its sample standard deviation
    over √N is the standard error (the N/(N − 1) correction is applied to both).
    """
    n = per_sample.shape[0]
    spread = (per_sample - per_sample.mean(0)).square().sum(1) * n / (n - 1)
    return float(spread.mean()), float(spread.std() / math.sqrt(n))


def _exact_elbo(
    loc: Tensor, log_scale: Tensor, features: Tensor, labels: Tensor, factor: float = 1.0
) -> Tensor:
    """ELBO by quadrature: xᵢᵀw ~ N(xᵢᵀμ, Σ_d xᵢd² σ_d²) under q."""
    scale = log_scale.exp()
    mean = features @ loc
    std = (features.square() @ scale.square()).sqrt()
    signs = 2 * labels - 1
    expected = gauss_hermite_expectation(
        lambda a: -torch.nn.functional.softplus(-signs * a), mean, std, degree=80
    )
    kl = 0.5 * (loc.square() + scale.square() - 1 - 2 * log_scale).sum()
    return factor * expected.sum() - kl


def _exact_gradient(
    loc: Tensor, log_scale: Tensor, features: Tensor, labels: Tensor, factor: float
) -> tuple[Tensor, Tensor]:
    loc_, log_scale_ = loc.clone().requires_grad_(True), log_scale.clone().requires_grad_(True)
    value = _exact_elbo(loc_, log_scale_, features, labels, factor)
    grad_loc, grad_log_scale = torch.autograd.grad(value, (loc_, log_scale_))
    return grad_loc, grad_log_scale


def _baseline(method: logistic.Method, value: float = 4.0) -> float | None:
    return value if method == "score_function_baseline" else None


def _training_gradient(
    method: logistic.Method,
    loc: Tensor,
    log_scale: Tensor,
    features: Tensor,
    labels: Tensor,
    num_samples: int,
    seed: int,
    dataset_size: int | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """(loss, loc.grad, log_scale.grad) from one ``backward()`` of the training loss."""
    loc_, log_scale_ = loc.clone().requires_grad_(True), log_scale.clone().requires_grad_(True)
    loss = logistic.negative_elbo_surrogate(
        method,
        loc_,
        log_scale_,
        features,
        labels,
        num_samples,
        generator=_gen(seed),
        dataset_size=dataset_size,
        baseline=_baseline(method),
    )
    loss.backward()
    assert loc_.grad is not None and log_scale_.grad is not None
    return loss.detach(), loc_.grad, log_scale_.grad


# -- the model -------------------------------------------------------------------------------
def test_log_likelihood_matches_torch(dtype: torch.dtype) -> None:
    g = _gen(1)
    features = torch.randn(6, 4, generator=g, dtype=dtype)
    labels = (torch.rand(6, generator=g) < 0.5).to(dtype)
    weights = torch.randn(5, 4, generator=g, dtype=dtype)
    expected = Bernoulli(logits=weights @ features.T).log_prob(labels).sum(-1)
    ours = logistic.log_likelihood(weights, features, labels)
    torch.testing.assert_close(ours, expected)
    assert ours.dtype == dtype
    single = logistic.log_likelihood(weights[0], features, labels)
    torch.testing.assert_close(single, expected[0])


def test_cost_rescales_the_minibatch() -> None:
    features, labels, loc, _ = _problem()
    cost = logistic.negative_log_likelihood_cost(features, labels, dataset_size=40)
    torch.testing.assert_close(cost(loc), -5 * logistic.log_likelihood(loc, features, labels))


def test_elbo_estimate_is_unbiased() -> None:
    """2000 independent one-draw estimates, as 2000 copies of (μ, ρ) in one call."""
    features, labels, loc, log_scale = _problem(2)
    exact = _exact_elbo(loc, log_scale, features, labels, factor=2.0)
    copies = 2000
    draws = logistic.elbo(
        loc.expand(copies, -1),
        log_scale.expand(copies, -1),
        features,
        labels,
        1,
        generator=_gen(3),
        dataset_size=16,
    )
    assert draws.shape == (copies,)
    mean, std_error = _mean_and_std_error(draws)
    assert abs(float(mean - exact)) < Z * float(std_error)
    single = logistic.elbo(loc, log_scale, features, labels, 3, generator=_gen(4))
    assert single.shape == ()


def test_elbo_by_quadrature_matches_an_independent_quadrature(dtype: torch.dtype) -> None:
    features, labels, loc, log_scale = _problem(28, batch=12, dim=4)
    copies = torch.stack([loc, 0.5 * loc]), torch.stack([log_scale, log_scale - 1])
    ours = logistic.elbo_by_quadrature(
        copies[0].to(dtype), copies[1].to(dtype), features, labels, dataset_size=36, degree=80
    )
    assert ours.shape == (2,) and ours.dtype == torch.promote_types(dtype, F64)
    for index in range(2):
        exact = _exact_elbo(copies[0][index], copies[1][index], features, labels, factor=3.0)
        torch.testing.assert_close(ours[index], exact, rtol=1e-5, atol=1e-5)


def test_elbo_is_differentiable_pathwise() -> None:
    features, labels, loc, log_scale = _problem(4)
    loc.requires_grad_(True)
    value = logistic.elbo(loc, log_scale, features, labels, 3, generator=_gen(5))
    (grad,) = torch.autograd.grad(value, loc)
    assert grad.shape == loc.shape and torch.isfinite(grad).all()


# -- the surrogate losses --------------------------------------------------------------------
@pytest.mark.parametrize("method", logistic.METHODS)
def test_every_estimator_is_unbiased(method: logistic.Method) -> None:
    """The mean of 40 000 per-sample gradients (each the surrogate's gradient with respect
    to one copy of the parameters) matches the exact ELBO gradient, coordinate by
    coordinate."""
    features, labels, loc, log_scale = _problem(6)
    exact = _exact_gradient(loc, log_scale, features, labels, factor=3.0)
    grads = logistic.elbo_gradient(
        method,
        loc,
        log_scale,
        features,
        labels,
        40_000,
        generator=_gen(7),
        dataset_size=24,
        baseline=_baseline(method),
    )
    for per_sample, truth in ((grads.loc, exact[0]), (grads.log_scale, exact[1])):
        mean, std_error = _mean_and_std_error(per_sample)
        assert ((mean - truth).abs() <= Z * std_error + 1e-10).all(), (method, mean, truth)


@pytest.mark.parametrize("method", logistic.METHODS)
def test_backward_of_the_training_loss_is_unbiased(method: logistic.Method) -> None:
    """What training does, repeated: ``negative_elbo_surrogate(...).backward()`` with 8 draws,
    400 independent times; the mean of ``.grad`` is −∇L (exact, by quadrature)."""
    features, labels, loc, log_scale = _problem(15)
    exact_loc, exact_log_scale = _exact_gradient(loc, log_scale, features, labels, 2.0)
    grads = [
        _training_gradient(method, loc, log_scale, features, labels, 8, seed, 16)[1:]
        for seed in range(400)
    ]
    for index, truth in ((0, -exact_loc), (1, -exact_log_scale)):
        mean, std_error = _mean_and_std_error(torch.stack([g[index] for g in grads]))
        assert ((mean - truth).abs() <= Z * std_error).all(), (method, mean, truth)


@pytest.mark.parametrize("method", logistic.METHODS)
def test_training_gradient_is_the_mean_of_the_per_sample_gradients(
    method: logistic.Method,
) -> None:
    """At one seed, N draws in training and N one-draw copies see the same noise, so the
    loss's gradient is exactly −(mean of the per-sample ELBO gradients); its value is the
    mean cost plus the KL term."""
    features, labels, loc, log_scale = _problem(16)
    loss, grad_loc, grad_log_scale = _training_gradient(
        method, loc, log_scale, features, labels, 7, seed=17, dataset_size=20
    )
    per_sample = logistic.elbo_gradient(
        method,
        loc,
        log_scale,
        features,
        labels,
        7,
        generator=_gen(17),
        dataset_size=20,
        baseline=_baseline(method),
    )
    torch.testing.assert_close(grad_loc, -per_sample.loc.mean(0))
    torch.testing.assert_close(grad_log_scale, -per_sample.log_scale.mean(0))
    kl = 0.5 * (loc.square() + (2 * log_scale).exp() - 1 - 2 * log_scale).sum()
    torch.testing.assert_close(loss, per_sample.cost + kl)


@pytest.mark.parametrize("method", logistic.METHODS)
def test_gradient_reaches_parameters_upstream(method: logistic.Method) -> None:
    """μ = Aθ and σ = exp(Bφ): backward() fills θ.grad = Aᵀ ∂/∂μ and φ.grad = Bᵀ ∂/∂ρ,
    the chain rule through whatever computed the variational parameters."""
    features, labels, loc, log_scale = _problem(18)
    g = _gen(19)
    a, b = torch.randn(3, 2, generator=g, dtype=F64), torch.randn(3, 2, generator=g, dtype=F64)
    theta = torch.linalg.lstsq(a, loc).solution.requires_grad_(True)
    phi = torch.linalg.lstsq(b, log_scale).solution.requires_grad_(True)
    upstream = logistic.negative_elbo_surrogate(
        method,
        a @ theta,
        b @ phi,
        features,
        labels,
        5,
        generator=_gen(20),
        baseline=_baseline(method),
    )
    upstream.backward()
    _, grad_loc, grad_log_scale = _training_gradient(
        method, a @ theta.detach(), b @ phi.detach(), features, labels, 5, seed=20
    )
    assert theta.grad is not None and phi.grad is not None
    torch.testing.assert_close(theta.grad, a.T @ grad_loc)
    torch.testing.assert_close(phi.grad, b.T @ grad_log_scale)


def test_delta_method_is_the_score_function_corrected_by_its_control_variate() -> None:
    """With coefficient 0 the delta-method surrogate is the score-function surrogate at the
    same draws (so the control variate is all that differs); with coefficient 1 its
    gradient moves by exactly −(mean control − ∇E_q[h]), computed here from the Taylor
    expansion written out independently."""
    features, labels, loc, log_scale = _problem(21)
    scale = log_scale.exp()
    cost = logistic.negative_log_likelihood_cost(features, labels)

    def gradient(coefficient: float | None) -> tuple[Tensor, ...]:
        loc_, scale_ = loc.clone().requires_grad_(True), scale.clone().requires_grad_(True)
        params = {"loc": loc_, "scale": scale_}
        if coefficient is None:
            loss = score_function_surrogate(
                lambda w: cost(w).unsqueeze(-1), NORMAL, params, 6, generator=_gen(22)
            )
        else:
            loss = logistic.delta_method_surrogate(
                features, labels, loc_, scale_, 6, generator=_gen(22), coefficient=coefficient
            )
        return torch.autograd.grad(loss, (loc_, scale_))

    plain, uncorrected, corrected = gradient(None), gradient(0.0), gradient(1.0)
    for a, b in zip(plain, uncorrected, strict=True):
        torch.testing.assert_close(a, b)
    # the control, independently: h(w) ∇ log q(w) at the same draws, and its exact mean
    eps = torch.randn(6, 3, generator=_gen(22), dtype=F64)
    w = loc + scale * eps
    p = torch.sigmoid(features @ loc)
    g = -((labels - p) @ features)
    hessian = (features.T * (p * (1 - p))) @ features
    delta = w - loc
    h = cost(loc) + delta @ g + 0.5 * ((delta @ hessian) * delta).sum(1)
    score_loc, score_scale = eps / scale, (eps.square() - 1) / scale
    control_loc = (h[:, None] * score_loc).mean(0) - g
    control_scale = (h[:, None] * score_scale).mean(0) - hessian.diagonal() * scale
    torch.testing.assert_close(corrected[0], plain[0] - control_loc)
    torch.testing.assert_close(corrected[1], plain[1] - control_scale)


@pytest.mark.parametrize("coefficient", [1.0, 0.5, "pooled", "leave_one_out"])
@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_delta_method_in_one_pass_equals_two_estimator_passes(
    coefficient: Coefficient, dtype: torch.dtype
) -> None:
    """The one-pass delta method (one score_function_gradient call, f and h at its draws)
    against the two-pass construction written here: score_function_gradient once with f and
    once with h (the Taylor expansion written out independently, one per copy of q) from
    the same seed, combined by apply_control_variate. Value, gradients and the generator's
    state afterwards agree to round-off, for batched copies of q and every coefficient."""
    features, labels, _, _ = _problem(31, batch=9, dim=3)
    features, labels = features.to(dtype), labels.to(dtype)
    g = _gen(32)
    loc = (0.4 * torch.randn(2, 3, generator=g, dtype=F64)).to(dtype)
    scale = (0.3 + 0.5 * torch.rand(2, 3, generator=g, dtype=F64)).to(dtype)
    n, factor = 7, 40 / 9
    cost = logistic.negative_log_likelihood_cost(features, labels, dataset_size=40)
    p = torch.sigmoid(loc @ features.T)  # (R, B)
    grad = -factor * (labels - p) @ features  # (R, D)
    hessian = factor * torch.einsum("rb,bd,be->rde", p * (1 - p), features, features)

    def taylor(w: Tensor) -> Tensor:  # (N, R, D) -> (N, R)
        delta = w - loc
        quadratic = torch.einsum("nrd,rde,nre->nr", delta, hessian, delta)
        return cost(loc) + (delta * grad).sum(-1) + 0.5 * quadratic

    params = {"loc": loc, "scale": scale}
    reference_gen = _gen(33)
    estimates = score_function_gradient(
        lambda w: cost(w).unsqueeze(-1), NORMAL, params, n, generator=reference_gen
    )
    after_one_pass = reference_gen.get_state()
    controls = score_function_gradient(
        lambda w: taylor(w).unsqueeze(-1), NORMAL, params, n, generator=_gen(33)
    )
    means = {"loc": grad, "scale": torch.diagonal(hessian, dim1=-2, dim2=-1) * scale}
    expected = [
        apply_control_variate(estimates[k], controls[k], means[k], coefficient=coefficient).mean(0)
        for k in ("loc", "scale")
    ]
    w = NORMAL.rsample(n, generator=_gen(33), loc=loc, scale=scale)
    loc_, scale_ = loc.clone().requires_grad_(True), scale.clone().requires_grad_(True)
    ours_gen = _gen(33)
    loss = logistic.delta_method_surrogate(
        features, labels, loc_, scale_, n, generator=ours_gen, dataset_size=40,
        coefficient=coefficient,
    )  # fmt: skip
    # Round-off only: the two builds sum in different orders, and an estimated coefficient
    # (a ratio of sample covariances over 6 draws) amplifies float32 round-off by up to
    # ~10x (7.7e-6 relative seen under CI's generic kernels), so float32 gets a bound of
    # 1e-4, far below what a wrong draw, control or coefficient changes.
    tolerance = {"rtol": 1e-10, "atol": 1e-10} if dtype == F64 else {"rtol": 1e-4, "atol": 1e-5}
    torch.testing.assert_close(loss.detach(), cost(w).sum() / n, **tolerance)  # type: ignore[arg-type]
    for got, want in zip(torch.autograd.grad(loss, (loc_, scale_)), expected, strict=True):
        torch.testing.assert_close(got, want, **tolerance)  # type: ignore[arg-type]
    assert torch.equal(ours_gen.get_state(), after_one_pass)


def test_measure_valued_fast_path_matches_the_generic_one() -> None:
    """The logistic model's shortcut for the coordinate-replaced costs (linear logits) gives
    the gradient of the generic (D, D)-block construction, at the same seed."""
    features, labels, loc, log_scale = _problem(23, batch=10, dim=4)
    scale = log_scale.exp()
    cost = logistic.negative_log_likelihood_cost(features, labels, dataset_size=30)
    grads = []
    for fast in (False, True):
        loc_, scale_ = loc.clone().requires_grad_(True), scale.clone().requires_grad_(True)
        if fast:
            loss = logistic.expected_cost_surrogate(
                "measure_valued", loc_, scale_, features, labels, 9, generator=_gen(24),
                dataset_size=30,
            )  # fmt: skip
        else:
            loss = logistic.measure_valued_factorized_surrogate(
                cost, loc_, scale_, 9, generator=_gen(24)
            )
        grads.append((loss.detach(), *torch.autograd.grad(loss, (loc_, scale_))))
    for generic, fast in zip(*grads, strict=True):
        torch.testing.assert_close(generic, fast)


@pytest.mark.parametrize("method", logistic.METHODS)
def test_surrogates_follow_the_parameters_dtype(method: logistic.Method) -> None:
    features, labels, loc, log_scale = _problem(25)
    for dtype in (torch.float32, torch.float64):
        loc_ = loc.to(dtype).requires_grad_(True)
        log_scale_ = log_scale.to(dtype).requires_grad_(True)
        loss = logistic.negative_elbo_surrogate(
            method,
            loc_,
            log_scale_,
            features.to(dtype),
            labels.to(dtype),
            4,
            generator=_gen(26),
            baseline=_baseline(method),
        )
        loss.backward()
        assert loss.dtype == dtype and loc_.grad is not None and log_scale_.grad is not None
        assert loc_.grad.dtype == dtype and log_scale_.grad.dtype == dtype


def test_integer_parameters_are_promoted() -> None:
    features, labels, _, _ = _problem(29)
    integers = torch.tensor([1, 0, -1]), torch.tensor([0, -1, 0])
    floats = integers[0].to(torch.get_default_dtype()), integers[1].to(torch.get_default_dtype())
    first, second = (
        logistic.elbo_gradient("pathwise", loc, log_scale, features, labels, 3, generator=_gen(30))
        for loc, log_scale in (integers, floats)
    )
    torch.testing.assert_close(first.loc, second.loc)
    from_integers = logistic.elbo_by_quadrature(integers[0], integers[1], features, labels)
    from_floats = logistic.elbo_by_quadrature(floats[0], floats[1], features, labels)
    torch.testing.assert_close(from_integers, from_floats)


@pytest.mark.parametrize("method", logistic.METHODS)
def test_every_estimator_draws_from_the_generator_only(method: logistic.Method) -> None:
    """The same generator seed gives the same per-sample gradients whatever the global seed;
    another seed gives other ones (every draw comes from ``generator``)."""
    features, labels, loc, log_scale = _problem(12)

    def run(seed: int, global_seed: int) -> logistic.ElboGradient:
        with torch.random.fork_rng():  # leaves the global state as it was
            torch.manual_seed(global_seed)
            return logistic.elbo_gradient(
                method,
                loc,
                log_scale,
                features,
                labels,
                6,
                generator=_gen(seed),
                baseline=_baseline(method, 1.0),
            )

    first, again, other = run(1, 100), run(1, 200), run(2, 100)
    for a, b, c in (
        (first.loc, again.loc, other.loc),
        (first.log_scale, again.log_scale, other.log_scale),
    ):
        assert torch.equal(a, b)
        assert not torch.equal(a, c)
    assert torch.equal(first.cost, again.cost)


def test_without_a_generator_the_global_one_is_used() -> None:
    features, labels, loc, log_scale = _problem(27)
    for method in logistic.METHODS:
        with torch.random.fork_rng():
            torch.manual_seed(5)
            first = logistic.elbo_gradient(method, loc, log_scale, features, labels, 4)
            second = logistic.elbo_gradient(method, loc, log_scale, features, labels, 4)
            torch.manual_seed(5)
            again = logistic.elbo_gradient(method, loc, log_scale, features, labels, 4)
        assert torch.equal(first.loc, again.loc) and not torch.equal(first.loc, second.loc)


def test_reported_cost_estimates_the_expected_cost() -> None:
    features, labels, loc, log_scale = _problem(8)
    kl = 0.5 * (loc.square() + (2 * log_scale).exp() - 1 - 2 * log_scale).sum()
    expected_cost = -(_exact_elbo(loc, log_scale, features, labels) + kl)
    for method in logistic.METHODS:
        grads = logistic.elbo_gradient(
            method, loc, log_scale, features, labels, 20_000, generator=_gen(9)
        )
        assert abs(float(grads.cost - expected_cost)) < 0.05 * abs(float(expected_cost)), method


# -- the variance claims of the chapter ------------------------------------------------------
def _breast_cancer() -> tuple[Tensor, Tensor]:
    split = data.load_breast_cancer(generator=_gen(), dtype=F64)
    return split.train_inputs, split.train_targets


def _variances(
    methods: tuple[logistic.Method, ...],
    rho: float,
    features: Tensor,
    labels: Tensor,
    num_samples: int,
    dataset_size: int | None = None,
) -> dict[str, tuple[float, float]]:
    """Σ_d Var of the per-sample ∂L/∂μ at μ = 0, ρ_d = ``rho``, with standard errors."""
    loc = torch.zeros(features.shape[1], dtype=F64)
    out: dict[str, tuple[float, float]] = {}
    for method in methods:
        grads = logistic.elbo_gradient(
            method,
            loc,
            torch.full_like(loc, rho),
            features,
            labels,
            num_samples,
            generator=_gen(1),
            dataset_size=dataset_size,
            baseline=_baseline(method, 500.0),
        )
        out[method] = _total_variance(grads.loc)
    return out


def _clearly_below(a: tuple[float, float], b: tuple[float, float], factor: float = 1) -> bool:
    """a · factor < b with both ends Z standard errors towards each other."""
    return (a[0] + Z * a[1]) * factor < b[0] - Z * b[1]


def test_variance_ordering_on_a_real_problem() -> None:
    """On the breast-cancer data at σ = e⁻², every variance-reduced or pathwise estimator
    beats the plain score function by a factor of more than 100, the baseline helps, and
    per draw the pathwise estimator beats the measure-valued one."""
    x, y = _breast_cancer()
    v = _variances(logistic.METHODS, -2.0, x, y, 400)
    for method in ("pathwise", "delta_method", "measure_valued"):
        assert _clearly_below(v[method], v["score_function"], factor=100), (method, v)
    assert _clearly_below(v["score_function_baseline"], v["score_function"]), v
    assert _clearly_below(v["pathwise"], v["measure_valued"]), v


def test_variance_at_the_start_of_training() -> None:
    """The chapter's first table: at μ = 0, ρ = 0, on a minibatch of 32 standing for the
    training set, the score function is over 100 times as variable as the pathwise
    estimator, and the baseline reduces its variance."""
    x, y = _breast_cancer()
    batch = torch.randperm(x.shape[0], generator=_gen(2))[:32]
    methods: tuple[logistic.Method, ...] = (
        "pathwise",
        "score_function",
        "score_function_baseline",
    )
    v = _variances(methods, 0.0, x[batch], y[batch], 1000, dataset_size=x.shape[0])
    assert _clearly_below(v["pathwise"], v["score_function"], factor=100), v
    assert _clearly_below(v["score_function_baseline"], v["score_function"]), v


def test_delta_method_wins_as_the_scale_shrinks() -> None:
    """The chapter's exercise: at ρ = −3 the delta method's control variate beats even the
    pathwise estimator; at ρ = 0 the expansion is poor and it is worse than no control
    variate at all."""
    x, y = _breast_cancer()
    methods: tuple[logistic.Method, ...] = ("pathwise", "delta_method", "score_function")
    small = _variances(methods, -3.0, x, y, 400)
    assert _clearly_below(small["delta_method"], small["pathwise"]), small
    start = _variances(methods[1:], 0.0, x, y, 4000)
    assert _clearly_below(start["score_function"], start["delta_method"]), start


def test_gradient_variance_matches_quadrature_in_one_dimension() -> None:
    """Pathwise per-sample ∂L/∂μ = −f'(w) − μ with f'(w) = −Σᵢ (yᵢ − sigmoid(xᵢ w)) xᵢ."""
    g = _gen(10)
    features = torch.randn(6, 1, generator=g, dtype=F64)
    labels = (torch.rand(6, generator=g) < 0.5).to(F64)
    loc, log_scale = torch.tensor([0.3], dtype=F64), torch.tensor([-0.4], dtype=F64)

    def grad_loc(w: Tensor) -> Tensor:
        fprime = -((labels - torch.sigmoid(w[..., None] * features[:, 0])) * features[:, 0]).sum(-1)
        return -fprime - loc

    sigma = log_scale.exp()
    mean = gauss_hermite_expectation(grad_loc, loc, sigma, degree=80)
    second = gauss_hermite_expectation(lambda w: grad_loc(w).square(), loc, sigma, degree=80)
    exact_var = second - mean.square()
    num_samples = 40_000
    grads = logistic.elbo_gradient(
        "pathwise", loc, log_scale, features, labels, num_samples, generator=_gen(11)
    )
    var_loc, _ = logistic.gradient_variance(
        "pathwise", loc, log_scale, features, labels, num_samples, generator=_gen(11)
    )
    torch.testing.assert_close(var_loc, grads.loc.var(0))
    # the standard error of a sample variance: sqrt((m4 − var²) / N), m4 estimated here
    centred = grads.loc[:, 0] - grads.loc[:, 0].mean()
    std_error = math.sqrt(float(centred.pow(4).mean() - centred.square().mean() ** 2) / num_samples)
    assert abs(float(var_loc[0] - exact_var[0])) < Z * std_error


def test_accuracy() -> None:
    features = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [2.0, 0.0]])
    labels = torch.tensor([1.0, 0.0, 0.0, 0.0])
    assert logistic.accuracy(torch.tensor([1.0, 0.0]), features, labels) == 0.75
    # Integer weights and features are promoted to a floating dtype.
    integers = torch.tensor([[1, 0], [0, 1], [2, 3]])
    accuracy = logistic.accuracy(torch.tensor([1, -1]), integers, torch.tensor([1, 1, 0]))
    assert accuracy == pytest.approx(2 / 3, rel=1e-6)


# -- training --------------------------------------------------------------------------------
def test_fit_learns_and_is_reproducible() -> None:
    split = data.load_breast_cancer(generator=_gen(), dtype=torch.float32)
    runs = [
        logistic.fit(
            "pathwise",
            split,
            num_steps=150,
            record_every=50,
            generator=_gen(12),
            elbo_samples=200,
            variance_samples=20,
        )
        for _ in range(2)
    ]
    first, second = runs
    assert first.steps == [0, 50, 100, 150]
    assert first.elbo == second.elbo and torch.equal(first.loc, second.loc)
    assert first.elbo[-1] > first.elbo[0] + 500  # from about −1060 to about −60 nats
    assert first.accuracy[-1] > 0.9
    assert first.variance_loc[0].shape == (31,) and len(first.variance_log_scale) == 4
    assert first.loc.dtype == torch.float32
    exact = logistic.fit(
        "pathwise",
        split,
        num_steps=150,
        record_every=50,
        generator=_gen(12),
        elbo_samples=None,
        variance_samples=20,
    )
    assert torch.equal(exact.loc, first.loc)  # recording does not change training
    final = logistic.elbo_by_quadrature(first.loc, first.log_scale, split.train_inputs,
                                        split.train_targets)  # fmt: skip
    assert exact.elbo[-1] == float(final)


def test_fit_all_trains_each_method_as_fit_does() -> None:
    """Lockstep training of all five gives exactly the separate runs."""
    split = data.load_breast_cancer(generator=_gen(), dtype=F64)
    settings: dict[str, Any] = dict(
        num_steps=12, num_samples=4, record_every=6, elbo_samples=5, learning_rate=1e-5
    )
    together = logistic.fit_all(
        logistic.METHODS, split, variance_samples=3, generator=_gen(13), **settings
    )
    assert list(together) == list(logistic.METHODS)
    for method in logistic.METHODS:
        alone = logistic.fit(method, split, variance_samples=3, generator=_gen(13), **settings)
        run = together[method]
        assert run.steps == alone.steps == [0, 6, 12]
        assert run.elbo == alone.elbo and run.accuracy == alone.accuracy, method
        assert torch.equal(run.loc, alone.loc) and torch.equal(run.log_scale, alone.log_scale)
        for a, b in zip(run.variance_loc, alone.variance_loc, strict=True):
            assert torch.equal(a, b)


@pytest.mark.parametrize("method", ["score_function_baseline", "delta_method", "measure_valued"])
def test_fit_runs_every_estimator(method: logistic.Method) -> None:
    split = data.load_breast_cancer(generator=_gen(), dtype=F64)
    result = logistic.fit(
        method,
        split,
        num_steps=30,
        num_samples=10,
        record_every=30,
        generator=_gen(13),
        variance_samples=5,
    )
    assert result.elbo[-1] > result.elbo[0] and math.isfinite(result.seconds)


def test_fit_takes_optimizer_steps_on_backpropagated_gradients() -> None:
    """No gradient is set by hand: the module never assigns ``.grad``, and two steps of fit
    are two SGD steps on the gradients that ``backward()`` of the training loss gives at
    the same minibatches and noise (the second one with the KL term's gradient nonzero and
    the cosine schedule at half the rate)."""
    assert ".grad =" not in inspect.getsource(logistic)
    split = data.load_breast_cancer(generator=_gen(), dtype=F64)
    x, y = split.train_inputs, split.train_targets
    rate = 0.01
    result = logistic.fit(
        "pathwise",
        split,
        num_steps=2,
        num_samples=3,
        batch_size=4,
        learning_rate=rate,
        record_every=2,
        elbo_samples=2,
        variance_samples=2,
        generator=_gen(14),
    )
    # fit's seeds: minibatch order, training noise, recording noise
    seeds = torch.randint(0, 2**62, (3,), generator=_gen(14)).tolist()
    order = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(seeds[0]))
    noise = torch.Generator().manual_seed(seeds[1])
    loc, log_scale = torch.zeros(31, dtype=F64), torch.zeros(31, dtype=F64)
    for step, multiplier in ((0, 1.0), (1, 0.5)):
        indices = order[4 * step : 4 * step + 4]
        loc_, log_scale_ = loc.clone().requires_grad_(True), log_scale.clone().requires_grad_(True)
        loss = logistic.negative_elbo_surrogate(
            "pathwise",
            loc_,
            log_scale_,
            x[indices],
            y[indices],
            3,
            generator=noise,
            dataset_size=x.shape[0],
        )
        loss.backward()
        assert loc_.grad is not None and log_scale_.grad is not None
        loc = loc - rate * multiplier * loc_.grad
        log_scale = log_scale - rate * multiplier * log_scale_.grad
    torch.testing.assert_close(result.loc, loc)
    torch.testing.assert_close(result.log_scale, log_scale)


def test_fit_uses_the_moving_average_of_past_costs_as_baseline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """In training, step t's baseline is the moving average of the mean costs of steps before
    t (none at the first step); each record measures the variance of the estimator as
    trained, with the baseline of that moment."""
    split = data.load_breast_cancer(generator=_gen(), dtype=F64)
    training: list[tuple[object, float]] = []
    recording: list[object] = []
    real = logistic._expected_cost

    def spy(method: logistic.Method, batch: object, loc: Tensor, *args: object) -> Tensor:
        out = real(method, batch, loc, *args)  # type: ignore[arg-type]
        baseline = args[-1]
        if loc.dim() == 1:  # a training step; records use one copy per draw
            training.append((baseline, float(out.detach())))
        else:
            recording.append(baseline)
        return out

    monkeypatch.setattr(logistic, "_expected_cost", spy)
    logistic.fit(
        "score_function_baseline",
        split,
        num_steps=4,
        num_samples=5,
        record_every=2,
        baseline_decay=0.5,
        elbo_samples=5,
        variance_samples=3,
        generator=_gen(14),
    )
    average = None
    expected: list[float | None] = []
    for baseline, cost in training:
        expected.append(average)
        average = cost if average is None else 0.5 * average + 0.5 * cost
        assert (baseline is None) == (expected[-1] is None)
        if baseline is not None:
            assert float(baseline) == pytest.approx(expected[-1], rel=1e-12)  # type: ignore[arg-type]
    assert len(training) == 4 and len(recording) == 3  # steps 0, 2 and 4
    assert recording[0] is None
    assert float(recording[1]) == pytest.approx(expected[2], rel=1e-12)  # type: ignore[arg-type]
    assert float(recording[2]) == pytest.approx(average, rel=1e-12)  # type: ignore[arg-type]


def test_other_methods_train_without_a_baseline(monkeypatch: pytest.MonkeyPatch) -> None:
    split = data.load_breast_cancer(generator=_gen(), dtype=F64)
    baselines: list[object] = []
    real = logistic._expected_cost

    def spy(*args: object) -> Tensor:
        baselines.append(args[-1])
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(logistic, "_expected_cost", spy)
    logistic.fit(
        "score_function",
        split,
        num_steps=2,
        num_samples=3,
        record_every=2,
        elbo_samples=2,
        variance_samples=2,
        generator=_gen(15),
    )
    assert len(baselines) == 4 and all(b is None for b in baselines)


# -- bad input and figures -------------------------------------------------------------------
def test_bad_inputs_are_rejected() -> None:
    features, labels, loc, log_scale = _problem()
    with pytest.raises(ValueError, match="method"):
        logistic.elbo_gradient("magic", loc, log_scale, features, labels, 2)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="method"):
        logistic.negative_elbo_surrogate("magic", loc, log_scale, features, labels, 2)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="labels"):
        logistic.log_likelihood(loc, features, labels + 0.5)
    with pytest.raises(ValueError, match="labels"):
        logistic.log_likelihood(loc, features, labels[:3])
    with pytest.raises(ValueError, match="features"):
        logistic.log_likelihood(loc, features[0], labels)
    with pytest.raises(ValueError, match="weights"):
        logistic.log_likelihood(loc[:2], features, labels)
    with pytest.raises(ValueError, match="loc"):
        logistic.elbo(loc[:2], log_scale, features, labels, 1)
    with pytest.raises(ValueError, match="log_scale"):
        logistic.elbo(loc, log_scale.clone().fill_(math.nan), features, labels, 1)
    with pytest.raises(ValueError, match="same shape"):
        logistic.expected_cost_surrogate(
            "pathwise", loc, log_scale.expand(2, -1), features, labels, 1
        )
    with pytest.raises(ValueError, match="scale"):
        logistic.delta_method_surrogate(features, labels, loc, log_scale[:2], 2)
    with pytest.raises(ValueError, match="baseline"):
        logistic.elbo_gradient("pathwise", loc, log_scale, features, labels, 2, baseline=1.0)
    with pytest.raises(ValueError, match="baseline"):
        logistic.expected_cost_surrogate(
            "delta_method", loc, log_scale.exp(), features, labels, 2, baseline=1.0
        )
    with pytest.raises(ValueError, match="num_samples"):
        logistic.gradient_variance("pathwise", loc, log_scale, features, labels, 1)
    with pytest.raises(ValueError, match="num_samples"):
        logistic.negative_elbo_surrogate("pathwise", loc, log_scale, features, labels, 0)
    with pytest.raises(ValueError, match=r"^dataset_size must be at least 1, got 0$"):
        logistic.negative_log_likelihood_cost(features, labels, dataset_size=0)
    cost = logistic.negative_log_likelihood_cost(features, labels)
    with pytest.raises(TypeError, match=r"^generator must be"):
        logistic.measure_valued_factorized_surrogate(cost, loc, loc.exp(), 2, generator=0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="cost"):
        logistic.measure_valued_factorized_surrogate(3, loc, loc.exp(), 2)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="loc"):
        logistic.delta_method_surrogate(features, labels, [0.0] * 3, loc.exp(), 2)  # type: ignore[arg-type]
    split = data.load_breast_cancer(generator=_gen())
    with pytest.raises(ValueError, match="learning_rate"):
        logistic.fit("pathwise", split, num_steps=1, learning_rate=-1.0, generator=_gen())
    with pytest.raises(TypeError, match="data"):
        logistic.fit("pathwise", (features, labels), num_steps=1, generator=_gen())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="generator"):
        logistic.fit("pathwise", split, num_steps=1, generator=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="variance_samples"):
        logistic.fit("pathwise", split, num_steps=1, variance_samples=1, generator=_gen())
    with pytest.raises(ValueError, match="elbo_samples"):
        logistic.fit("pathwise", split, num_steps=1, elbo_samples=0, generator=_gen())
    with pytest.raises(TypeError, match="methods"):
        logistic.fit_all("pathwise", split, num_steps=1, generator=_gen())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="distinct"):
        logistic.fit_all(["pathwise", "pathwise"], split, num_steps=1, generator=_gen())
    with pytest.raises(ValueError, match="method"):
        logistic.fit_all(["pathwise", "magic"], split, num_steps=1, generator=_gen())  # type: ignore[list-item]


def test_expected_cost_surrogate_errors_name_scale() -> None:
    """The surrogates over (loc, scale) name their second parameter ``scale`` (not
    ``log_scale``, the name of the ELBO functions') in every message about it."""
    features, labels, loc, log_scale = _problem()
    scale = log_scale.exp()
    bad = {
        r"^scale must be finite": scale.clone().fill_(math.nan),
        r"^scale must have shape \(3,\) or \(\.\.\., 3\), got \(2,\)": scale[:2],
        r"^loc and scale must have the same shape": scale.expand(2, -1),
    }
    for message, value in bad.items():
        with pytest.raises(ValueError, match=message):
            logistic.expected_cost_surrogate("pathwise", loc, value, features, labels, 1)


def test_logistic_figures() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from reparam.book.plotting import applications

    steps = {"a": [0, 50, 100], "b": [0, 50, 100]}
    fig = applications.plot_logistic_training(
        steps,
        {"a": [-90.0, -60.0, -55.0], "b": [-95.0, -70.0, -56.0]},
        {"a": [0.4, 0.9, 0.95], "b": [0.4, 0.8, 0.9]},
    )
    left, right = fig.axes
    assert left.get_legend() is not None and right.get_legend() is None
    assert "accuracy" in right.get_ylabel()
    plt.close(fig)
    variances = {"a": torch.rand(3, 4).numpy() + 0.1, "b": torch.rand(3, 4).numpy() + 1.0}
    fig = applications.plot_gradient_variance([0, 50, 100], variances)
    (ax,) = fig.axes
    assert ax.get_yscale() == "log" and len(ax.get_lines()) == 2
    plt.close(fig)
    fig = applications.plot_gradient_variances(
        [0, 50, 100], {r"$\mu$": variances, r"$\rho$": variances}
    )
    top, bottom = fig.axes
    assert top.get_legend() is not None and bottom.get_legend() is None
    assert len(bottom.get_lines()) == 2 and bottom.get_yscale() == "log"
    plt.close(fig)
    with pytest.raises(ValueError, match="at least one"):
        applications.plot_gradient_variances([0, 50, 100], {})
    with pytest.raises(ValueError, match="same estimators"):
        applications.plot_logistic_training(steps, {"a": [1.0, 2.0, 3.0]}, {"a": [1.0, 2.0, 3.0]})
    with pytest.raises(ValueError, match=r"\(3, D\)"):
        applications.plot_gradient_variance([0, 50, 100], {"a": torch.rand(2, 4).numpy()})
