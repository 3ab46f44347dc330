"""Tests of reparam.book.logistic: the model, the ELBO, five gradient estimators, training.

Oracles: torch.distributions.Bernoulli for the likelihood; Gauss–Hermite quadrature for the
exact ELBO (each logit xᵢᵀw is Gaussian under q, so E_q[log p(yᵢ | xᵢ, w)] is a
one-dimensional integral) and, through autograd, for its exact gradient; repeated seeded
runs. Statistical checks use 5 standard errors.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor
from torch.distributions import Bernoulli

from reparam import gauss_hermite_expectation
from reparam.book import data, logistic

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
    features, labels, loc, log_scale = _problem(2)
    exact = _exact_elbo(loc, log_scale, features, labels, factor=2.0)
    draws = torch.stack(
        [
            logistic.elbo(loc, log_scale, features, labels, 1, generator=g, dataset_size=16)
            for g in [_gen(3)]
            for _ in range(2000)
        ]
    )
    mean, std_error = _mean_and_std_error(draws)
    assert abs(float(mean - exact)) < Z * float(std_error)


def test_elbo_is_differentiable_pathwise() -> None:
    features, labels, loc, log_scale = _problem(4)
    loc.requires_grad_(True)
    value = logistic.elbo(loc, log_scale, features, labels, 3, generator=_gen(5))
    (grad,) = torch.autograd.grad(value, loc)
    assert grad.shape == loc.shape and torch.isfinite(grad).all()


@pytest.mark.parametrize("method", logistic.METHODS)
def test_every_estimator_is_unbiased(method: logistic.Method) -> None:
    features, labels, loc, log_scale = _problem(6)
    loc_ = loc.clone().requires_grad_(True)
    log_scale_ = log_scale.clone().requires_grad_(True)
    exact = torch.autograd.grad(
        _exact_elbo(loc_, log_scale_, features, labels, factor=3.0), (loc_, log_scale_)
    )
    baseline = 4.0 if method == "score_function_baseline" else None
    grads = logistic.elbo_gradient(
        method,
        loc,
        log_scale,
        features,
        labels,
        40_000,
        generator=_gen(7),
        dataset_size=24,
        baseline=baseline,
    )
    for per_sample, truth in ((grads.loc, exact[0]), (grads.log_scale, exact[1])):
        mean, std_error = _mean_and_std_error(per_sample)
        assert ((mean - truth).abs() <= Z * std_error + 1e-10).all(), (method, mean, truth)


@pytest.mark.parametrize("method", logistic.METHODS)
def test_every_estimator_draws_from_the_generator_only(method: logistic.Method) -> None:
    """The same generator seed gives the same per-sample gradients whatever the global seed;
    another seed gives other ones (every draw comes from ``generator``)."""
    features, labels, loc, log_scale = _problem(12)
    baseline = 1.0 if method == "score_function_baseline" else None

    def run(seed: int, global_seed: int) -> logistic.ElboGradient:
        with torch.random.fork_rng():  # leaves the global state as it was
            torch.manual_seed(global_seed)
            return logistic.elbo_gradient(
                method, loc, log_scale, features, labels, 6, generator=_gen(seed), baseline=baseline
            )

    first, again, other = run(1, 100), run(1, 200), run(2, 100)
    for a, b, c in (
        (first.loc, again.loc, other.loc),
        (first.log_scale, again.log_scale, other.log_scale),
    ):
        assert torch.equal(a, b)
        assert not torch.equal(a, c)
    assert torch.equal(first.cost, again.cost)


def test_reported_cost_estimates_the_expected_cost() -> None:
    features, labels, loc, log_scale = _problem(8)
    kl = 0.5 * (loc.square() + (2 * log_scale).exp() - 1 - 2 * log_scale).sum()
    expected_cost = -(_exact_elbo(loc, log_scale, features, labels) + kl)
    for method in logistic.METHODS:
        grads = logistic.elbo_gradient(
            method, loc, log_scale, features, labels, 20_000, generator=_gen(9)
        )
        assert abs(float(grads.cost - expected_cost)) < 0.05 * abs(float(expected_cost)), method


def test_variance_ordering_on_a_real_problem() -> None:
    """On the breast-cancer data at σ = e⁻², every variance-reduced or pathwise estimator
    beats the plain score function by a wide margin (the ratios are in the hundreds)."""
    split = data.load_breast_cancer(generator=_gen(), dtype=F64)
    x, y = split.train_inputs, split.train_targets
    loc = torch.zeros(x.shape[1], dtype=F64)
    log_scale = torch.full_like(loc, -2.0)
    total = {}
    for method in logistic.METHODS:
        baseline = 500.0 if method == "score_function_baseline" else None
        variances = logistic.gradient_variance(
            method, loc, log_scale, x, y, 200, generator=_gen(1), baseline=baseline
        )
        total[method] = sum(float(v.sum()) for v in variances)
    for method in ("pathwise", "delta_method", "measure_valued"):
        assert total[method] < total["score_function"] / 100, method
    assert total["score_function_baseline"] < total["score_function"]
    assert total["pathwise"] < total["measure_valued"]


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
    var_loc, _ = logistic.gradient_variance(
        "pathwise", loc, log_scale, features, labels, 40_000, generator=_gen(11)
    )
    # The sample variance of n draws has relative standard error about sqrt(2 / n) (plus
    # kurtosis); 5 % is over 10 of those here.
    assert abs(float(var_loc[0] / exact_var[0]) - 1) < 0.05


def test_accuracy() -> None:
    features = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [2.0, 0.0]])
    labels = torch.tensor([1.0, 0.0, 0.0, 0.0])
    assert logistic.accuracy(torch.tensor([1.0, 0.0]), features, labels) == 0.75
    # Integer weights and features are promoted to a floating dtype.
    integers = torch.tensor([[1, 0], [0, 1], [2, 3]])
    accuracy = logistic.accuracy(torch.tensor([1, -1]), integers, torch.tensor([1, 1, 0]))
    assert accuracy == pytest.approx(2 / 3, rel=1e-6)


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


@pytest.mark.parametrize("method", ["score_function_baseline", "score_function"])
def test_fit_records_the_variance_of_the_estimator_it_trains(
    method: logistic.Method, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The recorded variance is that of the estimator as trained: with its moving-average
    baseline of the mean costs seen so far (none before the first step), and no baseline for
    the other estimators."""
    split = data.load_breast_cancer(generator=_gen(), dtype=F64)
    calls: list[tuple[str, object]] = []
    costs: list[float] = []
    real_variance, real_gradient = logistic.gradient_variance, logistic.elbo_gradient

    def spy_variance(m: logistic.Method, *args: object, **kwargs: object) -> object:
        calls.append((m, kwargs.get("baseline")))
        return real_variance(m, *args, **kwargs)  # type: ignore[arg-type]

    def spy_gradient(*args: object, **kwargs: object) -> logistic.ElboGradient:
        out = real_gradient(*args, **kwargs)  # type: ignore[arg-type]
        if kwargs.get("dataset_size") is not None:  # a training step, not a record
            costs.append(float(out.cost))
        return out

    monkeypatch.setattr(logistic, "gradient_variance", spy_variance)
    monkeypatch.setattr(logistic, "elbo_gradient", spy_gradient)
    logistic.fit(
        method,
        split,
        num_steps=4,
        num_samples=5,
        record_every=2,
        baseline_decay=0.5,
        elbo_samples=5,
        variance_samples=3,
        generator=_gen(14),
    )
    assert [m for m, _ in calls] == [method] * 3  # steps 0, 2 and 4
    baselines = [b for _, b in calls]
    if method == "score_function":
        assert baselines == [None, None, None]
        return
    average = None
    expected: list[float | None] = [None]
    for i, cost in enumerate(costs):
        average = cost if average is None else 0.5 * average + 0.5 * cost
        if i % 2 == 1:
            expected.append(average)
    assert baselines[0] is None
    assert [float(b) for b in baselines[1:]] == pytest.approx(expected[1:], rel=1e-12)  # type: ignore[arg-type]


def test_bad_inputs_are_rejected() -> None:
    features, labels, loc, log_scale = _problem()
    with pytest.raises(ValueError, match="method"):
        logistic.elbo_gradient("magic", loc, log_scale, features, labels, 2)  # type: ignore[arg-type]
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
    with pytest.raises(ValueError, match="baseline"):
        logistic.elbo_gradient("pathwise", loc, log_scale, features, labels, 2, baseline=1.0)
    with pytest.raises(ValueError, match="num_samples"):
        logistic.gradient_variance("pathwise", loc, log_scale, features, labels, 1)
    with pytest.raises(ValueError, match="dataset_size"):
        logistic.negative_log_likelihood_cost(features, labels, dataset_size=0)
    cost = logistic.negative_log_likelihood_cost(features, labels)
    with pytest.raises(TypeError, match=r"^generator must be"):
        logistic.measure_valued_factorized_gradient(cost, loc, loc.exp(), 2, generator=0)  # type: ignore[arg-type]
    split = data.load_breast_cancer(generator=_gen())
    with pytest.raises(ValueError, match="learning_rate"):
        logistic.fit("pathwise", split, num_steps=1, learning_rate=-1.0, generator=_gen())
    with pytest.raises(TypeError, match="data"):
        logistic.fit("pathwise", (features, labels), num_steps=1, generator=_gen())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="generator"):
        logistic.fit("pathwise", split, num_steps=1, generator=3)  # type: ignore[arg-type]


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
