"""Specs of the zonal spherical CNN (Esteves et al. 2018; the layer is in :mod:`eqaug.models.zonal`).

Layer ``i`` maps ``c_in → features[i]`` channels and the bandwidth ``b_in → bandlimits[i]`` (``b_in`` the
input's ``bandwidth`` for layer 0, ``bandlimits[i-1]`` after); it filters the degrees ``l < L_i`` with
``L_i = min(b_in, b_out)``. Its per-degree weights ``W_l [c_in, c_out]`` are the linear interpolation of
``n_anchors`` anchor matrices at evenly spaced degrees ``0 … L_i − 1``, so a layer has
``n_anchors·c_in·c_out`` weights and ``c_out`` biases whatever its bandlimits; ``n_anchors`` may be at most
the smallest ``L_i`` (more anchors than degrees would be redundant).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from eqaug.models.specs.common import (
    ClassifierHead,
    HourglassLayers,
    PyramidLayers,
    SpecFields,
    V,
    check_common,
)

__all__ = ["ZonalSegSpec", "ZonalClsSpec", "zonal_conv_params"]


def zonal_conv_params(c_in: int, c_out: int, n_anchors: int) -> int:
    """Parameters of one zonal layer: ``n_anchors`` anchor matrices ``[c_in, c_out]`` and ``c_out`` biases."""
    return n_anchors * c_in * c_out + c_out


def _check_zonal(spec: _ZonalFields) -> None:
    check_common(spec)
    V.int_list("bandlimits", spec.bandlimits, 1)
    V.same_length("features", spec.features, bandlimits=spec.bandlimits)
    for i, b in enumerate(spec.bandlimits):
        if b > spec.bandwidth:
            raise ValueError(
                f"model.bandlimits[{i}]={b} is above the input bandwidth {spec.bandwidth}; "
                f"bandlimits must lie in 1..{spec.bandwidth}"
            )
    V.int_at_least("n_anchors", spec.n_anchors, 1)
    degrees = spec.layer_degrees()
    i = degrees.index(min(degrees))
    if spec.n_anchors > degrees[i]:
        raise ValueError(
            f"model.n_anchors={spec.n_anchors} is not allowed; layer {i} filters only the {degrees[i]} degree(s) "
            f"l < min(b_in, b_out) = {degrees[i]} (bandlimits {list(spec.layer_bandwidths()[i])}), so n_anchors "
            f"must be at most {degrees[i]} (the smallest number of degrees of any layer)"
        )


@dataclass
class _ZonalFields(SpecFields):
    """Fields shared by the two zonal specs (documented on each)."""

    family: str = "zonal_seg"
    name: str = "zonal_seg"
    bandlimits: list[int] = field(default_factory=list)
    n_anchors: int = 4

    def check_fields(self) -> None:
        """The checks shared by the two zonal specs (sizes, anchors)."""
        _check_zonal(self)

    def layer_degrees(self) -> list[int]:
        """Number of degrees ``L = min(b_in, b_out)`` each layer filters."""
        return [min(b_in, b_out) for b_in, b_out in self.layer_bandwidths()]

    def conv_params(self) -> int:
        """Parameters of the zonal layers."""
        return sum(zonal_conv_params(c_in, c_out, self.n_anchors) for c_in, c_out in self.layer_channels())


@dataclass
class ZonalSegSpec(_ZonalFields, HourglassLayers):
    """Zonal spherical CNN segmenter (Esteves et al. 2018): S² → S² zonal convolutions, ReLU on the grid.

    Attributes
    ----------
    family : ``"zonal_seg"``.
    name : a label.
    bandwidth : input ``b`` (input ``[in_channels, 2b, 2b]``); also the output's bandwidth.
    in_channels : input channels.
    n_classes : output channels of the final layer (per-pixel logits on the ``2b`` grid).
    features : output channels of the hidden layers ``0 … n−1``.
    bandlimits : output bandlimits of the hidden layers; they must first (weakly) decrease (spectral
        pooling: truncation) and then (weakly) increase (up-sampling: zero-filled degrees), each in
        ``1 … bandwidth``. A final layer ``features[-1] → n_classes`` returns to ``bandwidth``
        (``len(features) + 1`` layers; ReLU after all but the last).
    n_anchors : anchor matrices per layer of the spectrally smooth filters (see the module docstring);
        at most ``min(b_in, b_out)`` of every layer.
    """

    def n_params(self) -> int:
        """Number of trainable parameters (``n_anchors·c_in·c_out + c_out`` per layer)."""
        return self.conv_params()


@dataclass
class ZonalClsSpec(ClassifierHead, _ZonalFields, PyramidLayers):
    """Zonal spherical CNN classifier: zonal layers (ReLU after each), weighted global average pooling (the
    quadrature of the S² grid, so the pooled features are rotation invariant), fully connected head.

    Attributes
    ----------
    family : ``"zonal_cls"``.
    name, bandwidth, in_channels, n_anchors : as in :class:`ZonalSegSpec`.
    n_classes : number of classes.
    features, bandlimits : output channels / bandlimits of every layer; bandlimits must not increase.
    fc_features : hidden widths of the head ``[Linear → BatchNorm1d → ReLU] × … → Linear``.
    """

    family: str = "zonal_cls"
    name: str = "zonal_cls"

    def n_params(self) -> int:
        """Number of trainable parameters (zonal layers + fully connected head with batch norm)."""
        return self.conv_params() + self.head_params(self.features[-1])
