"""Surrogate losses: the gradient estimators as objectives that ``backward()`` understands.

Book chapters: "The reparameterization trick", "The score-function estimator" and "Which
estimator, when: variance". The per-sample estimators of :mod:`reparam.estimators` return
gradients with respect to the distribution's parameters, which suits the book's variance
studies. Training code needs the other form: a scalar ``loss`` such that ``loss.backward()``
puts the estimator's gradient into every tensor upstream of the parameters, such as the
weights of an encoder network that computes them (Schulman, Heess, Weber & Abbeel, 2015,
"Gradient estimation using stochastic computation graphs", call these surrogate losses;
Foerster, Farquhar, Al-Shedivat, Rocktäschel, Xing & Whiteson, 2018, DiCE, give the
score-function form whose value is the cost itself).

Every function here has the estimators' signature::

    surrogate(cost, distribution, params, num_samples, *, generator=None, **options)
        -> Tensor (0-d)

- ``distribution``: a :class:`reparam.Reparameterization` with ``params`` (name -> tensor,
  kept in the autograd graph), or a ``torch.distributions.Distribution`` with
  ``params=None`` (its parameters live in it): any distribution with ``rsample`` for the
  pathwise surrogate, any with ``log_prob`` for the score-function surrogate.
- ``cost``: draws ``(N, *batch_shape, *event_shape)`` -> per-draw costs ``(N, *S)``, ``S``
  broadcasting to ``batch_shape`` (as for the estimators). The objective is
  E[sum of the cost over its non-sample dimensions].
- The returned loss's *value* is the Monte Carlo estimate of that objective (except for
  :func:`measure_valued_surrogate`, see there); its *gradient* is the estimator's average
  over the ``N`` draws, exactly what the per-sample estimator returns, averaged.
- A cost may depend on trainable tensors besides the draws (a decoder's weights,
  f_θ(z)). The pathwise surrogate differentiates it as it differentiates everything; the
  score-function surrogate evaluates it under the caller's autograd mode at its detached
  draws and adds that direct gradient, E[∇_θ f_θ(z)], to the score term (DiCE's first
  derivative; see :func:`score_function_surrogate`). The per-sample estimators return
  gradients with respect to the distribution's parameters only, so for such costs the
  surrogates carry more than the mean of their per-sample estimates.

A ``generator`` makes the draws reproducible for ``torch.distributions`` too: their
``rsample`` has no generator argument, so torch's default generator takes the generator's
state for the draw and gets its own back afterwards (the generator advances past the draws,
torch's global random state is left as it was). A ``torch.distributions.Normal`` then makes
exactly the draws of :data:`reparam.NORMAL` with the same generator. The per-draw copies and
this state swap live in :mod:`reparam.estimators` and :mod:`reparam.distributions`, shared
with the per-sample estimators.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Literal

import torch
from torch import Tensor
from torch.distributions import Distribution

from reparam._validation import (
    as_tensor,
    check_broadcasts_to,
    check_callable,
    check_count,
    check_finite,
    check_generator,
    check_instance,
    check_num_samples,
    check_tensor,
)
from reparam.estimators import (
    Cost,
    Params,
    _gaussian,
    _per_draw_cost,
    _target,
    measure_valued_gradient,
)
from reparam.reparameterization import Reparameterization

__all__ = [
    "SurrogateBaseline",
    "measure_valued_surrogate",
    "pathwise_surrogate",
    "score_function_surrogate",
    "surrogate_from_gradients",
]

#: Baselines of :func:`score_function_surrogate`.
SurrogateBaseline = float | Tensor | Literal["leave_one_out"] | None


def _draws(
    distribution: object,
    params: object,
    num_samples: int,
    generator: torch.Generator | None,
    *,
    reparameterized: bool,
) -> tuple[Tensor, torch.Size, Callable[[Tensor], Tensor]]:
    """Draws (with or without a path to the parameters), the batch shape and log-density."""
    target = _target(distribution, params, needs="rsample" if reparameterized else "log_prob")
    if reparameterized:
        z = target.rsample(num_samples, generator)
    else:
        z = target.sample(num_samples, generator)
    return z, target.batch_shape, target.log_prob


def pathwise_surrogate(
    cost: Cost,
    distribution: Reparameterization | Distribution,
    params: Params,
    num_samples: int,
    *,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Pathwise surrogate: the average cost of reparameterized draws, (1/N) Σₙ f(g(εₙ; θ)).

    Its gradient is the pathwise estimator of Kingma & Welling (2014), eq. (5)
    differentiated (:func:`reparam.estimators.pathwise_gradient`, averaged), flowing into
    θ and everything θ was computed from. Needs a cost differentiable in z.

    Returns a 0-d tensor in the cost's dtype, on its device.
    """
    cost_fn = check_callable(cost, "cost")
    n = check_num_samples(num_samples)
    check_generator(generator)
    z, batch_shape, _ = _draws(distribution, params, n, generator, reparameterized=True)
    values = _per_draw_cost(cost_fn, z, n, batch_shape)
    if values.dim() == 1:  # one cost per draw: one node in the graph instead of two
        return values.mean()
    return values.sum() / n  # the mean over draws of each draw's total cost


def score_function_surrogate(
    cost: Cost,
    distribution: Reparameterization | Distribution,
    params: Params,
    num_samples: int,
    *,
    generator: torch.Generator | None = None,
    baseline: SurrogateBaseline = None,
) -> Tensor:
    """Score-function surrogate: value (1/N) Σₙ fₙ, gradient (1/N) Σₙ [∇fₙ + (fₙ − b) ∇ log p(zₙ)].

    The draws are detached (no path from the parameters to z), so the cost need not be
    differentiable in z, and ``log_prob`` is differentiated for the score (Williams, 1992;
    Mohamed et al., 2020, the score-function section). The cost is evaluated at the draws
    under the caller's autograd mode, so a cost that itself depends on trainable tensors,
    f_θ(z) (a decoder's weights, or log q_φ(z) in an ELBO), also gets the gradient of that
    direct dependence at the fixed draws; the total is the unbiased estimate of
    ∇ E_{p_θ}[f_θ(z)] = E[∇_θ f_θ(z)] + E[f_θ(z) ∇_θ log p_θ(z)]. The loss is

        mean(f) + mean((stop_gradient(f) − b) · (log p − stop_gradient(log p))):

    the first term carries f's value and its direct gradient; the second is zero in value
    and carries the score term, built from the *detached* cost so that f's gradient is not
    counted twice. A cost that depends on no tensor requiring gradients builds no graph, and
    the loss is exactly the plain score-function surrogate.

    Its value and first derivative are those of DiCE (Foerster et al., 2018), whose
    objective f · ⊡(log p) with the "magic box" ⊡(τ) = exp(τ − stop_gradient(τ)) has value
    f and gradient ∇f + f ∇ log p; the baseline term here has value 0 and gradient
    −b ∇ log p. Higher derivatives differ: this is the first-order
    surrogate loss of Schulman et al. (2015), with 1 + (τ − stop_gradient(τ)) in place of
    exp(τ − stop_gradient(τ)), so second derivatives of it (``create_graph=True``) are
    *not* estimates of the Hessian; DiCE's are. Entry b of the cost multiplies the
    log-density of batch element b; a cost of shape ``(N,)`` multiplies their sum.

    Baselines (b must not depend on the draw it multiplies, so the estimate stays unbiased):

    - ``None``: b = 0;
    - a number or a tensor broadcasting to the cost's shape ``S``: that constant (detached:
      it gets no gradient);
    - ``"leave_one_out"``: draw n uses the mean cost of the other N − 1 draws, which are
      independent of draw n (needs N >= 2). The per-parameter optimal baseline of
      :func:`reparam.estimators.score_function_gradient` has no single-loss form.

    Returns a 0-d tensor.
    """
    cost_fn = check_callable(cost, "cost")
    n = check_num_samples(num_samples)
    check_generator(generator)
    if isinstance(baseline, str):
        if baseline != "leave_one_out":  # not check_choice: it would list the names only
            raise ValueError(
                f"baseline must be None, a number, a tensor or 'leave_one_out', got {baseline!r}"
            )
        check_count(n, "num_samples", 2, context="for baseline='leave_one_out'")
    z, batch_shape, log_prob = _draws(distribution, params, n, generator, reparameterized=False)
    # Under the caller's grad mode: the graph to anything the cost depends on directly. z is
    # detached, so a cost free of trainable tensors builds none.
    values = _per_draw_cost(cost_fn, z, n, batch_shape)
    signal = values.detach() if values.requires_grad else values
    if baseline is None:
        centred = signal
    elif isinstance(baseline, str):
        centred = signal - (signal.sum(0, keepdim=True) - signal) / (n - 1)
    else:
        b = check_finite(as_tensor(baseline, "baseline", like=signal), "baseline")
        # not broadcasting the costs up: a baseline per batch element for a cost summed
        # over the batch would multiply the summed score once per element
        check_broadcasts_to(b.shape, "baseline", signal.shape[1:], target_name="the cost's shape")
        centred = signal - b.detach().to(device=signal.device, dtype=signal.dtype)
    # ``values`` has shape (N, *batch_shape) with 1 where the cost summed over the batch, so
    # entry b multiplies the log-density of batch element b, or their sum.
    logp = log_prob(z)
    weighted = centred * logp
    score_term = weighted - weighted.detach()
    total = values.reshape(n, -1).sum(1).mean()
    return total + score_term.reshape(n, -1).sum(1).mean()


def surrogate_from_gradients(
    params: Mapping[str, Tensor], gradients: Mapping[str, Tensor]
) -> Tensor:
    """A loss of value 0 whose gradient with respect to ``params[k]`` is ``gradients[k]``.

    ``gradients[k]`` holds per-sample estimates ``(N, *params[k].shape)`` (the form the
    estimators of :mod:`reparam.estimators` return) or one estimate of the parameter's
    shape. The loss is Σₖ ⟨ḡₖ, θₖ − stop_gradient(θₖ)⟩, ḡₖ the mean estimate, so
    ``backward()`` carries ḡₖ into whatever θₖ was computed from (the chain rule does the
    rest). Any estimator becomes a surrogate this way.
    """
    check_instance(params, "params", Mapping, "a mapping name -> tensor")
    check_instance(gradients, "gradients", Mapping, "a mapping name -> tensor")
    if set(gradients) - set(params):
        unknown = ", ".join(sorted(set(gradients) - set(params)))
        raise ValueError(f"gradients names parameters that params lacks: {unknown}")
    terms = []
    for name, grad in gradients.items():
        theta = check_tensor(params[name], f"params[{name!r}]")
        check_tensor(grad, f"gradients[{name!r}]")
        mean = grad.detach().mean(0) if grad.shape != theta.shape else grad.detach()
        if mean.shape != theta.shape:
            raise ValueError(
                f"gradients[{name!r}] must have shape (N, *{tuple(theta.shape)}) or "
                f"{tuple(theta.shape)}, got {tuple(grad.shape)}"
            )
        terms.append((mean * (theta - theta.detach())).sum())
    if not terms:
        raise ValueError("gradients must name at least one parameter")
    return torch.stack(terms).sum()


def measure_valued_surrogate(
    cost: Cost,
    distribution: Reparameterization | Distribution,
    params: Params,
    num_samples: int,
    *,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Measure-valued surrogate for the Gaussian (value 0; gradient: the coupled estimator).

    Evaluates :func:`reparam.estimators.measure_valued_gradient` and turns its estimates
    into a loss with :func:`surrogate_from_gradients`: the value is 0, the gradient with
    respect to ``loc`` and ``scale`` (and everything upstream of them) is the estimator's.
    ``distribution`` is :data:`reparam.NORMAL` with ``params`` ``loc`` and ``scale``, or a
    ``torch.distributions.Normal`` with ``params=None``.
    """
    gaussian, given = _gaussian(distribution, params)
    checked = gaussian.validate(given)
    grads = measure_valued_gradient(cost, gaussian, checked, num_samples, generator=generator)
    return surrogate_from_gradients(checked, grads)
