"""Test helpers for equivariant maps on S² and SO(3) (in the spirit of ``e3nn.util.test``).

Typical use::

    from s2cnn.testing import random_s2_signal, random_rotation, assert_equivariant
    from s2cnn import S2Convolution, s2_rotation, so3_rotation, s2_near_identity_grid

    layer = S2Convolution(1, 4, 8, 6, s2_near_identity_grid()).double()
    x = random_s2_signal(8, 2, 1, dtype=torch.float64)
    R = random_rotation(generator=torch.Generator().manual_seed(0))
    assert_equivariant(layer, x, lambda t: s2_rotation(t, *R), lambda t: so3_rotation(t, *R), tol=1e-10)

Band-limited random signals are synthesised from random coefficients of degrees
``< band_limit`` (default: the grid bandwidth), so generic rotations act on them exactly
(:func:`s2cnn.s2_rotation`) and a layer's output, band-limited to its ``b_out``, can be rotated
exactly too.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from .coeffs import (
    hermitian_part,
    s2_full_to_half,
    s2_num_coeffs,
    s2_resize,
    so3_full_to_half,
    so3_num_coeffs,
    so3_resize,
)
from .fft import s2_irfft, so3_irfft

__all__ = [
    "random_rotation",
    "random_rotations",
    "random_s2_coeffs",
    "random_so3_coeffs",
    "random_s2_signal",
    "random_so3_signal",
    "random_layer_input",
    "equivariance_error",
    "assert_equivariant",
    "relative_error",
    "gradcheck_layer",
]

_CDTYPE = {torch.float32: torch.complex64, torch.float64: torch.complex128}


def random_rotation(generator: torch.Generator | None = None) -> tuple[float, float, float]:
    """Haar-random ZYZ Euler angles ``(α, β, γ)``: ``α, γ ~ U[0, 2π)``, ``cos β ~ U[-1, 1]``."""
    u = torch.rand(3, generator=generator, dtype=torch.float64)
    return 2 * math.pi * u[0].item(), math.acos(1 - 2 * u[1].item()), 2 * math.pi * u[2].item()


def random_rotations(
    n: int, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``n`` Haar-random rotations as three float64 tensors of shape ``[n]``."""
    u = torch.rand(3, n, generator=generator, dtype=torch.float64)
    return 2 * math.pi * u[0], torch.arccos(1 - 2 * u[1]), 2 * math.pi * u[2]


def _decay(ls: torch.Tensor, power: float) -> torch.Tensor:
    return (ls.to(torch.float64) + 1.0) ** (-power)


def random_s2_coeffs(
    b: int,
    *batch: int,
    dtype: torch.dtype = torch.float64,
    generator: torch.Generator | None = None,
    decay: float = 0.0,
) -> torch.Tensor:
    """Random half-layout coefficients of a real S² signal with degrees ``< b``.

    Complex Gaussian entries scaled by ``(2l+1)^{-1} (l+1)^{-decay}`` (so with ``decay=0`` every degree
    carries the same power on the grid, ``(2l+1) Σ_m |f̂^l_m|² ≈ 1``), with the reality condition imposed.
    """
    n = s2_num_coeffs(b)
    c = torch.randn(*batch, n, 2, generator=generator, dtype=torch.float64)
    c = torch.view_as_complex(c)
    ls = torch.tensor([l for l in range(b) for _ in range(2 * l + 1)])
    c = c * _decay(ls, decay) / (2.0 * ls + 1)
    return s2_full_to_half(hermitian_part(c, "s2")[0]).to(_CDTYPE[dtype])


def random_so3_coeffs(
    b: int,
    *batch: int,
    dtype: torch.dtype = torch.float64,
    generator: torch.Generator | None = None,
    decay: float = 0.0,
) -> torch.Tensor:
    """Random half-layout coefficients of a real SO(3) signal with degrees ``< b``.

    Scaled by ``(2l+1)^{-3/2} (l+1)^{-decay}``: equal power per degree for ``decay=0`` (see
    :func:`random_s2_coeffs`).
    """
    n = so3_num_coeffs(b)
    c = torch.view_as_complex(torch.randn(*batch, n, 2, generator=generator, dtype=torch.float64))
    ls = torch.tensor([l for l in range(b) for _ in range((2 * l + 1) ** 2)])
    c = c * _decay(ls, decay) / (2.0 * ls + 1) ** 1.5
    return so3_full_to_half(hermitian_part(c, "so3")[0]).to(_CDTYPE[dtype])


def random_s2_signal(
    b: int,
    *batch: int,
    band_limit: int | None = None,
    dtype: torch.dtype = torch.float64,
    generator: torch.Generator | None = None,
    decay: float = 0.0,
) -> torch.Tensor:
    """Real S² grid signal ``[*batch, 2b, 2b]`` band-limited to degrees ``< band_limit`` (default ``b``)."""
    bl = b if band_limit is None else min(band_limit, b)
    c = random_s2_coeffs(bl, *batch, dtype=dtype, generator=generator, decay=decay)
    return s2_irfft(s2_resize(c, bl, half=True), b)


def random_so3_signal(
    b: int,
    *batch: int,
    band_limit: int | None = None,
    dtype: torch.dtype = torch.float64,
    generator: torch.Generator | None = None,
    decay: float = 0.0,
) -> torch.Tensor:
    """Real SO(3) grid signal ``[*batch, 2b, 2b, 2b]`` band-limited to degrees ``< band_limit`` (default ``b``)."""
    bl = b if band_limit is None else min(band_limit, b)
    c = random_so3_coeffs(bl, *batch, dtype=dtype, generator=generator, decay=decay)
    return so3_irfft(so3_resize(c, bl, half=True), b)


def random_layer_input(
    layer: torch.nn.Module, b: int, batch: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """A random float64 input ``[batch, nfeature_in, grid]`` of ``layer`` on the ``2b``-grid: S² for an
    ``S2Convolution``, SO(3) otherwise."""
    from .layers import S2Convolution

    make = random_s2_signal if isinstance(layer, S2Convolution) else random_so3_signal
    return make(b, batch, layer.nfeature_in, generator=generator)


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    """``‖a − b‖ / ‖b‖`` (Frobenius norms; float64 accumulation)."""
    wide = torch.complex128 if (a.is_complex() or b.is_complex()) else torch.float64
    a, b = a.detach().to(wide), b.detach().to(wide)
    return ((a - b).norm() / b.norm().clamp_min(1e-300)).item()


def equivariance_error(
    f: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    rotate_in: Callable[[torch.Tensor], torch.Tensor],
    rotate_out: Callable[[torch.Tensor], torch.Tensor],
) -> float:
    """Relative equivariance error ``‖f(R_in x) − R_out f(x)‖ / ‖R_out f(x)‖`` (no gradients)."""
    with torch.no_grad():
        return relative_error(f(rotate_in(x)), rotate_out(f(x)))


def assert_equivariant(
    f: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    rotate_in: Callable[[torch.Tensor], torch.Tensor],
    rotate_out: Callable[[torch.Tensor], torch.Tensor],
    tol: float | None = None,
) -> float:
    """Assert :func:`equivariance_error` ``≤ tol`` (default ``1e-5`` for float32, ``1e-10`` for float64); return it."""
    if tol is None:
        tol = 1e-10 if x.dtype == torch.float64 else 1e-5
    err = equivariance_error(f, x, rotate_in, rotate_out)
    assert err <= tol, f"equivariance error {err:.3e} exceeds tolerance {tol:.1e}"
    return err


def gradcheck_layer(layer: torch.nn.Module, x: torch.Tensor, second_order: bool = False) -> bool:
    """``torch.autograd.gradcheck`` (and optionally ``gradgradcheck``) of a float64 layer with respect to
    its input ``x`` and its ``kernel`` (the bias held fixed), in ``fast_mode``."""
    kernel = layer.kernel.detach().clone().requires_grad_(True)

    def f(inp: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        return torch.func.functional_call(layer, {"kernel": k, "bias": layer.bias}, (inp,))

    ok = torch.autograd.gradcheck(f, (x, kernel), fast_mode=True)
    return ok and (not second_order or torch.autograd.gradgradcheck(f, (x, kernel), fast_mode=True))
