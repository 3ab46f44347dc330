"""A minimal, reproducible stochastic-gradient training loop with progress reporting.

Book part "The trick at work": both application chapters train with :func:`train`. The loop
owns what every experiment shares — seeded minibatches, zeroing gradients, the optimiser and
learning-rate schedule steps, periodic evaluation, timing, a divergence check — and leaves the
gradient itself to a ``step`` function, because the gradient estimator (pathwise, score
function, ...) is what the chapters compare.

Progress is reported by :class:`ProgressBar`, a dependency-free text bar written to standard
error. By default it is shown only when standard error is an interactive terminal, so the loop
is quiet under pytest and inside notebooks unless ``progress=True`` is passed.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

import torch
from torch import Tensor

from reparam._validation import (
    check_callable,
    check_finite,
    check_instance,
    check_num_samples,
    check_real,
    check_tensor,
)
from reparam.book.optim import SGD, Adam

__all__ = [
    "MovingAverage",
    "ProgressBar",
    "TrainingHistory",
    "cosine_decay",
    "minibatches",
    "train",
]


class ProgressBar:
    """A one-line text progress bar, ``[#####-----] 50/100 loss 1.234 (12.3 it/s)``.

    Args:
        total: number of steps, at least 1.
        enabled: draw the bar; ``None`` (default) draws it only when ``stream`` is an
            interactive terminal (so not under pytest, in notebooks or in logs).
        stream: where to write (default: standard error).
        width: number of characters of the bar itself.
        min_interval: minimum seconds between redraws.
    """

    def __init__(
        self,
        total: int,
        *,
        enabled: bool | None = None,
        stream: TextIO | None = None,
        width: int = 30,
        min_interval: float = 0.1,
    ) -> None:
        self.total = check_num_samples(total, "total")
        self.stream = stream if stream is not None else sys.stderr
        if enabled is None:
            isatty = getattr(self.stream, "isatty", None)
            enabled = bool(isatty()) if callable(isatty) else False
        self.enabled = enabled
        self.width = width
        self.min_interval = min_interval
        self._start = time.perf_counter()
        self._last_draw = -math.inf
        self.count = 0

    def update(self, count: int, message: str = "") -> None:
        """Record that ``count`` steps are done and redraw if enough time has passed."""
        self.count = count
        now = time.perf_counter()
        if self.enabled and (now - self._last_draw >= self.min_interval or count >= self.total):
            self._last_draw = now
            self.stream.write("\r" + self.render(message))
            self.stream.flush()

    def render(self, message: str = "") -> str:
        """The current line of the bar (without carriage return)."""
        filled = int(self.width * min(self.count, self.total) / self.total)
        elapsed = time.perf_counter() - self._start
        rate = self.count / elapsed if elapsed > 0 else 0.0
        text = f"[{'#' * filled}{'-' * (self.width - filled)}] {self.count}/{self.total}"
        if message:
            text += f" {message}"
        return text + f" ({rate:.1f} it/s)"

    def close(self) -> None:
        """End the line of the bar."""
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


class MovingAverage:
    """An exponential moving average, b ← decay · b + (1 − decay) · value.

    The score-function baselines of the application chapters: b is updated *after* the
    gradient step that used it, so it never depends on the draws it multiplies and the
    estimator stays unbiased. Before the first update ``value`` is ``None`` (no
    baseline); the first update sets b to the value itself.

    Args:
        decay: in [0, 1); Mohamed et al. (2020), section 8.3, use 0.9.
    """

    def __init__(self, decay: float = 0.9) -> None:
        decay = check_real(decay, "decay")
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"decay must lie in [0, 1), got {decay}")
        self.decay = float(decay)
        self.value: Tensor | None = None

    def update(self, value: Tensor | float) -> Tensor:
        """Fold ``value`` (detached) into the average and return the new average."""
        if isinstance(value, Tensor):
            check_tensor(value, "value")
        else:
            check_real(value, "value", finite=False)
        new = check_finite(torch.as_tensor(value).detach(), "value")
        self.value = new if self.value is None else self.decay * self.value + (1 - self.decay) * new
        return self.value


@dataclass
class TrainingHistory:
    """What :func:`train` records.

    Attributes:
        values: the training objective returned by ``step`` at every step; length
            ``num_steps``.
        eval_steps: the steps (counting from 1; 0 is before training) at which ``evaluate``
            ran.
        evaluations: the values ``evaluate`` returned, one per entry of ``eval_steps``.
        seconds: wall-clock time of the loop, evaluations included.
        train_seconds: time spent in ``step`` and the optimiser only.
    """

    values: list[float] = field(default_factory=list)
    eval_steps: list[int] = field(default_factory=list)
    evaluations: list[float] = field(default_factory=list)
    seconds: float = 0.0
    train_seconds: float = 0.0

    @property
    def steps_per_second(self) -> float:
        """Training throughput, evaluations excluded."""
        return len(self.values) / self.train_seconds if self.train_seconds > 0 else math.inf


def minibatches(
    num_examples: int, batch_size: int, num_steps: int, *, generator: torch.Generator
) -> Tensor:
    """Indices of ``num_steps`` minibatches drawn by reshuffling once per epoch.

    Each epoch is a fresh random permutation of ``range(num_examples)`` cut into batches of
    ``batch_size``; an incomplete last batch of an epoch is dropped, so every batch has the
    same size and the number of batches per epoch is ``num_examples // batch_size``.

    Returns:
        int64 tensor of shape ``(num_steps, batch_size)`` on the CPU.
    """
    num_examples = check_num_samples(num_examples, "num_examples")
    batch_size = check_num_samples(batch_size, "batch_size")
    num_steps = check_num_samples(num_steps, "num_steps")
    if batch_size > num_examples:
        raise ValueError(
            f"batch_size must not exceed num_examples ({num_examples}), got {batch_size}"
        )
    check_instance(generator, "generator", torch.Generator, "a torch.Generator")
    per_epoch = num_examples // batch_size
    num_epochs = -(-num_steps // per_epoch)
    perms = [
        torch.randperm(num_examples, generator=generator, device=generator.device).cpu()
        for _ in range(num_epochs)
    ]
    usable = per_epoch * batch_size
    batches = torch.stack([perm[:usable] for perm in perms]).reshape(-1, batch_size)
    return batches[:num_steps]


def cosine_decay(num_steps: int) -> Callable[[int], float]:
    """The multiplier ``step -> ½ (1 + cos(π · step / num_steps))`` of a learning rate.

    For :class:`reparam.book.optim.SGD`'s ``schedule`` or torch's ``LambdaLR``.

    It falls from 1 at step 0 to 0 at ``num_steps`` (the cosine decay of the learning rate
    used by Mohamed et al., 2020, section 8.3).
    """
    num_steps = check_num_samples(num_steps, "num_steps")
    return lambda step: 0.5 * (1.0 + math.cos(math.pi * min(step, num_steps) / num_steps))


def train(
    step: Callable[[Tensor], float],
    optimizer: torch.optim.Optimizer | SGD | Adam,
    num_examples: int,
    *,
    num_steps: int,
    batch_size: int,
    generator: torch.Generator,
    evaluate: Callable[[], float] | None = None,
    eval_every: int = 100,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    progress: bool | None = None,
) -> TrainingHistory:
    """Run ``num_steps`` steps of stochastic optimisation on seeded minibatches.

    Each step: draw the next minibatch of indices, zero the gradients, call ``step(indices)``
    — which must leave the gradient of the loss *to minimise* in the parameters' ``.grad``
    (typically by calling ``backward``) and return the value of the training objective —
    then ``optimizer.step()`` and ``scheduler.step()``. ``evaluate()`` runs before the first
    step and every ``eval_every`` steps (and after the last).

    Args:
        step: ``indices (batch_size,) int64 -> objective value``; sets the gradients.
        optimizer: updates the parameters from their gradients: a ``torch.optim``
            optimiser, or :class:`reparam.book.optim.SGD` or :class:`~reparam.book.optim.Adam`
            (the same updates without importing torch's compiler).
        num_examples: size of the training set the indices refer to.
        num_steps: number of optimisation steps.
        batch_size: examples per step.
        generator: source of the minibatch order (pass a generator separate from the one
            ``step`` draws its noise from, so changing one does not change the other).
        evaluate: ``() -> value``, e.g. a held-out ELBO (wrap its body in
            ``torch.no_grad()`` if it needs no gradients).
        eval_every: evaluation period in steps.
        scheduler: learning-rate schedule, stepped once per step.
        progress: show a :class:`ProgressBar`; ``None`` shows it only in a terminal.

    Returns:
        A :class:`TrainingHistory`.

    Raises:
        FloatingPointError: if ``step`` returns a NaN or infinite value (the run diverged);
            the message names the step.
    """
    check_callable(step, "step")
    # torch.optim is not touched unless the caller made a torch optimiser: importing its
    # base class is cheap, constructing one imports torch._dynamo.
    kinds = (SGD, Adam, torch.optim.Optimizer)
    wanted = "a torch.optim.Optimizer, reparam.book.optim.SGD or reparam.book.optim.Adam"
    check_instance(optimizer, "optimizer", kinds, wanted)
    if evaluate is not None:
        check_callable(evaluate, "evaluate")
    check_num_samples(eval_every, "eval_every")
    batches = minibatches(num_examples, batch_size, num_steps, generator=generator)
    history = TrainingHistory()
    bar = ProgressBar(num_steps, enabled=progress)
    start = time.perf_counter()
    if evaluate is not None:
        history.eval_steps.append(0)
        history.evaluations.append(float(evaluate()))
    for index in range(num_steps):
        tick = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        value = float(step(batches[index]))
        if not math.isfinite(value):
            bar.close()
            raise FloatingPointError(
                f"training diverged: the objective is {value} at step {index + 1}; "
                "lower the learning rate or check the model"
            )
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        history.train_seconds += time.perf_counter() - tick
        history.values.append(value)
        done = index + 1
        if evaluate is not None and (done % eval_every == 0 or done == num_steps):
            history.eval_steps.append(done)
            history.evaluations.append(float(evaluate()))
        bar.update(done, f"objective {value:.3f}")
    bar.close()
    history.seconds = time.perf_counter() - start
    return history
