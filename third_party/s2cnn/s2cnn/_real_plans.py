r"""Plans of the real-basis transforms: β tables and index maps per (grid, degrees, direction, engine).

The two engines and the row-buffer layout are described in :mod:`s2cnn._real`; the tables are the
real-basis Wigner functions of :mod:`s2cnn.real_basis` times the quadrature weights (analysis) or
``2l+1`` (synthesis).
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch

from .grids import quadrature_weights, s2_grid
from .real_basis import _u, s2_real_d, s2_real_num, so3_real_d, so3_real_num
from .wigner import wigner_d_pairs

__all__ = ["RealPlan", "real_plan", "use_fft", "FFT_MIN_B", "IFFT_MIN_B", "IFFT_MIN_B_CPU"]

#: SO(3) grid → coefficient steps (analyses, adjoints of syntheses) on grids with ``b >= FFT_MIN_B`` use
#: ``rfftn`` over (α, γ) plus one transposing gather; smaller grids use the DFT as two GEMMs (faster there).
FFT_MIN_B = 20
#: the same for coefficient → grid steps (``irfftn`` after a transposing scatter) on CUDA.  On the CPU
#: torch's ``irfftn`` makes three grid-sized temporaries and a copy even with ``out=``, whose page faults
#: cost more than the GEMMs save, so the CPU default is the GEMM engine (``IFFT_MIN_B_CPU``).
IFFT_MIN_B = 20
IFFT_MIN_B_CPU = 1 << 30


def _mu_groups(L: int, n: int | None = None) -> list[tuple[int, int]]:
    """``μ`` ranges of the β-quadrature groups of the GEMM engine: narrow at high ``μ``, ~8 groups."""
    if n is None:
        n = max(1, min(L, 8 if L > 12 else 4 if L > 4 else 1))
    edges = [round(L * (1 - math.sqrt(1 - k / n))) for k in range(n + 1)]
    edges[-1] = L
    return [(s, e) for s, e in zip(edges[:-1], edges[1:]) if e > s]


def _index_groups(mus: torch.Tensor) -> list[tuple[int, int]]:
    """Index ranges of an ascending list of ``μ`` values, ~4 groups (the GEMM plans have two parity classes)."""
    n = mus.numel()
    if n == 0:
        return []
    return _mu_groups(n, max(1, min(n, 4 if n > 6 else 2 if n > 2 else 1)))


class RealPlan:
    """Tables and index maps of one transform on a ``2b``-grid with degrees ``< L`` (analysis or synthesis).

    Engines: ``"gemm"`` (S² and small SO(3) grids; trig matrices ``MA``/``MG`` ``[2L, 2b]``, analysis
    rows carrying ``1/(2b)``) and ``"fft"`` (large SO(3) grids; complex slots ``(m, ν)``,
    ``m ∈ (-L, L)``, ``0 ≤ ν < L`` of the ``rfftn`` half spectrum, ``fft_index`` their flat positions).
    ``groups[g] = (p0, p1, r0, r1, R)``: batch items ``[p0, p1)`` of the β ``bmm`` (GEMM: data rows
    ``m' ∈ [p0, p1)``; FFT: slots), rows ``[r0, r1)`` of the row buffer, ``R`` table rows per item;
    ``tables[g]`` ``[P, R, J]``.  Row buffer: ``n_rows`` rows ``(item, table row)``, each ``nt`` columns
    per sample (``tγ`` / real-imaginary); a *base row* is ``(item, table row, column)``.
    The coefficient map is a sparse ``M [K, n_base]`` (COO ``mk, mb, mw``): analysis ``coef = M · rows``,
    synthesis ``rows = M^T · coef``; the adjoint direction uses the same ``M`` with the per-base-row
    factors ``adj`` (FFT: the half-spectrum weights of the ``rfftn``/``irfftn`` adjoints).
    """

    kind: str
    engine: str

    def _finish(self, mk: torch.Tensor, mb: torch.Tensor, mw: torch.Tensor, adj: torch.Tensor | None = None) -> None:
        K, L = self.K, self.L
        self.mk, self.mb, self.mw = mk, mb, mw
        self.adj = adj
        self._deg_of = torch.repeat_interleave(torch.arange(L), torch.tensor(self.deg_sizes))
        self._bmaps: dict = {}
        self.device = torch.device("cpu")
        self.dtype = torch.float64
        assert torch.bincount(mk, minlength=K).min() >= 1, "a coefficient without rows"

    def to(self, device: torch.device | str, dtype: torch.dtype) -> RealPlan:
        new = object.__new__(RealPlan)
        new.__dict__.update(self.__dict__)
        for name in ("MA", "MG"):
            t = getattr(self, name, None)
            if t is not None:
                setattr(new, name, t.to(device=device, dtype=dtype))
        if getattr(self, "fft_index", None) is not None:
            new.fft_index = self.fft_index.to(device)
        new.tables = [t.to(device=device, dtype=dtype) for t in self.tables]
        new._bmaps = {}
        new.device, new.dtype = torch.device(device), dtype
        return new

    def maps(self, B: int, chunks: tuple[int, ...]) -> tuple:
        """CSR gathers for batch ``B`` in sample chunks ``chunks`` (cached per ``(B, chunks)``).

        Coefficient rows (of ``C`` channels) are ordered ``(l, B_i, local)``.  The row buffer holds the
        chunks one after the other, chunk ``k`` (``b_k`` samples) as ``[n_base, b_k]`` rows of ``C``.
        Returns ``((idx, offsets, w) rows → coefficients, [(idx, offsets, w) coefficients → rows per chunk])``
        for :func:`torch.nn.functional.embedding_bag`; the weights include ``adj`` in the plan's adjoint direction.
        """
        key = (B, chunks)
        m = self._bmaps.get(key)
        if m is not None:
            return m
        K, nb = self.K, self.n_base
        deg = self._deg_of
        off = torch.tensor(self.deg_offsets[:-1])[deg]
        size = torch.tensor(self.deg_sizes)[deg]
        local = torch.arange(K) - off
        bsz = torch.tensor(chunks)
        start = torch.cumsum(bsz, 0) - bsz
        chunk_of = torch.repeat_interleave(torch.arange(len(chunks)), bsz)
        bi = torch.arange(B)
        bl = bi - start[chunk_of]
        mk, mb = self.mk, self.mb
        adj = self.adj if self.adj is not None else torch.ones(nb, dtype=torch.float64)
        wc = self.mw * (adj[mb] if not self.analysis else 1.0)  # rows → coefficients
        wr = self.mw * (adj[mb] if self.analysis else 1.0)  # coefficients → rows
        # rows → coefficients: target (k, B_i), source (chunk, base, b_local)
        tgt = B * off[mk][:, None] + bi[None, :] * size[mk][:, None] + local[mk][:, None]  # [nnz, B]
        src = (nb * start)[chunk_of][None, :] + mb[:, None] * bsz[chunk_of][None, :] + bl[None, :]
        tgt, order = tgt.reshape(-1).sort(stable=True)
        c_idx = src.reshape(-1)[order]
        c_w = wc[:, None].expand(-1, B).reshape(-1)[order]
        c_off = torch.searchsorted(tgt, torch.arange(K * B))
        dev, dt = self.device, self.dtype
        c_map = (c_idx.to(dev), c_off.to(dev), c_w.to(device=dev, dtype=dt))
        per_chunk = []
        for s0, bk in zip(start.tolist(), chunks):
            bb = torch.arange(s0, s0 + bk)
            rt = (mb[:, None] * bk + (bb - s0)[None, :]).reshape(-1)  # target (base, b_local)
            rs = (B * off[mk][:, None] + bb[None, :] * size[mk][:, None] + local[mk][:, None]).reshape(-1)
            rt, order = rt.sort(stable=True)
            r_w = wr[:, None].expand(-1, bk).reshape(-1)[order]
            r_off = torch.searchsorted(rt, torch.arange(nb * bk))
            per_chunk.append((rs[order].to(dev), r_off.to(dev), r_w.to(device=dev, dtype=dt)))
        m = (c_map, per_chunk)
        if len(self._bmaps) >= 4:
            self._bmaps.pop(next(iter(self._bmaps)))
        self._bmaps[key] = m
        return m


def _common(plan: RealPlan, kind: str, b: int, L: int, analysis: bool) -> None:
    if not 1 <= L <= b:
        raise ValueError(f"need 1 <= L <= b, got b={b}, L={L}")
    plan.kind, plan.b, plan.L, plan.analysis = kind, b, L, analysis
    so3 = kind == "so3"
    plan.K = so3_real_num(L) if so3 else s2_real_num(L)
    plan.deg_offsets = [so3_real_num(l) if so3 else l * l for l in range(L + 1)]
    plan.deg_sizes = [(2 * l + 1) ** 2 if so3 else 2 * l + 1 for l in range(L)]
    plan.groups, plan.tables = [], []
    plan.MA = plan.MG = plan.fft_index = None


def _parity_order(L: int) -> torch.Tensor:
    """Degrees ``μ < L``, even ones first (the radix-2 split of the synthesis GEMMs needs them contiguous)."""
    mu = torch.arange(L)
    return torch.cat([mu[mu % 2 == 0], mu[mu % 2 == 1]])


def _build_gemm(kind: str, b: int, L: int, analysis: bool) -> RealPlan:
    """DFT-as-GEMM engine: real positions ``(μ, tα)`` × ``(ν, tγ)`` (see the module docstring).

    SO(3) positions are ordered with the even ``μ`` (``ν``) first: row ``i`` of ``MA`` is
    ``trig_{i mod 2}(μ_{⌊i/2⌋} α)`` with ``μ = _parity_order(L)``, so the rows of even ``μ`` form the
    prefix ``[0, n_even)`` used by :func:`_fold_mm`; the β groups are ``μ`` ranges within each parity.
    """
    plan = object.__new__(RealPlan)
    _common(plan, kind, b, L, analysis)
    plan.engine = "gemm"
    so3 = kind == "so3"
    J = 2 * b
    beta, alpha = s2_grid(b)
    order = _parity_order(L) if so3 else torch.arange(L)
    mu = order.to(torch.float64)
    ang = mu[:, None] * alpha[None, :]
    M = torch.stack([torch.cos(ang), torch.sin(ang)], 1).reshape(2 * L, J)
    M[1] = 0.0  # sin(0·α); μ = 0 comes first in both orders
    if analysis:
        M = M / J
    plan.MA = M
    plan.MG = M.clone() if so3 else None
    plan.n_even = 2 * int((order % 2 == 0).sum())  # rows of even μ (SO(3))
    wj = quadrature_weights(b) if analysis else None
    nt = 2 if so3 else 1  # tγ columns per (item, table row)
    nslot = 2 if so3 else 1
    # μ ranges (as index ranges into `order`) of the β groups
    if so3:
        ne = plan.n_even // 2
        ranges = [(s_, e_) for s_, e_ in _index_groups(order[:ne])] + [
            (s_ + ne, e_ + ne) for s_, e_ in _index_groups(order[ne:])
        ]
    else:
        ranges = _mu_groups(L)
    # all items of all groups at once: group start row, rows per item, first degree, μ, tα, ν, item index
    g_row, g_R, g_l0, i_mu, i_ta, i_nu, i_p, i_g = [], [], [], [], [], [], [], []
    row = 0
    for g, (i0, i1) in enumerate(ranges):
        mu0 = int(order[i0:i1].min())
        m0, m1 = 2 * i0, 2 * i1
        R = (L - mu0) * nslot
        if so3:  # items (μ, tα, ν)
            P = (m1 - m0) * L
            pi = torch.arange(m0, m1).repeat_interleave(L)
            pmu, pta = order[pi // 2], pi % 2
            pn = order.repeat(m1 - m0)
        else:  # items (μ, tα)
            P = m1 - m0
            pi = torch.arange(m0, m1)
            pmu, pta = pi // 2, pi % 2
            pn = torch.zeros(P, dtype=torch.int64)
        plan.groups.append((m0, m1, row, row + P * R, R))
        g_row.append(torch.full((P,), row))
        g_R.append(torch.full((P,), R))
        g_l0.append(torch.full((P,), mu0))
        i_mu.append(pmu)
        i_ta.append(pta)
        i_nu.append(pn)
        i_p.append(torch.arange(P))
        i_g.append(torch.full((P,), g))
        row += P * R
    g_row, g_R, g_l0 = torch.cat(g_row), torch.cat(g_R), torch.cat(g_l0)
    i_mu, i_ta, i_nu, i_p = torch.cat(i_mu), torch.cat(i_ta), torch.cat(i_nu), torch.cat(i_p)
    flat = torch.zeros(row * J, dtype=torch.float64)  # all tables, group after group, [P, R, J] each
    coefs, bases, signs = [], [], []
    for l in range(L):
        d_l = so3_real_d(l, beta) if so3 else s2_real_d(l, beta)
        scale = wj if analysis else torch.full((J,), 2.0 * l + 1.0, dtype=torch.float64)
        for slot in range(nslot):
            ok = (g_l0 <= l) & (i_mu <= l) & ((i_ta == 0) | (i_mu > 0))
            if so3:
                a = i_mu if slot == 0 else -i_mu  # slot = [a < 0]
                bneg = i_ta ^ slot  # reference column tγ = 0: [b<0] = tα ⊕ slot
                bb = torch.where(bneg == 1, -i_nu, i_nu)
                ok = ok & (i_nu <= l) & ((bneg == 0) | (i_nu > 0))
                if slot == 1:
                    ok = ok & (i_mu > 0)
            else:
                a = torch.where(i_ta == 1, -i_mu, i_mu)
            p = ok.nonzero().reshape(-1)
            if p.numel() == 0:
                continue
            ref = d_l[a[p] + l, bb[p] + l, i_ta[p], 0] if so3 else d_l[a[p] + l, i_ta[p]]
            r_item = g_row[p] + i_p[p] * g_R[p] + (l - g_l0[p]) * nslot + slot  # (item, table row)
            flat.view(-1, J)[r_item] = ref * scale
            for tg in range(nt):
                if so3:
                    bt = torch.where((i_ta[p] ^ slot ^ tg) == 1, -i_nu[p], i_nu[p])
                    if tg == 1:  # the tγ = 1 column shares the table up to a constant sign
                        other = d_l[a[p] + l, bt + l, i_ta[p], 1]
                        big = ref.abs().argmax(1, keepdim=True)
                        ratio = (other.gather(1, big) / ref.gather(1, big)).reshape(-1)
                        valid = i_nu[p] > 0  # sin(0·γ) = 0: no data
                        ratio = torch.where(valid, ratio, torch.ones_like(ratio))
                        assert torch.allclose(other[valid], ratio[valid, None] * ref[valid], atol=1e-12, rtol=0)
                        assert torch.allclose(ratio.abs(), torch.ones_like(ratio))
                        sgn = ratio
                    else:
                        valid = torch.ones(p.numel(), dtype=torch.bool)
                        sgn = torch.ones(p.numel(), dtype=torch.float64)
                    coefs.append((so3_real_num(l) + (a[p] + l) * (2 * l + 1) + bt + l)[valid])
                else:
                    valid = torch.ones(p.numel(), dtype=torch.bool)
                    sgn = torch.ones(p.numel(), dtype=torch.float64)
                    coefs.append((l * l + a[p] + l)[valid])
                bases.append((r_item * nt + tg)[valid])
                signs.append(sgn[valid])
    for _m0, _m1, r0, r1, R in plan.groups:
        plan.tables.append(flat[r0 * J : r1 * J].view(-1, R, J))
    plan.n_rows, plan.nt, plan.n_base = row, nt, row * nt
    plan._finish(torch.cat(coefs), torch.cat(bases), torch.cat(signs))
    return plan


def _build_fft(b: int, L: int, analysis: bool) -> RealPlan:
    r"""FFT engine (SO(3)): complex slots ``(m, ν)`` of ``rfftn`` over ``(α, γ)``, tables
    ``w_j d^l_{mν}(β_j)`` (analysis) or ``(2l+1) d^l_{mν}(β_j)`` (synthesis) per slot, slots grouped by
    ``k = max(|m|, ν)`` (rows ``l ≥`` the group's smallest ``k``), in memory order within a group.  ``M`` links
    the real coefficients to the real and imaginary parts of the slot rows:

    * analysis: ``X^l_{mn} = Σ_j w_j d^l_{mn} F_{mn}(β_j)``, the slot row for ``n ≥ 0`` and
      ``(-1)^{m-n} conj(X^l_{-m,-n})`` for ``n < 0``; ``F^l = U X^l U^T`` (real);
    * synthesis: slot ``(m, ν)`` gets ``f̂^l_{mν} = (U^† F^l conj(U))_{mν}``; ``irfftn`` completes the
      half spectrum (the ``ν = 0`` column is Hermitian in ``m``).
    """
    plan = object.__new__(RealPlan)
    _common(plan, "so3", b, L, analysis)
    plan.engine = "fft"
    J = 2 * b
    beta, _ = s2_grid(b)
    M, Nn = torch.meshgrid(torch.arange(-(L - 1), L), torch.arange(L), indexing="ij")
    M, Nn = M.reshape(-1), Nn.reshape(-1)
    k = torch.maximum(M.abs(), Nn)
    width = max(1, math.ceil(L / 8))
    # groups of ``k`` ranges; within a group, slots in memory order (the transposing gather then reads each
    # cache line of the spectrum for neighbouring slots together)
    pos = torch.remainder(M, J) * (b + 1) + Nn
    order = torch.sort((k // width) * (J * (b + 1)) + pos, stable=True).indices
    sm, sn, sk = M[order], Nn[order], k[order]
    P = sm.numel()
    plan.fft_index = torch.remainder(sm, J) * (b + 1) + sn
    d = wigner_d_pairs(L, beta, sm, sn)  # [P, J, L]
    if analysis:
        d = d * quadrature_weights(b)[None, :, None]
    else:
        d = d * (2.0 * torch.arange(L, dtype=torch.float64) + 1.0)[None, None, :]
    kl = (sk // width * width).tolist()  # each group's smallest k
    row_of = torch.empty(P, dtype=torch.int64)  # first row (l = l0) of each slot
    l0_of = torch.empty(P, dtype=torch.int64)
    start = row = 0
    while start < P:
        l0 = kl[start]
        stop = start
        while stop < P and kl[stop] < l0 + width:
            stop += 1
        R = L - l0
        plan.groups.append((start, stop, row, row + (stop - start) * R, R))
        plan.tables.append(d[start:stop, :, l0:].permute(0, 2, 1).contiguous())  # [P, R, J]
        row_of[start:stop] = row + torch.arange(stop - start) * R
        l0_of[start:stop] = l0
        row += (stop - start) * R
        start = stop
    plan.n_rows, plan.nt, plan.n_base = row, 2, 2 * row
    # coefficient map
    mk, mb, mw = [], [], []
    for l in range(L):
        mu_, u0, u1 = _u(l)
        sel = (sk <= l).nonzero().reshape(-1)
        m_s, n_s = sm[sel], sn[sel]
        base_re = 2 * (row_of[sel] + (l - l0_of[sel]))  # (row, ri = 0); ri = 1 is base_re + 1
        sgn_mn = (1 - 2 * ((m_s - n_s).abs() % 2)).to(torch.complex128)
        for sa in (1, -1):
            for sb in (1, -1):
                a = sa * m_s.abs()
                bb = sb * n_s
                ok = ((sa == 1) | (m_s != 0)) & ((sb == 1) | (n_s != 0))
                if not ok.any():
                    continue
                ai, bi = a + l, bb + l
                ua_d = torch.where(m_s >= 0, u0[ai], u1[ai])  # U[a, m_s]
                ua_m = torch.where(m_s > 0, u1[ai], u0[ai])  # U[a, -m_s]
                c_d = ua_d * u0[bi]  # U[a, m_s] U[b, ν_s]
                c_m = torch.where(n_s > 0, ua_m * u1[bi] * sgn_mn, torch.zeros_like(c_d))  # mirrored n = -ν_s
                coef = so3_real_num(l) + ai * (2 * l + 1) + bi
                if analysis:  # F_ab += Re[c_d (R + iI) + c_m (R - iI)]
                    w_re, w_im = (c_d + c_m).real, (c_m - c_d).imag
                else:  # slot value f̂_{m_s ν_s} = Σ conj(U[a, m_s] U[b, ν_s]) F_ab
                    w_re, w_im = c_d.conj().real, c_d.conj().imag
                for ri, w in ((0, w_re), (1, w_im)):
                    nz = ok & (w.abs() > 1e-12)
                    mk.append(coef[nz])
                    mb.append(base_re[nz] + ri)
                    mw.append(w[nz])
    # adjoint half-spectrum weights per base row: rfftn → irfftn with interior ν halved; irfftn → 2·rfftn
    nu_of_row = torch.repeat_interleave(sn, torch.tensor([plan.groups[g][4] for g in _group_of(plan, P)]))
    half = torch.full(nu_of_row.shape, 0.5 if analysis else 2.0, dtype=torch.float64)
    half[nu_of_row == 0] = 1.0
    adj = half.repeat_interleave(2)
    plan._finish(torch.cat(mk), torch.cat(mb), torch.cat(mw), adj)
    return plan


def _group_of(plan: RealPlan, P: int) -> list[int]:
    out = []
    for g, (p0, p1, _, _, _) in enumerate(plan.groups):
        out += [g] * (p1 - p0)
    assert len(out) == P
    return out


def use_fft(kind: str, b: int, to_grid: bool = False, device: torch.device | None = None) -> bool:
    """Whether a grid → coefficient (or, ``to_grid``, coefficient → grid) step on a ``2b``-grid uses the FFT engine."""
    if kind != "so3":
        return False
    if to_grid:
        return b >= (IFFT_MIN_B_CPU if device is None or device.type == "cpu" else IFFT_MIN_B)
    return b >= FFT_MIN_B


def _master_plan(kind: str, b: int, L: int, analysis: bool, fft: bool) -> RealPlan:
    """A plan with float64 CPU tables (built in ~0.1–2 s for b ≤ 50; not cached: see :func:`_device_plan`)."""
    return _build_fft(b, L, analysis) if fft else _build_gemm(kind, b, L, analysis)


@lru_cache(maxsize=256)
def _device_plan(
    kind: str, b: int, L: int, analysis: bool, fft: bool, device: torch.device, dtype: torch.dtype
) -> RealPlan:
    return _master_plan(kind, b, L, analysis, fft).to(device, dtype)


def real_plan(
    kind: str, b: int, L: int, analysis: bool, device: torch.device, dtype: torch.dtype, to_grid: bool = False
) -> RealPlan:
    """Cached plan on ``device`` / ``dtype`` for a grid → coefficient step (or ``to_grid``), engine by :func:`use_fft`."""
    return _device_plan(kind, b, L, analysis, use_fft(kind, b, to_grid, torch.device(device)), device, dtype)
