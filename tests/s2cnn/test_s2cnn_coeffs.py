"""Coefficient layouts: sizes, per-degree lists, half <-> full, resizing."""

from __future__ import annotations

import pytest
import torch

from s2cnn import coeffs as C
from s2cnn.testing import random_s2_coeffs, random_so3_coeffs


@pytest.mark.parametrize("b", [1, 2, 3, 7])
def test_sizes_and_offsets(b):
    assert C.s2_num_coeffs(b) == sum(2 * l + 1 for l in range(b)) == b * b
    assert C.s2_num_coeffs(b, half=True) == sum(l + 1 for l in range(b))
    assert C.so3_num_coeffs(b) == sum((2 * l + 1) ** 2 for l in range(b))
    assert C.so3_num_coeffs(b, half=True) == sum((l + 1) * (2 * l + 1) for l in range(b))
    for half in (False, True):
        assert C.s2_bandwidth(C.s2_num_coeffs(b, half), half) == b
        assert C.so3_bandwidth(C.so3_num_coeffs(b, half), half) == b


def test_bandwidth_errors():
    with pytest.raises(ValueError, match="not a valid number of S² full coefficients"):
        C.s2_bandwidth(5)
    with pytest.raises(ValueError, match="SO\\(3\\) half"):
        C.so3_bandwidth(8, half=True)


def test_lists_round_trip(gen):
    c = torch.randn(2, 16, dtype=torch.complex128, generator=gen)
    lst = C.s2_coeffs_to_list(c)
    assert [t.shape for t in lst] == [(2, 1), (2, 3), (2, 5), (2, 7)]
    torch.testing.assert_close(C.s2_list_to_coeffs(lst), c)
    c3 = torch.randn(3, C.so3_num_coeffs(3), dtype=torch.complex128, generator=gen)
    lst3 = C.so3_coeffs_to_list(c3)
    assert [t.shape for t in lst3] == [(3, 1, 1), (3, 3, 3), (3, 5, 5)]
    torch.testing.assert_close(C.so3_list_to_coeffs(lst3), c3)
    # index convention: degree-2 block entry [m + l, n + l] at offset l(4l²-1)/3 + (m+l)(2l+1) + (n+l)
    assert lst3[2][0, 1, 4] == c3[0, C.so3_offset(2) + 1 * 5 + 4]
    with pytest.raises(ValueError, match="degree 1 block"):
        C.s2_list_to_coeffs([torch.zeros(1), torch.zeros(2)])


def test_half_full_round_trip(gen):
    h = random_s2_coeffs(5, 3, generator=gen)
    full = C.s2_half_to_full(h)
    torch.testing.assert_close(C.s2_full_to_half(full), h)
    blocks = C.s2_coeffs_to_list(full)
    for l, blk in enumerate(blocks):  # c_{-m} = (-1)^m conj(c_m)
        m = torch.arange(-l, l + 1)
        torch.testing.assert_close(blk.flip(-1), ((-1.0) ** m.abs()) * blk.conj())
    h3 = random_so3_coeffs(4, 2, generator=gen)
    full3 = C.so3_half_to_full(h3)
    torch.testing.assert_close(C.so3_full_to_half(full3), h3)
    for l, blk in enumerate(C.so3_coeffs_to_list(full3)):  # c_{-m,-n} = (-1)^{m-n} conj(c_mn)
        m = torch.arange(-l, l + 1)
        sign = (-1.0) ** (m[:, None] - m[None, :]).abs()
        torch.testing.assert_close(blk.flip(-1, -2), sign * blk.conj())


@pytest.mark.parametrize("group,n", [("s2", 16), ("so3", C.so3_num_coeffs(3))])
def test_hermitian_part(gen, group, n):
    c = torch.randn(2, n, dtype=torch.complex128, generator=gen)
    h1, h2 = C.hermitian_part(c, group)
    torch.testing.assert_close(h1 + 1j * h2, c)
    to_half, to_full = (
        (C.s2_full_to_half, C.s2_half_to_full) if group == "s2" else (C.so3_full_to_half, C.so3_half_to_full)
    )
    for h in (h1, h2):  # both satisfy the reality condition
        torch.testing.assert_close(to_full(to_half(h)), h)


def test_resize():
    c = torch.arange(9, dtype=torch.float64).to(torch.complex128)
    torch.testing.assert_close(C.s2_resize(c, 2), c[:4])
    up = C.s2_resize(c, 4)
    assert up.shape == (16,) and (up[9:] == 0).all() and (up[:9] == c).all()
    assert C.so3_resize(torch.zeros(C.so3_num_coeffs(2, True)), 3, half=True).shape == (C.so3_num_coeffs(3, True),)
