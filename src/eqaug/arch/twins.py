"""Reduced-bandwidth twins of a spec (the ``_small`` configs: smaller input, comparable size).

* CNN: the same features, kernels and strides at the new bandwidth; a kernel larger than the
  image entering its layer is replaced by the largest odd kernel that fits (so the parameter
  count can drop; the named ``_small`` configs record whether this happened). With ``pole_padding``
  (the sphere-aware CNN) every odd kernel fits, so the twin is the same network at the new bandwidth.
* S2CNN: bandlimits scaled by ``b_new/b_old`` and rounded half up, then made strictly decreasing
  (down path) / strictly increasing (up path) and ``≥ 2``; ``beta_ref`` is kept, so
  ``max_beta = beta_ref·π·b_new/b_in(layer)`` is recomputed. Explicit ``max_betas`` are dropped.
  Channels (and so the parameter count) are unchanged.
* Zonal: bandlimits scaled as for the S2CNN; channels, anchors and head (so the parameter count) unchanged.
* GSCNN: every bandlimit (``bandlimits``, and ``input_bandlimit``, ``output_bandlimit``, ``hybrid_bandlimit``
  when set) scaled by ``b_new/b_old`` and rounded half up, at least 1 (a classifier's final ``1`` stays 1).
  The weights are per degree, so the count would drop with the bandlimits; the channels are widened by
  ``f = sqrt(P_full / P_same_channels)`` rounded to 0.1 so that the twin stays comparable in size
  (``widen=False`` keeps the channels: the bandwidth-scaling benchmark, :mod:`eqaug.bench.scaling`).
"""

from __future__ import annotations

import dataclasses
import math

from eqaug.arch.common import round_half_up
from eqaug.models.specs import (
    CNNClsSpec,
    CNNSegSpec,
    GSCNNClsSpec,
    GSCNNSegSpec,
    ModelSpec,
    S2CNNClsSpec,
    S2CNNSegSpec,
    ZonalClsSpec,
    ZonalSegSpec,
    cnn_sizes,
)

__all__ = ["small_twin", "scale_bandlimits"]


def scale_bandlimits(bandlimits: list[int], b_old: int, b_new: int) -> list[int]:
    """Scale a valley-shaped bandlimit list to a new input bandwidth (see the module docstring)."""
    scaled = [max(2, round_half_up(b * b_new / b_old)) for b in bandlimits]
    k = bandlimits.index(min(bandlimits))
    out: list[int] = []
    prev = b_new
    for b in scaled[: k + 1]:  # down path: strictly below the previous
        b = min(b, prev - 1)
        out.append(b)
        prev = b
    for b in scaled[k + 1 :]:  # up path: strictly above the previous, at most b_new
        b = min(max(b, prev + 1), b_new)
        out.append(b)
        prev = b
    if min(out) < 2 or any(out[i] == out[i + 1] for i in range(len(out) - 1)):
        raise ValueError(
            f"bandlimits {bandlimits} cannot be scaled to bandwidth {b_new} keeping them strictly monotone and >= 2 (got {out})"
        )
    return out


def _fit_kernels(spec: CNNSegSpec | CNNClsSpec, bandwidth: int) -> list[int]:
    kernels = list(spec.kernel_sizes)
    if spec.pole_padding:  # both axes padded: every kernel fits
        return kernels
    for i in range(len(kernels)):
        h, w = cnn_sizes(bandwidth, kernels, spec.strides, spec.circular_padding)[i]
        limit = h if spec.circular_padding else min(h, w)
        if kernels[i] > limit:
            kernels[i] = limit if limit % 2 else limit - 1
    return kernels


def _n_params(spec: ModelSpec) -> int:
    from eqaug.models.registry import build_from_spec

    return sum(p.numel() for p in build_from_spec(spec).parameters())


def small_twin(spec: ModelSpec, bandwidth: int = 16, name: str | None = None, widen: bool = True) -> ModelSpec:
    """The twin of ``spec`` at input bandwidth ``bandwidth`` (default name ``<name>_small``).

    ``widen=False`` keeps a GSCNN's channels (no widening to the full model's parameter count).
    """
    name = f"{spec.name}_small" if name is None else name
    if isinstance(spec, (CNNSegSpec, CNNClsSpec)):
        return dataclasses.replace(spec, name=name, bandwidth=bandwidth, kernel_sizes=_fit_kernels(spec, bandwidth))
    if isinstance(spec, (S2CNNSegSpec, S2CNNClsSpec)):
        bl = scale_bandlimits(list(spec.bandlimits), spec.bandwidth, bandwidth)
        return dataclasses.replace(spec, name=name, bandwidth=bandwidth, bandlimits=bl, max_betas=None)
    if isinstance(spec, (ZonalSegSpec, ZonalClsSpec)):
        bl = scale_bandlimits(list(spec.bandlimits), spec.bandwidth, bandwidth)
        return dataclasses.replace(spec, name=name, bandwidth=bandwidth, bandlimits=bl)
    if isinstance(spec, (GSCNNSegSpec, GSCNNClsSpec)):

        def scale(b: int | None) -> int | None:
            return None if b is None else max(1, round_half_up(b * bandwidth / spec.bandwidth))

        extra = {"output_bandlimit": scale(spec.output_bandlimit)} if isinstance(spec, GSCNNSegSpec) else {}
        narrow = dataclasses.replace(
            spec,
            name=name,
            bandwidth=bandwidth,
            bandlimits=[scale(b) for b in spec.bandlimits],
            input_bandlimit=scale(spec.input_bandlimit),
            hybrid_bandlimit=scale(spec.hybrid_bandlimit),
            **extra,
        )
        if not widen:
            return narrow
        # the weights are per degree, so fewer degrees mean fewer parameters; widen every generalized layer by
        # f = sqrt(P_full / P_narrow) rounded to 0.1 (the count is about quadratic in the channels) so that the
        # twin stays comparable in size to the full model, as the S2CNN and CNN twins are
        factor = round(math.sqrt(_n_params(spec) / _n_params(narrow)), 1)
        return dataclasses.replace(narrow, features=[max(1, round_half_up(c * factor)) for c in spec.features])
    raise TypeError(f"no small twin for {type(spec).__name__}")
