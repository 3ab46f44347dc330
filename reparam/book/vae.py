"""A small variational autoencoder and its two ELBO estimators (Kingma & Welling, 2014).

Book chapter "A variational autoencoder". The generative model is
p_θ(x, z) = p(z) p_θ(x | z) with prior p(z) = N(0, I) and a decoder p_θ(x | z) (Bernoulli
for binary pixels, Gaussian with a fixed scale otherwise); the encoder
q_φ(z | x) = N(μ_φ(x), diag σ_φ(x)²) is a multilayer perceptron. The evidence lower bound

    L(θ, φ; x) = E_{q_φ(z|x)}[log p_θ(x, z) − log q_φ(z | x)]
               = E_{q_φ(z|x)}[log p_θ(x | z)] − KL(q_φ(z | x) ‖ p(z))

is estimated from N draws z⁽ⁿ⁾ of q_φ(z | x) in the two forms of Kingma & Welling (2014),
section 2.3: estimator "A" (their eq. 6) averages log p_θ(x, z⁽ⁿ⁾) − log q_φ(z⁽ⁿ⁾ | x);
estimator "B" (their eq. 7) takes the KL term in closed form
(:func:`reparam.normal.kl_to_standard_normal`) and samples only the reconstruction term.
(Kingma & Welling write L for the number of draws per data point and M for the minibatch
size; the book writes N for the former and B for the latter.)

The module writes no gradient estimator of its own. :func:`elbo_cost` is the sampled term
as a cost, and :func:`elbo_estimate` hands it to the library's surrogate losses
(:func:`reparam.surrogate.pathwise_surrogate` or
:func:`reparam.surrogate.score_function_surrogate`, with the encoder's Gaussian as
:data:`reparam.NORMAL`), whose ``backward()`` carries the chosen estimate of the encoder's
gradient into the encoder network. :func:`elbo` and :func:`elbo_surrogate` apply it to a
:class:`VAE`; :func:`train_vaes` trains several VAEs of one architecture together, as one
batched network (the chapter's runs), and :func:`train_vae` trains one.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Literal

import torch
from torch import Tensor, nn

from reparam._validation import (
    as_tensor,
    check_broadcast,
    check_broadcasts_to,
    check_callable,
    check_choice,
    check_count,
    check_finite,
    check_generator,
    check_instance,
    check_num_samples,
    check_real,
    check_tensor,
    check_values,
)
from reparam.book.optim import Adam
from reparam.book.training import MovingAverage, TrainingHistory, train
from reparam.normal import NORMAL, _kl_to_standard_normal, kl_to_standard_normal, normal_log_prob
from reparam.surrogate import SurrogateBaseline, pathwise_surrogate, score_function_surrogate

__all__ = [
    "VAE",
    "ElboStep",
    "EncoderGradient",
    "Estimator",
    "Likelihood",
    "bernoulli_log_likelihood",
    "elbo",
    "elbo_cost",
    "elbo_estimate",
    "elbo_surrogate",
    "linear_gaussian_elbo",
    "linear_gaussian_log_evidence",
    "train_vae",
    "train_vaes",
]

#: The decoder's likelihood p(x | z), for binary or real-valued data.
Likelihood = Literal["bernoulli", "gaussian"]
#: The ELBO estimator, generic Monte Carlo or with the KL term in closed form.
Estimator = Literal["generic", "analytic_kl"]
#: How the encoder's gradient is estimated.
EncoderGradient = Literal["pathwise", "score_function"]
#: z of shape ``(N, *batch_shape, latent_dim)`` -> log p_θ(x | z), ``(N, *batch_shape)``.
LogLikelihood = Callable[[Tensor], Tensor]

_LOG_2PI = math.log(2 * math.pi)


def bernoulli_log_likelihood(x: Tensor, logits: Tensor) -> Tensor:
    """log p(x | logits) of independent Bernoulli pixels, summed over the last dimension.

    Equals Σ_d [x_d log π_d + (1 − x_d) log(1 − π_d)] with π = sigmoid(logits), computed
    stably. For x in {0, 1} this is a log-probability; for grey levels in [0, 1] it is the
    (unnormalised) cross-entropy often used in its place.

    Args:
        x: shape ``(*batch_shape, data_dim)``, entries in [0, 1] (integer and boolean
            tensors are promoted to floating point).
        logits: broadcastable with ``x``.

    Returns:
        The broadcast batch shape.
    """
    logits = as_tensor(logits, "logits")
    x = as_tensor(x, "x", like=logits)
    check_broadcast(x=x.shape, logits=logits.shape)
    return _bernoulli_log_likelihood(x, logits)


def _bernoulli_log_likelihood(x: Tensor, logits: Tensor) -> Tensor:
    """:func:`bernoulli_log_likelihood` without the checks, for arguments known to be valid."""
    x, logits = torch.broadcast_tensors(x.to(logits.dtype), logits)
    return -nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(dim=-1)


class VAE(nn.Module):
    """A variational autoencoder with a Gaussian encoder and a Bernoulli or Gaussian decoder.

    Encoder: x (data_dim) → hidden layers → (μ_φ(x), log σ_φ(x)), each of size latent_dim.
    Decoder: z (latent_dim) → hidden layers → decoder output of size data_dim: Bernoulli
    logits, or the Gaussian mean (with the fixed standard deviation ``obs_scale``).
    With ``hidden_sizes=()`` both maps are affine; with a Gaussian decoder the model is then
    the linear-Gaussian model whose ELBO :func:`linear_gaussian_elbo` gives in closed form.

    Args:
        data_dim: dimension D of x.
        latent_dim: dimension of z.
        hidden_sizes: widths of the hidden layers of the encoder (the decoder mirrors them).
        likelihood: ``"bernoulli"`` or ``"gaussian"``.
        obs_scale: the decoder's standard deviation (Gaussian decoder only), positive.
        generator: source of the initial weights (uniform in ±1/√fan_in, PyTorch's
            default range), so that the same seed builds the same network.
        dtype: floating dtype of the parameters (default: torch's default dtype).
        device: device of the parameters.
    """

    def __init__(
        self,
        data_dim: int,
        latent_dim: int,
        hidden_sizes: Sequence[int] = (128,),
        *,
        likelihood: Likelihood = "bernoulli",
        obs_scale: float = 1.0,
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        data_dim = check_count(data_dim, "data_dim")
        latent_dim = check_count(latent_dim, "latent_dim")
        hidden = tuple(
            check_count(width, f"hidden_sizes[{i}]") for i, width in enumerate(hidden_sizes)
        )
        check_choice(likelihood, "likelihood", ("bernoulli", "gaussian"))
        obs_scale = check_real(obs_scale, "obs_scale", positive=True)
        check_generator(generator)
        self.data_dim = data_dim
        self.latent_dim = latent_dim
        self.hidden_sizes = hidden
        self.likelihood: Likelihood = likelihood
        self.obs_scale = float(obs_scale)
        self.encoder = _mlp((data_dim, *hidden, 2 * latent_dim), dtype, device)
        self.decoder = _mlp((latent_dim, *reversed(hidden), data_dim), dtype, device)
        with torch.no_grad():
            for module in self.modules():
                if isinstance(module, nn.Linear):
                    bound = 1.0 / math.sqrt(module.in_features)
                    for tensor in (module.weight, module.bias):
                        gen_device = generator.device if generator is not None else "cpu"
                        draw = torch.rand(
                            tensor.shape, generator=generator, dtype=tensor.dtype, device=gen_device
                        )
                        tensor.copy_((2 * draw - 1) * bound)

    def encoder_parameters(self) -> list[nn.Parameter]:
        """The variational parameters φ."""
        return list(self.encoder.parameters())

    def decoder_parameters(self) -> list[nn.Parameter]:
        """The generative parameters θ."""
        return list(self.decoder.parameters())

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The encoder's Gaussian q_φ(z | x): ``(loc, scale)``, each ``(*batch_shape, latent_dim)``.

        Args:
            x: shape ``(*batch_shape, data_dim)``.
        """
        self._check_data(x)
        return self._split(self.encoder(x))

    def decode(self, z: Tensor) -> Tensor:
        """Decoder output (Bernoulli logits or Gaussian means), ``(*z.shape[:-1], data_dim)``."""
        if z.shape[-1] != self.latent_dim:
            raise ValueError(f"z must end in latent_dim = {self.latent_dim}, got {tuple(z.shape)}")
        out: Tensor = self.decoder(z)
        return out

    def mean(self, z: Tensor) -> Tensor:
        """E_θ[x | z]: pixel probabilities (Bernoulli) or means (Gaussian); ``(..., data_dim)``."""
        out = self.decode(z)
        return torch.sigmoid(out) if self.likelihood == "bernoulli" else out

    def log_likelihood(self, x: Tensor, z: Tensor) -> Tensor:
        """log p_θ(x | z), summed over the data dimension.

        Args:
            x: shape ``(batch, data_dim)``.
            z: shape ``(num_samples, batch, latent_dim)`` (or any shape ending in
                ``(batch, latent_dim)``).

        Returns:
            Shape ``z.shape[:-1]``.
        """
        return self._log_likelihood_of_output(x, self.decode(z), checked=False)

    def _split(self, out: Tensor) -> tuple[Tensor, Tensor]:
        """The encoder's output ``(..., 2 latent_dim)`` as ``(loc, scale)``: μ and exp(log σ)."""
        loc, log_scale = out[..., : self.latent_dim], out[..., self.latent_dim :]
        return loc, log_scale.exp()

    def _log_likelihood_of_output(self, x: Tensor, out: Tensor, *, checked: bool) -> Tensor:
        """log p_θ(x | z) from the decoder output at z, ``(..., data_dim)`` -> ``(...)``.

        ``checked=True`` when ``x`` is known to be valid data broadcasting with ``out`` (the
        training loop checks the data set once, not every minibatch).
        """
        if self.likelihood == "bernoulli":
            if checked:
                return _bernoulli_log_likelihood(x, out)
            return bernoulli_log_likelihood(x, out)
        sq = ((x - out) / self.obs_scale).square().sum(dim=-1)
        return -0.5 * sq - self.data_dim * (math.log(self.obs_scale) + 0.5 * _LOG_2PI)

    def _check_data(self, x: Tensor) -> None:
        if check_tensor(x, "x").dim() < 1 or x.shape[-1] != self.data_dim:
            raise ValueError(f"x must end in data_dim = {self.data_dim}, got {tuple(x.shape)}")
        check_finite(x, "x")
        if self.likelihood == "bernoulli":
            check_values(
                x,
                "x",
                "lie in [0, 1] for a Bernoulli decoder",
                lambda t: (t >= 0) & (t <= 1),
                lambda v: 0 <= v <= 1,
            )


def _mlp(
    sizes: tuple[int, ...], dtype: torch.dtype | None, device: torch.device | str | None
) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(fan_in, fan_out, dtype=dtype, device=device))
        if i < len(sizes) - 2:
            layers.append(nn.Tanh())
    return nn.Sequential(*layers)


# -- the ELBO estimators, built on the library's surrogate losses ---------------------------
@dataclass(frozen=True)
class ElboStep:
    """One evaluation of :func:`elbo_estimate` (or :func:`elbo_surrogate`).

    Attributes:
        surrogate: 0-d. Its value is the batch-mean ELBO estimate and its gradient with
            respect to (θ, φ) the chosen estimate of that mean's gradient: maximise it
            (minimise its negative). Dimensions of ``batch_shape`` before the last (several
            models evaluated together) are summed, so each model's parameters get the
            gradient of its own batch mean.
        elbo: the ELBO estimate per data point, shape ``batch_shape``; differentiable in
            θ and φ through the draws with the pathwise encoder gradient, detached with the
            score-function one (whose draws carry no gradient).
        signal: the sampled term per draw, the cost the surrogates average and the
            learning signal the score function multiplies; shape
            ``(num_samples, *batch_shape)``, detached (useful to update a baseline).
    """

    surrogate: Tensor
    elbo: Tensor
    signal: Tensor


def elbo_cost(
    log_likelihood: LogLikelihood,
    loc: Tensor,
    scale: Tensor,
    estimator: Estimator = "analytic_kl",
) -> Callable[[Tensor], Tensor]:
    """The sampled term of Kingma & Welling's ELBO estimators, as a cost.

    - ``estimator="generic"``: f(z) = log p_θ(x | z) + log p(z) − log q_φ(z | x),
      the integrand of their eq. 6 (estimator A);
    - ``estimator="analytic_kl"``: f(z) = log p_θ(x | z), the sampled term of
      their eq. 7 (estimator B), whose KL term :func:`elbo_estimate` subtracts
      in closed form.

    Args:
        log_likelihood: z ``(N, *batch_shape, latent_dim)`` -> log p_θ(x | z),
            ``(N, *batch_shape)``; for a :class:`VAE`,
            ``functools.partial(model.log_likelihood, x)``.
        loc: μ_φ(x), shape ``(*batch_shape, latent_dim)``.
        scale: σ_φ(x) > 0, same shape.
        estimator: ``"generic"`` or ``"analytic_kl"``.

    Returns:
        The cost z ``(N, *batch_shape, latent_dim)`` -> f(z),
        ``(N, *batch_shape, 1)``: one value per draw and data point, shared by
        the latent_dim coordinates of the code (the trailing 1 tells the
        surrogates of :mod:`reparam.surrogate` so).
    """
    check_callable(log_likelihood, "log_likelihood")
    _check_estimator(estimator)
    params = {"loc": loc, "scale": scale}

    def cost(z: Tensor) -> Tensor:
        value = log_likelihood(z)
        if estimator == "generic":
            log_prior = normal_log_prob(z, 0.0, 1.0).sum(dim=-1)
            log_q = NORMAL.log_prob(z, params).sum(dim=-1)
            value = value + log_prior - log_q
        return value.unsqueeze(-1)

    return cost


def elbo_estimate(
    log_likelihood: LogLikelihood,
    loc: Tensor,
    scale: Tensor,
    num_samples: int = 1,
    *,
    estimator: Estimator = "analytic_kl",
    encoder_gradient: EncoderGradient = "pathwise",
    baseline: SurrogateBaseline = None,
    generator: torch.Generator | None = None,
) -> ElboStep:
    """The ELBO from N draws of q_φ(z | x) = N(loc, diag scale²), and its gradient.

    The draws, the estimate and the encoder's gradient all come from
    :mod:`reparam.surrogate`, with the cost :func:`elbo_cost` and the
    distribution :data:`reparam.NORMAL` at ``{"loc": loc, "scale": scale}``:

    - ``"pathwise"``: :func:`~reparam.surrogate.pathwise_surrogate` draws
      z⁽ⁿ⁾ = μ_φ(x) + σ_φ(x) ⊙ ε⁽ⁿ⁾ and the gradient flows through the draws
      into φ (Kingma & Welling, 2014, section 2.4);
    - ``"score_function"``: :func:`~reparam.surrogate.score_function_surrogate`
      detaches the draws and gives φ the gradient
      (1/N) Σₙ (f(z⁽ⁿ⁾) − b) ∇_φ log q_φ(z⁽ⁿ⁾ | x) (Williams, 1992). The cost
      also depends on the parameters directly (on θ through the decoder and,
      in the generic form, on φ through log q_φ); the surrogate differentiates
      that dependence at the fixed draws too, (1/N) Σₙ ∇ f(z⁽ⁿ⁾), so the
      total is the gradient of E_q[f] for a cost that depends on the
      parameters (the first-order gradient of DiCE, Foerster et al., 2018).

    Either way the decoder gets (1/N) Σₙ ∇_θ log p_θ(x | z⁽ⁿ⁾), from the same N
    draws and N decoder evaluations per data point, and estimator B's
    closed-form KL is subtracted with its exact gradient. Both are unbiased.

    Args:
        log_likelihood: z ``(N, *batch_shape, latent_dim)`` -> log p_θ(x | z),
            ``(N, *batch_shape)``.
        loc: μ_φ(x), shape ``(*batch_shape, latent_dim)``: ``batch_shape``
            ends in the data points; dimensions before them index independent
            models.
        scale: σ_φ(x) > 0, same shape.
        num_samples: N, draws per data point.
        estimator: ``"generic"`` (Kingma & Welling eq. 6) or ``"analytic_kl"``
            (eq. 7).
        encoder_gradient: ``"pathwise"`` or ``"score_function"``.
        baseline: score function only: ``None``, a constant b (a number or a
            tensor broadcasting to ``(*batch_shape, 1)``, independent of the
            draws) or ``"leave_one_out"`` (draw n uses the mean signal of the
            other draws of its data point; N >= 2).
        generator: source of the draws.

    Returns:
        An :class:`ElboStep`.
    """
    _check_encoder_gradient(encoder_gradient, baseline)
    cost = elbo_cost(log_likelihood, loc, scale, estimator)
    if check_tensor(loc, "loc").dim() < 2:
        raise ValueError(
            "loc must be a tensor of shape (*batch_shape, latent_dim) whose "
            f"batch_shape ends in the data points, got {tuple(loc.shape)}"
        )
    params = {"loc": loc, "scale": scale}
    recorded: list[Tensor] = []  # the cost at the draws, with its graph

    def record(z: Tensor) -> Tensor:
        recorded.append(cost(z))
        return recorded[-1]

    if encoder_gradient == "pathwise":
        total = pathwise_surrogate(
            record,
            NORMAL,
            params,
            num_samples,
            generator=generator,
        )
    else:
        _check_baseline_shape(baseline, loc.shape[:-1])
        total = score_function_surrogate(
            record,
            NORMAL,
            params,
            num_samples,
            generator=generator,
            baseline=baseline,
        )
    signal = recorded[0].squeeze(-1)  # (N, *batch_shape)
    value = signal.mean(dim=0)
    if estimator == "analytic_kl":
        # loc and scale passed the surrogate's checks above
        kl = _kl_to_standard_normal(loc, scale)
        total = total - kl.sum()
        value = value - kl
    if encoder_gradient == "score_function":
        value = value.detach()
    return ElboStep(total / loc.shape[-2], value, signal.detach())


def elbo(
    model: VAE,
    x: Tensor,
    num_samples: int = 1,
    *,
    estimator: Estimator = "analytic_kl",
    generator: torch.Generator | None = None,
) -> Tensor:
    """Reparameterized Monte Carlo estimate of L(θ, φ; x), per data point.

    ``estimator="generic"`` is Kingma & Welling's eq. 6 (estimator A):
    (1/N) Σₙ [log p_θ(x, z⁽ⁿ⁾) − log q_φ(z⁽ⁿ⁾ | x)].
    ``estimator="analytic_kl"`` is their eq. 7 (estimator B):
    −KL(q_φ(z | x) ‖ p(z)) + (1/N) Σₙ log p_θ(x | z⁽ⁿ⁾).
    Both are unbiased, and differentiable in θ and φ through
    z⁽ⁿ⁾ = μ_φ(x) + σ_φ(x) ⊙ ε⁽ⁿ⁾ (the ``elbo`` of the :class:`ElboStep` of
    :func:`elbo_estimate` with the pathwise encoder gradient).

    Args:
        model: the VAE.
        x: data, shape ``(batch, data_dim)``.
        num_samples: N, draws per data point.
        estimator: ``"generic"`` or ``"analytic_kl"``.
        generator: source of ε.

    Returns:
        Shape ``(batch,)``. Average it and multiply by the data-set size for
        Kingma & Welling's minibatch estimator of the whole data set's ELBO
        (their eq. 8).
    """
    loc, scale = _encode_batch(model, x)
    step = elbo_estimate(
        partial(model.log_likelihood, x),
        loc,
        scale,
        num_samples,
        estimator=estimator,
        generator=generator,
    )
    return step.elbo


def elbo_surrogate(
    model: VAE,
    x: Tensor,
    num_samples: int = 1,
    *,
    estimator: Estimator = "analytic_kl",
    encoder_gradient: EncoderGradient = "pathwise",
    baseline: Tensor | float | Literal["leave_one_out"] | None = None,
    generator: torch.Generator | None = None,
) -> ElboStep:
    """Batch-mean ELBO objective of a :class:`VAE` with a choice of encoder gradient.

    :func:`elbo_estimate` applied to the model's encoder output at ``x`` and its decoder's
    log-likelihood: the decoder parameters θ get (1/N) Σₙ ∇_θ log p_θ(x | z⁽ⁿ⁾), the
    encoder parameters φ the pathwise or the score-function estimate (with the learning
    signal log p_θ(x, z⁽ⁿ⁾) − log q_φ(z⁽ⁿ⁾ | x) for the generic form, log p_θ(x | z⁽ⁿ⁾)
    for the analytic-KL one). Both modes use the same N draws per data point and the same
    N decoder evaluations, so they have the same budget; both are unbiased.

    Args:
        model: the VAE.
        x: data, shape ``(batch, data_dim)``.
        num_samples: N, draws per data point.
        estimator: ``"generic"`` (Kingma & Welling eq. 6) or
            ``"analytic_kl"`` (eq. 7).
        encoder_gradient: ``"pathwise"`` or ``"score_function"``.
        baseline: score function only: b, a constant (a number or a tensor of shape
            ``(batch,)``, one per data point) subtracted from the learning signal, which
            must not depend on the draws; or ``"leave_one_out"`` (needs N >= 2).
        generator: source of ε.

    Returns:
        An :class:`ElboStep`; ``signal`` has shape ``(num_samples, batch)``.
    """
    loc, scale = _encode_batch(model, x)
    return elbo_estimate(
        partial(model.log_likelihood, x),
        loc,
        scale,
        num_samples,
        estimator=estimator,
        encoder_gradient=encoder_gradient,
        baseline=_per_data_point(baseline, loc),
        generator=generator,
    )


def _encode_batch(model: VAE, x: Tensor) -> tuple[Tensor, Tensor]:
    check_instance(model, "model", VAE, "a reparam.book.vae.VAE")
    if check_tensor(x, "x").dim() != 2:
        raise ValueError(f"x must have shape (batch, data_dim), got {tuple(x.shape)}")
    return model.encode(x)


def _per_data_point(
    baseline: Tensor | float | Literal["leave_one_out"] | None, loc: Tensor
) -> SurrogateBaseline:
    """A baseline of shape ``()`` or ``(batch,)`` as the surrogates' ``()`` or ``(batch, 1)``."""
    if baseline is None or isinstance(baseline, str):
        return baseline  # a name: the surrogate checks it
    b = check_finite(as_tensor(baseline, "baseline", like=loc).detach(), "baseline")
    batch = loc.shape[0]
    if b.dim() > 1 or (b.dim() == 1 and b.shape[0] != batch):
        raise ValueError(
            f"baseline must be a scalar or have shape (batch,) = ({batch},), got {tuple(b.shape)}"
        )
    return b.unsqueeze(-1) if b.dim() == 1 else b


def _check_baseline_shape(baseline: SurrogateBaseline, batch_shape: torch.Size) -> None:
    """Before any draw: a tensor baseline must broadcast to the cost's ``(*batch_shape, 1)``
    (:func:`check_broadcasts_to` compares sizes in Python: no ``torch.broadcast_shapes``,
    whose cost would exceed the rest of a training step's checks)."""
    if isinstance(baseline, Tensor):
        target = (*batch_shape, 1)
        check_broadcasts_to(baseline.shape, "baseline", target, target_name="(*batch_shape, 1)")


def _check_estimator(estimator: str) -> None:
    check_choice(estimator, "estimator", ("generic", "analytic_kl"))


def _check_encoder_gradient(encoder_gradient: str, baseline: object = None) -> None:
    check_choice(encoder_gradient, "encoder_gradient", ("pathwise", "score_function"))
    if baseline is not None and encoder_gradient == "pathwise":
        raise ValueError(
            "baseline must be None with the pathwise encoder gradient: "
            "it applies to the score-function encoder gradient only"
        )


def linear_gaussian_elbo(
    x: Tensor, weight: Tensor, bias: Tensor, obs_scale: float, loc: Tensor, scale: Tensor
) -> Tensor:
    """Exact ELBO of the linear-Gaussian model for a diagonal Gaussian q, per data point.

    Model: z ~ N(0, I), x | z ~ N(W z + b, s² I) with s = ``obs_scale``; q = N(m, diag v²).
    Since E_q[‖x − W z − b‖²] = ‖x − W m − b‖² + Σⱼ vⱼ² ‖W_{:, j}‖²,

        L = −(D/2) log(2π s²) − (‖x − W m − b‖² + Σⱼ vⱼ² ‖W_{:, j}‖²) / (2 s²)
            − ½ Σⱼ (mⱼ² + vⱼ² − 1 − log vⱼ²).

    Args:
        x: shape ``(batch, D)``.
        weight: W, shape ``(D, latent_dim)``.
        bias: b, shape ``(D,)``.
        obs_scale: s > 0.
        loc: m, shape ``(batch, latent_dim)``.
        scale: v > 0, shape ``(batch, latent_dim)``.

    Returns:
        Shape ``(batch,)``.
    """
    obs_scale = check_real(obs_scale, "obs_scale", positive=True)
    data_dim = weight.shape[0]
    residual = x - loc @ weight.T - bias
    spread = (scale.square() * weight.square().sum(dim=0)).sum(dim=-1)
    expected_sq = residual.square().sum(dim=-1) + spread
    log_norm = -0.5 * data_dim * (_LOG_2PI + 2 * math.log(obs_scale))
    expected_log_lik = log_norm - expected_sq / (2 * obs_scale**2)
    return expected_log_lik - kl_to_standard_normal(loc, scale)


def linear_gaussian_log_evidence(
    x: Tensor, weight: Tensor, bias: Tensor, obs_scale: float
) -> Tensor:
    """log p(x) of the linear-Gaussian model: x ~ N(b, W Wᵀ + s² I); shape ``(batch,)``.

    ``x`` has shape ``(batch, D)`` with D = ``weight.shape[0]``; s = ``obs_scale`` > 0.
    """
    obs_scale = check_real(obs_scale, "obs_scale", positive=True)
    if x.dim() < 1 or x.shape[-1] != weight.shape[0]:
        raise ValueError(
            f"x must end in D = weight.shape[0] = {weight.shape[0]}, got {tuple(x.shape)}"
        )
    covariance = weight @ weight.T + obs_scale**2 * torch.eye(
        weight.shape[0], dtype=weight.dtype, device=weight.device
    )
    dist = torch.distributions.MultivariateNormal(bias, covariance_matrix=covariance)
    return dist.log_prob(x)


# -- training: several runs as one batched network -----------------------------------------
_Layer = tuple[Tensor, Tensor] | None  # stacked (weight, bias) of a linear layer, or tanh


def _stack_layers(networks: Sequence[nn.Sequential]) -> list[_Layer]:
    """The layers of R networks of one architecture as leaf tensors with a run dimension.

    A linear layer becomes weights ``(R, fan_in, fan_out)`` (transposed once here, so the
    forward pass needs no transpose) and biases ``(R, 1, fan_out)``.
    """
    layers: list[_Layer] = []
    for modules in zip(*networks, strict=True):
        if all(isinstance(module, nn.Linear) for module in modules):
            linear = [module for module in modules if isinstance(module, nn.Linear)]
            weight = torch.stack([module.weight.detach().T for module in linear])
            bias = torch.stack([module.bias.detach() for module in linear]).unsqueeze(1)
            layers.append((weight.requires_grad_(), bias.requires_grad_()))
        elif all(isinstance(module, nn.Tanh) for module in modules):
            layers.append(None)
        else:
            raise TypeError(f"cannot stack layers {[type(m).__name__ for m in modules]}")
    return layers


def _run_layers(layers: list[_Layer], hidden: Tensor) -> Tensor:
    """``(R, M, fan_in)`` -> ``(R, M, fan_out)``: each run's network on its own rows."""
    for layer in layers:
        hidden = torch.tanh(hidden) if layer is None else torch.baddbmm(layer[1], hidden, layer[0])
    return hidden


def _write_back(networks: Sequence[nn.Sequential], layers: list[_Layer]) -> None:
    with torch.no_grad():
        for modules, layer in zip(zip(*networks, strict=True), layers, strict=True):
            if layer is None:
                continue
            weight, bias = layer
            for run, module in enumerate(modules):
                assert isinstance(module, nn.Linear)
                module.weight.copy_(weight[run].T)
                module.bias.copy_(bias[run, 0])


class _Stack:
    """R VAEs of one architecture evaluated as one network with a leading run dimension.

    On a CPU a training step of these small networks costs mostly per-operation overhead,
    so one batched matrix product per layer (``torch.baddbmm``) for all R runs costs little
    more than one run's; the arithmetic per run is that of the run's own :class:`VAE`.
    """

    def __init__(self, models: Sequence[VAE], encoder_gradient: EncoderGradient) -> None:
        self.models = list(models)
        self.encoder_gradient = encoder_gradient
        self.encoder = _stack_layers([model.encoder for model in models])
        self.decoder = _stack_layers([model.decoder for model in models])

    def parameters(self) -> list[Tensor]:
        return [tensor for layer in self.encoder + self.decoder if layer for tensor in layer]

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x ``(B, data_dim)`` -> each run's ``(loc, scale)``, each ``(R, B, latent_dim)``."""
        hidden = x.expand(len(self.models), *x.shape)
        return self.models[0]._split(_run_layers(self.encoder, hidden))

    def log_likelihood(self, x: Tensor, z: Tensor) -> Tensor:
        """log p_θ(x | z) under each run's decoder: z ``(N, R, B, K)`` -> ``(N, R, B)``."""
        n, runs, batch, latent = z.shape
        hidden = z.transpose(0, 1).reshape(runs, n * batch, latent)
        out = _run_layers(self.decoder, hidden).reshape(runs, n, batch, -1).transpose(0, 1)
        return self.models[0]._log_likelihood_of_output(x, out, checked=True)

    def write_back(self) -> None:
        """Copy the trained weights into the runs' models."""
        _write_back([model.encoder for model in self.models], self.encoder)
        _write_back([model.decoder for model in self.models], self.decoder)


#: Each encoder gradient's runs draw from their own noise streams, so that a run's training
#: does not depend on whether runs of the other encoder gradient train alongside it.
_STREAM = {"pathwise": 0, "score_function": 1}


@dataclass
class _Group:
    """The runs of one encoder gradient: their stacked network, baselines and noise."""

    runs: list[int]
    stack: _Stack
    averages: list[MovingAverage | None]
    noise: torch.Generator
    evaluation_noise: torch.Generator

    def estimate(self, x: Tensor, num_samples: int, estimator: Estimator) -> ElboStep:
        """Every run's training objective on the minibatch ``x`` (its own encoder gradient)."""
        loc, scale = self.stack.encode(x)
        return elbo_estimate(
            partial(self.stack.log_likelihood, x),
            loc,
            scale,
            num_samples,
            estimator=estimator,
            encoder_gradient=self.stack.encoder_gradient,
            baseline=self.baseline(),
            generator=self.noise,
        )

    def heldout_elbo(self, x: Tensor, num_samples: int) -> Tensor:
        """Every run's mean ELBO per image of ``x`` (estimator B), shape ``(R,)``."""
        with torch.no_grad():
            loc, scale = self.stack.encode(x)
            step = elbo_estimate(
                partial(self.stack.log_likelihood, x),
                loc,
                scale,
                num_samples,
                generator=self.evaluation_noise,
            )
        return step.elbo.mean(dim=-1)

    def baseline(self) -> Tensor | None:
        """Each run's moving-average baseline (0 before the first update), ``(R, 1, 1)``."""
        if all(average is None for average in self.averages):
            return None
        zero = torch.zeros((), dtype=self.stack.parameters()[0].dtype)
        values = [
            average.value if average is not None and average.value is not None else zero
            for average in self.averages
        ]
        return torch.stack([value.to(zero.device) for value in values]).reshape(-1, 1, 1)

    def update_baselines(self, signal: Tensor) -> None:
        """Fold each run's mean learning signal of ``signal`` ``(N, R, B)`` into its average."""
        means = signal.mean(dim=(0, 2))
        for run, average in enumerate(self.averages):
            if average is not None:
                average.update(means[run])


def _architecture(model: VAE) -> tuple[object, ...]:
    return (model.data_dim, model.latent_dim, model.hidden_sizes, model.likelihood, model.obs_scale)


def _check_runs(
    models: Sequence[VAE],
    encoder_gradients: Sequence[EncoderGradient],
    baseline_decays: Sequence[float | None] | None,
) -> list[float | None]:
    if len(models) == 0:
        raise ValueError("models must hold at least one VAE")
    first = models[0]
    for i, model in enumerate(models):
        check_instance(model, f"models[{i}]", VAE, "a VAE")
        if _architecture(model) != _architecture(first):
            raise ValueError(
                f"models must share one architecture (data_dim, latent_dim, hidden_sizes, "
                f"likelihood, obs_scale): models[{i}] differs from models[0]"
            )
        kinds = {(p.dtype, p.device) for p in model.parameters()}
        if kinds != {(p.dtype, p.device) for p in first.parameters()}:
            raise ValueError(f"models[{i}] must have the dtype and device of models[0]")
    if len({id(model) for model in models}) != len(models):
        raise ValueError("models must be distinct: a model listed twice would be trained twice")
    decays: list[float | None] = (
        [None] * len(models) if baseline_decays is None else list(baseline_decays)
    )
    for name, values in (("encoder_gradients", encoder_gradients), ("baseline_decays", decays)):
        if len(values) != len(models):
            raise ValueError(
                f"{name} must have one entry per model ({len(models)}), got {len(values)}"
            )
    for i, (mode, decay) in enumerate(zip(encoder_gradients, decays, strict=True)):
        _check_encoder_gradient(mode)
        if decay is not None and mode != "score_function":
            raise ValueError(
                f"baseline_decay of run {i} must be None with the pathwise encoder gradient: "
                "it applies to the score-function encoder gradient only"
            )
    return decays


def train_vaes(
    models: Sequence[VAE],
    train_x: Tensor,
    *,
    encoder_gradients: Sequence[EncoderGradient],
    baseline_decays: Sequence[float | None] | None = None,
    num_steps: int,
    batch_size: int = 100,
    num_samples: int = 1,
    learning_rate: float = 1e-3,
    estimator: Estimator = "analytic_kl",
    heldout_x: Tensor | None = None,
    eval_every: int = 100,
    eval_samples: int = 10,
    generator: torch.Generator,
    progress: bool | None = None,
) -> list[TrainingHistory]:
    """Fit several VAEs of one architecture together with Adam; record held-out ELBOs.

    Run r trains ``models[r]`` with ``encoder_gradients[r]`` (and, for the score
    function, an optional moving-average baseline of decay ``baseline_decays[r]``:
    b ← decay · b + (1 − decay) · mean(s), updated after each step). Each step estimates
    every run's batch-mean ELBO with :func:`elbo_estimate` (N = ``num_samples`` draws per
    image; Kingma & Welling used a minibatch of 100 and one draw) and takes an Adam step
    on its negative. All runs see the same minibatches. The runs of one encoder gradient
    are evaluated as one batched network with a leading run dimension, so on a CPU, where
    such small networks cost mostly per-operation overhead, three runs train in far less
    than three times one run's time. Each run's arithmetic is its own (Adam acts entry by
    entry) and each encoder gradient draws from its own noise streams, so a run trains
    exactly as it would alone unless it shares its encoder gradient with another run (then
    the two split one stream's draws). The models are updated in place when training ends
    (or stops).

    Args:
        models: the VAEs, one architecture, dtype and device; trained in place.
        train_x: training data, shape ``(n_train, data_dim)``.
        encoder_gradients: ``"pathwise"`` or ``"score_function"``, one per model.
        baseline_decays: per model, ``None`` or a decay in [0, 1) for a moving-average
            baseline (score function only); default: no baselines.
        num_steps: optimisation steps.
        batch_size: data points per step.
        num_samples: draws per data point.
        learning_rate: Adam's step size.
        estimator: ``"generic"`` or ``"analytic_kl"``.
        heldout_x: data for evaluation, shape ``(n_test, data_dim)``.
        eval_every: steps between evaluations.
        eval_samples: draws per image for the held-out ELBO (analytic-KL form).
        generator: one seeded generator; the minibatch order, the evaluation noise and the
            training noise each come from a generator seeded from it, so adding
            evaluations does not change training.
        progress: show a progress bar (default: only in a terminal).

    Returns:
        One :class:`TrainingHistory` per model: ``values`` are its training minibatch
        ELBOs (mean per image), ``evaluations`` its held-out ELBOs (mean per image, in
        nats); ``seconds`` and ``train_seconds`` are those of the joint loop.
    """
    decays = _check_runs(models, encoder_gradients, baseline_decays)
    check_instance(generator, "generator", torch.Generator, "a torch.Generator")
    learning_rate = check_real(learning_rate, "learning_rate", positive=True)
    num_samples = check_num_samples(num_samples)
    eval_samples = check_num_samples(eval_samples, "eval_samples")
    _check_estimator(estimator)
    for name, data in (("train_x", train_x), ("heldout_x", heldout_x)):
        if data is not None:
            models[0]._check_data(data)
            if data.dim() != 2:
                raise ValueError(f"{name} must have shape (n, data_dim), got {tuple(data.shape)}")
    seeds = torch.randint(0, 2**62, (3,), generator=generator, device=generator.device).tolist()
    device = generator.device
    batch_gen = torch.Generator(device).manual_seed(seeds[0])
    groups = []
    for mode in dict.fromkeys(encoder_gradients):  # one group per encoder gradient, in order
        runs = [i for i, m in enumerate(encoder_gradients) if m == mode]
        averages = [None if (d := decays[i]) is None else MovingAverage(d) for i in runs]
        noise, evaluation_noise = (
            torch.Generator(device).manual_seed(seed + _STREAM[mode]) for seed in seeds[1:]
        )
        stack = _Stack([models[i] for i in runs], mode)
        groups.append(_Group(runs, stack, averages, noise, evaluation_noise))
    order = [run for group in groups for run in group.runs]
    values: list[list[float]] = [[] for _ in models]
    evaluations: list[list[float]] = [[] for _ in models]
    parameters = [tensor for group in groups for tensor in group.stack.parameters()]
    # torch.optim.Adam's update, without the 1.7 s import of torch's compiler that
    # constructing a torch optimiser costs (reparam.book.optim)
    optimizer = Adam(parameters, lr=learning_rate)

    def record(per_run: list[Tensor], into: list[list[float]], what: str) -> float:
        numbers = torch.cat(per_run).tolist()
        for run, number in zip(order, numbers, strict=True):
            if not math.isfinite(number):
                done = len(values[run])  # the training steps recorded for this run
                when = (
                    f"in training step {done + 1}"
                    if into is values
                    else f"after {done} training step{'' if done == 1 else 's'}"
                )
                raise FloatingPointError(
                    f"training diverged: the {what} of run {run} "
                    f"({encoder_gradients[run]}) is {number} {when}; "
                    "lower the learning rate or check the model"
                )
            into[run].append(number)
        return math.fsum(numbers)

    def step(indices: Tensor) -> float:
        x = train_x[indices.to(train_x.device)]
        outs = [group.estimate(x, num_samples, estimator) for group in groups]
        torch.stack([out.surrogate for out in outs]).sum().neg().backward()
        for group, out in zip(groups, outs, strict=True):
            group.update_baselines(out.signal)
        return record([out.elbo.detach().mean(dim=-1) for out in outs], values, "objective")

    def evaluate() -> float:
        assert heldout_x is not None
        per_run = [group.heldout_elbo(heldout_x, eval_samples) for group in groups]
        return record(per_run, evaluations, "held-out ELBO")

    try:
        joint = train(
            step,
            optimizer,
            train_x.shape[0],
            num_steps=num_steps,
            batch_size=batch_size,
            generator=batch_gen,
            evaluate=evaluate if heldout_x is not None else None,
            eval_every=eval_every,
            progress=progress,
        )
    finally:
        for group in groups:
            group.stack.write_back()
    return [
        TrainingHistory(
            values=values[run],
            eval_steps=list(joint.eval_steps),
            evaluations=evaluations[run],
            seconds=joint.seconds,
            train_seconds=joint.train_seconds,
        )
        for run in range(len(models))
    ]


def train_vae(
    model: VAE,
    train_x: Tensor,
    *,
    num_steps: int,
    batch_size: int = 100,
    num_samples: int = 1,
    learning_rate: float = 1e-3,
    estimator: Estimator = "analytic_kl",
    encoder_gradient: EncoderGradient = "pathwise",
    baseline_decay: float | None = None,
    heldout_x: Tensor | None = None,
    eval_every: int = 100,
    eval_samples: int = 10,
    generator: torch.Generator,
    progress: bool | None = None,
) -> TrainingHistory:
    """Fit one VAE with Adam on minibatches of ``train_x``; record the held-out ELBO.

    :func:`train_vaes` with one model (see there for the arguments): each step estimates the
    batch-mean ELBO with :func:`elbo_estimate` and takes an Adam step on its negative; with
    ``baseline_decay`` (score function only) the baseline is an exponential moving average
    of the batch-mean learning signal.

    Returns:
        The :class:`TrainingHistory`: ``values`` are the training minibatch ELBOs (mean per
        image) and ``evaluations`` the held-out ELBOs (mean per image, in nats).
    """
    (history,) = train_vaes(
        [model],
        train_x,
        encoder_gradients=[encoder_gradient],
        baseline_decays=[baseline_decay],
        num_steps=num_steps,
        batch_size=batch_size,
        num_samples=num_samples,
        learning_rate=learning_rate,
        estimator=estimator,
        heldout_x=heldout_x,
        eval_every=eval_every,
        eval_samples=eval_samples,
        generator=generator,
        progress=progress,
    )
    return history
