"""A small variational autoencoder and its two ELBO estimators (Kingma & Welling, 2014).

Book chapter "A variational autoencoder". The generative model is
p_θ(x, z) = p(z) p_θ(x | z) with prior p(z) = N(0, I) and a decoder p_θ(x | z) (Bernoulli
for binary pixels, Gaussian with a fixed scale otherwise); the encoder
q_φ(z | x) = N(μ_φ(x), diag σ_φ(x)²) is a multilayer perceptron. The evidence lower bound

    L(θ, φ; x) = E_{q_φ(z|x)}[log p_θ(x, z) − log q_φ(z | x)]
               = E_{q_φ(z|x)}[log p_θ(x | z)] − KL(q_φ(z | x) ‖ p(z))

is estimated from N reparameterized draws z⁽ⁿ⁾ = μ_φ(x) + σ_φ(x) ⊙ ε⁽ⁿ⁾ in the two forms of
Kingma & Welling (2014), section 2.3:

- :func:`elbo` with ``estimator="generic"`` — their eq. 6 (estimator "A"): the average of
  log p_θ(x, z⁽ⁿ⁾) − log q_φ(z⁽ⁿ⁾ | x);
- :func:`elbo` with ``estimator="analytic_kl"`` — their eq. 7 (estimator "B"): the KL term in
  closed form (:func:`kl_to_standard_normal`) and only the reconstruction term sampled.

(Kingma & Welling write L for the number of draws per data point and M for the minibatch
size; the book writes N for the former and B for the latter.)

:func:`elbo_surrogate` turns either estimate into a training objective whose gradient with
respect to the encoder parameters φ comes either from the pathwise (reparameterization)
estimator or from the score-function estimator, with the same draws and the same number of
decoder evaluations: the comparison the chapter makes.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from reparam._validation import (
    as_tensor,
    check_broadcast,
    check_finite,
    check_generator,
    check_num_samples,
    check_real,
    is_real_number,
)
from reparam.book.training import MovingAverage, TrainingHistory, train
from reparam.normal import NORMAL, kl_to_standard_normal, normal_log_prob, standard_normal

__all__ = [
    "VAE",
    "ElboStep",
    "EncoderGradient",
    "Estimator",
    "Likelihood",
    "bernoulli_log_likelihood",
    "elbo",
    "elbo_surrogate",
    "linear_gaussian_elbo",
    "linear_gaussian_log_evidence",
    "train_vae",
]

#: The decoder's likelihood p(x | z), for binary or real-valued data.
Likelihood = Literal["bernoulli", "gaussian"]
#: The ELBO estimator, generic Monte Carlo or with the KL term in closed form.
Estimator = Literal["generic", "analytic_kl"]
#: How the encoder's gradient is estimated.
EncoderGradient = Literal["pathwise", "score_function"]

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
        data_dim = check_num_samples(data_dim, "data_dim")
        latent_dim = check_num_samples(latent_dim, "latent_dim")
        hidden = tuple(check_num_samples(width, "hidden_sizes[i]") for width in hidden_sizes)
        if likelihood not in ("bernoulli", "gaussian"):
            raise ValueError(f"likelihood must be 'bernoulli' or 'gaussian', got {likelihood!r}")
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
        out = self.encoder(x)
        loc, log_scale = out[..., : self.latent_dim], out[..., self.latent_dim :]
        return loc, log_scale.exp()

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
        out = self.decode(z)
        if self.likelihood == "bernoulli":
            return bernoulli_log_likelihood(x, out)
        sq = ((x - out) / self.obs_scale).square().sum(dim=-1)
        return -0.5 * sq - self.data_dim * (math.log(self.obs_scale) + 0.5 * _LOG_2PI)

    def _check_data(self, x: Tensor) -> None:
        if not isinstance(x, Tensor):
            raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
        if x.dim() < 1 or x.shape[-1] != self.data_dim:
            raise ValueError(f"x must end in data_dim = {self.data_dim}, got {tuple(x.shape)}")
        check_finite(x, "x")
        if self.likelihood == "bernoulli" and not bool(((x >= 0) & (x <= 1)).all()):
            raise ValueError("x must lie in [0, 1] for a Bernoulli decoder")


def _mlp(
    sizes: tuple[int, ...], dtype: torch.dtype | None, device: torch.device | str | None
) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(fan_in, fan_out, dtype=dtype, device=device))
        if i < len(sizes) - 2:
            layers.append(nn.Tanh())
    return nn.Sequential(*layers)


@dataclass(frozen=True)
class ElboStep:
    """One evaluation of :func:`elbo_surrogate`.

    Attributes:
        surrogate: scalar whose gradient with respect to (θ, φ) is the chosen estimate of
            the gradient of the batch-mean ELBO; maximise it (minimise its negative).
        elbo: the ELBO estimate per data point, shape ``(batch,)``, detached.
        signal: the sampled term the score function multiplies, per draw, shape
            ``(num_samples, batch)``, detached (useful to update a baseline).
    """

    surrogate: Tensor
    elbo: Tensor
    signal: Tensor


def _draw(
    model: VAE, x: Tensor, num_samples: int, generator: torch.Generator | None
) -> tuple[Tensor, Tensor, Tensor]:
    """Encode ``x`` and draw z = μ_φ(x) + σ_φ(x) ⊙ ε: returns ``(loc, scale, z)``, z of shape
    ``(num_samples, batch, latent_dim)``."""
    num_samples = check_num_samples(num_samples)
    check_generator(generator)
    if x.dim() != 2:
        raise ValueError(f"x must have shape (batch, data_dim), got {tuple(x.shape)}")
    loc, scale = model.encode(x)
    eps = standard_normal(
        (num_samples, *loc.shape), generator=generator, dtype=loc.dtype, device=loc.device
    )
    z = NORMAL.transform(eps, {"loc": loc, "scale": scale})  # z = μ + σ ⊙ ε, (N, B, latent)
    return loc, scale, z


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
    z⁽ⁿ⁾ = μ_φ(x) + σ_φ(x) ⊙ ε⁽ⁿ⁾.

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
    _check_estimator(estimator)
    loc, scale, z = _draw(model, x, num_samples, generator)
    log_lik = model.log_likelihood(x, z)  # (N, B)
    if estimator == "analytic_kl":
        return log_lik.mean(dim=0) - kl_to_standard_normal(loc, scale)
    log_prior = normal_log_prob(z, 0.0, 1.0).sum(dim=-1)
    log_q = normal_log_prob(z, loc, scale).sum(dim=-1)
    return (log_lik + log_prior - log_q).mean(dim=0)


def elbo_surrogate(
    model: VAE,
    x: Tensor,
    num_samples: int = 1,
    *,
    estimator: Estimator = "analytic_kl",
    encoder_gradient: EncoderGradient = "pathwise",
    baseline: Tensor | float | None = None,
    generator: torch.Generator | None = None,
) -> ElboStep:
    """Batch-mean ELBO objective with a choice of encoder gradient.

    The decoder parameters θ always get the exact gradient of the sampled
    terms, (1/N) Σₙ ∇_θ log p_θ(x | z⁽ⁿ⁾). The encoder parameters φ get

    - ``"pathwise"``: the reparameterization gradient, by differentiating
      :func:`elbo` through z⁽ⁿ⁾ = μ_φ(x) + σ_φ(x) ⊙ ε⁽ⁿ⁾;
    - ``"score_function"``: (1/N) Σₙ (s⁽ⁿ⁾ − b) ∇_φ log q_φ(z⁽ⁿ⁾ | x) plus
      the exact gradient of the terms in which φ appears explicitly
      (−log q_φ(z⁽ⁿ⁾ | x) for the generic form, whose gradient has mean
      zero; the analytic KL for the other). Here the learning signal s⁽ⁿ⁾ is
      log p_θ(x, z⁽ⁿ⁾) − log q_φ(z⁽ⁿ⁾ | x) (generic) or log p_θ(x | z⁽ⁿ⁾)
      (analytic KL), treated as a constant, and b is an optional baseline.

    Both modes use the same N draws per data point and the same N decoder
    evaluations, so they have the same budget; both are unbiased.

    Args:
        model: the VAE.
        x: data, shape ``(batch, data_dim)``.
        num_samples: N, draws per data point.
        estimator: ``"generic"`` (Kingma & Welling eq. 6) or
            ``"analytic_kl"`` (eq. 7).
        encoder_gradient: ``"pathwise"`` or ``"score_function"``.
        baseline: b, a constant (scalar or shape ``(batch,)``) subtracted
            from the learning signal; score function only. It must not
            depend on the draws.
        generator: source of ε.

    Returns:
        An :class:`ElboStep`.
    """
    _check_estimator(estimator)
    if encoder_gradient not in ("pathwise", "score_function"):
        choices = "'pathwise' or 'score_function'"
        got = repr(encoder_gradient)
        raise ValueError(f"encoder_gradient must be {choices}, got {got}")
    if baseline is not None and encoder_gradient == "pathwise":
        raise ValueError(
            "baseline must be None with the pathwise encoder gradient: "
            "it applies to the score-function encoder gradient only"
        )
    loc, scale, z = _draw(model, x, num_samples, generator)
    if encoder_gradient == "score_function":
        # no path from φ to the draws: φ is reached through log q only
        z = z.detach()
    log_lik = model.log_likelihood(x, z)  # (N, B)
    log_q = normal_log_prob(z, loc, scale).sum(dim=-1)  # (N, B)
    if estimator == "analytic_kl":
        kl = kl_to_standard_normal(loc, scale)  # (B,)
        sampled = log_lik
        value = log_lik.mean(dim=0) - kl
    else:
        kl = torch.zeros_like(loc[..., 0])
        sampled = log_lik + normal_log_prob(z, 0.0, 1.0).sum(dim=-1) - log_q
        value = sampled.mean(dim=0)
    signal = sampled.detach()
    if encoder_gradient == "pathwise":
        surrogate = value.mean()
    else:
        b = _check_baseline(baseline, signal)
        score_term = (signal - b) * log_q  # gradient: (s - b) ∇_φ log q
        surrogate = (score_term + sampled).mean(dim=0).sub(kl).mean()
    return ElboStep(surrogate, value.detach(), signal)


def _check_baseline(baseline: Tensor | float | None, signal: Tensor) -> Tensor:
    if baseline is None:
        return torch.zeros((), dtype=signal.dtype, device=signal.device)
    if not (isinstance(baseline, Tensor) or is_real_number(baseline)):
        raise TypeError(f"baseline must be a float or a tensor, got {type(baseline).__name__}")
    b = torch.as_tensor(baseline, dtype=signal.dtype, device=signal.device).detach()
    check_finite(b, "baseline")
    if b.dim() > 1 or (b.dim() == 1 and b.shape[0] != signal.shape[1]):
        raise ValueError(
            f"baseline must be a scalar or have shape (batch,) = ({signal.shape[1]},), "
            f"got {tuple(b.shape)}"
        )
    return b


def _check_estimator(estimator: str) -> None:
    if estimator not in ("generic", "analytic_kl"):
        raise ValueError(f"estimator must be 'generic' or 'analytic_kl', got {estimator!r}")


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
    """Fit a VAE with Adam on minibatches of ``train_x``; record the held-out ELBO.

    Each step estimates the batch-mean ELBO with :func:`elbo_surrogate` (N =
    ``num_samples`` draws per image; Kingma & Welling used a minibatch of 100 and one draw)
    and takes an Adam step on its negative. With ``baseline_decay`` (score function only) the
    baseline is an exponential moving average of the batch-mean learning signal:
    b ← decay · b + (1 − decay) · mean(s), updated after each step.

    Args:
        model: the VAE, trained in place.
        train_x: training data, shape ``(n_train, data_dim)``.
        num_steps: optimisation steps.
        batch_size: data points per step.
        num_samples: draws per data point.
        learning_rate: Adam's step size.
        estimator: ``"generic"`` or ``"analytic_kl"``.
        encoder_gradient: ``"pathwise"`` or ``"score_function"``.
        baseline_decay: in [0, 1) to use a moving-average baseline; score function only.
        heldout_x: data for evaluation, shape ``(n_test, data_dim)``.
        eval_every: steps between evaluations.
        eval_samples: draws per image for the held-out ELBO (analytic-KL form).
        generator: one seeded generator; the minibatch order, the evaluation noise and the
            training noise each come from a generator seeded from it, so adding
            evaluations does not change training.
        progress: show a progress bar (default: only in a terminal).

    Returns:
        The :class:`TrainingHistory`: ``values`` are the training minibatch ELBOs (mean per
        image) and ``evaluations`` the held-out ELBOs (mean per image, in nats).
    """
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    learning_rate = check_real(learning_rate, "learning_rate", positive=True)
    average: MovingAverage | None = None
    if baseline_decay is not None:
        if encoder_gradient != "score_function":
            raise ValueError(
                "baseline_decay must be None with the pathwise encoder gradient: it applies to "
                "the score-function encoder gradient only"
            )
        average = MovingAverage(baseline_decay)
    model._check_data(train_x)
    seeds = torch.randint(0, 2**62, (3,), generator=generator, device=generator.device).tolist()
    device = generator.device
    batch_gen = torch.Generator(device).manual_seed(seeds[0])
    noise_gen = torch.Generator(device).manual_seed(seeds[1])
    eval_gen = torch.Generator(device).manual_seed(seeds[2])
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)

    def step(indices: Tensor) -> float:
        x = train_x[indices.to(train_x.device)]
        out = elbo_surrogate(
            model,
            x,
            num_samples,
            estimator=estimator,
            encoder_gradient=encoder_gradient,
            baseline=average.value if average is not None else None,
            generator=noise_gen,
        )
        out.surrogate.neg().backward()
        if average is not None:
            average.update(out.signal.mean())
        return float(out.elbo.mean())

    evaluate = None
    if heldout_x is not None:
        model._check_data(heldout_x)

        def evaluate() -> float:
            with torch.no_grad():
                return float(elbo(model, heldout_x, eval_samples, generator=eval_gen).mean())

    return train(
        step,
        optimizer,
        train_x.shape[0],
        num_steps=num_steps,
        batch_size=batch_size,
        generator=batch_gen,
        evaluate=evaluate,
        eval_every=eval_every,
        progress=progress,
    )
