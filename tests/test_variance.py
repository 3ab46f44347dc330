"""Tests of reparam.variance against scipy.integrate and closed forms."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from scipy import integrate

import reparam
from reparam import variance

MU, SIGMA = 1.0, 1.0
PHI = 1 / math.sqrt(2 * math.pi)

# The three costs of Mohamed et al. (2020), section 3, at the ends of their k ranges,
# as (torch cost, float f, float f').
CASES = {
    "quadratic(-3)": (reparam.quadratic_cost(-3.0), lambda x: (x + 3) ** 2, lambda x: 2 * (x + 3)),
    "quadratic(3)": (reparam.quadratic_cost(3.0), lambda x: (x - 3) ** 2, lambda x: 2 * (x - 3)),
    "exp(0.1)": (
        reparam.exp_quadratic_cost(0.1),
        lambda x: math.exp(-0.1 * x * x),
        lambda x: -0.2 * x * math.exp(-0.1 * x * x),
    ),
    "exp(10)": (
        reparam.exp_quadratic_cost(10.0),
        lambda x: math.exp(-10 * x * x),
        lambda x: -20 * x * math.exp(-10 * x * x),
    ),
    "cos(0.5)": (
        reparam.cosine_cost(0.5),
        lambda x: math.cos(0.5 * x),
        lambda x: -0.5 * math.sin(0.5 * x),
    ),
    "cos(5)": (reparam.cosine_cost(5.0), lambda x: math.cos(5 * x), lambda x: -5 * math.sin(5 * x)),
}


def _normal_moments(g: Callable[[float], float]) -> tuple[float, float]:
    def density(u: float) -> float:
        return PHI * math.exp(-u * u / 2)

    opts = {"limit": 400, "epsabs": 1e-13, "epsrel": 1e-11}
    m1 = integrate.quad(lambda u: g(u) * density(u), -np.inf, np.inf, **opts)[0]
    m2 = integrate.quad(lambda u: g(u) ** 2 * density(u), -np.inf, np.inf, **opts)[0]
    return m1, m2 - m1**2


def _scipy_moments(case: str, estimator: str, parameter: str) -> tuple[float, float]:
    _, f, fp = CASES[case]
    mu, s = MU, SIGMA
    if estimator == "pathwise_antithetic":
        if parameter == "loc":
            return _normal_moments(lambda u: 0.5 * (fp(mu + s * u) + fp(mu - s * u)))
        return _normal_moments(lambda u: 0.5 * u * (fp(mu + s * u) - fp(mu - s * u)))
    if estimator in ("pathwise", "score_function", "score_function_optimal_baseline"):
        if estimator == "pathwise":
            if parameter == "loc":
                return _normal_moments(lambda u: fp(mu + s * u))
            return _normal_moments(lambda u: fp(mu + s * u) * u)

        def score(u: float) -> float:
            return u / s if parameter == "loc" else (u * u - 1) / s

        b = 0.0
        if estimator == "score_function_optimal_baseline":
            num = _normal_moments(lambda u: f(mu + s * u) * score(u) ** 2)[0]
            den = _normal_moments(lambda u: score(u) ** 2)[0]
            b = num / den
        return _normal_moments(lambda u: (f(mu + s * u) - b) * score(u))
    if parameter == "loc":

        def g(w: float) -> float:
            return (f(mu + s * w) - f(mu - s * w)) / (s * math.sqrt(2 * math.pi))

        opts = {"limit": 400, "epsabs": 1e-13, "epsrel": 1e-11}
        m1 = integrate.quad(lambda w: g(w) * w * math.exp(-w * w / 2), 0, np.inf, **opts)[0]
        m2 = integrate.quad(lambda w: g(w) ** 2 * w * math.exp(-w * w / 2), 0, np.inf, **opts)[0]
        return m1, m2 - m1**2

    def h(v: float, m: float) -> float:
        return (f(mu + s * m) - f(mu + s * v * m)) / s

    def maxwell(m: float) -> float:
        return m * m * PHI * math.exp(-m * m / 2)

    opts2 = {"epsabs": 1e-12, "epsrel": 1e-10}
    m1 = integrate.dblquad(lambda v, m: h(v, m) * maxwell(m), -14, 14, 0, 1, **opts2)[0]
    m2 = integrate.dblquad(lambda v, m: h(v, m) ** 2 * maxwell(m), -14, 14, 0, 1, **opts2)[0]
    return m1, m2 - m1**2


ONE_D = [
    (case, est, par)
    for case in CASES
    for est in ("pathwise", "score_function", "score_function_optimal_baseline")
    for par in variance.PARAMETERS
] + [(case, "measure_valued", "loc") for case in CASES]
ONE_D += [(case, "pathwise_antithetic", par) for case in CASES for par in variance.PARAMETERS]


@pytest.mark.parametrize(("case", "estimator", "parameter"), ONE_D)
def test_one_dimensional_moments_match_scipy(case: str, estimator: str, parameter: str) -> None:
    ours = variance.gradient_moments(
        CASES[case][0], MU, SIGMA, estimator=estimator, parameter=parameter
    )
    mean, var = _scipy_moments(case, estimator, parameter)
    assert ours.mean == pytest.approx(mean, rel=1e-8, abs=1e-10)
    assert ours.variance == pytest.approx(var, rel=1e-8, abs=1e-10)


@pytest.mark.parametrize("case", ["quadratic(-3)", "exp(10)", "cos(5)"])
def test_measure_valued_scale_moments_match_scipy_dblquad(case: str) -> None:
    ours = variance.gradient_moments(
        CASES[case][0], MU, SIGMA, estimator="measure_valued", parameter="scale"
    )
    mean, var = _scipy_moments(case, "measure_valued", "scale")
    assert ours.mean == pytest.approx(mean, rel=1e-7, abs=1e-10)
    assert ours.variance == pytest.approx(var, rel=1e-7, abs=1e-10)


@pytest.mark.parametrize("estimator", variance.ESTIMATORS)
@pytest.mark.parametrize(
    ("make_cost", "ks"),
    [
        (reparam.quadratic_cost, np.linspace(-3, 3, 7)),
        (reparam.exp_quadratic_cost, np.geomspace(0.1, 10, 7)),
        (reparam.cosine_cost, np.geomspace(0.5, 5, 7)),
    ],
    ids=["quadratic", "exp", "cos"],
)
def test_every_estimator_is_unbiased_by_quadrature(
    estimator: str, make_cost: Callable[[float], reparam.GaussianTestCost], ks: np.ndarray
) -> None:
    for k in ks:
        cost = make_cost(float(k))
        exact = reparam.exact_gradient(cost, torch.tensor(MU, dtype=torch.float64), SIGMA)
        for parameter, ex in zip(variance.PARAMETERS, exact, strict=True):
            moments = variance.gradient_moments(
                cost, MU, SIGMA, estimator=estimator, parameter=parameter
            )
            assert moments.mean == pytest.approx(ex.item(), rel=1e-9, abs=1e-11), (k, parameter)
            assert moments.variance >= -1e-12


def test_closed_form_variances() -> None:
    """Hand-derived: f(x) = (x - k)², x ~ N(μ, σ²)."""
    k, mu, s = -2.0, 0.5, 1.5
    cost = reparam.quadratic_cost(k)

    def var(estimator: str, parameter: str) -> float:
        return variance.gradient_moments(
            cost, mu, s, estimator=estimator, parameter=parameter
        ).variance

    a = mu - k
    # pathwise: 2(x - k) = 2(a + s u) and 2(a + s u) u
    assert var("pathwise", "loc") == pytest.approx(4 * s**2)
    assert var("pathwise", "scale") == pytest.approx(4 * (a**2 + 2 * s**2))
    # measure-valued, mean: (f(μ+σW) - f(μ-σW)) / (σ√2π) = 4 a W / √(2π), E[W²] = 2
    assert var("measure_valued", "loc") == pytest.approx(
        16 * a**2 * 2 / (2 * math.pi) - (2 * a) ** 2
    )


def test_optimal_baseline_minimises_the_score_function_variance() -> None:
    cost = reparam.cosine_cost(2.0)
    for parameter in variance.PARAMETERS:
        b = variance.optimal_baseline(cost, MU, SIGMA, parameter)

        def with_baseline(shift: float, parameter: str = parameter) -> float:
            return variance.gradient_moments(
                lambda x: cost(x) - shift,
                MU,
                SIGMA,
                estimator="score_function",
                parameter=parameter,
            ).variance

        best = variance.gradient_moments(
            cost, MU, SIGMA, estimator="score_function_optimal_baseline", parameter=parameter
        ).variance
        assert best == pytest.approx(with_baseline(b), rel=1e-12)
        assert best < with_baseline(b + 0.05) and best < with_baseline(b - 0.05)
        assert best < with_baseline(0.0)


def test_variance_curves_shapes() -> None:
    curves = variance.variance_curves(reparam.cosine_cost, [0.5, 1.0, 2.0])
    assert set(curves) == {(e, p) for e in variance.ESTIMATORS for p in variance.PARAMETERS}
    assert all(v.shape == (3,) for v in curves.values())
    assert curves["pathwise", "loc"][0] == pytest.approx(
        variance.gradient_moments(
            reparam.cosine_cost(0.5), 1.0, 1.0, estimator="pathwise", parameter="loc"
        ).variance
    )


def _normal_moment(j: int) -> float:
    """E[u^j], u ~ N(0, 1): 0 for odd j, (j − 1)!! for even j."""
    return 0.0 if j % 2 else float(math.prod(range(j - 1, 0, -2)))


def _expect(poly: np.polynomial.Polynomial) -> float:
    return sum(float(c) * _normal_moment(j) for j, c in enumerate(poly.coef))


@pytest.mark.parametrize("parameter", variance.PARAMETERS)
@pytest.mark.parametrize("estimator", variance.ESTIMATORS)
def test_quadratic_cost_at_a_scale_other_than_one(estimator: str, parameter: str) -> None:
    """Closed forms at σ ≠ 1 (every other check here has σ = 1, where a misplaced σ cancels).
    f(x) = (x − k)², x = μ + σu: f, f′ and the scores are polynomials in u, whose Gaussian
    moments are exact; the measure-valued moments use E[W] = √(π/2), E[W²] = 2 (Weibull),
    E[M²] = 3, E[M⁴] = 15 (double-sided Maxwell) and the moments of U ~ U(0, 1)."""
    mu, sigma, k = 0.4, 1.3, -0.5
    d = mu - k
    poly = np.polynomial.Polynomial
    if estimator == "measure_valued" and parameter == "loc":
        mean, var = 2 * d, 16 * d * d / (2 * math.pi) * (2 - math.pi / 2)
    elif estimator == "measure_valued":
        # g = 2 d M (1 − U) + σ M² (1 − U²): E[g] = 2σ, E[g²] = 4d² + 8σ²
        mean, var = 2 * sigma, 4 * d * d + 4 * sigma**2
    else:
        f = poly([d * d, 2 * sigma * d, sigma**2])
        if estimator == "pathwise":
            f_prime = poly([2 * d, 2 * sigma])
            g = f_prime if parameter == "loc" else f_prime * poly([0.0, 1.0])
        else:
            s = poly([0.0, 1 / sigma]) if parameter == "loc" else poly([-1 / sigma, 0.0, 1 / sigma])
            b = _expect(f * s * s) / _expect(s * s) if "baseline" in estimator else 0.0
            if "baseline" in estimator:
                assert variance.optimal_baseline(
                    reparam.quadratic_cost(k), mu, sigma, parameter
                ) == pytest.approx(b, rel=1e-10)
            g = (f - b) * s
        mean = _expect(g)
        var = _expect(g * g) - mean**2
    moments = variance.gradient_moments(
        reparam.quadratic_cost(k), mu, sigma, estimator=estimator, parameter=parameter
    )
    assert moments.mean == pytest.approx(2 * (d if parameter == "loc" else sigma), rel=1e-9)
    assert moments.mean == pytest.approx(mean, rel=1e-9)
    assert moments.variance == pytest.approx(var, rel=1e-8)


def test_one_element_tensors_are_accepted_for_loc_and_scale() -> None:
    """loc and scale may be one-element tensors (as from a model), with the same moments."""
    cost = reparam.cosine_cost(1.5)
    for estimator in variance.ESTIMATORS:
        for parameter in variance.PARAMETERS:
            floats = variance.gradient_moments(
                cost, 0.4, 1.3, estimator=estimator, parameter=parameter
            )
            tensors = variance.gradient_moments(
                cost,
                torch.tensor(0.4, dtype=torch.float64),  # type: ignore[arg-type]
                torch.tensor([1.3], dtype=torch.float64),  # type: ignore[arg-type]
                estimator=estimator,
                parameter=parameter,
            )
            assert tensors == floats


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"estimator": "reinforce"}, ValueError, "estimator"),
        ({"parameter": "sigma"}, ValueError, "parameter"),
        ({"scale": 0.0}, ValueError, "scale"),
        ({"scale": -1.0}, ValueError, "scale"),
        ({"loc": math.inf}, ValueError, "loc"),
        ({"cost": 3.0}, TypeError, "cost"),
        ({"cost": lambda x: x.sum()}, ValueError, "cost"),
    ],
)
def test_bad_inputs(kwargs: dict[str, object], error: type[Exception], match: str) -> None:
    arguments: dict[str, object] = {
        "cost": reparam.cosine_cost(1.0),
        "loc": 1.0,
        "scale": 1.0,
        "estimator": "pathwise",
        "parameter": "loc",
    }
    arguments.update(kwargs)
    with pytest.raises(error, match=match):
        variance.gradient_moments(
            arguments["cost"],  # type: ignore[arg-type]
            arguments["loc"],  # type: ignore[arg-type]
            arguments["scale"],  # type: ignore[arg-type]
            estimator=arguments["estimator"],  # type: ignore[arg-type]
            parameter=arguments["parameter"],  # type: ignore[arg-type]
        )


# -- the figures of the issue-3 chapters (smoke tests: they draw, label, and reject bad input) --
def test_variance_figures() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from reparam.book.plotting.variance import (
        plot_error_by_estimator,
        plot_variance_curves,
        plot_variance_grid,
    )

    ks: Any = np.geomspace(0.5, 5, 5)  # arrays where the signatures say Sequence[float]
    exact = variance.variance_curves(reparam.cosine_cost, ks, parameters=("loc",))
    curves: dict[str, Any] = {est: exact[est, "loc"] for est in variance.ESTIMATORS}
    fig = plot_variance_curves(
        ks, curves, monte_carlo={"pathwise": (ks[:2], curves["pathwise"][:2])}, log_k=True
    )
    assert fig.axes[0].get_yscale() == "log" and fig.axes[0].get_xlabel() == "$k$"
    assert len(fig.axes[0].get_lines()) == 5
    grid = plot_variance_grid([{"ks": ks, "exact": curves}] * 2, ncols=2)
    assert len([ax for ax in grid.axes if ax.get_visible()]) == 2
    err = plot_error_by_estimator([1, 4], {"pathwise": [1.0, 0.5]}, {"pathwise": [1.0, 0.5]})
    assert err.axes[0].get_xscale() == "log"
    with pytest.raises(ValueError, match="exact"):
        plot_variance_curves(ks, {"pathwise": [1.0]})
    with pytest.raises(ValueError, match="panels"):
        plot_variance_grid([])
    plt.close("all")


def test_computational_graph_figure() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from reparam.book.plotting.graphs import plot_computational_graphs

    fig = plot_computational_graphs()
    left, right = fig.axes
    texts = [t.get_text() for t in left.texts + right.texts]
    assert r"$z = g(\epsilon;\theta)$" in texts and r"$\epsilon$" in texts
    assert any("undefined" in t for t in texts)
    assert len(fig.legends) == 1
    plt.close(fig)
