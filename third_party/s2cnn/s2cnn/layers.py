r"""Rotation-equivariant layers with the public API of the original S2CNN library.

All layers are group correlations computed in harmonic space (Cohen et al. 2018):
with ``ψ`` the kernel (:mod:`s2cnn.kernels`) and ``L = min(b_in, b_out)``,

* :class:`S2Convolution`:  ``h(R) = Σ_c ∫_{S²} ψ_{cc'}(R^{-1}x) f_c(x) dx``,
  ``\hat h^l_{mn} = Σ_c \hat f^l_{c,m} \overline{\hat ψ^l_{cc',n}}`` (outer product in m, n);
* :class:`SO3Convolution`: ``h(R) = Σ_c ∫_{SO(3)} ψ_{cc'}(R^{-1}g) f_c(g) dg``,
  ``\hat h^l_{mn} = Σ_{c,p} \hat f^l_{c,mp} \overline{\hat ψ^l_{cc',np}}`` (per-degree matmul);
* :class:`SO3ToS2Convolution` (Gerken et al. 2022): the SO(3) product followed by a sum over
  ``n``, ``\hat h^l_m = Σ_n Σ_{c,p} \hat f^l_{c,mp} \overline{\hat ψ^l_{cc',np}}``, synthesised
  on S² at ``b_out`` (real part; see the class docstring).

Each is equivariant, ``layer(R·f) = R·layer(f)``, because a left rotation multiplies every
coefficient block by ``D^l(R)`` from the left.  Degrees ``≥ L`` of the output are zero.

Up-sampling (``b_out > b_in``), keyword ``upsampling``: ``"exact"`` (default) zeroes the input degrees
``b_in … b_out-1``, which is exact for the band-limited input and equivariant.  ``"aliased"`` reproduces the
original library: those degrees are computed by the ``2b_in``-point quadrature of the coarse input grid
(:mod:`s2cnn.aliasing`; for SO(3) inputs only orders ``|m|, |n| < b_in``, as the original's SO(3) FFT), multiplied
with the kernel spectrum and synthesised at ``b_out`` (``L = b_out``).  It is exactly equivariant under the grid's
own symmetries only (α-rolls, ``R_y(π)``), and differentiated by ordinary autograd: its gradient is the true
derivative of this forward (the original's backward ignores the aliased degrees).  With ``b_out ≤ b_in`` the option
changes nothing.

Parameters (identical to the original library, so parameter counts match): ``kernel``
``[nfeature_in, nfeature_out, len(grid)]`` initialised ``uniform(-1, 1)`` and ``bias``
``[1, nfeature_out, 1, 1(, 1)]`` initialised to zero.  The kernel is multiplied by a fixed
``scaling`` in the forward pass; see :func:`default_scaling` for the choice.

Real signals are processed in a real basis (:mod:`s2cnn.real_basis`, transforms in :mod:`s2cnn._real`): ``F = U f̂ U^T`` is real, the
products ``ĥ = f̂ ψ̂^†`` become ``H = F (SΨ)^T`` — one real GEMM per degree, half the flops of the
complex one — and the transforms are custom autograd functions whose backward passes are the adjoint
transforms.  The public complex transforms of :mod:`s2cnn.fft` are unchanged.  With gradients disabled
(``torch.no_grad`` / ``inference_mode``) the kernel spectrum is cached and reused until
the kernel changes (keyed on its version counter, storage, device and dtype).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from ._checks import check_bandwidth, check_features, check_layer_input
from ._real import s2_analysis_real as s2_analysis
from ._real import s2_synthesis_real as s2_synthesis
from ._real import so3_analysis_real as so3_analysis
from ._real import so3_synthesis_real as so3_synthesis
from .aliasing import aliased_real_blocks
from .kernels import RealS2KernelTransform, RealSO3KernelTransform, check_grid

__all__ = [
    "S2Convolution",
    "SO3Convolution",
    "SO3ToS2Convolution",
    "SO3ToS2",
    "SO3Shortcut",
    "default_scaling",
    "original_scaling",
    "UPSAMPLING",
]


def _block_rows(L: int, B: int, so3: bool) -> list[int]:
    """Rows of each degree block of the real coefficient layout ``[(l, B, a(, b)), C]``."""
    return [B * (2 * l + 1) ** (2 if so3 else 1) for l in range(L)]


def default_scaling(n_grid: int, nfeature_in: int) -> float:
    r"""Output scale of the kernel, ``√(6 / (n_grid · f_in))`` (He-style, for ReLU stacks).

    With our normalised transforms a layer computes ``h(R) = s Σ_{c,i} W_{c,i} f_c(R g_i)``
    (band-limited), so for independent ``W ~ U(-1, 1)`` (variance 1/3)
    ``E h² = s² n_grid f_in E f² / 3``; a ReLU halves the second moment, hence
    ``s² = 6 / (n_grid f_in)`` keeps ``E h²`` constant through ``conv → ReLU`` blocks (up to
    the power the band limit removes).  The original library's factors contain powers of
    ``b_out / b_in`` (:func:`original_scaling`); with transforms normalised like ours (and
    like the original's) they shrink the activations of the 204k segmentation stack by
    ~700× over its 8 layers (``tests/s2cnn/test_s2cnn_layers.py::test_deep_stack_scale``).
    """
    return math.sqrt(6.0 / (n_grid * nfeature_in))


def original_scaling(kind: str, n_grid: int, nfeature_in: int, b_in: int, b_out: int) -> float:
    """The original library's factor: ``1/√(n f_in b_out⁴/b_in²)`` (S², times its extra ``2 b_out``
    in the kernel transform) or ``1/√(n f_in b_out³/b_in³)`` (SO(3) and SO(3)→S²)."""
    if kind == "s2":
        return 2 * b_out / math.sqrt(n_grid * nfeature_in * b_out**4 / b_in**2)
    return 1.0 / math.sqrt(n_grid * nfeature_in * b_out**3 / b_in**3)


UPSAMPLING = ("exact", "aliased")


def _check_upsampling(upsampling: str, who: str, b_in: int, b_out: int) -> str:
    if not isinstance(upsampling, str) or upsampling not in UPSAMPLING:
        raise ValueError(f"{who}: upsampling must be one of {UPSAMPLING}, got {upsampling!r}")
    if upsampling == "aliased" and b_out > 2 * b_in:
        raise ValueError(
            f"{who}: upsampling='aliased' needs b_out <= 2*b_in (the input grid's DFT has 2*b_in bins), "
            f"got b_in={b_in}, b_out={b_out}"
        )
    return upsampling


def _resolve_scaling(scaling: str | float | None, kind: str, n_grid: int, f_in: int, b_in: int, b_out: int) -> float:
    if scaling is None or scaling == "default":
        return default_scaling(n_grid, f_in)
    if scaling == "original":
        return original_scaling(kind, n_grid, f_in, b_in, b_out)
    if isinstance(scaling, (int, float)) and not isinstance(scaling, bool) and math.isfinite(scaling):
        return float(scaling)
    raise ValueError(f"scaling must be 'default', 'original' or a finite number, got {scaling!r}")


class _SpectralConv(nn.Module):
    """Shared parameters, validation, kernel-spectrum cache and repr."""

    _kind = ""
    _name = ""
    _in_ndim = 3
    _out_ndim = 3

    def __init__(
        self,
        nfeature_in: int,
        nfeature_out: int,
        b_in: int,
        b_out: int,
        grid: Sequence[Sequence[float]],
        npts: int,
        scaling: str | float | None,
        activation: str | None = None,
        upsampling: str = "exact",
    ):
        super().__init__()
        if activation not in (None, "relu"):
            raise ValueError(f"{self._name}: activation must be None or 'relu', got {activation!r}")
        self.activation = activation
        self.nfeature_in = check_features(nfeature_in, "nfeature_in")
        self.nfeature_out = check_features(nfeature_out, "nfeature_out")
        self.b_in = check_bandwidth(b_in, "b_in")
        self.b_out = check_bandwidth(b_out, "b_out")
        self.grid = check_grid(grid, npts, self._name)
        self.L = min(self.b_in, self.b_out)
        self.upsampling = _check_upsampling(upsampling, self._name, self.b_in, self.b_out)
        #: degrees of the kernel spectrum and the synthesis: ``b_out`` for aliased up-sampling, else ``L``
        self.L_spec = self.b_out if upsampling == "aliased" and self.b_out > self.b_in else self.L
        self.scaling = _resolve_scaling(scaling, self._kind, len(self.grid), nfeature_in, b_in, b_out)
        self.kernel = nn.Parameter(torch.empty(nfeature_in, nfeature_out, len(self.grid)).uniform_(-1, 1))
        self.bias = nn.Parameter(torch.zeros(1, nfeature_out, *([1] * self._out_ndim)))
        self._spec_cache: tuple | None = None

    def _kernel_spectrum(self) -> list[torch.Tensor]:
        if torch.is_grad_enabled():
            return self.kernel_transform(self.kernel * self.scaling)
        k = self.kernel
        key = (k._version, k.data_ptr(), k.device, k.dtype, self.scaling, torch.is_inference_mode_enabled())
        if self._spec_cache is None or self._spec_cache[0] != key:
            self._spec_cache = (key, self.kernel_transform(k * self.scaling))
        return self._spec_cache[1]

    def _aliased_blocks(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The input's real coefficient blocks of degrees ``L … L_spec-1`` (none unless aliased up-sampling)."""
        if self.L_spec == self.L:
            return []
        so3 = self._in_ndim == 3
        return aliased_real_blocks(x, so3, self.L, self.L_spec, max_order=self.b_in if so3 else None)

    def _add_bias(self, Z: list[torch.Tensor]) -> torch.Tensor:
        """Concatenate the per-degree outputs (rows of ``f_out`` channels) and add the bias in harmonic
        space: a constant ``c`` has the single coefficient ``F^0_{00} = c`` (the first ``B`` rows)."""
        return torch.cat([Z[0] + self.bias.reshape(1, -1)] + Z[1:], 0)

    def _check(self, x: torch.Tensor) -> None:
        check_layer_input(x, self._name, self.nfeature_in, self.b_in, self._in_ndim)
        if x.dtype != self.kernel.dtype or x.device != self.kernel.device:
            raise TypeError(
                f"{self._name}: input is {x.dtype} on {x.device} but the parameters are {self.kernel.dtype} on "
                f"{self.kernel.device}; convert one of them (e.g. layer.to(x))"
            )

    def extra_repr(self) -> str:
        max_beta = max(p[0] for p in self.grid)
        return (
            (
                f"nfeature_in={self.nfeature_in}, nfeature_out={self.nfeature_out}, b_in={self.b_in}, "
                f"b_out={self.b_out}, n_grid={len(self.grid)}, kernel_max_beta={max_beta / math.pi:.4f}π"
            )
            + (f", activation={self.activation}" if self.activation else "")
            + (f", upsampling={self.upsampling}" if self.upsampling != "exact" else "")
        )

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_spec_cache"] = None
        return state


class S2Convolution(_SpectralConv):
    """S² → SO(3) correlation: ``[B, f_in, 2b_in, 2b_in]`` → ``[B, f_out, 2b_out, 2b_out, 2b_out]``.

    Parameters
    ----------
    nfeature_in, nfeature_out : int
        Input / output channels.
    b_in, b_out : int
        Input grid bandwidth and output bandwidth.
    grid : sequence of (β, α)
        Kernel support points on S² (e.g. :func:`s2cnn.s2_near_identity_grid`).
    scaling : {"default", "original"} or float, keyword-only
        Kernel scale factor (:func:`default_scaling`, :func:`original_scaling`).
    activation : {None, "relu"}, keyword-only
        ``"relu"`` returns ``max(out, 0)``, fused with the inverse SO(3) FFT: the same values as
        ``F.relu(layer(x))`` without a second grid-sized tensor in forward and backward (not part of
        Cohen et al.'s API, which applies the nonlinearity outside the layer).
    upsampling : {"exact", "aliased"}, keyword-only
        For ``b_out > b_in``: ``"exact"`` zeroes the input degrees ``≥ b_in``; ``"aliased"`` computes them by the
        coarse-grid quadrature like the original library (needs ``b_out ≤ 2 b_in``; see the module docstring).
        No effect for ``b_out ≤ b_in``.
    """

    _kind = "s2"
    _name = "S2Convolution"
    _in_ndim = 2
    _out_ndim = 3

    def __init__(
        self,
        nfeature_in: int,
        nfeature_out: int,
        b_in: int,
        b_out: int,
        grid: Sequence[Sequence[float]],
        *,
        scaling: str | float | None = "default",
        activation: str | None = None,
        upsampling: str = "exact",
    ):
        super().__init__(nfeature_in, nfeature_out, b_in, b_out, grid, 2, scaling, activation, upsampling)
        self.kernel_transform = RealS2KernelTransform(self.grid, self.L_spec)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x)
        B, Co, L = x.shape[0], self.nfeature_out, self.L
        X = s2_analysis(x, L)  # real coefficients [(l, B, a), c]
        K = self._kernel_spectrum()
        Z = []
        blocks = [*torch.split(X, _block_rows(L, B, False)), *self._aliased_blocks(x)]  # split: cheap backward
        for l, xl in enumerate(blocks):
            Z.append((xl @ K[l]).view(-1, Co))  # [(B, a), c] @ [c, (n, c')] -> [(B, a, n), c']
        return so3_synthesis(self._add_bias(Z), self.b_out, self.L_spec, B, relu=self.activation == "relu")


class SO3Convolution(_SpectralConv):
    """SO(3) → SO(3) correlation: ``[B, f_in, 2b_in, 2b_in, 2b_in]`` → ``[B, f_out, 2b_out, 2b_out, 2b_out]``.

    Parameters as :class:`S2Convolution` (including ``activation``), with ``grid`` a sequence of
    ``(β, α, γ)`` points (e.g. :func:`s2cnn.so3_near_identity_grid`).
    """

    _kind = "so3"
    _name = "SO3Convolution"

    def __init__(
        self,
        nfeature_in: int,
        nfeature_out: int,
        b_in: int,
        b_out: int,
        grid: Sequence[Sequence[float]],
        *,
        scaling: str | float | None = "default",
        activation: str | None = None,
        upsampling: str = "exact",
    ):
        super().__init__(nfeature_in, nfeature_out, b_in, b_out, grid, 3, scaling, activation, upsampling)
        self.kernel_transform = RealSO3KernelTransform(self.grid, self.L_spec)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x)
        B, C, Co, L = x.shape[0], self.nfeature_in, self.nfeature_out, self.L
        X = so3_analysis(x, L)  # real coefficients [(l, B, a, b), c]
        K = self._kernel_spectrum()
        Z = []
        for l, xl in enumerate([*torch.split(X, _block_rows(L, B, True)), *self._aliased_blocks(x)]):
            k = 2 * l + 1
            Z.append((xl.view(B * k, k * C) @ K[l]).view(-1, Co))  # [(B, a), (b, c)] @ [(b, c), (n, c')]
        return so3_synthesis(self._add_bias(Z), self.b_out, self.L_spec, B, relu=self.activation == "relu")


class SO3ToS2Convolution(_SpectralConv):
    r"""SO(3) → S² layer of Gerken et al. (2022): ``[B, f_in, 2b_in, 2b_in, 2b_in]`` → ``[B, f_out, 2b_out, 2b_out]``.

    SO(3) FFT, kernel transform, per-degree product ``z^l_{mn}``, **sum over n**, inverse S²
    FFT.  Parameters as :class:`SO3Convolution`; the bias is ``[1, f_out, 1, 1]``.

    The sum ``s^l_m = Σ_n z^l_{mn}`` does not satisfy the reality condition
    ``s^l_{-m} = (-1)^m \overline{s^l_m}``, so its S² synthesis is complex; like the original
    (which returns the real part of its inverse S² FFT) we return the real part.  Using
    ``z^l_{-m,-n} = (-1)^{m-n} \overline{z^l_{mn}}`` (``z`` is the spectrum of a real SO(3)
    signal), the real part has the coefficients
    ``(s^l_m + (-1)^m \overline{s^l_{-m}})/2 = Σ_{n even} z^l_{mn}``, which is what is computed
    (the kernel is summed over even ``n`` first).  Taking the real part commutes with
    rotations, so the layer is exactly equivariant.
    """

    _kind = "so3"
    _name = "SO3ToS2Convolution"
    _in_ndim = 3
    _out_ndim = 2

    def __init__(
        self,
        nfeature_in: int,
        nfeature_out: int,
        b_in: int,
        b_out: int,
        grid: Sequence[Sequence[float]],
        *,
        scaling: str | float | None = "default",
        upsampling: str = "exact",
    ):
        super().__init__(nfeature_in, nfeature_out, b_in, b_out, grid, 3, scaling, upsampling=upsampling)
        self.kernel_transform = RealSO3KernelTransform(self.grid, self.L_spec, sum_n=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x)
        B, C, L = x.shape[0], self.nfeature_in, self.L
        X = so3_analysis(x, L)  # real coefficients [(l, B, a, b), c]
        K = self._kernel_spectrum()
        Z = []
        for l, xl in enumerate([*torch.split(X, _block_rows(L, B, True)), *self._aliased_blocks(x)]):
            k = 2 * l + 1
            Z.append(xl.view(B * k, k * C) @ K[l])  # [(B, a), (b, c)] @ [(b, c), c'] -> [(B, a), c']
        return s2_synthesis(self._add_bias(Z), self.b_out, self.L_spec, B)


SO3ToS2 = SO3ToS2Convolution  # name used by Gerken et al.'s code


class SO3Shortcut(nn.Module):
    """Residual shortcut on SO(3): the identity if ``nfeature_in == nfeature_out`` and ``b_in == b_out``,
    otherwise an :class:`SO3Convolution` with the single grid point ``(0, 0, 0)`` (as the original), which gets
    ``scaling`` and ``upsampling``."""

    def __init__(
        self,
        nfeature_in: int,
        nfeature_out: int,
        b_in: int,
        b_out: int,
        *,
        scaling: str | float | None = "default",
        upsampling: str = "exact",
    ):
        super().__init__()
        check_features(nfeature_in, "nfeature_in")
        check_features(nfeature_out, "nfeature_out")
        check_bandwidth(b_in, "b_in")
        check_bandwidth(b_out, "b_out")
        _check_upsampling(upsampling, "SO3Shortcut", b_in, b_out)
        self.nfeature_in, self.nfeature_out, self.b_in, self.b_out = nfeature_in, nfeature_out, b_in, b_out
        if nfeature_in != nfeature_out or b_in != b_out:
            self.conv = SO3Convolution(
                nfeature_in, nfeature_out, b_in, b_out, grid=((0.0, 0.0, 0.0),), scaling=scaling, upsampling=upsampling
            )
        else:
            self.conv = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.conv is not None:
            return self.conv(x)
        check_layer_input(x, "SO3Shortcut", self.nfeature_in, self.b_in, 3)
        return x
