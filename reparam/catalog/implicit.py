"""Implicit reparameterization gradients for the Gamma distribution with real shape.

Book chapter: "When there is no explicit g: implicit reparameterization"
(``implicit-reparameterization``). Figurnov, Mohamed & Mnih (2018) observe that a pathwise
gradient needs only ∂z/∂α, not g itself: holding the standardised noise ε = F(z; α) fixed and
differentiating F(z(α); α) = ε gives

    ∂z/∂α = −(∂F(z; α)/∂α) / p(z; α).                                  (implicit gradient)

For Gamma(α, 1), F is the regularised lower incomplete gamma function P(α, z). This module

1. draws Gamma(α, 1) variates by Marsaglia & Tsang (2000) with an explicit generator (for
   α < 1 the boost G_α = G_{α+1} U^{1/α}), and returns their *logarithm*, which never
   underflows (for α = 0.01, 0.08 % of draws are below float64's smallest normal
   number and 42 % below float32's);
2. computes d log z / dα = (∂z/∂α)/z with the series of P (z < α + 1 + max(0, 6 − α)) or
   the continued fraction of Q = 1 − P (larger z, where it converges faster), each
   differentiated term by term in α (forward mode, alongside the recurrences). With
   P/p = z·S and Q/p = z·h, where S is the series and h the continued fraction (the forms
   of Numerical Recipes §6.2),

       d log z/dα = −(S (log z − ψ(α)) + ∂S/∂α)    (series),
       d log z/dα =   h (log z − ψ(α)) + ∂h/∂α     (continued fraction),

   with no exponential of large numbers anywhere. Iterated to convergence
   (:func:`log_gamma_alpha_grad_series`, the reference) they need O(√α) terms in the bulk, so
   :func:`log_gamma_alpha_grad` keeps them where they converge fast (the series, with a
   number of terms fixed in advance, for z well below α; the continued fraction in the far
   upper tail) and in the bulk uses Temme's uniform asymptotic expansion of Q (NIST DLMF
   §8.12) differentiated in α, whose coefficients :func:`temme_coefficients` computes once in
   exact arithmetic; shapes below 8 are shifted up by the recurrence of P in α. All in
   float64 whatever the input dtype; the relative error against 40-digit (mpmath) values is
   below 1e-10 for α in [0.01, 1000] and every z (``tests/test_implicit.py`` checks it);
3. wraps both in :class:`ImplicitLogGamma`, a ``torch.autograd.Function`` whose forward is the
   identity on the (detached) log-draw and whose backward multiplies by d log z/dα.

Beta, Dirichlet, Chi-squared, F, Inverse-Gamma and Student's t (with a learnable ν) are built
on it in :mod:`reparam.catalog.composition` and :mod:`reparam.catalog.location_scale`. The
Gamma entry of the catalog, :data:`GAMMA`, lives here.

For these entries ``sample_base`` returns the log-draw itself (computed from the *values* of
the parameters, without gradient): implicit reparameterization has no explicit ε. ``transform``
attaches the gradient; it is meant to be called at the parameter values that produced the draw
(as every estimator in :mod:`reparam.estimators` does).
"""

from __future__ import annotations

import functools
import itertools
import math
from fractions import Fraction
from typing import Any

import torch
import torch.distributions as D
from torch import Tensor

from reparam._validation import (
    as_tensor,
    as_tensors,
    broadcast_shapes,
    check_broadcast,
    check_finite,
    check_finite_and_positive,
    check_num_samples,
    check_positive,
    check_values,
)
from reparam.catalog.entry import (
    CatalogEntry,
    KnownError,
    Moment,
    Params,
    PathReparameterization,
    exp_in_range,
    noise_like,
    positive_finite,
    strictly_inside,
)
from reparam.noise import open_uniform, standard_normal
from reparam.reparameterization import Parameter, positive

__all__ = [
    "GAMMA",
    "ImplicitLogGamma",
    "gamma_log_draw",
    "gamma_log_prob",
    "implicit_log_gamma",
    "log_gamma_alpha_grad",
    "log_gamma_alpha_grad_series",
    "log_standard_gamma_rsample",
    "marsaglia_tsang_log",
    "temme_coefficients",
]

_TOL = 1e-15
_FPMIN = 1e-30
_MAX_ITER = 100_000
_MAX_ROUNDS = 200
_A_TEMME = 8.0  # Temme's expansion is used at shapes ≥ 8; smaller shapes are shifted up to it
_L_TEMME = 2.5  # its window |log(z/α)| ≤ 2.5 (the Taylor series in l converge for |l| < 2π)
_L_SHIFTED = (2.0, 1.0)  # window −2 ≤ log(z/α') ≤ 1 for shifted shapes (below, the series on
#                          the entries left there is cheaper than a longer polynomial in l;
#                          above, the recurrence cancels)
_ORDERS = 16  # powers of 1/α kept: relative error below 1e-14 at α = 8
_DEGREE = 48  # Taylor coefficients in l tabulated
_MAX_TERMS = 10_000
_FEW_SHAPES = 16  # up to this many distinct shapes, each is handled with scalar coefficients
_FEW_FRACTIONS = 32  # up to this many entries, the continued fraction runs on Python floats


# -- forward sampling: Marsaglia & Tsang --------------------------------------------------------
def marsaglia_tsang_log(alpha: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """log G with G ~ Gamma(alpha, 1), one draw per entry of ``alpha`` (any shape, alpha ≥ 1).

    Marsaglia & Tsang (2000): with d = α − 1/3 and c = 1/sqrt(9d), propose v = (1 + c x)³ with
    x ~ N(0, 1), accept when v > 0 and log u < x²/2 + d(1 − v + log v), u ~ U(0, 1); then
    G = d v. The acceptance rate exceeds 0.95 for every α ≥ 1. Rejected entries are redrawn
    (vectorised over the pending entries). The proposals and the test are computed in
    ``alpha``'s dtype if it is float32 (on the CPU, float64 normals cost about five times as
    much as float32 ones), in float64 otherwise; d, c and log d are computed once per distinct
    α in float64 and rounded. In float32 the rounding error of the test's right-hand side is
    about 1e-7·√d on average and unbiased (6e-6 at α = 10⁴), a relative change of the accepted
    density far below what 100 000 draws can detect. Returns that dtype on ``alpha``'s
    device (the noise is drawn on the generator's device and moved there).
    """
    shape = alpha.shape
    dtype = torch.float32 if alpha.dtype == torch.float32 else torch.float64
    a = _compact_shape(alpha, shape)  # float64, as few entries as broadcast allows
    if a.numel() == 0:
        return torch.empty(shape, dtype=dtype, device=alpha.device)
    check_finite(a, "alpha")
    check_values(a, "alpha", "be at least 1 for Marsaglia–Tsang", lambda t: t >= 1)
    return _marsaglia_tsang(a, shape, dtype, generator)


def _marsaglia_tsang(
    a: Tensor, shape: torch.Size, dtype: torch.dtype, generator: torch.Generator | None
) -> Tensor:
    """:func:`marsaglia_tsang_log` for checked shapes ``a`` ≥ 1 (float64, compacted: broadcasting
    to ``shape``), computed in ``dtype`` on ``a``'s device.

    The first round proposes for every entry, the constants broadcast; a redraw proposes for
    the pending entries only, with the constants gathered from the compact tensor.
    """
    d64 = a - 1.0 / 3.0
    d, c, log_d = (t.to(dtype) for t in (d64, torch.rsqrt(9.0 * d64), d64.log()))
    total = math.prod(shape)
    one, tiny = torch.ones((), dtype=dtype, device=a.device), torch.finfo(dtype).tiny
    out = torch.empty(0, dtype=dtype, device=a.device)
    pending: Tensor | None = None  # None: every entry (first round, no indexing)
    for _ in range(_MAX_ROUNDS):
        if pending is None:
            count, draw_shape, (dd, cc, ld) = total, shape, (d, c, log_d)
        else:
            count, draw_shape = pending.numel(), torch.Size((pending.numel(),))
            if count == 0:
                return out.reshape(shape)
            if a.numel() == 1:
                dd, cc, ld = d.reshape(()), c.reshape(()), log_d.reshape(())
            else:
                where = pending if a.shape == shape else _compact_index(pending, shape, a.shape)
                dd, cc, ld = d.reshape(-1)[where], c.reshape(-1)[where], log_d.reshape(-1)[where]
        x = standard_normal((count,), generator=generator, dtype=dtype, device=a.device)
        u = open_uniform((count,), generator=generator, dtype=dtype, device=a.device)
        x, u = x.view(draw_shape), u.view(draw_shape)
        v = torch.addcmul(one, cc, x).pow_(3)
        log_v = torch.clamp_min(v, tiny).log_()
        accept = v > 0
        bound = torch.sub(log_v, v, out=v).add_(1.0).mul_(dd).addcmul_(x, x, value=0.5)
        accept &= u.log_() < bound
        value = log_v.add_(ld)  # log G = log d + log v
        if pending is None:
            out = value.reshape(-1)
            pending = (~accept).reshape(-1).nonzero().squeeze(-1)
        else:
            out[pending[accept]] = value[accept]
            pending = pending[~accept]
    raise RuntimeError("Marsaglia–Tsang sampler did not accept within the round limit")


def _compact_index(flat: Tensor, shape: torch.Size, compact: torch.Size) -> Tensor:
    """For positions ``flat`` in a (flattened) tensor of ``shape``, the positions in the
    flattened ``compact`` tensor (of the same number of dimensions, each of its size or 1)
    broadcasting to it."""
    index = torch.zeros_like(flat)
    step, rest = 1, flat
    for size, kept in zip(reversed(shape), reversed(compact), strict=True):
        if kept > 1:
            index.add_(rest.remainder(size), alpha=step)
            step *= kept
        rest = rest.div(size, rounding_mode="floor")
    return index


def gamma_log_draw(alpha: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """log G with G ~ Gamma(alpha, 1), any alpha > 0, without gradient; alpha's dtype/device.

    For α < 1 uses the boost G_α = G_{α+1} U^{1/α} (Marsaglia & Tsang 2000), i.e.
    log G_α = log G_{α+1} + log(U)/α, which stays finite even when G_α underflows. The
    Marsaglia–Tsang step runs in float32 for float32 ``alpha`` (float64 otherwise); the boost's
    U is always float64, so that log(U)/α resolves the lower tail of small shapes (float32
    uniforms are multiples of 2^-24: log(U)/α would stop near −16.6/α).
    """
    a = alpha.detach()
    if a.numel() == 0:
        return torch.empty_like(a)
    compact = _compact_shape(a, a.shape)  # float64, once per distinct value of an expanded α
    check_positive(compact, "alpha")
    return _log_draw(compact, a, generator)


def _log_draw(compact: Tensor, alpha: Tensor, generator: torch.Generator | None) -> Tensor:
    """:func:`gamma_log_draw` for ``alpha`` with its shapes ``compact`` (float64, from
    ``_compact_shape``) checked: the sampler's constants are computed per distinct shape."""
    shape = alpha.shape
    gen_device = generator.device if generator is not None else torch.device("cpu")
    work = torch.float32 if alpha.dtype == torch.float32 else torch.float64
    compact = compact.to(gen_device)
    boost = compact < 1
    if not bool(boost.any()):
        return _marsaglia_tsang(compact, shape, work, generator).to(alpha.device, alpha.dtype)
    # α + 1 as the sampler sees it: rounded to its working precision
    shifted = torch.where(boost, compact + 1, compact).to(work).to(torch.float64)
    log_g = _marsaglia_tsang(shifted, shape, work, generator).to(torch.float64)
    u = open_uniform(tuple(shape), generator=generator, dtype=torch.float64)
    log_g += torch.where(boost, u.log_() / compact, 0.0)
    return log_g.to(device=alpha.device, dtype=alpha.dtype)


def _check_shapes(alpha: Tensor, name: str) -> None:
    """``ValueError`` naming ``name`` unless every shape is finite and strictly positive
    (checked once per distinct value of an expanded tensor)."""
    check_positive(_compact_shape(alpha, alpha.shape), name)


# -- the implicit gradient ----------------------------------------------------------------------
def _compact(keep: Tensor, *tensors: Tensor) -> list[Tensor]:
    return [t[keep] for t in tensors]


def _series_grad(a: Tensor, log_x: Tensor, tol: float) -> Tensor:
    """−(S (log x − ψ(a)) + ∂S/∂a), S = Σ_n x^n / (a(a+1)…(a+n)); for small x.

    ∂S/∂a is summed alongside S: the n-th term t_n has ∂t_n/∂a = −t_n Σ_{j ≤ n} 1/(a + j).
    Entries that have converged leave the working set every 8 terms.
    """
    out = torch.empty_like(a)
    index = torch.arange(a.numel(), device=a.device)
    x = log_x.exp()
    term = a.reciprocal()
    recip_sum = term.clone()  # Σ_{j ≤ n} 1/(a + j)
    s = term.clone()
    ds = -term * recip_sum
    shift = log_x - torch.digamma(a)
    n = 0
    while n < _MAX_ITER:
        for _ in range(8):
            n += 1
            inv = (a + n).reciprocal_()
            term.mul_(x).mul_(inv)
            recip_sum.add_(inv)
            s.add_(term)
            ds.addcmul_(term, recip_sum, value=-1.0)
        ok = term * (1 + recip_sum) <= tol * (s + ds.abs())
        if bool(ok.any()):
            out[index[ok]] = -(s[ok] * shift[ok] + ds[ok])
            keep = ~ok
            if not bool(keep.any()):
                break
            index, a, x, term, recip_sum, s, ds, shift = _compact(
                keep, index, a, x, term, recip_sum, s, ds, shift
            )
    return out


def _fraction_grad(a: Tensor, log_x: Tensor, tol: float) -> Tensor:
    """h (log x − ψ(a)) + ∂h/∂a with h the continued fraction of Q (modified Lentz); large x.

    The derivative in a travels with the recurrences: ∂b_i/∂a = −1 and ∂a_i/∂a = i for the
    partial numerators a_i = −i(i − a) and denominators b_i = x + 2i + 1 − a. Entries that
    have converged leave the working set every 4 steps, their value recorded then (rounding
    noise in later steps could otherwise keep the test from passing for every entry).
    A few entries (the far upper tail met by the fast path) run on Python floats, the same
    steps without a kernel launch each.
    """
    x = log_x.exp()
    shift = log_x - torch.digamma(a)
    if a.numel() <= _FEW_FRACTIONS:
        values = zip(a.tolist(), x.tolist(), shift.tolist(), strict=True)
        return a.new_tensor([_fraction_grad_one(*v, tol) for v in values])
    out = torch.empty_like(a)
    index = torch.arange(a.numel(), device=a.device)
    b = x + 1.0 - a
    b = torch.where(b.abs() < _FPMIN, _FPMIN, b)
    c = torch.full_like(a, 1.0 / _FPMIN)
    dc = torch.zeros_like(a)
    d = 1.0 / b
    dd = d * d  # ∂(1/b)/∂a = 1/b²
    h, dh = d.clone(), dd.clone()
    i = 0
    while i < _MAX_ITER:
        for _ in range(4):
            i += 1
            an = -i * (i - a)
            b = b + 2.0
            big_d = an * d + b
            d_big_d = i * d + an * dd - 1.0
            big_d = torch.where(big_d.abs() < _FPMIN, _FPMIN, big_d)
            big_c = b + an / c
            d_big_c = -1.0 + i / c - an * dc / (c * c)
            big_c = torch.where(big_c.abs() < _FPMIN, _FPMIN, big_c)
            d = 1.0 / big_d
            dd = -d_big_d * d * d
            c, dc = big_c, d_big_c
            delta = d * c
            d_delta = dd * c + d * dc
            h, dh = h * delta, dh * delta + h * d_delta
        # Done when the last factor is 1 and the last change of ∂h/∂a is negligible
        # against h (∂h/∂a itself may vanish, so it cannot be the yardstick alone).
        ok = ((delta - 1).abs() <= tol) & ((h * d_delta).abs() <= tol * (h.abs() + dh.abs()))
        if bool(ok.any()):
            out[index[ok]] = h[ok] * shift[ok] + dh[ok]
            keep = ~ok
            if not bool(keep.any()):
                break
            index, a, shift, b, c, dc, d, dd, h, dh = _compact(
                keep, index, a, shift, b, c, dc, d, dd, h, dh
            )
    return out


def _fraction_grad_one(a: float, x: float, shift: float, tol: float) -> float:
    """``_fraction_grad`` for one entry (``shift`` = log x − ψ(a)), on Python floats."""
    b = x + 1.0 - a
    b = _FPMIN if abs(b) < _FPMIN else b
    c, dc = 1.0 / _FPMIN, 0.0
    d = 1.0 / b
    dd = d * d
    h, dh = d, dd
    i = 0
    while i < _MAX_ITER:
        for _ in range(4):
            i += 1
            an = -i * (i - a)
            b = b + 2.0
            big_d = an * d + b
            d_big_d = i * d + an * dd - 1.0
            big_d = _FPMIN if abs(big_d) < _FPMIN else big_d
            big_c = b + an / c
            d_big_c = -1.0 + i / c - an * dc / (c * c)
            big_c = _FPMIN if abs(big_c) < _FPMIN else big_c
            d = 1.0 / big_d
            dd = -d_big_d * d * d
            c, dc = big_c, d_big_c
            delta = d * c
            d_delta = dd * c + d * dc
            h, dh = h * delta, dh * delta + h * d_delta
        if abs(delta - 1) <= tol and abs(h * d_delta) <= tol * (abs(h) + abs(dh)):
            break
    return h * shift + dh


def log_gamma_alpha_grad_series(
    alpha: Tensor, log_x: Tensor, *, tol: float | None = None
) -> Tensor:
    """d log z / dα from the series of P or the continued fraction of Q, iterated to ``tol``.

    The reference evaluation (equation ``eq-implicit-gamma`` of the chapter): slow for large
    shapes (O(√α) terms) but free of any truncated expansion; :func:`log_gamma_alpha_grad`
    uses it only for the rare far upper tail. ``alpha`` and ``log_x`` broadcast; computed in
    float64, returned in ``log_x``'s dtype. The iterations stop when every term is below
    ``tol`` times the sum (default 1e-15 for float64 results, 1e-10 otherwise).
    """
    if tol is None:
        tol = _TOL if log_x.dtype == torch.float64 else 1e-10
    a, lx = torch.broadcast_tensors(alpha.detach().double(), log_x.detach().double())
    # The cheaper of the two per entry: a continued-fraction step costs about three series
    # terms, so the series is kept up to a + 1 + max(0, 6 − a) (Numerical Recipes: a + 1).
    use_series = lx.exp() < a + 1 + torch.clamp(6.0 - a, min=0.0)
    a, lx = a.reshape(-1), lx.reshape(-1)
    out = torch.empty_like(lx)
    if bool(use_series.any()):
        mask = use_series.reshape(-1)
        out[mask] = _series_grad(a[mask], lx[mask], tol)
    if not bool(use_series.all()):
        mask = ~use_series.reshape(-1)
        out[mask] = _fraction_grad(a[mask], lx[mask], tol)
    return out.reshape(use_series.shape).to(log_x.dtype)


# -- the fast path: Temme's uniform expansion, a shift in α, and a fixed-length series ---------
def _series_product(p: list[Fraction], q: list[Fraction], n: int) -> list[Fraction]:
    return [sum((p[i] * q[k - i] for i in range(k + 1)), Fraction(0)) for k in range(n)]


def _series_reciprocal(p: list[Fraction], n: int) -> list[Fraction]:
    out = [1 / p[0]]
    for k in range(1, n):
        out.append(-sum((p[i] * out[k - i] for i in range(1, k + 1)), Fraction(0)) / p[0])
    return out


@functools.cache
def temme_coefficients(orders: int = _ORDERS, degree: int = _DEGREE) -> Tensor:
    """Taylor coefficients B[k, j] of d log z/dα = (Γ*(α)/α) Σ_k B_k(l) α^{-k}, l = log(z/α).

    Temme's uniform expansion (NIST DLMF §8.12, eqs. 8.12.4 and 8.12.7–8.12.10) writes
    Q(α, z) = ½ erfc(η √(α/2)) + e^{−αη²/2}/√(2πα) Σ_k c_k(η) α^{−k}, with λ = z/α = e^l and
    ½η² = λ − 1 − l. Differentiating in α at fixed z and dividing by z p(z; α) =
    √(α/2π) e^{−αη²/2}/Γ*(α) (Γ*(α) = Γ(α) e^α α^{−α} √(α/2π), the scaled gamma function)
    cancels every exponential and leaves

        B_0 = l/(e^l − 1),   B_k = l c_k − (k − ½) c_{k−1} − dc_{k−1}/dl   (k ≥ 1),

    because (λ − 1)/η · dc/dη = dc/dl. The c_k follow from c_0 = 1/(λ − 1) − 1/η and
    c_k = (dc_{k−1}/dl + (−1)^k g_k)/(e^l − 1), the DLMF recursion written in l, where the
    Stirling coefficient g_k is whatever makes c_k analytic at l = 0. Everything is computed
    here in exact rational arithmetic (power series in l; about 0.2 s, once), returned as a
    float64 tensor of shape ``(orders + 1, degree)``. The series in l converge for
    abs(l) < 2π (the nearest singularities are at l = ±2πi).
    """
    n = degree + 2 * orders + 3
    e1 = [Fraction(1, math.factorial(j + 1)) for j in range(n)]  # (e^l − 1)/l
    q = [Fraction(2, math.factorial(j + 2)) for j in range(n)]  # η²/l²
    h = [Fraction(1)]  # η/l = sqrt(η²/l²)
    for j in range(1, n):
        h.append((q[j] - sum((h[i] * h[j - i] for i in range(1, j)), Fraction(0))) / 2)
    inv_e1 = _series_reciprocal(e1, n)
    # c_0 = (η/l − (e^l − 1)/l) / (l (e^l − 1)/l · η/l): the constant terms cancel.
    diff = [hj - ej for hj, ej in zip(h[1:], e1[1:], strict=True)]
    c = _series_product(diff, _series_reciprocal(_series_product(e1, h, n), n), n - 1)
    rows = [[float(b) for b in inv_e1[:degree]]]
    for k in range(1, orders + 1):
        dc = [j * c[j] for j in range(1, len(c))]
        c_next = _series_product(dc[1:], inv_e1, len(dc) - 1)  # (dc − dc(0))/l / ((e^l − 1)/l)
        half = Fraction(2 * k - 1, 2)
        rows.append(
            [float((c_next[j - 1] if j else 0) - half * c[j] - dc[j]) for j in range(degree)]
        )
        c = c_next
    return torch.tensor(rows, dtype=torch.float64, device="cpu")


_STIRLING = (1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188, -691 / 360360)


def _log_gamma_star(a: Tensor) -> Tensor:
    """log Γ*(a) by Stirling's series; error below 1e-13 for a ≥ 8 (DLMF 5.11.1)."""
    r = a.reciprocal()
    r2 = r * r
    acc = torch.full_like(a, _STIRLING[-1])
    for t in reversed(_STIRLING[:-1]):
        acc = acc * r2 + t
    return acc * r


def _log_gamma_star_one(a: float) -> float:
    """:func:`_log_gamma_star` for one shape, on Python floats."""
    r = 1.0 / a
    r2 = r * r
    acc = _STIRLING[-1]
    for t in reversed(_STIRLING[:-1]):
        acc = acc * r2 + t
    return acc * r


def _compact_shape(alpha: Tensor, shape: torch.Size) -> Tensor:
    """``alpha`` as float64 with as few entries as possible that still broadcasts to ``shape``.

    Dimensions of stride 0 (expanded views, as made by the estimators) hold a single value;
    a large tensor whose entries are all equal becomes a single entry. The coefficients of
    the expansions depend on α only, so they are computed once per distinct entry.
    """
    a = alpha.detach()
    a = a.reshape((1,) * (len(shape) - a.dim()) + tuple(a.shape))
    size = [1 if stride == 0 else s for s, stride in zip(a.shape, a.stride(), strict=True)]
    a = a.as_strided(size, a.stride(), a.storage_offset())
    if a.numel() > 64:
        smallest, largest = torch.aminmax(a)  # one pass, in α's own dtype
        if bool(smallest == largest):
            a = a.reshape(-1)[:1].reshape((1,) * len(shape))
    return a.to(torch.float64)


def _log_tail_point(a: Tensor) -> Tensor:
    """log z where the leading term z^{a−1} e^{−z}/Γ(a) of Q(a, z) falls to 3e-6.

    Solves z = c + (a − 1) log z, c = log(3e5) − log Γ(a), by fixed-point iteration (on the
    shapes only; a contraction for a < 8 and z > 7). The leading term underestimates Q, so Q
    exceeds 3e-6 below this point.
    """
    c = math.log(3e5) - torch.lgamma(a)
    a_minus_one = a - 1
    z = c.clamp(min=1.0)
    for _ in range(8):
        z = torch.addcmul(c, a_minus_one, z.log_()).clamp_(min=1.0)
    return z.log_()


def _log_tail_point_one(a: float) -> float:
    """:func:`_log_tail_point` for one shape, on Python floats."""
    c = math.log(3e5) - math.lgamma(a)
    z = max(c, 1.0)
    for _ in range(8):
        z = max(c + (a - 1) * math.log(z), 1.0)
    return math.log(z)


@functools.cache
def _temme_table(device: torch.device) -> tuple[Tensor, Tensor]:
    """(B, exponents 0, −1, …, −orders) on ``device``: :func:`temme_coefficients` and the powers
    of a its rows multiply, moved there once."""
    table = temme_coefficients()
    exponents = -torch.arange(float(len(table)), dtype=torch.float64)
    return table.to(device), exponents.to(device)


@functools.cache
def _temme_bound_table() -> tuple[Tensor, Tensor]:
    """(abs(B), k = 0, …, orders) on the CPU: the tail bounds of :func:`_temme_degree`."""
    table = temme_coefficients()
    return table.abs(), torch.arange(float(len(table)), dtype=torch.float64, device="cpu")


def _temme_degree(a_min: float, span: float, tol: float) -> int:
    """Terms of the Taylor series in l kept for shapes ≥ ``a_min`` and abs(l) ≤ ``span``.

    The smallest degree whose tail bound Σ_{j ≥ degree} Σ_k abs(B_kj) a_min^{−k} span^j is
    below 0.2 ``tol`` (the sum is at least B_0 ≥ 0.2 in the window), at least 2 and at most
    the table's degree. Computed on the CPU from two numbers: no kernel on the data's device.
    """
    abs_table, orders = _temme_bound_table()
    bound = torch.pow(a_min, -orders) @ abs_table
    columns = torch.arange(abs_table.shape[1], dtype=torch.float64, device="cpu")
    bound *= torch.pow(span, columns)
    degree = int((bound.flip(0).cumsum(0) > 0.2 * tol).sum()) + 1
    return min(max(degree, 2), abs_table.shape[1])


def _temme_polynomial(a: Tensor, degree: int) -> Tensor:
    """Coefficients (Γ*(a)/a) Σ_k B_kj a^{−k}, j < ``degree``, of d log z/dα as a polynomial in
    l = log(z/a) for shapes a ≥ 8 (Temme's expansion, B_0 = l/(e^l − 1) included); shape
    ``(*a.shape, degree)``."""
    table, exponents = _temme_table(a.device)
    scale = torch.exp(_log_gamma_star(a)).div_(a)
    coefficients = torch.pow(a.unsqueeze(-1), exponents) @ table[:, :degree]
    return coefficients.mul_(scale.unsqueeze(-1))


@functools.cache
def _binomials() -> tuple[Tensor, Tensor]:
    """(C(j, k), max(j − k, 0)) for j, k below the table's degree, on the CPU: the matrix
    that re-expands a polynomial about another point (all exact in float64)."""
    degree = temme_coefficients().shape[1]
    binomials = [[math.comb(j, k) for k in range(degree)] for j in range(degree)]
    index = torch.arange(float(degree), dtype=torch.float64)
    gaps = (index[:, None] - index[None, :]).clamp_(min=0.0)
    return torch.tensor(binomials, dtype=torch.float64), gaps


def _temme_polynomial_one(a: float, center: float, half: float, tol: float) -> Tensor:
    """:func:`_temme_polynomial` for one shape a ≥ 8 (computed on the CPU), re-expanded about
    l = ``center``: coefficients of a polynomial in u = l − center for abs(u) ≤ ``half``.

    Truncated at the smallest degree whose remainder Σ_{j ≥ degree} abs(c_j) half^j (a bound
    on the terms dropped from the re-expanded table) is below ``tol`` times 0.2 Γ*(a)/a, a
    lower bound of the sum; one term more, and at least two. About a centre inside the
    window the terms fall off faster than about l = 0: fewer of them for the same ``tol``.
    """
    table, exponents = _temme_table(torch.device("cpu"))
    scale = math.exp(_log_gamma_star_one(a)) / a
    binomials, gaps = _binomials()
    full = (torch.pow(a, exponents) @ table).mul_(scale)
    coefficients = full @ (binomials * torch.pow(center, gaps)) if center else full
    remainder = coefficients.abs().mul_(torch.pow(half, gaps[:, 0])).flip(0).cumsum(0)
    degree = int((remainder > 0.2 * tol * scale).sum()) + 1
    return coefficients[: min(max(degree, 2), len(coefficients))]


def _shift_polynomial(a: Tensor, shift: Tensor, steps: int) -> tuple[Tensor, Tensor]:
    """The recurrence that brings Temme's value at a' = a + m down to a, m = ``shift`` (at
    most ``steps``): (coefficients, log_poch), coefficients of shape ``(2, *a.shape, steps)``
    holding t_i ψ(a + i + 1) and −t_i with t_i = 1/(a(a + 1)⋯(a + i)) (0 for i ≥ m), and
    log_poch = −log(a(a + 1)⋯(a + m − 1)). See ``_shift_down``."""
    index = torch.arange(steps, dtype=torch.float64, device=a.device)
    inv = (a.unsqueeze(-1) + index).reciprocal_()
    active = index < shift.unsqueeze(-1)
    t = torch.cumprod(torch.where(active, inv, 0.0), dim=-1)
    # ψ(a + i + 1) = ψ(a + 1) + Σ_{1 ≤ j ≤ i} 1/(a + j) (from ψ(a + 1), not ψ(a) + 1/a, which
    # cancels for small a)
    psi = torch.cumsum(inv, dim=-1).sub_(inv[..., :1]).add_(torch.digamma(a + 1).unsqueeze(-1))
    log_poch = torch.where(active, inv.log(), 0.0).sum(-1)
    return torch.stack((t * psi, t.neg())), log_poch


def _shift_polynomial_one(a: float, steps: int, psi_a1: float) -> tuple[list[float], float]:
    """:func:`_shift_polynomial` for one shape (ψ(a + 1) = ``psi_a1``) on Python floats: the
    coefficients t_i ψ(a + i + 1), then −t_i, as one list, and log_poch."""
    inv = [1.0 / (a + i) for i in range(steps)]
    t_psi, neg_t, product, partial = [], [], 1.0, 0.0
    for value in inv:
        product *= value
        partial += value
        t_psi.append(product * ((partial - inv[0]) + psi_a1))
        neg_t.append(-product)
    return t_psi + neg_t, sum(math.log(value) for value in inv)


def _series_terms(x_max: float, a_min: float, tol: float) -> int:
    """Terms of the series of P kept for z ≤ ``x_max`` and shapes ≥ ``a_min``: the n-th term
    is z/(a + n) times the previous one."""
    ratio, terms = 1.0, 1
    while ratio * (1.0 + terms) > tol * 1e-2 and terms < _MAX_TERMS:
        ratio *= x_max / (a_min + terms)
        terms += 1
    return terms


def _series_polynomial(a: Tensor, terms: int) -> Tensor:
    """Coefficients of S = Σ_n z^n/(a(a+1)⋯(a+n)) and of ∂S/∂a as polynomials in z, stacked:
    shape ``(2, *a.shape, terms)``."""
    index = torch.arange(terms, dtype=torch.float64, device=a.device)
    inv = (a.unsqueeze(-1) + index).reciprocal_()
    c = torch.cumprod(inv, dim=-1)
    return torch.stack((c, torch.cumsum(inv, dim=-1).mul_(c).neg_()))


def _series_polynomial_one(a: float, terms: int) -> list[list[float]]:
    """:func:`_series_polynomial` for one shape, on Python floats: [c, ∂c/∂a]."""
    c, dc, product, partial = [], [], 1.0, 0.0
    for n in range(terms):
        value = 1.0 / (a + n)
        product *= value
        partial += value
        c.append(product)
        dc.append(-(partial * product))
    return [c, dc]


# -- the fast path on the draws: Horner's rule in a few buffers ---------------------------------
def _horner(coefficients: Tensor, x: Tensor, out: Tensor | None = None) -> Tensor:
    """Σ_j coefficients[..., j] x^j by Horner's rule (coefficients broadcast against ``x``).

    One fused multiply-add per degree, written into one buffer (``out`` if given, of the
    broadcast shape; a new tensor otherwise). Coefficients of shape ``(2, ..., degree)``
    evaluate two polynomials at once.
    """
    columns = coefficients.unbind(-1)
    if len(columns) == 1:
        c0 = columns[0].expand(broadcast_shapes(columns[0].shape, x.shape))
        return c0.clone() if out is None else out.copy_(c0)
    acc = torch.addcmul(columns[-2], columns[-1], x, out=out)
    for column in reversed(columns[:-2]):
        torch.addcmul(column, acc, x, out=acc)
    return acc


def _shift_down(
    g: Tensor,
    lr: Tensor,
    log_a_up: Tensor | float,
    polynomial: tuple[Tensor, Tensor, Tensor],
    scratch: Tensor,
    acc: Tensor,
) -> Tensor:
    """d log z/dα at α = a from its value ``g`` at a' = a + m (overwritten with the result).

    Shapes below 8 are shifted up by m = ⌈8 − a⌉ with the recurrence
    P(a, z) = P(a + 1, z) + z^a e^{−z}/Γ(a + 1) differentiated in a: with
    t_i = z^i/(a(a + 1)⋯(a + i)),

        g(a, z) = g(a + m, z) · z^m/(a(a + 1)⋯(a + m − 1)) − Σ_{i<m} t_i (log z − ψ(a + i + 1)),

    a polynomial of degree m − 1 in z with coefficients linear in log z, evaluated by one
    Horner recurrence (two fused multiply-adds per degree). ``polynomial`` = (coefficients,
    log_poch, m) as from ``_shift_polynomial``; ``lr`` = log z − ``log_a_up`` is overwritten
    with log z, ``scratch`` and ``acc`` (of ``g``'s shape) too.
    """
    coefficients, log_poch, shift = polynomial
    lx = torch.add(lr, log_a_up, out=lr)
    x = torch.exp(lx, out=scratch)
    t_psi, neg_t = (row.unbind(-1) for row in coefficients.unbind(0))
    torch.addcmul(t_psi[-1], lx, neg_t[-1], out=acc)
    for i in range(len(t_psi) - 2, -1, -1):
        torch.addcmul(t_psi[i], acc, x, out=acc)
        torch.addcmul(acc, lx, neg_t[i], out=acc)
    ratio = torch.addcmul(log_poch, shift, lx, out=x).exp_()  # z^m/(a(a+1)⋯(a+m−1))
    return torch.addcmul(acc, ratio, g, out=g)


def _series(polynomial: Tensor, lx: Tensor, psi_a: Tensor | float) -> Tensor:
    """−(S (log z − ψ(a)) + ∂S/∂a) with S = Σ_n z^n/(a(a+1)⋯(a+n)) (the series of P, for small
    z), the coefficients of S and ∂S/∂a from ``_series_polynomial``; a new tensor."""
    x = lx.exp()
    s, ds = _horner(polynomial, x).unbind(0)
    shift = torch.sub(lx, psi_a, out=x)
    return torch.addcmul(ds, s, shift, out=ds).neg_()


def log_gamma_alpha_grad(
    alpha: Tensor,
    log_x: Tensor,
    *,
    tol: float | None = None,
) -> Tensor:
    """d log z / dα along the implicit path of Gamma(α, 1) at z = exp(log_x).

    Equals −(∂P(z; α)/∂α) / (z p(z; α)) (Figurnov et al. 2018, ∂z/∂α
    divided by z). ``alpha`` and ``log_x`` broadcast; computed in float64,
    returned in ``log_x``'s dtype. Every evaluation uses a number of terms
    fixed in advance (no iteration to convergence), chosen by l = log(z/a'),
    a' = α + m, m = max(0, ⌈8 − α⌉):

    - l < −2.5 (−2 for α < 8): the series of P in z;
    - −2.5 ≤ l ≤ 2.5 (for α < 8: −2 ≤ l ≤ 1, and Q(α, z) ≳ 3e-6): Temme's
      uniform expansion in 1/a' with Taylor coefficients in l
      (:func:`temme_coefficients`), brought down to α by the recurrence of P
      in its shape when α < 8 (``_shift_down``);
    - beyond (the far upper tail, rare): the continued fraction of Q
      (:func:`log_gamma_alpha_grad_series`).

    Relative error below 1e-10 against 40-digit values for α in [0.01, 1000]
    and every z (largest in the upper tail of small shapes; about 1e-13 for
    α ≥ 8; ``tests/test_implicit.py``). ``tol`` is the truncation tolerance:
    by default 1e-15 for float64 ``log_x`` and 1e-10 otherwise (as
    :func:`log_gamma_alpha_grad_series`), far below the rounding of a float32
    result (6e-8), which it changes by at most one unit in the last place.

    Up to 16 distinct shapes are handled one at a time, on their own entries
    and with their constants computed on Python floats; beyond, the
    coefficients broadcast.
    """
    if tol is None:
        tol = _TOL if log_x.dtype == torch.float64 else 1e-10
    shape = broadcast_shapes(alpha.shape, log_x.shape)
    a = _compact_shape(alpha, shape)
    if a.numel():
        check_positive(a, "alpha")
    log_x = log_x.detach().expand(shape)
    if a.numel() > _FEW_SHAPES:
        return _grad_broadcast(a, log_x.to(torch.float64), tol).to(log_x.dtype)
    out = torch.empty(shape, dtype=log_x.dtype, device=log_x.device)
    if out.numel() == 0:
        return out
    positions = itertools.product(*(range(size) for size in a.shape))
    for position, value in zip(positions, a.reshape(-1).tolist(), strict=True):
        sizes = zip(a.shape, position, strict=True)
        index = tuple(slice(None) if n == 1 else i for n, i in sizes)
        here = out[index]
        here.copy_(_grad_one_shape(value, log_x[index], tol).view(here.shape))
    return out


def _grad_one_shape(a: float, log_x: Tensor, tol: float) -> Tensor:
    """:func:`log_gamma_alpha_grad` in float64 for one shape ``a`` at log-draws ``log_x`` (any
    shape and floating dtype); flat.

    The shape's constants are computed on Python floats. Each method runs on its own entries
    only: those below and above Temme's window are gathered (``masked_select``) and
    scattered back. Four float64 buffers of ``log_x``'s size (one allocation) hold every
    intermediate result of the bulk; the result is the first.
    """
    n = log_x.numel()
    buffers = torch.empty((4, n), dtype=torch.float64, device=log_x.device)
    out, lx, u, scratch = buffers.unbind(0)
    lx.copy_(log_x.reshape(-1))
    steps = max(0, math.ceil(_A_TEMME - a))
    a_up = a + steps
    log_a_up = math.log(a_up)
    lower, upper = -_L_TEMME, _L_TEMME
    if steps:  # see _window
        lower = -_L_SHIFTED[0]
        upper = min(_log_tail_point_one(a) - log_a_up, _L_SHIFTED[1])
    low, high = (float(v) - log_a_up for v in torch.aminmax(lx))  # the range of l = log(z/a')
    # Temme's polynomial is re-expanded about the middle of the range it meets (of the whole
    # window if a NaN hides the range: the NaN entries stay NaN, the others exact)
    nan = math.isnan(low) or math.isnan(high)
    start, stop = (lower, upper) if nan else (max(low, lower), min(high, upper))
    center = 0.5 * (start + stop) if start <= stop else 0.0
    offset = log_a_up + center
    torch.sub(lx, offset, out=u)  # u = l − center
    lower, upper = lower - center, upper - center
    below = None if low - center >= lower else u < lower
    far = None if high - center <= upper else u > upper
    lx_below = None if below is None else lx.masked_select(below)
    lx_far = None if far is None else lx.masked_select(far)
    outside = sum(part.numel() for part in (lx_below, lx_far) if part is not None)
    psi_a, psi_a1 = torch.digamma(torch.tensor([a, a + 1.0], dtype=torch.float64)).tolist()
    if outside < n:  # Temme on the entries clamped into the window (lx is free: acc)
        if below is not None or far is not None:
            u.clamp_(lower, upper)
        temme = _temme_polynomial_one(a_up, center, 0.5 * (stop - start), tol)
        _horner(temme.to(out.device), u, out=out)
        if steps:
            coefficients, log_poch = _shift_polynomial_one(a, steps, psi_a1)
            values = torch.tensor([*coefficients, log_poch, steps], dtype=torch.float64)
            values = values.to(out.device)
            recurrence = (values[:-2].view(2, steps), values[-2], values[-1])
            _shift_down(out, u, offset, recurrence, scratch, acc=lx)
    if below is not None and lx_below is not None:
        x_max = math.exp(float(lx_below.amax()))
        series = _series_polynomial_one(a, _series_terms(x_max, a, tol))
        polynomial = torch.tensor(series, dtype=torch.float64).to(out.device).unsqueeze(1)
        out.masked_scatter_(below, _series(polynomial, lx_below, psi_a))
    if far is not None and lx_far is not None:
        out.masked_scatter_(far, _fraction_grad(torch.full_like(lx_far, a), lx_far, tol))
    return out


def _window(a: Tensor) -> tuple[Tensor, int, Tensor, Tensor | float, Tensor | float]:
    """(shift m, largest m, log a', lower, upper): the shift of the shapes ``a`` (float64, small)
    and the window lower ≤ l ≤ upper of Temme's expansion in l = log(z/a'), a' = a + m.

    Shifted shapes evaluate P-side sums, which cancel where Q = 1 − P is small (relative
    error about 1e-16/Q): their window also ends where Q falls to about 3e-6; beyond, the
    continued fraction of Q. Without shifted shapes the bounds are numbers.
    """
    steps = max(0, math.ceil(_A_TEMME - float(a.amin())))
    shift = torch.clamp_(torch.ceil(_A_TEMME - a), min=0.0)
    log_a_up = torch.log(a + shift)
    if not steps:
        return shift, 0, log_a_up, -_L_TEMME, _L_TEMME
    shifted = shift > 0
    tail = torch.clamp_(_log_tail_point(a) - log_a_up, max=_L_SHIFTED[1])
    lower = torch.where(shifted, -_L_SHIFTED[0], -_L_TEMME)
    return shift, steps, log_a_up, lower, torch.where(shifted, tail, _L_TEMME)


def _grad_broadcast(a: Tensor, lx: Tensor, tol: float) -> Tensor:
    """:func:`log_gamma_alpha_grad` in float64 for many shapes ``a`` (compacted, broadcasting
    to ``lx``, float64, not modified): the coefficients broadcast, each region's method is
    evaluated on the whole tensor and merged. A new tensor."""
    shape = lx.shape
    a_min = float(a.amin())
    shift, steps, log_a_up, lower, upper = _window(a)
    bounds = torch.tensor((-_L_TEMME, _L_TEMME), dtype=torch.float64, device=a.device)
    lower_t = bounds[0] if isinstance(lower, float) else lower
    upper_t = bounds[1] if isinstance(upper, float) else upper
    a_up_min, lower_min, upper_max = torch.stack(
        ((a + shift).amin(), lower_t.amin(), upper_t.amax())
    ).tolist()
    out = torch.empty(shape, dtype=torch.float64, device=a.device)
    lr, scratch, acc = torch.empty((3, *shape), dtype=torch.float64, device=a.device).unbind(0)
    torch.sub(lx, log_a_up, out=lr)
    low, high = (float(v) for v in torch.aminmax(lr))
    below = lr < lower_t
    far = lr > upper_t
    any_below, any_far = bool(below.any()), bool(far.any())
    if not bool((below | far).all()):
        # Temme everywhere (clamped into the window); the other regions overwrite their entries
        torch.minimum(torch.maximum(lr, lower_t, out=lr), upper_t, out=lr)
        span = max(-max(low, lower_min), min(high, upper_max))
        temme = _temme_polynomial(a + shift, _temme_degree(a_up_min, span, tol))
        _horner(temme, lr, out=out)
        if steps:
            coefficients, log_poch = _shift_polynomial(a, shift, steps)
            _shift_down(out, lr, log_a_up, (coefficients, log_poch, shift), scratch, acc)
    if any_below:  # the series on the whole tensor, then merged
        x_max = math.exp(float(torch.where(below, lx, -math.inf).amax()))
        torch.minimum(lx, log_a_up + lower_t, out=lr)
        series = _series(_series_polynomial(a, _series_terms(x_max, a_min, tol)), lr, a.digamma())
        out = torch.where(below, series, out)
    if any_far:
        idx_far = far.nonzero(as_tuple=True)
        out[idx_far] = _fraction_grad(a.expand(shape)[idx_far], lx[idx_far], tol)
    return out


class ImplicitLogGamma(torch.autograd.Function):
    """Identity on a log-Gamma draw, with the implicit gradient in α.

    ``forward(alpha, log_x)``: ``alpha`` and ``log_x`` of the same shape,
    ``log_x`` a draw of log Gamma(α, 1) made without gradient. ``backward``:
    the gradient in α is grad · d log z/dα.
    """

    @staticmethod
    def forward(alpha: Tensor, log_x: Tensor) -> Tensor:
        return log_x.clone()

    @staticmethod
    def setup_context(
        ctx: Any,
        inputs: tuple[Tensor, Tensor],
        output: Tensor,
    ) -> None:
        alpha, log_x = inputs
        ctx.save_for_backward(alpha, log_x)

    @staticmethod
    def backward(
        ctx: Any,
        grad_output: Tensor,
    ) -> tuple[Tensor | None, None]:
        alpha, log_x = ctx.saved_tensors
        if not ctx.needs_input_grad[0]:
            return None, None
        # a new tensor, so it can be multiplied in place
        d_log_z = log_gamma_alpha_grad(alpha, log_x).to(grad_output.dtype)
        return d_log_z.mul_(grad_output), None


def implicit_log_gamma(alpha: Tensor, log_x: Tensor) -> Tensor:
    """Attach the implicit gradient: returns ``log_x`` (values) differentiable in ``alpha``.

    ``alpha`` broadcasts to ``log_x``'s shape (gradients are summed back by autograd).
    """
    expanded = alpha.expand(log_x.shape) if alpha.shape != log_x.shape else alpha
    out: Tensor = ImplicitLogGamma.apply(expanded, log_x.detach())
    return out


def log_standard_gamma_rsample(
    alpha: Tensor, num_samples: int, *, generator: torch.Generator | None = None
) -> Tensor:
    """Reparameterized draws of log G, G ~ Gamma(alpha, 1): shape ``(num_samples, *alpha.shape)``.

    Values by Marsaglia–Tsang, gradient in ``alpha`` by implicit reparameterization.
    ``alpha`` must be finite and strictly positive, ``num_samples`` at least 1.
    """
    num_samples = check_num_samples(num_samples)
    alpha = as_tensor(alpha, "alpha")
    if alpha.numel():
        _check_shapes(alpha, "alpha")
    expanded = alpha.expand(num_samples, *alpha.shape)
    return implicit_log_gamma(expanded, gamma_log_draw(expanded, generator))


# -- the Gamma entry ------------------------------------------------------------------------
def _gamma_noise(
    num_samples: int, p: Params, generator: torch.Generator | None, batch: torch.Size
) -> Tensor:
    dtype, _ = noise_like(p)  # in the promoted dtype: the rate may be wider than α
    alpha = p["concentration"].detach().to(dtype).expand(num_samples, *batch)
    return gamma_log_draw(alpha, generator)


def gamma_path(log_x: Tensor, p: Params) -> Tensor:
    """z = G / β with log G carrying the implicit gradient in α; kept in [tiny, max] (for
    small α, G underflows to 0 in floating point: see ``exp_in_range``)."""
    return positive_finite(exp_in_range(implicit_log_gamma(p["concentration"], log_x)) / p["rate"])


def _gamma_log_density(z: Tensor, concentration: Tensor, rate: Tensor) -> Tensor:
    """Gamma log-density for checked parameters: −inf for z < 0; at z = 0 as scipy
    ((α − 1) log z with 0 · log 0 = 0: +inf, log β or −inf for α below, at or above 1)."""
    if strictly_inside(z, 0.0, math.inf):  # the common case: no clamp, no mask, no xlogy
        constant = concentration * rate.log() - torch.lgamma(concentration)
        return torch.addcmul(constant, concentration - 1, z.log()).sub_(rate * z)
    zs = z.clamp(min=0)
    log_density = (
        concentration * rate.log()
        + torch.xlogy(concentration - 1, zs)
        - rate * zs
        - torch.lgamma(concentration)
    )
    return torch.where(z < 0, -math.inf, log_density)


def gamma_log_prob(
    z: Tensor | float, concentration: Tensor | float, rate: Tensor | float
) -> Tensor:
    """log density of Gamma(concentration α, rate β) at z; shapes broadcast.

    α and β must be finite and strictly positive (``ValueError`` naming them); ``z`` is any
    real tensor or number: −inf below 0, and at 0 as ``scipy.stats.gamma`` (+inf, log β or
    −inf for α below, at or above 1). Computed in the dtype the three promote to (as
    ``torch.distributions.utils.broadcast_all``; numbers alone: the default dtype).
    """
    promoted = as_tensors({"z": z, "concentration": concentration, "rate": rate}, cast=True)
    z_t, alpha, beta = promoted["z"], promoted["concentration"], promoted["rate"]
    check_finite_and_positive({}, {"concentration": alpha, "rate": beta})
    check_broadcast(z=z_t.shape, concentration=alpha.shape, rate=beta.shape)
    return _gamma_log_density(z_t, alpha, beta)


def _gamma_log_prob(z: Tensor, p: Params) -> Tensor:
    return _gamma_log_density(z, p["concentration"], p["rate"])


#: The Gamma row of the catalog (implicit gradients in the shape, pathwise in the rate).
GAMMA = CatalogEntry(
    key="gamma",
    name="Gamma",
    approach="implicit",
    distribution=PathReparameterization(
        name="Gamma",
        parameters=(Parameter("concentration", positive), Parameter("rate", positive)),
        noise=_gamma_noise,
        path=gamma_path,
        density=_gamma_log_prob,
    ),
    base=r"G \sim \mathrm{Gamma}(\alpha, 1)\ \text{(Marsaglia–Tsang)}",
    formula=r"z = G/\beta,\ \ \frac{\partial G}{\partial\alpha} = "
    r"-\frac{\partial_\alpha F(G; \alpha)}{p(G; \alpha)}",
    constraints=r"\alpha > 0,\ \beta > 0",
    example={"concentration": 2.5, "rate": 1.5},
    moment=Moment(
        r"\mathbb{E}[z] = \alpha/\beta",
        lambda z: z,
        lambda p: p["concentration"] / p["rate"],
    ),
    cdf=lambda z, p: torch.special.gammainc(p["concentration"], p["rate"] * z.clamp(min=0)),
    torch_distribution=lambda p: D.Gamma(p["concentration"], p["rate"]),
    kingma_welling="composition",
    implicit=("concentration",),
    notes="real shape; the Erlang row is the integer-shape special case",
    known_errors=(
        KnownError(
            claim="Gamma as a composition: a sum of exponentials",
            problem="holds only for integer shape (the Erlang row); rounding a real shape "
            "changes the distribution",
            fix="implicit reparameterization for real shape",
        ),
    ),
)
