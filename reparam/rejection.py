"""Reparameterization gradients through a rejection sampler, and the generalized
reparameterization gradient, for the Gamma distribution.

Book chapter: "Rejection samplers and generalized reparameterization" (``chapter-rejection``).
Exact Gamma samplers reject. Marsaglia & Tsang (2000) propose

    z = h(ε, α) = (α − 1/3) (1 + ε / √(9α − 3))³,   ε ~ N(0, 1),

and accept with a probability that depends on α (for α ≥ 1). Differentiating h at the accepted
ε is biased, because *which* ε gets accepted changes with α. Naesseth, Ruiz, Linderman & Blei
(AISTATS 2017) take the expectation over the accepted noise instead. Its density is

    π(ε; α) = q(h(ε, α); α) · ∂h/∂ε(ε, α)                           (accepted noise)

(h increases in ε where it can be accepted; the proposal's density cancels against the
acceptance probability), so E_q[f(z)] = E_π[f(h(ε, α))] and

    ∇_α E_q[f(z)] = E_π[∇_α f(h(ε, α))] + E_π[f(h(ε, α)) ∇_α log π(ε; α)]         (RSVI)

a pathwise term and a score-function *correction*. Ruiz, Titsias & Blei (NIPS 2016) derived
the same two-term form for any invertible transformation ε = T⁻¹(z; α) whose distribution
depends only weakly on α (the generalized reparameterization gradient, G-REP); the accepted
noise of a rejection sampler is one such ε. This module implements both for Gamma(α, β):

- :func:`rsvi_rsample`, :func:`rsvi_gradient`: ε is the Marsaglia–Tsang noise accepted for
  the shape α + B, and B ≥ 0 *boosts* give z = h(ε, α + B) ∏_{i=1}^{B} u_i^{1/(α+i−1)},
  u_i ~ U(0, 1) (the boost of Marsaglia & Tsang, applied B times): they reach shapes below 1 and
  shrink the correction;
- :func:`grep_rsample`, :func:`grep_gradient`: ε = (log(βz) − ψ(α)) / √ψ′(α), the log of the
  unit-rate draw βz ~ Gamma(α, 1) standardised by its exact mean and standard deviation (a
  choice made here: every smooth invertible standardisation gives an unbiased estimator of
  this form);
- :func:`corrected_surrogate`: a surrogate whose gradient is the two terms;
- :func:`gamma_gradient_moments`: the exact mean and variance of one estimate of
  ∂/∂α E[f(z)] by quadrature over the noise, for these estimators, the implicit gradient
  (:mod:`reparam.catalog.implicit`) and the score function.

The rate β enters as z = G/β, a plain pathwise gradient: π does not depend on β.

Every estimator has the signature::

    estimator(cost, concentration, rate, num_samples, *, generator=None, **options)
        -> dict[str, Tensor]

- ``cost``: maps draws ``z`` of shape ``(N, *batch_shape)`` to per-draw costs of shape
  ``(N,)``; row ``n`` of the output may depend on row ``n`` of ``z`` only.
- ``concentration`` α, ``rate`` β: positive floating-point tensors (or numbers) broadcasting
  to ``batch_shape``.
- ``num_samples``: the number ``N >= 1`` of independent estimates.
- ``generator``: the ``torch.Generator`` all noise is drawn from.

The result maps ``"concentration"`` and ``"rate"`` to ``N`` independent per-sample estimates
of shapes ``(N, *concentration.shape)`` and ``(N, *rate.shape)``, in the parameters' common
dtype and on their device; :func:`reparam.summarize` gives mean and standard error.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from functools import lru_cache
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor

from reparam._per_sample import sum_to_shape
from reparam._validation import (
    as_tensors,
    check_broadcast,
    check_callable,
    check_count,
    check_finite,
    check_finite_and_positive,
    check_generator,
    check_num_samples,
    check_real,
    check_tensor,
)
from reparam.catalog.entry import exp_in_range
from reparam.catalog.implicit import gamma_log_draw, implicit_log_gamma
from reparam.noise import open_uniform, standard_normal
from reparam.variance import GradientMoments

__all__ = [
    "ESTIMATORS",
    "MAX_QUADRATURE_BOOST",
    "CorrectedDraws",
    "acceptance_probability",
    "accepted_noise_log_prob",
    "corrected_surrogate",
    "gamma_gradient_moments",
    "grep_estimate",
    "grep_gradient",
    "grep_rsample",
    "marsaglia_tsang_proposal",
    "rsvi_estimate",
    "rsvi_gradient",
    "rsvi_rsample",
    "sample_accepted_noise",
]

Cost = Callable[[Tensor], Tensor]

#: Estimators :func:`gamma_gradient_moments` knows: RSVI, RSVI without its correction (the
#: biased pathwise term alone), G-REP, the implicit gradient and the score function.
ESTIMATORS = ("rsvi", "rsvi_pathwise", "grep", "implicit", "score_function")

#: Largest number of boosts :func:`gamma_gradient_moments` integrates over (each boost adds a
#: dimension to the quadrature).
MAX_QUADRATURE_BOOST = 1

_MAX_ROUNDS = 200  # the acceptance rate exceeds 0.95 for α ≥ 1: 200 rounds are never needed
_NODES = 12  # Gauss–Legendre nodes per panel


class CorrectedDraws(NamedTuple):
    """Draws z carrying their pathwise gradient, and the log-density of their noise.

    Attributes:
        value: z, shape ``(N, *batch_shape)``, differentiable in the parameters along the
            sampling path at fixed noise.
        noise_log_prob: log π(ε; θ) of the noise behind each entry, same shape,
            differentiable in the parameters: its gradient is the score of the correction.
    """

    value: Tensor
    noise_log_prob: Tensor


# -- the sampler's proposal and its accepted noise ------------------------------------------
def _constants(shape: Tensor) -> tuple[Tensor, Tensor]:
    """d = α − 1/3 and c = 1/√(9d), differentiable in α."""
    d = shape - 1.0 / 3.0
    return d, torch.rsqrt(9.0 * d)


def _check_shape_at_least_one(concentration: Any, name: str = "concentration") -> Tensor:
    alpha = as_tensors({name: concentration})[name]
    check_finite(alpha, name)
    if alpha.numel() and not bool((alpha >= 1).all()):
        raise ValueError(f"{name} must be at least 1 for the Marsaglia–Tsang proposal")
    return alpha


def marsaglia_tsang_proposal(noise: Tensor, concentration: Tensor | float) -> Tensor:
    """The proposal h(ε, α) = (α − 1/3)(1 + ε/√(9α − 3))³ of Marsaglia & Tsang (2000).

    Differentiable in both arguments; ``noise`` and ``concentration`` (α ≥ 1) broadcast.
    Proposals with 1 + cε ≤ 0 are never accepted; h is returned for them all the same.
    """
    noise = check_tensor(noise, "noise", floating=True)
    alpha = _check_shape_at_least_one(concentration)
    check_broadcast(noise=noise.shape, concentration=alpha.shape)
    d, c = _constants(alpha.to(noise.dtype))
    return d * (1 + c * noise) ** 3


def accepted_noise_log_prob(noise: Tensor, concentration: Tensor | float) -> Tensor:
    """log π(ε; α) = log Gamma(h(ε, α); α, 1) + log ∂h/∂ε, the log-density of the noise the
    Marsaglia–Tsang sampler accepts (Naesseth et al., 2017); −inf where 1 + cε ≤ 0.

    With d = α − 1/3, c = 1/√(9d) and L = log(1 + cε): log h = log d + 3L and
    ∂h/∂ε = √d (1 + cε)², so log π = (α − 1)(log d + 3L) − d e^{3L} − log Γ(α) + ½ log d + 2L.
    Differentiable in α; ``noise`` and ``concentration`` (α ≥ 1) broadcast. −inf at ε = ±inf,
    NaN where ``noise`` is NaN.
    """
    noise = check_tensor(noise, "noise", floating=True)
    alpha = _check_shape_at_least_one(concentration)
    check_broadcast(noise=noise.shape, concentration=alpha.shape)
    alpha = alpha.to(noise.dtype)
    d, c = _constants(alpha)
    inside = (c * noise > -1) & (noise < math.inf)  # π vanishes at both ends
    log1p = torch.log1p(torch.where(inside, c * noise, torch.zeros_like(noise)))
    log_prob = torch.where(inside, _noise_log_prob(alpha, d, log1p), -math.inf)
    return torch.where(noise.isnan(), noise, log_prob)  # NaN in, NaN out


def _noise_log_prob(alpha: Tensor, d: Tensor, log1p: Tensor) -> Tensor:
    log_h = d.log() + 3 * log1p
    return (alpha - 1) * log_h - log_h.exp() - torch.lgamma(alpha) + 0.5 * d.log() + 2 * log1p


def acceptance_probability(concentration: float) -> float:
    """P(accept) of one Marsaglia–Tsang proposal for shape α ≥ 1.

    The proposal ε ~ N(0, 1) is accepted with probability exp(ε²/2 + d − dv + d log v) for
    v = (1 + cε)³ > 0 (the exponent is never positive), so P(accept) is
    ∫ φ(ε) e^{ε²/2 + d − dv + d log v} dε = e^d/√(2π) ∫ v^d e^{−dv} dε. Since
    v^d e^{−dv} is, up to the constant d^{α−1/2}/Γ(α), the density π(ε; α) of the accepted
    noise (:func:`accepted_noise_log_prob`), which integrates to one,

        P(accept) = Γ(α) e^d / (√(2π) d^{α − 1/2}),

    evaluated in log space. The expected number of proposals per draw is its reciprocal.
    """
    alpha = check_real(concentration, "concentration")
    if alpha < 1:
        raise ValueError(f"concentration must be at least 1, got {alpha:g}")
    # log P = log Γ(α) + d − (α − ½) log d − ½ log 2π; for large α, with Stirling's series
    # for log Γ, the terms of size α log α cancel exactly instead of in rounding
    if alpha < 10:
        d = alpha - 1 / 3
        log_p = math.lgamma(alpha) + d - (alpha - 0.5) * math.log(d) - 0.5 * math.log(2 * math.pi)
    else:
        series = 1 / (12 * alpha) - 1 / (360 * alpha**3) + 1 / (1260 * alpha**5)
        log_p = -(alpha - 0.5) * math.log1p(-1 / (3 * alpha)) - 1 / 3 + series
    return math.exp(log_p)


def sample_accepted_noise(
    concentration: Tensor | float,
    num_samples: int,
    *,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Noise ε accepted by the Marsaglia–Tsang sampler for shape α ≥ 1: distributed as
    π(ε; α) (:func:`accepted_noise_log_prob`), so that h(ε, α) ~ Gamma(α, 1).

    Returns shape ``(num_samples, *concentration.shape)``, in ``concentration``'s dtype and on
    its device (drawn and tested in float64). Proposals are drawn for every pending entry at
    once and rejected entries redrawn until all are accepted.
    """
    alpha = _check_shape_at_least_one(concentration)
    num_samples = check_num_samples(num_samples)
    check_generator(generator)
    noise = _accepted_noise(alpha.detach().expand(num_samples, *alpha.shape), generator)
    return noise.to(alpha.dtype)


def _accepted_noise(alpha: Tensor, generator: torch.Generator | None) -> Tensor:
    """One accepted ε per entry of ``alpha`` (checked, ≥ 1), in float64 on its device (the
    test's right-hand side is a small difference of terms of size α)."""
    d, c = (t.reshape(-1) for t in _constants(alpha.detach().to(torch.float64)))
    out = torch.empty_like(d)
    pending = torch.arange(d.numel(), device=d.device)
    for _ in range(_MAX_ROUNDS):
        if pending.numel() == 0:
            return out.reshape(alpha.shape)
        dd, cc = d[pending], c[pending]
        shape, dtype = (pending.numel(),), d.dtype
        eps = standard_normal(shape, generator=generator, dtype=dtype).to(d.device)
        u = open_uniform(shape, generator=generator, dtype=dtype).to(d.device)
        v = (1 + cc * eps) ** 3
        log_v = v.clamp_min(torch.finfo(dtype).tiny).log()
        accept = (v > 0) & (u.log() < 0.5 * eps**2 + dd - dd * v + dd * log_v)
        out[pending[accept]] = eps[accept]
        pending = pending[~accept]
    raise RuntimeError("the Marsaglia–Tsang sampler did not accept within the round limit")


# -- the two estimators -------------------------------------------------------------------------
def _parameters(concentration: Any, rate: Any) -> tuple[Tensor, Tensor, torch.Size]:
    params = as_tensors({"concentration": concentration, "rate": rate}, cast=True)
    alpha, beta = params["concentration"], params["rate"]
    check_finite_and_positive({}, {"concentration": alpha, "rate": beta})
    return alpha, beta, check_broadcast(concentration=alpha.shape, rate=beta.shape)


def _check_boost(boost: Any, alpha: Tensor) -> int:
    """``boost`` as an int ≥ 0 with α + boost ≥ 1 everywhere; None: the smallest such."""
    low = float(alpha.detach().min()) if alpha.numel() else 1.0
    smallest = max(0, math.ceil(1 - low))
    if boost is None:
        return smallest
    value = check_count(boost, "boost", 0)
    if value < smallest:
        raise ValueError(
            f"boost must be at least {smallest} for concentration down to "
            f"{low:g} (the proposal needs a shape of at least 1), got {value}"
        )
    return value


def corrected_surrogate(costs: Tensor, noise_log_prob: Tensor) -> Tensor:
    """f + stop(f)·(log π − stop(log π)): the costs, with gradient g_rep + g_cor.

    The first term differentiates each cost along its sampling path at fixed
    noise (g_rep); the second multiplies it by the score ∇ log π(ε; θ) of its
    noise (g_cor): the surrogate of RSVI (Naesseth et al., 2017) and G-REP
    (Ruiz et al., 2016).

    Args:
        costs: per-draw costs f(z), shape ``(N,)``, of draws that carry their
            pathwise gradient.
        noise_log_prob: log π of each draw's noise, shape ``(N, ...)``, summed
            over all but the first dimension (independent coordinates).

    Returns:
        Shape ``(N,)``; sum or average it and call ``backward``.
    """
    costs = check_tensor(costs, "costs", floating=True)
    noise_log_prob = check_tensor(noise_log_prob, "noise_log_prob", floating=True)
    if costs.dim() != 1 or noise_log_prob.shape[:1] != costs.shape:
        raise ValueError(
            f"costs must have shape (N,) and noise_log_prob (N, ...), got "
            f"{tuple(costs.shape)} and {tuple(noise_log_prob.shape)}"
        )
    log_prob = noise_log_prob.reshape(costs.shape[0], -1).sum(-1)
    return costs + costs.detach() * (log_prob - log_prob.detach())


def _rsvi_draws(
    alpha: Tensor,
    beta: Tensor,
    noise: Tensor,
    uniforms: Tensor,
    warn: bool = True,
) -> CorrectedDraws:
    """z and log π at given noise, differentiable in α and β (shapes broadcast).

    In float64 whatever the parameters' dtype (the score of log π is a small
    difference of large terms); z is returned in their dtype.
    """
    dtype = alpha.dtype
    alpha, beta, noise = (t.to(torch.float64) for t in (alpha, beta, noise))
    boosted = alpha + uniforms.shape[0]
    d, c = _constants(boosted)
    log1p = torch.log1p(c * noise)
    log_z = d.log() + 3 * log1p - beta.log()
    # z_α = z_{α+1} U^{1/α}, for α, …, α + B − 1 (float64 uniforms from the
    # samplers: float32 ones are multiples of 2^-24, which would cut off the lower
    # tail of z)
    for i, u in enumerate(uniforms):
        log_z = log_z + u.log().to(torch.float64) / (alpha + i)
    value = _exp_checked(log_z, dtype, warn)
    return CorrectedDraws(value, _noise_log_prob(boosted, d, log1p))


def _exp_checked(log_z: Tensor, dtype: torch.dtype, warn: bool = True) -> Tensor:
    """exp(log z) in ``dtype``, kept in its positive normal range (``exp_in_range``), with a
    warning when a draw leaves it: its gradient is then zero, and an average that depends
    on such draws (as E[log z] does at small shapes) is biased."""
    if not warn:
        return exp_in_range(log_z.to(dtype))
    low = math.log(torch.finfo(dtype).tiny)
    out_of_range = int(((log_z < low) | (log_z > math.log(torch.finfo(dtype).max))).sum())
    if out_of_range:
        warnings.warn(
            f"{out_of_range} of {log_z.numel()} Gamma draws are outside the normal range of "
            f"{dtype} and were clamped into it (their gradient is zero); use float64 or "
            "larger shapes if the cost depends on them",
            RuntimeWarning,
            stacklevel=4,
        )
    return exp_in_range(log_z.to(dtype))


def rsvi_rsample(
    concentration: Tensor | float,
    rate: Tensor | float,
    num_samples: int,
    *,
    boost: int | None = None,
    generator: torch.Generator | None = None,
) -> CorrectedDraws:
    """Gamma(α, β) draws by Marsaglia–Tsang with B boosts, for the RSVI gradient.

    ``value`` is exactly Gamma(α, β) distributed, shape ``(N, *batch_shape)``, and carries the
    pathwise gradient at the accepted noise; ``noise_log_prob`` is log π(ε; α + B). Pass both
    to :func:`corrected_surrogate` for an unbiased gradient (Naesseth et al., 2017); the value
    alone gives the *biased* gradient that ignores the accept step.

    Args:
        concentration, rate: positive, broadcasting to ``batch_shape``; gradients flow to them.
        num_samples: N ≥ 1.
        boost: B ≥ 0 with α + B ≥ 1 (default: the smallest such B).
        generator: the source of all noise.
    """
    alpha, beta, noise, uniforms = _rsvi_noise(concentration, rate, num_samples, boost, generator)
    return _rsvi_draws(alpha, beta, noise, uniforms)


def _rsvi_noise(
    concentration: Any, rate: Any, num_samples: Any, boost: Any, generator: Any
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Checked α and β, the accepted noise for α + B, shape ``(N, *batch)``, and the B
    boosts' uniforms, ``(B, N, *batch)``, in float64 on α's device."""
    alpha, beta, batch = _parameters(concentration, rate)
    num_samples = check_num_samples(num_samples)
    check_generator(generator)
    boost = _check_boost(boost, alpha)
    shape = (num_samples, *batch)
    noise = _accepted_noise((alpha.detach() + boost).expand(shape), generator)
    uniforms = open_uniform((boost, *shape), generator=generator, dtype=torch.float64)
    return alpha, beta, noise, uniforms.to(alpha.device)


def _per_sample_gradients(
    cost: Cost,
    alpha: Tensor,
    beta: Tensor,
    shape: tuple[int, ...],
    draw: Callable[[Tensor, Tensor], CorrectedDraws],
    correction: bool,
) -> dict[str, Tensor]:
    """Per-sample gradients of the corrected surrogate (or of the costs alone) with respect
    to α and β, summed back to their shapes."""
    a = alpha.detach().expand(shape).clone().requires_grad_(True)
    b = beta.detach().expand(shape).clone().requires_grad_(True)
    with torch.enable_grad():
        draws = draw(a, b)
        costs = cost(draws.value)
        if not isinstance(costs, Tensor) or costs.shape != shape[:1]:
            got = tuple(costs.shape) if isinstance(costs, Tensor) else type(costs).__name__
            raise ValueError(f"cost must return one value per draw, shape ({shape[0]},), got {got}")
        check_finite(costs, "cost")
        objective = corrected_surrogate(costs, draws.noise_log_prob) if correction else costs
        grad_a, grad_b = torch.autograd.grad(objective.sum(), (a, b), allow_unused=True)
    return {
        "concentration": sum_to_shape(grad_a, a, alpha.shape),
        "rate": sum_to_shape(grad_b, b, beta.shape),
    }


def rsvi_gradient(
    cost: Cost,
    concentration: Tensor | float,
    rate: Tensor | float,
    num_samples: int,
    *,
    boost: int | None = None,
    correction: bool = True,
    generator: torch.Generator | None = None,
) -> dict[str, Tensor]:
    """The RSVI estimator (Naesseth et al., 2017) of ∇ E[f(z)], z ~ Gamma(α, β).

    Per estimate ∇_θ f(z) at the accepted noise plus f(z) ∇_α log π(ε; α + B). With
    ``correction=False`` only the first term: biased, shown in the book for that reason.
    ``boost``: as in :func:`rsvi_rsample`. Returns ``{"concentration", "rate"}``; see the
    module docstring.
    """
    cost = check_callable(cost)
    alpha, beta, noise, uniforms = _rsvi_noise(concentration, rate, num_samples, boost, generator)
    return _rsvi_gradients(cost, alpha, beta, noise, uniforms, correction)


def _rsvi_gradients(
    cost: Cost,
    alpha: Tensor,
    beta: Tensor,
    noise: Tensor,
    uniforms: Tensor,
    correction: bool,
    warn: bool = True,
) -> dict[str, Tensor]:
    def draw(a: Tensor, b: Tensor) -> CorrectedDraws:
        return _rsvi_draws(a, b, noise, uniforms, warn)

    return _per_sample_gradients(cost, alpha, beta, tuple(noise.shape), draw, correction)


def rsvi_estimate(
    cost: Cost,
    concentration: Tensor | float,
    rate: Tensor | float,
    noise: Tensor,
    uniforms: Tensor | None = None,
    *,
    correction: bool = True,
) -> dict[str, Tensor]:
    """:func:`rsvi_gradient` at given noise.

    Args:
        noise: accepted noise for the shape α + B, shape ``(N, *batch_shape)``, with
            1 + ε/√(9(α + B) − 3) > 0 (the support of π).
        uniforms: the B boosts' uniforms in the open (0, 1), shape ``(B, N, *batch_shape)``
            (None: B = 0); α + B ≥ 1 is required. ``uniforms[i]`` (counting from 0) gets the
            exponent 1/(α + i). The samplers draw them in float64.
    """
    cost = check_callable(cost)
    alpha, beta, batch = _parameters(concentration, rate)
    noise = check_tensor(noise, "noise", floating=True).to(alpha.device)
    if noise.dim() != len(batch) + 1 or noise.shape[1:] != batch:
        raise ValueError(
            f"noise must have shape (N, *batch_shape) = (N, {', '.join(map(str, batch))}), "
            f"got {tuple(noise.shape)}"
        )
    if uniforms is None:
        uniforms = noise.new_empty((0, *noise.shape))
    uniforms = check_tensor(uniforms, "uniforms", floating=True).to(alpha.device)
    if uniforms.dim() != noise.dim() + 1 or uniforms.shape[1:] != noise.shape:
        raise ValueError(f"uniforms must have shape (B, *noise.shape), got {tuple(uniforms.shape)}")
    if not bool(((uniforms > 0) & (uniforms < 1)).all()):
        raise ValueError("uniforms must lie in the open interval (0, 1)")
    _check_boost(uniforms.shape[0], alpha)
    check_finite(noise, "noise")
    _, c = _constants(alpha.detach() + uniforms.shape[0])
    if not bool((c * noise > -1).all()):
        raise ValueError("noise must satisfy 1 + noise / sqrt(9 (concentration + B) - 3) > 0")
    return _rsvi_gradients(cost, alpha, beta, noise, uniforms, correction)


def _grep_draws(alpha: Tensor, beta: Tensor, noise: Tensor) -> CorrectedDraws:
    """z = exp(ψ(α) + √ψ′(α) ε)/β and log q(ε; α), differentiable in α and β; in float64,
    z returned in the parameters' dtype."""
    dtype = alpha.dtype
    alpha, beta, noise = (t.to(torch.float64) for t in (alpha, beta, noise))
    scale = torch.polygamma(1, alpha).sqrt()
    log_g = torch.digamma(alpha) + scale * noise
    # log z has density exp(α log z − z − log Γ(α)); ε = (log z − ψ)/s adds log s
    log_prob = alpha * log_g - log_g.exp() - torch.lgamma(alpha) + scale.log()
    return CorrectedDraws(_exp_checked(log_g - beta.log(), dtype), log_prob)


def _grep_noise(alpha: Tensor, log_g: Tensor) -> Tensor:
    """ε = (log G − ψ(α))/√ψ′(α) in float64, G the unit-rate draw."""
    a = alpha.to(torch.float64)
    return (log_g.to(torch.float64) - torch.digamma(a)) / torch.polygamma(1, a).sqrt()


def grep_rsample(
    concentration: Tensor | float,
    rate: Tensor | float,
    num_samples: int,
    *,
    generator: torch.Generator | None = None,
) -> CorrectedDraws:
    """Gamma(α, β) draws for the generalized reparameterization gradient (G-REP).

    Exact draws (Marsaglia–Tsang, :func:`reparam.catalog.implicit.gamma_log_draw`) are
    standardised, ε = (log G − ψ(α))/√ψ′(α) with G = βz the unit-rate draw, and mapped back
    with gradient:
    ``value`` = exp(ψ(α) + √ψ′(α) ε)/β, shape ``(N, *batch_shape)``; ``noise_log_prob`` is
    log q(ε; α), the density of the standardised noise. Pass both to
    :func:`corrected_surrogate` (Ruiz, Titsias & Blei, 2016).
    """
    alpha, beta, noise = _grep_noise_draw(concentration, rate, num_samples, generator)
    return _grep_draws(alpha, beta, noise)


def _grep_noise_draw(
    concentration: Any, rate: Any, num_samples: Any, generator: Any
) -> tuple[Tensor, Tensor, Tensor]:
    """Checked α and β, and the standardised noise of exact draws, ``(N, *batch)``."""
    alpha, beta, batch = _parameters(concentration, rate)
    num_samples = check_num_samples(num_samples)
    check_generator(generator)
    expanded = alpha.detach().expand(num_samples, *batch)
    return alpha, beta, _grep_noise(expanded, gamma_log_draw(expanded, generator))


def grep_gradient(
    cost: Cost,
    concentration: Tensor | float,
    rate: Tensor | float,
    num_samples: int,
    *,
    correction: bool = True,
    generator: torch.Generator | None = None,
) -> dict[str, Tensor]:
    """The G-REP estimator (Ruiz, Titsias & Blei, 2016) of ∇ E[f(z)], z ~ Gamma(α, β), with
    the standardisation of :func:`grep_rsample`. ``correction=False`` keeps only the
    (biased) pathwise term. Returns ``{"concentration", "rate"}``; see the module docstring.
    """
    cost = check_callable(cost)
    alpha, beta, noise = _grep_noise_draw(concentration, rate, num_samples, generator)
    return _grep_gradients(cost, alpha, beta, noise, correction)


def _grep_gradients(
    cost: Cost, alpha: Tensor, beta: Tensor, noise: Tensor, correction: bool
) -> dict[str, Tensor]:
    def draw(a: Tensor, b: Tensor) -> CorrectedDraws:
        return _grep_draws(a, b, noise)

    return _per_sample_gradients(cost, alpha, beta, tuple(noise.shape), draw, correction)


def grep_estimate(
    cost: Cost,
    concentration: Tensor | float,
    rate: Tensor | float,
    noise: Tensor,
    *,
    correction: bool = True,
) -> dict[str, Tensor]:
    """:func:`grep_gradient` at given standardised noise ε, finite, of shape
    ``(N, *batch_shape)``."""
    cost = check_callable(cost)
    alpha, beta, batch = _parameters(concentration, rate)
    noise = check_tensor(noise, "noise", floating=True).to(alpha.device)
    if noise.dim() != len(batch) + 1 or noise.shape[1:] != batch:
        raise ValueError(
            f"noise must have shape (N, *batch_shape) = (N, {', '.join(map(str, batch))}), "
            f"got {tuple(noise.shape)}"
        )
    check_finite(noise, "noise")
    return _grep_gradients(cost, alpha, beta, noise, correction)


# -- exact moments by quadrature ----------------------------------------------------------------
def _legendre_panels(edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    nodes, weights = np.polynomial.legendre.leggauss(_NODES)
    mids, half = (edges[:-1] + edges[1:]) / 2, (edges[1:] - edges[:-1]) / 2
    x = (mids[:, None] + half[:, None] * nodes[None, :]).reshape(-1)
    return x, (half[:, None] * weights[None, :]).reshape(-1)


@lru_cache(maxsize=64)
def _accepted_rule(shape: float) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights on (−1/c, 12] for integrals against π(ε; shape): panels graded
    geometrically towards the end −1/c, where π behaves like a power of (1 + cε)."""
    low = -math.sqrt(9 * shape - 3)
    graded = low + np.geomspace(2.0**-30, 1.0, 31)
    edges = np.concatenate([[low], graded, np.arange(low + 1.5, 12.0, 0.5), [12.0]])
    return _legendre_panels(np.unique(edges))


@lru_cache(maxsize=4)
def _uniform_rule() -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights on (0, 1), panels [2^−k−1, 2^−k] down to 2^−60 (log u is singular)."""
    edges = np.concatenate([[0.0], 2.0 ** -np.arange(60, -1, -1.0)])
    return _legendre_panels(edges)


def _log_gamma_rule(alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights for the standardised ε = (log z − ψ(α))/√ψ′(α), z ~ Gamma(α, 1).

    The left tail of log z decays like e^{α log z}, so ε goes down to where α√ψ′ ε = −60
    (and at least to −12, where the shape is large and ε nearly standard normal); the right
    tail like exp(−z), so ε goes up to 12 or to z = e^{50}, whichever comes first. It stops
    where z reaches the smallest normal float64 number (below, the mass it leaves out is
    what :func:`gamma_gradient_moments` checks).
    """
    a = torch.tensor(alpha, dtype=torch.float64)
    psi, scale = float(torch.digamma(a)), math.sqrt(float(torch.polygamma(1, a)))
    smallest = (math.log(torch.finfo(torch.float64).tiny) + 1.0 - psi) / scale
    low = max(-max(12.0, 60.0 / (alpha * scale)), smallest)
    high = min(12.0, (50.0 - psi) / scale)
    return _legendre_panels(np.linspace(low, high, int((high - low) / 0.25) + 2))


def _moments(values: Tensor, weights: Tensor) -> GradientMoments:
    mean = (weights * values).sum()
    moments = GradientMoments(float(mean), float((weights * (values - mean) ** 2).sum()))
    if not (math.isfinite(moments.mean) and math.isfinite(moments.variance)):
        raise ValueError(
            "the estimate's moments are not finite for this cost and concentration "
            f"(mean {moments.mean}, variance {moments.variance})"
        )
    return moments


def _check_mass(weights: Tensor, alpha: float) -> None:
    """``ValueError`` naming ``concentration`` when the rule misses mass (a shape so small
    that its draws fall below the smallest float64 number): ``weights`` (or their sum) must
    add up to one."""
    missing = abs(float(weights.sum()) - 1.0)
    if missing > 1e-9:
        raise ValueError(
            f"concentration {alpha:g} is too small for quadrature in float64: a fraction "
            f"{missing:.1e} of the draws lies below the smallest positive float64 number"
        )


def gamma_gradient_moments(
    cost: Cost, concentration: float, *, estimator: str, boost: int | None = None
) -> GradientMoments:
    """Exact mean and variance of one estimate of ∂/∂α E[f(z)], z ~ Gamma(α, 1).

    By quadrature over the estimator's noise (float64): composite Gauss–Legendre over the
    accepted ε for ``"rsvi"`` and ``"rsvi_pathwise"`` (times the uniform of one boost), over
    the standardised log z for ``"grep"``, ``"implicit"`` and ``"score_function"``.
    The estimates at the nodes come from the same code as the Monte Carlo estimators.

    Args:
        cost: maps z of shape ``(M,)`` to costs ``(M,)``; smooth where z has mass.
        concentration: α > 0, a number.
        estimator: one of :data:`ESTIMATORS`.
        boost: for the RSVI estimators only, B in {0, 1} with α + B ≥ 1 (default: the
            smallest).

    Returns:
        :class:`reparam.variance.GradientMoments` (mean and per-estimate variance).

    Raises:
        ValueError: for a shape so small that draws underflow float64 (about α < 0.05 for
            the rules over log z), or when the moments are not finite (a cost whose
            estimate has no finite mean or variance).
    """
    cost = check_callable(cost)
    alpha = check_real(concentration, "concentration", positive=True)
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {', '.join(ESTIMATORS)}, got {estimator!r}")
    if boost is not None and not estimator.startswith("rsvi"):
        raise ValueError(f"boost applies to the RSVI estimators only, not to {estimator!r}")
    a = torch.tensor(alpha, dtype=torch.float64)
    one = torch.ones((), dtype=torch.float64)
    if estimator.startswith("rsvi"):
        b = _check_boost(boost, a.reshape(1))
        if b > MAX_QUADRATURE_BOOST:
            raise ValueError(f"boost must be at most {MAX_QUADRATURE_BOOST} here, got {b}")
        eps, w = (torch.from_numpy(t) for t in _accepted_rule(alpha + b))
        w = w * accepted_noise_log_prob(eps, a + b).exp()
        if b:
            u, v = (torch.from_numpy(t) for t in _uniform_rule())
            eps, w = eps[:, None].expand(-1, u.numel()), (w[:, None] * v[None, :])
            uniforms = u[None, :].expand(eps.shape).reshape(1, -1)
        else:
            uniforms = eps.new_empty((0, eps.numel()))
        eps, w = eps.reshape(-1), w.reshape(-1)
        # nodes whose z underflows float64 are clamped (no warning here): their weight must
        # be negligible
        d = alpha + b - 1 / 3
        log_z = math.log(d) + 3 * torch.log1p(eps / math.sqrt(9 * d))
        if b:
            log_z = log_z + uniforms[0].log() / alpha
        _check_mass(1 - w[log_z < math.log(torch.finfo(torch.float64).tiny)].sum(), alpha)
        grads = _rsvi_gradients(cost, a, one, eps, uniforms, estimator == "rsvi", warn=False)
        return _moments(grads["concentration"], w)
    eps, w = (torch.from_numpy(t) for t in _log_gamma_rule(alpha))
    draws = _grep_draws(a, one, eps)
    w = w * draws.noise_log_prob.exp()
    _check_mass(w, alpha)
    if estimator == "grep":
        return _moments(_grep_gradients(cost, a, one, eps, True)["concentration"], w)
    log_z = torch.digamma(a) + torch.polygamma(1, a).sqrt() * eps
    if estimator == "score_function":
        with torch.no_grad():
            values = cost(log_z.exp()) * (log_z - torch.digamma(a))
        return _moments(values, w)
    leaf = a.expand(log_z.shape).clone().requires_grad_(True)
    with torch.enable_grad():
        costs = cost(implicit_log_gamma(leaf, log_z).exp())
        (grad,) = torch.autograd.grad(costs.sum(), leaf)
    return _moments(grad, w)
