"""Argument checks and conversions shared by every public function of :mod:`reparam`.

The one home of input validation: every other module calls these helpers instead of writing
its own ``raise``. Each check raises with a message of one form, ``"{name} must {constraint},
got {value}"``, naming the offending parameter, the constraint it breaks and the offending
value (or, for a tensor, its shape and up to three offending entries), so that a
practitioner who passes a bad value learns which one and why, instead of getting a NaN
several calls later. Bad values are a ``ValueError``, bad types a ``TypeError``.

Conversions follow ``torch.distributions.utils.broadcast_all`` (see :func:`as_tensors`):
tensors keep their dtype and device, and Python and NumPy numbers become tensors of the
dtype the tensors promote to (torch's default dtype if there is no tensor) on the first
tensor's device. Two deliberate departures, because every parameter here is continuous:
integer and boolean tensors are promoted to torch's default floating dtype (broadcast_all
keeps them, and then rounds a float given alongside to an integer), and NumPy arrays are
accepted (converted by :func:`torch.as_tensor`; floating arrays keep their dtype). Complex
inputs, strings, lists and other objects are a ``TypeError``. Counts (``num_samples``,
sizes) accept Python and NumPy integers and 0-d integer tensors, never booleans or floats.
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor


# -- conversion and promotion ------------------------------------------------------------------
def is_real_number(value: Any) -> bool:
    """True for Python and NumPy real numbers (ints and floats), False for booleans."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def common_dtype(*tensors: Tensor) -> torch.dtype:
    """The floating dtype torch's type promotion gives ``tensors`` once broadcast together.

    The dtype of ``torch.distributions`` arithmetic on the outputs of ``broadcast_all``:
    ``torch.promote_types`` over the tensors (float32 with float64 gives float64, whatever
    the shapes), integer and boolean tensors counting as torch's default dtype; torch's
    default dtype if there is no tensor.
    """
    default = torch.get_default_dtype()
    dtype: torch.dtype | None = None
    for tensor in tensors:
        own = tensor.dtype if tensor.is_floating_point() else default
        dtype = own if dtype is None or dtype == own else torch.promote_types(dtype, own)
    return default if dtype is None else dtype


def as_tensor(value: Any, name: str, like: Tensor | None = None) -> Tensor:
    """Convert ``value`` to a floating-point tensor, on the device and dtype of ``like``.

    Python and NumPy numbers become 0-d tensors of ``like``'s floating dtype (torch's default
    dtype if ``like`` is None or not floating), on ``like``'s device; integer and boolean
    tensors (and NumPy arrays) are promoted to torch's default floating dtype, because every
    parameter here is continuous; floating tensors are returned unchanged (same object, so
    gradients flow). Raises ``TypeError`` naming ``name`` for complex values and for anything
    that is not a number, a NumPy array or a tensor. To convert several values that are used
    together, use :func:`as_tensors`.
    """
    if isinstance(value, Tensor):
        tensor = value
    elif is_real_number(value):
        dtype = like.dtype if like is not None and like.is_floating_point() else None
        return torch.tensor(
            float(value),
            dtype=dtype or torch.get_default_dtype(),
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


def as_tensors(values: Mapping[str, Any], *, cast: bool = False) -> dict[str, Tensor]:
    """Convert named values that are used together, promoting as ``broadcast_all`` does.

    Tensors and NumPy arrays are converted by :func:`as_tensor` (floating tensors returned
    unchanged, integer and boolean ones promoted to the default floating dtype); Python and
    NumPy numbers become 0-d tensors of :func:`common_dtype` of those tensors (torch's
    default dtype if there are none), on the first tensor's device. So a number next to a
    float32 tensor is float32, next to a float64 tensor float64, and numbers alone take the
    default dtype. Unlike ``broadcast_all``, a number is converted in the *promoted* dtype,
    not in the first tensor's (no float32 rounding of a number used in float64 arithmetic),
    and shapes are not broadcast (per-parameter gradients keep the parameter's shape; check
    shapes with :func:`check_broadcast`).

    With ``cast``, every tensor is also converted (``Tensor.to``, differentiable) to the
    common dtype, for functions that compute one result from all of them.

    Returns a dict with the keys of ``values``, in order; ``TypeError`` naming a key whose
    value is not a real number, array or tensor.
    """
    dtype: torch.dtype | None = None
    for value in values.values():  # the common case: floating tensors of one dtype, as given
        if not isinstance(value, Tensor) or not value.is_floating_point():
            break
        if dtype is not None and value.dtype != dtype:
            break
        dtype = value.dtype
    else:
        return dict(values)
    tensors = {
        name: None if is_real_number(value) else as_tensor(value, name)
        for name, value in values.items()
    }
    given = [t for t in tensors.values() if t is not None]
    common = common_dtype(*given)
    device = given[0].device if given else None
    out: dict[str, Tensor] = {}
    for name, tensor in tensors.items():
        if tensor is None:
            out[name] = torch.tensor(float(values[name]), dtype=common, device=device)
        else:
            out[name] = tensor.to(common) if cast else tensor
    return out


# -- values of tensors -------------------------------------------------------------------------
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


def check_values(
    tensor: Tensor,
    name: str,
    constraint: str,
    ok: Callable[[Tensor], Tensor],
    ok_number: Callable[[float], bool] | None = None,
) -> Tensor:
    """Raise ``ValueError("{name} must {constraint}, got ...")`` unless ``ok`` holds everywhere.

    ``ok`` maps the detached tensor to a boolean mask of the valid entries (its complement
    selects the entries the message shows); ``ok_number``, if given, is the same test on a
    Python float, used for one-element tensors (no kernels: the common case of a scalar
    parameter costs one host read). Returns ``tensor``.
    """
    detached = tensor.detach()
    if ok_number is not None and detached.numel() == 1:
        if not ok_number(float(detached)):
            raise ValueError(f"{name} must {constraint}, got {describe(tensor)}")
        return tensor
    valid = ok(detached)
    if not bool(valid.all()):
        raise ValueError(f"{name} must {constraint}, got {describe(tensor, ~valid)}")
    return tensor


def check_finite(tensor: Tensor, name: str) -> Tensor:
    """Raise ``ValueError`` if ``tensor`` holds a NaN or an infinity."""
    return check_values(tensor, name, "be finite", torch.isfinite, math.isfinite)


def check_positive(tensor: Tensor, name: str) -> Tensor:
    """Raise ``ValueError`` unless every entry of ``tensor`` is finite and strictly positive."""
    if tensor.numel() == 1 and 0 < float(tensor.detach()) < math.inf:  # the hot path: a scale
        return tensor
    check_finite(tensor, name)
    return check_values(tensor, name, "be strictly positive", lambda t: t > 0, lambda v: v > 0)


def check_greater_than(tensor: Tensor, name: str, bound: float) -> Tensor:
    """Raise ``ValueError`` unless every entry is finite and strictly greater than ``bound``."""
    check_finite(tensor, name)
    return check_values(
        tensor, name, f"be greater than {bound:g}", lambda t: t > bound, lambda v: v > bound
    )


def check_in_interval(
    tensor: Tensor, name: str, low: float, high: float, *, closed: bool = False
) -> Tensor:
    """Raise ``ValueError`` unless every entry lies in (low, high), or [low, high] if
    ``closed``; NaN is never inside."""
    if closed:
        return check_values(
            tensor,
            name,
            f"lie in [{low:g}, {high:g}]",
            lambda t: (t >= low) & (t <= high),
            lambda v: low <= v <= high,
        )
    return check_values(
        tensor,
        name,
        f"lie strictly between {low:g} and {high:g}",
        lambda t: (t > low) & (t < high),
        lambda v: low < v < high,
    )


def check_whole(tensor: Tensor, name: str, minimum: int = 1) -> Tensor:
    """Raise ``ValueError`` unless every entry is a whole number >= ``minimum`` (stored in a
    floating tensor, e.g. the Erlang shape)."""
    check_finite(tensor, name)
    return check_values(
        tensor,
        name,
        f"be a whole number >= {minimum}",
        lambda t: (t >= minimum) & (t == t.round()),
        lambda v: v >= minimum and v == round(v),
    )


_RELATIONS: dict[str, tuple[str, Callable[[Any, Any], Any]]] = {
    ">": ("be greater than", operator.gt),
    ">=": ("be at least", operator.ge),
    "<=": ("be at most", operator.le),
}


def check_relation(
    tensor: Tensor, name: str, relation: str, other: Tensor, other_name: str
) -> Tensor:
    """Raise ``ValueError`` unless ``tensor`` ``relation`` ``other`` holds entrywise
    (``relation`` one of ``">"``, ``">="``, ``"<="``; shapes broadcast), e.g. a Uniform's
    ``high > low``. The message names both parameters and shows the offending pairs."""
    words, compare = _RELATIONS[relation]
    mine, theirs = tensor.detach(), other.detach()
    if mine.numel() == 1 and theirs.numel() == 1:  # scalars: a Python comparison
        ok = bool(compare(float(mine), float(theirs)))
        bad_mine, bad_theirs = describe(mine), describe(theirs)
    else:
        mine, theirs = torch.broadcast_tensors(mine, theirs)
        valid = compare(mine, theirs)
        ok = bool(valid.all())
        if not ok:
            bad_mine, bad_theirs = describe(mine, ~valid), describe(theirs, ~valid)
    if not ok:
        raise ValueError(
            f"{name} must {words} {other_name}, got {name} = {bad_mine}, "
            f"{other_name} = {bad_theirs}"
        )
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
    if all(t.numel() == 1 for t in finite.values()) and all(
        t.numel() == 1 for t in positive.values()
    ):  # scalars: Python comparisons, no kernels (``item`` reads through autograd)
        ok = all(math.isfinite(t.item()) for t in finite.values()) and all(
            0 < t.item() < math.inf for t in positive.values()
        )
    else:  # one boolean tensor for all of them: comparisons record no autograd history
        flag: Tensor | None = None
        for t in finite.values():
            new = torch.isfinite(t).all()
            flag = new if flag is None else flag & new
        for t in positive.values():
            new = ((t > 0) & (t < math.inf)).all()
            flag = new if flag is None else flag & new
        ok = flag is None or bool(flag)
    if not ok:
        for name, t in finite.items():
            check_finite(t, name)
        for name, t in positive.items():
            check_positive(t, name)


# -- shapes and kinds of tensors ----------------------------------------------------------------
def broadcast_shapes(*shapes: torch.Size | tuple[int, ...]) -> torch.Size:
    """The shape ``shapes`` broadcast to, as ``torch.broadcast_shapes`` gives it.

    Computed in Python: ``torch.broadcast_shapes`` costs tens of µs a call and imports sympy
    (most of a second) on its first, and the common cases (every shape ``()`` or one and the
    same shape) take one comparison. Shapes are aligned at their last dimension; sizes must
    agree or be 1 (a size 0 broadcasts with 1 only). Raises ``RuntimeError`` for shapes that
    do not broadcast and ``ValueError`` for a negative size, as torch does.
    """
    sized = [shape for shape in shapes if len(shape)]
    if not sized:
        return torch.Size()
    first = sized[0]
    if all(shape == first for shape in sized[1:]):
        return torch.Size(first)
    result = [1] * max(len(shape) for shape in sized)
    for index, shape in enumerate(shapes):  # () contributes nothing
        offset = len(result) - len(shape)
        for axis, size in enumerate(shape, offset):
            if size < 0:
                raise ValueError("Attempting to broadcast a dimension with negative length!")
            if size == 1 or size == result[axis]:
                continue
            if result[axis] != 1:
                raise RuntimeError(
                    f"Shape mismatch: objects cannot be broadcast to a single shape: "
                    f"{tuple(shape)} (shape {index}) against {tuple(result)} at dimension "
                    f"{axis - len(result)}"
                )
            result[axis] = size
    return torch.Size(result)


def check_broadcast(**shapes: torch.Size | tuple[int, ...]) -> torch.Size:
    """The broadcast shape of named shapes; ``ValueError`` listing them if they clash."""
    try:
        return broadcast_shapes(*shapes.values())
    except RuntimeError as error:
        listed = ", ".join(f"{name}: {tuple(shape)}" for name, shape in shapes.items())
        raise ValueError(
            f"the shapes of {', '.join(shapes)} must broadcast together, got {listed}"
        ) from error


def check_broadcasts_to(
    shape: torch.Size | tuple[int, ...],
    name: str,
    target: torch.Size | tuple[int, ...],
    *,
    target_name: str | None = None,
) -> None:
    """Raise ``ValueError`` unless ``shape`` broadcasts to ``target`` without growing it.

    That is, ``broadcast_shapes(shape, target) == target``: ``shape`` has at most as many
    dimensions, and each of its sizes, aligned at the last dimension, is 1 or that of
    ``target`` (a baseline or a mean subtracted from values of shape ``target``). The message
    is ``"{name} must broadcast to {target}, got shape {shape}"``, with ``target`` written as
    ``"{target_name} = {target}"`` if ``target_name`` is given.
    """
    if len(shape) <= len(target) and all(
        size == 1 or size == wanted
        for size, wanted in zip(reversed(shape), reversed(target), strict=False)
    ):
        return
    wanted_text = f"{target_name} = {tuple(target)}" if target_name else f"{tuple(target)}"
    raise ValueError(f"{name} must broadcast to {wanted_text}, got shape {tuple(shape)}")


def check_tensor(value: Any, name: str, *, floating: bool = False) -> Tensor:
    """``value`` after checking it is a real ``torch.Tensor`` (floating-point if ``floating``).

    ``TypeError`` naming ``name`` for anything else: not a tensor, a complex tensor, or (with
    ``floating``) an integer or boolean one. For inputs that must already be tensors (draws,
    per-sample estimates, matrices); parameters that may be numbers go through
    :func:`as_tensor`.
    """
    kind = "a floating-point torch.Tensor" if floating else "a torch.Tensor"
    if not isinstance(value, Tensor):
        raise TypeError(f"{name} must be {kind}, got {type(value).__name__}")
    if value.is_complex():
        raise TypeError(f"{name} must be real, got a complex tensor of dtype {value.dtype}")
    if floating and not value.is_floating_point():
        raise TypeError(f"{name} must be {kind}, got dtype {value.dtype}")
    return value


def check_square(tensor: Tensor, name: str, *, batch: bool = False) -> Tensor:
    """Raise ``ValueError`` unless ``tensor`` is a non-empty square matrix ``(d, d)``, or with
    ``batch`` a batch of them ``(..., d, d)``."""
    shape = tuple(tensor.shape)
    square = len(shape) >= 2 and shape[-1] == shape[-2] and shape[-1] > 0
    if not square or (not batch and len(shape) != 2):
        layout = "(..., d, d)" if batch else "(d, d)"
        raise ValueError(f"{name} must be a square matrix {layout}, got shape {shape}")
    return tensor


# -- Python arguments ----------------------------------------------------------------------------
def check_count(
    value: Any, name: str, minimum: int = 1, maximum: int | None = None, *, context: str = ""
) -> int:
    """Return ``value`` as an ``int`` after checking it is a whole number in
    [``minimum``, ``maximum``].

    Accepts Python and NumPy integers and 0-d integer tensors (anything with ``__index__``),
    never booleans or floats (``TypeError``). ``context`` says why the bound applies, after
    it: ``check_count(n, "num_samples", 2, context="for baseline='optimal'")`` raises
    ``"num_samples must be at least 2 for baseline='optimal', got 1"``.
    """
    if type(value) is int:  # the common case, checked without the general machinery
        count = value
    elif isinstance(value, (bool, np.bool_)) or (
        isinstance(value, Tensor) and value.dtype == torch.bool
    ):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    else:
        try:
            count = operator.index(value)
        except TypeError:
            raise TypeError(f"{name} must be an int, got {type(value).__name__}") from None
    if count < minimum or (maximum is not None and count > maximum):
        bound = f"at least {minimum}" if count < minimum else f"at most {maximum}"
        why = f" {context}" if context else ""
        raise ValueError(f"{name} must be {bound}{why}, got {count}")
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


def check_choice(value: Any, name: str, choices: Sequence[Any]) -> Any:
    """Return ``value`` after checking it is one of ``choices`` (``ValueError`` listing them)."""
    if not any(type(value) is type(choice) and value == choice for choice in choices):
        listed = ", ".join(repr(choice) for choice in choices)
        raise ValueError(f"{name} must be one of {listed}, got {value!r}")
    return value


def check_instance(value: Any, name: str, kind: type | tuple[type, ...], wanted: str) -> Any:
    """Return ``value`` after checking ``isinstance(value, kind)``; else ``TypeError("{name}
    must be {wanted}, got {type}")``, ``wanted`` saying what is expected in words."""
    if not isinstance(value, kind):
        raise TypeError(f"{name} must be {wanted}, got {type(value).__name__}")
    return value


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
