"""Planar CNN baselines of Gerken et al. 2022 (App. B.1): ResNet-like segmenter and classifier.

Inputs are spherical images on the ``2b × 2b`` SOFT grid, ``[B, C, 2b (β), 2b (α)]``, treated as
flat images. See :class:`eqaug.models.specs.CNNSegSpec` for the layer conventions and the
optional circular padding along α.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from eqaug.models.head import FCHead
from eqaug.models.specs import CNNClsSpec, CNNSegSpec

__all__ = ["DownBlock", "UpBlock", "CNNSegmenter", "CNNClassifier"]


class DownBlock(nn.Module):
    """``Conv2d(k, s)`` (+ skip ``MaxPool2d(k, s) → Conv2d 1×1``), valid convolution.

    Parameters
    ----------
    c_in, c_out : channels.
    k, s : kernel size and stride.
    skip : add the max-pool skip branch.
    circular : pad the input circularly along α (last axis) by ``(k−1)/2`` on each side first.
    """

    def __init__(self, c_in: int, c_out: int, k: int, s: int, skip: bool, circular: bool = False) -> None:
        super().__init__()
        self.pad = (k - 1) // 2 if circular else 0
        self.conv = nn.Conv2d(c_in, c_out, k, s)
        self.skip = nn.Sequential(nn.MaxPool2d(k, s), nn.Conv2d(c_in, c_out, 1)) if skip else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pad:
            x = F.pad(x, (self.pad, self.pad, 0, 0), mode="circular")
        y = self.conv(x)
        if self.skip is not None:
            y = y + self.skip(x)
        return y


class UpBlock(nn.Module):
    """``ConvTranspose2d(k, s)`` to a stored size (+ skip ``Conv2d 1×1 → nearest Upsample``).

    Parameters
    ----------
    c_in, c_out : channels.
    k, s : kernel size and stride of the mirrored down layer.
    in_size, out_size : ``(height, width)`` of the input and of the output to restore.
    skip : add the 1×1-conv + nearest-upsampling skip branch.
    circular : circular transposed convolution along α: pad the input circularly by
        ``q = ⌈(k−1)/(2s)⌉`` on each side, transposed conv, crop ``out_size[1]`` columns starting at
        ``q·s + (k−1)/2`` (with output padding along α when the conv output would be shorter,
        which only happens for ``k < s``).
    """

    def __init__(
        self,
        c_in: int,
        c_out: int,
        k: int,
        s: int,
        in_size: tuple[int, int],
        out_size: tuple[int, int],
        skip: bool,
        circular: bool = False,
    ) -> None:
        super().__init__()
        (h_in, w_in), (h_out, w_out) = in_size, out_size
        self.out_size = (h_out, w_out)
        op_h = h_out - ((h_in - 1) * s + k)
        if circular:
            self.q = -(-(k - 1) // (2 * s))
            self.crop = self.q * s + (k - 1) // 2
            # output padding only when the transposed conv would end before the crop window (k < s)
            op_w = max(0, self.crop + w_out - ((w_in + 2 * self.q - 1) * s + k))
        else:
            self.q = 0
            self.crop = 0
            op_w = w_out - ((w_in - 1) * s + k)
        if not (0 <= op_h < s and 0 <= op_w < s):
            raise ValueError(f"cannot restore size {out_size} from {in_size} with kernel {k} and stride {s}")
        self.circular = circular
        self.conv = nn.ConvTranspose2d(c_in, c_out, k, s, output_padding=(op_h, op_w))
        self.skip = (
            nn.Sequential(nn.Conv2d(c_in, c_out, 1), nn.Upsample(size=self.out_size, mode="nearest")) if skip else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.circular:
            xp = F.pad(x, (self.q, self.q, 0, 0), mode="circular") if self.q else x
            y = self.conv(xp)[..., self.crop : self.crop + self.out_size[1]]
        else:
            y = self.conv(x)
        if self.skip is not None:
            y = y + self.skip(x)
        return y


def _down_blocks(spec: CNNSegSpec | CNNClsSpec) -> nn.ModuleList:
    chans = [spec.in_channels, *spec.features]
    return nn.ModuleList(
        DownBlock(chans[i], chans[i + 1], k, s, skip=spec.skips and i > 0, circular=spec.circular_padding)
        for i, (k, s) in enumerate(zip(spec.kernel_sizes, spec.strides))
    )


class CNNSegmenter(nn.Module):
    """ResNet-like hourglass CNN: valid down convs, mirrored transposed up convs, per-pixel logits.

    ``forward(x: [B, in_channels, 2b, 2b]) -> [B, n_classes, 2b, 2b]``. ReLU after every layer
    but the last (the logits).
    """

    def __init__(self, spec: CNNSegSpec) -> None:
        super().__init__()
        self.spec = spec.validate()
        sizes = spec.sizes()
        n = len(spec.features)
        chans = [spec.in_channels, *spec.features]
        self.down = _down_blocks(spec)
        up = []
        for i in range(n - 1, -1, -1):  # mirror of down layer i, in order of application
            c_out = chans[i] if i > 0 else spec.n_classes
            up.append(
                UpBlock(
                    chans[i + 1],
                    c_out,
                    spec.kernel_sizes[i],
                    spec.strides[i],
                    in_size=sizes[i + 1],
                    out_size=sizes[i],
                    skip=spec.skips and i > 0,
                    circular=spec.circular_padding,
                )
            )
        self.up = nn.ModuleList(up)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.down:
            x = F.relu(block(x))
        for block in self.up[:-1]:
            x = F.relu(block(x))
        return self.up[-1](x)


class CNNClassifier(nn.Module):
    """Down convs (ReLU after each), global average pooling, FC head with batch norm.

    ``forward(x: [B, in_channels, 2b, 2b]) -> [B, n_classes]`` (logits).
    """

    def __init__(self, spec: CNNClsSpec) -> None:
        super().__init__()
        self.spec = spec.validate()
        self.down = _down_blocks(spec)
        self.head = FCHead(spec.features[-1], list(spec.fc_features), spec.n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.down:
            x = F.relu(block(x))
        return self.head(x.mean(dim=(-2, -1)))
