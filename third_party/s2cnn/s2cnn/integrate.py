r"""Haar integrals of grid signals (normalised: the integral of 1 is 1).

``∫_{SO(3)} f = Σ_j w_j · mean_{k,l} f(β_j, α_k, γ_l)`` and ``∫_{S²} f = Σ_j w_j · mean_k f(β_j, α_k)``
with the SOFT weights of :func:`s2cnn.grids.quadrature_weights` (``Σ_j w_j = 1``); exact for
band-limited signals.  Both are invariant under rotations of band-limited signals.
"""

from __future__ import annotations

from functools import lru_cache

import torch

from ._checks import grid_bandwidth
from .grids import quadrature_weights

__all__ = ["so3_integrate", "s2_integrate"]


@lru_cache(maxsize=64)
def _weights(b: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    return quadrature_weights(b, dtype=dtype, device=device)


def so3_integrate(x: torch.Tensor) -> torch.Tensor:
    """Normalised Haar mean over the last three axes: ``[..., 2b, 2b, 2b]`` → ``[...]`` (e.g. ``[batch, channels]``)."""
    b = grid_bandwidth(x, 3, "so3_integrate")
    w = _weights(b, x.dtype, x.device)
    return torch.einsum("...jkl,j->...", x, w) / (2 * b) ** 2


def s2_integrate(x: torch.Tensor) -> torch.Tensor:
    """Normalised area mean over the last two axes: ``[..., 2b, 2b]`` → ``[...]``."""
    b = grid_bandwidth(x, 2, "s2_integrate")
    w = _weights(b, x.dtype, x.device)
    return torch.einsum("...jk,j->...", x, w) / (2 * b)
