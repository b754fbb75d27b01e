"""Specs of the planar CNN baselines (App. B.1; conventions in :mod:`eqaug.models.specs`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from eqaug.models.specs.common import ClassifierHead, SpecFields, V, check_common

__all__ = ["cnn_sizes", "CNNSegSpec", "CNNClsSpec", "SphereCNNSegSpec", "SphereCNNClsSpec"]


# --------------------------------------------------------------------------- CNN geometry
def cnn_sizes(
    bandwidth: int,
    kernel_sizes: list[int],
    strides: list[int],
    circular_padding: bool = False,
    pole_padding: bool = False,
) -> list[tuple[int, int]]:
    """Spatial sizes ``(height β, width α)`` entering and leaving each down layer of a CNN.

    Parameters
    ----------
    bandwidth : the input's ``b`` (the image is ``2b × 2b``).
    kernel_sizes, strides : per down layer.
    circular_padding : pad the α (width) axis circularly by ``k − 1`` before each down conv,
        so its width becomes ``⌈w/s⌉`` (height: ``⌊(h − k)/s⌋ + 1`` as without padding).
    pole_padding : also pad the β (height) axis by ``k − 1`` rows (across the poles), so the height
        becomes ``⌈h/s⌉`` like the width.

    Returns
    -------
    ``[(h_0, w_0), (h_1, w_1), …]`` with ``h_0 = w_0 = 2b`` and one entry per layer after it.
    A size below 1 is returned as is (callers report it).
    """
    h = w = 2 * bandwidth
    sizes = [(h, w)]
    for k, s in zip(kernel_sizes, strides):
        if pole_padding:
            h = -(-h // s)
        else:
            h = (h - k) // s + 1 if h >= k else 0
        w = -(-w // s) if circular_padding else ((w - k) // s + 1 if w >= k else 0)
        sizes.append((h, w))
    return sizes


def _check_cnn_geometry(spec: CNNSegSpec | CNNClsSpec) -> None:
    check_common(spec)
    V.int_list("kernel_sizes", spec.kernel_sizes, 1)
    V.int_list("strides", spec.strides, 1)
    V.same_length("features", spec.features, kernel_sizes=spec.kernel_sizes, strides=spec.strides)
    if spec.pole_padding and not spec.circular_padding:
        raise ValueError(
            "model.pole_padding=true is not allowed with model.circular_padding=false; the rows across a pole "
            "continue at longitude + π, which needs the circular α padding too (set circular_padding: true)"
        )
    if spec.circular_padding:
        for i, k in enumerate(spec.kernel_sizes):
            if k % 2 == 0:
                raise ValueError(
                    f"model.kernel_sizes[{i}]={k} is not allowed with circular_padding=true; kernels must be odd "
                    "(the α axis is padded by (k−1)/2 on each side)"
                )
    sizes = spec.sizes()
    if spec.pole_padding:  # both axes padded: any odd kernel fits
        return
    for i, k in enumerate(spec.kernel_sizes):
        h, w = sizes[i]
        limit = h if spec.circular_padding else min(h, w)
        if k > limit:
            raise ValueError(
                f"model.kernel_sizes[{i}]={k} is larger than the {h}×{w} image entering layer {i} "
                f"(bandwidth {spec.bandwidth}, sizes so far {[hw[0] for hw in sizes[: i + 1]]}); "
                f"it must be at most {limit}"
            )


def _cnn_down_params(spec: CNNSegSpec | CNNClsSpec, skips: bool) -> int:
    chans = [spec.in_channels, *spec.features]
    total = 0
    for i, k in enumerate(spec.kernel_sizes):
        c_in, c_out = chans[i], chans[i + 1]
        total += c_in * c_out * k * k + c_out
        if skips and i > 0:
            total += c_in * c_out + c_out
    return total


@dataclass
class CNNSegSpec(SpecFields):
    """ResNet-like planar CNN segmenter (App. B.1).

    Attributes
    ----------
    family : ``"cnn_seg"``.
    name : a label (the config's file name for the named models).
    bandwidth : input ``b``; the image is ``[in_channels, 2b, 2b]``.
    in_channels : input channels (1 for grey images).
    n_classes : output channels (per-pixel logits), 11 for the MNIST segmentation.
    features, kernel_sizes, strides : per down layer, see the module docstring.
    skips : skip connections over every down/up layer but the outermost (App. B.1).
    circular_padding : sphere-aware variant (off for the paper's models): each down conv and its
        max-pool skip see the input padded circularly along α (the width axis) by ``(k−1)/2`` on
        each side, so the α size becomes ``⌈w/s⌉``; each transposed conv sees its input padded
        circularly along α by ``q = ⌈(k−1)/(2s)⌉`` and its output is cropped back to the stored
        width (start ``q·s + (k−1)/2``), i.e. a circular transposed convolution. The β (height)
        axis is never padded. With all strides 1 the network is exactly equivariant to α-rolls;
        with strides, to rolls by multiples of ``∏ s_i`` when every width is divisible by the
        stride applied to it.
    pole_padding : pad the β axis across the poles too (requires ``circular_padding``; off for the
        paper's models): each down conv and its max-pool skip see ``(k−1)/2`` extra rows on each
        side, the rows across the pole: on the SOFT grid ``β_j = π(2j+1)/(4b)`` the row at
        distance ``i = 1, 2, …`` above row 0 is the point at colatitude ``β_{i−1}`` on the other
        side of the pole, i.e. row ``i − 1`` rolled by half the width along α (longitude + π), so
        the top padding is the first ``(k−1)/2`` rows in reversed order rolled by ``⌊w/2⌋``; the
        same at the bottom (south pole). Each transposed conv pads its input's rows the same way
        by ``q`` and crops rows as the α logic crops columns. Heights then follow the widths
        (``⌈h/s⌉``) and any odd kernel fits. The padding commutes with α-rolls, so the roll
        equivariance above is kept; the network is *not* equivariant to other rotations.
    """

    family: str = "cnn_seg"
    name: str = "cnn_seg"
    kernel_sizes: list[int] = field(default_factory=list)
    strides: list[int] = field(default_factory=list)
    skips: bool = True
    circular_padding: bool = False
    pole_padding: bool = False

    def check_fields(self) -> None:
        """The layer geometry (and the paddings of a sphere-aware spec)."""
        _check_cnn(self)

    def sizes(self) -> list[tuple[int, int]]:
        """``(height, width)`` entering layer 0, then after each down layer."""
        return cnn_sizes(self.bandwidth, self.kernel_sizes, self.strides, self.circular_padding, self.pole_padding)

    def n_params(self) -> int:
        """Number of trainable parameters (down path, mirrored up path, output layer)."""
        chans = [self.in_channels, *self.features]
        down = _cnn_down_params(self, self.skips)
        up = 0
        for i in range(len(self.features) - 1, 0, -1):
            c_in, c_out, k = chans[i + 1], chans[i], self.kernel_sizes[i]
            up += c_in * c_out * k * k + c_out
            if self.skips:
                up += c_in * c_out + c_out
        out = self.features[0] * self.n_classes * self.kernel_sizes[0] ** 2 + self.n_classes
        return down + up + out


@dataclass
class CNNClsSpec(ClassifierHead, SpecFields):
    """Planar CNN classifier: down layers, global average pooling, fully connected head.

    Attributes
    ----------
    family : ``"cnn_cls"``.
    name, bandwidth, in_channels, features, kernel_sizes, strides, circular_padding, pole_padding : as
        in :class:`CNNSegSpec` (down path only).
    n_classes : number of classes (10 for MNIST).
    skips : skip connections over the down layers ``i ≥ 1`` (off in the paper's classifiers).
    fc_features : widths of the hidden fully connected layers; the head is
        ``[Linear → BatchNorm1d → ReLU] × len(fc_features) → Linear(n_classes)``
        (two hidden widths = the paper's three fully connected layers).
    """

    family: str = "cnn_cls"
    name: str = "cnn_cls"
    kernel_sizes: list[int] = field(default_factory=list)
    strides: list[int] = field(default_factory=list)
    skips: bool = False
    circular_padding: bool = False
    pole_padding: bool = False

    def check_fields(self) -> None:
        """The layer geometry (and the paddings of a sphere-aware spec)."""
        _check_cnn(self)

    def sizes(self) -> list[tuple[int, int]]:
        """``(height, width)`` entering layer 0, then after each down layer."""
        return cnn_sizes(self.bandwidth, self.kernel_sizes, self.strides, self.circular_padding, self.pole_padding)

    def n_params(self) -> int:
        """Number of trainable parameters (conv layers + fully connected head with batch norm)."""
        return _cnn_down_params(self, self.skips) + self.head_params(self.features[-1])


def _check_cnn(spec: CNNSegSpec | CNNClsSpec) -> None:
    if spec.family.startswith("sphcnn"):
        _check_sphere(spec)
    _check_cnn_geometry(spec)


def _check_sphere(spec: SphereCNNSegSpec | SphereCNNClsSpec) -> None:
    for key in ("circular_padding", "pole_padding"):
        if getattr(spec, key) is not True:
            raise ValueError(
                f"model.{key}={getattr(spec, key)!r} is not allowed for family {spec.family!r}; the sphere-aware "
                f"CNN pads circularly along α and across the poles along β, so {key} must be true "
                f"(use family {spec.family.removeprefix('sph')!r} for a planar CNN)"
            )


@dataclass
class SphereCNNSegSpec(CNNSegSpec):
    """Sphere-aware planar CNN segmenter: the :class:`CNNSegSpec` network with ``circular_padding`` and
    ``pole_padding`` both on (required), so it is exactly equivariant to the grid's longitude rolls (by
    multiples of ``∏ s_i`` when every size is divisible by its stride) and to nothing more.

    Attributes
    ----------
    family : ``"sphcnn_seg"``.
    name, bandwidth, in_channels, n_classes, features, kernel_sizes, strides, skips : as in
        :class:`CNNSegSpec`.
    circular_padding, pole_padding : must be ``true`` (see :class:`CNNSegSpec`).
    """

    family: str = "sphcnn_seg"
    name: str = "sphcnn_seg"
    circular_padding: bool = True
    pole_padding: bool = True


@dataclass
class SphereCNNClsSpec(CNNClsSpec):
    """Sphere-aware planar CNN classifier: the :class:`CNNClsSpec` network with ``circular_padding`` and
    ``pole_padding`` both on (required); its global average pooling makes it invariant to the rolls to
    which the down path is equivariant.

    Attributes
    ----------
    family : ``"sphcnn_cls"``.
    name, bandwidth, in_channels, n_classes, features, kernel_sizes, strides, skips, fc_features : as in
        :class:`CNNClsSpec`.
    circular_padding, pole_padding : must be ``true`` (see :class:`CNNSegSpec`).
    """

    family: str = "sphcnn_cls"
    name: str = "sphcnn_cls"
    circular_padding: bool = True
    pole_padding: bool = True
