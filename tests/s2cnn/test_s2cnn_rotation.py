"""Rotations of grid signals: against point evaluation, composition, grid-exact rotations, batching."""

from __future__ import annotations

import math

import pytest
import torch

from s2cnn import coeffs as C
from s2cnn import fft, grids, rotation
from s2cnn.testing import random_rotation, random_rotations, random_s2_signal, random_so3_signal, relative_error
from s2cnn.wigner import wigner_D_list


def _s2_eval(c_half: torch.Tensor, beta: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """f(β, α) = Σ_l (2l+1) Σ_m c^l_m conj(D^l_{m0}(α, β, 0)) at arbitrary points."""
    b = C.s2_bandwidth(c_half.shape[-1], half=True)
    full = C.s2_coeffs_to_list(C.s2_half_to_full(c_half))
    Ds = wigner_D_list(b, alpha, beta, torch.zeros_like(beta))
    return sum((2 * l + 1) * torch.einsum("...m,pm->...p", full[l], D[:, :, l].conj()) for l, D in enumerate(Ds)).real


def test_s2_rotation_matches_point_evaluation(gen):
    b = 6
    x = random_s2_signal(b, 2, generator=gen)
    R = random_rotation(gen)
    xyz = grids.s2_points(b).reshape(-1, 3)
    Rinv = grids.euler_to_matrix(*R).T
    y = xyz @ Rinv.T  # R^{-1} x for each grid point
    beta, alpha = torch.arccos(y[:, 2].clamp(-1, 1)), torch.atan2(y[:, 1], y[:, 0])
    ref = _s2_eval(fft.s2_rfft(x), beta, alpha).reshape(2, 2 * b, 2 * b)
    torch.testing.assert_close(rotation.s2_rotation(x, *R), ref, atol=1e-12, rtol=0)


def test_so3_rotation_matches_point_evaluation(gen):
    b = 4
    x = random_so3_signal(b, 1, generator=gen)
    c = C.so3_coeffs_to_list(C.so3_half_to_full(fft.so3_rfft(x)))
    R = random_rotation(gen)
    beta, alpha, gamma = grids.so3_grid(b)
    B, A, G = torch.meshgrid(beta, alpha, gamma, indexing="ij")
    g = grids.euler_to_matrix(A, B, G)
    a2, b2, c2 = grids.matrix_to_euler(grids.euler_to_matrix(*R).T @ g)  # R^{-1} g
    Ds = wigner_D_list(b, a2, b2, c2)
    ref = sum((2 * l + 1) * torch.einsum("zmn,jklmn->zjkl", c[l], D.conj()) for l, D in enumerate(Ds)).real
    torch.testing.assert_close(rotation.so3_rotation(x, *R), ref, atol=1e-12, rtol=0)


def test_identity_inverse_and_composition(gen):
    x = random_so3_signal(5, 2, generator=gen)
    torch.testing.assert_close(rotation.so3_rotation(x, 0.0, 0.0, 0.0), x, atol=1e-13, rtol=0)
    R1, R2 = random_rotation(gen), random_rotation(gen)
    a, b, c = grids.matrix_to_euler(grids.euler_to_matrix(*R2) @ grids.euler_to_matrix(*R1))
    two = rotation.so3_rotation(rotation.so3_rotation(x, *R1), *R2)
    torch.testing.assert_close(two, rotation.so3_rotation(x, a, b, c), atol=1e-12, rtol=0)
    inv = rotation.so3_rotation(rotation.so3_rotation(x, *R1), -R1[2], -R1[1], -R1[0])
    torch.testing.assert_close(inv, x, atol=1e-12, rtol=0)
    s = random_s2_signal(5, 2, generator=gen)
    inv2 = rotation.s2_rotation(rotation.s2_rotation(s, *R1), -R1[2], -R1[1], -R1[0])
    torch.testing.assert_close(inv2, s, atol=1e-12, rtol=0)


@pytest.mark.parametrize("k", [1, 3, 7])
def test_grid_rotations_are_the_rotations_they_claim(gen, k):
    b = 5
    s = random_s2_signal(b, 2, generator=gen)
    x = random_so3_signal(b, 2, generator=gen)
    az = 2 * math.pi * k / (2 * b)
    torch.testing.assert_close(
        rotation.s2_grid_rotation_z(s, k), rotation.s2_rotation(s, az, 0.0, 0.0), atol=1e-12, rtol=0
    )
    torch.testing.assert_close(
        rotation.so3_grid_rotation_z(x, k), rotation.so3_rotation(x, az, 0.0, 0.0), atol=1e-12, rtol=0
    )
    torch.testing.assert_close(
        rotation.s2_grid_rotation_y_pi(s), rotation.s2_rotation(s, 0.0, math.pi, 0.0), atol=1e-12, rtol=0
    )
    torch.testing.assert_close(
        rotation.so3_grid_rotation_y_pi(x), rotation.so3_rotation(x, 0.0, math.pi, 0.0), atol=1e-12, rtol=0
    )


def test_half_turn_index_map_geometry():
    """R_y(π) R(α_k, β_j, γ_l) = R(α_{b-k}, β_{2b-1-j}, γ_{l+b}) on the grid (the derivation in rotation.py)."""
    b = 3
    beta, alpha, gamma = grids.so3_grid(b)
    Ry = grids.euler_to_matrix(0.0, math.pi, 0.0)
    for j, k, l in [(0, 0, 0), (1, 2, 5), (5, 4, 1)]:
        lhs = Ry @ grids.euler_to_matrix(alpha[k], beta[j], gamma[l])
        rhs = grids.euler_to_matrix(alpha[(b - k) % (2 * b)], beta[2 * b - 1 - j], gamma[(l + b) % (2 * b)])
        torch.testing.assert_close(lhs, rhs, atol=1e-14, rtol=0)


def test_per_sample_angles(gen, dtype):
    x = random_so3_signal(4, 3, 2, generator=gen, dtype=dtype)
    a, b, c = random_rotations(3, gen)
    batched = rotation.so3_rotation(x, a, b, c)
    assert batched.dtype == dtype
    for i in range(3):
        single = rotation.so3_rotation(x[i : i + 1], a[i].item(), b[i].item(), c[i].item())
        assert relative_error(batched[i : i + 1], single) < (1e-6 if dtype == torch.float32 else 1e-13)
    s = random_s2_signal(4, 3, generator=gen, dtype=dtype)
    bs = rotation.s2_rotation(s, a, b, c)
    assert relative_error(bs[1:2], rotation.s2_rotation(s[1:2], a[1].item(), b[1].item(), c[1].item())) < 1e-6
    with pytest.raises(ValueError, match="length 3"):
        rotation.s2_rotation(s, a[:2], b[:2], c[:2])


def test_gradcheck_rotations(gen):
    R = random_rotation(gen)
    s = random_s2_signal(3, 1, generator=gen).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: rotation.s2_rotation(t, *R), (s,))
    x = random_so3_signal(2, 1, generator=gen).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: rotation.so3_rotation(t, *R), (x,))
