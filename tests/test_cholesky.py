# The bad-input cases pass ill-typed values on purpose.
# mypy: disable-error-code="arg-type"
"""reparam.cholesky: the unconstrained Cholesky factor and exact Gaussian KL gradients.

Oracles: torch's ``LowerCholeskyTransform`` and ``kl_divergence`` between two
``MultivariateNormal``s (values and autograd gradients), central finite differences, the
Monte Carlo pathwise gradient with a tolerance from its own standard error, and the
two-dimensional mean-field optimum worked by hand.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.distributions import MultivariateNormal, constraints, kl_divergence, transform_to

from reparam import cholesky

F64 = torch.float64


def random_q(seed: int, dim: int = 4, batch: tuple[int, ...] = ()) -> tuple[torch.Tensor, ...]:
    gen = torch.Generator().manual_seed(seed)
    loc = torch.randn(*batch, dim, generator=gen, dtype=F64)
    raw = torch.randn(*batch, dim, dim, generator=gen, dtype=F64)
    return loc, cholesky.scale_tril(raw)


def random_target(seed: int, dim: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    a = torch.randn(dim, dim, generator=gen, dtype=F64)
    precision = a @ a.T + 0.5 * torch.eye(dim, dtype=F64)
    return torch.randn(dim, generator=gen, dtype=F64), precision


@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_exp_diagonal_is_torchs_lower_cholesky_transform(dtype: torch.dtype) -> None:
    raw = torch.randn(3, 5, 5, generator=torch.Generator().manual_seed(0), dtype=dtype)
    tril = cholesky.scale_tril(raw)
    assert tril.dtype == dtype
    assert torch.equal(tril, transform_to(constraints.lower_cholesky)(raw))


def test_softplus_diagonal_and_the_ignored_upper_triangle() -> None:
    raw = torch.randn(4, 4, generator=torch.Generator().manual_seed(1), dtype=F64)
    raw.requires_grad_()
    tril = cholesky.scale_tril(raw, diagonal="softplus")
    torch.testing.assert_close(tril.diagonal(), F.softplus(raw.detach().diagonal()))
    torch.testing.assert_close(tril.tril(-1), raw.detach().tril(-1))
    assert torch.equal(tril.triu(1), torch.zeros(4, 4, dtype=F64))
    (grad,) = torch.autograd.grad(tril.sum(), raw)
    assert torch.equal(grad.triu(1), torch.zeros(4, 4, dtype=F64))  # upper entries: no effect
    torch.testing.assert_close(grad.diagonal(), torch.sigmoid(raw.detach().diagonal()))


@pytest.mark.parametrize("diagonal", cholesky.DIAGONALS)
def test_unconstrained_inverts_scale_tril_even_for_extreme_scales(diagonal: str) -> None:
    tril = torch.diag(torch.tensor([1e-8, 1e-3, 1.0, 40.0, 700.0], dtype=F64))
    tril[3, 1] = -2.5
    raw = cholesky.unconstrained(tril, diagonal=diagonal)
    assert torch.isfinite(raw).all()
    torch.testing.assert_close(
        cholesky.scale_tril(raw, diagonal=diagonal), tril, rtol=1e-12, atol=0
    )


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(
        st.floats(-20, 20, allow_nan=False, allow_infinity=False), min_size=9, max_size=9
    ),
    diagonal=st.sampled_from(cholesky.DIAGONALS),
)
def test_any_real_matrix_gives_a_cholesky_factor(values: list[float], diagonal: str) -> None:
    raw = torch.tensor(values, dtype=F64).reshape(3, 3)
    tril = cholesky.scale_tril(raw, diagonal=diagonal)
    assert (tril.diagonal() > 0).all()
    assert torch.equal(tril, tril.tril())
    back = cholesky.unconstrained(tril, diagonal=diagonal)
    torch.testing.assert_close(back, raw.tril(), rtol=1e-9, atol=1e-9)


def test_kl_is_torchs_for_a_batch() -> None:
    loc, tril = random_q(2, batch=(3,))
    target_loc, precision = random_target(3)
    ours = cholesky.gaussian_kl(loc, tril, target_loc, precision)
    target = MultivariateNormal(target_loc, precision_matrix=precision)
    theirs = kl_divergence(MultivariateNormal(loc, scale_tril=tril), target)
    assert ours.shape == (3,)
    torch.testing.assert_close(ours, theirs, rtol=1e-10, atol=1e-10)


def test_gradients_are_autograds_of_torchs_kl_and_finite_differences() -> None:
    loc, tril = random_q(4)
    target_loc, precision = random_target(5)
    exact = cholesky.gaussian_kl_gradients(loc, tril, target_loc, precision)
    loc_v = loc.clone().requires_grad_()
    tril_v = tril.clone().requires_grad_()
    target = MultivariateNormal(target_loc, precision_matrix=precision)
    kl = kl_divergence(MultivariateNormal(loc_v, scale_tril=tril_v), target)
    grad_loc, grad_tril = torch.autograd.grad(kl, [loc_v, tril_v])
    torch.testing.assert_close(exact["loc"], grad_loc, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(exact["scale_tril"], grad_tril.tril(), rtol=1e-9, atol=1e-9)
    assert torch.equal(exact["scale_tril"].triu(1), torch.zeros(4, 4, dtype=F64))
    # central differences on every free entry of L
    step = 1e-6
    for i in range(4):
        for j in range(i + 1):
            up, down = tril.clone(), tril.clone()
            up[i, j] += step
            down[i, j] -= step
            difference = cholesky.gaussian_kl(
                loc, up, target_loc, precision
            ) - cholesky.gaussian_kl(loc, down, target_loc, precision)
            assert abs(float(difference) / (2 * step) - float(exact["scale_tril"][i, j])) < 1e-6


def test_pathwise_gradient_is_unbiased_for_the_closed_form() -> None:
    """The chapter's estimator: u = ∇_z KL-integrand at z = μ + Lε, tril(u εᵀ) − diag(1/L)."""
    loc, tril = random_q(6, dim=3)
    target_loc, precision = random_target(7, dim=3)
    exact = cholesky.gaussian_kl_gradients(loc, tril, target_loc, precision)
    eps = torch.randn(20000, 3, generator=torch.Generator().manual_seed(8), dtype=F64)
    z = loc + eps @ tril.T
    u = (z - target_loc) @ precision  # −∇_z log p(z) for p = N(m, Λ⁻¹)
    per_tril = (u[:, :, None] * eps[:, None, :]).tril() - torch.diag(tril.diagonal().reciprocal())
    for draws, truth in ((u, exact["loc"]), (per_tril, exact["scale_tril"])):
        mean = draws.mean(0)
        error = draws.std(0) / math.sqrt(len(draws))
        free = error > 0
        assert ((mean - truth).abs()[free] < 4.5 * error[free]).all()
        assert torch.equal(mean[~free], truth[~free])  # the upper triangle: exactly zero


def test_mean_field_optimum_for_two_correlated_coordinates() -> None:
    r = 0.8
    cov = torch.tensor([[1.0, r], [r, 1.0]], dtype=F64)
    best = cholesky.mean_field_optimum(torch.tensor([0.5, -1.0], dtype=F64), torch.linalg.inv(cov))
    torch.testing.assert_close(best["scale"], torch.full((2,), math.sqrt(1 - r**2), dtype=F64))
    assert abs(float(best["kl"]) + 0.5 * math.log(1 - r**2)) < 1e-12


def test_mean_field_optimum_is_a_stationary_point_and_beats_other_diagonals() -> None:
    target_loc, precision = random_target(9, dim=5)
    best = cholesky.mean_field_optimum(target_loc, precision)
    tril = torch.diag(best["scale"])
    grads = cholesky.gaussian_kl_gradients(best["loc"], tril, target_loc, precision)
    assert grads["loc"].abs().max() < 1e-10
    assert grads["scale_tril"].diagonal().abs().max() < 1e-10  # the free entries of a diagonal L
    kl = cholesky.gaussian_kl(best["loc"], tril, target_loc, precision)
    torch.testing.assert_close(kl, best["kl"], rtol=1e-12, atol=1e-12)
    gen = torch.Generator().manual_seed(10)
    for _ in range(20):
        other = torch.diag(
            best["scale"] * torch.exp(0.3 * torch.randn(5, generator=gen, dtype=F64))
        )
        shifted = best["loc"] + 0.1 * torch.randn(5, generator=gen, dtype=F64)
        assert cholesky.gaussian_kl(shifted, other, target_loc, precision) > kl


def test_results_follow_the_inputs_dtype() -> None:
    loc, tril = (t.float() for t in random_q(11))
    target_loc, precision = (t.float() for t in random_target(12))
    assert cholesky.gaussian_kl(loc, tril, target_loc, precision).dtype == torch.float32
    grads = cholesky.gaussian_kl_gradients(loc, tril, target_loc, precision)
    assert {g.dtype for g in grads.values()} == {torch.float32}
    assert cholesky.mean_field_optimum(target_loc, precision)["kl"].dtype == torch.float32


def test_bad_input_names_the_parameter() -> None:
    loc, tril = random_q(13, dim=3)
    target_loc, precision = random_target(14, dim=3)
    with pytest.raises(ValueError, match=r"^raw must be a square matrix"):
        cholesky.scale_tril(torch.ones(2, 3))
    with pytest.raises(TypeError, match=r"^raw must be a floating-point"):
        cholesky.scale_tril(torch.ones(2, 2, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"^raw must be finite"):
        cholesky.scale_tril(torch.tensor([[1.0, 0.0], [math.nan, 1.0]]))
    with pytest.raises(ValueError, match=r"^diagonal must be one of"):
        cholesky.scale_tril(torch.eye(2), diagonal="square")
    with pytest.raises(ValueError, match=r"^scale_tril must be lower triangular"):
        cholesky.unconstrained(torch.ones(2, 2))
    with pytest.raises(ValueError, match=r"^scale_tril must have a strictly positive diagonal"):
        cholesky.unconstrained(torch.diag(torch.tensor([1.0, 0.0])))
    with pytest.raises(ValueError, match=r"^scale_tril must have shape \(\.\.\., 3, 3\)"):
        cholesky.gaussian_kl(loc, torch.eye(2, dtype=F64), target_loc, precision)
    with pytest.raises(ValueError, match=r"^target_loc must have shape \(3,\)"):
        cholesky.gaussian_kl(loc, tril, target_loc[:2], precision)
    with pytest.raises(ValueError, match=r"^target_precision must have shape \(3, 3\)"):
        cholesky.gaussian_kl(loc, tril, target_loc, precision[:2, :2])
    asymmetric = precision.clone()
    asymmetric[0, 1] += 1.0
    with pytest.raises(ValueError, match=r"^target_precision must be symmetric"):
        cholesky.gaussian_kl_gradients(loc, tril, target_loc, asymmetric)
    with pytest.raises(ValueError, match=r"^target_precision must be positive definite"):
        cholesky.mean_field_optimum(target_loc, -precision)
    with pytest.raises(ValueError, match=r"^loc must be finite"):
        cholesky.gaussian_kl(torch.full((3,), math.inf, dtype=F64), tril, target_loc, precision)
    with pytest.raises(TypeError, match=r"^loc and scale_tril must share one dtype"):
        cholesky.gaussian_kl(loc.float(), tril, target_loc, precision)
    with pytest.raises(ValueError, match=r"^target_loc must have shape \(D,\)"):
        cholesky.mean_field_optimum(torch.zeros((), dtype=F64), precision)
