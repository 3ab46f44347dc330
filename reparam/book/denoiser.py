"""A small noise-prediction network and its training loop, for the chapter "Diffusion models".

:class:`Denoiser` maps (x_t, t) to ε_θ(x_t, t) for points in the plane: the time step enters
through sinusoidal features of t / T (so one network serves every step), concatenated with x_t
and passed through a multilayer perceptron. :func:`train_denoiser` minimises
:func:`reparam.diffusion.noise_prediction_loss` with Adam on minibatches of the data.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor, nn

from reparam._validation import check_count, check_real, check_tensor
from reparam.diffusion import NoiseSchedule, noise_prediction_loss

__all__ = ["Denoiser", "train_denoiser"]


class Denoiser(nn.Module):
    """ε_θ(x_t, t): an MLP on x_t and ``num_frequencies`` sine/cosine features of t/T.

    Args:
        dim: the dimension of a data point.
        num_steps: T, to scale t.
        hidden: width of the hidden layers.
        depth: number of hidden layers (>= 1).
        num_frequencies: frequencies 1, 2, 4, ... of the time features.
    """

    frequencies: Tensor

    def __init__(
        self, dim: int, num_steps: int, hidden: int = 64, depth: int = 2, num_frequencies: int = 4
    ) -> None:
        super().__init__()
        self.dim = check_count(dim, "dim")
        self.num_steps = check_count(num_steps, "num_steps")
        hidden = check_count(hidden, "hidden")
        depth = check_count(depth, "depth")
        frequencies = check_count(num_frequencies, "num_frequencies")
        self.register_buffer(
            "frequencies", math.pi * 2.0 ** torch.arange(frequencies, dtype=torch.float32)
        )
        layers: list[nn.Module] = [nn.Linear(self.dim + 2 * frequencies, hidden), nn.SiLU()]
        for _ in range(depth - 1):
            layers += [nn.Linear(hidden, hidden), nn.SiLU()]
        layers.append(nn.Linear(hidden, self.dim))
        self.net = nn.Sequential(*layers)

    def forward(self, xt: Tensor, t: Tensor) -> Tensor:
        """ε_θ(x_t, t) for x_t of shape ``(B, dim)`` and integer t of shape ``(B,)``."""
        phase = (t.to(xt.dtype) / self.num_steps)[:, None] * self.frequencies.to(xt.dtype)
        features = torch.cat([xt, phase.sin(), phase.cos()], dim=-1)
        return self.net(features)


def train_denoiser(
    model: Denoiser,
    data: Tensor,
    schedule: NoiseSchedule,
    *,
    steps: int,
    batch_size: int,
    learning_rate: float,
    generator: torch.Generator,
    weighting: str = "uniform",
) -> np.ndarray:
    """Adam on the noise-prediction loss over random minibatches of ``data``; returns the loss
    of every step (shape ``(steps,)``). The model's parameters must have ``data``'s dtype."""
    data = check_tensor(data, "data", floating=True)
    steps = check_count(steps, "steps")
    batch_size = check_count(batch_size, "batch_size")
    learning_rate = check_real(learning_rate, "learning_rate", positive=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    losses = np.empty(steps)
    for step in range(steps):
        rows = torch.randint(0, data.shape[0], (batch_size,), generator=generator)
        loss = noise_prediction_loss(
            model, data[rows], schedule, weighting=weighting, generator=generator
        ).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses[step] = float(loss.detach())
    return losses
