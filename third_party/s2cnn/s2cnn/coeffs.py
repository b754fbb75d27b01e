r"""Layouts of spherical-harmonic (S²) and Wigner (SO(3)) coefficients.

Coefficients are defined with the Wigner-D convention of :mod:`s2cnn.wigner` and the
normalised Haar measure (``∫ 1 = 1``):

.. math::

    \hat f^l_m = \int_{S^2} f(x)\, D^l_{m0}(α_x, β_x, 0)\, dx, \qquad
    \hat f^l_{mn} = \int_{SO(3)} f(g)\, D^l_{mn}(g)\, dg ,

    f(x) = \sum_l (2l+1) \sum_m \hat f^l_m \overline{D^l_{m0}(α_x, β_x, 0)}, \qquad
    f(g) = \sum_l (2l+1) \sum_{mn} \hat f^l_{mn} \overline{D^l_{mn}(g)} .

Rotating a signal, ``(R f)(x) = f(R^{-1} x)``, maps ``\hat f^l ↦ D^l(R) \hat f^l`` (the
matrix acts on ``m``).  For real signals ``\hat f^l_{-m} = (-1)^m \overline{\hat f^l_m}``
and ``\hat f^l_{-m,-n} = (-1)^{m-n} \overline{\hat f^l_{mn}}``, so only ``m ≥ 0`` is stored
in the *half* layouts used by the fast real transforms.

All layouts put the coefficient axis last (``[..., ncoeff]``) and order it by degree, so
truncating to a smaller bandwidth is a prefix slice and up-sampling appends zeros.

=================  ============================================  ===============================
layout             index of ``(l, m[, n])``                       size for bandwidth ``b``
=================  ============================================  ===============================
S² full            ``l² + (m + l)``                                ``b²``
S² half (m ≥ 0)    ``l(l+1)/2 + m``                                ``b(b+1)/2``
SO(3) full         ``l(4l²-1)/3 + (m+l)(2l+1) + (n+l)``            ``b(4b²-1)/3``
SO(3) half (m ≥ 0) ``l(l+1)(4l-1)/6 + m(2l+1) + (n+l)``            ``b(b+1)(4b-1)/6``
=================  ============================================  ===============================

Per-degree lists hold ``[..., 2l+1]`` (S², index ``m + l``) or ``[..., 2l+1, 2l+1]``
(SO(3), index ``[m + l, n + l]``) tensors.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import torch

__all__ = [
    "s2_num_coeffs",
    "so3_num_coeffs",
    "s2_offset",
    "so3_offset",
    "s2_bandwidth",
    "so3_bandwidth",
    "s2_coeffs_to_list",
    "s2_list_to_coeffs",
    "so3_coeffs_to_list",
    "so3_list_to_coeffs",
    "s2_half_to_full",
    "s2_full_to_half",
    "so3_half_to_full",
    "so3_full_to_half",
    "s2_resize",
    "so3_resize",
    "hermitian_part",
]


def s2_offset(l: int, half: bool = False) -> int:
    """Index of the first coefficient of degree ``l`` in the S² full (``l²``) or half (``l(l+1)/2``) layout."""
    return l * (l + 1) // 2 if half else l * l


def so3_offset(l: int, half: bool = False) -> int:
    """Index of the first coefficient of degree ``l`` in the SO(3) full or half layout."""
    return l * (l + 1) * (4 * l - 1) // 6 if half else l * (4 * l * l - 1) // 3


def s2_num_coeffs(b: int, half: bool = False) -> int:
    """Number of S² coefficients of degree ``< b`` (``b²`` full, ``b(b+1)/2`` half)."""
    return s2_offset(b, half)


def so3_num_coeffs(b: int, half: bool = False) -> int:
    """Number of SO(3) coefficients of degree ``< b`` (``b(4b²-1)/3`` full, ``b(b+1)(4b-1)/6`` half)."""
    return so3_offset(b, half)


def _bandwidth(size: int, count: Callable[[int], int], what: str) -> int:
    b = 0
    while count(b) < size:
        b += 1
    if count(b) != size:
        raise ValueError(f"{size} is not a valid number of {what} coefficients (no bandwidth b gives that size)")
    return b


def s2_bandwidth(size: int, half: bool = False) -> int:
    """Bandwidth ``b`` of an S² coefficient vector of the given length (``ValueError`` if none)."""
    return _bandwidth(size, lambda b: s2_num_coeffs(b, half), "S² " + ("half" if half else "full"))


def so3_bandwidth(size: int, half: bool = False) -> int:
    """Bandwidth ``b`` of an SO(3) coefficient vector of the given length (``ValueError`` if none)."""
    return _bandwidth(size, lambda b: so3_num_coeffs(b, half), "SO(3) " + ("half" if half else "full"))


def s2_coeffs_to_list(c: torch.Tensor) -> list[torch.Tensor]:
    """S² full layout ``[..., b²]`` → ``[c^0, …, c^{b-1}]`` with ``c^l`` of shape ``[..., 2l+1]`` (views)."""
    b = s2_bandwidth(c.shape[-1])
    return [c[..., l * l : (l + 1) ** 2] for l in range(b)]


def s2_list_to_coeffs(cs: list[torch.Tensor]) -> torch.Tensor:
    """Inverse of :func:`s2_coeffs_to_list`."""
    for l, c in enumerate(cs):
        if c.shape[-1] != 2 * l + 1:
            raise ValueError(f"degree {l} block must have last size {2 * l + 1}, got {tuple(c.shape)}")
    return torch.cat(list(cs), dim=-1)


def so3_coeffs_to_list(c: torch.Tensor) -> list[torch.Tensor]:
    """SO(3) full layout ``[..., b(4b²-1)/3]`` → ``[c^l]`` with ``c^l`` of shape ``[..., 2l+1, 2l+1]`` (views)."""
    b = so3_bandwidth(c.shape[-1])
    return [c[..., so3_offset(l) : so3_offset(l + 1)].unflatten(-1, (2 * l + 1, 2 * l + 1)) for l in range(b)]


def so3_list_to_coeffs(cs: list[torch.Tensor]) -> torch.Tensor:
    """Inverse of :func:`so3_coeffs_to_list`."""
    for l, c in enumerate(cs):
        if tuple(c.shape[-2:]) != (2 * l + 1, 2 * l + 1):
            raise ValueError(f"degree {l} block must end in ({2 * l + 1}, {2 * l + 1}), got {tuple(c.shape)}")
    return torch.cat([c.flatten(-2) for c in cs], dim=-1)


@lru_cache(maxsize=64)
def _s2_half_to_full_index(b: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    src, neg, sign = [], [], []
    for l in range(b):
        for m in range(-l, l + 1):
            src.append(s2_offset(l, True) + abs(m))
            neg.append(m < 0)
            sign.append(-1.0 if (m < 0 and m % 2) else 1.0)
    return torch.tensor(src), torch.tensor(neg), torch.tensor(sign, dtype=torch.float64)


@lru_cache(maxsize=64)
def _so3_half_to_full_index(b: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    src, neg, sign = [], [], []
    for l in range(b):
        for m in range(-l, l + 1):
            for n in range(-l, l + 1):
                mm, nn_ = (m, n) if m >= 0 else (-m, -n)
                src.append(so3_offset(l, True) + mm * (2 * l + 1) + nn_ + l)
                neg.append(m < 0)
                sign.append(-1.0 if (m < 0 and (m - n) % 2) else 1.0)
    return torch.tensor(src), torch.tensor(neg), torch.tensor(sign, dtype=torch.float64)


def _expand(c: torch.Tensor, idx: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> torch.Tensor:
    src, neg, sign = (t.to(c.device) for t in idx)
    g = c.index_select(-1, src)
    mirrored = g.conj() * sign.to(c.real.dtype)
    return torch.where(neg, mirrored, g)


def s2_half_to_full(c: torch.Tensor) -> torch.Tensor:
    """Half layout (``m ≥ 0``) of a real signal → full layout, using ``c^l_{-m} = (-1)^m conj(c^l_m)``."""
    b = s2_bandwidth(c.shape[-1], half=True)
    return _expand(c, _s2_half_to_full_index(b))


def so3_half_to_full(c: torch.Tensor) -> torch.Tensor:
    """Half layout (``m ≥ 0``) of a real signal → full layout, using ``c^l_{-m,-n} = (-1)^{m-n} conj(c^l_{mn})``."""
    b = so3_bandwidth(c.shape[-1], half=True)
    return _expand(c, _so3_half_to_full_index(b))


@lru_cache(maxsize=64)
def _s2_full_to_half_index(b: int) -> torch.Tensor:
    return torch.tensor([l * l + l + m for l in range(b) for m in range(l + 1)])


@lru_cache(maxsize=64)
def _so3_full_to_half_index(b: int) -> torch.Tensor:
    return torch.tensor(
        [
            so3_offset(l) + (m + l) * (2 * l + 1) + n + l
            for l in range(b)
            for m in range(l + 1)
            for n in range(-l, l + 1)
        ]
    )


def s2_full_to_half(c: torch.Tensor) -> torch.Tensor:
    """Full S² layout → half layout (keeps ``m ≥ 0``; exact inverse of :func:`s2_half_to_full` for real signals)."""
    b = s2_bandwidth(c.shape[-1])
    return c.index_select(-1, _s2_full_to_half_index(b).to(c.device))


def so3_full_to_half(c: torch.Tensor) -> torch.Tensor:
    """Full SO(3) layout → half layout (keeps ``m ≥ 0``)."""
    b = so3_bandwidth(c.shape[-1])
    return c.index_select(-1, _so3_full_to_half_index(b).to(c.device))


@lru_cache(maxsize=64)
def _mirror_index(b: int, group: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Full-layout index of ``(l, -m[, -n])`` and the sign ``(-1)^m`` / ``(-1)^{m-n}`` for every entry."""
    if group == "s2":
        idx = [l * l + l - m for l in range(b) for m in range(-l, l + 1)]
        sign = [(-1.0) ** (m % 2) for l in range(b) for m in range(-l, l + 1)]
    else:
        rng = [(l, m, n) for l in range(b) for m in range(-l, l + 1) for n in range(-l, l + 1)]
        idx = [so3_offset(l) + (l - m) * (2 * l + 1) + (l - n) for l, m, n in rng]
        sign = [(-1.0) ** ((m - n) % 2) for l, m, n in rng]
    return torch.tensor(idx), torch.tensor(sign, dtype=torch.float64)


def hermitian_part(c: torch.Tensor, group: str = "s2") -> tuple[torch.Tensor, torch.Tensor]:
    """Split full-layout coefficients ``c = h₁ + i h₂`` into two sets of coefficients of *real* signals.

    ``h₁ = (c + c̃)/2`` and ``h₂ = (c - c̃)/(2i)`` with ``c̃^l_m = (-1)^m conj(c^l_{-m})`` (S²) or
    ``c̃^l_{mn} = (-1)^{m-n} conj(c^l_{-m,-n})`` (SO(3)); the signal of ``c`` is
    ``f₁ + i f₂`` where ``f_k`` are the real signals of ``h_k``.
    """
    if group == "s2":
        b = s2_bandwidth(c.shape[-1])
    elif group == "so3":
        b = so3_bandwidth(c.shape[-1])
    else:
        raise ValueError(f"group must be 's2' or 'so3', got {group!r}")
    idx, sign = _mirror_index(b, group)
    mirror = c.index_select(-1, idx.to(c.device)).conj() * sign.to(device=c.device, dtype=c.real.dtype)
    return (c + mirror) / 2, (c - mirror) / 2j


def s2_resize(c: torch.Tensor, b: int, half: bool = False) -> torch.Tensor:
    """Truncate (``b`` smaller) or zero-fill (``b`` larger) S² coefficients along the last axis."""
    return _resize(c, s2_num_coeffs(b, half))


def so3_resize(c: torch.Tensor, b: int, half: bool = False) -> torch.Tensor:
    """Truncate (``b`` smaller) or zero-fill (``b`` larger) SO(3) coefficients along the last axis."""
    return _resize(c, so3_num_coeffs(b, half))


def _resize(c: torch.Tensor, size: int) -> torch.Tensor:
    n = c.shape[-1]
    if size <= n:
        return c[..., :size]
    return torch.cat([c, c.new_zeros(*c.shape[:-1], size - n)], dim=-1)
