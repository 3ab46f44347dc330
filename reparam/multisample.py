"""Evidence bounds and their lower-variance gradients: STL, DReG and VIMCO.

Book chapter "Lower-variance pathwise gradients". For a model p_θ(x, z) and a variational
distribution q_φ(z) with a sampling path z = g(ε; φ), each importance weight
w = p_θ(x, z) / q_φ(z) gives the bounds

- ELBO (Kingma & Welling, 2014, eq. (3)): L₁ = E[log w] ≤ log p_θ(x);
- IWAE (Burda, Grosse & Salakhutdinov, ICLR 2016, eq. (8)):
  L_N = E[log (1/N) Σₙ wₙ], N independent draws; L₁ ≤ L_N ≤ L_{N+1} ≤ log p_θ(x).
  (Burda et al. write k for N, Rainforth et al. and Tucker et al. K.)

The functions here share the signature of :mod:`reparam.surrogate`::

    surrogate(log_joint, distribution, params, num_samples, *, gradient, latent_dims,
              generator) -> Tensor (0-d)

and return a tensor whose *value* is the Monte Carlo estimate of the bound (to maximise:
call ``backward()`` on its negative) and whose *gradient* is one of these estimators:

- ``"standard"``: the reparameterized gradient of the estimate, everything differentiated
  (Kingma & Welling's estimator for the ELBO; Burda et al.'s for IWAE);
- ``"stl"``, "sticking the landing" (Roeder, Wu & Duvenaud, NIPS 2017, eq. (8)): the φ-gradient
  keeps only the path through z; the score term ∇_φ log q_φ(z), whose expectation is zero, is
  dropped. When q_φ is the exact posterior, log w = log p(x) for every z, so the ELBO's STL
  gradient is exactly zero for every draw. For IWAE it is biased (Tucker et al., 2019, §3).
- ``"dreg"``, the doubly reparameterized gradient of IWAE (Tucker, Lawson, Gu & Maddison,
  ICLR 2019, eq. (5)): the φ-gradient Σₙ w̃ₙ² ∂log wₙ/∂zₙ · ∂zₙ/∂φ with the normalised weights
  w̃ₙ = wₙ / Σⱼ wⱼ, unbiased for ∇_φ L_N.

- ``"score"`` and ``"vimco"`` (IWAE only): score-function gradients that need no path, for
  discrete latents; VIMCO (Mnih & Rezende, ICML 2016) gives each draw a leave-one-out
  baseline (book chapter "Smarter sampling").

With every estimator the θ-gradient (parameters that ``log_joint`` uses) is the standard one,
Σₙ w̃ₙ ∇_θ log p_θ(x, zₙ).

Shapes: the draws are ``(N, *batch_shape, *event_shape)``. The last ``latent_dims`` batch
dimensions are the coordinates of one latent vector z (a diagonal Gaussian over D
coordinates: batch shape ``(..., D)``, ``latent_dims=1``): log q sums over them. The other
batch dimensions, ``outer``, index independent bounds (data points, replicates).
``log_joint`` maps the draws to log p_θ(x, z), shape ``(N, *S)`` with ``S`` broadcasting to
``outer``; the returned value is the sum over ``outer`` of the bounds' estimates.

Implementation: STL and DReG evaluate log w at a detached copy of the draws, take
∂log wₙ/∂zₙ from it with :func:`torch.autograd.grad` (so q's parameters need no detaching,
and any distribution with ``rsample`` and ``log_prob`` works), and attach
stop(coefficient · ∂log w/∂z) · z to the draws' path: its gradient flows into φ and to
everything upstream of it (an encoder's weights), its value adds zero.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import torch
from torch import Tensor
from torch.distributions import Distribution

from reparam._validation import (
    check_callable,
    check_count,
    check_generator,
    check_num_samples,
    check_tensor,
)
from reparam.estimators import Params, _target
from reparam.reparameterization import Reparameterization

__all__ = ["Gradient", "elbo_surrogate", "iwae_bound", "iwae_surrogate"]

#: The estimators of the φ-gradient (see the module's documentation).
Gradient = Literal["standard", "stl", "dreg", "score", "vimco"]

LogJoint = Callable[[Tensor], Tensor]


def iwae_bound(log_weights: Tensor, dim: int = 0) -> Tensor:
    """The IWAE estimate log (1/N) Σₙ exp(log wₙ) along ``dim`` (Burda et al., 2016, eq. (8)).

    Computed as ``logsumexp − log N``, so weights far outside the floating-point range are
    fine. With N = 1 it is log w itself, the ELBO's single-draw estimate.

    Args:
        log_weights: log importance weights, N ≥ 1 of them along ``dim``, floating point.
        dim: the dimension of the N draws.

    Returns:
        ``log_weights`` reduced along ``dim``, in its dtype and on its device.
    """
    log_weights = check_tensor(log_weights, "log_weights")
    if not log_weights.is_floating_point():
        raise TypeError(f"log_weights must be floating point, got {log_weights.dtype}")
    if log_weights.dim() == 0:
        raise ValueError("log_weights must have at least one dimension (the N draws), got 0-d")
    if not -log_weights.dim() <= dim < log_weights.dim():
        raise ValueError(
            f"dim must index a dimension of log_weights (shape "
            f"{tuple(log_weights.shape)}), got {dim}"
        )
    num = log_weights.shape[dim]
    if num == 0:
        raise ValueError("log_weights must hold at least one draw along dim, got 0")
    if torch.isnan(log_weights).any():
        raise ValueError("log_weights must not contain NaN")
    return torch.logsumexp(log_weights, dim=dim) - math.log(num)


def _check_gradient(gradient: object, allowed: tuple[str, ...]) -> str:
    if gradient not in allowed:
        raise ValueError(
            f"gradient must be one of {', '.join(map(repr, allowed))}, got {gradient!r}"
        )
    return str(gradient)


def _log_weights(
    log_joint: LogJoint,
    distribution: Reparameterization | Distribution,
    params: Params,
    num_samples: int,
    latent_dims: int,
    generator: torch.Generator | None,
    mode: Literal["path", "detached", "score"],
) -> tuple[Tensor, Tensor, Tensor | None]:
    """(log w (N, *outer), the draws z, a third tensor or None).

    ``"path"`` (the standard estimator): reparameterized draws, log w at the draws themselves,
    all differentiated. ``"detached"`` (STL, DReG): reparameterized draws, log w at a detached
    copy with log q's value only (no φ-gradient), and the gradient of log w with respect to
    the copy (the third tensor). ``"score"`` (score function, VIMCO): draws without a path
    (``sample``), log w with log q differentiated in φ at the fixed draws, and log q
    (N, *outer) as the third tensor.
    """
    target = _target(distribution, params, needs="log_prob" if mode == "score" else "rsample")
    batch_ndim = len(target.batch_shape)
    if latent_dims > batch_ndim:
        raise ValueError(
            f"latent_dims must not exceed the distribution's batch dimensions ({batch_ndim}), "
            f"got {latent_dims}"
        )
    if mode == "score":
        z = target.sample(num_samples, generator)
        at = z
    else:
        z = target.rsample(num_samples, generator)
        at = z if mode == "path" else z.detach().requires_grad_(True)
    log_q = target.log_prob(at)
    if latent_dims:
        log_q = log_q.sum(dim=tuple(range(-latent_dims, 0)))
    log_p = log_joint(at)
    if not isinstance(log_p, Tensor):
        raise TypeError(f"log_joint must return a Tensor, got {type(log_p).__name__}")
    outer = log_q.shape
    if log_p.dim() < 1 or log_p.shape[0] != num_samples:
        raise ValueError(
            f"log_joint must return one value per draw, shape ({num_samples}, ...) broadcasting "
            f"to {tuple(outer)}, got {tuple(log_p.shape)}"
        )
    try:
        shape = torch.broadcast_shapes(log_p.shape, outer)
    except RuntimeError:
        shape = None
    if shape != outer:
        raise ValueError(
            f"log_joint must return shape ({num_samples}, *S) with S broadcasting to the outer "
            f"batch shape {tuple(outer[1:])}, got {tuple(log_p.shape)}"
        )
    if mode == "score":
        return log_p - log_q, z, log_q
    if mode == "path":
        return log_p - log_q, z, None
    log_w = log_p - log_q
    (grad_z,) = torch.autograd.grad(log_w.sum(), at, retain_graph=True)
    return log_p - log_q.detach(), z, grad_z


def _attach_path(
    value: Tensor,
    z: Tensor,
    coefficient: Tensor,
    grad_z: Tensor,
) -> Tensor:
    """``value`` plus a zero whose gradient is Σ coefficient · ∂log w/∂z · ∂z/∂φ."""
    # coefficient is (N, *outer); grad_z and z are (N, *outer, *latent, *event)
    extra = z.dim() - coefficient.dim()
    weights = coefficient.detach().reshape(*coefficient.shape, *([1] * extra))
    direction = (weights * grad_z).detach()
    term = (direction * z).sum()
    return value + (term - term.detach())


def _prepare(
    log_joint: object, num_samples: object, latent_dims: object, generator: object
) -> tuple[LogJoint, int, int]:
    fn = check_callable(log_joint, "log_joint")
    n = check_num_samples(num_samples)
    dims = check_count(latent_dims, "latent_dims", 0)
    check_generator(generator)
    return fn, n, dims


def elbo_surrogate(
    log_joint: LogJoint,
    distribution: Reparameterization | Distribution,
    params: Params,
    num_samples: int,
    *,
    gradient: Literal["standard", "stl"] = "standard",
    latent_dims: int = 0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """The ELBO's Monte Carlo estimate (1/N) Σₙ log wₙ, with the chosen φ-gradient.

    Args:
        log_joint: draws ``(N, *batch_shape, *event_shape)`` -> log p_θ(x, z), ``(N, *S)``.
        distribution: q, a :class:`reparam.Reparameterization` with ``params``, or a
            ``torch.distributions.Distribution`` with ``rsample`` and ``params=None``.
        params: q's parameters (name -> tensor), or ``None`` for a torch distribution.
        num_samples: N ≥ 1 draws.
        gradient: ``"standard"`` (everything differentiated) or ``"stl"`` (Roeder et al.,
            2017: the path term only; zero variance when q is the exact posterior).
        latent_dims: trailing batch dimensions of q that make one latent vector.
        generator: source of the draws.

    Returns:
        The estimate, summed over the outer batch dimensions (0-d).
    """
    fn, n, dims = _prepare(log_joint, num_samples, latent_dims, generator)
    mode = _check_gradient(gradient, ("standard", "stl"))
    log_w, z, grad_z = _log_weights(
        fn, distribution, params, n, dims, generator, "path" if mode == "standard" else "detached"
    )
    value = log_w.mean(dim=0).sum()
    if grad_z is None:
        return value
    return _attach_path(value, z, torch.full_like(log_w, 1.0 / n), grad_z)


def _leave_one_out_bounds(log_w: Tensor) -> Tensor:
    """VIMCO's baselines: L̂ with wⱼ replaced by the others' geometric mean.

    ``log_w`` is ``(N, *outer)``, N ≥ 2. Entry j of the result is
    log (1/N) [Σ_{i≠j} wᵢ + exp((1/(N−1)) Σ_{i≠j} log wᵢ)],
    which does not depend on draw j. Computed in log space on an
    (N, N, *outer) array: O(N²) memory, as in the paper.
    """
    n = log_w.shape[0]
    # the mean of the other N - 1 log-weights: the log of their geometric mean
    others = (log_w.sum(dim=0, keepdim=True) - log_w) / (n - 1)
    eye = torch.eye(n, dtype=torch.bool, device=log_w.device)
    eye = eye.reshape(n, n, *([1] * (log_w.dim() - 1)))
    # row j: the log-weights with entry j swapped for that geometric mean
    swapped = torch.where(eye, others.unsqueeze(1), log_w.unsqueeze(0))
    return torch.logsumexp(swapped, dim=1) - math.log(n)


def iwae_surrogate(
    log_joint: LogJoint,
    distribution: Reparameterization | Distribution,
    params: Params,
    num_samples: int,
    *,
    gradient: Gradient = "standard",
    latent_dims: int = 0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """The IWAE estimate L̂ = log (1/N) Σₙ wₙ of L_N, with the chosen φ-gradient.

    The pathwise estimators (``"standard"``, ``"stl"``, ``"dreg"``) need q
    with ``rsample``. The score-function ones need only ``sample`` and
    ``log_prob`` (discrete latents too): at draws with no path to φ, their
    φ-gradient is Σⱼ cⱼ ∇_φ log q(zⱼ) + Σⱼ w̃ⱼ ∇_φ log wⱼ (Mnih & Rezende,
    ICML 2016), with the learning signal

    - ``"score"``: cⱼ = L̂, the same for every draw;
    - ``"vimco"`` (Mnih & Rezende, 2016): cⱼ = L̂ − L̂₋ⱼ, where L̂₋ⱼ replaces
      wⱼ in L̂ by the geometric mean of the other N − 1 weights. L̂₋ⱼ does
      not depend on draw j, so it is a baseline: the estimate stays
      unbiased, and the signal common to all draws, whose variance grows
      with N, is gone. Needs N ≥ 2.

    Book chapters "Lower-variance pathwise gradients" and "Smarter sampling".

    Args:
        log_joint: draws ``(N, *batch_shape, *event_shape)`` -> log p_θ(x, z),
            shape ``(N, *S)``.
        distribution: q, as for :func:`elbo_surrogate` (``rsample`` needed
            only by the pathwise estimators).
        params: q's parameters, or ``None`` for a torch distribution.
        num_samples: N ≥ 1 importance samples per bound (N ≥ 2 for VIMCO).
        gradient: ``"standard"``, ``"stl"`` (Roeder et al., 2017; biased for
            N > 1), ``"dreg"`` (Tucker et al., 2019, eq. (5); unbiased),
            ``"score"`` or ``"vimco"`` (Mnih & Rezende, 2016; unbiased).
        latent_dims: trailing batch dimensions of q that make one latent
            vector.
        generator: source of the draws.

    Returns:
        The estimate, summed over the outer batch dimensions (0-d).
    """
    fn, n, dims = _prepare(log_joint, num_samples, latent_dims, generator)
    allowed = ("standard", "stl", "dreg", "score", "vimco")
    mode = _check_gradient(gradient, allowed)
    if mode == "vimco":
        check_count(n, "num_samples", 2, context="for gradient='vimco'")
    kind: Literal["path", "detached", "score"] = "detached"
    if mode == "standard":
        kind = "path"
    elif mode in ("score", "vimco"):
        kind = "score"
    q, gen = distribution, generator
    log_w, z, extra = _log_weights(fn, q, params, n, dims, gen, kind)
    value = iwae_bound(log_w, dim=0).sum()
    if kind == "score" and extra is not None:
        # value's gradient at the fixed draws is Σ w̃ⱼ ∇ log wⱼ;
        # add the score term Σ cⱼ ∇_φ log q(zⱼ), extra being log q
        detached = log_w.detach()
        signal = iwae_bound(detached, dim=0).unsqueeze(0).expand_as(detached)
        if mode == "vimco":
            signal = signal - _leave_one_out_bounds(detached)
        score = signal * (extra - extra.detach())
        return value + score.sum()
    if extra is None:
        return value
    normalized = torch.softmax(log_w.detach(), dim=0)
    coefficient = normalized if mode == "stl" else normalized**2
    return _attach_path(value, z, coefficient, extra)
