"""Control variates for Monte Carlo gradient estimates: baselines, leave-one-out, coefficients.

Book chapters: "The score-function estimator" (baselines and control variates) and "Which
estimator, when: variance". A control variate is a quantity h with known mean E[h]; for
any coefficient c,

    g − c (h − E[h])

has the mean of g, and its variance Var g − 2c Cov(g, h) + c² Var h is smallest at
c* = Cov(g, h) / Var h, where it is (1 − ρ²) Var g, ρ the correlation of g and h
(Mohamed, Rosca, Figurnov & Mnih, 2020, the section on control variates). A baseline is
the special case h = ∇ log p (mean 0) in the score-function estimator.

The coefficient is estimated from the draws. Estimated from all N draws it correlates with
draw n and biases the mean by O(1/N); estimated from the *other* N − 1 draws
(``coefficient="leave_one_out"``) it is independent of draw n and the estimator stays exactly
unbiased. All functions work per entry: ``estimates`` and ``controls`` have shape
``(N, *shape)``, one control per entry, with the sample dimension first.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from reparam._validation import as_tensor, check_broadcasts_to, check_finite, check_tensor

__all__ = [
    "Coefficient",
    "apply_control_variate",
    "leave_one_out_mean",
    "optimal_coefficient",
]

#: How :func:`apply_control_variate` chooses c.
Coefficient = float | Tensor | Literal["leave_one_out", "pooled"]


def _check_samples(values: Tensor, name: str, minimum: int, context: str = "") -> Tensor:
    """A finite floating tensor ``(N, ...)`` of at least ``minimum`` draws (``context``: why)."""
    check_tensor(values, name, floating=True)
    if values.dim() == 0 or values.shape[0] < minimum:
        why = f" {context}" if context else ""
        raise ValueError(
            f"{name} must have shape (N, ...) with N >= {minimum} draws{why}, "
            f"got shape {tuple(values.shape)}"
        )
    return check_finite(values, name)


def leave_one_out_mean(values: Tensor) -> Tensor:
    """Row n: the mean of the other N − 1 rows, (Σₘ vₘ − vₙ) / (N − 1); shape of ``values``.

    ``values``: ``(N, *shape)`` with N >= 2. Used as a baseline it is independent of the draw
    it is subtracted from, so the estimator it corrects stays unbiased.
    """
    values = _check_samples(values, "values", 2)
    n = values.shape[0]
    return (values.sum(0, keepdim=True) - values) / (n - 1)


def optimal_coefficient(estimates: Tensor, controls: Tensor) -> Tensor:
    """c* = Cov(g, h) / Var h per entry, from all N draws; shape ``estimates.shape[1:]``.

    Entries whose control does not vary get c = 0 (the control carries no information).
    """
    estimates = _check_samples(estimates, "estimates", 2)
    controls = _check_samples(controls, "controls", 2)
    _check_same_shape(estimates, controls)
    g = estimates - estimates.mean(0)
    h = controls - controls.mean(0)
    var = (h * h).sum(0)
    cov = (g * h).sum(0)
    return torch.where(var > 0, cov / torch.where(var > 0, var, torch.ones_like(var)), 0.0)


def _leave_one_out_coefficient(estimates: Tensor, controls: Tensor) -> Tensor:
    """Row n: c* estimated from the other N − 1 draws (shape ``(N, *shape)``)."""
    n = estimates.shape[0]
    s_g, s_h = estimates.sum(0), controls.sum(0)
    s_hh, s_gh = (controls * controls).sum(0), (estimates * controls).sum(0)
    # Sums without row n, then the centred sums of the remaining n - 1 rows.
    r_g, r_h = s_g - estimates, s_h - controls
    r_hh, r_gh = s_hh - controls * controls, s_gh - estimates * controls
    m = n - 1
    var = r_hh - r_h * r_h / m
    cov = r_gh - r_g * r_h / m
    # Round-off can leave a tiny negative variance for a constant control: treat as zero.
    scale = r_hh.abs() * torch.finfo(estimates.dtype).eps * 8
    ok = var > scale
    return torch.where(ok, cov / torch.where(ok, var, torch.ones_like(var)), 0.0)


def _check_same_shape(estimates: Tensor, controls: Tensor) -> None:
    if estimates.shape != controls.shape:
        raise ValueError(
            "estimates and controls must have the same shape (N, *shape), got "
            f"{tuple(estimates.shape)} and {tuple(controls.shape)}"
        )


def apply_control_variate(
    estimates: Tensor,
    controls: Tensor,
    control_mean: float | Tensor,
    *,
    coefficient: Coefficient = "leave_one_out",
) -> Tensor:
    """Per-sample corrected estimates gₙ − c (hₙ − E[h]); shape ``(N, *shape)``.

    Args:
        estimates: per-sample estimates g, ``(N, *shape)`` (for example the per-sample
            gradients of :mod:`reparam.estimators`).
        controls: the control variate at the same draws, ``(N, *shape)``.
        control_mean: its exact mean E[h], broadcasting to ``shape``.
        coefficient: ``"leave_one_out"`` (default; c for draw n estimated from the other
            draws, unbiased, needs N >= 3), ``"pooled"`` (c* from all N draws: bias O(1/N)),
            or a fixed number or tensor broadcasting to ``shape``.

    The mean over dimension 0 of the result is the corrected estimate, its variance the
    per-sample variance (pass it to :func:`reparam.summarize`).
    """
    if isinstance(coefficient, str) and coefficient not in ("leave_one_out", "pooled"):
        raise ValueError(
            "coefficient must be 'leave_one_out', 'pooled', a number or a tensor, "
            f"got {coefficient!r}"
        )
    minimum, context = 1, ""  # draws needed: 3 to leave one out and estimate c, 2 to pool
    if isinstance(coefficient, str):
        minimum = 3 if coefficient == "leave_one_out" else 2
        context = f"for coefficient={coefficient!r}"
    estimates = _check_samples(estimates, "estimates", minimum, context)
    controls = _check_samples(controls, "controls", minimum, context)
    _check_same_shape(estimates, controls)
    mean = check_finite(as_tensor(control_mean, "control_mean", like=estimates), "control_mean")
    check_broadcasts_to(mean.shape, "control_mean", estimates.shape[1:])
    mean = mean.to(device=estimates.device, dtype=estimates.dtype)
    if coefficient == "leave_one_out":
        c = _leave_one_out_coefficient(estimates, controls)
    elif coefficient == "pooled":
        c = optimal_coefficient(estimates, controls)
    else:
        c = check_finite(as_tensor(coefficient, "coefficient", like=estimates), "coefficient")
        c = c.to(device=estimates.device, dtype=estimates.dtype)
    return estimates - c * (controls - mean)
