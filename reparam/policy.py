"""Reparameterized policies: the tanh-squashed Gaussian and maximum-entropy policy gradients.

Book chapter: "Reparameterized policies" (``chapter-policies``). A policy over actions in
(−1, 1), as in soft actor-critic (Haarnoja et al., ICML 2018, appendix C), draws

    u = μ + σ ε,   ε ~ N(0, 1),   a = tanh(u),

and its log-density follows from the change of variables (the book's chapter "The
reparameterization trick"):

    log π_θ(a) = log N(u; μ, σ²) − log(1 − tanh²(u)),   θ = (μ, σ).

The correction is computed as log(1 − tanh²(u)) = 2 (log 2 − abs(u) − softplus(−2 abs(u))), which
is exact to rounding for every u; written as ``log(1 - tanh(u)**2)`` it loses every digit once
tanh(u) rounds to ±1 (abs(u) > 9.01 in float32) and returns −inf.

One step of decision making with a cost f(a) (a negative reward, −r(a)) and a temperature
τ > 0 is a *continuous bandit*. Its maximum-entropy objective, the soft cost

    J(θ) = E_{π_θ}[f(a) + τ log π_θ(a)],

is minimised over all densities on (−1, 1) by the Boltzmann policy π*(a) = exp(−f(a)/τ) / Z,
Z = ∫ exp(−f(a)/τ) da, because J(θ) = −τ log Z + τ KL(π_θ ‖ π*): the soft cost measures,
exactly, how far the policy is from π*.

Two estimators of ∇_θ J share the signature::

    estimator(cost, loc, scale, temperature, num_samples, *, generator=None, **options)
        -> dict[str, Tensor]

- ``cost``: maps actions of any shape to costs of the same shape, elementwise (one cost per
  action); the pathwise estimator differentiates it.
- ``loc`` μ, ``scale`` σ > 0: floating-point tensors (or numbers) that broadcast to
  ``batch_shape``; each batch element is its own policy, with its own draws (or, with
  ``event_dims=1``, the last dimension holds the coordinates of one action).
- ``temperature`` τ > 0: broadcasts to ``batch_shape`` without its event dimensions; it
  takes the parameters' dtype.
- ``num_samples``: the number ``N`` of draws per policy.
- ``generator``: the ``torch.Generator`` all noise is drawn from.

The result maps ``"loc"`` and ``"scale"`` to ``N`` per-sample estimates of shapes
``(N, *loc.shape)`` and ``(N, *scale.shape)``, in the parameters' dtype and on their device;
their mean over the first dimension estimates ∇J.

- :func:`soft_pathwise_gradient`: differentiate f(a) + τ log π_θ(a) along a = tanh(μ + σε),
  through the action and through log π_θ's own dependence on θ (the actor gradient of soft
  actor-critic; at τ = 0, the model-free SVG(0) of Heess et al., NIPS 2015, with a known
  cost instead of a learned critic);
- :func:`soft_score_function_gradient`: REINFORCE, (f(a) + τ log π_θ(a) − b) ∇_θ log π_θ(a),
  with a leave-one-out baseline b by default.

Exact values to check them against: :func:`soft_objective` (J by quadrature; differentiate
it with autograd for the exact gradient) and :func:`boltzmann_log_normalizer`
(log Z by Gauss–Legendre quadrature), so that min J = −τ log Z.
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
    as_tensor,
    as_tensors,
    check_broadcast,
    check_broadcasts_to,
    check_callable,
    check_choice,
    check_count,
    check_finite,
    check_finite_and_positive,
    check_generator,
    check_num_samples,
    check_tensor,
)
from reparam.noise import standard_normal

__all__ = [
    "DEFAULT_PANELS",
    "MAX_QUADRATURE_SCALE",
    "SquashedDraws",
    "boltzmann_log_normalizer",
    "boltzmann_log_prob",
    "soft_objective",
    "soft_pathwise_gradient",
    "soft_score_function_gradient",
    "squashed_normal_log_prob",
    "squashed_normal_rsample",
    "tanh_log_abs_det_jacobian",
]

Cost = Callable[[Tensor], Tensor]

#: The widest policy :func:`soft_objective` integrates (its number of nodes grows with σ).
MAX_QUADRATURE_SCALE = 100.0
_NORMAL_RANGE = 12.0
_PANEL_WIDTH = 0.5
#: Equal panels of (−1, 1) for :func:`boltzmann_log_normalizer`, 20 Gauss–Legendre nodes each.
DEFAULT_PANELS = 64
_LEGENDRE_NODES = 20
_LOG_2 = math.log(2.0)


def tanh_log_abs_det_jacobian(pre_tanh: Tensor) -> Tensor:
    """log(d tanh(u)/du) = log(1 − tanh²(u)), for every real u, to rounding.

    Computed as 2 (log 2 − abs(u) − softplus(−2 abs(u))): no cancellation,
    −inf only at ±inf (NaN stays NaN). PyTorch's ``TanhTransform`` uses the same
    identity, without the absolute value. Book chapter "Reparameterized
    policies": the log-density correction of soft actor-critic (Haarnoja et
    al., 2018, appendix C).

    Args:
        pre_tanh: u, a floating-point tensor of any shape.

    Returns:
        A tensor of u's shape and dtype.
    """
    u = check_tensor(pre_tanh, "pre_tanh", floating=True).abs()
    return 2.0 * (_LOG_2 - u - torch.nn.functional.softplus(-2.0 * u))


def _parameters(loc: Any, scale: Any, **others: Any) -> tuple[dict[str, Tensor], torch.Size]:
    tensors = as_tensors({"loc": loc, "scale": scale, **others}, cast=True)
    positive = {name: tensors[name] for name in tensors if name != "loc"}
    check_finite_and_positive({"loc": tensors["loc"]}, positive)
    shape = check_broadcast(**{name: tensor.shape for name, tensor in tensors.items()})
    return tensors, shape


def squashed_normal_log_prob(
    pre_tanh: Tensor, loc: Tensor | float, scale: Tensor | float
) -> Tensor:
    """log π(a) of the action a = tanh(u), computed from the pre-squash value u.

    log π(a) = log N(u; μ, σ²) − log(1 − tanh²(u)). Give u, not a: recovering u = atanh(a)
    from a rounded action loses it entirely once tanh(u) rounds to ±1.

    Args:
        pre_tanh: u, a floating-point tensor.
        loc, scale: μ and σ > 0 (finite), broadcasting with u.

    Returns:
        The broadcast shape, in the promoted dtype of the three.
    """
    tensors = as_tensors({"pre_tanh": pre_tanh, "loc": loc, "scale": scale}, cast=True)
    u, mu, sigma = tensors["pre_tanh"], tensors["loc"], tensors["scale"]
    check_finite_and_positive({"loc": mu}, {"scale": sigma})
    check_broadcast(pre_tanh=u.shape, loc=mu.shape, scale=sigma.shape)
    standardized = (u - mu) / sigma
    normal = -0.5 * standardized.square() - sigma.log() - 0.5 * math.log(2 * math.pi)
    return normal - tanh_log_abs_det_jacobian(u)


class SquashedDraws(NamedTuple):
    """Draws of a tanh-squashed Gaussian: the action, its pre-squash value, its log-density.

    All three have shape ``(N, *batch_shape)`` and depend differentiably on ``loc`` and
    ``scale``.
    """

    action: Tensor
    pre_tanh: Tensor
    log_prob: Tensor


def _draw(mu: Tensor, sigma: Tensor, noise: Tensor) -> SquashedDraws:
    u = mu + sigma * noise
    log_prob = (
        -0.5 * noise.square()
        - sigma.log()
        - 0.5 * math.log(2 * math.pi)
        - tanh_log_abs_det_jacobian(u)
    )
    return SquashedDraws(torch.tanh(u), u, log_prob)


def squashed_normal_rsample(
    loc: Tensor | float,
    scale: Tensor | float,
    num_samples: int,
    *,
    generator: torch.Generator | None = None,
) -> SquashedDraws:
    """Draw a = tanh(μ + σε), ε ~ N(0, 1), with its pre-squash value and log-density.

    Differentiable with respect to ``loc`` and ``scale`` (the reparameterization of soft
    actor-critic). The log-density is computed from ε and u, never from a.

    Args:
        loc, scale: μ and σ > 0, finite, broadcasting to ``batch_shape``.
        num_samples: N >= 1 draws per batch element.
        generator: the ``torch.Generator`` the noise is drawn from.

    Returns:
        :class:`SquashedDraws` of shape ``(N, *batch_shape)``, in the parameters' dtype.
    """
    tensors, shape = _parameters(loc, scale)
    n = check_num_samples(num_samples)
    mu, sigma = tensors["loc"], tensors["scale"]
    noise = standard_normal(
        (n, *shape), generator=check_generator(generator), dtype=mu.dtype, device=mu.device
    )
    return _draw(mu, sigma, noise)


def _costs(cost: Cost, action: Tensor, event_dims: int = 0) -> Tensor:
    values = cost(action)
    wanted = action.shape[: action.dim() - event_dims]
    if not isinstance(values, Tensor) or values.shape != wanted:
        got = tuple(values.shape) if isinstance(values, Tensor) else type(values).__name__
        raise ValueError(f"cost must return one cost per action, shape {tuple(wanted)}, got {got}")
    return check_finite(values, "cost")


class _Inputs(NamedTuple):
    cost: Cost
    loc: Tensor
    scale: Tensor
    temperature: Tensor
    noise: Tensor
    event_dims: int


def _estimator_inputs(
    cost: Any,
    loc: Any,
    scale: Any,
    temperature: Any,
    num_samples: Any,
    generator: Any,
    event_dims: Any,
) -> _Inputs:
    cost = check_callable(cost)
    tensors = as_tensors({"loc": loc, "scale": scale}, cast=True)
    # The temperature is a constant of the objective: it takes the parameters' dtype.
    tensors["temperature"] = as_tensor(temperature, "temperature", like=tensors["loc"]).to(
        tensors["loc"]
    )
    check_finite_and_positive(
        {"loc": tensors["loc"]}, {"scale": tensors["scale"], "temperature": tensors["temperature"]}
    )
    shape = check_broadcast(loc=tensors["loc"].shape, scale=tensors["scale"].shape)
    events = check_count(event_dims, "event_dims", 0, len(shape))
    check_broadcasts_to(
        tensors["temperature"].shape,
        "temperature",
        shape[: len(shape) - events],
        target_name="the batch shape without the event dimensions",
    )
    n = check_num_samples(num_samples)
    mu = tensors["loc"]
    noise = standard_normal(
        (n, *shape), generator=check_generator(generator), dtype=mu.dtype, device=mu.device
    )
    return _Inputs(cost, mu, tensors["scale"], tensors["temperature"], noise, events)


def _sum_events(values: Tensor, event_dims: int) -> Tensor:
    return values.sum(tuple(range(-event_dims, 0))) if event_dims else values


def _copies(parameter: Tensor, shape: torch.Size) -> Tensor:
    return parameter.detach().expand(shape).clone().requires_grad_(True)


def soft_pathwise_gradient(
    cost: Cost,
    loc: Tensor | float,
    scale: Tensor | float,
    temperature: Tensor | float,
    num_samples: int,
    *,
    event_dims: int = 0,
    generator: torch.Generator | None = None,
) -> dict[str, Tensor]:
    """Pathwise (reparameterization) estimates of ∇_θ E_{π_θ}[f(a) + τ log π_θ(a)].

    Per draw, the gradient of f(tanh(u)) + τ log π_θ(tanh(u)) with u = μ + σε and ε held
    fixed: through the action, and through log π_θ's own dependence on θ, as in the policy
    loss of soft actor-critic (Haarnoja et al., 2018); at τ = 0 it is SVG(0) of Heess et
    al. (2015) with the known cost in place of a learned critic. The direct term (the score
    at a fixed action) has mean zero: dropping it, as "sticking the landing" (Roeder et al.,
    2017) does, changes the variance, not the mean. Unbiased when f is differentiable; a
    cost whose output does not depend differentiably on the action gets a
    ``RuntimeWarning`` (its pathwise gradient would be taken as zero: use
    :func:`soft_score_function_gradient`), and a non-finite gradient an error naming
    ``cost``. Book chapter "Reparameterized policies".

    Args:
        cost: f, elementwise and differentiable (see the module's docstring).
        loc, scale: μ and σ > 0, broadcasting to ``batch_shape``.
        temperature: τ > 0 (see the module's docstring).
        num_samples: N >= 1.
        event_dims: how many trailing dimensions of the batch shape are the coordinates of
            one action (a diagonal policy over (−1, 1)^D: its log-density is the sum over
            them, and ``cost`` maps ``(N, *batch, D)`` to ``(N, *batch)``).
        generator: the source of the noise ε.

    Returns:
        ``{"loc": (N, *loc.shape), "scale": (N, *scale.shape)}`` per-sample estimates.
    """
    x = _estimator_inputs(cost, loc, scale, temperature, num_samples, generator, event_dims)
    mu_copies, sigma_copies = _copies(x.loc, x.noise.shape), _copies(x.scale, x.noise.shape)
    with torch.enable_grad():
        draws = _draw(mu_copies, sigma_copies, x.noise)
        log_prob = _sum_events(draws.log_prob, x.event_dims)
        costs = _costs(x.cost, draws.action, x.event_dims)
        if not costs.requires_grad:
            warnings.warn(
                "cost does not depend differentiably on the action (its output does not "
                "require grad): the pathwise gradient takes its slope as zero; for a cost "
                "that is not differentiable use soft_score_function_gradient",
                RuntimeWarning,
                stacklevel=2,
            )
        soft_costs = costs + x.temperature * log_prob
        grad_mu, grad_sigma = torch.autograd.grad(
            soft_costs.sum(), (mu_copies, sigma_copies), allow_unused=True
        )
    grads = {
        "loc": sum_to_shape(grad_mu, mu_copies, x.loc.shape),
        "scale": sum_to_shape(grad_sigma, sigma_copies, x.scale.shape),
    }
    if not all(bool(torch.isfinite(grad).all()) for grad in grads.values()):
        raise ValueError(
            "the gradient of cost along the action is not finite for some draws "
            "(a cost with an infinite slope where the policy puts its mass?)"
        )
    return grads


def soft_score_function_gradient(
    cost: Cost,
    loc: Tensor | float,
    scale: Tensor | float,
    temperature: Tensor | float,
    num_samples: int,
    *,
    baseline: str = "leave-one-out",
    event_dims: int = 0,
    generator: torch.Generator | None = None,
) -> dict[str, Tensor]:
    """Score-function (REINFORCE) estimates of ∇_θ E_{π_θ}[f(a) + τ log π_θ(a)].

    Per draw, (f(a) + τ log π_θ(a) − b) ∇_θ log π_θ(a), which is unbiased because
    E[∇_θ log π_θ(a)] = 0 (so the entropy term needs no gradient of its own) and b does not
    depend on the draw: with ``baseline="leave-one-out"`` b is the mean soft cost of the
    other N − 1 draws of the same policy (N >= 2); with ``"none"``, b = 0. At fixed a the
    squashing does not depend on θ, so ∇_θ log π_θ(a) is the Gaussian score of u. The cost
    need not be differentiable. Book chapter "Reparameterized policies".

    Args:
        cost: f, elementwise (see the module's docstring).
        loc, scale: μ and σ > 0, broadcasting to ``batch_shape``.
        temperature: τ > 0 (see the module's docstring).
        num_samples: N >= 1 (>= 2 with the leave-one-out baseline).
        baseline: ``"leave-one-out"`` or ``"none"``.
        event_dims: as for :func:`soft_pathwise_gradient`; each coordinate's score is
            weighted by the soft cost of the whole action, so the variance grows with D.
        generator: the source of the noise ε.

    Returns:
        ``{"loc": (N, *loc.shape), "scale": (N, *scale.shape)}`` per-sample estimates.
    """
    check_choice(baseline, "baseline", ("leave-one-out", "none"))
    if baseline == "leave-one-out":
        check_count(num_samples, "num_samples", 2, context="for baseline='leave-one-out'")
    x = _estimator_inputs(cost, loc, scale, temperature, num_samples, generator, event_dims)
    with torch.no_grad():
        draws = _draw(x.loc, x.scale, x.noise)
        log_prob = _sum_events(draws.log_prob, x.event_dims)
        soft_costs = _costs(x.cost, draws.action, x.event_dims) + x.temperature * log_prob
        if baseline == "leave-one-out":
            n = soft_costs.shape[0]
            soft_costs = soft_costs - (soft_costs.sum(0) - soft_costs) / (n - 1)
        # One soft cost per action, multiplying the score of each of its coordinates.
        weight = soft_costs.reshape(*soft_costs.shape, *(1,) * x.event_dims)
    mu_copies, sigma_copies = _copies(x.loc, x.noise.shape), _copies(x.scale, x.noise.shape)
    with torch.enable_grad():
        standardized = (draws.pre_tanh - mu_copies) / sigma_copies
        log_normal = -0.5 * standardized.square() - sigma_copies.log()
        grad_mu, grad_sigma = torch.autograd.grad(
            (weight * log_normal).sum(), (mu_copies, sigma_copies)
        )
    return {
        "loc": sum_to_shape(grad_mu, mu_copies, x.loc.shape),
        "scale": sum_to_shape(grad_sigma, sigma_copies, x.scale.shape),
    }


@lru_cache(maxsize=32)
def _standard_normal_rule(panels: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes x and weights w with E_{N(0,1)}[h(x)] ≈ Σ w h(x): composite Gauss–Legendre on
    [−12, 12] (the mass outside is below 1e-32), 20 nodes in each of ``panels`` panels."""
    nodes, weights = np.polynomial.legendre.leggauss(_LEGENDRE_NODES)
    edges = np.linspace(-_NORMAL_RANGE, _NORMAL_RANGE, panels + 1)
    half = (edges[1:] - edges[:-1]) / 2
    x = ((edges[:-1] + edges[1:]) / 2)[:, None] + half[:, None] * nodes
    w = half[:, None] * weights * np.exp(-0.5 * x**2) / math.sqrt(2 * math.pi)
    return x.ravel(), w.ravel()


def soft_objective(
    cost: Cost,
    loc: Tensor | float,
    scale: Tensor | float,
    temperature: Tensor | float,
) -> Tensor:
    """The soft cost J(θ) = E_{π_θ}[f(a) + τ log π_θ(a)] of a tanh-squashed Gaussian, exactly.

    J = E_u[f(tanh u) − τ log(1 − tanh² u)] − τ (½ log(2πσ²) + ½), u ~ N(μ, σ²), the
    expectation by composite Gauss–Legendre quadrature over u ∈ μ ± 12σ in panels at most
    ½ wide (log(1 − tanh² u) has poles π/2 off the real axis, which slow Gauss–Hermite
    down for wide policies: 200 Hermite nodes are 3e-5 off at σ = 3). Differentiable in
    ``loc`` and ``scale``: ``torch.autograd.grad`` of it is the exact gradient the
    estimators estimate: the value agrees with SciPy's adaptive quadrature to 1e-12 for
    σ from 0.05 to 10 (``tests/test_policy.py``) for a cost that is smooth on the scale of
    the panels. Book chapter "Reparameterized policies".

    Args:
        cost: f, elementwise; called once on actions of shape ``(M, *batch_shape)``, with
            M = 20 · ceil(48 · max(1, max σ)) nodes.
        loc, scale, temperature: μ, σ > 0, τ > 0, broadcasting to ``batch_shape``;
            σ <= 100 (the number of nodes grows with σ).

    Returns:
        J, of shape ``batch_shape``, in the parameters' dtype.
    """
    cost = check_callable(cost)
    tensors, shape = _parameters(loc, scale, temperature=temperature)
    mu, sigma, tau = tensors["loc"], tensors["scale"], tensors["temperature"]
    widest = float(sigma.detach().max())
    if widest > MAX_QUADRATURE_SCALE:
        raise ValueError(
            f"scale must be at most {MAX_QUADRATURE_SCALE:g} for the quadrature, got {widest:g}"
        )
    panels = math.ceil(2 * _NORMAL_RANGE * max(1.0, widest) / _PANEL_WIDTH)
    nodes, weights = (
        torch.as_tensor(t, dtype=mu.dtype, device=mu.device) for t in _standard_normal_rule(panels)
    )
    extra = (1,) * len(shape)
    u = mu + sigma * nodes.reshape(-1, *extra)
    integrand = _costs(cost, torch.tanh(u).expand(-1, *shape)) - tau * (
        tanh_log_abs_det_jacobian(u)
    )
    expectation = (weights.reshape(-1, *extra) * integrand).sum(0)
    return expectation - tau * (0.5 * torch.log(2 * math.pi * sigma.square()) + 0.5)


@lru_cache(maxsize=8)
def _legendre_rule(panels: int) -> tuple[np.ndarray, np.ndarray]:
    nodes, weights = np.polynomial.legendre.leggauss(_LEGENDRE_NODES)
    edges = np.linspace(-1.0, 1.0, panels + 1)
    half = (edges[1:] - edges[:-1]) / 2
    middle = (edges[1:] + edges[:-1]) / 2
    return (middle[:, None] + half[:, None] * nodes).ravel(), (half[:, None] * weights).ravel()


def boltzmann_log_normalizer(
    cost: Cost,
    temperature: Tensor | float,
    *,
    panels: int = DEFAULT_PANELS,
) -> Tensor:
    """log Z = log ∫_{−1}^{1} exp(−f(a)/τ) da, so that min_π J = −τ log Z.

    Composite Gauss–Legendre quadrature (``panels`` equal panels of 20 nodes), summed in log
    space (no overflow for small τ). Accurate when exp(−f/τ) is smooth on the scale of a
    panel (width 2/panels): raise ``panels`` for very small τ. Book chapter "Reparameterized
    policies": the soft-optimal (Boltzmann) policy π*(a) = exp(−f(a)/τ) / Z.

    Args:
        cost: f, elementwise; called once on actions of shape ``(20·panels, *τ.shape)``.
        temperature: τ > 0, a number or a floating-point tensor (a batch of temperatures).
        panels: 1 to 10,000.

    Returns:
        log Z, of τ's shape and dtype.
    """
    cost = check_callable(cost)
    panels = check_count(panels, "panels", 1, 10_000)
    tau = as_tensors({"temperature": temperature})["temperature"]
    check_finite_and_positive({}, {"temperature": tau})
    nodes, weights = _legendre_rule(panels)
    extra = (1,) * tau.dim()
    actions = torch.as_tensor(nodes, dtype=tau.dtype, device=tau.device)
    log_weights = torch.as_tensor(np.log(weights), dtype=tau.dtype, device=tau.device)
    actions = actions.reshape(-1, *extra).expand(-1, *tau.shape)
    exponent = log_weights.reshape(-1, *extra) - _costs(cost, actions) / tau
    return torch.logsumexp(exponent, dim=0)


def boltzmann_log_prob(
    action: Tensor,
    cost: Cost,
    temperature: Tensor | float,
    *,
    panels: int = DEFAULT_PANELS,
) -> Tensor:
    """log π*(a) = −f(a)/τ − log Z of the soft-optimal policy, at actions in (−1, 1).

    Args:
        action: a floating-point tensor of actions, broadcasting with τ; actions outside
            (−1, 1) have log-density −inf.
        cost: f, elementwise.
        temperature: τ > 0.
        panels: as for :func:`boltzmann_log_normalizer`.

    Returns:
        The broadcast shape of ``action`` and τ.
    """
    action = check_tensor(action, "action", floating=True)
    log_z = boltzmann_log_normalizer(cost, temperature, panels=panels)
    tau = as_tensors({"temperature": temperature, "action": action}, cast=True)["temperature"]
    inside = (action > -1) & (action < 1)
    # The cost is evaluated inside (−1, 1) only; NaN actions give NaN, others outside −inf.
    safe = torch.where(inside, action, torch.zeros_like(action))
    values = -_costs(cost, safe) / tau - log_z
    outside = torch.where(action.isnan(), action, torch.full_like(action, -math.inf))
    return torch.where(inside, values, outside.to(values.dtype))
