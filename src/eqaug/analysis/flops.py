"""Training FLOPs per sample of every model family (the compute axis of the converged-baselines figures).

Counted by :class:`torch.utils.flop_counter.FlopCounterMode` on one training step (forward, then
backward of a scalar loss, model in training mode): it counts matrix products (``mm``, ``bmm``,
``addmm``, ``baddbmm``) and convolutions (forward and backward) as ``2·m·n·k`` real FLOPs. It does
not count FFTs, which the generalized spherical CNN uses; those are added analytically here as
``2.5·n·log2(n)`` FLOPs per real-to-complex or complex-to-real transform of ``n`` points and
``5·n·log2(n)`` per complex one (the split-radix estimate). Elementwise arithmetic (``add``,
``sub``, ``mul``, ``div``, ``addcmul`` and their in-place forms: the spectral products of the
GSCNN, the S2CNN's signed sums, normalisation) is counted as one FLOP per output element, six for
a complex product, two for a complex sum; other elementwise operations (nonlinearities, copies,
reductions) are not counted for any family.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

__all__ = ["FFT_OPS", "ELEMENTWISE_OPS", "training_flops", "flops_table"]


#: a tensor shape as FlopCounterMode passes it
Shape = tuple[int, ...]


def _points(shape: Shape, dims: list[int]) -> int:
    return math.prod(int(shape[d]) for d in dims)


def _fft_r2c(x_shape: Shape, dim: list[int], normalization: int, onesided: bool, out_shape: Shape | None = None) -> int:
    n = _points(x_shape, dim)
    return int(2.5 * math.prod(x_shape) * math.log2(n)) if n > 1 else 0


def _fft_c2r(x_shape: Shape, dim: list[int], normalization: int, last_dim_size: int, out_shape: Shape = ()) -> int:
    n = _points(out_shape, dim)
    return int(2.5 * math.prod(out_shape) * math.log2(n)) if n > 1 else 0


def _fft_c2c(x_shape: Shape, dim: list[int], normalization: int, forward: bool, out_shape: Shape | None = None) -> int:
    n = _points(x_shape, dim)
    return int(5 * math.prod(x_shape) * math.log2(n)) if n > 1 else 0


def _elementwise(multiplier_real: int, multiplier_complex: int) -> Callable[..., int]:
    def count(*args: Any, out_val: Any = None, **kwargs: Any) -> int:
        if not isinstance(out_val, torch.Tensor):
            return 0
        return out_val.numel() * (multiplier_complex if out_val.is_complex() else multiplier_real)

    count._get_raw = True
    return count


_aten = torch.ops.aten
#: Elementwise arithmetic: FLOPs per output element (real, complex).
ELEMENTWISE_OPS = {
    op: _elementwise(*k)
    for ops, k in (
        ((_aten.add, _aten.add_, _aten.sub, _aten.sub_), (1, 2)),
        ((_aten.mul, _aten.mul_, _aten.div, _aten.div_), (1, 6)),
        ((_aten.addcmul, _aten.addcmul_), (2, 8)),
    )
    for op in ops
}

#: The analytic FFT formulas added to the counter (batch included: ``numel / n`` transforms of ``n`` points).
FFT_OPS = {
    torch.ops.aten._fft_r2c: _fft_r2c,
    torch.ops.aten._fft_c2r: _fft_c2r,
    torch.ops.aten._fft_c2c: _fft_c2c,
}


def training_flops(name_or_spec: Any, batch_size: int = 2, seed: int = 0) -> dict[str, Any]:
    """FLOPs of one training step of a named model (or spec), per sample.

    Returns ``forward``, ``backward`` and ``total`` FLOPs per sample, ``fft_share`` and
    ``elementwise_share`` (the fractions of ``total`` from the FFT and elementwise counts).
    ``batch_size`` ≥ 2 so that batch norm trains.
    """
    from eqaug.models.registry import as_spec, build_model

    spec = as_spec(name_or_spec)
    torch.manual_seed(seed)
    model = build_model(spec).train()
    x = torch.randn(batch_size, spec.in_channels, 2 * spec.bandwidth, 2 * spec.bandwidth)
    mapping = {**FFT_OPS, **ELEMENTWISE_OPS}
    fwd = FlopCounterMode(display=False, custom_mapping=mapping)
    with fwd:
        y = model(x)
    loss = y.float().square().mean()
    bwd = FlopCounterMode(display=False, custom_mapping=mapping)
    with bwd:
        loss.backward()

    def part(ops: dict) -> int:
        names = {str(op).split(".")[-1] for op in ops}
        return sum(
            v
            for counter in (fwd, bwd)
            for k, v in counter.get_flop_counts().get("Global", {}).items()
            if str(k).split(".")[-1] in names
        )

    f, b = fwd.get_total_flops(), bwd.get_total_flops()
    total = f + b
    return {
        "model": spec.name,
        "family": spec.family,
        "forward": f / batch_size,
        "backward": b / batch_size,
        "total": total / batch_size,
        "fft_share": part(FFT_OPS) / total if total else 0.0,
        "elementwise_share": part(ELEMENTWISE_OPS) / total if total else 0.0,
    }


def flops_table(names: list[str]) -> list[dict[str, Any]]:
    """:func:`training_flops` of every named model."""
    return [training_flops(name) for name in names]
