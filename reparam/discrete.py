"""Discrete random variables: Gumbel-max, the Concrete relaxation and straight-through.

Book chapter: "Discrete variables" (``chapter-discrete``). A discrete sample has no
differentiable sampling path: the Bernoulli path b = 1[u < p] is a step function of p whose
derivative is zero almost everywhere, and the Gumbel-max path one_hot(argmax(logits + g))
is piecewise constant in the logits. This module provides

- noise: :func:`sample_gumbel` and :func:`sample_logistic`, always finite, from uniforms
  on the *open* unit interval (:func:`reparam.noise.open_uniform`);
- exact discrete sampling: :func:`gumbel_max_sample` (Gumbel-max trick) and the
  :class:`Reparameterization` paths :data:`BERNOULLI` (step function) and
  :data:`CATEGORICAL` (Gumbel-max), whose pathwise gradient is the almost-everywhere
  derivative, zero;
- the Concrete / Gumbel-softmax relaxation (Maddison, Mnih & Teh, 2017; Jang, Gu & Poole,
  2017): :class:`RelaxedCategorical` y = softmax((logits + g) / τ), computed in log space,
  and :class:`RelaxedBernoulli` (the binary Concrete) y = σ((logit p − logit u) / τ);
- sampling without replacement: :func:`gumbel_top_k_sample` (the Gumbel-top-k trick, Kool,
  van Hoof & Welling, 2019), the probability of an ordered sample
  (:func:`ordered_sample_log_prob`) and exact inclusion probabilities
  (:func:`inclusion_probabilities`);
- straight-through estimators: :class:`StraightThroughCategorical` and
  :class:`StraightThroughBernoulli` return the exact hard sample in the forward pass and
  back-propagate the gradient of a surrogate (the relaxed sample, or p itself).

Every class is a :class:`~reparam.reparameterization.Reparameterization`, so the shared
estimators of :mod:`reparam.estimators` (pathwise, score function) accept them. Shapes:
Bernoulli draws have shape ``(num_samples, *batch_shape)``; categorical draws are one-hot
(or relaxed one-hot) vectors of shape ``(num_samples, *batch_shape, K)`` where ``K`` is the
last dimension of ``logits``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from reparam._validation import (
    as_tensors,
    check_broadcast,
    check_count,
    check_finite,
    check_generator,
    check_in_interval,
    check_num_samples,
    check_real,
    check_tensor,
    check_values,
    describe,
)
from reparam.noise import open_uniform
from reparam.reparameterization import Parameter, Reparameterization, open_unit_interval

__all__ = [
    "BERNOULLI",
    "CATEGORICAL",
    "MAX_ORDERED_TUPLES",
    "BernoulliStep",
    "GumbelMaxCategorical",
    "RelaxedBernoulli",
    "RelaxedCategorical",
    "StraightThroughBernoulli",
    "StraightThroughCategorical",
    "bernoulli_log_prob",
    "categorical_log_prob",
    "check_temperature",
    "gumbel_max_sample",
    "gumbel_top_k_sample",
    "hard_one_hot",
    "heaviside",
    "inclusion_probabilities",
    "logits_vector",
    "ordered_sample_log_prob",
    "relaxed_bernoulli_sample",
    "relaxed_one_hot_sample",
    "sample_gumbel",
    "sample_logistic",
    "straight_through",
]


# -- noise ---------------------------------------------------------------------------------
def sample_gumbel(
    shape: tuple[int, ...],
    *,
    generator: torch.Generator | None = None,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    """Draw standard Gumbel noise g = −log(−log u), u ~ U(0, 1) open; always finite.

    The standard Gumbel distribution has CDF exp(−e^{−g}); book section "The Gumbel-max
    trick". Shape, dtype and device as in :func:`reparam.noise.open_uniform`.
    """
    u = open_uniform(shape, generator=generator, dtype=dtype, device=device)
    return -torch.log(-torch.log(u))


def sample_logistic(
    shape: tuple[int, ...],
    *,
    generator: torch.Generator | None = None,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    """Draw standard logistic noise l = log u − log(1 − u), u ~ U(0, 1) open; always finite.

    The difference of two independent standard Gumbels has this distribution, which is why
    the binary Concrete needs one logistic draw instead of two Gumbels. Shape, dtype and
    device as in :func:`reparam.noise.open_uniform`.
    """
    u = open_uniform(shape, generator=generator, dtype=dtype, device=device)
    return torch.log(u) - torch.log1p(-u)


# -- validation --------------------------------------------------------------------------
def check_temperature(temperature: Any, name: str = "temperature") -> float:
    """Return ``temperature`` as a float after checking it is a finite number > 0.

    Python and NumPy numbers are accepted; tensors are not (a temperature is a fixed
    hyperparameter here: a tensor's gradient would be silently dropped).
    """
    if isinstance(temperature, Tensor):
        raise TypeError(
            f"{name} must be a float (a Python or NumPy number), got a Tensor; "
            "pass float(temperature) if it is not to be learned"
        )
    return check_real(temperature, name, positive=True)


def _check_positional_misuse(instance: Reparameterization) -> None:
    """Catch ``RelaxedBernoulli(0.5)``, which would set the name, not the temperature."""
    if not isinstance(instance.name, str):
        cls = type(instance).__name__
        raise TypeError(
            f"{cls} takes the temperature by keyword, e.g. {cls}(temperature=0.5); "
            f"got a positional {type(instance.name).__name__} for its name"
        )


def logits_vector(value: Tensor, name: str) -> None:
    """Constraint for categorical logits: finite, at least one dimension, K ≥ 2 categories.

    The categories run along the last dimension; earlier dimensions are batch dimensions.
    """
    if value.dim() == 0:
        raise ValueError(
            f"{name} must have a last dimension indexing the categories, got a 0-d tensor"
        )
    if value.shape[-1] < 2:
        raise ValueError(
            f"{name} must have at least 2 categories along its last dimension, "
            f"got shape {tuple(value.shape)}"
        )
    check_finite(value, name)


# -- differentiable building blocks -----------------------------------------------------
class _Step(torch.autograd.Function):
    """1[x > 0] with its almost-everywhere derivative, zero."""

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> Tensor:
        return torch.zeros_like(grad_output)


class _HardOneHot(torch.autograd.Function):
    """one_hot(argmax(x)) along the last dimension, with its a.e. derivative, zero."""

    @staticmethod
    def forward(ctx: Any, scores: Tensor) -> Tensor:
        index = scores.argmax(dim=-1)
        return torch.nn.functional.one_hot(index, scores.shape[-1]).to(scores.dtype)

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> Tensor:
        return torch.zeros_like(grad_output)


class _StraightThrough(torch.autograd.Function):
    """Forward: ``hard``, exactly. Backward: the incoming gradient goes to ``soft``."""

    @staticmethod
    def forward(ctx: Any, hard: Tensor, soft: Tensor) -> Tensor:
        return hard.clone()

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> tuple[None, Tensor]:
        return None, grad_output


def heaviside(x: Tensor) -> Tensor:
    """The step function 1[x > 0], elementwise, with derivative defined as zero.

    Zero is the derivative of the step everywhere except at x = 0, a set of probability
    zero under continuous noise: so autograd through :func:`heaviside` computes the
    *pathwise* derivative of a discrete sample, which the book shows is useless. Book
    section "Why the trick fails for discrete variables".

    Returns:
        Tensor of ``x``'s shape and dtype with entries 0 or 1.
    """
    check_tensor(x, "x", floating=True)
    result: Tensor = _Step.apply(x)
    return result


def hard_one_hot(scores: Tensor) -> Tensor:
    """One-hot vector of the argmax of ``scores`` along the last dimension; zero derivative.

    Args:
        scores: shape ``(..., K)``, floating.

    Returns:
        Tensor of the same shape and dtype, one-hot along the last dimension. Its derivative
        with respect to ``scores`` is zero (the a.e. derivative of a piecewise-constant map).
    """
    check_tensor(scores, "scores", floating=True)
    logits_vector(scores, "scores")
    result: Tensor = _HardOneHot.apply(scores)
    return result


def straight_through(hard: Tensor, soft: Tensor) -> Tensor:
    """Straight-through: the value of ``hard``, the gradient of ``soft``.

    The forward value is exactly ``hard`` (not ``hard + soft − soft``, which
    is off by rounding); in the backward pass the incoming gradient is passed
    to ``soft`` unchanged, as if d hard / d soft were the identity. Book
    section "Straight-through estimators".

    Args:
        hard: the discrete value used in the forward pass (gradients to it
            are dropped).
        soft: the differentiable surrogate; broadcast against ``hard``.

    Returns:
        Tensor of the broadcast shape of ``hard`` and ``soft``.
    """
    check_tensor(hard, "hard")
    check_tensor(soft, "soft")
    shape = check_broadcast(hard=hard.shape, soft=soft.shape)
    result: Tensor = _StraightThrough.apply(
        hard.detach().to(soft.dtype).expand(shape), soft.expand(shape)
    )
    return result


# -- log-probabilities -------------------------------------------------------------------
def bernoulli_log_prob(value: Tensor, probs: Tensor | float) -> Tensor:
    """log p(b) = b log p + (1 − b) log(1 − p) for b in {0, 1}; shapes broadcast.

    As ``scipy.stats.bernoulli.logpmf``: ``probs`` may be 0 or 1 (0 · log 0 = 0, so a
    certain outcome has log-probability 0 and the impossible one −inf), and a ``value``
    outside {0, 1} has log-probability −inf. ``value`` may be a floating, integer or boolean
    tensor; ``probs`` a tensor or a Python or NumPy number, in [0, 1] (``ValueError``
    otherwise). Returns the broadcast shape, in the dtype torch's type promotion gives the
    two (a Python number takes ``value``'s floating dtype).
    """
    promoted = as_tensors({"value": value, "probs": probs}, cast=True)
    value_t, probs_t = promoted["value"], promoted["probs"]
    check_in_interval(probs_t, "probs", 0.0, 1.0, closed=True)
    check_broadcast(value=value_t.shape, probs=probs_t.shape)
    log_p = torch.xlogy(value_t, probs_t) + torch.special.xlog1py(1 - value_t, -probs_t)
    binary = (value_t == 0) | (value_t == 1)
    return torch.where(binary, log_p, -math.inf)


def categorical_log_prob(value: Tensor, logits: Tensor) -> Tensor:
    """log p(value) for a one-hot ``value`` of shape ``(..., K)``: Σ_k value_k log π_k.

    π = softmax(logits). As ``torch.distributions.Categorical``: a logit may be −inf (a
    category of probability 0: log-probability −inf if ``value`` picks it, no effect
    otherwise); NaN and +inf logits are a ``ValueError``, and so is a row of logits with no
    finite entry. A ``value`` that is not one-hot (entries 0 or 1 summing to 1) has
    log-probability −inf (as ``scipy.stats.multinomial(1, π).logpmf``). Integer and boolean
    tensors are promoted to floating point. Returns shape ``(...)`` (the broadcast batch
    shape).
    """
    promoted = as_tensors({"value": value, "logits": logits}, cast=True)
    value_t, logits_t = promoted["value"], promoted["logits"]
    for name, t in promoted.items():
        if t.dim() == 0:
            raise ValueError(
                f"{name} must have a last dimension indexing the categories, got a 0-d tensor"
            )
    check_values(
        logits_t, "logits", "be finite or -inf", lambda t: ~torch.isnan(t) & (t < math.inf)
    )
    check_values(
        logits_t,
        "logits",
        "have at least one finite entry along the last dimension",
        lambda t: torch.isfinite(t).any(dim=-1, keepdim=True).expand_as(t),
    )
    if value_t.shape[-1] != logits_t.shape[-1]:
        raise ValueError(
            f"value must have as many categories as logits along the last dimension, "
            f"got value {tuple(value_t.shape)} and logits {tuple(logits_t.shape)}"
        )
    check_broadcast(value=value_t.shape[:-1], logits=logits_t.shape[:-1])
    log_pi = torch.log_softmax(logits_t, dim=-1)
    picked = torch.where(value_t != 0, value_t * log_pi, 0.0).sum(dim=-1)
    one_hot = ((value_t == 0) | (value_t == 1)).all(dim=-1) & (value_t.sum(dim=-1) == 1)
    return torch.where(one_hot, picked, -math.inf)


def _logit(p: Tensor) -> Tensor:
    return torch.log(p) - torch.log1p(-p)


# -- Bernoulli family --------------------------------------------------------------------
@dataclass(frozen=True)
class _BernoulliFamily(Reparameterization):
    """Shared parts of every Bernoulli path: parameter ``probs``, base noise u ~ U(0, 1)."""

    name: str = "Bernoulli"
    parameters: tuple[Parameter, ...] = (Parameter("probs", open_unit_interval),)

    def sample_base(
        self, num_samples: int, params: Mapping[str, Tensor], generator: torch.Generator | None
    ) -> Tensor:
        probs = params["probs"]
        shape = (num_samples, *self.batch_shape(params))
        return open_uniform(shape, generator=generator, dtype=probs.dtype, device=probs.device)

    def transform(self, eps: Tensor, params: Mapping[str, Tensor]) -> Tensor:
        raise NotImplementedError

    def log_prob(self, value: Tensor, params: Mapping[str, Tensor]) -> Tensor:
        return bernoulli_log_prob(value, params["probs"])

    def _relaxed(self, u: Tensor, probs: Tensor, temperature: float) -> Tensor:
        # Binary Concrete: sigmoid of (logit p + logistic noise) / τ with the logistic noise
        # written as logit(1 − u) = −logit(u), so that y > 1/2 exactly when u < p.
        return torch.sigmoid((_logit(probs) - _logit(u)) / temperature)


@dataclass(frozen=True)
class BernoulliStep(_BernoulliFamily):
    """Bernoulli(p) through the step path b = 1[u < p], u ~ U(0, 1).

    The path is exact (P(u < p) = p) but a step function of p: its derivative is zero
    except at u = p, so the pathwise "gradient" is identically zero while
    d/dp E[f(b)] = f(1) − f(0). The score-function estimator works with it. Book section
    "Why the trick fails for discrete variables".

    Parameters: ``probs`` in (0, 1), shape ``batch_shape``. Draws: shape
    ``(num_samples, *batch_shape)`` with values 0. and 1.
    """

    name: str = "Bernoulli (step path)"

    def transform(self, eps: Tensor, params: Mapping[str, Tensor]) -> Tensor:
        return heaviside(params["probs"] - eps)


@dataclass(frozen=True)
class RelaxedBernoulli(_BernoulliFamily):
    """The binary Concrete (relaxed Bernoulli) y = σ((logit p + l) / τ), l ~ Logistic(0, 1).

    Maddison, Mnih & Teh (2017), the binary case; the noise is l = logit(1 − u)
    with the same u as :class:`BernoulliStep`, so that 1[y > 1/2] = 1[u < p] is an exact
    Bernoulli(p) sample for every τ. As τ → 0 the sample tends to that hard sample; its
    pathwise gradient is an unbiased estimate of the gradient of the *relaxed* objective
    E[f(y)], a biased estimate of d/dp E[f(b)].

    Attributes:
        temperature: τ > 0.

    Parameters: ``probs`` in (0, 1). Draws in (0, 1) (exactly 0 or 1 only if the sigmoid
    saturates in floating point), shape ``(num_samples, *batch_shape)``.
    """

    name: str = "Relaxed Bernoulli"
    temperature: float = field(default=1.0, kw_only=True)

    def __post_init__(self) -> None:
        _check_positional_misuse(self)
        check_temperature(self.temperature)

    def transform(self, eps: Tensor, params: Mapping[str, Tensor]) -> Tensor:
        return self._relaxed(eps, params["probs"], self.temperature)

    def log_prob(self, value: Tensor, params: Mapping[str, Tensor]) -> Tensor:
        """Binary Concrete log-density on (0, 1) (Maddison et al., 2017).

        p(y) = τ α y^{−τ−1} (1−y)^{−τ−1} / (α y^{−τ} + (1−y)^{−τ})² with α = p / (1 − p),
        evaluated in log space; ``value`` in [0, 1] is clamped into the open interval first
        (a draw that saturated to 0 or 1 in floating point), a ``value`` outside [0, 1] has
        log-density −inf.
        """
        promoted = as_tensors({"value": value, "probs": self.validate(params)["probs"]}, cast=True)
        value, probs = promoted["value"], promoted["probs"]
        info = torch.finfo(value.dtype)
        y = value.clamp(min=info.tiny, max=1.0 - info.eps)
        tau = self.temperature
        log_alpha = _logit(probs)
        log_y, log_1my = torch.log(y), torch.log1p(-y)
        density = (
            math.log(tau)
            + log_alpha
            - (tau + 1) * (log_y + log_1my)
            - 2 * torch.logaddexp(log_alpha - tau * log_y, -tau * log_1my)
        )
        return torch.where((value >= 0) & (value <= 1), density, -math.inf)


@dataclass(frozen=True)
class StraightThroughBernoulli(_BernoulliFamily):
    """Straight-through Bernoulli: forward b = 1[u < p] exactly, backward a surrogate.

    With ``temperature=None`` the surrogate is p itself (d b / d p := 1, the plain
    straight-through estimator); with a temperature τ it is the binary Concrete sample of
    :class:`RelaxedBernoulli` driven by the same u (straight-through Gumbel, Jang, Gu &
    Poole, 2017). The forward samples are exact, the gradients biased. Book section
    "Straight-through estimators".

    Attributes:
        temperature: τ > 0, or ``None`` for the identity surrogate.
    """

    name: str = "Straight-through Bernoulli"
    temperature: float | None = field(default=None, kw_only=True)

    def __post_init__(self) -> None:
        _check_positional_misuse(self)
        if self.temperature is not None:
            check_temperature(self.temperature)

    def transform(self, eps: Tensor, params: Mapping[str, Tensor]) -> Tensor:
        probs = params["probs"]
        hard = (eps < probs).to(probs.dtype)
        if self.temperature is None:
            soft = probs
        else:
            soft = self._relaxed(eps, probs, self.temperature)
        return straight_through(hard, soft)


# -- categorical family ------------------------------------------------------------------
@dataclass(frozen=True)
class _CategoricalFamily(Reparameterization):
    """Shared parts of every categorical path: ``logits`` (..., K), Gumbel noise."""

    name: str = "Categorical"
    parameters: tuple[Parameter, ...] = (Parameter("logits", logits_vector, event_dims=1),)

    def sample_base(
        self, num_samples: int, params: Mapping[str, Tensor], generator: torch.Generator | None
    ) -> Tensor:
        logits = params["logits"]
        shape = (num_samples, *logits.shape)
        return sample_gumbel(shape, generator=generator, dtype=logits.dtype, device=logits.device)

    def transform(self, eps: Tensor, params: Mapping[str, Tensor]) -> Tensor:
        raise NotImplementedError

    def log_prob(self, value: Tensor, params: Mapping[str, Tensor]) -> Tensor:
        return categorical_log_prob(value, params["logits"])


@dataclass(frozen=True)
class GumbelMaxCategorical(_CategoricalFamily):
    """Categorical(softmax(logits)) through the Gumbel-max path one_hot(argmax(logits + g)).

    Exact (book section "The Gumbel-max trick") but piecewise constant in the logits, so its
    pathwise gradient is zero. Parameters: ``logits`` of shape ``(*batch_shape, K)``.
    Draws: one-hot, shape ``(num_samples, *batch_shape, K)``.
    """

    name: str = "Categorical (Gumbel-max path)"

    def transform(self, eps: Tensor, params: Mapping[str, Tensor]) -> Tensor:
        return hard_one_hot(params["logits"] + eps)


@dataclass(frozen=True)
class RelaxedCategorical(_CategoricalFamily):
    """The Concrete / Gumbel-softmax sample y = softmax((logits + g) / τ).

    Maddison, Mnih & Teh (2017); Jang, Gu & Poole (2017). The noise g is
    independent standard Gumbel. Computed as exp(log_softmax(·)), so no
    overflow for small τ. The argmax of y is the Gumbel-max sample for every
    τ; as τ → 0, y tends to that one-hot vector, as τ → ∞ to the uniform
    vector.

    Attributes:
        temperature: τ > 0.

    Parameters: ``logits`` of shape ``(*batch_shape, K)``. Draws: points of
    the simplex, shape ``(num_samples, *batch_shape, K)``.
    """

    name: str = "Relaxed categorical (Concrete)"
    temperature: float = field(default=1.0, kw_only=True)

    def __post_init__(self) -> None:
        _check_positional_misuse(self)
        check_temperature(self.temperature)

    def log_sample(
        self,
        eps: Tensor,
        params: Mapping[str, Tensor],
    ) -> Tensor:
        """The relaxed sample in log space, log_softmax((logits + g) / τ)."""
        scores = (params["logits"] + eps) / self.temperature
        return torch.log_softmax(scores, dim=-1)

    def transform(self, eps: Tensor, params: Mapping[str, Tensor]) -> Tensor:
        return torch.exp(self.log_sample(eps, params))

    def log_prob(
        self,
        value: Tensor,
        params: Mapping[str, Tensor],
    ) -> Tensor:
        """Concrete log-density on the simplex (Maddison et al., 2017).

        log p(y) = log (K−1)! + (K−1) log τ + Σ_k (log α_k − (τ+1) log y_k)
        − K logsumexp_k(log α_k − τ log y_k), with log α = logits; density
        with respect to Lebesgue measure on the first K − 1 coordinates.
        Returns shape ``(...)``. Entries of ``value`` that saturated to 0 are
        clamped to the smallest positive number; a ``value`` off the simplex
        (a negative entry, or a sum differing from 1 by more than rounding,
        max(1e-6, 64 eps)) has log-density −inf.
        """
        checked = self.validate(params)["logits"]
        promoted = as_tensors({"value": value, "logits": checked}, cast=True)
        value, logits = promoted["value"], promoted["logits"]
        if value.dim() == 0 or value.shape[-1] != logits.shape[-1]:
            categories = logits.shape[-1]
            raise ValueError(
                f"value must end in the {categories} categories of logits, "
                f"got shape {tuple(value.shape)}"
            )
        info = torch.finfo(value.dtype)
        log_y = torch.log(value.clamp(min=info.tiny))
        tau = self.temperature
        num_categories = logits.shape[-1]
        scores = logits - tau * log_y
        density = (
            math.lgamma(num_categories)
            + (num_categories - 1) * math.log(tau)
            + (logits - (tau + 1) * log_y).sum(dim=-1)
            - num_categories * torch.logsumexp(scores, dim=-1)
        )
        tolerance = max(1e-6, 64 * info.eps)
        sums_to_one = (value.sum(dim=-1) - 1).abs() <= tolerance
        on_simplex = (value >= 0).all(dim=-1) & sums_to_one
        return torch.where(on_simplex, density, -math.inf)


@dataclass(frozen=True)
class StraightThroughCategorical(_CategoricalFamily):
    """Straight-through Gumbel-softmax: forward the Gumbel-max one-hot, backward the Concrete.

    Jang, Gu & Poole (2017). The forward value is the exact categorical sample
    one_hot(argmax(logits + g)); gradients flow through softmax((logits + g) / τ) with the
    same g. Exact samples, biased gradients.

    Attributes:
        temperature: τ > 0 of the backward surrogate.
    """

    name: str = "Straight-through categorical"
    temperature: float = field(default=1.0, kw_only=True)

    def __post_init__(self) -> None:
        _check_positional_misuse(self)
        check_temperature(self.temperature)

    def transform(self, eps: Tensor, params: Mapping[str, Tensor]) -> Tensor:
        scores = params["logits"] + eps
        soft = torch.exp(torch.log_softmax(scores / self.temperature, dim=-1))
        hard = torch.nn.functional.one_hot(scores.argmax(dim=-1), scores.shape[-1])
        return straight_through(hard, soft)


#: Bernoulli(probs) through the step path 1[u < p] (zero pathwise gradient).
BERNOULLI = BernoulliStep()
#: Categorical(softmax(logits)) through the Gumbel-max path (zero pathwise gradient).
CATEGORICAL = GumbelMaxCategorical()


# -- functional front ends ---------------------------------------------------------------
def gumbel_max_sample(
    logits: Tensor, num_samples: int, *, generator: torch.Generator | None = None
) -> Tensor:
    """Exact categorical draws by the Gumbel-max trick: argmax_k (logits_k + g_k).

    Book section "The Gumbel-max trick": P(argmax = k) = softmax(logits)_k.

    Args:
        logits: unnormalised log-probabilities, shape ``(*batch_shape, K)``, K ≥ 2.
        num_samples: number of independent draws, at least 1.
        generator: source of the Gumbel noise.

    Returns:
        Long tensor of category indices, shape ``(num_samples, *batch_shape)``, on
        ``logits``'s device.
    """
    num_samples = check_num_samples(num_samples)
    check_generator(generator)
    checked = CATEGORICAL.validate({"logits": logits})["logits"]
    noise = CATEGORICAL.sample_base(num_samples, {"logits": checked}, generator)
    return (checked.detach() + noise).argmax(dim=-1)


def relaxed_one_hot_sample(
    logits: Tensor,
    temperature: float,
    num_samples: int,
    *,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Concrete / Gumbel-softmax draws softmax((logits + g) / τ), differentiable in logits.

    Args:
        logits: shape ``(*batch_shape, K)``, K ≥ 2.
        temperature: τ > 0.
        num_samples: number of draws, at least 1.
        generator: source of the Gumbel noise.

    Returns:
        Tensor of shape ``(num_samples, *batch_shape, K)`` whose last dimension sums to 1.
    """
    return RelaxedCategorical(temperature=check_temperature(temperature)).rsample(
        num_samples, generator=generator, logits=logits
    )


def relaxed_bernoulli_sample(
    probs: Tensor | float,
    temperature: float,
    num_samples: int,
    *,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Binary Concrete draws σ((logit p + l) / τ), differentiable in ``probs``.

    Args:
        probs: Bernoulli probabilities in (0, 1), shape ``batch_shape``.
        temperature: τ > 0.
        num_samples: number of draws, at least 1.
        generator: source of the logistic noise.

    Returns:
        Tensor of shape ``(num_samples, *batch_shape)`` with values in [0, 1].
    """
    return RelaxedBernoulli(temperature=check_temperature(temperature)).rsample(
        num_samples, generator=generator, probs=probs
    )


# -- sampling without replacement ---------------------------------------------------------
#: Largest number of ordered k-tuples :func:`inclusion_probabilities` enumerates.
MAX_ORDERED_TUPLES = 1_000_000


def _check_k(k: Any, num_classes: int) -> int:
    return check_count(k, "k", 1, num_classes, context=f"(logits has {num_classes} classes)")


def gumbel_top_k_sample(
    logits: Tensor, k: int, num_samples: int, *, generator: torch.Generator | None = None
) -> Tensor:
    """k classes without replacement, in order, by the Gumbel-top-k trick.

    Book section "Sampling without replacement" (chapter "Unbiased gradients for discrete
    variables"): the indices of the k largest of logits_i + g_i, g_i standard Gumbel, sorted
    by decreasing perturbed logit. Their first entry is a Gumbel-max draw; the whole tuple
    has the distribution of drawing a class from softmax(logits), removing it, renormalising
    and repeating k times (Kool, van Hoof & Welling, 2019).

    Args:
        logits: shape ``(*batch_shape, K)``, K ≥ 2, finite.
        k: number of classes per sample, 1 ≤ k ≤ K.
        num_samples: number of independent samples, at least 1.
        generator: source of the Gumbel noise.

    Returns:
        Long tensor of shape ``(num_samples, *batch_shape, k)``: distinct indices per sample.
    """
    num_samples = check_num_samples(num_samples)
    check_generator(generator)
    checked = CATEGORICAL.validate({"logits": logits})["logits"]
    k = _check_k(k, checked.shape[-1])
    noise = CATEGORICAL.sample_base(num_samples, {"logits": checked}, generator)
    return torch.topk(checked.detach() + noise, k, dim=-1).indices


def ordered_sample_log_prob(logits: Tensor, indices: Tensor) -> Tensor:
    """log P(the ordered sample without replacement is ``indices``).

    P(i_1, ..., i_k) = Π_j exp(a_{i_j}) / Σ_{l not among i_1..i_{j-1}} exp(a_l), with
    a = logits: draw from the softmax, remove, renormalise.

    Args:
        logits: shape ``(K,)``.
        indices: long tensor of shape ``(*S, k)``, distinct entries in [0, K) per row.

    Returns:
        Tensor of shape ``S``, differentiable in ``logits``.
    """
    checked = _check_class_logits(logits)
    check_tensor(indices, "indices")
    if indices.dtype != torch.long or indices.dim() < 1:
        raise TypeError("indices must be a long tensor with the samples in its last dimension")
    num_classes = checked.shape[0]
    if bool(((indices < 0) | (indices >= num_classes)).any()):
        raise ValueError(f"indices must lie in [0, {num_classes}), got {describe(indices)}")
    chosen = torch.nn.functional.one_hot(indices, num_classes).to(torch.bool)
    if bool((chosen.sum(-2) > 1).any()):
        raise ValueError("indices must be distinct within each sample")
    # Mask of the classes still available at step j: not chosen at steps < j.
    taken_before = torch.cumsum(chosen, dim=-2) - chosen.long()
    available = taken_before == 0
    masked = checked.expand(chosen.shape).masked_fill(~available, -torch.inf)
    step = checked[indices] - torch.logsumexp(masked, dim=-1)
    return step.sum(-1)


def inclusion_probabilities(logits: Tensor, k: int) -> Tensor:
    """P(class i is among the k classes drawn without replacement), exactly.

    Sums :func:`ordered_sample_log_prob` over all K!/(K − k)! ordered k-tuples, so for small
    K only (at most :data:`MAX_ORDERED_TUPLES` tuples). The entries sum to k.

    Args:
        logits: shape ``(K,)``, finite.
        k: 1 ≤ k ≤ K.

    Returns:
        Tensor of shape ``(K,)`` in ``logits``'s dtype.
    """
    checked = _check_class_logits(logits)
    num_classes = checked.shape[0]
    k = _check_k(k, num_classes)
    count = math.perm(num_classes, k)
    if count > MAX_ORDERED_TUPLES:
        raise ValueError(
            f"logits and k give {count} ordered tuples; at most {MAX_ORDERED_TUPLES} are summed"
        )
    tuples = torch.tensor(
        list(itertools.permutations(range(num_classes), k)), device=checked.device
    )
    probs = ordered_sample_log_prob(checked, tuples).exp()
    included = torch.nn.functional.one_hot(tuples, num_classes).sum(-2).to(probs.dtype)
    return (probs[:, None] * included).sum(0)


def _check_class_logits(logits: Any) -> Tensor:
    """``logits`` checked to be a finite floating-point vector of at least two classes."""
    checked = check_tensor(logits, "logits", floating=True)
    if checked.dim() != 1 or checked.shape[0] < 2:
        raise ValueError(f"logits must have shape (K,) with K >= 2, got {tuple(checked.shape)}")
    return check_finite(checked, "logits")
