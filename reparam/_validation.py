"""Argument checks shared by every public function of :mod:`reparam`.

Each check raises with a message that names the offending parameter, so that a
practitioner who passes a bad value learns which one and why, instead of getting a
NaN several calls later.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor


def as_tensor(value: Any, name: str, like: Tensor | None = None) -> Tensor:
    """Convert ``value`` to a floating-point tensor, on the device and dtype of ``like``.

    Python numbers become tensors of torch's default dtype (or ``like``'s); integer
    tensors are promoted to floating point because every parameter here is continuous.
    """
    if isinstance(value, Tensor):
        tensor = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        tensor = torch.tensor(
            float(value),
            dtype=like.dtype if like is not None else torch.get_default_dtype(),
            device=like.device if like is not None else None,
        )
    else:
        raise TypeError(f"{name} must be a float or a torch.Tensor, got {type(value).__name__}")
    if not torch.is_floating_point(tensor):
        tensor = tensor.to(torch.get_default_dtype())
    return tensor


def check_finite(tensor: Tensor, name: str) -> Tensor:
    """Raise ``ValueError`` if ``tensor`` holds a NaN or an infinity."""
    if tensor.numel() == 1:  # one value (the common case): a Python check, no kernels
        if not math.isfinite(float(tensor.detach())):
            raise ValueError(f"{name} must be finite, got {_describe(tensor)}")
        return tensor
    if not bool(torch.isfinite(tensor.detach()).all()):
        raise ValueError(f"{name} must be finite, got {_describe(tensor)}")
    return tensor


def check_positive(tensor: Tensor, name: str) -> Tensor:
    """Raise ``ValueError`` unless every entry of ``tensor`` is finite and strictly positive."""
    check_finite(tensor, name)
    if not bool((tensor.detach() > 0).all()):
        raise ValueError(f"{name} must be strictly positive, got {_describe(tensor)}")
    return tensor


def check_num_samples(num_samples: Any, name: str = "num_samples") -> int:
    """Return ``num_samples`` as an ``int`` after checking it is a whole number >= 1."""
    if isinstance(num_samples, bool) or not isinstance(num_samples, int):
        raise TypeError(f"{name} must be an int, got {type(num_samples).__name__}")
    if num_samples < 1:
        raise ValueError(f"{name} must be at least 1, got {num_samples}")
    return num_samples


def check_callable(function: Any, name: str = "cost") -> Callable[..., Tensor]:
    """Raise ``TypeError`` unless ``function`` is callable."""
    if not callable(function):
        raise TypeError(f"{name} must be callable, got {type(function).__name__}")
    return function


def check_generator(generator: Any, name: str = "generator") -> torch.Generator | None:
    """Accept ``None`` or a :class:`torch.Generator`; anything else is a ``TypeError``."""
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"{name} must be a torch.Generator or None, got {type(generator).__name__}")
    return generator


def broadcast_parameters(**parameters: Tensor) -> tuple[Tensor, ...]:
    """Broadcast named parameter tensors together, naming them if their shapes clash."""
    try:
        return tuple(torch.broadcast_tensors(*parameters.values()))
    except RuntimeError as error:
        shapes = ", ".join(f"{name}: {tuple(t.shape)}" for name, t in parameters.items())
        raise ValueError(f"parameter shapes do not broadcast ({shapes})") from error


def _describe(tensor: Tensor) -> str:
    flat = tensor.detach().reshape(-1)
    if flat.numel() == 1:
        return f"{flat.item():g}"
    bad = flat[~(torch.isfinite(flat) & (flat > 0))]
    shown = bad[:3].tolist() if bad.numel() else flat[:3].tolist()
    return f"a tensor of shape {tuple(tensor.shape)} containing {shown}"
