r"""Fourier transforms of kernels defined on a finite grid of points (S² or SO(3)).

A kernel is a weighted sum of point masses at the grid points ``g_i`` (S² points are
``g_i = R(α_i, β_i, 0)``), ``ψ = Σ_i W_i δ_{g_i}``; its coefficients are

.. math::

    \hat ψ^l_{np} = Σ_i W_i D^l_{np}(g_i) = Σ_i W_i e^{-inα_i} d^l_{np}(β_i) e^{-ipγ_i}

(S² kernels: ``p = 0`` only).  With the layers' product ``\hat h^l = \hat f^l (\hat ψ^l)^†``
this makes the layer output ``h(R) = Σ_i W_i f_{<L}(R g_i)`` (S² input: ``f_{<L}(R g_i e_z)``)
where ``f_{<L}`` is the input truncated to degrees ``< L``.

Computed in two steps that exploit the few distinct ``β`` values of typical grids: one
GEMM per distinct ``β_k`` of the weights against the phases ``e^{-i(nα_i + pγ_i)}``,
``P_k[n, p] = Σ_{i: β_i = β_k} W_i e^{-i(nα_i + pγ_i)}``, and then, per degree, the weighted
sum ``ψ̂^l_{np} = Σ_k d^l_{np}(β_k) P_k[n, p]`` written directly into the layout the layers
multiply with.  Cost ``O(f_in f_out (n_grid L² + n_β L³))`` instead of
``O(f_in f_out n_grid L³)`` for the dense ``[n_grid, Σ(2l+1)²]`` matrix, and no temporary
larger than the phase sums ``[n_β, (2L-1)², f_in f_out]``.  The per-degree weighting has a custom
backward (:class:`_DegreeBlocks`) that accumulates into one gradient buffer; the real-basis transforms
used by the layers compute it as a few grouped ``bmm`` instead (:mod:`s2cnn._kernel_blocks`).

The transforms return the per-degree matrices the layers multiply with:

* :class:`S2KernelTransform`: ``K_l [f_in, (2l+1)·f_out]``, ``K_l[c, (n, c')] = conj(ψ̂^l_{n}[c, c'])``,
* :class:`SO3KernelTransform`: ``K_l [(2l+1)·f_in, (2l+1)·f_out]``,
  ``K_l[(p, c), (n, c')] = conj(ψ̂^l_{np}[c, c'])``; with ``sum_n=True`` it returns
  ``K_l[(p, c), c'] = conj(Σ_{n even} ψ̂^l_{np}[c, c'])`` (the SO(3)→S² layer; the restriction
  to even ``n`` is the real part of the plain sum over ``n``, see
  :class:`s2cnn.layers.SO3ToS2Convolution`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ._kernel_blocks import ShellPlan, shell_blocks
from .wigner import wigner_d

__all__ = ["S2KernelTransform", "SO3KernelTransform", "check_grid"]


def check_grid(grid: Sequence[Sequence[float]], npts: int, who: str) -> tuple[tuple[float, ...], ...]:
    """Validate a kernel grid: a non-empty sequence of ``npts``-tuples of finite floats."""
    what = "(beta, alpha)" if npts == 2 else "(beta, alpha, gamma)"
    try:
        pts = tuple(tuple(float(v) for v in p) for p in grid)
    except TypeError as err:
        raise ValueError(f"{who}: grid must be a sequence of {what} tuples, got {grid!r:.200}") from err
    if len(pts) == 0:
        raise ValueError(f"{who}: grid is empty; it needs at least one {what} point")
    for p in pts:
        if len(p) != npts:
            raise ValueError(f"{who}: grid points must be {what} tuples of length {npts}, got {p!r}")
        if not all(math.isfinite(v) for v in p):
            raise ValueError(f"{who}: grid point {p!r} is not finite")
    return pts


class _GridKernelTransform(nn.Module):
    """Common machinery: grouping by β, phase tables, per-degree d tables, per-device cache."""

    def _setup(self, grid: tuple[tuple[float, ...], ...], L: int, with_gamma: bool) -> None:
        self.L = L
        self.n_grid = len(grid)
        pts = torch.tensor(grid, dtype=torch.float64)
        beta, alpha = pts[:, 0], pts[:, 1]
        gamma = pts[:, 2] if with_gamma else torch.zeros_like(beta)
        # group the points by distinct β
        keys = [round(v, 12) for v in beta.tolist()]
        uniq = sorted(set(keys))
        order = sorted(range(len(keys)), key=lambda i: (uniq.index(keys[i]), i))
        counts = [keys.count(u) for u in uniq]
        self.bounds = [(sum(counts[:k]), sum(counts[: k + 1])) for k in range(len(uniq))]
        beta_k = torch.tensor([beta[keys.index(u)].item() for u in uniq], dtype=torch.float64)
        a, g = alpha[order], gamma[order]
        idx = torch.arange(-(L - 1), L, dtype=torch.float64)
        if with_gamma:  # phase (n, p) ↦ nα_i + pγ_i, rows ordered (n, p)
            phase = (idx[:, None, None] * a + idx[None, :, None] * g).reshape(-1, len(order))
        else:  # phase n ↦ nα_i
            phase = idx[:, None] * a
        self._master: dict[str, torch.Tensor] = {
            "perm": torch.tensor(order),
            # Re and Im of e^{+i·phase}: the conjugate spectrum is accumulated directly
            "phases": torch.cat([torch.cos(phase), torch.sin(phase)], 0),  # [2Q, n_grid]
        }
        nb = len(uniq)
        ds = [wigner_d(l, beta_k) for l in range(L)]  # [k, n, p]
        if not with_gamma:  # S²: d^l_{n0}(β_k) as [k, n]
            for l in range(L):
                self._master[f"d{l}"] = ds[l][:, :, l]
        else:
            for l in range(L):  # [k, p, n]
                self._master[f"d{l}"] = ds[l].transpose(1, 2).contiguous()
            # for the SO(3)→S² layer: T[p, l, (k, n_even)] = d^l_{np}(β_k) (0 unless |n|, |p| ≤ l)
            ne = torch.arange(-(L - 1), L)
            ne = ne[ne % 2 == 0]
            T = torch.zeros(2 * L - 1, L, nb, ne.numel(), dtype=torch.float64)
            for l in range(L):
                sel = ne.abs() <= l
                T[L - 1 - l : L + l, l][:, :, sel] = ds[l][:, ne[sel] + l, :].permute(2, 0, 1)
            self._master["d_even"] = T.reshape(2 * L - 1, L, -1)
            self._master["n_even"] = ne + L - 1  # positions of even n in −(L−1) … L−1
        self._cache: dict = {}

    def tables(self, device: torch.device, dtype: torch.dtype) -> dict[str, torch.Tensor]:
        """The precomputed tables on ``device`` in ``dtype`` (built in float64, converted once and cached)."""
        key = (device, dtype)
        if key not in self._cache:
            self._cache[key] = {
                k: v.to(device=device, dtype=dtype if v.is_floating_point() else v.dtype)
                for k, v in self._master.items()
            }
        return self._cache[key]

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_cache"] = {}
        return state

    def _phase_sums(self, weight: torch.Tensor, t: dict[str, torch.Tensor]) -> torch.Tensor:
        """``conj(Σ_{i: β_i = β_k} W_i e^{-i·phase_i})`` for every β group: ``[n_beta, Q, f_in·f_out]`` complex."""
        cc = weight.shape[0] * weight.shape[1]
        w = weight.reshape(cc, self.n_grid).index_select(1, t["perm"]).T  # [n_grid, cc]
        Q = t["phases"].shape[0] // 2
        parts = []
        for s, e in self.bounds:
            q = t["phases"][:, s:e] @ w[s:e]  # [2Q, cc]
            parts.append(torch.complex(q[:Q], q[Q:]))
        return torch.stack(parts, 0)


class S2KernelTransform(_GridKernelTransform):
    """Kernel on S² grid points ``(β, α)`` → ``[K_0, …, K_{L-1}]`` with ``K_l [f_in, (2l+1) f_out]``."""

    def __init__(self, grid: Sequence[Sequence[float]], L: int):
        super().__init__()
        self._setup(check_grid(grid, 2, "S2KernelTransform"), L, with_gamma=False)

    def forward(self, weight: torch.Tensor) -> list[torch.Tensor]:
        f_in, f_out, _ = weight.shape
        t = self.tables(weight.device, weight.dtype)
        L = self.L
        P = self._phase_sums(weight, t).view(-1, 2 * L - 1, f_in, f_out).permute(0, 2, 1, 3)  # [k, c, n, c']
        Pr = torch.view_as_real(P.contiguous())  # [k, c, n, c', 2]
        ds = [t[f"d{l}"][:, None, :, None, None] for l in range(L)]  # [k, 1, n, 1, 1]
        blocks = _DegreeBlocks.apply(Pr, ds, (slice(None), "s", slice(None)))
        return [torch.view_as_complex(bl).reshape(f_in, (2 * l + 1) * f_out) for l, bl in enumerate(blocks)]


class SO3KernelTransform(_GridKernelTransform):
    """Kernel on SO(3) grid points ``(β, α, γ)`` → per-degree matrices (see the module docstring)."""

    def __init__(self, grid: Sequence[Sequence[float]], L: int, sum_n: bool = False):
        super().__init__()
        self.sum_n = sum_n
        self._setup(check_grid(grid, 3, "SO3KernelTransform"), L, with_gamma=True)

    def forward(self, weight: torch.Tensor) -> list[torch.Tensor]:
        f_in, f_out, _ = weight.shape
        t = self.tables(weight.device, weight.dtype)
        L, M = self.L, 2 * self.L - 1
        P = self._phase_sums(weight, t).view(-1, M, M, f_in, f_out)  # [k, n, p, c, c']
        out = []
        if self.sum_n:  # K_l[(p, c), c'] = Σ_k Σ_{n even} d^l_{np}(β_k) P_k[n, p]: one batched GEMM over p
            Pe = P.index_select(1, t["n_even"]).permute(2, 0, 1, 3, 4)  # [p, k, n_even, c, c']
            Pe = torch.view_as_real(Pe.reshape(M, -1, f_in * f_out).contiguous()).flatten(-2)  # [p, (k n), 2cc']
            Y = torch.bmm(t["d_even"], Pe)  # [p, l, 2cc']
            for l in range(L):
                yl = Y[L - 1 - l : L + l, l].reshape(-1, f_in, f_out, 2)
                out.append(torch.view_as_complex(yl.contiguous()).reshape((2 * l + 1) * f_in, f_out))
            return out
        Pr = torch.view_as_real(P.permute(0, 2, 3, 1, 4).contiguous())  # [k, p, c, n, c', 2]
        ds = [t[f"d{l}"][:, :, None, :, None, None] for l in range(L)]  # [k, p, 1, n, 1, 1]
        blocks = _DegreeBlocks.apply(Pr, ds, ("s", slice(None), "s"))
        return [
            torch.view_as_complex(bl).reshape((2 * l + 1) * f_in, (2 * l + 1) * f_out) for l, bl in enumerate(blocks)
        ]


class _DegreeBlocks(torch.autograd.Function):
    """``B_l = Σ_k d_l[k] ⊙ P[k][window_l]`` for every degree ``l`` (``window_l``: the ``|index| ≤ l`` range on
    the axes marked ``"s"``).  The backward accumulates all degrees into one gradient buffer; autograd's own
    slicing backward would allocate and zero a full-size gradient per degree (quadratic in ``L``)."""

    @staticmethod
    def forward(
        ctx: Any, P: torch.Tensor, ds: list[torch.Tensor], axes: tuple[slice | str, ...]
    ) -> tuple[torch.Tensor, ...]:
        L = len(ds)
        ctx.ds, ctx.axes, ctx.shape = ds, axes, P.shape
        out = []
        for l, d in enumerate(ds):
            idx = _window(axes, L, l)
            Pl = P[(slice(None), *idx)]
            acc = Pl[0] * d[0]
            for k in range(1, d.shape[0]):
                acc.addcmul_(Pl[k], d[k])
            out.append(acc)
        return tuple(out)

    @staticmethod
    def backward(ctx: Any, *grads: torch.Tensor | None) -> tuple[torch.Tensor, None, None]:
        ds, L = ctx.ds, len(ctx.ds)
        g = grads[0].new_zeros(ctx.shape)
        for l, (d, gl) in enumerate(zip(ds, grads)):
            if gl is None:
                continue
            idx = _window(ctx.axes, L, l)
            for k in range(d.shape[0]):
                g[(k, *idx)].addcmul_(gl, d[k])
        return g, None, None


def _window(axes: tuple[slice | str, ...], L: int, l: int) -> tuple:
    s = slice(L - 1 - l, L + l)
    return tuple(s if a == "s" else a for a in axes)


# --------------------------------------------------------------------------------------------
# Real-basis kernel transforms (used by the layers; see :mod:`s2cnn._real`)
# --------------------------------------------------------------------------------------------


class _RealGridKernelTransform(nn.Module):
    """Grouping by β and the per-device table cache, for the real-basis transforms."""

    def _setup_groups(
        self, grid: tuple[tuple[float, ...], ...], with_gamma: bool
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        self.n_grid = len(grid)
        pts = torch.tensor(grid, dtype=torch.float64)
        beta, alpha = pts[:, 0], pts[:, 1]
        gamma = pts[:, 2] if with_gamma else torch.zeros_like(beta)
        keys = [round(v, 12) for v in beta.tolist()]
        uniq = sorted(set(keys))
        order = sorted(range(len(keys)), key=lambda i: (uniq.index(keys[i]), i))
        counts = [keys.count(u) for u in uniq]
        self.bounds = [(sum(counts[:k]), sum(counts[: k + 1])) for k in range(len(uniq))]
        beta_k = torch.tensor([beta[keys.index(u)].item() for u in uniq], dtype=torch.float64)
        self._cache: dict = {}
        return beta_k, alpha[order], gamma[order], torch.tensor(order)

    def tables(self, device: torch.device, dtype: torch.dtype) -> dict[str, torch.Tensor]:
        """The precomputed tables on ``device`` in ``dtype`` (built in float64, converted once and cached)."""
        key = (device, dtype)
        if key not in self._cache:
            self._cache[key] = {
                k: (
                    [t.to(device=device, dtype=dtype) for t in v]
                    if isinstance(v, list)
                    else v.to(device=device, dtype=dtype if v.is_floating_point() else v.dtype)
                )
                for k, v in self._master.items()
            }
        return self._cache[key]

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_cache"] = {}
        return state

    def _phase_sums(self, weight: torch.Tensor, t: dict, dim: int = 0) -> torch.Tensor:
        """``Σ_{i: β_i = β_k} trig[:, i] W_i`` for every β group ``k``: ``[n_beta, Q, f_in·f_out]`` (``dim=1``:
        ``[Q, n_beta, f_in·f_out]``)."""
        cc = weight.shape[0] * weight.shape[1]
        w = weight.reshape(cc, self.n_grid).index_select(1, t["perm"]).T  # [n_grid, cc]
        trig = t["trig"]
        return torch.stack([trig[:, s:e] @ w[s:e] for s, e in self.bounds], dim)

    def _blocks(self, S: torch.Tensor, t: dict, f_in: int, f_out: int) -> list[torch.Tensor]:
        """Per-degree blocks from phase sums in shell-plan order (:mod:`s2cnn._kernel_blocks`)."""
        key = ("idx", S.device, f_in)
        idx = self._cache.get(key)
        if idx is None:
            idx = self._cache[key] = self.shells.gather_index(f_in).to(S.device)
        return shell_blocks(S, self.shells, t["W"], idx, f_in, f_out)


def _signed_trig(idx: torch.Tensor, angle: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """``trig_t(|idx| angle)`` (cos for t = 0, sin for t = 1): ``[..., n_points]``."""
    ph = idx.abs().to(torch.float64)[..., None] * angle
    return torch.where(t[..., None] == 1, torch.sin(ph), torch.cos(ph))


class RealS2KernelTransform(_RealGridKernelTransform):
    r"""S² kernel → per-degree real matrices ``K_l [f_in, (2l+1) f_out]``,
    ``K_l[c, (n, c')] = (S U ψ̂^l_{cc'})_n`` with ``ψ̂^l_n = Σ_i W_i D^l_{n0}(g_i)`` (see :mod:`s2cnn.real_basis`)."""

    def __init__(self, grid: Sequence[Sequence[float]], L: int):
        super().__init__()
        from .real_basis import s2_real_d

        self.L = L
        beta_k, a, _, perm = self._setup_groups(check_grid(grid, 2, "RealS2KernelTransform"), with_gamma=False)
        n = torch.arange(-(L - 1), L)
        tn = (n < 0).long()
        ws = []
        for l in range(L):
            sig = s2_real_d(l, beta_k)  # [a, t, k]
            nl = torch.arange(-l, l + 1)
            w = sig[nl + l, (nl < 0).long()]  # [n, k]
            w = w * torch.where(nl < 0, -1.0, 1.0).to(torch.float64)[:, None]  # S
            ws.append(w.T.contiguous())  # [k, n]
        self.shells = ShellPlan(L, False, ws)
        trig = _signed_trig(n, a, tn)[self.shells.order]  # [2L-1 (n, plan order), n_grid]
        self._master = {"perm": perm, "trig": trig, "W": self.shells.tables}

    def forward(self, weight: torch.Tensor) -> list[torch.Tensor]:
        f_in, f_out, _ = weight.shape
        t = self.tables(weight.device, weight.dtype)
        return self._blocks(self._phase_sums(weight, t, dim=1), t, f_in, f_out)  # S [n, k, cc']


class RealSO3KernelTransform(_RealGridKernelTransform):
    r"""SO(3) kernel → per-degree real matrices ``K_l [(2l+1) f_in, (2l+1) f_out]``,
    ``K_l[(b, c), (n, c')] = (S U ψ̂^l_{cc'} U^T)_{nb}``; with ``sum_n=True``
    ``K_l[(b, c), c'] = Σ_n v_n K_l[(b, c), (n, c')]``, ``v = U e_{even}`` (the SO(3)→S² layer).

    ``(U D(g) U^T)_{nb} = Σ_{tα} ρ^l[n, b, tα, tγ](β) trig_{tα}(|n| α) trig_{tγ}(|b| γ)`` with
    ``tγ = tα ⊕ [n<0] ⊕ [b<0]``: per distinct β one GEMM of the weights against these trig products
    (``[2 (tα), 2L-1 (b), 2L-1 (n)]`` rows), then the per-degree weighted sum over β and ``tα``.
    """

    def __init__(self, grid: Sequence[Sequence[float]], L: int, sum_n: bool = False):
        super().__init__()
        from .real_basis import so3_real_d

        self.L, self.sum_n = L, sum_n
        beta_k, a, g, perm = self._setup_groups(check_grid(grid, 3, "RealSO3KernelTransform"), with_gamma=True)
        nb = beta_k.numel()
        idx = torch.arange(-(L - 1), L)
        if sum_n:
            ncol = idx[(idx >= 0) & (idx % 2 == 0)]
        else:
            ncol = idx
        ta = torch.arange(2)[:, None, None]
        bb = idx[None, :, None]
        nn_ = ncol[None, None, :]
        tg = ta ^ (nn_ < 0).long() ^ (bb < 0).long()
        trig = _signed_trig(nn_.expand(2, len(idx), len(ncol)), a, ta.expand(2, len(idx), len(ncol)))
        trig = trig * _signed_trig(bb.expand(2, len(idx), len(ncol)), g, tg)
        self._master = {"perm": perm, "trig": trig.reshape(-1, len(a))}  # [(tα, b, n), n_grid]
        rhos = [so3_real_d(l, beta_k) for l in range(L)]  # [n, b, tα, tγ, k]
        if not sum_n:
            ws = []
            for l in range(L):
                nl = torch.arange(-l, l + 1)
                N_, B_ = torch.meshgrid(nl, nl, indexing="ij")  # [n, b]
                w = torch.empty(nb, 2, 2 * l + 1, 2 * l + 1, dtype=torch.float64)  # [k, tα, b, n]
                for t_a in range(2):
                    t_g = t_a ^ (N_ < 0).long() ^ (B_ < 0).long()
                    r = rhos[l][N_ + l, B_ + l, t_a, t_g]  # [n, b, k]
                    r = r * torch.where(N_ < 0, -1.0, 1.0).to(torch.float64)[..., None]  # S
                    w[:, t_a] = r.permute(2, 1, 0)
                ws.append(w.transpose(0, 1).reshape(2 * nb, 2 * l + 1, 2 * l + 1))  # [(tα, k), b, n]
            self.shells = ShellPlan(L, True, ws)
            trig = trig.reshape(2, -1, len(a)).transpose(0, 1)[self.shells.order]  # [(b, n) plan order, tα, n_grid]
            self._master["trig"] = trig.reshape(-1, len(a))
            self._master["W"] = self.shells.tables
        else:
            # A[b, l, (k, tα, n_e)] = v_n ρ^l[n, b, tα, tγ](β_k) (v_0 = 1, v_n = √2 for even n > 0)
            ne = ncol
            v = torch.full(ne.shape, math.sqrt(2.0), dtype=torch.float64)
            v[ne == 0] = 1.0
            A = torch.zeros(2 * L - 1, L, nb, 2, ne.numel(), dtype=torch.float64)
            for l in range(L):
                sel = ne <= l
                nsel = ne[sel]
                for bi in range(-l, l + 1):
                    for t_a in range(2):
                        t_g = t_a ^ int(bi < 0)  # n ≥ 0
                        r = rhos[l][nsel + l, bi + l, t_a, t_g]  # [n_e, k]
                        A[bi + L - 1, l, :, t_a, sel] = (v[sel][:, None] * r).T
            self._master["A"] = A.reshape(2 * L - 1, L, -1)
        self.ncol = len(ncol)

    def forward(self, weight: torch.Tensor) -> list[torch.Tensor]:
        f_in, f_out, _ = weight.shape
        t = self.tables(weight.device, weight.dtype)
        L, M = self.L, 2 * self.L - 1
        if self.sum_n:
            P = self._phase_sums(weight, t)  # [k, (tα, b, n), cc']
            nb, ne = P.shape[0], self.ncol
            Pe = P.view(nb, 2, M, ne, f_in * f_out).permute(2, 0, 1, 3, 4).reshape(M, nb * 2 * ne, f_in * f_out)
            Y = torch.bmm(t["A"], Pe)  # [b, l, cc']
            out = []
            for l, yl in enumerate(Y.unbind(1)):
                out.append(yl[L - 1 - l : L + l].reshape((2 * l + 1) * f_in, f_out))
            return out
        S = self._phase_sums(weight, t, dim=1)  # [((b, n) plan order, tα), k, cc']
        return self._blocks(S.view(S.shape[0] // 2, -1, S.shape[-1]), t, f_in, f_out)
