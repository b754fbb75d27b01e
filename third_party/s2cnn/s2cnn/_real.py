r"""Real-basis harmonic engine of the layers (internal; the public transforms are in :mod:`s2cnn.fft`).

Real signals have real coefficients in a *real basis*.  Per degree ``l`` let ``U`` be the unitary
matrix with rows (real index ``a = -l … l``)

* ``a = 0``: ``e_0``;
* ``a = +μ``: ``(e_μ + (-1)^μ e_{-μ}) / √2`` ("cos" type);
* ``a = -μ``: ``-i (e_μ - (-1)^μ e_{-μ}) / √2`` ("sin" type).

The coefficients ``F^l = U f̂^l U^T`` (SO(3)) and ``F^l = U f̂^l`` (S²) of a real signal are real
(the reality condition ``f̂_{-m,-n} = (-1)^{m-n} conj(f̂_{mn})`` is exactly what makes them so),
``U U^T = S = diag(±1)`` (``-1`` on the sin rows), and the layer products become real:
``ĥ = f̂ ψ̂^† ⟺ H = F (S Ψ)^T`` with ``Ψ = U ψ̂ U^T`` — one real GEMM per degree with half the
flops of the complex one.

Transforms (SO(3); S² is the same without γ).  With ``trig_0 = cos``, ``trig_1 = sin`` the Fourier
data ``X_{tα tγ, μν}(β_j) = (2b)^{-2} Σ_{k,q} x(β_j, α_k, γ_q) trig_{tα}(μ α_k) trig_{tγ}(ν γ_q)``
determine

    ``F^l_{ab} = Σ_j ρ^l_{ab}(β_j) w_j X_{tα tγ, |a||b|}(β_j)`` summed over the two ``(tα, tγ)`` with
    ``tα ⊕ tγ = [a<0] ⊕ [b<0]``,

where ``ρ^l_{ab,tα}(β) = Σ U_{am} U_{bn} d^l_{mn}(β) c_{tα tγ}(m, n)`` is real (``c`` the
coefficients of ``e^{-i(mα+nγ)}`` on the trig products, :func:`so3_real_d`).  Synthesis is the same
with ``(2l+1)`` in place of ``w_j``.  Two engines compute the (α, γ) part, chosen per direction and
grid size (:func:`use_fft`); both feed grouped β ``bmm`` against cached tables and a sparse signed
gather (one ``embedding_bag``) to/from the coefficient layout of the products — per degree a block
``[B, 2l+1 (a), 2l+1 (b), C]`` (rows of ``C`` channels), degrees concatenated:

* GEMM engine (S², small SO(3) grids, and the coefficient → grid direction on the CPU): the DFTs are
  two GEMMs whose transposed outputs move the frequency index first, ``[N, J, A, G] → [n', N·J·A]
  → [m', n', N, J]`` (positions ``(μ, tα)``, ``(ν, tγ)``, even ``μ``/``ν`` first); the β ``bmm``
  runs over ``(m', ν)`` with the two ``tγ`` as columns (they share a table up to a constant sign,
  applied in the gather).  Synthesis runs backwards, its GEMMs moving the frequencies last and split
  into even/odd frequencies (:func:`_fold_mm`: half the flops).  No transposing copies at all.
* FFT engine (grid → coefficients on SO(3) grids with ``b ≥ FFT_MIN_B``): ``rfftn`` over (α, γ),
  one transposing gather of the needed complex slots ``(m, ν)``, β ``bmm`` with one real table
  ``w_j d^l_{mν}(β_j)`` per slot (half the flops and table bytes of the GEMM engine), de-interleave.

Every step's adjoint is the other direction's step with the same tables (plus the half-spectrum
weights of the FFT adjoints), so the backward passes are transforms too: :class:`_Analysis` and
:class:`_Synthesis` are each other's autograd backward (with transposed plans), hence differentiable
to any order.  On the CPU the batch is processed in sample chunks of about ``CHUNK_BYTES`` so that a
chunk's intermediates stay in the caches, and all intermediates live in a per-thread workspace that is
reused across calls (:func:`workspace_buffer`; fresh multi-MB blocks cost page faults and zero-filling
that, on the benchmark VM, exceeded the arithmetic).
"""

from __future__ import annotations

import math
import threading
from functools import lru_cache
from typing import Any

import torch

from .grids import quadrature_weights, s2_grid
from .wigner import wigner_d, wigner_d_pairs

__all__ = [
    "so3_real_d",
    "s2_real_d",
    "real_plan",
    "so3_to_real",
    "so3_from_real",
    "s2_to_real",
    "s2_from_real",
    "so3_real_num",
    "s2_real_num",
]

_R2 = 1.0 / math.sqrt(2.0)


# --------------------------------------------------------------------------------------------
# The real basis
# --------------------------------------------------------------------------------------------


def _u(l: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``|a|`` and ``U[a, +|a|]``, ``U[a, -|a|]`` (complex128, ``[2l+1]`` each; ``U[0, -0] := 0``)."""
    a = torch.arange(-l, l + 1)
    mu = a.abs()
    sg = (1 - 2 * (mu % 2)).to(torch.float64)
    one = torch.ones(2 * l + 1, dtype=torch.complex128)
    u0 = torch.where(a > 0, _R2 * one, torch.where(a < 0, -1j * _R2 * one, one))
    u1 = torch.where(a > 0, sg * _R2 * one, torch.where(a < 0, 1j * sg * _R2 * one, 0 * one))
    return mu, u0, u1


def so3_real_d(l: int, beta: torch.Tensor) -> torch.Tensor:
    r"""``ρ^l[a, b, tα, tγ, k] = Σ_{m,n} U_{am} U_{bn} d^l_{mn}(β_k) c_{tα tγ}(m, n)``, float64.

    ``c`` are the coefficients of ``e^{-i(mα + nγ)} = Σ c_{tα tγ} trig_{tα}(|m|α) trig_{tγ}(|n|γ)``:
    ``c_00 = 1``, ``c_01 = -i s_n``, ``c_10 = -i s_m``, ``c_11 = -s_m s_n`` (``s`` the signs).
    Only ``tα ⊕ tγ = [a<0] ⊕ [b<0]`` is non-zero; the real-basis Wigner matrix is
    ``(U D(α,β,γ) U^T)_{ab} = Σ_{tα,tγ} ρ^l[a,b,tα,tγ](β) trig_{tα}(|a|α) trig_{tγ}(|b|γ)``.
    Every ``U`` entry is real (``a ≥ 0``) or imaginary (``a < 0``) and every ``c`` real or imaginary, so the
    sum is evaluated in real arithmetic: ``Re(u_a u_b c) = Re(u_a u_b) Re(c) - Im(u_a u_b) Im(c)``.
    """
    beta = torch.as_tensor(beta, dtype=torch.float64).reshape(-1)
    d = wigner_d(l, beta).permute(1, 2, 0)  # [m, n, k]
    mu, u0, u1 = _u(l)
    out = torch.zeros(2 * l + 1, 2 * l + 1, 2, 2, beta.numel(), dtype=torch.float64)
    for ua, m in ((u0, mu), (u1, -mu)):
        sm = torch.sign(m).to(torch.float64)[:, None]
        for ub, n in ((u0, mu), (u1, -mu)):
            sn = torch.sign(n).to(torch.float64)[None, :]
            uu = ua[:, None] * ub[None, :]
            re, im = uu.real, uu.imag
            dd = d[m[:, None] + l, n[None, :] + l]  # [a, b, k]
            out[:, :, 0, 0] += re[..., None] * dd  # c = 1
            out[:, :, 0, 1] += (im * sn)[..., None] * dd  # Re(uu · (-i s_n)) = Im(uu) s_n
            out[:, :, 1, 0] += (im * sm)[..., None] * dd
            out[:, :, 1, 1] -= (re * (sm * sn))[..., None] * dd
    return out


def s2_real_d(l: int, beta: torch.Tensor) -> torch.Tensor:
    r"""``σ^l[a, t, k] = Σ_m U_{am} d^l_{m0}(β_k) c_t(m)`` (``e^{-imα} = Σ_t c_t trig_t(|m|α)``), float64."""
    beta = torch.as_tensor(beta, dtype=torch.float64).reshape(-1)
    d = wigner_d(l, beta).to(torch.complex128)[:, :, l]  # [k, m]
    mu, u0, u1 = _u(l)
    out = torch.zeros(2 * l + 1, 2, beta.numel(), dtype=torch.complex128)
    for ua, m in ((u0, mu), (u1, -mu)):
        sm = torch.sign(m).to(torch.complex128)[:, None]
        w = ua[:, None] * d[:, m + l].T
        out[:, 0] += w
        out[:, 1] += w * (-1j * sm)
    assert out.imag.abs().max() < 1e-12
    return out.real.contiguous()


def so3_real_num(L: int) -> int:
    """Number of real SO(3) coefficients of degrees ``< L``: ``Σ (2l+1)²``."""
    return L * (4 * L * L - 1) // 3


def s2_real_num(L: int) -> int:
    """Number of real S² coefficients of degrees ``< L``: ``L²``."""
    return L * L


def so3_to_real(c: torch.Tensor, L: int) -> list[torch.Tensor]:
    """Full-layout-list complex SO(3) coefficients ``[..., 2l+1, 2l+1]`` → real ``U f̂ U^T`` (reference helper)."""
    out = []
    for l in range(L):
        Um = _u_matrix(l).to(c[l].dtype if torch.is_complex(c[l]) else torch.complex128)
        out.append((Um @ c[l] @ Um.T).real)
    return out


def so3_from_real(F: list[torch.Tensor]) -> list[torch.Tensor]:
    """Inverse of :func:`so3_to_real`: ``f̂ = U^† F conj(U)``."""
    out = []
    for l, Fl in enumerate(F):
        Um = _u_matrix(l).to(torch.complex128 if Fl.dtype == torch.float64 else torch.complex64)
        out.append(Um.conj().T @ Fl.to(Um.dtype) @ Um.conj())
    return out


def s2_to_real(c: list[torch.Tensor]) -> list[torch.Tensor]:
    """Per-degree complex S² coefficients ``[..., 2l+1]`` → real ``U f̂``."""
    return [(c[l].to(torch.complex128) @ _u_matrix(l).T).real for l in range(len(c))]


def s2_from_real(F: list[torch.Tensor]) -> list[torch.Tensor]:
    """Inverse of :func:`s2_to_real`."""
    return [F[l].to(torch.complex128) @ _u_matrix(l).conj() for l in range(len(F))]


def _u_matrix(l: int) -> torch.Tensor:
    mu, u0, u1 = _u(l)
    Um = torch.zeros(2 * l + 1, 2 * l + 1, dtype=torch.complex128)
    a = torch.arange(2 * l + 1)
    Um[a, mu + l] += u0
    Um[a, -mu + l] += u1
    return Um


# --------------------------------------------------------------------------------------------
# Plans
# --------------------------------------------------------------------------------------------

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
    ``w_j d^l_{mν}(β_j)`` (analysis) or ``(2l+1) d^l_{mν}(β_j)`` (synthesis) per slot, slots sorted and
    grouped by ``k = max(|m|, ν)`` (rows ``l ≥`` the group's smallest ``k``).  ``M`` links the real
    coefficients to the real and imaginary parts of the slot rows:

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
    order = torch.sort(k, stable=True).indices
    sm, sn, sk = M[order], Nn[order], k[order]
    P = sm.numel()
    plan.fft_index = torch.remainder(sm, J) * (b + 1) + sn
    d = wigner_d_pairs(L, beta, sm, sn)  # [P, J, L]
    if analysis:
        d = d * quadrature_weights(b)[None, :, None]
    else:
        d = d * (2.0 * torch.arange(L, dtype=torch.float64) + 1.0)[None, None, :]
    width = max(1, math.ceil(L / 8))
    kl = sk.tolist()
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


# --------------------------------------------------------------------------------------------
# Workspace: the transforms' internal temporaries are reused across calls (CPU)
# --------------------------------------------------------------------------------------------


#: advise transparent huge pages (``madvise(MADV_HUGEPAGE)``, Linux) for the transforms' own CPU buffers of
#: at least ``HUGE_PAGE_MIN_BYTES``: outputs that large are fresh ``mmap`` regions whose first touch costs a
#: page fault and a zero-fill per 4 KiB (measured: 93 ms per 209 MB here, 33 ms with huge pages).  A hint
#: on memory the library allocated itself; ``False`` disables it.
HUGE_PAGES = True
HUGE_PAGE_MIN_BYTES = 32 << 20
_MADV_HUGEPAGE = 14
_madvise = None


def _advise_huge(t: torch.Tensor) -> None:
    """``madvise(MADV_HUGEPAGE)`` on the 2-MiB-aligned interior of ``t``'s (fresh, untouched) memory."""
    global _madvise
    if _madvise is None:
        try:
            import ctypes
            import ctypes.util
            import sys

            if not sys.platform.startswith("linux"):
                raise OSError("not Linux")
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
            libc.madvise.restype = ctypes.c_int
            _madvise = libc.madvise
        except (OSError, AttributeError):
            _madvise = False
    if not _madvise:
        return
    start, nbytes = t.data_ptr(), t.numel() * t.element_size()
    page = 2 << 20
    a = (start + page - 1) & ~(page - 1)
    e = (start + nbytes) & ~(page - 1)
    if e > a:
        _madvise(a, e - a, _MADV_HUGEPAGE)


def _new_empty(
    shape: int | tuple[int, ...], like: torch.Tensor, dtype: torch.dtype | None = None, min_bytes: int | None = None
) -> torch.Tensor:
    """``torch.empty`` on ``like``'s device, with the huge-page hint for large CPU buffers."""
    t = torch.empty(shape, dtype=like.dtype if dtype is None else dtype, device=like.device)
    limit = HUGE_PAGE_MIN_BYTES if min_bytes is None else min_bytes
    if HUGE_PAGES and t.device.type == "cpu" and t.numel() * t.element_size() >= limit:
        _advise_huge(t)
    return t


class _Workspace(threading.local):
    def __init__(self):
        self.bufs: dict = {}


_WS = _Workspace()


def workspace_buffer(
    name: str, shape: tuple[int, ...], like: torch.Tensor, dtype: torch.dtype | None = None, zero: bool = False
) -> torch.Tensor:
    """A per-thread reusable CPU buffer of ``shape`` (contents undefined, or zero-filled when first created
    with ``zero=True``), or a fresh tensor on other devices.

    Freshly allocated large blocks cost the kernel a page fault and a zero-fill per page (measured
    ≈ 0.3–0.45 s per GB on the 2-core VM), more than the GEMMs that fill them at batch 8.  Only
    temporaries that never leave a transform use this (never outputs or tensors saved for backward);
    :func:`s2cnn.perf.clear_workspace` releases the memory.
    """
    dtype = like.dtype if dtype is None else dtype
    numel = math.prod(shape)
    if like.device.type != "cpu":
        return (torch.zeros if zero else torch.empty)(shape, dtype=dtype, device=like.device)
    key = (name, dtype)
    buf = _WS.bufs.get(key)
    if buf is None or buf.numel() < numel:
        _WS.bufs.pop(key, None)
        buf = _new_empty(numel, like, dtype, min_bytes=4 << 20)  # long-lived: huge pages also spare the TLB
        if zero:
            buf.zero_()
        _WS.bufs[key] = buf
    return buf[:numel].view(shape)


def clear_workspace() -> None:
    """Release this thread's workspace buffers."""
    _WS.bufs.clear()


# --------------------------------------------------------------------------------------------
# Core steps (no autograd inside)
# --------------------------------------------------------------------------------------------

#: target size of one chunk's grid: a chunk's intermediates then stay in the caches
CHUNK_BYTES = 3 << 20


def _chunks(B: int, C: int, J: int, so3: bool, itemsize: int, device: torch.device) -> tuple[int, ...]:
    """Sample chunks ``(b_0, b_1, …)`` (all equal but maybe the last) for a grid of ``C`` channels, side ``J``."""
    if device.type != "cpu":
        return (B,)
    per = C * J ** (3 if so3 else 2) * itemsize
    bc = max(1, min(B, CHUNK_BYTES // per))
    q, r = divmod(B, bc)
    return (bc,) * q + ((r,) if r else ())


def _cplx(dtype: torch.dtype) -> torch.dtype:
    return torch.complex128 if dtype == torch.float64 else torch.complex64


def _grid_to_rows(
    x: torch.Tensor, plan: RealPlan, C: int, chunks: tuple[int, ...], relu_out: torch.Tensor | None = None
) -> torch.Tensor:
    """Grid ``[B·C, J, A(, G)]`` → row buffer ``[n_base·B, C]`` (see :meth:`RealPlan.maps`), chunk by chunk.

    With ``relu_out`` (a ReLU output of the shape of ``x``), each chunk is first multiplied by the ReLU's
    derivative ``[relu_out > 0]`` into a chunk-sized workspace: the backward of a fused ReLU without a
    grid-sized intermediate.

    GEMM engine: γ GEMM (transposed output), α GEMM, grouped β ``bmm``.  FFT engine: ``rfftn`` over
    (α, γ), one transposing gather of the slots, grouped β ``bmm``, de-interleave (real, imaginary).
    """
    J, A = x.shape[1], x.shape[-1]
    B = sum(chunks)
    rows = workspace_buffer("rows", (plan.n_base * B, C), x)
    fft = plan.engine == "fft"
    if fft:
        cdt = _cplx(x.dtype)
        norm = "forward" if plan.analysis else "backward"
    s = u = 0
    for bk in chunks:
        N = bk * C
        xk = x[s * C : (s + bk) * C]
        if relu_out is not None:
            yk, tb = relu_out[s * C : (s + bk) * C], torch.ops.aten.threshold_backward
            if x.device.type == "cpu":  # CPU chunks are small: reuse one buffer; CUDA has one chunk: allocate
                xk = tb.grad_input(xk, yk, 0, grad_input=workspace_buffer("relu_grad", xk.shape, x))
            else:
                xk = tb(xk, yk, 0)
        rk = rows[u : u + plan.n_base * bk].view(plan.n_rows, plan.nt * N)
        if fft:
            T = workspace_buffer("fftT", (N, J, J, J // 2 + 1), x, cdt)
            torch.fft.rfftn(xk, dim=(-2, -1), norm=norm, out=T)
            P = plan.fft_index.numel()
            D = workspace_buffer("fftD", (P, J, N), x, cdt)
            torch.index_select(T.view(N, J, -1).permute(2, 1, 0), 0, plan.fft_index, out=D)
            Dr = torch.view_as_real(D).view(P, J, 2 * N)
            for (p0, p1, r0, r1, R), Tg in zip(plan.groups, plan.tables):
                o = workspace_buffer("bo", (p1 - p0, R, 2 * N), x)
                torch.bmm(Tg, Dr[p0:p1], out=o)
                rk[r0:r1].view(p1 - p0, R, 2, bk, C).copy_(o.view(p1 - p0, R, bk, C, 2).permute(0, 1, 4, 2, 3))
        else:
            xf = xk.reshape(-1, A)
            if plan.MG is not None:
                MG, MA = plan.MG, plan.MA
                y1 = torch.mm(MG, xf.t(), out=workspace_buffer("y1", (MG.shape[0], xf.shape[0]), x)).view(-1, A)
                y = torch.mm(MA, y1.t(), out=workspace_buffer("y2", (MA.shape[0], y1.shape[0]), x))  # [m', (n', N, J)]
            else:
                y = torch.mm(plan.MA, xf.t(), out=workspace_buffer("y2", (plan.MA.shape[0], xf.shape[0]), x))
            cols = plan.nt * N
            for (m0, m1, r0, r1, R), Tg in zip(plan.groups, plan.tables):
                P = Tg.shape[0]
                torch.bmm(Tg, y[m0:m1].view(P, cols, J).transpose(1, 2), out=rk[r0:r1].view(P, R, cols))
        s += bk
        u += plan.n_base * bk
    return rows


#: split the synthesis GEMMs of the GEMM engine into even/odd frequencies when ``2L >= FOLD_MIN_K``
FOLD_MIN_K = 24


def _fold_mm(S: torch.Tensor, M: torch.Tensor, ne: int, out: torch.Tensor, tag: str) -> None:
    """``out = S^T M`` for trig rows ``M [2L, 2b]`` whose first ``ne`` rows have even frequency.

    The grid points ``k`` and ``k + b`` differ by π, where ``trig(μ·) `` changes sign for odd ``μ`` only:
    ``E = S_even^T M_even[:, :b]``, ``O = S_odd^T M_odd[:, :b]``, ``out[:, :b] = E + O``, ``out[:, b:] = E - O``
    — half the GEMM flops, the sums writing the output.
    """
    K, J = M.shape
    if K < FOLD_MIN_K or ne in (0, K):
        torch.mm(S.t(), M, out=out)
        return
    b = J // 2
    E = torch.mm(S[:ne].t(), M[:ne, :b], out=workspace_buffer(tag + "E", (S.shape[1], b), S))
    O = torch.mm(S[ne:].t(), M[ne:, :b], out=workspace_buffer(tag + "O", (S.shape[1], b), S))
    torch.add(E, O, out=out[:, :b])
    torch.sub(E, O, out=out[:, b:])


def _coeffs_to_grid(
    coef: torch.Tensor, plan: RealPlan, B: int, C: int, chunks: tuple[int, ...], relu: bool = False
) -> torch.Tensor:
    """Coefficients ``[K·B, C]`` → grid ``[B·C, J, A(, G)]``, chunk by chunk: gather rows, grouped β ``bmm``,
    then α/γ GEMMs (transposed operands) or a transposing scatter into a half spectrum and ``irfftn``,
    written straight into the output; with ``relu``, each chunk is rectified in place while it is in cache."""
    L, J = plan.L, 2 * plan.b
    so3 = plan.kind == "so3"
    out = _new_empty((B * C, J, J, J) if so3 else (B * C, J, J), coef)
    _, per_chunk = plan.maps(B, chunks)
    fft = plan.engine == "fft"
    if fft:
        cdt = _cplx(coef.dtype)
        norm = "forward" if not plan.analysis else "backward"
    s = 0
    for bk, (r_idx, r_off, r_w) in zip(chunks, per_chunk):
        N = bk * C
        rk = torch.nn.functional.embedding_bag(r_idx, coef, r_off, per_sample_weights=r_w, mode="sum")
        rk = rk.view(plan.n_rows, plan.nt * N)
        ok = out[s * C : (s + bk) * C]
        if fft:
            P = plan.fft_index.numel()
            D = workspace_buffer("fftD", (P, J, N), coef, cdt)
            Dr = torch.view_as_real(D).view(P, J, 2 * N)
            for (p0, p1, r0, r1, R), Tg in zip(plan.groups, plan.tables):
                ug = workspace_buffer("bo", (p1 - p0, R, 2 * N), coef)
                ug.view(p1 - p0, R, bk, C, 2).copy_(rk[r0:r1].view(p1 - p0, R, 2, bk, C).permute(0, 1, 3, 4, 2))
                torch.bmm(Tg.transpose(1, 2), ug, out=Dr[p0:p1])
            H = workspace_buffer(
                ("fftH", plan.b, plan.L, plan.analysis, N), (N, J, J, J // 2 + 1), coef, cdt, zero=True
            )
            H.view(N, J, -1).permute(2, 1, 0).index_copy_(0, plan.fft_index, D)
            torch.fft.irfftn(H, s=(J, J), dim=(-2, -1), norm=norm, out=ok)
        else:
            cols = plan.nt * N
            S = workspace_buffer("S", (2 * L, (L * cols if so3 else cols) * J), coef)
            for (m0, m1, r0, r1, R), Tg in zip(plan.groups, plan.tables):
                P = Tg.shape[0]
                torch.bmm(rk[r0:r1].view(P, R, cols).transpose(1, 2), Tg, out=S[m0:m1].view(P, cols, J))
            NA, NG = plan.MA, plan.MG
            if so3:
                y = workspace_buffer("y1", (S.shape[1], J), coef)  # [(n', N, J), A]
                _fold_mm(S, NA, plan.n_even, y, "y")
                _fold_mm(y.view(2 * L, -1), NG, plan.n_even, ok.view(-1, J), "x")  # [(N, J, A), G]
            else:
                torch.mm(S.t(), NA, out=ok.view(-1, J))  # [(N, J), A]
        if relu:
            ok.relu_()
        s += bk
    return out


def _to_coeffs(x: torch.Tensor, spec: tuple, B: int, C: int, relu_out: torch.Tensor | None = None) -> torch.Tensor:
    """Grid → coefficients with the tables of ``spec = (kind, b, L, analysis)`` (an analysis, or the adjoint of a
    synthesis, of a fused synthesis + ReLU with ``relu_out``)."""
    plan = real_plan(*spec, x.device, x.dtype)
    chunks = _chunks(B, C, x.shape[1], plan.kind == "so3", x.element_size(), x.device)
    rows = _grid_to_rows(x, plan, C, chunks, relu_out)
    (c_idx, c_off, c_w), _ = plan.maps(B, chunks)
    return torch.nn.functional.embedding_bag(c_idx, rows, c_off, per_sample_weights=c_w, mode="sum")


def _to_grid(coef: torch.Tensor, spec: tuple, B: int, C: int, relu: bool = False) -> torch.Tensor:
    """Coefficients → grid with the tables of ``spec`` (a synthesis, or the adjoint of an analysis), optionally
    rectified."""
    plan = real_plan(*spec, coef.device, coef.dtype, to_grid=True)
    chunks = _chunks(B, C, 2 * plan.b, plan.kind == "so3", coef.element_size(), coef.device)
    return _coeffs_to_grid(coef, plan, B, C, chunks, relu)


class _Analysis(torch.autograd.Function):
    """Grid ``[N, J, A(, G)]`` (``N = B·C``) → real coefficients ``[K·B, C]``; backward: :class:`_AnalysisT`.

    ``spec = (kind, b, L, True)``; the plans (and engines) are looked up per direction."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, spec: tuple[str, int, int, bool], B: int, C: int) -> torch.Tensor:
        ctx.spec, ctx.B, ctx.C = spec, B, C
        return _to_coeffs(x.contiguous(), spec, B, C)

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor, None, None, None]:
        return _AnalysisT.apply(g, ctx.spec, ctx.B, ctx.C), None, None, None


class _AnalysisT(torch.autograd.Function):
    """Adjoint of :class:`_Analysis`: coefficients → grid (a synthesis with the analysis tables)."""

    @staticmethod
    def forward(ctx: Any, coef: torch.Tensor, spec: tuple[str, int, int, bool], B: int, C: int) -> torch.Tensor:
        ctx.spec, ctx.B, ctx.C = spec, B, C
        return _to_grid(coef.contiguous(), spec, B, C)

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor, None, None, None]:
        return _Analysis.apply(g, ctx.spec, ctx.B, ctx.C), None, None, None


class _Synthesis(torch.autograd.Function):
    """Real coefficients ``[K·B, C]`` → grid ``[N, J, A(, G)]``; backward: :class:`_SynthesisT` (``spec = (kind, b, L,
    False)``).

    With ``relu``, ``y = max(S c, 0)`` (fused: no second grid-sized tensor); the backward is then
    ``S^T ([y > 0] ⊙ g)``, the mask applied chunk by chunk inside :class:`_SynthesisT`."""

    @staticmethod
    def forward(
        ctx: Any, coef: torch.Tensor, spec: tuple[str, int, int, bool], B: int, C: int, relu: bool = False
    ) -> torch.Tensor:
        ctx.spec, ctx.B, ctx.C, ctx.relu = spec, B, C, relu
        y = _to_grid(coef.contiguous(), spec, B, C, relu)
        if relu:
            ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor, None, None, None, None]:
        y = ctx.saved_tensors[0] if ctx.relu else None
        return _SynthesisT.apply(g, ctx.spec, ctx.B, ctx.C, y), None, None, None, None


class _SynthesisT(torch.autograd.Function):
    """Adjoint of :class:`_Synthesis`: grid → coefficients (an analysis with the synthesis tables), of
    ``[relu_out > 0] ⊙ x`` when a ReLU output is given."""

    @staticmethod
    def forward(
        ctx: Any,
        x: torch.Tensor,
        spec: tuple[str, int, int, bool],
        B: int,
        C: int,
        relu_out: torch.Tensor | None = None,
    ) -> torch.Tensor:
        ctx.spec, ctx.B, ctx.C = spec, B, C
        if relu_out is not None:
            ctx.save_for_backward(relu_out)
        return _to_coeffs(x.contiguous(), spec, B, C, relu_out)

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor, None, None, None, None]:
        gx = _Synthesis.apply(g, ctx.spec, ctx.B, ctx.C)
        if ctx.saved_tensors:  # the same ReLU derivative as the chunked mask of the forward
            gx = torch.ops.aten.threshold_backward(gx, ctx.saved_tensors[0], 0)
        return gx, None, None, None, None


# --------------------------------------------------------------------------------------------
# Entry points used by the layers
# --------------------------------------------------------------------------------------------


def so3_analysis_real(x: torch.Tensor, L: int) -> torch.Tensor:
    """``x [B, C, 2b, 2b, 2b]`` → real coefficients ``[so3_real_num(L)·B, C]`` (rows ``(l, B, a, b)``)."""
    B, C, b = x.shape[0], x.shape[1], x.shape[-1] // 2
    return _Analysis.apply(x.reshape(B * C, 2 * b, 2 * b, 2 * b), ("so3", b, L, True), B, C)


def so3_synthesis_real(coef: torch.Tensor, b: int, L: int, B: int, relu: bool = False) -> torch.Tensor:
    """Real coefficients ``[so3_real_num(L)·B, C]`` → ``[B, C, 2b, 2b, 2b]``; with ``relu``, rectified (fused)."""
    C = coef.shape[1]
    return _Synthesis.apply(coef, ("so3", b, L, False), B, C, relu).view(B, C, 2 * b, 2 * b, 2 * b)


def s2_analysis_real(x: torch.Tensor, L: int) -> torch.Tensor:
    """``x [B, C, 2b, 2b]`` → real coefficients ``[L²·B, C]`` (rows ``(l, B, a)``)."""
    B, C, b = x.shape[0], x.shape[1], x.shape[-1] // 2
    return _Analysis.apply(x.reshape(B * C, 2 * b, 2 * b), ("s2", b, L, True), B, C)


def s2_synthesis_real(coef: torch.Tensor, b: int, L: int, B: int) -> torch.Tensor:
    """Real coefficients ``[L²·B, C]`` → ``[B, C, 2b, 2b]``."""
    C = coef.shape[1]
    return _Synthesis.apply(coef, ("s2", b, L, False), B, C).view(B, C, 2 * b, 2 * b)
