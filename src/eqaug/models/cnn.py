"""Planar CNN baselines of Gerken et al. 2022 (App. B.1): ResNet-like segmenter and classifier.

Inputs are spherical images on the ``2b × 2b`` SOFT grid, ``[B, C, 2b (β), 2b (α)]``, treated as
flat images. See :class:`eqaug.models.specs.CNNSegSpec` for the layer conventions and the
optional circular padding along α and pole padding along β (the sphere-aware CNN,
:class:`eqaug.models.specs.SphereCNNSegSpec`, built by the same modules).

Pole padding. On the SOFT grid ``β_j = π(2j+1)/(4b)`` the great circle through a point of row 0 and
the north pole continues, past the pole, at colatitude ``β_0, β_1, …`` on the meridian ``α + π``: the
row at distance ``i ≥ 1`` above row 0 is row ``i − 1`` rolled by half the width. So ``p`` padded rows
above are rows ``p−1, …, 0`` (reversed) rolled by ``⌊w/2⌋``, and likewise below (south pole); a pad
wider than the image reflects again (and rolls back). :func:`sphere_pad` builds the padded tensor
(rows across the poles and columns around α) with one gather of the flattened image.
"""

from __future__ import annotations

from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import nn

from eqaug.models.head import FCHead
from eqaug.models.specs import CNNClsSpec, CNNSegSpec

__all__ = ["pole_rows", "sphere_pad", "DownBlock", "UpBlock", "CNNSegmenter", "CNNClassifier"]


@lru_cache(maxsize=256)
def pole_rows(h: int, p: int) -> tuple[tuple[int, ...], tuple[bool, ...]]:
    """Source row and half-turn flag of each of the ``h + 2p`` rows of an image padded by ``p`` rows across the
    poles: padded row ``r ∈ [−p, h + p)`` is row ``−1 − r`` (north) or ``2h − 1 − r`` (south) of the other
    half of the sphere (flag ``True``: rolled by half the width), reflected again while out of range."""
    rows, flips = [], []
    for r in range(-p, h + p):
        flip = False
        while not 0 <= r < h:
            r = -1 - r if r < 0 else 2 * h - 1 - r
            flip = not flip
        rows.append(r)
        flips.append(flip)
    return tuple(rows), tuple(flips)


@lru_cache(maxsize=256)
def _sphere_pad_index(h: int, w: int, p_beta: int, p_alpha: int) -> torch.Tensor:
    """Flat index into an ``h × w`` image of every pixel of its ``(h + 2 p_beta) × (w + 2 p_alpha)`` padding."""
    rows, flips = pole_rows(h, p_beta)
    src_row = torch.tensor(rows).unsqueeze(1)
    shift = torch.tensor(flips, dtype=torch.long).unsqueeze(1) * (w // 2)  # across a pole: longitude + π
    cols = torch.arange(-p_alpha, w + p_alpha).unsqueeze(0)
    return (src_row * w + (cols - shift) % w).flatten()


def sphere_pad(x: torch.Tensor, p_beta: int, p_alpha: int) -> torch.Tensor:
    """Pad ``x [..., h, w]`` by ``p_beta`` rows across the poles and ``p_alpha`` columns circularly along α
    (one gather of the flattened image)."""
    if not (p_beta or p_alpha):
        return x
    h, w = x.shape[-2], x.shape[-1]
    idx = _sphere_pad_index(h, w, p_beta, p_alpha).to(x.device)
    out = x.reshape(*x.shape[:-2], h * w).index_select(-1, idx)
    return out.reshape(*x.shape[:-2], h + 2 * p_beta, w + 2 * p_alpha)


class _SeparableMaxPool2d(nn.Module):
    """``MaxPool2d(k, s)`` as a ``1×k`` pool along the width followed by a ``k×1`` pool along the height."""

    def __init__(self, k: int, s: int) -> None:
        super().__init__()
        self.k, self.s = k, s

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(x, (1, self.k), (1, self.s))
        return F.max_pool2d(x, (self.k, 1), (self.s, 1))


class DownBlock(nn.Module):
    """``Conv2d(k, s)`` (+ skip ``MaxPool2d(k, s) → Conv2d 1×1``), valid convolution.

    Parameters
    ----------
    c_in, c_out : channels.
    k, s : kernel size and stride.
    skip : add the max-pool skip branch.
    circular : pad the input circularly along α (last axis) by ``(k−1)/2`` on each side first.
    pole : also pad the rows (β) by ``(k−1)/2`` across the poles (:func:`sphere_pad`; needs ``circular``).
    """

    def __init__(
        self, c_in: int, c_out: int, k: int, s: int, skip: bool, circular: bool = False, pole: bool = False
    ) -> None:
        super().__init__()
        self.pad = (k - 1) // 2 if circular else 0
        self.pad_beta = (k - 1) // 2 if pole else 0
        self.conv = nn.Conv2d(c_in, c_out, k, s)
        # sphere-aware blocks pool separably (k×1 after 1×k: the same maxima, and the same first-in-raster-order
        # argmax on ties, at 2k instead of k² comparisons; overlapping windows sum gradients in another order); the
        # planar CNNs keep torch's k×k pooling, bit for bit as in their committed runs
        pool = _SeparableMaxPool2d(k, s) if circular and k > 1 else nn.MaxPool2d(k, s)
        self.skip = nn.Sequential(pool, nn.Conv2d(c_in, c_out, 1)) if skip else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pad_beta:
            x = sphere_pad(x, self.pad_beta, self.pad)
        elif self.pad:
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
    pole : the same along β, with the input's rows padded by ``q`` across the poles
        (:func:`sphere_pad`; needs ``circular``).
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
        pole: bool = False,
    ) -> None:
        super().__init__()
        (h_in, w_in), (h_out, w_out) = in_size, out_size
        self.out_size = (h_out, w_out)
        if pole and not circular:
            raise ValueError("pole padding needs circular padding along α")
        if circular:
            self.q = -(-(k - 1) // (2 * s))
            self.crop = self.q * s + (k - 1) // 2
            # output padding only when the transposed conv would end before the crop window (k < s)
            op_w = max(0, self.crop + w_out - ((w_in + 2 * self.q - 1) * s + k))
        else:
            self.q = 0
            self.crop = 0
            op_w = w_out - ((w_in - 1) * s + k)
        if pole:
            op_h = max(0, self.crop + h_out - ((h_in + 2 * self.q - 1) * s + k))
        else:
            op_h = h_out - ((h_in - 1) * s + k)
        if not (0 <= op_h < s and 0 <= op_w < s):
            raise ValueError(f"cannot restore size {out_size} from {in_size} with kernel {k} and stride {s}")
        self.circular = circular
        self.pole = pole
        self.conv = nn.ConvTranspose2d(c_in, c_out, k, s, output_padding=(op_h, op_w))
        self.skip = (
            nn.Sequential(nn.Conv2d(c_in, c_out, 1), nn.Upsample(size=self.out_size, mode="nearest")) if skip else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pole and self.conv.stride == (1, 1):
            # stride 1: the cropped circular transposed conv is the plain conv of the input padded by (k−1)/2
            # with the kernel flipped and its channel axes swapped (y[j] = Σ_t W[t] x[j + (k−1)/2 − t]), on
            # an output-sized grid instead of an input padded by q and a larger output cropped
            p = (self.conv.kernel_size[0] - 1) // 2
            w = self.conv.weight.transpose(0, 1).flip(-2, -1)
            y = F.conv2d(sphere_pad(x, p, p), w, self.conv.bias)
        elif self.pole:
            xp = sphere_pad(x, self.q, self.q) if self.q else x
            y = self.conv(xp)[..., self.crop : self.crop + self.out_size[0], self.crop : self.crop + self.out_size[1]]
        elif self.circular:
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
        DownBlock(
            chans[i],
            chans[i + 1],
            k,
            s,
            skip=spec.skips and i > 0,
            circular=spec.circular_padding,
            pole=spec.pole_padding,
        )
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
                    pole=spec.pole_padding,
                )
            )
        self.up = nn.ModuleList(up)
        # Channels-last weights make the CPU convolutions (oneDNN) run channels-last: a training step of the b = 16
        # segmenters is 1.15–1.5x faster so (`python -m eqaug.bench variants cnn_layout`, results/bench/
        # cnn_layout.json); the values agree to float rounding.  The classifiers stay contiguous: their gain is
        # not consistent across launches (CNN 500k b16: 0.84–1.32x).
        self.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.down:
            x = F.relu(block(x))
        for block in self.up[:-1]:
            x = F.relu(block(x))
        return self.up[-1](x).contiguous()


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
