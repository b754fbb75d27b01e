"""Argument validation with error messages that name the offending value."""

from __future__ import annotations

import torch

from .grids import check_bandwidth

__all__ = ["check_bandwidth", "check_features", "check_real_float", "grid_bandwidth", "check_layer_input"]

_FLOATS = (torch.float32, torch.float64)


def check_features(n: int, name: str) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
        raise ValueError(f"{name} must be a positive integer, got {n!r}")
    return n


def check_real_float(x: object, who: str) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{who} expects a torch.Tensor, got {type(x).__name__}")
    if x.dtype not in _FLOATS:
        raise TypeError(f"{who} expects a real float32 or float64 tensor, got dtype {x.dtype}")


def grid_bandwidth(x: torch.Tensor, ndim: int, who: str) -> int:
    """Bandwidth ``b`` of a real grid signal ``[..., 2b, 2b]`` (``ndim=2``) or ``[..., 2b, 2b, 2b]`` (``ndim=3``)."""
    check_real_float(x, who)
    shape = tuple(x.shape)
    kind = "[..., 2b, 2b]" if ndim == 2 else "[..., 2b, 2b, 2b]"
    if len(shape) < ndim:
        raise ValueError(f"{who} expects a grid signal {kind}, got shape {list(shape)}")
    g = shape[-ndim:]
    if len(set(g)) != 1 or g[0] % 2 or g[0] == 0:
        raise ValueError(
            f"{who} expects a grid signal {kind} with equal, even, non-zero sizes, got shape {list(shape)}"
        )
    return g[0] // 2


def check_layer_input(x: torch.Tensor, who: str, nfeature: int, b: int, ndim: int, bname: str = "b_in") -> None:
    """``x`` must be ``[batch, nfeature, 2b, 2b(, 2b)]`` real float32/float64."""
    check_real_float(x, who)
    expected = [nfeature] + [2 * b] * ndim
    shape = list(x.shape)
    if x.dim() != ndim + 2 or shape[1:] != expected:
        exp = "[batch, " + ", ".join(str(e) for e in expected) + "]"
        raise ValueError(f"{who} expects input {exp} for {bname}={b}, got {shape}")
