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
from typing import Any

from eqaug.arch.cnn import cnn_fc_features
from eqaug.arch.s2cnn import draw_depth_and_bottleneck, s2cnn_bandlimits, s2cnn_channels
from eqaug.models.specs import GSCNNClsSpec, GSCNNSegSpec

__all__ = ["MIN_CHANNELS", "MAX_CHANNELS", "TAUS", "gscnn_spec_from_choices", "draw_gscnn"]

#: channel number at the output end of the interpolation and the range of the bottleneck maximum
MIN_CHANNELS = 16
MAX_CHANNELS = (16, 64)
#: fragments per degree drawn
TAUS = (1, 2)


def gscnn_spec_from_choices(
    task: str,
    bandwidth: int,
    n_classes: int,
    depth: int,
    bottleneck: int,
    max_channels: int,
    tau: int,
    name: str = "gscnn",
) -> GSCNNSegSpec | GSCNNClsSpec:
    """The architecture determined by the random choices (deterministic part of the generator)."""
    bl = s2cnn_bandlimits(bandwidth, bottleneck, depth)
    ch = s2cnn_channels(max_channels, depth, MIN_CHANNELS)
    common = dict(name=name, bandwidth=bandwidth, n_classes=n_classes, tau=tau, mixing="rmst", hybrid=False)
    if task == "seg":
        return GSCNNSegSpec(features=ch + ch[-2::-1], bandlimits=bl + bl[-2::-1], **common)
    if task == "cls":
        return GSCNNClsSpec(
            features=[*ch, max_channels],
            bandlimits=[*bl, 1],
            fc_features=cnn_fc_features(max_channels * tau, n_classes),
            **common,
        )
    raise ValueError(f"task={task!r} is not allowed; choose 'seg' or 'cls'")


def draw_gscnn(
    rng: random.Random, task: str, bandwidth: int, n_classes: int, depth_max: int, name: str = "gscnn"
) -> tuple[GSCNNSegSpec | GSCNNClsSpec | None, dict[str, Any]]:
    """One random GSCNN (not yet checked against a budget); ``(None, choices)`` if the draw is impossible."""
    depth, bottleneck, max_channels = draw_depth_and_bottleneck(rng, bandwidth, depth_max, MAX_CHANNELS)
    if bottleneck is None:
        return None, {"depth": depth}
    tau = rng.choice(TAUS)
    choices = {"depth": depth, "bottleneck_bandlimit": bottleneck, "max_channels": max_channels, "tau": tau}
    try:
        spec = gscnn_spec_from_choices(task, bandwidth, n_classes, depth, bottleneck, max_channels, tau, name=name)
    except ValueError:
        return None, choices
    return spec, choices
