r"""GSCNN segmenter and classifier (Cobb et al. 2021) built from :class:`~eqaug.models.gscnn.layers.GeneralizedLayer`.

Data flow (internal signals ``[D, B, C]``, :mod:`~eqaug.models.gscnn.signals`):

* input ``[B, in_channels, 2b, 2b]`` → S² FFT to ``L_0`` (type ``τ_l = 1``); or, with ``hybrid``, an
  ``S2Convolution`` (``b → hybrid_bandlimit``) + ReLU on the SO(3) grid → SO(3) FFT to ``L_0`` (type
  ``τ_l = 2l+1``) → :class:`~eqaug.models.gscnn.convolution.ConstrainedConvolution` to ``tau`` fragments
  (``hybrid_features`` channels).  The hybrid ReLU is the only non-equivariant step (grid aliasing);
* harmonic coefficients are used in *unit* scaling ``φ^l = \sqrt{2l+1}\, \hat f^l`` so that
  ``Σ_l ‖φ^l‖² = ∫|f|²`` (every degree carries its share of the signal's power);
* generalized layers (``features``, ``bandlimits``, ``tau``);
* segmenter: a final generalized layer to ``n_classes`` channels of type ``τ_l = 1`` at ``output_bandlimit``,
  back to ``\hat f^l = φ^l / \sqrt{(2l+1) L_{out}}`` (the ``1/\sqrt{L_{out}}`` keeps the grid logits at unit scale
  for unit fragments) and the inverse S² FFT at the input bandwidth — the reality condition holds by
  construction (real type), so the synthesis is real; logits ``[B, n_classes, 2b, 2b]``;
* classifier: the ``l = 0`` fragments of the last layer (rotation invariants, ``features[-1]·tau`` numbers)
  → :class:`~eqaug.models.head.FCHead`.

Without ``hybrid`` the models are exactly equivariant (segmenter) / invariant (classifier) for band-limited
inputs, up to float round-off.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from eqaug.models.gscnn.convolution import ConstrainedConvolution
from eqaug.models.gscnn.layers import GeneralizedLayer
from eqaug.models.gscnn.signals import degree_index, internal_to_s2, s2_to_internal, so3_to_internal, so3_type
from eqaug.models.head import FCHead
from eqaug.models.specs import GSCNNClsSpec, GSCNNSegSpec
from s2cnn import S2Convolution
from s2cnn.grids import s2_near_identity_grid

__all__ = ["GSCNNSegmenter", "GSCNNClassifier", "GSCNNBody"]


def _unit_scale(gtype: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """``\\sqrt{2l+1}`` per internal row."""
    ls = degree_index(gtype, device).to(dtype)
    return torch.sqrt(2 * ls + 1)


class GSCNNBody(nn.Module):
    """Input conversion (optionally hybrid) and the hidden generalized layers; returns internal ``[D, B, C]``."""

    def __init__(self, spec: GSCNNSegSpec | GSCNNClsSpec) -> None:
        super().__init__()
        self.spec = spec
        L0 = spec.first_bandlimit()
        self.L0 = L0
        opts = dict(
            mixing=spec.mixing,
            include_input=spec.include_input,
            self_loops=spec.self_loops,
            rmst_base=spec.rmst_base,
            norm=spec.norm,
        )
        self.opts = opts
        if spec.hybrid:
            c = spec.hybrid_features
            grid = s2_near_identity_grid(
                max_beta=spec.hybrid_max_beta * math.pi, n_alpha=spec.kernel_n_alpha, n_beta=spec.kernel_n_beta
            )
            self.hybrid = S2Convolution(spec.in_channels, c, spec.bandwidth, spec.source_bandlimit(), grid)
            self.project = ConstrainedConvolution(c, c, so3_type(L0), spec.tau)
            in_type = self.project.out_type
        else:
            self.hybrid, self.project = None, None
            c, in_type = spec.in_channels, (1,) * L0
        layers = []
        for c_out, L_out in zip(spec.features, spec.bandlimits):
            layer = GeneralizedLayer(c, c_out, in_type, L_out, spec.tau, **opts)
            layers.append(layer)
            c, in_type = c_out, layer.out_type
        self.layers = nn.ModuleList(layers)
        self.out_channels, self.out_type = c, in_type

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.hybrid is not None:
            h = F.relu(self.hybrid(x))
            r, t = so3_to_internal(h, self.L0)
            r = self.project(r * _unit_scale(t, r.dtype, r.device)[:, None, None])
        else:
            r = s2_to_internal(x, self.L0)
            r = r * _unit_scale((1,) * self.L0, r.dtype, r.device)[:, None, None]
        for layer in self.layers:
            r = layer(r)
        return r


class GSCNNSegmenter(nn.Module):
    """Rotation-equivariant generalized spherical CNN segmenter: ``[B, C_in, 2b, 2b] → [B, n_classes, 2b, 2b]``."""

    def __init__(self, spec: GSCNNSegSpec) -> None:
        super().__init__()
        self.spec = spec.validate()
        self.body = GSCNNBody(spec)
        self.L_out = spec.last_bandlimit()
        self.last = GeneralizedLayer(
            self.body.out_channels, spec.n_classes, self.body.out_type, self.L_out, 1, **self.body.opts
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        r = self.last(self.body(x))  # [L_out², B, n_classes], unit scaling
        r = r / (_unit_scale((1,) * self.L_out, r.dtype, r.device) * math.sqrt(self.L_out))[:, None, None]
        return internal_to_s2(r, self.spec.bandwidth)


class GSCNNClassifier(nn.Module):
    """Rotation-invariant generalized spherical CNN classifier: ``[B, C_in, 2b, 2b] → [B, n_classes]`` logits."""

    def __init__(self, spec: GSCNNClsSpec) -> None:
        super().__init__()
        self.spec = spec.validate()
        self.body = GSCNNBody(spec)
        tau0 = self.body.out_type[0]
        self.head = FCHead(self.body.out_channels * tau0, list(spec.fc_features), spec.n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        r = self.body(x)
        tau0 = self.body.out_type[0]
        inv = r[:tau0].permute(1, 2, 0).reshape(r.shape[1], -1)  # l = 0 rows: [B, C·τ]
        return self.head(inv)
