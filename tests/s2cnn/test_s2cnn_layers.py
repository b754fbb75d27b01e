"""Layers: parameters (parity with the original), semantics against direct references, gradients,
errors, kernel-spectrum cache, activation scale through deep stacks."""

from __future__ import annotations

import copy
import math
import pickle
import sys

import pytest
import torch

from s2cnn import (
    S2Convolution,
    SO3Convolution,
    SO3Shortcut,
    SO3ToS2Convolution,
    fft,
    grids,
    s2_near_identity_grid,
    so3_near_identity_grid,
)
from s2cnn import (
    coeffs as C,
)
from s2cnn.testing import gradcheck_layer, random_layer_input, random_s2_signal, random_so3_signal
from s2cnn.wigner import wigner_D_list

SMALL_SO3_GRID = so3_near_identity_grid(max_beta=0.4, n_alpha=3, n_beta=2, n_gamma=2)  # 12 points, 2 distinct β
SMALL_S2_GRID = s2_near_identity_grid(max_beta=0.4, n_alpha=3, n_beta=2)  # 6 points


def _204k_layers(scaling="default", bl=(42, 35, 27, 20, 27, 35, 42), b_in=50):
    feats = [11, 12, 13, 14, 13, 12, 11]
    mb = [0.1238, 0.1474, 0.1768, 0.2292, 0.3095, 0.2292, 0.1768, 0.1474]
    layers = [S2Convolution(1, 11, b_in, bl[0], s2_near_identity_grid(max_beta=mb[0] * math.pi), scaling=scaling)]
    for i in range(6):
        g = so3_near_identity_grid(max_beta=mb[i + 1] * math.pi)
        layers.append(SO3Convolution(feats[i], feats[i + 1], bl[i], bl[i + 1], g, scaling=scaling))
    layers.append(
        SO3ToS2Convolution(11, 11, bl[6], b_in, so3_near_identity_grid(max_beta=mb[7] * math.pi), scaling=scaling)
    )
    return torch.nn.ModuleList(layers)


def test_parameters_match_original():
    s2 = S2Convolution(1, 11, 30, 20, s2_near_identity_grid())
    assert dict((k, tuple(v.shape)) for k, v in s2.named_parameters()) == {
        "kernel": (1, 11, 24),
        "bias": (1, 11, 1, 1, 1),
    }
    assert sum(p.numel() for p in s2.parameters()) == 11 * 24 + 11
    so3 = SO3Convolution(7, 5, 10, 8, so3_near_identity_grid())
    assert sum(p.numel() for p in so3.parameters()) == 7 * 5 * 192 + 5
    to_s2 = SO3ToS2Convolution(7, 5, 10, 12, so3_near_identity_grid())
    assert tuple(to_s2.bias.shape) == (1, 5, 1, 1)
    assert set(so3.state_dict()) == {"kernel", "bias"}  # tables are not state
    assert (s2.bias == 0).all() and s2.kernel.abs().max() <= 1


def test_204k_model_parameter_count():
    assert sum(p.numel() for p in _204k_layers().parameters()) == 204_073


def test_shapes_and_shortcut(gen):
    x = random_s2_signal(4, 2, 3, generator=gen, dtype=torch.float32)
    y = S2Convolution(3, 5, 4, 3, SMALL_S2_GRID)(x)
    assert y.shape == (2, 5, 6, 6, 6) and y.dtype == torch.float32 and y.is_contiguous()
    z = SO3Convolution(5, 4, 3, 5, SMALL_SO3_GRID)(y)
    assert z.shape == (2, 4, 10, 10, 10)
    w = SO3ToS2Convolution(4, 2, 5, 4, SMALL_SO3_GRID)(z)
    assert w.shape == (2, 2, 8, 8)
    ident = SO3Shortcut(4, 4, 5, 5)
    assert ident.conv is None and ident(z) is z
    sc = SO3Shortcut(4, 6, 5, 3)
    assert sc.conv.grid == ((0.0, 0.0, 0.0),) and sum(p.numel() for p in sc.parameters()) == 4 * 6 + 6
    assert sc(z).shape == (2, 6, 6, 6, 6)


def _direct_kernel(weight, grid, L, so3):
    """ψ̂^l[c, c', n, p] = Σ_i W_i D^l_np(g_i), straight from wigner_D."""
    pts = torch.tensor(grid, dtype=torch.float64)
    gamma = pts[:, 2] if so3 else torch.zeros(len(grid), dtype=torch.float64)
    Ds = wigner_D_list(L, pts[:, 1], pts[:, 0], gamma)
    return [torch.einsum("abi,inp->abnp", weight.to(D.dtype), D) for D in Ds]


def _reference(layer, x):
    """Full-layout, complex, loop-free reference of the three layers (no half layouts, no plans)."""
    so3_in = isinstance(layer, (SO3Convolution, SO3ToS2Convolution))
    L = layer.L
    W = layer.kernel.detach().double() * layer.scaling
    Y = _direct_kernel(W, layer.grid, L, so3_in)
    X = (C.so3_coeffs_to_list if so3_in else C.s2_coeffs_to_list)((fft.so3_fft if so3_in else fft.s2_fft)(x, L))
    bias = layer.bias.detach().double()
    if isinstance(layer, S2Convolution):  # z_mn = Σ_c x_m conj(y_n0)
        Z = [torch.einsum("bcm,cdn->bdmn", X[l], Y[l][..., l].conj()) for l in range(L)]
        out = fft.so3_ifft(C.so3_list_to_coeffs(Z), layer.b_out)
    else:  # z_mn = Σ_{c,p} x_mp conj(y_np)
        Z = [torch.einsum("bcmp,cdnp->bdmn", X[l], Y[l].conj()) for l in range(L)]
        if isinstance(layer, SO3Convolution):
            out = fft.so3_ifft(C.so3_list_to_coeffs(Z), layer.b_out)
        else:  # Gerken et al.: sum over n, inverse S² FFT, real part
            out = fft.s2_ifft(C.s2_list_to_coeffs([z.sum(-1) for z in Z]), layer.b_out)
    assert isinstance(layer, SO3ToS2Convolution) or out.imag.abs().max() < 1e-12
    return out.real + bias


@pytest.mark.parametrize(
    "make,b_in",
    [
        (lambda: S2Convolution(2, 3, 5, 4, SMALL_S2_GRID), 5),
        (lambda: S2Convolution(1, 2, 3, 5, s2_near_identity_grid()), 3),
        (lambda: SO3Convolution(2, 3, 4, 3, SMALL_SO3_GRID), 4),
        (lambda: SO3Convolution(2, 2, 3, 4, so3_near_identity_grid()), 3),
        (lambda: SO3ToS2Convolution(2, 3, 4, 3, SMALL_SO3_GRID), 4),
        (lambda: SO3ToS2Convolution(3, 2, 3, 5, so3_near_identity_grid()), 3),
    ],
)
def test_layers_match_direct_reference(make, b_in, gen):
    torch.manual_seed(0)
    layer = make().double()
    with torch.no_grad():
        layer.bias.normal_()
    x = random_layer_input(layer, b_in, 2, generator=gen)
    torch.testing.assert_close(layer(x), _reference(layer, x), atol=1e-12, rtol=1e-12)


def test_delta_kernel_semantics(gen):
    """A single-point kernel at g₀ makes the layer a (band-limited) translation: h(R) = f_{<L}(R g₀)."""
    b = 4
    beta0, alpha0, gamma0 = 0.35, 1.1, -0.6
    s2 = S2Convolution(1, 1, b, b, ((beta0, alpha0),), scaling=1.0).double()
    so3 = SO3Convolution(1, 1, b, b, ((beta0, alpha0, gamma0),), scaling=1.0).double()
    with torch.no_grad():
        s2.kernel.fill_(1.0)
        so3.kernel.fill_(1.0)
    f = random_s2_signal(b, 1, 1, generator=gen)
    h = s2(f)[0, 0]
    beta, alpha, gamma = grids.so3_grid(b)
    B, A, G = torch.meshgrid(beta, alpha, gamma, indexing="ij")
    Rg = grids.euler_to_matrix(A, B, G)
    x0 = grids.euler_to_matrix(alpha0, beta0, 0.0)[:, 2]
    y = Rg @ x0  # R g₀ e_z
    yb, ya = torch.arccos(y[..., 2].clamp(-1, 1)), torch.atan2(y[..., 1], y[..., 0])
    c = C.s2_coeffs_to_list(fft.s2_fft(f[0, 0]))
    Ds = wigner_D_list(b, ya, yb, torch.zeros_like(yb))
    ref = sum((2 * l + 1) * (D[..., :, l].conj() @ c[l]) for l, D in enumerate(Ds)).real
    torch.testing.assert_close(h, ref, atol=1e-12, rtol=0)

    g = random_so3_signal(b, 1, 1, generator=gen)
    a2, b2, c2 = grids.matrix_to_euler(Rg @ grids.euler_to_matrix(alpha0, beta0, gamma0))  # R g₀
    cg = C.so3_coeffs_to_list(fft.so3_fft(g[0, 0]))
    Ds = wigner_D_list(b, a2, b2, c2)
    ref = sum((2 * l + 1) * torch.einsum("mn,jklmn->jkl", cg[l], D.conj()) for l, D in enumerate(Ds)).real
    torch.testing.assert_close(so3(g)[0, 0], ref, atol=1e-12, rtol=0)


@pytest.mark.parametrize(
    "make,shape",
    [
        (lambda: S2Convolution(2, 2, 3, 2, SMALL_S2_GRID), (1, 2, 6, 6)),
        (lambda: SO3Convolution(2, 2, 3, 3, SMALL_SO3_GRID), (1, 2, 6, 6, 6)),
        (lambda: SO3Convolution(1, 2, 2, 3, SMALL_SO3_GRID), (2, 1, 4, 4, 4)),
        (lambda: SO3ToS2Convolution(2, 2, 3, 4, SMALL_SO3_GRID), (1, 2, 6, 6, 6)),
    ],
)
def test_gradcheck_layers(make, shape, device, gen):
    torch.manual_seed(0)
    layer = make().double().to(device)
    x = torch.randn(*shape, dtype=torch.float64, generator=gen).to(device).requires_grad_()
    assert gradcheck_layer(layer, x)
    layer(x).sum().backward()
    assert layer.bias.grad is not None and layer.kernel.grad is not None


def test_input_errors():
    layer = S2Convolution(1, 4, 30, 20, SMALL_S2_GRID)
    with pytest.raises(ValueError) as e:
        layer(torch.zeros(2, 1, 64, 64))
    assert str(e.value) == "S2Convolution expects input [batch, 1, 60, 60] for b_in=30, got [2, 1, 64, 64]"
    with pytest.raises(ValueError, match=r"expects input \[batch, 1, 60, 60\] for b_in=30, got \[2, 3, 60, 60\]"):
        layer(torch.zeros(2, 3, 60, 60))
    with pytest.raises(ValueError, match=r"got \[1, 60, 60\]"):
        layer(torch.zeros(1, 60, 60))
    with pytest.raises(
        TypeError, match="S2Convolution expects a real float32 or float64 tensor, got dtype torch.int64"
    ):
        layer(torch.zeros(2, 1, 60, 60, dtype=torch.int64))
    with pytest.raises(TypeError, match="input is torch.float64 .* parameters are torch.float32"):
        layer(torch.zeros(2, 1, 60, 60, dtype=torch.float64))
    so3 = SO3Convolution(3, 2, 5, 5, SMALL_SO3_GRID)
    with pytest.raises(
        ValueError, match=r"SO3Convolution expects input \[batch, 3, 10, 10, 10\] for b_in=5, got \[1, 3, 10, 10, 11\]"
    ):
        so3(torch.zeros(1, 3, 10, 10, 11))
    with pytest.raises(ValueError, match=r"got \[1, 3, 9, 9, 9\]"):
        so3(torch.zeros(1, 3, 9, 9, 9))
    with pytest.raises(ValueError, match=r"SO3Shortcut expects input \[batch, 3, 10, 10, 10\]"):
        SO3Shortcut(3, 3, 5, 5)(torch.zeros(1, 2, 10, 10, 10))


def test_constructor_errors():
    with pytest.raises(ValueError, match="b_in must be a positive integer bandwidth, got 0"):
        S2Convolution(1, 2, 0, 3, SMALL_S2_GRID)
    with pytest.raises(ValueError, match="b_out must be a positive integer bandwidth, got -2"):
        SO3Convolution(1, 2, 3, -2, SMALL_SO3_GRID)
    with pytest.raises(ValueError, match="b_in must be a positive integer bandwidth, got 2.5"):
        SO3Convolution(1, 2, 2.5, 3, SMALL_SO3_GRID)
    with pytest.raises(ValueError, match="nfeature_in must be a positive integer, got 0"):
        S2Convolution(0, 2, 3, 3, SMALL_S2_GRID)
    with pytest.raises(ValueError, match="SO3Convolution: grid is empty"):
        SO3Convolution(1, 2, 3, 3, ())
    with pytest.raises(
        ValueError, match=r"grid points must be \(beta, alpha\) tuples of length 2, got \(0.1, 0.2, 0.3\)"
    ):
        S2Convolution(1, 2, 3, 3, ((0.1, 0.2, 0.3),))
    with pytest.raises(ValueError, match="not finite"):
        SO3ToS2Convolution(1, 2, 3, 3, ((0.1, float("nan"), 0.0),))
    with pytest.raises(ValueError, match="scaling must be"):
        S2Convolution(1, 2, 3, 3, SMALL_S2_GRID, scaling="he")


def test_kernel_spectrum_cache(monkeypatch, gen):
    layer = SO3Convolution(2, 2, 4, 3, SMALL_SO3_GRID).double()
    x = random_so3_signal(4, 1, 2, generator=gen)
    calls = []
    orig = layer.kernel_transform.forward

    def counting(w):
        calls.append(1)
        return orig(w)

    monkeypatch.setattr(layer.kernel_transform, "forward", counting)
    layer.eval()
    with torch.no_grad():
        y1 = layer(x)
        y2 = layer(x)
    assert len(calls) == 1 and torch.equal(y1, y2)
    with torch.no_grad():
        layer.kernel.mul_(2.0)  # e.g. an optimizer step: bumps the version counter
        y3 = layer(x)
    assert len(calls) == 2
    torch.testing.assert_close(y3 - layer.bias, 2 * (y1 - layer.bias))
    with torch.inference_mode():
        layer(x)
    layer(x).sum()  # grad mode: always recomputed
    assert len(calls) == 4
    monkeypatch.undo()
    clone = copy.deepcopy(layer)
    assert clone._spec_cache is None
    torch.testing.assert_close(clone(x), layer(x))
    torch.testing.assert_close(pickle.loads(pickle.dumps(layer))(x), layer(x))


def _stack_stds(layers, x):
    stds = []
    with torch.no_grad():
        h = x
        for i, layer in enumerate(layers):
            h = layer(h)
            stds.append(h.std().item())
            if i < len(layers) - 1:
                h = torch.relu(h)
    return stds


def test_deep_stack_scale(gen):
    """8-layer conv/ReLU stack with the 204k architecture (reduced bandwidths for speed): with the default
    scaling the activations stay O(1); the original library's factors shrink them by orders of magnitude."""
    torch.manual_seed(0)
    bl, b_in = (10, 8, 6, 5, 6, 8, 10), 12
    x = random_s2_signal(b_in, 2, 1, generator=gen, dtype=torch.float32, decay=0.5)
    x = x / x.std()
    stds = _stack_stds(_204k_layers("default", bl, b_in), x)
    assert all(0.1 <= s <= 10 for s in stds), stds
    torch.manual_seed(0)
    orig = _stack_stds(_204k_layers("original", bl, b_in), x)
    assert orig[-1] < 0.1 * stds[-1], orig


_HEAP_PROBE = """
import sys, torch
from s2cnn.perf import tune_malloc
if sys.argv[1] == "tuned" and not tune_malloc(heap_only=True):
    sys.exit(3)  # not glibc
t = torch.empty(16 << 20)  # 64 MiB: above glibc's largest mmap threshold
p = t.data_ptr()
for line in open("/proc/self/maps"):
    lo, hi = (int(v, 16) for v in line.split()[0].split("-"))
    if lo <= p < hi:
        sys.exit(0 if line.rstrip().endswith("[heap]") else 1)
sys.exit(2)
"""


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc and /proc/self/maps")
def test_tune_malloc_heap_only_in_subprocess():
    """``tune_malloc(heap_only=True)`` serves a 64 MiB block from the heap, which glibc otherwise ``mmap``-s;
    run in children so this process's allocator is untouched."""
    import subprocess

    def where(mode: str) -> int:
        return subprocess.run([sys.executable, "-c", _HEAP_PROBE, mode], check=False).returncode

    tuned = where("tuned")
    if tuned == 3:
        pytest.skip("not glibc: mallopt unavailable")
    assert where("default") == 1  # a fresh mapping
    assert tuned == 0  # the heap


def test_double_backward(gen):
    """The custom backward passes (FFT, per-degree kernel blocks) are themselves differentiable."""
    torch.manual_seed(0)
    layer = SO3Convolution(1, 1, 2, 2, so3_near_identity_grid(n_alpha=2, n_beta=1, n_gamma=2)).double()
    x = torch.randn(1, 1, 4, 4, 4, dtype=torch.float64, generator=gen, requires_grad=True)
    assert gradcheck_layer(layer, x, second_order=True)


def test_peak_tensor_bytes_sees_a_temporary():
    """The profiler replay finds a 4 MiB temporary that is freed before ``fn`` returns."""
    from s2cnn.perf import peak_tensor_bytes

    def fn():
        t = torch.ones(1 << 20)  # 4 MiB of float32
        return float(t.sum())

    assert 4 << 20 <= peak_tensor_bytes(fn) < 8 << 20


# --- activation="relu": the ReLU fused into the inverse SO(3) FFT -------------------------------------------------


def _relu_pair(kind: str, dtype=torch.float32):
    """A layer with the fused ReLU and the same layer without it (same parameters)."""
    torch.manual_seed(0)
    if kind == "s2":
        make = lambda act: S2Convolution(2, 3, 8, 6, SMALL_S2_GRID, activation=act)  # noqa: E731
        x = random_s2_signal(8, 3, 2, dtype=dtype)
    else:
        make = lambda act: SO3Convolution(3, 2, 8, 6, SMALL_SO3_GRID, activation=act)  # noqa: E731
        x = random_so3_signal(8, 3, 3, dtype=dtype)
    fused = make("relu").to(dtype)
    with torch.no_grad():
        fused.bias.normal_()  # a bias moves values across 0: both signs present
    plain = make(None).to(dtype)
    plain.load_state_dict(fused.state_dict())
    return fused, plain, x


@pytest.mark.parametrize("kind", ["s2", "so3"])
@pytest.mark.parametrize("chunk_bytes", [None, 1], ids=["one_chunk", "chunk_per_sample"])
def test_fused_relu_equals_relu_after_layer(kind, chunk_bytes, monkeypatch):
    # the same values and gradients as F.relu(layer(x)), also when the grid is processed in several chunks
    if chunk_bytes is not None:
        monkeypatch.setattr("s2cnn._real.CHUNK_BYTES", chunk_bytes)
    fused, plain, x = _relu_pair(kind)
    xf, xp = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    yf, yp = fused(xf), torch.relu(plain(xp))
    assert torch.equal(yf, yp)
    assert 0.2 < (yf > 0).float().mean() < 0.8
    w = torch.randn_like(yf)
    (yf * w).sum().backward()
    (yp * w).sum().backward()
    torch.testing.assert_close(xf.grad, xp.grad, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(fused.kernel.grad, plain.kernel.grad, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(fused.bias.grad, plain.bias.grad, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("kind", ["s2", "so3"])
def test_fused_relu_gradcheck(kind):
    fused, _, x = _relu_pair(kind, torch.float64)
    assert gradcheck_layer(fused, x.requires_grad_(True), second_order=True)


def test_bad_activation_is_named():
    with pytest.raises(ValueError, match=r"activation must be None or 'relu', got 'gelu'"):
        SO3Convolution(2, 2, 4, 4, SMALL_SO3_GRID, activation="gelu")
    assert "activation=relu" in repr(S2Convolution(1, 2, 4, 4, SMALL_S2_GRID, activation="relu"))
