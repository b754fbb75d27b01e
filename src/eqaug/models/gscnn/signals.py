r"""Generalized signals, their real internal form, and conversions from/to S² and SO(3) signals.

Generalized signals (Cobb et al. 2021)
--------------------------------------
A generalized signal of bandlimit ``L`` and *type* ``τ = (τ_0, …, τ_{L-1})`` is a list over degrees ``l < L`` of
complex tensors ``f^l`` of shape ``[batch, channels, τ_l, 2l+1]`` (index ``m + l`` last); a rotation acts on the last
axis by the core's Wigner matrix, ``(R·f)^l = D^l(R) f^l`` (:mod:`s2cnn.wigner`, :mod:`s2cnn.coeffs`).
S² signals give ``τ_l = 1`` (``f^l_{·,0} = \hat f^l``, the S² FFT) and SO(3) signals ``τ_l = 2l+1``
(fragment ``t = n + l`` is the column ``\hat f^l_{·n}`` of the SO(3) FFT).  Any linear map acting on the
channel and ``τ`` axes only (never on ``m``) commutes with every rotation.

Real type and the internal representation
-----------------------------------------
Let ``v^♯_m = (-1)^m \overline{v_{-m}}`` (an antilinear involution commuting with every ``D^l(R)``).  A fragment is
of *real type* if ``v^♯ = v`` — the reality condition of the S² coefficients of a real function.  Real-type
fragments are exactly those whose coordinates ``r = U^l v`` in the real basis of the S2CNN layers
(:func:`s2cnn.real_basis.real_basis`, the one definition of the project) are real:

.. math::

    r_0 = v_0, \qquad r_{m} = \frac{v_m + (-1)^m v_{-m}}{\sqrt 2}, \qquad
    r_{-m} = -i\,\frac{v_m - (-1)^m v_{-m}}{\sqrt 2} \qquad (m > 0);

and ``U(v^♯) = \overline{U v}``, so ``\operatorname{Re}(U v) = U\,(v + v^♯)/2`` is ``U`` of the hermitian part
(``s2cnn.hermitian_part``).  The network keeps every fragment of real type (real weights; the tensor-product
activation multiplies its odd-parity products by ``i``, :mod:`~eqaug.models.gscnn.activation`), so it
computes on **real** tensors: the internal layout is ``[D, batch, channels]`` with
``D = Σ_l τ_l (2l+1)`` rows ordered by degree, then fragment, then real index ``μ + l``
(:func:`offsets`).  Rotations act on it by the real orthogonal ``U D^l(R) U^†``.

SO(3) columns are not of real type individually: for a real SO(3) signal ``g_n^♯ = (-1)^n g_{-n}``
(``g_n`` = column ``n``), so :func:`so3_to_internal` uses the real-type combinations
``(g_n + g_n^♯)/\sqrt2``, ``i(g_n - g_n^♯)/\sqrt2`` (``n > 0``) and ``g_0`` — a unitary map on the ``τ`` axis,
so equivariance is untouched.

Back to S²: :func:`generalized_to_s2` takes ``τ_l = 1`` signals to real grid signals through the hermitian part
(the reality condition is enforced, i.e. the real part of the complex synthesis is returned).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import torch

from s2cnn import (
    hermitian_part,
    s2_bandwidth,
    s2_full_to_half,
    s2_half_to_full,
    s2_irfft,
    s2_rfft,
    so3_coeffs_to_list,
    so3_full_to_half,
    so3_half_to_full,
    so3_irfft,
    so3_list_to_coeffs,
    so3_rfft,
    wigner_D_list,
)
from s2cnn.real_basis import real_basis

__all__ = [
    "GType",
    "s2_type",
    "so3_type",
    "const_type",
    "type_dim",
    "offsets",
    "degree_index",
    "real_basis",
    "s2_to_generalized",
    "so3_to_generalized",
    "generalized_to_s2",
    "generalized_to_so3",
    "rotate_generalized",
    "to_internal",
    "from_internal",
    "s2_to_internal",
    "so3_to_internal",
    "internal_to_s2",
    "hermitian_generalized",
]

#: A type: ``τ_l`` for ``l = 0 … L-1`` (its length is the bandlimit).
GType = tuple[int, ...]

_CDTYPE = {torch.float32: torch.complex64, torch.float64: torch.complex128}
_RDTYPE = {torch.complex64: torch.float32, torch.complex128: torch.float64}


def s2_type(L: int) -> GType:
    """``τ_l = 1`` for ``l < L``."""
    return (1,) * L


def so3_type(L: int) -> GType:
    """``τ_l = 2l + 1`` for ``l < L``."""
    return tuple(2 * l + 1 for l in range(L))


def const_type(L: int, tau: int) -> GType:
    """``τ_l = tau`` for ``l < L``."""
    return (tau,) * L


def type_dim(t: GType) -> int:
    """``D = Σ_l τ_l (2l+1)``: rows of the internal layout."""
    return sum(tau * (2 * l + 1) for l, tau in enumerate(t))


def offsets(t: GType) -> list[int]:
    """Row offset of degree ``l``'s block ``[τ_l, 2l+1]`` in the internal layout (length ``L + 1``)."""
    out = [0]
    for l, tau in enumerate(t):
        out.append(out[-1] + tau * (2 * l + 1))
    return out


@lru_cache(maxsize=64)
def _degree_index(t: GType) -> torch.Tensor:
    return torch.tensor([l for l, tau in enumerate(t) for _ in range(tau * (2 * l + 1))], dtype=torch.long)


def degree_index(t: GType, device: torch.device | str | None = None) -> torch.Tensor:
    """Degree ``l`` of every internal row (``[D]``, long)."""
    return _degree_index(tuple(t)).to(device)


# ----------------------------------------------------------------------------- complex generalized signals
def s2_to_generalized(x: torch.Tensor, L: int | None = None) -> list[torch.Tensor]:
    """Real S² signals ``[B, C, 2b, 2b]`` → ``[f^l]`` of shape ``[B, C, 1, 2l+1]`` (``l < L``, default ``b``)."""
    c = s2_half_to_full(s2_rfft(x, L))
    L = s2_bandwidth(c.shape[-1])
    return [c[..., l * l : (l + 1) ** 2].unsqueeze(-2) for l in range(L)]


def so3_to_generalized(x: torch.Tensor, L: int | None = None) -> list[torch.Tensor]:
    """Real SO(3) signals ``[B, C, 2b, 2b, 2b]`` → ``[f^l]`` of shape ``[B, C, 2l+1 (n), 2l+1 (m)]``."""
    blocks = so3_coeffs_to_list(so3_half_to_full(so3_rfft(x, L)))
    return [blk.transpose(-1, -2) for blk in blocks]


def hermitian_generalized(f: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Real-type part ``(v + v^♯)/2`` of every fragment."""
    out = []
    for l, v in enumerate(f):
        sign = torch.tensor([(-1.0) ** (m % 2) for m in range(-l, l + 1)], dtype=v.real.dtype, device=v.device)
        out.append((v + v.flip(-1).conj() * sign) / 2)
    return out


def generalized_to_s2(f: Sequence[torch.Tensor], b: int) -> torch.Tensor:
    """``τ_l = 1`` generalized signal → real S² signal ``[B, C, 2b, 2b]`` (hermitian part; degrees ``≥ b`` dropped)."""
    for l, v in enumerate(f):
        if v.shape[-2] != 1:
            raise ValueError(f"generalized_to_s2 needs type τ_l = 1, got τ_{l} = {v.shape[-2]}")
    c = torch.cat([v[..., 0, :] for v in f], dim=-1)
    return s2_irfft(s2_full_to_half(hermitian_part(c, "s2")[0]), b)


def generalized_to_so3(f: Sequence[torch.Tensor], b: int) -> torch.Tensor:
    """``τ_l = 2l+1`` generalized signal → real SO(3) signal ``[B, C, 2b, 2b, 2b]`` (hermitian part)."""
    c = so3_list_to_coeffs([v.transpose(-1, -2) for v in f])
    return so3_irfft(so3_full_to_half(hermitian_part(c, "so3")[0]), b)


def rotate_generalized(f: Sequence[torch.Tensor], alpha: float, beta: float, gamma: float) -> list[torch.Tensor]:
    """``f^l ↦ D^l(R(α, β, γ)) f^l`` on the last axis (exact)."""
    if not f:
        return []
    Ds = wigner_D_list(len(f), alpha, beta, gamma)
    return [v @ D.to(device=v.device, dtype=v.dtype).T for v, D in zip(f, Ds)]


# ----------------------------------------------------------------------------- internal (real) representation
def to_internal(f: Sequence[torch.Tensor]) -> tuple[torch.Tensor, GType]:
    """``[f^l]`` (complex ``[B, C, τ_l, 2l+1]``) → ``(r [D, B, C] real, type)`` with ``r = Re(U f)``.

    Lossless for real-type fragments; otherwise the hermitian part is kept.
    """
    rows, t = [], []
    for l, v in enumerate(f):
        B, C, tau, _ = v.shape
        r = (v @ real_basis(l, v.dtype, v.device).T).real  # [B, C, τ, 2l+1]
        rows.append(r.permute(2, 3, 0, 1).reshape(tau * (2 * l + 1), B, C))
        t.append(tau)
    return torch.cat(rows, 0), tuple(t)


def from_internal(r: torch.Tensor, t: GType) -> list[torch.Tensor]:
    """Inverse of :func:`to_internal`: ``(r [D, B, C], type)`` → complex ``[f^l]`` with ``f = U^† r``."""
    off = offsets(t)
    if r.shape[0] != off[-1]:
        raise ValueError(f"internal signal has {r.shape[0]} rows, type {t} needs {off[-1]}")
    _, B, C = r.shape
    cd = _CDTYPE[r.dtype]
    out = []
    for l, tau in enumerate(t):
        blk = r[off[l] : off[l + 1]].reshape(tau, 2 * l + 1, B, C).permute(2, 3, 0, 1).to(cd)
        out.append(blk @ real_basis(l, cd, r.device).conj())
    return out


@lru_cache(maxsize=32)
def _half_to_real_index(L: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For each real row ``(l, μ)``: half-layout index of ``|μ|``, whether to take Im, and the factor."""
    idx, imag, fac = [], [], []
    for l in range(L):
        for mu in range(-l, l + 1):
            m = abs(mu)
            idx.append(l * (l + 1) // 2 + m)
            imag.append(mu < 0)
            fac.append(1.0 if m == 0 else math.sqrt(2))
    return torch.tensor(idx), torch.tensor(imag), torch.tensor(fac, dtype=torch.float64)


def s2_to_internal(x: torch.Tensor, L: int) -> torch.Tensor:
    """Real S² signals ``[B, C, 2b, 2b]`` → internal ``[L², B, C]`` of type ``τ_l = 1`` (fast path, ``= to_internal``).

    From the half layout: ``r_0 = f_0``, ``r_m = \\sqrt2\\,Re f_m``, ``r_{-m} = \\sqrt2\\,Im f_m``.
    """
    h = s2_rfft(x, L)  # [B, C, L(L+1)/2]
    idx, imag, fac = (t.to(x.device) for t in _half_to_real_index(L))
    g = h.index_select(-1, idx)
    r = torch.where(imag, g.imag, g.real) * fac.to(x.dtype)
    return r.permute(2, 0, 1).contiguous()


def internal_to_s2(r: torch.Tensor, b: int) -> torch.Tensor:
    """Internal ``[L², B, C]`` of type ``τ_l = 1`` → real S² signals ``[B, C, 2b, 2b]`` (inverse of the fast path)."""
    L = s2_bandwidth(r.shape[0])
    rows_re, rows_im, fac = [], [], []
    for l in range(L):
        for m in range(l + 1):
            rows_re.append(l * l + l + m)
            rows_im.append(l * l + l - m)
            fac.append(1.0 if m == 0 else 1 / math.sqrt(2))
    dev = r.device
    re = r.index_select(0, torch.tensor(rows_re, device=dev))
    im = r.index_select(0, torch.tensor(rows_im, device=dev))
    im = torch.where(torch.tensor([m == 0 for l in range(L) for m in range(l + 1)], device=dev)[:, None, None], 0, im)
    f = torch.complex(re, im) * torch.tensor(fac, dtype=r.dtype, device=dev)[:, None, None]
    return s2_irfft(f.permute(1, 2, 0), b)


def so3_to_internal(x: torch.Tensor, L: int) -> tuple[torch.Tensor, GType]:
    """Real SO(3) signals ``[B, C, 2b, 2b, 2b]`` → internal ``(r, τ_l = 2l+1)`` via the real-type column combinations.

    Fragment order per degree: ``g_0``, then for ``n = 1 … l``: ``\\sqrt2 Re(U g_n)``, ``-\\sqrt2 Im(U g_n)``
    (``= U (g_n + g_n^♯)/\\sqrt2`` and ``U\\, i(g_n - g_n^♯)/\\sqrt2``).
    """
    blocks = so3_coeffs_to_list(so3_half_to_full(so3_rfft(x, L)))  # [B, C, m, n]
    rows = []
    B, C = x.shape[:2]
    for l, blk in enumerate(blocks):
        q = real_basis(l, blk.dtype, blk.device)
        qg = torch.einsum("um,bcmn->nubc", q, blk)  # [n, μ, B, C]
        parts = [qg[l].real.unsqueeze(0)]
        if l:
            pos = qg[l + 1 :]
            pair = torch.stack([math.sqrt(2) * pos.real, -math.sqrt(2) * pos.imag], 1)  # [l, 2, μ, B, C]
            parts.append(pair.reshape(2 * l, 2 * l + 1, B, C))
        rows.append(torch.cat(parts, 0).reshape(-1, B, C))
    return torch.cat(rows, 0), so3_type(L)
