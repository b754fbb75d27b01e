"""Equivariance of every layer: exact grid rotations (any input) and generic rotations (band-limited input).

Grid-preserving rotations (derivations in ``s2cnn.rotation``):

* ``R_z(π)`` rolls the α axis by ``b`` on a grid of bandwidth ``b`` — for any pair ``(b_in, b_out)``;
  ``R_z(π/2)`` rolls by ``b/2`` when both bandwidths are even.  The layer sees ``F_m ↦ e^{-imα} F_m``
  after the α-FFT, which is exactly ``D(R_z(α))`` on the coefficients, so the output rolls by the same angle.
* ``R_y(π)``: ``f'[j, k] = f[2b-1-j, b-k]`` (S²) and ``f'[j, k, l] = f[2b-1-j, b-k, l+b]`` (SO(3)).  The
  SOFT weights are symmetric (``w_j = w_{2b-1-j}``), ``d^l_{mn}(π-β) = (-1)^{l+m} d^l_{m,-n}(β)`` and the
  α-reflection maps ``F_m`` to ``(-1)^m F_{-m}``, so the discrete transform commutes with the permutation
  exactly — for any grid signal, band-limited or not.

Both are therefore tested on unstructured random input at near machine precision.  A γ-roll is a *right*
translation, which the layers are not equivariant to (it rotates the kernel instead); it serves, like a
β-roll, as a control that the error measure detects broken equivariance.
"""

from __future__ import annotations

import pytest
import torch

from s2cnn import (
    S2Convolution,
    SO3Convolution,
    SO3Shortcut,
    SO3ToS2Convolution,
    rotation,
    s2_near_identity_grid,
    so3_integrate,
    so3_near_identity_grid,
)
from s2cnn.testing import (
    assert_equivariant,
    equivariance_error,
    random_rotation,
    random_s2_signal,
    random_so3_signal,
    relative_error,
)

S2G = s2_near_identity_grid(max_beta=0.5, n_alpha=4, n_beta=2)
SO3G = so3_near_identity_grid(max_beta=0.5, n_alpha=4, n_beta=2, n_gamma=3)

# (name, constructor, b_in, b_out, input on SO(3)?, output on SO(3)?)
LAYERS = [
    ("s2conv", lambda: S2Convolution(2, 3, 6, 4, S2G), 6, 4, False, True),
    ("s2conv_up", lambda: S2Convolution(1, 2, 4, 6, S2G), 4, 6, False, True),
    ("so3conv", lambda: SO3Convolution(3, 2, 6, 4, SO3G), 6, 4, True, True),
    ("so3conv_up", lambda: SO3Convolution(2, 3, 4, 6, SO3G), 4, 6, True, True),
    ("so3tos2", lambda: SO3ToS2Convolution(3, 2, 4, 6, SO3G), 4, 6, True, False),
    ("so3tos2_down", lambda: SO3ToS2Convolution(2, 2, 6, 4, SO3G), 6, 4, True, False),
    ("shortcut", lambda: SO3Shortcut(3, 2, 6, 4), 6, 4, True, True),
    ("shortcut_up", lambda: SO3Shortcut(2, 3, 4, 6), 4, 6, True, True),
]
IDS = [entry[0] for entry in LAYERS]
# with the ReLU fused into the inverse FFT: pointwise, so equivariant under the grid rotations only
RELU_LAYERS = [
    ("s2conv_relu", lambda: S2Convolution(2, 3, 6, 4, S2G, activation="relu"), 6, 4, False, True),
    ("so3conv_relu", lambda: SO3Convolution(3, 2, 6, 4, SO3G, activation="relu"), 6, 4, True, True),
]


def _layer(make, dtype, device):
    torch.manual_seed(0)
    layer = make().to(device=device, dtype=dtype)
    with torch.no_grad():
        for name, p in layer.named_parameters():
            if name.endswith("bias"):
                p.normal_()
    return layer


def _rot_z(on_so3: bool, k: int):
    return (lambda t: rotation.so3_grid_rotation_z(t, k)) if on_so3 else (lambda t: rotation.s2_grid_rotation_z(t, k))


def _rot_y_pi(on_so3: bool):
    return rotation.so3_grid_rotation_y_pi if on_so3 else rotation.s2_grid_rotation_y_pi


def _generic(on_so3: bool, R):
    return (lambda t: rotation.so3_rotation(t, *R)) if on_so3 else (lambda t: rotation.s2_rotation(t, *R))


@pytest.mark.parametrize(
    "name,make,b_in,b_out,so3_in,so3_out", LAYERS + RELU_LAYERS, ids=IDS + [e[0] for e in RELU_LAYERS]
)
def test_exact_grid_rotations(name, make, b_in, b_out, so3_in, so3_out, dtype, tol, device, gen):
    layer = _layer(make, dtype, device)
    shape = (2, layer.nfeature_in) + (2 * b_in,) * (3 if so3_in else 2)
    x = torch.randn(*shape, generator=gen, dtype=dtype).to(device)  # not band-limited: grid symmetries are exact anyway
    assert_equivariant(layer, x, _rot_z(so3_in, b_in), _rot_z(so3_out, b_out), tol=tol[0])  # R_z(π)
    assert_equivariant(layer, x, _rot_z(so3_in, b_in // 2), _rot_z(so3_out, b_out // 2), tol=tol[0])  # R_z(π/2)
    assert_equivariant(layer, x, _rot_y_pi(so3_in), _rot_y_pi(so3_out), tol=tol[0])  # R_y(π)


@pytest.mark.parametrize("name,make,b_in,b_out,so3_in,so3_out", LAYERS, ids=IDS)
def test_generic_rotations(name, make, b_in, b_out, so3_in, so3_out, dtype, tol, device, gen):
    layer = _layer(make, dtype, device)
    signal = random_so3_signal if so3_in else random_s2_signal
    x = signal(b_in, 2, layer.nfeature_in, generator=gen, dtype=dtype).to(device)
    for _ in range(2):
        R = random_rotation(gen)
        assert_equivariant(layer, x, _generic(so3_in, R), _generic(so3_out, R), tol=tol[1])
    # controls: the same measure is large for maps that are not rotations of the output
    assert equivariance_error(layer, x, _generic(so3_in, R), lambda t: t) > 0.05
    beta_roll = lambda t: torch.roll(t, 1, dims=2)  # noqa: E731  (shifting β is not a rotation)
    assert equivariance_error(layer, x, beta_roll, beta_roll) > 0.05
    if so3_in and so3_out:  # γ-roll = right translation: not a symmetry of a group correlation
        assert equivariance_error(layer, x, lambda t: torch.roll(t, 1, -1), lambda t: torch.roll(t, 1, -1)) > 0.05
    # the Haar integral of the output is invariant
    if so3_out:
        with torch.no_grad():
            i1, i2 = so3_integrate(layer(_generic(so3_in, R)(x))), so3_integrate(layer(x))
        assert relative_error(i1, i2) < tol[1]


def test_rotations_are_representations(dtype, tol, gen):
    """s2_rotation / so3_rotation: rotating by R1 then R2 equals rotating by R2·R1 (generic angles)."""
    from s2cnn import grids

    R1, R2 = random_rotation(gen), random_rotation(gen)
    a, b, c = (t.item() for t in grids.matrix_to_euler(grids.euler_to_matrix(*R2) @ grids.euler_to_matrix(*R1)))
    x = random_so3_signal(6, 2, generator=gen, dtype=dtype)
    err = relative_error(rotation.so3_rotation(rotation.so3_rotation(x, *R1), *R2), rotation.so3_rotation(x, a, b, c))
    assert err < tol[1]
    s = random_s2_signal(8, 2, generator=gen, dtype=dtype)
    err = relative_error(rotation.s2_rotation(rotation.s2_rotation(s, *R1), *R2), rotation.s2_rotation(s, a, b, c))
    assert err < tol[1]


def test_larger_bandwidth_chain(dtype, tol, gen):
    """S² → SO(3) → S² at b = 16 with default grids (one moderately sized case)."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        S2Convolution(1, 3, 16, 12, s2_near_identity_grid()),
        torch.nn.Identity(),
        SO3ToS2Convolution(3, 2, 12, 16, so3_near_identity_grid()),
    ).to(dtype)
    x = random_s2_signal(16, 1, 1, generator=gen, dtype=dtype)
    R = random_rotation(gen)
    err = assert_equivariant(net, x, _generic(False, R), _generic(False, R), tol=tol[1])
    assert err > 0.0 or dtype == torch.float64
    assert_equivariant(net, x, _rot_y_pi(False), _rot_y_pi(False), tol=tol[0])


def test_pointwise_nonlinearity_is_only_grid_equivariant(gen):
    """ReLU on the grid commutes with grid rotations exactly but not with generic ones (documented limitation)."""
    layer = _layer(LAYERS[0][1], torch.float64, "cpu")
    net = torch.nn.Sequential(layer, torch.nn.ReLU(), SO3Convolution(3, 1, 4, 4, SO3G).double())
    x = random_s2_signal(6, 1, 2, generator=gen)
    assert_equivariant(net, x, _rot_y_pi(False), _rot_y_pi(True), tol=1e-12)
    R = random_rotation(gen)
    assert equivariance_error(net, x, _generic(False, R), _generic(True, R)) > 1e-4
