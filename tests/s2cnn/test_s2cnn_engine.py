"""The layers' real-basis engine (:mod:`s2cnn._real`, plans :mod:`s2cnn._real_plans`, workspace :mod:`s2cnn._workspace`): layers against a direct float64 quadrature that uses
no s2cnn transform, both engines (GEMM DFT and FFT), sample chunking, the radix-2 GEMM split, gradients,
and the per-thread workspace."""

from __future__ import annotations

import threading

import pytest
import torch

import s2cnn._real as R
import s2cnn._real_plans as P
import s2cnn.real_basis as RB
from s2cnn import (
    S2Convolution,
    SO3Convolution,
    SO3ToS2Convolution,
    fft,
    grids,
    s2_near_identity_grid,
    so3_near_identity_grid,
)
from s2cnn import coeffs as C
from s2cnn.perf import clear_workspace
from s2cnn.testing import gradcheck_layer, random_layer_input, random_s2_signal, random_so3_signal
from s2cnn.wigner import wigner_D_list

SMALL_SO3_GRID = so3_near_identity_grid(max_beta=0.4, n_alpha=3, n_beta=2, n_gamma=2)

#: engine settings: default, FFT everywhere (both directions), GEMM everywhere with the radix-2 split,
#: and tiny chunks (several chunks per batch, the last one partial)
ENGINES = {
    "default": {},
    "fft": {"FFT_MIN_B": 1, "IFFT_MIN_B": 1, "IFFT_MIN_B_CPU": 1},
    "gemm_fold": {"FFT_MIN_B": 10**6, "IFFT_MIN_B_CPU": 10**6, "FOLD_MIN_K": 2},
    "chunks": {"FFT_MIN_B": 4},  # plus chunks of two samples (the last one partial for odd batches)
}


def _pairs(B, C, J, so3, itemsize, device):
    return (2,) * (B // 2) + ((1,) if B % 2 else ())


@pytest.fixture(params=list(ENGINES))
def engine(request, monkeypatch):
    for k, v in ENGINES[request.param].items():
        monkeypatch.setattr(R if hasattr(R, k) else P, k, v)
    if request.param == "chunks":
        monkeypatch.setattr(R, "_chunks", _pairs)
    return request.param


# --------------------------------------------------------------------------------------------
# Direct float64 quadrature (definitions only: grids, quadrature weights, Wigner D)
# --------------------------------------------------------------------------------------------


def _so3_points(b):
    beta, alpha, gamma = grids.so3_grid(b)
    B, A, G = torch.meshgrid(beta, alpha, gamma, indexing="ij")
    return A, B, G


def _direct_so3_analysis(f, L):
    """``f̂^l_{mn} = Σ_{j,k,q} w_j (2b)^{-2} f(β_j, α_k, γ_q) D^l_{mn}(α_k, β_j, γ_q)``."""
    b = f.shape[-1] // 2
    A, B, G = _so3_points(b)
    w = (grids.quadrature_weights(b) / (2 * b) ** 2)[:, None, None]
    fw = f.to(torch.complex128) * w
    return [torch.einsum("...jkq,jkqmn->...mn", fw, D) for D in wigner_D_list(L, A, B, G)]


def _direct_s2_analysis(f, L):
    b = f.shape[-1] // 2
    beta, alpha = grids.s2_grid(b)
    B, A = torch.meshgrid(beta, alpha, indexing="ij")
    w = (grids.quadrature_weights(b) / (2 * b))[:, None]
    fw = f.to(torch.complex128) * w
    return [torch.einsum("...jk,jkm->...m", fw, D[..., :, l]) for l, D in enumerate(wigner_D_list(L, A, B, 0 * B))]


def _direct_so3_synthesis(fh, b):
    A, B, G = _so3_points(b)
    Ds = wigner_D_list(len(fh), A, B, G)
    return sum((2 * l + 1) * torch.einsum("...mn,jkqmn->...jkq", fh[l], D.conj()) for l, D in enumerate(Ds))


def _direct_s2_synthesis(fh, b):
    beta, alpha = grids.s2_grid(b)
    B, A = torch.meshgrid(beta, alpha, indexing="ij")
    Ds = wigner_D_list(len(fh), A, B, 0 * B)
    return sum((2 * l + 1) * torch.einsum("...m,jkm->...jk", fh[l], D[..., :, l].conj()) for l, D in enumerate(Ds))


def _direct_kernel(weight, grid, L):
    pts = torch.tensor(grid, dtype=torch.float64)
    gamma = pts[:, 2] if pts.shape[1] == 3 else torch.zeros(len(grid), dtype=torch.float64)
    return [torch.einsum("abi,inp->abnp", weight.to(D.dtype), D) for D in wigner_D_list(L, pts[:, 1], pts[:, 0], gamma)]


def _direct_layer(layer, x):
    """Output of ``layer`` on float64 ``x`` from the definitions (docs of :mod:`s2cnn.layers`)."""
    L = layer.L
    W = layer.kernel.detach().double() * layer.scaling
    Y = _direct_kernel(W, layer.grid, L)
    bias = layer.bias.detach().double()
    if isinstance(layer, S2Convolution):
        X = _direct_s2_analysis(x, L)
        Z = [torch.einsum("bcm,cdn->bdmn", X[l], Y[l][..., l].conj()) for l in range(L)]
        out = _direct_so3_synthesis(Z, layer.b_out)
    else:
        X = _direct_so3_analysis(x, L)
        Z = [torch.einsum("bcmp,cdnp->bdmn", X[l], Y[l].conj()) for l in range(L)]
        if isinstance(layer, SO3Convolution):
            out = _direct_so3_synthesis(Z, layer.b_out)
        else:
            out = _direct_s2_synthesis([z.sum(-1) for z in Z], layer.b_out)
    return out.real + bias


LAYERS = [
    ("s2_down", lambda: S2Convolution(2, 3, 5, 4, s2_near_identity_grid(max_beta=0.4, n_alpha=3, n_beta=2)), 5),
    ("s2_up", lambda: S2Convolution(1, 2, 3, 5, s2_near_identity_grid()), 3),
    ("so3_down", lambda: SO3Convolution(2, 3, 5, 3, SMALL_SO3_GRID), 5),
    ("so3_up", lambda: SO3Convolution(3, 2, 3, 5, so3_near_identity_grid()), 3),
    ("so3_same", lambda: SO3Convolution(2, 2, 4, 4, SMALL_SO3_GRID), 4),
    ("to_s2_down", lambda: SO3ToS2Convolution(2, 3, 5, 4, SMALL_SO3_GRID), 5),
    ("to_s2_up", lambda: SO3ToS2Convolution(3, 2, 4, 5, so3_near_identity_grid()), 4),
]


@pytest.mark.parametrize("name,make,b_in", LAYERS, ids=[n for n, _, _ in LAYERS])
def test_layers_match_direct_quadrature(name, make, b_in, engine, gen):
    """Float64 layers equal the direct quadrature to 1e-11 (relative); float32 to 2e-6, for every engine."""
    torch.manual_seed(0)
    layer = make().double()
    with torch.no_grad():
        layer.bias.normal_()
    x = random_layer_input(layer, b_in, 3, generator=gen)
    ref = _direct_layer(layer, x)
    scale = ref.abs().max()
    assert ((layer(x) - ref).abs().max() / scale) < 1e-11
    y32 = layer.float()(x.float())
    assert ((y32.double() - ref).abs().max() / scale) < 2e-6


@pytest.mark.parametrize(
    "make,shape",
    [
        (lambda: S2Convolution(2, 2, 4, 3, s2_near_identity_grid(n_alpha=3, n_beta=1)), (3, 2, 8, 8)),
        (lambda: SO3Convolution(2, 2, 3, 4, SMALL_SO3_GRID), (3, 2, 6, 6, 6)),
        (lambda: SO3Convolution(2, 1, 4, 3, SMALL_SO3_GRID), (2, 2, 8, 8, 8)),
        (lambda: SO3ToS2Convolution(2, 2, 4, 3, SMALL_SO3_GRID), (3, 2, 8, 8, 8)),
    ],
)
def test_gradients_every_engine(make, shape, engine, gen):
    torch.manual_seed(0)
    layer = make().double()
    x = torch.randn(*shape, dtype=torch.float64, generator=gen, requires_grad=True)
    assert gradcheck_layer(layer, x, second_order=True)


@pytest.mark.parametrize("b,L", [(6, 6), (7, 4), (9, 9)])
def test_real_transforms_match_complex(b, L, engine, gen):
    """The engine's transforms are the public complex ones in the real basis ``F = U f̂ U^T`` (``U f̂`` on S²)."""
    B, Cn = 3, 2
    x = random_so3_signal(b, B, Cn, generator=gen)
    F = R.so3_analysis_real(x, L)  # rows (l, B, a, b)
    ref = RB.so3_to_real(C.so3_coeffs_to_list(fft.so3_fft(x, L)), L)
    off = 0
    for l in range(L):
        k = 2 * l + 1
        blk = F[off * B : (off + k * k) * B].view(B, k, k, Cn).permute(0, 3, 1, 2)
        torch.testing.assert_close(blk, ref[l], atol=1e-13, rtol=0)
        off += k * k
    Z = torch.randn(RB.so3_real_num(L) * B, Cn, dtype=torch.float64, generator=gen)
    y = R.so3_synthesis_real(Z, b + 1, L, B)
    blocks, off = [], 0
    for l in range(L):
        k = 2 * l + 1
        blocks.append(Z[off * B : (off + k * k) * B].view(B, k, k, Cn).permute(0, 3, 1, 2))
        off += k * k
    yr = fft.so3_ifft(C.so3_list_to_coeffs(RB.so3_from_real(blocks)), b + 1)
    torch.testing.assert_close(y, yr.real, atol=1e-10 * yr.abs().max().item(), rtol=0)
    s = random_s2_signal(b, B, Cn, generator=gen)
    Fs = R.s2_analysis_real(s, L)
    refs = RB.s2_to_real(C.s2_coeffs_to_list(fft.s2_fft(s, L)))
    off = 0
    for l in range(L):
        k = 2 * l + 1
        torch.testing.assert_close(
            Fs[off * B : (off + k) * B].view(B, k, Cn).permute(0, 2, 1), refs[l], atol=1e-13, rtol=0
        )
        off += k


def test_workspace_reuse_and_threads(gen):
    """Reused buffers give identical results; concurrent threads (separate workspaces) agree with serial runs."""
    torch.manual_seed(0)
    layer = SO3Convolution(3, 2, 6, 5, SMALL_SO3_GRID).double()
    xs = [random_so3_signal(6, 2, 3, generator=gen) for _ in range(4)]
    with torch.no_grad():
        serial = [layer(x) for x in xs]
        clear_workspace()
        assert torch.equal(layer(xs[0]), serial[0])
    results = [None] * len(xs)

    def work(i):
        with torch.no_grad():
            for _ in range(3):
                results[i] = layer(xs[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(xs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r, s in zip(results, serial):
        torch.testing.assert_close(r, s, atol=1e-13, rtol=0)


def test_plan_maps_cover_every_coefficient():
    """Every real coefficient is fed by one or two rows, and every base row by at most two coefficients."""
    for kind, b, L, fft_ in [("so3", 7, 5, False), ("so3", 7, 7, True), ("s2", 6, 4, False)]:
        for analysis in (True, False):
            plan = P._master_plan(kind, b, L, analysis, fft_)
            counts = torch.bincount(plan.mk, minlength=plan.K)
            assert counts.min() >= 1 and counts.max() <= 2
            assert torch.bincount(plan.mb, minlength=plan.n_base).max() <= 2
