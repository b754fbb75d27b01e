"""Typed architecture specifications (the ``model`` config group's schemas).

One dataclass per model family. Each is registered in Hydra's ConfigStore as
``<family>_schema`` (see :func:`eqaug.config.register_configs`), so a model YAML that starts
from it (``defaults: [cnn_seg_schema, _self_]``) fails at composition on a misspelt key; value
ranges are checked in ``__post_init__`` (i.e. when the composed config is converted with
``OmegaConf.to_object``), with errors naming the bad value and what is allowed.

Every spec has ``family``, ``name``, ``bandwidth`` (the input's ``b``: images are
``[B, in_channels, 2b, 2b]``) and ``n_classes``. Parameter counts are computed analytically
by :meth:`n_params` (no module is built); the tests check them against the built modules.

Conventions
-----------
CNN (Gerken et al. 2022, App. B.1)
    ``features[i]``, ``kernel_sizes[i]``, ``strides[i]`` describe down layer ``i``: layer 0 is
    ``Conv2d(in_channels → features[0])`` (never skipped), layer ``i ≥ 1`` is
    ``Conv2d(features[i-1] → features[i])`` (+ skip ``MaxPool2d(k, s) → Conv2d 1×1``). All convs
    are *valid* (no padding): ``d_out = ⌊(d_in − k)/s⌋ + 1``. The segmenter's up path mirrors
    the down path exactly (transposed convs with the same ``k, s``, output padding chosen to
    restore the stored size) and its last layer is ``ConvTranspose2d(features[0] → n_classes)``.
S2CNN (App. B.2)
    ``features[i]`` and ``bandlimits[i]`` are the output channels and output bandlimit of layer
    ``i``, from the first (S² → SO(3)) layer onwards. For the segmenter the final SO(3) → S²
    layer is implicit: it maps ``features[-1] → n_classes`` at ``bandlimits[-1] → bandwidth``;
    so a segmenter has ``len(features) + 1`` layers. A classifier has ``len(features)`` layers,
    then ``so3_integrate``. Layer ``i``'s kernel grid has
    ``max_beta = beta_ref·π·bandwidth / b_in(i)`` where ``b_in(i)`` is the layer's *input*
    bandlimit (``bandwidth`` for layer 0, ``bandlimits[i-1]`` after), unless ``max_betas`` lists
    the values (in units of π) explicitly. This reading reproduces the published 204k list
    0.1238 0.1474 0.1768 0.2292 0.3095 0.2292 0.1768 0.1474 (rounded to four digits) for any
    ``beta_ref`` in ``[0.12378, 0.123795)``; ``conf/model/s2cnn_seg_204k.yaml`` uses 0.12379.
GSCNN (Cobb et al. 2021; :mod:`eqaug.models.gscnn`)
    ``features[i]`` and ``bandlimits[i]`` are the output channels and bandlimit ``L`` of generalized layer ``i``
    (normalisation → tensor-product activation → constrained convolution); hidden layers have ``tau``
    fragments per degree. The first generalized signal has bandlimit ``input_bandlimit`` and comes from the S²
    FFT of the input (``τ_l = 1``, ``in_channels`` channels) or, with ``hybrid``, from an ``S2Convolution``
    (``in_channels → hybrid_features``, ``b → hybrid_bandlimit``) + ReLU on the SO(3) grid, the SO(3) FFT
    (``τ_l = 2l+1``) and a constrained convolution to ``tau`` fragments. The segmenter adds a final layer to
    ``n_classes`` channels of type ``τ_l = 1`` at ``output_bandlimit``, synthesised on the input grid; the
    classifier reads the ``l = 0`` fragments of its last layer into the FC head. A layer's bandlimit may be at
    most ``2 L_in − 1`` (products raise degrees up to ``2(L_in − 1)``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional, Union

__all__ = [
    "CNNSegSpec",
    "CNNClsSpec",
    "S2CNNSegSpec",
    "S2CNNClsSpec",
    "GSCNNSegSpec",
    "GSCNNClsSpec",
    "ModelSpec",
    "SPEC_CLASSES",
    "FAMILIES",
    "cnn_sizes",
    "s2_grid_size",
    "so3_grid_size",
]


# --------------------------------------------------------------------------- validation helpers
def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _int_at_least(name: str, value, low: int) -> None:
    if not _is_int(value) or value < low:
        raise ValueError(f"model.{name}={value!r} is not allowed; it must be an integer >= {low}")


def _int_list(name: str, values, low: int, min_len: int = 1) -> None:
    if not isinstance(values, (list, tuple)):
        raise ValueError(f"model.{name}={values!r} is not allowed; it must be a list of integers >= {low}")
    if len(values) < min_len:
        raise ValueError(
            f"model.{name}={list(values)!r} is not allowed; it needs at least {min_len} entr{'y' if min_len == 1 else 'ies'}"
        )
    for i, v in enumerate(values):
        _int_at_least(f"{name}[{i}]", v, low)


def _same_length(ref_name: str, ref, **others) -> None:
    for name, values in others.items():
        if len(values) != len(ref):
            raise ValueError(
                f"model.{name} has {len(values)} entries {list(values)!r} but model.{ref_name} has {len(ref)} "
                f"{list(ref)!r}; they must have the same length (one entry per layer)"
            )


def _check_family(spec, expected: str) -> None:
    if spec.family != expected:
        raise ValueError(
            f"model.family={spec.family!r} is not allowed for {type(spec).__name__}; it must be {expected!r}"
        )


# --------------------------------------------------------------------------- CNN geometry
def cnn_sizes(
    bandwidth: int, kernel_sizes: list[int], strides: list[int], circular_padding: bool = False
) -> list[tuple[int, int]]:
    """Spatial sizes ``(height β, width α)`` entering and leaving each down layer of a CNN.

    Parameters
    ----------
    bandwidth : the input's ``b`` (the image is ``2b × 2b``).
    kernel_sizes, strides : per down layer.
    circular_padding : pad the α (width) axis circularly by ``k − 1`` before each down conv,
        so its width becomes ``⌈w/s⌉`` (height: ``⌊(h − k)/s⌋ + 1`` as without padding).

    Returns
    -------
    ``[(h_0, w_0), (h_1, w_1), …]`` with ``h_0 = w_0 = 2b`` and one entry per layer after it.
    A size below 1 is returned as is (callers report it).
    """
    h = w = 2 * bandwidth
    sizes = [(h, w)]
    for k, s in zip(kernel_sizes, strides):
        h = (h - k) // s + 1 if h >= k else 0
        w = -(-w // s) if circular_padding else ((w - k) // s + 1 if w >= k else 0)
        sizes.append((h, w))
    return sizes


def _check_cnn_geometry(spec) -> None:
    _int_at_least("bandwidth", spec.bandwidth, 1)
    _int_at_least("in_channels", spec.in_channels, 1)
    _int_at_least("n_classes", spec.n_classes, 1)
    _int_list("features", spec.features, 1)
    _int_list("kernel_sizes", spec.kernel_sizes, 1)
    _int_list("strides", spec.strides, 1)
    _same_length("features", spec.features, kernel_sizes=spec.kernel_sizes, strides=spec.strides)
    if spec.circular_padding:
        for i, k in enumerate(spec.kernel_sizes):
            if k % 2 == 0:
                raise ValueError(
                    f"model.kernel_sizes[{i}]={k} is not allowed with circular_padding=true; kernels must be odd "
                    "(the α axis is padded by (k−1)/2 on each side)"
                )
    sizes = cnn_sizes(spec.bandwidth, spec.kernel_sizes, spec.strides, spec.circular_padding)
    for i, k in enumerate(spec.kernel_sizes):
        h, w = sizes[i]
        limit = h if spec.circular_padding else min(h, w)
        if k > limit:
            raise ValueError(
                f"model.kernel_sizes[{i}]={k} is larger than the {h}×{w} image entering layer {i} "
                f"(bandwidth {spec.bandwidth}, sizes so far {[hw[0] for hw in sizes[: i + 1]]}); "
                f"it must be at most {limit}"
            )


def _cnn_down_params(spec, skips: bool) -> int:
    chans = [spec.in_channels, *spec.features]
    total = 0
    for i, k in enumerate(spec.kernel_sizes):
        c_in, c_out = chans[i], chans[i + 1]
        total += c_in * c_out * k * k + c_out
        if skips and i > 0:
            total += c_in * c_out + c_out
    return total


def _fc_params(c_in: int, hidden: list[int], n_classes: int) -> int:
    total, prev = 0, c_in
    for h in hidden:
        total += prev * h + h + 2 * h  # Linear + BatchNorm1d (weight, bias)
        prev = h
    return total + prev * n_classes + n_classes


@dataclass
class CNNSegSpec:
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
    """

    family: str = "cnn_seg"
    name: str = "cnn_seg"
    bandwidth: int = 50
    in_channels: int = 1
    n_classes: int = 11
    features: list[int] = field(default_factory=list)
    kernel_sizes: list[int] = field(default_factory=list)
    strides: list[int] = field(default_factory=list)
    skips: bool = True
    circular_padding: bool = False

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> CNNSegSpec:
        """Raise ``ValueError`` naming the first bad value; return ``self``."""
        _check_family(self, "cnn_seg")
        _check_cnn_geometry(self)
        return self

    def sizes(self) -> list[tuple[int, int]]:
        """``(height, width)`` entering layer 0, then after each down layer."""
        return cnn_sizes(self.bandwidth, self.kernel_sizes, self.strides, self.circular_padding)

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
class CNNClsSpec:
    """Planar CNN classifier: down layers, global average pooling, fully connected head.

    Attributes
    ----------
    family : ``"cnn_cls"``.
    name, bandwidth, in_channels, features, kernel_sizes, strides, circular_padding : as in
        :class:`CNNSegSpec` (down path only).
    n_classes : number of classes (10 for MNIST).
    skips : skip connections over the down layers ``i ≥ 1`` (off in the paper's classifiers).
    fc_features : widths of the hidden fully connected layers; the head is
        ``[Linear → BatchNorm1d → ReLU] × len(fc_features) → Linear(n_classes)``
        (two hidden widths = the paper's three fully connected layers).
    """

    family: str = "cnn_cls"
    name: str = "cnn_cls"
    bandwidth: int = 50
    in_channels: int = 1
    n_classes: int = 10
    features: list[int] = field(default_factory=list)
    kernel_sizes: list[int] = field(default_factory=list)
    strides: list[int] = field(default_factory=list)
    skips: bool = False
    circular_padding: bool = False
    fc_features: list[int] = field(default_factory=lambda: [64, 32])

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> CNNClsSpec:
        """Raise ``ValueError`` naming the first bad value; return ``self``."""
        _check_family(self, "cnn_cls")
        _check_cnn_geometry(self)
        _int_list("fc_features", self.fc_features, 1, min_len=0)
        return self

    def sizes(self) -> list[tuple[int, int]]:
        """``(height, width)`` entering layer 0, then after each down layer."""
        return cnn_sizes(self.bandwidth, self.kernel_sizes, self.strides, self.circular_padding)

    def n_params(self) -> int:
        """Number of trainable parameters (conv layers + fully connected head with batch norm)."""
        return _cnn_down_params(self, self.skips) + _fc_params(
            self.features[-1], list(self.fc_features), self.n_classes
        )


# --------------------------------------------------------------------------- S2CNN
def s2_grid_size(n_alpha: int, n_beta: int) -> int:
    """Number of points of ``s2_near_identity_grid(n_alpha=, n_beta=)``."""
    return n_alpha * n_beta


def so3_grid_size(n_alpha: int, n_beta: int) -> int:
    """Number of points of ``so3_near_identity_grid(n_alpha=, n_beta=)`` (``n_gamma = n_alpha``)."""
    return n_alpha * n_beta * n_alpha


def _check_s2cnn_common(spec) -> None:
    _int_at_least("bandwidth", spec.bandwidth, 1)
    _int_at_least("in_channels", spec.in_channels, 1)
    _int_at_least("n_classes", spec.n_classes, 1)
    _int_list("features", spec.features, 1)
    _int_list("bandlimits", spec.bandlimits, 1)
    _same_length("features", spec.features, bandlimits=spec.bandlimits)
    _int_at_least("kernel_n_alpha", spec.kernel_n_alpha, 1)
    _int_at_least("kernel_n_beta", spec.kernel_n_beta, 1)
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


def _s2cnn_max_betas(spec) -> list[float]:
    if spec.max_betas is not None:
        return [float(mb) * math.pi for mb in spec.max_betas]
    return [spec.beta_ref * math.pi * spec.bandwidth / b_in for b_in, _ in spec.layer_bandwidths()]


def _s2cnn_conv_params(spec, channels: list[int], bws: list[tuple[int, int]], n_so3_shortcut_layers: int) -> int:
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
class S2CNNSegSpec:
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
    """

    family: str = "s2cnn_seg"
    name: str = "s2cnn_seg"
    bandwidth: int = 50
    in_channels: int = 1
    n_classes: int = 11
    features: list[int] = field(default_factory=list)
    bandlimits: list[int] = field(default_factory=list)
    beta_ref: float = 0.1238
    max_betas: Optional[list[float]] = None
    kernel_n_alpha: int = 8
    kernel_n_beta: int = 3
    shortcuts: bool = False

    def __post_init__(self) -> None:
        self.validate()

    @property
    def n_layers(self) -> int:
        """Number of convolution layers (S² → SO(3), SO(3) → SO(3) …, SO(3) → S²)."""
        return len(self.features) + 1

    def validate(self) -> S2CNNSegSpec:
        """Raise ``ValueError`` naming the first bad value; return ``self``."""
        _check_family(self, "s2cnn_seg")
        _int_list("features", self.features, 1)
        _int_list("bandlimits", self.bandlimits, 1)
        _same_length("features", self.features, bandlimits=self.bandlimits)
        bl = list(self.bandlimits)
        k = bl.index(min(bl))
        if any(bl[i + 1] > bl[i] for i in range(k)) or any(bl[i + 1] < bl[i] for i in range(k, len(bl) - 1)):
            raise ValueError(
                f"model.bandlimits={bl!r} is not allowed; the bandlimits must first decrease (down-sampling) "
                f"and then increase (up-sampling)"
            )
        _check_s2cnn_common(self)
        return self

    def layer_bandwidths(self) -> list[tuple[int, int]]:
        """``(b_in, b_out)`` of every layer."""
        bs = [self.bandwidth, *self.bandlimits, self.bandwidth]
        return list(zip(bs[:-1], bs[1:]))

    def layer_channels(self) -> list[tuple[int, int]]:
        """``(c_in, c_out)`` of every layer."""
        cs = [self.in_channels, *self.features, self.n_classes]
        return list(zip(cs[:-1], cs[1:]))

    def kernel_max_betas(self) -> list[float]:
        """``max_beta`` (radians) of every layer's kernel grid."""
        return _s2cnn_max_betas(self)

    def n_params(self) -> int:
        """Number of trainable parameters (kernels ``[c_in, c_out, n_grid]`` + one bias per output channel)."""
        chans = [self.in_channels, *self.features, self.n_classes]
        return _s2cnn_conv_params(self, chans, self.layer_bandwidths(), n_so3_shortcut_layers=len(self.features) - 1)


@dataclass
class S2CNNClsSpec:
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
    bandwidth: int = 50
    in_channels: int = 1
    n_classes: int = 10
    features: list[int] = field(default_factory=list)
    bandlimits: list[int] = field(default_factory=list)
    beta_ref: float = 0.1238
    max_betas: Optional[list[float]] = None
    kernel_n_alpha: int = 8
    kernel_n_beta: int = 3
    shortcuts: bool = False
    fc_features: list[int] = field(default_factory=lambda: [64, 32])

    def __post_init__(self) -> None:
        self.validate()

    @property
    def n_layers(self) -> int:
        """Number of convolution layers."""
        return len(self.features)

    def validate(self) -> S2CNNClsSpec:
        """Raise ``ValueError`` naming the first bad value; return ``self``."""
        _check_family(self, "s2cnn_cls")
        _int_list("features", self.features, 1)
        _int_list("bandlimits", self.bandlimits, 1)
        bl = list(self.bandlimits)
        if any(bl[i + 1] > bl[i] for i in range(len(bl) - 1)):
            raise ValueError(f"model.bandlimits={bl!r} is not allowed; a classifier's bandlimits must not increase")
        _check_s2cnn_common(self)
        _int_list("fc_features", self.fc_features, 1, min_len=0)
        return self

    def layer_bandwidths(self) -> list[tuple[int, int]]:
        """``(b_in, b_out)`` of every conv layer."""
        bs = [self.bandwidth, *self.bandlimits]
        return list(zip(bs[:-1], bs[1:]))

    def layer_channels(self) -> list[tuple[int, int]]:
        """``(c_in, c_out)`` of every conv layer."""
        cs = [self.in_channels, *self.features]
        return list(zip(cs[:-1], cs[1:]))

    def kernel_max_betas(self) -> list[float]:
        """``max_beta`` (radians) of every layer's kernel grid."""
        return _s2cnn_max_betas(self)

    def n_params(self) -> int:
        """Number of trainable parameters (conv layers + fully connected head with batch norm)."""
        chans = [self.in_channels, *self.features]
        conv = _s2cnn_conv_params(self, chans, self.layer_bandwidths(), n_so3_shortcut_layers=len(self.features) - 1)
        return conv + _fc_params(self.features[-1], list(self.fc_features), self.n_classes)


# --------------------------------------------------------------------------- GSCNN (Cobb et al. 2021)
GSCNN_MIXING = ("full", "mst", "rmst")
GSCNN_NORMS = ("batch", "layer", "none")


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _check_gscnn_common(spec, min_layers: int) -> None:
    _int_at_least("bandwidth", spec.bandwidth, 1)
    _int_at_least("in_channels", spec.in_channels, 1)
    _int_at_least("n_classes", spec.n_classes, 1)
    _int_list("features", spec.features, 1, min_len=min_layers)
    _int_list("bandlimits", spec.bandlimits, 1, min_len=min_layers)
    _same_length("features", spec.features, bandlimits=spec.bandlimits)
    _int_at_least("tau", spec.tau, 1)
    if spec.mixing not in GSCNN_MIXING:
        raise ValueError(
            f"model.mixing={spec.mixing!r} is not allowed; choose one of {', '.join(map(repr, GSCNN_MIXING))}"
        )
    if spec.norm not in GSCNN_NORMS:
        raise ValueError(f"model.norm={spec.norm!r} is not allowed; choose one of {', '.join(map(repr, GSCNN_NORMS))}")
    if not (_is_number(spec.rmst_base) and spec.rmst_base > 1):
        raise ValueError(f"model.rmst_base={spec.rmst_base!r} is not allowed; it must be a number > 1")
    if spec.hybrid:
        _int_at_least("hybrid_features", spec.hybrid_features, 1)
        _int_at_least("kernel_n_alpha", spec.kernel_n_alpha, 1)
        _int_at_least("kernel_n_beta", spec.kernel_n_beta, 1)
        if spec.hybrid_bandlimit is not None:
            _int_at_least("hybrid_bandlimit", spec.hybrid_bandlimit, 1)
            if spec.hybrid_bandlimit > 2 * spec.bandwidth:
                raise ValueError(
                    f"model.hybrid_bandlimit={spec.hybrid_bandlimit} is not allowed; it must be at most "
                    f"2·bandwidth = {2 * spec.bandwidth}"
                )
        if not (_is_number(spec.hybrid_max_beta) and 0 < spec.hybrid_max_beta <= 1):
            raise ValueError(
                f"model.hybrid_max_beta={spec.hybrid_max_beta!r} is not allowed; it must lie in (0, 1] (units of π)"
            )
    if spec.input_bandlimit is not None:
        _int_at_least("input_bandlimit", spec.input_bandlimit, 1)
    src = spec.source_bandlimit()
    if spec.first_bandlimit() > src:
        raise ValueError(
            f"model.input_bandlimit={spec.input_bandlimit} is above the bandlimit {src} of the signal it is taken from "
            f"({'hybrid_bandlimit' if spec.hybrid else 'bandwidth'}); it must be at most {src}"
        )
    prev = spec.first_bandlimit()
    for i, L in enumerate(spec.bandlimits):
        if L > 2 * prev - 1 or L > spec.bandwidth:
            raise ValueError(
                f"model.bandlimits[{i}]={L} is not allowed; a layer with input bandlimit {prev} can output at most "
                f"min(2·{prev} − 1, bandwidth {spec.bandwidth}) = {min(2 * prev - 1, spec.bandwidth)}"
            )
        prev = L


def _gscnn_body_params(spec, c_last: int | None, tau_last: int | None, L_last: int | None) -> int:
    """Hybrid block, input projection and the generalized layers (plus an optional final layer)."""
    from eqaug.models.gscnn.counting import constrained_conv_params, generalized_layer_params

    total = 0
    L0 = spec.first_bandlimit()
    if spec.hybrid:
        c = spec.hybrid_features
        total += spec.in_channels * c * s2_grid_size(spec.kernel_n_alpha, spec.kernel_n_beta) + c
        total += constrained_conv_params(c, c, tuple(2 * l + 1 for l in range(L0)), spec.tau)
        in_type = (spec.tau,) * L0
    else:
        c = spec.in_channels
        in_type = (1,) * L0
    layers = list(zip(spec.features, spec.bandlimits, [spec.tau] * len(spec.features)))
    if c_last is not None:
        layers.append((c_last, L_last, tau_last))
    for c_out, L_out, tau_out in layers:
        total += generalized_layer_params(
            c, c_out, in_type, L_out, tau_out, spec.mixing, spec.include_input, spec.self_loops, spec.rmst_base
        )
        c, in_type = c_out, (tau_out,) * L_out
    return total


@dataclass
class _GSCNNFields:
    """Fields and helpers shared by the two generalized spherical CNN specs (documented on each)."""

    family: str = "gscnn_seg"
    name: str = "gscnn_seg"
    bandwidth: int = 50
    in_channels: int = 1
    n_classes: int = 11
    features: list[int] = field(default_factory=list)
    bandlimits: list[int] = field(default_factory=list)
    input_bandlimit: Optional[int] = None
    tau: int = 1
    mixing: str = "rmst"
    self_loops: bool = True
    rmst_base: float = 2.0
    include_input: bool = True
    norm: str = "layer"
    hybrid: bool = True
    hybrid_features: int = 8
    hybrid_bandlimit: Optional[int] = None
    hybrid_max_beta: float = 0.125
    kernel_n_alpha: int = 8
    kernel_n_beta: int = 3

    def __post_init__(self) -> None:
        self.validate()

    def source_bandlimit(self) -> int:
        """Bandlimit of the signal the first generalized signal is taken from."""
        if self.hybrid:
            return self.hybrid_bandlimit if self.hybrid_bandlimit is not None else self.bandwidth
        return self.bandwidth

    def first_bandlimit(self) -> int:
        """Bandlimit of the first generalized signal."""
        return (
            self.input_bandlimit if self.input_bandlimit is not None else min(self.source_bandlimit(), self.bandwidth)
        )


@dataclass
class GSCNNSegSpec(_GSCNNFields):
    """Efficient generalized spherical CNN segmenter (Cobb et al. 2021): per-pixel logits on the input grid.

    Attributes
    ----------
    family : ``"gscnn_seg"``.
    name, bandwidth, in_channels : as for the S2CNN.
    n_classes : output channels of the final layer (type ``τ_l = 1``, synthesised on the ``2b × 2b`` grid).
    features, bandlimits : output channels / bandlimits of the hidden generalized layers (see the module
        docstring; bandlimits may fall and rise, each at most ``2 L_in − 1`` and ``bandwidth``).
    input_bandlimit : bandlimit of the first generalized signal (default: ``hybrid_bandlimit`` with ``hybrid``,
        else ``bandwidth``); below the source's bandlimit it truncates (the hybrid ReLU is then oversampled).
    output_bandlimit : bandlimit of the final layer (default: ``min(bandwidth, 2·bandlimits[-1] − 1)``).
    tau : fragments per degree of the hidden layers.
    mixing : degree-mixing set ``"full"``, ``"mst"`` or ``"rmst"`` (:mod:`eqaug.models.gscnn.mixing`).
    self_loops, rmst_base : options of the MST sets.
    include_input : the activation passes its input fragments through next to the products.
    norm : ``"layer"`` (per-sample norm-based normalisation before each activation), ``"batch"`` (batch
        statistics, running averages in evaluation) or ``"none"``.
    hybrid : first layer ``S2Convolution`` + ReLU (not exactly equivariant: pointwise ReLU on the grid).
    hybrid_features, hybrid_bandlimit, hybrid_max_beta : its channels, output bandwidth (default
        ``bandwidth``) and kernel radius ``max_beta/π`` (``s2_near_identity_grid``).
    kernel_n_alpha, kernel_n_beta : its kernel grid (24 points by default).
    """

    output_bandlimit: Optional[int] = None

    def last_bandlimit(self) -> int:
        """Bandlimit of the final (class) layer."""
        L = self.bandlimits[-1]
        return self.output_bandlimit if self.output_bandlimit is not None else min(self.bandwidth, 2 * L - 1)

    def validate(self) -> GSCNNSegSpec:
        """Raise ``ValueError`` naming the first bad value; return ``self``."""
        _check_family(self, "gscnn_seg")
        _check_gscnn_common(self, min_layers=1)
        if self.output_bandlimit is not None:
            _int_at_least("output_bandlimit", self.output_bandlimit, 1)
            top = min(self.bandwidth, 2 * self.bandlimits[-1] - 1)
            if self.output_bandlimit > top:
                raise ValueError(
                    f"model.output_bandlimit={self.output_bandlimit} is not allowed; it must be at most "
                    f"min(bandwidth, 2·bandlimits[-1] − 1) = {top}"
                )
        return self

    def n_params(self) -> int:
        """Number of trainable parameters (hybrid block, generalized layers, final class layer)."""
        return _gscnn_body_params(self, self.n_classes, 1, self.last_bandlimit())


@dataclass
class GSCNNClsSpec(_GSCNNFields):
    """Efficient generalized spherical CNN classifier: generalized layers, ``l = 0`` invariants, FC head.

    Attributes
    ----------
    family : ``"gscnn_cls"``.
    name, bandwidth, in_channels, features, bandlimits, input_bandlimit, tau, mixing, self_loops, rmst_base,
        include_input, norm, hybrid, hybrid_features, hybrid_bandlimit, hybrid_max_beta, kernel_n_alpha,
        kernel_n_beta : as in :class:`GSCNNSegSpec` (``bandlimits[-1] = 1`` computes only the invariants).
    n_classes : number of classes.
    fc_features : hidden widths of the head, whose input is the ``features[-1]·tau`` invariants.
    """

    family: str = "gscnn_cls"
    name: str = "gscnn_cls"
    n_classes: int = 10
    fc_features: list[int] = field(default_factory=lambda: [64, 32])

    def validate(self) -> GSCNNClsSpec:
        """Raise ``ValueError`` naming the first bad value; return ``self``."""
        _check_family(self, "gscnn_cls")
        _check_gscnn_common(self, min_layers=1)
        _int_list("fc_features", self.fc_features, 1, min_len=0)
        return self

    def n_params(self) -> int:
        """Number of trainable parameters (generalized layers + fully connected head with batch norm)."""
        body = _gscnn_body_params(self, None, None, None)
        return body + _fc_params(self.features[-1] * self.tau, list(self.fc_features), self.n_classes)


ModelSpec = Union[CNNSegSpec, CNNClsSpec, S2CNNSegSpec, S2CNNClsSpec, GSCNNSegSpec, GSCNNClsSpec]

#: family name → spec dataclass
SPEC_CLASSES: dict[str, type] = {
    "cnn_seg": CNNSegSpec,
    "cnn_cls": CNNClsSpec,
    "s2cnn_seg": S2CNNSegSpec,
    "s2cnn_cls": S2CNNClsSpec,
    "gscnn_seg": GSCNNSegSpec,
    "gscnn_cls": GSCNNClsSpec,
}
FAMILIES = tuple(SPEC_CLASSES)
