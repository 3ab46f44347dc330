"""Compositions: z = h(y_1, ..., y_k; θ) with each y_i itself reparameterized.

Book chapter: "The standard reparameterizations", section "Compositions". If every y_i is
z_i = g_i(ε_i; θ) and h is differentiable, the chain rule gives ∂z/∂θ through each path:
compositions inherit their gradients. Kingma & Welling (2014), §2.4 list Log-Normal, Gamma,
Dirichlet, Beta, Chi-squared and F. The Gamma-based rows here take real shapes, their Gamma
variates carrying implicit gradients (:mod:`reparam.catalog.implicit`); they are computed from
log G, so that shapes as small as 0.01 (where G often leaves the normal floating-point range)
stay finite. The one-liners
Box–Muller, Laplace as a log-ratio of uniforms and Inverse-Gamma are compositions too.
"""

from __future__ import annotations

import math

import torch
import torch.distributions as D
from torch import Tensor

from reparam.catalog.entry import (
    CatalogEntry,
    KnownError,
    Moment,
    NoiseSampler,
    Params,
    PathReparameterization,
    exp_in_range,
    noise_like,
    normal_noise,
    open_unit,
    positive_finite,
    strictly_inside,
    uniform_noise,
)
from reparam.catalog.implicit import gamma_log_draw, implicit_log_gamma
from reparam.catalog.location_scale import laplace_cdf, laplace_log_prob
from reparam.normal import normal_cdf, normal_log_prob
from reparam.reparameterization import Parameter, positive, real

__all__ = [
    "BETA",
    "BOX_MULLER",
    "CHI_SQUARED",
    "DIRICHLET",
    "INVERSE_GAMMA",
    "LAPLACE_LOG_RATIO",
    "LOG_NORMAL",
    "F",
    "beta_path",
    "box_muller_path",
    "dirichlet_path",
]


def _log_gamma_noise(*names: str, scale: float = 1.0) -> NoiseSampler:
    """Base sampler: log G_i, G_i ~ Gamma(scale · θ_i, 1), stacked on a last axis."""

    def sample(
        num_samples: int, p: Params, generator: torch.Generator | None, batch: torch.Size
    ) -> Tensor:
        dtype, _ = noise_like(p)  # in the promoted dtype: the rate may be wider than α
        # stacked at the parameters' own (broadcast) shape, then expanded to the draws' as a
        # stride-0 view: the sampler's constants are computed once per distinct shape
        shapes = [scale * p[name].detach().to(dtype) for name in names]
        stacked = torch.stack(torch.broadcast_tensors(*shapes), dim=-1)
        return gamma_log_draw(stacked.expand(num_samples, *batch, len(names)), generator)

    return sample


def _stacked_log_gamma(eps: Tensor, *shapes: Tensor) -> Tensor:
    """Attach implicit gradients to stacked log-Gamma draws ``eps[..., i]`` with shapes[i]."""
    # Stack the shapes at their own (broadcast) size; implicit_log_gamma expands them to the
    # draws' shape as a stride-0 view, so the gradient's coefficients are computed per shape.
    alpha = torch.stack(torch.broadcast_tensors(*shapes), dim=-1)
    return implicit_log_gamma(alpha, eps)


# -- Log-Normal ----------------------------------------------------------------------------
def log_normal_path(eps: Tensor, p: Params) -> Tensor:
    """z = exp(μ + σ ε) (one fused multiply-add, then the exponential in place)."""
    return torch.addcmul(p["loc"], p["scale"], eps).exp_()


def _log_normal_log_prob(z: Tensor, p: Params) -> Tensor:
    outside = z <= 0  # z = 0 included: the density's limit there is 0
    log_z = torch.where(outside, 1.0, z).log()
    log_density = (
        -log_z
        - p["scale"].log()
        - 0.5 * math.log(2 * math.pi)
        - (log_z - p["loc"]) ** 2 / (2 * p["scale"] ** 2)
    )
    return torch.where(outside, -math.inf, log_density)


LOG_NORMAL = CatalogEntry(
    key="log_normal",
    name="Log-Normal",
    approach="composition",
    distribution=PathReparameterization(
        name="Log-Normal",
        parameters=(Parameter("loc", real), Parameter("scale", positive)),
        noise=normal_noise(),
        path=log_normal_path,
        density=_log_normal_log_prob,
    ),
    base=r"\epsilon \sim \mathcal{N}(0, 1)",
    formula=r"z = \exp(\mu + \sigma\epsilon)",
    constraints=r"\sigma > 0",
    example={"loc": 0.2, "scale": 0.5},
    moment=Moment(
        r"\mathbb{E}[z] = e^{\mu + \sigma^2/2}",
        lambda z: z,
        lambda p: torch.exp(p["loc"] + p["scale"] ** 2 / 2),
    ),
    cdf=lambda z, p: normal_cdf(z.clamp(min=0).log(), p["loc"], p["scale"]),
    torch_distribution=lambda p: D.LogNormal(p["loc"], p["scale"]),
    kingma_welling="composition",
)


# -- Beta ----------------------------------------------------------------------------------
def beta_path(eps: Tensor, p: Params) -> Tensor:
    """z = G_a / (G_a + G_b) = sigmoid(log G_a − log G_b), kept strictly inside (0, 1).

    In float32 the sigmoid rounds to exactly 1 once log G_a − log G_b > 16.6 (about 9.5 % of
    the draws at a = b = 0.1) and to 0 below −103; such draws are clamped to
    [tiny, 1 − eps/2] (see ``open_unit``), with gradient 0.
    """
    log_g = _stacked_log_gamma(eps, p["concentration1"], p["concentration0"])
    return open_unit(torch.sigmoid(log_g[..., 0] - log_g[..., 1]))


def _beta_log_prob(z: Tensor, p: Params) -> Tensor:
    """Beta log-density on [0, 1] (−inf outside); at 0 and 1 as scipy: (a − 1) log z with
    0 · log 0 = 0, so +inf, a finite limit or −inf for a below, at or above 1."""
    a, b = p["concentration1"], p["concentration0"]
    zs = z.clamp(0, 1)
    log_density = (
        torch.xlogy(a - 1, zs)
        + torch.special.xlog1py(b - 1, -zs)
        + torch.lgamma(a + b)
        - torch.lgamma(a)
        - torch.lgamma(b)
    )
    return torch.where((z < 0) | (z > 1), -math.inf, log_density)


BETA = CatalogEntry(
    key="beta",
    name="Beta",
    approach="composition",
    distribution=PathReparameterization(
        name="Beta",
        parameters=(Parameter("concentration1", positive), Parameter("concentration0", positive)),
        noise=_log_gamma_noise("concentration1", "concentration0"),
        path=beta_path,
        density=_beta_log_prob,
    ),
    base=r"G_a \sim \mathrm{Gamma}(a, 1),\ G_b \sim \mathrm{Gamma}(b, 1)",
    formula=r"z = \frac{G_a}{G_a + G_b}",
    constraints=r"a > 0,\ b > 0",
    example={"concentration1": 2.0, "concentration0": 3.0},
    moment=Moment(
        r"\mathbb{E}[z] = a/(a + b)",
        lambda z: z,
        lambda p: p["concentration1"] / (p["concentration1"] + p["concentration0"]),
    ),
    torch_distribution=lambda p: D.Beta(p["concentration1"], p["concentration0"]),
    kingma_welling="composition",
    implicit=("concentration1", "concentration0"),
    notes="real shapes through implicit Gamma gradients",
)


# -- Dirichlet -----------------------------------------------------------------------------
def _dirichlet_noise(
    num_samples: int, p: Params, generator: torch.Generator | None, batch: torch.Size
) -> Tensor:
    alpha = p["concentration"].detach()
    return gamma_log_draw(alpha.expand(num_samples, *batch, alpha.shape[-1]), generator)


def dirichlet_path(eps: Tensor, p: Params) -> Tensor:
    """z_i = G_i / Σ_j G_j = softmax(log G)_i, every z_i kept strictly inside (0, 1).

    For small concentrations the softmax rounds components to exactly 0 and 1; they are
    clamped to [tiny, 1 − eps/2] (see ``open_unit``; the sum moves by at most eps/2).
    """
    return open_unit(torch.softmax(implicit_log_gamma(p["concentration"], eps), dim=-1))


def _check_concentration_vector(value: Tensor, name: str) -> None:
    """At least two components along the last dimension, each finite and > 0."""
    if value.dim() < 1 or value.shape[-1] < 2:
        raise ValueError(
            f"{name} must have at least 2 components along its last dimension, "
            f"got shape {tuple(value.shape)}"
        )
    positive(value, name)


def _dirichlet_log_prob(z: Tensor, p: Params) -> Tensor:
    """Dirichlet log-density on the simplex; −inf off it (a negative component or a sum
    differing from 1 by more than rounding, max(1e-6, 64 eps))."""
    alpha = p["concentration"]
    constant = torch.lgamma(alpha.sum(-1)) - torch.lgamma(alpha).sum(-1)
    tolerance = max(1e-6, 64 * torch.finfo(z.dtype).eps)
    off = (z.sum(-1) - 1).abs()  # distance of each draw's sum from 1
    if strictly_inside(z, 0.0, math.inf) and strictly_inside(off, -1.0, tolerance):
        # the common case: every draw on the simplex, with no component 0 (no mask, no xlogy)
        return (z.log() * (alpha - 1)).sum(-1) + constant
    zs = z.clamp(min=0)
    log_density = torch.xlogy(alpha - 1, zs).sum(-1) + constant
    on_simplex = (z >= 0).all(-1) & (off <= tolerance)
    return torch.where(on_simplex, log_density, -math.inf)


def _dirichlet_second_moment(p: Params) -> Tensor:
    alpha = p["concentration"]
    total = alpha.sum(-1, keepdim=True)
    return (alpha * (alpha + 1) / (total * (total + 1))).sum(-1)


DIRICHLET = CatalogEntry(
    key="dirichlet",
    name="Dirichlet",
    approach="composition",
    distribution=PathReparameterization(
        name="Dirichlet",
        parameters=(Parameter("concentration", _check_concentration_vector, event_dims=1),),
        noise=_dirichlet_noise,
        path=dirichlet_path,
        density=_dirichlet_log_prob,
    ),
    base=r"G_i \sim \mathrm{Gamma}(\alpha_i, 1)",
    formula=r"z_i = G_i \big/ \textstyle\sum_j G_j",
    constraints=r"\alpha_i > 0,\ K \ge 2",
    example={"concentration": [1.5, 2.5, 0.7]},
    moment=Moment(
        r"\mathbb{E}\lVert z\rVert^2 = "
        r"\sum_i \frac{\alpha_i(\alpha_i + 1)}{\alpha_0(\alpha_0 + 1)}",
        lambda z: z.square().sum(-1),
        _dirichlet_second_moment,
    ),
    torch_distribution=lambda p: D.Dirichlet(p["concentration"]),
    kingma_welling="composition",
    implicit=("concentration",),
    statistic=lambda z: z[..., 0],
    statistic_label=r"z_1",
    statistic_log_prob=lambda s, p: _beta_log_prob(
        s,
        {
            "concentration1": p["concentration"][..., 0],
            "concentration0": p["concentration"].sum(-1) - p["concentration"][..., 0],
        },
    ),
    notes=r"$z_1 \sim \mathrm{Beta}(\alpha_1, \alpha_0 - \alpha_1)$",
    known_errors=(
        KnownError(
            claim="Dirichlet as a weighted sum of Gamma variates",
            problem="a weighted sum of Gammas is a positive scalar, not a point of the simplex",
            fix=r"normalise: $z_i = G_i / \sum_j G_j$",
        ),
    ),
)


# -- Chi-squared ---------------------------------------------------------------------------
def chi_squared_path(eps: Tensor, p: Params) -> Tensor:
    """z = 2 G, G ~ Gamma(k/2, 1), kept in [tiny, max] (G underflows for small k)."""
    return positive_finite(2 * exp_in_range(implicit_log_gamma(p["df"] / 2, eps[..., 0])))


def _chi_squared_log_prob(z: Tensor, p: Params) -> Tensor:
    df = p["df"]
    if strictly_inside(z, 0.0, math.inf):  # the common case: no clamp, no mask, no xlogy
        constant = -df / 2 * math.log(2) - torch.lgamma(df / 2)
        return torch.addcmul(constant, df / 2 - 1, z.log()).sub_(z, alpha=0.5)
    zs = z.clamp(min=0)
    log_density = torch.xlogy(df / 2 - 1, zs) - zs / 2 - df / 2 * math.log(2) - torch.lgamma(df / 2)
    return torch.where(z < 0, -math.inf, log_density)


CHI_SQUARED = CatalogEntry(
    key="chi_squared",
    name="Chi-squared",
    approach="composition",
    distribution=PathReparameterization(
        name="Chi-squared",
        parameters=(Parameter("df", positive),),
        noise=_log_gamma_noise("df", scale=0.5),
        path=chi_squared_path,
        density=_chi_squared_log_prob,
    ),
    base=r"G \sim \mathrm{Gamma}(k/2, 1)",
    formula=r"z = 2G\ \ (= \textstyle\sum_{i \le k}\epsilon_i^2 \text{ for integer } k)",
    constraints=r"k > 0",
    example={"df": 3.5},
    moment=Moment(r"\mathbb{E}[z] = k", lambda z: z, lambda p: p["df"]),
    cdf=lambda z, p: torch.special.gammainc(p["df"] / 2, z.clamp(min=0) / 2),
    torch_distribution=lambda p: D.Chi2(p["df"]),
    kingma_welling="composition",
    implicit=("df",),
    notes="real degrees of freedom",
    known_errors=(
        KnownError(
            claim=r"$\chi^2_k$ as a sum of $k$ squared standard normals",
            problem="defined only for integer k",
            fix="2 Gamma(k/2, 1) with an implicit gradient",
        ),
    ),
)


# -- F -------------------------------------------------------------------------------------
def f_path(eps: Tensor, p: Params) -> Tensor:
    """z = (V_1/d_1)/(V_2/d_2) = exp(log G_1 − log G_2) · d_2/d_1, V_i = 2 G_i.

    Kept in [tiny, max]: for small d_1 (d_2) the exponent falls below (rises above) the
    range of the dtype (see ``exp_in_range``).
    """
    d1, d2 = p["df1"], p["df2"]
    log_g = _stacked_log_gamma(eps, d1 / 2, d2 / 2)
    return exp_in_range(log_g[..., 0] - log_g[..., 1] + torch.log(d2) - torch.log(d1))


def _f_log_prob(z: Tensor, p: Params) -> Tensor:
    d1, d2 = p["df1"], p["df2"]
    if strictly_inside(z, 0.0, math.inf):  # the common case: no clamp, no mask, no xlogy
        ratio = d1 / d2
        constant = (
            0.5 * d1 * torch.log(ratio)
            + torch.lgamma((d1 + d2) / 2)
            - torch.lgamma(d1 / 2)
            - torch.lgamma(d2 / 2)
        )
        log_density = torch.addcmul(constant, 0.5 * d1 - 1, z.log())
        return torch.addcmul(log_density, 0.5 * (d1 + d2), torch.log1p(ratio * z), value=-1)
    zs = z.clamp(min=0)
    log_density = (
        0.5 * d1 * torch.log(d1 / d2)
        + torch.xlogy(0.5 * d1 - 1, zs)
        - 0.5 * (d1 + d2) * torch.log1p(d1 * zs / d2)
        + torch.lgamma((d1 + d2) / 2)
        - torch.lgamma(d1 / 2)
        - torch.lgamma(d2 / 2)
    )
    return torch.where(z < 0, -math.inf, log_density)


F = CatalogEntry(
    key="f",
    name="F",
    approach="composition",
    distribution=PathReparameterization(
        name="F",
        parameters=(Parameter("df1", positive), Parameter("df2", positive)),
        noise=_log_gamma_noise("df1", "df2", scale=0.5),
        path=f_path,
        density=_f_log_prob,
    ),
    base=r"V_i \sim \chi^2_{d_i}",
    formula=r"z = \frac{V_1/d_1}{V_2/d_2}",
    constraints=r"d_1 > 0,\ d_2 > 0",
    example={"df1": 5.0, "df2": 8.0},
    moment=Moment(
        r"\mathbb{E}[\log z] = \log\tfrac{d_2}{d_1} + \psi(\tfrac{d_1}{2}) - \psi(\tfrac{d_2}{2})",
        lambda z: z.log(),
        lambda p: (
            torch.log(p["df2"] / p["df1"])
            + torch.digamma(p["df1"] / 2)
            - torch.digamma(p["df2"] / 2)
        ),
    ),
    torch_distribution=lambda p: D.FisherSnedecor(p["df1"], p["df2"]),
    kingma_welling="composition",
    implicit=("df1", "df2"),
)


# -- Inverse-Gamma -------------------------------------------------------------------------
def inverse_gamma_path(eps: Tensor, p: Params) -> Tensor:
    """z = β / G, G ~ Gamma(α, 1), kept in [tiny, max] (1/G overflows for small α)."""
    inverse = exp_in_range(-implicit_log_gamma(p["concentration"], eps[..., 0]))
    return positive_finite(p["rate"] * inverse)


def _inverse_gamma_log_prob(z: Tensor, p: Params) -> Tensor:
    alpha, rate = p["concentration"], p["rate"]
    outside = z <= 0  # z = 0 included: the density's limit there is 0
    zs = torch.where(outside, 1.0, z)
    log_density = alpha * rate.log() - torch.lgamma(alpha) - (alpha + 1) * zs.log() - rate / zs
    return torch.where(outside, -math.inf, log_density)


def _inverse_gamma_mean(p: Params) -> Tensor:
    """β/(α − 1) for α > 1; +inf for α ≤ 1, where the mean diverges (as ``scipy.stats``)."""
    alpha = p["concentration"]
    safe = torch.where(alpha > 1, alpha, 2.0)
    return torch.where(alpha > 1, p["rate"] / (safe - 1), math.inf)


INVERSE_GAMMA = CatalogEntry(
    key="inverse_gamma",
    name="Inverse-Gamma",
    approach="composition",
    distribution=PathReparameterization(
        name="Inverse-Gamma",
        parameters=(Parameter("concentration", positive), Parameter("rate", positive)),
        noise=_log_gamma_noise("concentration"),
        path=inverse_gamma_path,
        density=_inverse_gamma_log_prob,
    ),
    base=r"G \sim \mathrm{Gamma}(\alpha, 1)",
    formula=r"z = \beta / G",
    constraints=r"\alpha > 0,\ \beta > 0",
    example={"concentration": 4.0, "rate": 2.0},
    moment=Moment(
        r"\mathbb{E}[z] = \beta/(\alpha - 1)",
        lambda z: z,
        _inverse_gamma_mean,
    ),
    cdf=lambda z, p: torch.special.gammaincc(p["concentration"], p["rate"] / z.clamp(min=0)),
    torch_distribution=lambda p: D.InverseGamma(p["concentration"], p["rate"]),
    implicit=("concentration",),
    notes=r"$\beta$ is the rate of the Gamma and the scale of the Inverse-Gamma",
    known_errors=(
        KnownError(
            claim=r"$z = 1/G$ with $G \sim \mathrm{Gamma}(\alpha, \beta)$, $\beta$ read as a scale",
            problem=r"with a *scale* $\beta$ the result is Inverse-Gamma$(\alpha, 1/\beta)$; "
            "the one-liner is right only when β is the Gamma's rate",
            fix=r"$z = \beta / G$, $G \sim \mathrm{Gamma}(\alpha, 1)$",
        ),
    ),
)


# -- One-liners: Box–Muller and the Laplace log-ratio ---------------------------------------
def box_muller_path(eps: Tensor, p: Params) -> Tensor:
    """z = μ + σ sqrt(−2 log ε_1) cos(2π ε_2)."""
    radius = torch.sqrt(-2 * torch.log(eps[..., 0]))
    return p["loc"] + p["scale"] * radius * torch.cos(2 * math.pi * eps[..., 1])


def _normal_log_prob(z: Tensor, p: Params) -> Tensor:
    return normal_log_prob(z, p["loc"], p["scale"])


BOX_MULLER = CatalogEntry(
    key="box_muller",
    name="Gaussian (Box–Muller)",
    approach="composition",
    distribution=PathReparameterization(
        name="Gaussian (Box–Muller)",
        parameters=(Parameter("loc", real), Parameter("scale", positive)),
        noise=uniform_noise(2),
        path=box_muller_path,
        density=_normal_log_prob,
    ),
    base=r"\epsilon_1, \epsilon_2 \sim \mathcal{U}(0, 1)",
    formula=r"z = \mu + \sigma\sqrt{-2\log\epsilon_1}\cos(2\pi\epsilon_2)",
    constraints=r"\sigma > 0",
    example={"loc": 1.0, "scale": 1.5},
    moment=Moment(
        r"\mathbb{E}[z^2] = \mu^2 + \sigma^2",
        lambda z: z * z,
        lambda p: p["loc"] ** 2 + p["scale"] ** 2,
    ),
    cdf=lambda z, p: normal_cdf(z, p["loc"], p["scale"]),
    torch_distribution=lambda p: D.Normal(p["loc"], p["scale"]),
    notes="one of the pair of independent normals",
    known_errors=(
        KnownError(
            claim=r"$\sqrt{-2\log\epsilon_1}$ with $\epsilon_1$ from `torch.rand`",
            problem="torch.rand can return 0 (probability 2⁻²⁴ in float32): the radius is inf",
            fix="draw from the open interval",
        ),
    ),
)


def laplace_log_ratio_path(eps: Tensor, p: Params) -> Tensor:
    """z = μ + b log(ε_1/ε_2): the difference of two Exp(1) variates is Laplace(0, 1).

    One logarithm of the ratio: with ε_i in [tiny, 1) the ratio lies in (tiny, 1/tiny], finite.
    """
    return p["loc"] + p["scale"] * torch.log(eps[..., 0] / eps[..., 1])


LAPLACE_LOG_RATIO = CatalogEntry(
    key="laplace_log_ratio",
    name="Laplace (log-ratio)",
    approach="composition",
    distribution=PathReparameterization(
        name="Laplace (log-ratio)",
        parameters=(Parameter("loc", real), Parameter("scale", positive)),
        noise=uniform_noise(2),
        path=laplace_log_ratio_path,
        density=laplace_log_prob,
    ),
    base=r"\epsilon_1, \epsilon_2 \sim \mathcal{U}(0, 1)",
    formula=r"z = \mu + b\log(\epsilon_1/\epsilon_2)",
    constraints=r"b > 0",
    example={"loc": 0.5, "scale": 1.5},
    moment=Moment(
        r"\mathbb{E}[z^2] = \mu^2 + 2b^2",
        lambda z: z * z,
        lambda p: p["loc"] ** 2 + 2 * p["scale"] ** 2,
    ),
    cdf=laplace_cdf,
    torch_distribution=lambda p: D.Laplace(p["loc"], p["scale"]),
    notes="difference of two Exp(1) variates",
)
