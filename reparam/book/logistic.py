"""Bayesian logistic regression by variational inference, with five gradient estimators.

Book chapter "Bayesian logistic regression", reproducing the experiment of Mohamed, Rosca,
Figurnov & Mnih (2020), section 8.3, at a smaller scale.

Model: weights w ∈ R^D with prior N(0, I); labels yᵢ ∈ {0, 1} with
p(yᵢ = 1 | w) = sigmoid(xᵢᵀ w). Approximate posterior: the factorised Gaussian
q(w) = N(μ, diag σ²) with σ = exp(ρ), so the variational parameters are (μ, ρ) ("loc" and
"log_scale"). The evidence lower bound of a data set of size n, estimated from a minibatch
of size B (Kingma & Welling, 2014, eq. 8), is

    L(μ, ρ) = −E_q[f(w)] − KL(q ‖ N(0, I)),
    f(w) = −(n / B) Σ_{i ∈ batch} log p(yᵢ | xᵢ, w),

with the KL term in closed form (:func:`reparam.normal.kl_to_standard_normal`). The
gradient of the expected cost E_q[f(w)] is estimated by one of :data:`METHODS`, each a
*surrogate loss* of the library (:mod:`reparam.surrogate`) whose ``backward()`` puts the
estimator's gradient into μ and ρ and whatever they were computed from:

- ``"pathwise"``: :func:`reparam.surrogate.pathwise_surrogate`;
- ``"score_function"``: :func:`reparam.surrogate.score_function_surrogate`;
- ``"score_function_baseline"``: the same with a constant baseline, in training a
  moving average of past mean costs (:class:`reparam.book.training.MovingAverage`,
  decay 0.9);
- ``"delta_method"``: the score function with the delta-method control variate,
  combined by :func:`reparam.control_variates.apply_control_variate`
  (:func:`delta_method_surrogate`);
- ``"measure_valued"``: :func:`reparam.surrogate.measure_valued_surrogate`, coordinate by
  coordinate (:func:`measure_valued_factorized_surrogate`).

:func:`fit` trains with SGD (:class:`reparam.book.optim.SGD`) on these losses. The
per-sample gradients that the chapter's variance study needs (:func:`elbo_gradient`) come
from the same surrogates, differentiated with respect to one copy of (μ, ρ) per draw, so
each estimator is written once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor

from reparam._validation import (
    as_tensor,
    check_callable,
    check_choice,
    check_count,
    check_finite,
    check_generator,
    check_instance,
    check_num_samples,
    check_real,
    check_tensor,
    check_values,
)
from reparam.book.data import DataSplit
from reparam.book.optim import SGD
from reparam.book.training import MovingAverage, cosine_decay, train
from reparam.control_variates import Coefficient, apply_control_variate
from reparam.estimators import score_function_gradient
from reparam.normal import NORMAL, kl_to_standard_normal, standard_normal
from reparam.quadrature import gauss_hermite_expectation
from reparam.surrogate import (
    measure_valued_surrogate,
    pathwise_surrogate,
    score_function_surrogate,
    surrogate_from_gradients,
)

__all__ = [
    "METHODS",
    "Baseline",
    "ElboGradient",
    "LogisticFit",
    "Method",
    "WeightCost",
    "accuracy",
    "delta_method_surrogate",
    "elbo",
    "elbo_by_quadrature",
    "elbo_gradient",
    "expected_cost_surrogate",
    "fit",
    "fit_all",
    "gradient_variance",
    "log_likelihood",
    "measure_valued_factorized_surrogate",
    "negative_elbo_surrogate",
    "negative_log_likelihood_cost",
]

#: The name of one of the five estimators (see :data:`METHODS`).
Method = Literal[
    "pathwise", "score_function", "score_function_baseline", "delta_method", "measure_valued"
]
#: The five estimators compared, in the order of Mohamed et al. (2020), section 8.3.
METHODS: tuple[Method, ...] = (
    "pathwise",
    "score_function",
    "score_function_baseline",
    "delta_method",
    "measure_valued",
)

#: A cost on weights, ``w (*sample_shape, D) -> f(w) (*sample_shape,)``.
WeightCost = Callable[[Tensor], Tensor]

#: A constant baseline for ``"score_function_baseline"`` (None: no baseline).
Baseline = Tensor | float | None
#: ``(base (N, *R, D), x (N, *R, D)) -> (N, *R, D)``: entry d is f at the base draw with
#: coordinate d replaced by x[..., d] (the measure-valued estimator's perturbations).
CoordinatewiseCost = Callable[[Tensor, Tensor], Tensor]


# -- checks ---------------------------------------------------------------------------------
def _check_data(features: Tensor, labels: Tensor) -> None:
    check_tensor(features, "features")
    check_tensor(labels, "labels")
    if features.dim() != 2:
        raise ValueError(f"features must have shape (batch, D), got {tuple(features.shape)}")
    if labels.shape != features.shape[:1]:
        raise ValueError(
            f"labels must have shape ({features.shape[0]},) to match features, "
            f"got {tuple(labels.shape)}"
        )
    check_finite(features, "features")
    check_values(
        labels, "labels", "be 0 or 1", lambda t: (t == 0) | (t == 1), lambda v: v in (0, 1)
    )


def _check_method(method: object) -> None:
    check_choice(method, "method", METHODS)


def _check_params(
    loc: Tensor, other: Tensor, num_features: int, other_name: str
) -> tuple[Tensor, Tensor]:
    """``loc`` and ``other`` (log_scale or scale) as finite floating tensors of one shape
    ``(*R, D)`` (integer tensors promoted, floating ones returned as they are)."""
    checked = []
    for name, value in (("loc", loc), (other_name, other)):
        value = as_tensor(check_tensor(value, name), name)
        if value.dim() < 1 or value.shape[-1] != num_features:
            raise ValueError(
                f"{name} must have shape ({num_features},) or (..., {num_features}), "
                f"got {tuple(value.shape)}"
            )
        check_finite(value.detach(), name)
        checked.append(value)
    if loc.shape != other.shape:
        raise ValueError(
            f"loc and {other_name} must have the same shape, got {tuple(loc.shape)} and "
            f"{tuple(other.shape)}"
        )
    return checked[0], checked[1]


def _check_baseline(method: Method, baseline: Baseline) -> None:
    if baseline is not None and method != "score_function_baseline":
        raise ValueError(
            f"baseline must be None for method {method!r}: it applies to "
            "'score_function_baseline' only"
        )


def _floating(*tensors: Tensor) -> torch.dtype:
    """The promoted dtype of the tensors, or torch's default if that is not floating."""
    dtype = tensors[0].dtype
    for tensor in tensors[1:]:
        dtype = torch.promote_types(dtype, tensor.dtype)
    return dtype if dtype.is_floating_point else torch.get_default_dtype()


# -- the model ------------------------------------------------------------------------------
def log_likelihood(weights: Tensor, features: Tensor, labels: Tensor) -> Tensor:
    """Σᵢ log p(yᵢ | xᵢ, w) of the logistic model, for one or many weight vectors.

    Args:
        weights: shape ``(*sample_shape, D)``.
        features: shape ``(batch, D)``.
        labels: shape ``(batch,)``, entries 0 or 1.

    Returns:
        Shape ``sample_shape``. Computed stably as −Σᵢ softplus(−sᵢ xᵢᵀw) with sᵢ = 2yᵢ − 1.
    """
    _check_data(features, labels)
    if check_tensor(weights, "weights").dim() < 1 or weights.shape[-1] != features.shape[1]:
        raise ValueError(f"weights must end in D = {features.shape[1]}, got {tuple(weights.shape)}")
    dtype = _floating(weights, features)
    return _log_likelihood(weights.to(dtype), features.to(dtype), labels.to(dtype))


def _log_likelihood(weights: Tensor, features: Tensor, labels: Tensor) -> Tensor:
    """:func:`log_likelihood` on checked tensors of one floating dtype."""
    logits = weights @ features.T  # (*sample_shape, batch)
    return -torch.nn.functional.softplus((1 - 2 * labels) * logits).sum(dim=-1)


@dataclass(frozen=True)
class _Minibatch:
    """A checked minibatch and its rescaling: f(w) = −c Σᵢ log p(yᵢ | xᵢ, w), c = n / B."""

    features: Tensor  # (B, D)
    labels: Tensor  # (B,), in the features' dtype
    factor: float  # c

    @classmethod
    def checked(
        cls, features: Tensor, labels: Tensor, dataset_size: int | None = None
    ) -> _Minibatch:
        _check_data(features, labels)
        batch = features.shape[0]
        n = batch if dataset_size is None else check_count(dataset_size, "dataset_size")
        dtype = _floating(features)
        return cls(features.to(dtype), labels.to(dtype), n / batch)

    def to(self, dtype: torch.dtype) -> _Minibatch:
        if dtype == self.features.dtype:
            return self
        return _Minibatch(self.features.to(dtype), self.labels.to(dtype), self.factor)

    def cost(self, weights: Tensor) -> Tensor:
        """f(w) for w of shape ``(..., D)``; returns ``(...)``, in the promoted dtype."""
        batch = self.to(_floating(weights, self.features))
        x, y = batch.features, batch.labels
        return -self.factor * _log_likelihood(weights.to(x.dtype), x, y)

    def replace_each(self, base: Tensor, x: Tensor) -> Tensor:
        """f(base with coordinate d replaced by x[..., d]), every d: ``(N, *R, D)``.

        base, x: ``(N, *R, D)``. The logits are linear in w, so replacing coordinate
        d adds (x_d − base_d) X[:, d] to the base draw's logits: no (D, D) block of
        weight vectors is built.
        """
        batch = self.to(_floating(base, self.features))
        features, signs = batch.features, 1 - 2 * batch.labels
        base, x = base.to(features.dtype), x.to(features.dtype)
        base_margins = signs * (base @ features.T)  # (N, *R, B)
        signed_columns = signs * features.T  # (D, B)
        margins = torch.addcmul(  # (N, *R, D, B)
            base_margins.unsqueeze(-2), (x - base).unsqueeze(-1), signed_columns
        )
        return self.factor * torch.nn.functional.softplus(margins).sum(-1)

    def taylor(self, centre: Tensor) -> _Taylor:
        """The second-order expansion of f about ``centre`` (μ̂, shape ``(*R, D)``).

        With pᵢ = sigmoid(xᵢᵀμ̂): g = −c Σᵢ (yᵢ − pᵢ) xᵢ and H = c Σᵢ pᵢ(1 − pᵢ) xᵢ xᵢᵀ.
        """
        x, y, c = self.features, self.labels, self.factor
        with torch.no_grad():
            p = torch.sigmoid(centre @ x.T)  # (*R, B)
            value = -c * _log_likelihood(centre, x, y)
            return _Taylor(centre, value, -c * ((y - p) @ x), c * p * (1 - p), x)


@dataclass(frozen=True)
class _Taylor:
    """h(w) = f(μ̂) + gᵀ(w − μ̂) + ½ (w − μ̂)ᵀ H (w − μ̂), H = Σᵢ curvatureᵢ xᵢ xᵢᵀ."""

    centre: Tensor  # μ̂, (*R, D)
    value: Tensor  # f(μ̂), (*R,)
    gradient: Tensor  # g, (*R, D)
    curvature: Tensor  # c pᵢ (1 − pᵢ), (*R, B)
    features: Tensor  # (B, D)

    def __call__(self, weights: Tensor) -> Tensor:
        """h(w) for w of shape ``(N, *R, D)``; returns ``(N, *R)``."""
        delta = weights - self.centre
        projected = delta @ self.features.T  # (N, *R, B)
        quadratic = (projected.square() * self.curvature).sum(-1)
        return self.value + (delta * self.gradient).sum(-1) + 0.5 * quadratic

    def expected_gradient(self, scale: Tensor) -> dict[str, Tensor]:
        """∇_{μ,σ} E_q[h] at μ = μ̂: ``{"loc": g, "scale": H_dd σ_d}``, each ``(*R, D)``."""
        hessian_diagonal = self.curvature @ self.features.square()
        return {"loc": self.gradient, "scale": hessian_diagonal * scale}


def negative_log_likelihood_cost(
    features: Tensor, labels: Tensor, dataset_size: int | None = None
) -> WeightCost:
    """The cost f(w) = −(n / B) Σ_{i ∈ batch} log p(yᵢ | xᵢ, w) as a batched callable.

    Args:
        features: the minibatch, shape ``(B, D)``.
        labels: shape ``(B,)``.
        dataset_size: n, the size of the data set the minibatch stands for (default B: no
            rescaling).

    Returns:
        ``w (*sample_shape, D) -> (*sample_shape,)``, in the promoted floating dtype of
        ``w`` and ``features`` (the data are checked once, here, not at every call).
    """
    batch = _Minibatch.checked(features, labels, dataset_size)
    dim = features.shape[1]

    def cost(weights: Tensor) -> Tensor:
        if check_tensor(weights, "weights").dim() < 1 or weights.shape[-1] != dim:
            raise ValueError(f"weights must end in D = {dim}, got {tuple(weights.shape)}")
        return batch.cost(weights)

    return cost


def elbo(
    loc: Tensor,
    log_scale: Tensor,
    features: Tensor,
    labels: Tensor,
    num_samples: int,
    *,
    generator: torch.Generator | None = None,
    dataset_size: int | None = None,
) -> Tensor:
    """Monte Carlo estimate of the ELBO, −E_q[f(w)] − KL(q ‖ N(0, I)), analytic KL.

    Args:
        loc: μ, shape ``(*R, D)``: ``R`` indexes independent copies, each estimated from
            its own ``num_samples`` draws.
        log_scale: ρ = log σ, the same shape.
        features: shape ``(B, D)``; labels: shape ``(B,)``.
        num_samples: draws of w.
        generator: source of the draws.
        dataset_size: n (default B): the minibatch is rescaled to stand for n points.

    Returns:
        Shape ``R`` (a scalar for ``loc`` of shape ``(D,)``), differentiable in ``loc`` and
        ``log_scale`` (pathwise).
    """
    batch = _Minibatch.checked(features, labels, dataset_size)
    loc, log_scale = _check_params(loc, log_scale, features.shape[1], "log_scale")
    scale = log_scale.exp()
    w = NORMAL.rsample(num_samples, generator=generator, loc=loc, scale=scale)
    return -batch.cost(w).mean(0) - kl_to_standard_normal(loc, scale)


def elbo_by_quadrature(
    loc: Tensor,
    log_scale: Tensor,
    features: Tensor,
    labels: Tensor,
    *,
    dataset_size: int | None = None,
    degree: int = 100,
) -> Tensor:
    """The ELBO without Monte Carlo error, by one-dimensional quadrature per data point.

    Under q each logit aᵢ = xᵢᵀw is a sum of independent Gaussians, hence
    aᵢ ~ N(xᵢᵀμ, Σ_d xᵢd² σ_d²), and E_q[log p(yᵢ | xᵢ, w)] = E[−softplus(−sᵢ aᵢ)] with
    sᵢ = 2yᵢ − 1 is a one-dimensional Gaussian integral
    (:func:`reparam.quadrature.gauss_hermite_expectation`); the KL term is exact. Chapter
    "Bayesian logistic regression", equation (eq-lr-logit).

    Args:
        loc: μ, shape ``(*R, D)``; log_scale: ρ, the same shape.
        features: shape ``(B, D)``; labels: shape ``(B,)``.
        dataset_size: n (default B).
        degree: quadrature nodes; the error is largest for wide q (at σ = 1 on the
            breast-cancer data, about 0.05 nats with the default 100), and falls fast as
            σ shrinks.

    Returns:
        Shape ``R``, differentiable in ``loc`` and ``log_scale``.
    """
    batch = _Minibatch.checked(features, labels, dataset_size)
    loc, log_scale = _check_params(loc, log_scale, features.shape[1], "log_scale")
    batch = batch.to(_floating(loc, batch.features))
    x, signs = batch.features, 1 - 2 * batch.labels
    scale = log_scale.exp()
    mean = loc.to(x.dtype) @ x.T  # (*R, B)
    std = (scale.to(x.dtype).square() @ x.square().T).sqrt()
    expected = gauss_hermite_expectation(
        lambda logits: torch.nn.functional.softplus(signs * logits), mean, std, degree=degree
    )
    return -batch.factor * expected.sum(-1) - kl_to_standard_normal(loc, scale)


def accuracy(loc: Tensor, features: Tensor, labels: Tensor) -> float:
    """Fraction of labels predicted right by the posterior mean: ŷ = 1 if xᵀμ > 0."""
    _check_data(features, labels)
    if check_tensor(loc, "loc").shape != features.shape[1:]:
        raise ValueError(f"loc must have shape ({features.shape[1]},), got {tuple(loc.shape)}")
    dtype = _floating(loc, features)
    predicted = (features.to(dtype) @ loc.to(dtype) > 0).to(labels.dtype)
    return float((predicted == labels).to(dtype).mean())


# -- the five surrogates --------------------------------------------------------------------
def _per_draw(cost: WeightCost) -> Callable[[Tensor], Tensor]:
    """f as the library's surrogates take it: draws ``(N, *R, D)`` -> ``(N, *R, 1)``.

    The trailing 1 says that draw n has one cost for all D coordinates of the factorised q,
    so it multiplies the score of every coordinate.
    """
    return lambda weights: cost(weights).unsqueeze(-1)


def _delta_method(
    batch: _Minibatch,
    loc: Tensor,
    scale: Tensor,
    num_samples: int,
    generator: torch.Generator | None,
    coefficient: Coefficient,
) -> Tensor:
    """:func:`delta_method_surrogate` on checked arguments.

    One pass over the draws: the per-sample estimates f(wₙ) ∇ log q(wₙ) and the
    controls h(wₙ) ∇ log q(wₙ) share the score. So
    :func:`reparam.estimators.score_function_gradient` runs once, with the unit
    cost (its per-sample estimates are then the scores ∇ log q(wₙ) themselves),
    and f and h are evaluated at its draws. Each product is the one the estimator
    forms, fₙ · scoreₙ: the result is that of two estimator calls at the same
    draws (same numbers, to round-off), at half the sampling and score cost.
    """
    batch = batch.to(_floating(loc, batch.features))
    taylor = batch.taylor(loc.detach().to(batch.features.dtype))
    params = {"loc": loc.detach(), "scale": scale.detach()}
    at_draws: list[tuple[Tensor, Tensor]] = []  # f and h at the draws: (N, *R)

    def unit(weights: Tensor) -> Tensor:
        # records f and h; returns (N, *R, 1) ones: one per draw and copy
        at_draws.append((batch.cost(weights), taylor(weights)))
        return torch.ones_like(at_draws[-1][0]).unsqueeze(-1)

    n = num_samples
    scores = score_function_gradient(unit, NORMAL, params, n, generator=generator)
    ((costs, controls_at_draws),) = at_draws
    means = taylor.expected_gradient(params["scale"])
    corrected = {}
    # score: (N, *R, D); f and h: (N, *R) -> (N, *R, 1)
    for name, score in scores.items():
        f = costs.unsqueeze(-1).to(score.dtype)
        h = controls_at_draws.unsqueeze(-1).to(score.dtype)
        corrected[name] = apply_control_variate(
            f * score, h * score, means[name], coefficient=coefficient
        )
    value = costs.sum() / num_samples
    parameters = {"loc": loc, "scale": scale}
    return value + surrogate_from_gradients(parameters, corrected)


def delta_method_surrogate(
    features: Tensor,
    labels: Tensor,
    loc: Tensor,
    scale: Tensor,
    num_samples: int,
    *,
    generator: torch.Generator | None = None,
    dataset_size: int | None = None,
    coefficient: Coefficient = 1.0,
) -> Tensor:
    """Surrogate of E_q[f]: the score function with the delta-method control variate.

    The control variate (Paisley, Blei & Jordan, 2012; Mohamed et al., 2020, section 7 on
    control variates and the experiment of section 8.3) comes from the second-order Taylor
    expansion of f about the current mean μ̂ (held fixed),
    h(w) = f(μ̂) + gᵀ(w − μ̂) + ½ (w − μ̂)ᵀ H (w − μ̂),
    with g and H the gradient and Hessian of f at μ̂. The score-function estimate of draw
    n, f(wₙ) ∇ log q(wₙ), is corrected by the control h(wₙ) ∇ log q(wₙ), whose mean is
    known: under q = N(μ, diag σ²),
    E_q[h] = f(μ̂) + gᵀ(μ − μ̂) + ½ (μ − μ̂)ᵀH(μ − μ̂) + ½ Σ_d H_dd σ_d²,
    so at μ = μ̂, ∇_μ E_q[h] = g and ∂E_q[h]/∂σ_d = H_dd σ_d. Both per-sample estimates
    share the score ∇ log q(wₙ), which one pass of
    :func:`reparam.estimators.score_function_gradient` gives (with the unit cost) at the
    draws where f and h are evaluated;
    :func:`reparam.control_variates.apply_control_variate` combines them;
    :func:`reparam.surrogate.surrogate_from_gradients` turns the result into a loss. For the
    logistic cost, with pᵢ = sigmoid(xᵢᵀμ̂) and c = n/B: g = −c Σᵢ (yᵢ − pᵢ) xᵢ and
    H = c Σᵢ pᵢ(1 − pᵢ) xᵢ xᵢᵀ.

    Args:
        features, labels: the minibatch, shapes ``(B, D)`` and ``(B,)``.
        loc: μ, shape ``(*R, D)`` (``R`` indexes independent copies of q, e.g. one per
            draw); scale: σ, the same shape. Both may sit in an autograd graph.
        num_samples: N draws per copy.
        generator: source of the draws.
        dataset_size: n (default B).
        coefficient: c of the control variate, as in
            :func:`reparam.control_variates.apply_control_variate`; the chapter uses 1.

    Returns:
        A 0-d loss whose value is (1/N) Σₙ f(wₙ), summed over ``R``; gradient with respect to
        ``loc`` and ``scale`` (and anything upstream) the corrected estimate averaged over
        the N draws.
    """
    batch = _Minibatch.checked(features, labels, dataset_size)
    loc, scale = _check_params(loc, scale, features.shape[1], "scale")
    num_samples = check_num_samples(num_samples)
    check_generator(generator)
    return _delta_method(batch, loc, scale, num_samples, generator, coefficient)


def _replace_each(cost: WeightCost) -> CoordinatewiseCost:
    """``(base, x) ->`` entry d: f(base with coordinate d replaced by x[..., d]), any f."""

    def replaced(base: Tensor, x: Tensor) -> Tensor:
        eye = torch.eye(base.shape[-1], dtype=torch.bool, device=base.device)
        # row d of the (D, D) block: the base draw with coordinate d replaced by x[..., d]
        embedded = torch.where(eye, x.unsqueeze(-1), base.unsqueeze(-2))  # (N, *R, D, D)
        return cost(embedded)  # (N, *R, D)

    return replaced


def _measure_valued(
    cost: WeightCost,
    replace_each: CoordinatewiseCost,
    loc: Tensor,
    scale: Tensor,
    num_samples: int,
    generator: torch.Generator | None,
) -> Tensor:
    """:func:`measure_valued_factorized_surrogate` on checked arguments."""
    mu, sigma = loc.detach(), scale.detach()
    eps = standard_normal(
        (num_samples, *mu.shape),
        generator=generator,
        dtype=mu.dtype,
        device=mu.device,
    )
    base = mu + sigma * eps  # (N, *R, D): the other coordinates of each sample
    with torch.no_grad():
        value = cost(base).sum() / num_samples
    surrogate = measure_valued_surrogate(
        lambda x: replace_each(base, x),
        NORMAL,
        {"loc": loc, "scale": scale},
        num_samples,
        generator=generator,
    )
    return value + surrogate


def measure_valued_factorized_surrogate(
    cost: WeightCost,
    loc: Tensor,
    scale: Tensor,
    num_samples: int,
    *,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Surrogate of E_q[f]: the measure-valued estimator for a factorised q, coupled cost.

    Since q factorises, ∂E_q[f]/∂μ_d = E_{w₋d}[∂/∂μ_d E_{w_d}[f(w)]]: draw the other
    coordinates w₋d ~ q once per sample, and apply the one-dimensional measure-valued
    estimator with coupling (Mohamed et al., 2020, the section on measure-valued
    gradients; :func:`reparam.surrogate.measure_valued_surrogate`) to w_d ↦ f(w₋d, w_d),
    for every d at once: entry (n, d) of the cost passed to it replaces coordinate d of the
    n-th base draw. It costs 4·D evaluations of f per sample, and one more, at the base
    draw, for the loss's value.

    Args:
        cost: f, ``(..., D) -> (...)``.
        loc: μ, shape ``(*R, D)``; scale: σ, the same shape; both may sit in an autograd
            graph.
        num_samples: N.
        generator: source of the draws.

    Returns:
        A 0-d loss whose value is (1/N) Σₙ f(base draw n), summed over ``R``; gradient with respect
        to ``loc`` and ``scale`` the estimator averaged over the N draws.
    """
    check_callable(cost, "cost")
    if check_tensor(loc, "loc").dim() < 1:
        raise ValueError(f"loc must have shape (*R, D), got {tuple(loc.shape)}")
    loc, scale = _check_params(loc, scale, loc.shape[-1], "scale")
    num_samples = check_num_samples(num_samples)
    check_generator(generator)
    return _measure_valued(cost, _replace_each(cost), loc, scale, num_samples, generator)


def _expected_cost(
    method: Method,
    batch: _Minibatch,
    loc: Tensor,
    scale: Tensor,
    num_samples: int,
    generator: torch.Generator | None,
    baseline: Baseline,
) -> Tensor:
    """:func:`expected_cost_surrogate` on checked arguments."""
    params = {"loc": loc, "scale": scale}
    if method == "pathwise":
        return pathwise_surrogate(
            _per_draw(batch.cost), NORMAL, params, num_samples, generator=generator
        )
    if method in ("score_function", "score_function_baseline"):
        return score_function_surrogate(
            _per_draw(batch.cost),
            NORMAL,
            params,
            num_samples,
            generator=generator,
            baseline=baseline,
        )
    if method == "delta_method":
        return _delta_method(batch, loc, scale, num_samples, generator, 1.0)
    return _measure_valued(batch.cost, batch.replace_each, loc, scale, num_samples, generator)


def expected_cost_surrogate(
    method: Method,
    loc: Tensor,
    scale: Tensor,
    features: Tensor,
    labels: Tensor,
    num_samples: int,
    *,
    generator: torch.Generator | None = None,
    dataset_size: int | None = None,
    baseline: Baseline = None,
) -> Tensor:
    """A loss whose value estimates E_q[f] and whose ``backward()`` runs the chosen estimator.

    Args:
        method: one of :data:`METHODS`.
        loc: μ, shape ``(*R, D)``; scale: σ, the same shape. ``R`` indexes independent
            copies of q (empty in training; one copy per draw for per-sample gradients);
            the loss sums over them.
        features, labels: the minibatch, shapes ``(B, D)`` and ``(B,)``.
        num_samples: N draws per copy (the measure-valued estimator evaluates f 4·D times
            per draw).
        generator: source of the draws.
        dataset_size: n (default B).
        baseline: the constant subtracted from f by ``"score_function_baseline"`` (e.g. a
            :class:`reparam.book.training.MovingAverage` of past mean costs); ``None`` = 0.

    Returns:
        A 0-d tensor whose value is Σ_R (1/N) Σₙ f(wₙ), the mean cost of the draws; gradient the
        estimator's, into ``loc``, ``scale`` and whatever they were computed from.
    """
    _check_method(method)
    _check_baseline(method, baseline)
    batch = _Minibatch.checked(features, labels, dataset_size)
    loc, scale = _check_params(loc, scale, features.shape[1], "scale")
    num_samples = check_num_samples(num_samples)
    check_generator(generator)
    return _expected_cost(method, batch, loc, scale, num_samples, generator, baseline)


def negative_elbo_surrogate(
    method: Method,
    loc: Tensor,
    log_scale: Tensor,
    features: Tensor,
    labels: Tensor,
    num_samples: int,
    *,
    generator: torch.Generator | None = None,
    dataset_size: int | None = None,
    baseline: Baseline = None,
) -> Tensor:
    """The training loss: a surrogate of −L = E_q[f] + KL(q ‖ N(0, I)), to minimise.

    The expected cost is :func:`expected_cost_surrogate` at σ = exp(ρ); the KL term is
    exact (:func:`reparam.normal.kl_to_standard_normal`; Kingma & Welling, 2014,
    appendix B), and so is its gradient, ∂KL/∂μ = μ, ∂KL/∂ρ = σ² − 1. Autograd applies the
    chain rule ∂/∂ρ = σ ∂/∂σ.

    Args:
        method, features, labels, num_samples, generator, dataset_size, baseline: as in
            :func:`expected_cost_surrogate`.
        loc: μ, shape ``(*R, D)``; log_scale: ρ, the same shape.

    Returns:
        A 0-d tensor whose value is the estimate of −L, summed over ``R``; ``backward()`` leaves
        the estimate of −∇L in ``loc.grad`` and ``log_scale.grad``.
    """
    _check_method(method)
    _check_baseline(method, baseline)
    batch = _Minibatch.checked(features, labels, dataset_size)
    loc, log_scale = _check_params(loc, log_scale, features.shape[1], "log_scale")
    num_samples = check_num_samples(num_samples)
    check_generator(generator)
    scale = log_scale.exp()
    expected_cost = _expected_cost(method, batch, loc, scale, num_samples, generator, baseline)
    return expected_cost + kl_to_standard_normal(loc, scale).sum()


# -- per-sample gradients, for the variance study -------------------------------------------
@dataclass(frozen=True)
class ElboGradient:
    """Per-sample estimates of the gradient of the ELBO (to be *maximised*).

    Attributes:
        loc: ∂L/∂μ per sample, shape ``(N, D)``; the estimate is the mean over dim 0.
        log_scale: ∂L/∂ρ per sample, shape ``(N, D)``.
        cost: the expected-cost surrogate's value averaged over the N samples, a Monte
            Carlo estimate of E_q[f] (a scalar, for baselines and progress reports).
    """

    loc: Tensor
    log_scale: Tensor
    cost: Tensor


def elbo_gradient(
    method: Method,
    loc: Tensor,
    log_scale: Tensor,
    features: Tensor,
    labels: Tensor,
    num_samples: int,
    *,
    generator: torch.Generator | None = None,
    dataset_size: int | None = None,
    baseline: Baseline = None,
) -> ElboGradient:
    """Per-sample estimates of ∇_{(μ, ρ)} L for one of the five estimators.

    The training loss, :func:`negative_elbo_surrogate`, is evaluated on N copies of (μ, ρ)
    with one draw each; its gradient with respect to copy n is the n-th per-sample
    estimate, and their mean is distributed as the N-draw estimate that training uses. The
    KL term's exact gradient is part of every sample.

    Args:
        method: one of :data:`METHODS`.
        loc: μ, shape ``(D,)``; log_scale: ρ, shape ``(D,)``.
        features, labels: the minibatch, shapes ``(B, D)`` and ``(B,)``.
        num_samples: N per-sample estimates.
        generator: source of the draws.
        dataset_size: n (default B).
        baseline: as in :func:`expected_cost_surrogate`.

    Returns:
        An :class:`ElboGradient` of per-sample gradients, each ``(N, D)``.
    """
    _check_method(method)
    _check_baseline(method, baseline)
    batch = _Minibatch.checked(features, labels, dataset_size)
    loc, log_scale = _check_params(loc, log_scale, features.shape[1], "log_scale")
    if loc.dim() != 1:
        raise ValueError(f"loc must have shape ({features.shape[1]},), got {tuple(loc.shape)}")
    num_samples = check_num_samples(num_samples)
    check_generator(generator)
    copies = [v.detach().expand(num_samples, -1).requires_grad_(True) for v in (loc, log_scale)]
    with torch.enable_grad():
        scale = copies[1].exp()
        expected_cost = _expected_cost(method, batch, copies[0], scale, 1, generator, baseline)
        loss = expected_cost + kl_to_standard_normal(copies[0], scale).sum()
        grad_loc, grad_log_scale = torch.autograd.grad(loss, copies)
    return ElboGradient(-grad_loc, -grad_log_scale, expected_cost.detach() / num_samples)


def gradient_variance(
    method: Method,
    loc: Tensor,
    log_scale: Tensor,
    features: Tensor,
    labels: Tensor,
    num_samples: int,
    *,
    generator: torch.Generator | None = None,
    baseline: Baseline = None,
) -> tuple[Tensor, Tensor]:
    """Per-parameter variance of a single-sample estimate of ∇L on fixed data.

    Draws ``num_samples`` independent per-sample gradients (:func:`elbo_gradient`) on the
    whole of ``features`` (no minibatch noise: only the estimator's own Monte Carlo noise
    is measured) and returns their sample variances. Divide by N for the variance of an
    N-sample average.

    Returns:
        ``(var_loc, var_log_scale)``, each of shape ``(D,)``.
    """
    num_samples = check_count(num_samples, "num_samples", 2, context="to estimate a variance")
    grads = elbo_gradient(
        method,
        loc,
        log_scale,
        features,
        labels,
        num_samples,
        generator=generator,
        baseline=baseline,
    )
    return grads.loc.var(dim=0), grads.log_scale.var(dim=0)


# -- training -------------------------------------------------------------------------------
@dataclass
class LogisticFit:
    """The record of one training run (:func:`fit`, :func:`fit_all`).

    Attributes:
        method: the estimator.
        loc: the final variational mean, shape ``(D,)``.
        log_scale: the final variational log-scale, shape ``(D,)``.
        steps: the steps at which the record was taken (0 = before training).
        elbo: ELBO of the whole training set at those steps (from ``elbo_samples`` draws,
            or by quadrature, :func:`elbo_by_quadrature`).
        accuracy: held-out accuracy of the posterior-mean classifier.
        variance_loc: per-parameter variance of a single-sample gradient estimate of
            the mean on the whole training set, shape ``(len(steps), D)``.
        variance_log_scale: the same for the log-scale.
        seconds: time spent on this run's surrogate and its backward pass (recording,
            the KL term and the optimiser step excluded).
    """

    method: Method
    loc: Tensor
    log_scale: Tensor
    steps: list[int] = field(default_factory=list)
    elbo: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    variance_loc: list[Tensor] = field(default_factory=list)
    variance_log_scale: list[Tensor] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class _Run:
    """Row ``index`` of the stacked parameters of :func:`fit_all`: one estimator's run."""

    method: Method
    index: int
    noise: torch.Generator
    recording: torch.Generator
    average: MovingAverage
    result: LogisticFit

    @property
    def baseline(self) -> Tensor | None:
        """The moving-average baseline of ``score_function_baseline``, else None."""
        return self.average.value if self.method == "score_function_baseline" else None


def _train_step(
    run: _Run, batch: _Minibatch, loc: Tensor, log_scale: Tensor, num_samples: int
) -> Tensor:
    """Backpropagate the run's estimate of ∇E_q[f] into its row of the parameters.

    Returns the surrogate's value, the mean cost of the draws (detached)."""
    tick = time.perf_counter()
    i = run.index
    expected_cost = _expected_cost(
        run.method,
        batch,
        loc[i],
        log_scale[i].exp(),
        num_samples,
        run.noise,
        run.baseline,
    )
    expected_cost.backward()
    if run.method == "score_function_baseline":
        # updated after the step that used it: b never depends on the draws it
        # multiplies
        run.average.update(expected_cost.detach())
    run.result.seconds += time.perf_counter() - tick
    return expected_cost.detach()


def _record(
    run: _Run,
    loc: Tensor,
    log_scale: Tensor,
    data: DataSplit,
    step: int,
    elbo_samples: int | None,
    variance_samples: int,
) -> float:
    """Append the ELBO, accuracy and gradient variances at ``step`` to the run's record."""
    result = run.result
    x, y = data.train_inputs, data.train_targets
    if elbo_samples is None:
        value = float(elbo_by_quadrature(loc, log_scale, x, y))
    else:
        value = float(elbo(loc, log_scale, x, y, elbo_samples, generator=run.recording))
    result.steps.append(step)
    result.elbo.append(value)
    result.accuracy.append(accuracy(loc, data.test_inputs, data.test_targets))
    var_loc, var_log_scale = gradient_variance(
        run.method,
        loc,
        log_scale,
        x,
        y,
        variance_samples,
        generator=run.recording,
        baseline=run.baseline,
    )
    result.variance_loc.append(var_loc)
    result.variance_log_scale.append(var_log_scale)
    return value


def _check_methods(methods: object) -> tuple[Method, ...]:
    wanted = "a sequence of names from METHODS"
    if isinstance(methods, str):  # a Sequence, but one name: fit(method, ...) takes it
        raise TypeError(f"methods must be {wanted}, got the single name {methods!r}")
    names: Sequence[Method] = check_instance(methods, "methods", Sequence, wanted)
    if not names:
        raise ValueError("methods must hold at least one name from METHODS, got none")
    for method in names:
        _check_method(method)
    if len(set(names)) != len(names):
        raise ValueError(f"methods must be distinct, got {list(names)}")
    return tuple(names)


def fit_all(
    methods: Sequence[Method],
    data: DataSplit,
    *,
    num_steps: int,
    batch_size: int = 32,
    num_samples: int = 50,
    learning_rate: float = 1e-3,
    baseline_decay: float = 0.9,
    record_every: int = 100,
    elbo_samples: int | None = 100,
    variance_samples: int = 100,
    generator: torch.Generator,
    progress: bool | None = None,
) -> dict[Method, LogisticFit]:
    """Train one posterior per estimator, in lockstep: :func:`fit` for several methods.

    The runs' parameters are rows of one ``(len(methods), D)`` tensor each for μ and ρ,
    updated by one :class:`reparam.book.optim.SGD` with one schedule in one loop
    (:func:`reparam.book.training.train`), with the KL term of all rows computed at once.
    Every run sees the same minibatches in the same order and draws its noise from its own
    generators, seeded as :func:`fit` seeds them from ``generator``, so each result equals
    that of ``fit(method, ...)`` with the same arguments.

    The arguments other than ``methods`` are those of :func:`fit`.

    Args:
        methods: distinct names from :data:`METHODS`.

    Returns:
        method -> :class:`LogisticFit`, in the order of ``methods``.
    """
    methods = _check_methods(methods)
    check_instance(data, "data", DataSplit, "a reparam.book.data.DataSplit")
    check_instance(generator, "generator", torch.Generator, "a torch.Generator")
    learning_rate = check_real(learning_rate, "learning_rate", positive=True)
    num_samples = check_num_samples(num_samples)
    check_count(record_every, "record_every")
    if elbo_samples is not None:
        check_count(elbo_samples, "elbo_samples")
    check_count(variance_samples, "variance_samples", 2, context="to estimate a variance")
    train_x, train_y = data.train_inputs, data.train_targets
    everything = _Minibatch.checked(train_x, train_y)
    num_train, dim = train_x.shape
    seeds = torch.randint(0, 2**62, (3,), generator=generator, device=generator.device).tolist()
    batches = torch.Generator(generator.device).manual_seed(seeds[0])
    loc = torch.zeros(len(methods), dim, dtype=everything.features.dtype, device=train_x.device)
    log_scale = torch.zeros_like(loc)
    loc.requires_grad_(True)
    log_scale.requires_grad_(True)
    runs = [
        _Run(
            method,
            index,
            torch.Generator(generator.device).manual_seed(seeds[1]),
            torch.Generator(generator.device).manual_seed(seeds[2]),
            MovingAverage(baseline_decay),
            LogisticFit(method, loc[index].detach(), log_scale[index].detach()),
        )
        for index, method in enumerate(methods)
    ]
    optimizer = SGD([loc, log_scale], lr=learning_rate, schedule=cosine_decay(num_steps))
    done = [0]

    def record() -> float:
        mu, rho = loc.detach(), log_scale.detach()
        return sum(
            _record(
                run, mu[run.index], rho[run.index], data, done[0], elbo_samples, variance_samples
            )
            for run in runs
        )

    def step(indices: Tensor) -> float:  # returns the sum of the runs' ELBO estimates
        idx = indices.to(train_x.device)
        batch = _Minibatch(everything.features[idx], everything.labels[idx], num_train / len(idx))
        costs = [_train_step(run, batch, loc, log_scale, num_samples) for run in runs]
        kl = kl_to_standard_normal(loc, log_scale.exp()).sum()  # every run's, at once
        kl.backward()
        done[0] += 1
        return -float(torch.stack(costs).sum() + kl.detach())  # the runs' ELBOs, summed

    train(
        step,
        optimizer,
        num_train,
        num_steps=num_steps,
        batch_size=batch_size,
        generator=batches,
        evaluate=record,
        eval_every=record_every,
        progress=progress,
    )
    for run in runs:
        run.result.loc = loc[run.index].detach().clone()
        run.result.log_scale = log_scale[run.index].detach().clone()
    return {run.method: run.result for run in runs}


def fit(
    method: Method,
    data: DataSplit,
    *,
    num_steps: int,
    batch_size: int = 32,
    num_samples: int = 50,
    learning_rate: float = 1e-3,
    baseline_decay: float = 0.9,
    record_every: int = 100,
    elbo_samples: int | None = 100,
    variance_samples: int = 100,
    generator: torch.Generator,
    progress: bool | None = None,
) -> LogisticFit:
    """Variational Bayesian logistic regression by SGD, as in Mohamed et al. (2020), §8.3.

    Starts from μ = 0, ρ = log σ = 0. Each step draws a minibatch of ``batch_size``
    training points, calls ``backward()`` on the estimator's surrogate of E_q[f] with
    ``num_samples`` draws of w and on the exact KL term (together,
    :func:`negative_elbo_surrogate`), and takes a step of SGD
    (:class:`reparam.book.optim.SGD`) with learning rate
    ``learning_rate`` · ½(1 + cos(π t / T)) (cosine decay). The ELBO is that of the
    whole training set (the minibatch rescaled by n/B).

    Args:
        method: one of :data:`METHODS`.
        data: a :class:`reparam.book.data.DataSplit` from
            :func:`reparam.book.data.load_breast_cancer` (targets in {0, 1}).
        num_steps: T.
        batch_size, num_samples, learning_rate: as above.
        baseline_decay: decay of the moving-average baseline (``score_function_baseline``).
        record_every: steps between records.
        elbo_samples: draws for each recorded ELBO; ``None``: no draws, the ELBO by
            quadrature (:func:`elbo_by_quadrature`).
        variance_samples: per-sample gradients for each recorded variance.
        generator: one seeded generator; minibatch order, training noise and recording
            noise come from generators seeded from it, so recording does not change training.
        progress: show a progress bar (default: only in a terminal).

    Returns:
        A :class:`LogisticFit`.
    """
    _check_method(method)
    return fit_all(
        (method,),
        data,
        num_steps=num_steps,
        batch_size=batch_size,
        num_samples=num_samples,
        learning_rate=learning_rate,
        baseline_decay=baseline_decay,
        record_every=record_every,
        elbo_samples=elbo_samples,
        variance_samples=variance_samples,
        generator=generator,
        progress=progress,
    )[method]
