"""Random weights in a minibatch: shared, per-example, local reparameterization and Flipout.

Book part "Variational inference in depth" (Gaussians at scale). A Bayesian linear layer with
a factorised Gaussian posterior over its weights, W ~ N(M, S²) elementwise (``weight_loc``
M and ``weight_scale`` S, shape ``(out_features, in_features)`` as in
``torch.nn.functional.linear``), maps a minibatch x of shape ``(..., in_features)`` to
y = x Wᵀ + b. How the weights are drawn decides the cost and the variance of every gradient:

- ``"shared"``: one W for the whole minibatch, the naive choice. Cheap, but all examples see
  the same perturbation, so their gradient noise is correlated and does not average out over
  the minibatch.
- ``"per_example"``: an independent W for every example, the reference the next two match
  in distribution, at the cost of one weight matrix of noise per example (B · out · in draws
  and a batched matrix product).
- ``"local"``, the local reparameterization trick (Kingma, Salimans & Welling, NIPS 2015):
  for a Gaussian W, each pre-activation y_nj = Σᵢ x_ni W_ji is Gaussian with mean
  Σᵢ x_ni M_ji and variance Σᵢ x_ni² S_ji², so it is sampled directly, one draw per example
  and unit. Exactly the distribution of ``"per_example"`` for one layer, at the cost of two
  matrix products.
- ``"flipout"`` (Wen, Vicol, Ba, Tran & Grosse, ICLR 2018): one shared perturbation
  ΔW = S ⊙ E, made pseudo-independent per example by random signs sₙ (inputs) and rₙ
  (outputs): yₙ = xₙ Mᵀ + ((xₙ ⊙ sₙ) ΔWᵀ) ⊙ rₙ. Flipping the signs of entries of ΔW leaves
  its distribution unchanged (each entry is a zero-mean Gaussian, symmetric about zero, and
  the entries are independent), so each example's output has exactly the distribution of
  ``"per_example"``; outputs of different examples are uncorrelated.

All four keep the path from (M, S) to y, so autograd gives pathwise gradients.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from reparam._validation import (
    check_choice,
    check_finite_and_positive,
    check_generator,
    check_tensor,
)

__all__ = ["METHODS", "Method", "linear"]

#: How a minibatch draws its weights (see the module's documentation).
Method = Literal["shared", "per_example", "local", "flipout"]
METHODS: tuple[Method, ...] = ("shared", "per_example", "local", "flipout")


def _check(
    x: object, weight_loc: object, weight_scale: object, bias: object
) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
    """The inputs as tensors of one floating dtype, with errors naming the bad argument."""
    xt = check_tensor(x, "x", floating=True)
    loc = check_tensor(weight_loc, "weight_loc", floating=True)
    scale = check_tensor(weight_scale, "weight_scale", floating=True)
    if loc.dim() != 2:
        raise ValueError(
            f"weight_loc must have shape (out_features, in_features), got {tuple(loc.shape)}"
        )
    if scale.shape != loc.shape:
        raise ValueError(
            f"weight_scale must have the shape of weight_loc {tuple(loc.shape)}, "
            f"got {tuple(scale.shape)}"
        )
    if xt.dim() < 1 or xt.shape[-1] != loc.shape[1]:
        raise ValueError(
            f"x must have shape (..., in_features) with in_features = {loc.shape[1]}, "
            f"got {tuple(xt.shape)}"
        )
    b = None
    if bias is not None:
        b = check_tensor(bias, "bias", floating=True)
        if b.shape != loc.shape[:1]:
            raise ValueError(
                f"bias must have shape (out_features,) = ({loc.shape[0]},), got {tuple(b.shape)}"
            )
    # one host synchronisation for all four (a layer runs at every training step)
    finite = {"x": xt, "weight_loc": loc} | ({"bias": b} if b is not None else {})
    check_finite_and_positive(finite, {"weight_scale": scale})
    dtypes = {t.dtype for t in (xt, loc, scale, b) if t is not None}
    if len(dtypes) > 1:
        names = sorted(str(d).removeprefix("torch.") for d in dtypes)
        raise TypeError(
            f"x, weight_loc, weight_scale and bias must share one dtype, got {', '.join(names)}"
        )
    return xt, loc, scale, b


def _normal(shape: tuple[int, ...], like: Tensor, generator: torch.Generator | None) -> Tensor:
    """N(0, 1) draws on the generator's device, moved to ``like``'s device and dtype."""
    where = generator.device if generator is not None else torch.device("cpu")
    eps = torch.randn(shape, generator=generator, dtype=like.dtype, device=where)
    return eps.to(like.device)


def _signs(shape: tuple[int, ...], like: Tensor, generator: torch.Generator | None) -> Tensor:
    """Independent random signs ±1 with probability ½ each."""
    where = generator.device if generator is not None else torch.device("cpu")
    bits = torch.randint(0, 2, shape, generator=generator, device=where)
    return (2 * bits - 1).to(dtype=like.dtype, device=like.device)


def linear(
    x: Tensor,
    weight_loc: Tensor,
    weight_scale: Tensor,
    bias: Tensor | None = None,
    *,
    method: Method = "local",
    generator: torch.Generator | None = None,
) -> Tensor:
    """A Bayesian linear layer's output y = x Wᵀ + b with W ~ N(M, S²).

    Args:
        x: inputs, ``(..., in_features)``; the leading dimensions are the
            minibatch (each element is one example).
        weight_loc: M, ``(out_features, in_features)``, finite.
        weight_scale: S > 0, the shape of ``weight_loc``.
        bias: a deterministic ``(out_features,)`` bias, or ``None``.
        method: ``"shared"``, ``"per_example"``, ``"local"`` (Kingma et al.,
            2015) or ``"flipout"`` (Wen et al., 2018).
        generator: source of the draws.

    Returns:
        ``(..., out_features)``, in the inputs' dtype and on their device. For
        every method each example's output has the distribution of x Wᵀ + b
        with its own W; only ``"shared"`` correlates different examples.
    """
    xt, loc, scale, b = _check(x, weight_loc, weight_scale, bias)
    method = check_choice(method, "method", METHODS)
    check_generator(generator)
    out_features, in_features = loc.shape
    batch = xt.shape[:-1]
    if method == "shared":
        weight = loc + scale * _normal((out_features, in_features), loc, generator)
        y = xt @ weight.T
    elif method == "per_example":
        noise = _normal((*batch, out_features, in_features), loc, generator)
        weights = loc + scale * noise  # one matrix per example
        y = (weights @ xt.unsqueeze(-1)).squeeze(-1)
    elif method == "local":
        # the pre-activations' own variance, Σᵢ xᵢ² Sⱼᵢ²; clamped above 0 so
        # that an all-zero input row gets the right gradient (0), not the
        # 0 · ∞ = NaN of the square root's derivative at 0
        mean = xt @ loc.T
        variance = xt.square() @ scale.square().T
        tiny = torch.finfo(variance.dtype).tiny
        std = torch.where(variance > 0, variance.clamp_min(tiny).sqrt(), 0.0)
        y = mean + std * _normal((*batch, out_features), loc, generator)
    else:
        delta = scale * _normal((out_features, in_features), loc, generator)
        s = _signs((*batch, in_features), loc, generator)
        r = _signs((*batch, out_features), loc, generator)
        y = xt @ loc.T + ((xt * s) @ delta.T) * r
    return y + b if b is not None else y
