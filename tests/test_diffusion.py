"""reparam.diffusion, reparam.book.twosample and reparam.book.denoiser (chapter "Diffusion
models").

Oracles: the forward chain simulated step by step, Gaussian conditioning written as a product
of two Gaussian densities, ``torch.distributions.kl_divergence``, closed-form expectations of
the loss for a linear noise model, the exact variance recursion of the reverse chain for
Gaussian data, ``scipy.stats.energy_distance`` and a brute-force double loop. Monte Carlo
checks use standard errors computed here, |z| < 4.5.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
import scipy.stats
import torch

from reparam import diffusion as D
from reparam.book.denoiser import Denoiser, train_denoiser
from reparam.book.twosample import energy_distance, permutation_test

F64 = torch.float64
Z_LIMIT = 4.5


pytestmark = pytest.mark.usefixtures("double_precision")


@pytest.fixture
def schedule() -> D.NoiseSchedule:
    return D.linear_schedule(40, 1e-3, 0.2)


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_schedule_products_and_validation() -> None:
    s = D.linear_schedule(5, 0.1, 0.5)
    assert s.num_steps == 5
    assert torch.allclose(s.betas, torch.tensor([0.1, 0.2, 0.3, 0.4, 0.5], dtype=F64))
    assert s.alphas_cumprod[-1].item() == pytest.approx(0.9 * 0.8 * 0.7 * 0.6 * 0.5, rel=1e-14)
    with pytest.raises(ValueError, match="beta_start and beta_end"):
        D.linear_schedule(5, 0.5, 0.1)
    with pytest.raises(ValueError, match="beta_end"):
        D.linear_schedule(5, 0.1, 1.0)
    with pytest.raises(ValueError, match="betas"):
        D.NoiseSchedule.from_betas(torch.tensor([0.1, 1.5]))
    with pytest.raises(ValueError, match="num_steps"):
        D.linear_schedule(0, 0.1, 0.2)


def test_marginal_matches_the_chain_run_step_by_step(schedule: D.NoiseSchedule) -> None:
    x0 = torch.tensor([[1.5, -0.5]]).expand(50_000, 2)
    x = x0.clone()
    g = gen(0)
    t = 25
    for k in range(1, t + 1):
        beta = schedule.betas[k - 1]
        x = (1 - beta).sqrt() * x + beta.sqrt() * torch.randn(x.shape, generator=g)
    direct = D.q_sample(
        schedule, x0, torch.full((50_000,), t), torch.randn(x0.shape, generator=gen(1))
    )
    mean, var = schedule.alphas_cumprod[t - 1].sqrt() * 1.5, 1 - schedule.alphas_cumprod[t - 1]
    for sample in (x[:, 0], direct[:, 0]):
        result = scipy.stats.kstest(sample.numpy(), "norm", args=(mean.item(), var.sqrt().item()))
        assert result.pvalue > 1e-4


def test_posterior_is_the_product_of_two_gaussian_densities(schedule: D.NoiseSchedule) -> None:
    # q(x_{t-1} | x_t, x_0) ∝ N(x_t; √α_t x_{t-1}, β_t) N(x_{t-1}; √ᾱ_{t-1} x_0, 1 − ᾱ_{t-1}):
    # precision α_t/β_t + 1/(1 − ᾱ_{t-1}), and the mean is
    # (√α_t x_t/β_t + √ᾱ_{t-1} x_0/(1 − ᾱ_{t-1})) / precision.
    g = gen(2)
    t = torch.tensor([2, 7, 20, 40])
    x0, xt = torch.randn(4, 3, generator=g), torch.randn(4, 3, generator=g)
    mean, var = D.posterior(schedule, x0, xt, t)
    for i, step in enumerate(t.tolist()):
        beta, alpha = schedule.betas[step - 1], schedule.alphas[step - 1]
        before = schedule.alphas_cumprod[step - 2]
        precision = alpha / beta + 1 / (1 - before)
        expected = (alpha.sqrt() * xt[i] / beta + before.sqrt() * x0[i] / (1 - before)) / precision
        assert torch.allclose(mean[i], expected, rtol=1e-12, atol=1e-13)
        assert var[i].item() == pytest.approx(1 / precision.item(), rel=1e-12)
    mean1, var1 = D.posterior(schedule, x0[:1], xt[:1], torch.tensor([1]))
    assert torch.allclose(mean1, x0[:1], atol=1e-14) and var1.item() == 0


def test_kl_term_is_a_weighted_squared_error_in_the_noise(schedule: D.NoiseSchedule) -> None:
    g = gen(3)
    t = torch.tensor([2, 5, 17, 40])
    x0, noise, guess = (torch.randn(4, 2, generator=g) for _ in range(3))
    xt = D.q_sample(schedule, x0, t, noise)
    mean, var = D.posterior(schedule, x0, xt, t)
    assert torch.allclose(D.mean_from_noise(schedule, xt, t, noise), mean, atol=1e-13)
    for sigma2 in (schedule.betas[t - 1], var[:, 0]):
        model_mean = D.mean_from_noise(schedule, xt, t, guess)
        kl = torch.distributions.kl_divergence(
            torch.distributions.Normal(mean, var.sqrt().expand(-1, 2)),
            torch.distributions.Normal(model_mean, sigma2.sqrt()[:, None].expand(-1, 2)),
        ).sum(-1)
        ratio = var[:, 0] / sigma2
        constant = 2 * 0.5 * (ratio - 1 - ratio.log())
        weight = D.kl_weight(schedule, t, sigma2)
        expected = weight * (noise - guess).square().sum(-1) + constant
        assert torch.allclose(kl, expected, rtol=1e-10, atol=1e-12)


def test_decoder_term_at_t_one_has_the_same_weight(schedule: D.NoiseSchedule) -> None:
    g = gen(4)
    x0, noise, guess = (torch.randn(1, 2, generator=g) for _ in range(3))
    t = torch.tensor([1])
    x1 = D.q_sample(schedule, x0, t, noise)
    sigma2 = schedule.betas[0]
    model_mean = D.mean_from_noise(schedule, x1, t, guess)
    nll = -torch.distributions.Normal(model_mean, sigma2.sqrt()).log_prob(x0).sum()
    constant = math.log(2 * math.pi * sigma2.item())  # two dimensions, half each
    weight = D.kl_weight(schedule, t)
    assert (nll - constant).item() == pytest.approx(
        (weight * (noise - guess).square().sum()).item(), rel=1e-10
    )


@pytest.mark.parametrize("weighting", ["uniform", "elbo"])
def test_loss_expectation_for_a_linear_noise_model(
    schedule: D.NoiseSchedule, weighting: str
) -> None:
    # ε_θ(x_t, t) = c x_t, x_0 a fixed point p: ‖ε − c x_t‖² has mean
    # D (1 − c √(1 − ᾱ_t))² + c² ᾱ_t ‖p‖².
    c, n = 0.4, 60_000
    point = torch.tensor([1.0, -2.0])
    losses = D.noise_prediction_loss(
        lambda xt, t: c * xt, point.expand(n, 2), schedule, weighting=weighting,
        generator=gen(5),
    )  # fmt: skip
    steps = torch.arange(1, schedule.num_steps + 1)
    alpha_bar = schedule.alphas_cumprod
    per_step = 2 * (1 - c * (1 - alpha_bar).sqrt()) ** 2 + c**2 * alpha_bar * point.square().sum()
    if weighting == "elbo":
        exact = (D.kl_weight(schedule, steps) * per_step).sum()
    else:
        exact = per_step.mean()
    z = (losses.mean() - exact) / (losses.std() / math.sqrt(n))
    assert abs(z.item()) < Z_LIMIT


def test_loss_gradient_along_the_sampling_path_is_unbiased(schedule: D.NoiseSchedule) -> None:
    # ε_θ = c x_t at the fixed point p: d/dc of D (1 − c s)² + c² ᾱ ‖p‖², s = √(1 − ᾱ_t), is
    # −2 D s (1 − c s) + 2 c ᾱ ‖p‖², averaged over t.
    c, n = 0.4, 20_000
    point = torch.tensor([1.0, -2.0])
    scale = torch.full((n,), c, requires_grad=True)
    losses = D.noise_prediction_loss(
        lambda xt, t: scale[:, None] * xt, point.expand(n, 2), schedule, generator=gen(6)
    )
    (grads,) = torch.autograd.grad(losses.sum(), scale)  # one gradient per example
    alpha_bar = schedule.alphas_cumprod
    s_t = (1 - alpha_bar).sqrt()
    exact = (-2 * 2 * s_t * (1 - c * s_t) + 2 * c * alpha_bar * point.square().sum()).mean()
    z = (grads.mean() - exact) / (grads.std() / math.sqrt(n))
    assert abs(z.item()) < Z_LIMIT


def test_loss_values_are_exact_given_the_drawn_step_and_noise(schedule: D.NoiseSchedule) -> None:
    # A model that records what it is given: the loss must be T w_t ‖ε − ε_θ‖² (or
    # ‖ε − ε_θ‖²) for the very x_t and t, with ε recovered from x_t, and t must be uniform.
    seen: dict[str, torch.Tensor] = {}

    def recording(xt: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        seen["xt"], seen["t"] = xt, t
        return 0.3 * xt

    n = 40_000
    x0 = torch.randn(n, 2, generator=gen(12))
    for weighting in ("uniform", "elbo"):
        losses = D.noise_prediction_loss(
            recording, x0, schedule, weighting=weighting, generator=gen(13)
        )
        t, xt = seen["t"], seen["xt"]
        alpha_bar = schedule.alphas_cumprod[t - 1][:, None]
        noise = (xt - alpha_bar.sqrt() * x0) / (1 - alpha_bar).sqrt()
        error = (noise - 0.3 * xt).square().sum(-1)
        if weighting == "elbo":
            error = error * schedule.num_steps * D.kl_weight(schedule, t)
        assert torch.allclose(losses, error, rtol=1e-10, atol=1e-12)
    counts = torch.bincount(seen["t"], minlength=schedule.num_steps + 1)[1:].double()
    assert counts.min() > 0
    chi2 = ((counts - n / schedule.num_steps) ** 2 / (n / schedule.num_steps)).sum().item()
    assert scipy.stats.chi2(schedule.num_steps - 1).sf(chi2) > 1e-4


def test_ancestral_sampler_variance_recursion() -> None:
    # Data N(0, I): x_t ~ N(0, I) and E[ε | x_t] = √(1 − ᾱ_t) x_t. With that model each reverse
    # step is x_{t-1} = a_t x_t + σ_t z, so Var x_0 follows V_{t-1} = a_t² V_t + σ_t² (no noise
    # at t = 1), V_T = 1. Large betas, so that every step's noise shows in the variance.
    schedule = D.linear_schedule(8, 0.15, 0.4)

    def model(xt: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return (1 - schedule.alphas_cumprod[t - 1]).sqrt()[:, None] * xt

    for variance in ("beta", "posterior"):
        n = 40_000
        draws = D.ancestral_sample(model, schedule, n, (2,), variance=variance, generator=gen(7))
        v = 1.0
        before = torch.cat([torch.ones(1), schedule.alphas_cumprod[:-1]])
        for step in range(schedule.num_steps, 0, -1):
            beta, alpha = schedule.betas[step - 1], schedule.alphas[step - 1]
            alpha_bar = schedule.alphas_cumprod[step - 1]
            # a_t = (1 − β_t k_t / √(1 − ᾱ_t)) / √α_t with k_t = √(1 − ᾱ_t)
            a = (1 - beta * (1 - alpha_bar).sqrt() / (1 - alpha_bar).sqrt()) / alpha.sqrt()
            sigma2 = beta if variance == "beta" else beta * (1 - before[step - 1]) / (1 - alpha_bar)
            v = a.item() ** 2 * v + (sigma2.item() if step > 1 else 0.0)
        sample_var = draws.var(0)
        se = math.sqrt(2 / (n - 1)) * v
        assert ((sample_var - v).abs() / se).max() < Z_LIMIT, variance


def test_shapes_dtypes_and_bad_input(schedule: D.NoiseSchedule) -> None:
    x0 = torch.zeros(3, 2, dtype=torch.float32)
    t = torch.tensor([1, 2, 3])
    out = D.q_sample(schedule, x0, t, torch.ones(3, 2, dtype=torch.float32))
    assert out.dtype == torch.float32 and out.shape == (3, 2)
    mean, var = D.posterior(schedule, x0, out, t)
    assert mean.dtype == torch.float32 and var.shape == (3, 1)
    cases: list[tuple[Callable[[], object], str]] = [
        (lambda: D.q_sample(schedule, x0, torch.tensor([0, 1, 2]), x0), "t"),
        (lambda: D.q_sample(schedule, x0, torch.tensor([1, 2, 41]), x0), "t"),
        (lambda: D.q_sample(schedule, x0, torch.tensor([1.0, 2.0, 3.0]), x0), "t"),
        (lambda: D.q_sample(schedule, x0, torch.tensor([1, 2]), x0), "t"),
        (lambda: D.q_sample(schedule, x0, t, torch.zeros(3, 3)), "noise"),
        (lambda: D.q_sample(schedule, x0 * math.nan, t, x0), "x0"),
        (lambda: D.q_sample("s", x0, t, x0), "schedule"),  # type: ignore[arg-type]
        (lambda: D.posterior(schedule, x0, torch.zeros(3, 1), t), "xt"),
        (lambda: D.mean_from_noise(schedule, x0, t, torch.zeros(2, 2)), "noise_prediction"),
        (lambda: D.kl_weight(schedule, t, -1.0), "variance"),
        (lambda: D.noise_prediction_loss(lambda a, b: a, x0, schedule, weighting="x"), "weighting"),
        (lambda: D.noise_prediction_loss(lambda a, b: a[:, :1], x0, schedule), "model output"),
        (lambda: D.q_sample(schedule, x0, t, x0 * math.inf), "noise"),
        (lambda: D.q_sample(schedule, x0, t, torch.zeros(3, 2, dtype=torch.long)), "noise"),
        (
            lambda: D.NoiseSchedule(schedule.betas, [0.5], schedule.alphas_cumprod),  # type: ignore[arg-type]
            "alphas",
        ),
        (lambda: D.q_sample(schedule, torch.zeros(0, 2), t[:0], torch.zeros(0, 2)), "x0"),
        (lambda: D.ancestral_sample(3, schedule, 2, (2,)), "model"),  # type: ignore[arg-type]
        (lambda: D.kl_weight(schedule, t, torch.ones(3, 1)), "variance"),
        (lambda: D.ancestral_sample(lambda a, b: a, schedule, 2, 2), "event_shape"),  # type: ignore[arg-type]
        (
            lambda: D.NoiseSchedule(schedule.betas, schedule.alphas, schedule.alphas),
            "alphas_cumprod",
        ),
        (lambda: D.noise_prediction_loss(3, x0, schedule), "model"),  # type: ignore[arg-type]
        (lambda: D.ancestral_sample(lambda a, b: a, schedule, 0, (2,)), "num_samples"),
        (lambda: D.ancestral_sample(lambda a, b: a, schedule, 2, (2,), variance="x"), "variance"),
    ]
    for call, name in cases:
        with pytest.raises((ValueError, TypeError), match=rf"^{name} must"):
            call()
    with pytest.raises(TypeError, match=r"got a tensor of dtype torch.float64"):
        D.q_sample(schedule, x0, torch.tensor([1.0, 2.0, 3.0]), x0)
    with pytest.raises(ValueError, match=r"non-empty batch .* got \(0, 2\)"):
        D.q_sample(schedule, torch.zeros(0, 2), t[:0], torch.zeros(0, 2))


def test_every_tensor_follows_the_data_device(schedule: D.NoiseSchedule) -> None:
    x0, t = torch.zeros(2, 2), torch.tensor([1, 5])
    torch.set_default_device("meta")
    try:
        assert D.q_sample(schedule, x0, t, x0).device.type == "cpu"
        assert D.posterior(schedule, x0, x0, t)[0].device.type == "cpu"
        loss = D.noise_prediction_loss(lambda a, b: a, x0, schedule, weighting="elbo")
        assert loss.device.type == "cpu"
        draws = D.ancestral_sample(lambda a, b: a, schedule, 2, (2,), device="cpu")
        assert draws.device.type == "cpu"
    finally:
        torch.set_default_device(None)


# -- two-sample tests -----------------------------------------------------------------------------
def test_energy_distance_matches_scipy_in_one_dimension() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=60), rng.normal(0.5, 2.0, size=45)
    ours = energy_distance(torch.tensor(x)[:, None], torch.tensor(y)[:, None]).item()
    assert ours == pytest.approx(scipy.stats.energy_distance(x, y) ** 2, rel=1e-12)


def test_energy_distance_matches_a_double_loop_in_two_dimensions() -> None:
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(20, 2)), rng.normal(size=(15, 2)) + 0.3

    def mean_distance(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.mean([[np.linalg.norm(p - q) for q in b] for p in a]))

    expected = 2 * mean_distance(x, y) - mean_distance(x, x) - mean_distance(y, y)
    ours = energy_distance(torch.tensor(x), torch.tensor(y)).item()
    assert ours == pytest.approx(expected, rel=1e-12)


def test_permutation_test_null_and_p_values() -> None:
    g = gen(8)
    x, y = torch.randn(80, 2, generator=g), torch.randn(60, 2, generator=g)
    same = permutation_test(x, y, 99, generator=gen(9))
    shifted = permutation_test(x, y + 1.0, 99, generator=gen(9))
    assert shifted.p_value == pytest.approx(1 / 100) and shifted.observed > same.observed
    assert same.p_value > 0.01 and same.null.shape == (99,)
    # The null values are the statistic of random splits of the pooled points.
    pooled = torch.cat([x, y])
    # Round-off bound for two computations of the same statistic: torch.cdist computes the
    # distances through a matrix product (|x|^2 + |y|^2 - 2 x'y), off by up to `spread` from
    # the exact ones, and the statistic weighs distances by at most 4 in all; each mean of up
    # to 140^2 distances may also be off by (count) x eps x (mean distance).
    distances = torch.cdist(pooled, pooled)
    exact = torch.cdist(pooled, pooled, compute_mode="donot_use_mm_for_euclid_dist")
    spread = (distances - exact).abs().max().item()
    eps = torch.finfo(torch.float64).eps
    bound = 2 * (4 * spread + 140**2 * eps * exact.mean().item())
    g = gen(9)
    for i in range(99):  # every null value, split by split, with the same random stream
        order = torch.randperm(140, generator=g)
        direct = energy_distance(pooled[order[:80]], pooled[order[80:]]).item()
        assert abs(same.null[i] - direct) < bound
    with pytest.raises(ValueError, match="same dimension"):
        energy_distance(x, torch.zeros(5, 3))
    with pytest.raises(ValueError, match=r"\by\b"):
        energy_distance(x, torch.zeros(1, 2))
    with pytest.raises(ValueError, match="num_permutations"):
        permutation_test(x, y, 0)
    with pytest.raises(ValueError, match=r"^x must have shape"):
        energy_distance(torch.zeros(1, 2), y)
    with pytest.raises(ValueError, match=r"^y must have shape"):
        permutation_test(x, torch.zeros(1, 2))


# -- the denoiser ---------------------------------------------------------------------------------
def test_denoiser_shapes_and_training_lowers_the_loss(schedule: D.NoiseSchedule) -> None:
    torch.manual_seed(0)
    model = Denoiser(2, schedule.num_steps, hidden=16).double()
    out = model(torch.zeros(5, 2), torch.tensor([1, 2, 3, 4, 40]))
    assert out.shape == (5, 2)
    data = torch.randn(500, 2, generator=gen(10)) * 0.2 + 1.0
    losses = train_denoiser(
        model, data, schedule, steps=300, batch_size=64, learning_rate=1e-2, generator=gen(11)
    )
    assert losses.shape == (300,) and losses[-50:].mean() < 0.7 * losses[:20].mean()


def test_sampler_returns_the_data_point_when_the_model_knows_it() -> None:
    # Data all at p: the exact noise model is ε(x_t, t) = (x_t − √ᾱ_t p)/√(1 − ᾱ_t), whose mean
    # at t = 1 is μ̃_1 = p whatever x_1 is: every draw must be p.
    schedule = D.linear_schedule(12, 0.05, 0.3)
    point = torch.tensor([0.7, -1.2])

    def exact(xt: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        alpha_bar = schedule.alphas_cumprod[t - 1][:, None]
        return (xt - alpha_bar.sqrt() * point) / (1 - alpha_bar).sqrt()

    for variance in ("beta", "posterior"):
        draws = D.ancestral_sample(exact, schedule, 50, (2,), variance=variance, generator=gen(14))
        assert torch.allclose(draws, point.expand(50, 2), atol=1e-12), variance


def test_outputs_follow_the_data_dtype(schedule: D.NoiseSchedule) -> None:
    x0 = torch.randn(4, 2, generator=gen(15)).float()
    t = torch.tensor([1, 2, 3, 4])
    xt64 = torch.randn(4, 2, generator=gen(16))
    mean, variance = D.posterior(schedule, x0, xt64, t)
    assert mean.dtype == variance.dtype == torch.float32
    assert D.mean_from_noise(schedule, x0, t, xt64).dtype == torch.float32
    loss = D.noise_prediction_loss(lambda a, b: a, x0, schedule, generator=gen(17))
    assert loss.dtype == torch.float32 and loss.shape == (4,)
