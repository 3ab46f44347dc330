"""The catalog of standard reparameterizations: every row implemented, verified and drawn.

Book chapters: "The standard reparameterizations" (``reparameterizations-table``) and "When
there is no explicit g: implicit reparameterization" (``implicit-reparameterization``).

:data:`CATALOG` maps a key to a :class:`CatalogEntry`; its ``distribution`` is a
:class:`reparam.Reparameterization`, so every estimator of :mod:`reparam.estimators` works
with every row. The book's table is generated from the catalog by :func:`catalog_table` (one
source of truth), and :func:`gradient_check` compares, for every row, the Monte Carlo pathwise
gradient of a moment with the exact derivative of its closed form.

Modules: :mod:`~reparam.catalog.entry` (the data model), one module per approach —
:mod:`~reparam.catalog.inverse_cdf`, :mod:`~reparam.catalog.location_scale`,
:mod:`~reparam.catalog.composition`, :mod:`~reparam.catalog.implicit` (which also holds the
implicit Gamma gradient).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from reparam._validation import check_choice, check_instance
from reparam.catalog import composition, implicit, inverse_cdf, location_scale
from reparam.catalog.entry import (
    APPROACHES,
    Approach,
    CatalogEntry,
    KnownError,
    Moment,
    PathReparameterization,
)

__all__ = [
    "APPROACHES",
    "CATALOG",
    "Approach",
    "CatalogEntry",
    "GradientCheck",
    "KnownError",
    "Moment",
    "PathReparameterization",
    "catalog_table",
    "composition",
    "entries",
    "get",
    "gradient_check",
    "gradient_check_table",
    "implicit",
    "inverse_cdf",
    "location_scale",
]

_ORDER: tuple[CatalogEntry, ...] = (
    # inverse CDF (Kingma & Welling's list, then Kumaraswamy)
    inverse_cdf.EXPONENTIAL,
    inverse_cdf.CAUCHY,
    inverse_cdf.LOGISTIC,
    inverse_cdf.RAYLEIGH,
    inverse_cdf.PARETO,
    inverse_cdf.WEIBULL,
    inverse_cdf.RECIPROCAL,
    inverse_cdf.GOMPERTZ,
    inverse_cdf.GUMBEL,
    inverse_cdf.ERLANG,
    inverse_cdf.KUMARASWAMY,
    # location-scale
    location_scale.LAPLACE,
    location_scale.MULTIVARIATE_NORMAL,
    location_scale.MULTIVARIATE_STUDENT_T,
    location_scale.STUDENT_T,
    location_scale.UNIFORM,
    location_scale.TRIANGULAR,
    location_scale.GAUSSIAN,
    location_scale.HALF_NORMAL,
    # composition
    composition.LOG_NORMAL,
    composition.DIRICHLET,
    composition.BETA,
    composition.CHI_SQUARED,
    composition.F,
    composition.INVERSE_GAMMA,
    composition.BOX_MULLER,
    composition.LAPLACE_LOG_RATIO,
    # implicit
    implicit.GAMMA,
)

#: Every entry, by key, in the order of the book's table.
CATALOG: dict[str, CatalogEntry] = {entry.key: entry for entry in _ORDER}


def get(key: str) -> CatalogEntry:
    """The entry registered under ``key`` (e.g. ``"gamma"``); ``KeyError`` lists the keys."""
    check_instance(key, "key", str, "a str such as 'gamma'")
    try:
        return CATALOG[key]
    except KeyError:
        raise KeyError(f"no catalog entry {key!r}; known: {', '.join(CATALOG)}") from None


def entries(approach: Approach | None = None) -> list[CatalogEntry]:
    """The entries of one approach (all entries if ``approach`` is None), in table order."""
    if approach is not None:
        check_choice(approach, "approach", APPROACHES)
    return [e for e in _ORDER if approach is None or e.approach == approach]


# -- the table ----------------------------------------------------------------------------
def _torch_name(entry: CatalogEntry) -> str:
    if entry.torch_distribution is None:
        return "—"
    params = entry.example_params(torch.float64)
    return f"`{type(entry.torch_distribution(params)).__name__}`"


def _gradients(entry: CatalogEntry) -> str:
    names = []
    for parameter in entry.distribution.parameters:
        if not parameter.differentiable:
            continue
        suffix = " (implicit)" if parameter.name in entry.implicit else ""
        names.append(f"`{parameter.name}`{suffix}")
    return ", ".join(names)


def catalog_table(approach: Approach | None = None) -> str:
    """The table of reparameterizations as Markdown (MyST math), generated from the catalog.

    Columns: distribution, base distribution p(ε), the path z = g(ε; θ), constraints, the
    parameters that get gradients, the ``torch.distributions`` counterpart, and where
    Kingma & Welling (2014), §2.4 list the row.
    """
    header = (
        "| distribution | base $p(\\epsilon)$ | $z = g(\\epsilon; \\theta)$ | constraints "
        "| gradients in | `torch.distributions` | K&W §2.4 |\n"
        "|---|---|---|---|---|---|---|\n"
    )
    rows = []
    for e in entries(approach):
        cells = [
            e.name,
            f"${e.base}$",
            f"${e.formula}$",
            f"${e.constraints}$",
            _gradients(e),
            _torch_name(e),
            e.kingma_welling or "—",
        ]
        rows.append("| " + " | ".join(c.replace("|", "\\vert ") for c in cells) + " |")
    return header + "\n".join(rows) + "\n"


# -- the gradient check ---------------------------------------------------------------------
@dataclass(frozen=True)
class GradientCheck:
    """Monte Carlo pathwise gradient of an entry's moment against the exact derivative.

    One component of one parameter. ``z_score = (estimate − exact) / std_error``.
    """

    key: str
    parameter: str
    index: tuple[int, ...]
    estimate: float
    std_error: float
    exact: float

    @property
    def z_score(self) -> float:
        if self.std_error == 0.0:
            return 0.0 if math.isclose(self.estimate, self.exact, abs_tol=1e-12) else math.inf
        return (self.estimate - self.exact) / self.std_error


def gradient_check(
    entry: CatalogEntry,
    num_samples: int,
    *,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float64,
    params: dict[str, Tensor] | None = None,
) -> list[GradientCheck]:
    """Check the pathwise gradient of ``entry.moment`` against its exact derivative.

    The estimate is the mean of the per-sample pathwise gradients from
    :func:`reparam.estimators.pathwise_gradient` (``num_samples`` draws at ``params``,
    default the entry's example); the exact derivative is autograd through
    ``entry.moment.expectation``. Returns one :class:`GradientCheck` per component of each
    differentiable parameter (components whose exact derivative is structurally zero,
    like the upper triangle of a Cholesky factor, are skipped).
    """
    from reparam.estimators import pathwise_gradient

    values = entry.distribution.validate(
        params if params is not None else entry.example_params(dtype)
    )
    per_sample = pathwise_gradient(
        entry.moment.function, entry.distribution, values, num_samples, generator=generator
    )
    leaves = {
        name: v.detach().clone().requires_grad_(name in per_sample) for name, v in values.items()
    }
    exact_value = entry.moment.expectation(leaves).sum()
    wanted = [leaves[name] for name in per_sample]
    exact = torch.autograd.grad(exact_value, wanted, allow_unused=True)
    checks = []
    for (name, grads), ex in zip(per_sample.items(), exact, strict=True):
        ex_t = torch.zeros_like(leaves[name]) if ex is None else ex
        mean = grads.mean(0)
        se = grads.std(0) / math.sqrt(num_samples)
        for idx in (
            torch.cartesian_prod(*[torch.arange(s) for s in mean.shape])
            .reshape(-1, mean.dim())
            .tolist()
            if mean.dim()
            else [[]]
        ):
            i = tuple(idx)
            if mean.dim() == 2 and i[1] > i[0] and name == "scale_tril":
                continue
            checks.append(
                GradientCheck(
                    entry.key,
                    name,
                    i,
                    float(mean[i]),
                    float(se[i]),
                    float(ex_t[i]),
                )
            )
    return checks


def gradient_check_table(checks: list[GradientCheck]) -> str:
    """Markdown table of gradient checks: one row per parameter component."""
    lines = [
        "| distribution | parameter | Monte Carlo | ± s.e. | exact | z |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for c in checks:
        label = c.parameter + ("[" + ",".join(map(str, c.index)) + "]" if c.index else "")
        lines.append(
            f"| {get(c.key).name} | `{label}` | {c.estimate:.4f} | {c.std_error:.4f} "
            f"| {c.exact:.4f} | {c.z_score:+.2f} |"
        )
    return "\n".join(lines) + "\n"
