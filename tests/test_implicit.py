"""Tests of the implicit Gamma reparameterization (reparam.catalog.implicit): the derivative
against high-precision values (mpmath), finite differences of scipy's inverse CDF and torch's
own Gamma gradient; Marsaglia–Tsang against the exact CDF; the test of Mohamed et al. (2020),
§9.1; Beta/Dirichlet agreement with torch; the Erlang route beside the implicit one."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import scipy.special as sp
import scipy.stats as st
import torch

from reparam import catalog
from reparam import noise as noise_module
from reparam.catalog.implicit import (
    gamma_log_draw,
    implicit_log_gamma,
    log_gamma_alpha_grad,
    log_gamma_alpha_grad_series,
    log_standard_gamma_rsample,
    temme_coefficients,
)
from reparam.estimators import pathwise_gradient

ALPHAS = [0.01, 0.1, 0.5, 1.0, 2.5, 10.0, 100.0, 1000.0]
QUANTILES = [0.01, 0.3, 0.5, 0.7, 0.99]


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _reference(alpha: float, x: float) -> float:
    """d log x/dα = −∂_α P(α, x) / (x p(x; α)) in 30-digit arithmetic."""
    mpmath.mp.dps = 30
    xm = mpmath.mpf(x)
    d_p = mpmath.diff(lambda a: mpmath.gammainc(a, 0, xm, regularized=True), alpha)
    log_density = (alpha - 1) * mpmath.log(xm) - xm - mpmath.loggamma(alpha)
    return float(-d_p / (xm * mpmath.exp(log_density)))


@pytest.mark.parametrize("alpha", ALPHAS)
def test_derivative_against_mpmath(alpha: float) -> None:
    xs = [float(sp.gammaincinv(alpha, u)) for u in QUANTILES]
    ours = log_gamma_alpha_grad(
        torch.tensor(alpha, dtype=torch.float64), torch.tensor(np.log(xs))
    ).numpy()
    ref = np.array([_reference(alpha, x) for x in xs])
    np.testing.assert_allclose(ours, ref, rtol=1e-10)


@pytest.mark.parametrize("alpha", ALPHAS)
def test_derivative_against_finite_differences_of_the_quantile(alpha: float) -> None:
    """Hold u = F(x; α) fixed and move α: (log F⁻¹(u; α + h) − log F⁻¹(u; α − h)) / 2h."""
    u = np.array(QUANTILES)
    h = 1e-5 * alpha
    fd = (np.log(sp.gammaincinv(alpha + h, u)) - np.log(sp.gammaincinv(alpha - h, u))) / (2 * h)
    x = sp.gammaincinv(alpha, u)
    ours = log_gamma_alpha_grad(torch.tensor(alpha, dtype=torch.float64), torch.tensor(np.log(x)))
    np.testing.assert_allclose(ours.numpy(), fd, rtol=1e-5)


@pytest.mark.parametrize("alpha", ALPHAS)
def test_derivative_against_torch(alpha: float) -> None:
    """torch's approximation of the same quantity agrees to its own accuracy (~1e-3)."""
    log_x = gamma_log_draw(torch.full((2_000,), alpha, dtype=torch.float64), _gen(0))
    x = log_x.exp()
    keep = x > 1e-300  # torch's gradient is computed on x itself
    ours = log_gamma_alpha_grad(torch.tensor(alpha, dtype=torch.float64), log_x)[keep]
    theirs = torch._standard_gamma_grad(torch.full_like(x, alpha), x)[keep] / x[keep]
    torch.testing.assert_close(ours, theirs, rtol=2e-3, atol=0.0)


def test_derivative_float32_and_underflowed_draws() -> None:
    alpha = torch.tensor(0.01, dtype=torch.float32)
    log_x = torch.tensor([-5000.0, -300.0, -1.0], dtype=torch.float32)  # x underflows
    g = log_gamma_alpha_grad(alpha, log_x)
    assert g.dtype == torch.float32 and bool(torch.isfinite(g).all())
    # For tiny x the series is its first term: d log x/dα = −(log x − ψ(α))/α + 1/α².
    a = 0.01
    expected = -(-5000.0 - sp.digamma(a)) / a + 1 / a**2
    assert abs(g[0].item() - expected) / abs(expected) < 1e-6


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("alpha", [0.01, 0.3, 1.0, 2.5, 50.0, 1000.0])
def test_marsaglia_tsang_fits_the_exact_cdf(alpha: float, dtype: torch.dtype) -> None:
    """Both working precisions (float32 proposals and test for float32 shapes)."""
    log_x = gamma_log_draw(torch.full((20_000,), alpha, dtype=dtype), _gen(1)).double()
    assert bool(torch.isfinite(log_x).all())
    # P(log G ≤ t) = P(α, e^t): exact on the log scale, where small shapes do not underflow.
    result = st.kstest(log_x.numpy(), lambda t: sp.gammainc(alpha, np.exp(t)))
    assert result.pvalue > 1e-3


def test_sampler_at_the_edges_of_the_uniform(monkeypatch: pytest.MonkeyPatch) -> None:
    def zeros(shape: tuple[int, ...], generator: object, dtype: torch.dtype) -> torch.Tensor:
        return torch.zeros(shape, dtype=dtype)

    monkeypatch.setattr(noise_module, "_raw_uniform", zeros)  # u = tiny: always accepted
    for dtype in (torch.float32, torch.float64):
        log_x = gamma_log_draw(torch.tensor([0.01, 0.5, 3.0], dtype=dtype), _gen(2))
        assert bool(torch.isfinite(log_x).all())


@pytest.mark.parametrize("theta", [0.01, 0.1, 1.0, 10.0, 100.0, 1000.0])
def test_mohamed_et_al_unit_derivative_of_the_mean(theta: float) -> None:
    """Mohamed et al. (2020), §9.1: for Gamma(θ, 1), d/dθ E[x] = 1 (10⁴ samples)."""
    n = 10_000
    alpha = torch.full((n,), theta, dtype=torch.float64, requires_grad=True)
    x = implicit_log_gamma(alpha, gamma_log_draw(alpha, _gen(3))).exp()
    x.sum().backward()
    assert alpha.grad is not None
    per_sample = alpha.grad
    se = per_sample.std().item() / math.sqrt(n)
    assert abs(per_sample.mean().item() - 1.0) < 5 * se


def test_rsample_shapes_dtypes_and_broadcast() -> None:
    alpha = torch.tensor([[0.5], [2.0]], dtype=torch.float32, requires_grad=True)
    z = log_standard_gamma_rsample(alpha, 6, generator=_gen(4))
    assert z.shape == (6, 2, 1) and z.dtype == torch.float32
    z.exp().sum().backward()
    assert alpha.grad is not None and alpha.grad.shape == alpha.shape
    assert bool(torch.isfinite(alpha.grad).all())


def _pathwise_statistics(
    e: catalog.CatalogEntry, p: dict[str, torch.Tensor], n: int, seed: int
) -> dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """name -> (mean, standard error, exact) of the pathwise gradient of the row's moment,
    with the standard error (sample std / sqrt(N)) computed here from the per-sample
    gradients, not taken from the package."""
    per_sample = pathwise_gradient(e.moment.function, e.distribution, p, n, generator=_gen(seed))
    leaves = {k: v.detach().clone().requires_grad_(k in per_sample) for k, v in p.items()}
    value = e.moment.expectation(leaves).sum()
    exact = torch.autograd.grad(value, [leaves[k] for k in per_sample], allow_unused=True)
    return {
        name: (
            g.double().mean(0),
            g.double().std(0) / math.sqrt(n),
            torch.zeros_like(g[0]).double() if ex is None else ex.double(),
        )
        for (name, g), ex in zip(per_sample.items(), exact, strict=True)
    }


@pytest.mark.parametrize("key", ["gamma", "beta", "dirichlet"])
def test_expected_gradients_agree_with_torch_rsample(key: str) -> None:
    e = catalog.get(key)
    n = 20_000
    for scale in (0.2, 1.0, 20.0):  # small, moderate and large shapes
        p = {
            k: v * scale if "concentration" in k else v
            for k, v in e.example_params(torch.float64).items()
        }
        ours = _pathwise_statistics(e, p, n, seed=5)
        for name, (mean, se, exact) in ours.items():
            assert bool(((mean - exact).abs() < 5 * se).all()), (key, scale, name, mean, se, exact)
        torch.manual_seed(5)
        leaves = {k: v.expand(n, *v.shape).clone().requires_grad_(True) for k, v in p.items()}
        assert e.torch_distribution is not None
        e.moment.function(e.torch_distribution(leaves).rsample().unsqueeze(0)).sum().backward()
        for name, (mean, se, _) in ours.items():
            g = leaves[name].grad
            assert g is not None
            diff = mean - g.mean(0)
            both = torch.sqrt(se.square() + g.var(0) / n)
            assert bool((diff.abs() < 5 * both).all()), (key, scale, name, diff, both)


def test_erlang_route_matches_implicit_route_at_integer_shape() -> None:
    """The sum of k exponentials and the implicit Gamma give the same law and gradient in λ."""
    n, k, rate = 20_000, 4.0, 1.5
    erlang, gamma = catalog.get("erlang"), catalog.get("gamma")
    a = erlang.rsample(n, generator=_gen(6), shape=k, rate=rate)
    b = gamma.rsample(n, generator=_gen(7), concentration=k, rate=rate)
    assert st.ks_2samp(a.numpy(), b.numpy()).pvalue > 1e-3
    p = {k_: torch.tensor(v, dtype=torch.float64) for k_, v in (("shape", k), ("rate", rate))}
    erlang_stats = _pathwise_statistics(erlang, p, n, seed=8)
    gamma_stats = _pathwise_statistics(
        gamma, {"concentration": p["shape"], "rate": p["rate"]}, n, seed=9
    )
    mean, se, exact = erlang_stats["rate"]
    assert abs(mean.item() - exact.item()) < 5 * se.item()
    g_mean, g_se, g_exact = gamma_stats["rate"]
    assert g_exact.item() == pytest.approx(exact.item(), rel=1e-12)  # same law, same moment
    assert abs(mean.item() - g_mean.item()) < 5 * math.hypot(se.item(), g_se.item())


def test_gamma_log_prob_names_a_bad_argument() -> None:
    with pytest.raises(TypeError, match=r"^z must be a real number or a torch.Tensor, got str"):
        catalog.implicit.gamma_log_prob("1.0", 1.0, 1.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^alpha must be a real number or a torch.Tensor"):
        log_standard_gamma_rsample("1.0", 2)  # type: ignore[arg-type]


def test_gamma_log_prob_computes_in_the_promoted_dtype() -> None:
    """float32 draws against float64 parameters: the density is computed (and returned) in
    float64, the dtype the three promote to, not in the draws' float32 (a 0-d float64
    tensor alone would not promote them). Exactly representable z, against scipy."""
    z = torch.tensor([0.5, 1.25, 3.0], dtype=torch.float32)
    alpha, beta = torch.tensor(2.5, dtype=torch.float64), torch.tensor(1.5, dtype=torch.float64)
    for ours in (
        catalog.implicit.gamma_log_prob(z, alpha, beta),
        catalog.implicit.gamma_log_prob(z, alpha.expand(3), beta),
    ):
        assert ours.dtype == torch.float64
        expected = st.gamma(a=2.5, scale=1 / 1.5).logpdf(z.double().numpy())
        np.testing.assert_allclose(ours.numpy(), expected, rtol=1e-13)


def test_tail_gradients_of_many_shapes_do_not_depend_on_the_default_device() -> None:
    """Many distinct shapes (the broadcast evaluation) at draws in both tails (the series
    below Temme's window, the continued fraction above it): with another default device
    set (``meta``), CPU inputs give the same numbers, on the CPU."""
    a = torch.linspace(0.05, 60.0, 41, dtype=torch.float64)
    for log_x in (
        a.log() - 6.0,
        a.log() + 3.5 + 30 / a.sqrt(),
        torch.stack([a.log() - 6.0, a.log() + 3.5 + 30 / a.sqrt()]),
    ):
        expected = log_gamma_alpha_grad(a, log_x)
        with torch.device("meta"):
            got = log_gamma_alpha_grad(a, log_x)
        assert got.device.type == "cpu" and torch.equal(got, expected)


def test_rounding_a_real_shape_to_exponentials_is_wrong() -> None:
    """The known error on the Gamma row: Gamma(2.5) is not a sum of round(2.5) exponentials."""
    n = 20_000
    wrong = catalog.get("erlang").rsample(n, generator=_gen(9), shape=2.0, rate=1.0)
    assert st.kstest(wrong.numpy(), st.gamma(2.5).cdf).pvalue < 1e-10
    right = catalog.get("gamma").rsample(n, generator=_gen(9), concentration=2.5, rate=1.0)
    assert st.kstest(right.numpy(), st.gamma(2.5).cdf).pvalue > 1e-3


@pytest.mark.parametrize("layout", ["one shape", "a few shapes", "many shapes"])
def test_fast_path_matches_the_iterated_series(layout: str) -> None:
    """The fixed-length evaluation (series, Temme's expansion, shift, continued fraction) against
    the series/continued fraction iterated to convergence, in each of its code paths: one
    shape, up to 16 distinct shapes, and many shapes (coefficients broadcast); log-draws from
    far below to far above each shape, float64."""
    count = {"one shape": 1, "a few shapes": 7, "many shapes": 40}[layout]
    alpha = torch.logspace(-2, 3, count, dtype=torch.float64).reshape(count, 1)
    if layout == "one shape":
        alpha = torch.tensor([[2.5]], dtype=torch.float64)
    t = torch.linspace(-1.0, 1.0, 301, dtype=torch.float64)
    # from z = 1e-12 α to z = 30 α (and beyond 20 for small shapes), on the log scale
    log_x = (
        torch.log(alpha)
        + torch.where(t < 0, 27.6 * t, 3.5 * t)
        + torch.where(alpha < 8, 0.5 * t.clamp(min=0), 0.0)
    )
    ours = log_gamma_alpha_grad(alpha, log_x)
    reference = log_gamma_alpha_grad_series(alpha, log_x)
    torch.testing.assert_close(ours, reference, rtol=1e-9, atol=0.0)


def test_temme_coefficients_reproduce_stirling_and_known_values() -> None:
    """The exact table: B_0 = l/(e^l − 1) (Bernoulli numbers), and at l = 0 the first order
    B_1(0) = 1/12, from DLMF 8.12's c_0 = −1/3 + l/12 + O(l²)."""
    table = temme_coefficients()
    assert table.shape[0] == 17
    assert table[0, :4].tolist() == pytest.approx([1.0, -0.5, 1 / 12, 0.0], abs=1e-15)
    # B_1 = l c_1 − c_0/2 − c_0'; at l = 0: −c_0(0)/2 − c_0'(0) = 1/6 − 1/12 = 1/12.
    assert table[1, 0].item() == pytest.approx(1 / 12, rel=1e-14)


def test_gradient_figure_draws_one_curve_per_quantile_in_each_panel() -> None:
    import matplotlib.pyplot as plt

    from reparam.book.plotting import plot_implicit_gradient

    alphas = torch.logspace(-2, 3, 6, dtype=torch.float64)
    quantiles = [0.3, 0.7]
    ours = torch.stack(
        [
            log_gamma_alpha_grad(alphas, torch.tensor(sp.gammaincinv(alphas.numpy(), u)).log())
            for u in quantiles
        ]
    )
    fig = plot_implicit_gradient(quantiles, alphas, ours, torch.full_like(ours, 1e-6))
    left, right = fig.axes
    assert len(left.get_lines()) == len(right.get_lines()) == len(quantiles)
    assert left.get_xscale() == right.get_xscale() == "log"
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["u = 0.3", "u = 0.7"]
    plt.close(fig)


def test_float32_gradient_is_the_float64_one_rounded() -> None:
    """For float32 log-draws the default truncation tolerance is 1e-10 (1e-15 for float64):
    against the float64 evaluation of the same draws, rounded to float32, the result differs
    by at most one unit in the last place, and almost never at all."""
    total = differ = 0
    for shape in (0.05, 0.7, 2.5, 7.0, 30.0):
        alpha = torch.tensor(shape)
        log_x = gamma_log_draw(alpha.expand(20_000), _gen(12))
        ours = log_gamma_alpha_grad(alpha, log_x)
        rounded = log_gamma_alpha_grad(alpha.double(), log_x.double()).float()
        ulp = torch.finfo(torch.float32).eps * rounded.abs()  # at least one unit in the last place
        assert bool(((ours - rounded).abs() <= ulp).all()), shape
        total += ours.numel()
        differ += int((ours != rounded).sum())
    assert differ <= 1e-3 * total


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_draws_do_not_depend_on_how_the_shapes_are_stored(dtype: torch.dtype) -> None:
    """Shapes as an expanded view (the sampler's constants computed once per distinct shape,
    gathered for the redraws) or as a full tensor: the same draws from the same generator,
    for shapes below 1 (the boost) and above."""
    shapes = [0.3, 2.5, 40.0]  # 60 000 draws each: a 1 % share of redraws made wrong shows
    alpha = torch.tensor([shapes], dtype=dtype).expand(60_000, 3)
    expanded = gamma_log_draw(alpha, _gen(13))
    stored = gamma_log_draw(alpha.contiguous(), _gen(13))
    assert torch.equal(expanded, stored)
    for i, shape in enumerate(shapes):  # and each column follows its own shape
        log_x = expanded[:, i].double().numpy()
        assert st.kstest(log_x, lambda t, a=shape: sp.gammainc(a, np.exp(t))).pvalue > 1e-3
    one_at_a_time = torch.stack(
        [gamma_log_draw(alpha[:, i].contiguous(), _gen(14)) for i in range(3)], dim=1
    )
    assert not torch.equal(one_at_a_time, expanded)  # the test can tell draws apart


def test_a_nan_draw_leaves_the_other_gradients_exact() -> None:
    """A NaN among the log-draws gives NaN there and leaves the other entries as they are
    without it (the window of the expansion does not come from the NaN's range)."""
    alpha = torch.tensor(2.5, dtype=torch.float64)
    log_x = gamma_log_draw(alpha.expand(2_000), _gen(15))
    with_nan = log_gamma_alpha_grad(alpha, torch.cat([log_x.new_tensor([math.nan]), log_x]))
    assert math.isnan(with_nan[0].item())
    torch.testing.assert_close(with_nan[1:], log_gamma_alpha_grad(alpha, log_x), rtol=1e-13, atol=0)


def test_far_tail_on_python_floats_matches_the_vectorised_fraction() -> None:
    """The continued fraction of the far upper tail runs on Python floats for a few entries
    (as the fast path meets them) and vectorised for many: the same steps, the same values."""
    alpha = torch.tensor([0.01, 0.5, 2.5, 7.9, 30.0], dtype=torch.float64).repeat(8)
    log_x = torch.log(alpha + 12.0 * alpha.sqrt() + 8.0)  # far above each shape's bulk
    vectorised = catalog.implicit._fraction_grad(alpha, log_x, 1e-15)  # 40 entries
    few = [
        catalog.implicit._fraction_grad(alpha[i : i + 5], log_x[i : i + 5], 1e-15)
        for i in range(0, 40, 5)
    ]
    assert torch.equal(torch.cat(few), vectorised)


def test_series_degree_does_not_depend_on_the_default_device() -> None:
    # The degree is worked out on the CPU; with another default device (here "meta", whose
    # tensors hold no values) a tensor made without device= would silently change it.
    from reparam.catalog import implicit

    expected = [implicit._temme_degree(a, span, 1e-15) for a, span in [(2.5, 1.0), (8.0, 0.5)]]
    implicit._temme_bound_table.cache_clear()
    implicit.temme_coefficients.cache_clear()
    torch.set_default_device("meta")
    try:
        got = [implicit._temme_degree(a, span, 1e-15) for a, span in [(2.5, 1.0), (8.0, 0.5)]]
    finally:
        torch.set_default_device("cpu")
        implicit._temme_bound_table.cache_clear()
        implicit.temme_coefficients.cache_clear()
    assert got == expected
