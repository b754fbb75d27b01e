"""Shared fixtures of the s2cnn tests: dtypes with their tolerances, devices, seeded generators."""

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


@pytest.fixture(
    params=[
        "cpu",
        pytest.param(
            "cuda",
            marks=[pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")],
        ),
    ]
)
def device(request) -> torch.device:
    return torch.device(request.param)


@pytest.fixture
def gen() -> torch.Generator:
    return torch.Generator().manual_seed(1234)
