"""Exact means and variances of the per-sample gradient estimators, by quadrature.

Book chapter: "Which estimator, when: variance", reproducing section 3 of Mohamed,
Rosca, Figurnov & Mnih (2020): for x ~ N(μ, σ²) in one dimension and a cost f, the
per-sample estimators of ∂_μ E[f(x)] and ∂_σ E[f(x)] are random variables whose mean and
variance are one- or two-dimensional integrals. We compute them deterministically.

Why not Gauss–Hermite? The measure-valued estimators integrate against the Weibull and
double-sided Maxwell densities, which have kinks or vanish at 0, and the squared
estimators of cos(kx) oscillate with frequency up to 2k σ. So every integral here is a
*composite Gauss–Legendre* rule: the real line is truncated to abs(u) <= 12 standard
deviations (the neglected Gaussian mass is below 1e-32) and cut into panels of width 1/4
with 16 nodes each; panel edges sit at 0, where the kinks are. The rule integrates
polynomials of degree 31 exactly on every panel. The two-dimensional integral of the
measure-valued scale estimator (double-sided Maxwell × uniform) uses the product of a
coarser rule (abs(u) <= 10, panels of width 1/2) and a composite rule on [0, 1] (panels of
width 1/8). Against ``scipy.integrate.quad``/``dblquad`` the moments agree to relative
1e-8 (1e-7 in two dimensions) for the three costs of section 3 over their whole k ranges
(tests/test_variance.py).

Per-sample estimators, with x = μ + σu:

- score function: ∂/∂μ: f(x) u/σ; ∂/∂σ: f(x) (u² − 1)/σ (``"score_function"``);
- with the optimal constant baseline b*: the same with f(x) − b* in place of f(x)
  (``"score_function_optimal_baseline"``);
- pathwise: ∂/∂μ: f'(x); ∂/∂σ: f'(x) u (``"pathwise"``);
- measure-valued with coupling: ∂/∂μ: (f(μ + σW) − f(μ − σW))/(σ√(2π)); ∂/∂σ:
  (f(μ + σM) − f(μ + σUM))/σ (``"measure_valued"``),

with u ~ N(0, 1), b* = E[f s²]/E[s²] the optimal constant baseline for the score s of that
parameter, W ~ Weibull(√2, 2), M ~ double-sided Maxwell and U ~ U(0, 1) (see
:func:`reparam.estimators.measure_valued_gradient`). The baseline here is the exact b*;
the leave-one-out Monte Carlo version has the same mean and a variance larger by a factor
1 + O(1/N).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
from torch import Tensor

from reparam._validation import check_callable, check_choice, check_real

__all__ = [
    "ESTIMATORS",
    "PAIRED_ESTIMATORS",
    "PARAMETERS",
    "GradientMoments",
    "gradient_moments",
    "optimal_baseline",
    "variance_curves",
]

#: The estimators of Mohamed et al. (2020), section 3, in the order of their figures.
ESTIMATORS: tuple[str, ...] = (
    "score_function",
    "score_function_optimal_baseline",
    "pathwise",
    "measure_valued",
)
#: The estimators over a pair of draws, here the pathwise estimator averaged over an
#: antithetic pair (u, −u) (book chapter "Smarter sampling"); their variance is that of one
#: pair's average.
PAIRED_ESTIMATORS: tuple[str, ...] = ("pathwise_antithetic",)
#: The Gaussian parameters the gradients are taken with respect to.
PARAMETERS: tuple[str, ...] = ("loc", "scale")

_HALF_WIDTH = 12.0
_PANEL = 0.25
_NODES = 16
# The two-dimensional rule (double-sided Maxwell x uniform) of the measure-valued scale
# estimator: |u| <= 10 (neglected mass below 1e-20), panels of width 1/2 and 1/8.
_HALF_WIDTH_2D = 10.0
_PANEL_2D = 0.5
_UNIFORM_PANEL = 0.125
_SQRT_2PI = math.sqrt(2 * math.pi)


@dataclass(frozen=True)
class GradientMoments:
    """Mean and variance of one per-sample gradient estimator.

    Attributes:
        mean: E[ĝ], which equals the true gradient for an unbiased estimator.
        variance: Var[ĝ] of a single per-sample estimate; an average of N independent
            ones has variance ``variance / N``. For ``"pathwise_antithetic"`` ĝ is one
            antithetic pair's average, and N draws (N/2 pairs) have ``variance / (N/2)``.
    """

    mean: float
    variance: float

    @property
    def std(self) -> float:
        """Standard deviation of a single per-sample estimate."""
        return math.sqrt(max(self.variance, 0.0))


@lru_cache(maxsize=8)
def _composite_rule(low: float, high: float, panel: float) -> tuple[np.ndarray, np.ndarray]:
    """Composite Gauss–Legendre nodes and weights on [low, high] (panel edges at multiples
    of ``panel``)."""
    nodes, weights = np.polynomial.legendre.leggauss(_NODES)
    edges = np.arange(low, high + panel / 2, panel)
    mids = (edges[:-1] + edges[1:]) / 2
    half = (edges[1:] - edges[:-1]) / 2
    x = (mids[:, None] + half[:, None] * nodes[None, :]).reshape(-1)
    w = (half[:, None] * weights[None, :]).reshape(-1)
    return x, w


def _rule(kind: str) -> tuple[Tensor, Tensor]:
    """Nodes and weights (float64) integrating against a density.

    kinds: ``"normal"`` φ(u) on R; ``"weibull"`` u e^{−u²/2} on u > 0 (Weibull(√2, 2));
    ``"maxwell"`` u² φ(u) on R (double-sided Maxwell); ``"uniform"`` on [0, 1].
    """
    if kind == "uniform":
        x, w = _composite_rule(0.0, 1.0, _UNIFORM_PANEL)
        return torch.from_numpy(x), torch.from_numpy(w)
    if kind == "maxwell":  # the inner factor of a 2-d rule: coarser, and |u| <= 10 suffices
        x, w = _composite_rule(-_HALF_WIDTH_2D, _HALF_WIDTH_2D, _PANEL_2D)
    else:
        x, w = _composite_rule(0.0 if kind == "weibull" else -_HALF_WIDTH, _HALF_WIDTH, _PANEL)
    phi = np.exp(-0.5 * x**2) / _SQRT_2PI
    density = {"normal": phi, "weibull": x * np.exp(-0.5 * x**2), "maxwell": x**2 * phi}[kind]
    return torch.from_numpy(x), torch.from_numpy(w * density)


def _values(cost: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    out = cost(x)
    if not isinstance(out, Tensor) or out.shape != x.shape:
        raise ValueError(
            "cost must map a tensor elementwise to a tensor of the same shape, got "
            f"{type(out).__name__} of shape {getattr(out, 'shape', None)} "
            f"for input {tuple(x.shape)}"
        )
    return out.to(torch.float64)


def _derivative(cost: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    x = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        out = _values(cost, x)
        if not out.requires_grad:
            return torch.zeros_like(x)
        (grad,) = torch.autograd.grad(out.sum(), x)
    return grad


def _check(
    cost: object, loc: float, scale: float, parameter: str
) -> tuple[Callable[[Tensor], Tensor], float, float]:
    """The cost, and loc and scale as Python floats (from Python or NumPy numbers or
    one-element tensors); ``TypeError``/``ValueError`` naming the bad argument."""
    cost_fn = check_callable(cost, "cost")
    loc = check_real(loc, "loc", allow_tensor=True)
    scale = check_real(scale, "scale", positive=True, allow_tensor=True)
    check_choice(parameter, "parameter", PARAMETERS)
    return cost_fn, loc, scale


def _score(u: Tensor, scale: float, parameter: str) -> Tensor:
    return u / scale if parameter == "loc" else (u.square() - 1) / scale


def optimal_baseline(
    cost: Callable[[Tensor], Tensor], loc: float, scale: float, parameter: str
) -> float:
    """The variance-minimising constant baseline b* = E[f(x) s²] / E[s²] for the score s of
    ``parameter`` (``"loc"`` or ``"scale"``), x ~ N(loc, scale²).

    Minimises Var[(f(x) − b) s] over constants b: the variance is a quadratic in b with
    minimum where E[(f − b) s²] = 0.
    """
    cost_fn, loc, scale = _check(cost, loc, scale, parameter)
    u, w = _rule("normal")
    f = _values(cost_fn, loc + scale * u)
    s2 = _score(u, scale, parameter).square()
    return float((w * f * s2).sum() / (w * s2).sum())


def gradient_moments(
    cost: Callable[[Tensor], Tensor],
    loc: float,
    scale: float,
    *,
    estimator: str,
    parameter: str,
) -> GradientMoments:
    """Exact mean and variance of a per-sample gradient estimate, N(μ, σ²).

    Args:
        cost: f, a torch function applied elementwise (differentiable for
            ``"pathwise"``), e.g. a :class:`reparam.GaussianTestCost`.
        loc: μ, a finite real number (Python or NumPy number, or a
            one-element tensor).
        scale: σ > 0, finite.
        estimator: one of :data:`ESTIMATORS`, or ``"pathwise_antithetic"``:
            the pathwise estimate averaged over the pair (u, −u),
            (g(u) + g(−u)) / 2, the even part of g.
        parameter: ``"loc"`` (∂/∂μ) or ``"scale"`` (∂/∂σ).

    Returns:
        :class:`GradientMoments` of one per-sample estimate (float64
        quadrature).
    """
    cost_fn, loc, scale = _check(cost, loc, scale, parameter)
    check_choice(estimator, "estimator", ESTIMATORS + PAIRED_ESTIMATORS)
    if estimator == "measure_valued":
        return _measure_valued_moments(cost_fn, loc, scale, parameter)
    u, w = _rule("normal")
    x = loc + scale * u
    if estimator in ("pathwise", "pathwise_antithetic"):
        g = _derivative(cost_fn, x) * (1.0 if parameter == "loc" else u)
        if estimator == "pathwise_antithetic":  # the pair's mirror draw, −u
            mirror = _derivative(cost_fn, loc - scale * u)
            g = 0.5 * (g + mirror * (1.0 if parameter == "loc" else -u))
    else:
        f = _values(cost_fn, x)
        if estimator == "score_function_optimal_baseline":
            f = f - optimal_baseline(cost_fn, loc, scale, parameter)
        g = f * _score(u, scale, parameter)
    mean = float((w * g).sum())
    second = float((w * g.square()).sum())
    return GradientMoments(mean, second - mean**2)


def _measure_valued_moments(
    cost: Callable[[Tensor], Tensor], loc: float, scale: float, parameter: str
) -> GradientMoments:
    if parameter == "loc":
        r, w = _rule("weibull")
        g = (_values(cost, loc + scale * r) - _values(cost, loc - scale * r)) / (scale * _SQRT_2PI)
        mean = float((w * g).sum())
        return GradientMoments(mean, float((w * g.square()).sum()) - mean**2)
    m, wm = _rule("maxwell")
    v, wv = _rule("uniform")
    f_m = _values(cost, loc + scale * m)[:, None]
    f_n = _values(cost, loc + scale * m[:, None] * v[None, :])
    g = (f_m - f_n) / scale
    weights = wm[:, None] * wv[None, :]
    mean = float((weights * g).sum())
    return GradientMoments(mean, float((weights * g.square()).sum()) - mean**2)


def variance_curves(
    make_cost: Callable[[float], Callable[[Tensor], Tensor]],
    ks: Sequence[float],
    loc: float = 1.0,
    scale: float = 1.0,
    *,
    estimators: Sequence[str] = ESTIMATORS,
    parameters: Sequence[str] = PARAMETERS,
) -> dict[tuple[str, str], np.ndarray]:
    """Exact per-sample variances over a family of costs f(x; k), one curve per
    (estimator, parameter).

    Args:
        make_cost: k -> cost, e.g. :func:`reparam.cosine_cost`.
        ks: the values of k.
        loc, scale: the Gaussian N(loc, scale²) (Mohamed et al. use μ = σ = 1).
        estimators: a subset of :data:`ESTIMATORS`.
        parameters: a subset of :data:`PARAMETERS`.

    Returns:
        ``(estimator, parameter) -> array of variances``, shape ``(len(ks),)``.
    """
    curves: dict[tuple[str, str], np.ndarray] = {}
    costs = [make_cost(float(k)) for k in ks]
    for estimator in estimators:
        for parameter in parameters:
            curves[estimator, parameter] = np.array(
                [
                    gradient_moments(
                        c, loc, scale, estimator=estimator, parameter=parameter
                    ).variance
                    for c in costs
                ]
            )
    return curves
