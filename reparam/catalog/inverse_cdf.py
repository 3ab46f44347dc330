"""Inverse-CDF reparameterizations: z = F_θ^{-1}(ε), ε ~ U(0, 1).

Book chapter: "The standard reparameterizations", section "Inverse CDF". If F_θ is a
continuous CDF with inverse F_θ^{-1}, then P(F_θ^{-1}(ε) ≤ z) = P(ε ≤ F_θ(z)) = F_θ(z).
The rows are the examples of Kingma & Welling (2014), §2.4, plus the Kumaraswamy
distribution. Since 1 − ε ~ U(0, 1) as well, each row uses whichever of ε and 1 − ε keeps the
formula accurate; the uniforms come from :func:`reparam.noise.open_uniform`, which
never returns 0 or 1.

Erlang (integer shape) is listed by Kingma & Welling under inverse CDF; it is a sum of
exponentials, each drawn by inverse CDF, and lives here.
"""

from __future__ import annotations

import math

import torch
import torch.distributions as D
from torch import Tensor

from reparam._validation import check_positive, check_relation
from reparam.catalog.entry import (
    CatalogEntry,
    KnownError,
    Moment,
    Params,
    PathReparameterization,
    clamp_into,
    exp_in_range,
    inside,
    noise_like,
    open_unit,
    positive_finite,
    strictly_inside,
    uniform_noise,
)
from reparam.catalog.implicit import gamma_log_prob
from reparam.noise import open_uniform
from reparam.reparameterization import Parameter, positive, positive_integer, real

__all__ = [
    "CAUCHY",
    "ERLANG",
    "EXPONENTIAL",
    "GOMPERTZ",
    "GUMBEL",
    "KUMARASWAMY",
    "LOGISTIC",
    "PARETO",
    "RAYLEIGH",
    "RECIPROCAL",
    "WEIBULL",
    "cauchy_path",
    "erlang_path",
    "exp_e1",
]

EULER_GAMMA = 0.5772156649015329


def _neg_log(eps: Tensor) -> Tensor:
    """-log ε: an Exp(1) variate (ε and 1 − ε are both uniform)."""
    return -torch.log(eps)


# -- Exponential ---------------------------------------------------------------------------
def exponential_path(eps: Tensor, p: Params) -> Tensor:
    """z = -log(ε) / λ (F(z) = 1 - e^{-λz}, with 1 - ε replaced by ε)."""
    return _neg_log(eps) / p["rate"]


def _exponential_log_prob(z: Tensor, p: Params) -> Tensor:
    rate = p["rate"]
    if inside(z, 0.0, math.inf):  # the common case: no mask
        return rate.log() - rate * z
    return torch.where(z < 0, -math.inf, rate.log() - rate * z)


EXPONENTIAL = CatalogEntry(
    key="exponential",
    name="Exponential",
    approach="inverse CDF",
    distribution=PathReparameterization(
        name="Exponential",
        parameters=(Parameter("rate", positive),),
        noise=uniform_noise(),
        path=exponential_path,
        density=_exponential_log_prob,
    ),
    base=r"\epsilon \sim \mathcal{U}(0, 1)",
    formula=r"z = -\log(\epsilon) / \lambda",
    constraints=r"\lambda > 0",
    example={"rate": 1.5},
    moment=Moment(r"\mathbb{E}[z] = 1/\lambda", lambda z: z, lambda p: 1 / p["rate"]),
    cdf=lambda z, p: -torch.expm1(-p["rate"] * z.clamp(min=0)),
    torch_distribution=lambda p: D.Exponential(p["rate"]),
    kingma_welling="inverse CDF",
)


# -- Cauchy --------------------------------------------------------------------------------
def cauchy_path(eps: Tensor, p: Params) -> Tensor:
    """z = μ + γ tan(π(ε − ½)), evaluated as sign(ε − ½) / tan(π min(ε, 1 − ε)).

    The two forms are equal in exact arithmetic; the second keeps the sign of the
    tails in floating point (in float32, tan(π(ε − ½)) at ε = 1.2e-38 returns +2.3e7
    because π/2 rounds up).
    """
    near = torch.minimum(eps, 1 - eps)
    standard = torch.sign(eps - 0.5) / torch.tan(math.pi * near)
    return p["loc"] + p["scale"] * standard


def _cauchy_log_prob(z: Tensor, p: Params) -> Tensor:
    t = (z - p["loc"]) / p["scale"]
    return -math.log(math.pi) - p["scale"].log() - torch.log1p(t * t)


CAUCHY = CatalogEntry(
    key="cauchy",
    name="Cauchy",
    approach="inverse CDF",
    distribution=PathReparameterization(
        name="Cauchy",
        parameters=(Parameter("loc", real), Parameter("scale", positive)),
        noise=uniform_noise(),
        path=cauchy_path,
        density=_cauchy_log_prob,
    ),
    base=r"\epsilon \sim \mathcal{U}(0, 1)",
    formula=r"z = \mu + \gamma \tan\!\big(\pi(\epsilon - \tfrac12)\big)",
    constraints=r"\gamma > 0",
    example={"loc": 0.5, "scale": 2.0},
    # The Cauchy has no mean: test a bounded function. 1/(1+z²) = π · (standard Cauchy
    # density), and Cauchy densities convolve: E = π p_{C(μ, 1+γ)}(0).
    moment=Moment(
        r"\mathbb{E}\big[\tfrac{1}{1+z^2}\big] = \tfrac{1+\gamma}{(1+\gamma)^2+\mu^2}",
        lambda z: 1 / (1 + z * z),
        lambda p: (1 + p["scale"]) / ((1 + p["scale"]) ** 2 + p["loc"] ** 2),
    ),
    cdf=lambda z, p: 0.5 + torch.atan((z - p["loc"]) / p["scale"]) / math.pi,
    torch_distribution=lambda p: D.Cauchy(p["loc"], p["scale"]),
    kingma_welling="inverse CDF",
    notes="no mean: the gradient check uses a bounded test function",
    known_errors=(
        KnownError(
            claim=r"$z = \mu + \gamma\tan(\pi(\epsilon - \tfrac12))$ evaluated as written",
            problem="correct in exact arithmetic, but in float32, wherever ε − ½ rounds to −½ "
            "(ε = 0, which torch.rand returns with probability 2⁻²⁴, or any ε ≤ 2⁻²⁶, such "
            "as the smallest normal number a sampler may clamp to), it returns a large "
            "positive number instead of a large negative one, because float32(π)/2 exceeds π/2",
            fix=r"evaluate $\operatorname{sign}(\epsilon-\tfrac12)"
            r"/\tan(\pi\min(\epsilon, 1-\epsilon))$",
        ),
    ),
)


# -- Logistic ------------------------------------------------------------------------------
def logistic_path(eps: Tensor, p: Params) -> Tensor:
    """z = μ + s log(ε / (1 − ε))."""
    return p["loc"] + p["scale"] * (torch.log(eps) - torch.log1p(-eps))


def _logistic_log_prob(z: Tensor, p: Params) -> Tensor:
    infinite = torch.isinf(z)  # the formula gives inf − inf at z = −inf; the limit is −inf
    t = (torch.where(infinite, p["loc"], z) - p["loc"]) / p["scale"]
    log_density = -t - 2 * torch.nn.functional.softplus(-t) - p["scale"].log()
    return torch.where(infinite, -math.inf, log_density)


LOGISTIC = CatalogEntry(
    key="logistic",
    name="Logistic",
    approach="inverse CDF",
    distribution=PathReparameterization(
        name="Logistic",
        parameters=(Parameter("loc", real), Parameter("scale", positive)),
        noise=uniform_noise(),
        path=logistic_path,
        density=_logistic_log_prob,
    ),
    base=r"\epsilon \sim \mathcal{U}(0, 1)",
    formula=r"z = \mu + s \log\frac{\epsilon}{1 - \epsilon}",
    constraints=r"s > 0",
    example={"loc": 1.0, "scale": 0.5},
    moment=Moment(
        r"\mathbb{E}[z^2] = \mu^2 + \pi^2 s^2 / 3",
        lambda z: z * z,
        lambda p: p["loc"] ** 2 + (math.pi**2 / 3) * p["scale"] ** 2,
    ),
    cdf=lambda z, p: torch.sigmoid((z - p["loc"]) / p["scale"]),
    kingma_welling="inverse CDF; location-scale",
    notes="also a location-scale family: ε ↦ log(ε/(1−ε)) is the standard logistic",
)


# -- Rayleigh ------------------------------------------------------------------------------
def rayleigh_path(eps: Tensor, p: Params) -> Tensor:
    """z = σ sqrt(−2 log ε)."""
    return p["scale"] * torch.sqrt(2 * _neg_log(eps))


def _rayleigh_log_prob(z: Tensor, p: Params) -> Tensor:
    zs = z.clamp(min=0)  # z ≤ 0: log-density −inf (log 0), without NaN from log of z < 0
    scale = p["scale"]
    return zs.log() - 2 * scale.log() - zs * zs / (2 * scale**2)


RAYLEIGH = CatalogEntry(
    key="rayleigh",
    name="Rayleigh",
    approach="inverse CDF",
    distribution=PathReparameterization(
        name="Rayleigh",
        parameters=(Parameter("scale", positive),),
        noise=uniform_noise(),
        path=rayleigh_path,
        density=_rayleigh_log_prob,
    ),
    base=r"\epsilon \sim \mathcal{U}(0, 1)",
    formula=r"z = \sigma\sqrt{-2\log\epsilon}",
    constraints=r"\sigma > 0",
    example={"scale": 1.5},
    moment=Moment(
        r"\mathbb{E}[z] = \sigma\sqrt{\pi/2}",
        lambda z: z,
        lambda p: p["scale"] * math.sqrt(math.pi / 2),
    ),
    cdf=lambda z, p: -torch.expm1(-z.clamp(min=0).square() / (2 * p["scale"] ** 2)),
    kingma_welling="inverse CDF",
)


# -- Pareto --------------------------------------------------------------------------------
def pareto_path(eps: Tensor, p: Params) -> Tensor:
    """z = x_m ε^{−1/α}."""
    return positive_finite(p["scale"] * exp_in_range(_neg_log(eps) / p["alpha"]))


def _pareto_log_prob(z: Tensor, p: Params) -> Tensor:
    scale, alpha = p["scale"], p["alpha"]
    below = z < scale
    zs = torch.where(below, scale, z)  # below the support: −inf, without log of z ≤ 0
    log_density = alpha.log() + alpha * scale.log() - (alpha + 1) * zs.log()
    return torch.where(below, -math.inf, log_density)


PARETO = CatalogEntry(
    key="pareto",
    name="Pareto",
    approach="inverse CDF",
    distribution=PathReparameterization(
        name="Pareto",
        parameters=(Parameter("scale", positive), Parameter("alpha", positive)),
        noise=uniform_noise(),
        path=pareto_path,
        density=_pareto_log_prob,
    ),
    base=r"\epsilon \sim \mathcal{U}(0, 1)",
    formula=r"z = x_m\, \epsilon^{-1/\alpha}",
    constraints=r"x_m > 0,\ \alpha > 0",
    example={"scale": 1.0, "alpha": 3.0},
    moment=Moment(
        r"\mathbb{E}[\log z] = \log x_m + 1/\alpha",
        lambda z: z.log(),
        lambda p: p["scale"].log() + 1 / p["alpha"],
    ),
    cdf=lambda z, p: (
        -torch.expm1(p["alpha"] * (p["scale"].log() - torch.maximum(z, p["scale"]).log()))
    ),
    torch_distribution=lambda p: D.Pareto(p["scale"], p["alpha"]),
    kingma_welling="inverse CDF",
    notes="heavy-tailed: the check uses log z, whose moments exist for every α",
)


# -- Weibull -------------------------------------------------------------------------------
def weibull_path(eps: Tensor, p: Params) -> Tensor:
    """z = λ (−log ε)^{1/k}, kept finite and positive for small k (see ``exp_in_range``)."""
    power = exp_in_range(torch.log(_neg_log(eps)) / p["concentration"])
    return positive_finite(p["scale"] * power)


def _weibull_log_prob(z: Tensor, p: Params) -> Tensor:
    scale, k = p["scale"], p["concentration"]
    ratio = z.clamp(min=0) / scale
    log_density = k.log() - scale.log() + torch.xlogy(k - 1, ratio) - ratio**k
    return torch.where(z < 0, -math.inf, log_density)


WEIBULL = CatalogEntry(
    key="weibull",
    name="Weibull",
    approach="inverse CDF",
    distribution=PathReparameterization(
        name="Weibull",
        parameters=(Parameter("scale", positive), Parameter("concentration", positive)),
        noise=uniform_noise(),
        path=weibull_path,
        density=_weibull_log_prob,
    ),
    base=r"\epsilon \sim \mathcal{U}(0, 1)",
    formula=r"z = \lambda(-\log\epsilon)^{1/k}",
    constraints=r"\lambda > 0,\ k > 0",
    example={"scale": 2.0, "concentration": 1.5},
    moment=Moment(
        r"\mathbb{E}[z] = \lambda\,\Gamma(1 + 1/k)",
        lambda z: z,
        lambda p: p["scale"] * torch.exp(torch.lgamma(1 + 1 / p["concentration"])),
    ),
    cdf=lambda z, p: -torch.expm1(-((z.clamp(min=0) / p["scale"]) ** p["concentration"])),
    torch_distribution=lambda p: D.Weibull(p["scale"], p["concentration"]),
    kingma_welling="inverse CDF",
)


# -- Reciprocal (log-uniform) --------------------------------------------------------------
def reciprocal_path(eps: Tensor, p: Params) -> Tensor:
    """z = a (b/a)^ε = exp(log a + ε (log b − log a))."""
    log_low = p["low"].log()
    return torch.exp(log_low + eps * (p["high"].log() - log_low))


def _reciprocal_check(p: Params) -> None:
    check_relation(p["high"], "high", ">", p["low"], "low")


def _reciprocal_log_prob(z: Tensor, p: Params) -> Tensor:
    outside = (z < p["low"]) | (z > p["high"])
    zs = torch.minimum(torch.maximum(z, p["low"]), p["high"])  # NaN stays NaN
    value = -zs.log() - torch.log(p["high"].log() - p["low"].log())
    return torch.where(outside, -math.inf, value)


def _reciprocal_cdf(z: Tensor, p: Params) -> Tensor:
    zs = torch.minimum(torch.maximum(z, p["low"]), p["high"])  # 0 below, 1 above
    return (zs.log() - p["low"].log()) / (p["high"].log() - p["low"].log())


RECIPROCAL = CatalogEntry(
    key="reciprocal",
    name="Reciprocal",
    approach="inverse CDF",
    distribution=PathReparameterization(
        name="Reciprocal",
        parameters=(Parameter("low", positive), Parameter("high", positive)),
        noise=uniform_noise(),
        path=reciprocal_path,
        density=_reciprocal_log_prob,
        check=_reciprocal_check,
    ),
    base=r"\epsilon \sim \mathcal{U}(0, 1)",
    formula=r"z = a\,(b/a)^{\epsilon}",
    constraints=r"0 < a < b",
    example={"low": 0.5, "high": 4.0},
    moment=Moment(
        r"\mathbb{E}[z] = \frac{b - a}{\log(b/a)}",
        lambda z: z,
        lambda p: (p["high"] - p["low"]) / (p["high"].log() - p["low"].log()),
    ),
    cdf=_reciprocal_cdf,
    kingma_welling="inverse CDF",
    notes="p(z) ∝ 1/z on [a, b] (log-uniform)",
)


# -- Gompertz ------------------------------------------------------------------------------
def gompertz_path(eps: Tensor, p: Params) -> Tensor:
    """z = log(1 − log(ε)/η) / b  (F(z) = 1 − exp(−η(e^{bz} − 1)), with 1 − ε → ε)."""
    return torch.log1p(_neg_log(eps) / p["shape"]) / p["rate"]


def exp_e1(x: Tensor, terms: int = 60) -> Tensor:
    """e^x E₁(x) for x > 0, differentiable in x (E₁ the exponential integral).

    Power series E₁(x) = −γ − log x − Σ_{k≥1} (−x)^k / (k·k!) for x ≤ 1 and the continued
    fraction e^x E₁(x) = 1/(x + 1 − 1²/(x + 3 − 2²/(x + 5 − …))) for x > 1, each with
    ``terms`` terms (relative error below 1e-13 for x in [0.01, 100]; see the tests). Used for
    the Gompertz mean. ``x`` must be finite and strictly positive (``ValueError``).
    """
    check_positive(x, "x")
    small = x.clamp(max=1.0)
    k = torch.arange(1, terms + 1, dtype=x.dtype, device=x.device)
    log_fact = torch.lgamma(k + 1)
    powers = torch.exp(k * small.unsqueeze(-1).log() - log_fact - k.log())
    signs = torch.where(k % 2 == 1, 1.0, -1.0).to(x.dtype)
    series = -EULER_GAMMA - small.log() + (signs * powers).sum(-1)
    large = x.clamp(min=1.0)
    tail = large + 2 * terms + 1
    for j in range(terms, 0, -1):
        tail = large + 2 * j - 1 - j * j / tail
    fraction = 1 / tail
    return torch.where(x <= 1.0, torch.exp(small) * series, fraction)


GOMPERTZ = CatalogEntry(
    key="gompertz",
    name="Gompertz",
    approach="inverse CDF",
    distribution=PathReparameterization(
        name="Gompertz",
        parameters=(Parameter("shape", positive), Parameter("rate", positive)),
        noise=uniform_noise(),
        path=gompertz_path,
        density=lambda z, p: torch.where(
            z < 0,
            -math.inf,
            p["shape"].log()
            + p["rate"].log()
            + p["rate"] * z
            - p["shape"] * torch.expm1(p["rate"] * z),
        ),
    ),
    base=r"\epsilon \sim \mathcal{U}(0, 1)",
    formula=r"z = \frac{1}{b}\log\!\Big(1 - \frac{\log\epsilon}{\eta}\Big)",
    constraints=r"\eta > 0,\ b > 0",
    example={"shape": 0.8, "rate": 1.5},
    moment=Moment(
        r"\mathbb{E}[z] = e^{\eta}E_1(\eta)/b",
        lambda z: z,
        lambda p: exp_e1(p["shape"]) / p["rate"],
    ),
    cdf=lambda z, p: -torch.expm1(-p["shape"] * torch.expm1(p["rate"] * z.clamp(min=0))),
    kingma_welling="inverse CDF",
    notes=r"$F(z) = 1 - \exp(-\eta(e^{bz} - 1))$",
)


# -- Gumbel --------------------------------------------------------------------------------
def gumbel_path(eps: Tensor, p: Params) -> Tensor:
    """z = μ − β log(−log ε)."""
    return p["loc"] - p["scale"] * torch.log(_neg_log(eps))


def _gumbel_log_prob(z: Tensor, p: Params) -> Tensor:
    if strictly_inside(z, -math.inf, math.inf):  # the common case: every value finite
        t = (z - p["loc"]) / p["scale"]
        return -t - torch.exp(-t) - p["scale"].log()
    infinite = torch.isinf(z)  # the formula gives inf − inf at z = −inf; the limit is −inf
    t = (torch.where(infinite, p["loc"], z) - p["loc"]) / p["scale"]
    return torch.where(infinite, -math.inf, -t - torch.exp(-t) - p["scale"].log())


GUMBEL = CatalogEntry(
    key="gumbel",
    name="Gumbel",
    approach="inverse CDF",
    distribution=PathReparameterization(
        name="Gumbel",
        parameters=(Parameter("loc", real), Parameter("scale", positive)),
        noise=uniform_noise(),
        path=gumbel_path,
        density=_gumbel_log_prob,
    ),
    base=r"\epsilon \sim \mathcal{U}(0, 1)",
    formula=r"z = \mu - \beta\log(-\log\epsilon)",
    constraints=r"\beta > 0",
    example={"loc": 0.5, "scale": 2.0},
    moment=Moment(
        r"\mathbb{E}[z] = \mu + \gamma_{\mathrm{E}}\beta",
        lambda z: z,
        lambda p: p["loc"] + EULER_GAMMA * p["scale"],
    ),
    cdf=lambda z, p: torch.exp(-torch.exp(-(z - p["loc"]) / p["scale"])),
    torch_distribution=lambda p: D.Gumbel(p["loc"], p["scale"]),
    kingma_welling="inverse CDF",
)


# -- Erlang --------------------------------------------------------------------------------
def _erlang_noise(
    num_samples: int, p: Params, generator: torch.Generator | None, batch: torch.Size
) -> Tensor:
    """k_max uniforms per draw (k_max the largest shape); the path masks the unused ones."""
    k_max = int(p["shape"].detach().max().item()) if p["shape"].numel() else 1
    dtype, device = noise_like(p)
    shape = (num_samples, *batch, k_max)
    return open_uniform(shape, generator=generator, dtype=dtype, device=device)


def erlang_path(eps: Tensor, p: Params) -> Tensor:
    """z = −(1/λ) Σ_{i ≤ k} log ε_i: a sum of k Exp(λ) variates.

    The sum of logarithms, never the logarithm of the product Π ε_i, which underflows to 0
    (and turns z into inf) once Σ −log ε_i exceeds about 745 in float64 or 104 in float32
    (subnormals included); with mean 1 per term, k in the hundreds or near 100.
    """
    shape = p["shape"].detach()
    index = torch.arange(1, eps.shape[-1] + 1, dtype=eps.dtype, device=eps.device)
    used = index <= shape.unsqueeze(-1)
    total = torch.where(used, _neg_log(eps), torch.zeros_like(eps)).sum(-1)
    return total / p["rate"]


def _erlang_log_prob(z: Tensor, p: Params) -> Tensor:
    return gamma_log_prob(z, p["shape"], p["rate"])


ERLANG = CatalogEntry(
    key="erlang",
    name="Erlang",
    approach="inverse CDF",
    distribution=PathReparameterization(
        name="Erlang",
        parameters=(
            Parameter("shape", positive_integer, differentiable=False),
            Parameter("rate", positive),
        ),
        noise=_erlang_noise,
        path=erlang_path,
        density=_erlang_log_prob,
    ),
    base=r"\epsilon_1, \dots, \epsilon_k \sim \mathcal{U}(0, 1)",
    formula=r"z = -\frac{1}{\lambda}\sum_{i=1}^{k}\log\epsilon_i",
    constraints=r"k \in \{1, 2, \dots\},\ \lambda > 0",
    example={"shape": 3.0, "rate": 2.0},
    moment=Moment(r"\mathbb{E}[z] = k/\lambda", lambda z: z, lambda p: p["shape"] / p["rate"]),
    cdf=lambda z, p: torch.special.gammainc(p["shape"], p["rate"] * z.clamp(min=0)),
    torch_distribution=lambda p: D.Gamma(p["shape"], p["rate"]),
    kingma_welling="inverse CDF",
    notes="a sum of k inverse-CDF exponentials; gradient in λ only (k is an integer)",
    known_errors=(
        KnownError(
            claim=r"$z = -\frac{1}{\lambda}\log\prod_{i=1}^{k}\epsilon_i$",
            problem="the product of k uniforms is exp(−S), S a sum of k standard exponentials "
            "(S ≈ k): it falls below the smallest normal number once S > 87.3 in float32 "
            "(708.4 in float64) and rounds to 0, making z = inf, once S > 104.0 (745.1)",
            fix="sum the logarithms",
        ),
    ),
)


# -- Kumaraswamy ---------------------------------------------------------------------------
def kumaraswamy_path(eps: Tensor, p: Params) -> Tensor:
    """z = (1 − ε^{1/b})^{1/a}, evaluated as exp(log(−expm1(log(ε)/b)) / a).

    Kept strictly inside (0, 1): for small b, 1 − ε^{1/b} rounds to 1 for most ε (ε < 0.44
    at b = 0.05 in float32), for small a the power underflows to 0; such draws are clamped
    to [tiny, 1 − eps/2] (see ``open_unit``).
    """
    inner = clamp_into(
        -torch.expm1(torch.log(eps) / p["concentration0"]), torch.finfo(eps.dtype).tiny, 1.0
    )
    return open_unit(torch.exp(torch.log(inner) / p["concentration1"]))


def _kumaraswamy_log_prob(z: Tensor, p: Params) -> Tensor:
    a, b = p["concentration1"], p["concentration0"]
    zs = z.clamp(0, 1)
    # 1 - z^a as -expm1(a log z): for z within float32's eps of 1, z**a rounds to 1 and
    # log1p(-z**a) would give -inf, so the density at a draw inside (0, 1) would be +inf.
    log_density = (
        a.log() + b.log() + torch.xlogy(a - 1, zs) + torch.xlogy(b - 1, -torch.expm1(a * zs.log()))
    )
    return torch.where((z < 0) | (z > 1), -math.inf, log_density)


def _kumaraswamy_mean(p: Params) -> Tensor:
    a, b = p["concentration1"], p["concentration0"]
    return torch.exp(
        b.log() + torch.lgamma(1 + 1 / a) + torch.lgamma(b) - torch.lgamma(1 + 1 / a + b)
    )


KUMARASWAMY = CatalogEntry(
    key="kumaraswamy",
    name="Kumaraswamy",
    approach="inverse CDF",
    distribution=PathReparameterization(
        name="Kumaraswamy",
        parameters=(Parameter("concentration1", positive), Parameter("concentration0", positive)),
        noise=uniform_noise(),
        path=kumaraswamy_path,
        density=_kumaraswamy_log_prob,
    ),
    base=r"\epsilon \sim \mathcal{U}(0, 1)",
    formula=r"z = \big(1 - \epsilon^{1/b}\big)^{1/a}",
    constraints=r"a > 0,\ b > 0",
    example={"concentration1": 2.0, "concentration0": 3.0},
    moment=Moment(r"\mathbb{E}[z] = b\,\mathrm{B}(1 + 1/a, b)", lambda z: z, _kumaraswamy_mean),
    cdf=lambda z, p: (
        -torch.expm1(p["concentration0"] * torch.log1p(-(z.clamp(0, 1) ** p["concentration1"])))
    ),
    torch_distribution=lambda p: D.Kumaraswamy(p["concentration1"], p["concentration0"]),
    notes="a Beta look-alike with an explicit inverse CDF",
)
