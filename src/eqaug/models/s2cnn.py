"""Equivariant S2CNN models of Gerken et al. 2022 (Sec. 3.1, App. B.2), built on ``s2cnn``.

Signals: S² ``[B, C, 2b, 2b]`` (β, α), SO(3) ``[B, C, 2b, 2b, 2b]`` (β, α, γ).
Down-sampling = a layer whose output bandlimit is below its input's (truncation), up-sampling =
above (zero-filling). ReLU after every layer but the last, applied pointwise on the SO(3) grid (fused
into the layer's inverse FFT when no shortcut is added before it).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from eqaug.models.head import FCHead
from eqaug.models.specs import S2CNNClsSpec, S2CNNSegSpec
from s2cnn import S2Convolution, SO3Convolution, SO3Shortcut, SO3ToS2Convolution, so3_integrate
from s2cnn.grids import s2_near_identity_grid, so3_near_identity_grid

__all__ = ["S2CNNSegmenter", "S2CNNClassifier"]


def _grids(spec: S2CNNSegSpec | S2CNNClsSpec) -> list[tuple]:
    """Kernel grid of every layer: S² near-identity grid for layer 0, SO(3) grids after."""
    grids = []
    for i, mb in enumerate(spec.kernel_max_betas()):
        if i == 0:
            grids.append(s2_near_identity_grid(max_beta=mb, n_alpha=spec.kernel_n_alpha, n_beta=spec.kernel_n_beta))
        else:
            grids.append(so3_near_identity_grid(max_beta=mb, n_alpha=spec.kernel_n_alpha, n_beta=spec.kernel_n_beta))
    return grids


def _so3_body(
    spec: S2CNNSegSpec | S2CNNClsSpec, n_so3: int, grids: list[tuple]
) -> tuple[nn.Module, nn.ModuleList, nn.ModuleList | None]:
    """The S² → SO(3) layer, ``n_so3`` SO(3) → SO(3) layers (1 … n_so3) and their optional shortcuts."""
    chans, bws = spec.layer_channels(), spec.layer_bandwidths()
    # the ReLU is fused into the layer (its inverse FFT) unless a shortcut is added before it
    act = None if spec.shortcuts else "relu"
    first = S2Convolution(chans[0][0], chans[0][1], bws[0][0], bws[0][1], grid=grids[0], activation="relu")
    convs = nn.ModuleList(
        SO3Convolution(*chans[i], *bws[i], grid=grids[i], activation=act, upsampling=spec.upsampling)
        for i in range(1, 1 + n_so3)
    )
    shortcuts = None
    if spec.shortcuts:
        shortcuts = nn.ModuleList(
            SO3Shortcut(*chans[i], *bws[i], upsampling=spec.upsampling) for i in range(1, 1 + n_so3)
        )
    return first, convs, shortcuts


def _run_body(x: torch.Tensor, first: nn.Module, convs: nn.ModuleList, shortcuts: nn.ModuleList | None) -> torch.Tensor:
    x = first(x)  # ReLU fused
    for i, conv in enumerate(convs):
        x = conv(x) if shortcuts is None else F.relu(conv(x) + shortcuts[i](x))
    return x


class S2CNNSegmenter(nn.Module):
    """Rotation-equivariant segmenter: S² → SO(3) down/up convolutions → SO(3) → S² logits.

    ``forward(x: [B, in_channels, 2b, 2b]) -> [B, n_classes, 2b, 2b]`` with ``b = spec.bandwidth``.
    """

    def __init__(self, spec: S2CNNSegSpec) -> None:
        super().__init__()
        self.spec = spec.validate()
        grids = _grids(spec)
        n = spec.n_layers
        self.first, self.convs, self.shortcuts = _so3_body(spec, n - 2, grids)
        (c_in, c_out), (b_in, b_out) = spec.layer_channels()[-1], spec.layer_bandwidths()[-1]
        self.last = SO3ToS2Convolution(c_in, c_out, b_in, b_out, grid=grids[-1], upsampling=spec.upsampling)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.last(_run_body(x, self.first, self.convs, self.shortcuts))


class S2CNNClassifier(nn.Module):
    """Rotation-invariant classifier: S² → SO(3) down-sampling convolutions, ``so3_integrate``, FC head.

    ``forward(x: [B, in_channels, 2b, 2b]) -> [B, n_classes]`` (logits).
    """

    def __init__(self, spec: S2CNNClsSpec) -> None:
        super().__init__()
        self.spec = spec.validate()
        grids = _grids(spec)
        self.first, self.convs, self.shortcuts = _so3_body(spec, spec.n_layers - 1, grids)
        self.head = FCHead(spec.features[-1], list(spec.fc_features), spec.n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = _run_body(x, self.first, self.convs, self.shortcuts)
        return self.head(so3_integrate(x))
