"""Shared fixtures: seeded generators and the two floating dtypes every function must support."""

from __future__ import annotations

import pytest
import torch

# The package must not depend on the global default dtype: tests leave it at float32 and
# pass float64 explicitly where precision matters.

DTYPES = (torch.float32, torch.float64)


@pytest.fixture
def generator() -> torch.Generator:
    return torch.Generator().manual_seed(1234)


@pytest.fixture(params=DTYPES, ids=lambda d: str(d).removeprefix("torch."))
def dtype(request: pytest.FixtureRequest) -> torch.dtype:
    return request.param
