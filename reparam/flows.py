"""Normalizing flows as reparameterized samplers: planar layers and their log-densities.

Book chapter: "Normalizing flows" (``chapter-flows``). A flow draws base noise and pushes it
through a chain of invertible maps,

    ε ~ N(0, I_D),   z_0 = μ + σ ⊙ ε,   z_k = f_k(z_{k−1}) for k = 1, ..., K,

which is the reparameterization trick with a learned path z = g(ε; θ): a draw is a
differentiable function of the parameters, so ∇_θ E_q[h(z)] = E[∇_θ h(g(ε; θ))]. Each layer
here is a *planar* map (Rezende & Mohamed, ICML 2015),

    f(z) = z + û tanh(wᵀz + b),   w, û ∈ R^D, b ∈ R,

whose Jacobian I + û ψ(z)ᵀ, ψ(z) = tanh'(wᵀz + b) w, has determinant 1 + ûᵀψ(z) by the matrix
determinant lemma: O(D) work instead of O(D³). The change of variables (the book's chapter
"The reparameterization trick"), applied once per layer, gives the density of a draw from
quantities computed while drawing it,

    log q(z_K) = log N(ε; 0, I) − Σ_d log σ_d − Σ_k log|1 + ûₖᵀψₖ(z_{k−1})|,

with no inverse needed. The map is invertible exactly when wᵀû ≥ −1 (then a ↦ a + wᵀû
tanh(a + b) is increasing); the layers take an unconstrained ``u`` and use

    û = u + (m(wᵀu) − wᵀu) w / ‖w‖²,   m(x) = −1 + softplus(x),

so that wᵀû = m(wᵀu) > −1 (Rezende & Mohamed, appendix A.1). :class:`PlanarTransform` is a
``torch.distributions`` transform (with an inverse, found by bisection along w), so a flow
composes with ``TransformedDistribution``; :class:`PlanarFlow` holds the parameters of a
diagonal affine layer and K planar layers as an ``nn.Module`` and draws with
:meth:`PlanarFlow.rsample_with_log_prob`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.distributions import Independent, Normal, TransformedDistribution, constraints
from torch.distributions.transforms import AffineTransform, Transform

from reparam._validation import (
    as_tensor,
    check_broadcast,
    check_callable,
    check_count,
    check_finite,
    check_floating_dtype,
    check_generator,
    check_instance,
    check_num_samples,
    check_real,
    check_tensor,
)
from reparam.noise import standard_normal

__all__ = [
    "FlowSample",
    "PlanarFlow",
    "PlanarTransform",
    "constrained_u",
    "elbo_terms",
    "log_det_planar",
    "one_plus_slope",
    "target_values",
]

_HALF_LOG_TWO_PI = 0.9189385332046727


def _check_pair(u: Tensor, w: Tensor) -> tuple[Tensor, Tensor]:
    """``u`` and ``w`` as floating tensors with the same last dimension D."""
    u = check_tensor(u, "u", floating=True)
    w = check_tensor(w, "w", floating=True)
    if u.dim() == 0 or w.dim() == 0 or u.shape[-1] != w.shape[-1]:
        raise ValueError(
            "w and u must have the same last dimension D (the event), got shapes "
            f"{tuple(w.shape)} and {tuple(u.shape)}"
        )
    check_broadcast(w=w.shape[:-1], u=u.shape[:-1])
    return u, w


def _softplus(x: Tensor) -> Tensor:
    # log(1 + e^x) to rounding for every x (F.softplus returns x itself above x = 20, off by
    # e^-20; the constraint and the determinant must use the same exact function).
    return torch.logaddexp(x, torch.zeros_like(x))


def constrained_u(u: Tensor, w: Tensor) -> Tensor:
    """û = u + (m(wᵀu) − wᵀu) w / ‖w‖², m(x) = −1 + softplus(x): wᵀû > −1.

    Rezende & Mohamed (ICML 2015), appendix A.1. Where w = 0, every u gives an
    invertible layer and û = u. For wᵀu far below zero, wᵀû = m(wᵀu) is within
    rounding of −1 (a dot product of the returned û may round to −1 or below),
    so the layers compute 1 + wᵀû as softplus(wᵀu) instead (:func:`one_plus_slope`).

    Args:
        u, w: finite tensors of shape ``(..., D)`` that broadcast together.

    Returns:
        û, of the broadcast shape. As w → 0 with wᵀu fixed, û grows like 1/‖w‖;
        where it overflows the dtype (‖w‖ near 1e-308 in double precision) that
        is a ``ValueError`` naming u and w.
    """
    u, w = _check_pair(u, w)
    dot = (w * u).sum(-1, keepdim=True)
    # w / ‖w‖² as (w/s) / (‖w/s‖² s), s = max|w_d|: a tiny w must not underflow
    # ‖w‖² to 0. Where w = 0 the correction is 0/0; divide by 1 there instead.
    largest = w.abs().amax(-1, keepdim=True)
    safe = torch.where(largest > 0, largest, torch.ones_like(largest))
    unit = w / safe  # largest entry ±1 (or all 0)
    norm2 = (unit * unit).sum(-1, keepdim=True)
    norm2 = torch.where(largest > 0, norm2, torch.ones_like(norm2))
    u_hat = u + (_softplus(dot) - 1 - dot) * unit / (norm2 * safe)
    if not bool(torch.isfinite(u_hat).all()):
        check_finite(u.detach(), "u")
        check_finite(w.detach(), "w")
        # û grows like 1/|w| as w -> 0 with w'u held: past the dtype's range
        smallest = float(w.detach().abs()[w != 0].min())
        raise ValueError(
            "u and w must give a finite û = u + (m(w'u) - w'u) w/|w|^2, got an "
            f"overflow (smallest nonzero |w| entry {smallest:g})"
        )
    return u_hat


def one_plus_slope(u: Tensor, w: Tensor) -> Tensor:
    """1 + wᵀû for the û of :func:`constrained_u`: softplus(wᵀu) where w ≠ 0, 1 where w = 0.

    Positive where 1 + (wᵀû computed from û) can round to 0. Where softplus(wᵀu) itself
    underflows to 0 (wᵀu below about −745 in double precision, −103 in single), the layer is
    singular to working precision and its log-determinant cannot be represented: that is a
    ``ValueError`` naming u and w, never an infinite log-density. Shape: the broadcast batch
    shape of ``u`` and ``w`` (without the last dimension).
    """
    u, w = _check_pair(u, w)
    dot = (w * u).sum(-1)
    result = torch.where(w.abs().amax(-1) > 0, _softplus(dot), torch.ones_like(dot))
    if not bool((torch.isfinite(dot) & (result > 0)).all()):
        check_finite(u.detach(), "u")
        check_finite(w.detach(), "w")
        worst = float(dot.detach().min())
        raise ValueError(
            "u and w must keep 1 + w'û = softplus(w'u) above 0 in "
            f"{result.dtype}, got w'u = {worst:g}: the planar layer is singular to working "
            "precision"
        )
    return result


def log_det_planar(tanh: Tensor, one_plus: Tensor) -> Tensor:
    """log|1 + ûᵀψ| = log(1 + (1 − t²) wᵀû) for t = tanh(wᵀz + b), computed as
    log(t² + (1 − t²)(1 + wᵀû)): a sum of terms >= 0, with no cancellation when wᵀû is
    near −1. ``one_plus`` is :func:`one_plus_slope`; shapes broadcast."""
    square = tanh * tanh
    return torch.log(square + (1 - square) * one_plus)


def _bisection_steps(dtype: torch.dtype, width: float) -> int:
    # Halving an interval of width 2 max|wᵀû| this often leaves it below the dtype's
    # resolution relative to max(1, width): the mantissa's bits, the bits of the width, margin.
    return (
        round(-math.log2(torch.finfo(dtype).eps))
        + max(0, math.ceil(math.log2(max(width, 1.0))))
        + 8
    )


class PlanarTransform(Transform):
    """The planar map z ↦ z + û tanh(wᵀz + b) as a ``torch.distributions`` transform.

    Acts on the last dimension (``event_dim`` 1). ``w`` and ``u`` have shape ``(..., D)``, ``b``
    shape ``(...)``; their batch shapes broadcast with the input's. ``u`` is unconstrained:
    the map uses :func:`constrained_u` (û), so it is invertible for every finite ``u``.
    The inverse solves the increasing scalar equation r + (wᵀû) tanh(r + b) = wᵀy for
    r = wᵀz by bisection on [wᵀy − c, wᵀy + c], c = abs(wᵀû), to the dtype's resolution,
    and a last Newton step carries the gradient (of the inverse, and so of
    ``TransformedDistribution.log_prob``, in the points and the parameters).

    Args:
        w, u: floating-point tensors with the same last dimension D, finite.
        b: a floating-point tensor or number, finite.
        cache_size: as in ``torch.distributions.transforms.Transform`` (0 or 1).
    """

    domain = constraints.real_vector
    codomain = constraints.real_vector
    bijective = True
    sign = +1

    def __init__(self, w: Tensor, u: Tensor, b: Tensor | float, cache_size: int = 0) -> None:
        w = check_finite(check_tensor(w, "w", floating=True), "w")
        u = check_finite(check_tensor(u, "u", floating=True), "u")
        b = check_finite(as_tensor(b, "b", like=w), "b")
        if w.dim() == 0 or u.dim() == 0 or w.shape[-1] != u.shape[-1]:
            raise ValueError(
                "w and u must have the same last dimension D (the event), got shapes "
                f"{tuple(w.shape)} and {tuple(u.shape)}"
            )
        check_broadcast(w=w.shape[:-1], u=u.shape[:-1], b=b.shape)
        super().__init__(cache_size=cache_size)
        self.w, self.u, self.b = w, u, b

    def __eq__(self, other: object) -> bool:
        return other is self

    def __hash__(self) -> int:
        return id(self)

    @property
    def u_hat(self) -> Tensor:
        """û, the constrained ``u`` the map uses (wᵀû > −1)."""
        return constrained_u(self.u, self.w)

    def _preactivation(self, z: Tensor) -> Tensor:
        return (self.w * z).sum(-1) + self.b

    def _call(self, x: Tensor) -> Tensor:
        self._check_event(x)
        return x + self.u_hat * torch.tanh(self._preactivation(x))[..., None]

    def _inverse(self, y: Tensor) -> Tensor:
        self._check_event(y)
        u_hat = self.u_hat
        slope = one_plus_slope(self.u, self.w) - 1  # > −1: r ↦ r + slope tanh(r + b) increases
        target = (self.w * y).sum(-1)
        # Bisection for r = wᵀz, without gradients (a gradient through its comparisons would
        # be wrong) ...
        with torch.no_grad():
            width = slope.abs().expand_as(target)
            low, high = target - width, target + width
            steps = _bisection_steps(y.dtype, float(width.max()) if width.numel() else 1.0)
            for _ in range(steps):
                middle = (low + high) / 2
                above = middle + slope * torch.tanh(middle + self.b) > target
                high = torch.where(above, middle, high)
                low = torch.where(above, low, middle)
            r = (low + high) / 2
        # ... then one Newton step with them: at the root it changes r by rounding only, and
        # its derivative is the implicit-function gradient of r in y, w, u and b.
        tanh = torch.tanh(r + self.b)
        r = r - (r + slope * tanh - target) / (1 + slope * (1 - tanh * tanh))
        return y - u_hat * torch.tanh(r + self.b)[..., None]

    def _check_event(self, x: Tensor) -> None:
        if x.dim() == 0 or x.shape[-1] != self.w.shape[-1]:
            raise ValueError(
                f"points must have the layer's dimension D = {self.w.shape[-1]} in their last "
                f"axis, got shape {tuple(x.shape)}"
            )

    def forward_shape(self, shape: torch.Size) -> torch.Size:
        """The shape of the image of points of ``shape``: broadcast with the parameters'."""
        return torch.broadcast_shapes(shape, self.w.shape, self.u.shape, (*self.b.shape, 1))

    def inverse_shape(self, shape: torch.Size) -> torch.Size:
        """The shape of the preimage of points of ``shape``: as :meth:`forward_shape`."""
        return self.forward_shape(shape)

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        """log|1 + ûᵀψ(x)|, ψ(x) = tanh'(wᵀx + b) w; shape: ``x``'s without the last dim."""
        self._check_event(x)
        tanh = torch.tanh(self._preactivation(x))
        return log_det_planar(tanh, one_plus_slope(self.u, self.w))


@dataclass(frozen=True)
class FlowSample:
    """Draws of a flow with their log-densities.

    Attributes:
        noise: ε, shape ``(N, D)``.
        sample: z_K = g(ε; θ), shape ``(N, D)``; differentiable in the flow's parameters.
        log_prob: log q(z_K), shape ``(N,)``; differentiable in the flow's parameters.
    """

    noise: Tensor
    sample: Tensor
    log_prob: Tensor


class PlanarFlow(nn.Module):
    """q(z): N(0, I_D) noise through a diagonal affine layer and ``num_layers`` planar layers.

    Parameters (``nn.Parameter``): ``loc`` μ and ``log_scale`` log σ, shape ``(D,)``; ``w`` and
    ``u``, shape ``(K, D)``; ``b``, shape ``(K,)``. With K = 0 the flow is a Gaussian with
    diagonal covariance. Initially μ = 0, σ = 1, b = 0 and w, u are drawn from N(0, s²)
    with s = ``init_scale``, so the flow starts close to N(0, I).

    Args:
        dim: D, the dimension of a draw (>= 1).
        num_layers: K, the number of planar layers (>= 0).
        init_scale: standard deviation of the initial w and u (>= 0).
        generator: the ``torch.Generator`` the initial w and u are drawn from.
        dtype: floating dtype of the parameters (default: torch's default dtype).
    """

    def __init__(
        self,
        dim: int,
        num_layers: int,
        *,
        init_scale: float = 0.1,
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        dim = check_count(dim, "dim")
        num_layers = check_count(num_layers, "num_layers", minimum=0)
        init_scale = check_real(init_scale, "init_scale")
        if init_scale < 0:
            raise ValueError(f"init_scale must be at least 0, got {init_scale:g}")
        generator = check_generator(generator)
        dtype = check_floating_dtype(dtype)

        def draw(*shape: int) -> nn.Parameter:
            return nn.Parameter(init_scale * torch.randn(*shape, generator=generator, dtype=dtype))

        self.loc = nn.Parameter(torch.zeros(dim, dtype=dtype))
        self.log_scale = nn.Parameter(torch.zeros(dim, dtype=dtype))
        self.w = draw(num_layers, dim)
        self.u = draw(num_layers, dim)
        self.b = nn.Parameter(torch.zeros(num_layers, dtype=dtype))

    @property
    def dim(self) -> int:
        """D, the dimension of a draw."""
        return self.loc.shape[0]

    @property
    def num_layers(self) -> int:
        """K, the number of planar layers."""
        return self.w.shape[0]

    def _checked(self) -> None:
        # A parameter made NaN or infinite (a diverged step) must not give NaN draws quietly.
        for name in ("loc", "log_scale", "w", "u", "b"):
            check_finite(getattr(self, name).detach(), name)

    def transforms(self) -> list[Transform]:
        """The layers, from the parameters as they are now: one ``AffineTransform``
        (μ + σ ⊙ ε), then K :class:`PlanarTransform`. Each holds a copy (kept in the autograd
        graph), so the list describes one state of the flow: build it anew after an update."""
        self._checked()
        scale = self.log_scale.exp()
        layers: list[Transform] = [AffineTransform(self.loc.clone(), scale, event_dim=1)]
        w, u, b = self.w.clone(), self.u.clone(), self.b.clone()
        layers += [PlanarTransform(w[k], u[k], b[k]) for k in range(self.num_layers)]
        return layers

    def distribution(self) -> TransformedDistribution:
        """q as a ``torch.distributions.TransformedDistribution`` (event shape ``(D,)``) at the
        parameters' current values: its ``log_prob`` inverts the layers (differentiably), its
        ``rsample`` draws with torch's global generator."""
        zeros = torch.zeros_like(self.loc.detach())
        base = Independent(Normal(zeros, torch.ones_like(zeros)), 1)
        return TransformedDistribution(base, self.transforms())

    def forward(self, noise: Tensor) -> tuple[Tensor, Tensor]:
        """Push ``noise`` ε, shape ``(..., D)``, through the flow: returns
        z = g(ε; θ) and log q(z), shapes ``(..., D)`` and ``(...)``, in one pass
        (no inverse), by the change of variables once per layer:

        log q(z_K) = log N(ε; 0, I) − Σ_d log σ_d
                     − Σ_k log|1 + ûₖᵀψₖ(z_{k−1})|.
        """
        noise = check_tensor(noise, "noise", floating=True)
        if noise.dim() == 0 or noise.shape[-1] != self.dim:
            raise ValueError(
                f"noise must have the flow's dimension D = {self.dim} in its "
                f"last axis, got shape {tuple(noise.shape)}"
            )
        self._checked()
        z = self.loc + self.log_scale.exp() * noise
        log_prob = -(noise * noise).sum(-1) / 2 - self.dim * _HALF_LOG_TWO_PI
        log_prob = log_prob - self.log_scale.sum()
        # The planar layers written out: the maps and log-determinants of
        # PlanarTransform, with û and 1 + wᵀû for all layers at once and tanh
        # once per layer (tests hold the two together, and to autograd).
        u_hat = constrained_u(self.u, self.w)
        one_plus = one_plus_slope(self.u, self.w)
        for k in range(self.num_layers):
            tanh = torch.tanh(z @ self.w[k] + self.b[k])
            z = z + tanh[..., None] * u_hat[k]
            log_prob = log_prob - log_det_planar(tanh, one_plus[k])
        return z, log_prob

    def rsample_with_log_prob(
        self, num_samples: int, *, generator: torch.Generator | None = None
    ) -> FlowSample:
        """Draw ``num_samples`` points and their log q (see :meth:`forward`).

        Returns:
            :class:`FlowSample`: ``noise`` and ``sample`` of shape ``(N, D)``,
            ``log_prob`` of shape ``(N,)``, in the parameters' dtype and device.
        """
        num_samples = check_num_samples(num_samples)
        generator = check_generator(generator)
        noise = standard_normal(
            (num_samples, self.dim), generator=generator, dtype=self.loc.dtype,
            device=self.loc.device,
        )  # fmt: skip
        sample, log_prob = self(noise)
        return FlowSample(noise=noise, sample=sample, log_prob=log_prob)


def target_values(log_target: Callable[[Tensor], Tensor], z: Tensor) -> Tensor:
    """log p̃ at points ``z`` of shape ``(..., D)``, checked: a tensor of shape ``(...)``,
    finite everywhere (an error names the first bad point)."""
    check_callable(log_target, "log_target")
    log_p = log_target(z)
    if not isinstance(log_p, Tensor) or log_p.shape != z.shape[:-1]:
        got = tuple(log_p.shape) if isinstance(log_p, Tensor) else type(log_p).__name__
        raise ValueError(
            f"log_target must map points of shape (N, D) to a tensor of shape (N,), got {got}"
        )
    bad = ~torch.isfinite(log_p.detach())
    if bool(bad.any()):
        first = tuple(int(i) for i in bad.nonzero()[0])
        raise ValueError(
            f"log_target must be finite at every point, got {log_p[first].item()} at "
            f"z = {z[first].tolist()}"
        )
    return log_p


def elbo_terms(
    log_target: Callable[[Tensor], Tensor],
    flow: PlanarFlow,
    num_samples: int,
    *,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Per-draw terms log p̃(z) − log q(z) of the evidence lower bound, z drawn from ``flow``.

    Their mean estimates ELBO = log Z − KL(q ‖ p) for the target p = p̃ / Z, and its gradient
    in the flow's parameters is the pathwise estimate (the draws are reparameterized). For
    any draws, log mean exp of the terms is an importance-sampling estimate of log Z that
    stays below it on average and converges to it.

    Args:
        log_target: log p̃, mapping points of shape ``(N, D)`` to ``(N,)``; unnormalized.
        flow: the variational distribution q.
        num_samples: N.
        generator: the ``torch.Generator`` the noise is drawn from.

    Returns:
        Tensor of shape ``(N,)``. A non-finite log p̃ is an error, naming the first bad draw.
    """
    check_instance(flow, "flow", PlanarFlow, "a reparam.flows.PlanarFlow")
    check_callable(log_target, "log_target")
    draws = flow.rsample_with_log_prob(num_samples, generator=generator)
    log_p = target_values(log_target, draws.sample)
    return log_p - draws.log_prob
