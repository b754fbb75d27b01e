r"""Zonal spherical CNN (Esteves et al. 2018, "Learning SO(3) equivariant representations with spherical CNNs").

Signals are S² grids ``[B, C, 2b (β), 2b (α)]`` only (no SO(3) signals); specs in
:mod:`eqaug.models.specs.zonal`.

The layer
---------
The spherical convolution of ``f`` with a *zonal* filter ``h`` (invariant under rotations about the
z axis, so ``h^l_m = 0`` for ``m ≠ 0``), ``(f ⋆ h)(x) = ∫_{SO(3)} f(R e_z) h(R^{-1} x) dR``, acts per degree
in the spectral domain: ``(f ⋆ h)^l_m = 2π √(4π/(2l+1)) · f^l_m · h^l_0`` — every order ``m`` of degree
``l`` is scaled by the same number ``ĥ_l``. With ``C_in`` input and ``C_out`` output channels the filter
bank is one matrix ``W_l [C_in, C_out]`` per degree, ``ĥ_l`` with the constant absorbed:

    ``(y_o)^l_m = Σ_i (x_i)^l_m · W_l[i, o]``.

Since ``W_l`` does not depend on ``m`` and a rotation ``R`` acts on degree ``l`` by the Wigner matrix
``D^l(R)`` (mixing the orders of one degree only), the map commutes with every rotation. It is applied in
the real basis of :func:`s2cnn.real_basis.real_basis` (per degree an orthogonal change of basis of the
``2l+1`` orders, which commutes with the per-degree scalar), by the layers' engine in
:mod:`s2cnn._real`: ``s2_analysis_real`` gives the real coefficients ``[L²·B, C]`` (rows ``(l, B, a)``),
the ``W_l`` are applied, and ``s2_synthesis_real`` returns to the output grid. The layer from bandwidth
``b_in`` to ``b_out`` keeps degrees ``l < L = min(b_in, b_out)``: a lower ``b_out`` is spectral pooling,
a higher one up-sampling with zero-filled degrees. A bias per output channel is added on the grid (it is
the ``l = 0`` coefficient, so still equivariant) and the ReLU is applied pointwise on the grid.

Spectral smoothness (localised filters): ``W_l`` is the piecewise linear interpolation over ``l`` of
``K = n_anchors`` learnable anchor matrices ``A_k`` at the evenly spaced degrees ``t_k = k(L−1)/(K−1)``,
``W_l = Σ_k λ_{lk} A_k`` with the hat weights ``λ_{lk}`` (``K = 1``: one matrix for every degree). So a
layer has ``K·C_in·C_out`` weights, independent of its bandlimits.

Exactness. The quadrature analysis and the synthesis are exact for band-limited signals, so the linear
layer is exactly equivariant to any rotation of a band-limited input (up to round-off); the ReLU makes
grid signals that are not band-limited, so the whole network is exactly equivariant only to the rotations
that permute every grid it uses (α-rolls common to all grids, the half-turn ``β → π − β``,
:func:`s2cnn.rotation.s2_grid_rotation_y_pi`), for which analysis and synthesis commute with the grid
permutation for any grid signal.

Initialisation: ``A_k ~ N(0, 2/C_in)`` (He), biases zero; analysis followed by synthesis is the identity
on band-limited signals, so a layer keeps the scale of its input (an interpolated ``W_l`` has between
half and all of the anchors' variance).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from eqaug.models.head import FCHead
from eqaug.models.specs import ZonalClsSpec, ZonalSegSpec
from s2cnn import s2_integrate
from s2cnn._real import s2_analysis_real, s2_synthesis_real

__all__ = ["anchor_weights", "ZonalConv", "ZonalSegmenter", "ZonalClassifier"]


def anchor_weights(n_degrees: int, n_anchors: int) -> torch.Tensor:
    """Hat (linear interpolation) weights ``λ [n_degrees, n_anchors]`` of ``n_anchors`` anchors at the evenly
    spaced degrees ``t_k = k(L−1)/(K−1)`` (``L = n_degrees``, ``K = n_anchors``); each row sums to 1."""
    if not 1 <= n_anchors <= n_degrees:
        raise ValueError(f"n_anchors={n_anchors} must lie in 1..{n_degrees} (the number of degrees)")
    lam = torch.zeros(n_degrees, n_anchors, dtype=torch.float64)
    if n_anchors == 1:
        lam[:, 0] = 1.0
        return lam
    span, gaps = n_degrees - 1, n_anchors - 1  # l lies at u = l·gaps/span anchor spacings (exact integers)
    for l in range(n_degrees):
        k = min((l * gaps) // span, gaps - 1)
        frac = (l * gaps - k * span) / span
        lam[l, k] = 1.0 - frac
        lam[l, k + 1] = frac
    return lam


class ZonalConv(nn.Module):
    """S² → S² convolution with zonal, spectrally smooth filters (see the module docstring).

    Parameters
    ----------
    c_in, c_out : channels.
    b_in, b_out : input and output bandwidth (grids ``2b_in``, ``2b_out``).
    n_anchors : anchor matrices (``1 … min(b_in, b_out)``).

    ``forward(x: [B, c_in, 2b_in, 2b_in]) -> [B, c_out, 2b_out, 2b_out]`` (no nonlinearity).
    Parameters: ``anchors [n_anchors, c_in, c_out]``, ``bias [c_out]``.
    """

    def __init__(self, c_in: int, c_out: int, b_in: int, b_out: int, n_anchors: int) -> None:
        super().__init__()
        self.c_in, self.c_out, self.b_in, self.b_out = c_in, c_out, b_in, b_out
        self.L = min(b_in, b_out)
        self.n_anchors = n_anchors
        self.anchors = nn.Parameter(torch.randn(n_anchors, c_in, c_out) * math.sqrt(2.0 / c_in))
        self.bias = nn.Parameter(torch.zeros(c_out))
        self.register_buffer("lam", anchor_weights(self.L, n_anchors), persistent=False)
        #: row counts of the degrees in the coefficient layout, per batch size: ``B·(2l+1)``
        self._degree_of_row: dict[tuple[int, torch.device], torch.Tensor] = {}

    def extra_repr(self) -> str:
        return f"{self.c_in}→{self.c_out}, b {self.b_in}→{self.b_out}, L={self.L}, n_anchors={self.n_anchors}"

    def degree_weights(self) -> torch.Tensor:
        """The per-degree filters ``W_l = Σ_k λ_{lk} A_k``: ``[L, c_in, c_out]``."""
        return torch.einsum("lk,kio->lio", self.lam.to(self.anchors.dtype), self.anchors)

    def _row_degrees(self, B: int, device: torch.device) -> torch.Tensor:
        key = (B, device)
        if key not in self._degree_of_row:
            counts = torch.tensor([B * (2 * l + 1) for l in range(self.L)])
            self._degree_of_row[key] = torch.repeat_interleave(torch.arange(self.L), counts).to(device)
        return self._degree_of_row[key]

    def mix(self, coef: torch.Tensor, B: int) -> torch.Tensor:
        """Apply ``W_l`` to real coefficients ``[L²·B, c_in]`` (rows ``(l, B, a)``) → ``[L²·B, c_out]``.

        One GEMM: the rows are scaled by their degree's hat weights ``λ_{l(row), k}`` and multiplied by the
        stacked anchors ``[K·c_in, c_out]``."""
        lam = self.lam.to(coef.dtype).index_select(0, self._row_degrees(B, coef.device))  # [rows, K]
        scaled = (lam[:, :, None] * coef[:, None, :]).reshape(coef.shape[0], -1)  # [rows, K·c_in]
        return scaled @ self.anchors.reshape(-1, self.c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B = x.shape[0]
        coef = s2_analysis_real(x, self.L)
        y = s2_synthesis_real(self.mix(coef, B), self.b_out, self.L, B)
        return y + self.bias[:, None, None]


def _layers(spec: ZonalSegSpec | ZonalClsSpec) -> nn.ModuleList:
    return nn.ModuleList(
        ZonalConv(c_in, c_out, b_in, b_out, spec.n_anchors)
        for (c_in, c_out), (b_in, b_out) in zip(spec.layer_channels(), spec.layer_bandwidths())
    )


class ZonalSegmenter(nn.Module):
    """Rotation-equivariant segmenter: zonal layers down to the bottleneck bandlimit and back up, the last to
    ``n_classes`` logits on the input's ``2b`` grid. ReLU after every layer but the last.

    ``forward(x: [B, in_channels, 2b, 2b]) -> [B, n_classes, 2b, 2b]``.
    """

    def __init__(self, spec: ZonalSegSpec) -> None:
        super().__init__()
        self.spec = spec.validate()
        self.layers = _layers(spec)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers[:-1]:
            x = F.relu(layer(x))
        return self.layers[-1](x)


class ZonalClassifier(nn.Module):
    """Rotation-invariant classifier: zonal layers (ReLU after each), the quadrature-weighted mean over the
    sphere (:func:`s2cnn.s2_integrate`), FC head.

    ``forward(x: [B, in_channels, 2b, 2b]) -> [B, n_classes]`` (logits).
    """

    def __init__(self, spec: ZonalClsSpec) -> None:
        super().__init__()
        self.spec = spec.validate()
        self.layers = _layers(spec)
        self.head = FCHead(spec.features[-1], list(spec.fc_features), spec.n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = F.relu(layer(x))
        return self.head(s2_integrate(x))
