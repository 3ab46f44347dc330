"""A small Bayesian neural network whose minibatches draw their weights in four ways.

Book chapter "Gaussians at scale" (section "A Bayesian neural network"). A multilayer
perceptron with ReLU hidden layers; every weight matrix has a factorised Gaussian posterior
q(W) = N(M, S²) elementwise with S = softplus(ρ), every bias is a plain parameter, the prior
is N(0, prior_scale²) on each weight and the likelihood is categorical. Each layer is
:func:`reparam.weights.linear`, so ``method`` decides how a minibatch draws its weights:
``"shared"``, ``"per_example"``, ``"local"`` (Kingma, Salimans & Welling, NIPS 2015) or
``"flipout"`` (Wen et al., ICLR 2018).

The training objective is the minibatch estimate of the negative ELBO,

    −(n/B) Σ_{i in batch} log p(yᵢ | xᵢ, W⁽ⁱ⁾) + KL(q ‖ p),

for a data set of n examples, unbiased for the full-data negative ELBO when the B examples
are drawn uniformly; the KL of
two factorised Gaussians is exact. :func:`gradient_draws` returns independent draws of its
gradient for the chapter's variance measurements.

Shapes: inputs ``(B, in_features)``, integer class labels ``(B,)``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from reparam._validation import (
    check_choice,
    check_count,
    check_finite,
    check_floating_dtype,
    check_generator,
    check_instance,
    check_real,
    check_tensor,
)
from reparam.book.optim import Adam
from reparam.book.training import TrainingHistory, train
from reparam.normal import kl_to_standard_normal
from reparam.weights import METHODS, Method, linear

__all__ = [
    "BayesianLayer",
    "fit",
    "gradient_draws",
    "init_mlp",
    "kl_to_prior",
    "logits",
    "negative_elbo",
    "parameters",
    "predictive_accuracy",
    "total_variance",
]


@dataclass(frozen=True)
class BayesianLayer:
    """One layer's variational parameters (leaf tensors that require gradients).

    Attributes:
        weight_loc: M, ``(out_features, in_features)``.
        weight_raw_scale: ρ, ``(out_features, in_features)``; the scale is softplus(ρ).
        bias: ``(out_features,)``, a point estimate.
    """

    weight_loc: Tensor
    weight_raw_scale: Tensor
    bias: Tensor

    @property
    def weight_scale(self) -> Tensor:
        """S = softplus(ρ) > 0, ``(out_features, in_features)``."""
        return F.softplus(self.weight_raw_scale)


def init_mlp(
    sizes: Sequence[int],
    *,
    generator: torch.Generator,
    init_scale: float = 0.01,
    dtype: torch.dtype | None = None,
) -> list[BayesianLayer]:
    """A network of ``len(sizes) - 1`` layers with M ~ N(0, 1/fan_in) and S = ``init_scale``.

    Args:
        sizes: at least two positive layer widths (inputs first, classes last).
        generator: source of the initial means (on the CPU).
        init_scale: every weight's initial posterior standard deviation, > 0.
        dtype: floating dtype (default: torch's default dtype).

    Returns:
        One :class:`BayesianLayer` per weight matrix, zero biases.
    """
    widths = list(sizes) if isinstance(sizes, Sequence) and not isinstance(sizes, str) else None
    if widths is None or len(widths) < 2:
        raise ValueError(f"sizes must list at least two layer widths, got {sizes!r}")
    widths = [check_count(width, f"sizes[{i}]") for i, width in enumerate(widths)]
    check_instance(generator, "generator", torch.Generator, "a torch.Generator")
    scale = check_real(init_scale, "init_scale", positive=True)
    dtype = check_floating_dtype(dtype)
    raw = scale + math.log(-math.expm1(-scale))  # softplus⁻¹(scale), stable for any scale
    layers = []
    for fan_in, fan_out in itertools.pairwise(widths):
        noise = torch.randn(fan_out, fan_in, generator=generator, dtype=dtype)
        loc = noise / math.sqrt(fan_in)
        layers.append(
            BayesianLayer(
                loc.requires_grad_(),
                torch.full((fan_out, fan_in), raw, dtype=dtype).requires_grad_(),
                torch.zeros(fan_out, dtype=dtype).requires_grad_(),
            )
        )
    return layers


def parameters(layers: Sequence[BayesianLayer]) -> list[Tensor]:
    """Every trainable tensor, layer by layer: M, ρ, bias."""
    _check_layers(layers)
    return [p for layer in layers for p in (layer.weight_loc, layer.weight_raw_scale, layer.bias)]


def _check_layers(layers: object) -> list[BayesianLayer]:
    if not isinstance(layers, Sequence) or not layers:
        raise ValueError("layers must be a non-empty sequence of BayesianLayer")
    for i, layer in enumerate(layers):
        check_instance(layer, f"layers[{i}]", BayesianLayer, "a BayesianLayer")
    return list(layers)


def _check_method(method: object) -> Method:
    result: Method = check_choice(method, "method", METHODS)
    return result


def logits(
    layers: Sequence[BayesianLayer],
    inputs: Tensor,
    *,
    method: Method = "local",
    generator: torch.Generator | None = None,
) -> Tensor:
    """One draw of the network's class scores for every example, ``(B, classes)``.

    Each layer draws its weights by ``method`` (see :mod:`reparam.weights`); ReLU between
    layers. Every example sees its own weights except with ``"shared"``.
    """
    layers = _check_layers(layers)
    method = _check_method(method)
    hidden = inputs
    for index, layer in enumerate(layers):
        hidden = linear(
            hidden,
            layer.weight_loc,
            layer.weight_scale,
            layer.bias,
            method=method,
            generator=generator,
        )
        if index < len(layers) - 1:
            hidden = torch.relu(hidden)
    return hidden


def kl_to_prior(layers: Sequence[BayesianLayer], prior_scale: float = 1.0) -> Tensor:
    """KL(q ‖ p) for all weights, p = N(0, prior_scale²) each, in closed form (a 0-d tensor)."""
    layers = _check_layers(layers)
    prior = check_real(prior_scale, "prior_scale", positive=True)
    # KL(N(m, s²) ‖ N(0, τ²)) = KL(N(m/τ, (s/τ)²) ‖ N(0, 1))
    terms = [
        kl_to_standard_normal(layer.weight_loc / prior, layer.weight_scale / prior).sum()
        for layer in layers
    ]
    return torch.stack(terms).sum()


def _check_batch(inputs: object, targets: object) -> tuple[Tensor, Tensor]:
    x = check_tensor(inputs, "inputs", floating=True)
    y = check_tensor(targets, "targets")
    if x.dim() != 2 or x.shape[0] == 0:
        raise ValueError(f"inputs must have shape (B, in_features), B >= 1, got {tuple(x.shape)}")
    if y.shape != x.shape[:1] or y.dtype != torch.int64:
        raise ValueError(
            f"targets must be int64 class labels of shape ({x.shape[0]},), "
            f"got {y.dtype} of shape {tuple(y.shape)}"
        )
    return x, y


def negative_elbo(
    layers: Sequence[BayesianLayer],
    inputs: Tensor,
    targets: Tensor,
    *,
    num_data: int,
    prior_scale: float = 1.0,
    method: Method = "local",
    generator: torch.Generator | None = None,
) -> Tensor:
    """The minibatch estimate of the negative ELBO (a 0-d tensor, differentiable).

    Args:
        layers: the network (see :func:`init_mlp`).
        inputs: the minibatch, ``(B, in_features)``.
        targets: its class labels, int64 ``(B,)``, each below the last layer's width.
        num_data: n, the size of the data set the minibatch was drawn from.
        prior_scale: the prior's standard deviation, > 0.
        method: how the minibatch draws its weights.
        generator: source of the weight noise.

    Returns:
        −(n/B) Σᵢ log p(yᵢ | xᵢ, W⁽ⁱ⁾) + KL(q ‖ p).
    """
    x, y = _check_batch(inputs, targets)
    num_data = check_count(num_data, "num_data")
    classes = _check_layers(layers)[-1].bias.shape[0]
    if bool(((y < 0) | (y >= classes)).any()):
        raise ValueError(f"targets must be class labels in 0..{classes - 1}")
    scores = logits(layers, x, method=method, generator=generator)
    log_likelihood = -F.cross_entropy(scores, y, reduction="sum")
    return -(num_data / x.shape[0]) * log_likelihood + kl_to_prior(layers, prior_scale)


def gradient_draws(
    layers: Sequence[BayesianLayer],
    inputs: Tensor,
    targets: Tensor,
    *,
    batch_size: int | None,
    num_draws: int,
    method: Method,
    generator: torch.Generator,
    prior_scale: float = 1.0,
    layer: int = 0,
) -> dict[str, Tensor]:
    """Independent draws of the minibatch gradient of :func:`negative_elbo` for one layer.

    Each draw picks ``batch_size`` examples uniformly *with replacement* (so the draws of a
    minibatch are independent and the variance formulas of the chapter are exact) and fresh
    weight noise, and differentiates the estimate with respect to the layer's M and ρ.

    Args:
        layers: the network.
        inputs: the whole data set, ``(n, in_features)``.
        targets: its labels, int64 ``(n,)``.
        batch_size: B; ``None`` takes every example once (the full-data gradient under one
            weight draw, whose variance is the weight noise's alone).
        num_draws: how many gradients, at least 2.
        method: how each minibatch draws its weights.
        generator: source of the minibatches and the noise.
        prior_scale: as in :func:`negative_elbo`.
        layer: which layer's gradients (0 = the first).

    Returns:
        ``{"weight_loc": (num_draws, out·in), "weight_raw_scale": (num_draws, out·in)}``.
    """
    layers = _check_layers(layers)
    x, y = _check_batch(inputs, targets)
    check_generator(generator)
    num_draws = check_count(num_draws, "num_draws", minimum=2)
    index = check_count(layer, "layer", minimum=0, maximum=len(layers) - 1)
    num_data = x.shape[0]
    if batch_size is not None:
        batch_size = check_count(batch_size, "batch_size")
    chosen = (layers[index].weight_loc, layers[index].weight_raw_scale)
    draws: list[list[Tensor]] = [[], []]
    for _ in range(num_draws):
        if batch_size is None:
            rows = torch.arange(num_data, device=x.device)
        else:
            where = generator.device  # draw where the generator lives, use where x is
            picks = torch.randint(0, num_data, (batch_size,), generator=generator, device=where)
            rows = picks.to(x.device)
        loss = negative_elbo(
            layers,
            x[rows],
            y[rows],
            num_data=num_data,
            prior_scale=prior_scale,
            method=method,
            generator=generator,
        )
        for store, grad in zip(draws, torch.autograd.grad(loss, chosen), strict=True):
            store.append(grad.flatten())
    return {
        "weight_loc": torch.stack(draws[0]),
        "weight_raw_scale": torch.stack(draws[1]),
    }


def total_variance(draws: Tensor) -> tuple[float, float]:
    """The trace of the covariance of vector draws, and its standard error.

    With Tᵣ = ‖gᵣ − ḡ‖² for R independent draws gᵣ, Σᵣ Tᵣ / (R − 1) is unbiased for
    tr Cov[g] (the total variance), and its standard error is estimated from the spread of
    the Tᵣ themselves, std(T) · √R / (R − 1), which stays honest when the draws are
    heavy-tailed (the Gaussian formula tr Cov · √(2 / (R − 1)) does not).

    Args:
        draws: ``(R, P)``, R ≥ 2 draws of a P-vector, finite.

    Returns:
        ``(total variance, its standard error)`` as Python floats.
    """
    values = check_tensor(draws, "draws", floating=True)
    if values.dim() != 2 or values.shape[0] < 2:
        raise ValueError(f"draws must have shape (R, P) with R >= 2, got {tuple(values.shape)}")
    check_finite(values, "draws")
    count = values.shape[0]
    spread = (values - values.mean(0)).square().sum(-1)  # Tᵣ
    estimate = spread.sum() / (count - 1)
    error = spread.std() * math.sqrt(count) / (count - 1)
    return float(estimate), float(error)


def predictive_accuracy(
    layers: Sequence[BayesianLayer],
    inputs: Tensor,
    targets: Tensor,
    *,
    num_draws: int,
    generator: torch.Generator,
) -> float:
    """Accuracy of the posterior predictive: class probabilities averaged over weight draws.

    Each draw gives every example its own weights, by local reparameterization.
    """
    x, y = _check_batch(inputs, targets)
    num_draws = check_count(num_draws, "num_draws")
    check_generator(generator)
    with torch.no_grad():
        probabilities = torch.zeros((), dtype=x.dtype, device=x.device)
        for _ in range(num_draws):
            draw = logits(layers, x, method="local", generator=generator)
            probabilities = probabilities + F.softmax(draw, dim=-1)
        return float((probabilities.argmax(-1) == y).to(torch.float64).mean())


def fit(
    layers: Sequence[BayesianLayer],
    inputs: Tensor,
    targets: Tensor,
    *,
    method: Method,
    num_steps: int,
    batch_size: int,
    lr: float,
    generator: torch.Generator,
    prior_scale: float = 1.0,
) -> TrainingHistory:
    """Minimise :func:`negative_elbo` with Adam on reshuffled minibatches (in place).

    Args:
        layers: the network; its tensors are updated.
        inputs: the training data, ``(n, in_features)``.
        targets: its labels, int64 ``(n,)``.
        method: how each minibatch draws its weights.
        num_steps: optimisation steps.
        batch_size: B.
        lr: Adam's learning rate.
        generator: source of the minibatch order and the weight noise.
        prior_scale: as in :func:`negative_elbo`.

    Returns:
        The :class:`reparam.book.training.TrainingHistory` (``values``: each step's
        minibatch estimate of the negative ELBO).
    """
    layers = _check_layers(layers)
    x, y = _check_batch(inputs, targets)
    method = _check_method(method)
    optimizer = Adam(parameters(layers), lr=lr)

    def step(rows: Tensor) -> float:
        loss = negative_elbo(
            layers,
            x[rows],
            y[rows],
            num_data=x.shape[0],
            prior_scale=prior_scale,
            method=method,
            generator=generator,
        )
        loss.backward()
        return float(loss.detach())

    return train(
        step,
        optimizer,
        x.shape[0],
        num_steps=num_steps,
        batch_size=batch_size,
        generator=generator,
    )
