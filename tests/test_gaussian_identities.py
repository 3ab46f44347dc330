"""Bonnet's and Price's theorems against quadrature, finite differences and Monte Carlo."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
import torch

from reparam import gaussian_identities as gi
from reparam.gaussian_identities import Convention

LOC = [0.5, -0.3]
COV = [[1.0, 0.4], [0.4, 0.8]]
A = [[1.0, 2.0], [0.0, 3.0]]  # deliberately not symmetric
B = [1.0, -1.0]
K = [[1.2, 0.3], [0.3, 0.7]]


def quadrature_expectation(
    function: Callable[[np.ndarray], np.ndarray], loc: np.ndarray, cov: np.ndarray, degree: int = 40
) -> float:
    """E_{N(loc, cov)}[function(x)] by a tensor-product Gauss–Hermite rule on x = loc + L z.

    Independent of the package: numpy's probabilists' Hermite nodes, float64 throughout.
    """
    nodes, weights = np.polynomial.hermite_e.hermegauss(degree)
    weights = weights / math.sqrt(2 * math.pi)
    z1, z2 = np.meshgrid(nodes, nodes, indexing="ij")
    w = np.outer(weights, weights).ravel()
    z = np.stack([z1.ravel(), z2.ravel()], axis=-1)
    chol = np.linalg.cholesky(0.5 * (cov + cov.T))
    x = loc + z @ chol.T
    return float(np.sum(w * function(x)))


def np_quadratic(x: np.ndarray) -> np.ndarray:
    a, b = np.array(A), np.array(B)
    return np.einsum("ni,ij,nj->n", x, a, x) + x @ b + 0.5


def np_exp_quadratic(x: np.ndarray) -> np.ndarray:
    k = np.array(K)
    return np.exp(-0.5 * np.einsum("ni,ij,nj->n", x, k, x))


COSTS = {
    "quadratic": (lambda: gi.quadratic_form_cost(A, B, 0.5), np_quadratic),
    "exp_quadratic": (lambda: gi.exp_quadratic_form_cost(K), np_exp_quadratic),
}


@pytest.fixture(autouse=True)
def _double_precision() -> Iterator[None]:
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


@pytest.mark.parametrize("name", sorted(COSTS))
@pytest.mark.parametrize(
    ("loc", "cov"),
    [(LOC, COV), ([0.0, 0.0], [[1.0, 0.0], [0.0, 1.0]]), ([1.5, 0.7], [[0.5, -0.3], [-0.3, 2.0]])],
)
def test_closed_form_matches_quadrature(
    name: str, loc: list[float], cov: list[list[float]]
) -> None:
    make, np_function = COSTS[name]
    cost = make()
    closed = cost.expectation(torch.tensor(loc), torch.tensor(cov)).item()
    assert closed == pytest.approx(
        quadrature_expectation(np_function, np.array(loc), np.array(cov)), rel=1e-10
    )


def _finite_differences(
    np_function: Callable[[np.ndarray], np.ndarray],
    loc: list[float],
    cov: list[list[float]],
    convention: str,
    step: float = 1e-5,
) -> tuple[np.ndarray, np.ndarray]:
    """Central differences of the quadrature expectation: (d_loc, d_cov) in ``convention``."""
    loc_a, cov_a = np.array(loc, dtype=float), np.array(cov, dtype=float)

    def value(m: np.ndarray, s: np.ndarray) -> float:
        return quadrature_expectation(np_function, m, s)

    d_loc = np.zeros(2)
    for i in range(2):
        e = np.zeros(2)
        e[i] = step
        d_loc[i] = (value(loc_a + e, cov_a) - value(loc_a - e, cov_a)) / (2 * step)
    d_cov = np.zeros((2, 2))
    for i in range(2):
        for j in range(2):
            direction = np.zeros((2, 2))
            if i == j:
                direction[i, i] = 1.0
            elif convention == "tied":  # one variable in both positions
                direction[i, j] = direction[j, i] = 1.0
            else:  # Σ_ij alone moves; the density sees the symmetric part
                direction[i, j] = direction[j, i] = 0.5
            d_cov[i, j] = (
                value(loc_a, cov_a + step * direction) - value(loc_a, cov_a - step * direction)
            ) / (2 * step)
    return d_loc, d_cov


@pytest.mark.parametrize("name", sorted(COSTS))
@pytest.mark.parametrize("convention", ["untied", "tied"])
def test_exact_gradients_match_finite_differences(name: str, convention: Convention) -> None:
    make, np_function = COSTS[name]
    d_loc, d_cov = gi.exact_gaussian_gradients(make(), LOC, COV, convention=convention)
    fd_loc, fd_cov = _finite_differences(np_function, LOC, COV, convention)
    np.testing.assert_allclose(d_loc.numpy(), fd_loc, atol=1e-7)
    np.testing.assert_allclose(d_cov.numpy(), fd_cov, atol=1e-7)


def test_price_for_a_quadratic_is_half_the_hessian_and_tied_drops_the_half() -> None:
    a = torch.tensor(A)
    hessian = a + a.T
    _, untied = gi.exact_gaussian_gradients(gi.quadratic_form_cost(A, B), LOC, COV)
    _, tied = gi.exact_gaussian_gradients(gi.quadratic_form_cost(A, B), LOC, COV, convention="tied")
    torch.testing.assert_close(untied, 0.5 * hessian)
    assert tied[0, 1] == pytest.approx(hessian[0, 1].item())  # no ½ off the diagonal
    assert tied[0, 0] == pytest.approx(0.5 * hessian[0, 0].item())  # ½ on the diagonal


def test_tied_gradient_equals_derivative_through_a_shared_variable() -> None:
    cost = gi.exp_quadratic_form_cost(K)
    shared = torch.tensor(COV[0][1], requires_grad=True)
    cov = torch.stack(
        [
            torch.stack([torch.tensor(COV[0][0]), shared]),
            torch.stack([shared, torch.tensor(COV[1][1])]),
        ]
    )
    cost.expectation(torch.tensor(LOC), cov).backward()
    _, tied = gi.exact_gaussian_gradients(cost, LOC, COV, convention="tied")
    assert shared.grad is not None
    assert tied[0, 1].item() == pytest.approx(shared.grad.item(), rel=1e-12)
    assert tied[1, 0].item() == pytest.approx(shared.grad.item(), rel=1e-12)


def test_tie_and_untie_are_inverse_and_batched() -> None:
    generator = torch.Generator().manual_seed(0)
    g = torch.randn(5, 3, 3, generator=generator)
    g = g + g.mT
    tied = gi.tie_gradient(g)
    torch.testing.assert_close(torch.diagonal(tied, dim1=-2, dim2=-1), torch.diagonal(g, 0, -2, -1))
    torch.testing.assert_close(tied[:, 0, 1], 2 * g[:, 0, 1])
    torch.testing.assert_close(gi.untie_gradient(tied), g)
    with pytest.raises(ValueError, match=r"^untied must be a square matrix"):
        gi.tie_gradient(torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"^tied must be a square matrix"):
        gi.untie_gradient(torch.zeros(2, 3))


def _within_standard_errors(per_sample: torch.Tensor, exact: torch.Tensor, k: float = 5.0) -> None:
    # The standard error (sample std / sqrt(N)) is computed here, not by the package.
    n = per_sample.shape[0]
    error = (per_sample.mean(0) - exact).abs()
    bound = k * per_sample.std(0) / math.sqrt(n) + 1e-12
    assert bool((error <= bound).all()), f"error {error} exceeds {k} standard errors {bound}"


@pytest.mark.parametrize("convention", ["untied", "tied"])
def test_monte_carlo_estimators_agree_with_exact(convention: Convention) -> None:
    cost = gi.exp_quadratic_form_cost(K)
    d_loc, d_cov = gi.exact_gaussian_gradients(cost, LOC, COV, convention=convention)
    n = 20_000
    bonnet = gi.bonnet_gradient(cost, LOC, COV, n, generator=torch.Generator().manual_seed(1))
    price = gi.price_gradient(
        cost, LOC, COV, n, generator=torch.Generator().manual_seed(2), convention=convention
    )
    path = gi.cholesky_pathwise_gradients(
        cost, LOC, COV, n, generator=torch.Generator().manual_seed(3), convention=convention
    )
    assert bonnet.shape == (n, 2) and price.shape == (n, 2, 2)
    assert path["loc"].shape == (n, 2) and path["cov"].shape == (n, 2, 2)
    _within_standard_errors(bonnet, d_loc)
    _within_standard_errors(price, d_cov)
    _within_standard_errors(path["loc"], d_loc)
    _within_standard_errors(path["cov"], d_cov)


def test_price_estimator_is_exact_for_a_quadratic() -> None:
    cost = gi.quadratic_form_cost(A, B)
    per_sample = gi.price_gradient(cost, LOC, COV, 7, generator=torch.Generator().manual_seed(0))
    a = torch.tensor(A)
    torch.testing.assert_close(per_sample, (0.5 * (a + a.T)).expand(7, 2, 2))


def test_one_dimensional_price_matches_the_cosine_closed_form() -> None:
    # E[cos(k x)] = cos(k m) exp(-k² s / 2) for x ~ N(m, s): ∂/∂s = -(k²/2) E, = ½ E[f''].
    k, m, s = 1.3, 0.4, 0.7
    cost = gi.MultivariateGaussianCost(
        "cosine",
        lambda x: torch.cos(k * x[..., 0]),
        lambda loc, cov: torch.cos(k * loc[0]) * torch.exp(-0.5 * k**2 * cov[0, 0]),
        1,
    )
    exact = -0.5 * k**2 * math.cos(k * m) * math.exp(-0.5 * k**2 * s)
    _, d_cov = gi.exact_gaussian_gradients(cost, [m], [[s]])
    assert d_cov.item() == pytest.approx(exact, rel=1e-12)
    price = gi.price_gradient(cost, [m], [[s]], 20_000, generator=torch.Generator().manual_seed(4))
    _within_standard_errors(price, torch.tensor([[exact]]))


def test_outputs_follow_dtype_and_seed(dtype: torch.dtype) -> None:
    cost = gi.exp_quadratic_form_cost(K)
    loc = torch.tensor(LOC, dtype=dtype)
    cov = torch.tensor(COV, dtype=dtype)
    first = gi.cholesky_pathwise_gradients(
        cost, loc, cov, 50, generator=torch.Generator().manual_seed(9)
    )
    second = gi.cholesky_pathwise_gradients(
        cost, loc, cov, 50, generator=torch.Generator().manual_seed(9)
    )
    assert first["cov"].dtype == dtype and first["loc"].dtype == dtype
    torch.testing.assert_close(first["cov"], second["cov"])
    x, eps = gi.gaussian_rsample(loc, cov, 4, generator=torch.Generator().manual_seed(9))
    assert x.dtype == dtype and eps.shape == (4, 2)
    price = gi.price_gradient(cost, loc, cov, 3, generator=torch.Generator().manual_seed(9))
    assert price.dtype == dtype


def test_rsample_has_the_right_covariance() -> None:
    x, _ = gi.gaussian_rsample(LOC, COV, 200_000, generator=torch.Generator().manual_seed(5))
    empirical = torch.cov(x.T)
    # Standard error of a sample covariance entry is about sqrt((s_ii s_jj + s_ij²) / N).
    torch.testing.assert_close(empirical, torch.tensor(COV), atol=0.02, rtol=0)
    torch.testing.assert_close(x.mean(0), torch.tensor(LOC), atol=0.01, rtol=0)


@pytest.mark.parametrize(
    ("loc", "cov", "message"),
    [
        ([0.0, 0.0], [[1.0, 0.5], [0.4, 1.0]], "symmetric"),
        ([0.0, 0.0], [[1.0, 2.0], [2.0, 1.0]], "positive definite"),
        ([0.0, 0.0, 0.0], [[1.0, 0.0], [0.0, 1.0]], "match loc"),
        ([[0.0]], [[1.0]], "loc must have shape"),
        ([float("nan"), 0.0], [[1.0, 0.0], [0.0, 1.0]], "loc must be finite"),
        ([0.0, 0.0], [[1.0, float("inf")], [float("inf"), 1.0]], "^cov must be finite"),
    ],
)
def test_invalid_gaussians_are_rejected(
    loc: list[float], cov: list[list[float]], message: str
) -> None:
    loc_t = torch.tensor(loc)
    with pytest.raises(ValueError, match=message):
        gi.exact_gaussian_gradients(gi.quadratic_form_cost(A), loc_t, cov)


def test_invalid_arguments_are_rejected() -> None:
    cost = gi.quadratic_form_cost(A)
    with pytest.raises(ValueError, match="convention"):
        gi.exact_gaussian_gradients(cost, LOC, COV, convention="both")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="num_samples"):
        gi.bonnet_gradient(cost, LOC, COV, 0)
    with pytest.raises(TypeError, match="generator"):
        gi.price_gradient(cost, LOC, COV, 3, generator=0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="cost"):
        gi.cholesky_pathwise_gradients(None, LOC, COV, 3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"shape \(N,\)"):
        gi.bonnet_gradient(lambda x: x, LOC, COV, 3)
    with pytest.raises(ValueError, match="dimension"):
        gi.exact_gaussian_gradients(cost, [0.0], [[1.0]])
    with pytest.raises(ValueError, match="square"):
        gi.quadratic_form_cost([[1.0, 2.0]])
    with pytest.raises(ValueError, match="symmetric"):
        gi.exp_quadratic_form_cost([[1.0, 0.2], [0.0, 1.0]])
    with pytest.raises(ValueError, match="semi-definite"):
        gi.exp_quadratic_form_cost([[1.0, 0.0], [0.0, -1.0]])
    # The tolerance: eigenvalues down to −1e-12 · max(1, max |K_ij|) count as zero.
    at_tolerance = torch.tensor([[1.0, 0.0], [0.0, -1e-12]], dtype=torch.float64)
    assert gi.exp_quadratic_form_cost(at_tolerance).dim == 2
    with pytest.raises(ValueError, match="semi-definite"):
        gi.exp_quadratic_form_cost(torch.tensor([[1.0, 0.0], [0.0, -1e-11]], dtype=torch.float64))
    with pytest.raises(ValueError, match="vector"):
        gi.quadratic_form_cost(A, [1.0, 2.0, 3.0])
    # Each message starts with the name of the bad argument.
    with pytest.raises(TypeError, match=r"^cost must be a MultivariateGaussianCost"):
        gi.exact_gaussian_gradients(lambda x: x.sum(-1), LOC, COV)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^precision must be a square"):
        gi.exp_quadratic_form_cost([[1.0, 2.0]])
    with pytest.raises(ValueError, match=r"^matrix must be a square"):
        gi.quadratic_form_cost([[1.0, 2.0]])
    for estimator in (gi.bonnet_gradient, gi.price_gradient, gi.cholesky_pathwise_gradients):
        with pytest.raises(TypeError, match=r"^generator must be"):
            estimator(cost, LOC, COV, 3, generator=0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^generator must be"):
        gi.gaussian_rsample(LOC, COV, 3, generator=0)  # type: ignore[arg-type]


def test_samplers_agree_on_the_error_of_a_doubly_bad_call() -> None:
    """Given a bad generator *and* a bad Gaussian, the four samplers of the module report the
    same error: each checks its scalar arguments (the generator among them) before it
    factorises the covariance, so no sampler's error depends on which check it left to
    the noise it draws."""
    cost = gi.quadratic_form_cost(A)
    bad_cov = [[1.0, 0.5], [0.4, 1.0]]  # not symmetric
    bad_generator: Any = 0
    calls: list[Callable[[], object]] = [
        lambda: gi.gaussian_rsample(LOC, bad_cov, 3, generator=bad_generator),
        lambda: gi.bonnet_gradient(cost, LOC, bad_cov, 3, generator=bad_generator),
        lambda: gi.price_gradient(cost, LOC, bad_cov, 3, generator=bad_generator),
        lambda: gi.cholesky_pathwise_gradients(cost, LOC, bad_cov, 3, generator=bad_generator),
    ]
    message = r"^generator must be a torch.Generator or None, got int$"
    for call in calls:
        with pytest.raises(TypeError, match=message):
            call()


def test_a_cost_of_the_wrong_shape_is_named() -> None:
    """A cost returning one value per coordinate (shape (N, d)) instead of one per draw."""
    message = r"^cost must map draws of shape \(N, d\) to shape \(N,\), got \(3, 2\)$"
    for estimator in (gi.bonnet_gradient, gi.price_gradient, gi.cholesky_pathwise_gradients):
        with pytest.raises(ValueError, match=message):
            estimator(lambda x: x, LOC, COV, 3)
