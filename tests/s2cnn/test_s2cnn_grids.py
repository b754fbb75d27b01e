"""Conventions owned by ``s2cnn.grids``: SOFT grid, quadrature, Euler angles, kernel grids."""

from __future__ import annotations

import math

import pytest
import torch

from s2cnn import grids


def test_s2_grid_values():
    beta, alpha = grids.s2_grid(3)
    assert beta.shape == alpha.shape == (6,)
    torch.testing.assert_close(beta, math.pi * (2 * torch.arange(6, dtype=torch.float64) + 1) / 12)
    torch.testing.assert_close(alpha, 2 * math.pi * torch.arange(6, dtype=torch.float64) / 6)
    b2, a2, g2 = grids.so3_grid(3)
    torch.testing.assert_close(g2, alpha)


@pytest.mark.parametrize("b", [1, 2, 5, 16])
def test_quadrature_exact_for_legendre(b):
    """Σ_j w_j P_l(cos β_j) = δ_{l0} for l < 2b (weights normalised to Σ w = 1)."""
    w = grids.quadrature_weights(b)
    beta, _ = grids.s2_grid(b)
    torch.testing.assert_close(w.sum(), torch.tensor(1.0, dtype=torch.float64))
    x = torch.cos(beta)
    p_prev, p = torch.ones_like(x), x
    assert abs((w * p_prev).sum().item() - 1) < 1e-14
    for l in range(1, 2 * b):
        assert abs((w * p).sum().item()) < 1e-13, l
        p_prev, p = p, ((2 * l + 1) * x * p - l * p_prev) / (l + 1)


def test_points_and_euler():
    xyz = grids.s2_points(4)
    beta, alpha = grids.s2_grid(4)
    R = grids.euler_to_matrix(alpha[None, :], beta[:, None], 0.0)
    torch.testing.assert_close(xyz, R[..., :, 2])  # x(β, α) = R(α, β, 0) e_z


def test_euler_round_trip(gen):
    a = torch.rand(50, generator=gen, dtype=torch.float64) * 2 * math.pi
    b = torch.rand(50, generator=gen, dtype=torch.float64) * math.pi
    c = torch.rand(50, generator=gen, dtype=torch.float64) * 2 * math.pi
    R = grids.euler_to_matrix(a, b, c)
    torch.testing.assert_close(R @ R.transpose(-1, -2), torch.eye(3, dtype=torch.float64).expand(50, 3, 3))
    a2, b2, c2 = grids.matrix_to_euler(R)
    torch.testing.assert_close(grids.euler_to_matrix(a2, b2, c2), R)


def test_kernel_grids_match_original_sizes():
    s2 = grids.s2_near_identity_grid()
    so3 = grids.so3_near_identity_grid()
    assert len(s2) == 24 and len(so3) == 192
    assert min(p[0] for p in s2) > 0 and abs(max(p[0] for p in s2) - math.pi / 8) < 1e-15
    assert len(grids.s2_equatorial_grid()) == 32 and len(grids.so3_equatorial_grid()) == 64
    # γ = linspace(−2π, 2π, 8) − α
    b_, a_, g_ = so3[0]
    assert g_ == -2 * math.pi - a_
