"""Full-covariance Gaussians through a Cholesky factor, and their exact KL to a Gaussian.

Book chapter "Gaussians at scale" (section "A full-covariance Gaussian"). A Gaussian
q = N(μ, Σ) with Σ = L Lᵀ, L lower triangular with a positive diagonal, is drawn as
z = μ + L ε, ε ~ N(0, I): the location-scale path of the one-dimensional trick with a matrix
scale. Every positive-definite Σ has exactly one such L (its Cholesky factor), sampling costs
O(D²) and log det Σ = 2 Σᵢ log Lᵢᵢ costs O(D).

Gradient descent needs parameters without constraints. :func:`scale_tril` maps an
unconstrained square matrix to L: the entries below the diagonal are kept, the diagonal goes
through ``exp`` (as ``torch.distributions.transforms.LowerCholeskyTransform`` does, and as the
log-scale of a mean-field Gaussian does) or ``softplus`` (which grows linearly, so one large
step cannot blow up a scale), and the entries above it are ignored. :func:`unconstrained`
inverts it. The full-rank and mean-field Gaussians of ADVI (Kucukelbir, Tran, Ranganath, Gelman
& Blei, JMLR 2017) live in such an unconstrained space.

For a Gaussian target p = N(m, Λ⁻¹) (precision Λ) everything is exact, which the chapter uses
to check Monte Carlo gradients:

- :func:`gaussian_kl`: KL(q ‖ p) = ½ [tr(Λ L Lᵀ) + (μ − m)ᵀ Λ (μ − m) − D − log det Λ]
  − Σᵢ log Lᵢᵢ;
- :func:`gaussian_kl_gradients`: its gradients, ∇_μ = Λ (μ − m) and
  ∇_L = tril(Λ L) − diag(1/Lᵢᵢ) (the lower triangle only: L has no other free entries);
- :func:`mean_field_optimum`: the best diagonal q, with μ = m and σᵢ² = 1/Λᵢᵢ, whose KL is
  ½ [Σᵢ log Λᵢᵢ − log det Λ] ≥ 0 (Hadamard's inequality).

Shapes: ``loc`` ``(..., D)``, ``scale_tril`` ``(..., D, D)``; the target's ``(D,)`` and
``(D, D)`` broadcast against them. Results follow the inputs' dtype and device.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from reparam._validation import (
    check_choice,
    check_finite,
    check_square,
    check_tensor,
)

__all__ = [
    "DIAGONALS",
    "Diagonal",
    "gaussian_kl",
    "gaussian_kl_gradients",
    "mean_field_optimum",
    "scale_tril",
    "unconstrained",
]

#: How an unconstrained diagonal entry becomes a positive one.
Diagonal = Literal["exp", "softplus"]
DIAGONALS: tuple[Diagonal, ...] = ("exp", "softplus")


def _diagonal_choice(diagonal: object) -> Diagonal:
    result: Diagonal = check_choice(diagonal, "diagonal", DIAGONALS)
    return result


def _square(value: object, name: str) -> Tensor:
    tensor = check_tensor(value, name, floating=True)
    check_square(tensor, name, batch=True)
    return check_finite(tensor, name)


def scale_tril(raw: Tensor, *, diagonal: Diagonal = "exp") -> Tensor:
    """The Cholesky factor L that an unconstrained square matrix stands for.

    Args:
        raw: ``(..., D, D)``, finite; the entries above the diagonal are
            ignored (their gradient is zero).
        diagonal: ``"exp"`` (``L[i, i] = exp(raw[i, i])``, as torch's
            ``LowerCholeskyTransform``) or ``"softplus"``
            (``L[i, i] = log(1 + exp(raw[i, i]))``).

    Returns:
        L, ``(..., D, D)``: ``raw``'s strict lower triangle, the positive
        diagonal, zeros above.
    """
    raw = _square(raw, "raw")
    diagonal = _diagonal_choice(diagonal)
    entries = raw.diagonal(dim1=-2, dim2=-1)
    positive = entries.exp() if diagonal == "exp" else F.softplus(entries)
    return raw.tril(-1) + torch.diag_embed(positive)


def _check_scale_tril(value: object, name: str = "scale_tril") -> Tensor:
    """A lower-triangular matrix with a positive diagonal, or an error naming ``name``."""
    tril = _square(value, name)
    if bool((tril.detach().triu(1) != 0).any()):
        raise ValueError(f"{name} must be lower triangular, got nonzero entries above the diagonal")
    entries = tril.detach().diagonal(dim1=-2, dim2=-1)
    if bool((entries <= 0).any()):
        low = float(entries.min())
        raise ValueError(f"{name} must have a strictly positive diagonal, got an entry {low:g}")
    return tril


def unconstrained(scale_tril: Tensor, *, diagonal: Diagonal = "exp") -> Tensor:
    """The inverse of :func:`scale_tril`: the unconstrained matrix (zeros above the diagonal).

    Args:
        scale_tril: L, ``(..., D, D)``, lower triangular with a positive diagonal.
        diagonal: as in :func:`scale_tril`.

    Returns:
        ``(..., D, D)``: L's strict lower triangle and the diagonal's log
        (``"exp"``) or inverse softplus log(exp Lᵢᵢ − 1) (``"softplus"``).
    """
    tril = _check_scale_tril(scale_tril)
    diagonal = _diagonal_choice(diagonal)
    entries = tril.diagonal(dim1=-2, dim2=-1)
    if diagonal == "exp":
        raw = entries.log()
    else:
        # log(exp(y) − 1) = y + log(1 − exp(−y)), which neither overflows for a large y
        # nor loses the small y's digits
        raw = entries + torch.log(-torch.expm1(-entries))
    return tril.tril(-1) + torch.diag_embed(raw)


def _check_target(
    loc: Tensor, target_loc: object, target_precision: object
) -> tuple[Tensor, Tensor]:
    """The target's mean ``(D,)`` and symmetric positive-definite precision ``(D, D)``."""
    mean = check_tensor(target_loc, "target_loc", floating=True)
    precision = _square(target_precision, "target_precision")
    dim = loc.shape[-1]
    if mean.shape != (dim,):
        raise ValueError(f"target_loc must have shape ({dim},), got {tuple(mean.shape)}")
    check_finite(mean, "target_loc")
    if precision.shape != (dim, dim):
        raise ValueError(
            f"target_precision must have shape ({dim}, {dim}), got {tuple(precision.shape)}"
        )
    size = precision.detach().abs().max()
    tolerance = 100 * torch.finfo(precision.dtype).eps * size
    if bool(((precision.detach() - precision.detach().mT).abs() > tolerance).any()):
        raise ValueError("target_precision must be symmetric, got one that differs from its .T")
    _, info = torch.linalg.cholesky_ex(precision.detach())
    if int(info) != 0:
        raise ValueError("target_precision must be positive definite; its Cholesky fails")
    return mean, precision


def _check_q(loc: object, scale_tril: object) -> tuple[Tensor, Tensor]:
    loc_t = check_tensor(loc, "loc", floating=True)
    if loc_t.dim() < 1 or loc_t.shape[-1] == 0:
        raise ValueError(f"loc must have shape (..., D) with D >= 1, got {tuple(loc_t.shape)}")
    check_finite(loc_t, "loc")
    tril = _check_scale_tril(scale_tril)
    if tril.shape[-1] != loc_t.shape[-1]:
        dim = loc_t.shape[-1]
        raise ValueError(
            f"scale_tril must have shape (..., {dim}, {dim}) to match loc, got {tuple(tril.shape)}"
        )
    dtypes = {loc_t.dtype, tril.dtype}
    if len(dtypes) > 1:
        raise TypeError(f"loc and scale_tril must share one dtype, got {loc_t.dtype}, {tril.dtype}")
    return loc_t, tril


def gaussian_kl(
    loc: Tensor,
    scale_tril: Tensor,
    target_loc: Tensor,
    target_precision: Tensor,
) -> Tensor:
    """KL(N(μ, L Lᵀ) ‖ N(m, Λ⁻¹)) in closed form.

    Args:
        loc: μ, ``(..., D)``.
        scale_tril: L, ``(..., D, D)``, lower triangular, positive diagonal.
        target_loc: m, ``(D,)``.
        target_precision: Λ, ``(D, D)``, symmetric positive definite.

    Returns:
        The divergence, shape ``(...)`` (the batch shapes broadcast), ≥ 0.
    """
    mu, tril = _check_q(loc, scale_tril)
    mean, precision = _check_target(mu, target_loc, target_precision)
    mean, precision = mean.to(mu), precision.to(mu)
    dim = mu.shape[-1]
    diff = mu - mean
    trace = ((precision @ tril) * tril).sum(dim=(-2, -1))  # tr(Λ L Lᵀ)
    mahalanobis = (diff * (diff @ precision)).sum(-1)
    log_det_precision = 2 * torch.linalg.cholesky(precision).diagonal().log().sum()
    log_det_scale = tril.diagonal(dim1=-2, dim2=-1).log().sum(-1)
    return 0.5 * (trace + mahalanobis - dim - log_det_precision) - log_det_scale


def gaussian_kl_gradients(
    loc: Tensor,
    scale_tril: Tensor,
    target_loc: Tensor,
    target_precision: Tensor,
) -> dict[str, Tensor]:
    """The gradients of :func:`gaussian_kl` with respect to μ and L, in closed form.

    Args:
        loc: as in :func:`gaussian_kl`.
        scale_tril: as in :func:`gaussian_kl`.
        target_loc: as in :func:`gaussian_kl`.
        target_precision: as in :func:`gaussian_kl`.

    Returns:
        ``{"loc": Λ (μ − m), "scale_tril": tril(Λ L) − diag(1/Lᵢᵢ)}``, shapes
        ``(..., D)`` and ``(..., D, D)``, zero above the diagonal. The ELBO
        gradients are their negatives.
    """
    mu, tril = _check_q(loc, scale_tril)
    mean, precision = _check_target(mu, target_loc, target_precision)
    mean, precision = mean.to(mu), precision.to(mu)
    grad_loc = (mu - mean) @ precision  # Λ symmetric, so a row times Λ is (Λ (μ − m))ᵀ
    inverse_diagonal = torch.diag_embed(tril.diagonal(dim1=-2, dim2=-1).reciprocal())
    grad_tril = (precision @ tril).tril() - inverse_diagonal
    return {"loc": grad_loc, "scale_tril": grad_tril}


def mean_field_optimum(target_loc: Tensor, target_precision: Tensor) -> dict[str, Tensor]:
    """The diagonal Gaussian closest to N(m, Λ⁻¹) in KL(q ‖ p), and its divergence.

    Setting the gradients of :func:`gaussian_kl` to zero for a diagonal L gives μ = m and
    1/σᵢ² = Λᵢᵢ: each variance is the *conditional* variance of zᵢ given the others, never
    more than the marginal (Λ⁻¹)ᵢᵢ, so a mean-field q is too narrow wherever p is correlated.

    Args:
        target_loc: m, ``(D,)``.
        target_precision: Λ, ``(D, D)``, symmetric positive definite.

    Returns:
        ``{"loc": m, "scale": Λᵢᵢ^(−1/2), "kl": ½ (Σᵢ log Λᵢᵢ − log det Λ)}``, shapes
        ``(D,)``, ``(D,)`` and ``()``.
    """
    mean = check_tensor(target_loc, "target_loc", floating=True)
    if mean.dim() != 1 or mean.shape[0] == 0:
        raise ValueError(f"target_loc must have shape (D,), got {tuple(mean.shape)}")
    mean, precision = _check_target(mean, mean, target_precision)
    precision = precision.to(mean)
    entries = precision.diagonal()
    log_det = 2 * torch.linalg.cholesky(precision).diagonal().log().sum()
    kl = 0.5 * (entries.log().sum() - log_det)
    return {"loc": mean, "scale": entries.rsqrt(), "kl": kl}
