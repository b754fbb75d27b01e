r"""Fast S² and SO(3) Fourier transforms on the SOFT grids (differentiable, CPU and GPU).

Definitions (normalised Haar measure, Wigner convention of :mod:`s2cnn.wigner`,
coefficient layouts of :mod:`s2cnn.coeffs`):

.. math::

    \hat f^l_m = \int_{S^2} f\, D^l_{m0}, \qquad \hat f^l_{mn} = \int_{SO(3)} f\, D^l_{mn}, \qquad
    f = \sum_l (2l+1) \sum \hat f\, \overline{D}.

Discretisation (Driscoll & Healy 1994; Kostelec & Rockmore 2008): an FFT over α (and γ),
``F_{mn}(β_j) = (2b)^{-2} Σ_{k,l} f(β_j, α_k, γ_l) e^{-i(mα_k + nγ_l)}``, then the SOFT
quadrature ``\hat f^l_{mn} = Σ_j w_j d^l_{mn}(β_j) F_{mn}(β_j)`` with ``Σ_j w_j = 1``
(:func:`s2cnn.grids.quadrature_weights`).  The analysis is exact for signals band-limited to
degrees ``< b`` (``b`` the grid bandwidth); synthesis evaluates the series on the grid.

Real signals store only ``m ≥ 0`` (*half* layout, :mod:`s2cnn.coeffs`); ``*_rfft`` /
``*_irfft`` are the fast paths used by the layers.  ``*_fft`` / ``*_ifft`` use the *full*
layout and accept complex signals / coefficients (by linearity, through the real transforms).

Implementation: S² uses ``rfft`` along α (the last, contiguous axis).  SO(3) uses ``rfftn``
over (α, γ) with the *half axis on γ* (the last axis: PyTorch returns transposed strides
otherwise, costing hidden copies) and maps to the ``m ≥ 0`` coefficient layout with
``F_{m,n} = \overline{F_{-m,-n}}`` (see :func:`s2cnn._plans._build_so3`).  The β sums are
grouped batched matmuls against cached tables (:mod:`s2cnn._plans`); the synthesis scatters
straight into a contiguous half spectrum.  The analysis FFT has a custom backward
(:class:`_HalfFFT`) because PyTorch's generic one runs a padded complex transform.

Bandwidth changes: ``b_out < b_in`` truncates to degrees ``< b_out``; ``b_out > b_in``
zero-fills the degrees ``b_in … b_out-1`` (an up-sampling of the band-limited signal).
"""

from __future__ import annotations

from typing import Any

import torch

from ._checks import check_bandwidth, grid_bandwidth
from ._plans import ragged_lhs, ragged_rhs, s2_plan, so3_plan
from .coeffs import (
    hermitian_part,
    s2_bandwidth,
    s2_full_to_half,
    s2_half_to_full,
    s2_num_coeffs,
    s2_resize,
    so3_bandwidth,
    so3_full_to_half,
    so3_half_to_full,
    so3_num_coeffs,
    so3_resize,
)

__all__ = [
    "s2_rfft",
    "s2_irfft",
    "so3_rfft",
    "so3_irfft",
    "s2_fft",
    "s2_ifft",
    "so3_fft",
    "so3_ifft",
    "s2_analysis",
    "s2_synthesis",
    "so3_analysis",
    "so3_synthesis",
]


def _real_view(z: torch.Tensor) -> torch.Tensor:
    """Complex ``[..., N]`` (contiguous) → real ``[..., 2N]``."""
    return torch.view_as_real(z).flatten(-2)


def _complex_view(r: torch.Tensor) -> torch.Tensor:
    """Real ``[..., 2N]`` → complex ``[..., N]``."""
    return torch.view_as_complex(r.unflatten(-1, (-1, 2)))


class _HalfFFT(torch.autograd.Function):
    """``rfftn(x, dim=dims, norm="forward")`` (half axis = ``dims[-1]``) with an FFT-sized backward.

    The adjoint of ``y_m = N^{-1} Σ_t x_t e^{-2πi m·t/N}`` (half spectrum along one axis) is
    ``∂L/∂x_t = N^{-1} Re Σ_m g_m e^{2πi m·t/N}``, i.e. a C2R transform of ``g`` with the interior
    half-axis bins halved (the C2R transform counts them twice).  Torch's generic backward runs a
    zero-padded complex transform instead, several times slower.
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, dims: tuple[int, ...]) -> torch.Tensor:
        ctx.dims = dims
        ctx.sizes = [x.shape[d] for d in dims]
        return torch.fft.rfftn(x, dim=dims, norm="forward")

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor, None]:
        half_dim = ctx.dims[-1]
        n = ctx.sizes[-1]
        w = torch.full((g.shape[half_dim],), 0.5, dtype=g.real.dtype, device=g.device)
        w[0] = 1.0
        if n % 2 == 0:
            w[-1] = 1.0
        shape = [1] * g.dim()
        shape[half_dim] = -1
        return torch.fft.irfftn(g * w.view(shape), s=ctx.sizes, dim=ctx.dims, norm="backward"), None


# --------------------------------------------------------------------------------------------
# Coefficient-major kernels: coefficients are [ncoeff (half layout), N], N = flattened batch.
# --------------------------------------------------------------------------------------------


def s2_analysis(x: torch.Tensor, L: int) -> torch.Tensor:
    """Real ``x [N, 2b, 2b]`` → half-layout coefficients ``[L(L+1)/2, N]`` (complex), ``L ≤ b``."""
    b = x.shape[-1] // 2
    plan = s2_plan(b, L, True, x.device, x.dtype)
    F = _HalfFFT.apply(x, (-1,))[:, :, :L]  # [N, j, m]
    F = F.permute(2, 1, 0).contiguous()  # [m, j, N]  (pairs are m = 0 … L-1 in order)
    R = ragged_lhs(plan.groups, plan.tables, _real_view(F))  # [rows, 2N]
    return _complex_view(R.index_select(0, plan.packed_index))


def s2_synthesis(c: torch.Tensor, b: int, L: int) -> torch.Tensor:
    """Half-layout coefficients ``[L(L+1)/2, N]`` → real grid ``[N, 2b, 2b]``, ``L ≤ b``."""
    plan = s2_plan(b, L, False, c.device, c.real.dtype)
    R = _real_view(c.contiguous()).index_select(0, plan.packed_index)  # [rows, 2N]
    G = _complex_view(ragged_rhs(plan.groups, plan.tables, R))  # [m, j, N]
    y = torch.fft.irfft(G, n=2 * b, dim=0, norm="forward")  # [α, j, N]
    return y.permute(2, 1, 0).contiguous()


def so3_analysis(x: torch.Tensor, L: int) -> torch.Tensor:
    """Real ``x [N, 2b, 2b, 2b]`` → half-layout coefficients ``[L(L+1)(4L-1)/6, N]``, ``L ≤ b``."""
    N, b = x.shape[0], x.shape[-1] // 2
    plan = so3_plan(b, L, True, x.device, x.dtype)
    H = _HalfFFT.apply(x, (-2, -1)).flatten(-2)  # [N, j, (m mod 2b)·(b+1) + n], n ≥ 0
    outs = []
    for (s, e, _, _), t in zip(plan.groups, plan.tables):  # gather per group: no full-size temporary
        Fg = H.index_select(2, plan.fft_index[s:e]).permute(2, 1, 0).contiguous()  # [G, j, N]
        outs.append(torch.bmm(t, _real_view(Fg)).reshape(-1, 2 * N))
    R = torch.cat(outs, 0) if len(outs) > 1 else outs[0]
    X = R.index_select(0, plan.packed_index).view(-1, N, 2)
    return torch.view_as_complex(X * torch.stack([torch.ones_like(plan.conj), plan.conj], -1)[:, None, :])


def so3_synthesis(c: torch.Tensor, b: int, L: int) -> torch.Tensor:
    """Half-layout coefficients (degrees ``< L``) ``[ncoeff, N]`` → real grid ``[N, 2b, 2b, 2b]``."""
    N = c.shape[-1]
    plan = so3_plan(b, L, False, c.device, c.real.dtype)
    R = torch.view_as_real(c.contiguous()).index_select(0, plan.packed_index)  # [rows, N, 2]
    R = (R * torch.stack([torch.ones_like(plan.conj), plan.conj], -1)[:, None, :]).flatten(-2)
    H = c.new_zeros(N, 2 * b, 2 * b * (b + 1))
    for (s, e, _, base), t in zip(plan.groups, plan.tables):
        nl = t.shape[-1]
        og = _complex_view(torch.bmm(t, R[base : base + (e - s) * nl].view(e - s, nl, -1)))  # [G, j, N]
        H.index_copy_(2, plan.fft_index[s:e], og.permute(2, 1, 0))  # transposing scatter into the spectrum
    return torch.fft.irfftn(H.view(N, 2 * b, 2 * b, b + 1), s=(2 * b, 2 * b), dim=(-2, -1), norm="forward")


# --------------------------------------------------------------------------------------------
# Public batch-leading API
# --------------------------------------------------------------------------------------------


def _b_out(b_out: int | None, default: int, name: str = "b_out") -> int:
    return default if b_out is None else check_bandwidth(b_out, name)


def s2_rfft(x: torch.Tensor, b_out: int | None = None) -> torch.Tensor:
    """Real S² signal ``[..., 2b, 2b]`` → half-layout coefficients ``[..., b_out(b_out+1)/2]`` (complex).

    ``b_out`` defaults to the grid bandwidth ``b``; degrees ``≥ b`` are zero-filled.
    """
    b = grid_bandwidth(x, 2, "s2_rfft")
    b_out = _b_out(b_out, b)
    L = min(b, b_out)
    batch = x.shape[:-2]
    c = s2_analysis(x.reshape(-1, 2 * b, 2 * b), L).T  # [N, ncoeff]
    return s2_resize(c, b_out, half=True).reshape(*batch, -1)


def s2_irfft(c: torch.Tensor, b_out: int | None = None) -> torch.Tensor:
    """Half-layout coefficients ``[..., b(b+1)/2]`` → real S² signal ``[..., 2b_out, 2b_out]``.

    ``b_out`` defaults to the coefficients' bandwidth; degrees ``≥ b_out`` are dropped.
    """
    if not torch.is_complex(c):
        raise TypeError(f"s2_irfft expects complex coefficients, got dtype {c.dtype}")
    b = s2_bandwidth(c.shape[-1], half=True)
    b_out = _b_out(b_out, b)
    L = min(b, b_out)
    batch = c.shape[:-1]
    cc = c[..., : s2_num_coeffs(L, half=True)].reshape(-1, s2_num_coeffs(L, half=True)).T
    return s2_synthesis(cc, b_out, L).reshape(*batch, 2 * b_out, 2 * b_out)


def so3_rfft(x: torch.Tensor, b_out: int | None = None) -> torch.Tensor:
    """Real SO(3) signal ``[..., 2b, 2b, 2b]`` → half-layout coefficients ``[..., b_out(b_out+1)(4b_out-1)/6]``."""
    b = grid_bandwidth(x, 3, "so3_rfft")
    b_out = _b_out(b_out, b)
    L = min(b, b_out)
    batch = x.shape[:-3]
    c = so3_analysis(x.reshape(-1, 2 * b, 2 * b, 2 * b), L).T
    return so3_resize(c, b_out, half=True).reshape(*batch, -1)


def so3_irfft(c: torch.Tensor, b_out: int | None = None) -> torch.Tensor:
    """Half-layout SO(3) coefficients → real SO(3) signal ``[..., 2b_out, 2b_out, 2b_out]``."""
    if not torch.is_complex(c):
        raise TypeError(f"so3_irfft expects complex coefficients, got dtype {c.dtype}")
    b = so3_bandwidth(c.shape[-1], half=True)
    b_out = _b_out(b_out, b)
    L = min(b, b_out)
    batch = c.shape[:-1]
    n = so3_num_coeffs(L, half=True)
    cc = c[..., :n].reshape(-1, n).T
    return so3_synthesis(cc, b_out, L).reshape(*batch, 2 * b_out, 2 * b_out, 2 * b_out)


def s2_fft(x: torch.Tensor, b_out: int | None = None) -> torch.Tensor:
    """S² signal (real or complex) ``[..., 2b, 2b]`` → full-layout coefficients ``[..., b_out²]``."""
    if torch.is_complex(x):
        return s2_fft(x.real, b_out) + 1j * s2_fft(x.imag, b_out)
    return s2_half_to_full(s2_rfft(x, b_out))


def s2_ifft(c: torch.Tensor, b_out: int | None = None) -> torch.Tensor:
    """Full-layout coefficients ``[..., b²]`` → complex S² signal ``[..., 2b_out, 2b_out]``.

    For coefficients of a real signal the imaginary part is zero; use
    ``s2_irfft(s2_full_to_half(c))`` to get the real signal directly.
    """
    if not torch.is_complex(c):
        raise TypeError(f"s2_ifft expects complex coefficients, got dtype {c.dtype}")
    h1, h2 = hermitian_part(c, "s2")
    f1 = s2_irfft(s2_full_to_half(h1), b_out)
    f2 = s2_irfft(s2_full_to_half(h2), b_out)
    return torch.complex(f1, f2)


def so3_fft(x: torch.Tensor, b_out: int | None = None) -> torch.Tensor:
    """SO(3) signal (real or complex) ``[..., 2b, 2b, 2b]`` → full-layout coefficients."""
    if torch.is_complex(x):
        return so3_fft(x.real, b_out) + 1j * so3_fft(x.imag, b_out)
    return so3_half_to_full(so3_rfft(x, b_out))


def so3_ifft(c: torch.Tensor, b_out: int | None = None) -> torch.Tensor:
    """Full-layout SO(3) coefficients → complex SO(3) signal ``[..., 2b_out, 2b_out, 2b_out]``."""
    if not torch.is_complex(c):
        raise TypeError(f"so3_ifft expects complex coefficients, got dtype {c.dtype}")
    h1, h2 = hermitian_part(c, "so3")
    f1 = so3_irfft(so3_full_to_half(h1), b_out)
    f2 = so3_irfft(so3_full_to_half(h2), b_out)
    return torch.complex(f1, f2)
