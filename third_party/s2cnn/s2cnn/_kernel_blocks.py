r"""Per-degree blocks of the real-basis kernel transforms as a few grouped ``bmm`` (internal).

The kernel transforms of :mod:`s2cnn.kernels` end with, for every degree ``l < L``,

    ``K_l[pos] = Σ_j w_l[pos, j] S[pos, j]``  for the window positions ``pos`` with ``shell(pos) ≤ l``,

where ``S [n_pos, n_j, f_in·f_out]`` are the phase sums (``j``: β group and trig type), ``pos`` runs over the
``(b, n)`` (SO(3)) or ``n`` (S²) indices in ``(-L, L)`` and ``shell = max(|b|, |n|)`` (``|n|``).  Positions are
ordered by shell group (width ``⌈L/8⌉``, as the FFT plans of :mod:`s2cnn._real_plans`); group ``g`` of first shell
``l0`` computes all its degrees ``l ≥ l0`` at once, ``Y_g = W_g S_g`` (``W_g [P_g, L - l0, n_j]``, zero rows for
``l < shell``), and one ``index_select`` of rows of ``f_out`` channels writes every ``K_l`` in the layout the layers
multiply with (``[(b, c), (n, c')]`` or ``[c, (n, c')]``), degrees concatenated.  Memory traffic: ``S`` read once,
``Y`` written once, the blocks gathered once (a loop over ``l`` and ``j`` would read and write each block ``n_j``
times).  The backward is the adjoint: scatter into ``Y``, ``W_gᵀ`` per group.
"""

from __future__ import annotations

import math
from typing import Any

import torch

__all__ = ["ShellPlan", "shell_blocks"]


class ShellPlan:
    """Position order, groups and weight tables for ``L`` degrees (float64), and the gather index per ``f_in``.

    ``weights[l]``: ``[n_j, 2l+1, 2l+1]`` (SO(3), window ``(b, n)``) or ``[n_j, 2l+1]`` (S², window ``n``).
    Positions in natural order are ``(b, n)`` row-major with ``b, n ∈ (-L, L)`` (S²: ``n``); ``order`` lists them
    in plan order (the caller orders the phase sums so); ``groups[g] = (p0, p1, l0)``, ``tables[g] = W_g``.
    """

    def __init__(self, L: int, so3: bool, weights: list[torch.Tensor]):
        self.L, self.so3 = L, so3
        M = 2 * L - 1
        idx = torch.arange(-(L - 1), L)
        if so3:
            bb, nn_ = torch.meshgrid(idx, idx, indexing="ij")
            shell = torch.maximum(bb.abs(), nn_.abs()).reshape(-1)
        else:
            shell = idx.abs()
        width = max(1, math.ceil(L / 8))
        grp = shell // width
        self.order = torch.sort(grp * shell.numel() + torch.arange(shell.numel()), stable=True).indices
        n_j = weights[0].shape[0]
        self.groups, self.tables = [], []  # (p0, p1, l0) and W_g [P_g, L - l0, n_j]
        row_of = torch.empty(shell.numel(), dtype=torch.int64)  # first Y row (l = l0) of each position, / C
        l0_of = torch.empty(shell.numel(), dtype=torch.int64)
        p0 = row = 0
        for g in range(int(grp.max()) + 1):
            sel = self.order[grp[self.order] == g]
            p1, l0 = p0 + sel.numel(), g * width
            R = L - l0
            W = torch.zeros(sel.numel(), R, n_j, dtype=torch.float64)
            for l in range(l0, L):
                w = weights[l].reshape(n_j, -1)  # window positions of degree l, natural order
                if so3:
                    b_, n_ = sel // M - (L - 1), sel % M - (L - 1)
                    ok = (b_.abs() <= l) & (n_.abs() <= l)
                    wi = (b_ + l) * (2 * l + 1) + (n_ + l)
                else:
                    n_ = sel - (L - 1)
                    ok = n_.abs() <= l
                    wi = n_ + l
                W[ok, l - l0] = w[:, wi[ok]].T
            self.groups.append((p0, p1, l0))
            self.tables.append(W)
            row_of[sel] = row + torch.arange(sel.numel()) * R
            l0_of[sel] = l0
            row += sel.numel() * R
            p0 = p1
        self.n_rows = row  # rows of Y per channel pair block (times f_in·f_out / f_out = f_in rows of f_out)
        self._row_of, self._l0_of = row_of, l0_of
        self._gather: dict = {}

    def gather_index(self, C: int) -> torch.Tensor:
        """Rows (of ``f_out`` channels) of ``Y [n_rows·C, f_out]`` in the order of the concatenated blocks."""
        idx = self._gather.get(C)
        if idx is None:
            L, M = self.L, 2 * self.L - 1
            c = torch.arange(C)
            parts = []
            for l in range(L):
                w = torch.arange(-l, l + 1) + (L - 1)
                if self.so3:  # block [b, c, n, c']
                    pos = (w[:, None, None] * M + w[None, None, :]).expand(-1, C, -1)
                    cc = c[None, :, None].expand_as(pos)
                else:  # block [c, n, c']
                    pos = w[None, :].expand(C, -1)
                    cc = c[:, None].expand_as(pos)
                y = self._row_of[pos] + (l - self._l0_of[pos])
                parts.append((y * C + cc).reshape(-1))
            idx = torch.cat(parts)
            self._gather[C] = idx
        return idx


class _ShellBlocks(torch.autograd.Function):
    """``S [n_pos (plan order), n_j, f_in·f_out]`` → concatenated blocks ``[Σ_l rows_l, f_out]``."""

    @staticmethod
    def forward(
        ctx: Any, S: torch.Tensor, groups: list, tables: list[torch.Tensor], idx: torch.Tensor, n_rows: int, Co: int
    ) -> torch.Tensor:
        ctx.groups, ctx.tables, ctx.idx, ctx.shape_y = groups, tables, idx, (n_rows, S.shape[-1])
        Y = S.new_empty(n_rows, S.shape[-1])
        r = 0
        for (p0, p1, _), W in zip(groups, tables):
            n = (p1 - p0) * W.shape[1]
            torch.bmm(W, S[p0:p1], out=Y[r : r + n].view(p1 - p0, W.shape[1], -1))
            r += n
        return Y.view(-1, Co).index_select(0, idx)

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor, None, None, None, None, None]:
        # the gather is injective: scatter back (zeros on the padded rows), then W_gᵀ per group
        n_rows, cc = ctx.shape_y
        gY = g.new_zeros(n_rows * cc // g.shape[1], g.shape[1]).index_copy(0, ctx.idx, g).view(n_rows, cc)
        parts, r = [], 0
        for (p0, p1, _), W in zip(ctx.groups, ctx.tables):
            n = (p1 - p0) * W.shape[1]
            parts.append(torch.bmm(W.transpose(1, 2), gY[r : r + n].view(p1 - p0, W.shape[1], -1)))
            r += n
        return torch.cat(parts, 0), None, None, None, None, None


def shell_blocks(
    S: torch.Tensor, plan: ShellPlan, tables: list[torch.Tensor], idx: torch.Tensor, f_in: int, f_out: int
) -> list[torch.Tensor]:
    """Blocks ``K_l`` (``[(2l+1) f_in, (2l+1) f_out]`` SO(3), ``[f_in, (2l+1) f_out]`` S²; views of one tensor) from
    phase sums ``S [n_pos (plan.order), n_j, f_in·f_out]``, with ``plan``'s tables and ``gather_index(f_in)`` on
    ``S``'s device and dtype."""
    flat = _ShellBlocks.apply(S, plan.groups, tables, idx, plan.n_rows, f_out)
    sizes = [(2 * l + 1) ** (2 if plan.so3 else 1) * f_in for l in range(plan.L)]
    out = []
    for l, bl in enumerate(torch.split(flat, sizes)):
        k = 2 * l + 1
        out.append(bl.reshape(k * f_in, k * f_out) if plan.so3 else bl.reshape(f_in, k * f_out))
    return out
