"""Bad input to the public API: a right answer or a clear error, never a silent wrong number.

Issue #10, part 4. Each test is one of the issue's examples (or a case of the same kind), and
asserts either the exact right value against an independent oracle (``torch.distributions``,
``scipy.stats``) or that the error is a ``ValueError``/``TypeError`` naming the parameter,
the constraint and the offending value. The last test runs the whole audit of
``tools/audit_bad_input.py`` and requires it to find no silent bad result and no obscure
error.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.stats as st
import torch
import torch.distributions as D

import reparam
from reparam import catalog, discrete, variance
from reparam.estimators import pathwise_gradient
from reparam.normal import normal_cdf

ROOT = Path(__file__).resolve().parents[1]
F32, F64 = torch.float32, torch.float64
INF, NAN = math.inf, math.nan


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _p(dtype: torch.dtype = F64, **values: float) -> dict[str, torch.Tensor]:
    return {k: torch.tensor(v, dtype=dtype) for k, v in values.items()}


# -- integer tensors and NumPy scalars ---------------------------------------------------------
def test_integer_value_is_promoted_not_the_parameters_truncated() -> None:
    """The issue's first example: the float parameters were cast to the integer dtype."""
    ours = reparam.normal_log_prob(torch.tensor([1, 2]), 0.5, 1.5)
    theirs = D.Normal(0.5, 1.5).log_prob(torch.tensor([1.0, 2.0]))
    assert ours.dtype == torch.get_default_dtype()
    torch.testing.assert_close(ours, theirs)
    np.testing.assert_allclose(ours.numpy(), st.norm(0.5, 1.5).logpdf([1, 2]), rtol=1e-6)
    assert ours.tolist() == pytest.approx([-1.380, -1.824], abs=1e-3)


def test_integer_value_in_the_cdf_and_a_misleading_message() -> None:
    """The second example: the error said "scale … got 0" for a scale of 0.5."""
    ours = normal_cdf(torch.tensor([1]), 0.5, 0.5)
    torch.testing.assert_close(ours, D.Normal(0.5, 0.5).cdf(torch.tensor([1.0])))
    with pytest.raises(ValueError, match=r"scale must be strictly positive, got -0\.5"):
        normal_cdf(torch.tensor([1]), 0.5, -0.5)


def test_numpy_scalars_are_accepted_like_python_numbers() -> None:
    plain = reparam.normal_rsample(0.5, 1.5, 10, generator=_gen())
    numpy = reparam.normal_rsample(np.float32(0.5), np.float64(1.5), np.int64(10), generator=_gen())  # type: ignore[arg-type]
    assert torch.equal(plain, numpy)
    e = catalog.get("gamma")
    plain = e.rsample(5, generator=_gen(), concentration=2.0, rate=1.0)
    numpy = e.rsample(np.int64(5), generator=_gen(), concentration=np.int64(2), rate=np.float32(1))  # type: ignore[arg-type]
    assert torch.equal(plain, numpy)
    assert discrete.gumbel_max_sample(torch.zeros(3), np.int64(4), generator=_gen()).shape == (4,)  # type: ignore[arg-type]
    relaxed = discrete.relaxed_one_hot_sample(torch.zeros(3), np.float32(0.5), 2, generator=_gen())  # type: ignore[arg-type]
    assert relaxed.shape == (2, 3)
    moments = variance.gradient_moments(
        reparam.quadratic_cost(),
        np.float32(1.0),  # type: ignore[arg-type]
        np.int64(2),  # type: ignore[arg-type]
        estimator="pathwise",
        parameter="loc",
    )
    assert moments.mean == pytest.approx(2.0) and moments.variance == pytest.approx(16.0)
    degree: Any = np.int64(20)  # a NumPy integer, as a user may pass
    assert reparam.gauss_hermite_expectation(torch.square, 0.0, 1.0, degree=degree).item() == (
        pytest.approx(1.0)
    )


def test_integer_parameter_tensors_give_default_dtype_draws() -> None:
    z = catalog.get("beta").rsample(
        4, generator=_gen(), concentration1=torch.tensor([1, 2]), concentration0=torch.tensor(3)
    )
    assert z.shape == (4, 2) and z.dtype == torch.get_default_dtype()


def test_booleans_and_floats_are_not_counts() -> None:
    for bad in (True, 2.0, np.float64(2.0)):
        with pytest.raises(TypeError, match="num_samples must be an int"):
            reparam.normal_rsample(0.0, 1.0, bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="num_samples must be at least 1, got 0"):
        reparam.normal_rsample(0.0, 1.0, 0)


# -- log_prob and cdf outside the support ------------------------------------------------------
#: key -> (scipy frozen distribution at the example parameters, points outside the support)
OUTSIDE = {
    "exponential": (lambda: st.expon(scale=1 / 1.5), [-1.0, -1e-9]),
    "rayleigh": (lambda: st.rayleigh(scale=1.5), [-1.0]),
    "pareto": (lambda: st.pareto(3.0, scale=1.0), [0.5, -2.0]),
    "weibull": (lambda: st.weibull_min(1.5, scale=2.0), [-1.0]),
    "reciprocal": (lambda: st.loguniform(0.5, 4.0), [0.25, 5.0, -1.0]),
    "gompertz": (lambda: st.gompertz(0.8, scale=1 / 1.5), [-1.0]),
    "erlang": (lambda: st.gamma(3.0, scale=0.5), [-1.0]),
    "half_normal": (lambda: st.halfnorm(scale=1.5), [-1.0]),
    "log_normal": (lambda: st.lognorm(0.5, scale=math.exp(0.2)), [-1.0, 0.0]),
    "beta": (lambda: st.beta(2.0, 3.0), [-0.5, 1.5]),
    "chi_squared": (lambda: st.chi2(3.5), [-1.0]),
    "f": (lambda: st.f(5.0, 8.0), [-1.0]),
    "inverse_gamma": (lambda: st.invgamma(4.0, scale=2.0), [-1.0, 0.0]),
    "gamma": (lambda: st.gamma(2.5, scale=1 / 1.5), [-1.0]),
    "uniform": (lambda: st.uniform(-1.0, 3.0), [-3.0, 5.0]),
    "triangular": (lambda: st.triang(1 / 3, 0.0, 3.0), [-1.0, 4.0]),
}


@pytest.mark.parametrize("key", list(OUTSIDE))
def test_log_prob_outside_the_support_is_minus_infinity(key: str) -> None:
    frozen, points = OUTSIDE[key]
    e = catalog.get(key)
    z = torch.tensor(points, dtype=F64)
    ours = e.distribution.log_prob(z, e.example_params(F64))
    np.testing.assert_array_equal(ours.numpy(), frozen().logpdf(points))
    assert bool((ours == -INF).all())
    if e.cdf is not None:
        cdf = e.cdf(z, e.example_params(F64))
        np.testing.assert_array_equal(cdf.numpy(), frozen().cdf(points))


def test_exponential_log_prob_at_minus_one_is_minus_infinity() -> None:
    """The issue's example: the Exponential row's log_prob at −1 with rate 2 returned +2.69."""
    ours = catalog.get("exponential").distribution.log_prob(torch.tensor(-1.0), {"rate": 2.0})  # type: ignore[dict-item]
    assert ours.item() == -INF == st.expon(scale=0.5).logpdf(-1.0)


def test_gamma_log_prob_below_zero_for_shapes_below_one() -> None:
    """(α − 1) log z at a clamped z = 0 is +inf for α < 1: the support check must come first."""
    for key, params in [
        ("gamma", {"concentration": 0.5, "rate": 2.0}),
        ("chi_squared", {"df": 1.0}),
    ]:
        ours = catalog.get(key).distribution.log_prob(
            torch.tensor([-1.0], dtype=F64), _p(F64, **params)
        )
        assert ours.tolist() == [-INF]
    ours = catalog.implicit.gamma_log_prob(torch.tensor([-1.0, 0.0]), 0.5, 2.0)
    np.testing.assert_array_equal(ours.numpy(), st.gamma(0.5, scale=0.5).logpdf([-1.0, 0.0]))


def test_kumaraswamy_outside_the_unit_interval() -> None:
    e = catalog.get("kumaraswamy")
    p = e.example_params(F64)
    z = torch.tensor([-0.5, 1.5], dtype=F64)
    assert e.distribution.log_prob(z, p).tolist() == [-INF, -INF]
    assert e.cdf is not None and e.cdf(z, p).tolist() == [0.0, 1.0]


@pytest.mark.parametrize(
    ("key", "params", "point", "frozen"),
    [
        ("gamma", {"concentration": 1.0, "rate": 2.0}, 0.0, st.gamma(1.0, scale=0.5)),
        ("gamma", {"concentration": 0.5, "rate": 2.0}, 0.0, st.gamma(0.5, scale=0.5)),
        ("gamma", {"concentration": 2.0, "rate": 2.0}, 0.0, st.gamma(2.0, scale=0.5)),
        ("chi_squared", {"df": 2.0}, 0.0, st.chi2(2.0)),
        ("beta", {"concentration1": 1.0, "concentration0": 3.0}, 0.0, st.beta(1.0, 3.0)),
        ("beta", {"concentration1": 2.0, "concentration0": 1.0}, 1.0, st.beta(2.0, 1.0)),
        ("weibull", {"scale": 2.0, "concentration": 1.0}, 0.0, st.weibull_min(1.0, scale=2.0)),
        ("f", {"df1": 2.0, "df2": 5.0}, 0.0, st.f(2.0, 5.0)),
        ("inverse_gamma", {"concentration": 2.0, "rate": 1.0}, 0.0, st.invgamma(2.0)),
    ],
)
def test_log_prob_on_the_boundary_matches_scipy(
    key: str, params: dict[str, float], point: float, frozen: object
) -> None:
    """(a − 1) log z at z = 0 and a = 1 is 0 · (−inf): NaN before, scipy's limit now."""
    ours = catalog.get(key).distribution.log_prob(
        torch.tensor([point], dtype=F64), _p(F64, **params)
    )
    expected = frozen.logpdf(point)  # type: ignore[attr-defined]
    np.testing.assert_allclose(ours.numpy(), [expected], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("key", ["gumbel", "logistic", "normal", "cauchy", "laplace"])
def test_log_prob_at_infinity_is_minus_infinity(key: str) -> None:
    e = catalog.get(key)
    ours = e.distribution.log_prob(torch.tensor([-INF, INF], dtype=F64), e.example_params(F64))
    assert ours.tolist() == [-INF, -INF]


def test_log_prob_of_nan_is_nan() -> None:
    for key in ("exponential", "gamma", "beta", "normal"):
        e = catalog.get(key)
        assert math.isnan(e.distribution.log_prob(torch.tensor(NAN), e.example_params()).item())


def test_dirichlet_log_prob_off_the_simplex() -> None:
    e = catalog.get("dirichlet")
    p = e.example_params(F64)
    z = torch.tensor([[0.5, 0.5, 0.5], [-0.1, 0.6, 0.5], [0.2, 0.3, 0.5]], dtype=F64)
    ours = e.distribution.log_prob(z, p)
    assert ours[:2].tolist() == [-INF, -INF]
    torch.testing.assert_close(ours[2], D.Dirichlet(p["concentration"]).log_prob(z[2]))


# -- discrete log-probabilities ------------------------------------------------------------
@pytest.mark.parametrize("probs", [0.0, 0.3, 1.0])
def test_bernoulli_log_prob_matches_scipy_including_certain_outcomes(probs: float) -> None:
    """Bernoulli log-probs gave NaN where torch gives 0 (probs 0 or 1)."""
    values = [0.0, 1.0, 0.5, -1.0, 2.0]
    ours = discrete.bernoulli_log_prob(
        torch.tensor(values, dtype=F64), torch.tensor(probs, dtype=F64)
    )
    np.testing.assert_allclose(ours.numpy(), st.bernoulli(probs).logpmf(values), rtol=1e-12)
    if probs in (0.0, 1.0):  # the certain outcome: torch's (clamped) value is 0 as well
        certain = torch.tensor([probs])
        theirs = D.Bernoulli(probs=certain).log_prob(certain).item()
        assert discrete.bernoulli_log_prob(certain, certain).item() == 0.0
        assert theirs == pytest.approx(0.0, abs=1e-6)


def test_bernoulli_log_prob_accepts_boolean_values_and_python_probs() -> None:
    ours = discrete.bernoulli_log_prob(torch.tensor([False, True]), 0.3)
    torch.testing.assert_close(ours, D.Bernoulli(probs=0.3).log_prob(torch.tensor([0.0, 1.0])))


@pytest.mark.parametrize("probs", [-0.2, 1.5, NAN])
def test_bernoulli_log_prob_rejects_probs_outside_the_unit_interval(probs: float) -> None:
    with pytest.raises(ValueError, match="probs must"):
        discrete.bernoulli_log_prob(torch.tensor([1.0]), torch.tensor(probs))
    with pytest.raises(ValueError, match="probs"):
        discrete.BERNOULLI.log_prob(torch.tensor([1.0]), {"probs": torch.tensor(probs)})


def test_categorical_log_prob_with_an_impossible_category() -> None:
    logits = torch.tensor([-INF, 0.0, 1.0])
    eye = torch.eye(3)
    ours = discrete.categorical_log_prob(eye, logits)
    theirs = D.Categorical(logits=logits).log_prob(torch.arange(3))
    torch.testing.assert_close(ours, theirs)
    assert ours[0].item() == -INF and torch.isfinite(ours[1:]).all()


def test_categorical_log_prob_of_a_value_that_is_not_one_hot() -> None:
    pi = [0.25, 0.75]
    value = torch.tensor([[0.5, 0.5], [1.0, 1.0], [0.0, 0.0], [0.0, 1.0]])
    ours = discrete.categorical_log_prob(value, torch.tensor(pi).log())
    expected = [st.multinomial(1, pi).logpmf(v) for v in value.numpy()]
    np.testing.assert_allclose(ours.numpy(), expected, rtol=1e-6)


@pytest.mark.parametrize("bad", [NAN, INF])
def test_categorical_log_prob_rejects_nan_and_plus_infinity(bad: float) -> None:
    with pytest.raises(ValueError, match="logits must be finite or -inf"):
        discrete.categorical_log_prob(torch.tensor([0.0, 1.0]), torch.tensor([bad, 0.0]))


def test_categorical_log_prob_rejects_a_row_with_no_finite_logit() -> None:
    """Every row of a batch of logits needs a finite entry: one row of all -inf (no
    distribution: softmax would give NaN) is an error even when the other rows are fine."""
    good = torch.tensor([0.0, 1.0])
    for logits in (torch.stack([good, torch.full((2,), -INF)]), torch.full((2,), -INF)):
        message = r"^logits must have at least one finite entry along the last dimension"
        with pytest.raises(ValueError, match=message):
            discrete.categorical_log_prob(torch.eye(2), logits)
    ours = discrete.categorical_log_prob(torch.eye(2), torch.stack([good, good]))
    torch.testing.assert_close(ours, D.Categorical(logits=good).log_prob(torch.arange(2)))


def test_relaxed_log_densities_outside_their_support() -> None:
    binary = discrete.RelaxedBernoulli(temperature=0.5)
    ours = binary.log_prob(torch.tensor([-0.5, 1.5, 0.3]), {"probs": torch.tensor(0.3)})
    assert ours[:2].tolist() == [-INF, -INF]
    theirs = D.RelaxedBernoulli(torch.tensor(0.5), probs=torch.tensor(0.3))
    torch.testing.assert_close(ours[2], theirs.log_prob(torch.tensor(0.3)))
    concrete = discrete.RelaxedCategorical(temperature=0.5)
    off = torch.tensor([[-0.5, 1.5], [0.6, 0.6]])
    assert concrete.log_prob(off, {"logits": torch.zeros(2)}).tolist() == [-INF, -INF]


def test_relaxed_categorical_log_prob_of_float32_values_under_float64_logits() -> None:
    """float32 values under float64 logits: the density is computed in float64, the dtype
    the two promote to, so it is torch's float64 density at the same numbers (a float32
    value is exact in float64), not a float32 rounding of it (log y in float32 is off by
    ~1e-7)."""
    logits = torch.tensor([0.2, -1.0, 1.5], dtype=F64)
    value = torch.tensor([[0.2, 0.3, 0.5], [0.1, 0.85, 0.05], [0.6, 0.2, 0.2]], dtype=F32)
    ours = discrete.RelaxedCategorical(temperature=0.5).log_prob(value, {"logits": logits})
    tau = torch.tensor(0.5, dtype=F64)
    theirs = D.RelaxedOneHotCategorical(tau, logits=logits).log_prob(value.to(F64))
    assert ours.dtype == F64
    torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=0.0)


def test_temperature_tensor_is_a_clear_type_error() -> None:
    with pytest.raises(TypeError, match="temperature must be a float"):
        discrete.relaxed_one_hot_sample(torch.zeros(2), torch.tensor(0.5), 2)  # type: ignore[arg-type]


# -- samplers at the edges of floating point -------------------------------------------------
def _inside(z: torch.Tensor, low: float, high: float) -> bool:
    return bool((torch.isfinite(z) & (z > low) & (z < high)).all())


def test_beta_float32_never_returns_exactly_one() -> None:
    """The issue: ≈ 9.5 % of float32 draws at (0.1, 0.1) were exactly 1.0."""
    e = catalog.get("beta")
    p = _p(F32, concentration1=0.1, concentration0=0.1)
    z = e.rsample(20_000, generator=_gen(1), **p)
    assert _inside(z, 0.0, 1.0)
    # The clamp moves only what rounds to 1 (or below the smallest normal number): the
    # draws at the largest float32 below 1 carry the Beta mass within about 2^-25 of 1
    # (±4 % for where exactly the sigmoid rounds), and the mean is still 1/2.
    top = (z == 1 - 2.0**-24).double().mean().item()
    mass = st.beta(0.1, 0.1).sf(1 - 2.0**-25)
    assert abs(top - mass) < 5 * math.sqrt(mass * (1 - mass) / z.numel()) + 0.04 * mass
    assert abs(z.double().mean().item() - 0.5) < 5 * math.sqrt(st.beta(0.1, 0.1).var() / z.numel())
    # ... and their log-density and gradients are finite
    assert bool(torch.isfinite(e.distribution.log_prob(z, p)).all())
    grads = pathwise_gradient(torch.log, e.distribution, p, 2_000, generator=_gen(2))
    assert all(bool(torch.isfinite(g).all()) for g in grads.values())


@pytest.mark.parametrize("dtype", [F32, F64])
@pytest.mark.parametrize(
    ("key", "params", "high"),
    [
        ("beta", {"concentration1": 0.01, "concentration0": 0.01}, 1.0),
        ("kumaraswamy", {"concentration1": 2.0, "concentration0": 0.05}, 1.0),
        ("kumaraswamy", {"concentration1": 0.05, "concentration0": 2.0}, 1.0),
        ("gamma", {"concentration": 0.01, "rate": 1.0}, INF),
        ("chi_squared", {"df": 0.02}, INF),
        ("f", {"df1": 0.05, "df2": 5.0}, INF),
        ("f", {"df1": 5.0, "df2": 0.05}, INF),
        ("inverse_gamma", {"concentration": 0.02, "rate": 1.0}, INF),
        ("weibull", {"scale": 1.0, "concentration": 0.02}, INF),
        ("pareto", {"scale": 1.0, "alpha": 0.05}, INF),
        ("student_t", {"df": 0.02, "loc": 0.0, "scale": 1.0}, INF),
    ],
)
def test_draws_stay_strictly_inside_the_support(
    key: str, params: dict[str, float], high: float, dtype: torch.dtype
) -> None:
    """Gamma, χ² and F returned exactly 0, Inverse-Gamma +inf, Beta and Kumaraswamy 0 or 1."""
    e = catalog.get(key)
    p = _p(dtype, **params)
    z = e.rsample(5_000, generator=_gen(3), **p)
    low = -INF if key == "student_t" else 0.0
    assert z.dtype == dtype and _inside(z, low, high)
    # Gradients are finite (clamped draws get 0) for a cost whose own derivative stays in
    # range: log z on (0, ∞), atan z on the real line (z itself, near the largest float,
    # has a derivative in α beyond it).
    cost = torch.atan if key == "student_t" else torch.log
    grads = pathwise_gradient(cost, e.distribution, p, 500, generator=_gen(4))
    assert all(bool(torch.isfinite(g).all()) for g in grads.values())


def test_dirichlet_components_stay_strictly_inside_the_unit_interval() -> None:
    z = catalog.get("dirichlet").rsample(
        5_000, generator=_gen(5), concentration=torch.full((3,), 0.01)
    )
    assert _inside(z, 0.0, 1.0)
    assert (z.sum(-1) - 1).abs().max().item() < 1e-6


# -- moments outside the range where they exist ------------------------------------------------
@pytest.mark.parametrize("df", [0.5, 1.0, 1.5, 2.0, 2.5, 10.0])
def test_student_t_second_moment_follows_scipy(df: float) -> None:
    """ν/(ν − 2) was used for every ν (negative "variances" for ν < 2)."""
    moment = catalog.get("student_t").moment.expectation
    ours = moment(_p(df=df, loc=0.5, scale=1.5)).item()
    expected = st.t(df, 0.5, 1.5).moment(2)
    if math.isnan(expected):
        assert math.isnan(ours)
    else:
        assert ours == pytest.approx(expected, rel=1e-12)
    mvt = catalog.get("multivariate_student_t").moment.expectation
    params = {"df": torch.tensor(df, dtype=F64), "loc": torch.zeros(2, dtype=F64)}
    value = mvt({**params, "scale_tril": torch.eye(2, dtype=F64)}).item()
    assert value == pytest.approx(2 * st.t(df).moment(2), rel=1e-12) or (
        math.isnan(value) and math.isnan(st.t(df).moment(2))
    )


@pytest.mark.parametrize("alpha", [0.5, 1.0, 1.5, 4.0])
def test_inverse_gamma_mean_follows_scipy(alpha: float) -> None:
    """β/(α − 1) was used for α ≤ 1, where the mean is infinite."""
    leaf = torch.tensor(alpha, dtype=F64, requires_grad=True)
    mean = catalog.get("inverse_gamma").moment.expectation(
        {"concentration": leaf, "rate": torch.tensor(2.0, dtype=F64)}
    )
    assert mean.item() == pytest.approx(st.invgamma(alpha, scale=2.0).mean(), rel=1e-12)
    (grad,) = torch.autograd.grad(mean, [leaf])
    expected = -2.0 / (alpha - 1) ** 2 if alpha > 1 else 0.0  # no NaN from the other branch
    assert grad.item() == pytest.approx(expected, rel=1e-12)


# -- errors name the parameter, the constraint and the offending value -------------------------
def test_tensor_errors_show_the_offending_entries() -> None:
    with pytest.raises(ValueError, match=r"scale must be strictly positive.*\[-2\.0\]"):
        reparam.normal_rsample(0.0, torch.tensor([1.0, -2.0, 3.0]), 3)
    with pytest.raises(ValueError, match=r"rate must be strictly positive.*\[-2\.0\]"):
        catalog.get("exponential").rsample(3, rate=torch.tensor([1.0, -2.0, 3.0]))
    with pytest.raises(ValueError, match=r"loc must be finite.*\[nan\]"):
        reparam.normal_log_prob(torch.zeros(3), torch.tensor([-1.0, NAN, 1.0]), 1.0)
    with pytest.raises(ValueError, match=r"probs must lie strictly between 0 and 1.*\[1\.0\]"):
        discrete.relaxed_bernoulli_sample(torch.tensor([0.5, 1.0]), 1.0, 2)


@pytest.mark.parametrize("scale", [0.0, -1.0, 0, np.float32(-2.0)])
def test_non_positive_python_and_numpy_scales(scale: float) -> None:
    with pytest.raises(ValueError, match=f"scale must be strictly positive, got {float(scale):g}"):
        reparam.normal_log_prob(torch.tensor([1.0]), 0.0, scale)
    with pytest.raises(ValueError, match=f"scale must be strictly positive, got {float(scale):g}"):
        reparam.normal_rsample(0.0, scale, 3)


def test_log_prob_validates_the_parameters_and_the_value() -> None:
    gamma = catalog.get("gamma").distribution
    with pytest.raises(ValueError, match="rate must be strictly positive, got -1"):
        gamma.log_prob(torch.tensor(1.0), {"concentration": 1.0, "rate": -1.0})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="value must broadcast"):
        gamma.log_prob(torch.ones(3), {"concentration": torch.ones(2), "rate": 1.0})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match=r"value must be a vector \(\.\.\., 2\)"):
        mvn = catalog.get("multivariate_normal")
        mvn.distribution.log_prob(torch.zeros(3), mvn.example_params())
    with pytest.raises(TypeError, match="value must be real"):
        reparam.normal_log_prob(torch.tensor([1 + 1j]), 0.0, 1.0)
    with pytest.raises(ValueError, match=r"shapes of value, loc, scale must broadcast"):
        reparam.normal_log_prob(torch.zeros(3), torch.zeros(2), 1.0)


@pytest.mark.parametrize("bad", [NAN, INF])
def test_non_finite_coefficients_of_the_test_costs(bad: float) -> None:
    for make, name in [
        (lambda: reparam.cosine_cost(bad), "k"),
        (lambda: reparam.quadratic_cost(bad), "k"),
        (lambda: reparam.linear_cost(1.0, bad), "b"),
        (lambda: reparam.constant_cost(bad), "c"),
    ]:
        with pytest.raises(ValueError, match=f"{name} must be finite"):
            make()


def test_integer_dtype_for_quadrature_nodes_and_noise() -> None:
    with pytest.raises(TypeError, match="dtype must be a floating"):
        reparam.quadrature.gauss_hermite_rule(5, dtype=torch.int64)
    with pytest.raises(TypeError, match="dtype must be a floating"):
        reparam.noise.uniform((2,), dtype=torch.int64)
    with pytest.raises(ValueError, match="shape must be at least 0, got -1"):
        reparam.noise.standard_normal((2, -1))


def test_summarize_integer_and_complex_draws() -> None:
    estimate = reparam.summarize(torch.tensor([1, 2, 3, 6]))
    assert estimate.mean.item() == 3.0
    assert estimate.std_error.item() == pytest.approx(np.std([1, 2, 3, 6], ddof=1) / 2)
    with pytest.raises(TypeError, match="draws must be real"):
        reparam.summarize(torch.ones(3, dtype=torch.complex64))
    with pytest.raises(ValueError, match="dim must be in"):
        reparam.summarize(torch.ones(3), dim=1)


def test_empty_parameters_give_empty_draws() -> None:
    for key in ("beta", "student_t", "erlang", "gamma", "normal"):
        e = catalog.get(key)
        p = {
            k: v.expand(0, *v.shape[v.dim() - q.event_dims :])
            for (k, v), q in zip(e.example_params().items(), e.distribution.parameters, strict=True)
        }
        assert e.rsample(3, generator=_gen(), **p).shape[:2] == (3, 0)


# -- the training loop of the book's chapters ---------------------------------------------------
def test_moving_average_update_checks_its_value_and_keeps_its_dtype() -> None:
    from reparam.book.training import MovingAverage

    average = MovingAverage(0.5)
    with pytest.raises(TypeError, match=r"^value must be a real number, got str$"):
        average.update("1.0")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^value must be a real number, got bool$"):
        average.update(True)
    with pytest.raises(TypeError, match=r"^value must be real, got a complex tensor"):
        average.update(torch.ones(2, dtype=torch.complex64))
    message = r"^value must be finite, got a tensor of shape \(2,\) containing \[nan\]$"
    with pytest.raises(ValueError, match=message):
        average.update(torch.tensor([1.0, NAN]))
    with pytest.raises(ValueError, match=r"^value must be finite, got inf$"):
        average.update(INF)
    assert average.value is None  # nothing folded in by a rejected value
    # numbers convert as torch.as_tensor converts them (a NumPy float64 stays float64)
    assert average.update(np.float64(0.1)).dtype == F64
    assert average.update(torch.tensor(1.0, dtype=F64)).item() == 0.5 * 0.1 + 0.5 * 1.0


def test_training_loop_arguments_name_the_parameter() -> None:
    from reparam.book import training

    weight = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([weight], lr=0.1)
    with pytest.raises(TypeError, match=r"^generator must be a torch.Generator, got NoneType$"):
        training.minibatches(10, 2, 3, generator=None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^step must be callable, got int$"):
        training.train(1, optimizer, 4, num_steps=1, batch_size=2, generator=_gen())  # type: ignore[arg-type]
    message = (
        r"^optimizer must be a torch.optim.Optimizer, reparam.book.optim.SGD or "
        r"reparam.book.optim.Adam, got NoneType$"
    )
    with pytest.raises(TypeError, match=message):
        training.train(lambda i: 0.0, None, 4, num_steps=1, batch_size=2, generator=_gen())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^evaluate must be callable, got int$"):
        training.train(
            lambda i: 0.0,
            optimizer,
            4,
            num_steps=1,
            batch_size=2,
            generator=_gen(),
            evaluate=1,  # type: ignore[arg-type]
        )
    message = r"^batch_size must not exceed num_examples \(4\), got 5$"
    with pytest.raises(ValueError, match=message):
        training.minibatches(4, 5, 3, generator=_gen())


# -- the whole audit ---------------------------------------------------------------------------
def test_audit_finds_no_silent_bad_result_and_no_obscure_error() -> None:
    path = ROOT / "tools" / "audit_bad_input.py"
    spec = importlib.util.spec_from_file_location("audit_bad_input", path)
    assert spec is not None and spec.loader is not None
    audit = importlib.util.module_from_spec(spec)
    sys.modules["audit_bad_input"] = audit  # dataclasses look their module up there
    spec.loader.exec_module(audit)
    audit.build_cases()
    bad = []
    for case in audit.CASES:
        audit.run(case)
        if case.outcome in ("silent bad result", "obscure error"):
            bad.append(f"{case.label}: {case.outcome}: {case.detail}")
    assert len(audit.CASES) > 250
    assert not bad, "\n".join(bad)
