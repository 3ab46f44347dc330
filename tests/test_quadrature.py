"""Tests of :mod:`reparam.quadrature`: :func:`uniform_moments` against scipy's adaptive
quadrature and closed forms, and the edges of the Gauss–Hermite functions' contracts (their
accuracy is tested in test_core.py)."""

from __future__ import annotations

import math

import pytest
import scipy.integrate
import torch

from reparam.quadrature import gauss_hermite_expectation, gauss_hermite_rule, uniform_moments


def test_polynomials_and_steps_are_exact() -> None:
    # The mean needs 2 nodes (degree 3), the variance 4 (u^6 has degree 6).
    mean, variance = uniform_moments(lambda u: u[:, 0] ** 3, [[]], degree=4)
    assert mean.item() == pytest.approx(0.25, abs=1e-15)
    assert variance.item() == pytest.approx(1 / 7 - 1 / 16, abs=1e-15)
    step = uniform_moments(lambda u: (u[:, 0] < 0.3).double(), [[0.3]], degree=1)
    assert step[0].item() == pytest.approx(0.3, abs=1e-15)
    assert step[1].item() == pytest.approx(0.21, abs=1e-15)


def test_two_dimensions_match_scipy() -> None:
    def h(u: float, v: float) -> float:
        return math.log(1 + u * v) + (u > 0.4) * v**2

    def torch_h(x: torch.Tensor) -> torch.Tensor:
        u, v = x[:, 0], x[:, 1]
        return torch.stack([torch.log1p(u * v) + (u > 0.4) * v**2, u], -1)

    mean, variance = uniform_moments(torch_h, [[0.4], []], degree=24)
    assert mean.shape == (2,)
    first = scipy.integrate.dblquad(lambda v, u: h(u, v), 0, 1, 0, 1, epsabs=1e-13)[0]
    second = scipy.integrate.dblquad(lambda v, u: h(u, v) ** 2, 0, 1, 0, 1, epsabs=1e-13)[0]
    assert mean[0].item() == pytest.approx(first, abs=1e-10)
    assert variance[0].item() == pytest.approx(second - first**2, abs=1e-10)
    assert variance[1].item() == pytest.approx(1 / 12, abs=1e-14)


def test_nodes_are_inside_and_dtype_follows() -> None:
    seen: list[torch.Tensor] = []

    def record(u: torch.Tensor) -> torch.Tensor:
        seen.append(u)
        return u[:, 0]

    mean, _ = uniform_moments(record, [[0.5]], degree=3, dtype=torch.float32)
    assert mean.dtype == torch.float32
    assert bool(((seen[0] > 0) & (seen[0] < 1)).all()) and seen[0].shape == (6, 1)


def test_bad_input_is_named() -> None:
    with pytest.raises(ValueError, match="breakpoints must give one sequence"):
        uniform_moments(lambda u: u[:, 0], [])
    with pytest.raises(ValueError, match=r"breakpoints\[1\] must lie in \(0, 1\)"):
        uniform_moments(lambda u: u[:, 0], [[0.5], [1.5]])
    with pytest.raises(ValueError, match="degree must be at least 1"):
        uniform_moments(lambda u: u[:, 0], [[]], degree=0)
    with pytest.raises(TypeError, match="function must be callable"):
        uniform_moments(None, [[]])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="function must return values of shape"):
        uniform_moments(lambda u: u[:3, 0], [[]], degree=4)


def test_gauss_hermite_edges() -> None:
    """Degree 250 is allowed, 251 not; both outputs follow dtype and device; a non-finite
    loc is named."""
    nodes, weights = gauss_hermite_rule(250, dtype=torch.float64)
    assert nodes.shape == weights.shape == (250,)
    assert nodes.dtype == weights.dtype == torch.float64
    assert weights.sum().item() == pytest.approx(1.0, abs=1e-12)
    with pytest.raises(ValueError, match="degree must be an int between 1 and 250"):
        gauss_hermite_rule(251)
    nodes, weights = gauss_hermite_rule(3, dtype=torch.float32, device="meta")
    assert nodes.device.type == weights.device.type == "meta"
    assert weights.dtype == torch.float32
    value = gauss_hermite_expectation(lambda z: z**2, 0.0, 1.0, degree=250)
    assert value.item() == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(ValueError, match="loc must be finite"):
        gauss_hermite_expectation(lambda z: z, math.nan, 1.0)
