# The bad-input cases pass ill-typed values on purpose.
# mypy: disable-error-code="arg-type, list-item"
"""reparam.book.bnn: a Bayesian neural network's minibatch objective and its gradient variance.

Oracles: a hand-written forward pass with the same noise (torch's ``F.linear``), torch's
``kl_divergence`` of two ``Normal``s, NumPy's covariance, the law of total variance for
shared weights (the chapter's equation, checked on a small network with tolerances from
standard errors computed here), and the sampling distribution of the variance estimate.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Normal, kl_divergence

from reparam.book import bnn

F64 = torch.float64


def toy(seed: int = 0, n: int = 40) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=gen, dtype=F64)
    y = (x[:, 0] + 0.3 * x[:, 1] > 0).long()
    return x, y


def network(seed: int = 1, scale: float = 0.3) -> list[bnn.BayesianLayer]:
    return bnn.init_mlp(
        (4, 3, 2), generator=torch.Generator().manual_seed(seed), init_scale=scale, dtype=F64
    )


def test_init_mlp_shapes_and_scales() -> None:
    layers = bnn.init_mlp((5, 7, 3), generator=torch.Generator().manual_seed(0), init_scale=0.05)
    assert [tuple(layer.weight_loc.shape) for layer in layers] == [(7, 5), (3, 7)]
    for layer in layers:
        torch.testing.assert_close(layer.weight_scale, torch.full_like(layer.weight_loc, 0.05))
        assert torch.equal(layer.bias, torch.zeros_like(layer.bias))
        assert layer.weight_loc.dtype == torch.get_default_dtype()
    params = bnn.parameters(layers)
    assert len(params) == 6 and all(p.requires_grad and p.is_leaf for p in params)
    # a tiny and a large scale survive softplus⁻¹
    for scale in (1e-6, 30.0):
        (layer,) = bnn.init_mlp((2, 2), generator=torch.Generator(), init_scale=scale, dtype=F64)
        torch.testing.assert_close(layer.weight_scale, torch.full((2, 2), scale, dtype=F64))


def test_kl_to_prior_is_torchs() -> None:
    layers = network()
    prior = 0.7
    expected = sum(
        kl_divergence(
            Normal(layer.weight_loc, layer.weight_scale), Normal(torch.zeros((), dtype=F64), prior)
        ).sum()
        for layer in layers
    )
    torch.testing.assert_close(bnn.kl_to_prior(layers, prior), expected)


def test_negative_elbo_is_the_hand_written_objective_with_the_same_noise() -> None:
    x, y = toy()
    layers = network()
    ours = bnn.negative_elbo(
        layers,
        x[:8],
        y[:8],
        num_data=40,
        prior_scale=2.0,
        method="shared",
        generator=torch.Generator().manual_seed(3),
    )
    gen = torch.Generator().manual_seed(3)
    hidden = x[:8]
    for index, layer in enumerate(layers):
        noise = torch.randn(layer.weight_loc.shape, generator=gen, dtype=F64)
        weight = layer.weight_loc + F.softplus(layer.weight_raw_scale) * noise
        hidden = F.linear(hidden, weight, layer.bias)
        if index == 0:
            hidden = hidden.relu()
    log_likelihood = torch.log_softmax(hidden, -1).gather(1, y[:8, None]).sum()
    kl = sum(
        kl_divergence(
            Normal(layer.weight_loc, layer.weight_scale), Normal(torch.zeros((), dtype=F64), 2.0)
        ).sum()
        for layer in layers
    )
    torch.testing.assert_close(ours, -(40 / 8) * log_likelihood + kl)


def test_minibatch_gradients_are_unbiased_for_the_full_data_gradient() -> None:
    """E over minibatches and noise = E over noise of the full-data gradient."""
    x, y = toy(4)
    layers = network(5)
    gen = torch.Generator().manual_seed(6)
    full = bnn.gradient_draws(
        layers, x, y, batch_size=None, num_draws=600, method="per_example", generator=gen
    )
    for method in ("shared", "local", "flipout"):
        small = bnn.gradient_draws(
            layers, x, y, batch_size=5, num_draws=600, method=method, generator=gen
        )
        for key in ("weight_loc", "weight_raw_scale"):
            a, b = small[key], full[key]
            error = torch.sqrt(a.var(0) / len(a) + b.var(0) / len(b))
            z = (a.mean(0) - b.mean(0)) / error
            assert z.abs().max() < 4.5, (method, key, z)


def test_shared_weights_obey_the_law_of_total_variance() -> None:
    """Var[shared, B] = n²[(V − C)/B + C] and Var[per example, B] = n² V / B (the chapter's
    equation), with n²C from full-data draws and n²V from B = 1; each side's standard error
    from the spread of its own draws."""
    x, y = toy(7)
    layers = network(8, scale=0.6)
    gen = torch.Generator().manual_seed(9)
    count = 500
    floor = bnn.total_variance(
        bnn.gradient_draws(
            layers, x, y, batch_size=None, num_draws=count, method="shared", generator=gen
        )["weight_loc"]
    )
    single = bnn.total_variance(
        bnn.gradient_draws(
            layers, x, y, batch_size=1, num_draws=count, method="per_example", generator=gen
        )["weight_loc"]
    )
    for batch in (8,):
        for method in ("shared", "per_example"):
            measured = bnn.total_variance(
                bnn.gradient_draws(
                    layers, x, y, batch_size=batch, num_draws=count, method=method, generator=gen
                )["weight_loc"]
            )
            if method == "shared":
                predicted = (single[0] - floor[0]) / batch + floor[0]
                predicted_error = math.hypot(single[1] / batch, floor[1] * (1 - 1 / batch))
            else:
                predicted, predicted_error = single[0] / batch, single[1] / batch
            z = (measured[0] - predicted) / math.hypot(measured[1], predicted_error)
            assert abs(z) < 4, (method, batch, measured, predicted)
    # the floor is what makes shared weights worse at large B
    assert floor[0] > 10 * floor[1]


def test_total_variance_is_the_covariance_trace_and_its_error_is_honest() -> None:
    gen = torch.Generator().manual_seed(10)
    draws = torch.randn(50, 3, generator=gen, dtype=F64) * torch.tensor([1.0, 2.0, 3.0], dtype=F64)
    value, _ = bnn.total_variance(draws)
    assert abs(value - float(np.trace(np.cov(draws.numpy(), rowvar=False)))) < 1e-12
    # over many data sets of heavy-tailed draws (Laplace, kurtosis 6), the spread of the
    # estimates matches the reported standard error
    laplace = torch.distributions.Laplace(torch.zeros(3, dtype=F64), 1.0)
    torch.manual_seed(11)
    pairs = [bnn.total_variance(laplace.sample((100,))) for _ in range(400)]
    estimates, errors = np.array(pairs).T
    ratio = np.std(estimates) / np.mean(errors)
    assert 0.8 < ratio < 1.25, ratio


def test_fit_lowers_the_objective_and_predicts_a_separable_rule() -> None:
    x, y = toy(11, n=200)
    layers = bnn.init_mlp((4, 8, 2), generator=torch.Generator().manual_seed(12), dtype=F64)
    history = bnn.fit(
        layers,
        x,
        y,
        method="local",
        num_steps=300,
        batch_size=32,
        lr=0.03,
        generator=torch.Generator().manual_seed(13),
    )
    values = np.array(history.values)
    assert values[-30:].mean() < 0.5 * values[:30].mean()
    accuracy = bnn.predictive_accuracy(
        layers, x, y, num_draws=16, generator=torch.Generator().manual_seed(14)
    )
    assert accuracy > 0.9


def test_bad_input_names_the_parameter() -> None:
    x, y = toy()
    layers = network()
    gen = torch.Generator()
    with pytest.raises(ValueError, match=r"^sizes must list at least two layer widths"):
        bnn.init_mlp((4,), generator=gen)
    with pytest.raises(ValueError, match=r"^sizes\[1\] must be"):
        bnn.init_mlp((4, 0), generator=gen)
    with pytest.raises(ValueError, match=r"^init_scale must be"):
        bnn.init_mlp((4, 2), generator=gen, init_scale=0.0)
    with pytest.raises(TypeError, match=r"^generator must be a torch.Generator"):
        bnn.init_mlp((4, 2), generator=None)
    with pytest.raises(ValueError, match=r"^layers must be a non-empty sequence"):
        bnn.negative_elbo([], x, y, num_data=40)
    with pytest.raises(TypeError, match=r"^layers\[0\] must be a BayesianLayer"):
        bnn.kl_to_prior([object()])
    with pytest.raises(ValueError, match=r"^targets must be int64 class labels of shape \(40,\)"):
        bnn.negative_elbo(layers, x, y.float(), num_data=40)
    with pytest.raises(ValueError, match=r"^targets must be class labels in 0\.\.1"):
        bnn.negative_elbo(layers, x, y + 5, num_data=40)
    with pytest.raises(ValueError, match=r"^num_data must be"):
        bnn.negative_elbo(layers, x, y, num_data=0)
    with pytest.raises(ValueError, match=r"^method must be one of"):
        bnn.negative_elbo(layers, x, y, num_data=40, method="dropout")
    with pytest.raises(ValueError, match=r"^prior_scale must be"):
        bnn.kl_to_prior(layers, prior_scale=-1.0)
    with pytest.raises(ValueError, match=r"^num_draws must be"):
        bnn.gradient_draws(layers, x, y, batch_size=4, num_draws=1, method="local", generator=gen)
    with pytest.raises(ValueError, match=r"^layer must be"):
        bnn.gradient_draws(
            layers, x, y, batch_size=4, num_draws=2, method="local", generator=gen, layer=2
        )
    with pytest.raises(ValueError, match=r"^batch_size must be"):
        bnn.gradient_draws(layers, x, y, batch_size=0, num_draws=2, method="local", generator=gen)
    with pytest.raises(ValueError, match=r"^draws must have shape \(R, P\) with R >= 2"):
        bnn.total_variance(torch.zeros(1, 3))
    with pytest.raises(ValueError, match=r"^draws must be finite"):
        bnn.total_variance(torch.tensor([[0.0], [math.nan]]))
    with pytest.raises(ValueError, match=r"^x must have shape \(\.\.\., in_features\)"):
        bnn.logits(layers, x[:, :3])


def test_draws_are_reproducible_and_any_layer_can_be_measured() -> None:
    x, y = toy(15)
    layers = bnn.init_mlp((4, 3, 5, 2), generator=torch.Generator().manual_seed(16), dtype=F64)

    def draws(seed: int, layer: int) -> dict[str, torch.Tensor]:
        return bnn.gradient_draws(
            layers,
            x,
            y,
            batch_size=6,
            num_draws=3,
            method="local",
            generator=torch.Generator().manual_seed(seed),
            layer=layer,
        )

    first, again = draws(17, 0), draws(17, 0)
    for key in first:  # the minibatches and the noise both come from the generator
        assert torch.equal(first[key], again[key])
    last = draws(17, 2)  # the last of three layers: (2, 5)
    assert last["weight_loc"].shape == (3, 10) and last["weight_raw_scale"].shape == (3, 10)
    # the number of classes is the last layer's width (2), not another layer's (5)
    with pytest.raises(ValueError, match=r"^targets must be class labels in 0\.\.1"):
        bnn.negative_elbo(layers, x, torch.full_like(y, 4), num_data=40)
    with pytest.raises(TypeError, match=r"^targets must be a torch.Tensor"):
        bnn.negative_elbo(layers, x, [0] * 40, num_data=40)
    with pytest.raises(ValueError, match=r"^num_draws must be"):
        bnn.predictive_accuracy(layers, x, y, num_draws=0, generator=torch.Generator())
