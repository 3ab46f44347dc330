# The audit passes ill-typed values on purpose (NumPy scalars, floats for counts, strings for
# tensors, ...) and builds its cases from lambdas with default arguments; mypy checks the rest.
# mypy: disable-error-code="arg-type, dict-item, misc, return-value"
"""Audit the public API of :mod:`reparam` with bad inputs (issue #10, part 4).

Usage (from the repository root)::

    python tools/audit_bad_input.py          # the tally
    python tools/audit_bad_input.py -v       # also one line per input that is not answered well

Every case calls one public function (``reparam.book.plotting`` excepted) with an input that is
unusual or wrong — integer tensors, NumPy scalars and arrays, Python numbers, NaN and
infinities, non-positive scales, values outside the support, mismatched shapes, float16,
empty tensors, ``num_samples <= 0``, objects of the wrong type, extreme parameters for the
samplers — and says what a good answer is:

- ``value(reference)``: the input has a well-defined answer; the reference comes from an
  independent oracle (``torch.distributions``, ``scipy.stats`` or a closed form);
- ``error(names)``: the input is invalid; a good answer is a ``ValueError`` or ``TypeError``
  whose message names every one of ``names`` and states the constraint ("must ...");
- ``check(predicate)``: a sampler's output must satisfy ``predicate`` (for example: every draw
  lies strictly inside the support).

Each outcome is counted in exactly one class:

- **right answer**: the value matches the reference (or the draws pass the check);
- **clear error**: a ``ValueError``/``TypeError`` naming the parameter and the constraint, for
  an invalid input (or for a valid input the package chooses not to support, where the case
  allows it);
- **obscure error**: any other exception, a message that does not name the parameter, or an
  error where an answer was due (the input is one ``torch``/``scipy`` accept);
- **silent bad result**: a value that differs from the reference, a value where an error was
  due, or draws that fail the check.

The script changes nothing and prints only the tally (and, with ``-v``, the cases that are
not right answers or clear errors).
"""

from __future__ import annotations

import argparse
import math
import sys
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.stats as st
import torch
import torch.distributions as D

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import reparam
from reparam import catalog, discrete, estimators, gaussian_identities, variance
from reparam.book import training
from reparam.normal import normal_cdf

F32, F64 = torch.float32, torch.float64
NAN, INF = math.nan, math.inf
CONSTRAINT_WORDS = ("must", "takes", "not supported", "needs", "expected", "broadcast")


# -- expectations ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Value:
    reference: Callable[[], Any]
    rtol: float = 1e-5
    atol: float = 1e-7
    dtype: torch.dtype | None = None
    names: tuple[str, ...] = ()  # an error naming these counts as clear (if may_reject)
    may_reject: bool = False


@dataclass(frozen=True)
class Error:
    names: tuple[str, ...]


@dataclass(frozen=True)
class Check:
    predicate: Callable[[Any], bool]
    names: tuple[str, ...] = ()
    may_reject: bool = False


@dataclass
class Case:
    label: str
    call: Callable[[], Any]
    expect: Value | Error | Check
    outcome: str = ""
    detail: str = field(default="")


CASES: list[Case] = []


def value(label: str, call: Callable[[], Any], reference: Callable[[], Any], **kw: Any) -> None:
    CASES.append(Case(label, call, Value(reference, **kw)))


def error(label: str, call: Callable[[], Any], *names: str) -> None:
    CASES.append(Case(label, call, Error(names)))


def check(label: str, call: Callable[[], Any], predicate: Callable[[Any], bool], **kw: Any) -> None:
    CASES.append(Case(label, call, Check(predicate, **kw)))


def t(*values: float, dtype: torch.dtype = F32) -> torch.Tensor:
    return torch.tensor(values, dtype=dtype)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# -- comparison -----------------------------------------------------------------------------
def _flatten(x: Any) -> list[torch.Tensor]:
    if isinstance(x, reparam.MonteCarloEstimate):
        return [x.mean, x.std_error]
    if isinstance(x, variance.GradientMoments):
        return [torch.tensor([x.mean, x.variance])]
    if isinstance(x, dict):
        return [t_ for k in sorted(x) for t_ in _flatten(x[k])]
    if isinstance(x, (tuple, list)):
        return [t_ for item in x for t_ in _flatten(item)]
    if isinstance(x, torch.Tensor):
        return [x]
    return [torch.as_tensor(np.asarray(x, dtype=np.float64))]


def _matches(result: Any, expect: Value) -> tuple[bool, str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = expect.reference()
    ours, theirs = _flatten(result), _flatten(reference)
    if len(ours) != len(theirs):
        return False, f"{len(ours)} outputs, expected {len(theirs)}"
    for a, b in zip(ours, theirs, strict=True):
        if expect.dtype is not None and a.dtype != expect.dtype:
            return False, f"dtype {a.dtype}, expected {expect.dtype}"
        a64, b64 = a.detach().to(F64), b.detach().to(F64)
        if a64.shape != b64.shape:
            return False, f"shape {tuple(a64.shape)}, expected {tuple(b64.shape)}"
        if not torch.allclose(a64, b64, rtol=expect.rtol, atol=expect.atol, equal_nan=True):
            return (
                False,
                f"got {a64.reshape(-1)[:4].tolist()}, expected {b64.reshape(-1)[:4].tolist()}",
            )
    return True, ""


def _clear(exc: BaseException, names: tuple[str, ...]) -> bool:
    if not isinstance(exc, (ValueError, TypeError)):
        return False
    message = str(exc)
    return all(n in message for n in names) and any(w in message for w in CONSTRAINT_WORDS)


def run(case: Case) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = case.call()
    except Exception as exc:
        text = f"{type(exc).__name__}: {str(exc).splitlines()[0][:150] if str(exc) else ''}"
        expect = case.expect
        if isinstance(expect, Error):
            case.outcome = "clear error" if _clear(exc, expect.names) else "obscure error"
        elif expect.may_reject and _clear(exc, expect.names):
            case.outcome = "clear error"
        else:
            case.outcome = "obscure error"
        case.detail = text
        return
    expect = case.expect
    if isinstance(expect, Error):
        case.outcome, case.detail = "silent bad result", f"returned {_short(result)}"
    elif isinstance(expect, Check):
        try:
            passed = bool(expect.predicate(result))
        except Exception:
            passed = False
            case.detail = traceback.format_exc(limit=1).splitlines()[-1]
        case.outcome = "right answer" if passed else "silent bad result"
        if not passed and not case.detail:
            case.detail = f"check failed on {_short(result)}"
    else:
        ok, why = _matches(result, expect)
        case.outcome = "right answer" if ok else "silent bad result"
        case.detail = why


def _short(x: Any) -> str:
    if isinstance(x, torch.Tensor):
        return f"tensor{tuple(x.shape)} {x.detach().reshape(-1)[:4].tolist()}"
    return repr(x)[:80]


# -- predicates for the samplers -------------------------------------------------------------
def inside(low: float, high: float, *, closed: bool = False) -> Callable[[torch.Tensor], bool]:
    def predicate(z: torch.Tensor) -> bool:
        z = z.detach()
        if not bool(torch.isfinite(z).all()):
            return False
        if closed:
            return bool(((z >= low) & (z <= high)).all())
        return bool(((z > low) & (z < high)).all())

    return predicate


def shape_dtype(shape: tuple[int, ...], dtype: torch.dtype) -> Callable[[Any], bool]:
    def predicate(z: Any) -> bool:
        first = _flatten(z)[0]
        return (
            tuple(first.shape) == shape
            and first.dtype == dtype
            and bool(torch.isfinite(first).all())
        )

    return predicate


# ===========================================================================================
# The cases
# ===========================================================================================
def normal_cases() -> None:
    value(
        "normal_log_prob: integer value tensor, float parameters",
        lambda: reparam.normal_log_prob(torch.tensor([1, 2]), 0.5, 1.5),
        lambda: D.Normal(0.5, 1.5).log_prob(t(1.0, 2.0)),
    )
    value(
        "normal_cdf: integer value tensor",
        lambda: normal_cdf(torch.tensor([1]), 0.5, 0.5),
        lambda: D.Normal(0.5, 0.5).cdf(t(1.0)),
    )
    value(
        "normal_log_prob: numpy float32 loc",
        lambda: reparam.normal_log_prob(t(1.0), np.float32(0.5), 1.5),
        lambda: D.Normal(0.5, 1.5).log_prob(t(1.0)),
    )
    value(
        "normal_log_prob: numpy int64 scale",
        lambda: reparam.normal_log_prob(t(1.0), 0.0, np.int64(2)),
        lambda: D.Normal(0.0, 2.0).log_prob(t(1.0)),
    )
    value(
        "normal_log_prob: integer loc tensor",
        lambda: reparam.normal_log_prob(t(1.0), torch.tensor([0, 1]), 1.0),
        lambda: D.Normal(t(0.0, 1.0), 1.0).log_prob(t(1.0)),
    )
    value(
        "normal_log_prob: value +inf",
        lambda: reparam.normal_log_prob(t(INF, -INF), 0.0, 1.0),
        lambda: t(-INF, -INF),
    )
    value(
        "normal_log_prob: value NaN gives NaN",
        lambda: reparam.normal_log_prob(t(NAN), 0.0, 1.0),
        lambda: t(NAN),
    )
    value(
        "normal_log_prob: empty value",
        lambda: reparam.normal_log_prob(torch.empty(0), 0.0, 1.0),
        lambda: torch.empty(0),
    )
    value(
        "normal_log_prob: float16 value",
        lambda: reparam.normal_log_prob(torch.tensor([0.5], dtype=torch.float16), 0.0, 1.0),
        lambda: D.Normal(0.0, 1.0).log_prob(t(0.5)),
        rtol=2e-3,
        names=("value",),
        may_reject=True,
    )
    value(
        "normal_log_prob: Python float value",
        lambda: reparam.normal_log_prob(1.0, 0.0, 1.0),
        lambda: D.Normal(0.0, 1.0).log_prob(torch.tensor(1.0)),
        names=("value",),
        may_reject=True,
    )
    error("normal_log_prob: scale 0", lambda: reparam.normal_log_prob(t(1.0), 0.0, 0.0), "scale")
    error("normal_log_prob: scale < 0", lambda: reparam.normal_log_prob(t(1.0), 0.0, -1.0), "scale")
    error("normal_log_prob: scale NaN", lambda: reparam.normal_log_prob(t(1.0), 0.0, NAN), "scale")
    error("normal_log_prob: loc NaN", lambda: reparam.normal_log_prob(t(1.0), NAN, 1.0), "loc")
    error("normal_log_prob: loc +inf", lambda: reparam.normal_log_prob(t(1.0), INF, 1.0), "loc")
    error("normal_cdf: scale < 0", lambda: normal_cdf(t(1.0), 0.0, -2.0), "scale")
    error("normal_cdf: loc NaN", lambda: normal_cdf(t(1.0), NAN, 1.0), "loc")
    error(
        "normal_log_prob: value a list",
        lambda: reparam.normal_log_prob([1.0], 0.0, 1.0),
        "value",
    )
    error(
        "normal_log_prob: complex value",
        lambda: reparam.normal_log_prob(torch.tensor([1 + 1j]), 0.0, 1.0),
        "value",
    )
    error(
        "normal_log_prob: shapes (3,) and (2,)",
        lambda: reparam.normal_log_prob(t(1.0, 2.0, 3.0), t(0.0, 1.0), 1.0),
        "value",
        "loc",
    )
    error("normal_log_prob: loc a string", lambda: reparam.normal_log_prob(t(1.0), "0", 1.0), "loc")
    error(
        "normal_rsample: num_samples 0", lambda: reparam.normal_rsample(0.0, 1.0, 0), "num_samples"
    )
    error(
        "normal_rsample: num_samples -3",
        lambda: reparam.normal_rsample(0.0, 1.0, -3),
        "num_samples",
    )
    error(
        "normal_rsample: num_samples 2.0",
        lambda: reparam.normal_rsample(0.0, 1.0, 2.0),
        "num_samples",
    )
    error(
        "normal_rsample: num_samples True",
        lambda: reparam.normal_rsample(0.0, 1.0, True),
        "num_samples",
    )
    check(
        "normal_rsample: num_samples numpy int64",
        lambda: reparam.normal_rsample(0.0, 1.0, np.int64(5), generator=gen()),
        shape_dtype((5,), torch.get_default_dtype()),
    )
    check(
        "normal_rsample: num_samples 0-d integer tensor",
        lambda: reparam.normal_rsample(0.0, 1.0, torch.tensor(4), generator=gen()),
        shape_dtype((4,), torch.get_default_dtype()),
        names=("num_samples",),
        may_reject=True,
    )
    check(
        "normal_rsample: integer loc tensor",
        lambda: reparam.normal_rsample(torch.tensor([0, 1]), 1.0, 3, generator=gen()),
        shape_dtype((3, 2), torch.get_default_dtype()),
    )
    check(
        "normal_rsample: numpy float32 scale",
        lambda: reparam.normal_rsample(t(0.0, 1.0), np.float32(2.0), 3, generator=gen()),
        shape_dtype((3, 2), F32),
    )
    check(
        "normal_rsample: numpy array loc",
        lambda: reparam.normal_rsample(np.array([0.0, 1.0]), 1.0, 3, generator=gen()),
        shape_dtype((3, 2), F64),
        names=("loc",),
        may_reject=True,
    )
    check(
        "normal_rsample: empty loc",
        lambda: reparam.normal_rsample(torch.empty(0), 1.0, 3, generator=gen()),
        shape_dtype((3, 0), F32),
    )
    error(
        "normal_rsample: scale with a zero entry",
        lambda: reparam.normal_rsample(0.0, t(1.0, 0.0), 3),
        "scale",
    )
    error(
        "normal_rsample: shapes (3,) and (2,)",
        lambda: reparam.normal_rsample(t(0.0, 0.0, 0.0), t(1.0, 1.0), 3),
        "loc",
        "scale",
    )
    error(
        "normal_rsample: generator a seed",
        lambda: reparam.normal_rsample(0.0, 1.0, 3, generator=0),
        "generator",
    )
    error("NORMAL.rsample: scale missing", lambda: reparam.NORMAL.rsample(3, loc=0.0), "scale")
    error(
        "NORMAL.log_prob: scale -1",
        lambda: reparam.NORMAL.log_prob(t(0.0), {"loc": t(0.0), "scale": t(-1.0)}),
        "scale",
    )


def noise_cases() -> None:
    from reparam import noise

    error("standard_normal: negative shape", lambda: noise.standard_normal((2, -1)), "shape")
    error("uniform: integer dtype", lambda: noise.uniform((2,), dtype=torch.int64), "dtype")
    error("open_uniform: shape a string", lambda: noise.open_uniform("3"), "shape")
    check(
        "standard_normal: shape numpy int64",
        lambda: noise.standard_normal((np.int64(3),), generator=gen()),
        shape_dtype((3,), torch.get_default_dtype()),
    )
    for dtype in (torch.float16, torch.bfloat16, F32):
        check(
            f"open_uniform: {dtype} draws strictly inside (0, 1)",
            lambda dtype=dtype: noise.open_uniform((200_000,), generator=gen(), dtype=dtype),
            inside(0.0, 1.0),
        )


def summary_cases() -> None:
    value(
        "summarize: boolean draws",
        lambda: reparam.summarize(torch.tensor([True, False, True, True])).mean,
        lambda: torch.tensor(0.75),
    )
    value(
        "summarize: integer draws",
        lambda: reparam.summarize(torch.tensor([1, 2, 3, 6])).mean,
        lambda: torch.tensor(3.0),
    )
    value(
        "summarize: numpy array draws",
        lambda: reparam.summarize(np.array([1.0, 2.0, 3.0])).mean,
        lambda: torch.tensor(2.0),
        names=("draws",),
        may_reject=True,
    )
    error("summarize: empty draws", lambda: reparam.summarize(torch.empty(0)), "draws")
    error("summarize: dim out of range", lambda: reparam.summarize(torch.ones(3), dim=2), "dim")
    error("summarize: dim a float", lambda: reparam.summarize(torch.ones(3), dim=0.0), "dim")
    error(
        "summarize: complex draws",
        lambda: reparam.summarize(torch.ones(3, dtype=torch.complex64)),
        "draws",
    )
    value(
        "MonteCarloEstimate.interval: numpy z_score",
        lambda: reparam.summarize(t(1.0, 3.0)).interval(np.float32(2.0)),
        lambda: (torch.tensor(0.0), torch.tensor(4.0)),
    )
    error(
        "MonteCarloEstimate.interval: z_score a string",
        lambda: reparam.summarize(t(1.0, 3.0)).interval("2"),
        "z_score",
    )


def cost_cases() -> None:
    error("cosine_cost: k NaN", lambda: reparam.cosine_cost(NAN), "k")
    error("linear_cost: a inf", lambda: reparam.linear_cost(INF), "a")
    error("linear_cost: b NaN", lambda: reparam.linear_cost(1.0, NAN), "b")
    error("quadratic_cost: k a string", lambda: reparam.quadratic_cost("1"), "k")
    error("constant_cost: c NaN", lambda: reparam.constant_cost(NAN), "c")
    error("exp_quadratic_cost: k NaN", lambda: reparam.exp_quadratic_cost(NAN), "k")
    error("exp_quadratic_cost: k 0", lambda: reparam.exp_quadratic_cost(0.0), "k")
    value(
        "cosine_cost: numpy float32 k",
        lambda: reparam.cosine_cost(np.float32(2.0))(t(0.5)),
        lambda: torch.cos(2.0 * t(0.5)),
    )
    value(
        "exact_gradient: numpy float32 loc",
        lambda: reparam.exact_gradient(reparam.quadratic_cost(), np.float32(1.0), 2.0),
        lambda: (torch.tensor(2.0), torch.tensor(4.0)),
    )
    value(
        "exact_gradient: integer loc tensor",
        lambda: reparam.exact_gradient(reparam.quadratic_cost(), torch.tensor([1, 2]), 1.0),
        lambda: (t(2.0, 4.0), t(2.0, 2.0)),
    )
    error(
        "exact_gradient: scale -1",
        lambda: reparam.exact_gradient(reparam.quadratic_cost(), 0.0, -1.0),
        "scale",
    )
    error(
        "exact_gradient: cost not a GaussianTestCost",
        lambda: reparam.exact_gradient(lambda z: z, 0.0, 1.0),
        "cost",
    )
    error(
        "exact_gradient: shapes (3,) and (2,)",
        lambda: reparam.exact_gradient(reparam.quadratic_cost(), torch.zeros(3), torch.ones(2)),
        "loc",
        "scale",
    )


def quadrature_cases() -> None:
    from reparam.quadrature import gauss_hermite_rule

    value(
        "gauss_hermite_expectation: degree numpy int64",
        lambda: reparam.gauss_hermite_expectation(torch.square, 0.0, 1.0, degree=np.int64(20)),
        lambda: torch.tensor(1.0),
    )
    value(
        "gauss_hermite_expectation: numpy float32 loc",
        lambda: reparam.gauss_hermite_expectation(torch.square, np.float32(1.0), 1.0),
        lambda: torch.tensor(2.0),
    )
    value(
        "gauss_hermite_expectation: integer loc tensor",
        lambda: reparam.gauss_hermite_expectation(torch.square, torch.tensor([0, 1]), 1.0),
        lambda: t(1.0, 2.0),
    )
    error(
        "gauss_hermite_rule: integer dtype",
        lambda: gauss_hermite_rule(5, dtype=torch.int64),
        "dtype",
    )
    error(
        "gauss_hermite_expectation: function a string",
        lambda: reparam.gauss_hermite_expectation("square", 0.0, 1.0),
        "function",
    )
    error(
        "gauss_hermite_expectation: degree 0",
        lambda: reparam.gauss_hermite_expectation(torch.square, 0.0, 1.0, degree=0),
        "degree",
    )
    error(
        "gauss_hermite_expectation: scale 0",
        lambda: reparam.gauss_hermite_expectation(torch.square, 0.0, 0.0),
        "scale",
    )
    error(
        "gauss_hermite_expectation: shapes (3,) and (2,)",
        lambda: reparam.gauss_hermite_expectation(torch.square, torch.zeros(3), torch.ones(2)),
        "loc",
        "scale",
    )


def estimator_cases() -> None:
    sq = reparam.quadratic_cost()
    normal = reparam.NORMAL
    check(
        "pathwise_gradient: num_samples numpy int64",
        lambda: estimators.pathwise_gradient(sq, normal, {"loc": 0.0, "scale": 1.0}, np.int64(8)),
        shape_dtype((8,), torch.get_default_dtype()),
    )
    check(
        "pathwise_gradient: integer loc tensor",
        lambda: estimators.pathwise_gradient(
            sq, normal, {"loc": torch.tensor([0, 1]), "scale": 1.0}, 8, generator=gen()
        ),
        shape_dtype((8, 2), torch.get_default_dtype()),
    )
    check(
        "pathwise_gradient: numpy float32 loc",
        lambda: estimators.pathwise_gradient(
            sq, normal, {"loc": np.float32(0.5), "scale": 1.0}, 8, generator=gen()
        ),
        shape_dtype((8,), torch.get_default_dtype()),
    )
    error(
        "pathwise_gradient: num_samples 0",
        lambda: estimators.pathwise_gradient(sq, normal, {"loc": 0.0, "scale": 1.0}, 0),
        "num_samples",
    )
    error(
        "pathwise_gradient: scale -1",
        lambda: estimators.pathwise_gradient(sq, normal, {"loc": 0.0, "scale": -1.0}, 4),
        "scale",
    )
    error(
        "pathwise_gradient: loc NaN tensor",
        lambda: estimators.pathwise_gradient(sq, normal, {"loc": t(NAN), "scale": t(1.0)}, 4),
        "loc",
    )
    error(
        "pathwise_gradient: params a list",
        lambda: estimators.pathwise_gradient(sq, normal, [0.0, 1.0], 4),
        "params",
    )
    error(
        "pathwise_gradient: cost returns wrong shape",
        lambda: estimators.pathwise_gradient(
            lambda z: z.sum().reshape(1), normal, {"loc": t(0.0, 1.0), "scale": 1.0}, 4
        ),
        "cost",
    )
    check(
        "score_function_gradient: numpy float32 baseline",
        lambda: estimators.score_function_gradient(
            sq, normal, {"loc": 0.0, "scale": 1.0}, 8, generator=gen(), baseline=np.float32(1.0)
        ),
        shape_dtype((8,), torch.get_default_dtype()),
    )
    error(
        "score_function_gradient: baseline NaN",
        lambda: estimators.score_function_gradient(
            sq, normal, {"loc": 0.0, "scale": 1.0}, 8, baseline=NAN
        ),
        "baseline",
    )
    error(
        "score_function_gradient: optimal baseline with 1 sample",
        lambda: estimators.score_function_gradient(
            sq, normal, {"loc": 0.0, "scale": 1.0}, 1, baseline="optimal"
        ),
        "num_samples",
    )
    error(
        "measure_valued_gradient: non-Gaussian distribution",
        lambda: estimators.measure_valued_gradient(
            sq, catalog.get("laplace").distribution, {"loc": 0.0, "scale": 1.0}, 4
        ),
        "distribution",
    )
    error(
        "score_function_gradient: cost returns a list",
        lambda: estimators.score_function_gradient(
            lambda z: [0.0], normal, {"loc": 0.0, "scale": 1.0}, 4
        ),
        "cost",
    )


def variance_cases() -> None:
    sq = reparam.quadratic_cost()
    value(
        "gradient_moments: numpy float32 loc",
        lambda: variance.gradient_moments(
            sq, np.float32(1.0), 1.0, estimator="pathwise", parameter="loc"
        ),
        lambda: variance.GradientMoments(2.0, 4.0),
    )
    value(
        "gradient_moments: numpy int64 scale",
        lambda: variance.gradient_moments(
            sq, 1.0, np.int64(2), estimator="pathwise", parameter="loc"
        ),
        lambda: variance.GradientMoments(2.0, 16.0),
    )
    value(
        "gradient_moments: 0-d tensor loc",
        lambda: variance.gradient_moments(
            sq, torch.tensor(1.0), 1.0, estimator="pathwise", parameter="loc"
        ),
        lambda: variance.GradientMoments(2.0, 4.0),
        names=("loc",),
        may_reject=True,
    )
    error(
        "gradient_moments: scale 0",
        lambda: variance.gradient_moments(sq, 1.0, 0.0, estimator="pathwise", parameter="loc"),
        "scale",
    )
    error(
        "gradient_moments: loc NaN",
        lambda: variance.gradient_moments(sq, NAN, 1.0, estimator="pathwise", parameter="loc"),
        "loc",
    )
    error(
        "gradient_moments: unknown estimator",
        lambda: variance.gradient_moments(sq, 1.0, 1.0, estimator="magic", parameter="loc"),
        "estimator",
    )
    value(
        "optimal_baseline: numpy float32 scale",
        lambda: variance.optimal_baseline(sq, 0.0, np.float32(1.0), "loc"),
        lambda: torch.tensor(3.0),  # E[z^2 z^2]/E[z^2] = 3 for z ~ N(0, 1)
    )
    error(
        "variance_curves: loc a string",
        lambda: variance.variance_curves(reparam.cosine_cost, [1.0], loc="1"),
        "loc",
    )


def gaussian_identity_cases() -> None:
    gi = gaussian_identities
    cost = gi.quadratic_form_cost([[1.0, 0.0], [0.0, 2.0]])
    value(
        "exact_gaussian_gradients: integer loc list",
        lambda: gi.exact_gaussian_gradients(cost, [1, 2], [[1.0, 0.0], [0.0, 1.0]]),
        lambda: (t(2.0, 8.0), t(1.0, 0.0, 0.0, 2.0).reshape(2, 2)),
    )
    value(
        "exact_gaussian_gradients: integer cov tensor",
        lambda: gi.exact_gaussian_gradients(cost, t(1.0, 2.0), torch.eye(2, dtype=torch.int64)),
        lambda: (t(2.0, 8.0), t(1.0, 0.0, 0.0, 2.0).reshape(2, 2)),
    )
    value(
        "exact_gaussian_gradients: numpy loc array",
        lambda: gi.exact_gaussian_gradients(cost, np.array([1.0, 2.0]), torch.eye(2)),
        lambda: (t(2.0, 8.0), t(1.0, 0.0, 0.0, 2.0).reshape(2, 2)),
        names=("loc",),
        may_reject=True,
    )
    error(
        "exact_gaussian_gradients: cov not symmetric",
        lambda: gi.exact_gaussian_gradients(cost, t(0.0, 0.0), t(1.0, 0.5, 0.0, 1.0).reshape(2, 2)),
        "cov",
    )
    error(
        "exact_gaussian_gradients: cov not positive definite",
        lambda: gi.exact_gaussian_gradients(cost, t(0.0, 0.0), -torch.eye(2)),
        "cov",
    )
    error(
        "exact_gaussian_gradients: loc NaN",
        lambda: gi.exact_gaussian_gradients(cost, t(NAN, 0.0), torch.eye(2)),
        "loc",
    )
    error(
        "exact_gaussian_gradients: cost of dimension 2, loc of 3",
        lambda: gi.exact_gaussian_gradients(cost, torch.zeros(3), torch.eye(3)),
        "loc",
    )
    check(
        "gaussian_rsample: num_samples numpy int64",
        lambda: gi.gaussian_rsample(t(0.0, 0.0), torch.eye(2), np.int64(3), generator=gen()),
        shape_dtype((3, 2), F32),
    )
    error(
        "gaussian_rsample: num_samples 0",
        lambda: gi.gaussian_rsample(t(0.0, 0.0), torch.eye(2), 0),
        "num_samples",
    )
    error(
        "price_gradient: unknown convention",
        lambda: gi.price_gradient(cost, t(0.0, 0.0), torch.eye(2), 3, convention="both"),
        "convention",
    )
    error(
        "bonnet_gradient: cost not callable",
        lambda: gi.bonnet_gradient(3.0, t(0.0, 0.0), torch.eye(2), 3),
        "cost",
    )
    error("tie_gradient: a vector", lambda: gi.tie_gradient(torch.ones(3)), "untied")
    error("untie_gradient: a 2 x 3 matrix", lambda: gi.untie_gradient(torch.ones(2, 3)), "tied")
    error(
        "quadratic_form_cost: vector of the wrong length",
        lambda: gi.quadratic_form_cost(torch.eye(2), t(1.0, 2.0, 3.0)),
        "vector",
    )
    error(
        "exp_quadratic_form_cost: precision NaN",
        lambda: gi.exp_quadratic_form_cost(t(NAN, 0.0, 0.0, 1.0).reshape(2, 2)),
        "precision",
    )


def discrete_cases() -> None:
    value(
        "bernoulli_log_prob: probs 0 (value 0 is certain)",
        lambda: discrete.bernoulli_log_prob(t(0.0, 1.0), t(0.0)),
        lambda: torch.from_numpy(st.bernoulli(0.0).logpmf([0, 1])).float(),
    )
    value(
        "bernoulli_log_prob: probs 1",
        lambda: discrete.bernoulli_log_prob(t(0.0, 1.0), t(1.0)),
        lambda: torch.from_numpy(st.bernoulli(1.0).logpmf([0, 1])).float(),
    )
    value(
        "bernoulli_log_prob: value 0.5 outside {0, 1}",
        lambda: discrete.bernoulli_log_prob(t(0.5, 2.0, -1.0), t(0.3)),
        lambda: torch.from_numpy(st.bernoulli(0.3).logpmf([0.5, 2.0, -1.0])).float(),
    )
    value(
        "bernoulli_log_prob: boolean value",
        lambda: discrete.bernoulli_log_prob(torch.tensor([False, True]), t(0.3)),
        lambda: D.Bernoulli(probs=t(0.3)).log_prob(t(0.0, 1.0)),
    )
    value(
        "bernoulli_log_prob: integer value",
        lambda: discrete.bernoulli_log_prob(torch.tensor([0, 1]), t(0.3)),
        lambda: D.Bernoulli(probs=t(0.3)).log_prob(t(0.0, 1.0)),
    )
    value(
        "bernoulli_log_prob: Python float probs",
        lambda: discrete.bernoulli_log_prob(t(0.0, 1.0), 0.3),
        lambda: D.Bernoulli(probs=t(0.3)).log_prob(t(0.0, 1.0)),
    )
    error(
        "bernoulli_log_prob: probs 1.5",
        lambda: discrete.bernoulli_log_prob(t(0.0), t(1.5)),
        "probs",
    )
    error(
        "bernoulli_log_prob: probs NaN",
        lambda: discrete.bernoulli_log_prob(t(0.0), t(NAN)),
        "probs",
    )
    value(
        "categorical_log_prob: a logit -inf (impossible category)",
        lambda: discrete.categorical_log_prob(t(0.0, 1.0, 0.0), t(-INF, 0.0, 1.0)),
        lambda: D.Categorical(logits=t(-INF, 0.0, 1.0)).log_prob(torch.tensor(1)),
    )
    value(
        "categorical_log_prob: the impossible category",
        lambda: discrete.categorical_log_prob(t(1.0, 0.0, 0.0), t(-INF, 0.0, 1.0)),
        lambda: torch.tensor(-INF),
    )
    value(
        "categorical_log_prob: value not one-hot",
        lambda: discrete.categorical_log_prob(t(0.5, 0.5), t(0.0, 1.0)),
        lambda: torch.tensor(float(st.multinomial(1, [0.5, 0.5]).logpmf([0.5, 0.5]))),
    )
    value(
        "categorical_log_prob: integer logits",
        lambda: discrete.categorical_log_prob(t(0.0, 1.0), torch.tensor([0, 1])),
        lambda: D.Categorical(logits=t(0.0, 1.0)).log_prob(torch.tensor(1)),
    )
    value(
        "categorical_log_prob: integer one-hot value",
        lambda: discrete.categorical_log_prob(torch.tensor([0, 1]), t(0.0, 1.0)),
        lambda: D.Categorical(logits=t(0.0, 1.0)).log_prob(torch.tensor(1)),
    )
    error(
        "categorical_log_prob: logits NaN",
        lambda: discrete.categorical_log_prob(t(0.0, 1.0), t(NAN, 1.0)),
        "logits",
    )
    error(
        "categorical_log_prob: logits +inf",
        lambda: discrete.categorical_log_prob(t(0.0, 1.0), t(INF, 1.0)),
        "logits",
    )
    error(
        "categorical_log_prob: value (3,) against logits (2,)",
        lambda: discrete.categorical_log_prob(t(0.0, 1.0, 0.0), t(0.0, 1.0)),
        "value",
        "logits",
    )
    check(
        "gumbel_max_sample: num_samples numpy int64",
        lambda: discrete.gumbel_max_sample(t(0.0, 1.0), np.int64(5), generator=gen()),
        shape_dtype((5,), torch.int64),
    )
    check(
        "relaxed_one_hot_sample: numpy float32 temperature",
        lambda: discrete.relaxed_one_hot_sample(t(0.0, 1.0), np.float32(0.5), 3, generator=gen()),
        shape_dtype((3, 2), F32),
    )
    check(
        "relaxed_one_hot_sample: 0-d tensor temperature",
        lambda: discrete.relaxed_one_hot_sample(t(0.0, 1.0), torch.tensor(0.5), 3, generator=gen()),
        shape_dtype((3, 2), F32),
        names=("temperature",),
        may_reject=True,
    )
    check(
        "relaxed_bernoulli_sample: numpy float32 probs",
        lambda: discrete.relaxed_bernoulli_sample(np.float32(0.3), 0.5, 3, generator=gen()),
        shape_dtype((3,), torch.get_default_dtype()),
    )
    error(
        "relaxed_bernoulli_sample: probs 0",
        lambda: discrete.relaxed_bernoulli_sample(0.0, 0.5, 3),
        "probs",
    )
    error(
        "relaxed_one_hot_sample: temperature 0",
        lambda: discrete.relaxed_one_hot_sample(t(0.0, 1.0), 0.0, 3),
        "temperature",
    )
    error(
        "relaxed_one_hot_sample: one category",
        lambda: discrete.relaxed_one_hot_sample(t(0.0), 1.0, 3),
        "logits",
    )
    value(
        "RelaxedBernoulli.log_prob: value outside [0, 1]",
        lambda: discrete.RelaxedBernoulli(temperature=0.5).log_prob(
            t(-0.5, 1.5), {"probs": t(0.3)}
        ),
        lambda: t(-INF, -INF),
    )
    value(
        "RelaxedCategorical.log_prob: value off the simplex",
        lambda: discrete.RelaxedCategorical(temperature=0.5).log_prob(
            t(-0.5, 1.5), {"logits": t(0.0, 1.0)}
        ),
        lambda: torch.tensor(-INF),
    )
    error(
        "BERNOULLI.log_prob: probs -0.2",
        lambda: discrete.BERNOULLI.log_prob(t(1.0), {"probs": t(-0.2)}),
        "probs",
    )
    for sampler in (discrete.sample_gumbel, discrete.sample_logistic):
        check(
            f"{sampler.__name__}: float16 noise is finite",
            lambda sampler=sampler: sampler((100_000,), generator=gen(), dtype=torch.float16),
            lambda z: z.dtype == torch.float16 and bool(torch.isfinite(z).all()),
        )
    error("heaviside: integer tensor", lambda: discrete.heaviside(torch.tensor([1, -1])), "x")
    error("hard_one_hot: a list", lambda: discrete.hard_one_hot([0.0, 1.0]), "scores")
    error(
        "straight_through: shapes (3,) and (2,)",
        lambda: discrete.straight_through(torch.zeros(3), torch.zeros(2)),
        "hard",
    )


# -- the catalog ---------------------------------------------------------------------------
#: (key, a value outside the support, scipy frozen distribution at the example parameters)
def _scipy(key: str) -> Any:
    p = {k: np.asarray(v, dtype=float) for k, v in catalog.get(key).example.items()}
    return {
        "exponential": lambda: st.expon(scale=1 / p["rate"]),
        "rayleigh": lambda: st.rayleigh(scale=p["scale"]),
        "pareto": lambda: st.pareto(p["alpha"], scale=p["scale"]),
        "weibull": lambda: st.weibull_min(p["concentration"], scale=p["scale"]),
        "reciprocal": lambda: st.loguniform(p["low"], p["high"]),
        "gompertz": lambda: st.gompertz(p["shape"], scale=1 / p["rate"]),
        "erlang": lambda: st.gamma(p["shape"], scale=1 / p["rate"]),
        "kumaraswamy": lambda: None,
        "half_normal": lambda: st.halfnorm(scale=p["scale"]),
        "log_normal": lambda: st.lognorm(p["scale"], scale=np.exp(p["loc"])),
        "beta": lambda: st.beta(p["concentration1"], p["concentration0"]),
        "chi_squared": lambda: st.chi2(p["df"]),
        "f": lambda: st.f(p["df1"], p["df2"]),
        "inverse_gamma": lambda: st.invgamma(p["concentration"], scale=p["rate"]),
        "gamma": lambda: st.gamma(p["concentration"], scale=1 / p["rate"]),
        "uniform": lambda: st.uniform(p["low"], p["high"] - p["low"]),
        "triangular": lambda: st.triang(
            (p["mode"] - p["low"]) / (p["high"] - p["low"]), p["low"], p["high"] - p["low"]
        ),
        "gumbel": lambda: st.gumbel_r(p["loc"], p["scale"]),
        "logistic": lambda: st.logistic(p["loc"], p["scale"]),
    }[key]()


OUTSIDE = {
    "exponential": [-1.0],
    "rayleigh": [-1.0],
    "pareto": [0.5],
    "weibull": [-1.0],
    "reciprocal": [0.25, 5.0],
    "gompertz": [-1.0],
    "erlang": [-1.0],
    "half_normal": [-1.0],
    "log_normal": [-1.0],
    "beta": [-0.5, 1.5],
    "chi_squared": [-1.0],
    "f": [-1.0],
    "inverse_gamma": [-1.0],
    "gamma": [-1.0],
    "uniform": [-3.0, 5.0],
    "triangular": [-1.0, 4.0],
}


def _kumaraswamy_log_pdf(x: np.ndarray, a: float, b: float) -> np.ndarray:
    inside_ = (x > 0) & (x < 1)
    xs = np.where(inside_, x, 0.5)
    out = np.log(a * b) + (a - 1) * np.log(xs) + (b - 1) * np.log1p(-(xs**a))
    return np.where(inside_, out, -np.inf)


def catalog_cases() -> None:
    for key, points in [*OUTSIDE.items(), ("kumaraswamy", [-0.5, 1.5])]:
        e = catalog.get(key)
        p = e.example_params(F64)
        z = torch.tensor(points, dtype=F64)
        if key == "kumaraswamy":
            ref = _kumaraswamy_log_pdf(np.array(points), 2.0, 3.0)
        else:
            ref = _scipy(key).logpdf(np.array(points))
        value(
            f"catalog {key}: log_prob outside the support at {points}",
            lambda e=e, z=z, p=p: e.distribution.log_prob(z, p),
            lambda ref=ref: torch.from_numpy(np.asarray(ref, dtype=float)),
        )
        if e.cdf is not None and key != "kumaraswamy":
            value(
                f"catalog {key}: cdf outside the support at {points}",
                lambda e=e, z=z, p=p: e.cdf(z, p),
                lambda key=key, points=points: torch.tensor(_scipy(key).cdf(np.array(points))),
            )
    value(
        "catalog exponential: log_prob at -1 with rate 2 (the issue's example)",
        lambda: catalog.get("exponential").distribution.log_prob(t(-1.0), {"rate": t(2.0)}),
        lambda: t(-INF),
    )
    value(
        "catalog kumaraswamy: cdf outside the support",
        lambda: catalog.get("kumaraswamy").cdf(
            t(-0.5, 1.5), {"concentration1": t(2.0), "concentration0": t(3.0)}
        ),
        lambda: t(0.0, 1.0),
    )
    # boundaries, where a formula with (a - 1) log z gives 0 · (-inf) = NaN
    boundary = [
        ("gamma", {"concentration": 1.0, "rate": 2.0}, 0.0, st.gamma(1.0, scale=0.5)),
        ("chi_squared", {"df": 2.0}, 0.0, st.chi2(2.0)),
        ("beta", {"concentration1": 1.0, "concentration0": 3.0}, 0.0, st.beta(1.0, 3.0)),
        ("beta", {"concentration1": 2.0, "concentration0": 1.0}, 1.0, st.beta(2.0, 1.0)),
        ("weibull", {"scale": 2.0, "concentration": 1.0}, 0.0, st.weibull_min(1.0, scale=2.0)),
        ("f", {"df1": 2.0, "df2": 5.0}, 0.0, st.f(2.0, 5.0)),
        ("inverse_gamma", {"concentration": 2.0, "rate": 1.0}, 0.0, st.invgamma(2.0, scale=1.0)),
        ("log_normal", {"loc": 0.0, "scale": 1.0}, 0.0, st.lognorm(1.0)),
    ]
    for key, params, point, frozen in boundary:
        value(
            f"catalog {key}: log_prob at the boundary {point} of the support, {params}",
            lambda key=key, params=params, point=point: catalog.get(key).distribution.log_prob(
                torch.tensor([point], dtype=F64),
                {k: torch.tensor(v, dtype=F64) for k, v in params.items()},
            ),
            lambda frozen=frozen, point=point: torch.tensor([float(frozen.logpdf(point))]),
        )
    for key in ("gumbel", "logistic"):
        value(
            f"catalog {key}: log_prob at -inf and +inf",
            lambda key=key: catalog.get(key).distribution.log_prob(
                t(-INF, INF, dtype=F64), catalog.get(key).example_params(F64)
            ),
            lambda: t(-INF, -INF),  # the density's limit (scipy's gumbel_r gives NaN at -inf)
        )
    value(
        "catalog dirichlet: log_prob off the simplex",
        lambda: catalog.get("dirichlet").distribution.log_prob(
            t(0.5, 0.5, 0.5, dtype=F64), catalog.get("dirichlet").example_params(F64)
        ),
        lambda: torch.tensor(-INF),
    )
    error(
        "catalog multivariate_normal: log_prob of a 3-vector, d = 2",
        lambda: catalog.get("multivariate_normal").distribution.log_prob(
            torch.zeros(3, dtype=F64), catalog.get("multivariate_normal").example_params(F64)
        ),
        "value",
    )
    error(
        "catalog exponential: log_prob with rate -1",
        lambda: catalog.get("exponential").distribution.log_prob(t(1.0), {"rate": t(-1.0)}),
        "rate",
    )
    error(
        "catalog gamma: log_prob with value shape (3,) and parameters (2,)",
        lambda: catalog.get("gamma").distribution.log_prob(
            t(1.0, 2.0, 3.0), {"concentration": t(1.0, 2.0), "rate": t(1.0)}
        ),
        "value",
    )
    value(
        "catalog gamma: log_prob of an integer value tensor",
        lambda: catalog.get("gamma").distribution.log_prob(
            torch.tensor([1, 2]), {"concentration": t(2.0), "rate": t(1.0)}
        ),
        lambda: D.Gamma(2.0, 1.0).log_prob(t(1.0, 2.0)),
    )
    # moments outside the range where they exist (scipy convention: inf or NaN)
    moments = [
        ("student_t", {"df": 1.5, "loc": 0.0, "scale": 1.0}, st.t(1.5).moment(2)),
        ("student_t", {"df": 0.5, "loc": 0.0, "scale": 1.0}, st.t(0.5).moment(2)),
        ("student_t", {"df": 2.0, "loc": 0.0, "scale": 1.0}, st.t(2.0).moment(2)),
        ("inverse_gamma", {"concentration": 0.5, "rate": 1.0}, st.invgamma(0.5).mean()),
        ("inverse_gamma", {"concentration": 1.0, "rate": 1.0}, st.invgamma(1.0).mean()),
    ]
    for key, params, ref in moments:
        value(
            f"catalog {key}: moment at {params}",
            lambda key=key, params=params: catalog.get(key).moment.expectation(
                {k: torch.tensor(v, dtype=F64) for k, v in params.items()}
            ),
            lambda ref=ref: torch.tensor(float(ref)),
        )
    value(
        "catalog multivariate_student_t: moment at df 1.5",
        lambda: catalog.get("multivariate_student_t").moment.expectation(
            {
                "df": torch.tensor(1.5, dtype=F64),
                "loc": torch.zeros(2, dtype=F64),
                "scale_tril": torch.eye(2, dtype=F64),
            }
        ),
        lambda: torch.tensor(INF),
    )
    # parameters given as NumPy scalars and integer tensors
    check(
        "catalog exponential: rate numpy float32",
        lambda: catalog.get("exponential").rsample(5, generator=gen(), rate=np.float32(2.0)),
        shape_dtype((5,), torch.get_default_dtype()),
    )
    check(
        "catalog gamma: concentration numpy int64",
        lambda: catalog.get("gamma").rsample(
            5, generator=gen(), concentration=np.int64(2), rate=1.0
        ),
        shape_dtype((5,), torch.get_default_dtype()),
    )
    check(
        "catalog beta: integer tensors",
        lambda: catalog.get("beta").rsample(
            5, generator=gen(), concentration1=torch.tensor([1, 2]), concentration0=torch.tensor(3)
        ),
        shape_dtype((5, 2), torch.get_default_dtype()),
    )
    check(
        "catalog erlang: num_samples numpy int64",
        lambda: catalog.get("erlang").rsample(np.int64(4), generator=gen(), shape=2.0, rate=1.0),
        shape_dtype((4,), torch.get_default_dtype()),
    )
    for key in ("beta", "student_t", "erlang", "gamma", "dirichlet"):
        e = catalog.get(key)
        params = {
            k: v.expand(0, *v.shape[v.dim() - q.event_dims :])
            for (k, v), q in zip(
                e.example_params(F64).items(), e.distribution.parameters, strict=True
            )
        }
        check(
            f"catalog {key}: empty parameters",
            lambda e=e, params=params: e.rsample(3, generator=gen(), **params),
            lambda z: z.shape[:2] == (3, 0),
            names=tuple(params),
            may_reject=True,
        )
    for key in ("gamma", "beta", "normal"):
        e = catalog.get(key)
        check(
            f"catalog {key}: float16 parameters",
            lambda e=e: e.rsample(100, generator=gen(), **e.example_params(torch.float16)),
            lambda z: z.dtype == torch.float16 and bool(torch.isfinite(z).all()),
            names=tuple(e.example),
            may_reject=True,
        )
    error(
        "catalog gamma: rate -1",
        lambda: catalog.get("gamma").rsample(3, concentration=1.0, rate=-1.0),
        "rate",
    )
    error(
        "catalog gamma: concentration NaN",
        lambda: catalog.get("gamma").rsample(3, concentration=NAN, rate=1.0),
        "concentration",
    )
    error(
        "catalog erlang: shape 2.5",
        lambda: catalog.get("erlang").rsample(3, shape=2.5, rate=1.0),
        "shape",
    )
    error(
        "catalog uniform: high < low (tensors)",
        lambda: catalog.get("uniform").rsample(3, low=t(0.0, 2.0), high=t(1.0, 1.0)),
        "high",
        "low",
    )
    error(
        "catalog student_t: df shape (3,), loc shape (2,)",
        lambda: catalog.get("student_t").rsample(
            3, df=t(1.0, 2.0, 3.0), loc=t(0.0, 1.0), scale=1.0
        ),
        "df",
        "loc",
    )
    error(
        "catalog dirichlet: concentration with a zero",
        lambda: catalog.get("dirichlet").rsample(3, concentration=t(1.0, 0.0)),
        "concentration",
    )
    error(
        "catalog multivariate_normal: scale_tril NaN",
        lambda: catalog.get("multivariate_normal").rsample(
            3, loc=torch.zeros(2), scale_tril=t(NAN, 0.0, 0.0, 1.0).reshape(2, 2)
        ),
        "scale_tril",
    )
    error("catalog get: unknown key", lambda: catalog.get(3), "key")
    error(
        "catalog gradient_check: num_samples 0",
        lambda: catalog.gradient_check(catalog.get("gamma"), 0),
        "num_samples",
    )
    error(
        "gamma_log_prob: concentration -1",
        lambda: catalog.implicit.gamma_log_prob(t(1.0), t(-1.0), t(1.0)),
        "concentration",
    )
    value(
        "gamma_log_prob: value -1",
        lambda: catalog.implicit.gamma_log_prob(t(-1.0), t(2.0), t(1.0)),
        lambda: t(-INF),
    )
    error(
        "log_standard_gamma_rsample: alpha 0",
        lambda: catalog.implicit.log_standard_gamma_rsample(t(0.0), 3),
        "alpha",
    )
    error(
        "log_standard_gamma_rsample: num_samples 0",
        lambda: catalog.implicit.log_standard_gamma_rsample(t(1.0), 0),
        "num_samples",
    )
    error("exp_e1: x -1", lambda: catalog.inverse_cdf.exp_e1(t(-1.0, dtype=F64)), "x")
    error(
        "log_gamma_alpha_grad: alpha -1",
        lambda: catalog.implicit.log_gamma_alpha_grad(t(-1.0, dtype=F64), t(0.0, dtype=F64)),
        "alpha",
    )
    error("open_uniform: negative shape", lambda: reparam.noise.open_uniform((-1,)), "shape")
    error("catalog entries: unknown approach", lambda: catalog.entries("sideways"), "approach")
    error(
        "Parameter: constraint not callable",
        lambda: reparam.Parameter("x", constraint=3),
        "constraint",
    )
    error(
        "greater_than: bound NaN",
        lambda: reparam.reparameterization.greater_than(NAN),
        "bound",
    )
    value(
        "catalog gradient_check: integer example dtype",
        lambda: len(
            catalog.gradient_check(
                catalog.get("exponential"), 10, generator=gen(), params={"rate": torch.tensor(2)}
            )
        ),
        lambda: 1,
    )


def sampler_cases() -> None:
    """Draws must lie strictly inside the support (issue #10: Beta 1.0, Gamma 0, ...)."""
    n = 5_000
    rows: list[tuple[str, dict[str, float], float, float]] = [
        ("beta", {"concentration1": 0.1, "concentration0": 0.1}, 0.0, 1.0),
        ("beta", {"concentration1": 0.01, "concentration0": 0.01}, 0.0, 1.0),
        ("kumaraswamy", {"concentration1": 2.0, "concentration0": 0.05}, 0.0, 1.0),
        ("kumaraswamy", {"concentration1": 0.05, "concentration0": 2.0}, 0.0, 1.0),
        ("gamma", {"concentration": 0.01, "rate": 1.0}, 0.0, INF),
        ("chi_squared", {"df": 0.02}, 0.0, INF),
        ("f", {"df1": 0.05, "df2": 5.0}, 0.0, INF),
        ("f", {"df1": 5.0, "df2": 0.05}, 0.0, INF),
        ("inverse_gamma", {"concentration": 0.02, "rate": 1.0}, 0.0, INF),
        ("weibull", {"scale": 1.0, "concentration": 0.02}, 0.0, INF),
        ("pareto", {"scale": 1.0, "alpha": 0.05}, 0.0, INF),
    ]
    for dtype in (F32, F64):
        for key, params, low, high in rows:
            check(
                f"catalog {key} {str(dtype)[6:]}: draws inside ({low}, {high}) at {params}",
                lambda key=key, params=params, dtype=dtype: catalog.get(key).rsample(
                    n,
                    generator=gen(1),
                    **{k: torch.tensor(v, dtype=dtype) for k, v in params.items()},
                ),
                inside(low, high),
            )
        check(
            f"catalog dirichlet {str(dtype)[6:]}: draws strictly inside the simplex at 0.01",
            lambda dtype=dtype: catalog.get("dirichlet").rsample(
                n, generator=gen(1), concentration=torch.full((3,), 0.01, dtype=dtype)
            ),
            inside(0.0, 1.0),
        )


def application_cases() -> None:
    from reparam.book import data, logistic, vae

    value(
        "kl_to_standard_normal: scale NaN",
        lambda: reparam.normal.kl_to_standard_normal(t(0.0), t(NAN)),
        lambda: t(NAN),
        names=("scale",),
        may_reject=True,
    )
    error(
        "kl_to_standard_normal: scale 0",
        lambda: reparam.normal.kl_to_standard_normal(t(0.0), t(0.0)),
        "scale",
    )
    value(
        "kl_to_standard_normal: integer loc",
        lambda: reparam.normal.kl_to_standard_normal(torch.tensor([1]), t(1.0)),
        lambda: torch.tensor(0.5),
    )
    value(
        "bernoulli_log_likelihood: integer x",
        lambda: vae.bernoulli_log_likelihood(torch.tensor([0, 1]), t(0.0, 0.0)),
        lambda: torch.tensor(2 * math.log(0.5)),
    )
    error(
        "bernoulli_log_likelihood: x (3,) against logits (2,)",
        lambda: vae.bernoulli_log_likelihood(t(0.0, 1.0, 1.0), t(0.0, 0.0)),
        "x",
        "logits",
    )
    check(
        "VAE: data_dim numpy int64",
        lambda: vae.VAE(np.int64(4), 2, (3,), generator=gen()).encode(torch.rand(2, 4))[0],
        shape_dtype((2, 2), F32),
    )
    error("VAE: latent_dim 0", lambda: vae.VAE(4, 0), "latent_dim")
    error(
        "VAE: obs_scale NaN",
        lambda: vae.VAE(4, 2, likelihood="gaussian", obs_scale=NAN),
        "obs_scale",
    )
    model = vae.VAE(4, 2, (3,), generator=gen())
    error("elbo: num_samples 0", lambda: vae.elbo(model, torch.rand(2, 4), 0), "num_samples")
    error("elbo: x with 5 columns", lambda: vae.elbo(model, torch.rand(2, 5)), "x")
    error("elbo: x with a NaN", lambda: vae.elbo(model, t(NAN, 0.0, 0.0, 0.0).reshape(1, 4)), "x")
    error(
        "linear_gaussian_log_evidence: x of the wrong width",
        lambda: vae.linear_gaussian_log_evidence(
            torch.rand(2, 5), torch.ones(4, 2), torch.zeros(4), 1.0
        ),
        "x",
    )
    error(
        "linear_gaussian_elbo: obs_scale NaN",
        lambda: vae.linear_gaussian_elbo(
            torch.rand(2, 4),
            torch.ones(4, 2),
            torch.zeros(4),
            NAN,
            torch.zeros(2, 2),
            torch.ones(2, 2),
        ),
        "obs_scale",
    )
    feats, labels = torch.randn(6, 3, generator=gen()), t(0, 1, 0, 1, 1, 0)
    value(
        "logistic log_likelihood: integer features",
        lambda: logistic.log_likelihood(t(0.5, -0.5, 1.0), feats.round().to(torch.int64), labels),
        lambda: D.Bernoulli(logits=feats.round() @ t(0.5, -0.5, 1.0)).log_prob(labels).sum(),
    )
    value(
        "logistic log_likelihood: integer labels",
        lambda: logistic.log_likelihood(t(0.5, -0.5, 1.0), feats, labels.to(torch.int64)),
        lambda: D.Bernoulli(logits=feats @ t(0.5, -0.5, 1.0)).log_prob(labels).sum(),
    )
    error(
        "logistic log_likelihood: labels 2",
        lambda: logistic.log_likelihood(t(0.5, -0.5, 1.0), feats, labels * 2),
        "labels",
    )
    error(
        "logistic elbo_gradient: unknown method",
        lambda: logistic.elbo_gradient("magic", torch.zeros(3), torch.zeros(3), feats, labels, 4),
        "method",
    )
    error(
        "logistic elbo_gradient: loc of the wrong shape",
        lambda: logistic.elbo_gradient(
            "pathwise", torch.zeros(2), torch.zeros(3), feats, labels, 4
        ),
        "loc",
    )
    check(
        "logistic elbo_gradient: num_samples numpy int64",
        lambda: (
            logistic.elbo_gradient(
                "pathwise",
                torch.zeros(3),
                torch.zeros(3),
                feats,
                labels,
                np.int64(4),
                generator=gen(),
            ).loc
        ),
        shape_dtype((4, 3), F32),
    )
    value(
        "logistic accuracy: integer features",
        lambda: logistic.accuracy(t(0.5, -0.5, 1.0), feats.round().to(torch.int64), labels),
        lambda: torch.tensor(
            float(((feats.round() @ t(0.5, -0.5, 1.0) > 0).float() == labels).float().mean())
        ),
    )
    value(
        "logistic accuracy: float64 loc, float32 features",
        lambda: logistic.accuracy(t(0.5, -0.5, 1.0, dtype=F64), feats, labels),
        lambda: torch.tensor(
            float(((feats @ t(0.5, -0.5, 1.0) > 0).float() == labels).float().mean())
        ),
    )
    error(
        "logistic gradient_variance: num_samples 1",
        lambda: logistic.gradient_variance(
            "pathwise", torch.zeros(3), torch.zeros(3), feats, labels, 1
        ),
        "num_samples",
    )
    check(
        "elbo_surrogate: numpy float32 baseline",
        lambda: (
            vae.elbo_surrogate(
                model,
                torch.rand(2, 4, generator=gen()),
                encoder_gradient="score_function",
                baseline=np.float32(1.0),
                generator=gen(),
            ).elbo
        ),
        shape_dtype((2,), F32),
    )
    error(
        "elbo_surrogate: baseline with the pathwise gradient",
        lambda: vae.elbo_surrogate(model, torch.rand(2, 4), baseline=1.0),
        "baseline",
    )
    error("ProgressBar: total 0", lambda: training.ProgressBar(0), "total")
    error(
        "train: step not callable",
        lambda: training.train(
            3,
            torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1),
            10,
            num_steps=1,
            batch_size=2,
            generator=gen(),
        ),
        "step",
    )
    error(
        "load_digits: integer dtype",
        lambda: data.load_digits(dtype=torch.int64, generator=gen()),
        "dtype",
    )
    error("parse_date: an int", lambda: reparam.book.history.parse_date(2014), "date")
    error("parse_date: month 13", lambda: reparam.book.history.parse_date("2014-13"), "date")
    check(
        "MovingAverage: numpy float32 decay",
        lambda: training.MovingAverage(np.float32(0.5)).update(2.0),
        lambda v: abs(float(v) - 2.0) < 1e-6,
    )
    error("MovingAverage: decay 1", lambda: training.MovingAverage(1.0), "decay")
    check(
        "minibatches: numpy int64 sizes",
        lambda: training.minibatches(np.int64(10), np.int64(2), 3, generator=gen()),
        lambda b: tuple(b.shape) == (3, 2),
    )
    error(
        "minibatches: batch_size 0",
        lambda: training.minibatches(10, 0, 3, generator=gen()),
        "batch_size",
    )
    error("cosine_decay: num_steps 0", lambda: training.cosine_decay(0), "num_steps")
    check(
        "split_indices: num_examples numpy int64",
        lambda: data.split_indices(np.int64(10), 0.2, generator=gen()),
        lambda s: len(s[0]) + len(s[1]) == 10,
    )
    error(
        "split_indices: test_fraction 1",
        lambda: data.split_indices(10, 1.0, generator=gen()),
        "test_fraction",
    )
    value(
        "standardize: integer tensors",
        lambda: data.standardize(torch.tensor([[0, 2], [2, 2]]), torch.tensor([[1, 3]])),
        lambda: (t(-1.0, 0.0, 1.0, 0.0).reshape(2, 2), t(0.0, 1.0).reshape(1, 2)),
    )
    error(
        "standardize: train a list",
        lambda: data.standardize([[0.0, 1.0]], torch.ones(2, 2)),
        "train",
    )


def multisample_cases() -> None:
    from reparam import multisample
    from reparam.book import optim

    def joint(z: torch.Tensor) -> torch.Tensor:
        return -0.5 * z**2

    normal = reparam.NORMAL
    value(
        "iwae_bound: float64 log-weights",
        lambda: multisample.iwae_bound(torch.tensor([0.0, math.log(3.0)], dtype=torch.float64)),
        lambda: torch.tensor(math.log(2.0), dtype=torch.float64),
    )
    error(
        "iwae_bound: integer tensor",
        lambda: multisample.iwae_bound(torch.tensor([0, 1])),
        "log_weights",
    )
    error("iwae_bound: a list", lambda: multisample.iwae_bound([0.0, 1.0]), "log_weights")
    error("iwae_bound: 0-d", lambda: multisample.iwae_bound(torch.tensor(1.0)), "log_weights")
    error("iwae_bound: NaN", lambda: multisample.iwae_bound(t(0.0, math.nan)), "log_weights")
    check(
        "iwae_surrogate: numpy float32 loc, numpy int64 num_samples",
        lambda: multisample.iwae_surrogate(
            joint, normal, {"loc": np.float32(0.5), "scale": 1.0}, np.int64(4), generator=gen()
        ),
        lambda v: v.dim() == 0 and bool(torch.isfinite(v)),
    )
    check(
        "elbo_surrogate: a torch Normal",
        lambda: multisample.elbo_surrogate(
            joint, D.Normal(t(0.0, 1.0), t(1.0, 2.0)), None, 3, gradient="stl", generator=gen()
        ),
        lambda v: v.dim() == 0 and bool(torch.isfinite(v)),
    )
    error(
        "iwae_surrogate: gradient 'DReG'",
        lambda: multisample.iwae_surrogate(
            joint, normal, {"loc": 0.0, "scale": 1.0}, 2, gradient="DReG"
        ),
        "gradient",
    )
    error(
        "iwae_surrogate: latent_dims 1.5",
        lambda: multisample.iwae_surrogate(
            joint, normal, {"loc": t(0.0), "scale": t(1.0)}, 2, latent_dims=1.5
        ),
        "latent_dims",
    )
    error(
        "iwae_surrogate: log_joint of the wrong shape",
        lambda: multisample.iwae_surrogate(
            lambda z: z.sum(), normal, {"loc": 0.0, "scale": 1.0}, 2
        ),
        "log_joint",
    )
    error(
        "iwae_surrogate: scale -1",
        lambda: multisample.iwae_surrogate(joint, normal, {"loc": 0.0, "scale": -1.0}, 2),
        "scale",
    )
    check(
        "SGD: numpy float32 lr",
        lambda: optim.SGD([torch.zeros(2, requires_grad=True)], lr=np.float32(0.1)).lr,
        lambda lr: isinstance(lr, float) and abs(lr - 0.1) < 1e-7,
    )
    error("SGD: lr 0", lambda: optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.0), "lr")
    error("SGD: no parameters", lambda: optim.SGD([], lr=0.1), "params")
    error(
        "Adam: beta2 1",
        lambda: optim.Adam([torch.zeros(1, requires_grad=True)], betas=(0.9, 1.0)),
        "betas[1]",
    )
    error("Adam: a tensor that needs no grad", lambda: optim.Adam([torch.zeros(1)]), "params[0]")


def sampling_cases() -> None:
    from reparam import multisample, sampling

    normal = reparam.NORMAL
    check(
        "normal_noise: numpy int64 num_samples, sobol",
        lambda: sampling.normal_noise(np.int64(8), 3, method="sobol", generator=gen()),
        lambda v: v.shape == (8, 3) and bool(torch.isfinite(v).all()),
    )
    check(
        "normal_noise: float32 sobol stays finite",
        lambda: sampling.normal_noise(1024, 2, method="sobol", dtype=F32, generator=gen()),
        lambda v: v.dtype == F32 and bool(torch.isfinite(v).all()),
    )
    error(
        "normal_noise: method 'Sobol'",
        lambda: sampling.normal_noise(4, 2, method="Sobol"),
        "method",
    )
    error(
        "normal_noise: 6 Sobol points",
        lambda: sampling.normal_noise(6, 2, method="sobol"),
        "num_samples",
    )
    error(
        "normal_noise: 3 antithetic",
        lambda: sampling.normal_noise(3, 2, method="antithetic"),
        "num_samples",
    )
    error("normal_noise: num_samples 0", lambda: sampling.normal_noise(0, 2), "num_samples")
    error("normal_noise: num_samples True", lambda: sampling.normal_noise(True, 2), "num_samples")
    error("normal_noise: shape -2", lambda: sampling.normal_noise(4, -2), "shape")
    error("normal_noise: shape 2.5", lambda: sampling.normal_noise(4, 2.5), "shape")
    error(
        "normal_noise: sobol in 0 dimensions",
        lambda: sampling.normal_noise(4, (0,), method="sobol"),
        "shape",
    )
    error(
        "normal_noise: dtype int32", lambda: sampling.normal_noise(4, 2, dtype=torch.int32), "dtype"
    )
    error(
        "normal_noise: generator seed int",
        lambda: sampling.normal_noise(4, 2, generator=0),
        "generator",
    )
    value(
        "pathwise_surrogate: iid equals the plain surrogate",
        lambda: sampling.pathwise_surrogate(
            lambda z: z.square(), normal, {"loc": t(0.5), "scale": t(2.0)}, 5, generator=gen(3)
        ),
        lambda: reparam.surrogate.pathwise_surrogate(
            lambda z: z.square(), normal, {"loc": t(0.5), "scale": t(2.0)}, 5, generator=gen(3)
        ),
    )
    error(
        "pathwise_surrogate: NaN loc",
        lambda: sampling.pathwise_surrogate(
            lambda z: z, normal, {"loc": t(math.nan), "scale": t(1.0)}, 4, method="sobol"
        ),
        "loc",
    )
    error(
        "pathwise_surrogate: scale 0",
        lambda: sampling.pathwise_surrogate(
            lambda z: z, normal, {"loc": t(0.0), "scale": t(0.0)}, 4, method="antithetic"
        ),
        "scale",
    )
    error(
        "pathwise_surrogate: a Laplace",
        lambda: sampling.pathwise_surrogate(lambda z: z, D.Laplace(0.0, 1.0), None, 4),
        "distribution",
    )
    error(
        "pathwise_surrogate: method 'qmc'",
        lambda: sampling.pathwise_surrogate(
            lambda z: z, normal, {"loc": 0.0, "scale": 1.0}, 4, method="qmc"
        ),
        "method",
    )
    error(
        "iwae_surrogate: VIMCO with one draw",
        lambda: multisample.iwae_surrogate(
            lambda z: -0.5 * z**2, normal, {"loc": 0.0, "scale": 1.0}, 1, gradient="vimco"
        ),
        "num_samples",
    )
    check(
        "iwae_surrogate: VIMCO on a torch Bernoulli",
        lambda: multisample.iwae_surrogate(
            lambda z: -z,
            D.Bernoulli(logits=t(0.3, -0.2)),
            None,
            4,
            gradient="vimco",
            generator=gen(),
        ),
        lambda v: v.dim() == 0 and bool(torch.isfinite(v)),
    )
    error(
        "iwae_surrogate: DReG on a torch Bernoulli",
        lambda: multisample.iwae_surrogate(
            lambda z: -z, D.Bernoulli(logits=t(0.3)), None, 4, gradient="dreg"
        ),
        "distribution",
    )


def weights_cases() -> None:
    from reparam import weights

    x, loc, scale = t(1.0, 2.0).reshape(1, 2), torch.zeros(3, 2), torch.ones(3, 2)
    for method in weights.METHODS:
        check(
            f"linear: {method}, float32",
            lambda method=method: weights.linear(x, loc, scale, method=method, generator=gen()),
            lambda v: v.shape == (1, 3) and v.dtype == F32 and bool(torch.isfinite(v).all()),
        )
    value(
        "linear: scale 1e-30 gives the mean",
        lambda: weights.linear(
            x,
            t(1.0, 1.0, 1.0, 1.0, 1.0, 1.0).reshape(3, 2),
            torch.full((3, 2), 1e-30),
            generator=gen(),
        ),
        lambda: torch.full((1, 3), 3.0),
    )
    error("linear: NaN input", lambda: weights.linear(t(math.nan, 1.0), loc, scale), "x")
    error("linear: scale 0", lambda: weights.linear(x, loc, torch.zeros(3, 2)), "weight_scale")
    error("linear: scale -1", lambda: weights.linear(x, loc, -scale), "weight_scale")
    error("linear: wrong in_features", lambda: weights.linear(t(1.0, 2.0, 3.0), loc, scale), "x")
    error("linear: loc a list", lambda: weights.linear(x, [[0.0, 0.0]], scale), "weight_loc")
    error("linear: float64 loc", lambda: weights.linear(x, loc.double(), scale), "weight_loc")
    error("linear: bias of 2", lambda: weights.linear(x, loc, scale, t(0.0, 0.0)), "bias")
    error(
        "linear: method 'Flipout'",
        lambda: weights.linear(x, loc, scale, method="Flipout"),
        "method",
    )


def cholesky_cases() -> None:
    from reparam import cholesky

    raw = t(0.5, 0.0, -1.0, 0.2).reshape(2, 2)
    for diagonal in cholesky.DIAGONALS:
        check(
            f"scale_tril: {diagonal}, float32",
            lambda diagonal=diagonal: cholesky.scale_tril(raw, diagonal=diagonal),
            lambda v: v.dtype == F32 and bool((v.diagonal() > 0).all()) and float(v[0, 1]) == 0,
        )
    value(
        "unconstrained: softplus of a tiny scale",
        lambda: cholesky.unconstrained(torch.diag(t(1e-30, 1.0)), diagonal="softplus").diagonal(),
        lambda: t(math.log(1e-30), math.log(math.expm1(1.0))),
    )
    loc, tril = t(0.0, 1.0), torch.eye(2)
    precision = t(2.0, 0.5, 0.5, 1.0).reshape(2, 2)
    check(
        "gaussian_kl: q equal to p gives 0",
        lambda: cholesky.gaussian_kl(
            loc, torch.linalg.cholesky(torch.linalg.inv(precision)), loc, precision
        ),
        lambda v: abs(float(v)) < 1e-5,
    )
    error("scale_tril: 2 x 3", lambda: cholesky.scale_tril(torch.ones(2, 3)), "raw")
    error("scale_tril: NaN", lambda: cholesky.scale_tril(t(math.nan).reshape(1, 1)), "raw")
    error(
        "scale_tril: diagonal 'relu'",
        lambda: cholesky.scale_tril(raw, diagonal="relu"),
        "diagonal",
    )
    error(
        "unconstrained: upper entry", lambda: cholesky.unconstrained(torch.ones(2, 2)), "scale_tril"
    )
    error(
        "unconstrained: zero diagonal",
        lambda: cholesky.unconstrained(torch.diag(t(1.0, 0.0))),
        "scale_tril",
    )
    error(
        "gaussian_kl: asymmetric precision",
        lambda: cholesky.gaussian_kl(loc, tril, loc, t(1.0, 0.5, 0.0, 1.0).reshape(2, 2)),
        "target_precision",
    )
    error(
        "gaussian_kl: indefinite precision",
        lambda: cholesky.gaussian_kl(loc, tril, loc, -precision),
        "target_precision",
    )
    error(
        "gaussian_kl: loc of 3",
        lambda: cholesky.gaussian_kl(t(0.0, 0.0, 0.0), tril, loc, precision),
        "scale_tril",
    )
    error(
        "gaussian_kl_gradients: target_loc of 1",
        lambda: cholesky.gaussian_kl_gradients(loc, tril, t(0.0), precision),
        "target_loc",
    )
    error(
        "mean_field_optimum: infinite mean",
        lambda: cholesky.mean_field_optimum(t(math.inf, 0.0), precision),
        "target_loc",
    )


def regression_and_bnn_cases() -> None:
    from reparam.book import bnn
    from reparam.book.regression import linear_regression_log_joint, linear_regression_posterior

    x, y = t(1.0, 0.0, 0.0, 1.0, 1.0, 1.0).reshape(3, 2), t(1.0, 2.0, 3.0)
    check(
        "linear_regression_posterior: float32",
        lambda: linear_regression_posterior(x, y, noise_scale=1.0, prior_scale=1.0),
        lambda v: v.loc.dtype == F32 and bool(torch.isfinite(v.log_evidence)),
    )
    error(
        "linear_regression_posterior: noise 0",
        lambda: linear_regression_posterior(x, y, noise_scale=0.0, prior_scale=1.0),
        "noise_scale",
    )
    error(
        "linear_regression_posterior: NaN target",
        lambda: linear_regression_posterior(
            x, t(1.0, math.nan, 3.0), noise_scale=1.0, prior_scale=1.0
        ),
        "targets",
    )
    error(
        "linear_regression_log_joint: weights of 3",
        lambda: linear_regression_log_joint(
            t(0.0, 0.0, 0.0), x, y, noise_scale=1.0, prior_scale=1.0
        ),
        "weights",
    )
    layers = bnn.init_mlp((2, 3, 2), generator=gen())
    labels = torch.tensor([0, 1, 1])
    check(
        "negative_elbo: float32, local",
        lambda: bnn.negative_elbo(layers, x, labels, num_data=10, generator=gen()),
        lambda v: v.dtype == F32 and v.shape == () and bool(torch.isfinite(v)),
    )
    error("init_mlp: sizes (2,)", lambda: bnn.init_mlp((2,), generator=gen()), "sizes")
    error(
        "negative_elbo: label 2 of 2 classes",
        lambda: bnn.negative_elbo(layers, x, torch.tensor([0, 1, 2]), num_data=10),
        "targets",
    )
    error(
        "negative_elbo: float labels",
        lambda: bnn.negative_elbo(layers, x, labels.float(), num_data=10),
        "targets",
    )
    error(
        "negative_elbo: num_data 0",
        lambda: bnn.negative_elbo(layers, x, labels, num_data=0),
        "num_data",
    )
    error(
        "gradient_draws: one draw",
        lambda: bnn.gradient_draws(
            layers, x, labels, batch_size=2, num_draws=1, method="local", generator=gen()
        ),
        "num_draws",
    )
    error(
        "total_variance: NaN", lambda: bnn.total_variance(t(0.0, math.nan).reshape(2, 1)), "draws"
    )


def binary_gradient_cases() -> None:
    from reparam import binary_gradients as bg
    from reparam import discrete
    from reparam.quadrature import uniform_moments

    def cost(b: torch.Tensor) -> torch.Tensor:
        return ((b - 0.45) ** 2).reshape(b.shape[0], -1).sum(-1)

    logits = t(0.3, -1.0)
    for name in ("reinforce_loo", "arm", "disarm", "rebar"):
        estimator = getattr(bg, f"{name}_gradient")
        check(
            f"{name}_gradient: float32 logits at +-50",
            lambda estimator=estimator: estimator(cost, t(50.0, -50.0), 64)["logits"],
            lambda v: v.dtype == F32 and bool(torch.isfinite(v).all()),
        )
        error(
            f"{name}_gradient: integer logits",
            lambda e=estimator: e(cost, torch.ones(2, dtype=torch.long), 4),
            "logits",
        )
        error(f"{name}_gradient: NaN logit", lambda e=estimator: e(cost, t(math.nan), 4), "logits")
        error(
            f"{name}_gradient: num_samples 0", lambda e=estimator: e(cost, logits, 0), "num_samples"
        )
        error(
            f"{name}_gradient: num_samples 2.0",
            lambda e=estimator: e(cost, logits, 2.0),
            "num_samples",
        )
        error(
            f"{name}_gradient: cost per bit", lambda e=estimator: e(lambda b: b, logits, 4), "cost"
        )
        error(
            f"{name}_gradient: numpy logits", lambda e=estimator: e(cost, np.zeros(2), 4), "logits"
        )
    value(
        "exact_gradient_by_enumeration: one bit, closed form",
        lambda: bg.exact_gradient_by_enumeration(cost, t(0.0))[1],
        lambda: t(0.1 * 0.25),
    )
    error(
        "exact_gradient_by_enumeration: 20 bits",
        lambda: bg.exact_gradient_by_enumeration(cost, torch.zeros(20)),
        "logits.numel()",
    )
    error(
        "rebar_gradient: temperature 0",
        lambda: bg.rebar_gradient(cost, logits, 4, temperature=0.0),
        "temperature",
    )
    error(
        "rebar_gradient: scale inf",
        lambda: bg.rebar_gradient(cost, logits, 4, scale=math.inf),
        "scale",
    )
    error(
        "relax_gradient: control per bit",
        lambda: bg.relax_gradient(cost, logits, 4, control=lambda z: z),
        "control",
    )
    error(
        "arm_estimate: u outside (0, 1)",
        lambda: bg.arm_estimate(cost, logits, torch.ones(3, 2)),
        "u",
    )
    error(
        "disarm_estimate: u of the wrong shape",
        lambda: bg.disarm_estimate(cost, logits, torch.full((3, 3), 0.5)),
        "u",
    )
    error(
        "conditional_noise: v = 0",
        lambda: bg.conditional_noise(logits, torch.full((3, 2), 0.5), torch.zeros(3, 2)),
        "v",
    )
    check(
        "conditional_noise: logits +-80 stay finite",
        lambda: bg.conditional_noise(
            t(80.0, -80.0), torch.full((3, 2), 0.5), torch.full((3, 2), 0.5)
        ),
        lambda v: all(bool(torch.isfinite(x).all()) for x in v),
    )
    value(
        "inclusion_probabilities: k = 1 is the softmax",
        lambda: discrete.inclusion_probabilities(t(1.0, 0.0, -1.0), 1),
        lambda: torch.softmax(t(1.0, 0.0, -1.0), 0),
        atol=1e-6,
    )
    error(
        "gumbel_top_k_sample: k = 4 of 3",
        lambda: discrete.gumbel_top_k_sample(t(1.0, 0.0, -1.0), 4, 2),
        "k",
    )
    error(
        "gumbel_top_k_sample: k = 1.5",
        lambda: discrete.gumbel_top_k_sample(t(1.0, 0.0, -1.0), 1.5, 2),
        "k",
    )
    error(
        "inclusion_probabilities: NaN logit",
        lambda: discrete.inclusion_probabilities(t(1.0, math.nan), 1),
        "logits",
    )
    error(
        "ordered_sample_log_prob: repeated index",
        lambda: discrete.ordered_sample_log_prob(t(1.0, 0.0, -1.0), torch.tensor([2, 2])),
        "indices",
    )
    value(
        "uniform_moments: u^2 on [0, 1]",
        lambda: uniform_moments(lambda u: u[:, 0] ** 2, [[]], degree=3)[0],
        lambda: torch.tensor(1.0 / 3.0, dtype=torch.float64),
    )
    error(
        "uniform_moments: cut at 1.5",
        lambda: uniform_moments(lambda u: u[:, 0], [[1.5]]),
        "breakpoints",
    )
    error(
        "uniform_moments: degree 0",
        lambda: uniform_moments(lambda u: u[:, 0], [[]], degree=0),
        "degree",
    )


def mixture_cases() -> None:
    from torch.distributions import Categorical, MixtureSameFamily, Normal

    from reparam import mixture

    logits, loc, scale = t(0.3, -0.5), t(-1.0, 2.0), t(0.5, 1.5)
    reference = MixtureSameFamily(Categorical(logits=logits), Normal(loc, scale))
    value(
        "mixture_log_prob: float32 against torch",
        lambda: mixture.mixture_log_prob(t(0.5), logits, loc, scale),
        lambda: reference.log_prob(t(0.5)),
        atol=1e-6,
    )
    value(
        "mixture_cdf: a Python number as value",
        lambda: mixture.mixture_cdf(0.5, logits, loc, scale),
        lambda: reference.cdf(torch.tensor(0.5)),
        atol=1e-6,
    )
    value(
        "mixture_log_prob: numpy parameters",
        lambda: mixture.mixture_log_prob(
            t(0.5), np.array([0.3, -0.5]), np.array([-1.0, 2.0]), np.array([0.5, 1.5])
        ),
        lambda: reference.log_prob(t(0.5)).double(),
        atol=1e-6,
    )
    check(
        "mixture_rsample: one component far out",
        lambda: mixture.mixture_rsample(t(0.0, -40.0), t(0.0, 1e4), t(1.0, 1e-3), 64),
        lambda v: v.dtype == F32 and bool(torch.isfinite(v).all()),
    )
    error(
        "mixture_rsample: scale 0",
        lambda: mixture.mixture_rsample(logits, loc, t(0.5, 0.0), 4),
        "scale",
    )
    error(
        "mixture_rsample: NaN loc",
        lambda: mixture.mixture_rsample(logits, t(math.nan, 0.0), scale, 4),
        "loc",
    )
    error(
        "mixture_rsample: inf logit",
        lambda: mixture.mixture_rsample(t(math.inf, 0.0), loc, scale, 4),
        "logits",
    )
    error(
        "mixture_rsample: 3 logits, 2 locs",
        lambda: mixture.mixture_rsample(t(0.0, 0.0, 0.0), loc, scale, 4),
        "logits",
        "loc",
        "scale",
    )
    error(
        "mixture_rsample: num_samples 0",
        lambda: mixture.mixture_rsample(logits, loc, scale, 0),
        "num_samples",
    )
    error(
        "mixture_rsample: scalar loc", lambda: mixture.mixture_rsample(logits, 0.0, scale, 4), "loc"
    )
    error(
        "mixture_cdf: NaN value",
        lambda: mixture.mixture_cdf(t(math.nan), logits, loc, scale),
        "value",
    )
    error(
        "mixture_cdf: string value", lambda: mixture.mixture_cdf("0.5", logits, loc, scale), "value"
    )


def rejection_cases() -> None:
    import scipy.special

    from reparam import rejection

    def cost(z: torch.Tensor) -> torch.Tensor:
        return z.reshape(z.shape[0], -1).sum(-1)

    check(
        "rsvi_gradient: shape 0.01 in float32 (boosted), finite",
        lambda: rejection.rsvi_gradient(
            lambda z: cost(z.sqrt()), t(0.01), 1.0, 64, generator=gen()
        ),
        lambda out: all(v.dtype == F32 and bool(torch.isfinite(v).all()) for v in out.values()),
    )
    check(
        "grep_gradient: shape 1e4, rate 1e-3, finite",
        lambda: rejection.grep_gradient(cost, t(1e4), t(1e-3), 64, generator=gen()),
        lambda out: all(bool(torch.isfinite(v).all()) for v in out.values()),
    )
    value(
        "accepted_noise_log_prob: at the end of the support",
        lambda: rejection.accepted_noise_log_prob(t(-3.0, -10.0), 1.0),
        lambda: t(-math.inf, -math.inf),
    )
    value(
        "acceptance_probability: numpy shape 2",
        lambda: rejection.acceptance_probability(np.float64(2.0)),
        lambda: 0.9817,
        atol=1e-4,
    )
    value(
        "gamma_gradient_moments: implicit, d/dalpha E[log z] = trigamma",
        lambda: rejection.gamma_gradient_moments(lambda z: z.log(), 0.5, estimator="implicit").mean,
        lambda: float(scipy.special.polygamma(1, 0.5)),
        rtol=1e-7,
    )
    error(
        "rsvi_gradient: shape 0",
        lambda: rejection.rsvi_gradient(cost, t(0.0), 1.0, 4),
        "concentration",
    )
    error(
        "rsvi_gradient: NaN rate",
        lambda: rejection.rsvi_gradient(cost, t(2.0), t(math.nan), 4),
        "rate",
    )
    error(
        "rsvi_gradient: boost too small for shape 0.3",
        lambda: rejection.rsvi_gradient(cost, t(0.3), 1.0, 4, boost=0),
        "boost",
    )
    error(
        "rsvi_gradient: boost True",
        lambda: rejection.rsvi_gradient(cost, t(2.0), 1.0, 4, boost=True),
        "boost",
    )
    error(
        "grep_gradient: shapes (2,) and (3,)",
        lambda: rejection.grep_gradient(cost, t(1.0, 2.0), t(1.0, 2.0, 3.0), 4),
        "concentration",
        "rate",
    )
    error(
        "grep_gradient: cost returns (N, 2)",
        lambda: rejection.grep_gradient(lambda z: z.expand(-1, 2), t(2.0), 1.0, 4),
        "cost",
    )
    error(
        "rsvi_estimate: noise outside the support",
        lambda: rejection.rsvi_estimate(cost, t(2.0), 1.0, t(-5.0)),
        "noise",
    )
    error(
        "rsvi_estimate: uniforms of the wrong shape",
        lambda: rejection.rsvi_estimate(cost, t(2.0), 1.0, t(0.1, 0.2)[:, None], t(0.5)),
        "uniforms",
    )
    error(
        "sample_accepted_noise: shape 0.5",
        lambda: rejection.sample_accepted_noise(0.5, 4),
        "concentration",
    )
    error(
        "marsaglia_tsang_proposal: list noise",
        lambda: rejection.marsaglia_tsang_proposal([0.1], 2.0),
        "noise",
    )
    error(
        "corrected_surrogate: costs (N, 1)",
        lambda: rejection.corrected_surrogate(torch.zeros(3, 1), torch.zeros(3)),
        "costs",
    )
    error(
        "gamma_gradient_moments: unknown estimator",
        lambda: rejection.gamma_gradient_moments(cost, 1.0, estimator="pathwise"),
        "estimator",
    )
    error(
        "gamma_gradient_moments: string shape",
        lambda: rejection.gamma_gradient_moments(cost, "1", estimator="grep"),
        "concentration",
    )


def policy_cases() -> None:
    from reparam import policy

    def cost(a: torch.Tensor) -> torch.Tensor:
        return 4 * (a - 0.75) ** 2

    def sum_cost(a: torch.Tensor) -> torch.Tensor:
        return cost(a).sum(-1)

    def log_cosh(u: float) -> float:
        return float(np.logaddexp(u, -u) - math.log(2))

    value(
        "tanh_log_abs_det_jacobian: float32 u = 12 and -30 (tanh rounds to +-1)",
        lambda: policy.tanh_log_abs_det_jacobian(t(12.0, -30.0)),
        lambda: t(-2 * log_cosh(12.0), -2 * log_cosh(-30.0)),
        rtol=1e-6,
    )
    value(
        "tanh_log_abs_det_jacobian: +-inf",
        lambda: policy.tanh_log_abs_det_jacobian(t(math.inf, -math.inf)),
        lambda: t(-math.inf, -math.inf),
    )
    value(
        "squashed_normal_log_prob: numpy u, python loc and scale",
        lambda: policy.squashed_normal_log_prob(np.array([0.5]), 0.0, 2.0),
        lambda: torch.tensor([st.norm(0, 2).logpdf(0.5) + 2 * log_cosh(0.5)]),
        rtol=1e-6,
    )
    value(
        "boltzmann_log_prob: actions on and outside the boundary",
        lambda: policy.boltzmann_log_prob(t(-1.0, 1.0, 3.0), cost, 0.2),
        lambda: t(-math.inf, -math.inf, -math.inf),
    )
    value(
        "boltzmann_log_normalizer: zero cost at temperature 1 (log 2)",
        lambda: policy.boltzmann_log_normalizer(lambda a: torch.zeros_like(a), 1.0),
        lambda: math.log(2),
        rtol=1e-6,
    )
    value(
        "soft_objective: zero cost, tau 1 (minus the entropy of tanh N(0, 1e-3^2))",
        lambda: policy.soft_objective(lambda a: torch.zeros_like(a), 0.0, 1e-3, 1.0),
        lambda: -0.5 * math.log(2 * math.pi * math.e * 1e-6),
        rtol=1e-5,
    )
    check(
        "soft_pathwise_gradient: float32 policy far in the tail (u ~ 40), finite",
        lambda: policy.soft_pathwise_gradient(cost, t(40.0), t(0.1), 0.2, 16, generator=gen()),
        lambda out: all(v.dtype == F32 and bool(torch.isfinite(v).all()) for v in out.values()),
    )
    check(
        "soft_score_function_gradient: numpy loc, event_dims=1, finite",
        lambda: policy.soft_score_function_gradient(
            sum_cost, np.zeros(3), 1.0, 0.2, 8, event_dims=1, generator=gen()
        ),
        lambda out: all(bool(torch.isfinite(v).all()) for v in out.values()),
    )
    error(
        "soft_pathwise_gradient: scale 0",
        lambda: policy.soft_pathwise_gradient(cost, 0.0, t(0.0), 0.2, 4),
        "scale",
    )
    error(
        "soft_pathwise_gradient: infinite loc",
        lambda: policy.soft_pathwise_gradient(cost, t(math.inf), 1.0, 0.2, 4),
        "loc",
    )
    error(
        "soft_pathwise_gradient: temperature 0",
        lambda: policy.soft_pathwise_gradient(cost, 0.0, 1.0, 0.0, 4),
        "temperature",
    )
    error(
        "soft_pathwise_gradient: num_samples 2.0",
        lambda: policy.soft_pathwise_gradient(cost, 0.0, 1.0, 0.2, 2.0),
        "num_samples",
    )
    error(
        "soft_pathwise_gradient: cost returns a scalar",
        lambda: policy.soft_pathwise_gradient(lambda a: a.sum(), t(0.0, 1.0), 1.0, 0.2, 4),
        "cost",
    )
    error(
        "soft_pathwise_gradient: cost returns NaN",
        lambda: policy.soft_pathwise_gradient(lambda a: a * math.nan, 0.0, 1.0, 0.2, 4),
        "cost",
    )
    error(
        "soft_pathwise_gradient: event_dims 1 for scalar parameters",
        lambda: policy.soft_pathwise_gradient(sum_cost, 0.0, 1.0, 0.2, 4, event_dims=1),
        "event_dims",
    )
    error(
        "soft_pathwise_gradient: temperature per coordinate with event_dims=1",
        lambda: policy.soft_pathwise_gradient(
            sum_cost, torch.zeros(2, 3), 1.0, torch.ones(3), 4, event_dims=1
        ),
        "temperature",
    )
    error(
        "soft_score_function_gradient: one draw with the leave-one-out baseline",
        lambda: policy.soft_score_function_gradient(cost, 0.0, 1.0, 0.2, 1),
        "num_samples",
    )
    error(
        "soft_score_function_gradient: baseline None",
        lambda: policy.soft_score_function_gradient(cost, 0.0, 1.0, 0.2, 4, baseline=None),
        "baseline",
    )
    error(
        "soft_objective: scale 1e3",
        lambda: policy.soft_objective(cost, 0.0, 1e3, 0.2),
        "scale",
    )
    error(
        "soft_objective: loc (2,) and scale (3,)",
        lambda: policy.soft_objective(cost, t(0.0, 1.0), t(1.0, 1.0, 1.0), 0.2),
        "loc",
        "scale",
    )
    error(
        "boltzmann_log_normalizer: negative temperature",
        lambda: policy.boltzmann_log_normalizer(cost, -0.2),
        "temperature",
    )
    error(
        "boltzmann_log_normalizer: panels 0.5",
        lambda: policy.boltzmann_log_normalizer(cost, 0.2, panels=0.5),
        "panels",
    )
    error(
        "boltzmann_log_prob: list of actions",
        lambda: policy.boltzmann_log_prob([0.1], cost, 0.2),
        "action",
    )
    error(
        "squashed_normal_rsample: num_samples 0",
        lambda: policy.squashed_normal_rsample(0.0, 1.0, 0),
        "num_samples",
    )
    error(
        "squashed_normal_log_prob: complex u",
        lambda: policy.squashed_normal_log_prob(torch.zeros(2, dtype=torch.complex64), 0.0, 1.0),
        "pre_tanh",
    )


def diffusion_cases() -> None:
    from reparam import diffusion

    schedule = diffusion.linear_schedule(10, 0.01, 0.3)
    x0 = torch.zeros(3, 2)
    steps = torch.tensor([1, 5, 10])

    def zero_model(xt: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(xt)

    value(
        "q_sample: float32 data at t = 1 (sqrt(1 - beta_1) x0 + sqrt(beta_1) eps)",
        lambda: diffusion.q_sample(
            schedule, t(1.0).reshape(1, 1), torch.tensor([1]), t(2.0).reshape(1, 1)
        ),
        lambda: torch.tensor([[math.sqrt(0.99) + 2 * math.sqrt(0.01)]]),
        rtol=1e-6,
    )
    value(
        "posterior: variance 0 at t = 1",
        lambda: diffusion.posterior(schedule, x0[:1], x0[:1], torch.tensor([1]))[1],
        lambda: torch.zeros(1, 1),
    )
    value(
        "kl_weight: w_1 = 1 / (2 alpha_1) with sigma^2 = beta",
        lambda: diffusion.kl_weight(schedule, torch.tensor([1])),
        lambda: torch.tensor([1 / (2 * 0.99)], dtype=torch.float64),
        rtol=1e-12,
    )
    check(
        "ancestral_sample: float32 draws of a zero model, finite",
        lambda: diffusion.ancestral_sample(
            zero_model, schedule, 4, (2,), dtype=F32, generator=gen()
        ),
        lambda out: out.dtype == F32 and bool(torch.isfinite(out).all()),
    )
    error(
        "q_sample: step 0",
        lambda: diffusion.q_sample(schedule, x0, torch.tensor([0, 1, 2]), x0),
        "t",
    )
    error(
        "q_sample: step 11 of 10",
        lambda: diffusion.q_sample(schedule, x0, torch.tensor([1, 2, 11]), x0),
        "t",
    )
    error(
        "q_sample: float steps", lambda: diffusion.q_sample(schedule, x0, t(1.0, 2.0, 3.0), x0), "t"
    )
    error(
        "q_sample: noise of another shape",
        lambda: diffusion.q_sample(schedule, x0, steps, torch.zeros(3, 1)),
        "noise",
    )
    error(
        "q_sample: NaN data", lambda: diffusion.q_sample(schedule, x0 * math.nan, steps, x0), "x0"
    )
    error("q_sample: not a schedule", lambda: diffusion.q_sample(0.1, x0, steps, x0), "schedule")
    error(
        "linear_schedule: beta_end 1", lambda: diffusion.linear_schedule(10, 0.1, 1.0), "beta_end"
    )
    error(
        "linear_schedule: num_steps 0", lambda: diffusion.linear_schedule(0, 0.1, 0.2), "num_steps"
    )
    error(
        "from_betas: a beta of 0", lambda: diffusion.NoiseSchedule.from_betas(t(0.0, 0.1)), "betas"
    )
    error("kl_weight: variance 0", lambda: diffusion.kl_weight(schedule, steps, 0.0), "variance")
    error(
        "noise_prediction_loss: unknown weighting",
        lambda: diffusion.noise_prediction_loss(zero_model, x0, schedule, weighting="snr"),
        "weighting",
    )
    error(
        "noise_prediction_loss: model returns a number",
        lambda: diffusion.noise_prediction_loss(lambda a, b: 0.0, x0, schedule),
        "model",
    )
    error(
        "ancestral_sample: event size 0",
        lambda: diffusion.ancestral_sample(zero_model, schedule, 2, (0,)),
        "event_shape",
    )


def twosample_cases() -> None:
    from reparam.book import twosample

    x = torch.randn(20, 2, generator=gen())
    value(
        "energy_distance: one-dimensional numpy-converted samples against scipy",
        lambda: twosample.energy_distance(x[:, :1].double(), x[:, 1:].double()),
        lambda: st.energy_distance(x[:, 0].double().numpy(), x[:, 1].double().numpy()) ** 2,
        rtol=1e-10,
    )
    error("energy_distance: one point", lambda: twosample.energy_distance(x[:1], x), "x")
    error(
        "energy_distance: dimensions 2 and 3",
        lambda: twosample.energy_distance(x, torch.zeros(4, 3)),
        "dimension",
    )
    error("energy_distance: NaN point", lambda: twosample.energy_distance(x, x * math.nan), "y")
    error(
        "permutation_test: 0 permutations",
        lambda: twosample.permutation_test(x, x, 0),
        "num_permutations",
    )


def flow_cases() -> None:
    from reparam import flows
    from reparam.book.flows import Banana, exact_elbo, fit_flow

    w, u = t(1.0, 0.0), t(-40.0, 2.0)
    value(
        "PlanarTransform: w'u = -40, log-det at tanh = 0 (w'û rounds to -1)",
        lambda: flows.PlanarTransform(w, u, 0.0).log_abs_det_jacobian(
            torch.zeros(1, 2), torch.zeros(1, 2)
        ),
        lambda: t(-40.0),
        rtol=1e-6,
    )
    value(
        "constrained_u: w = 0 keeps u",
        lambda: flows.constrained_u(t(1.0, -2.0), t(0.0, 0.0)),
        lambda: t(1.0, -2.0),
    )
    error(
        "one_plus_slope: w'u = -1000 (softplus underflows)",
        lambda: flows.one_plus_slope(t(-1000.0, 0.0), t(1.0, 0.0)),
        "u",
        "w",
    )
    error(
        "constrained_u: subnormal w (û overflows)",
        lambda: flows.constrained_u(t(0.0, 0.0, dtype=F64), t(0.0, 1e-320, dtype=F64)),
        "u",
        "w",
    )
    error(
        "PlanarTransform: NaN u", lambda: flows.PlanarTransform(t(1.0, 0.0), t(NAN, 0.0), 0.0), "u"
    )
    error(
        "PlanarTransform: w and u of different D",
        lambda: flows.PlanarTransform(t(1.0), t(1.0, 2.0), 0.0),
        "w",
        "u",
    )
    error("PlanarTransform: infinite b", lambda: flows.PlanarTransform(t(1.0), t(1.0), INF), "b")
    error("PlanarFlow: dim 0", lambda: flows.PlanarFlow(0, 2), "dim")
    error("PlanarFlow: num_layers -1", lambda: flows.PlanarFlow(2, -1), "num_layers")
    error(
        "PlanarFlow: init_scale NaN", lambda: flows.PlanarFlow(2, 1, init_scale=NAN), "init_scale"
    )
    error("PlanarFlow: integer dtype", lambda: flows.PlanarFlow(2, 1, dtype=torch.int32), "dtype")
    error(
        "PlanarFlow.rsample_with_log_prob: num_samples 0",
        lambda: flows.PlanarFlow(2, 1).rsample_with_log_prob(0),
        "num_samples",
    )
    error(
        "elbo_terms: target with the wrong shape",
        lambda: flows.elbo_terms(lambda z: z, flows.PlanarFlow(2, 1), 3, generator=gen()),
        "log_target",
    )
    error(
        "elbo_terms: target -inf at a draw",
        lambda: flows.elbo_terms(
            lambda z: z[:, 0] * 0 - INF, flows.PlanarFlow(2, 1), 3, generator=gen()
        ),
        "log_target",
    )
    error("Banana: width -1", lambda: Banana(width=-1.0), "width")
    error(
        "exact_elbo: four dimensions",
        lambda: exact_elbo(flows.PlanarFlow(4, 1), lambda z: -(z * z).sum(-1)),
        "flow.dim",
    )
    error(
        "fit_flow: learning_rate NaN",
        lambda: fit_flow(
            flows.PlanarFlow(2, 1),
            Banana().log_unnormalized,
            steps=1,
            num_samples=2,
            learning_rate=NAN,
            generator=gen(),
        ),
        "learning_rate",
    )


def build_cases() -> list[Case]:
    """Fill :data:`CASES` (once) and return it. Run under torch's default dtype float32."""
    if not CASES:
        for build in (
            normal_cases,
            noise_cases,
            summary_cases,
            cost_cases,
            quadrature_cases,
            estimator_cases,
            variance_cases,
            gaussian_identity_cases,
            discrete_cases,
            catalog_cases,
            sampler_cases,
            application_cases,
            multisample_cases,
            sampling_cases,
            weights_cases,
            cholesky_cases,
            regression_and_bnn_cases,
            binary_gradient_cases,
            mixture_cases,
            rejection_cases,
            policy_cases,
            diffusion_cases,
            twosample_cases,
            flow_cases,
        ):
            build()
    return CASES


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="list the cases not handled well"
    )
    args = parser.parse_args()
    torch.set_default_dtype(F32)
    build_cases()
    for case in CASES:
        run(case)
    classes = ("silent bad result", "obscure error", "clear error", "right answer")
    counts = {c: sum(case.outcome == c for case in CASES) for c in classes}
    if args.verbose:
        for c in classes[:2]:
            print(f"-- {c}s")
            for case in CASES:
                if case.outcome == c:
                    print(f"  {case.label}: {case.detail}")
    print(f"inputs tried:       {len(CASES)}")
    print(f"silent bad results: {counts['silent bad result']}")
    print(f"obscure errors:     {counts['obscure error']}")
    print(f"clear errors:       {counts['clear error']}")
    print(f"right answers:      {counts['right answer']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
