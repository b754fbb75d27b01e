r"""Real-basis harmonic engine of the layers (internal; the public transforms are in :mod:`s2cnn.fft`).

Signals are transformed to and from their real coefficients in the real basis ``U`` of
:mod:`s2cnn.real_basis` (``F^l = U f̂^l U^T`` for SO(3), ``U f̂^l`` for S²).

Transforms (SO(3); S² is the same without γ).  With ``trig_0 = cos``, ``trig_1 = sin`` the Fourier
data ``X_{tα tγ, μν}(β_j) = (2b)^{-2} Σ_{k,q} x(β_j, α_k, γ_q) trig_{tα}(μ α_k) trig_{tγ}(ν γ_q)``
determine

    ``F^l_{ab} = Σ_j ρ^l_{ab}(β_j) w_j X_{tα tγ, |a||b|}(β_j)`` summed over the two ``(tα, tγ)`` with
    ``tα ⊕ tγ = [a<0] ⊕ [b<0]``,

where ``ρ^l_{ab,tα}(β) = Σ U_{am} U_{bn} d^l_{mn}(β) c_{tα tγ}(m, n)`` is real (``c`` the
coefficients of ``e^{-i(mα+nγ)}`` on the trig products, :func:`s2cnn.real_basis.so3_real_d`).  Synthesis is the same
with ``(2l+1)`` in place of ``w_j``.  Two engines compute the (α, γ) part, chosen per direction and
grid size (:func:`s2cnn._real_plans.use_fft`; tables and index maps in :mod:`s2cnn._real_plans`); both feed grouped β ``bmm`` against cached tables and a sparse signed
gather (one ``embedding_bag``) to/from the coefficient layout of the products — per degree a block
``[B, 2l+1 (a), 2l+1 (b), C]`` (rows of ``C`` channels), degrees concatenated:

* GEMM engine (S², small SO(3) grids, and the coefficient → grid direction on the CPU): the DFTs are
  two GEMMs whose transposed outputs move the frequency index first, ``[N, J, A, G] → [n', N·J·A]
  → [m', n', N, J]`` (positions ``(μ, tα)``, ``(ν, tγ)``, even ``μ``/``ν`` first); the β ``bmm``
  runs over ``(m', ν)`` with the two ``tγ`` as columns (they share a table up to a constant sign,
  applied in the gather).  Synthesis runs backwards, its GEMMs moving the frequencies last and split
  into even/odd frequencies when ``FOLD_MIN_K`` allows (:func:`_fold_mm`: half the flops, two more output
  passes; off by default).  No transposing copies at all.
* FFT engine (grid → coefficients on SO(3) grids with ``b ≥ FFT_MIN_B``): ``rfftn`` over (α, γ),
  one transposing gather of the needed complex slots ``(m, ν)``, β ``bmm`` with one real table
  ``w_j d^l_{mν}(β_j)`` per slot (half the flops and table bytes of the GEMM engine), de-interleave.

Every step's adjoint is the other direction's step with the same tables (plus the half-spectrum
weights of the FFT adjoints), so the backward passes are transforms too: :class:`_Analysis` and
:class:`_Synthesis` are each other's autograd backward (with transposed plans), hence differentiable
to any order.  On the CPU the batch is processed in sample chunks of about ``CHUNK_BYTES`` so that a
chunk's intermediates stay in the caches, and all intermediates live in a per-thread workspace that is
reused across calls (:mod:`s2cnn._workspace`; fresh multi-MB blocks cost page faults and zero-filling
that, on the benchmark VM, exceeded the arithmetic).
"""

from __future__ import annotations

from typing import Any

import torch

from ._real_plans import RealPlan, real_plan
from ._workspace import _new_empty, workspace_buffer

__all__ = ["so3_analysis_real", "so3_synthesis_real", "s2_analysis_real", "s2_synthesis_real"]

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
            # no ``out=``: torch's CPU ``rfftn`` computes into a fresh tensor and copies that into ``out``
            T = torch.fft.rfftn(xk, dim=(-2, -1), norm=norm)
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


#: split the synthesis GEMMs of the GEMM engine into even/odd frequencies when ``2L >= FOLD_MIN_K``; off by
#: default: the split halves the GEMM flops but its two output passes (sum and difference) cost more than that
#: on the benchmark VM (S2CNN 204k, one thread, three launches: forward batch 1 −10 to −12%, forward + backward
#: batch 8 −5 to −8% without it; ``python -m eqaug.bench fold`` → results/bench/fold_default.json). Kept (and tested) for machines where GEMMs
#: are slower relative to memory.
FOLD_MIN_K = 1 << 30


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
