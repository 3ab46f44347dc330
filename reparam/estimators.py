"""Monte Carlo estimators of the gradient of an expectation, behind one signature.

Book chapters: "The reparameterization trick" (:func:`pathwise_gradient`), "The
score-function estimator" (:func:`score_function_gradient`) and "Which estimator, when:
variance" (all three, with :func:`measure_valued_gradient`).

Every estimator has the signature::

    estimator(cost, distribution, params, num_samples, *, generator=None, **options)
        -> dict[str, Tensor]

- ``cost``: a callable mapping draws ``z`` of shape ``(num_samples, *batch_shape,
  *event_shape)`` to per-draw costs of shape ``(num_samples, *S)``, where ``S`` broadcasts
  to ``batch_shape`` without growing it (for example ``batch_shape`` itself, or ``()`` for a
  cost that already sums over the batch). The estimand is the gradient of
  ``E[sum of the cost over its non-sample dimensions]``. Each draw must be costed on its
  own: row ``n`` of the output may depend on row ``n`` of ``z`` only.
- ``distribution``: a :class:`reparam.Reparameterization` such as :data:`reparam.NORMAL`.
- ``params``: mapping from parameter name to tensor or float, checked by
  ``distribution.validate`` (a non-positive scale is a ``ValueError`` naming ``scale``).
- ``num_samples``: the number ``N >= 1`` of independent draws.
- ``generator``: the ``torch.Generator`` all noise is drawn from (on its own device, then
  moved to the parameters' device).

The result maps the name of every differentiable parameter to its ``N`` *per-sample*
gradient estimates, a tensor of shape ``(N, *param_shape)`` with the parameter's dtype and
device. Their mean over dimension 0 is the estimate; their variance over dimension 0 is the
per-sample variance (pass them to :func:`reparam.summarize` for a standard error).

The per-sample gradients are computed in one backward pass: each parameter is expanded to
``N`` copies, row ``n`` of which feeds draw ``n`` only, so that the gradient with respect to
the copies is the stack of the per-sample gradients.

References: Kingma & Welling (2014), section 2.4 and eq. (5); Mohamed, Rosca, Figurnov &
Mnih (2020), the sections on the score-function, pathwise and measure-valued estimators,
and section 3 for the comparison.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Literal

import torch
from torch import Tensor

from reparam._validation import (
    as_tensor,
    check_callable,
    check_finite,
    check_generator,
    check_num_samples,
)
from reparam.noise import standard_normal, uniform
from reparam.normal import NormalReparameterization
from reparam.reparameterization import Reparameterization

__all__ = [
    "Baseline",
    "Cost",
    "measure_valued_gradient",
    "pathwise_gradient",
    "score_function_gradient",
]

#: The type of a cost, draws ``(N, *batch_shape, *event_shape)`` -> per-draw costs ``(N, *S)``.
Cost = Callable[[Tensor], Tensor]
#: A baseline of :func:`score_function_gradient`.
Baseline = float | Tensor | Literal["optimal"] | None


# -- shared helpers ------------------------------------------------------------------------
def _prepare(
    cost: object,
    distribution: object,
    params: Mapping[str, Tensor | float],
    num_samples: object,
    generator: object,
) -> tuple[Cost, Reparameterization, dict[str, Tensor], int, torch.Size]:
    """Validate the shared arguments; return them with the checked parameters."""
    cost_fn = check_callable(cost, "cost")
    n = check_num_samples(num_samples)
    check_generator(generator)
    if not isinstance(distribution, Reparameterization):
        raise TypeError(
            "distribution must be a reparam.Reparameterization (e.g. reparam.NORMAL), "
            f"got {type(distribution).__name__}"
        )
    if not isinstance(params, Mapping):
        raise TypeError(f"params must be a mapping name -> value, got {type(params).__name__}")
    fast = _fast_normal_params(distribution, params)
    if fast is not None:
        return cost_fn, distribution, fast[0], n, fast[1]
    checked = distribution.validate(params)
    return cost_fn, distribution, checked, n, distribution.batch_shape(checked)


def _fast_normal_params(
    distribution: Reparameterization, params: Mapping[str, Tensor | float]
) -> tuple[dict[str, Tensor], torch.Size] | None:
    """The hot path for the Gaussian with tensor parameters: all checks in one fused test.

    Returns ``None`` whenever anything is unusual (other distribution, Python numbers,
    mixed dtypes or devices, a failed check), and the caller then runs the full
    ``distribution.validate``, which raises the error naming the parameter. The result is
    the same as ``validate``'s; only the number of small tensor operations and
    host–device synchronisations differs (one instead of five).
    """
    if type(distribution) is not NormalReparameterization or len(params) != 2:
        return None
    loc, scale = params.get("loc"), params.get("scale")
    if not (isinstance(loc, Tensor) and isinstance(scale, Tensor)):
        return None
    if not (loc.dtype == scale.dtype and loc.is_floating_point() and loc.device == scale.device):
        return None
    loc_d, scale_d = loc.detach(), scale.detach()
    if loc_d.numel() == 1 and scale_d.numel() == 1:  # scalars: check on the host
        loc_v, scale_v = loc_d.item(), scale_d.item()
        if not (math.isfinite(loc_v) and math.isfinite(scale_v) and scale_v > 0):
            return None
    elif not bool(torch.isfinite(loc_d).all() & ((scale_d > 0) & (scale_d < math.inf)).all()):
        return None
    shape = loc.shape if loc.shape == scale.shape else None
    if shape is None:
        try:
            shape = torch.broadcast_shapes(loc.shape, scale.shape)
        except RuntimeError:
            return None
    return {"loc": loc, "scale": scale}, shape


def _sample_base(
    distribution: Reparameterization,
    num_samples: int,
    params: Mapping[str, Tensor],
    batch_shape: torch.Size,
    generator: torch.Generator | None,
) -> Tensor:
    """``distribution.sample_base``, with the Gaussian's batch shape not recomputed."""
    if type(distribution) is NormalReparameterization:
        like = params["loc"]
        return standard_normal(
            (num_samples, *batch_shape), generator=generator, dtype=like.dtype, device=like.device
        )
    return distribution.sample_base(num_samples, params, generator)


def _per_draw_cost(
    cost: Cost, z: Tensor, num_samples: int, batch_shape: torch.Size, *, elementwise: bool = False
) -> Tensor:
    """Evaluate the cost and align its output with ``(N, *batch_shape)``.

    Returns a tensor with ``1 + len(batch_shape)`` dimensions whose trailing dimensions are
    either those of ``batch_shape`` or 1 (dimensions the cost summed over). With
    ``elementwise=True`` the output must have the full shape ``(N, *batch_shape)``.
    """
    out = cost(z)
    if not isinstance(out, Tensor):
        raise TypeError(f"cost must return a torch.Tensor, got {type(out).__name__}")
    expected = (num_samples, *batch_shape)
    rest = out.shape[1:]
    ok = (
        out.dim() >= 1
        and out.shape[0] == num_samples
        and len(rest) <= len(batch_shape)
        and all(r in (1, b) for r, b in zip(reversed(rest), reversed(batch_shape), strict=False))
    )
    if ok and elementwise:
        ok = tuple(out.shape) == expected or (len(batch_shape) == 0 and out.dim() == 1)
    if not ok:
        wanted = (
            f"{expected}"
            if elementwise
            else f"(num_samples, *S) with S broadcasting to {tuple(batch_shape)}"
        )
        raise ValueError(
            f"cost must return per-draw costs of shape {wanted}, got {tuple(out.shape)}"
        )
    if len(rest) < len(batch_shape):
        out = out.reshape(num_samples, *([1] * (len(batch_shape) - len(rest))), *rest)
    return out


def _sum_to_param(grad: Tensor, value: Tensor, num_samples: int) -> Tensor:
    """Sum a per-sample gradient of shape ``(N, *batch, *event)`` down to ``(N, *value.shape)``."""
    target = (num_samples, *([1] * (grad.dim() - 1 - value.dim())), *value.shape)
    return grad.sum_to_size(target).reshape(num_samples, *value.shape)


# -- the pathwise estimator ----------------------------------------------------------------
def pathwise_gradient(
    cost: Cost,
    distribution: Reparameterization,
    params: Mapping[str, Tensor | float],
    num_samples: int,
    *,
    generator: torch.Generator | None = None,
) -> dict[str, Tensor]:
    """Pathwise (reparameterization) estimator: per-sample ∇_θ f(g(ε; θ)).

    Book section: "The reparameterization trick". With z = g(ε; θ) and p(ε)
    free of θ, ∇_θ E_{p_θ(z)}[f(z)] = E_{p(ε)}[∇_θ f(g(ε; θ))], and the n-th
    per-sample estimate is ∇_θ f(g(ε⁽ⁿ⁾; θ)); their average is Kingma &
    Welling (2014), eq. (5), differentiated (the SGVB estimators of their
    eqs. (6)–(8) are built on it). Mohamed et al. (2020) call it the pathwise
    gradient estimator.

    Works for every ``distribution`` whose ``transform`` is differentiable in
    the parameters marked differentiable, and needs a cost differentiable in
    z. A cost that does not depend on z (a constant) gets zero gradients.

    Args:
        cost: f, draws ``(N, *batch_shape, *event_shape)`` -> costs
            ``(N, *S)``.
        distribution: the sampling path g and base distribution p(ε).
        params: parameter name -> tensor or float.
        num_samples: N >= 1.
        generator: source of ε.

    Returns:
        name -> per-sample gradients of shape ``(N, *param_shape)``, for
        every differentiable parameter.
    """
    cost_fn, dist, checked, n, batch_shape = _prepare(
        cost, distribution, params, num_samples, generator
    )
    eps = _sample_base(dist, n, checked, batch_shape, generator)
    inputs: dict[str, Tensor] = {}
    leaves: dict[str, Tensor] = {}
    for parameter in dist.parameters:
        value = checked[parameter.name].detach()
        if not parameter.differentiable:
            inputs[parameter.name] = value
            continue
        # N copies of the parameter, one per draw (a stride-0 view: no copy).
        leaf = value.expand(n, *value.shape).requires_grad_(True)
        pad = len(batch_shape) + parameter.event_dims - value.dim()
        leaves[parameter.name] = leaf
        padded = leaf.view(n, *([1] * pad), *value.shape) if pad else leaf
        inputs[parameter.name] = padded
    with torch.enable_grad():
        z = dist.transform(eps, inputs)
        out = _per_draw_cost(cost_fn, z, n, batch_shape)
        # a cost that ignores z: every gradient is zero
        if not out.requires_grad:
            return {k: torch.zeros_like(v) for k, v in leaves.items()}
        copies = tuple(leaves.values())
        grads = torch.autograd.grad(out.sum(), copies, allow_unused=True)
    return {
        name: torch.zeros_like(leaf) if grad is None else grad
        for (name, leaf), grad in zip(leaves.items(), grads, strict=True)
    }


# -- the score-function estimator ----------------------------------------------------------
def score_function_gradient(
    cost: Cost,
    distribution: Reparameterization,
    params: Mapping[str, Tensor | float],
    num_samples: int,
    *,
    generator: torch.Generator | None = None,
    baseline: Baseline = None,
) -> dict[str, Tensor]:
    """Score-function (REINFORCE) estimator: (f(z) − b) ∇_θ log p_θ(z).

    Book section: "The score-function estimator"; also called the
    likelihood-ratio estimator. From ∇_θ p_θ = p_θ ∇_θ log p_θ,
    ∇_θ E_{p_θ}[f(z)] = E_{p_θ}[f(z) ∇_θ log p_θ(z)] (Mohamed et al., 2020,
    the score-function section; Williams, 1992; Glynn, 1990). The draws are
    *detached*: only ``distribution.log_prob`` is differentiated, so neither
    the cost nor the sampling path needs to be differentiable (a Bernoulli
    drawn through a step function works), and the cost is evaluated without
    autograd.

    Batches: entry b of the cost is multiplied by the score of draw b only
    (this uses that entry b depends on z only through batch element b; a cost
    that couples batch elements must return its total, shape ``(N,)``, which
    then multiplies every score).

    Baselines (a constant b subtracted from f: E[∇_θ log p_θ(z)] = 0 keeps
    the estimator unbiased whenever b is independent of the draw it
    multiplies):

    - ``None``: no baseline, b = 0.
    - a float or tensor broadcastable to ``batch_shape``: that constant (for
      example a moving average of past costs, which is independent of the
      current draws).
    - ``"optimal"``: the variance-minimising constant b* = E[f s²] / E[s²], s
      the score, computed separately for every parameter entry, estimated
      *leave-one-out*: draw n uses b₋ₙ = Σ_{m≠n} f_m s_m² / Σ_{m≠n} s_m².
      Because b₋ₙ does not depend on draw n, the estimator stays exactly
      unbiased. (Plugging in the estimate from all N draws,
      b̂ = Σ_m f_m s_m² / Σ_m s_m², would correlate b̂ with draw n and add a
      bias of order 1/N.) Needs N >= 2. Its variance is that of the exact-b*
      estimator up to a factor 1 + O(1/N).

    Args:
        cost: f, draws ``(N, *batch_shape, *event_shape)`` -> costs
            ``(N, *S)``; any callable (it need not be differentiable).
        distribution: supplies ``sample_base``, ``transform`` and
            ``log_prob``.
        params: parameter name -> tensor or float.
        num_samples: N >= 1 (>= 2 for ``baseline="optimal"``).
        generator: source of the draws.
        baseline: see above.

    Returns:
        name -> per-sample gradients of shape ``(N, *param_shape)``, for
        every differentiable parameter.
    """
    cost_fn, dist, checked, n, batch_shape = _prepare(
        cost, distribution, params, num_samples, generator
    )
    optimal = False
    constant: Tensor | None = None
    if isinstance(baseline, str):
        if baseline != "optimal":
            allowed = "None, a number, a tensor or 'optimal'"
            raise ValueError(f"baseline must be {allowed}, got {baseline!r}")
        if n < 2:
            message = f"baseline='optimal' needs num_samples >= 2, got {n}"
            raise ValueError(message)
        optimal = True
    elif baseline is not None:
        like = next(iter(checked.values()))
        given = as_tensor(baseline, "baseline", like=like)
        constant = check_finite(given, "baseline")
        try:
            broadcast = torch.broadcast_shapes(constant.shape, batch_shape)
            fits = broadcast == batch_shape
        except RuntimeError:
            fits = False
        if not fits:
            wanted, got = tuple(batch_shape), tuple(constant.shape)
            message = f"baseline must broadcast to {wanted}, got shape {got}"
            raise ValueError(message)
        constant = constant.detach().to(like.dtype)
        missing = len(batch_shape) - constant.dim()
        constant = constant.reshape((*([1] * missing), *constant.shape))

    detached = {name: value.detach() for name, value in checked.items()}
    with torch.no_grad():
        base = _sample_base(dist, n, detached, batch_shape, generator)
        z = dist.transform(base, detached)
        f = _per_draw_cost(cost_fn, z, n, batch_shape)

    inputs: dict[str, Tensor] = dict(detached)
    leaves: dict[str, Tensor] = {}
    for parameter in dist.parameters:
        if not parameter.differentiable:
            continue
        value = detached[parameter.name]
        event = value.shape[value.dim() - parameter.event_dims :]
        pad = len(batch_shape) + parameter.event_dims - value.dim()
        # One copy per draw *and* per batch element: one score per entry.
        aligned = value.reshape(1, *([1] * pad), *value.shape)
        leaf = aligned.expand(n, *batch_shape, *event)
        leaves[parameter.name] = leaf.requires_grad_(True)
        inputs[parameter.name] = leaf
    with torch.enable_grad():
        log_prob = dist.log_prob(z, inputs)
        copies = tuple(leaves.values())
        total = log_prob.sum()
        scores = torch.autograd.grad(total, copies, allow_unused=True)

    result: dict[str, Tensor] = {}
    event_dims = {p.name: p.event_dims for p in dist.parameters}
    for name, score in zip(leaves, scores, strict=True):
        value = detached[name]
        if score is None:
            result[name] = value.new_zeros(n, *value.shape)
            continue
        trailing = [1] * event_dims[name]
        f_b = f.reshape(*f.shape, *trailing).to(score.dtype)
        if optimal:
            s2 = score.square()
            f_s2 = f_b * s2
            numerator = f_s2.sum(0) - f_s2
            denominator = s2.sum(0) - s2
            safe = denominator > 0
            ratio = numerator / torch.where(safe, denominator, 1.0)
            b = torch.where(safe, ratio, 0.0)
            per_entry = (f_b - b) * score
        elif constant is not None:
            b = constant.reshape(1, *constant.shape, *trailing)
            per_entry = (f_b - b) * score
        else:
            per_entry = f_b * score
        result[name] = _sum_to_param(per_entry, value, n)
    return result


# -- the measure-valued estimator (Gaussian) -----------------------------------------------
_SQRT_2PI = math.sqrt(2 * math.pi)


def measure_valued_gradient(
    cost: Cost,
    distribution: Reparameterization,
    params: Mapping[str, Tensor | float],
    num_samples: int,
    *,
    generator: torch.Generator | None = None,
) -> dict[str, Tensor]:
    """Measure-valued (weak-derivative) Gaussian estimator, with coupling.

    Book section: "Which estimator, when: variance" (Mohamed et al., 2020,
    section 3 and their measure-valued gradients section). A weak derivative
    writes ∂_θ p_θ(x) = c_θ (p⁺(x) − p⁻(x)) with densities p±, so that
    ∂_θ E[f] = c_θ (E_{p⁺}[f] − E_{p⁻}[f]). For N(μ, σ²), with u = (x − μ)/σ:

    - mean: ∂_μ N(x; μ, σ²) = (u/σ) N(x; μ, σ²). Its positive and negative
      parts are u φ(u) on u > 0 and on u < 0, each of mass 1/√(2π), and
      u φ(u)·√(2π) = u e^{−u²/2} is the Weibull(scale √2, shape 2)
      (= Rayleigh) density. So with W ~ Weibull(√2, 2),
      ∂_μ E[f] = E[f(μ + σW) − f(μ − σW)] / (σ√(2π)). Coupling: one W serves
      both terms. Per-sample estimate: (f(μ + σW) − f(μ − σW)) / (σ√(2π)).
    - scale: ∂_σ N(x; μ, σ²) = ((u² − 1)/σ) N(x; μ, σ²), i.e. c = 1/σ, p⁺ the
      double-sided Maxwell density u² φ(u) (mass E[u²] = 1) and p⁻ the
      Gaussian itself: ∂_σ E[f] = E[f(μ + σM)] / σ − E[f(μ + σε)] / σ with M
      double-sided Maxwell. Coupling: if M ~ double-sided Maxwell and
      U ~ U(0, 1) independently, then U·M ~ N(0, 1) (a scale mixture of
      uniforms, since u²φ(u) = −u φ'(u); derived in the chapter). Per-sample
      estimate: (f(μ + σM) − f(μ + σUM)) / σ. M is drawn as a random sign
      times the length of a standard normal vector in R³.

    The cost need not be differentiable; it is evaluated four times per draw,
    without autograd, and must return the full per-element shape
    ``(N, *batch_shape)`` (entry b may depend on z only through batch
    element b, since all entries are perturbed at once).

    Args:
        cost: f, draws ``(N, *batch_shape)`` -> costs ``(N, *batch_shape)``.
        distribution: must be the Gaussian path :data:`reparam.NORMAL`
            (``TypeError`` otherwise).
        params: ``{"loc": μ, "scale": σ}``.
        num_samples: N >= 1.
        generator: source of W, M and U.

    Returns:
        ``{"loc": (N, *loc.shape), "scale": (N, *scale.shape)}``, the
        per-sample gradients.
    """
    if not isinstance(distribution, NormalReparameterization):
        name = getattr(distribution, "name", type(distribution).__name__)
        raise TypeError(
            "distribution must be the Gaussian path reparam.NORMAL for "
            f"measure_valued_gradient, got {name}"
        )
    cost_fn, _, checked, n, batch_shape = _prepare(
        cost, distribution, params, num_samples, generator
    )
    loc, scale = checked["loc"].detach(), checked["scale"].detach()
    # Mixed precisions promote, as torch's arithmetic does: the noise is
    # drawn in the wider dtype; each gradient is returned in its parameter's.
    dtype = torch.promote_types(loc.dtype, scale.dtype)
    shape = (n, *batch_shape)
    with torch.no_grad():
        uniforms = uniform(
            (3, *shape),
            generator=generator,
            dtype=dtype,
            device=loc.device,
        )
        normals = standard_normal(
            (3, *shape),
            generator=generator,
            dtype=dtype,
            device=loc.device,
        )
        # Weibull(√2, 2) by inversion
        weibull = torch.sqrt(-2.0 * torch.log1p(-uniforms[0]))
        sign = torch.where(uniforms[1] < 0.5, -1.0, 1.0).to(dtype)
        # double-sided Maxwell, and a N(0, 1) draw coupled with it
        maxwell = sign * normals.square().sum(0).sqrt()
        coupled_normal = uniforms[2] * maxwell

        def f(x: Tensor) -> Tensor:
            out = _per_draw_cost(
                cost_fn,
                x,
                n,
                batch_shape,
                elementwise=True,
            )
            return out.reshape(shape)

        spread = scale * weibull
        grad_loc = (f(loc + spread) - f(loc - spread)) / (scale * _SQRT_2PI)
        at_maxwell = f(loc + scale * maxwell)
        grad_scale = (at_maxwell - f(loc + scale * coupled_normal)) / scale
    loc_in, scale_in = checked["loc"], checked["scale"]
    return {
        "loc": _sum_to_param(grad_loc, loc_in, n).to(loc_in.dtype),
        "scale": _sum_to_param(grad_scale, scale_in, n).to(scale_in.dtype),
    }
