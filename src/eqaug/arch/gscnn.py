"""Random GSCNN architectures, in the style of the S2CNN generator (Gerken et al. 2022, App. B.2).

Gerken et al. have no GSCNN generator; this one follows :mod:`eqaug.arch.s2cnn` step by step so the two
equivariant families are drawn alike (``b`` the input bandwidth, ``L`` the depth):

1. depth ``L`` uniform in ``1 … max_depth(budget_max)``;
2. bottleneck bandlimit ``b_L`` uniform in ``3 … min(20, b − L)``; down bandlimits
   ``b_i = ⌊b + (b_L − b)·i/L⌋`` (:func:`eqaug.arch.s2cnn.s2cnn_bandlimits`); the segmenter's up path
   mirrors them and its class layer outputs ``min(b, 2·b_1 − 1)``;
3. maximum channel number ``c_max`` uniform in ``16 … 64``; channels linearly interpolated from 16 to
   ``c_max`` (:func:`eqaug.arch.s2cnn.s2cnn_channels`) and mirrored on the up path;
4. fragments per degree ``tau`` uniform in ``{1, 2}``; mixing set ``rmst``, batch norm, no hybrid layer
   (the named configs' choices).

A draw whose up path rises faster than a generalized layer allows (``L_out ≤ 2 L_in − 1``, e.g. from a very
low bottleneck) is impossible and counts as a rejected attempt.  Classification: the down path, then a final
invariant layer (bandlimit 1, ``c_max`` channels) and the head of :func:`eqaug.arch.cnn.cnn_fc_features`.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from eqaug.arch.cnn import cnn_fc_features
from eqaug.arch.s2cnn import draw_spherical, spherical_layers
from eqaug.models.specs import GSCNNClsSpec, GSCNNSegSpec

__all__ = ["MIN_CHANNELS", "MAX_CHANNELS", "TAUS", "gscnn_spec_from_choices", "draw_gscnn"]

#: channel number at the output end of the interpolation and the range of the bottleneck maximum
MIN_CHANNELS = 16
MAX_CHANNELS = (16, 64)
#: fragments per degree drawn
TAUS = (1, 2)


def gscnn_spec_from_choices(
    task: str, bandwidth: int, n_classes: int, choices: Mapping[str, Any], name: str = "gscnn"
) -> GSCNNSegSpec | GSCNNClsSpec:
    """The architecture determined by the random ``choices`` (``depth``, ``bottleneck_bandlimit``,
    ``max_channels``, ``tau``: the record of :func:`draw_gscnn`)."""
    layers = spherical_layers(task, bandwidth, choices, MIN_CHANNELS)
    tau, c_max = choices["tau"], choices["max_channels"]
    common = dict(name=name, bandwidth=bandwidth, n_classes=n_classes, tau=tau, mixing="rmst", hybrid=False)
    if task == "seg":
        return GSCNNSegSpec(**layers, **common)
    return GSCNNClsSpec(
        features=[*layers["features"], c_max],
        bandlimits=[*layers["bandlimits"], 1],
        fc_features=cnn_fc_features(c_max * tau, n_classes),
        **common,
    )


def _draw_tau(rng: random.Random, task: str, bandwidth: int, choices: dict[str, Any]) -> None:
    choices["tau"] = rng.choice(TAUS)


def _gscnn_or_none(
    task: str, bandwidth: int, n_classes: int, choices: Mapping[str, Any], name: str
) -> GSCNNSegSpec | GSCNNClsSpec | None:
    """:func:`gscnn_spec_from_choices`, or ``None`` where the up path rises faster than a layer allows."""
    try:
        return gscnn_spec_from_choices(task, bandwidth, n_classes, choices, name=name)
    except ValueError:
        return None


def draw_gscnn(
    rng: random.Random, task: str, bandwidth: int, n_classes: int, depth_max: int, name: str = "gscnn"
) -> tuple[GSCNNSegSpec | GSCNNClsSpec | None, dict[str, Any]]:
    """One random GSCNN (not yet checked against a budget); ``(None, choices)`` if the draw is impossible."""
    return draw_spherical(rng, task, bandwidth, n_classes, depth_max, name, MAX_CHANNELS, _draw_tau, _gscnn_or_none)
