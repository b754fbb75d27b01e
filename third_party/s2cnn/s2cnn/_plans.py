r"""Precomputed β-quadrature tables ("plans") for the fast real S² / SO(3) transforms.

After the FFTs over α (and γ), the remaining work of a transform is, for every index pair
``(m, n)`` (``m ≥ 0``), a small dense product over ``β`` and the degrees
``l = max(|m|, |n|) … L-1``:

* analysis:  ``X^l_{mn} = Σ_j w_j d^l_{mn}(β_j) F_{mn}(β_j)``,
* synthesis: ``G_{mn}(β_j) = Σ_l (2l+1) d^l_{mn}(β_j) X^l_{mn}``.

The pairs are sorted by ``k = max(|m|, |n|)`` and cut into a few groups of consecutive
``k``; each group is one batched matmul against a table that spans the degrees
``l_0(group) … L-1`` (entries with ``l < k`` are zero).  Compared to padding every pair to
all ``L`` degrees this saves ~2/3 of the memory and FLOPs; the grouped result is a
"ragged" row array ``[n_rows, columns]`` that index maps move to and from the packed
half layouts of :mod:`s2cnn.coeffs`.

Plans are built once per ``(kind, b, L)`` in float64 on the CPU from
:func:`s2cnn.wigner.wigner_d_pairs` and cached per ``(device, dtype)``
(``functools.lru_cache``), so a forward pass never copies tables between devices.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import torch

from .grids import quadrature_weights, s2_grid
from .wigner import wigner_d_pairs

__all__ = ["Ragged", "BetaPlan", "s2_plan", "so3_plan"]


class Ragged:
    """Index pairs ``(m, n)`` sorted by ``k = max(|m|, |n|)``, grouped for batched matmuls over ``l ∈ [l0, L)``."""

    def __init__(self, m: torch.Tensor, n: torch.Tensor, L: int, n_groups: int = 8):
        k = torch.maximum(m.abs(), n.abs())
        order = torch.sort(k, stable=True).indices
        self.order = order  # sorted position -> input position
        self.m, self.n, self.k = m[order], n[order], k[order]
        self.L = L
        P = self.m.numel()
        width = max(1, math.ceil(L / n_groups))
        self.groups: list[tuple[int, int, int, int]] = []  # (start, stop, l0, row_base)
        row = 0
        kl = self.k.tolist()
        start = 0
        while start < P:
            l0 = kl[start]
            stop = start
            while stop < P and kl[stop] < l0 + width:
                stop += 1
            self.groups.append((start, stop, l0, row))
            row += (stop - start) * (L - l0)
            start = stop
        self.n_rows = row
        # row index of (pair i, degree l), for l >= l0 of the pair's group
        self._pair_base = torch.empty(P, dtype=torch.int64)
        self._pair_l0 = torch.empty(P, dtype=torch.int64)
        for start, stop, l0, base in self.groups:
            idx = torch.arange(start, stop)
            self._pair_base[start:stop] = base + (idx - start) * (L - l0)
            self._pair_l0[start:stop] = l0

    def row(self, pair: torch.Tensor, l: torch.Tensor) -> torch.Tensor:
        return self._pair_base[pair] + (l - self._pair_l0[pair])

    def lhs_tables(self, d: torch.Tensor, weight: torch.Tensor) -> list[torch.Tensor]:
        """Analysis tables ``[G, L-l0, nb] = weight_j d^l(β_j)`` from ``d`` of shape ``[P (sorted), nb, L]``."""
        return [(d[s:e, :, l0:] * weight[None, :, None]).permute(0, 2, 1).contiguous() for s, e, l0, _ in self.groups]

    def rhs_tables(self, d: torch.Tensor, weight_l: torch.Tensor) -> list[torch.Tensor]:
        """Synthesis tables ``[G, nb, L-l0] = weight_l d^l(β_j)``."""
        return [(d[s:e, :, l0:] * weight_l[None, None, l0:]).contiguous() for s, e, l0, _ in self.groups]


def ragged_lhs(groups: list[tuple[int, int, int, int]], tables: list[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """``x [P, nb, cols]`` → ragged ``[n_rows, cols]`` (one bmm per group)."""
    outs = [torch.bmm(t, x[s:e]).reshape(-1, x.shape[-1]) for (s, e, _, _), t in zip(groups, tables)]
    return outs[0] if len(outs) == 1 else torch.cat(outs, 0)


def ragged_rhs(groups: list[tuple[int, int, int, int]], tables: list[torch.Tensor], r: torch.Tensor) -> torch.Tensor:
    """Ragged ``[n_rows, cols]`` → ``[P, nb, cols]`` (one bmm per group)."""
    outs = []
    for (s, e, _, base), t in zip(groups, tables):
        nl = t.shape[-1]
        outs.append(torch.bmm(t, r[base : base + (e - s) * nl].view(e - s, nl, r.shape[-1])))
    return outs[0] if len(outs) == 1 else torch.cat(outs, 0)


@dataclass
class BetaPlan:
    """Tables and index maps of one transform direction; see the module docstring.

    ``fft_index``: S² analysis: the ``m`` of each (sorted) pair; S² synthesis: the pair of each ``m``;
    SO(3): the flat slot ``(m mod 2b)·(b+1) + |n|`` of each pair in the γ-half spectrum (see
    :func:`_build_so3`).
    ``packed_index``: analysis: ragged row of each packed coefficient; synthesis: packed
    index of each ragged row (rows with ``l < k`` point at 0; their table entries are 0).
    """

    b: int
    L: int
    groups: list[tuple[int, int, int, int]]
    tables: list[torch.Tensor]
    fft_index: torch.Tensor
    packed_index: torch.Tensor
    n_pairs: int
    conj: torch.Tensor | None = None

    def to(self, device: torch.device | str, dtype: torch.dtype) -> BetaPlan:
        return BetaPlan(
            self.b,
            self.L,
            self.groups,
            [t.to(device=device, dtype=dtype) for t in self.tables],
            self.fft_index.to(device),
            self.packed_index.to(device),
            self.n_pairs,
            None if self.conj is None else self.conj.to(device=device, dtype=dtype),
        )


def _check_bl(b: int, L: int) -> None:
    if not 1 <= L <= b:
        raise ValueError(f"need 1 <= L <= b, got b={b}, L={L}")


def _build_s2(b: int, L: int, analysis: bool) -> BetaPlan:
    _check_bl(b, L)
    m = torch.arange(L)
    rg = Ragged(m, torch.zeros_like(m), L)
    beta, _ = s2_grid(b)
    d = wigner_d_pairs(L, beta, rg.m, rg.n)  # [P, 2b, L]
    pair_of_m = torch.empty(L, dtype=torch.int64)
    pair_of_m[rg.m] = torch.arange(L)
    if analysis:
        tables = rg.lhs_tables(d, quadrature_weights(b))
        ls = [l for l in range(L) for _ in range(l + 1)]
        ms = [mm for l in range(L) for mm in range(l + 1)]
        packed = rg.row(pair_of_m[torch.tensor(ms)], torch.tensor(ls))
        fft_index = rg.m.clone()
    else:
        tables = rg.rhs_tables(d, 2.0 * torch.arange(L, dtype=torch.float64) + 1.0)
        packed = _ragged_to_packed(rg, lambda l, mm, nn: l * (l + 1) // 2 + mm)
        fft_index = pair_of_m
    return BetaPlan(b, L, rg.groups, tables, fft_index, packed, L)


def _build_so3(b: int, L: int, analysis: bool) -> BetaPlan:
    """SO(3) plans work on the γ-half spectrum ``H[N, j, m mod 2b, n ≥ 0]`` of ``rfftn`` over (α, γ)
    (half axis last, so FFT inputs and outputs stay contiguous), while the coefficients use the
    ``m ≥ 0`` half layout.  For a real signal ``F_{m,n} = conj(F_{-m,-n})``, and the β tables are
    real, so a pair read from or written to the mirrored slot just needs a complex conjugate:

    * analysis pairs ``(m ≥ 0, n)``: slot ``(m, n)`` if ``n ≥ 0``, else ``(-m, -n)`` conjugated;
    * synthesis pairs: ``(m ≥ 0, n ≥ 0)`` → slot ``(m, n)`` and, conjugated, ``(m > 0, n ≤ 0)`` →
      slot ``(-m, -n)`` — together every slot with ``|m|, n < L`` exactly once.

    ``conj`` (±1 per packed coefficient for analysis, per ragged row for synthesis) is the sign
    applied to imaginary parts.
    """
    _check_bl(b, L)
    nh = b + 1
    if analysis:
        M, N = torch.meshgrid(torch.arange(L), torch.arange(-(L - 1), L), indexing="ij")
        M, N = M.reshape(-1), N.reshape(-1)
    else:
        M1, N1 = torch.meshgrid(torch.arange(L), torch.arange(L), indexing="ij")
        M2, N2 = torch.meshgrid(torch.arange(1, L), torch.arange(-(L - 1), 1), indexing="ij")
        M = torch.cat([M1.reshape(-1), M2.reshape(-1)])
        N = torch.cat([N1.reshape(-1), N2.reshape(-1)])
        flag = torch.cat([torch.zeros(M1.numel(), dtype=torch.bool), torch.ones(M2.numel(), dtype=torch.bool)])
    rg = Ragged(M, N, L)
    P = rg.m.numel()
    beta, _ = s2_grid(b)
    d = wigner_d_pairs(L, beta, rg.m, rg.n)  # [P, 2b, L]
    # (m > 0, 0) appears twice in synthesis (direct and mirrored): the flag is carried through the sort
    mirrored = rg.n < 0 if analysis else flag[rg.order]
    slot_m = torch.where(mirrored, torch.remainder(-rg.m, 2 * b), rg.m)
    slot = slot_m * nh + rg.n.abs()
    if analysis:
        tables = rg.lhs_tables(d, quadrature_weights(b))
        ls, ms, ns = zip(*[(l, mm, nn) for l in range(L) for mm in range(l + 1) for nn in range(-l, l + 1)])
        ls, ms, ns = torch.tensor(ls), torch.tensor(ms), torch.tensor(ns)
        pair_of = torch.empty(L, 2 * L - 1, dtype=torch.int64)
        pair_of[rg.m, rg.n + L - 1] = torch.arange(P)
        packed = rg.row(pair_of[ms, ns + L - 1], ls)
        conj = torch.where(ns < 0, -1.0, 1.0).to(torch.float64)
    else:
        tables = rg.rhs_tables(d, 2.0 * torch.arange(L, dtype=torch.float64) + 1.0)
        packed = _ragged_to_packed(rg, lambda l, mm, nn: l * (l + 1) * (4 * l - 1) // 6 + mm * (2 * l + 1) + nn + l)
        conj = torch.ones(rg.n_rows, dtype=torch.float64)
        for s_, e_, l0, base in rg.groups:
            rows = base + torch.arange((e_ - s_) * (L - l0))
            conj[rows] = torch.where(mirrored[s_:e_], -1.0, 1.0).to(torch.float64).repeat_interleave(L - l0)
    return BetaPlan(b, L, rg.groups, tables, slot, packed, P, conj)


def _ragged_to_packed(
    rg: Ragged, pos: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
) -> torch.Tensor:
    """Packed index of every ragged row (0 for the padding rows ``l < k``); ``pos(l, m, n)`` acts on tensors."""
    out = torch.zeros(rg.n_rows, dtype=torch.int64)
    for s, e, l0, base in rg.groups:
        nl = rg.L - l0
        ls = torch.arange(l0, rg.L)[None, :].expand(e - s, nl)
        m, n, k = rg.m[s:e, None].expand(-1, nl), rg.n[s:e, None].expand(-1, nl), rg.k[s:e, None]
        rows = base + torch.arange(e - s)[:, None] * nl + (ls - l0)
        valid = ls >= k
        out[rows[valid]] = pos(ls[valid], m[valid], n[valid])
    return out


@lru_cache(maxsize=64)
def s2_plan(b: int, L: int, analysis: bool, device: torch.device, dtype: torch.dtype) -> BetaPlan:
    """Cached S² plan on ``device``/``dtype`` (grid bandwidth ``b``, degrees ``l < L``)."""
    return _build_s2(b, L, analysis).to(device, dtype)


@lru_cache(maxsize=64)
def so3_plan(b: int, L: int, analysis: bool, device: torch.device, dtype: torch.dtype) -> BetaPlan:
    """Cached SO(3) plan on ``device``/``dtype`` (grid bandwidth ``b``, degrees ``l < L``)."""
    return _build_so3(b, L, analysis).to(device, dtype)
