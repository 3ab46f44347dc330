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
- ``distribution``: a :class:`reparam.Reparameterization` such as :data:`reparam.NORMAL`,
  or any ``torch.distributions.Distribution`` (one with ``rsample`` for the pathwise
  estimator, with ``log_prob`` for the score function, a ``Normal`` for the measure-valued
  one), including the catalog rows of :func:`reparam.distributions.from_catalog`.
- ``params``: mapping from parameter name to tensor or float, checked by
  ``distribution.validate`` (a non-positive scale is a ``ValueError`` naming ``scale``);
  ``None`` for a torch distribution, whose parameters live in it. Its differentiable
  parameters are those of its ``arg_constraints`` that its constructor takes and that it
  holds as floating-point tensors (``loc`` and ``scale`` of a ``Normal``), one of each
  alternative pair (``probs`` or ``logits``: the one it was given).
- ``num_samples``: the number ``N >= 1`` of independent draws.
- ``generator``: the ``torch.Generator`` all noise is drawn from (on its own device, then
  moved to the parameters' device). A torch distribution's sampler, which takes no
  generator, draws from the generator's stream (torch's global random state is left as it
  was), so ``torch.distributions.Normal`` and :data:`reparam.NORMAL` make the same draws.

The result maps the name of every differentiable parameter to its ``N`` *per-sample*
gradient estimates, a tensor of shape ``(N, *param_shape)`` with the parameter's dtype and
device. Their mean over dimension 0 is the estimate; their variance over dimension 0 is the
per-sample variance (pass them to :func:`reparam.summarize` for a standard error).

The per-sample gradients are computed in one backward pass: each parameter is expanded to
``N`` copies, row ``n`` of which feeds draw ``n`` only, so that the gradient with respect to
the copies is the stack of the per-sample gradients (a torch distribution is rebuilt at the
copies, with batch shape ``(N, *batch_shape)``).

References: Kingma & Welling (2014), section 2.4 and eq. (5); Mohamed, Rosca, Figurnov &
Mnih (2020), the sections on the score-function, pathwise and measure-valued estimators,
and section 3 for the comparison.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from typing import Any, Literal

import torch
from torch import Tensor
from torch.distributions import Distribution

from reparam._validation import (
    as_tensor,
    broadcast_shapes,
    check_broadcasts_to,
    check_callable,
    check_count,
    check_finite,
    check_finite_and_positive,
    check_generator,
    check_instance,
    check_num_samples,
    common_dtype,
)
from reparam.distributions import (
    ReparamDistribution,
    _differentiable_parameters,
    _DrawingFrom,
    _rebuild,
    _torch_parameters,
)
from reparam.noise import standard_normal, uniform
from reparam.normal import NORMAL, NormalReparameterization
from reparam.reparameterization import Reparameterization

__all__ = [
    "Baseline",
    "Cost",
    "Params",
    "measure_valued_gradient",
    "pathwise_gradient",
    "score_function_gradient",
]

#: The type of a cost, draws ``(N, *batch_shape, *event_shape)`` -> per-draw costs ``(N, *S)``.
Cost = Callable[[Tensor], Tensor]
#: A baseline of :func:`score_function_gradient`.
Baseline = float | Tensor | Literal["optimal"] | None


# -- the distribution: a Reparameterization with params, or a torch Distribution ------------
#: The ``params`` argument: name -> value for a Reparameterization, None for a torch Distribution.
Params = Mapping[str, Tensor | float] | None


def _check_no_params(params: object) -> None:
    wanted = (
        "None when distribution is a torch.distributions.Distribution (its parameters live in it)"
    )
    check_instance(params, "params", type(None), wanted)


def _resolve(
    distribution: object, params: object, *, needs: Literal["rsample", "log_prob"]
) -> Distribution | tuple[Reparameterization, Mapping[str, Tensor | float]]:
    """Check the ``distribution`` and ``params`` arguments: a torch distribution that has what
    the estimator ``needs``, or a Reparameterization with its params. A catalog row wrapped as
    a :class:`reparam.distributions.ReparamDistribution` is unwrapped: its own sampling path
    takes the generator directly."""
    if isinstance(distribution, ReparamDistribution):
        _check_no_params(params)
        return distribution.reparameterization, distribution.params
    if isinstance(distribution, Distribution):
        _check_no_params(params)
        if needs == "rsample" and not distribution.has_rsample:
            raise TypeError(
                "distribution must have rsample for a pathwise gradient, and "
                f"{type(distribution).__name__} has none (has_rsample is False): use the "
                "score-function estimator"
            )
        if needs == "log_prob" and type(distribution).log_prob is Distribution.log_prob:
            kind = type(distribution).__name__
            raise TypeError(f"distribution must implement log_prob, and {kind} does not")
        return distribution
    wanted = (
        "a reparam.Reparameterization (e.g. reparam.NORMAL) or a torch.distributions.Distribution"
    )
    path: Reparameterization = check_instance(
        distribution, "distribution", Reparameterization, wanted
    )
    given: Mapping[str, Tensor | float] = check_instance(
        params, "params", Mapping, "a mapping name -> value"
    )
    return path, given


def _checked(
    distribution: Reparameterization, params: Mapping[str, Tensor | float]
) -> tuple[dict[str, Tensor], torch.Size]:
    """``distribution.validate(params)`` and the batch shape (the Gaussian: one fused check)."""
    fast = _fast_normal_params(distribution, params)
    if fast is not None:
        return fast
    checked = distribution.validate(params)
    return checked, distribution.batch_shape(checked)


#: Parameter values replacing a distribution's own (per-draw copies), or None: its own.
_Inputs = Mapping[str, Tensor] | None


class _ReparamTarget:
    """A Reparameterization at checked parameters, as the estimators use it.

    ``inputs`` (below) replaces the parameters, e.g. by per-draw copies of shape
    ``(N, ...)``; ``None`` keeps the parameters, with their autograd history.
    """

    def __init__(
        self,
        distribution: Reparameterization,
        values: dict[str, Tensor],
        batch_shape: torch.Size,
    ) -> None:
        self.distribution = distribution
        self.values = values
        self.batch_shape = batch_shape
        self.event_dims = {
            p.name: p.event_dims for p in distribution.parameters if p.differentiable
        }

    def rsample(
        self, num_samples: int, generator: torch.Generator | None, inputs: _Inputs = None
    ) -> Tensor:
        """Draws ``(N, *batch_shape, *event_shape)`` along the path g(ε; θ)."""
        eps = _sample_base(self.distribution, num_samples, self.values, self.batch_shape, generator)
        return self.distribution.transform(eps, self.values if inputs is None else inputs)

    def sample(self, num_samples: int, generator: torch.Generator | None) -> Tensor:
        """Draws without autograd history."""
        detached = {name: value.detach() for name, value in self.values.items()}
        with torch.no_grad():
            eps = _sample_base(
                self.distribution, num_samples, detached, self.batch_shape, generator
            )
            return self.distribution.transform(eps, detached)

    def log_prob(self, value: Tensor, inputs: _Inputs = None) -> Tensor:
        return self.distribution.log_prob(value, self.values if inputs is None else inputs)


class _TorchTarget:
    """A ``torch.distributions.Distribution``, as the estimators use it: the same methods as
    :class:`_ReparamTarget`, drawing from ``generator`` through ``_DrawingFrom``; ``inputs``
    rebuilds the distribution at those parameter values."""

    def __init__(self, distribution: Distribution) -> None:
        self.distribution = distribution
        self.batch_shape = distribution.batch_shape

    @functools.cached_property
    def values(self) -> dict[str, Any]:
        """The parameters (those of ``arg_constraints`` the constructor takes)."""
        return _torch_parameters(self.distribution)

    @functools.cached_property
    def event_dims(self) -> dict[str, int]:
        """The differentiable parameters (floating, continuous) and their event dimensions."""
        found = _differentiable_parameters(self.distribution)
        if not found:
            raise TypeError(
                "distribution must have a floating-point parameter in arg_constraints for a "
                f"per-sample gradient, got {type(self.distribution).__name__}, which has none "
                "(a mixture or a TransformedDistribution, say): the surrogates of "
                "reparam.surrogate take it"
            )
        return found

    def _at(self, inputs: Mapping[str, Tensor], num_samples: int) -> Distribution:
        """The distribution with its parameters replaced by per-draw copies."""
        detached = {k: v.detach() if isinstance(v, Tensor) else v for k, v in self.values.items()}
        rebuilt = _rebuild(self.distribution, {**detached, **inputs})
        if rebuilt.batch_shape != (num_samples, *self.batch_shape):
            kind = type(self.distribution).__name__
            raise TypeError(
                "distribution must rebuild with one parameter copy per draw for per-sample "
                f"gradients, got {kind} with batch shape {tuple(rebuilt.batch_shape)}: the "
                "surrogates of reparam.surrogate still take it"
            )
        return rebuilt

    def rsample(
        self, num_samples: int, generator: torch.Generator | None, inputs: _Inputs = None
    ) -> Tensor:
        distribution = self.distribution
        if inputs is not None:
            rebuilt = self._at(inputs, num_samples)
            with _DrawingFrom(generator, distribution):
                return rebuilt.rsample()
        if generator is None:  # torch's global stream, as torch itself draws
            return distribution.rsample((num_samples,))
        if type(distribution) is torch.distributions.Normal:
            loc, scale = distribution.loc, distribution.scale
            if loc.device == generator.device:
                # Normal.rsample's own arithmetic with the generator passed in, rather than
                # swapped in for torch's default: the same draws, without the swap's cost.
                # (torch.randn as reparam.noise.standard_normal calls it, its checks done)
                shape = (num_samples, *self.batch_shape)
                eps = torch.randn(shape, generator=generator, dtype=loc.dtype, device=loc.device)
                return loc + eps * scale
        with _DrawingFrom(generator, distribution):
            return distribution.rsample((num_samples,))

    def sample(self, num_samples: int, generator: torch.Generator | None) -> Tensor:
        with _DrawingFrom(generator, self.distribution), torch.no_grad():
            return self.distribution.sample((num_samples,))

    def log_prob(self, value: Tensor, inputs: _Inputs = None) -> Tensor:
        if inputs is None:
            return self.distribution.log_prob(value)
        return self._at(inputs, value.shape[0]).log_prob(value)


_Target = _ReparamTarget | _TorchTarget


def _target(
    distribution: object, params: object, *, needs: Literal["rsample", "log_prob"]
) -> _Target:
    """The checked distribution and parameters, whichever form they come in."""
    resolved = _resolve(distribution, params, needs=needs)
    if isinstance(resolved, Distribution):
        return _TorchTarget(resolved)
    reparameterization, given = resolved
    if isinstance(distribution, ReparamDistribution):  # checked on construction
        return _ReparamTarget(
            reparameterization, dict(distribution.params), distribution.batch_shape
        )
    return _ReparamTarget(reparameterization, *_checked(reparameterization, given))


def _prepare(
    cost: object,
    distribution: object,
    params: object,
    num_samples: object,
    generator: object,
    *,
    needs: Literal["rsample", "log_prob"] = "rsample",
) -> tuple[Cost, int, _Target]:
    """Validate the shared arguments; return the cost, N and the checked distribution (a
    torch distribution must have what the estimator ``needs``)."""
    cost_fn = check_callable(cost, "cost")
    n = check_num_samples(num_samples)
    check_generator(generator)
    return cost_fn, n, _target(distribution, params, needs=needs)


def _fast_normal_params(
    distribution: Reparameterization, params: Mapping[str, Tensor | float]
) -> tuple[dict[str, Tensor], torch.Size] | None:
    """The hot path for the Gaussian with tensor parameters: all checks in one fused test.

    Returns ``None`` whenever anything is unusual (other distribution, Python numbers,
    mixed dtypes or devices, shapes that do not broadcast), and the caller then runs the
    full ``distribution.validate``. A value that breaks its constraint raises here, with
    ``validate``'s error (:func:`reparam._validation.check_finite_and_positive` runs the
    same checks in the same order). The result is the same as ``validate``'s; only the
    number of small tensor operations and host–device synchronisations differs (one
    instead of five).
    """
    if type(distribution) is not NormalReparameterization or len(params) != 2:
        return None
    loc, scale = params.get("loc"), params.get("scale")
    if not (isinstance(loc, Tensor) and isinstance(scale, Tensor)):
        return None
    if not (loc.dtype == scale.dtype and loc.is_floating_point() and loc.device == scale.device):
        return None
    check_finite_and_positive({"loc": loc}, {"scale": scale})
    shape = loc.shape if loc.shape == scale.shape else None
    if shape is None:
        try:
            shape = broadcast_shapes(loc.shape, scale.shape)
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
        loc, scale = params["loc"], params["scale"]
        # in the promoted dtype, as NORMAL.sample_base draws (float32 loc, float64 scale:
        # float64 noise)
        dtype = loc.dtype if loc.dtype == scale.dtype else common_dtype(loc, scale)
        return standard_normal(
            (num_samples, *batch_shape), generator=generator, dtype=dtype, device=loc.device
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
    if out.shape == expected:  # the common case, one comparison
        return out
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


def _per_draw_copies(
    target: _Target, num_samples: int, *, per_entry: bool
) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """Leaves to differentiate, and the parameters to evaluate the distribution at.

    Each differentiable parameter becomes N copies (a stride-0 view: no copy),
    row n of which feeds draw n only, so that the gradient with respect to the
    copies is the stack of the per-sample gradients: leaves of shape
    ``(N, *param_shape)``, or, with ``per_entry``, ``(N, *batch_shape, *event)``
    (one copy per draw *and* per batch element: one score per entry). The other
    parameters are passed on detached.
    """
    batch_shape = target.batch_shape
    event_dims = target.event_dims
    leaves: dict[str, Tensor] = {}
    inputs: dict[str, Tensor] = {}
    for name, given in target.values.items():
        value = given.detach() if isinstance(given, Tensor) else given
        if name not in event_dims:
            inputs[name] = value
            continue
        pad = len(batch_shape) + event_dims[name] - value.dim()
        if per_entry:
            event = value.shape[value.dim() - event_dims[name] :]
            aligned = value.reshape(1, *([1] * pad), *value.shape)
            leaf = aligned.expand(num_samples, *batch_shape, *event)
            inputs[name] = leaf.requires_grad_(True)
        else:
            leaf = value.expand(num_samples, *value.shape).requires_grad_(True)
            inputs[name] = leaf
            if pad:
                inputs[name] = leaf.view(num_samples, *([1] * pad), *value.shape)
        leaves[name] = leaf
    return leaves, inputs


# -- the pathwise estimator ----------------------------------------------------------------
def pathwise_gradient(
    cost: Cost,
    distribution: Reparameterization | Distribution,
    params: Params,
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
    the parameters marked differentiable, and for every torch distribution
    with ``rsample``; needs a cost differentiable in z. A cost that does not
    depend on z (a constant) gets zero gradients.

    Args:
        cost: f, draws ``(N, *batch_shape, *event_shape)`` -> costs
            ``(N, *S)``.
        distribution: the sampling path g and base distribution p(ε), or a
            ``torch.distributions.Distribution`` with ``has_rsample``.
        params: parameter name -> tensor or float; ``None`` for a torch
            distribution.
        num_samples: N >= 1.
        generator: source of ε.

    Returns:
        name -> per-sample gradients of shape ``(N, *param_shape)``, for
        every differentiable parameter.
    """
    cost_fn, n, target = _prepare(
        cost, distribution, params, num_samples, generator, needs="rsample"
    )
    leaves, inputs = _per_draw_copies(target, n, per_entry=False)
    with torch.enable_grad():
        z = target.rsample(n, generator, inputs)
        out = _per_draw_cost(cost_fn, z, n, target.batch_shape)
        # a cost that ignores z: every gradient is zero
        if not out.requires_grad or not leaves:
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
    distribution: Reparameterization | Distribution,
    params: Params,
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
            ``log_prob``; or a ``torch.distributions.Distribution`` (its
            ``sample`` and ``log_prob``).
        params: parameter name -> tensor or float; ``None`` for a torch
            distribution.
        num_samples: N >= 1 (>= 2 for ``baseline="optimal"``).
        generator: source of the draws.
        baseline: see above.

    Returns:
        name -> per-sample gradients of shape ``(N, *param_shape)``, for
        every differentiable parameter.
    """
    cost_fn, n, target = _prepare(
        cost, distribution, params, num_samples, generator, needs="log_prob"
    )
    batch_shape = target.batch_shape
    optimal = False
    constant: Tensor | None = None
    if isinstance(baseline, str):
        if baseline != "optimal":  # not check_choice: it lists every kind
            allowed = "None, a number, a tensor or 'optimal'"
            raise ValueError(f"baseline must be {allowed}, got {baseline!r}")
        check_count(n, "num_samples", 2, context="for baseline='optimal'")
        optimal = True
    elif baseline is not None:
        tensors = [v for v in target.values.values() if isinstance(v, Tensor)]
        # a number in the parameters' promoted dtype (no float32 rounding of a
        # baseline used in float64 arithmetic); each term casts it to its score's
        like = tensors[0].new_empty((), dtype=common_dtype(*tensors))
        given = as_tensor(baseline, "baseline", like=like)
        constant = check_finite(given, "baseline")
        check_broadcasts_to(constant.shape, "baseline", batch_shape)
        constant = constant.detach().to(like.device)
        missing = len(batch_shape) - constant.dim()
        constant = constant.reshape((*([1] * missing), *constant.shape))

    z = target.sample(n, generator)
    with torch.no_grad():
        f = _per_draw_cost(cost_fn, z, n, batch_shape)
    leaves, inputs = _per_draw_copies(target, n, per_entry=True)
    if not leaves:
        return {}
    with torch.enable_grad():
        log_prob = target.log_prob(z, inputs)
        copies = tuple(leaves.values())
        scores = torch.autograd.grad(log_prob.sum(), copies, allow_unused=True)

    result: dict[str, Tensor] = {}
    event_dims = target.event_dims
    for name, score in zip(leaves, scores, strict=True):
        value = target.values[name].detach()
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
            b = constant.to(score.dtype).reshape(1, *constant.shape, *trailing)
            per_entry = (f_b - b) * score
        else:
            per_entry = f_b * score
        result[name] = _sum_to_param(per_entry, value, n)
    return result


# -- the measure-valued estimator (Gaussian) -----------------------------------------------
_SQRT_2PI = math.sqrt(2 * math.pi)


def _gaussian(
    distribution: object, params: object
) -> tuple[NormalReparameterization, Mapping[str, Tensor | float]]:
    """The Gaussian path and its parameters, from reparam.NORMAL with ``params`` or from a
    ``torch.distributions.Normal`` (or a catalog Normal) with ``params=None``."""
    if isinstance(distribution, ReparamDistribution):
        _check_no_params(params)
        wrapped = distribution
        distribution, params = wrapped.reparameterization, wrapped.params
    elif isinstance(distribution, torch.distributions.Normal):
        _check_no_params(params)
        return NORMAL, {"loc": distribution.loc, "scale": distribution.scale}
    if not isinstance(distribution, NormalReparameterization):
        # not check_instance: the message names the distribution (a catalog row's name)
        name = getattr(distribution, "name", None) or type(distribution).__name__
        raise TypeError(
            "distribution must be the Gaussian for measure_valued_gradient: reparam.NORMAL "
            f"with params loc and scale, or a torch.distributions.Normal, got {name}"
        )
    given: Mapping[str, Tensor | float] = check_instance(
        params, "params", Mapping, "a mapping name -> value"
    )
    return distribution, given


def measure_valued_gradient(
    cost: Cost,
    distribution: Reparameterization | Distribution,
    params: Params,
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
        distribution: the Gaussian path :data:`reparam.NORMAL`, or a
            ``torch.distributions.Normal`` (``TypeError`` otherwise).
        params: ``{"loc": μ, "scale": σ}``; ``None`` for a torch Normal.
        num_samples: N >= 1.
        generator: source of W, M and U.

    Returns:
        ``{"loc": (N, *loc.shape), "scale": (N, *scale.shape)}``, the
        per-sample gradients.
    """
    gaussian, given = _gaussian(distribution, params)
    cost_fn, n, target = _prepare(cost, gaussian, given, num_samples, generator)
    checked, batch_shape = target.values, target.batch_shape
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
