"""Tests of reparam.catalog: every row against independent oracles (scipy.stats, closed forms,
torch.distributions), in float32 and float64, with broadcasting, at the edges of the uniform,
and under property-based (hypothesis) checks of validation and finiteness."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import scipy.special
import scipy.stats as st
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

import reparam
from reparam import catalog
from reparam import noise as noise_module
from reparam.catalog import entry as entry_module
from reparam.catalog.entry import CatalogEntry
from reparam.estimators import pathwise_gradient

KEYS = list(catalog.CATALOG)
TORCH_KEYS = [k for k, e in catalog.CATALOG.items() if e.torch_distribution is not None]
CDF_KEYS = [k for k, e in catalog.CATALOG.items() if e.cdf is not None]


def _f(p: dict[str, torch.Tensor], name: str) -> float:
    return float(p[name])


def _sum_sd(p: dict[str, torch.Tensor]) -> float:
    return float(p["scale_tril"].tril().sum(-2).norm())


#: scipy.stats oracle of each row's (scalar summary of the) draws, built from the parameters.
SCIPY: dict[str, Callable[[dict[str, torch.Tensor]], object]] = {
    "exponential": lambda p: st.expon(scale=1 / _f(p, "rate")),
    "cauchy": lambda p: st.cauchy(_f(p, "loc"), _f(p, "scale")),
    "logistic": lambda p: st.logistic(_f(p, "loc"), _f(p, "scale")),
    "rayleigh": lambda p: st.rayleigh(scale=_f(p, "scale")),
    "pareto": lambda p: st.pareto(_f(p, "alpha"), scale=_f(p, "scale")),
    "weibull": lambda p: st.weibull_min(_f(p, "concentration"), scale=_f(p, "scale")),
    "reciprocal": lambda p: st.loguniform(_f(p, "low"), _f(p, "high")),
    "gompertz": lambda p: st.gompertz(_f(p, "shape"), scale=1 / _f(p, "rate")),
    "gumbel": lambda p: st.gumbel_r(_f(p, "loc"), _f(p, "scale")),
    "erlang": lambda p: st.gamma(_f(p, "shape"), scale=1 / _f(p, "rate")),
    "kumaraswamy": lambda p: (
        st.kumaraswamy(_f(p, "concentration1"), _f(p, "concentration0"))
        if hasattr(st, "kumaraswamy")
        else None
    ),
    "laplace": lambda p: st.laplace(_f(p, "loc"), _f(p, "scale")),
    "multivariate_normal": lambda p: st.norm(float(p["loc"].sum()), _sum_sd(p)),
    "multivariate_student_t": lambda p: st.t(_f(p, "df"), float(p["loc"].sum()), _sum_sd(p)),
    "student_t": lambda p: st.t(_f(p, "df"), _f(p, "loc"), _f(p, "scale")),
    "uniform": lambda p: st.uniform(_f(p, "low"), _f(p, "high") - _f(p, "low")),
    "triangular": lambda p: st.triang(
        (_f(p, "mode") - _f(p, "low")) / (_f(p, "high") - _f(p, "low")),
        _f(p, "low"),
        _f(p, "high") - _f(p, "low"),
    ),
    "normal": lambda p: st.norm(_f(p, "loc"), _f(p, "scale")),
    "half_normal": lambda p: st.halfnorm(scale=_f(p, "scale")),
    "log_normal": lambda p: st.lognorm(_f(p, "scale"), scale=math.exp(_f(p, "loc"))),
    "dirichlet": lambda p: st.beta(
        float(p["concentration"][0]), float(p["concentration"].sum() - p["concentration"][0])
    ),
    "beta": lambda p: st.beta(_f(p, "concentration1"), _f(p, "concentration0")),
    "chi_squared": lambda p: st.chi2(_f(p, "df")),
    "f": lambda p: st.f(_f(p, "df1"), _f(p, "df2")),
    "inverse_gamma": lambda p: st.invgamma(_f(p, "concentration"), scale=_f(p, "rate")),
    "box_muller": lambda p: st.norm(_f(p, "loc"), _f(p, "scale")),
    "laplace_log_ratio": lambda p: st.laplace(_f(p, "loc"), _f(p, "scale")),
    "gamma": lambda p: st.gamma(_f(p, "concentration"), scale=1 / _f(p, "rate")),
}


def _kumaraswamy_cdf(p: dict[str, torch.Tensor]) -> Callable[[np.ndarray], np.ndarray]:
    a, b = _f(p, "concentration1"), _f(p, "concentration0")
    return lambda x: 1 - (1 - np.asarray(x) ** a) ** b


def _scipy_cdf(key: str, p: dict[str, torch.Tensor]) -> Callable[[np.ndarray], np.ndarray]:
    frozen = SCIPY[key](p)
    if frozen is None:  # scipy without a Kumaraswamy distribution: its closed-form CDF
        return _kumaraswamy_cdf(p)
    return frozen.cdf  # type: ignore[attr-defined]


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# -- the registry ---------------------------------------------------------------------------
def test_registry_covers_the_issue() -> None:
    names = {e.name for e in catalog.CATALOG.values()}
    kingma_welling = [
        "Exponential", "Cauchy", "Logistic", "Rayleigh", "Pareto", "Weibull", "Reciprocal",
        "Gompertz", "Gumbel", "Erlang", "Laplace", "Multivariate Gaussian",
        "Multivariate Student's t", "Student's t", "Uniform", "Triangular", "Gaussian",
        "Log-Normal", "Gamma", "Dirichlet", "Beta", "Chi-squared", "F",
    ]  # fmt: skip
    extra = ["Gaussian (Box–Muller)", "Laplace (log-ratio)", "Inverse-Gamma", "Kumaraswamy",
             "Half-Normal"]  # fmt: skip
    assert set(kingma_welling + extra) <= names
    assert set(SCIPY) == set(catalog.CATALOG)
    assert catalog.get("normal").distribution is reparam.NORMAL
    assert {e.approach for e in catalog.CATALOG.values()} == set(catalog.APPROACHES)
    with pytest.raises(KeyError, match="known"):
        catalog.get("nope")
    with pytest.raises(ValueError, match="approach"):
        catalog.entries("sideways")  # type: ignore[arg-type]


def test_table_is_generated_from_the_catalog() -> None:
    table = catalog.catalog_table()
    assert table.count("\n") == len(catalog.CATALOG) + 2
    for e in catalog.CATALOG.values():
        assert e.name in table and e.formula in table.replace("\\vert ", "|")
    assert "(implicit)" in catalog.catalog_table("implicit")


# -- goodness of fit ------------------------------------------------------------------------
@pytest.mark.parametrize("key", KEYS)
def test_goodness_of_fit_float64(key: str) -> None:
    e = catalog.get(key)
    p = e.example_params(torch.float64)
    z = e.rsample(20_000, generator=_gen(1), **p)
    stat = e.summary(z).numpy()
    result = st.kstest(stat, _scipy_cdf(key, p))
    assert result.pvalue > 1e-3, f"{key}: KS statistic {result.statistic:.4f}"


@pytest.mark.parametrize("key", KEYS)
def test_goodness_of_fit_float32(key: str) -> None:
    e = catalog.get(key)
    p = e.example_params(torch.float32)
    z = e.rsample(5_000, generator=_gen(2), **p)
    assert z.dtype == torch.float32 and bool(torch.isfinite(z).all())
    result = st.kstest(e.summary(z).double().numpy(), _scipy_cdf(key, p))
    assert result.pvalue > 1e-3, f"{key}: KS statistic {result.statistic:.4f}"


@pytest.mark.parametrize("key", CDF_KEYS)
def test_cdf_matches_scipy(key: str) -> None:
    e = catalog.get(key)
    p = e.example_params(torch.float64)
    z = e.summary(e.rsample(200, generator=_gen(3), **p))
    assert e.cdf is not None
    ours = e.cdf(z, p).numpy()
    np.testing.assert_allclose(ours, _scipy_cdf(key, p)(z.numpy()), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("key", KEYS)
def test_log_density_matches_scipy(key: str) -> None:
    e = catalog.get(key)
    p = e.example_params(torch.float64)
    z = e.rsample(200, generator=_gen(4), **p)
    s = e.summary(z)
    frozen: Any = SCIPY[key](p)
    if frozen is not None:
        np.testing.assert_allclose(
            e.summary_log_prob(s, p).numpy(), frozen.logpdf(s.numpy()), rtol=1e-9, atol=1e-9
        )
    if e.torch_distribution is not None:  # the full (joint) density against torch
        ours = e.distribution.log_prob(z, p)
        theirs = e.torch_distribution(p).log_prob(z)
        torch.testing.assert_close(ours, theirs, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize(
    ("key", "outside"),
    [("gamma", -1.0), ("chi_squared", -1.0), ("f", -1.0), ("dirichlet", -1.0),
     ("exponential", -1.0), ("gumbel", -math.inf)],
)  # fmt: skip
def test_log_density_without_masks_matches_the_masked_one(key: str, outside: float) -> None:
    """With every value strictly inside the support, a log-density skips its clamp, its −inf
    mask and xlogy; one value outside the support (or infinite) in the same call sends every
    value through them. Both agree, values and gradients, on the values they share."""
    e = catalog.get(key)
    p = {k: v.requires_grad_() for k, v in e.example_params(torch.float64).items()}
    z = e.rsample(300, generator=_gen(21), **p).detach()
    inside = e.distribution.log_prob(z, p)
    masked = e.distribution.log_prob(torch.cat([z, torch.full_like(z[:1], outside)]), p)
    assert masked[-1].item() == -math.inf
    torch.testing.assert_close(masked[:-1], inside, rtol=1e-12, atol=1e-12)
    leaves = list(p.values())
    for ours, theirs in zip(
        torch.autograd.grad(inside.sum(), leaves),
        torch.autograd.grad(masked[:-1].sum(), leaves),
        strict=True,
    ):
        torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    ("factor_batch", "value_batch"),
    [((), (40,)), ((4,), (40, 4)), ((4,), (40, 1)), ((1,), (40, 4)), ((2, 1), (40, 2, 3)),
     ((2, 3), (3,)), ((3, 1, 2), (5, 3, 4, 2)), ((), ()), ((2,), (0, 2))],
)  # fmt: skip
def test_mahalanobis_solves_once_per_factor(
    factor_batch: tuple[int, ...], value_batch: tuple[int, ...]
) -> None:
    """‖L⁻¹x‖² with the draws as the rows of one solve per distinct factor L, against a solve
    per draw with L expanded to every draw: values and gradients, batch shapes broadcasting."""
    mahalanobis = catalog.location_scale._mahalanobis
    g = _gen(22)
    d = 3
    tril = torch.randn(*factor_batch, d, d, generator=g, dtype=torch.float64).tril()
    tril.diagonal(dim1=-2, dim2=-1).copy_(torch.rand(*factor_batch, d, generator=g) + 0.5)
    tril.requires_grad_()
    x = torch.randn(*value_batch, d, generator=g, dtype=torch.float64, requires_grad=True)
    batch = torch.broadcast_shapes(factor_batch, value_batch)
    ours = mahalanobis(tril, x)
    white = torch.linalg.solve_triangular(
        tril.expand(*batch, d, d), x.expand(*batch, d).unsqueeze(-1), upper=False
    )
    theirs = white.squeeze(-1).square().sum(-1)
    assert ours.shape == batch
    torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-12)
    weights = torch.rand(batch, generator=g, dtype=torch.float64)  # every entry its own weight
    for a, b in zip(
        torch.autograd.grad((ours * weights).sum(), [tril, x]),
        torch.autograd.grad((theirs * weights).sum(), [tril, x]),
        strict=True,
    ):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


# -- gradients ------------------------------------------------------------------------------
def _own_gradient_statistics(
    e: CatalogEntry, p: dict[str, torch.Tensor], n: int, seed: int
) -> dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """name -> (mean, standard error, exact) of the pathwise gradient of the row's moment.

    The mean and the standard error (sample std / sqrt(N)) are computed *here* from the
    per-sample gradients, never taken from :func:`catalog.gradient_check`, so that a wrong
    error bar in the package cannot widen the test's tolerance; the exact derivative is
    autograd through the row's closed-form expectation.
    """
    per_sample = pathwise_gradient(e.moment.function, e.distribution, p, n, generator=_gen(seed))
    leaves = {k: v.detach().clone().requires_grad_(k in per_sample) for k, v in p.items()}
    value = e.moment.expectation(leaves).sum()
    exact = torch.autograd.grad(value, [leaves[k] for k in per_sample], allow_unused=True)
    out = {}
    for (name, g), ex in zip(per_sample.items(), exact, strict=True):
        g64 = g.double()
        ex64 = torch.zeros_like(g64[0]) if ex is None else ex.double()
        out[name] = (g64.mean(0), g64.std(0) / math.sqrt(n), ex64)
    return out


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_gradient_check(key: str, dtype: torch.dtype) -> None:
    """Every row's pathwise gradient of its moment within 5 standard errors of the exact one."""
    e = catalog.get(key)
    stats = _own_gradient_statistics(e, e.example_params(dtype), 20_000, seed=5)
    assert stats
    for name, (mean, se, exact) in stats.items():
        assert bool(torch.isfinite(mean).all() and torch.isfinite(se).all()), name
        gap = (mean - exact).abs()
        # Plus the rounding of the per-sample gradients themselves (a few ulps of the dtype):
        # it matters where they are (nearly) constant, e.g. float32 Pareto's d/d scale.
        rounding = 8 * torch.finfo(dtype).eps * exact.abs() + 1e-12
        ok = gap <= 5 * se + rounding
        assert bool(ok.all()), f"{key}.{name}: {mean} ± {se}, exact {exact}"


@pytest.mark.parametrize("key", KEYS)
def test_gradient_check_reports_the_statistics_computed_here(key: str) -> None:
    """catalog.gradient_check (used by the book's table) against the test's own mean, standard
    error sample std / sqrt(N), exact derivative and z-score, component by component; the
    upper triangle of a Cholesky factor (structurally zero) is skipped, nothing else."""
    e, n = catalog.get(key), 300
    p = e.example_params(torch.float64)
    stats = _own_gradient_statistics(e, p, n, seed=15)
    checks = catalog.gradient_check(e, n, generator=_gen(15), params=p)
    expected_components = {
        (name, tuple(i))
        for name, (mean, _, _) in stats.items()
        for i in np.ndindex(*mean.shape)
        if not (name == "scale_tril" and i[1] > i[0])
    }
    assert {(c.parameter, c.index) for c in checks} == expected_components
    assert len(checks) == len(expected_components)
    for c in checks:
        mean, se, exact = (t[c.index].item() for t in stats[c.parameter])
        assert c.key == key
        assert c.estimate == pytest.approx(mean, rel=1e-12, abs=1e-300)
        assert c.std_error == pytest.approx(se, rel=1e-12, abs=1e-300)
        assert c.exact == pytest.approx(exact, rel=1e-12, abs=1e-300)
        if se > 0:
            assert c.z_score == pytest.approx((mean - exact) / se, rel=1e-9)


def test_gradient_check_z_score_and_table() -> None:
    check = catalog.GradientCheck("gamma", "rate", (), 1.5, 0.25, 1.0)
    assert check.z_score == pytest.approx(2.0)
    assert catalog.GradientCheck("gamma", "rate", (), 1.0, 0.0, 1.0).z_score == 0.0
    assert catalog.GradientCheck("gamma", "rate", (), 1.1, 0.0, 1.0).z_score == math.inf
    table = catalog.gradient_check_table(
        [check, catalog.GradientCheck("dirichlet", "concentration", (1,), -0.5, 0.125, -0.25)]
    )
    lines = table.splitlines()
    assert lines[0].startswith("| distribution | parameter |") and len(lines) == 4
    assert lines[2] == "| Gamma | `rate` | 1.5000 | 0.2500 | 1.0000 | +2.00 |"
    assert lines[3] == "| Dirichlet | `concentration[1]` | -0.5000 | 0.1250 | -0.2500 | -2.00 |"


def _torch_per_sample(
    e: CatalogEntry, p: dict[str, torch.Tensor], n: int
) -> dict[str, torch.Tensor]:
    """Per-sample pathwise gradients through torch.distributions' rsample (one draw per copy)."""
    torch.manual_seed(6)  # torch.distributions draws from the global generator
    leaves = {k: v.expand(n, *v.shape).clone().requires_grad_(True) for k, v in p.items()}
    assert e.torch_distribution is not None
    z = e.torch_distribution(leaves).rsample()
    e.moment.function(z.unsqueeze(0)).sum().backward()
    names = [q.name for q in e.distribution.parameters if q.differentiable]
    return {k: leaves[k].grad for k in names if leaves[k].grad is not None}  # type: ignore[misc]


@pytest.mark.parametrize("key", TORCH_KEYS)
def test_agrees_with_torch_rsample_gradients(key: str) -> None:
    e = catalog.get(key)
    p = e.example_params(torch.float64)
    n = 20_000
    ours = pathwise_gradient(e.moment.function, e.distribution, p, n, generator=_gen(7))
    theirs = _torch_per_sample(e, p, n)
    for name, g in ours.items():
        t = theirs[name]
        diff = g.mean(0) - t.mean(0)
        se = torch.sqrt(g.var(0) / n + t.var(0) / n)
        ok = (diff.abs() <= 5 * se) | (diff.abs() < 1e-12)
        assert bool(ok.all()), f"{key}.{name}: {diff} vs s.e. {se}"


# -- shapes, dtypes, devices -----------------------------------------------------------------
def _batched(e: CatalogEntry) -> dict[str, torch.Tensor]:
    """Example parameters with the first one given a batch shape (2, 1), the rest (3,)."""
    out = {}
    for i, q in enumerate(e.distribution.parameters):
        v = e.example_params(torch.float64)[q.name]
        event = v.shape[v.dim() - q.event_dims :]
        batch = (2, 1) if i == 0 else (3,)
        out[q.name] = v.expand(*batch, *event).clone()
    return out


@pytest.mark.parametrize("key", KEYS)
def test_broadcasting(key: str) -> None:
    e = catalog.get(key)
    p = _batched(e)
    z = e.rsample(7, generator=_gen(8), **p)
    event = e.rsample(1, generator=_gen(8), **e.example_params(torch.float64)).shape[1:]
    batch = (2, 3) if len(e.distribution.parameters) > 1 else (2, 1)
    assert z.shape == (7, *batch, *event)
    assert bool(torch.isfinite(z).all())
    grads = pathwise_gradient(e.moment.function, e.distribution, p, 5, generator=_gen(9))
    for name, g in grads.items():
        assert g.shape == (5, *p[name].shape) and bool(torch.isfinite(g).all())


@pytest.mark.parametrize("key", KEYS)
def test_moment_is_per_batch_element(key: str) -> None:
    """The moment's function and closed-form expectation act per batch element (no sum over
    the batch): with the example parameters broadcast to a batch, every entry of the
    expectation is the example's."""
    e = catalog.get(key)
    p = _batched(e)
    batch = e.distribution.batch_shape(e.distribution.validate(p))
    expected = e.moment.expectation(e.example_params(torch.float64))
    torch.testing.assert_close(e.moment.expectation(p), expected.expand(batch))
    z = e.rsample(5, generator=_gen(16), **p)
    assert e.moment.function(z).shape == (5, *batch)


@pytest.mark.parametrize("key", KEYS)
def test_dtype_follows_parameters_and_generator_is_reproducible(key: str) -> None:
    e = catalog.get(key)
    for dtype in (torch.float32, torch.float64):
        p = e.example_params(dtype)
        a = e.rsample(50, generator=_gen(10), **p)
        b = e.rsample(50, generator=_gen(10), **p)
        assert a.dtype == dtype and torch.equal(a, b)


# -- the edges of the uniform ------------------------------------------------------------------
IMPLICIT_KEYS = [k for k, e in catalog.CATALOG.items() if e.implicit]
# Every row at the bottom edge; at the top edge every row but the Gamma-based ones: with every
# uniform at 1 − eps/2, Marsaglia–Tsang's acceptance test log u < h(x) (h ≤ 0, 0 only at x = 0)
# essentially never passes. Those rows are checked at the top edge below, with the uniforms of
# the acceptance step drawn normally and every other uniform pinned.
EDGE_CASES = [
    (key, dtype, edge)
    for key in KEYS
    for dtype in (torch.float32, torch.float64)
    for edge in ("zero", "top")
    if not (edge == "top" and key in IMPLICIT_KEYS)
]


def _pinned_uniform(edge: str) -> Callable[[tuple[int, ...], object, torch.dtype], torch.Tensor]:
    """A stand-in for torch.rand returning its extreme outputs: 0, or (alternately) the
    largest value below 1 and 1 itself, which the clamp must also absorb."""

    def constant(shape: tuple[int, ...], generator: object, d: torch.dtype) -> torch.Tensor:
        value = 0.0 if edge == "zero" else 1.0
        out = torch.full(shape, value, dtype=d)
        if edge == "top":
            out[..., ::2] = 1.0 - torch.finfo(d).eps / 2
        return out

    return constant


@pytest.mark.parametrize(("key", "dtype", "edge"), EDGE_CASES)
def test_uniform_edges_stay_finite(
    key: str, dtype: torch.dtype, edge: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Replace torch.rand by its extreme outputs: draws and gradients stay finite."""
    e = catalog.get(key)
    monkeypatch.setattr(noise_module, "_raw_uniform", _pinned_uniform(edge))
    p = e.example_params(dtype)
    z = e.rsample(4, generator=_gen(11), **p)
    assert bool(torch.isfinite(z).all()), z
    grads = pathwise_gradient(e.moment.function, e.distribution, p, 4, generator=_gen(11))
    for name, g in grads.items():
        assert bool(torch.isfinite(g).all()), (name, g)


@pytest.mark.parametrize("key", IMPLICIT_KEYS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gamma_rows_at_the_top_edge_of_the_uniform(
    key: str, dtype: torch.dtype, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Gamma-based rows with every uniform outside the acceptance step (the boost U of shapes
    below 1, log G_α = log G_{α+1} + log(U)/α) pinned at 1 − eps/2 and 1, while the acceptance
    step's uniforms and all normal draws are ordinary: draws and gradients stay finite. The
    shapes are scaled down (by 0.1) so that the boost is exercised; the draws are many (64),
    so that the top edge meets both tails of the gradient's evaluation."""
    e = catalog.get(key)
    real_uniform = noise_module._raw_uniform
    real_sampler = catalog.implicit._marsaglia_tsang  # the acceptance step

    def sampler_with_ordinary_uniforms(
        shapes: torch.Tensor,
        shape: torch.Size,
        dtype: torch.dtype,
        generator: torch.Generator | None,
    ) -> torch.Tensor:
        with monkeypatch.context() as inner:
            inner.setattr(noise_module, "_raw_uniform", real_uniform)
            return real_sampler(shapes, shape, dtype, generator)

    monkeypatch.setattr(catalog.implicit, "_marsaglia_tsang", sampler_with_ordinary_uniforms)
    monkeypatch.setattr(noise_module, "_raw_uniform", _pinned_uniform("top"))
    p = {k: v * 0.1 if k in e.implicit else v for k, v in e.example_params(torch.float64).items()}
    p = {k: v.to(dtype) for k, v in p.items()}
    assert any(bool((p[k] * (0.5 if k.startswith("df") else 1.0) < 1).any()) for k in e.implicit)
    z = e.rsample(64, generator=_gen(11), **p)
    assert bool(torch.isfinite(z).all()), z
    grads = pathwise_gradient(e.moment.function, e.distribution, p, 64, generator=_gen(11))
    for name, g in grads.items():
        assert bool(torch.isfinite(g).all()), (name, g)


def test_marsaglia_tsang_fails_loudly_when_every_uniform_is_at_the_top(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With every acceptance uniform at 1 − eps/2 the sampler (almost) cannot accept: it raises
    after its round limit instead of looping forever or returning NaN. Run in float64: the test's
    right-hand side is −x⁴/(36d) + O(x⁵) near x = 0, so float32's log(1 − 2^-24) ≈ −6e-8 is
    legitimately beaten by a few per cent of the proposals (|x| ≲ 0.03), float64's only by
    |x| ≲ 2e-4."""
    monkeypatch.setattr(noise_module, "_raw_uniform", _pinned_uniform("top"))
    p = {
        k: torch.tensor(v, dtype=torch.float64) for k, v in (("concentration", 2.5), ("rate", 1.0))
    }
    with pytest.raises(RuntimeError, match="did not accept"):
        catalog.get("gamma").rsample(4, generator=_gen(11), **p)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_exp_in_range_at_the_edges_of_the_dtype(dtype: torch.dtype) -> None:
    """exp(x) within [tiny, max] of the dtype: just below log(tiny) (where exp(x) is
    subnormal) and far below, the result is tiny; above log(max) it is finite; elsewhere it
    is exp(x) bit for bit."""
    info = torch.finfo(dtype)
    log_tiny, log_max = math.log(info.tiny), math.log(info.max)
    below = torch.tensor([log_tiny * (1 + 2 * info.eps), log_tiny - 1.0, -1e30], dtype=dtype)
    assert torch.equal(entry_module.exp_in_range(below), torch.full_like(below, info.tiny))
    for value in below:  # each alone, too: the fast path must not take any of them
        assert entry_module.exp_in_range(value.reshape(1)).item() == info.tiny
    above = torch.tensor([log_max * (1 + 2 * info.eps), 1e30], dtype=dtype)
    out = entry_module.exp_in_range(above)
    assert bool((torch.isfinite(out) & (out <= info.max) & (out > info.max / 4)).all())
    inside = torch.tensor([log_tiny * 0.9, -3.0, 0.0, 2.5, log_max * 0.9], dtype=dtype)
    assert torch.equal(entry_module.exp_in_range(inside), torch.exp(inside))
    mixed = torch.cat([inside, below])  # one entry out of range: the others are still exact
    assert torch.equal(entry_module.exp_in_range(mixed)[:5], torch.exp(inside))


def test_open_uniform_interval() -> None:
    for dtype in (torch.float32, torch.float64):
        u = noise_module.open_uniform((100_000,), generator=_gen(12), dtype=dtype)
        assert u.dtype == dtype and bool(((u > 0) & (u < 1)).all())


def test_cauchy_textbook_form_flips_the_tail_in_float32() -> None:
    """The known error recorded on the Cauchy row, and the fix."""
    u = torch.tensor([torch.finfo(torch.float32).tiny], dtype=torch.float32)
    assert torch.tan(math.pi * (u - 0.5)).item() > 0  # wrong sign
    p = {"loc": torch.tensor(0.0), "scale": torch.tensor(1.0)}
    assert catalog.inverse_cdf.cauchy_path(u, p).item() < -1e30


def test_laplace_textbook_form_is_infinite_at_the_edge() -> None:
    u = torch.tensor([torch.finfo(torch.float32).tiny], dtype=torch.float32)
    textbook = -torch.sign(u - 0.5) * torch.log(1 - 2 * (u - 0.5).abs())
    assert torch.isinf(textbook).all()
    assert bool(torch.isfinite(catalog.location_scale.laplace_standard(u)).all())


def test_erlang_product_form_underflows_but_sum_of_logs_does_not() -> None:
    k = 2_000
    u = noise_module.open_uniform((100, k), generator=_gen(13), dtype=torch.float64)
    assert bool(torch.isinf(-torch.log(u.prod(-1))).all())
    z = catalog.get("erlang").rsample(100, generator=_gen(13), shape=float(k), rate=1.0)
    assert bool(torch.isfinite(z).all())
    assert abs(z.mean().item() - k) < 5 * math.sqrt(k / 100)


def test_exp_e1_matches_scipy() -> None:
    x = torch.tensor([0.01, 0.3, 0.8, 1.0, 1.2, 3.0, 10.0, 100.0], dtype=torch.float64)
    ours = catalog.inverse_cdf.exp_e1(x).numpy()
    ref = np.exp(x.numpy()) * scipy.special.exp1(x.numpy())
    np.testing.assert_allclose(ours, ref, rtol=1e-12)


# -- validation ----------------------------------------------------------------------------
BAD = hs.sampled_from([0.0, -1.0, -1e-3, math.nan, math.inf, -math.inf])


@pytest.mark.parametrize("key", KEYS)
@settings(max_examples=10, deadline=None, derandomize=True)
@given(bad=BAD)
def test_invalid_parameters_raise_naming_them(key: str, bad: float) -> None:
    e = catalog.get(key)
    for q in e.distribution.parameters:
        p = dict(e.example_params(torch.float64))
        name = q.name
        value = p[name].clone()
        if math.isfinite(bad) and (
            q.constraint is reparam.reparameterization.real or name == "loc"
        ):
            continue  # any finite real is valid here
        if q.event_dims == 2:
            value[..., 0, 0] = bad
        else:
            value.reshape(-1)[0] = bad
        p[name] = value
        if math.isfinite(bad) and key in {"uniform", "triangular"}:
            continue  # a negative bound can be valid (ordering is tested below)
        with pytest.raises(ValueError, match=name):
            e.rsample(3, generator=_gen(14), **p)


def test_cross_parameter_checks() -> None:
    with pytest.raises(ValueError, match="high"):
        catalog.get("uniform").rsample(2, low=1.0, high=1.0)
    with pytest.raises(ValueError, match="high"):
        catalog.get("reciprocal").rsample(2, low=2.0, high=1.0)
    with pytest.raises(ValueError, match="mode"):
        catalog.get("triangular").rsample(2, low=0.0, mode=3.0, high=2.0)
    with pytest.raises(ValueError, match="shape"):
        catalog.get("erlang").rsample(2, shape=2.5, rate=1.0)
    mvn = catalog.get("multivariate_normal")
    with pytest.raises(ValueError, match="scale_tril"):
        mvn.rsample(2, loc=torch.zeros(2), scale_tril=torch.ones(2, 2))
    with pytest.raises(ValueError, match="scale_tril"):
        mvn.rsample(2, loc=torch.zeros(2), scale_tril=-torch.eye(2))
    with pytest.raises(ValueError, match="loc"):
        mvn.rsample(2, loc=torch.zeros(3), scale_tril=torch.eye(2))
    with pytest.raises(ValueError, match="concentration"):
        catalog.get("dirichlet").rsample(2, concentration=torch.ones(1))
    with pytest.raises(ValueError, match="missing"):
        catalog.get("gamma").rsample(2, concentration=1.0)
    with pytest.raises(TypeError, match="rate"):
        catalog.get("exponential").rsample(2, rate="fast")  # type: ignore[arg-type]


def _valid_value(q: reparam.Parameter, x: float, like: torch.Tensor) -> torch.Tensor:
    if q.event_dims:
        return like
    return torch.tensor(x if q.constraint is not reparam.reparameterization.real else math.log(x))


@pytest.mark.parametrize("key", KEYS)
@settings(
    max_examples=8, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    values=hs.lists(hs.floats(0.3, 8.0), min_size=3, max_size=3),
    seed=hs.integers(0, 2**31 - 1),
    dtype=hs.sampled_from([torch.float32, torch.float64]),
)
def test_draws_and_gradients_are_finite(
    key: str, values: list[float], seed: int, dtype: torch.dtype
) -> None:
    e = catalog.get(key)
    example = e.example_params(torch.float64)
    p = {
        q.name: _valid_value(q, v, example[q.name])
        for q, v in zip(e.distribution.parameters, values, strict=False)
    }
    if key == "erlang":
        p["shape"] = torch.tensor(float(max(1, round(values[0]))))
    if key in {"uniform", "reciprocal"}:
        p["high"] = p["low"] + torch.tensor(values[1])
    if key == "triangular":
        p["mode"] = p["low"] + torch.tensor(values[1])
        p["high"] = p["mode"] + torch.tensor(values[2])
    p = {k: v.to(dtype) for k, v in p.items()}
    z = e.rsample(200, generator=_gen(seed), **p)
    assert z.dtype == dtype and bool(torch.isfinite(z).all())
    grads = pathwise_gradient(e.moment.function, e.distribution, p, 50, generator=_gen(seed))
    for g in grads.values():
        assert bool(torch.isfinite(g).all())


# --- the figures of the chapter ------------------------------------------------------------


@pytest.mark.parametrize("approaches", [("inverse CDF", "implicit"), ("location-scale",)])
def test_density_figure_draws_one_labelled_panel_per_row(approaches: tuple[str, ...]) -> None:
    import matplotlib.pyplot as plt

    from reparam.book.plotting import plot_catalog_densities

    generator = torch.Generator().manual_seed(0)
    rows = [e for a in approaches for e in catalog.entries(a)]  # type: ignore[arg-type]
    samples = {
        e.key: e.rsample(500, generator=generator, **e.example_params(torch.float64)) for e in rows
    }
    fig = plot_catalog_densities(samples)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title().replace("\n", " ") for ax in visible] == [e.name for e in rows]
    assert all(ax.patches and ax.get_lines() for ax in visible)  # histogram and density
    plt.close(fig)
    with pytest.raises(ValueError, match="at least one"):
        plot_catalog_densities({})


def test_kumaraswamy_log_density_stays_finite_next_to_one_in_float32() -> None:
    """Within float32's eps of 1, z**a rounds to 1: log(1 - z**a) must not become -inf."""
    a = torch.tensor(math.exp(-1.0), dtype=torch.float32)
    z = torch.tensor([1 - 2**-24, 0.5, 1e-30], dtype=torch.float32)
    params = {"concentration1": a, "concentration0": a}
    ours = catalog.get("kumaraswamy").distribution.log_prob(z, params)
    reference = torch.distributions.Kumaraswamy(a.double(), a.double()).log_prob(z.double())
    torch.testing.assert_close(ours.double(), reference, rtol=1e-5, atol=0)
