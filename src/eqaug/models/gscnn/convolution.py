r"""Constrained generalized convolutions and the equivariant batch normalisation.

Cobb et al. (2021) split the generalized convolution that follows the tensor-product activation into three
constrained linear operators; on internal signals ``x^l_{c,t,μ}`` (:mod:`~eqaug.models.gscnn.signals`) they read

.. math::

    \text{uniform:}\quad y^l_{c,s} = \sum_t W^l_{st}\, x^l_{c,t}, \qquad
    \text{channel-wise:}\quad z^l_{c,s} = \sum_{s'} V^l_{c,ss'}\, y^l_{c,s'}, \qquad
    \text{cross-channel:}\quad o^l_{d,s} = \sum_c U^l_{dc}\, z^l_{c,s} \;(+\, b_{d,s}\,[l = 0]).

``W`` is shared by all channels and projects the ``τ'_l`` fragments of the activation back to the target type
``τ_out`` (a learned contraction of the tensor-product expansion); ``V`` mixes the fragments inside each channel;
``U`` makes new features (shared by the fragments).  Every weight is real and per degree and acts on the channel
and fragment axes only — never on ``μ`` — so each operator commutes with every rotation, exactly.  A bias is
only allowed on ``l = 0`` (rotation invariant).  Parameters:
``Σ_l [τ_out τ'_l + C_in τ_out² + C_out C_in] + C_out τ_out``.

Initialisation (unit fragments in give unit fragments out, on average): ``W ~ N(0, 1/τ'_l)``, ``V = I``,
``U ~ N(0, 1/C_in)``, ``b = 0``.  The activation is quadratic, so without normalisation the scale compounds
with depth (``p → ≈ p²``: an unstable fixed point at 1); the models therefore normalise before every
activation (``norm="batch"``, default), which keeps fragment powers O(1) through any depth at initialisation
(``tests/models/test_model_gscnn_layers.py``).

:class:`EquivariantBatchNorm` divides the fragments of degree ``l`` in channel ``c`` by
``\sqrt{E_{batch}[(1/τ_l) Σ_{t} ‖x^l_{c,t}‖²] + ε}`` (batch statistics in training, running averages in
evaluation, no affine part — the next linear maps provide it).  The statistic is rotation invariant per sample,
so the layer is exactly equivariant in both modes, also when every sample is rotated differently.

:class:`EquivariantLayerNorm` (``norm="layer"``) divides the fragments of degree ``l`` of *one sample* by
``\sqrt{(1/(C τ_l)) Σ_{c,t} ‖x^l_{c,t}‖² + ε}``: statistics of the sample itself, the same in training and
evaluation.  The quadratic activation turns any mismatch between batch statistics and running averages
into an error that grows like ``(1+δ)^{2^depth}``: with ``norm="batch"`` a 8-layer segmenter trained for a
few hundred steps gave evaluation losses of 1e11 while its training loss was 1.5.  Equivariant for the same
reason (a norm per sample and degree), and it keeps the relative powers of the channels of a degree.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from eqaug.models.gscnn.counting import constrained_conv_params
from eqaug.models.gscnn.signals import GType, const_type, degree_index

__all__ = [
    "UniformConvolution",
    "ChannelwiseConvolution",
    "CrossChannelConvolution",
    "ConstrainedConvolution",
    "EquivariantBatchNorm",
    "EquivariantLayerNorm",
    "constrained_conv_params",
]


def _block_sizes(t: GType) -> list[int]:
    return [tau * (2 * l + 1) for l, tau in enumerate(t)]


class UniformConvolution(nn.Module):
    """``y^l_{c} = W^l x^l_{c}``: ``[D_in, B, C] → [D_out, B, C]``, type ``in_type → (τ_out,)·L``."""

    def __init__(self, in_type: GType, tau_out: int) -> None:
        super().__init__()
        self.in_type, self.tau_out = tuple(in_type), int(tau_out)
        self.out_type = const_type(len(self.in_type), self.tau_out)
        self.weight = nn.Parameter(torch.empty(sum(self.tau_out * t for t in self.in_type)))
        with torch.no_grad():
            start = 0
            for t in self.in_type:
                n = self.tau_out * t
                self.weight[start : start + n].normal_(0.0, 1.0 / math.sqrt(max(t, 1)))
                start += n

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, B, C = x.shape
        blocks = x.split(_block_sizes(self.in_type), 0)  # one SplitBackward instead of L slice backwards
        weights = self.weight.split([self.tau_out * t for t in self.in_type])
        out = []
        for l, (t, blk, w) in enumerate(zip(self.in_type, blocks, weights)):
            k = 2 * l + 1
            if t == 0:
                out.append(x.new_zeros(self.tau_out * k, B, C))
                continue
            out.append((w.view(self.tau_out, t) @ blk.reshape(t, k * B * C)).reshape(self.tau_out * k, B, C))
        return torch.cat(out, 0)


class ChannelwiseConvolution(nn.Module):
    """``z^l_{c} = V^l_c y^l_{c}`` (per channel, per degree, ``τ × τ``), initialised to the identity."""

    def __init__(self, channels: int, L: int, tau: int) -> None:
        super().__init__()
        self.channels, self.L, self.tau = int(channels), int(L), int(tau)
        eye = torch.eye(self.tau).expand(self.L, self.channels, self.tau, self.tau)
        self.weight = nn.Parameter(eye.clone())  # [L, C, τ, τ]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, B, C = x.shape
        tau, out = self.tau, []
        blocks = x.split(_block_sizes(const_type(self.L, tau)), 0)
        for l in range(self.L):
            blk = blocks[l].reshape(tau, (2 * l + 1) * B, C)
            if tau == 1:
                y = blk * self.weight[l, :, 0, 0]
            else:
                y = torch.einsum("tnc,cst->snc", blk, self.weight[l])
            out.append(y.reshape(-1, B, C))
        return torch.cat(out, 0)


class CrossChannelConvolution(nn.Module):
    """``o^l_{d} = Σ_c U^l_{dc} z^l_{c}`` (+ bias on ``l = 0``): channels ``c_in → c_out``."""

    def __init__(self, c_in: int, c_out: int, L: int, tau: int, bias: bool = True) -> None:
        super().__init__()
        self.c_in, self.c_out, self.L, self.tau = int(c_in), int(c_out), int(L), int(tau)
        self.weight = nn.Parameter(torch.randn(self.L, self.c_out, self.c_in) / math.sqrt(self.c_in))
        self.bias = nn.Parameter(torch.zeros(self.tau, self.c_out)) if bias and self.L > 0 else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        blocks = x.split(_block_sizes(const_type(self.L, self.tau)), 0)
        out = []
        for l in range(self.L):
            y = blocks[l] @ self.weight[l].T
            if l == 0 and self.bias is not None:
                y = y + self.bias[:, None, :]
            out.append(y)
        return torch.cat(out, 0)


class ConstrainedConvolution(nn.Module):
    """Uniform → channel-wise → cross-channel: ``(c_in, in_type) → (c_out, (τ_out,)·L)`` (see the module docstring)."""

    def __init__(self, c_in: int, c_out: int, in_type: GType, tau_out: int, bias: bool = True) -> None:
        super().__init__()
        L = len(in_type)
        self.uniform = UniformConvolution(in_type, tau_out)
        self.channelwise = ChannelwiseConvolution(c_in, L, tau_out)
        self.cross = CrossChannelConvolution(c_in, c_out, L, tau_out, bias)
        self.in_type, self.out_type = tuple(in_type), const_type(L, tau_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cross(self.channelwise(self.uniform(x)))


class EquivariantLayerNorm(nn.Module):
    """Per (sample, degree) norm-based normalisation over the channels (see the module docstring)."""

    def __init__(self, channels: int, gtype: GType, eps: float = 1e-5) -> None:
        super().__init__()
        self.gtype, self.eps, self.channels = tuple(gtype), eps, channels
        self.register_buffer("_tau", torch.tensor([max(t, 1) for t in self.gtype], dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        idx = degree_index(self.gtype, x.device)
        power = x.new_zeros(len(self.gtype), x.shape[1]).index_add_(0, idx, x.pow(2).sum(2))
        power = power / (self.channels * self._tau.to(x.dtype)[:, None])
        return x * torch.rsqrt(power + self.eps).index_select(0, idx)[:, :, None]


class EquivariantBatchNorm(nn.Module):
    """Per (degree, channel) norm-based batch normalisation of internal signals (see the module docstring)."""

    def __init__(self, channels: int, gtype: GType, momentum: float = 0.1, eps: float = 1e-5) -> None:
        super().__init__()
        self.gtype, self.momentum, self.eps = tuple(gtype), momentum, eps
        self.register_buffer("running_power", torch.ones(len(self.gtype), channels))
        self.register_buffer("_tau", torch.tensor([max(t, 1) for t in self.gtype], dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        idx = degree_index(self.gtype, x.device)
        if self.training:
            B = x.shape[1]
            power = x.new_zeros(len(self.gtype), x.shape[2]).index_add_(0, idx, x.pow(2).sum(1))
            power = power / (B * self._tau.to(x.dtype)[:, None])
            with torch.no_grad():
                self.running_power.mul_(1 - self.momentum).add_(self.momentum * power.detach().to(self.running_power))
        else:
            power = self.running_power.to(x.dtype)
        scale = torch.rsqrt(power + self.eps)
        return x * scale.index_select(0, idx)[:, None, :]
