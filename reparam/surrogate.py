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

from reparam._validation import as_tensor, check_callable, check_generator, check_num_samples
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
    """Score-function surrogate: value (1/N) Σₙ f(zₙ), gradient (1/N) Σₙ (fₙ − b) ∇ log p(zₙ).

    The draws are detached and the cost is evaluated without autograd, so neither needs to
    be differentiable; only ``log_prob`` is differentiated (Williams, 1992; Mohamed et al.,
    2020, the score-function section). The loss is
    ``mean(f) + mean((f − b) · (log p − stop_gradient(log p)))``, whose second term is zero
    in value (the form of DiCE, Foerster et al., 2018). Entry b of the cost multiplies the
    log-density of batch element b; a cost of shape ``(N,)`` multiplies their sum.

    Baselines (b must not depend on the draw it multiplies, so the estimate stays unbiased):

    - ``None``: b = 0;
    - a number or a tensor broadcasting to the cost's shape ``S``: that constant;
    - ``"leave_one_out"``: draw n uses the mean cost of the other N − 1 draws, which are
      independent of draw n (needs N >= 2). The per-parameter optimal baseline of
      :func:`reparam.estimators.score_function_gradient` has no single-loss form.

    Returns a 0-d tensor.
    """
    cost_fn = check_callable(cost, "cost")
    n = check_num_samples(num_samples)
    check_generator(generator)
    if isinstance(baseline, str) and baseline != "leave_one_out":
        raise ValueError(
            f"baseline must be None, a number, a tensor or 'leave_one_out', got {baseline!r}"
        )
    if baseline == "leave_one_out" and n < 2:
        raise ValueError(f"baseline='leave_one_out' needs num_samples >= 2, got {n}")
    z, batch_shape, log_prob = _draws(distribution, params, n, generator, reparameterized=False)
    with torch.no_grad():
        values = _per_draw_cost(cost_fn, z, n, batch_shape)
    if baseline is None:
        centred = values
    elif isinstance(baseline, str):
        centred = values - (values.sum(0, keepdim=True) - values) / (n - 1)
    else:
        b = as_tensor(baseline, "baseline", like=values)
        if not bool(torch.isfinite(b).all()):
            raise ValueError("baseline must be finite")
        centred = values - b.to(device=values.device, dtype=values.dtype)
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
    if not isinstance(params, Mapping) or not isinstance(gradients, Mapping):
        raise TypeError("params and gradients must be mappings name -> tensor")
    if set(gradients) - set(params):
        unknown = ", ".join(sorted(set(gradients) - set(params)))
        raise ValueError(f"gradients names parameters that params lacks: {unknown}")
    terms = []
    for name, grad in gradients.items():
        theta = params[name]
        if not isinstance(theta, Tensor) or not isinstance(grad, Tensor):
            raise TypeError(f"params[{name!r}] and gradients[{name!r}] must be tensors")
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
