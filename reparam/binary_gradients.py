"""Unbiased gradients for binary variables: ARM, DisARM, REBAR and RELAX.

Book chapter: "Unbiased gradients for discrete variables" (``chapter-unbiased-discrete``).
A Bernoulli draw has no differentiable sampling path (chapter "Discrete variables"): the
score function is unbiased but noisy, the Concrete relaxation and straight-through are
biased. The estimators here are unbiased for ∇_θ E[f(b)], b_i ~ Bernoulli(σ(θ_i))
independently, whatever ``f``:

- :func:`reinforce_loo_gradient`: the score function on two independent draws, each using
  the other's cost as its baseline (two evaluations of ``f`` per estimate);
- :func:`arm_gradient`: Augment-REINFORCE-Merge (Yin & Zhou, ICLR 2019), two
  antithetic evaluations per estimate;
- :func:`disarm_gradient`: DisARM (Dong, Mnih & Tucker, NeurIPS 2020), ARM with its
  augmenting noise integrated out given the antithetic pair;
- :func:`relax_gradient`: RELAX (Grathwohl et al., ICLR 2018), a
  control variate ``c(z)`` evaluated at the relaxed noise z and at a draw z̃ from
  p(z | b) (:func:`conditional_noise`); :func:`rebar_gradient` (Tucker et al., NIPS 2017)
  is RELAX with c(z) = β f(σ(z / τ)).

Every estimator has the signature::

    estimator(cost, logits, num_samples, *, generator=None, **options)
        -> dict[str, Tensor]

- ``cost``: maps draws ``b`` of shape ``(M, *shape)``, entries 0.0 or 1.0 in ``logits``'s
  dtype, to per-draw costs of shape ``(M,)``; row ``m`` of the output may depend on row
  ``m`` of ``b`` only (``M`` is ``num_samples`` or twice it). REBAR also calls it on
  relaxed draws in (0, 1).
- ``logits``: the floating-point tensor θ, any shape: P(b_i = 1) = σ(θ_i).
- ``num_samples``: the number ``N >= 1`` of independent estimates.
- ``generator``: the ``torch.Generator`` all noise is drawn from.

The result maps ``"logits"`` to ``N`` independent per-sample estimates, shape
``(N, *logits.shape)``, in ``logits``'s dtype and on its device; their mean is the estimate
and :func:`reparam.summarize` gives its standard error.
:func:`exact_gradient_by_enumeration` is the exact value for small ``logits``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor
from torch.nn import functional

from reparam._validation import (
    check_callable,
    check_count,
    check_finite,
    check_generator,
    check_num_samples,
    check_real,
    check_tensor,
)
from reparam.noise import open_uniform

__all__ = [
    "MAX_ENUMERATED",
    "arm_estimate",
    "arm_gradient",
    "conditional_noise",
    "disarm_estimate",
    "disarm_gradient",
    "exact_gradient_by_enumeration",
    "rebar_control",
    "rebar_gradient",
    "reinforce_loo_estimate",
    "reinforce_loo_gradient",
    "relax_estimate",
    "relax_gradient",
]

#: Largest number of binary variables :func:`exact_gradient_by_enumeration` sums over
#: (2**16 configurations).
MAX_ENUMERATED = 16

Cost = Callable[[Tensor], Tensor]


def _check_logits(logits: Any) -> Tensor:
    logits = check_tensor(logits, "logits", floating=True)
    return check_finite(logits, "logits").detach()


def _costs(cost: Cost, draws: Tensor) -> Tensor:
    """``cost(draws)``, checked to be one finite real number per draw."""
    values = cost(draws)
    if not isinstance(values, Tensor) or values.shape != draws.shape[:1]:
        shape = tuple(values.shape) if isinstance(values, Tensor) else type(values).__name__
        raise ValueError(
            f"cost must return one value per draw, shape ({draws.shape[0]},), got {shape}"
        )
    return check_finite(values, "cost")


def _draw(
    logits: Any, num_samples: Any, generator: Any, count: int = 1
) -> tuple[Tensor, list[Tensor]]:
    """Checked logits, and ``count`` tensors of N uniforms on the open (0, 1), each of shape
    ``(N, *logits.shape)``, in the logits' dtype and on their device."""
    logits = _check_logits(logits)
    num_samples = check_num_samples(num_samples)
    check_generator(generator)
    shape = (num_samples, *logits.shape)
    return logits, [
        open_uniform(shape, generator=generator, dtype=logits.dtype).to(logits.device)
        for _ in range(count)
    ]


def _check_noise(noise: Any, name: str, logits: Tensor) -> Tensor:
    """``noise`` checked to be uniforms in the open (0, 1) of shape ``(N, *logits.shape)``."""
    noise = check_tensor(noise, name, floating=True)
    if noise.dim() != logits.dim() + 1 or noise.shape[1:] != logits.shape:
        raise ValueError(
            f"{name} must have shape (N, *logits.shape) = (N, {', '.join(map(str, logits.shape))})"
            f", got {tuple(noise.shape)}"
        )
    if not bool(((noise > 0) & (noise < 1)).all()):
        raise ValueError(f"{name} must lie in the open interval (0, 1)")
    return noise.to(logits.dtype)


def _per_draw(values: Tensor, like: Tensor) -> Tensor:
    """Per-draw values of shape (N,) viewed to broadcast against ``like`` (N, *shape)."""
    return values.reshape(values.shape + (1,) * (like.dim() - 1))


def reinforce_loo_gradient(
    cost: Cost, logits: Tensor, num_samples: int, *, generator: torch.Generator | None = None
) -> dict[str, Tensor]:
    """Score function on two independent draws, each with the other's cost as baseline.

    Per estimate: ½ Σ_{j=1,2} (f(b_j) − f(b_{3−j})) (b_j − σ(θ)), since
    ∂/∂θ log p(b) = b − σ(θ) for logits θ. Unbiased because each baseline is independent of
    the draw it multiplies. Two evaluations of ``cost`` per estimate, as ARM and DisARM.

    Returns ``{"logits": (num_samples, *logits.shape)}``; see the module docstring.
    """
    cost = check_callable(cost)
    logits, (u, other) = _draw(logits, num_samples, generator, count=2)
    return {"logits": reinforce_loo_estimate(cost, logits, u, other)}


def reinforce_loo_estimate(cost: Cost, logits: Tensor, u: Tensor, other: Tensor) -> Tensor:
    """:func:`reinforce_loo_gradient` at given noise: draws b = 1[u < σ(θ)], b' = 1[u' < σ(θ)].

    Args:
        u, other: independent uniforms on the open (0, 1), shape ``(N, *logits.shape)``.

    Returns:
        The N estimates, shape ``(N, *logits.shape)``.
    """
    cost = check_callable(cost)
    logits = _check_logits(logits)
    u, other = _check_noise(u, "u", logits), _check_noise(other, "other", logits)
    n = u.shape[0]
    probs = torch.sigmoid(logits)
    draws = (torch.cat([u, other]) < probs).to(logits.dtype)
    values = _costs(cost, draws)
    first, second = draws[:n], draws[n:]
    return 0.5 * _per_draw(values[:n] - values[n:], first) * (first - second)


def arm_gradient(
    cost: Cost, logits: Tensor, num_samples: int, *, generator: torch.Generator | None = None
) -> dict[str, Tensor]:
    """The ARM estimator (Yin & Zhou, 2019) of ∇_θ E[f(b)].

    With u ~ U(0, 1)^D: (f(1[u > σ(−θ)]) − f(1[u < σ(θ)])) (u − ½). The two draws are
    antithetic (they share u), and each is exactly Bernoulli(σ(θ)).

    Returns ``{"logits": (num_samples, *logits.shape)}``; see the module docstring.
    """
    cost = check_callable(cost)
    logits, (u,) = _draw(logits, num_samples, generator)
    return {"logits": arm_estimate(cost, logits, u)}


def arm_estimate(cost: Cost, logits: Tensor, u: Tensor) -> Tensor:
    """:func:`arm_gradient` at given uniforms ``u`` of shape ``(N, *logits.shape)``."""
    cost = check_callable(cost)
    logits = _check_logits(logits)
    u = _check_noise(u, "u", logits)
    n = u.shape[0]
    plus = (u > torch.sigmoid(-logits)).to(logits.dtype)
    minus = (u < torch.sigmoid(logits)).to(logits.dtype)
    values = _costs(cost, torch.cat([plus, minus]))
    return _per_draw(values[:n] - values[n:], u) * (u - 0.5)


def disarm_gradient(
    cost: Cost, logits: Tensor, num_samples: int, *, generator: torch.Generator | None = None
) -> dict[str, Tensor]:
    """The DisARM estimator (Dong, Mnih & Tucker, 2020) of ∇_θ E[f(b)].

    With the antithetic pair b = 1[u < σ(θ)], b̃ = 1[1 − u < σ(θ)], coordinate i gets
    ½ (f(b) − f(b̃)) (−1)^{b̃_i} 1[b_i ≠ b̃_i] σ(abs(θ_i)): ARM's estimate averaged over u given
    the pair, so never noisier than ARM, at the same cost. A coordinate whose two draws agree
    gets exactly zero.

    Returns ``{"logits": (num_samples, *logits.shape)}``; see the module docstring.
    """
    cost = check_callable(cost)
    logits, (u,) = _draw(logits, num_samples, generator)
    return {"logits": disarm_estimate(cost, logits, u)}


def disarm_estimate(cost: Cost, logits: Tensor, u: Tensor) -> Tensor:
    """:func:`disarm_gradient` at uniforms ``u`` of shape ``(N, *logits.shape)``.

    Returns the N estimates, of that shape.
    """
    cost = check_callable(cost)
    logits = _check_logits(logits)
    u = _check_noise(u, "u", logits)
    n = u.shape[0]
    probs = torch.sigmoid(logits)
    first = (u < probs).to(logits.dtype)
    second = (1 - u < probs).to(logits.dtype)
    values = _costs(cost, torch.cat([first, second]))
    sign = 1 - 2 * second  # (-1) ** b̃
    weight = sign * (first != second).to(logits.dtype) * torch.sigmoid(logits.abs())
    return 0.5 * _per_draw(values[:n] - values[n:], u) * weight


def conditional_noise(
    logits: Tensor,
    u: Tensor,
    v: Tensor,
) -> tuple[Tensor, Tensor, Tensor]:
    """The relaxed noise z, the draw b = H(z) and a draw z̃ ~ p(z | b).

    z = θ + log(1 − u) − log u is logistic with location θ, and
    b = 1[z > 0] = 1[u < σ(θ)] is the book's Bernoulli path. Given b, u is
    uniform on (0, σ(θ)) (b = 1) or on (σ(θ), 1) (b = 0); z̃ puts
    u' = v σ(θ), resp. σ(θ) + v (1 − σ(θ)), in place of u, so it is
    differentiable in θ with b held fixed (the conditional draw of Tucker et
    al., 2017, and Grathwohl et al., 2018). Computed from log-sigmoids, so finite
    for every finite θ.

    Args:
        logits: θ, shape ``(*shape)`` or broadcastable to ``u``'s shape.
        u, v: independent uniforms on the open interval (0, 1), shape
            ``(N, *shape)``.

    Returns:
        ``(z, b, z_tilde)``, each of ``u``'s shape; ``b`` holds 0.0 and 1.0.
    """
    for name, value in (("u", u), ("v", v)):
        check_tensor(value, name, floating=True)
        if not bool(((value > 0) & (value < 1)).all()):
            raise ValueError(f"{name} must lie in the open interval (0, 1)")
    log_p, log_q = functional.logsigmoid(logits), functional.logsigmoid(-logits)
    z = logits + torch.log1p(-u) - torch.log(u)
    b = (z > 0).to(z.dtype)
    probs = torch.sigmoid(logits)
    # b = 1: u' = v p,           1 - u' = 1 - v p.
    # b = 0: u' = p + v (1 - p), 1 - u' = (1 - v)(1 - p).
    upper = logits + torch.log1p(-v * probs) - torch.log(v) - log_p
    lower = logits + torch.log1p(-v) + log_q - torch.log(probs + v * (1 - probs))
    return z, b, torch.where(b > 0, upper, lower)


def relax_gradient(
    cost: Cost,
    logits: Tensor,
    num_samples: int,
    *,
    control: Callable[[Tensor], Tensor],
    generator: torch.Generator | None = None,
    create_graph: bool = False,
) -> dict[str, Tensor]:
    """The RELAX estimator (Grathwohl et al., 2018) of ∇_θ E[f(b)].

    (f(b) − c(z̃)) ∂_θ log p(b) + ∂_θ c(z) − ∂_θ c(z̃), with z, b, z̃ from
    :func:`conditional_noise` and ∂_θ log p(b) = b − σ(θ). Unbiased for every
    differentiable ``control``: E[∂_θ c(z)] is the pathwise gradient of E[c(z)], and the
    other two terms together are its score-function form, so they cancel in expectation.

    Args:
        control: c, mapping relaxed noise of shape ``(N, *shape)`` to ``(N,)``.
        create_graph: keep the estimates differentiable in the parameters of ``control``
            (for instance, to minimise their mean square, as RELAX does); else detached.

    Returns ``{"logits": (num_samples, *logits.shape)}``; see the module docstring.
    """
    control = check_callable(control, "control")
    cost = check_callable(cost)
    logits, (u, v) = _draw(logits, num_samples, generator, count=2)
    estimates = relax_estimate(cost, logits, u, v, control=control, create_graph=create_graph)
    return {"logits": estimates}


def relax_estimate(
    cost: Cost,
    logits: Tensor,
    u: Tensor,
    v: Tensor,
    *,
    control: Callable[[Tensor], Tensor],
    create_graph: bool = False,
) -> Tensor:
    """:func:`relax_gradient` at given uniforms ``u`` (the draw) and ``v`` (the
    conditional draw), each of shape ``(N, *logits.shape)``.

    Returns the N estimates, of that shape.
    """
    control = check_callable(control, "control")
    cost = check_callable(cost)
    logits = _check_logits(logits)
    u, v = _check_noise(u, "u", logits), _check_noise(v, "v", logits)
    n = u.shape[0]
    with torch.enable_grad():
        # N copies of θ, one per estimate: the gradient with respect to copy
        # n is that of estimate n alone (its terms depend on row n only).
        copies = logits.expand(u.shape).clone().requires_grad_(True)
        z, b, z_tilde = conditional_noise(copies, u, v)
        at_z, at_z_tilde = _controls(control, z, n), _controls(control, z_tilde, n)
        difference = (at_z - at_z_tilde).sum()
        pathwise = torch.zeros_like(copies)
        if difference.requires_grad:
            (grad,) = torch.autograd.grad(
                difference, copies, create_graph=create_graph, allow_unused=True
            )
            pathwise = pathwise if grad is None else grad
    b = b.detach()
    coefficient = _costs(cost, b) - at_z_tilde
    estimate = _per_draw(coefficient, b) * (b - torch.sigmoid(logits)) + pathwise
    return estimate if create_graph else estimate.detach()


def _controls(control: Callable[[Tensor], Tensor], z: Tensor, n: int) -> Tensor:
    values = control(z)
    if not isinstance(values, Tensor) or values.shape != (n,):
        shape = tuple(values.shape) if isinstance(values, Tensor) else type(values).__name__
        raise ValueError(f"control must return one value per draw, shape ({n},), got {shape}")
    return values


def rebar_gradient(
    cost: Cost,
    logits: Tensor,
    num_samples: int,
    *,
    temperature: float | Tensor = 0.5,
    scale: float | Tensor = 1.0,
    generator: torch.Generator | None = None,
    create_graph: bool = False,
) -> dict[str, Tensor]:
    """The REBAR estimator (Tucker et al., 2017): RELAX with c(z) = β f(σ(z / τ)).

    The control is the cost at the Concrete relaxation of the draw (book chapter "Discrete
    variables"), scaled by β (the paper's η; the book keeps η for the gradient). REBAR tunes
    β and τ to minimise the variance, which ``create_graph=True`` allows when they are
    tensors that require gradients. Needs a ``cost`` defined on (0, 1) as well as on {0, 1}.

    Args:
        temperature: τ > 0, a number or a one-element tensor.
        scale: β, a number or a one-element tensor (any real value keeps it unbiased).

    Returns ``{"logits": (num_samples, *logits.shape)}``; see the module docstring.
    """
    control = rebar_control(cost, temperature=temperature, scale=scale)
    return relax_gradient(
        cost, logits, num_samples, control=control, generator=generator,
        create_graph=create_graph,
    )  # fmt: skip


def rebar_control(
    cost: Cost, *, temperature: float | Tensor = 0.5, scale: float | Tensor = 1.0
) -> Callable[[Tensor], Tensor]:
    """REBAR's control variate c(z) = β f(σ(z / τ)), for :func:`relax_estimate`.

    Args:
        cost: f, defined on (0, 1) as well as on {0, 1}.
        temperature: τ > 0, a number or a one-element tensor.
        scale: β, a number or a one-element tensor.
    """
    cost = check_callable(cost)
    tau = _scalar(temperature, "temperature", positive=True)
    beta = _scalar(scale, "scale", positive=False)

    def control(z: Tensor) -> Tensor:
        return beta.to(z) * _costs(cost, torch.sigmoid(z / tau.to(z)))

    return control


def _scalar(value: Any, name: str, *, positive: bool) -> Tensor:
    """A number, or a one-element floating tensor (kept, so it may carry gradients)."""
    if isinstance(value, Tensor):
        check_tensor(value, name, floating=True)
        if value.numel() != 1:
            raise ValueError(f"{name} must be a number or a one-element tensor")
        check_real(value, name, positive=positive, allow_tensor=True)
        return value.reshape(())
    return torch.tensor(check_real(value, name, positive=positive), dtype=torch.float64)


def exact_gradient_by_enumeration(cost: Cost, logits: Tensor) -> tuple[Tensor, Tensor]:
    """E[f(b)] and its exact gradient in θ, by summing over all 2**D configurations.

    The oracle for the estimators of this module: Σ_b f(b) Π_i p_i^{b_i} (1 − p_i)^{1 − b_i},
    differentiated by autograd. ``logits`` may have any shape with D ≤ :data:`MAX_ENUMERATED`
    entries; ``cost`` is called once, on all configurations (shape ``(2**D, *shape)``).

    Returns:
        ``(expectation, gradient)``: a 0-d tensor and a tensor of ``logits``'s shape.
    """
    cost = check_callable(cost)
    logits = _check_logits(logits)
    check_count(logits.numel(), "logits.numel()", 1, maximum=MAX_ENUMERATED)
    rows = list(itertools.product((0.0, 1.0), repeat=logits.numel()))
    draws = torch.tensor(rows, dtype=logits.dtype, device=logits.device)
    draws = draws.reshape((len(rows), *logits.shape))
    values = _costs(cost, draws)
    with torch.enable_grad():
        phi = logits.clone().requires_grad_(True)
        log_p = draws * functional.logsigmoid(phi) + (1 - draws) * functional.logsigmoid(-phi)
        weights = log_p.reshape(len(rows), -1).sum(-1).exp()
        expectation = (weights * values.detach()).sum()
        (gradient,) = torch.autograd.grad(expectation, phi)
    return expectation.detach(), gradient
