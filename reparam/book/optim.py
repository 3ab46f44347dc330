"""Plain SGD and Adam for the application chapters' training loops.

Book part "The trick at work": :func:`reparam.book.logistic.fit_all` steps with :class:`SGD`
and a cosine learning-rate decay, :func:`reparam.book.vae.train_vaes` with :class:`Adam`.

They compute the updates of ``torch.optim.SGD`` (no momentum, no weight decay) and
``torch.optim.Adam`` (Kingma & Ba, ICLR 2015, Algorithm 1, with torch's defaults), and
``tests/test_optim.py`` checks them against those classes step for step. They exist because
constructing any ``torch.optim`` optimiser imports torch's compiler, ``torch._dynamo``, which
takes about 1.7 s on a two-core laptop, a tenth of a chapter's time budget, for a
compiler the chapters never use. :func:`reparam.book.training.train` accepts either kind.

Shapes: the parameters are any leaf tensors; each update works entry by entry, in the
parameter's dtype and on its device. Parameters whose ``.grad`` is ``None`` are skipped,
as ``torch.optim`` skips them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch
from torch import Tensor

from reparam._validation import check_callable, check_real

__all__ = ["SGD", "Adam"]


def _check_parameters(params: Iterable[Tensor]) -> list[Tensor]:
    if isinstance(params, Tensor):
        raise TypeError("params must be an iterable of tensors, got a single Tensor")
    params = list(params)
    if not params:
        raise ValueError("params must hold at least one tensor, got an empty list")
    for index, param in enumerate(params):
        if not isinstance(param, Tensor):
            raise TypeError(f"params[{index}] must be a Tensor, got {type(param).__name__}")
        if not param.is_leaf or not param.requires_grad:
            raise ValueError(f"params[{index}] must be a leaf tensor that requires grad")
    return params


class _Optimizer:
    """What :func:`reparam.book.training.train` calls: ``zero_grad`` and ``step``."""

    def __init__(self, params: Iterable[Tensor], lr: float) -> None:
        self.params = _check_parameters(params)
        self.lr = check_real(lr, "lr", positive=True)
        self.num_steps = 0  # the updates taken so far

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's gradient (``None``, or zeros if ``set_to_none=False``)."""
        for param in self.params:
            if param.grad is None:
                continue
            if set_to_none:
                param.grad = None
            else:
                param.grad.detach_().zero_()

    def _with_grad(self) -> tuple[list[Tensor], list[Tensor], list[int]]:
        indices = [i for i, p in enumerate(self.params) if p.grad is not None]
        params = [self.params[i] for i in indices]
        return params, [p.grad for p in params], indices  # type: ignore[misc]


class SGD(_Optimizer):
    """Stochastic gradient descent, ``θ ← θ − lr · s(t) · g`` at update ``t = 0, 1, ...``.

    ``s`` is the learning-rate schedule: the update of ``torch.optim.SGD(params, lr)``
    stepped with ``torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)``.

    Args:
        params: the leaf tensors to update.
        lr: the initial learning rate, positive.
        schedule: ``t -> multiplier`` of ``lr`` at update ``t``, e.g.
            :func:`reparam.book.training.cosine_decay`; ``None`` keeps ``lr``.
    """

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float,
        schedule: Callable[[int], float] | None = None,
    ) -> None:
        super().__init__(params, lr)
        if schedule is not None:
            check_callable(schedule, "schedule")
        self.schedule = schedule

    def step(self) -> None:
        """One update of every parameter that has a gradient."""
        rate = self.lr
        if self.schedule is not None:
            rate *= self.schedule(self.num_steps)
        params, grads, _ = self._with_grad()
        with torch.no_grad():
            if params:
                torch._foreach_add_(params, grads, alpha=-rate)
        self.num_steps += 1


class Adam(_Optimizer):
    """Adam (Kingma & Ba, ICLR 2015, Algorithm 1): the update of ``torch.optim.Adam``.

    With moment estimates ``m ← β₁ m + (1 − β₁) g`` and ``v ← β₂ v + (1 − β₂) g²`` (both
    start at zero), update ``t = 1, 2, ...`` is
    ``θ ← θ − lr / (1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + eps)``.

    Args:
        params: the leaf tensors to update.
        lr: the learning rate, positive.
        betas: the decay rates ``(β₁, β₂)``, each in [0, 1).
        eps: added to the denominator, positive.
    """

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        super().__init__(params, lr)
        if not isinstance(betas, tuple) or len(betas) != 2:
            raise TypeError(f"betas must be a tuple of two floats, got {betas!r}")
        for name, beta in zip(("betas[0]", "betas[1]"), betas, strict=True):
            if not 0.0 <= check_real(beta, name) < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {beta}")
        self.betas = (float(betas[0]), float(betas[1]))
        self.eps = check_real(eps, "eps", positive=True)
        self._first = [torch.zeros_like(p) for p in self.params]
        self._second = [torch.zeros_like(p) for p in self.params]
        # the updates each parameter has had (one skipped while its grad was None)
        self._counts = [0] * len(self.params)

    def step(self) -> None:
        """One update of every parameter that has a gradient."""
        params, grads, indices = self._with_grad()
        self.num_steps += 1
        if not params:
            return
        beta1, beta2 = self.betas
        first = [self._first[i] for i in indices]
        second = [self._second[i] for i in indices]
        with torch.no_grad():
            torch._foreach_lerp_(first, grads, 1.0 - beta1)
            torch._foreach_mul_(second, beta2)
            torch._foreach_addcmul_(second, grads, grads, value=1.0 - beta2)
            for i, param, m, v in zip(indices, params, first, second, strict=True):
                self._counts[i] += 1
                t = self._counts[i]
                # torch.optim.Adam's order of operations, so the updates agree to rounding
                denom = (v.sqrt() / math.sqrt(1.0 - beta2**t)).add_(self.eps)
                param.addcdiv_(m, denom, value=-self.lr / (1.0 - beta1**t))
