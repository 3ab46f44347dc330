"""Bayesian linear regression: a real-data posterior that is exactly Gaussian.

Book chapter "Gaussians at scale" (section "A real posterior, exactly"). With a prior
z ~ N(0, τ² I) on the D weights and a likelihood y | z ~ N(X z, σ_y² I) for the n targets,
the posterior is N(m, Λ⁻¹) with precision and mean

    Λ = Xᵀ X / σ_y² + I / τ²,      m = Λ⁻¹ Xᵀ y / σ_y²,

and the evidence is y ~ N(0, σ_y² I + τ² X Xᵀ) (Gaussian conjugacy; the chapter states both
and checks the evidence against the n-dimensional density). Since
log p(y, z) = log p(y) + log N(z; m, Λ⁻¹), the ELBO of any q is log p(y) − KL(q ‖ posterior):
a Gaussian q can reach log p(y) exactly, and the gap of any other q is a KL that
:func:`reparam.cholesky.gaussian_kl` computes in closed form.

Shapes: features X ``(n, D)``, targets y ``(n,)``, weights z ``(..., D)`` (the argument
``noise_scale`` is σ_y, ``prior_scale`` is τ). Results follow the
features' dtype and device.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from reparam._validation import check_finite, check_real, check_tensor

__all__ = ["GaussianPosterior", "linear_regression_log_joint", "linear_regression_posterior"]


@dataclass(frozen=True)
class GaussianPosterior:
    """The exact posterior of Bayesian linear regression and the log evidence.

    Attributes:
        loc: the posterior mean m, ``(D,)``.
        precision: the posterior precision Λ, ``(D, D)``, symmetric positive definite.
        log_evidence: log p(y), a 0-dimensional tensor.
    """

    loc: Tensor
    precision: Tensor
    log_evidence: Tensor

    @property
    def covariance(self) -> Tensor:
        """Λ⁻¹, ``(D, D)``, through the Cholesky factor of Λ."""
        factor = torch.linalg.cholesky(self.precision)
        return torch.cholesky_inverse(factor)


def _check_data(features: object, targets: object) -> tuple[Tensor, Tensor]:
    x = check_tensor(features, "features", floating=True)
    y = check_tensor(targets, "targets", floating=True)
    if x.dim() != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"features must have shape (n, D) with n, D >= 1, got {tuple(x.shape)}")
    if y.shape != x.shape[:1]:
        raise ValueError(f"targets must have shape ({x.shape[0]},), got {tuple(y.shape)}")
    if y.dtype != x.dtype:
        raise TypeError(f"features and targets must share one dtype, got {x.dtype}, {y.dtype}")
    check_finite(x, "features")
    check_finite(y, "targets")
    return x, y


def _check_scales(noise_scale: object, prior_scale: object) -> tuple[float, float]:
    noise = check_real(noise_scale, "noise_scale", positive=True)
    prior = check_real(prior_scale, "prior_scale", positive=True)
    return noise, prior


def linear_regression_log_joint(
    weights: Tensor,
    features: Tensor,
    targets: Tensor,
    *,
    noise_scale: float,
    prior_scale: float,
) -> Tensor:
    """log p(y, z) = log N(y; X z, σ_y² I) + log N(z; 0, τ² I) at each draw of the weights.

    Args:
        weights: z, ``(..., D)``.
        features: X, ``(n, D)``.
        targets: y, ``(n,)``.
        noise_scale: σ_y > 0.
        prior_scale: τ > 0.

    Returns:
        ``(...)``, differentiable in ``weights``.
    """
    x, y = _check_data(features, targets)
    noise, prior = _check_scales(noise_scale, prior_scale)
    w = check_tensor(weights, "weights", floating=True)
    if w.dim() < 1 or w.shape[-1] != x.shape[1]:
        raise ValueError(f"weights must have shape (..., {x.shape[1]}), got {tuple(w.shape)}")
    n, d = x.shape
    residual = y - w @ x.T  # (..., n)
    log_likelihood = -0.5 * (residual / noise).square().sum(-1) - n * math.log(
        noise * math.sqrt(2 * math.pi)
    )
    log_prior = -0.5 * (w / prior).square().sum(-1) - d * math.log(prior * math.sqrt(2 * math.pi))
    return log_likelihood + log_prior


def linear_regression_posterior(
    features: Tensor,
    targets: Tensor,
    *,
    noise_scale: float,
    prior_scale: float,
) -> GaussianPosterior:
    """The exact posterior N(m, Λ⁻¹) of the weights, and log p(y).

    The log evidence comes from Bayes' rule at w = m,
    log p(y) = log p(y, m) − log N(m; m, Λ⁻¹) = log p(y, m) + (D/2) log 2π − ½ log det Λ,
    which costs O(n D² + D³) instead of the O(n³) of the n-dimensional Gaussian.

    Args:
        features: X, ``(n, D)``.
        targets: y, ``(n,)``.
        noise_scale: σ_y > 0.
        prior_scale: τ > 0.

    Returns:
        A :class:`GaussianPosterior`.
    """
    x, y = _check_data(features, targets)
    noise, prior = _check_scales(noise_scale, prior_scale)
    d = x.shape[1]
    eye = torch.eye(d, dtype=x.dtype, device=x.device)
    precision = x.T @ x / noise**2 + eye / prior**2
    precision = 0.5 * (precision + precision.T)  # exactly symmetric despite round-off
    factor = torch.linalg.cholesky(precision)
    loc = torch.cholesky_solve((x.T @ y / noise**2).unsqueeze(-1), factor).squeeze(-1)
    log_joint = linear_regression_log_joint(loc, x, y, noise_scale=noise, prior_scale=prior)
    log_det = 2 * factor.diagonal().log().sum()
    log_evidence = log_joint + 0.5 * d * math.log(2 * math.pi) - 0.5 * log_det
    return GaussianPosterior(loc, precision, log_evidence)
