"""Bonnet's and Price's theorems: gradients of Gaussian expectations, exact and by Monte Carlo.

Book chapter "History" (section "Bonnet's and Price's theorems"). For x ~ N(m, Σ) in R^d and a
twice-differentiable cost f,

- Bonnet (1964):  ∇_m E[f(x)] = E[∇_x f(x)];
- Price (1958):   ∂E[f(x)]/∂Σ_ij = ½ E[∂²f(x)/∂x_i ∂x_j] when Σ_ij and Σ_ji are treated as
  separate variables (the *untied* convention, the one matrix calculus uses for a symmetric
  argument); for a symmetric Σ whose off-diagonal pair Σ_ij = Σ_ji is one variable (the *tied*
  convention) the off-diagonal derivative is E[∂²f/∂x_i ∂x_j], without the ½. Diagonal entries
  are the same in both conventions.

This module gives three independent routes to the same gradients:

- :func:`exact_gaussian_gradients` differentiates a closed-form expectation (test costs
  :func:`quadratic_form_cost` and :func:`exp_quadratic_form_cost`) by autograd;
- :func:`bonnet_gradient` and :func:`price_gradient` average ∇_x f and ∇²_x f over draws
  (the theorems used as estimators);
- :func:`cholesky_pathwise_gradients` differentiates f(m + L ε), L = chol(Σ), through the
  sampling path (the reparameterization trick).

Every Monte Carlo function returns *per-sample* estimates (sample dimension first), whose mean
is the estimate; :func:`reparam.summarize` gives its standard error. Gradients with respect to
the covariance are returned in the untied convention unless ``convention="tied"``;
:func:`tie_gradient` and :func:`untie_gradient` convert between the two.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from reparam._validation import (
    as_tensor,
    as_tensors,
    check_callable,
    check_choice,
    check_finite,
    check_generator,
    check_instance,
    check_num_samples,
    check_square,
    check_tensor,
    common_dtype,
)
from reparam.noise import standard_normal

__all__ = [
    "Convention",
    "MultivariateGaussianCost",
    "bonnet_gradient",
    "cholesky_pathwise_gradients",
    "exact_gaussian_gradients",
    "exp_quadratic_form_cost",
    "gaussian_rsample",
    "price_gradient",
    "quadratic_form_cost",
    "tie_gradient",
    "untie_gradient",
]

#: How derivatives with respect to a symmetric covariance count the off-diagonal pair.
Convention = Literal["untied", "tied"]
_CONVENTIONS = ("untied", "tied")


@dataclass(frozen=True)
class MultivariateGaussianCost:
    """A cost f: R^d -> R with its Gaussian expectation in closed form.

    Attributes:
        name: short identifier.
        function: f, applied to the last dimension: shape ``(..., d)`` in, ``(...)`` out.
        expectation: ``(loc, cov) -> E_{N(loc, cov)}[f(x)]``, a 0-d tensor, written with torch
            operations so that autograd differentiates it; ``loc`` has shape ``(d,)`` and
            ``cov`` shape ``(d, d)``.
        dim: the dimension d.
    """

    name: str
    function: Callable[[Tensor], Tensor]
    expectation: Callable[[Tensor, Tensor], Tensor]
    dim: int

    def __call__(self, x: Tensor) -> Tensor:
        return self.function(x)


def _as_float_tensors(values: dict[str, object]) -> dict[str, Tensor]:
    """``reparam._validation.as_tensors`` (``cast``: one dtype), with nested lists of
    numbers read like numbers: in the dtype the tensors promote to, on their device."""
    lists = {name: value for name, value in values.items() if isinstance(value, list)}
    promoted = as_tensors({k: v for k, v in values.items() if k not in lists}, cast=True)
    dtype = common_dtype(*promoted.values())
    device = next(iter(promoted.values())).device if promoted else None
    for name, value in lists.items():
        promoted[name] = torch.tensor(value, dtype=dtype, device=device)
    return {name: promoted[name] for name in values}


def _square_matrix(value: Tensor | list[list[float]], name: str) -> Tensor:
    """A finite square matrix ``(d, d)``, d >= 1 (lists read in the default dtype)."""
    matrix = _as_float_tensors({name: value})[name]
    check_square(matrix, name)
    return check_finite(matrix, name)


def quadratic_form_cost(
    matrix: Tensor | list[list[float]],
    vector: Tensor | list[float] | None = None,
    constant: float = 0.0,
) -> MultivariateGaussianCost:
    """f(x) = xᵀ A x + bᵀ x + c, with E_{N(m, Σ)}[f] = tr(A Σ) + mᵀ A m + bᵀ m + c.

    Its Hessian is the constant A + Aᵀ, so Price's theorem gives ∂E/∂Σ = ½(A + Aᵀ) (untied).

    Args:
        matrix: A, shape ``(d, d)`` (need not be symmetric).
        vector: b, shape ``(d,)``; zero if omitted.
        constant: c.
    """
    a = _square_matrix(matrix, "matrix")
    d = a.shape[0]
    if vector is None:
        b = torch.zeros(d, dtype=a.dtype, device=a.device)
    else:
        b = as_tensor(
            torch.tensor(vector, dtype=a.dtype) if isinstance(vector, list) else vector, "vector"
        )
        if b.shape != (d,):
            raise ValueError(f"vector must have shape ({d},), got {tuple(b.shape)}")

    def function(x: Tensor) -> Tensor:
        a_x, b_x = a.to(x), b.to(x)
        return torch.einsum("...i,ij,...j->...", x, a_x, x) + x @ b_x + constant

    def expectation(loc: Tensor, cov: Tensor) -> Tensor:
        a_x, b_x = a.to(loc), b.to(loc)
        return torch.trace(a_x @ cov) + loc @ a_x @ loc + b_x @ loc + constant

    return MultivariateGaussianCost(f"quadratic_form(d={d})", function, expectation, d)


def exp_quadratic_form_cost(precision: Tensor | list[list[float]]) -> MultivariateGaussianCost:
    """f(x) = exp(−½ xᵀ K x) for a symmetric positive semi-definite K.

    Completing the square in the Gaussian integral gives

        E_{N(m, Σ)}[f] = det(I + Σ K)^{-1/2} · exp(−½ mᵀ K (I + Σ K)^{-1} m),

    (for invertible K, K (I + Σ K)^{-1} = (Σ + K^{-1})^{-1}; the form used here also holds
    for singular K).

    Args:
        precision: K, shape ``(d, d)``, symmetric positive semi-definite.
    """
    k = _square_matrix(precision, "precision")
    if not torch.allclose(k, k.mT, rtol=1e-10, atol=1e-12):
        raise ValueError("precision must be symmetric, got a matrix K with K != K.T")
    smallest = float(torch.linalg.eigvalsh(k).min())
    if smallest < -1e-12 * float(k.abs().max().clamp_min(1.0)):
        raise ValueError(
            f"precision must be positive semi-definite, got smallest eigenvalue {smallest:g}"
        )
    d = k.shape[0]

    def function(x: Tensor) -> Tensor:
        k_x = k.to(x)
        return torch.exp(-0.5 * torch.einsum("...i,ij,...j->...", x, k_x, x))

    def expectation(loc: Tensor, cov: Tensor) -> Tensor:
        k_x = k.to(loc)
        m = torch.eye(d, dtype=loc.dtype, device=loc.device) + cov @ k_x
        solved = torch.linalg.solve(m, loc)  # (I + Σ K)^{-1} m
        return torch.linalg.det(m).rsqrt() * torch.exp(-0.5 * (loc @ k_x @ solved))

    return MultivariateGaussianCost(f"exp_quadratic_form(d={d})", function, expectation, d)


def _check_convention(convention: str) -> Convention:
    return check_choice(convention, "convention", _CONVENTIONS)


def _check_gaussian(
    loc: Tensor | list[float], cov: Tensor | list[list[float]]
) -> tuple[Tensor, Tensor]:
    """Validate a mean of shape (d,) and a symmetric positive-definite covariance (d, d),
    converted to the dtype the two promote to (lists read like numbers)."""
    promoted = _as_float_tensors({"loc": loc, "cov": cov})
    loc_t, cov_t = promoted["loc"], promoted["cov"]
    if loc_t.dim() != 1 or loc_t.shape[0] == 0:
        raise ValueError(f"loc must have shape (d,), got {tuple(loc_t.shape)}")
    check_finite(loc_t, "loc")
    check_square(cov_t, "cov")
    check_finite(cov_t, "cov")
    d = loc_t.shape[0]
    if cov_t.shape != (d, d):
        raise ValueError(f"cov must have shape ({d}, {d}) to match loc, got {tuple(cov_t.shape)}")
    cov_t = cov_t.to(device=loc_t.device)
    scale = cov_t.detach().abs().max().clamp_min(torch.finfo(cov_t.dtype).tiny)
    tolerance = 100 * torch.finfo(cov_t.dtype).eps * scale
    if bool(((cov_t.detach() - cov_t.detach().mT).abs() > tolerance).any()):
        raise ValueError("cov must be symmetric, got a matrix with cov != cov.T")
    _, info = torch.linalg.cholesky_ex(cov_t.detach())
    if int(info) != 0:
        raise ValueError(
            "cov must be positive definite, got one whose Cholesky factorisation fails"
        )
    return loc_t, cov_t


def _symmetrize(cov: Tensor) -> Tensor:
    return 0.5 * (cov + cov.mT)


def _check_square_batch(value: object, name: str) -> Tensor:
    return check_square(check_tensor(value, name), name, batch=True)


def tie_gradient(untied: Tensor) -> Tensor:
    """Convert a covariance gradient from the untied to the tied convention.

    For a symmetric untied gradient G (shape ``(..., d, d)``) the tied derivative with respect
    to the shared off-diagonal variable Σ_ij = Σ_ji is G_ij + G_ji = 2 G_ij; the diagonal is
    unchanged. The result is returned as a symmetric matrix holding that derivative in both
    positions (i, j) and (j, i).
    """
    _check_square_batch(untied, "untied")
    diagonal = torch.diag_embed(torch.diagonal(untied, dim1=-2, dim2=-1))
    return untied + untied.mT - diagonal


def untie_gradient(tied: Tensor) -> Tensor:
    """Inverse of :func:`tie_gradient`: halve the off-diagonal entries, keep the diagonal."""
    _check_square_batch(tied, "tied")
    diagonal = torch.diag_embed(torch.diagonal(tied, dim1=-2, dim2=-1))
    return 0.5 * (tied + diagonal)


def exact_gaussian_gradients(
    cost: MultivariateGaussianCost,
    loc: Tensor | list[float],
    cov: Tensor | list[list[float]],
    *,
    convention: Convention = "untied",
) -> tuple[Tensor, Tensor]:
    """Exact (∇_m, ∇_Σ) of E_{N(m, Σ)}[f(x)], by autograd through the closed form.

    The closed form is evaluated at the symmetric part of a free matrix argument, so the
    derivative with respect to each entry is the untied one, ½ E[∇²f] by Price's theorem,
    whatever way the formula happens to be written.

    Args:
        cost: a :class:`MultivariateGaussianCost` of dimension d.
        loc: m, shape ``(d,)``.
        cov: Σ, shape ``(d, d)``, symmetric positive definite.
        convention: ``"untied"`` (default) or ``"tied"``, see the module docstring.

    Returns:
        ``(d_loc, d_cov)`` of shapes ``(d,)`` and ``(d, d)``.
    """
    convention = _check_convention(convention)
    check_instance(
        cost,
        "cost",
        MultivariateGaussianCost,
        "a MultivariateGaussianCost (e.g. quadratic_form_cost(...))",
    )
    loc_t, cov_t = _check_gaussian(loc, cov)
    if cost.dim != loc_t.shape[0]:
        raise ValueError(
            f"loc must have the dimension of the cost, {cost.dim}, got {loc_t.shape[0]}"
        )
    loc_t = loc_t.detach().clone().requires_grad_(True)
    cov_t = cov_t.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        value = cost.expectation(loc_t, _symmetrize(cov_t))
        d_loc, d_cov = torch.autograd.grad(value, (loc_t, cov_t))
    return d_loc, tie_gradient(d_cov) if convention == "tied" else d_cov


def gaussian_rsample(
    loc: Tensor | list[float],
    cov: Tensor | list[list[float]],
    num_samples: int,
    *,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """Draw x = m + L ε, ε ~ N(0, I), with L the Cholesky factor of Σ.

    Returns:
        ``(x, eps)``, both of shape ``(num_samples, d)``, on ``loc``'s device and dtype; ``x``
        is differentiable in ``loc`` and ``cov`` if they require gradients.
    """
    num_samples = check_num_samples(num_samples)
    check_generator(generator)
    loc_t, cov_t = _check_gaussian(loc, cov)
    eps = standard_normal(
        (num_samples, loc_t.shape[0]), generator=generator, dtype=loc_t.dtype, device=loc_t.device
    )
    scale_tril = torch.linalg.cholesky(_symmetrize(cov_t))
    return loc_t + eps @ scale_tril.mT, eps


def _draws(
    loc: Tensor | list[float],
    cov: Tensor | list[list[float]],
    num_samples: int,
    generator: torch.Generator | None,
) -> Tensor:
    with torch.no_grad():
        x, _ = gaussian_rsample(loc, cov, num_samples, generator=generator)
    return x


def _cost_gradient(cost: Callable[[Tensor], Tensor], x: Tensor, create_graph: bool) -> Tensor:
    """Per-sample ∇_x f at the rows of x (shape (N, d)); f must act row by row."""
    values = cost(x)
    if values.shape != x.shape[:1]:
        raise ValueError(
            f"cost must map draws of shape (N, d) to shape (N,), got {tuple(values.shape)}"
        )
    (grad,) = torch.autograd.grad(values.sum(), x, create_graph=create_graph)
    return grad


def bonnet_gradient(
    cost: Callable[[Tensor], Tensor],
    loc: Tensor | list[float],
    cov: Tensor | list[list[float]],
    num_samples: int,
    *,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Per-sample estimates of ∇_m E[f(x)] from Bonnet's theorem: ∇_x f(x), x ~ N(m, Σ).

    Args:
        cost: f, mapping draws of shape ``(N, d)`` to costs of shape ``(N,)``, differentiable.
        loc: m, shape ``(d,)``.
        cov: Σ, shape ``(d, d)``.
        num_samples: N.
        generator: source of the noise.

    Returns:
        Tensor of shape ``(N, d)``; its mean over dim 0 estimates ∇_m E[f].
    """
    check_callable(cost)
    x = _draws(loc, cov, num_samples, generator).requires_grad_(True)
    with torch.enable_grad():
        return _cost_gradient(cost, x, create_graph=False)


def price_gradient(
    cost: Callable[[Tensor], Tensor],
    loc: Tensor | list[float],
    cov: Tensor | list[list[float]],
    num_samples: int,
    *,
    generator: torch.Generator | None = None,
    convention: Convention = "untied",
) -> Tensor:
    """Per-sample estimates of ∇_Σ E[f(x)] from Price's theorem: ½ ∇²_x f(x) (untied).

    With ``convention="tied"`` the off-diagonal entries are ∂²f/∂x_i∂x_j (no ½), the
    derivative with respect to the shared variable Σ_ij = Σ_ji.

    Args:
        cost: f, mapping draws of shape ``(N, d)`` to costs of shape ``(N,)``, twice
            differentiable.
        loc: as in :func:`bonnet_gradient`.
        cov: as in :func:`bonnet_gradient`.
        num_samples: as in :func:`bonnet_gradient`.
        generator: as in :func:`bonnet_gradient`.
        convention: ``"untied"`` (default) or ``"tied"``.

    Returns:
        Tensor of shape ``(N, d, d)``; its mean over dim 0 estimates ∇_Σ E[f].
    """
    check_callable(cost)
    convention = _check_convention(convention)
    x = _draws(loc, cov, num_samples, generator).requires_grad_(True)
    d = x.shape[-1]
    with torch.enable_grad():
        grad = _cost_gradient(cost, x, create_graph=True)
        # One backward pass per coordinate (d passes), each vectorised over the samples.
        rows = []
        for i in range(d):
            if grad.requires_grad:  # f has a non-constant gradient
                (row,) = torch.autograd.grad(
                    grad[:, i].sum(),
                    x,
                    retain_graph=True,
                    allow_unused=True,
                    materialize_grads=True,
                )
            else:
                row = torch.zeros_like(x)
            rows.append(row)
    hessian = torch.stack(rows, dim=-2)  # (N, d, d)
    untied = 0.5 * _symmetrize(hessian)
    return tie_gradient(untied) if convention == "tied" else untied


def cholesky_pathwise_gradients(
    cost: Callable[[Tensor], Tensor],
    loc: Tensor | list[float],
    cov: Tensor | list[list[float]],
    num_samples: int,
    *,
    generator: torch.Generator | None = None,
    convention: Convention = "untied",
) -> dict[str, Tensor]:
    """Per-sample pathwise gradients through x = m + chol(Σ) ε.

    Autograd differentiates f(m + L ε) with L = chol(sym(Σ)), where
    sym(Σ) = (Σ + Σᵀ)/2. To obtain one gradient per draw in a single backward
    pass, every draw gets its own copy of (m, Σ): the copies are stacked into
    tensors of shape ``(N, d)`` and ``(N, d, d)``, factorised in one batched
    Cholesky call, and the gradient of the summed cost with respect to copy n
    is the gradient of the n-th draw's cost. Memory and time grow like N d²
    and N d³, which is what the small d of the book's checks needs.

    Args:
        cost: f, mapping draws of shape ``(N, d)`` to costs of shape
            ``(N,)``, differentiable.
        loc: as in :func:`bonnet_gradient`.
        cov: as in :func:`bonnet_gradient`.
        num_samples: as in :func:`bonnet_gradient`.
        generator: as in :func:`bonnet_gradient`.
        convention: covariance convention of the returned ``"cov"``
            gradients.

    Returns:
        ``{"loc": (N, d), "cov": (N, d, d)}``; the means over dim 0 estimate
        ∇_m E[f] and ∇_Σ E[f].
    """
    check_callable(cost)
    convention = _check_convention(convention)
    num_samples = check_num_samples(num_samples)
    check_generator(generator)
    loc_t, cov_t = _check_gaussian(loc, cov)
    d = loc_t.shape[0]
    eps = standard_normal(
        (num_samples, d),
        generator=generator,
        dtype=loc_t.dtype,
        device=loc_t.device,
    )
    with torch.enable_grad():
        loc_copies = loc_t.detach().expand(num_samples, d).clone()
        cov_copies = cov_t.detach().expand(num_samples, d, d).clone()
        loc_copies.requires_grad_(True)
        cov_copies.requires_grad_(True)
        # one Cholesky factor per draw: (N, d, d)
        scale_tril = torch.linalg.cholesky(_symmetrize(cov_copies))
        x = loc_copies + (scale_tril @ eps.unsqueeze(-1)).squeeze(-1)
        values = cost(x)
        if values.shape != (num_samples,):
            expected = "cost must map draws of shape (N, d) to shape (N,)"
            raise ValueError(f"{expected}, got {tuple(values.shape)}")
        copies = (loc_copies, cov_copies)
        grad_loc, grad_cov = torch.autograd.grad(values.sum(), copies)
    if convention == "tied":
        grad_cov = tie_gradient(grad_cov)
    return {"loc": grad_loc, "cov": grad_cov}
