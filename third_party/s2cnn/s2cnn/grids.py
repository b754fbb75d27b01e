"""Sampling grids, rotation conventions and kernel grids.

This module owns the geometric conventions of the package; every other module
(and ``eqaug.data``) takes them from here.

Conventions
-----------
Rotations
    ZYZ Euler angles, ``R(α, β, γ) = R_z(α) R_y(β) R_z(γ)`` with right-handed
    rotations about fixed axes, ``α, γ ∈ [0, 2π)``, ``β ∈ [0, π]``.
    Rotating a signal means ``(R·f)(x) = f(R⁻¹ x)`` on S² and
    ``(R·f)(g) = f(R⁻¹ g)`` on SO(3).
S² grid (Driscoll–Healy / SOFT) of bandwidth ``b``
    ``β_j = π(2j+1)/(4b)``, ``α_k = 2πk/(2b)``, ``j, k = 0 … 2b−1``; signals are
    ``[..., 2b (β), 2b (α)]``. The grid point ``(β, α)`` is the unit vector
    ``x(β, α) = (sin β cos α, sin β sin α, cos β) = R(α, β, 0) e_z``;
    ``β`` is the colatitude (``β = 0`` is the north pole, ``e_z``).
SO(3) grid of bandwidth ``b``
    ``(β_j, α_k, γ_l)`` with ``γ_l = 2πl/(2b)``; signals are
    ``[..., 2b (β), 2b (α), 2b (γ)]`` and the sample ``[j, k, l]`` is the value at
    ``R(α_k, β_j, γ_l)``.
Quadrature
    ``w_j = (2/b) sin β_j Σ_{k<b} sin((2j+1)(2k+1)π/(4b)) / (2k+1)`` integrates
    ``sin β`` exactly (``Σ_j w_j = 2``) for band-limited integrands (Driscoll &
    Healy 1994; Kostelec & Rockmore 2008). :func:`quadrature_weights` returns
    them normalised to ``Σ_j w_j = 1`` so that the mean over the α (and γ) axis
    followed by ``Σ_j w_j ·`` is the normalised Haar integral (``∫ 1 = 1``).
Kernel grids
    Tuples of ``(β, α)`` (S²) or ``(β, α, γ)`` (SO(3)) points, the same point
    sets as the original S2CNN library so that parameter counts match.
"""

from __future__ import annotations

import math

import torch

__all__ = [
    "s2_grid",
    "so3_grid",
    "quadrature_weights",
    "euler_to_matrix",
    "matrix_to_euler",
    "s2_points",
    "s2_near_identity_grid",
    "s2_equatorial_grid",
    "so3_near_identity_grid",
    "so3_equatorial_grid",
    "check_bandwidth",
]


def check_bandwidth(b: int, name: str = "b") -> int:
    """Return ``b`` as an int if it is a positive integer, else raise ``ValueError``."""
    if isinstance(b, bool) or not isinstance(b, int) or b <= 0:
        raise ValueError(f"{name} must be a positive integer bandwidth, got {b!r}")
    return b


def s2_grid(
    b: int, dtype: torch.dtype = torch.float64, device: torch.device | str | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Colatitudes ``β`` and longitudes ``α`` of the S² SOFT grid, each of length ``2b``."""
    check_bandwidth(b)
    j = torch.arange(2 * b, dtype=torch.float64)
    beta = math.pi * (2 * j + 1) / (4 * b)
    alpha = 2 * math.pi * j / (2 * b)
    return beta.to(dtype=dtype, device=device), alpha.to(dtype=dtype, device=device)


def so3_grid(
    b: int, dtype: torch.dtype = torch.float64, device: torch.device | str | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``β``, ``α``, ``γ`` axes of the SO(3) SOFT grid, each of length ``2b``."""
    beta, alpha = s2_grid(b, dtype=dtype, device=device)
    return beta, alpha, alpha.clone()


def quadrature_weights(
    b: int, dtype: torch.dtype = torch.float64, device: torch.device | str | None = None
) -> torch.Tensor:
    """SOFT quadrature weights over ``β`` for bandwidth ``b``, normalised to sum to 1."""
    check_bandwidth(b)
    j = torch.arange(2 * b, dtype=torch.float64)[:, None]
    k = torch.arange(b, dtype=torch.float64)[None, :]
    beta = math.pi * (2 * j[:, 0] + 1) / (4 * b)
    series = (torch.sin((2 * j + 1) * (2 * k + 1) * math.pi / (4 * b)) / (2 * k + 1)).sum(1)
    w = (2.0 / b) * torch.sin(beta) * series
    w = w / 2.0  # Σ_j w_j = 2 exactly (∫_0^π sin β dβ); normalise to 1
    return w.to(dtype=dtype, device=device)


def _rot_z(t: torch.Tensor) -> torch.Tensor:
    c, s = torch.cos(t), torch.sin(t)
    z, o = torch.zeros_like(t), torch.ones_like(t)
    return torch.stack([torch.stack([c, -s, z], -1), torch.stack([s, c, z], -1), torch.stack([z, z, o], -1)], -2)


def _rot_y(t: torch.Tensor) -> torch.Tensor:
    c, s = torch.cos(t), torch.sin(t)
    z, o = torch.zeros_like(t), torch.ones_like(t)
    return torch.stack([torch.stack([c, z, s], -1), torch.stack([z, o, z], -1), torch.stack([-s, z, c], -1)], -2)


def euler_to_matrix(
    alpha: float | torch.Tensor, beta: float | torch.Tensor, gamma: float | torch.Tensor
) -> torch.Tensor:
    """Rotation matrices ``R_z(α) R_y(β) R_z(γ)`` (broadcasting over the angles), shape ``[..., 3, 3]``."""
    alpha, beta, gamma = torch.broadcast_tensors(
        *(torch.as_tensor(a, dtype=torch.float64) for a in (alpha, beta, gamma))
    )
    return _rot_z(alpha) @ _rot_y(beta) @ _rot_z(gamma)


def matrix_to_euler(R: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Inverse of :func:`euler_to_matrix`: ZYZ angles ``(α, β, γ)`` of rotation matrices ``[..., 3, 3]``.

    At the gimbal-lock points ``β ∈ {0, π}`` only ``α ± γ`` is defined; ``γ = 0`` is returned there.
    """
    R = torch.as_tensor(R)
    beta = torch.arccos(R[..., 2, 2].clamp(-1.0, 1.0))
    sb = torch.sin(beta)
    regular = sb.abs() > 1e-9
    alpha = torch.where(regular, torch.atan2(R[..., 1, 2], R[..., 0, 2]), torch.atan2(R[..., 1, 0], R[..., 0, 0]))
    gamma = torch.where(regular, torch.atan2(R[..., 2, 1], -R[..., 2, 0]), torch.zeros_like(beta))
    # at β = π, R = R_z(α) diag(-1, 1, -1) R_z(γ) = R_z(α - γ) diag(-1,1,-1): with γ = 0, α = atan2(-R10, -R00)
    at_pi = (~regular) & (R[..., 2, 2] < 0)
    alpha = torch.where(at_pi, torch.atan2(-R[..., 1, 0], -R[..., 0, 0]), alpha)
    return alpha % (2 * math.pi), beta, gamma % (2 * math.pi)


def s2_points(b: int, dtype: torch.dtype = torch.float64, device: torch.device | str | None = None) -> torch.Tensor:
    """Unit vectors of the S² grid, shape ``[2b, 2b, 3]`` (axes β, α)."""
    beta, alpha = s2_grid(b, dtype=torch.float64)
    B, A = torch.meshgrid(beta, alpha, indexing="ij")
    xyz = torch.stack([torch.sin(B) * torch.cos(A), torch.sin(B) * torch.sin(A), torch.cos(B)], -1)
    return xyz.to(dtype=dtype, device=device)


def _linspace(start: float, stop: float, num: int, endpoint: bool) -> list[float]:
    if num == 1:
        return [start]
    step = (stop - start) / (num - 1 if endpoint else num)
    return [start + i * step for i in range(num)]


def _positive(n: int, name: str) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
        raise ValueError(f"{name} must be a positive integer, got {n!r}")


def s2_near_identity_grid(
    max_beta: float = math.pi / 8, n_alpha: int = 8, n_beta: int = 3
) -> tuple[tuple[float, float], ...]:
    """Rings around the north pole: ``β = k·max_beta/n_beta`` (k = 1…n_beta), ``α = 2πi/n_alpha``.

    Returns ``n_beta · n_alpha`` points ``(β, α)``; the pole itself is not included.
    """
    _positive(n_alpha, "n_alpha")
    _positive(n_beta, "n_beta")
    betas = [(k + 1) * max_beta / n_beta for k in range(n_beta)]
    alphas = _linspace(0.0, 2 * math.pi, n_alpha, endpoint=False)
    return tuple((b_, a) for b_ in betas for a in alphas)


def s2_equatorial_grid(max_beta: float = 0.0, n_alpha: int = 32, n_beta: int = 1) -> tuple[tuple[float, float], ...]:
    """A band around the equator: ``β ∈ linspace(π/2 − max_beta, π/2 + max_beta, n_beta)``, ``α = 2πi/n_alpha``."""
    _positive(n_alpha, "n_alpha")
    _positive(n_beta, "n_beta")
    betas = _linspace(math.pi / 2 - max_beta, math.pi / 2 + max_beta, n_beta, endpoint=True)
    alphas = _linspace(0.0, 2 * math.pi, n_alpha, endpoint=False)
    return tuple((b_, a) for b_ in betas for a in alphas)


def so3_near_identity_grid(
    max_beta: float = math.pi / 8,
    max_gamma: float = 2 * math.pi,
    n_alpha: int = 8,
    n_beta: int = 3,
    n_gamma: int | None = None,
) -> tuple[tuple[float, float, float], ...]:
    """Rotations near the identity: ``β`` rings as in :func:`s2_near_identity_grid`, ``α = 2πi/n_alpha``,
    ``γ = linspace(−max_gamma, max_gamma, n_gamma) − α`` (``n_gamma`` defaults to ``n_alpha``).

    Returns ``n_beta · n_alpha · n_gamma`` points ``(β, α, γ)``. With the default ``max_gamma = 2π`` the
    end points ``γ = ±2π − α`` are the same rotation, as in the original library (kept for parameter parity).
    """
    n_gamma = n_alpha if n_gamma is None else n_gamma
    _positive(n_alpha, "n_alpha")
    _positive(n_beta, "n_beta")
    _positive(n_gamma, "n_gamma")
    betas = [(k + 1) * max_beta / n_beta for k in range(n_beta)]
    alphas = _linspace(0.0, 2 * math.pi, n_alpha, endpoint=False)
    pre_gammas = _linspace(-max_gamma, max_gamma, n_gamma, endpoint=True)
    return tuple((b_, a, c - a) for b_ in betas for a in alphas for c in pre_gammas)


def so3_equatorial_grid(
    max_beta: float = 0.0,
    max_gamma: float = math.pi / 8,
    n_alpha: int = 32,
    n_beta: int = 1,
    n_gamma: int = 2,
) -> tuple[tuple[float, float, float], ...]:
    """Rotations moving the north pole to the equator band, with ``γ ∈ linspace(−max_gamma, max_gamma, n_gamma)``."""
    _positive(n_alpha, "n_alpha")
    _positive(n_beta, "n_beta")
    _positive(n_gamma, "n_gamma")
    betas = _linspace(math.pi / 2 - max_beta, math.pi / 2 + max_beta, n_beta, endpoint=True)
    alphas = _linspace(0.0, 2 * math.pi, n_alpha, endpoint=False)
    gammas = _linspace(-max_gamma, max_gamma, n_gamma, endpoint=True)
    return tuple((b_, a, c) for b_ in betas for a in alphas for c in gammas)
