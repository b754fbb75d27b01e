"""Aliased up-sampling (``upsampling="aliased"``, :mod:`s2cnn.aliasing`): the coarse-grid quadrature of degrees
``l ≥ b`` against direct sums, its vanishing for band-limited inputs, the layers against ``"exact"``, gradients and
equivariance.  All float64; tolerances stated per test (round-off of the transforms is ~1e-16 relative)."""

from __future__ import annotations

import math

import pytest
import torch

from s2cnn import (
    S2Convolution,
    SO3Convolution,
    SO3Shortcut,
    SO3ToS2Convolution,
    grids,
    s2_fft,
    s2_grid_rotation_y_pi,
    s2_grid_rotation_z,
    s2_near_identity_grid,
    s2_rfft,
    s2_rotation,
    so3_fft,
    so3_grid_rotation_y_pi,
    so3_grid_rotation_z,
    so3_near_identity_grid,
    so3_rfft,
    so3_rotation,
    wigner_D,
)
from s2cnn.aliasing import s2_aliased_blocks, s2_fft_aliased, so3_aliased_blocks, so3_fft_aliased
from s2cnn.coeffs import s2_num_coeffs, so3_num_coeffs
from s2cnn.testing import (
    equivariance_error,
    gradcheck_layer,
    random_rotation,
    random_s2_signal,
    random_so3_signal,
    relative_error,
)

F64 = torch.float64
SMALL_S2_GRID = s2_near_identity_grid(max_beta=0.4, n_alpha=3, n_beta=2)  # 6 points
SMALL_SO3_GRID = so3_near_identity_grid(max_beta=0.4, n_alpha=3, n_beta=2, n_gamma=2)  # 12 points


# --------------------------------------------------------------------------------------------
# The aliased coefficients
# --------------------------------------------------------------------------------------------


def _direct_s2(f: torch.Tensor, b: int, L: int) -> list[torch.Tensor]:
    """``Σ_{j,k} w_j/(2b) D^l_{m0}(α_k, β_j, 0) f(β_j, α_k)`` for ``l < L``, with explicit ``e^{-imα_k}`` (no DFT bins)."""
    beta, alpha = grids.s2_grid(b)
    w = grids.quadrature_weights(b)
    B, A = torch.meshgrid(beta, alpha, indexing="ij")
    out = []
    for l in range(L):
        D = wigner_D(l, A, B, torch.zeros_like(A))[..., :, l]  # [j, k, m]
        out.append(torch.einsum("jkm,jk->m", D, f * w[:, None] / (2 * b)))
    return out


def _direct_so3(f: torch.Tensor, b: int, L: int) -> list[torch.Tensor]:
    """``Σ_{j,k,r} w_j/(2b)² D^l_{mn}(α_k, β_j, γ_r) f(β_j, α_k, γ_r)`` for ``l < L`` (explicit exponentials)."""
    beta, alpha, gamma = grids.so3_grid(b)
    w = grids.quadrature_weights(b)
    B, A, G = torch.meshgrid(beta, alpha, gamma, indexing="ij")
    return [torch.einsum("jkrmn,jkr->mn", wigner_D(l, A, B, G), f * w[:, None, None] / (2 * b) ** 2) for l in range(L)]


def test_low_degrees_are_the_fft(gen):
    """Degrees ``< b`` of the aliased transforms are :func:`s2_fft` / :func:`so3_fft` (tolerance 1e-14 absolute on
    unit-variance noise; real and complex inputs)."""
    b = 4
    x = torch.randn(2, 2 * b, 2 * b, dtype=torch.complex128, generator=gen)
    assert torch.allclose(s2_fft_aliased(x, 2 * b)[..., : s2_num_coeffs(b)], s2_fft(x), atol=1e-14, rtol=0)
    y = torch.randn(2, 2 * b, 2 * b, 2 * b, dtype=F64, generator=gen)
    assert torch.allclose(so3_fft_aliased(y, 2 * b)[..., : so3_num_coeffs(b)], so3_fft(y), atol=1e-14, rtol=0)


@pytest.mark.parametrize("l0, m0", [(4, 1), (5, 3), (6, 5), (7, -4)])
def test_s2_single_harmonic_against_direct_sums(l0, m0):
    """``f = conj(D^{l0}_{m0,0})`` with ``b ≤ l0 < 2b`` (b = 4) sampled on the 2b grid: the aliased coefficients of every
    degree ``l < 2b`` equal the direct sums of the quadrature with explicit exponentials (1e-14 absolute); they vanish
    for ``l ≤ 2b-1-l0`` (the quadrature is exact there and ``f ⟂ D^l``), and only orders ``m ≡ m0 (mod 2b)`` appear
    (the α sum); degree ``l0`` is not the true ``1/(2l0+1)``."""
    b = 4
    beta, alpha = grids.s2_grid(b)
    B, A = torch.meshgrid(beta, alpha, indexing="ij")
    f = wigner_D(l0, A, B, torch.zeros_like(A))[..., m0 + l0, l0].conj()
    got = s2_aliased_blocks(f, 0, 2 * b)
    ref = _direct_s2(f, b, 2 * b)
    for l in range(2 * b):
        assert torch.allclose(got[l], ref[l], atol=1e-14, rtol=0), l
        off = (torch.arange(-l, l + 1) - m0) % (2 * b) != 0
        if off.any():
            assert got[l][off].abs().max().item() < 1e-14, l
        if l <= 2 * b - 1 - l0:
            assert got[l].abs().max().item() < 1e-14, l
    true = 1.0 / (2 * l0 + 1)
    assert abs(got[l0][m0 + l0].item() - true) > 1e-3 * true


@pytest.mark.parametrize("l0, m0, n0", [(3, 2, -1), (4, 4, 3), (5, -4, 5)])
def test_so3_single_harmonic_against_direct_sums(l0, m0, n0):
    """SO(3): ``f = conj(D^{l0}_{m0 n0})`` with ``b ≤ l0 < 2b`` (b = 3): aliased blocks equal the direct sums
    (1e-14); with ``max_order = b`` (the original's SO(3) transform) orders ``|m|`` or ``|n| ≥ b`` are zero and the
    rest unchanged."""
    b = 3
    beta, alpha, gamma = grids.so3_grid(b)
    B, A, G = torch.meshgrid(beta, alpha, gamma, indexing="ij")
    f = wigner_D(l0, A, B, G)[..., m0 + l0, n0 + l0].conj()
    got = so3_aliased_blocks(f, 0, 2 * b)
    masked = so3_aliased_blocks(f, 0, 2 * b, max_order=b)
    ref = _direct_so3(f, b, 2 * b)
    for l in range(2 * b):
        assert torch.allclose(got[l], ref[l], atol=1e-14, rtol=0), l
        if l <= 2 * b - 1 - l0:
            assert got[l].abs().max().item() < 1e-14, l
        m = torch.arange(-l, l + 1).abs()
        keep = (m[:, None] < b) & (m[None, :] < b)
        assert torch.equal(masked[l][keep], got[l][keep]) and (masked[l][~keep] == 0).all()
    assert got[l0].abs().max().item() > 1e-3  # degree l0 is seen (aliased)


@pytest.mark.parametrize("L0", [3, 5, 8])
def test_band_limited_input_aliases_only_above_2b_minus_L0(L0):
    """Measured and proved: for a signal band-limited to degrees ``< L0`` the product ``x·D^l`` has degrees
    ``≤ l + L0 - 1``, which the 2b-point quadrature integrates exactly while ``≤ 2b - 1``: the aliased coefficients
    vanish (round-off, < 1e-13 here) for ``l ≤ 2b - L0`` and are O(1e-2) above (b = 8: measured 2e-2 … 1e-1)."""
    b = 8
    g = torch.Generator().manual_seed(1)
    for blocks in (
        s2_aliased_blocks(random_s2_signal(b, 2, band_limit=L0, generator=g), b, 2 * b),
        so3_aliased_blocks(random_so3_signal(b, 1, band_limit=L0, generator=g), b, 2 * b),
    ):
        for l, c in zip(range(b, 2 * b), blocks):
            if l <= 2 * b - L0:
                assert c.abs().max().item() < 1e-13, (L0, l)
            else:
                assert c.abs().max().item() > 1e-3, (L0, l)


def test_aliased_transform_gradcheck(gen):
    """The transforms are linear autograd graphs: ``gradcheck`` of both (b = 2 → b_out = 4)."""
    x = torch.randn(1, 4, 4, dtype=F64, generator=gen, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: torch.view_as_real(s2_fft_aliased(t, 4)), (x,))
    y = torch.randn(1, 4, 4, 4, dtype=F64, generator=gen, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: torch.view_as_real(so3_fft_aliased(t, 4, max_order=2)), (y,))


def test_transform_errors():
    x = torch.zeros(4, 4)
    with pytest.raises(ValueError, match=r"l_hi=5"):
        s2_aliased_blocks(x, 0, 5)
    with pytest.raises(ValueError, match="max_order"):
        so3_aliased_blocks(torch.zeros(4, 4, 4), 0, 2, max_order=0)


# --------------------------------------------------------------------------------------------
# Layers
# --------------------------------------------------------------------------------------------

LAYERS = {
    "s2": (S2Convolution, SMALL_S2_GRID, 2),
    "so3": (SO3Convolution, SMALL_SO3_GRID, 3),
    "so3_to_s2": (SO3ToS2Convolution, SMALL_SO3_GRID, 3),
}


def _pair(kind: str, f_in: int, f_out: int, b_in: int, b_out: int, **kw) -> tuple[torch.nn.Module, torch.nn.Module]:
    """The same layer (same parameters) with ``upsampling="exact"`` and ``"aliased"``, float64."""
    cls, grid, _ = LAYERS[kind]
    exact = cls(f_in, f_out, b_in, b_out, grid, **kw).double()
    aliased = cls(f_in, f_out, b_in, b_out, grid, upsampling="aliased", **kw).double()
    aliased.load_state_dict(exact.state_dict())
    with torch.no_grad():
        aliased.bias.normal_()
        exact.bias.copy_(aliased.bias)
    return exact, aliased


def _noise(kind: str, B: int, C: int, b: int, gen: torch.Generator) -> torch.Tensor:
    return torch.randn(B, C, *[2 * b] * LAYERS[kind][2], dtype=F64, generator=gen)


@pytest.mark.parametrize("kind", list(LAYERS))
@pytest.mark.parametrize("b_in, b_out", [(4, 4), (5, 3)])
def test_no_upsampling_no_change(kind, b_in, b_out, gen):
    """``b_out ≤ b_in``: ``"aliased"`` is bit-identical to ``"exact"`` (and to the default), also the gradients."""
    cls, grid, _ = LAYERS[kind]
    exact, aliased = _pair(kind, 2, 3, b_in, b_out)
    default = cls(2, 3, b_in, b_out, grid).double()
    default.load_state_dict(exact.state_dict())
    x = _noise(kind, 2, 2, b_in, gen).requires_grad_(True)
    outs, grads = [], []
    for layer in (default, exact, aliased):
        y = layer(x)
        (gx,) = torch.autograd.grad(y.square().sum(), x)
        outs.append(y.detach())
        grads.append(gx)
    assert all(torch.equal(outs[0], o) for o in outs[1:]) and all(torch.equal(grads[0], g) for g in grads[1:])
    assert aliased.L_spec == exact.L_spec == min(b_in, b_out)


@pytest.mark.parametrize("kind", list(LAYERS))
def test_upsampling_differs_only_above_b_in(kind, gen):
    """``b_out > b_in`` (4 → 6, 6- and 12-point grids, no bias) on white noise: the outputs differ by O(1) (measured
    relative difference 1.35 / 1.08 / 1.40 for S² / SO(3) / SO(3)→S² with this seed, 0.83–1.79 over three seeds;
    the b 8 → 12 numbers of the README come from ``python -m eqaug.bench aliasing``), and only in the output
    degrees ``≥ b_in``: degrees ``< b_in`` agree to 1e-12 relative, degrees ``≥ b_in`` are zero for ``"exact"``."""
    b_in, b_out = 4, 6
    exact, aliased = _pair(kind, 2, 3, b_in, b_out)
    with torch.no_grad():
        exact.bias.zero_()
        aliased.bias.zero_()
    x = _noise(kind, 2, 2, b_in, gen)
    with torch.no_grad():
        ye, ya = exact(x), aliased(x)
    assert relative_error(ya, ye) > 0.5
    if kind == "so3_to_s2":
        ce, ca, n_low = s2_rfft(ye), s2_rfft(ya), s2_num_coeffs(b_in, half=True)
    else:
        ce, ca, n_low = so3_rfft(ye), so3_rfft(ya), so3_num_coeffs(b_in, half=True)
    assert relative_error(ca[..., :n_low], ce[..., :n_low]) < 1e-12
    assert ce[..., n_low:].abs().max().item() < 1e-12 * ce.abs().max().item()
    assert ca[..., n_low:].abs().max().item() > 1e-2 * ca.abs().max().item()


@pytest.mark.parametrize("kind", list(LAYERS))
def test_band_limited_input_below_2b_in_minus_b_out_is_not_aliased(kind, gen):
    """Corollary of the quadrature's exactness: inputs band-limited to degrees ``< 2b_in - b_out + 1`` (8 → 12:
    ``< 5``) have no aliased coefficients, so both modes agree (1e-12); one degree more and they differ."""
    b_in, b_out = 8, 12
    exact, aliased = _pair(kind, 1, 2, b_in, b_out)
    make = random_s2_signal if kind == "s2" else random_so3_signal
    for L0, same in ((2 * b_in - b_out + 1, True), (2 * b_in - b_out + 2, False)):
        x = make(b_in, 1, 1, band_limit=L0, generator=gen)
        with torch.no_grad():
            err = relative_error(aliased(x), exact(x))
        assert (err < 1e-12) if same else (err > 1e-6), (L0, err)


@pytest.mark.parametrize(
    "kind, b_in, b_out", [("s2", 3, 5), ("so3", 2, 4), ("so3_to_s2", 2, 3), ("so3", 3, 5), ("s2", 2, 4)]
)
def test_aliased_gradcheck(kind, b_in, b_out, gen):
    """``torch.autograd.gradcheck`` (float64, input and kernel) of the aliased layers: their gradient is the true
    derivative of the aliased forward (eqaug's consistent rule), unlike the original's backward, which drops the
    aliased degrees."""
    _, aliased = _pair(kind, 2, 2, b_in, b_out)
    x = _noise(kind, 1, 2, b_in, gen).requires_grad_(True)
    assert gradcheck_layer(aliased, x)


def test_aliased_second_order(gen):
    _, aliased = _pair("so3", 1, 2, 2, 3)
    assert gradcheck_layer(aliased, _noise("so3", 1, 1, 2, gen).requires_grad_(True), second_order=True)


@pytest.mark.parametrize("kind", list(LAYERS))
def test_aliased_exact_under_grid_symmetries(kind, gen):
    """The quadrature commutes with rotations that permute the grid with equal weights, so the aliased layer is
    exactly equivariant (1e-12, white-noise input; measured ≤ 9e-16) under ``R_y(π)`` and under α-rolls that are rolls
    of both grids (b 4 → 6: 2 input steps = 3 output steps, ``R_z(π/2)``)."""
    b_in, b_out = 4, 6
    _, aliased = _pair(kind, 2, 2, b_in, b_out)
    x = _noise(kind, 2, 2, b_in, gen)
    s2_in, s2_out = kind == "s2", kind == "so3_to_s2"
    roll_in = (lambda t: s2_grid_rotation_z(t, 2)) if s2_in else (lambda t: so3_grid_rotation_z(t, 2))
    roll_out = (lambda t: s2_grid_rotation_z(t, 3)) if s2_out else (lambda t: so3_grid_rotation_z(t, 3))
    flip_in = s2_grid_rotation_y_pi if s2_in else so3_grid_rotation_y_pi
    flip_out = s2_grid_rotation_y_pi if s2_out else so3_grid_rotation_y_pi
    assert equivariance_error(aliased, x, roll_in, roll_out) < 1e-12
    assert equivariance_error(aliased, x, flip_in, flip_out) < 1e-12
    # an α-roll by one input step (π/4) is a half-step on the output grid: rotate the band-limited output exactly
    rot_out = (
        (lambda t: s2_rotation(t, math.pi / 4, 0, 0)) if s2_out else (lambda t: so3_rotation(t, math.pi / 4, 0, 0))
    )
    roll1 = (lambda t: s2_grid_rotation_z(t, 1)) if s2_in else (lambda t: so3_grid_rotation_z(t, 1))
    assert equivariance_error(aliased, x, roll1, rot_out) < 1e-12


@pytest.mark.parametrize("kind", list(LAYERS))
def test_aliased_breaks_generic_equivariance(kind, gen):
    """Generic rotations, band-limited input (exactly rotatable), b 8 → 12, default grids, one rotation: ``"exact"``
    ≤ 1e-12 (measured 2.0e-15 / 2.5e-15 / 2.5e-15 for S² / SO(3) / SO(3)→S²), ``"aliased"`` ≥ 1e-4 (measured 0.31 /
    2.8e-3 / 3.5e-3; the SO(3)-input layers alias less because, like the original, their aliased degrees keep only
    the orders ``|m|, |n| < b_in``; with every order kept it is 0.38–0.46, ``python -m eqaug.bench aliasing``)."""
    b_in, b_out = 8, 12
    cls = LAYERS[kind][0]
    grid = s2_near_identity_grid() if kind == "s2" else so3_near_identity_grid()
    torch.manual_seed(0)
    exact = cls(1, 2, b_in, b_out, grid).double()
    aliased = cls(1, 2, b_in, b_out, grid, upsampling="aliased").double()
    aliased.load_state_dict(exact.state_dict())
    x = (random_s2_signal if kind == "s2" else random_so3_signal)(b_in, 1, 1, generator=gen)
    R = random_rotation(gen)
    rot_in = (lambda t: s2_rotation(t, *R)) if kind == "s2" else (lambda t: so3_rotation(t, *R))
    rot_out = (lambda t: s2_rotation(t, *R)) if kind == "so3_to_s2" else (lambda t: so3_rotation(t, *R))
    e_exact = equivariance_error(exact, x, rot_in, rot_out)
    e_aliased = equivariance_error(aliased, x, rot_in, rot_out)
    assert e_exact < 1e-12 and e_aliased > 1e-4, (e_exact, e_aliased)


def test_float32_matches_float64(gen):
    """The aliased path follows the layer's dtype (float32 within 1e-5 of float64)."""
    exact, aliased = _pair("so3", 2, 2, 3, 5)
    x = _noise("so3", 1, 2, 3, gen)
    with torch.no_grad():
        y64 = aliased(x)
        y32 = aliased.float()(x.float())
    assert y32.dtype == torch.float32 and relative_error(y32, y64) < 1e-5


def test_shortcut_passes_upsampling(gen):
    """``SO3Shortcut`` hands ``upsampling`` to its convolution; the identity shortcut still validates it."""
    sc = SO3Shortcut(2, 3, 3, 5, upsampling="aliased").double()
    assert sc.conv.upsampling == "aliased" and sc.conv.L_spec == 5
    conv = SO3Convolution(2, 3, 3, 5, ((0.0, 0.0, 0.0),), upsampling="aliased").double()
    conv.load_state_dict(sc.conv.state_dict())
    x = _noise("so3", 1, 2, 3, gen)
    with torch.no_grad():
        assert torch.equal(sc(x), conv(x))
    assert SO3Shortcut(2, 2, 3, 3, upsampling="aliased").conv is None
    with pytest.raises(ValueError, match=r"upsampling must be one of \('exact', 'aliased'\), got 'orig'"):
        SO3Shortcut(2, 2, 3, 3, upsampling="orig")


@pytest.mark.parametrize("kind", list(LAYERS))
def test_upsampling_errors_and_repr(kind):
    cls, grid, _ = LAYERS[kind]
    with pytest.raises(ValueError, match=r"upsampling must be one of \('exact', 'aliased'\), got 'Aliased'"):
        cls(1, 1, 4, 6, grid, upsampling="Aliased")
    with pytest.raises(ValueError, match=r"b_out <= 2\*b_in .* got b_in=4, b_out=9"):
        cls(1, 1, 4, 9, grid, upsampling="aliased")
    cls(1, 1, 4, 8, grid, upsampling="aliased")  # b_out = 2 b_in is allowed
    assert "upsampling=aliased" in repr(cls(1, 1, 4, 6, grid, upsampling="aliased"))
    assert "upsampling" not in repr(cls(1, 1, 4, 6, grid))
