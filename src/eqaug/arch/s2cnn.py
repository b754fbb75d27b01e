"""Random S2CNN architectures (Gerken et al. 2022, App. B.2).

Procedure (``b`` is the input bandwidth, ``L`` the depth = number of down-sampling layers):

1. depth ``L`` uniform in ``1 … max_depth(budget_max)`` (as for the CNNs);
2. bottleneck bandlimit ``b_L`` uniform in ``3 … min(20, b − L)`` (the upper bound ``b − L`` keeps
   the rounded bandlimits strictly decreasing; an empty range counts as a rejected attempt);
3. down bandlimits linearly interpolated and rounded down,
   ``b_i = ⌊b + (b_L − b)·i/L⌋`` for ``i = 1 … L``; the up path mirrors them back to ``b``;
4. maximum (bottleneck) channel number ``c_max`` uniform in ``11 … 30``; down channels
   ``c_i = ⌊11 + (c_max − 11)(i − 1)/(L − 1)⌉`` (linear from 11, the output channel number, to
   ``c_max``; ``c_1 = c_max`` if ``L = 1``); the up path mirrors them, the last layer outputs
   ``n_classes``;
5. ``beta_ref`` (units of π; its range was lost in extraction) uniform in ``[0.05, 0.2]``, capped at
   ``min_i b_in(i)/b`` so that every ``max_beta = beta_ref·π·b/b_in(i)`` stays ≤ π, rounded down to
   four digits. The published 204k model's ``beta_ref = 0.1238`` lies in this range.

With ``L = 4, b_L = 20, c_max = 14, beta_ref = 0.1238`` at ``b = 50`` this reproduces the published
204k segmenter exactly (bandlimits 42 35 27 20 27 35 42, channels 11 12 13 14 13 12 11).

Classification variant: the down path only, ``so3_integrate`` and a head with hidden widths
geometrically interpolated from ``c_L`` to ``n_classes`` (as for the CNNs).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from typing import Any

from eqaug.arch.cnn import cnn_fc_features
from eqaug.arch.common import round_half_up
from eqaug.models.specs import ModelSpec, S2CNNClsSpec, S2CNNSegSpec

__all__ = [
    "BETA_REF_RANGE",
    "MIN_CHANNELS",
    "MAX_CHANNELS",
    "s2cnn_bandlimits",
    "s2cnn_channels",
    "spherical_layers",
    "s2cnn_spec_from_choices",
    "draw_spherical",
    "draw_s2cnn",
]

#: range of ``beta_ref`` (units of π) drawn by the generator
BETA_REF_RANGE = (0.05, 0.2)
#: channel number at the output end of the interpolation and the range of the bottleneck maximum
MIN_CHANNELS = 11
MAX_CHANNELS = (11, 30)
#: range of the bottleneck bandlimit
BOTTLENECK_BANDLIMIT = (3, 20)


def s2cnn_bandlimits(bandwidth: int, bottleneck: int, depth: int) -> list[int]:
    """Down-path bandlimits ``⌊b + (b_L − b)·i/L⌋``, ``i = 1 … L`` (exact integer arithmetic)."""
    return [(bandwidth * depth + (bottleneck - bandwidth) * i) // depth for i in range(1, depth + 1)]


def s2cnn_channels(max_channels: int, depth: int, min_channels: int = MIN_CHANNELS) -> list[int]:
    """Down-path channels linearly interpolated from ``min_channels`` to ``max_channels``."""
    if depth == 1:
        return [max_channels]
    return [round_half_up(min_channels + (max_channels - min_channels) * i / (depth - 1)) for i in range(depth)]


def spherical_layers(
    task: str, bandwidth: int, choices: Mapping[str, Any], min_channels: int = MIN_CHANNELS
) -> dict[str, list[int]]:
    """``features`` and ``bandlimits`` the choices shared by the spherical families give (steps 3–4):
    the segmenter's hourglass (down path mirrored back up) or the classifier's down path."""
    bl = s2cnn_bandlimits(bandwidth, choices["bottleneck_bandlimit"], choices["depth"])
    ch = s2cnn_channels(choices["max_channels"], choices["depth"], min_channels)
    if task == "seg":
        return {"features": ch + ch[-2::-1], "bandlimits": bl + bl[-2::-1]}
    if task == "cls":
        return {"features": ch, "bandlimits": bl}
    raise ValueError(f"task={task!r} is not allowed; choose 'seg' or 'cls'")


def s2cnn_spec_from_choices(
    task: str, bandwidth: int, n_classes: int, choices: Mapping[str, Any], name: str = "s2cnn"
) -> S2CNNSegSpec | S2CNNClsSpec:
    """The architecture determined by the random ``choices`` (``depth``, ``bottleneck_bandlimit``,
    ``max_channels``, ``beta_ref``: the record of :func:`draw_s2cnn`)."""
    layers = spherical_layers(task, bandwidth, choices)
    common = dict(name=name, bandwidth=bandwidth, n_classes=n_classes, beta_ref=choices["beta_ref"], **layers)
    if task == "seg":
        return S2CNNSegSpec(**common)
    return S2CNNClsSpec(fc_features=cnn_fc_features(layers["features"][-1], n_classes), **common)


def draw_spherical_choices(
    rng: random.Random, bandwidth: int, depth_max: int, max_channels: tuple[int, int]
) -> dict[str, Any]:
    """The draws shared by the spherical families, in this order: ``depth``, ``bottleneck_bandlimit``,
    ``max_channels``; ``{"depth": L}`` alone when no bottleneck fits below ``bandwidth - depth`` (an
    impossible draw)."""
    depth = rng.randint(1, depth_max)
    hi = min(BOTTLENECK_BANDLIMIT[1], bandwidth - depth)
    if hi < BOTTLENECK_BANDLIMIT[0]:
        return {"depth": depth}
    bottleneck = rng.randint(BOTTLENECK_BANDLIMIT[0], hi)
    return {"depth": depth, "bottleneck_bandlimit": bottleneck, "max_channels": rng.randint(*max_channels)}


def draw_spherical(
    rng: random.Random,
    task: str,
    bandwidth: int,
    n_classes: int,
    depth_max: int,
    name: str,
    max_channels: tuple[int, int],
    draw_more: Callable[[random.Random, str, int, dict[str, Any]], None],
    spec_from_choices: Callable[..., ModelSpec | None],
) -> tuple[ModelSpec | None, dict[str, Any]]:
    """One random spherical-family network: the shared choices (:func:`draw_spherical_choices`), then the
    family's own (``draw_more(rng, task, bandwidth, choices)`` adds them), then
    ``spec_from_choices(task, bandwidth, n_classes, choices, name=name)`` (``None``: impossible).
    ``(None, choices)`` if the draw is impossible."""
    choices = draw_spherical_choices(rng, bandwidth, depth_max, max_channels)
    if "bottleneck_bandlimit" not in choices:
        return None, choices
    draw_more(rng, task, bandwidth, choices)
    return spec_from_choices(task, bandwidth, n_classes, choices, name=name), choices


def _draw_beta_ref(rng: random.Random, task: str, bandwidth: int, choices: dict[str, Any]) -> None:
    bl = s2cnn_bandlimits(bandwidth, choices["bottleneck_bandlimit"], choices["depth"])
    layer_inputs = [bandwidth, *bl] if task == "seg" else [bandwidth, *bl[:-1]]
    cap = min(BETA_REF_RANGE[1], min(layer_inputs) / bandwidth)
    choices["beta_ref"] = math.floor(rng.uniform(BETA_REF_RANGE[0], cap) * 1e4) / 1e4


def draw_s2cnn(
    rng: random.Random, task: str, bandwidth: int, n_classes: int, depth_max: int, name: str = "s2cnn"
) -> tuple[S2CNNSegSpec | S2CNNClsSpec | None, dict[str, Any]]:
    """One random S2CNN (not yet checked against a budget); ``(None, choices)`` if the draw is impossible."""
    return draw_spherical(
        rng, task, bandwidth, n_classes, depth_max, name, MAX_CHANNELS, _draw_beta_ref, s2cnn_spec_from_choices
    )
