"""A continuous bandit for the chapter "Reparameterized policies" (``chapter-policies``).

One step of decision making: a diagonal tanh-squashed Gaussian policy over (−1, 1)^D pays the
separable cost f(a) = Σ_d f₁(a_d) and is scored by the soft cost J = E[f(a) + τ log π(a)]
(:mod:`reparam.policy`). Because the cost is separable, J is the sum of D one-dimensional
soft costs, each computed exactly by quadrature, and the best any policy can do is D times
−τ log Z₁; the gap, divided by τ, is the KL divergence from the soft-optimal (Boltzmann)
policy. So every training run can be scored exactly at every step.

- :func:`best_squashed_normal`: the tanh-squashed Gaussian with the lowest soft cost, by
  L-BFGS on the exact objective;
- :func:`train_policy`: SGD on (μ, log σ) with a given gradient estimator, many independent
  runs at once, recording the exact KL from the Boltzmann policy;
- :func:`steps_to_reach`: the first recorded step after which the median run stays within a
  tolerance of the best possible KL.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from reparam._validation import check_callable, check_count, check_real
from reparam.policy import boltzmann_log_normalizer, soft_objective

__all__ = ["PolicyTraining", "best_squashed_normal", "steps_to_reach", "train_policy"]

Cost = Callable[[Tensor], Tensor]
Gradient = Callable[..., dict[str, Tensor]]


def best_squashed_normal(
    cost: Cost, temperature: float, *, start: tuple[float, float] = (0.0, 1.0)
) -> tuple[float, float, float]:
    """(μ, σ, J) of the tanh-squashed Gaussian with the lowest soft cost, in float64.

    L-BFGS (strong Wolfe line search) on the exact soft cost over (μ, log σ), from
    ``start`` = (μ, σ), then three Newton steps. The objective is smooth and, for the
    book's costs, has one minimum; the caller checks the gradient there.
    """
    cost = check_callable(cost)
    tau = check_real(temperature, "temperature", positive=True)
    start_scale = check_real(start[1], "start scale", positive=True)
    params = torch.tensor(
        [check_real(start[0], "start loc"), math.log(start_scale)],
        dtype=torch.float64,
        requires_grad=True,
    )
    optimizer = torch.optim.LBFGS(
        [params],
        max_iter=500,
        tolerance_grad=1e-12,
        tolerance_change=1e-15,
        line_search_fn="strong_wolfe",
    )

    def closure() -> Tensor:
        optimizer.zero_grad()
        value = soft_objective(cost, params[0], params[1].exp(), tau)
        value.backward()
        return value

    optimizer.step(closure)

    def objective(x: Tensor) -> Tensor:
        return soft_objective(cost, x[0], x[1].exp(), tau)

    # L-BFGS stops once the objective stops changing, with a gradient near 1e-8; a few
    # Newton steps on the exact objective bring it to rounding.
    best = params.detach()
    for _ in range(3):
        grad = torch.autograd.functional.jacobian(objective, best)
        hessian = torch.autograd.functional.hessian(objective, best)
        best = best - torch.linalg.solve(hessian, grad)
    value = objective(best)
    return float(best[0]), float(best[1].exp()), float(value)


@dataclass(frozen=True)
class PolicyTraining:
    """What :func:`train_policy` records.

    Attributes:
        steps: the recorded step numbers, shape ``(T,)``.
        kl: KL(π_θ ‖ π*) of each run at each recorded step, exactly, shape ``(T, runs)``.
        loc, scale: the final μ and σ of each run, shape ``(runs, D)``.
    """

    steps: np.ndarray
    kl: np.ndarray
    loc: np.ndarray
    scale: np.ndarray


def train_policy(
    gradient: Gradient,
    cost: Cost,
    temperature: float,
    *,
    dim: int,
    runs: int,
    num_samples: int,
    steps: int,
    step_size: float,
    generator: torch.Generator,
    record_every: int = 10,
    start: tuple[float, float] = (0.0, 1.0),
) -> PolicyTraining:
    """SGD on (μ, log σ) of ``runs`` independent D-dimensional policies at once, in float64.

    Each step draws ``num_samples`` actions per run and moves by ``step_size`` times the
    mean of ``gradient(total_cost, loc, scale, τ, N, event_dims=1, generator=generator)``
    (an estimator with the signature of :mod:`reparam.policy`; the gradient with respect to
    log σ is σ times that with respect to σ), where ``total_cost(a) = Σ_d cost(a_d)``. Every
    ``record_every`` steps the exact KL from the Boltzmann policy is recorded:
    (Σ_d J₁(μ_d, σ_d) + D τ log Z₁) / τ.

    Args:
        gradient: the estimator.
        cost: the one-dimensional cost f₁, elementwise.
        temperature: τ > 0.
        dim, runs, num_samples, steps, record_every: positive integers.
        step_size: the SGD step, > 0.
        generator: the source of all noise.
        start: (μ, σ) every run starts from.
    """
    check_callable(gradient, "gradient")
    cost = check_callable(cost)
    tau = check_real(temperature, "temperature", positive=True)
    dim = check_count(dim, "dim")
    runs = check_count(runs, "runs")
    num_samples = check_count(num_samples, "num_samples")
    steps = check_count(steps, "steps")
    record_every = check_count(record_every, "record_every")
    step_size = check_real(step_size, "step_size", positive=True)
    loc = torch.full((runs, dim), float(start[0]), dtype=torch.float64)
    log_scale = torch.full(
        (runs, dim),
        math.log(check_real(start[1], "start scale", positive=True)),
        dtype=torch.float64,
    )
    optimum = (
        -dim * tau * float(boltzmann_log_normalizer(cost, torch.tensor(tau, dtype=torch.float64)))
    )

    def total_cost(action: Tensor) -> Tensor:
        return cost(action).sum(-1)

    recorded, kl = [], []
    for step in range(1, steps + 1):
        scale = log_scale.exp()
        estimate = gradient(
            total_cost, loc, scale, tau, num_samples, event_dims=1, generator=generator
        )
        loc = loc - step_size * estimate["loc"].mean(0)
        log_scale = log_scale - step_size * scale * estimate["scale"].mean(0)
        if step % record_every == 0:
            soft = soft_objective(cost, loc, log_scale.exp(), tau).sum(-1)
            recorded.append(step)
            kl.append(((soft - optimum) / tau).numpy())
    return PolicyTraining(np.array(recorded), np.array(kl), loc.numpy(), log_scale.exp().numpy())


def steps_to_reach(training: PolicyTraining, tolerance: float, floor: float) -> float:
    """The first recorded step from which the median over runs of KL − ``floor`` stays below
    ``tolerance`` (NaN if it never does). ``floor`` is the KL of the best policy the family
    holds, so KL − floor is the excess over it."""
    tolerance = check_real(tolerance, "tolerance", positive=True)
    floor = check_real(floor, "floor")
    inside = np.median(training.kl - floor, axis=1) < tolerance  # (T,)
    # Inside at a record and at every later one.
    settled = np.flip(np.logical_and.accumulate(np.flip(inside)))
    return float(training.steps[np.argmax(settled)]) if settled.any() else math.nan
