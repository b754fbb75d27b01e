r"""One efficient generalized layer ``A = (L_1, N, L_2)`` of Cobb et al. (2021).

``L_1`` is the normalisation (:class:`~eqaug.models.gscnn.convolution.EquivariantBatchNorm`, or the identity
with ``norm="none"``), ``N`` the channel-wise tensor-product activation
(:class:`~eqaug.models.gscnn.activation.TensorProductActivation`) and ``L_2`` the constrained generalized
convolution (:class:`~eqaug.models.gscnn.convolution.ConstrainedConvolution`).  On internal signals
``[D_in, B, C_in] → [D_out, B, C_out]``; input type ``in_type`` (bandlimit ``len(in_type)``), output type
``(τ_out,)·L_out``.  Every part is exactly equivariant, hence the layer is.
"""

from __future__ import annotations

import torch
from torch import nn

from eqaug.models.gscnn.activation import TensorProductActivation
from eqaug.models.gscnn.convolution import ConstrainedConvolution, EquivariantBatchNorm, EquivariantLayerNorm
from eqaug.models.gscnn.counting import activation_out_type, generalized_layer_params
from eqaug.models.gscnn.signals import GType

__all__ = ["GeneralizedLayer", "NORMS", "activation_out_type", "generalized_layer_params"]

NORMS = ("batch", "layer", "none")


class GeneralizedLayer(nn.Module):
    """Normalisation → tensor-product activation → constrained convolution.

    Parameters
    ----------
    c_in, c_out : channels.
    in_type : input type.
    L_out : output bandlimit (may exceed ``len(in_type)``, up to ``2 len(in_type) − 1``: products raise degrees).
    tau_out : output fragments per degree.
    mixing, include_input, self_loops, rmst_base : options of the activation.
    norm : ``"batch"``, ``"layer"`` (per sample; no train/eval difference) or ``"none"``.
    bias : ``l = 0`` bias of the cross-channel convolution.
    """

    def __init__(
        self,
        c_in: int,
        c_out: int,
        in_type: GType,
        L_out: int,
        tau_out: int,
        mixing: str = "rmst",
        include_input: bool = True,
        self_loops: bool = True,
        rmst_base: float = 2.0,
        norm: str = "batch",
        bias: bool = True,
    ) -> None:
        super().__init__()
        if norm not in NORMS:
            raise ValueError(f"norm={norm!r} is not allowed; choose one of {', '.join(map(repr, NORMS))}")
        if norm == "batch":
            self.norm = EquivariantBatchNorm(c_in, in_type)
        elif norm == "layer":
            self.norm = EquivariantLayerNorm(c_in, in_type)
        else:
            self.norm = nn.Identity()
        self.activation = TensorProductActivation(in_type, L_out, mixing, include_input, self_loops, rmst_base)
        self.conv = ConstrainedConvolution(c_in, c_out, self.activation.out_type, tau_out, bias)
        self.in_type, self.out_type = tuple(in_type), self.conv.out_type

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.activation(self.norm(x)))
