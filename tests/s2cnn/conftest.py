"""Shared fixtures of the s2cnn tests: dtypes with their tolerances, seeded generators (``device``: tests/conftest.py)."""

from __future__ import annotations

import pytest
import torch

# dtype -> (tolerance for exact identities / grid rotations, tolerance for generic-rotation equivariance)
TOLERANCES = {torch.float32: (1e-5, 1e-5), torch.float64: (1e-12, 1e-10)}


@pytest.fixture(params=[torch.float32, torch.float64], ids=["f32", "f64"])
def dtype(request) -> torch.dtype:
    return request.param


@pytest.fixture
def tol(dtype) -> tuple[float, float]:
    return TOLERANCES[dtype]


@pytest.fixture
def gen() -> torch.Generator:
    return torch.Generator().manual_seed(1234)
