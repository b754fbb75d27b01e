"""Wigner d / D: closed forms, unitarity, symmetries, high-degree accuracy, representation property."""

from __future__ import annotations

import math

import pytest
import torch

from s2cnn import grids
from s2cnn.testing import random_rotations
from s2cnn.wigner import wigner_D, wigner_d, wigner_D_list, wigner_d_list, wigner_d_pairs

BETAS = torch.tensor([0.0, 1e-3, 0.4, 1.3, math.pi / 2, 2.2, math.pi - 1e-3, math.pi], dtype=torch.float64)


def test_closed_forms_l_le_2():
    b = BETAS
    c, s = torch.cos(b), torch.sin(b)
    d0 = wigner_d(0, b)
    torch.testing.assert_close(d0, torch.ones(len(b), 1, 1, dtype=torch.float64))
    d1 = wigner_d(1, b)  # index [m+1, n+1]
    r2 = math.sqrt(2)
    exp1 = {
        (1, 1): (1 + c) / 2, (1, 0): -s / r2, (1, -1): (1 - c) / 2,
        (0, 1): s / r2, (0, 0): c, (0, -1): -s / r2,
        (-1, 1): (1 - c) / 2, (-1, 0): s / r2, (-1, -1): (1 + c) / 2,
    }  # fmt: skip
    for (m, n), v in exp1.items():
        torch.testing.assert_close(d1[:, m + 1, n + 1], v, atol=1e-15, rtol=0)
    d2 = wigner_d(2, b)
    r6 = math.sqrt(6)
    exp2 = {
        (2, 2): ((1 + c) / 2) ** 2, (2, 1): -(1 + c) * s / 2, (2, 0): r6 / 4 * s**2,
        (2, -1): -(1 - c) * s / 2, (2, -2): ((1 - c) / 2) ** 2,
        (1, 1): (1 + c) * (2 * c - 1) / 2, (1, 0): -math.sqrt(1.5) * s * c, (1, -1): (1 - c) * (2 * c + 1) / 2,
        (0, 0): (3 * c**2 - 1) / 2,
    }  # fmt: skip
    for (m, n), v in exp2.items():
        torch.testing.assert_close(d2[:, m + 2, n + 2], v, atol=1e-15, rtol=0)


@pytest.mark.parametrize("l", [3, 7])
def test_matches_matrix_exponential(l):
    """d^l(β) = exp(-iβ J_y) with J_y = (J_+ - J_-)/2i in the |l m> basis, m = -l … l."""
    m = torch.arange(-l, l + 1, dtype=torch.float64)
    jp = torch.diag(torch.sqrt(l * (l + 1) - m[:-1] * (m[:-1] + 1)), -1)  # <m+1|J_+|m>
    jy = ((jp - jp.T) / 2j).to(torch.complex128)
    for beta in [0.3, 1.7, 2.9]:
        ref = torch.linalg.matrix_exp(-1j * beta * jy).real
        torch.testing.assert_close(wigner_d(l, beta), ref, atol=1e-13, rtol=0)


@pytest.mark.parametrize("l", [5, 50, 100])
def test_orthogonality(l):
    d = wigner_d(l, BETAS)
    eye = torch.eye(2 * l + 1, dtype=torch.float64).expand_as(d)
    assert (d @ d.transpose(-1, -2) - eye).abs().max() < 1e-13


def test_symmetries():
    l = 6
    d = wigner_d(l, BETAS)
    m = torch.arange(-l, l + 1)
    sign = (-1.0) ** (m[:, None] - m[None, :]).abs()
    torch.testing.assert_close(d, sign * d.transpose(-1, -2), atol=1e-14, rtol=0)  # d_mn = (-1)^{m-n} d_nm
    torch.testing.assert_close(d, d.flip(-1, -2).transpose(-1, -2), atol=1e-14, rtol=0)  # d_mn = d_{-n,-m}
    torch.testing.assert_close(wigner_d(l, -BETAS), d.transpose(-1, -2), atol=1e-14, rtol=0)  # d(-β) = d(β)^T
    # d_mn(π - β) = (-1)^{l+m} d_{m,-n}(β)
    s2 = ((-1.0) ** (l + m.abs()))[:, None]
    torch.testing.assert_close(wigner_d(l, math.pi - BETAS), s2 * d.flip(-1), atol=1e-14, rtol=0)


def test_accuracy_l100_against_mpmath():
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 60

    def ref(j, m, n, beta):  # Wigner's explicit sum, in 60-digit arithmetic
        beta = mpmath.mpf(beta)
        f = mpmath.factorial
        pre = mpmath.sqrt(f(j + m) * f(j - m) * f(j + n) * f(j - n))
        tot = mpmath.mpf(0)
        for s in range(2 * j + 1):
            a = (j + n - s, s, m - n + s, j - m - s)
            if min(a) < 0:
                continue
            term = mpmath.cos(beta / 2) ** (2 * j + n - m - 2 * s) * mpmath.sin(beta / 2) ** (m - n + 2 * s)
            tot += (-1) ** (m - n + s) * term / (f(a[0]) * f(a[1]) * f(a[2]) * f(a[3]))
        return float(pre * tot)

    pairs = [(0, 0), (3, -7), (50, 20), (-80, 99), (100, -100), (17, 17)]
    betas = [1e-3, 0.37, 1.5, 2.2, math.pi - 2e-3]
    d = wigner_d_pairs(101, betas, [p[0] for p in pairs], [p[1] for p in pairs])
    err = max(
        abs(d[i, j, 100].item() - ref(100, m, n, bb)) for i, (m, n) in enumerate(pairs) for j, bb in enumerate(betas)
    )
    assert err < 1e-13, err


def test_pairs_and_lists_consistent():
    L = 6
    ds = wigner_d_list(L, BETAS[:3])
    m = torch.tensor([0, 2, -3, 5])
    n = torch.tensor([1, -2, 3, 0])
    dp = wigner_d_pairs(L, BETAS[:3], m, n)
    for l in range(L):
        for i in range(4):
            if max(abs(m[i]), abs(n[i])) <= l:
                torch.testing.assert_close(dp[i, :, l], ds[l][:, m[i] + l, n[i] + l])
            else:
                assert (dp[i, :, l] == 0).all()


def test_representation_property(gen):
    """D(R1 R2) = D(R1) D(R2) with R composed as 3×3 matrices through grids.euler_to_matrix."""
    a1, b1, c1 = random_rotations(5, gen)
    a2, b2, c2 = random_rotations(5, gen)
    R = grids.euler_to_matrix(a1, b1, c1) @ grids.euler_to_matrix(a2, b2, c2)
    a3, b3, c3 = grids.matrix_to_euler(R)
    for l in range(5):
        lhs = wigner_D(l, a3, b3, c3)
        rhs = wigner_D(l, a1, b1, c1) @ wigner_D(l, a2, b2, c2)
        torch.testing.assert_close(lhs, rhs, atol=1e-13, rtol=0)
        eye = torch.eye(2 * l + 1, dtype=torch.complex128)
        torch.testing.assert_close(lhs @ lhs.conj().transpose(-1, -2), eye.expand_as(lhs), atol=1e-13, rtol=0)


def test_D_list_and_dtypes():
    a, b, c = torch.tensor([0.3, 1.0]), torch.tensor([0.5, 2.0]), torch.tensor([1.1, 4.0])
    Ds = wigner_D_list(4, a, b, c)
    assert Ds[3].dtype == torch.complex64 and Ds[3].shape == (2, 7, 7)
    torch.testing.assert_close(Ds[3], wigner_D(3, a, b, c))
    D = wigner_D(2, 0.3, 0.5, 1.1)
    assert D.dtype == torch.complex128 and D.shape == (5, 5)


def test_spherical_harmonics_relation():
    """conj(D^l_{m0}(α, β, 0)) = sqrt(4π/(2l+1)) Y_l^m(β, α) (Condon–Shortley), checked against scipy."""
    special = pytest.importorskip("scipy.special")
    if not hasattr(special, "sph_harm_y"):
        pytest.skip("scipy.special.sph_harm_y needs scipy >= 1.15")
    beta, alpha = 1.1, 0.7
    for l in range(4):
        D = wigner_D(l, alpha, beta, 0.0)
        for m in range(-l, l + 1):
            y = complex(special.sph_harm_y(l, m, beta, alpha))
            lhs = D[m + l, l].conj().item()
            assert abs(lhs - math.sqrt(4 * math.pi / (2 * l + 1)) * y) < 1e-13, (l, m)
