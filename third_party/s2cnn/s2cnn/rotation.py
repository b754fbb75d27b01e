r"""Rotations of signals on the SOFT grids.

Generic rotations are exact for band-limited signals: transform (degrees ``< b``), apply
``\hat f^l ↦ D^l(R) \hat f^l`` (:mod:`s2cnn.wigner`, :mod:`s2cnn.coeffs`), synthesise.
Signals that are not band-limited to ``b`` are first projected onto degrees ``< b``.

Grid-preserving rotations are exact index permutations of any grid signal:

* ``R_z(2πk/2b)``: ``(R f)(β, α[, γ]) = f(β, α - α_k[, γ])`` — a roll of the α axis by ``k``.
* ``R_y(π)``: ``R_y(π) x(β, α) = x(π-β, π-α)`` and
  ``R_y(π) R(α, β, γ) = R_z(-α) R_y(π+β) R_z(γ) = R(π-α, π-β, π+γ)`` (using
  ``R_y(π) R_z(α) = R_z(-α) R_y(π)`` and ``R_y(π+β) = R_z(π) R_y(π-β) R_z(π)``).  On the
  grid ``π - β_j = β_{2b-1-j}``, ``π - α_k = α_{b-k}``, ``π + γ_l = γ_{l+b}`` (indices mod
  ``2b``), and since ``R_y(π)^{-1} = R_y(π)``:
  ``(R_y(π) f)[j, k] = f[2b-1-j, b-k]``, ``(R_y(π) f)[j, k, l] = f[2b-1-j, b-k, l+b]``.
"""

from __future__ import annotations

from typing import Union

import torch

from ._checks import grid_bandwidth
from .coeffs import s2_half_to_full, s2_offset, so3_half_to_full, so3_offset
from .fft import s2_irfft, s2_rfft, so3_irfft, so3_rfft
from .wigner import wigner_D_list

Angle = Union[float, torch.Tensor]  # scalar (one rotation) or 1-D tensor (one per sample)

__all__ = [
    "s2_rotation",
    "so3_rotation",
    "rotate_s2_coeffs",
    "rotate_so3_coeffs",
    "s2_grid_rotation_z",
    "so3_grid_rotation_z",
    "s2_grid_rotation_y_pi",
    "so3_grid_rotation_y_pi",
]


def _wigner_blocks(
    L: int, alpha: Angle, beta: Angle, gamma: Angle, batch: int, cdtype: torch.dtype, device: torch.device
) -> tuple[list[torch.Tensor], bool]:
    """``D^l(R)`` rows ``m ≥ 0``: ``[l+1, 2l+1]`` (one rotation) or ``[batch, l+1, 2l+1]`` (per sample)."""
    angles = [torch.as_tensor(a, dtype=torch.float64).detach().cpu() for a in (alpha, beta, gamma)]
    per_sample = any(a.dim() > 0 for a in angles)
    if per_sample:
        angles = [a.reshape(-1) for a in angles]
        n = max(a.numel() for a in angles)
        if n != batch or any(a.numel() not in (1, n) for a in angles):
            raise ValueError(
                f"per-sample rotation angles must have length {batch} (the batch size), got {[a.numel() for a in angles]}"
            )
    Ds = wigner_D_list(L, *angles)
    return [D[..., l:, :].to(device=device, dtype=cdtype) for l, D in enumerate(Ds)], per_sample


def _apply(blocks: list[torch.Tensor], per_sample: bool, vecs: list[torch.Tensor]) -> list[torch.Tensor]:
    out = []
    for D, v in zip(blocks, vecs):
        if per_sample:
            D = D.reshape(D.shape[0], *([1] * (v.dim() - D.dim())), *D.shape[1:])
        out.append(D @ v)
    return out


def rotate_s2_coeffs(c: torch.Tensor, alpha: Angle, beta: Angle, gamma: Angle) -> torch.Tensor:
    r"""Rotate half-layout S² coefficients ``[..., b(b+1)/2]`` of a real signal: ``\hat f^l ↦ D^l(R) \hat f^l``.

    Angles are scalars (one rotation) or 1-D of length ``c.shape[0]`` (one per sample).
    """
    from .coeffs import s2_bandwidth

    b = s2_bandwidth(c.shape[-1], half=True)
    full = s2_half_to_full(c)
    blocks, per = _wigner_blocks(b, alpha, beta, gamma, c.shape[0] if c.dim() > 1 else 1, c.dtype, c.device)
    vecs = [full[..., s2_offset(l) : s2_offset(l + 1), None] for l in range(b)]
    return torch.cat([r[..., 0] for r in _apply(blocks, per, vecs)], -1)


def rotate_so3_coeffs(c: torch.Tensor, alpha: Angle, beta: Angle, gamma: Angle) -> torch.Tensor:
    r"""Rotate half-layout SO(3) coefficients of a real signal: ``\hat f^l ↦ D^l(R) \hat f^l`` (acts on ``m``)."""
    from .coeffs import so3_bandwidth

    b = so3_bandwidth(c.shape[-1], half=True)
    full = so3_half_to_full(c)
    blocks, per = _wigner_blocks(b, alpha, beta, gamma, c.shape[0] if c.dim() > 1 else 1, c.dtype, c.device)
    mats = [full[..., so3_offset(l) : so3_offset(l + 1)].unflatten(-1, (2 * l + 1, 2 * l + 1)) for l in range(b)]
    return torch.cat([r.flatten(-2) for r in _apply(blocks, per, mats)], -1)


def s2_rotation(x: torch.Tensor, alpha: Angle, beta: Angle, gamma: Angle) -> torch.Tensor:
    """Rotate real S² signals ``[..., 2b, 2b]`` by ``R(α, β, γ)``: returns ``f(R^{-1} x)`` (band-limited to ``b``)."""
    b = grid_bandwidth(x, 2, "s2_rotation")
    return s2_irfft(rotate_s2_coeffs(s2_rfft(x), alpha, beta, gamma), b)


def so3_rotation(x: torch.Tensor, alpha: Angle, beta: Angle, gamma: Angle) -> torch.Tensor:
    """Rotate real SO(3) signals ``[..., 2b, 2b, 2b]`` by ``R(α, β, γ)``: returns ``f(R^{-1} g)``."""
    b = grid_bandwidth(x, 3, "so3_rotation")
    return so3_irfft(rotate_so3_coeffs(so3_rfft(x), alpha, beta, gamma), b)


def s2_grid_rotation_z(x: torch.Tensor, k: int) -> torch.Tensor:
    """Exact rotation of an S² grid signal by ``R_z(2πk/2b)`` (roll of the α axis)."""
    return torch.roll(x, k, dims=-1)


def so3_grid_rotation_z(x: torch.Tensor, k: int) -> torch.Tensor:
    """Exact left rotation of an SO(3) grid signal by ``R_z(2πk/2b)`` (roll of the α axis)."""
    return torch.roll(x, k, dims=-2)


def _rev_beta_alpha(x: torch.Tensor, beta_dim: int, alpha_dim: int) -> torch.Tensor:
    n = x.shape[alpha_dim]
    b = n // 2
    alpha_idx = (b - torch.arange(n, device=x.device)) % n
    return x.flip(beta_dim).index_select(alpha_dim, alpha_idx)


def s2_grid_rotation_y_pi(x: torch.Tensor) -> torch.Tensor:
    """Exact rotation of an S² grid signal by ``R_y(π)``: ``f'[j, k] = f[2b-1-j, (b-k) mod 2b]``."""
    return _rev_beta_alpha(x, -2, -1)


def so3_grid_rotation_y_pi(x: torch.Tensor) -> torch.Tensor:
    """Exact left rotation of an SO(3) grid signal by ``R_y(π)``: ``f'[j, k, l] = f[2b-1-j, (b-k), (l+b)]`` (mod 2b)."""
    b = x.shape[-1] // 2
    return torch.roll(_rev_beta_alpha(x, -3, -2), -b, dims=-1)
