"""Every tensor the package creates follows its inputs' device (issue #12).

CPU-only machines cannot run a second device, so the CPU tests make torch's *default* device
``meta`` while the inputs stay on the CPU: a tensor the package creates without naming a
device lands on ``meta``, and mixing it with the CPU inputs raises. Where CUDA exists the
same calls also run with CUDA inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import torch

import reparam
from reparam import catalog, estimators
from reparam.control_variates import apply_control_variate
from reparam.distributions import from_catalog
from reparam.surrogate import (
    measure_valued_surrogate,
    pathwise_surrogate,
    score_function_surrogate,
)

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture
def strict_device(request: pytest.FixtureRequest) -> Iterator[torch.device]:
    """The inputs' device; on the CPU, torch's default device is ``meta`` meanwhile."""
    device = torch.device(request.param)
    if device.type == "cpu":
        torch.set_default_device("meta")
    try:
        yield device
    finally:
        torch.set_default_device(None)


def generator_on(device: torch.device) -> torch.Generator:
    return torch.Generator(device=device).manual_seed(0)


@pytest.mark.parametrize("strict_device", DEVICES, indirect=True)
@pytest.mark.parametrize("key", list(catalog.CATALOG))
def test_catalog_rows_follow_their_parameters(key: str, strict_device: torch.device) -> None:
    entry = catalog.get(key)
    params = {
        name: value.requires_grad_(True)
        for name, value in entry.example_params(torch.float64, device=strict_device).items()
    }
    z = entry.rsample(8, generator=generator_on(strict_device), **params)
    assert z.device.type == strict_device.type
    entry.summary(z).sum().backward()
    entry.distribution.log_prob(z.detach(), params)

    def cost(draws: torch.Tensor) -> torch.Tensor:
        return entry.summary(draws)

    grads = estimators.pathwise_gradient(
        cost, entry.distribution, params, 4, generator=generator_on(strict_device)
    )
    assert all(g.device.type == strict_device.type for g in grads.values())
    estimators.score_function_gradient(
        cost,
        entry.distribution,
        params,
        4,
        generator=generator_on(strict_device),
        baseline="optimal",
    )
    q = from_catalog(key, validate_args=None, **params)
    q.rsample((2,), generator=generator_on(strict_device))


@pytest.mark.parametrize("strict_device", DEVICES, indirect=True)
def test_estimators_surrogates_and_control_variates_follow_inputs(
    strict_device: torch.device,
) -> None:
    loc = torch.tensor([0.3, -0.2], dtype=torch.float64, device=strict_device)
    scale = torch.tensor([1.0, 2.0], dtype=torch.float64, device=strict_device)
    params = {"loc": loc.requires_grad_(True), "scale": scale.requires_grad_(True)}
    gen = generator_on(strict_device)
    mv = estimators.measure_valued_gradient(torch.cos, reparam.NORMAL, params, 4, generator=gen)
    assert all(g.device.type == strict_device.type for g in mv.values())
    for surrogate in (pathwise_surrogate, score_function_surrogate, measure_valued_surrogate):
        loss = surrogate(torch.cos, reparam.NORMAL, params, 4, generator=gen)
        loss.backward()
    corrected = apply_control_variate(mv["loc"], mv["scale"], 0.0)
    assert corrected.device.type == strict_device.type


@pytest.mark.parametrize(
    "estimator",
    [
        estimators.measure_valued_gradient,
        estimators.pathwise_gradient,
        estimators.score_function_gradient,
    ],
    ids=lambda f: f.__name__,
)
def test_mixed_precision_promotes(estimator: Callable[..., dict[str, torch.Tensor]]) -> None:
    """float32 loc with float64 scale: noise in float64, each gradient in its parameter's dtype.

    The scale gradient must then equal the all-float64 run at the same (float32-representable)
    loc; noise drawn in float32 would be another random stream altogether.
    """
    loc32 = torch.tensor([0.3, -0.7], dtype=torch.float32)
    scale64 = torch.tensor([1.1, 0.6], dtype=torch.float64)
    mixed = estimator(
        torch.cos,
        reparam.NORMAL,
        {"loc": loc32, "scale": scale64},
        16,
        generator=torch.Generator().manual_seed(3),
    )
    wide = estimator(
        torch.cos,
        reparam.NORMAL,
        {"loc": loc32.double(), "scale": scale64},
        16,
        generator=torch.Generator().manual_seed(3),
    )
    assert mixed["loc"].dtype == torch.float32 and mixed["scale"].dtype == torch.float64
    torch.testing.assert_close(mixed["scale"], wide["scale"], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(mixed["loc"], wide["loc"].float())


def test_score_function_constant_baseline_in_each_parameters_dtype() -> None:
    """float32 loc with float64 scale and baseline 0.1: the float64 scale term must subtract
    0.1 itself, not 0.1 rounded to float32 (which it would take from the first parameter).

    With the cost f ≡ 0.1 every draw's f − b is exactly zero in each parameter's own dtype, so
    both gradients are exactly zero; a float32-rounded b leaves 1.5e-9 · score in the scale's.
    """
    params = {
        "loc": torch.tensor([0.3, -0.7], dtype=torch.float32),
        "scale": torch.tensor([1.1, 0.6], dtype=torch.float64),
    }
    grads = estimators.score_function_gradient(
        lambda z: torch.full_like(z, 0.1),
        reparam.NORMAL,
        params,
        8,
        generator=torch.Generator().manual_seed(0),
        baseline=0.1,
    )
    assert grads["loc"].dtype == torch.float32 and grads["scale"].dtype == torch.float64
    assert torch.count_nonzero(grads["loc"]) == 0
    assert torch.count_nonzero(grads["scale"]) == 0


@pytest.mark.parametrize(
    "estimator",
    [estimators.pathwise_gradient, estimators.score_function_gradient, pathwise_surrogate],
    ids=lambda f: f.__name__,
)
def test_torch_draws_on_an_unsupported_device_with_a_generator_raise(
    estimator: Callable[..., object],
) -> None:
    """A torch distribution whose parameters are on neither the CPU nor CUDA (``meta`` stands
    in for MPS or XPU here) draws from that device's own default generator, which cannot be
    redirected: a CPU generator must raise, not be silently ignored; without one it draws."""
    meta = torch.device("meta")
    normal = torch.distributions.Normal(
        torch.zeros(2, device=meta), torch.ones(2, device=meta), validate_args=False
    )
    with pytest.raises(ValueError, match=r"generator must be None .* on device meta"):
        estimator(torch.cos, normal, None, 4, generator=torch.Generator().manual_seed(0))
    estimator(torch.cos, normal, None, 4)  # no generator: torch's own draws on that device


@pytest.mark.parametrize("strict_device", DEVICES, indirect=True)
def test_flows_follow_their_parameters(strict_device: torch.device) -> None:
    """Every tensor reparam.flows creates is on the flow's device (torch's default device is
    ``meta`` meanwhile): draws, log-densities, the inverse, the ELBO terms and the exact
    ELBO."""
    from reparam import flows
    from reparam.book.flows import Banana, exact_elbo

    with torch.device(strict_device):
        flow = flows.PlanarFlow(2, 3, generator=torch.Generator().manual_seed(0))
    draws = flow.rsample_with_log_prob(5, generator=generator_on(strict_device))
    terms = flows.elbo_terms(
        Banana().log_unnormalized, flow, 5, generator=generator_on(strict_device)
    )
    layer = flow.transforms()[1]
    inverse = layer.inv(draws.sample)
    with torch.no_grad():
        via_torch = flow.distribution().log_prob(draws.sample)
    exact = exact_elbo(flow, Banana().log_unnormalized, degree=5)
    for tensor in (draws.sample, draws.log_prob, terms, inverse, via_torch, exact):
        assert tensor.device.type == strict_device.type
