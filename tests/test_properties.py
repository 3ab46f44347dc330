"""Property-based tests (hypothesis) of the public API on valid and invalid input (issue #10).

For random valid parameters: log-densities and CDFs match ``scipy.stats`` inside *and outside*
the support; draws lie strictly inside the support in float32 and float64 (small shapes
included), with finite log-densities and pathwise gradients; the output dtype follows the
parameters'; NumPy and Python numbers give the same draws; mixed Python numbers and float32
and float64 tensors promote as ``torch.distributions.utils.broadcast_all`` (the oracle: its
dtypes and broadcast shapes). For random invalid parameters:
``rsample`` and ``log_prob`` raise a ``ValueError`` naming the parameter and showing the
offending value. Every test is derandomized (a fixed sequence of examples) so CI cannot flake.
"""

from __future__ import annotations

import functools
import math
import operator
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import scipy.stats as st
import torch
import torch.distributions as D
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs
from torch.distributions.utils import broadcast_all

import reparam
from reparam import catalog, discrete
from reparam._validation import (
    as_tensors,
    broadcast_shapes,
    check_broadcast,
    check_broadcasts_to,
    check_count,
    check_finite,
    check_finite_and_positive,
    check_positive,
    common_dtype,
)
from reparam.estimators import pathwise_gradient
from reparam.reparameterization import real

F32, F64 = torch.float32, torch.float64
INF = math.inf

FAST = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


#: For tests parametrized over the catalog's rows: fewer examples per row.
PER_ROW = settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _log_uniform(low: float, high: float) -> hs.SearchStrategy[float]:
    """Floats spread evenly in log scale over [low, high] (small shapes as often as large)."""
    return hs.floats(math.log(low), math.log(high)).map(math.exp)


POSITIVE = _log_uniform(0.2, 20.0)
REAL = hs.floats(-5.0, 5.0)
Draw = Callable[[hs.SearchStrategy[Any]], Any]


# -- valid parameters, with their scipy oracle and support ---------------------------------------
def _params(key: str, draw: Draw, *, small: bool = False) -> dict[str, float]:
    """Valid parameters of a univariate row; ``small`` reaches the shapes where draws used to
    round to the ends of the support (Gamma 0.01, Beta 0.01, Kumaraswamy 0.05, ...)."""
    shape = _log_uniform(0.01, 100.0) if small else POSITIVE
    if key in ("cauchy", "logistic", "gumbel", "laplace", "normal", "box_muller"):
        return {"loc": draw(REAL), "scale": draw(POSITIVE)}
    if key == "laplace_log_ratio":
        return {"loc": draw(REAL), "scale": draw(POSITIVE)}
    if key == "log_normal":
        return {"loc": draw(hs.floats(-2.0, 2.0)), "scale": draw(_log_uniform(0.1, 2.0))}
    if key in ("exponential",):
        return {"rate": draw(POSITIVE)}
    if key in ("rayleigh", "half_normal"):
        return {"scale": draw(POSITIVE)}
    if key == "pareto":
        return {
            "scale": draw(POSITIVE),
            "alpha": draw(_log_uniform(0.1, 10.0) if small else POSITIVE),
        }
    if key == "weibull":
        k = _log_uniform(0.05, 10.0) if small else _log_uniform(0.5, 10.0)
        return {"scale": draw(POSITIVE), "concentration": draw(k)}
    if key == "reciprocal":
        low = draw(POSITIVE)
        return {"low": low, "high": low * (1.0 + draw(POSITIVE))}
    if key == "gompertz":
        return {"shape": draw(POSITIVE), "rate": draw(POSITIVE)}
    if key == "erlang":
        return {"shape": float(draw(hs.integers(1, 30))), "rate": draw(POSITIVE)}
    if key == "kumaraswamy":
        k = _log_uniform(0.05, 20.0) if small else POSITIVE
        return {"concentration1": draw(k), "concentration0": draw(k)}
    if key == "student_t":
        df = _log_uniform(0.05, 100.0) if small else POSITIVE
        return {"df": draw(df), "loc": draw(REAL), "scale": draw(POSITIVE)}
    if key == "uniform":
        low = draw(REAL)
        return {"low": low, "high": low + draw(POSITIVE)}
    if key == "triangular":
        low, width = draw(REAL), draw(POSITIVE)
        return {"low": low, "mode": low + width * draw(hs.floats(0.0, 1.0)), "high": low + width}
    if key == "beta":
        return {"concentration1": draw(shape), "concentration0": draw(shape)}
    if key == "chi_squared":
        return {"df": draw(_log_uniform(0.02, 200.0) if small else POSITIVE)}
    if key == "f":
        df = _log_uniform(0.05, 100.0) if small else POSITIVE
        return {"df1": draw(df), "df2": draw(df)}
    if key == "inverse_gamma":
        return {"concentration": draw(_log_uniform(0.02, 100.0) if small else POSITIVE),
                "rate": draw(POSITIVE)}  # fmt: skip
    if key == "gamma":
        return {"concentration": draw(shape), "rate": draw(POSITIVE)}
    raise KeyError(key)


def _scipy(key: str, p: dict[str, float]) -> Any:
    """The scipy.stats oracle of a univariate row (None for the Kumaraswamy: see below)."""
    f = {
        "exponential": lambda: st.expon(scale=1 / p["rate"]),
        "cauchy": lambda: st.cauchy(p["loc"], p["scale"]),
        "logistic": lambda: st.logistic(p["loc"], p["scale"]),
        "rayleigh": lambda: st.rayleigh(scale=p["scale"]),
        "pareto": lambda: st.pareto(p["alpha"], scale=p["scale"]),
        "weibull": lambda: st.weibull_min(p["concentration"], scale=p["scale"]),
        "reciprocal": lambda: st.loguniform(p["low"], p["high"]),
        "gompertz": lambda: st.gompertz(p["shape"], scale=1 / p["rate"]),
        "gumbel": lambda: st.gumbel_r(p["loc"], p["scale"]),
        "erlang": lambda: st.gamma(p["shape"], scale=1 / p["rate"]),
        "kumaraswamy": lambda: None,
        "laplace": lambda: st.laplace(p["loc"], p["scale"]),
        "laplace_log_ratio": lambda: st.laplace(p["loc"], p["scale"]),
        "student_t": lambda: st.t(p["df"], p["loc"], p["scale"]),
        "uniform": lambda: st.uniform(p["low"], p["high"] - p["low"]),
        "triangular": lambda: st.triang(
            (p["mode"] - p["low"]) / (p["high"] - p["low"]), p["low"], p["high"] - p["low"]
        ),
        "normal": lambda: st.norm(p["loc"], p["scale"]),
        "box_muller": lambda: st.norm(p["loc"], p["scale"]),
        "half_normal": lambda: st.halfnorm(scale=p["scale"]),
        "log_normal": lambda: st.lognorm(p["scale"], scale=math.exp(p["loc"])),
        "beta": lambda: st.beta(p["concentration1"], p["concentration0"]),
        "chi_squared": lambda: st.chi2(p["df"]),
        "f": lambda: st.f(p["df1"], p["df2"]),
        "inverse_gamma": lambda: st.invgamma(p["concentration"], scale=p["rate"]),
        "gamma": lambda: st.gamma(p["concentration"], scale=1 / p["rate"]),
    }
    return f[key]()


class _Kumaraswamy:
    """Closed forms of the Kumaraswamy distribution (scipy has none)."""

    def __init__(self, a: float, b: float) -> None:
        self.a, self.b = a, b

    def ppf(self, u: float) -> float:
        return float((1 - (1 - u) ** (1 / self.b)) ** (1 / self.a))

    def logpdf(self, x: np.ndarray) -> np.ndarray:
        a, b = self.a, self.b
        inside = (x > 0) & (x < 1)
        xs = np.where(inside, x, 0.5)
        out = np.log(a * b) + (a - 1) * np.log(xs) + (b - 1) * np.log1p(-(xs**a))
        return np.where(inside, out, -np.inf)

    def cdf(self, x: np.ndarray) -> np.ndarray:
        xs = np.clip(x, 0.0, 1.0)
        return 1 - (1 - xs**self.a) ** self.b


def _oracle(key: str, p: dict[str, float]) -> Any:
    frozen = _scipy(key, p)
    return frozen if frozen is not None else _Kumaraswamy(p["concentration1"], p["concentration0"])


def _support(key: str, p: dict[str, float]) -> tuple[float, float]:
    """The closed support [low, high] of a univariate row."""
    if key in ("exponential", "rayleigh", "weibull", "gompertz", "erlang", "half_normal",
               "log_normal", "chi_squared", "f", "inverse_gamma", "gamma"):  # fmt: skip
        return 0.0, INF
    if key == "pareto":
        return p["scale"], INF
    if key in ("reciprocal", "uniform", "triangular"):
        return p["low"], p["high"]
    if key in ("beta", "kumaraswamy"):
        return 0.0, 1.0
    return -INF, INF


#: Rows whose draws may equal the lower end of the support (the density there is finite or
#: the end is itself a possible value in floating point).
CLOSED_BELOW = {"exponential", "rayleigh", "weibull", "gompertz", "half_normal", "pareto",
                "reciprocal", "uniform", "triangular"}  # fmt: skip
#: Rows whose draws may equal the upper end (a + (b − a)(1 − eps/2) can round to b).
CLOSED_ABOVE = {"reciprocal", "uniform", "triangular"}
UNIVARIATE = [k for k, e in catalog.CATALOG.items() if e.statistic is None]


def _tensors(p: dict[str, float], dtype: torch.dtype) -> dict[str, torch.Tensor]:
    return {k: torch.tensor(v, dtype=dtype) for k, v in p.items()}


# -- log-densities and CDFs against scipy, inside and outside the support -------------------------
@pytest.mark.parametrize("key", UNIVARIATE)
@PER_ROW
@given(data=hs.data())
def test_log_prob_and_cdf_match_scipy_inside_and_outside_the_support(
    key: str, data: hs.DataObject
) -> None:
    p = _params(key, data.draw)
    oracle = _oracle(key, p)
    low, high = _support(key, p)
    quantiles = data.draw(hs.lists(hs.floats(0.001, 0.999), min_size=1, max_size=4))
    points = [float(oracle.ppf(u)) for u in quantiles]
    margin = data.draw(hs.floats(0.01, 10.0))
    outside = [x for x in (low - margin * (1 + abs(low)), high + margin * (1 + abs(high)))
               if math.isfinite(x)]  # fmt: skip
    x = np.array(points + outside)
    e = catalog.get(key)
    params = _tensors(p, F64)
    ours = e.distribution.log_prob(torch.from_numpy(x), params).numpy()
    np.testing.assert_allclose(ours, oracle.logpdf(x), rtol=1e-7, atol=1e-9)
    assert (ours[len(points) :] == -INF).all()
    if e.cdf is not None:
        cdf = e.cdf(torch.from_numpy(x), params).numpy()
        np.testing.assert_allclose(cdf, oracle.cdf(x), rtol=1e-7, atol=1e-10)


@FAST
@given(
    probs=hs.one_of(hs.sampled_from([0.0, 1.0]), hs.floats(0.0, 1.0)),
    values=hs.lists(hs.sampled_from([0.0, 1.0, 0.5, -1.0, 2.0]), min_size=1, max_size=6),
)
def test_bernoulli_log_prob_matches_scipy(probs: float, values: list[float]) -> None:
    ours = discrete.bernoulli_log_prob(
        torch.tensor(values, dtype=F64), torch.tensor(probs, dtype=F64)
    )
    np.testing.assert_allclose(ours.numpy(), st.bernoulli(probs).logpmf(values), rtol=1e-12)


@FAST
@given(
    logits=hs.lists(hs.one_of(hs.floats(-10.0, 10.0), hs.just(-INF)), min_size=2, max_size=6),
    pick=hs.integers(0, 5),
)
def test_categorical_log_prob_matches_torch(logits: list[float], pick: int) -> None:
    if not any(math.isfinite(v) for v in logits):
        logits[0] = 0.0
    index = pick % len(logits)
    t = torch.tensor(logits, dtype=F64)
    value = torch.nn.functional.one_hot(torch.tensor(index), len(logits)).to(F64)
    ours = discrete.categorical_log_prob(value, t)
    theirs = D.Categorical(logits=t).log_prob(torch.tensor(index))
    torch.testing.assert_close(ours, theirs)


@FAST
@given(
    value=hs.lists(hs.integers(-5, 5), min_size=1, max_size=4),
    loc=hs.floats(-3.0, 3.0),
    scale=_log_uniform(0.1, 10.0),
    kind=hs.sampled_from(["python", "numpy32", "numpy64", "tensor64"]),
)
def test_normal_log_prob_with_integer_values_and_any_kind_of_number(
    value: list[int], loc: float, scale: float, kind: str
) -> None:
    converters: dict[str, Callable[[float], Any]] = {
        "python": float,
        "numpy32": np.float32,
        "numpy64": np.float64,
        "tensor64": lambda v: torch.tensor([v], dtype=F64),  # 1-d: it takes part in promotion
    }
    convert = converters[kind]
    ours = reparam.normal_log_prob(torch.tensor(value), convert(loc), convert(scale))
    expected_dtype = F64 if kind == "tensor64" else torch.get_default_dtype()
    assert ours.dtype == expected_dtype
    loc_, scale_ = float(convert(loc)), float(convert(scale))
    expected = st.norm(loc_, scale_).logpdf(value)
    np.testing.assert_allclose(ours.double().numpy(), expected, rtol=1e-5, atol=1e-6)


# -- draws strictly inside the support ------------------------------------------------------------
def _cost(key: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """A test function whose derivative stays in floating-point range at any draw."""
    low, _ = _support(key, {"scale": 1.0, "low": 0.5, "high": 1.0})
    return torch.atan if low == -INF else (lambda z: torch.log(z.clamp(min=1e-30)))


@pytest.mark.parametrize("key", UNIVARIATE)
@PER_ROW
@given(
    data=hs.data(),
    dtype=hs.sampled_from([F32, F64]),
    seed=hs.integers(0, 2**31 - 1),
)
def test_draws_lie_strictly_inside_the_support(
    key: str, data: hs.DataObject, dtype: torch.dtype, seed: int
) -> None:
    p = _params(key, data.draw, small=True)
    e = catalog.get(key)
    params = _tensors(p, dtype)
    z = e.rsample(300, generator=_gen(seed), **params)
    assert z.dtype == dtype and bool(torch.isfinite(z).all())
    low, high = (torch.tensor(v, dtype=dtype).item() for v in _support(key, p))
    above = (z >= low) if key in CLOSED_BELOW else (z > low)
    below = (z <= high) if key in CLOSED_ABOVE else (z < high)
    assert bool((above & below).all()), (key, p, z.min(), z.max())
    log_p = e.distribution.log_prob(z, params)
    assert log_p.dtype == dtype
    assert not bool(torch.isnan(log_p).any()) and not bool((log_p == INF).any())
    grads = pathwise_gradient(_cost(key), e.distribution, params, 50, generator=_gen(seed))
    for name, g in grads.items():
        assert g.dtype == dtype and bool(torch.isfinite(g).all()), (key, p, name)


@settings(max_examples=15, deadline=None, derandomize=True)
@given(
    alpha=hs.lists(_log_uniform(0.01, 100.0), min_size=2, max_size=4),
    dtype=hs.sampled_from([F32, F64]),
    seed=hs.integers(0, 2**31 - 1),
)
def test_dirichlet_draws_lie_strictly_inside_the_simplex(
    alpha: list[float], dtype: torch.dtype, seed: int
) -> None:
    concentration = torch.tensor(alpha, dtype=dtype)
    z = catalog.get("dirichlet").rsample(300, generator=_gen(seed), concentration=concentration)
    assert z.dtype == dtype and bool(((z > 0) & (z < 1)).all())
    assert float((z.sum(-1) - 1).abs().max()) <= 4 * len(alpha) * torch.finfo(dtype).eps


# -- dtypes and kinds of numbers --------------------------------------------------------------
@FAST
@given(data=hs.data(), kind=hs.sampled_from(["numpy64", "python"]), seed=hs.integers(0, 1000))
def test_numpy_numbers_give_the_draws_of_python_numbers(
    data: hs.DataObject, kind: str, seed: int
) -> None:
    key = data.draw(hs.sampled_from(UNIVARIATE), label="key")
    p = _params(key, data.draw)
    e = catalog.get(key)
    numbers = {k: np.float64(v) if kind == "numpy64" else v for k, v in p.items()}
    as_numpy = {k: np.float32(v) for k, v in p.items()}
    as_python = {k: float(np.float32(v)) for k, v in p.items()}
    a = e.rsample(np.int64(20), generator=_gen(seed), **numbers)  # type: ignore[arg-type]
    b = e.rsample(20, generator=_gen(seed), **p)
    assert torch.equal(a, b) and a.dtype == torch.get_default_dtype()
    c = e.rsample(20, generator=_gen(seed), **as_numpy)  # type: ignore[arg-type]
    d = e.rsample(20, generator=_gen(seed), **as_python)
    assert torch.equal(c, d)


@FAST
@given(data=hs.data(), dtype=hs.sampled_from([F32, F64]))
def test_output_dtype_follows_the_parameters(data: hs.DataObject, dtype: torch.dtype) -> None:
    key = data.draw(hs.sampled_from(list(catalog.CATALOG)), label="key")
    e = catalog.get(key)
    params = e.example_params(dtype)
    z = e.rsample(5, generator=_gen(0), **params)
    assert z.dtype == dtype
    assert e.distribution.log_prob(z, params).dtype == dtype
    assert e.moment.expectation(params).dtype == dtype
    if e.cdf is not None:
        assert e.cdf(e.summary(z), params).dtype == dtype


# -- mixed Python/tensor inputs promote as torch's broadcast_all (the oracle) ---------------------
#: How one input is given: a Python float, or a float32 or float64 tensor of one of SHAPES
#: (which all broadcast together, to (2, 3)).
KINDS = ("python", "float32", "float64")
SHAPES = ((), (1,), (3,), (2, 1), (2, 3))
#: Values exact in float32, so that a number converted in the first tensor's dtype (what
#: broadcast_all does) and in the promoted dtype (what we do) are the same number.
EXACT = hs.integers(1, 64).map(lambda k: k / 8)


def _given_as(kind: str, shape: tuple[int, ...], value: float) -> float | torch.Tensor:
    if kind == "python":
        return value
    return torch.full(shape, value, dtype=F32 if kind == "float32" else F64)


def _draw_inputs(data: hs.DataObject, values: dict[str, float]) -> dict[str, Any]:
    return {
        name: _given_as(
            data.draw(hs.sampled_from(KINDS), label=f"{name} kind"),
            data.draw(hs.sampled_from(SHAPES), label=f"{name} shape"),
            value,
        )
        for name, value in values.items()
    }


def _oracle_dtype_and_shape(*values: Any) -> tuple[torch.dtype, torch.Size]:
    """What torch does: broadcast_all, then type promotion across its outputs."""
    broadcast = broadcast_all(*values)
    return functools.reduce(torch.promote_types, [t.dtype for t in broadcast]), broadcast[0].shape


@FAST
@given(data=hs.data(), size=hs.integers(1, 4))
def test_as_tensors_promotes_as_broadcast_all(data: hs.DataObject, size: int) -> None:
    values = _draw_inputs(data, {f"x{i}": data.draw(EXACT) for i in range(size)})
    dtype, shape = _oracle_dtype_and_shape(*values.values())
    ours = as_tensors(values)
    assert common_dtype(*ours.values()) == dtype
    assert check_broadcast(**{k: v.shape for k, v in ours.items()}) == shape
    for name, value in values.items():
        if isinstance(value, torch.Tensor):  # tensors pass through, as in broadcast_all
            assert ours[name] is value
        else:  # numbers take the promoted dtype, on the tensors' device
            assert ours[name].dtype == dtype and ours[name].item() == value
    # cast: one dtype, and arithmetic gives broadcast_all's result bit for bit
    cast = as_tensors(values, cast=True)
    assert all(v.dtype == dtype for v in cast.values())
    total = functools.reduce(operator.add, cast.values())
    expected = functools.reduce(operator.add, broadcast_all(*values.values()))
    assert total.dtype == expected.dtype and torch.equal(total.expand(shape), expected)


@FAST
@given(data=hs.data(), loc=EXACT, scale=EXACT, value=EXACT)
def test_gaussian_promotes_as_torch_normal(
    data: hs.DataObject, loc: float, scale: float, value: float
) -> None:
    inputs = _draw_inputs(data, {"value": value, "loc": loc, "scale": scale})
    loc_in, scale_in, value_in = inputs["loc"], inputs["scale"], inputs["value"]
    ours = reparam.normal_rsample(loc_in, scale_in, 4, generator=_gen(0))
    theirs = D.Normal(loc_in, scale_in).rsample((4,))
    assert (ours.dtype, ours.shape) == (theirs.dtype, theirs.shape)
    dtype, shape = _oracle_dtype_and_shape(value_in, loc_in, scale_in)
    log_p = reparam.normal_log_prob(value_in, loc_in, scale_in)
    assert (log_p.dtype, log_p.shape) == (dtype, shape)
    loc_b, scale_b = broadcast_all(loc_in, scale_in)
    expected = D.Normal(loc_b, scale_b).log_prob(torch.tensor(value, dtype=dtype))
    torch.testing.assert_close(log_p, expected.to(dtype).expand(shape))


@pytest.mark.parametrize("key", UNIVARIATE)
@PER_ROW
@given(data=hs.data())
def test_catalog_rows_promote_as_broadcast_all(key: str, data: hs.DataObject) -> None:
    e = catalog.get(key)
    params = _draw_inputs(data, {k: float(v) for k, v in e.example.items()})  # type: ignore[arg-type]
    dtype, shape = _oracle_dtype_and_shape(*params.values())
    z = e.rsample(3, generator=_gen(0), **params)
    assert (z.dtype, z.shape) == (dtype, (3, *shape))
    log_p = e.distribution.log_prob(z, params)
    assert (log_p.dtype, log_p.shape) == (dtype, (3, *shape))
    grads = pathwise_gradient(_cost(key), e.distribution, params, 2, generator=_gen(0))
    for name, grad in grads.items():  # per-sample gradients: the parameter's own dtype
        assert grad.dtype == (
            params[name].dtype if isinstance(params[name], torch.Tensor) else dtype
        )


# -- invalid parameters: the error names the parameter and shows the value -------------------------
BAD = [0.0, -1.5, -1e-3, math.nan, INF, -INF]


@pytest.mark.parametrize("key", list(catalog.CATALOG))
@PER_ROW
@given(data=hs.data(), bad=hs.sampled_from(BAD), position=hs.integers(0, 2))
def test_invalid_parameters_are_named_with_their_value(
    key: str, data: hs.DataObject, bad: float, position: int
) -> None:
    e = catalog.get(key)
    q = data.draw(hs.sampled_from(e.distribution.parameters), label="parameter")
    if math.isfinite(bad) and (q.constraint is real or key in ("uniform", "triangular")):
        return  # any finite real is a valid value here (orderings are checked elsewhere)
    if math.isfinite(bad) and q.name in ("loc",):
        return
    params = e.example_params(F64)
    draws = e.rsample(3, generator=_gen(0), **params)
    value = params[q.name]
    if q.event_dims == 2:
        value = value.clone()
        value[..., 0, 0] = bad
    else:  # a batch of three, the bad value at a random position
        value = value.expand(3, *value.shape).clone()
        value.reshape(3, -1)[position, 0] = bad
    params[q.name] = value
    for call in (
        lambda: e.rsample(3, generator=_gen(0), **params),
        lambda: e.distribution.log_prob(draws, params),
    ):
        with pytest.raises(ValueError, match=q.name) as info:
            call()
        message = str(info.value)
        assert "must" in message
        if q.event_dims == 0:
            assert f"{bad:g}" in message or repr(bad) in message, message


# -- moments where they exist, scipy's inf/nan where they do not --------------------------------
@FAST
@given(df=_log_uniform(0.1, 50.0), loc=REAL, scale=POSITIVE)
def test_student_t_second_moment_matches_scipy(df: float, loc: float, scale: float) -> None:
    params = _tensors({"df": df, "loc": loc, "scale": scale}, F64)
    ours = catalog.get("student_t").moment.expectation(params).item()
    # E[(μ + σT)²] = μ² + σ² E[T²] (E[T] = 0 where it exists); scipy's own non-central
    # moment divides by μ and fails for tiny μ, so take E[T²] from scipy and combine.
    expected = loc**2 + scale**2 * st.t(df).moment(2)
    if math.isnan(expected):
        assert math.isnan(ours)
    else:
        assert ours == pytest.approx(expected, rel=1e-9)


@FAST
@given(alpha=_log_uniform(0.05, 50.0), rate=POSITIVE)
def test_inverse_gamma_mean_matches_scipy(alpha: float, rate: float) -> None:
    ours = catalog.get("inverse_gamma").moment.expectation(
        _tensors({"concentration": alpha, "rate": rate}, F64)
    )
    assert ours.item() == pytest.approx(st.invgamma(alpha, scale=rate).mean(), rel=1e-9)


# -- the library forms of issue #12: surrogate losses, torch distributions, control variates


@FAST
@given(
    key=hs.sampled_from(["normal", "laplace", "gumbel", "logistic", "cauchy"]),
    scale=hs.floats(-1e6, 0.0) | hs.just(math.nan) | hs.just(-INF),
)
def test_from_catalog_rejects_a_bad_scale_by_name(key: str, scale: float) -> None:
    from reparam.distributions import from_catalog

    with pytest.raises(ValueError, match="scale"):
        from_catalog(key, loc=0.0, scale=scale)


@FAST
@given(
    key=hs.sampled_from(["normal", "laplace", "gumbel", "logistic"]),
    loc=hs.floats(-50, 50),
    scale=hs.floats(0.01, 50),
    sample=hs.tuples(hs.integers(0, 3), hs.integers(1, 3)),
)
def test_from_catalog_draws_have_torch_shapes_and_finite_log_densities(
    key: str, loc: float, scale: float, sample: tuple[int, int]
) -> None:
    from reparam.distributions import from_catalog

    q = from_catalog(key, loc=torch.tensor([loc, -loc], dtype=F64), scale=scale)
    z = q.rsample(sample, generator=torch.Generator().manual_seed(0))
    assert z.shape == (*sample, 2) and z.dtype == F64
    assert bool(torch.isfinite(q.log_prob(z)).all())


@FAST
@given(num_samples=hs.integers(-5, 0) | hs.just(2.5) | hs.just(True))
def test_surrogates_reject_bad_sample_counts(num_samples: Any) -> None:
    from reparam.surrogate import pathwise_surrogate, score_function_surrogate

    q = torch.distributions.Normal(0.0, 1.0)
    for surrogate in (pathwise_surrogate, score_function_surrogate):
        with pytest.raises((ValueError, TypeError), match="num_samples"):
            surrogate(torch.cos, q, None, num_samples)


@FAST
@given(
    n=hs.integers(3, 20),
    bad_row=hs.integers(0, 19),
    bad=hs.sampled_from([math.nan, INF, -INF]),
    which=hs.sampled_from(["estimates", "controls"]),
)
def test_control_variates_reject_non_finite_draws_by_name(
    n: int, bad_row: int, bad: float, which: str
) -> None:
    from reparam.control_variates import apply_control_variate

    g, h = torch.zeros(n, dtype=F64), torch.ones(n, dtype=F64)
    (g if which == "estimates" else h)[bad_row % n] = bad
    with pytest.raises(ValueError, match=which):
        apply_control_variate(g, h, 0.0)


# -- shapes: reparam's broadcasting against torch.broadcast_shapes (the oracle) ------------------
@hs.composite
def _shapes(draw: hs.DrawFn) -> list[tuple[int, ...]]:
    """1 to 4 shapes, mostly suffixes of one base shape with some sizes set to 1 (so that they
    broadcast), sometimes with one size changed (so that they may not); sizes 0 to 3."""
    size = hs.integers(0, 3)
    base = draw(hs.lists(size, max_size=4))
    shapes = []
    for _ in range(draw(hs.integers(1, 4))):
        kept = draw(hs.integers(0, len(base)))
        shape = [draw(hs.sampled_from([s, 1])) for s in base[len(base) - kept :]]
        if draw(hs.booleans()) and shape:
            shape[draw(hs.integers(0, len(shape) - 1))] = draw(size)
        shapes.append(tuple(shape))
    return shapes


def _torch_broadcast(*shapes: tuple[int, ...]) -> torch.Size | None:
    try:
        return torch.broadcast_shapes(*shapes)
    except RuntimeError:
        return None


@settings(max_examples=300, deadline=None, derandomize=True)
@given(shapes=_shapes())
def test_broadcast_shapes_is_torchs(shapes: list[tuple[int, ...]]) -> None:
    expected = _torch_broadcast(*shapes)
    sizes = [torch.Size(shape) for shape in shapes]
    if expected is None:
        with pytest.raises(RuntimeError):
            broadcast_shapes(*shapes)
        with pytest.raises(RuntimeError):
            broadcast_shapes(*sizes)
    else:
        for given in (shapes, sizes):
            ours = broadcast_shapes(*given)
            assert type(ours) is torch.Size and ours == expected


@settings(max_examples=300, deadline=None, derandomize=True)
@given(shapes=_shapes(), target_name=hs.sampled_from([None, "(*batch_shape, 1)"]))
def test_broadcasts_to_means_broadcasting_without_growing(
    shapes: list[tuple[int, ...]], target_name: str | None
) -> None:
    shape, target = shapes[0], shapes[-1]
    if _torch_broadcast(shape, target) == target:
        check_broadcasts_to(shape, "baseline", target, target_name=target_name)
        return
    wanted = f"{target_name} = {target}" if target_name else f"{target}"
    message = f"baseline must broadcast to {wanted}, got shape {shape}"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        check_broadcasts_to(shape, "baseline", target, target_name=target_name)


@FAST
@given(value=hs.integers(-3, 8), minimum=hs.integers(0, 4), context=hs.sampled_from(["", "for x"]))
def test_check_count_states_the_bound_and_why(value: int, minimum: int, context: str) -> None:
    if value >= minimum:
        assert check_count(value, "num_samples", minimum, context=context) == value
        return
    why = f" {context}" if context else ""
    message = f"num_samples must be at least {minimum}{why}, got {value}"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        check_count(value, "num_samples", minimum, context=context)


_ENTRY = hs.sampled_from([0.5, 2.0, -1.0, 0.0, -0.0, math.nan, INF, -INF])


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    data=hs.data(),
    sizes=hs.lists(hs.sampled_from([(), (1,), (3,), (2, 2)]), min_size=1, max_size=3),
    split=hs.integers(0, 3),
)
def test_finite_and_positive_at_once_is_the_checks_one_by_one(
    data: hs.DataObject, sizes: list[tuple[int, ...]], split: int
) -> None:
    """The fused check raises exactly when one of check_finite (the first ``split`` tensors)
    and check_positive (the others) does, with the message of the first that does."""
    tensors = {
        f"p{i}": torch.tensor(
            data.draw(hs.lists(_ENTRY, min_size=math.prod(size), max_size=math.prod(size))),
            dtype=F64,
        ).reshape(size)
        for i, size in enumerate(sizes)
    }
    finite = dict(list(tensors.items())[:split])
    positive = dict(list(tensors.items())[split:])
    expected = None
    try:
        for name, value in finite.items():
            check_finite(value, name)
        for name, value in positive.items():
            check_positive(value, name)
    except ValueError as error:
        expected = str(error)
    if expected is None:
        check_finite_and_positive(finite, positive)
    else:
        with pytest.raises(ValueError, match=f"^{re.escape(expected)}$"):
            check_finite_and_positive(finite, positive)
