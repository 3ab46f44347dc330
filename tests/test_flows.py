"""reparam.flows and reparam.book.flows (chapter "Normalizing flows").

Oracles: autograd's Jacobian with ``torch.linalg.slogdet`` for every log-determinant,
``scipy.optimize.brentq`` for the inverse of a one-dimensional layer, numerical integration
of the density (it must integrate to one), ``torch.distributions`` for the Gaussian case and
its KL divergence, ``scipy.integrate.dblquad`` for the target's normalizing constant, and the
exact gradient of the ELBO by quadrature for the pathwise estimate. Monte Carlo checks use
standard errors computed here, |z| < 4.5.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.integrate
import scipy.optimize
import scipy.stats
import torch
import torch.distributions as dist
from hypothesis import given, settings
from hypothesis import strategies as st

from reparam import flows
from reparam.book.flows import Banana, exact_elbo, fit_flow

Z_LIMIT = 4.5

pytestmark = pytest.mark.usefixtures("double_precision")


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def random_layer(dim: int, seed: int, scale: float = 1.0) -> flows.PlanarTransform:
    g = gen(seed)
    w = scale * torch.randn(dim, generator=g)
    u = scale * torch.randn(dim, generator=g)
    b = torch.randn((), generator=g)
    return flows.PlanarTransform(w, u, b)


def random_flow(dim: int, layers: int, seed: int) -> flows.PlanarFlow:
    flow = flows.PlanarFlow(dim, layers, init_scale=1.0, generator=gen(seed))
    with torch.no_grad():
        flow.loc.copy_(torch.randn(dim, generator=gen(seed + 1000)))
        flow.log_scale.copy_(0.3 * torch.randn(dim, generator=gen(seed + 2000)))
        flow.b.copy_(torch.randn(layers, generator=gen(seed + 3000)))
    return flow


# -- the constraint ----------------------------------------------------------------------------
finite = st.floats(-50, 50, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(st.lists(finite, min_size=4, max_size=4))
def test_constrained_u_makes_every_layer_invertible(values: list[float]) -> None:
    w, u = torch.tensor(values[:2]), torch.tensor(values[2:])
    dot = float(w @ u)
    largest = float(w.abs().max())
    shift = abs(-1 + math.log1p(math.exp(dot)) - dot) if dot < 30 else 1.0  # |m(w'u) - w'u|
    if largest > 0 and shift > 1.7e308 * largest:
        # û = u + (m(w'u) - w'u) w/|w|^2 is beyond the double range: an error, not an inf
        with pytest.raises(ValueError, match="u and w"):
            flows.constrained_u(u, w)
        return
    u_hat = flows.constrained_u(u, w)
    if not bool((w != 0).any()):
        assert torch.equal(u_hat, u)
        assert float(flows.one_plus_slope(u, w)) == 1.0
        return
    wanted = -1 + math.log1p(math.exp(dot)) if dot < 30 else dot - 1  # m(x) = -1 + softplus(x)
    # rounding in w'û scales with |w| |û|
    scale = float(w.abs().max()) * float(u_hat.abs().max()) * 1e-12 + 1e-12
    assert abs(float(w @ u_hat) - wanted) < scale
    # û moves only along w: the part of u orthogonal to w is kept
    unit = w / w.abs().max()  # scaled first: the norm of a tiny w underflows
    unit = unit / unit.norm()
    atol = 1e-13 * float(u_hat.abs().max()) + 1e-12  # û is huge where w is tiny
    assert torch.allclose(u_hat - (unit @ u_hat) * unit, u - (unit @ u) * unit, atol=atol)
    # 1 + w'û is computed as softplus(w'u), never from û: positive where w'û rounds to -1,
    # and an error where even softplus underflows (the layer is singular to working precision)
    if dot < -746:  # e^dot is below half the smallest subnormal double: it rounds to 0
        with pytest.raises(ValueError, match="u and w"):
            flows.one_plus_slope(u, w)
        return
    if dot < -700:  # subnormal territory, where rounding (and flushing) may go either way
        return
    one_plus = flows.one_plus_slope(u, w)
    assert float(one_plus) > 0
    assert float(one_plus) == pytest.approx(1 + wanted, rel=1e-6, abs=1e-12)
    layer = flows.PlanarTransform(w, u, 0.0)
    flat = torch.zeros(1, 2)  # w'z + b = 0: where the determinant is smallest
    assert torch.isfinite(layer.log_abs_det_jacobian(flat, layer(flat))).all()


def test_log_det_stays_finite_where_the_layer_is_nearly_singular() -> None:
    """w'u = -40: w'û = -1 + softplus(-40) rounds to -1, and 1 + w'û from û would be 0 (a
    log of -inf). At tanh = 0 the determinant is softplus(-40) = e^-40 (to 1e-17)."""
    w, u = torch.tensor([1.0, 0.0]), torch.tensor([-40.0, 2.0])
    assert float(1 + w @ flows.constrained_u(u, w)) <= 0  # what the naive form would use
    layer = flows.PlanarTransform(w, u, 0.0)
    at_zero = torch.zeros(1, 2)
    value = float(layer.log_abs_det_jacobian(at_zero, layer(at_zero)))
    assert value == pytest.approx(-40.0, abs=1e-12)
    x = torch.tensor([[0.3, 1.0], [-2.0, 0.0]])
    assert (layer.inv(layer(x)) - x).abs().max() < 1e-9


def test_constrained_u_keeps_an_already_invertible_u_close() -> None:
    w, u = torch.tensor([1.0, 0.0]), torch.tensor([40.0, 3.0])
    # m(40) = 39 to double precision: a large positive w'u is (almost) unchanged
    assert torch.allclose(flows.constrained_u(u, w), torch.tensor([39.0, 3.0]))


# -- one planar layer -------------------------------------------------------------------------
@pytest.mark.parametrize("dim", [1, 2, 5])
@pytest.mark.parametrize("seed", range(4))
def test_log_det_matches_autograd_jacobian(dim: int, seed: int) -> None:
    layer = random_layer(dim, seed, scale=1.5)
    points = torch.randn(6, dim, generator=gen(100 + seed))
    y = layer(points)
    fast = layer.log_abs_det_jacobian(points, y)
    for x, value in zip(points, fast, strict=True):
        jacobian = torch.autograd.functional.jacobian(layer, x)
        assert abs(torch.linalg.slogdet(jacobian).logabsdet - value) < 1e-12


@pytest.mark.parametrize("seed", range(6))
def test_inverse_undoes_the_layer(seed: int) -> None:
    layer = random_layer(3, seed, scale=3.0)
    x = 4 * torch.randn(500, 3, generator=gen(200 + seed))
    y = layer(x)
    back = layer.inv(y)
    assert (layer(back) - y).abs().max() < 1e-12 * (1 + float(y.abs().max()))
    # the inverse is as accurate as the layer's conditioning allows: along w, an error in y
    # is divided by the derivative 1 + w'û tanh'(w'x + b) of the map
    slope = float(layer.w @ layer.u_hat)
    tanh = torch.tanh(x @ layer.w + layer.b)
    derivative = 1 + slope * (1 - tanh * tanh)
    tolerance = 1e-14 * (1 + y.abs().amax(-1)) * float(layer.w.norm()) * (1 + abs(slope))
    assert ((back - x).abs().amax(-1) <= tolerance / derivative + 1e-13).all()


def test_inverse_of_a_one_dimensional_layer_matches_brentq() -> None:
    layer = flows.PlanarTransform(torch.tensor([2.0]), torch.tensor([-3.0]), 0.5)
    u_hat = float(layer.u_hat[0])
    for y in (-3.0, -0.2, 0.0, 0.7, 5.0):
        oracle = scipy.optimize.brentq(
            lambda x, y=y: x + u_hat * math.tanh(2 * x + 0.5) - y, -20, 20, xtol=1e-15
        )
        assert float(layer.inv(torch.tensor([y]))[0]) == pytest.approx(oracle, abs=1e-12)


def test_layer_with_zero_w_is_a_shift() -> None:
    layer = flows.PlanarTransform(torch.zeros(2), torch.tensor([1.0, -2.0]), 0.3)
    x = torch.randn(10, 2, generator=gen(3))
    shift = torch.tensor([1.0, -2.0]) * math.tanh(0.3)
    assert torch.allclose(layer(x), x + shift)
    assert torch.allclose(layer.inv(x), x - shift)
    assert torch.equal(layer.log_abs_det_jacobian(x, layer(x)), torch.zeros(10))


def test_layer_keeps_float32_and_inverts_to_its_precision() -> None:
    g = gen(4)
    w, u = torch.randn(2, generator=g).float(), torch.randn(2, generator=g).float()
    layer = flows.PlanarTransform(w, u, torch.tensor(0.2, dtype=torch.float32))
    x = torch.randn(100, 2, generator=g).float()
    y = layer(x)
    assert y.dtype == torch.float32
    assert layer.log_abs_det_jacobian(x, y).dtype == torch.float32
    # float32 resolution (1.2e-7) times the scale of the points and the layer's slope, over
    # the smallest derivative of the map along w: the conditioning of the inverse
    slope = float(layer.w.double() @ layer.u_hat.double())
    tanh = torch.tanh(x.double() @ layer.w.double() + 0.2)
    derivative = float((1 + slope * (1 - tanh * tanh)).min())
    bound = 16 * 1.2e-7 * (1 + float(y.abs().max())) * (1 + abs(slope)) * float(w.norm())
    assert (layer.inv(y) - x).abs().max() < bound / derivative


def test_layer_broadcasts_a_batch_of_parameters() -> None:
    g = gen(5)
    w, u, b = torch.randn(3, 2, generator=g), torch.randn(3, 2, generator=g), torch.zeros(3)
    layer = flows.PlanarTransform(w, u, b)
    x = torch.randn(7, 3, 2, generator=g)
    assert layer(x).shape == (7, 3, 2)
    assert layer.log_abs_det_jacobian(x, layer(x)).shape == (7, 3)
    for i in range(3):
        single = flows.PlanarTransform(w[i], u[i], b[i])
        assert torch.allclose(layer(x)[:, i], single(x[:, i]))


@pytest.mark.parametrize(
    ("kwargs", "message", "error"),
    [
        (
            {"w": torch.ones(2), "u": torch.ones(3), "b": 0.0},
            "^w and u .* dimension D ",
            ValueError,
        ),
        ({"w": torch.tensor(1.0), "u": torch.tensor(1.0), "b": 0.0}, "^w and u", ValueError),
        ({"w": torch.ones(2), "u": torch.tensor([1.0, math.nan]), "b": 0.0}, r"^u\b", ValueError),
        ({"w": torch.tensor([math.inf, 0.0]), "u": torch.ones(2), "b": 0.0}, r"^w\b", ValueError),
        ({"w": torch.ones(2), "u": torch.ones(2), "b": math.nan}, r"^b\b", ValueError),
        ({"w": [1.0, 2.0], "u": torch.ones(2), "b": 0.0}, r"^w\b", TypeError),
        (
            {"w": torch.tensor([1, 0]), "u": torch.ones(2), "b": 0.0},
            r"^w must be a floating",
            TypeError,
        ),
        (
            {"w": torch.ones(2), "u": torch.tensor([1, 0]), "b": 0.0},
            r"^u must be a floating",
            TypeError,
        ),
        ({"w": torch.ones(2), "u": torch.ones(2), "b": "0"}, r"^b\b", TypeError),
        ({"w": torch.ones(3, 2), "u": torch.ones(4, 2), "b": 0.0}, "shapes of w, u, b", ValueError),
    ],
)
def test_layer_names_the_bad_parameter(
    kwargs: dict[str, object], message: str, error: type[Exception]
) -> None:
    with pytest.raises(error, match=message):
        flows.PlanarTransform(**kwargs)  # type: ignore[arg-type]


def test_inverse_has_the_right_gradient() -> None:
    """The log-density through the inverse is differentiable in the points and in the layer's
    parameters, with the gradients of finite differences (central, step 1e-6)."""
    g = gen(40)
    w, u = torch.randn(2, generator=g), torch.randn(2, generator=g)
    b = torch.tensor(0.4)
    y = torch.randn(2, generator=g)
    base = dist.Independent(dist.Normal(torch.zeros(2), torch.ones(2)), 1)

    def log_density(
        y: torch.Tensor, w: torch.Tensor, u: torch.Tensor, b: torch.Tensor
    ) -> torch.Tensor:
        return dist.TransformedDistribution(base, [flows.PlanarTransform(w, u, b)]).log_prob(y)

    inputs = [t.clone().requires_grad_() for t in (y, w, u, b)]
    grads = torch.autograd.grad(log_density(*inputs), inputs)
    for index, grad in enumerate(grads):
        for i in range(grad.numel()):
            shifted = []
            for sign in (1, -1):
                values = [t.detach().clone() for t in inputs]
                values[index].view(-1)[i] += sign * 1e-6
                shifted.append(float(log_density(*values)))
            numeric = (shifted[0] - shifted[1]) / 2e-6
            assert float(grad.reshape(-1)[i]) == pytest.approx(numeric, abs=1e-7)


def test_inverse_of_a_steep_layer() -> None:
    """w'u = 1e6: the bisection interval is 2e6 wide, and still ends at the dtype's resolution."""
    layer = flows.PlanarTransform(torch.tensor([1.0, 0.0]), torch.tensor([1e6, 0.5]), 0.1)
    x = torch.tensor([[0.3, -1.0], [-2.0, 4.0], [1e-3, 0.0]])
    y = layer(x)
    assert (layer.inv(y) - x).abs().max() < 1e-6 * 1e6 * 1e-9  # eps x |y| / derivative >= 1


def test_layer_checks_the_points_and_reports_batch_shapes() -> None:
    layer = random_layer(2, 41)
    with pytest.raises(ValueError, match="dimension D = 2"):
        layer(torch.zeros(5, 1))
    with pytest.raises(ValueError, match="dimension D = 2"):
        layer.inv(torch.zeros(5, 3))
    batched = flows.PlanarTransform(torch.ones(3, 2), torch.ones(3, 2), torch.zeros(3))
    base = dist.Independent(dist.Normal(torch.zeros(2), torch.ones(2)), 1)
    q = dist.TransformedDistribution(base, [batched])
    assert q.batch_shape == (3,) and q.event_shape == (2,)
    assert q.sample((4,)).shape == (4, 3, 2)


# -- the flow ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("dim", "layers"), [(1, 3), (2, 8), (4, 5)])
def test_one_pass_log_prob_matches_transformed_distribution(dim: int, layers: int) -> None:
    """Two implementations: the written-out forward pass against torch's change of variables,
    which inverts every layer."""
    flow = random_flow(dim, layers, seed=dim + layers)
    with torch.no_grad():
        draws = flow.rsample_with_log_prob(400, generator=gen(6))
        via_torch = flow.distribution().log_prob(draws.sample)
        noise = dist.ComposeTransform(flow.transforms()).inv(draws.sample)
    assert draws.sample.shape == (400, dim) and draws.log_prob.shape == (400,)
    assert (via_torch - draws.log_prob).abs().max() < 1e-10
    assert (noise - draws.noise).abs().max() < 1e-10


def test_log_prob_matches_the_jacobian_of_the_whole_path() -> None:
    flow = random_flow(2, 6, seed=7)
    draws = flow.rsample_with_log_prob(30, generator=gen(8))
    layers = flow.transforms()

    def path(noise: torch.Tensor) -> torch.Tensor:
        z = noise
        for layer in layers:
            z = layer(z)
        return z

    for noise, value in zip(draws.noise, draws.log_prob.detach(), strict=True):
        jacobian = torch.autograd.functional.jacobian(path, noise)
        oracle = dist.Normal(0.0, 1.0).log_prob(noise).sum()
        oracle = oracle - torch.linalg.slogdet(jacobian).logabsdet
        assert abs(oracle - value) < 1e-11


def test_flow_density_integrates_to_one() -> None:
    flow = random_flow(2, 4, seed=9)
    with torch.no_grad():
        # the draws show where the mass is; integrate over a box well around them
        sample = flow.rsample_with_log_prob(20_000, generator=gen(10)).sample
        low = sample.min(0).values - 4
        high = sample.max(0).values + 4
        totals = []
        for points in (201, 401):
            axes = [
                torch.linspace(float(lo), float(hi), points)
                for lo, hi in zip(low, high, strict=True)
            ]
            grid = torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1).reshape(-1, 2)
            density = flow.distribution().log_prob(grid).exp().reshape(points, points)
            inner = scipy.integrate.simpson(density.numpy(), x=axes[1].numpy())
            totals.append(scipy.integrate.simpson(inner, x=axes[0].numpy()))
    # Simpson's error falls 16-fold when the step halves: the change from the coarse to the
    # fine grid bounds the fine grid's error (mass outside the box: below 1e-6 at 4 units).
    assert abs(totals[1] - 1.0) < abs(totals[1] - totals[0]) + 1e-6


def test_flow_without_layers_is_a_diagonal_gaussian() -> None:
    flow = random_flow(3, 0, seed=11)
    draws = flow.rsample_with_log_prob(50, generator=gen(12))
    gaussian = dist.Independent(dist.Normal(flow.loc, flow.log_scale.exp()), 1)
    assert torch.allclose(draws.log_prob, gaussian.log_prob(draws.sample), atol=1e-12)
    assert torch.allclose(draws.sample, flow.loc + flow.log_scale.exp() * draws.noise)


def test_draws_are_reproducible_and_differentiable() -> None:
    flow = random_flow(2, 3, seed=13)
    first = flow.rsample_with_log_prob(5, generator=gen(14))
    second = flow.rsample_with_log_prob(5, generator=gen(14))
    assert torch.equal(first.sample, second.sample)
    (first.sample.sum() + first.log_prob.sum()).backward()
    for name, parameter in flow.named_parameters():
        assert parameter.grad is not None and torch.isfinite(parameter.grad).all(), name


def test_flow_follows_its_dtype() -> None:
    flow = flows.PlanarFlow(2, 3, generator=gen(15), dtype=torch.float32)
    draws = flow.rsample_with_log_prob(10, generator=gen(16))
    assert draws.sample.dtype == draws.log_prob.dtype == torch.float32
    assert flow.distribution().log_prob(draws.sample.detach()).dtype == torch.float32


@pytest.mark.parametrize(
    ("args", "kwargs", "name", "error"),
    [
        ((0, 2), {}, "dim", ValueError),
        ((2, -1), {}, "num_layers", ValueError),
        ((2.0, 2), {}, "dim", TypeError),
        ((2, 2), {"init_scale": -0.1}, "init_scale", ValueError),
        ((2, 2), {"init_scale": math.nan}, "init_scale", ValueError),
        ((2, 2), {"dtype": torch.int64}, "dtype", TypeError),
        ((2, 2), {"generator": 3}, "generator", TypeError),
    ],
)
def test_flow_names_the_bad_argument(
    args: tuple[object, ...], kwargs: dict[str, object], name: str, error: type[Exception]
) -> None:
    with pytest.raises(error, match=rf"^{name} must"):
        flows.PlanarFlow(*args, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["loc", "log_scale", "w", "u", "b"])
def test_a_diverged_parameter_is_an_error_not_nan(name: str) -> None:
    flow = random_flow(2, 2, seed=42)
    with torch.no_grad():
        getattr(flow, name).view(-1)[0] = math.nan
    with pytest.raises(ValueError, match=rf"^{name} must be finite"):
        flow.rsample_with_log_prob(3, generator=gen(1))
    with pytest.raises(ValueError, match=rf"^{name} must be finite"):
        flow.distribution()


def test_singular_and_overflowing_layers_are_errors() -> None:
    flow = flows.PlanarFlow(2, 1)
    with torch.no_grad():
        flow.w.copy_(torch.tensor([[1.0, 0.0]]))
        flow.u.copy_(torch.tensor([[-1000.0, 0.0]]))  # w'u = -1000: softplus underflows
    with pytest.raises(ValueError, match=r"^u and w must keep"):
        flow.rsample_with_log_prob(3, generator=gen(1))
    with pytest.raises(ValueError, match=r"^u and w must give a finite"):
        flows.constrained_u(torch.zeros(2), torch.tensor([0.0, 1e-320]))
    with pytest.raises(ValueError, match=r"^u must be finite"):
        flows.constrained_u(torch.tensor([math.inf, 0.0]), torch.zeros(2))
    with pytest.raises(ValueError, match=r"^w must be finite"):
        flows.one_plus_slope(torch.ones(2), torch.tensor([math.nan, 1.0]))
    with pytest.raises(ValueError, match="same last dimension"):
        flows.one_plus_slope(torch.ones(2), torch.ones(3))


def test_forward_pushes_given_noise_of_any_batch_shape() -> None:
    flow = random_flow(2, 3, seed=43)
    noise = torch.randn(4, 5, 2, generator=gen(44))
    z, log_q = flow(noise)
    assert z.shape == (4, 5, 2) and log_q.shape == (4, 5)
    flat_z, flat_log_q = flow(noise.reshape(20, 2))
    assert torch.allclose(z.reshape(20, 2), flat_z) and torch.allclose(
        log_q.reshape(20), flat_log_q
    )
    with pytest.raises(ValueError, match=r"^noise must have the flow's dimension"):
        flow(torch.zeros(3, 4))


def test_rsample_names_a_bad_num_samples() -> None:
    flow = flows.PlanarFlow(2, 1)
    with pytest.raises(ValueError, match="num_samples"):
        flow.rsample_with_log_prob(0)


# -- the ELBO --------------------------------------------------------------------------------
def test_elbo_terms_are_constant_when_the_target_is_the_flow() -> None:
    """With p̃ = e³ q the bound is tight: every term is log Z = 3 and the ELBO has no
    variance."""
    flow = random_flow(2, 5, seed=17)

    def log_target(z: torch.Tensor) -> torch.Tensor:
        return flow.distribution().log_prob(z) + 3.0

    terms = flows.elbo_terms(log_target, flow, 300, generator=gen(18))
    assert terms.shape == (300,)
    assert (terms - 3.0).abs().max() < 1e-10


def test_elbo_terms_are_target_minus_log_q_of_the_same_draws() -> None:
    flow = random_flow(2, 2, seed=19)
    target = Banana()
    terms = flows.elbo_terms(target.log_unnormalized, flow, 50, generator=gen(20))
    draws = flow.rsample_with_log_prob(50, generator=gen(20))
    assert torch.allclose(terms, target.log_unnormalized(draws.sample) - draws.log_prob)


def test_pathwise_gradient_is_unbiased() -> None:
    flow = random_flow(2, 3, seed=21)
    target = Banana(1.2, 0.6)
    params = list(flow.parameters())
    exact = torch.autograd.grad(exact_elbo(flow, target.log_unnormalized, degree=120), params)
    exact_flat = torch.cat([g.reshape(-1) for g in exact])
    g = gen(22)
    estimates = []
    for _ in range(300):
        terms = flows.elbo_terms(target.log_unnormalized, flow, 8, generator=g)
        grads = torch.autograd.grad(terms.mean(), params)
        estimates.append(torch.cat([grad.reshape(-1) for grad in grads]))
    stacked = torch.stack(estimates)
    z = (stacked.mean(0) - exact_flat) / (stacked.std(0) / math.sqrt(len(estimates)))
    assert z.abs().max() < Z_LIMIT


@pytest.mark.parametrize(
    ("log_target", "name", "error"),
    [
        (lambda z: z.sum(), r"^log_target .* shape \(N,\), got \(\)", ValueError),
        (lambda z: z, r"^log_target .* shape \(N,\), got \(4, 2\)", ValueError),
        (lambda z: z[:, 0] * math.nan, "log_target must be finite", ValueError),
        (lambda z: 1.0, "^log_target .* got float", ValueError),
        ("banana", "log_target", TypeError),
    ],
)
def test_elbo_terms_name_a_bad_target(log_target: object, name: str, error: type) -> None:
    flow = flows.PlanarFlow(2, 1, generator=gen(23))
    with pytest.raises(error, match=name):
        flows.elbo_terms(log_target, flow, 4, generator=gen(24))  # type: ignore[arg-type]
    if callable(log_target):  # the exact bound checks the target the same way
        with pytest.raises(error, match=name.replace("4, 2", "9, 2")):
            exact_elbo(flow, log_target, degree=3)


def test_elbo_terms_want_a_flow() -> None:
    with pytest.raises(TypeError, match=r"^flow must be a reparam\.flows\.PlanarFlow"):
        flows.elbo_terms(Banana().log_unnormalized, "flow", 4)  # type: ignore[arg-type]


# -- the book's target, training and exact bound -----------------------------------------------
@pytest.mark.parametrize(("width", "bend"), [(1.5, 0.8), (0.7, 2.0), (2.0, 0.0)])
def test_banana_normalizer_matches_numerical_integration(width: float, bend: float) -> None:
    target = Banana(width, bend)

    def density(z2: float, z1: float) -> float:
        return math.exp(float(target.log_unnormalized(torch.tensor([z1, z2]))))

    centre = lambda z1: bend * (z1 * z1 - width**2)  # noqa: E731
    value, _ = scipy.integrate.dblquad(
        density, -12 * width, 12 * width, lambda z1: centre(z1) - 12, lambda z1: centre(z1) + 12,
        epsabs=1e-11,
    )  # fmt: skip
    assert math.log(value) == pytest.approx(target.log_normalizer, abs=1e-8)


def test_banana_sampler_has_the_target_distribution() -> None:
    target = Banana(1.3, 0.9)
    draws = target.sample(100_000, generator=gen(25))
    assert draws.shape == (100_000, 2)
    assert torch.equal(draws, target.sample(100_000, generator=gen(25)))  # the generator's
    z1, z2 = draws[:, 0].numpy(), draws[:, 1].numpy()
    assert scipy.stats.kstest(z1 / 1.3, "norm").pvalue > 1e-3
    shear = z2 - 0.9 * (z1**2 - 1.3**2)
    assert scipy.stats.kstest(shear, "norm").pvalue > 1e-3
    assert abs(np.corrcoef(z1, shear)[0, 1]) < Z_LIMIT / math.sqrt(len(z1))


def test_banana_names_a_bad_width() -> None:
    with pytest.raises(ValueError, match="width"):
        Banana(width=0.0)
    with pytest.raises(ValueError, match="bend"):
        Banana(bend=math.inf)


def test_exact_elbo_of_a_gaussian_matches_the_kl_divergence() -> None:
    """q = N(μ, diag σ²) and p̃ = 5 · N(m, diag s²): ELBO = log 5 − KL(q ‖ p) exactly."""
    flow = random_flow(2, 0, seed=26)
    mean, scale = torch.tensor([0.5, -1.0]), torch.tensor([1.3, 0.6])
    p = dist.Independent(dist.Normal(mean, scale), 1)
    q = dist.Independent(dist.Normal(flow.loc, flow.log_scale.exp()), 1)

    def log_target(z: torch.Tensor) -> torch.Tensor:
        return p.log_prob(z) + math.log(5)

    value = exact_elbo(flow, log_target, degree=30).detach()
    kl = float(dist.kl_divergence(q, p).detach())
    assert float(value) == pytest.approx(math.log(5) - kl, abs=1e-12)
    terms = flows.elbo_terms(log_target, flow, 50_000, generator=gen(27)).detach()
    z = (terms.mean() - value) / (terms.std() / math.sqrt(len(terms)))
    assert abs(float(z)) < Z_LIMIT


def test_exact_elbo_keeps_the_flows_precision_and_warns_nothing() -> None:
    """Under torch's float32 default, a float64 flow still gets a float64 rule: the ELBO of a
    Gaussian q against a Gaussian target to 1e-12, with no warning."""
    import warnings

    flow = random_flow(2, 0, seed=30)
    p = dist.Independent(dist.Normal(torch.tensor([0.2, 0.1]), torch.tensor([0.9, 1.4])), 1)
    q = dist.Independent(dist.Normal(flow.loc, flow.log_scale.exp()), 1)
    oracle = -float(dist.kl_divergence(q, p).detach())
    torch.set_default_dtype(torch.float32)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            value = exact_elbo(flow, p.log_prob, degree=30).detach()
    finally:
        torch.set_default_dtype(torch.float64)
    assert value.dtype == torch.float64
    assert float(value) == pytest.approx(oracle, abs=1e-12)


def test_exact_elbo_refuses_a_large_dimension() -> None:
    with pytest.raises(ValueError, match=r"flow\.dim"):
        exact_elbo(flows.PlanarFlow(4, 1), lambda z: -(z * z).sum(-1))
    for degree in (0, 251):
        with pytest.raises(ValueError, match=r"^degree must be"):
            exact_elbo(flows.PlanarFlow(2, 1), lambda z: -(z * z).sum(-1), degree=degree)


def test_fit_flow_finds_a_gaussian_target() -> None:
    """A flow without layers, fitted to a Gaussian target, ends close to it: the exact KL
    divergence falls from about 1.6 nats to below 0.01."""
    mean, scale = torch.tensor([1.0, -0.5]), torch.tensor([0.5, 2.0])
    p = dist.Independent(dist.Normal(mean, scale), 1)
    flow = flows.PlanarFlow(2, 0, generator=gen(28))
    before = -float(exact_elbo(flow, p.log_prob, degree=30).detach())
    history = fit_flow(
        flow, p.log_prob, steps=400, num_samples=64, learning_rate=0.05, generator=gen(29)
    )
    after = -float(exact_elbo(flow, p.log_prob, degree=30).detach())
    assert history.shape == (400,)
    assert before > 1.0 and after < 0.01
    # every draw comes from the generator: the same seed, the same run
    again = flows.PlanarFlow(2, 0, generator=gen(28))
    repeat = fit_flow(
        again, p.log_prob, steps=400, num_samples=64, learning_rate=0.05, generator=gen(29)
    )
    assert np.array_equal(history, repeat)
    with pytest.raises(ValueError, match="learning_rate"):
        fit_flow(flow, p.log_prob, steps=1, num_samples=2, learning_rate=0.0, generator=gen(1))
    with pytest.raises(ValueError, match="steps"):
        fit_flow(flow, p.log_prob, steps=0, num_samples=2, learning_rate=0.1, generator=gen(1))


def test_flow_figure_is_readable() -> None:
    import matplotlib.pyplot as plt

    from reparam.book.plotting import flows as plots
    from reparam.book.plotting.style import figure_problems

    x, y = np.linspace(-3, 3, 30), np.linspace(-3, 3, 30)
    density = np.exp(-(x[None, :] ** 2 + y[:, None] ** 2) / 2)
    points = np.random.default_rng(0).normal(size=(100, 2))
    fig = plots.plot_flow_fits(
        (x, y, density), {"K = 0": points, "K = 2": points},
        {"K = 0": np.linspace(0, 1, 200), "K = 2": np.linspace(0, 1.2, 200)}, 1.5,
    )  # fmt: skip
    assert figure_problems(fig) == []
    plt.close(fig)
    with pytest.raises(ValueError, match="samples"):
        plots.plot_flow_fits((x, y, density), {"a": np.zeros((3, 3))}, {"a": [1.0]}, 1.0)
    with pytest.raises(ValueError, match="curves"):
        plots.plot_flow_fits((x, y, density), {"a": points}, {}, 1.0)
