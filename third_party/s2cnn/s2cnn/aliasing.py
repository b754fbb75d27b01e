r"""Aliased analysis: the SOFT quadrature of a ``2b`` grid applied to degrees ``l ≥ b`` (the original's up-sampling).

The quadrature analysis of a grid signal ``x`` of bandwidth ``b`` (:mod:`s2cnn.fft`, conventions of
:mod:`s2cnn.grids` and :mod:`s2cnn.wigner`) is, for any degree ``l`` and orders ``|m|, |n| ≤ l``,

.. math::

    Q[x]^l_{mn} = \sum_j w_j\, d^l_{mn}(β_j)\, X_{m \bmod 2b,\; n \bmod 2b}(β_j)
                = \frac{1}{(2b)^2} \sum_{j,k,r} w_j\, D^l_{mn}(α_k, β_j, γ_r)\, x(β_j, α_k, γ_r),

    X_{pq}(β_j) = \frac{1}{(2b)^2} \sum_{k,r} x(β_j, α_k, γ_r)\, e^{-2πi (pk + qr)/(2b)}

(S²: ``n = 0``, no ``γ``, ``(2b)^{-1}``): the DFT over ``α`` (and ``γ``) of the ``2b`` samples, the order ``m``
read from bin ``m mod 2b`` (``e^{-imα_k}`` is ``2b``-periodic in ``m``), and the ``β`` quadrature with the
``2b``-point SOFT weights ``w_j`` (``Σ w_j = 1``).  For ``l < b`` this is :func:`s2cnn.s2_fft` /
:func:`s2cnn.so3_fft` (exact for signals band-limited to degrees ``< b``).  For ``b ≤ l < 2b`` the
quadrature is used beyond its exactness and returns *aliased* coefficients; the original library
(jonkhler/s2cnn) computes them when a layer raises the bandwidth, our layers zero those degrees unless asked
(``upsampling="aliased"``, :mod:`s2cnn.layers`).  Properties (tested in
``tests/s2cnn/test_aliased_upsampling.py``):

* the quadrature integrates every function band-limited to degrees ``< 2b`` exactly, so for a signal
  band-limited to degrees ``< L_0`` (``x·D^l`` has degrees ``≤ l + L_0 - 1``) ``Q[x]^l = 0`` for
  ``l ≤ 2b - L_0``; aliased coefficients appear only at degrees ``l > 2b - L_0``;
* a rotation that permutes the grid points with equal weights (α-rolls by ``2π/2b``, ``R_y(π)``) acts
  exactly, ``Q[R·x]^l = D^l(R) Q[x]^l`` for every ``l``; generic rotations do not (for ``l ≥ b``);
* ``Q`` is linear with the fixed tables above, so autograd differentiates it exactly (its adjoint is
  ``D``-weighted synthesis on the ``2b`` grid).

``max_order`` (SO(3) only) sets the orders ``|m| ≥ max_order`` or ``|n| ≥ max_order`` to zero: the original's
SO(3) transform does that with ``max_order = b`` ("consider high frequencies as null"), while its S² transform
reads every order from bin ``m mod 2b``.

This is a simple per-degree path (an FFT over ``α, γ``, then per degree a gather of the bins and a
contraction with a cached table ``w_j d^l_{mn}(β_j)``), meant for the few degrees ``b … b_out-1``.
"""

from __future__ import annotations

from functools import lru_cache

import torch

from ._checks import check_bandwidth, grid_bandwidth
from .grids import quadrature_weights, s2_grid
from .real_basis import real_basis
from .wigner import wigner_d

__all__ = ["s2_fft_aliased", "so3_fft_aliased", "s2_aliased_blocks", "so3_aliased_blocks", "aliased_real_blocks"]

_CDTYPE = {torch.float32: torch.complex64, torch.float64: torch.complex128}


@lru_cache(maxsize=64)
def _tables(
    so3: bool, b: int, l_lo: int, l_hi: int, max_order: int | None, device: torch.device, dtype: torch.dtype
) -> tuple[tuple[torch.Tensor, torch.Tensor], ...]:
    """Per degree ``l_lo ≤ l < l_hi``: the DFT bins ``m mod 2b`` and ``w_j d^l_{mn}(β_j)`` (``[j, m(, n)]``, complex)."""
    beta = s2_grid(b)[0]
    w = quadrature_weights(b)
    out = []
    for l in range(l_lo, l_hi):
        m = torch.arange(-l, l + 1)
        d = wigner_d(l, beta)  # [j, m, n]
        if so3:
            T = w[:, None, None] * d
            if max_order is not None:
                keep = (m.abs() < max_order).to(torch.float64)
                T = T * keep[:, None] * keep[None, :]
        else:
            T = w[:, None] * d[:, :, l]
        out.append(((m % (2 * b)).to(device), T.to(device=device, dtype=_CDTYPE[dtype])))
    return tuple(out)


def _bandwidth(x: torch.Tensor, ndim: int, who: str) -> int:
    return grid_bandwidth(x.real if x.is_complex() else x, ndim, who)


def _check_range(l_lo: int, l_hi: int, b: int, who: str) -> None:
    if not (isinstance(l_lo, int) and isinstance(l_hi, int) and 0 <= l_lo <= l_hi <= 2 * b):
        raise ValueError(
            f"{who}: degrees must satisfy 0 ≤ l_lo ≤ l_hi ≤ 2b = {2 * b} (the grid's DFT has 2b bins), "
            f"got l_lo={l_lo!r}, l_hi={l_hi!r}"
        )


def s2_aliased_blocks(x: torch.Tensor, l_lo: int, l_hi: int) -> list[torch.Tensor]:
    """Quadrature coefficients ``Q[x]^l_m`` of an S² grid signal ``[..., 2b, 2b]`` (real or complex) for
    ``l_lo ≤ l < l_hi ≤ 2b``: a list of complex ``[..., 2l+1]`` blocks (index ``m + l``); see the module docstring."""
    b = _bandwidth(x, 2, "s2_aliased_blocks")
    _check_range(l_lo, l_hi, b, "s2_aliased_blocks")
    rdtype = x.real.dtype if x.is_complex() else x.dtype
    X = torch.fft.fft(x, dim=-1, norm="forward")  # [..., j, bin]
    return [
        torch.einsum("...jm,jm->...m", X.index_select(-1, idx), T)
        for idx, T in _tables(False, b, l_lo, l_hi, None, x.device, rdtype)
    ]


def so3_aliased_blocks(x: torch.Tensor, l_lo: int, l_hi: int, max_order: int | None = None) -> list[torch.Tensor]:
    """Quadrature coefficients ``Q[x]^l_{mn}`` of an SO(3) grid signal ``[..., 2b, 2b, 2b]`` (real or complex) for
    ``l_lo ≤ l < l_hi ≤ 2b``: complex ``[..., 2l+1, 2l+1]`` blocks (index ``[m + l, n + l]``); orders
    ``|m|`` or ``|n| ≥ max_order`` are zero if ``max_order`` is given (see the module docstring)."""
    b = _bandwidth(x, 3, "so3_aliased_blocks")
    _check_range(l_lo, l_hi, b, "so3_aliased_blocks")
    if max_order is not None:
        check_bandwidth(max_order, "max_order")
    rdtype = x.real.dtype if x.is_complex() else x.dtype
    X = torch.fft.fft2(x, dim=(-2, -1), norm="forward")  # [..., j, bin α, bin γ]
    return [
        torch.einsum("...jmn,jmn->...mn", X.index_select(-2, idx).index_select(-1, idx), T)
        for idx, T in _tables(True, b, l_lo, l_hi, max_order, x.device, rdtype)
    ]


def s2_fft_aliased(x: torch.Tensor, b_out: int) -> torch.Tensor:
    """S² grid signal ``[..., 2b, 2b]`` → full-layout coefficients ``[..., b_out²]`` of all degrees ``l < b_out ≤ 2b``
    by the ``2b``-point quadrature (:func:`s2cnn.s2_fft` for ``l < b``, aliased coefficients for ``l ≥ b``)."""
    b_out = check_bandwidth(b_out, "b_out")
    return torch.cat(s2_aliased_blocks(x, 0, b_out), -1)


def so3_fft_aliased(x: torch.Tensor, b_out: int, max_order: int | None = None) -> torch.Tensor:
    """SO(3) grid signal ``[..., 2b, 2b, 2b]`` → full-layout coefficients of all degrees ``l < b_out ≤ 2b`` by the
    ``2b``-point quadrature (:func:`s2cnn.so3_fft` for ``l < b``); ``max_order`` as in :func:`so3_aliased_blocks`."""
    b_out = check_bandwidth(b_out, "b_out")
    return torch.cat([c.flatten(-2) for c in so3_aliased_blocks(x, 0, b_out, max_order)], -1)


def aliased_real_blocks(
    x: torch.Tensor, so3: bool, l_lo: int, l_hi: int, max_order: int | None = None
) -> list[torch.Tensor]:
    """Layer input ``[B, C, 2b, 2b(, 2b)]`` (real) → the quadrature coefficients of degrees ``l_lo … l_hi-1`` in
    the real basis and row layout of the layers' engine (:mod:`s2cnn._real`): per degree ``[(B, a(, b)), C]`` with
    ``F^l = U Q[x]^l`` (S²) or ``U Q[x]^l U^T`` (SO(3)), ``U`` of :mod:`s2cnn.real_basis`.

    ``Q[x]`` satisfies the reality condition for real ``x`` (``d^l_{-m,-n} = (-1)^{m-n} d^l_{mn}`` and
    ``X_{-p,-q} = \\overline{X_{pq}}`` for every bin, also the wrapped ones), so ``F^l`` is real; its imaginary
    part (round-off) is dropped.
    """
    C = x.shape[1]
    blocks = so3_aliased_blocks(x, l_lo, l_hi, max_order) if so3 else s2_aliased_blocks(x, l_lo, l_hi)
    out = []
    for l, c in zip(range(l_lo, l_hi), blocks):
        U = real_basis(l, dtype=c.dtype, device=c.device)
        F = (U @ c @ U.T) if so3 else (c @ U.T)  # [B, C, a(, b)]
        out.append(F.real.movedim(1, -1).contiguous().view(-1, C))  # rows (B, a(, b)), as the engine's
    return out
