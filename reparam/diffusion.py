"""Denoising diffusion: the forward process as a reparameterization, and the noise-prediction loss.

Book chapter: "Diffusion models" (``chapter-diffusion``), after Ho, Jain & Abbeel (NeurIPS
2020). A variance schedule β_1, ..., β_T in (0, 1) defines the forward (noising) chain

    q(x_t | x_{t−1}) = N(√(1 − β_t) x_{t−1}, β_t I),

whose marginal given the data is Gaussian, with α_t = 1 − β_t and ᾱ_t = α_1 ⋯ α_t:

    q(x_t | x_0) = N(√ᾱ_t x_0, (1 − ᾱ_t) I),   so   x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε,

a reparameterization with ε ~ N(0, I) (:func:`q_sample`). Given x_0 and x_t, the step before
is Gaussian too (:func:`posterior`, with ᾱ_0 = 1):

    q(x_{t−1} | x_t, x_0) = N(μ̃_t, β̃_t I),
    μ̃_t = (√ᾱ_{t−1} β_t x_0 + √α_t (1 − ᾱ_{t−1}) x_t) / (1 − ᾱ_t),
    β̃_t = β_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t).

A reverse model p_θ(x_{t−1} | x_t) = N(μ_θ(x_t, t), σ_t² I) whose mean is written through a
prediction ε_θ(x_t, t) of the noise (:func:`mean_from_noise`),

    μ_θ = (x_t − β_t ε_θ / √(1 − ᾱ_t)) / √α_t,

turns each KL term of the evidence lower bound into a weighted squared error in the noise
(:func:`kl_weight`): with x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε,

    KL(q(x_{t−1} | x_t, x_0) ‖ p_θ(x_{t−1} | x_t)) = w_t ‖ε − ε_θ‖² + c_t,
    w_t = β_t² / (2 σ_t² α_t (1 − ᾱ_t)),

where c_t does not depend on θ. For t = 1 the same weight multiplies ‖ε − ε_θ‖² in the
Gaussian decoder term −log p_θ(x_0 | x_1). :func:`noise_prediction_loss` estimates
Σ_t w_t E‖ε − ε_θ‖² (``weighting="elbo"``) or the unweighted mean over t that Ho et al. train
with (``weighting="uniform"``), both by drawing t and ε: a pathwise Monte Carlo objective.
:func:`ancestral_sample` runs the reverse chain.

Conventions: time steps are integers t = 1, ..., T (a ``torch.long`` tensor, one per example);
data are batches ``(B, *event)``; a noise model is called as ``model(x_t, t)`` with x_t of shape
``(B, *event)`` and t of shape ``(B,)``, and returns ε_θ of x_t's shape. Every tensor created
follows the data's dtype and device.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from reparam._validation import (
    check_callable,
    check_choice,
    check_count,
    check_finite,
    check_generator,
    check_real,
    check_tensor,
)
from reparam.noise import standard_normal

__all__ = [
    "NoiseSchedule",
    "ancestral_sample",
    "kl_weight",
    "linear_schedule",
    "mean_from_noise",
    "noise_prediction_loss",
    "posterior",
    "q_sample",
]

NoiseModel = Callable[[Tensor, Tensor], Tensor]


@dataclass(frozen=True)
class NoiseSchedule:
    """A variance schedule and its running products, all of shape ``(T,)``, float64.

    Entry ``t − 1`` belongs to time step t. Build one with :func:`linear_schedule` or from
    any betas in (0, 1) with :meth:`from_betas`.

    Attributes:
        betas: β_t.
        alphas: α_t = 1 − β_t.
        alphas_cumprod: ᾱ_t = α_1 ⋯ α_t.
    """

    betas: Tensor
    alphas: Tensor
    alphas_cumprod: Tensor

    def __post_init__(self) -> None:
        # Built directly, the three arrays must still be one schedule.
        betas = check_tensor(self.betas, "betas", floating=True)
        if betas.dim() != 1 or betas.numel() == 0:
            raise ValueError(
                f"betas must be a non-empty 1-d tensor, got shape {tuple(betas.shape)}"
            )
        if not bool(((betas > 0) & (betas < 1)).all()):
            raise ValueError("betas must lie strictly between 0 and 1")
        alphas = check_tensor(self.alphas, "alphas", floating=True)
        cumprod = check_tensor(self.alphas_cumprod, "alphas_cumprod", floating=True)
        if alphas.shape != betas.shape or not torch.allclose(alphas, 1 - betas):
            raise ValueError("alphas must equal 1 - betas")
        if cumprod.shape != betas.shape or not torch.allclose(cumprod, torch.cumprod(alphas, 0)):
            raise ValueError("alphas_cumprod must be the running product of alphas")

    @classmethod
    def from_betas(cls, betas: Tensor) -> NoiseSchedule:
        """The schedule of the given β_1, ..., β_T (a 1-d tensor, every entry in (0, 1))."""
        # __post_init__ checks them (a non-empty 1-d tensor, every entry in (0, 1)).
        betas = check_tensor(betas, "betas", floating=True).detach().to(torch.float64)
        alphas = 1 - betas
        return cls(betas, alphas, torch.cumprod(alphas, 0))

    @property
    def num_steps(self) -> int:
        """T, the number of time steps."""
        return self.betas.numel()


def linear_schedule(num_steps: int, beta_start: float, beta_end: float) -> NoiseSchedule:
    """β_t rising linearly from ``beta_start`` (t = 1) to ``beta_end`` (t = T).

    Args:
        num_steps: T >= 1 (with T = 1 the single β is ``beta_start``).
        beta_start, beta_end: 0 < β_1 <= β_T < 1.
    """
    steps = check_count(num_steps, "num_steps")
    start = check_real(beta_start, "beta_start", positive=True)
    end = check_real(beta_end, "beta_end", positive=True)
    if not start <= end < 1:
        raise ValueError(
            f"beta_start and beta_end must satisfy 0 < beta_start <= beta_end < 1, "
            f"got {start:g} and {end:g}"
        )
    return NoiseSchedule.from_betas(torch.linspace(start, end, steps, dtype=torch.float64))


def _steps(schedule: NoiseSchedule, t: Any, batch: int, name: str = "t") -> Tensor:
    if not isinstance(t, Tensor) or t.dtype not in (torch.int32, torch.int64):
        got = f"a tensor of dtype {t.dtype}" if isinstance(t, Tensor) else type(t).__name__
        raise TypeError(f"{name} must be an integer tensor of time steps, got {got}")
    if t.shape != (batch,):
        raise ValueError(
            f"{name} must have shape ({batch},), one step per example, got {tuple(t.shape)}"
        )
    if bool(((t < 1) | (t > schedule.num_steps)).any()):
        raise ValueError(f"{name} must lie in 1..{schedule.num_steps} (the schedule's steps)")
    return t.long()


def _per_example(values: Tensor, t: Tensor, like: Tensor) -> Tensor:
    """``values[t − 1]`` in ``like``'s dtype and device, shaped to broadcast over its event."""
    picked = values.to(device=like.device)[t.to(like.device) - 1].to(like.dtype)
    return picked.reshape(-1, *(1,) * (like.dim() - 1))


def _check_schedule(schedule: Any) -> NoiseSchedule:
    if not isinstance(schedule, NoiseSchedule):
        raise TypeError(f"schedule must be a NoiseSchedule, got {type(schedule).__name__}")
    return schedule


def _data(x: Any, name: str) -> Tensor:
    tensor = check_tensor(x, name, floating=True)
    if tensor.dim() < 1 or tensor.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty batch (B, *event), got {tuple(tensor.shape)}")
    return check_finite(tensor, name)


def _same_shape(tensor: Tensor, name: str, like: Tensor, like_name: str) -> Tensor:
    if tensor.shape != like.shape:
        raise ValueError(
            f"{name} must have the shape of {like_name}, {tuple(like.shape)}, "
            f"got {tuple(tensor.shape)}"
        )
    return tensor


def q_sample(
    schedule: NoiseSchedule,
    x0: Tensor,
    t: Tensor,
    noise: Tensor,
) -> Tensor:
    """x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε: a draw of q(x_t | x_0), differentiable.

    Args:
        schedule: the :class:`NoiseSchedule`.
        x0: data, shape ``(B, *event)``.
        t: time steps in 1..T, shape ``(B,)``.
        noise: ε, the shape of ``x0``.

    Returns:
        x_t, the shape, dtype and device of ``x0``.
    """
    schedule = _check_schedule(schedule)
    x0 = _data(x0, "x0")
    noise = check_finite(check_tensor(noise, "noise", floating=True), "noise")
    noise = _same_shape(noise, "noise", x0, "x0")
    t = _steps(schedule, t, x0.shape[0])
    alpha_bar = _per_example(schedule.alphas_cumprod, t, x0)
    return alpha_bar.sqrt() * x0 + (1 - alpha_bar).sqrt() * noise.to(x0.dtype)


def _alpha_bar_before(schedule: NoiseSchedule) -> Tensor:
    """ᾱ_{t−1} for t = 1..T, with ᾱ_0 = 1."""
    ones = torch.ones(1, dtype=torch.float64, device=schedule.alphas_cumprod.device)
    return torch.cat([ones, schedule.alphas_cumprod[:-1]])


def posterior(schedule: NoiseSchedule, x0: Tensor, xt: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
    """Mean μ̃_t and variance β̃_t of q(x_{t−1} | x_t, x_0) (see the module's docstring).

    At t = 1 the variance is 0: x_0 is then known.

    Args:
        schedule: the :class:`NoiseSchedule`.
        x0, xt: shape ``(B, *event)`` each.
        t: time steps in 1..T, shape ``(B,)``.

    Returns:
        (mean of x0's shape, variance of shape ``(B, 1, ..., 1)``), in x0's dtype.
    """
    schedule = _check_schedule(schedule)
    x0 = _data(x0, "x0")
    xt = _same_shape(_data(xt, "xt"), "xt", x0, "x0").to(x0)
    t = _steps(schedule, t, x0.shape[0])
    beta = _per_example(schedule.betas, t, x0)
    alpha = _per_example(schedule.alphas, t, x0)
    alpha_bar = _per_example(schedule.alphas_cumprod, t, x0)
    alpha_bar_before = _per_example(_alpha_bar_before(schedule), t, x0)
    mean = (alpha_bar_before.sqrt() * beta * x0 + alpha.sqrt() * (1 - alpha_bar_before) * xt) / (
        1 - alpha_bar
    )
    return mean, beta * (1 - alpha_bar_before) / (1 - alpha_bar)


def mean_from_noise(
    schedule: NoiseSchedule, xt: Tensor, t: Tensor, noise_prediction: Tensor
) -> Tensor:
    """μ_θ = (x_t − β_t ε_θ / √(1 − ᾱ_t)) / √α_t, the reverse mean of a noise prediction.

    It equals the posterior mean μ̃_t when ε_θ is the noise that produced x_t from x_0.

    Args:
        schedule: the :class:`NoiseSchedule`.
        xt: shape ``(B, *event)``.
        t: time steps in 1..T, shape ``(B,)``.
        noise_prediction: ε_θ(x_t, t), the shape of ``xt``.
    """
    schedule = _check_schedule(schedule)
    xt = _data(xt, "xt")
    prediction = _same_shape(
        check_tensor(noise_prediction, "noise_prediction", floating=True),
        "noise_prediction",
        xt,
        "xt",
    ).to(xt)
    t = _steps(schedule, t, xt.shape[0])
    beta = _per_example(schedule.betas, t, xt)
    alpha = _per_example(schedule.alphas, t, xt)
    alpha_bar = _per_example(schedule.alphas_cumprod, t, xt)
    return (xt - beta * prediction / (1 - alpha_bar).sqrt()) / alpha.sqrt()


def kl_weight(schedule: NoiseSchedule, t: Tensor, variance: Tensor | float | None = None) -> Tensor:
    """w_t = β_t² / (2 σ_t² α_t (1 − ᾱ_t)), the weight of ‖ε − ε_θ‖² in the t-th ELBO term.

    Args:
        schedule: the :class:`NoiseSchedule`.
        t: time steps in 1..T, a 1-d integer tensor.
        variance: σ_t² of the reverse model; default β_t (one of the two choices Ho et
            al. consider, with β̃_t); a positive number, or a tensor of ``t``'s shape.

    Returns:
        w_t, float64, the shape of ``t``.
    """
    schedule = _check_schedule(schedule)
    if not isinstance(t, Tensor) or t.dim() != 1:
        raise TypeError("t must be a 1-d integer tensor of time steps")
    t = _steps(schedule, t, t.shape[0])
    beta = schedule.betas[t - 1]
    sigma2 = beta if variance is None else _positive(variance, "variance").to(beta)
    if sigma2.dim() and sigma2.shape != t.shape:
        raise ValueError(
            f"variance must be a number or have the shape of t, {tuple(t.shape)}, "
            f"got {tuple(sigma2.shape)}"
        )
    return beta**2 / (2 * sigma2 * schedule.alphas[t - 1] * (1 - schedule.alphas_cumprod[t - 1]))


def _positive(value: Any, name: str) -> Tensor:
    if isinstance(value, Tensor):
        tensor = check_tensor(value, name, floating=True)
        if not bool(((tensor > 0) & torch.isfinite(tensor)).all()):
            raise ValueError(f"{name} must be finite and positive")
        return tensor
    return torch.tensor(check_real(value, name, positive=True), dtype=torch.float64)


def noise_prediction_loss(
    model: NoiseModel,
    x0: Tensor,
    schedule: NoiseSchedule,
    *,
    weighting: str = "uniform",
    generator: torch.Generator | None = None,
) -> Tensor:
    """Per-example Monte Carlo loss ‖ε − ε_θ(x_t, t)‖², x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε.

    One t uniform on 1..T and one ε ~ N(0, I) per example. With ``weighting="uniform"`` the
    squared error itself (the loss Ho et al. train with, an average over t); with
    ``"elbo"``, T w_t times it (σ_t² = β_t), an unbiased estimate of Σ_t w_t E‖ε − ε_θ‖²,
    the part of the negative ELBO that depends on θ. Differentiable in the model's
    parameters along the sampling path (the reparameterization of q(x_t | x_0)).

    Args:
        model: ε_θ, called as ``model(x_t, t)``.
        x0: data, shape ``(B, *event)``.
        schedule: the :class:`NoiseSchedule`.
        weighting: ``"uniform"`` or ``"elbo"``.
        generator: the source of t and ε.

    Returns:
        Shape ``(B,)``, in x0's dtype: average it for a training loss.
    """
    model = check_callable(model, "model")
    schedule = _check_schedule(schedule)
    x0 = _data(x0, "x0")
    check_choice(weighting, "weighting", ("uniform", "elbo"))
    generator = check_generator(generator)
    batch = x0.shape[0]
    t = torch.randint(
        1, schedule.num_steps + 1, (batch,), generator=generator, device=_draw_device(generator)
    ).to(x0.device)
    noise = standard_normal(x0.shape, generator=generator, dtype=x0.dtype, device=x0.device)
    prediction = _same_shape(
        _call(model, q_sample(schedule, x0, t, noise), t), "model output", x0, "x0"
    )
    error = (noise - prediction).square().reshape(batch, -1).sum(-1)
    if weighting == "elbo":
        error = error * (schedule.num_steps * kl_weight(schedule, t.cpu())).to(error)
    return error


def _draw_device(generator: torch.Generator | None) -> torch.device:
    return generator.device if generator is not None else torch.device("cpu")


def _call(model: NoiseModel, xt: Tensor, t: Tensor) -> Tensor:
    prediction = model(xt, t)
    if not isinstance(prediction, Tensor):
        raise TypeError(f"model must return a tensor, got {type(prediction).__name__}")
    return prediction


def ancestral_sample(
    model: NoiseModel,
    schedule: NoiseSchedule,
    num_samples: int,
    event_shape: tuple[int, ...],
    *,
    variance: str = "beta",
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Draw x_0 by running the reverse chain from x_T ~ N(0, I).

    For t = T, ..., 1: x_{t−1} = μ_θ(x_t, t) + σ_t z, z ~ N(0, I), with no noise at t = 1
    (the mean is returned, as in Ho et al.'s sampler). Runs without gradients.

    Args:
        model: ε_θ, called as ``model(x_t, t)``.
        schedule: the :class:`NoiseSchedule`.
        num_samples: N >= 1.
        event_shape: the shape of one draw, a tuple of positive ints.
        variance: σ_t² = β_t (``"beta"``) or β̃_t (``"posterior"``).
        dtype, device: of the draws (default: torch's default dtype, the CPU).
        generator: the source of all noise.

    Returns:
        Shape ``(B, *event_shape)``.
    """
    model = check_callable(model, "model")
    schedule = _check_schedule(schedule)
    count = check_count(num_samples, "num_samples")
    if not isinstance(event_shape, tuple):
        raise TypeError(f"event_shape must be a tuple of ints, got {type(event_shape).__name__}")
    event = tuple(check_count(size, "event_shape", 1) for size in event_shape)
    check_choice(variance, "variance", ("beta", "posterior"))
    sigma2 = schedule.betas
    if variance == "posterior":
        sigma2 = schedule.betas * (1 - _alpha_bar_before(schedule)) / (1 - schedule.alphas_cumprod)
    x = standard_normal((count, *event), generator=generator, dtype=dtype, device=device)
    with torch.no_grad():
        for step in range(schedule.num_steps, 0, -1):
            t = torch.full((count,), step, dtype=torch.long, device=x.device)
            prediction = _same_shape(_call(model, x, t), "model output", x, "x_t")
            x = mean_from_noise(schedule, x, t, prediction)
            if step > 1:
                z = standard_normal(x.shape, generator=generator, dtype=x.dtype, device=x.device)
                x = x + math.sqrt(float(sigma2[step - 1])) * z
    return x
