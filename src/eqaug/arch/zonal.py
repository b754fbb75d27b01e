"""Random zonal spherical CNN architectures (Esteves et al. 2018), in the style of the S2CNN generator.

Neither Esteves et al. nor Gerken et al. give a generator for this family; this one follows
:mod:`eqaug.arch.s2cnn` step by step so the spherical families are drawn alike (``b`` the input bandwidth,
``L`` the depth):

1. depth ``L`` uniform in ``1 … max_depth(budget_max)``;
2. bottleneck bandlimit ``b_L`` uniform in ``3 … min(20, b − L)``; down bandlimits
   ``b_i = ⌊b + (b_L − b)·i/L⌋`` (:func:`eqaug.arch.s2cnn.s2cnn_bandlimits`); the segmenter's up path
   mirrors them and its class layer returns to ``b``;
3. maximum channel number ``c_max`` uniform in ``16 … 192`` (a zonal layer has ``n_anchors·c_in·c_out``
   weights, far fewer per channel pair than an S2CNN layer's 192-point SO(3) kernel, so the channels are
   wider for the same budget); channels linearly interpolated from 16 to ``c_max``
   (:func:`eqaug.arch.s2cnn.s2cnn_channels`) and mirrored on the up path;
4. anchors per filter ``n_anchors`` uniform in ``2 … min(6, b_L)`` (at most the degrees of the
   bottleneck layer, which filters the fewest).

Classification: the down path, then quadrature-weighted global average pooling and the head of
:func:`eqaug.arch.cnn.cnn_fc_features`.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from eqaug.arch.cnn import cnn_fc_features
from eqaug.arch.s2cnn import draw_spherical, spherical_layers
from eqaug.models.specs import ZonalClsSpec, ZonalSegSpec

__all__ = ["MIN_CHANNELS", "MAX_CHANNELS", "MAX_ANCHORS", "zonal_spec_from_choices", "draw_zonal"]

#: channel number at the output end of the interpolation and the range of the bottleneck maximum
MIN_CHANNELS = 16
MAX_CHANNELS = (16, 192)
#: largest number of anchors drawn (at least 2)
MAX_ANCHORS = 6


def zonal_spec_from_choices(
    task: str, bandwidth: int, n_classes: int, choices: Mapping[str, Any], name: str = "zonal"
) -> ZonalSegSpec | ZonalClsSpec:
    """The architecture determined by the random ``choices`` (``depth``, ``bottleneck_bandlimit``,
    ``max_channels``, ``n_anchors``: the record of :func:`draw_zonal`)."""
    layers = spherical_layers(task, bandwidth, choices, MIN_CHANNELS)
    common = dict(name=name, bandwidth=bandwidth, n_classes=n_classes, n_anchors=choices["n_anchors"], **layers)
    if task == "seg":
        return ZonalSegSpec(**common)
    return ZonalClsSpec(fc_features=cnn_fc_features(layers["features"][-1], n_classes), **common)


def _draw_anchors(rng: random.Random, task: str, bandwidth: int, choices: dict[str, Any]) -> None:
    choices["n_anchors"] = rng.randint(2, min(MAX_ANCHORS, choices["bottleneck_bandlimit"]))


def draw_zonal(
    rng: random.Random, task: str, bandwidth: int, n_classes: int, depth_max: int, name: str = "zonal"
) -> tuple[ZonalSegSpec | ZonalClsSpec | None, dict[str, Any]]:
    """One random zonal CNN (not yet checked against a budget); ``(None, choices)`` if the draw is impossible."""
    return draw_spherical(
        rng, task, bandwidth, n_classes, depth_max, name, MAX_CHANNELS, _draw_anchors, zonal_spec_from_choices
    )
