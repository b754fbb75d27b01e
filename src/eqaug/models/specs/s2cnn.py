"""Specs of the S2CNN segmenter and classifier (App. B.2; conventions in :mod:`eqaug.models.specs`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

from eqaug.models.specs.common import (
    ClassifierHead,
    HourglassLayers,
    PyramidLayers,
    SpecFields,
    V,
    check_common,
)
from s2cnn.layers import UPSAMPLING  # the layers' up-sampling rules: exact (eqaug) or the original's aliasing

__all__ = ["UPSAMPLING", "s2_grid_size", "so3_grid_size", "S2CNNSegSpec", "S2CNNClsSpec"]


# --------------------------------------------------------------------------- S2CNN
def s2_grid_size(n_alpha: int, n_beta: int) -> int:
    """Number of points of ``s2_near_identity_grid(n_alpha=, n_beta=)``."""
    return n_alpha * n_beta


def so3_grid_size(n_alpha: int, n_beta: int) -> int:
    """Number of points of ``so3_near_identity_grid(n_alpha=, n_beta=)`` (``n_gamma = n_alpha``)."""
    return n_alpha * n_beta * n_alpha


def _check_s2cnn_common(spec: S2CNNSegSpec | S2CNNClsSpec) -> None:
    check_common(spec)
    V.int_list("bandlimits", spec.bandlimits, 1)
    V.same_length("features", spec.features, bandlimits=spec.bandlimits)
    V.int_at_least("kernel_n_alpha", spec.kernel_n_alpha, 1)
    V.int_at_least("kernel_n_beta", spec.kernel_n_beta, 1)
    V.choice("upsampling", spec.upsampling, UPSAMPLING)
    for i, b in enumerate(spec.bandlimits):
        if b > spec.bandwidth:
            raise ValueError(
                f"model.bandlimits[{i}]={b} is above the input bandwidth {spec.bandwidth}; "
                f"bandlimits must lie in 1..{spec.bandwidth}"
            )
    if not (isinstance(spec.beta_ref, (int, float)) and not isinstance(spec.beta_ref, bool) and spec.beta_ref > 0):
        raise ValueError(f"model.beta_ref={spec.beta_ref!r} is not allowed; it must be a number > 0 (in units of π)")
    n = spec.n_layers
    if spec.max_betas is not None:
        if len(spec.max_betas) != n:
            raise ValueError(
                f"model.max_betas has {len(spec.max_betas)} entries {list(spec.max_betas)!r} but the network has "
                f"{n} layers; give one max_beta/π per layer (or null to derive them from beta_ref)"
            )
        for i, mb in enumerate(spec.max_betas):
            if not (isinstance(mb, (int, float)) and not isinstance(mb, bool) and 0 < mb <= 1):
                raise ValueError(f"model.max_betas[{i}]={mb!r} is not allowed; it must lie in (0, 1] (units of π)")
    else:
        for i, (b_in, _) in enumerate(spec.layer_bandwidths()):
            mb = spec.beta_ref * spec.bandwidth / b_in
            if mb > 1:
                raise ValueError(
                    f"model.beta_ref={spec.beta_ref!r} gives max_beta = beta_ref·{spec.bandwidth}/{b_in} = {mb:.4g}π > π "
                    f"for layer {i} (input bandlimit {b_in}); beta_ref must be at most "
                    f"{min(bi for bi, _ in spec.layer_bandwidths()) / spec.bandwidth:.4g}"
                )
    if spec.upsampling == "aliased":
        for i, (b_in, b_out) in enumerate(spec.layer_bandwidths()):
            if b_out > 2 * b_in:
                raise ValueError(
                    f"model.upsampling='aliased' needs b_out <= 2·b_in in every layer, but layer {i} goes "
                    f"{b_in} -> {b_out}; use upsampling='exact' or raise the bandlimits gradually"
                )


def _s2cnn_max_betas(spec: S2CNNSegSpec | S2CNNClsSpec) -> list[float]:
    if spec.max_betas is not None:
        return [float(mb) * math.pi for mb in spec.max_betas]
    return [spec.beta_ref * math.pi * spec.bandwidth / b_in for b_in, _ in spec.layer_bandwidths()]


def _s2cnn_conv_params(
    spec: _S2CNNFields, channels: list[int], bws: list[tuple[int, int]], n_so3_shortcut_layers: int
) -> int:
    n_s2 = s2_grid_size(spec.kernel_n_alpha, spec.kernel_n_beta)
    n_so3 = so3_grid_size(spec.kernel_n_alpha, spec.kernel_n_beta)
    total = 0
    for i in range(len(channels) - 1):
        c_in, c_out = channels[i], channels[i + 1]
        total += c_in * c_out * (n_s2 if i == 0 else n_so3) + c_out
    if spec.shortcuts:
        # SO3Shortcut: identity (no parameters) when shapes match, else a 1-point SO(3) conv.
        for i in range(1, 1 + n_so3_shortcut_layers):
            c_in, c_out = channels[i], channels[i + 1]
            if c_in != c_out or bws[i][0] != bws[i][1]:
                total += c_in * c_out + c_out
    return total


@dataclass
class _S2CNNFields(SpecFields):
    """Fields and helpers shared by the two S2CNN specs (documented on each)."""

    family: str = "s2cnn_seg"
    name: str = "s2cnn_seg"
    bandlimits: list[int] = field(default_factory=list)
    beta_ref: float = 0.1238
    max_betas: Optional[list[float]] = None
    kernel_n_alpha: int = 8
    kernel_n_beta: int = 3
    shortcuts: bool = False
    upsampling: str = "exact"

    def check_fields(self) -> None:
        """The checks shared by the two S2CNN specs (sizes, kernel radii)."""
        _check_s2cnn_common(self)

    def kernel_max_betas(self) -> list[float]:
        """``max_beta`` (radians) of every layer's kernel grid."""
        return _s2cnn_max_betas(self)


@dataclass
class S2CNNSegSpec(_S2CNNFields, HourglassLayers):
    """Equivariant S2CNN segmenter (Sec. 3.1, App. B.2): S² → SO(3) → … → SO(3) → S².

    Attributes
    ----------
    family : ``"s2cnn_seg"``.
    name : a label.
    bandwidth : input ``b`` (input ``[in_channels, 2b, 2b]``); also the output's bandwidth.
    in_channels : input channels.
    n_classes : output channels of the final SO(3) → S² layer (per-pixel logits).
    features : output channels of layers ``0 … n−2`` (S² → SO(3) layer first).
    bandlimits : output bandlimits of layers ``0 … n−2``; must first (weakly) decrease
        (down-sampling by truncation) then (weakly) increase (up-sampling by zero-filling),
        each in ``1 … bandwidth``. The final layer outputs ``bandwidth``.
    beta_ref : reference kernel radius in units of π; layer ``i`` uses
        ``max_beta = beta_ref·π·bandwidth/b_in(i)`` (fixed effective kernel size).
    max_betas : optional explicit ``max_beta/π`` per layer (``len(features) + 1`` values);
        overrides ``beta_ref``.
    kernel_n_alpha, kernel_n_beta : kernel grid resolution (``s2_near_identity_grid`` /
        ``so3_near_identity_grid``); the defaults 8, 3 give 24 (S²) and 192 (SO(3)) points.
    shortcuts : add ``SO3Shortcut`` skips over the SO(3) → SO(3) layers (off in the paper).
    upsampling : ``"exact"`` (default: an up-sampling layer zero-fills the degrees its input lacks, exactly
        equivariant) or ``"aliased"`` (the original library's layers: those degrees computed by the coarse
        grid's quadrature; ``s2cnn.layers``, ``third_party/s2cnn/README.md``). Needs ``b_out ≤ 2·b_in`` in
        every up-sampling layer.
    """

    def n_params(self) -> int:
        """Number of trainable parameters (kernels ``[c_in, c_out, n_grid]`` + one bias per output channel)."""
        chans = [self.in_channels, *self.features, self.n_classes]
        return _s2cnn_conv_params(self, chans, self.layer_bandwidths(), n_so3_shortcut_layers=len(self.features) - 1)


@dataclass
class S2CNNClsSpec(ClassifierHead, _S2CNNFields, PyramidLayers):
    """Invariant S2CNN classifier: S² → SO(3) → … (down-sampling), ``so3_integrate``, FC head.

    Attributes
    ----------
    family : ``"s2cnn_cls"``.
    name, bandwidth, in_channels, beta_ref, kernel_n_alpha, kernel_n_beta, shortcuts : as in
        :class:`S2CNNSegSpec`.
    n_classes : number of classes.
    features, bandlimits : output channels / bandlimits of every conv layer (layer 0 is
        S² → SO(3)); bandlimits must not increase.
    max_betas : optional explicit ``max_beta/π`` per layer (``len(features)`` values).
    fc_features : hidden widths of the head ``[Linear → BatchNorm1d → ReLU] × … → Linear``.
    """

    family: str = "s2cnn_cls"
    name: str = "s2cnn_cls"

    def n_params(self) -> int:
        """Number of trainable parameters (conv layers + fully connected head with batch norm)."""
        chans = [self.in_channels, *self.features]
        conv = _s2cnn_conv_params(self, chans, self.layer_bandwidths(), n_so3_shortcut_layers=len(self.features) - 1)
        return conv + self.head_params(self.features[-1])
