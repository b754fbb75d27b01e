"""S² / SO(3) transforms: definitions, round trips, bandwidth changes, gradients, errors."""

from __future__ import annotations

import pytest
import torch

from s2cnn import coeffs as C
from s2cnn import fft, grids
from s2cnn.testing import random_s2_coeffs, random_so3_coeffs, relative_error
from s2cnn.wigner import wigner_D_list

CDT = {torch.float32: torch.complex64, torch.float64: torch.complex128}


def _so3_grid_D(b: int, L: int) -> list[torch.Tensor]:
    """D^l at every SO(3) grid point, each [2b, 2b, 2b, 2l+1, 2l+1] (axes β, α, γ)."""
    beta, alpha, gamma = grids.so3_grid(b)
    B, A, G = torch.meshgrid(beta, alpha, gamma, indexing="ij")
    return wigner_D_list(L, A, B, G)


def test_so3_analysis_matches_definition(gen):
    """f̂^l_mn = ∫ f D^l_mn = Σ_j w_j (2b)^-2 Σ_{α,γ} f D^l_mn, evaluated directly (no FFT, no plan)."""
    b = 4
    x = torch.randn(2, 2 * b, 2 * b, 2 * b, dtype=torch.float64, generator=gen)
    w = grids.quadrature_weights(b) / (2 * b) ** 2
    Ds = _so3_grid_D(b, b)
    ref = C.so3_list_to_coeffs(
        [torch.einsum("zjkl,jklmn,j->zmn", x.to(torch.complex128), D, w.to(D.dtype)) for D in Ds]
    )
    torch.testing.assert_close(fft.so3_fft(x), ref, atol=1e-14, rtol=0)


def test_so3_synthesis_matches_definition(gen):
    """f(g) = Σ_l (2l+1) Σ_mn f̂^l_mn conj(D^l_mn(g)), evaluated directly."""
    b = 4
    c = random_so3_coeffs(b, 2, generator=gen)
    full = C.so3_coeffs_to_list(C.so3_half_to_full(c))
    Ds = _so3_grid_D(b, b)
    ref = sum((2 * l + 1) * torch.einsum("zmn,jklmn->zjkl", full[l], D.conj()) for l, D in enumerate(Ds))
    assert ref.imag.abs().max() < 1e-13
    torch.testing.assert_close(fft.so3_irfft(c), ref.real, atol=1e-13, rtol=0)


def test_s2_analysis_and_synthesis_match_definition(gen):
    b = 5
    beta, alpha = grids.s2_grid(b)
    B, A = torch.meshgrid(beta, alpha, indexing="ij")
    Ds = wigner_D_list(b, A, B, torch.zeros_like(A))
    w = grids.quadrature_weights(b) / (2 * b)
    x = torch.randn(3, 2 * b, 2 * b, dtype=torch.float64, generator=gen)
    ref = C.s2_list_to_coeffs(
        [torch.einsum("zjk,jkm,j->zm", x.to(D.dtype), D[..., :, l], w.to(D.dtype)) for l, D in enumerate(Ds)]
    )
    torch.testing.assert_close(fft.s2_fft(x), ref, atol=1e-14, rtol=0)
    c = random_s2_coeffs(b, 3, generator=gen)
    full = C.s2_coeffs_to_list(C.s2_half_to_full(c))
    syn = sum((2 * l + 1) * torch.einsum("zm,jkm->zjk", full[l], D[..., :, l].conj()) for l, D in enumerate(Ds))
    torch.testing.assert_close(fft.s2_irfft(c), syn.real, atol=1e-13, rtol=0)


@pytest.mark.parametrize("b", [1, 2, 5, 16])
def test_round_trips(b, dtype, tol, device, gen):
    c = random_s2_coeffs(b, 2, 3, generator=gen, dtype=dtype).to(device)
    x = fft.s2_irfft(c)
    assert x.shape == (2, 3, 2 * b, 2 * b) and x.dtype == dtype and x.device.type == device.type
    assert relative_error(fft.s2_rfft(x), c) < tol[0]
    c3 = random_so3_coeffs(b if b < 16 else 10, 2, generator=gen, dtype=dtype).to(device)
    x3 = fft.so3_irfft(c3)
    assert relative_error(fft.so3_rfft(x3), c3) < tol[0]


def test_bandwidth_changes(gen):
    c = random_so3_coeffs(5, 2, generator=gen)
    x = fft.so3_irfft(c)  # band-limited to degrees < 5 on the b = 5 grid
    n3, n5 = C.so3_num_coeffs(3, True), C.so3_num_coeffs(5, True)
    torch.testing.assert_close(fft.so3_rfft(x, 3), c[..., :n3], atol=1e-14, rtol=0)  # truncation
    up = fft.so3_rfft(x, 7)  # zero-fill
    torch.testing.assert_close(up[..., :n5], c, atol=1e-14, rtol=0)
    assert (up[..., n5:] == 0).all()
    x8 = fft.so3_irfft(c, 8)  # up-sampled synthesis is the same band-limited function
    torch.testing.assert_close(fft.so3_rfft(x8, 5), c, atol=1e-14, rtol=0)
    # truncating synthesis drops degrees >= b_out
    torch.testing.assert_close(fft.so3_irfft(c, 3), fft.so3_irfft(c[..., :n3], 3))
    s = random_s2_coeffs(6, generator=gen)
    xs = fft.s2_irfft(s, 9)
    torch.testing.assert_close(fft.s2_rfft(xs, 6), s, atol=1e-14, rtol=0)
    assert (fft.s2_rfft(xs)[C.s2_num_coeffs(6, True) :].abs() < 1e-14).all()


def test_complex_transforms(gen):
    b = 4
    x = torch.randn(2, 2 * b, 2 * b, dtype=torch.complex128, generator=gen)
    c = fft.s2_fft(x)
    x_bl = fft.s2_ifft(c)  # band-limited projection of x
    torch.testing.assert_close(fft.s2_fft(x_bl), c, atol=1e-13, rtol=0)
    c3 = torch.randn(C.so3_num_coeffs(3), dtype=torch.complex128, generator=gen)
    torch.testing.assert_close(fft.so3_fft(fft.so3_ifft(c3)), c3, atol=1e-13, rtol=0)


@pytest.mark.parametrize(
    "fn,shape",
    [
        (lambda x: torch.view_as_real(fft.s2_rfft(x, 2)), (2, 6, 6)),
        (lambda x: torch.view_as_real(fft.s2_rfft(x, 4)), (1, 6, 6)),
        (lambda x: torch.view_as_real(fft.so3_rfft(x)), (1, 6, 6, 6)),
        (lambda x: torch.view_as_real(fft.so3_rfft(x, 2)), (2, 6, 6, 6)),
    ],
)
def test_gradcheck_analysis(fn, shape, gen):
    x = torch.randn(*shape, dtype=torch.float64, generator=gen, requires_grad=True)
    assert torch.autograd.gradcheck(fn, (x,))


@pytest.mark.parametrize("b_out", [2, 3, 4])
def test_gradcheck_synthesis(b_out, gen):
    c = random_s2_coeffs(3, 2, generator=gen).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: fft.s2_irfft(t, b_out), (c,))
    c3 = random_so3_coeffs(3, 1, generator=gen).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: fft.so3_irfft(t, b_out), (c3,))


def test_errors():
    with pytest.raises(ValueError, match=r"equal, even, non-zero sizes, got shape \[2, 6, 8\]"):
        fft.s2_rfft(torch.zeros(2, 6, 8))
    with pytest.raises(ValueError, match=r"got shape \[5, 5, 5\]"):
        fft.so3_rfft(torch.zeros(5, 5, 5))
    with pytest.raises(TypeError, match="real float32 or float64 tensor, got dtype torch.int64"):
        fft.s2_rfft(torch.zeros(4, 4, dtype=torch.int64))
    with pytest.raises(TypeError, match="complex coefficients"):
        fft.s2_irfft(torch.zeros(6))
    with pytest.raises(ValueError, match="not a valid number"):
        fft.so3_irfft(torch.zeros(5, dtype=torch.complex64))
    with pytest.raises(ValueError, match="b_out must be a positive integer bandwidth, got 0"):
        fft.s2_rfft(torch.zeros(4, 4), b_out=0)
