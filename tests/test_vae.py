"""Tests of reparam.book.vae and reparam.book.training.

Oracles: torch.distributions (KL divergences, Bernoulli and multivariate-normal densities),
scipy.stats, the closed-form ELBO of the linear-Gaussian model (whose autograd gradient is
the exact gradient the surrogates must match on average), central finite differences in
float64, the library's surrogates (reparam.surrogate) applied by hand, each model evaluated
on its own, and repeated seeded runs. Statistical checks use 5 standard errors.
"""

from __future__ import annotations

import io
import math
from functools import partial
from typing import Literal

import pytest
import torch
from scipy import stats
from torch import Tensor
from torch.distributions import Bernoulli, Independent, MultivariateNormal, Normal, kl_divergence

import reparam
from reparam.book import data, training, vae
from reparam.normal import kl_to_standard_normal
from reparam.surrogate import score_function_surrogate

Z = 5.0
F64 = torch.float64


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _linear_model(seed: int = 0, data_dim: int = 3, latent_dim: int = 2) -> vae.VAE:
    """An affine encoder and decoder with a Gaussian decoder: the linear-Gaussian model."""
    return vae.VAE(
        data_dim,
        latent_dim,
        (),
        likelihood="gaussian",
        obs_scale=0.7,
        generator=_gen(seed),
        dtype=F64,
    )


def _closed_form(model: vae.VAE, x: Tensor) -> Tensor:
    loc, scale = model.encode(x)
    layer = model.decoder[0]
    assert isinstance(layer, torch.nn.Linear)
    return vae.linear_gaussian_elbo(x, layer.weight, layer.bias, model.obs_scale, loc, scale)


# -- closed forms --------------------------------------------------------------------------
def test_kl_matches_torch_distributions(dtype: torch.dtype) -> None:
    g = _gen(1)
    loc = torch.randn(4, 3, generator=g, dtype=dtype)
    scale = torch.rand(4, 3, generator=g, dtype=dtype) + 0.2
    ours = kl_to_standard_normal(loc, scale)
    q = Independent(Normal(loc, scale), 1)
    p = Independent(Normal(torch.zeros_like(loc), torch.ones_like(scale)), 1)
    torch.testing.assert_close(ours, kl_divergence(q, p))
    assert ours.dtype == dtype


def test_kl_rejects_non_positive_scale() -> None:
    with pytest.raises(ValueError, match="scale"):
        kl_to_standard_normal(torch.zeros(2), torch.tensor([1.0, 0.0]))
    message = r"^the shapes of loc, scale must broadcast together, got loc: \(2,\), scale: \(3,\)$"
    with pytest.raises(ValueError, match=message):
        kl_to_standard_normal(torch.zeros(2), torch.ones(3))


def test_kl_of_mixed_precisions_is_computed_in_the_wider_dtype() -> None:
    """float32 means with float64 scales (a 0-d scale too): computed in float64, so torch's
    float64 KL at the same numbers (float32 values are exact in float64), not float32
    arithmetic (0.3² in float32 is off by ~1e-8)."""
    loc = torch.tensor([[0.3, -1.7, 0.05], [2.2, 0.1, -0.6]], dtype=torch.float32)
    for scale in (torch.tensor([0.4, 1.3, 0.9], dtype=F64), torch.tensor(0.7, dtype=F64)):
        ours = kl_to_standard_normal(loc, scale)
        q = Independent(Normal(loc.double(), scale.expand(loc.shape)), 1)
        prior = Independent(Normal(torch.zeros(loc.shape, dtype=F64), 1.0), 1)
        theirs = kl_divergence(q, prior)
        assert ours.dtype == F64
        torch.testing.assert_close(ours, theirs, rtol=1e-13, atol=0.0)


def test_bernoulli_log_likelihood_matches_torch() -> None:
    g = _gen(2)
    x = (torch.rand(5, 6, generator=g) > 0.5).double()
    logits = 3 * torch.randn(7, 5, 6, generator=g, dtype=F64)
    expected = Bernoulli(logits=logits).log_prob(x.expand_as(logits)).sum(-1)
    torch.testing.assert_close(vae.bernoulli_log_likelihood(x, logits), expected)
    # bad arguments: a TypeError naming the one at fault
    with pytest.raises(TypeError, match=r"^x must be a real number or a torch.Tensor, got list$"):
        vae.bernoulli_log_likelihood([[0.0, 1.0]], logits)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^logits must be a real number or a torch.Tensor"):
        vae.bernoulli_log_likelihood(x, "logits")  # type: ignore[arg-type]


def test_linear_gaussian_evidence_matches_scipy() -> None:
    g = _gen(3)
    weight, bias = torch.randn(3, 2, generator=g, dtype=F64), torch.randn(3, generator=g, dtype=F64)
    x = torch.randn(4, 3, generator=g, dtype=F64)
    ours = vae.linear_gaussian_log_evidence(x, weight, bias, 0.7)
    cov = (weight @ weight.T + 0.49 * torch.eye(3, dtype=F64)).numpy()
    theirs = stats.multivariate_normal(bias.numpy(), cov).logpdf(x.numpy())
    torch.testing.assert_close(ours, torch.as_tensor(theirs), rtol=1e-12, atol=1e-12)


def test_linear_gaussian_elbo_is_evidence_minus_kl_to_posterior() -> None:
    """log p(x) − L(q) = KL(q ‖ p(z | x)) for any diagonal q (the exact posterior is a
    full-covariance Gaussian, computed independently here)."""
    g = _gen(4)
    s = 0.7
    weight, bias = torch.randn(3, 2, generator=g, dtype=F64), torch.randn(3, generator=g, dtype=F64)
    x = torch.randn(5, 3, generator=g, dtype=F64)
    loc = torch.randn(5, 2, generator=g, dtype=F64)
    scale = torch.rand(5, 2, generator=g, dtype=F64) + 0.3
    precision = torch.eye(2, dtype=F64) + weight.T @ weight / s**2
    post_cov = torch.linalg.inv(precision)
    post_mean = (post_cov @ weight.T @ (x - bias).T / s**2).T
    gap = kl_divergence(
        MultivariateNormal(loc, torch.diag_embed(scale.square())),
        MultivariateNormal(post_mean, post_cov.expand(5, 2, 2)),
    )
    evidence = vae.linear_gaussian_log_evidence(x, weight, bias, s)
    torch.testing.assert_close(
        vae.linear_gaussian_elbo(x, weight, bias, s, loc, scale), evidence - gap
    )


# -- the two estimators are unbiased -------------------------------------------------------
@pytest.mark.parametrize("estimator", ["generic", "analytic_kl"])
def test_elbo_estimators_are_unbiased_on_the_linear_gaussian_model(
    estimator: vae.Estimator,
) -> None:
    model = _linear_model()
    x = torch.randn(3, 3, generator=_gen(5), dtype=F64)
    exact = _closed_form(model, x)
    reps = 20_000
    with torch.no_grad():
        draws = vae.elbo(model, x.repeat(reps, 1), 1, estimator=estimator, generator=_gen(6))
    draws = draws.reshape(reps, 3)
    se = draws.std(0) / math.sqrt(reps)
    assert ((draws.mean(0) - exact).abs() < Z * se).all(), (draws.mean(0), exact, se)


def test_generic_estimator_is_exact_at_the_true_posterior() -> None:
    """With q the exact posterior, log p(x, z) − log q(z | x) = log p(x) for every z: the
    generic estimator (eq. 6) has zero variance, the analytic-KL one (eq. 7) does not."""
    s = 0.7
    model = _linear_model(seed=7)
    layer = model.decoder[0]
    assert isinstance(layer, torch.nn.Linear)
    with torch.no_grad():
        # Orthogonal decoder columns make the exact posterior diagonal.
        q, _ = torch.linalg.qr(torch.randn(3, 2, generator=_gen(8), dtype=F64))
        layer.weight.copy_(q * torch.tensor([1.5, 0.5], dtype=F64))
        w, b = layer.weight, layer.bias
        post_var = 1 / (1 + w.square().sum(0) / s**2)  # (2,)
        gain = post_var[:, None] * w.T / s**2  # posterior mean = gain (x − b)
        encoder = model.encoder[0]
        assert isinstance(encoder, torch.nn.Linear)
        encoder.weight.copy_(torch.cat([gain, torch.zeros(2, 3, dtype=F64)]))
        encoder.bias.copy_(torch.cat([-gain @ b, 0.5 * post_var.log()]))
        x = torch.randn(4, 3, generator=_gen(9), dtype=F64)
        evidence = vae.linear_gaussian_log_evidence(x, w, b, s)
        generic = vae.elbo(model, x.repeat(500, 1), 1, estimator="generic", generator=_gen(10))
        analytic = vae.elbo(model, x.repeat(500, 1), 1, estimator="analytic_kl", generator=_gen(10))
    torch.testing.assert_close(generic, evidence.repeat(500), rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(_closed_form(model, x), evidence, rtol=1e-10, atol=1e-10)
    assert float(analytic.reshape(500, 4).var(0).min()) > 1e-3


def test_more_samples_average_the_single_sample_estimates() -> None:
    model = _linear_model()
    x = torch.randn(2, 3, generator=_gen(9), dtype=F64)
    with torch.no_grad():
        many = vae.elbo(model, x, 4, generator=_gen(10))
        loc, scale = model.encode(x)
        eps = torch.randn(4, 2, 2, generator=_gen(10), dtype=F64)
        z = loc + scale * eps
        by_hand = model.log_likelihood(x, z).mean(0) - kl_to_standard_normal(loc, scale)
    torch.testing.assert_close(many, by_hand)


# -- gradients -----------------------------------------------------------------------------
@pytest.mark.parametrize("estimator", ["generic", "analytic_kl"])
def test_elbo_gradient_matches_finite_differences(estimator: vae.Estimator) -> None:
    """With the noise fixed (same seed), the estimate is a smooth function of every weight."""
    model = vae.VAE(4, 2, (3,), generator=_gen(11), dtype=F64)
    x = (torch.rand(3, 4, generator=_gen(12)) > 0.5).double()

    def value() -> Tensor:
        return vae.elbo(model, x, 2, estimator=estimator, generator=_gen(13)).sum()

    params = list(model.parameters())
    grads = torch.autograd.grad(value(), params)
    h = 1e-6
    with torch.no_grad():
        for param, grad in zip(params, grads, strict=True):
            flat, flat_grad = param.view(-1), grad.reshape(-1)
            for i in range(flat.numel()):
                flat[i] += h
                up = value()
                flat[i] -= 2 * h
                down = value()
                flat[i] += h
                fd = (up - down) / (2 * h)
                assert abs(fd - flat_grad[i]) < 1e-7 * (1 + abs(fd)), (i, fd, flat_grad[i])


def test_pathwise_surrogate_is_the_elbo_estimate() -> None:
    model = vae.VAE(4, 2, (3,), generator=_gen(14), dtype=F64)
    x = (torch.rand(3, 4, generator=_gen(15)) > 0.5).double()
    step = vae.elbo_surrogate(model, x, 2, generator=_gen(16))
    direct = vae.elbo(model, x, 2, generator=_gen(16))
    torch.testing.assert_close(step.surrogate, direct.mean())
    torch.testing.assert_close(step.elbo, direct.detach())
    assert step.signal.shape == (2, 3)


@pytest.mark.parametrize(
    ("encoder_gradient", "estimator", "baseline"),
    [
        ("pathwise", "analytic_kl", None),
        ("pathwise", "generic", None),
        ("score_function", "analytic_kl", None),
        ("score_function", "generic", None),
        ("score_function", "analytic_kl", -4.0),
        ("score_function", "generic", -4.0),
        ("score_function", "analytic_kl", "leave_one_out"),
        ("score_function", "generic", "leave_one_out"),
    ],
)
def test_surrogate_gradients_are_unbiased(
    encoder_gradient: vae.EncoderGradient,
    estimator: vae.Estimator,
    baseline: float | Literal["leave_one_out"] | None,
) -> None:
    """Mean of repeated gradient estimates against autograd of the closed-form ELBO: the
    gradient the surrogate form carries into the encoder and decoder networks is, in
    expectation, the exact gradient of the ELBO, for every estimator and baseline."""
    model = _linear_model(seed=17)
    x = torch.randn(2, 3, generator=_gen(18), dtype=F64)
    params = list(model.parameters())
    exact = torch.autograd.grad(_closed_form(model, x).mean(), params)
    gen = _gen(19)
    reps = 100
    samples = []
    for _ in range(reps):
        step = vae.elbo_surrogate(
            model,
            x,
            50,
            estimator=estimator,
            encoder_gradient=encoder_gradient,
            baseline=baseline,
            generator=gen,
        )
        samples.append(
            torch.cat([g.reshape(-1) for g in torch.autograd.grad(step.surrogate, params)])
        )
    stacked = torch.stack(samples)
    target = torch.cat([g.reshape(-1) for g in exact])
    se = stacked.std(0) / math.sqrt(reps)
    assert ((stacked.mean(0) - target).abs() <= Z * se + 1e-10).all()


@pytest.mark.parametrize("estimator", ["analytic_kl", "generic"])
def test_score_function_baseline_is_subtracted_and_removes_variance(estimator: str) -> None:
    """Same draws with and without a baseline b (one per data point): the encoder gradients
    differ by exactly −(1/(N B)) Σₙᵢ bᵢ ∇_φ log q_φ(zₙᵢ | xᵢ), with log q written here with
    torch.distributions from the same noise, and the decoder gradients not at all. So the
    variance of the estimate with b is that of the independent quantity g₀ − b·S; with b
    near the mean learning signal it is a small fraction of the variance without b.
    (Unbiasedness alone cannot tell a baseline subtracted from one added.)"""
    model = _linear_model(seed=23)
    x = torch.randn(2, 3, generator=_gen(24), dtype=F64)
    enc, dec = model.encoder_parameters(), model.decoder_parameters()
    n = 3

    def flat(grads: tuple[Tensor, ...]) -> Tensor:
        return torch.cat([g.reshape(-1) for g in grads])

    def estimate(baseline: Tensor | None, seed: int) -> tuple[Tensor, Tensor, Tensor]:
        step = vae.elbo_surrogate(
            model,
            x,
            n,
            estimator=estimator,  # type: ignore[arg-type]
            encoder_gradient="score_function",
            baseline=baseline,
            generator=_gen(seed),
        )
        grads = torch.autograd.grad(step.surrogate, enc + dec)
        return flat(grads[: len(enc)]), flat(grads[len(enc) :]), step.signal

    def score(seed: int) -> Tensor:
        """∇_φ of (1/(N B)) Σₙᵢ bᵢ log q_φ(zₙᵢ | xᵢ), by hand, for b = baseline."""
        loc, scale = model.encode(x)
        eps = torch.randn(n, *loc.shape, generator=_gen(seed), dtype=F64)
        z = (loc + scale * eps).detach()
        log_q = Normal(loc, scale).log_prob(z).sum(-1)  # (N, B)
        return flat(torch.autograd.grad((baseline * log_q).mean(), enc))

    _, _, signal = estimate(None, seed=99)
    baseline = signal.mean(0)  # (B,): a constant, estimated from draws not used below
    assert bool((baseline.abs() > 1).all())
    plain, shifted, by_hand = [], [], []
    for seed in range(100, 140):
        enc0, dec0, _ = estimate(None, seed)
        enc_b, dec_b, _ = estimate(baseline, seed)
        torch.testing.assert_close(dec_b, dec0, rtol=1e-12, atol=1e-12)
        s = score(seed)
        torch.testing.assert_close(enc_b, enc0 - s, rtol=1e-9, atol=1e-9)
        plain.append(enc0)
        shifted.append(enc_b)
        by_hand.append(enc0 - s)
    var_plain = torch.stack(plain).var(0).sum()
    var_shifted = torch.stack(shifted).var(0).sum()
    torch.testing.assert_close(var_shifted, torch.stack(by_hand).var(0).sum(), rtol=1e-9, atol=0.0)
    assert var_shifted < 0.7 * var_plain, (var_shifted, var_plain)


def test_score_function_gradient_is_noisier_than_pathwise() -> None:
    model = _linear_model(seed=20)
    x = torch.randn(2, 3, generator=_gen(21), dtype=F64)
    enc = model.encoder_parameters()

    def spread(mode: vae.EncoderGradient) -> float:
        gen = _gen(22)
        grads = [
            torch.cat(
                [
                    g.reshape(-1)
                    for g in torch.autograd.grad(
                        vae.elbo_surrogate(
                            model, x, 1, encoder_gradient=mode, generator=gen
                        ).surrogate,
                        enc,
                    )
                ]
            )
            for _ in range(200)
        ]
        return float(torch.stack(grads).var(0).sum())

    assert spread("score_function") > 3 * spread("pathwise")


def test_elbo_cost_of_each_estimator() -> None:
    """Estimator B (the default) samples log p_θ(x | z) alone; estimator A adds
    log p(z) − log q_φ(z | x), here against torch.distributions. One value per draw and
    data point, with a trailing 1."""
    model = _linear_model(seed=43)
    x = torch.randn(3, 3, generator=_gen(44), dtype=F64)
    with torch.no_grad():
        loc, scale = model.encode(x)
        z = torch.randn(5, 3, 2, generator=_gen(45), dtype=F64)
        log_likelihood = model.log_likelihood(x, z)
        default = vae.elbo_cost(partial(model.log_likelihood, x), loc, scale)(z)
        generic = vae.elbo_cost(partial(model.log_likelihood, x), loc, scale, "generic")(z)
    torch.testing.assert_close(default, log_likelihood.unsqueeze(-1), rtol=0, atol=0)
    log_prior = Normal(0.0, 1.0).log_prob(z).sum(-1)
    log_q = Normal(loc, scale).log_prob(z).sum(-1)
    torch.testing.assert_close(generic, (log_likelihood + log_prior - log_q).unsqueeze(-1))


@pytest.mark.parametrize("estimator", ["analytic_kl", "generic"])
def test_score_function_step_is_the_library_surrogate(estimator: vae.Estimator) -> None:
    """Wiring, against reparam.surrogate applied by hand to the same draws: every parameter
    gets the gradient of score_function_surrogate (leave-one-out baseline) with the cost
    elbo_cost, minus the KL's for estimator B, over B; the surrogate alone gives the decoder
    its direct gradient (1/(N B)) Σ ∇_θ log p_θ(x | z) at those draws (and, in the generic
    form, the encoder that of log q_φ), which the step adds nothing to."""
    model = _linear_model(seed=40)
    x = torch.randn(3, 3, generator=_gen(41), dtype=F64)
    enc, dec = model.encoder_parameters(), model.decoder_parameters()
    step = vae.elbo_surrogate(
        model,
        x,
        4,
        estimator=estimator,
        encoder_gradient="score_function",
        baseline="leave_one_out",
        generator=_gen(42),
    )
    ours = torch.autograd.grad(step.surrogate, enc + dec)
    loc, scale = model.encode(x)
    draws: list[Tensor] = []
    cost = vae.elbo_cost(partial(model.log_likelihood, x), loc, scale, estimator)

    def recorded(z: Tensor) -> Tensor:
        draws.append(z)
        return cost(z)

    params = {"loc": loc, "scale": scale}
    by_hand = score_function_surrogate(
        recorded, reparam.NORMAL, params, 4, generator=_gen(42), baseline="leave_one_out"
    )
    if estimator == "analytic_kl":
        by_hand = by_hand - kl_to_standard_normal(loc, scale).sum()
    expected = torch.autograd.grad(by_hand / 3, enc + dec)
    for got, want in zip(ours, expected, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)
    # the decoder's share, written out: the exact gradient at the draws
    direct = torch.autograd.grad(model.log_likelihood(x, draws[0]).mean(), dec)
    for got, want in zip(ours[len(enc) :], direct, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(step.surrogate, step.elbo.mean())
    signal = cost(draws[0]).squeeze(-1).detach()
    torch.testing.assert_close(step.signal, signal)


def test_elbo_estimate_checks_its_arguments() -> None:
    model = _linear_model()
    x = torch.randn(2, 3, generator=_gen(43), dtype=F64)
    loc, scale = model.encode(x)
    log_lik = partial(model.log_likelihood, x)
    with pytest.raises(ValueError, match=r"^baseline must broadcast to .* \(2, 1\)"):
        vae.elbo_estimate(
            log_lik, loc, scale, 2, encoder_gradient="score_function", baseline=torch.zeros(3)
        )
    with pytest.raises(ValueError, match=r"^num_samples must be at least 2 for .*leave_one_out"):
        vae.elbo_surrogate(model, x, 1, encoder_gradient="score_function", baseline="leave_one_out")
    with pytest.raises(ValueError, match="baseline"):
        vae.elbo_surrogate(model, x, 2, encoder_gradient="score_function", baseline="mean")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^loc must be a tensor of shape"):
        vae.elbo_estimate(log_lik, loc[0], scale[0])
    with pytest.raises(ValueError, match="scale"):
        vae.elbo_estimate(log_lik, loc, -scale)
    with pytest.raises(TypeError, match="log_likelihood must be callable"):
        vae.elbo_estimate(None, loc, scale)  # type: ignore[arg-type]


# -- the model -----------------------------------------------------------------------------
def test_same_seed_same_weights_and_dtypes(dtype: torch.dtype) -> None:
    a = vae.VAE(64, 2, (16,), generator=_gen(23), dtype=dtype)
    b = vae.VAE(64, 2, (16,), generator=_gen(23), dtype=dtype)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(p, q) and p.dtype == dtype
    x = torch.rand(5, 64, generator=_gen(24), dtype=dtype)
    loc, scale = a.encode(x)
    assert loc.shape == scale.shape == (5, 2) and (scale > 0).all()
    assert vae.elbo(a, x, 3, generator=_gen(25)).dtype == dtype
    assert a.mean(loc).shape == (5, 64) and ((a.mean(loc) > 0) & (a.mean(loc) < 1)).all()


def test_encoder_and_decoder_layers() -> None:
    """Affine maps with a tanh after every hidden layer and none after the output; the
    decoder mirrors the encoder's widths; no hidden layer: one affine map each."""
    linear, tanh = torch.nn.Linear, torch.nn.Tanh
    model = vae.VAE(6, 2, (5, 4), generator=_gen(30), dtype=F64)
    assert [type(m) for m in model.encoder] == [linear, tanh, linear, tanh, linear]
    assert [type(m) for m in model.decoder] == [linear, tanh, linear, tanh, linear]
    widths = [(m.in_features, m.out_features) for m in model.encoder if isinstance(m, linear)]
    assert widths == [(6, 5), (5, 4), (4, 4)]
    widths = [(m.in_features, m.out_features) for m in model.decoder if isinstance(m, linear)]
    assert widths == [(2, 4), (4, 5), (5, 6)]
    flat = vae.VAE(6, 2, (), generator=_gen(30), dtype=F64)
    assert [type(m) for m in flat.encoder] == [linear] == [type(m) for m in flat.decoder]


def test_initial_weights_without_a_generator() -> None:
    """Without a generator the weights come from the global generator (so a global seed
    reproduces them), uniform in ±1/√fan_in, on the CPU."""
    with torch.random.fork_rng():
        torch.manual_seed(31)
        a = vae.VAE(5, 2, (4,), dtype=F64)
        torch.manual_seed(31)
        b = vae.VAE(5, 2, (4,), dtype=F64)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(p, q) and p.device.type == "cpu"
    for module in a.modules():
        if isinstance(module, torch.nn.Linear):
            bound = 1 / math.sqrt(module.in_features)
            assert bool((module.weight.abs() <= bound).all() and (module.bias.abs() <= bound).all())


@pytest.mark.parametrize("estimator", ["generic", "analytic_kl"])
@pytest.mark.parametrize("encoder_gradient", ["pathwise", "score_function"])
def test_one_latent_dimension(estimator: str, encoder_gradient: str) -> None:
    """latent_dim = 1: the surrogate's value is the ELBO estimate of the same draws."""
    model = _linear_model(seed=32, latent_dim=1)
    x = torch.randn(4, 3, generator=_gen(33), dtype=F64)
    step = vae.elbo_surrogate(
        model,
        x,
        2,
        estimator=estimator,  # type: ignore[arg-type]
        encoder_gradient=encoder_gradient,  # type: ignore[arg-type]
        generator=_gen(34),
    )
    direct = vae.elbo(model, x, 2, estimator=estimator, generator=_gen(34))  # type: ignore[arg-type]
    assert step.signal.shape == (2, 4)
    torch.testing.assert_close(step.elbo, direct.detach())
    if encoder_gradient == "pathwise":
        torch.testing.assert_close(step.surrogate, direct.mean())


def test_kl_takes_the_dtype_of_a_tensor_scale() -> None:
    kl = kl_to_standard_normal(0.1, torch.tensor([1.2], dtype=F64))  # type: ignore[arg-type]
    assert kl.dtype == F64  # and 0.1 is taken in float64, not rounded to float32 first
    assert kl.item() == pytest.approx(0.5 * (0.1**2 + 1.44 - 1 - math.log(1.44)), rel=1e-14)


def test_model_rejects_bad_configuration() -> None:
    with pytest.raises(ValueError, match="latent_dim"):
        vae.VAE(4, 0)
    with pytest.raises(TypeError, match=r"^data_dim must be an int"):
        vae.VAE(4.0, 2)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^data_dim must be"):
        vae.VAE(0, 2)
    with pytest.raises(ValueError, match="likelihood"):
        vae.VAE(4, 2, likelihood="poisson")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="obs_scale"):
        vae.VAE(4, 2, likelihood="gaussian", obs_scale=-1.0)
    with pytest.raises(TypeError, match="generator"):
        vae.VAE(4, 2, generator=1)  # type: ignore[arg-type]


def test_model_rejects_bad_data() -> None:
    model = vae.VAE(4, 2, (3,), generator=_gen())
    with pytest.raises(ValueError, match="data_dim"):
        model.encode(torch.zeros(2, 5))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        model.encode(torch.full((2, 4), 2.0))
    with pytest.raises(ValueError, match="finite"):
        model.encode(torch.full((2, 4), math.nan))
    with pytest.raises(TypeError, match="x"):
        model.encode([[0.0] * 4])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="latent_dim"):
        model.decode(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="batch, data_dim"):
        vae.elbo(model, torch.zeros(4), 1)


def test_estimator_arguments_are_validated() -> None:
    model = vae.VAE(4, 2, (3,), generator=_gen())
    x = torch.zeros(2, 4)
    with pytest.raises(ValueError, match="num_samples"):
        vae.elbo(model, x, 0)
    with pytest.raises(ValueError, match="estimator"):
        vae.elbo(model, x, 1, estimator="C")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="encoder_gradient"):
        vae.elbo_surrogate(model, x, 1, encoder_gradient="magic")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="baseline"):
        vae.elbo_surrogate(model, x, 1, baseline=1.0)
    with pytest.raises(ValueError, match="baseline"):
        vae.elbo_surrogate(model, x, 1, encoder_gradient="score_function", baseline=torch.zeros(3))
    with pytest.raises(ValueError, match="baseline"):
        vae.elbo_surrogate(model, x, 1, encoder_gradient="score_function", baseline=math.inf)
    with pytest.raises(ValueError, match="obs_scale"):
        vae.linear_gaussian_elbo(x, torch.zeros(4, 2), torch.zeros(4), 0.0, x[:, :2], x[:, :2])
    with pytest.raises(ValueError, match=r"^x must end in D = weight.shape\[0\] = 3, got \(2, 4\)"):
        vae.linear_gaussian_log_evidence(x, torch.zeros(3, 2), torch.zeros(3), 1.0)
    # s and -s give the same covariance W Wᵀ + s² I: a sign error must not pass unnoticed
    for bad in (0.0, -0.5):
        with pytest.raises(
            ValueError, match=rf"^obs_scale must be strictly positive, got {bad:g}$"
        ):
            vae.linear_gaussian_log_evidence(x, torch.eye(4, 2), torch.zeros(4), bad)


# -- training ------------------------------------------------------------------------------
def _digits() -> data.DataSplit:
    return data.load_digits(generator=_gen(0), binarize=True, dtype=torch.float32)


def _short_run(seed: int, num_steps: int = 200, **kwargs: object) -> training.TrainingHistory:
    split = _digits()
    model = vae.VAE(64, 2, (32,), generator=_gen(seed), dtype=torch.float32)
    return vae.train_vae(
        model,
        split.train_inputs,
        num_steps=num_steps,
        learning_rate=3e-3,
        heldout_x=split.test_inputs,
        eval_every=100 if num_steps >= 100 else num_steps,
        generator=_gen(seed + 1),
        **kwargs,  # type: ignore[arg-type]
    )


def test_training_improves_the_heldout_elbo() -> None:
    # Speed is measured by tools/bench_vae.py, not asserted here: a timed test fails on a
    # loaded machine and passes a regression on a fast one.
    history = _short_run(0)
    assert history.eval_steps == [0, 100, 200]
    assert history.evaluations[-1] > history.evaluations[0] + 10  # nats per image
    assert len(history.values) == 200 and history.steps_per_second > 0


def test_same_seed_same_numbers() -> None:
    first, second = _short_run(3, 60), _short_run(3, 60)
    assert first.values == second.values and first.evaluations == second.evaluations
    assert _short_run(4, 60).values != first.values


def test_score_function_training_runs_and_is_reproducible() -> None:
    one = _short_run(5, 100, encoder_gradient="score_function", baseline_decay=0.9)
    two = _short_run(5, 100, encoder_gradient="score_function", baseline_decay=0.9)
    assert one.evaluations == two.evaluations
    assert one.evaluations[-1] > one.evaluations[0]


def test_train_vae_rejects_bad_arguments() -> None:
    split = _digits()
    model = vae.VAE(64, 2, (8,), generator=_gen(), dtype=torch.float32)
    x = split.train_inputs
    with pytest.raises(
        ValueError, match=r"^baseline_decay .* applies to the score-function encoder gradient only$"
    ):
        vae.train_vae(model, x, num_steps=1, baseline_decay=0.9, generator=_gen())
    with pytest.raises(ValueError, match="decay"):
        vae.train_vae(
            model,
            x,
            num_steps=1,
            encoder_gradient="score_function",
            baseline_decay=1.0,
            generator=_gen(),
        )
    with pytest.raises(ValueError, match=r"^learning_rate must be strictly positive"):
        vae.train_vae(model, x, num_steps=1, learning_rate=0.0, generator=_gen())
    with pytest.raises(TypeError, match="generator"):
        vae.train_vae(model, x, num_steps=1, generator=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="batch_size"):
        vae.train_vae(model, x[:10], num_steps=1, batch_size=20, generator=_gen())


def test_train_vae_evaluates_every_eval_every_steps() -> None:
    split = _digits()
    model = vae.VAE(64, 2, (8,), generator=_gen(6), dtype=torch.float32)
    history = vae.train_vae(
        model,
        split.train_inputs,
        num_steps=20,
        heldout_x=split.test_inputs[:50],
        eval_every=10,
        generator=_gen(7),
    )
    assert history.eval_steps == [0, 10, 20] and len(history.evaluations) == 3


def _small(seed: int, dtype: torch.dtype = torch.float32) -> vae.VAE:
    return vae.VAE(64, 2, (8,), generator=_gen(seed), dtype=dtype)


def test_stacked_runs_compute_each_models_own_network() -> None:
    """The batched network of train_vaes: run r's encoder output, log-likelihood and the
    gradients of its ELBO equal those of models[r] evaluated on its own; training writes
    the stacked weights back into the models."""
    models = [_small(seed, F64) for seed in (50, 51, 52)]
    stack = vae._Stack(models, "pathwise")
    x = (torch.rand(5, 64, generator=_gen(53)) > 0.5).double()
    loc, scale = stack.encode(x)
    z = torch.randn(4, 3, 5, 2, generator=_gen(54), dtype=F64)
    log_lik = stack.log_likelihood(x, z)
    assert loc.shape == scale.shape == (3, 5, 2) and log_lik.shape == (4, 3, 5)
    total = (log_lik.sum() - kl_to_standard_normal(loc, scale).sum()) / 5
    grads = torch.autograd.grad(total, stack.parameters())
    for run, model in enumerate(models):
        own_loc, own_scale = model.encode(x)
        torch.testing.assert_close(loc[run], own_loc, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(scale[run], own_scale, rtol=1e-12, atol=1e-12)
        own = model.log_likelihood(x, z[:, run])
        torch.testing.assert_close(log_lik[:, run], own, rtol=1e-12, atol=1e-12)
        objective = (own.sum() - kl_to_standard_normal(own_loc, own_scale).sum()) / 5
        own_grads = torch.autograd.grad(objective, model.encoder_parameters())
        linear = [m for m in model.encoder if isinstance(m, torch.nn.Linear)]
        for layer, (weight, bias) in enumerate(zip(grads[0:4:2], grads[1:4:2], strict=True)):
            torch.testing.assert_close(weight[run].T, own_grads[2 * layer], rtol=1e-10, atol=1e-12)
            torch.testing.assert_close(bias[run, 0], own_grads[2 * layer + 1])
            assert linear[layer].weight.shape == weight[run].T.shape
    with torch.no_grad():
        for tensor in stack.parameters():
            tensor.add_(1.0)
    stack.write_back()
    for run, model in enumerate(models):
        torch.testing.assert_close(model.encode(x)[0], stack.encode(x)[0][run])


def _together_and_alone(
    modes: list[vae.EncoderGradient], decays: list[float | None]
) -> tuple[list[training.TrainingHistory], list[training.TrainingHistory], list[vae.VAE]]:
    split = _digits()
    options = dict(
        num_steps=30,
        learning_rate=3e-3,
        heldout_x=split.test_inputs[:40],
        eval_every=10,
    )
    models = [_small(60 + i) for i in range(len(modes))]
    together = vae.train_vaes(
        models,
        split.train_inputs,
        encoder_gradients=modes,
        baseline_decays=decays,
        generator=_gen(70),
        **options,  # type: ignore[arg-type]
    )
    alone = [
        vae.train_vae(
            _small(60 + i),
            split.train_inputs,
            encoder_gradient=mode,
            baseline_decay=decay,
            generator=_gen(70),
            **options,  # type: ignore[arg-type]
        )
        for i, (mode, decay) in enumerate(zip(modes, decays, strict=True))
    ]
    return together, alone, models


def test_runs_trained_together_train_as_they_would_alone() -> None:
    """Runs of different encoder gradients trained together (in either order) give exactly
    the histories each gives alone: same minibatches, own noise, Adam entry by entry."""
    runs: list[tuple[list[vae.EncoderGradient], list[float | None]]] = [
        (["score_function", "pathwise"], [0.9, None]),
        (["pathwise", "score_function"], [None, None]),
    ]
    for modes, decays in runs:
        together, alone, models = _together_and_alone(modes, decays)
        for joint, single in zip(together, alone, strict=True):
            assert joint.values == single.values
            assert joint.evaluations == single.evaluations and joint.eval_steps == [0, 10, 20, 30]
            assert joint.evaluations[-1] != joint.evaluations[0]
        assert together[0].values != together[1].values
        # the trained weights are written back into the models
        trained, initial = models[0].encoder_parameters()[0], _small(60).encoder_parameters()[0]
        assert not torch.equal(trained, initial)


def test_runs_of_one_encoder_gradient_train_together() -> None:
    """Three runs, two of them score-function runs sharing one batched network: each keeps
    its own weights and baseline (the history of run 1 is its own, reproducibly)."""
    split = _digits()

    def run() -> list[training.TrainingHistory]:
        return vae.train_vaes(
            [_small(80), _small(80), _small(81)],
            split.train_inputs,
            encoder_gradients=["score_function", "pathwise", "score_function"],
            baseline_decays=[None, None, 0.9],
            num_steps=20,
            generator=_gen(82),
        )

    first, second = run(), run()
    assert [h.values for h in first] == [h.values for h in second]
    assert len({tuple(h.values) for h in first}) == 3 and all(len(h.values) == 20 for h in first)


def test_moving_average_baseline_starts_after_the_first_step() -> None:
    """Same draws with and without the baseline: the first step uses b = 0 (no average
    yet), so the objectives agree up to step 2; from step 2 on b is the average of past
    learning signals, and the runs part."""
    split = _digits()

    def run(decay: float | None) -> list[float]:
        (history,) = vae.train_vaes(
            [_small(85)],
            split.train_inputs,
            encoder_gradients=["score_function"],
            baseline_decays=[decay],
            num_steps=5,
            generator=_gen(86),
        )
        return history.values

    plain, with_baseline = run(None), run(0.9)
    assert with_baseline[:2] == plain[:2]
    assert all(a != b for a, b in zip(with_baseline[2:], plain[2:], strict=True))


def test_train_vaes_rejects_bad_arguments() -> None:
    split = _digits()
    x = split.train_inputs
    a, b = _small(1), _small(2)
    sf: vae.EncoderGradient = "score_function"
    with pytest.raises(ValueError, match="at least one"):
        vae.train_vaes([], x, encoder_gradients=[], num_steps=1, generator=_gen())
    with pytest.raises(ValueError, match=r"^encoder_gradients must have one entry per model"):
        vae.train_vaes([a, b], x, encoder_gradients=[sf], num_steps=1, generator=_gen())
    with pytest.raises(ValueError, match=r"^baseline_decays must have one entry per model"):
        vae.train_vaes(
            [a, b],
            x,
            encoder_gradients=[sf, sf],
            baseline_decays=[0.9],
            num_steps=1,
            generator=_gen(),
        )
    with pytest.raises(ValueError, match=r"^baseline_decay of run 1 .* score-function"):
        vae.train_vaes(
            [a, b],
            x,
            encoder_gradients=[sf, "pathwise"],
            baseline_decays=[None, 0.9],
            num_steps=1,
            generator=_gen(),
        )
    with pytest.raises(ValueError, match="encoder_gradient must be"):
        vae.train_vaes([a], x, encoder_gradients=["magic"], num_steps=1, generator=_gen())  # type: ignore[list-item]
    with pytest.raises(ValueError, match="distinct"):
        vae.train_vaes([a, a], x, encoder_gradients=[sf, sf], num_steps=1, generator=_gen())
    with pytest.raises(ValueError, match=r"share one architecture.*models\[1\]"):
        wide = vae.VAE(64, 3, (8,), generator=_gen())
        vae.train_vaes([a, wide], x, encoder_gradients=[sf, sf], num_steps=1, generator=_gen())
    with pytest.raises(ValueError, match=r"models\[1\] must have the dtype"):
        double = _small(3, F64)
        vae.train_vaes([a, double], x, encoder_gradients=[sf, sf], num_steps=1, generator=_gen())
    with pytest.raises(TypeError, match=r"models\[0\] must be a VAE"):
        vae.train_vaes([None], x, encoder_gradients=[sf], num_steps=1, generator=_gen())  # type: ignore[list-item]
    with pytest.raises(ValueError, match="eval_samples"):
        vae.train_vaes(
            [a], x, encoder_gradients=[sf], num_steps=1, eval_samples=0, generator=_gen()
        )
    with pytest.raises(ValueError, match=r"^heldout_x must have shape"):
        vae.train_vaes(
            [a], x, encoder_gradients=[sf], num_steps=1, heldout_x=x[None], generator=_gen()
        )


def test_train_vaes_names_the_run_that_diverged() -> None:
    split = _digits()
    healthy, broken = _small(90), _small(91)
    with torch.no_grad():
        broken.decoder_parameters()[-1][0] = math.nan  # run 1's ELBO is NaN from the start
    message = (
        r"^training diverged: the objective of run 1 \(score_function\) is nan in training step 1;"
        r" lower the learning rate or check the model$"
    )
    with pytest.raises(FloatingPointError, match=message):
        vae.train_vaes(
            [healthy, broken],
            split.train_inputs,
            encoder_gradients=["pathwise", "score_function"],
            num_steps=3,
            generator=_gen(),
        )
    # with held-out data, the evaluation before the first step finds it first
    message = (
        r"^training diverged: the held-out ELBO of run 1 \(score_function\) is nan "
        r"after 0 training steps;"
    )
    with pytest.raises(FloatingPointError, match=message):
        vae.train_vaes(
            [healthy, broken],
            split.train_inputs,
            encoder_gradients=["pathwise", "score_function"],
            num_steps=3,
            heldout_x=split.test_inputs[:20],
            generator=_gen(),
        )


def test_minibatches_cover_each_epoch_once() -> None:
    batches = training.minibatches(10, 3, 7, generator=_gen())
    assert batches.shape == (7, 3)
    for epoch in range(2):  # 3 batches per epoch, the 10th example dropped
        seen = batches[3 * epoch : 3 * epoch + 3].reshape(-1)
        assert seen.unique().numel() == 9


def test_cosine_decay_endpoints() -> None:
    decay = training.cosine_decay(100)
    assert decay(0) == 1.0 and abs(decay(50) - 0.5) < 1e-12 and abs(decay(100)) < 1e-12
    assert abs(decay(200)) < 1e-12


def test_moving_average() -> None:
    average = training.MovingAverage(0.9)
    assert average.value is None
    average.update(10.0)
    average.update(0.0)
    assert abs(float(average.update(0.0)) - 8.1) < 1e-6
    with pytest.raises(ValueError, match="decay"):
        training.MovingAverage(1.0)
    with pytest.raises(ValueError, match="finite"):
        average.update(math.nan)


def test_train_stops_on_divergence() -> None:
    weight = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([weight], lr=0.1)

    def step(indices: Tensor) -> float:
        return math.nan

    with pytest.raises(FloatingPointError, match="step 1"):
        training.train(step, optimizer, 4, num_steps=3, batch_size=2, generator=_gen())


def test_train_rejects_bad_arguments() -> None:
    weight = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([weight], lr=0.1)
    with pytest.raises(TypeError, match="step"):
        training.train(1, optimizer, 4, num_steps=1, batch_size=2, generator=_gen())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="optimizer"):
        training.train(lambda i: 0.0, None, 4, num_steps=1, batch_size=2, generator=_gen())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="eval_every"):
        training.train(
            lambda i: 0.0, optimizer, 4, num_steps=1, batch_size=2, generator=_gen(), eval_every=0
        )


def test_progress_bar_quiet_unless_interactive_or_asked() -> None:
    quiet = io.StringIO()
    bar = training.ProgressBar(10, stream=quiet)
    assert not bar.enabled  # a StringIO is not a terminal
    bar.update(10, "loss 1.0")
    bar.close()
    assert quiet.getvalue() == ""
    loud = io.StringIO()
    bar = training.ProgressBar(10, enabled=True, stream=loud, width=10)
    bar.update(5, "loss 1.0")
    bar.update(10)
    bar.close()
    assert "[##########] 10/10" in loud.getvalue() and loud.getvalue().endswith("\n")
    assert "[#####-----] 5/10 loss 1.0" in loud.getvalue()


# -- figures -------------------------------------------------------------------------------
def test_vae_figures() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from reparam.book.plotting import applications

    fig = applications.plot_elbo_curves(
        {"a": ([0, 1, 2], [-3.0, -2.0, -1.0]), "b": ([0, 2], [-4.0, -2.0])}
    )
    (ax,) = fig.axes
    assert ax.get_xlabel() and ax.get_ylabel() and len(ax.get_lines()) == 2
    plt.close(fig)
    fig = applications.plot_image_grid(torch.rand(12, 64), ncols=5)
    assert len(fig.axes) == 15 and sum(bool(a.images) for a in fig.axes) == 12
    plt.close(fig)
    fig = applications.plot_reconstructions(torch.rand(3, 64), torch.rand(3, 64))
    assert len(fig.axes) == 6
    plt.close(fig)
    # a long row shrinks its images to stay within the text column
    fig = applications.plot_image_grid(torch.rand(30, 64), ncols=30, title="t")
    assert len(fig.axes) == 30
    plt.close(fig)
    fig = applications.plot_latent_map(torch.randn(20, 2), torch.arange(20) % 10)
    (ax,) = fig.axes
    assert len(ax.texts) == 20 and ax.get_xlabel() == "$z_1$"
    plt.close(fig)
    with pytest.raises(ValueError, match="one length"):
        applications.plot_elbo_curves({"a": ([0, 1], [1.0])})
    with pytest.raises(ValueError, match="one shape"):
        applications.plot_reconstructions(torch.rand(3, 64), torch.rand(2, 64))
    with pytest.raises(ValueError, match="square"):
        applications.plot_image_grid(torch.rand(2, 10))
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        applications.plot_latent_map(torch.randn(5, 3), torch.arange(5))


@pytest.mark.parametrize("mode", ["pathwise", "score_function"])
def test_the_training_objective_is_the_elbo_of_the_model(mode: vae.EncoderGradient) -> None:
    """The first recorded objective of train_vaes (one draw per image, the whole set in one
    batch, before any update) estimates the mean ELBO per image of the initial model: checked
    against vae.elbo with many draws, tolerance from standard errors computed here. The
    encoder's σ is set to e^-2.5 for every image, far from 1, so that a path using any other
    scale than the encoder's shows."""
    x = _digits().train_inputs[:50]
    model = _small(90, torch.float64)
    last = [m for m in model.encoder if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():
        last.weight[model.latent_dim :] = 0.0
        last.bias[model.latent_dim :] = -2.5
        repeats = 400  # single-draw ELBOs of every image: per-image mean and variance
        draws = vae.elbo(model, x.double().repeat(repeats, 1), 1, generator=_gen(91))
    draws = draws.reshape(repeats, x.shape[0])
    expected = draws.mean()
    # the recorded value averages one draw per image; the oracle `repeats` draws per image
    var_recorded = draws.var(0).sum() / x.shape[0] ** 2
    tolerance = 5 * math.sqrt(float(var_recorded * (1 + 1 / repeats)))
    (history,) = vae.train_vaes(
        [model],
        x.double(),
        encoder_gradients=[mode],
        num_steps=1,
        batch_size=x.shape[0],
        generator=_gen(92),
    )
    assert abs(history.values[0] - float(expected)) < tolerance
