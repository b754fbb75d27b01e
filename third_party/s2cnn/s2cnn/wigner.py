r"""Wigner d and D matrices.

Phase convention (stated once for the whole package)
-----------------------------------------------------
For a rotation ``R(α, β, γ) = R_z(α) R_y(β) R_z(γ)`` (see :mod:`s2cnn.grids`)

.. math::

    D^l_{mn}(α, β, γ) = e^{-i m α}\, d^l_{mn}(β)\, e^{-i n γ},
    \qquad d^l_{mn}(β) = \langle l m | e^{-i β J_y} | l n \rangle ,

with ``d`` the real Wigner small-d matrix in the standard (Wigner / Sakurai /
Condon–Shortley) convention, e.g. ``d^1_{10}(β) = -\sin β / \sqrt 2``.  With this
choice ``D`` is a unitary representation, ``D(R_1 R_2) = D(R_1) D(R_2)``, and
``\overline{D^l_{m0}(α, β, 0)} = \sqrt{4π/(2l+1)}\, Y^m_l(β, α)`` (Condon–Shortley
spherical harmonics).  Matrices are indexed ``[..., m + l, n + l]`` with
``m, n = -l … l``.

Symmetries used elsewhere in the package:
``d^l_{mn} = (-1)^{m-n} d^l_{nm} = d^l_{-n,-m}``, ``d^l_{mn}(-β) = d^l_{nm}(β)`` and
``D^l_{-m,-n} = (-1)^{m-n}\overline{D^l_{mn}}``.

Algorithm
---------
``Δ^l = d^l(π/2)`` is computed in float64 by the three-term recursion in ``l`` at fixed
``(m, n)`` (Kostelec & Rockmore 2008, eq. for ``d^{J+1}``)

.. math::

    d^{l+1}_{mn} = \frac{(l+1)(2l+1)}{\sqrt{((l+1)^2-m^2)((l+1)^2-n^2)}}
    \Big[\big(\cos β - \tfrac{mn}{l(l+1)}\big) d^l_{mn}
    - \tfrac{\sqrt{(l^2-m^2)(l^2-n^2)}}{l(2l+1)} d^{l-1}_{mn}\Big],

seeded at ``l = max(|m|, |n|)`` by the closed forms
``d^l_{l,n} = (-1)^{l-n} \sqrt{\binom{2l}{l+n}} c^{l+n} s^{l-n}`` (and the three
analogous ones) with ``c = \cos(β/2)``, ``s = \sin(β/2)``; at ``β = π/2`` the
recursion is well conditioned.  ``d^l(β)`` at any angle then follows from the Fourier
series ``d^l_{mn}(β) = Σ_k Δ^l_{km} Δ^l_{kn} \cos(kβ - (m-n)π/2)`` (Risbo 1996;
Trapani & Navaza 2006), which is accurate to a few ulp for all ``β`` (tested against
60-digit mpmath values up to ``l = 100``).  Everything is vectorised over the
requested ``(m, n)`` pairs and angles.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence

import torch

__all__ = [
    "wigner_d",
    "wigner_d_list",
    "wigner_D",
    "wigner_D_list",
    "wigner_d_pairs",
]


def _as_float64(x: float | Sequence[float] | torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(x, dtype=torch.float64, device="cpu")


def wigner_d_pairs(
    L: int,
    beta: float | Sequence[float] | torch.Tensor,
    m: Sequence[int] | torch.Tensor,
    n: Sequence[int] | torch.Tensor,
) -> torch.Tensor:
    r"""``d^l_{m_k n_k}(β)`` for all ``l < L`` and the given index pairs, float64 on the CPU.

    Parameters
    ----------
    L : int
        Number of degrees (``l = 0 … L-1``).
    beta : array_like, shape ``[nb]`` (or scalar)
        Angles in radians (any real value).
    m, n : sequences of int, same length ``P``
        Index pairs; entries with ``l < max(|m|, |n|)`` are zero.

    Returns
    -------
    torch.Tensor
        ``[P, nb, L]`` float64.

    Notes
    -----
    Evaluated as a Fourier series in ``β`` (Risbo 1996; Trapani & Navaza 2006):
    ``d^l_{mn}(β) = Σ_k Δ^l_{km} Δ^l_{kn} \cos(kβ - (m-n)π/2)`` with
    ``Δ^l = d^l(π/2)`` from the recursion.  Writing ``d^l(β) = d^l(-π/2)^T ·``
    ``diag(e^{-ikβ}) · d^l(π/2)`` up to the phases ``i^{m-n}`` follows from
    ``R_y(β) = R_z(-π/2) R_y(-π/2) R_z(β) R_y(π/2) R_z(π/2)``.  Unlike the recursion at
    the angle itself (whose error grows like ``l² ε`` near the poles), the series is
    accurate to a few ``ε`` for every ``β``: each term is a product of bounded, accurately
    known numbers and ``Σ_k |Δ_{km} Δ_{kn}| ≤ 1``.
    """
    beta = _as_float64(beta).reshape(-1)
    m = torch.as_tensor(m, dtype=torch.int64).reshape(-1)
    n = torch.as_tensor(n, dtype=torch.int64).reshape(-1)
    if m.shape != n.shape:
        raise ValueError(f"m and n must have the same length, got {tuple(m.shape)} and {tuple(n.shape)}")
    P, nb = m.numel(), beta.numel()
    out = torch.zeros(P, nb, max(L, 0), dtype=torch.float64)
    if out.numel() == 0:
        return out
    kmax = torch.maximum(m.abs(), n.abs())
    for l in range(L):
        sel = (kmax <= l).nonzero().reshape(-1)
        if sel.numel() == 0:
            continue
        d = _d_block(l, beta)  # [nb, 2l+1, 2l+1]
        out[sel, :, l] = d[:, m[sel] + l, n[sel] + l].T
    return out


def _d_block(l: int, beta: torch.Tensor) -> torch.Tensor:
    """``d^l(β)`` for a 1-D float64 tensor of angles, ``[nb, 2l+1, 2l+1]``, by the Fourier series."""
    delta = _delta(l)  # [k, m]
    k = torch.arange(-l, l + 1, dtype=torch.float64)
    kb = beta[:, None] * k[None, :]  # [nb, k]
    xc = delta.T @ (torch.cos(kb)[:, :, None] * delta)  # Σ_k Δ_km Δ_kn cos(kβ)
    xs = delta.T @ (torch.sin(kb)[:, :, None] * delta)  # Σ_k Δ_km Δ_kn sin(kβ)
    mn = (k[:, None] - k[None, :]).remainder(4)  # (m - n) mod 4
    s_c = torch.where(mn == 0, 1.0, torch.where(mn == 2, -1.0, 0.0))  # cos((m-n)π/2)
    s_s = torch.where(mn == 1, 1.0, torch.where(mn == 3, -1.0, 0.0))  # sin((m-n)π/2)
    return s_c * xc + s_s * xs


_DELTAS: list[torch.Tensor] = []
_DELTAS_LOCK = threading.Lock()


def _delta(l: int) -> torch.Tensor:
    """``Δ^l = d^l(π/2)``, ``[2l+1, 2l+1]`` float64 (memoised; grown in doubling steps)."""
    if l >= len(_DELTAS):
        with _DELTAS_LOCK:
            if l >= len(_DELTAS):
                L = max(l + 1, 2 * len(_DELTAS), 16)
                _DELTAS[:] = _delta_list(L)
    return _DELTAS[l]


def _delta_list(L: int) -> list[torch.Tensor]:
    """``Δ^l = d^l(π/2)`` for ``l < L`` (from the recursion, where it is well conditioned)."""
    lm = L - 1
    M, N = _all_pairs(lm)
    d = _wigner_d_pairs_raw(L, torch.tensor([math.pi / 2], dtype=torch.float64), M, N)[:, 0, :]
    d = d.reshape(2 * lm + 1, 2 * lm + 1, L)
    return [d[lm - l : lm + l + 1, lm - l : lm + l + 1, l].contiguous() for l in range(L)]


def _wigner_d_pairs_raw(L: int, beta: torch.Tensor, m: torch.Tensor, n: torch.Tensor) -> torch.Tensor:
    """The three-term recursion of the module docstring at the angles themselves: ``[P, nb, L]``.

    Used for ``Δ^l = d^l(π/2)``, where it is well conditioned; near ``β = 0, π`` its error grows like
    ``l² ε`` (≈2e-13 at ``l = 100``), which is why other angles go through the Fourier series.
    """
    P, nb = m.numel(), beta.numel()
    out = torch.zeros(P, nb, L, dtype=torch.float64)
    if P == 0 or nb == 0 or L <= 0:
        return out
    k = torch.maximum(m.abs(), n.abs())
    seed = _seeds(beta, m, n, k)  # [P, nb], d^k_{mn}(β)
    cb = torch.cos(beta)[None, :]
    mf, nf = m.to(torch.float64)[:, None], n.to(torch.float64)[:, None]
    prev = torch.zeros(P, nb, dtype=torch.float64)
    cur = torch.zeros(P, nb, dtype=torch.float64)
    for l in range(L):
        if l == 0:
            new = torch.zeros(P, nb, dtype=torch.float64)
        else:
            J = float(l - 1)  # recursion J -> J + 1 = l
            a1 = (
                (J + 1)
                * (2 * J + 1)
                / torch.sqrt(((J + 1) ** 2 - mf**2).clamp_min(1e-300) * ((J + 1) ** 2 - nf**2).clamp_min(1e-300))
            )
            t = mf * nf / (J * (J + 1)) if J > 0 else torch.zeros_like(mf)
            a2 = (
                torch.sqrt(((J**2 - mf**2) * (J**2 - nf**2)).clamp_min(0.0)) / (J * (2 * J + 1))
                if J > 0
                else torch.zeros_like(mf)
            )
            new = a1 * ((cb - t) * cur - a2 * prev)
        active = (k < l)[:, None]
        new = torch.where(active, new, torch.zeros((), dtype=torch.float64))
        new = torch.where((k == l)[:, None], seed, new)
        out[:, :, l] = new
        prev, cur = cur, new
    return out


def _seeds(beta: torch.Tensor, m: torch.Tensor, n: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Closed-form ``d^k_{mn}(β)`` at ``k = max(|m|, |n|)``, shape ``[P, nb]``."""
    c = torch.cos(beta / 2)[None, :]
    s = torch.sin(beta / 2)[None, :]
    mm, nn_, kk = m.tolist(), n.tolist(), k.tolist()
    coef, pc, ps = [], [], []
    for mi, ni, ki in zip(mm, nn_, kk):
        if abs(mi) >= abs(ni):
            C = math.sqrt(math.comb(2 * ki, ki + ni))
            if mi >= 0:  # d^l_{l,n} = (-1)^{l-n} C c^{l+n} s^{l-n}
                coef.append(C * (-1) ** ((ki - ni) % 2))
                pc.append(ki + ni)
                ps.append(ki - ni)
            else:  # d^l_{-l,n} = C c^{l-n} s^{l+n}
                coef.append(C)
                pc.append(ki - ni)
                ps.append(ki + ni)
        else:
            C = math.sqrt(math.comb(2 * ki, ki + mi))
            if ni >= 0:  # d^l_{m,l} = C c^{l+m} s^{l-m}
                coef.append(C)
                pc.append(ki + mi)
                ps.append(ki - mi)
            else:  # d^l_{m,-l} = (-1)^{l+m} C c^{l-m} s^{l+m}
                coef.append(C * (-1) ** ((ki + mi) % 2))
                pc.append(ki - mi)
                ps.append(ki + mi)
    coef_t = torch.tensor(coef, dtype=torch.float64)[:, None]
    pc_t = torch.tensor(pc, dtype=torch.float64)[:, None]
    ps_t = torch.tensor(ps, dtype=torch.float64)[:, None]
    return coef_t * _ipow(c, pc_t) * _ipow(s, ps_t)


def _ipow(base: torch.Tensor, expo: torch.Tensor) -> torch.Tensor:
    """``base ** expo`` for non-negative integer-valued ``expo`` and any real base (``0 ** 0 = 1``)."""
    mag = torch.pow(base.abs(), expo)
    odd = torch.remainder(expo, 2) == 1
    return torch.where(odd & (base < 0), -mag, mag)


def _all_pairs(l_max: int) -> tuple[torch.Tensor, torch.Tensor]:
    idx = torch.arange(-l_max, l_max + 1)
    M, N = torch.meshgrid(idx, idx, indexing="ij")
    return M.reshape(-1), N.reshape(-1)


def wigner_d(l: int, beta: float | torch.Tensor) -> torch.Tensor:
    """Wigner small-d matrix ``d^l(β)``, shape ``[*beta.shape, 2l+1, 2l+1]``, float64 (CPU).

    Indexed ``[..., m + l, n + l]``; see the module docstring for the convention.
    """
    if isinstance(l, bool) or not isinstance(l, int) or l < 0:
        raise ValueError(f"l must be a non-negative integer, got {l!r}")
    beta_t = _as_float64(beta)
    return _d_block(l, beta_t.reshape(-1)).reshape(*beta_t.shape, 2 * l + 1, 2 * l + 1)


def wigner_d_list(L: int, beta: float | torch.Tensor) -> list[torch.Tensor]:
    """``[d^0(β), …, d^{L-1}(β)]``, each ``[*beta.shape, 2l+1, 2l+1]`` float64."""
    if isinstance(L, bool) or not isinstance(L, int) or L <= 0:
        raise ValueError(f"L must be a positive integer, got {L!r}")
    return [wigner_d(l, beta) for l in range(L)]


def _angles(
    alpha: float | torch.Tensor, beta: float | torch.Tensor, gamma: float | torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.dtype, torch.device]:
    ts = [a for a in (alpha, beta, gamma) if isinstance(a, torch.Tensor)]
    dtype = torch.float64
    device = ts[0].device if ts else torch.device("cpu")
    if ts and all(t.dtype == torch.float32 for t in ts):
        dtype = torch.float32
    a, b, g = torch.broadcast_tensors(
        *(_as_float64(t.detach().cpu() if isinstance(t, torch.Tensor) else t) for t in (alpha, beta, gamma))
    )
    return a, b, g, dtype, device


def _phase(m: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """``exp(-i m angle)``, shape ``[*angle.shape, len(m)]``, complex128."""
    return torch.polar(torch.ones((), dtype=torch.float64), -angle[..., None] * m.to(torch.float64))


def wigner_D(
    l: int, alpha: float | torch.Tensor, beta: float | torch.Tensor, gamma: float | torch.Tensor
) -> torch.Tensor:
    """Wigner D matrix ``D^l(α, β, γ)`` with ``D^l_{mn} = e^{-imα} d^l_{mn}(β) e^{-inγ}``.

    Angles broadcast together; returns ``[*shape, 2l+1, 2l+1]`` complex (complex64 if all
    angle tensors are float32, else complex128) on the angles' device.
    """
    a, b, g, dtype, device = _angles(alpha, beta, gamma)
    d = wigner_d(l, b).to(torch.complex128)
    m = torch.arange(-l, l + 1)
    D = _phase(m, a)[..., :, None] * d * _phase(m, g)[..., None, :]
    return D.to(device=device, dtype=torch.complex64 if dtype == torch.float32 else torch.complex128)


def wigner_D_list(
    L: int, alpha: float | torch.Tensor, beta: float | torch.Tensor, gamma: float | torch.Tensor
) -> list[torch.Tensor]:
    """``[D^0, …, D^{L-1}]`` at the same (broadcast) angles, each ``[*shape, 2l+1, 2l+1]`` complex."""
    a, b, g, dtype, device = _angles(alpha, beta, gamma)
    ds = wigner_d_list(L, b)
    m = torch.arange(-(L - 1), L)
    pa, pg = _phase(m, a), _phase(m, g)
    cdtype = torch.complex64 if dtype == torch.float32 else torch.complex128
    out = []
    for l, d in enumerate(ds):
        s = slice(L - 1 - l, L + l)
        out.append((pa[..., s, None] * d.to(torch.complex128) * pg[..., None, s]).to(device=device, dtype=cdtype))
    return out
