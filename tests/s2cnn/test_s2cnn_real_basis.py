"""The real basis of the harmonics (:mod:`s2cnn.real_basis`): the one definition used by the S2CNN layers and
the GSCNN (whose internal representation is ``U v``; tested in ``tests/models``)."""

from __future__ import annotations

import math

import pytest
import torch

from s2cnn.real_basis import real_basis


def _real_type(l: int, gen: torch.Generator) -> torch.Tensor:
    """A random ``v`` with ``v_{-m} = (-1)^m conj(v_m)`` (S² coefficients of a real function)."""
    v = torch.complex(
        torch.randn(2 * l + 1, dtype=torch.float64, generator=gen),
        torch.randn(2 * l + 1, dtype=torch.float64, generator=gen),
    )
    m = torch.arange(-l, l + 1)
    sign = (1 - 2 * (m.abs() % 2)).to(torch.float64)
    return (v + sign * v.flip(0).conj()) / 2


@pytest.mark.parametrize("l", [0, 1, 2, 5])
def test_unitary_and_transpose_is_signature(l):
    U = real_basis(l)
    eye = torch.eye(2 * l + 1, dtype=torch.complex128)
    torch.testing.assert_close(U @ U.conj().T, eye, rtol=0, atol=1e-14)
    # U U^T = S = diag(+1 on cos rows a >= 0, -1 on sin rows a < 0)
    S = torch.diag(torch.where(torch.arange(-l, l + 1) < 0, -1.0, 1.0).to(torch.complex128))
    torch.testing.assert_close(U @ U.T, S, rtol=0, atol=1e-14)


@pytest.mark.parametrize("l", [1, 3, 6])
def test_real_type_vectors_have_real_coordinates(l):
    gen = torch.Generator().manual_seed(l)
    v = _real_type(l, gen)
    r = real_basis(l) @ v
    assert r.imag.abs().max() < 1e-14
    # the stated half-layout relations: r_{+m} = √2 Re v_m, r_{-m} = √2 Im v_m
    for m in range(1, l + 1):
        assert math.isclose(r[l + m].real, math.sqrt(2) * v[l + m].real, abs_tol=1e-14)
        assert math.isclose(r[l - m].real, math.sqrt(2) * v[l + m].imag, abs_tol=1e-14)
    # a vector not of real type has non-real coordinates (negative control)
    w = v.clone()
    w[l + 1] += 0.5j
    assert (real_basis(l) @ w).imag.abs().max() > 0.1
