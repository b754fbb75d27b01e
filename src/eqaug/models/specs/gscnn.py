"""Specs of the generalized spherical CNNs (Cobb et al. 2021; conventions in :mod:`eqaug.models.specs`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from eqaug.models.specs.common import ClassifierHead, SpecFields, V, check_common
from eqaug.models.specs.s2cnn import s2_grid_size
from eqaug.validate import is_number

__all__ = ["GSCNN_MIXING", "GSCNN_NORMS", "GSCNNSegSpec", "GSCNNClsSpec"]

# --------------------------------------------------------------------------- GSCNN (Cobb et al. 2021)
GSCNN_MIXING = ("full", "mst", "rmst")
GSCNN_NORMS = ("batch", "layer", "none")


def _check_gscnn_common(spec: _GSCNNFields, min_layers: int) -> None:
    check_common(spec, min_layers)
    V.int_list("bandlimits", spec.bandlimits, 1, min_len=min_layers)
    V.same_length("features", spec.features, bandlimits=spec.bandlimits)
    V.int_at_least("tau", spec.tau, 1)
    if spec.mixing not in GSCNN_MIXING:
        raise ValueError(
            f"model.mixing={spec.mixing!r} is not allowed; choose one of {', '.join(map(repr, GSCNN_MIXING))}"
        )
    if spec.norm not in GSCNN_NORMS:
        raise ValueError(f"model.norm={spec.norm!r} is not allowed; choose one of {', '.join(map(repr, GSCNN_NORMS))}")
    if not (is_number(spec.rmst_base) and spec.rmst_base > 1):
        raise ValueError(f"model.rmst_base={spec.rmst_base!r} is not allowed; it must be a number > 1")
    if spec.hybrid:
        V.int_at_least("hybrid_features", spec.hybrid_features, 1)
        V.int_at_least("kernel_n_alpha", spec.kernel_n_alpha, 1)
        V.int_at_least("kernel_n_beta", spec.kernel_n_beta, 1)
        if spec.hybrid_bandlimit is not None:
            V.int_at_least("hybrid_bandlimit", spec.hybrid_bandlimit, 1)
            if spec.hybrid_bandlimit > 2 * spec.bandwidth:
                raise ValueError(
                    f"model.hybrid_bandlimit={spec.hybrid_bandlimit} is not allowed; it must be at most "
                    f"2·bandwidth = {2 * spec.bandwidth}"
                )
        if not (is_number(spec.hybrid_max_beta) and 0 < spec.hybrid_max_beta <= 1):
            raise ValueError(
                f"model.hybrid_max_beta={spec.hybrid_max_beta!r} is not allowed; it must lie in (0, 1] (units of π)"
            )
    if spec.input_bandlimit is not None:
        V.int_at_least("input_bandlimit", spec.input_bandlimit, 1)
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


def _gscnn_body_params(spec: _GSCNNFields, c_last: int | None, tau_last: int | None, L_last: int | None) -> int:
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
class _GSCNNFields(SpecFields):
    """Fields and helpers shared by the two generalized spherical CNN specs (documented on each)."""

    family: str = "gscnn_seg"
    name: str = "gscnn_seg"
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

    def check_fields(self) -> None:
        """The checks shared by the two GSCNN specs."""
        _check_gscnn_common(self, min_layers=1)

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

    def check_fields(self) -> None:
        """The shared checks, then the output bandlimit."""
        super().check_fields()
        if self.output_bandlimit is not None:
            V.int_at_least("output_bandlimit", self.output_bandlimit, 1)
            top = min(self.bandwidth, 2 * self.bandlimits[-1] - 1)
            if self.output_bandlimit > top:
                raise ValueError(
                    f"model.output_bandlimit={self.output_bandlimit} is not allowed; it must be at most "
                    f"min(bandwidth, 2·bandlimits[-1] − 1) = {top}"
                )

    def n_params(self) -> int:
        """Number of trainable parameters (hybrid block, generalized layers, final class layer)."""
        return _gscnn_body_params(self, self.n_classes, 1, self.last_bandlimit())


@dataclass
class GSCNNClsSpec(ClassifierHead, _GSCNNFields):
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

    def n_params(self) -> int:
        """Number of trainable parameters (generalized layers + fully connected head with batch norm)."""
        body = _gscnn_body_params(self, None, None, None)
        return body + self.head_params(self.features[-1] * self.tau)
