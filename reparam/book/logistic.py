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

with the KL term in closed form. The gradient of the expected cost E_q[f(w)] is estimated by
one of :data:`METHODS`:

- ``"pathwise"``: :func:`reparam.estimators.pathwise_gradient`;
- ``"score_function"``: :func:`reparam.estimators.score_function_gradient`;
- ``"score_function_baseline"``: the same with a moving-average baseline
  (:class:`reparam.book.training.MovingAverage`, decay 0.9);
- ``"delta_method"``: the score function with the delta-method control variate
  (:func:`delta_method_gradient`);
- ``"measure_valued"``: :func:`reparam.estimators.measure_valued_gradient`, coordinate by
  coordinate (:func:`measure_valued_factorized_gradient`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor

from reparam._validation import check_finite, check_generator, check_num_samples, check_real
from reparam.book.data import DataSplit
from reparam.book.training import MovingAverage, cosine_decay, train
from reparam.estimators import (
    measure_valued_gradient,
    pathwise_gradient,
    score_function_gradient,
)
from reparam.normal import NORMAL, kl_to_standard_normal, standard_normal

__all__ = [
    "METHODS",
    "ElboGradient",
    "LogisticFit",
    "Method",
    "accuracy",
    "delta_method_gradient",
    "elbo",
    "elbo_gradient",
    "fit",
    "gradient_variance",
    "log_likelihood",
    "measure_valued_factorized_gradient",
    "negative_log_likelihood_cost",
]

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


def _check_data(features: Tensor, labels: Tensor) -> None:
    if not isinstance(features, Tensor) or not isinstance(labels, Tensor):
        raise TypeError("features and labels must be torch.Tensors")
    if features.dim() != 2:
        raise ValueError(f"features must have shape (batch, D), got {tuple(features.shape)}")
    if labels.shape != features.shape[:1]:
        raise ValueError(
            f"labels must have shape ({features.shape[0]},) to match features, "
            f"got {tuple(labels.shape)}"
        )
    check_finite(features, "features")
    if not bool(((labels == 0) | (labels == 1)).all()):
        raise ValueError("labels must be 0 or 1")


def _check_params(loc: Tensor, log_scale: Tensor, num_features: int) -> None:
    for name, value in (("loc", loc), ("log_scale", log_scale)):
        if not isinstance(value, Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
        if value.shape != (num_features,):
            raise ValueError(f"{name} must have shape ({num_features},), got {tuple(value.shape)}")
        check_finite(value, name)


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
    if not isinstance(weights, Tensor):
        raise TypeError(f"weights must be a torch.Tensor, got {type(weights).__name__}")
    if weights.dim() < 1 or weights.shape[-1] != features.shape[1]:
        raise ValueError(f"weights must end in D = {features.shape[1]}, got {tuple(weights.shape)}")
    dtype = torch.promote_types(weights.dtype, features.dtype)
    if not dtype.is_floating_point:  # integer weights or features: torch's default float
        dtype = torch.get_default_dtype()
    weights, features = weights.to(dtype), features.to(dtype)
    signs = 2 * labels.to(weights.dtype) - 1
    logits = weights @ features.T  # (*sample_shape, batch)
    return -torch.nn.functional.softplus(-signs * logits).sum(dim=-1)


def negative_log_likelihood_cost(
    features: Tensor, labels: Tensor, dataset_size: int | None = None
) -> Callable[[Tensor], Tensor]:
    """The cost f(w) = −(n / B) Σ_{i ∈ batch} log p(yᵢ | xᵢ, w) as a batched callable.

    Args:
        features: the minibatch, shape ``(B, D)``.
        labels: shape ``(B,)``.
        dataset_size: n, the size of the data set the minibatch stands for (default B: no
            rescaling).

    Returns:
        ``w (*sample_shape, D) -> (*sample_shape,)``, in the form the estimators of
        :mod:`reparam.estimators` take.
    """
    _check_data(features, labels)
    batch = features.shape[0]
    n = batch if dataset_size is None else check_num_samples(dataset_size, "dataset_size")
    factor = n / batch

    def cost(weights: Tensor) -> Tensor:
        return -factor * log_likelihood(weights, features, labels)

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
        loc: μ, shape ``(D,)``.
        log_scale: ρ = log σ, shape ``(D,)``.
        features: shape ``(B, D)``; labels: shape ``(B,)``.
        num_samples: draws of w.
        generator: source of the draws.
        dataset_size: n (default B): the minibatch is rescaled to stand for n points.

    Returns:
        A scalar tensor (differentiable in ``loc`` and ``log_scale``, pathwise).
    """
    _check_params(loc, log_scale, features.shape[1])
    cost = negative_log_likelihood_cost(features, labels, dataset_size)
    scale = log_scale.exp()
    w = NORMAL.rsample(num_samples, generator=generator, loc=loc, scale=scale)
    return -cost(w).mean() - kl_to_standard_normal(loc, scale)


def accuracy(loc: Tensor, features: Tensor, labels: Tensor) -> float:
    """Fraction of labels predicted right by the posterior mean: ŷ = 1 if xᵀμ > 0."""
    _check_data(features, labels)
    if not isinstance(loc, Tensor) or loc.shape != features.shape[1:]:
        raise ValueError(
            f"loc must be a tensor of shape ({features.shape[1]},), "
            f"got {getattr(loc, 'shape', type(loc).__name__)}"
        )
    dtype = torch.promote_types(loc.dtype, features.dtype)
    if not dtype.is_floating_point:
        dtype = torch.get_default_dtype()
    predicted = (features.to(dtype) @ loc.to(dtype) > 0).to(labels.dtype)
    return float((predicted == labels).to(dtype).mean())


@dataclass(frozen=True)
class ElboGradient:
    """Per-sample estimates of the gradient of the ELBO (to be *maximised*).

    Attributes:
        loc: ∂L/∂μ per sample, shape ``(N, D)``; the estimate is the mean over dim 0.
        log_scale: ∂L/∂ρ per sample, shape ``(N, D)``.
        cost: the mean of f over N draws from q (the first evaluation each estimator
            makes), a Monte Carlo estimate of E_q[f]; a scalar, for the moving-average
            baseline and for progress reports.
    """

    loc: Tensor
    log_scale: Tensor
    cost: Tensor


def delta_method_gradient(
    cost: Callable[[Tensor], Tensor],
    features: Tensor,
    labels: Tensor,
    loc: Tensor,
    scale: Tensor,
    num_samples: int,
    *,
    generator: torch.Generator | None = None,
    dataset_size: int | None = None,
) -> dict[str, Tensor]:
    """Score-function gradient of E_q[f], delta-method control variate.

    The control variate is the second-order Taylor expansion of f about the
    current mean μ̂ (held fixed),
    h(w) = f(μ̂) + gᵀ(w − μ̂) + ½ (w − μ̂)ᵀ H (w − μ̂),
    with g and H the gradient and Hessian of f at μ̂. Under q = N(μ, diag σ²)
    its expectation is known,
    E_q[h] = f(μ̂) + gᵀ(μ − μ̂) + ½ (μ − μ̂)ᵀH(μ − μ̂) + ½ Σ_d H_dd σ_d²,
    so at μ = μ̂, ∇_μ E_q[h] = g and ∂E_q[h]/∂σ_d = H_dd σ_d. The per-sample
    estimate is (f(w) − h(w)) ∇ log q(w) + ∇E_q[h] (coefficient 1 on the
    control variate). For the logistic cost, with pᵢ = sigmoid(xᵢᵀμ̂) and
    c = n/B: g = −c Σᵢ (yᵢ − pᵢ) xᵢ and H = c Σᵢ pᵢ(1 − pᵢ) xᵢ xᵢᵀ.

    Args:
        cost: f, from :func:`negative_log_likelihood_cost` on the same
            minibatch.
        features, labels: the minibatch, shapes ``(B, D)`` and ``(B,)``.
        loc: μ, shape ``(D,)``; scale: σ, shape ``(D,)``.
        num_samples: N.
        generator: source of the draws.
        dataset_size: n (default B).

    Returns:
        ``{"loc": (N, D), "scale": (N, D)}`` per-sample gradients of E_q[f].
    """
    _check_data(features, labels)
    batch = features.shape[0]
    factor = (batch if dataset_size is None else dataset_size) / batch
    centre = loc.detach()
    with torch.no_grad():
        y = labels.to(centre.dtype)
        p = torch.sigmoid(features @ centre)
        f0 = -factor * log_likelihood(centre, features, labels)
        g = -factor * ((y - p) @ features)  # (D,)
        curvature = factor * p * (1 - p)  # (B,): H = Σᵢ curvatureᵢ xᵢ xᵢᵀ
        h_diag = curvature @ features.square()  # (D,)

    def residual(w: Tensor) -> Tensor:
        delta = w - centre  # (N, D)
        projected = delta @ features.T  # (N, B)
        quadratic = (projected.square() * curvature).sum(dim=-1)
        taylor = f0 + delta @ g + 0.5 * quadratic
        return cost(w) - taylor

    params = {"loc": loc, "scale": scale}
    grads = score_function_gradient(
        residual,
        NORMAL,
        params,
        num_samples,
        generator=generator,
    )
    grad_scale = grads["scale"] + h_diag * scale.detach()
    return {"loc": grads["loc"] + g, "scale": grad_scale}


def measure_valued_factorized_gradient(
    cost: Callable[[Tensor], Tensor],
    loc: Tensor,
    scale: Tensor,
    num_samples: int,
    *,
    generator: torch.Generator | None = None,
) -> dict[str, Tensor]:
    """Measure-valued gradient of E_q[f(w)]: factorised q, coupled cost.

    Since q factorises, ∂E_q[f]/∂μ_d = E_{w₋d}[∂/∂μ_d E_{w_d}[f(w)]]: draw
    the other coordinates w₋d ~ q once per sample, and apply the
    one-dimensional measure-valued estimator with coupling
    (:func:`reparam.estimators.measure_valued_gradient`) to
    w_d ↦ f(w₋d, w_d), for every d at once: entry (n, d) of the cost passed
    to it replaces coordinate d of the n-th base draw. It costs 4·D
    evaluations of f per sample.

    Args:
        cost: f, ``(N, D) -> (N,)`` (any shape ``(..., D) -> (...)``).
        loc: μ, shape ``(D,)``; scale: σ, shape ``(D,)``.
        num_samples: N.
        generator: source of the draws.

    Returns:
        ``{"loc": (N, D), "scale": (N, D)}`` per-sample gradients of E_q[f].
    """
    num_samples = check_num_samples(num_samples)
    check_generator(generator)
    mu, sigma = loc.detach(), scale.detach()
    dim = mu.shape[0]
    eps = standard_normal(
        (num_samples, dim),
        generator=generator,
        dtype=mu.dtype,
        device=mu.device,
    )
    base = mu + sigma * eps  # (N, D): the other coordinates of each sample
    with torch.no_grad():
        # evaluate once at draws from q: a recording cost sees E_q[f] first
        cost(base)
    eye = torch.eye(dim, dtype=torch.bool, device=mu.device)

    def coordinatewise(x: Tensor) -> Tensor:
        # x: (N, D); row n of the result holds f(base_n with coordinate d
        # replaced by x[n, d]).
        # (N, D, D)
        embedded = torch.where(eye, x.unsqueeze(-1), base.unsqueeze(1))
        return cost(embedded)  # (N, D)

    params = {"loc": mu, "scale": sigma}
    return measure_valued_gradient(
        coordinatewise,
        NORMAL,
        params,
        num_samples,
        generator=generator,
    )


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
    baseline: Tensor | float | None = None,
) -> ElboGradient:
    """Per-sample estimates of ∇_{(μ, ρ)} L for one of the five estimators.

    The expected cost's gradient comes from the chosen estimator; the KL term's gradient,
    ∂KL/∂μ = μ and ∂KL/∂ρ = σ² − 1, is exact and added to every sample. The chain rule
    turns gradients with respect to σ into gradients with respect to ρ = log σ
    (∂/∂ρ = σ ∂/∂σ).

    Args:
        method: one of :data:`METHODS`.
        loc: μ, shape ``(D,)``; log_scale: ρ, shape ``(D,)``.
        features, labels: the minibatch, shapes ``(B, D)`` and ``(B,)``.
        num_samples: N draws per step (each per-sample estimate uses one draw; the
            measure-valued one evaluates f 4·D times per draw).
        generator: source of the draws.
        dataset_size: n (default B).
        baseline: the constant subtracted from f by ``"score_function_baseline"`` (e.g. a
            :class:`reparam.book.training.MovingAverage` of past mean costs); ``None`` = 0.

    Returns:
        An :class:`ElboGradient` of per-sample gradients, each ``(N, D)``.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    _check_data(features, labels)
    _check_params(loc, log_scale, features.shape[1])
    if baseline is not None and method != "score_function_baseline":
        raise ValueError(
            f"baseline must be None for method {method!r}: it applies to "
            "'score_function_baseline' only"
        )
    base_cost = negative_log_likelihood_cost(features, labels, dataset_size)
    seen: list[Tensor] = []

    def cost(w: Tensor) -> Tensor:
        out = base_cost(w)
        seen.append(out.detach().mean())
        return out

    mu, sigma = loc.detach(), log_scale.detach().exp()
    params = {"loc": mu, "scale": sigma}
    if method == "pathwise":
        grads = pathwise_gradient(cost, NORMAL, params, num_samples, generator=generator)
    elif method == "score_function":
        grads = score_function_gradient(cost, NORMAL, params, num_samples, generator=generator)
    elif method == "score_function_baseline":
        grads = score_function_gradient(
            cost, NORMAL, params, num_samples, generator=generator, baseline=baseline
        )
    elif method == "delta_method":
        grads = delta_method_gradient(
            cost,
            features,
            labels,
            mu,
            sigma,
            num_samples,
            generator=generator,
            dataset_size=dataset_size,
        )
    else:
        grads = measure_valued_factorized_gradient(
            cost, mu, sigma, num_samples, generator=generator
        )
    grad_loc = -grads["loc"] - mu
    grad_log_scale = -grads["scale"] * sigma - (sigma.square() - 1)
    mean_cost = seen[0] if seen else torch.zeros((), dtype=mu.dtype, device=mu.device)
    return ElboGradient(grad_loc, grad_log_scale, mean_cost)


def gradient_variance(
    method: Method,
    loc: Tensor,
    log_scale: Tensor,
    features: Tensor,
    labels: Tensor,
    num_samples: int,
    *,
    generator: torch.Generator | None = None,
    baseline: Tensor | float | None = None,
) -> tuple[Tensor, Tensor]:
    """Per-parameter variance of a single-sample estimate of ∇L on fixed data.

    Draws ``num_samples`` independent per-sample gradients on the whole of ``features``
    (no minibatch noise: only the estimator's own Monte Carlo noise is measured) and
    returns their sample variances. Divide by N for the variance of an N-sample average.

    Returns:
        ``(var_loc, var_log_scale)``, each of shape ``(D,)``.
    """
    num_samples = check_num_samples(num_samples)
    if num_samples < 2:
        raise ValueError(
            f"num_samples must be at least 2 to estimate a variance, got {num_samples}"
        )
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


@dataclass
class LogisticFit:
    """The record of one :func:`fit`.

    Attributes:
        method: the estimator.
        loc: the final variational mean, shape ``(D,)``.
        log_scale: the final variational log-scale, shape ``(D,)``.
        steps: the steps at which the record was taken (0 = before training).
        elbo: ELBO of the whole training set at those steps (``elbo_samples`` draws).
        accuracy: held-out accuracy of the posterior-mean classifier.
        variance_loc: per-parameter variance of a single-sample gradient estimate of
            the mean on the whole training set, shape ``(len(steps), D)``.
        variance_log_scale: the same for the log-scale.
        seconds: time spent training (recording excluded).
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
    elbo_samples: int = 100,
    variance_samples: int = 100,
    generator: torch.Generator,
    progress: bool | None = None,
) -> LogisticFit:
    """Variational Bayesian logistic regression by SGD, as in Mohamed et al. (2020), §8.3.

    Starts from μ = 0, ρ = log σ = 0; each step draws a minibatch of ``batch_size``
    training points, estimates ∇L with ``num_samples`` draws of w, and takes an SGD step
    with learning rate ``learning_rate`` · ½(1 + cos(π t / T)) (cosine decay). The ELBO is
    that of the whole training set (the minibatch rescaled by n/B).

    Args:
        method: one of :data:`METHODS`.
        data: a :class:`reparam.book.data.DataSplit` from
            :func:`reparam.book.data.load_breast_cancer` (targets in {0, 1}).
        num_steps: T.
        batch_size, num_samples, learning_rate: as above.
        baseline_decay: decay of the moving-average baseline (``score_function_baseline``).
        record_every: steps between records.
        elbo_samples: draws for each recorded ELBO.
        variance_samples: per-sample gradients for each recorded variance.
        generator: one seeded generator; minibatch order, training noise and recording
            noise come from generators seeded from it, so recording does not change training.
        progress: show a progress bar (default: only in a terminal).

    Returns:
        A :class:`LogisticFit`.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    if not isinstance(data, DataSplit):
        raise TypeError(f"data must be a reparam.book.data.DataSplit, got {type(data).__name__}")
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    learning_rate = check_real(learning_rate, "learning_rate", positive=True)
    check_num_samples(record_every, "record_every")
    train_x, train_y = data.train_inputs, data.train_targets
    _check_data(train_x, train_y)
    num_train, dim = train_x.shape
    seeds = torch.randint(0, 2**62, (3,), generator=generator, device=generator.device).tolist()
    batch_gen, noise_gen, record_gen = (
        torch.Generator(generator.device).manual_seed(seed) for seed in seeds
    )
    loc = torch.zeros(dim, dtype=train_x.dtype, device=train_x.device, requires_grad=True)
    log_scale = torch.zeros_like(loc, requires_grad=True)
    optimizer = torch.optim.SGD([loc, log_scale], lr=learning_rate)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, cosine_decay(num_steps))
    average = MovingAverage(baseline_decay)
    result = LogisticFit(method, loc.detach(), log_scale.detach())

    done = [0]

    def record() -> float:
        with torch.no_grad():
            value = float(
                elbo(loc, log_scale, train_x, train_y, elbo_samples, generator=record_gen)
            )
            result.steps.append(done[0])
            result.elbo.append(value)
            result.accuracy.append(accuracy(loc, data.test_inputs, data.test_targets))
        var_loc, var_log_scale = gradient_variance(
            method,
            loc.detach(),
            log_scale.detach(),
            train_x,
            train_y,
            variance_samples,
            generator=record_gen,
            baseline=average.value if method == "score_function_baseline" else None,
        )
        result.variance_loc.append(var_loc)
        result.variance_log_scale.append(var_log_scale)
        return value

    def step(indices: Tensor) -> float:
        idx = indices.to(train_x.device)
        grads = elbo_gradient(
            method,
            loc.detach(),
            log_scale.detach(),
            train_x[idx],
            train_y[idx],
            num_samples,
            generator=noise_gen,
            dataset_size=num_train,
            baseline=average.value if method == "score_function_baseline" else None,
        )
        loc.grad = -grads.loc.mean(dim=0)  # minimise −L
        log_scale.grad = -grads.log_scale.mean(dim=0)
        average.update(grads.cost)
        done[0] += 1
        kl = kl_to_standard_normal(loc.detach(), log_scale.detach().exp())
        return float(-grads.cost - kl)

    history = train(
        step,
        optimizer,
        num_train,
        num_steps=num_steps,
        batch_size=batch_size,
        generator=batch_gen,
        evaluate=record,
        eval_every=record_every,
        scheduler=scheduler,
        progress=progress,
    )
    result.seconds = history.train_seconds
    result.loc, result.log_scale = loc.detach().clone(), log_scale.detach().clone()
    return result
