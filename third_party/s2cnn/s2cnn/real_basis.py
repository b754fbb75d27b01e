r"""The real basis of the harmonics (owns the convention; used by the layers and by the GSCNN).

Real signals have real coefficients in a *real basis*.  Per degree ``l`` let ``U`` be the unitary
matrix with rows (real index ``a = -l … l``)

* ``a = 0``: ``e_0``;
* ``a = +μ``: ``(e_μ + (-1)^μ e_{-μ}) / √2`` ("cos" type);
* ``a = -μ``: ``-i (e_μ - (-1)^μ e_{-μ}) / √2`` ("sin" type).

The coefficients ``F^l = U f̂^l U^T`` (SO(3)) and ``F^l = U f̂^l`` (S²) of a real signal are real
(the reality condition ``f̂_{-m,-n} = (-1)^{m-n} conj(f̂_{mn})`` is exactly what makes them so),
``U U^T = S = diag(±1)`` (``-1`` on the sin rows), and the layer products become real:
``ĥ = f̂ ψ̂^† ⟺ H = F (S Ψ)^T`` with ``Ψ = U ψ̂ U^T`` — one real GEMM per degree with half the
flops of the complex one.  For an S² coefficient vector ``v`` of real type
(``v_{-m} = (-1)^m conj(v_m)``): ``(U v)_{+m} = √2 Re v_m`` and ``(U v)_{-m} = √2 Im v_m``.

With ``trig_0 = cos``, ``trig_1 = sin`` the real-basis Wigner matrix is a sum of products of trig
functions of ``α`` and ``γ`` with real functions of ``β`` (:func:`so3_real_d`, :func:`s2_real_d`):
these are the β tables of the transforms (:mod:`s2cnn._real_plans`).
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch

from .wigner import wigner_d

__all__ = [
    "real_basis",
    "so3_real_d",
    "s2_real_d",
    "so3_real_num",
    "s2_real_num",
    "so3_to_real",
    "so3_from_real",
    "s2_to_real",
    "s2_from_real",
]

_R2 = 1.0 / math.sqrt(2.0)


def _u(l: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``|a|`` and ``U[a, +|a|]``, ``U[a, -|a|]`` (complex128, ``[2l+1]`` each; ``U[0, -0] := 0``)."""
    a = torch.arange(-l, l + 1)
    mu = a.abs()
    sg = (1 - 2 * (mu % 2)).to(torch.float64)
    one = torch.ones(2 * l + 1, dtype=torch.complex128)
    u0 = torch.where(a > 0, _R2 * one, torch.where(a < 0, -1j * _R2 * one, one))
    u1 = torch.where(a > 0, sg * _R2 * one, torch.where(a < 0, 1j * sg * _R2 * one, 0 * one))
    return mu, u0, u1


def so3_real_d(l: int, beta: torch.Tensor) -> torch.Tensor:
    r"""``ρ^l[a, b, tα, tγ, k] = Σ_{m,n} U_{am} U_{bn} d^l_{mn}(β_k) c_{tα tγ}(m, n)``, float64.

    ``c`` are the coefficients of ``e^{-i(mα + nγ)} = Σ c_{tα tγ} trig_{tα}(|m|α) trig_{tγ}(|n|γ)``:
    ``c_00 = 1``, ``c_01 = -i s_n``, ``c_10 = -i s_m``, ``c_11 = -s_m s_n`` (``s`` the signs).
    Only ``tα ⊕ tγ = [a<0] ⊕ [b<0]`` is non-zero; the real-basis Wigner matrix is
    ``(U D(α,β,γ) U^T)_{ab} = Σ_{tα,tγ} ρ^l[a,b,tα,tγ](β) trig_{tα}(|a|α) trig_{tγ}(|b|γ)``.
    Every ``U`` entry is real (``a ≥ 0``) or imaginary (``a < 0``) and every ``c`` real or imaginary, so the
    sum is evaluated in real arithmetic: ``Re(u_a u_b c) = Re(u_a u_b) Re(c) - Im(u_a u_b) Im(c)``.
    """
    beta = torch.as_tensor(beta, dtype=torch.float64).reshape(-1)
    d = wigner_d(l, beta).permute(1, 2, 0)  # [m, n, k]
    mu, u0, u1 = _u(l)
    out = torch.zeros(2 * l + 1, 2 * l + 1, 2, 2, beta.numel(), dtype=torch.float64)
    for ua, m in ((u0, mu), (u1, -mu)):
        sm = torch.sign(m).to(torch.float64)[:, None]
        for ub, n in ((u0, mu), (u1, -mu)):
            sn = torch.sign(n).to(torch.float64)[None, :]
            uu = ua[:, None] * ub[None, :]
            re, im = uu.real, uu.imag
            dd = d[m[:, None] + l, n[None, :] + l]  # [a, b, k]
            out[:, :, 0, 0] += re[..., None] * dd  # c = 1
            out[:, :, 0, 1] += (im * sn)[..., None] * dd  # Re(uu · (-i s_n)) = Im(uu) s_n
            out[:, :, 1, 0] += (im * sm)[..., None] * dd
            out[:, :, 1, 1] -= (re * (sm * sn))[..., None] * dd
    return out


def s2_real_d(l: int, beta: torch.Tensor) -> torch.Tensor:
    r"""``σ^l[a, t, k] = Σ_m U_{am} d^l_{m0}(β_k) c_t(m)`` (``e^{-imα} = Σ_t c_t trig_t(|m|α)``), float64."""
    beta = torch.as_tensor(beta, dtype=torch.float64).reshape(-1)
    d = wigner_d(l, beta).to(torch.complex128)[:, :, l]  # [k, m]
    mu, u0, u1 = _u(l)
    out = torch.zeros(2 * l + 1, 2, beta.numel(), dtype=torch.complex128)
    for ua, m in ((u0, mu), (u1, -mu)):
        sm = torch.sign(m).to(torch.complex128)[:, None]
        w = ua[:, None] * d[:, m + l].T
        out[:, 0] += w
        out[:, 1] += w * (-1j * sm)
    assert out.imag.abs().max() < 1e-12
    return out.real.contiguous()


def so3_real_num(L: int) -> int:
    """Number of real SO(3) coefficients of degrees ``< L``: ``Σ (2l+1)²``."""
    return L * (4 * L * L - 1) // 3


def s2_real_num(L: int) -> int:
    """Number of real S² coefficients of degrees ``< L``: ``L²``."""
    return L * L


def so3_to_real(c: torch.Tensor, L: int) -> list[torch.Tensor]:
    """Full-layout-list complex SO(3) coefficients ``[..., 2l+1, 2l+1]`` → real ``U f̂ U^T`` (reference helper)."""
    out = []
    for l in range(L):
        Um = _u_matrix(l).to(c[l].dtype if torch.is_complex(c[l]) else torch.complex128)
        out.append((Um @ c[l] @ Um.T).real)
    return out


def so3_from_real(F: list[torch.Tensor]) -> list[torch.Tensor]:
    """Inverse of :func:`so3_to_real`: ``f̂ = U^† F conj(U)``."""
    out = []
    for l, Fl in enumerate(F):
        Um = _u_matrix(l).to(torch.complex128 if Fl.dtype == torch.float64 else torch.complex64)
        out.append(Um.conj().T @ Fl.to(Um.dtype) @ Um.conj())
    return out


def s2_to_real(c: list[torch.Tensor]) -> list[torch.Tensor]:
    """Per-degree complex S² coefficients ``[..., 2l+1]`` → real ``U f̂``."""
    return [(c[l].to(torch.complex128) @ _u_matrix(l).T).real for l in range(len(c))]


def s2_from_real(F: list[torch.Tensor]) -> list[torch.Tensor]:
    """Inverse of :func:`s2_to_real`."""
    return [F[l].to(torch.complex128) @ _u_matrix(l).conj() for l in range(len(F))]


@lru_cache(maxsize=256)
def _u_matrix(l: int) -> torch.Tensor:
    mu, u0, u1 = _u(l)
    Um = torch.zeros(2 * l + 1, 2 * l + 1, dtype=torch.complex128)
    a = torch.arange(2 * l + 1)
    Um[a, mu + l] += u0
    Um[a, -mu + l] += u1
    return Um


def real_basis(l: int, dtype: torch.dtype = torch.complex128, device: torch.device | str | None = None) -> torch.Tensor:
    """The unitary ``U^l`` of the module docstring (``[2l+1, 2l+1]``, rows ``a + l``, columns ``m + l``)."""
    return _u_matrix(l).to(device=device, dtype=dtype)
