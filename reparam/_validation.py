"""Argument checks shared by every public function of :mod:`reparam`.

Each check raises with a message that names the offending parameter and the constraint it
breaks (with the offending value), so that a practitioner who passes a bad value learns which
one and why, instead of getting a NaN several calls later.

Conventions (those of ``torch``): Python numbers and NumPy scalars are accepted wherever a
tensor parameter is, and take the dtype and device of the tensor they are combined with;
integer and boolean tensors are promoted to torch's default floating dtype; NumPy arrays are
converted with :func:`torch.as_tensor` (floating arrays keep their dtype). Complex inputs,
strings, lists and other objects are a ``TypeError``. Counts (``num_samples``, sizes) accept
Python and NumPy integers and 0-d integer tensors, never booleans or floats.
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor


def _floating_dtype(like: Tensor | None) -> torch.dtype:
    if like is not None and torch.is_floating_point(like):
        return like.dtype
    return torch.get_default_dtype()


def is_real_number(value: Any) -> bool:
    """True for Python and NumPy real numbers (ints and floats), False for booleans."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def as_tensor(value: Any, name: str, like: Tensor | None = None) -> Tensor:
    """Convert ``value`` to a floating-point tensor, on the device and dtype of ``like``.

    Python and NumPy numbers become 0-d tensors of ``like``'s floating dtype (torch's default
    dtype if ``like`` is None or not floating), on ``like``'s device; integer and boolean
    tensors (and NumPy arrays) are promoted to torch's default floating dtype, because every
    parameter here is continuous; floating tensors are returned unchanged (same object, so
    gradients flow). Raises ``TypeError`` naming ``name`` for complex values and for anything
    that is not a number, a NumPy array or a tensor.
    """
    if isinstance(value, Tensor):
        tensor = value
    elif is_real_number(value):
        return torch.tensor(
            float(value),
            dtype=_floating_dtype(like),
            device=like.device if like is not None else None,
        )
    elif isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        tensor = torch.as_tensor(value, device=like.device if like is not None else None)
    else:
        raise TypeError(
            f"{name} must be a real number or a torch.Tensor, got {type(value).__name__}"
            + (f" of dtype {value.dtype}" if isinstance(value, np.ndarray) else "")
        )
    if tensor.is_complex():
        raise TypeError(f"{name} must be real, got a complex tensor of dtype {tensor.dtype}")
    if not torch.is_floating_point(tensor):
        tensor = tensor.to(torch.get_default_dtype())
    return tensor


def check_finite(tensor: Tensor, name: str) -> Tensor:
    """Raise ``ValueError`` if ``tensor`` holds a NaN or an infinity."""
    if tensor.numel() == 1:  # one value (the common case): a Python check, no kernels
        if not math.isfinite(float(tensor.detach())):
            raise ValueError(f"{name} must be finite, got {describe(tensor)}")
        return tensor
    if not bool(torch.isfinite(tensor.detach()).all()):
        raise ValueError(
            f"{name} must be finite, got {describe(tensor, ~torch.isfinite(tensor.detach()))}"
        )
    return tensor


def check_positive(tensor: Tensor, name: str) -> Tensor:
    """Raise ``ValueError`` unless every entry of ``tensor`` is finite and strictly positive."""
    check_finite(tensor, name)
    if tensor.numel() == 1:
        if not float(tensor.detach()) > 0:
            raise ValueError(f"{name} must be strictly positive, got {describe(tensor)}")
        return tensor
    if not bool((tensor.detach() > 0).all()):
        raise ValueError(f"{name} must be strictly positive, got {describe(tensor)}")
    return tensor


def check_finite_and_positive(
    finite: dict[str, Tensor], positive: dict[str, Tensor] | None = None
) -> None:
    """Check several tensors at once: ``finite`` ones finite, ``positive`` ones finite and > 0.

    The common case (everything valid) costs one host synchronisation however many tensors
    there are; on failure the individual checks run, and the first failing one raises a
    ``ValueError`` naming its parameter.
    """
    positive = positive or {}
    tensors = [*finite.values(), *positive.values()]
    if all(t.numel() == 1 for t in tensors):  # scalars: Python comparisons, no kernels
        ok = all(math.isfinite(float(t.detach())) for t in finite.values()) and all(
            0 < float(t.detach()) < math.inf for t in positive.values()
        )
    else:
        flags = [torch.isfinite(t.detach()).all() for t in finite.values()]
        flags += [((t.detach() > 0) & (t.detach() < math.inf)).all() for t in positive.values()]
        ok = bool(torch.stack(flags).all()) if flags else True
    if not ok:
        for name, t in finite.items():
            check_finite(t, name)
        for name, t in positive.items():
            check_positive(t, name)


def broadcast_shapes(*shapes: torch.Size | tuple[int, ...]) -> torch.Size:
    """``torch.broadcast_shapes``, without its cost (tens of µs) in the common cases: every
    shape is ``()`` or one and the same shape. Raises ``RuntimeError`` as torch does."""
    sized = [shape for shape in shapes if len(shape)]
    if not sized:
        return torch.Size()
    if all(shape == sized[0] for shape in sized[1:]):
        return torch.Size(sized[0])
    return torch.broadcast_shapes(*shapes)


def check_broadcast(**shapes: torch.Size | tuple[int, ...]) -> torch.Size:
    """The broadcast shape of named shapes; ``ValueError`` listing them if they clash."""
    try:
        return broadcast_shapes(*shapes.values())
    except RuntimeError as error:
        listed = ", ".join(f"{name}: {tuple(shape)}" for name, shape in shapes.items())
        raise ValueError(
            f"the shapes of {', '.join(shapes)} must broadcast together, got {listed}"
        ) from error


def check_count(value: Any, name: str, minimum: int = 1) -> int:
    """Return ``value`` as an ``int`` after checking it is a whole number >= ``minimum``.

    Accepts Python and NumPy integers and 0-d integer tensors (anything with ``__index__``),
    never booleans or floats (``TypeError``).
    """
    if type(value) is int:  # the common case, checked without the general machinery
        if value < minimum:
            raise ValueError(f"{name} must be at least {minimum}, got {value}")
        return value
    if isinstance(value, (bool, np.bool_)) or (
        isinstance(value, Tensor) and value.dtype == torch.bool
    ):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    try:
        count = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an int, got {type(value).__name__}") from None
    if count < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {count}")
    return count


def check_num_samples(num_samples: Any, name: str = "num_samples") -> int:
    """Return ``num_samples`` as an ``int`` after checking it is a whole number >= 1."""
    return check_count(num_samples, name, 1)


def check_real(
    value: Any,
    name: str,
    *,
    finite: bool = True,
    positive: bool = False,
    allow_tensor: bool = False,
) -> float:
    """Return a real number as a Python ``float``, checking it is finite (and positive).

    Accepts Python and NumPy ints and floats (never booleans); with ``allow_tensor``, also
    one-element real tensors (their value: gradients do not flow through a float).
    """
    if allow_tensor and isinstance(value, Tensor) and value.numel() == 1:
        if value.is_complex() or value.dtype == torch.bool:
            raise TypeError(f"{name} must be a real number, got a tensor of dtype {value.dtype}")
        number = float(value.detach())
    elif is_real_number(value):
        number = float(value)
    else:
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    if (finite or positive) and not math.isfinite(number):
        raise ValueError(f"{name} must be finite, got {number:g}")
    if positive and not number > 0:
        raise ValueError(f"{name} must be strictly positive, got {number:g}")
    return number


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


def check_floating_dtype(dtype: Any, name: str = "dtype") -> torch.dtype:
    """``dtype`` (default: torch's default dtype) after checking it is a floating dtype."""
    dtype = dtype if dtype is not None else torch.get_default_dtype()
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"{name} must be a floating torch.dtype, got {dtype}")
    return dtype


def broadcast_parameters(**parameters: Tensor) -> tuple[Tensor, ...]:
    """Broadcast named parameter tensors together, naming them if their shapes clash."""
    check_broadcast(**{name: t.shape for name, t in parameters.items()})
    return tuple(torch.broadcast_tensors(*parameters.values()))


def describe(tensor: Tensor, bad: Tensor | None = None) -> str:
    """The value of a one-element tensor, or a tensor's shape and (up to 3 of) its bad entries.

    ``bad`` is a boolean mask of the offending entries (default: not finite or not positive).
    """
    flat = tensor.detach().reshape(-1)
    if flat.numel() == 1:
        return f"{flat.item():g}"
    mask = ~(torch.isfinite(flat) & (flat > 0)) if bad is None else bad.reshape(-1)
    offending = flat[mask]
    shown = offending[:3].tolist() if offending.numel() else flat[:3].tolist()
    return f"a tensor of shape {tuple(tensor.shape)} containing {shown}"
