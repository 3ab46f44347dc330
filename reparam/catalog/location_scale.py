"""Location-scale reparameterizations: z = μ + σ ε (or μ + L ε), ε the standard member.

Book chapter: "The standard reparameterizations", section "Location-scale families". If
ε has density p(ε), then z = μ + σ ε has density p((z − μ)/σ)/σ, and ∂z/∂μ = 1,
∂z/∂σ = ε. The rows are the examples of Kingma & Welling (2014), §2.4 (Laplace, elliptical,
Student's t, logistic, uniform, triangular, Gaussian); the Gaussian row is
:data:`reparam.NORMAL` itself. Student's t (univariate and multivariate) get their ν-gradient
from implicit reparameterization of the Gamma variate in the chi-squared mixing variable.
"""

from __future__ import annotations

import math

import torch
import torch.distributions as D
from torch import Tensor

from reparam._validation import (
    broadcast_shapes,
    check_finite,
    check_relation,
    check_square,
    check_values,
)
from reparam.catalog.entry import (
    CatalogEntry,
    KnownError,
    Moment,
    Params,
    PathReparameterization,
    clamp_into,
    exp_in_range,
    noise_like,
    uniform_noise,
)
from reparam.catalog.implicit import gamma_log_draw, implicit_log_gamma
from reparam.noise import open_uniform, standard_normal
from reparam.normal import NORMAL, normal_cdf, normal_log_prob
from reparam.reparameterization import Parameter, positive, real

__all__ = [
    "GAUSSIAN",
    "HALF_NORMAL",
    "LAPLACE",
    "MULTIVARIATE_NORMAL",
    "MULTIVARIATE_STUDENT_T",
    "STUDENT_T",
    "TRIANGULAR",
    "UNIFORM",
    "laplace_cdf",
    "laplace_log_prob",
    "laplace_standard",
    "multivariate_normal_path",
    "student_t_path",
    "triangular_path",
]


# -- Laplace -------------------------------------------------------------------------------
def laplace_standard(eps: Tensor) -> Tensor:
    """Standard Laplace from a uniform: log(2ε) below ½, −log(2(1 − ε)) above.

    Equal to the textbook −sign(ε − ½) log(1 − 2|ε − ½|), but exact at the edges: at the
    smallest uniform, ε − ½ rounds to −½ and the textbook form returns log 0 = −inf. Written
    as ±log(2 min(ε, 1 − ε)) with one logarithm (1 − ε is exact for ε ≥ ½), the sign that of
    ε − ½ (``copysign``; log 2 min(ε, 1 − ε) ≤ 0), in one buffer.
    """
    out = torch.rsub(eps, 1.0)
    torch.minimum(eps, out, out=out).mul_(2.0).log_()
    return torch.copysign(out, eps - 0.5, out=out)


def _laplace_noise(
    num_samples: int, p: Params, generator: torch.Generator | None, batch: torch.Size
) -> Tensor:
    dtype, device = noise_like(p)
    u = open_uniform((num_samples, *batch), generator=generator, dtype=dtype, device=device)
    return laplace_standard(u)


def laplace_log_prob(z: Tensor, p: Params) -> Tensor:
    """log p(z) of Laplace(μ = ``p["loc"]``, b = ``p["scale"]``): −log 2b − abs(z − μ)/b.

    The one Laplace density of the package (the location-scale row and the log-ratio row of
    :mod:`reparam.catalog.composition` both use it); −inf at z = ±inf. Shapes broadcast.
    """
    return -math.log(2.0) - p["scale"].log() - (z - p["loc"]).abs() / p["scale"]


def laplace_cdf(z: Tensor, p: Params) -> Tensor:
    """F(z) of Laplace(μ, b): ½ e^t for t = (z − μ)/b < 0, 1 − ½ e^{−t} otherwise.

    Each branch's exponent is clamped to ≤ 0, so the branch not taken never overflows.
    """
    t = (z - p["loc"]) / p["scale"]
    return torch.where(t < 0, 0.5 * torch.exp(t.clamp(max=0)), 1 - 0.5 * torch.exp(-t.clamp(min=0)))


def location_scale_path(eps: Tensor, p: Params) -> Tensor:
    """z = μ + σ ε (one fused multiply-add)."""
    return torch.addcmul(p["loc"], p["scale"], eps)


def _loc_scale_moment_laplace(p: Params) -> Tensor:
    return p["loc"] ** 2 + 2 * p["scale"] ** 2


LAPLACE = CatalogEntry(
    key="laplace",
    name="Laplace",
    approach="location-scale",
    distribution=PathReparameterization(
        name="Laplace",
        parameters=(Parameter("loc", real), Parameter("scale", positive)),
        noise=_laplace_noise,
        path=location_scale_path,
        density=laplace_log_prob,
    ),
    base=r"\epsilon \sim \mathrm{Laplace}(0, 1)",
    formula=r"z = \mu + b\,\epsilon",
    constraints=r"b > 0",
    example={"loc": 0.5, "scale": 1.5},
    moment=Moment(r"\mathbb{E}[z^2] = \mu^2 + 2b^2", lambda z: z * z, _loc_scale_moment_laplace),
    cdf=laplace_cdf,
    torch_distribution=lambda p: D.Laplace(p["loc"], p["scale"]),
    kingma_welling="location-scale",
    notes=r"standard member drawn as $\log 2u$ / $-\log 2(1-u)$",
    known_errors=(
        KnownError(
            claim=r"$z = \mu - b\,\operatorname{sign}(u - \tfrac12)"
            r"\log(1 - 2\lvert u - \tfrac12\rvert)$",
            problem="exact in real arithmetic, but wherever u − ½ rounds to −½ (u = 0, which "
            "torch.rand returns with probability 2⁻²⁴ in float32, or any u ≤ 2⁻²⁶ in float32, "
            "u ≤ 2⁻⁵⁵ in float64) the formula returns −inf",
            fix=r"$\log 2u$ for $u < \tfrac12$, $-\log 2(1-u)$ otherwise",
        ),
    ),
)


# -- Gaussian (reparam.NORMAL) and Half-Normal ----------------------------------------------
def _normal_cdf(z: Tensor, p: Params) -> Tensor:
    """The Gaussian row's CDF: :func:`reparam.normal.normal_cdf` at its parameters."""
    return normal_cdf(z, p["loc"], p["scale"])


GAUSSIAN = CatalogEntry(
    key="normal",
    name="Gaussian",
    approach="location-scale",
    distribution=NORMAL,
    base=r"\epsilon \sim \mathcal{N}(0, 1)",
    formula=r"z = \mu + \sigma\epsilon",
    constraints=r"\sigma > 0",
    example={"loc": 1.0, "scale": 1.5},
    moment=Moment(
        r"\mathbb{E}[z^2] = \mu^2 + \sigma^2",
        lambda z: z * z,
        lambda p: p["loc"] ** 2 + p["scale"] ** 2,
    ),
    cdf=_normal_cdf,
    torch_distribution=lambda p: D.Normal(p["loc"], p["scale"]),
    kingma_welling="location-scale",
    notes="the book's running example: `reparam.NORMAL`",
)


def half_normal_path(eps: Tensor, p: Params) -> Tensor:
    """z = σ |ε|."""
    return p["scale"] * eps.abs()


HALF_NORMAL = CatalogEntry(
    key="half_normal",
    name="Half-Normal",
    approach="location-scale",
    distribution=PathReparameterization(
        name="Half-Normal",
        parameters=(Parameter("scale", positive),),
        noise=lambda n, p, g, batch: standard_normal(
            (n, *batch), generator=g, dtype=p["scale"].dtype, device=p["scale"].device
        ),
        path=half_normal_path,
        density=lambda z, p: torch.where(
            z < 0,
            -math.inf,
            0.5 * math.log(2 / math.pi) - p["scale"].log() - z * z / (2 * p["scale"] ** 2),
        ),
    ),
    base=r"\epsilon \sim \mathcal{N}(0, 1)",
    formula=r"z = \sigma\,\lvert\epsilon\rvert",
    constraints=r"\sigma > 0",
    example={"scale": 1.5},
    moment=Moment(
        r"\mathbb{E}[z] = \sigma\sqrt{2/\pi}",
        lambda z: z,
        lambda p: p["scale"] * math.sqrt(2 / math.pi),
    ),
    # erf(z / σ√2) = 2Φ(z/σ) − 1, without the cancellation of 2Φ − 1 near z = 0
    cdf=lambda z, p: torch.erf(z.clamp(min=0) / (p["scale"] * math.sqrt(2))),
    torch_distribution=lambda p: D.HalfNormal(p["scale"]),
    notes="a scale family; also the inverse CDF of |N(0, 1)|",
)


# -- Uniform -------------------------------------------------------------------------------
def uniform_path(eps: Tensor, p: Params) -> Tensor:
    """z = a + (b − a) ε (one fused multiply-add)."""
    return torch.addcmul(p["low"], p["high"] - p["low"], eps)


def _uniform_log_prob(z: Tensor, p: Params) -> Tensor:
    inside = (z >= p["low"]) & (z <= p["high"])
    value = -torch.log(p["high"] - p["low"]).expand_as(inside).clone()
    return torch.where(inside, value, torch.full_like(value, -math.inf))


def _uniform_check(p: Params) -> None:
    check_relation(p["high"], "high", ">", p["low"], "low")


UNIFORM = CatalogEntry(
    key="uniform",
    name="Uniform",
    approach="location-scale",
    distribution=PathReparameterization(
        name="Uniform",
        parameters=(Parameter("low", real), Parameter("high", real)),
        noise=uniform_noise(),
        path=uniform_path,
        density=_uniform_log_prob,
        check=_uniform_check,
    ),
    base=r"\epsilon \sim \mathcal{U}(0, 1)",
    formula=r"z = a + (b - a)\,\epsilon",
    constraints=r"a < b",
    example={"low": -1.0, "high": 2.0},
    moment=Moment(
        r"\mathbb{E}[z^2] = (a^2 + ab + b^2)/3",
        lambda z: z * z,
        lambda p: (p["low"] ** 2 + p["low"] * p["high"] + p["high"] ** 2) / 3,
    ),
    cdf=lambda z, p: ((z - p["low"]) / (p["high"] - p["low"])).clamp(0, 1),
    torch_distribution=lambda p: D.Uniform(p["low"], p["high"]),
    kingma_welling="location-scale",
)


# -- Triangular ----------------------------------------------------------------------------
def triangular_path(eps: Tensor, p: Params) -> Tensor:
    """z = a + (b − a) ε_r, ε_r = F_r^{-1}(ε) the standard triangular on [0, 1] with mode r.

    r = (c − a)/(b − a); ε_r = sqrt(ε r) if ε < r else 1 − sqrt((1 − ε)(1 − r)). Both
    branches are evaluated on safe arguments so that the branch not taken never feeds an
    infinite derivative of sqrt at 0 into the backward pass.
    """
    low, mode, high = p["low"], p["mode"], p["high"]
    width = high - low
    r = (mode - low) / width
    left = eps < r
    tiny = torch.finfo(eps.dtype).tiny
    lower = torch.sqrt(torch.where(left, eps * r, tiny))
    upper = 1 - torch.sqrt(torch.where(left, tiny, (1 - eps) * (1 - r)))
    return low + width * torch.where(left, lower, upper)


def _triangular_log_prob(z: Tensor, p: Params) -> Tensor:
    low, mode, high = p["low"], p["mode"], p["high"]
    zs = torch.minimum(torch.maximum(z, low), high)  # no log of a negative density outside
    left = 2 * (zs - low) / ((high - low) * (mode - low))
    right = 2 * (high - zs) / ((high - low) * (high - mode))
    density = torch.where(zs < mode, left, right)
    inside = (z >= low) & (z <= high)
    return torch.where(inside, density.log(), torch.full_like(density, -math.inf))


def _triangular_cdf(z: Tensor, p: Params) -> Tensor:
    low, mode, high = p["low"], p["mode"], p["high"]
    zs = torch.minimum(torch.maximum(z, low), high)  # 0 below the support, 1 above
    left = (zs - low) ** 2 / ((high - low) * (mode - low))
    right = 1 - (high - zs) ** 2 / ((high - low) * (high - mode))
    return torch.where(zs < mode, left, right).clamp(0, 1)


def _triangular_check(p: Params) -> None:
    check_relation(p["high"], "high", ">", p["low"], "low")
    check_relation(p["mode"], "mode", ">=", p["low"], "low")
    check_relation(p["mode"], "mode", "<=", p["high"], "high")


def _triangular_second_moment(p: Params) -> Tensor:
    a, c, b = p["low"], p["mode"], p["high"]
    mean = (a + b + c) / 3
    var = (a * a + b * b + c * c - a * b - a * c - b * c) / 18
    return var + mean * mean


TRIANGULAR = CatalogEntry(
    key="triangular",
    name="Triangular",
    approach="location-scale",
    distribution=PathReparameterization(
        name="Triangular",
        parameters=(Parameter("low", real), Parameter("mode", real), Parameter("high", real)),
        noise=uniform_noise(),
        path=triangular_path,
        density=_triangular_log_prob,
        check=_triangular_check,
    ),
    base=r"\epsilon \sim \mathcal{U}(0, 1)",
    formula=r"z = a + (b - a)\,F_r^{-1}(\epsilon),\ r = \tfrac{c - a}{b - a}",
    constraints=r"a < b,\ a \le c \le b",
    example={"low": 0.0, "mode": 1.0, "high": 3.0},
    moment=Moment(
        r"\mathbb{E}[z^2] = \operatorname{Var} + \big(\tfrac{a + b + c}{3}\big)^2",
        lambda z: z * z,
        _triangular_second_moment,
    ),
    cdf=_triangular_cdf,
    kingma_welling="location-scale",
    notes="location-scale for fixed r; the standard member by inverse CDF, so c gets a "
    "gradient too",
)


# -- Student's t -----------------------------------------------------------------------------
def _student_noise(
    num_samples: int, p: Params, generator: torch.Generator | None, batch: torch.Size, dim: int
) -> Tensor:
    """(ε_1..ε_dim ~ N(0, 1), log G) with G ~ Gamma(ν/2, 1), stacked on the last axis."""
    dtype, device = noise_like(p)
    normal = standard_normal(
        (num_samples, *batch, dim), generator=generator, dtype=dtype, device=device
    )
    half_df = (p["df"].detach().to(dtype) / 2).expand(num_samples, *batch)
    log_g = gamma_log_draw(half_df, generator)
    return torch.cat([normal, log_g.unsqueeze(-1)], dim=-1)


def _student_scale(log_g: Tensor, df: Tensor) -> Tensor:
    """sqrt(ν / V) with V = 2G ~ χ²_ν, i.e. exp(½(log(ν/2) − log G)); implicit gradient in ν.

    Kept finite for tiny ν, where log G can be below −10³ (see ``exp_in_range``).
    """
    log_g = implicit_log_gamma(df / 2, log_g)
    return exp_in_range(0.5 * (torch.log(df / 2) - log_g))


def _finite(z: Tensor) -> Tensor:
    info = torch.finfo(z.dtype)
    return clamp_into(z, -info.max, info.max)


def student_t_path(eps: Tensor, p: Params) -> Tensor:
    """z = μ + σ ε / sqrt(V/ν), ε ~ N(0, 1), V ~ χ²_ν (V = 2G, G ~ Gamma(ν/2, 1)); finite."""
    return _finite(p["loc"] + p["scale"] * eps[..., 0] * _student_scale(eps[..., 1], p["df"]))


def _t_variance_factor(df: Tensor) -> Tensor:
    """ν/(ν − 2), the variance of the standard t, where it exists (ν > 2).

    As ``scipy.stats.t``: +inf for 1 < ν ≤ 2 (infinite variance), NaN for ν ≤ 1 (no
    mean). The formula is evaluated at a safe ν elsewhere, so gradients stay finite.
    """
    safe = torch.where(df > 2, df, 3.0)
    undefined = torch.where(df > 1, torch.full_like(df, math.inf), math.nan)
    return torch.where(df > 2, safe / (safe - 2), undefined)


def _student_log_prob(z: Tensor, p: Params) -> Tensor:
    df, loc, scale = p["df"], p["loc"], p["scale"]
    t = (z - loc) / scale
    return (
        torch.lgamma((df + 1) / 2)
        - torch.lgamma(df / 2)
        - 0.5 * torch.log(math.pi * df)
        - scale.log()
        - (df + 1) / 2 * torch.log1p(t * t / df)
    )


STUDENT_T = CatalogEntry(
    key="student_t",
    name="Student's t",
    approach="location-scale",
    distribution=PathReparameterization(
        name="Student's t",
        parameters=(
            Parameter("df", positive),
            Parameter("loc", real),
            Parameter("scale", positive),
        ),
        noise=lambda n, p, g, batch: _student_noise(n, p, g, batch, 1),
        path=student_t_path,
        density=_student_log_prob,
    ),
    base=r"\epsilon \sim \mathcal{N}(0, 1),\ V \sim \chi^2_\nu",
    formula=r"z = \mu + \sigma\,\epsilon\big/\sqrt{V/\nu}",
    constraints=r"\nu > 0,\ \sigma > 0",
    example={"df": 10.0, "loc": 0.5, "scale": 1.5},
    moment=Moment(
        r"\mathbb{E}[z^2] = \mu^2 + \sigma^2\nu/(\nu - 2)",
        lambda z: z * z,
        lambda p: p["loc"] ** 2 + p["scale"] ** 2 * _t_variance_factor(p["df"]),
    ),
    torch_distribution=lambda p: D.StudentT(p["df"], p["loc"], p["scale"]),
    kingma_welling="location-scale",
    implicit=("df",),
    notes="location-scale in (μ, σ); the ν-gradient is implicit (through the Gamma in V)",
)


# -- Elliptical: multivariate Gaussian and Student's t with a Cholesky factor ---------------
def _check_cholesky(value: Tensor, name: str) -> None:
    """A lower-triangular square matrix (batch allowed) with a positive diagonal, finite."""
    check_square(value, name, batch=True)
    check_finite(value, name)
    check_values(value, name, "be lower triangular", lambda t: t.triu(1) == 0)
    diagonal = value.diagonal(dim1=-2, dim2=-1)
    check_values(diagonal, name, "have a strictly positive diagonal", lambda d: d > 0)


def _check_vector(value: Tensor, name: str) -> None:
    """A finite vector (batch allowed), shape ``(..., d)``."""
    if value.dim() < 1:
        raise ValueError(f"{name} must be a vector (..., d), got a scalar")
    check_finite(value, name)


def _check_dims(p: Params) -> None:
    size, rows = p["loc"].shape[-1], p["scale_tril"].shape[-1]
    if size != rows:
        raise ValueError(
            f"loc must have as many components as scale_tril has rows ({rows}), got {size}"
        )


def _normal_vector_noise(
    num_samples: int, p: Params, generator: torch.Generator | None, batch: torch.Size
) -> Tensor:
    """ε ~ N(0, I) of shape ``(N, *batch_shape, d)``, d the length of ``loc``."""
    dtype, device = noise_like(p)
    shape = (num_samples, *batch, p["loc"].shape[-1])
    return standard_normal(shape, generator=generator, dtype=dtype, device=device)


def multivariate_normal_path(eps: Tensor, p: Params) -> Tensor:
    """z = μ + L ε with ε ~ N(0, I) and L lower triangular.

    Only the lower triangle of ``scale_tril`` is used.
    """
    tril = p["scale_tril"].tril()
    return p["loc"] + (tril @ eps.unsqueeze(-1)).squeeze(-1)


def _mahalanobis(tril: Tensor, diff: Tensor) -> Tensor:
    """‖L⁻¹x‖² for x = ``diff`` (..., d) and lower-triangular L = ``tril`` (..., d, d) whose
    batch shapes broadcast; shape: the broadcast batch shape.

    One triangular solve per distinct L, the vectors x that share it (the draws) being the
    rows of its right-hand side, xᵀL⁻ᵀ (a solve from the right). A solve per draw, with L
    expanded to every draw, costs about thirty times more for 10⁵ draws and d = 2.
    """
    d = diff.shape[-1]
    batch = broadcast_shapes(diff.shape[:-1], tril.shape[:-2])
    sizes = (1,) * (len(batch) + 2 - tril.dim()) + tuple(tril.shape[:-2])
    keep = [i for i, size in enumerate(sizes) if size != 1]  # L varies along these
    share = [i for i, size in enumerate(sizes) if size == 1]  # these share L: rows
    kept, shared = [batch[i] for i in keep], [batch[i] for i in share]
    rows = diff.expand(*batch, d).permute(*keep, *share, len(batch))
    rows = rows.reshape(*kept, math.prod(shared), d)
    factor = tril.reshape(*kept, d, d)
    white = torch.linalg.solve_triangular(factor.mT, rows, upper=True, left=False)
    norms = white.square().sum(-1).reshape([*kept, *shared])
    order = keep + share
    return norms.permute([order.index(i) for i in range(len(batch))])


def _mvn_log_prob(z: Tensor, p: Params) -> Tensor:
    tril = p["scale_tril"]
    maha = _mahalanobis(tril, z - p["loc"])
    d = z.shape[-1]
    half_log_det = tril.diagonal(dim1=-2, dim2=-1).log().sum(-1)
    return -0.5 * maha - half_log_det - 0.5 * d * math.log(2 * math.pi)


def _sum_scale(p: Params) -> Tensor:
    """Standard deviation of 1ᵀ(Lε): ‖Lᵀ1‖."""
    return p["scale_tril"].tril().sum(-2).norm(dim=-1)


def _sum_normal_log_prob(s: Tensor, p: Params) -> Tensor:
    """log-density of 1ᵀz ~ N(1ᵀμ, ‖Lᵀ1‖²)."""
    return normal_log_prob(s, p["loc"].sum(-1), _sum_scale(p))


def _second_moment_mvn(p: Params) -> Tensor:
    return p["loc"].square().sum(-1) + p["scale_tril"].tril().square().sum((-1, -2))


MULTIVARIATE_NORMAL = CatalogEntry(
    key="multivariate_normal",
    name="Multivariate Gaussian",
    approach="location-scale",
    distribution=PathReparameterization(
        name="Multivariate Gaussian",
        parameters=(
            Parameter("loc", _check_vector, event_dims=1),
            Parameter("scale_tril", _check_cholesky, event_dims=2),
        ),
        noise=_normal_vector_noise,
        path=multivariate_normal_path,
        density=_mvn_log_prob,
        check=_check_dims,
    ),
    base=r"\epsilon \sim \mathcal{N}(0, I)",
    formula=r"z = \mu + L\epsilon",
    constraints=r"L \text{ lower triangular},\ L_{ii} > 0",
    example={"loc": [1.0, -1.0], "scale_tril": [[1.0, 0.0], [0.5, 0.8]]},
    moment=Moment(
        r"\mathbb{E}\lVert z\rVert^2 = \lVert\mu\rVert^2 + \lVert L\rVert_F^2",
        lambda z: z.square().sum(-1),
        _second_moment_mvn,
    ),
    cdf=lambda s, p: normal_cdf(s, p["loc"].sum(-1), _sum_scale(p)),
    torch_distribution=lambda p: D.MultivariateNormal(p["loc"], scale_tril=p["scale_tril"]),
    kingma_welling="location-scale (elliptical)",
    statistic=lambda z: z.sum(-1),
    statistic_label=r"z_1 + z_2",
    statistic_log_prob=_sum_normal_log_prob,
    notes=r"Cholesky factor $L$, $\Sigma = LL^\top$",
)


def multivariate_student_t_path(eps: Tensor, p: Params) -> Tensor:
    """z = μ + L ε / sqrt(V/ν), ε ~ N(0, I), V ~ χ²_ν (implicit gradient in ν)."""
    tril = p["scale_tril"].tril()
    direction = (tril @ eps[..., :-1].unsqueeze(-1)).squeeze(-1)
    return _finite(p["loc"] + direction * _student_scale(eps[..., -1], p["df"]).unsqueeze(-1))


def _mvt_log_prob(z: Tensor, p: Params) -> Tensor:
    df, tril = p["df"], p["scale_tril"]
    maha = _mahalanobis(tril, z - p["loc"])
    d = z.shape[-1]
    return (
        torch.lgamma((df + d) / 2)
        - torch.lgamma(df / 2)
        - 0.5 * d * torch.log(math.pi * df)
        - tril.diagonal(dim1=-2, dim2=-1).log().sum(-1)
        - (df + d) / 2 * torch.log1p(maha / df)
    )


def _sum_t_log_prob(s: Tensor, p: Params) -> Tensor:
    return _student_log_prob(s, {"df": p["df"], "loc": p["loc"].sum(-1), "scale": _sum_scale(p)})


MULTIVARIATE_STUDENT_T = CatalogEntry(
    key="multivariate_student_t",
    name="Multivariate Student's t",
    approach="location-scale",
    distribution=PathReparameterization(
        name="Multivariate Student's t",
        parameters=(
            Parameter("df", positive),
            Parameter("loc", _check_vector, event_dims=1),
            Parameter("scale_tril", _check_cholesky, event_dims=2),
        ),
        noise=lambda n, p, g, batch: _student_noise(n, p, g, batch, p["loc"].shape[-1]),
        path=multivariate_student_t_path,
        density=_mvt_log_prob,
        check=_check_dims,
    ),
    base=r"\epsilon \sim \mathcal{N}(0, I),\ V \sim \chi^2_\nu",
    formula=r"z = \mu + L\epsilon\big/\sqrt{V/\nu}",
    constraints=r"\nu > 0,\ L \text{ lower triangular},\ L_{ii} > 0",
    example={"df": 10.0, "loc": [1.0, -1.0], "scale_tril": [[1.0, 0.0], [0.5, 0.8]]},
    moment=Moment(
        r"\mathbb{E}\lVert z\rVert^2 = \lVert\mu\rVert^2 + \tfrac{\nu}{\nu-2}\lVert L\rVert_F^2",
        lambda z: z.square().sum(-1),
        lambda p: (
            p["loc"].square().sum(-1)
            + _t_variance_factor(p["df"]) * p["scale_tril"].tril().square().sum((-1, -2))
        ),
    ),
    kingma_welling="location-scale (elliptical)",
    implicit=("df",),
    statistic=lambda z: z.sum(-1),
    statistic_label=r"z_1 + z_2",
    statistic_log_prob=_sum_t_log_prob,
    notes="one χ² per draw shared by all coordinates; ν-gradient implicit",
)
