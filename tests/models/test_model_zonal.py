"""Zonal spherical CNN (Esteves et al. 2018): the layer's equivariance, gradients, scale; the models' shapes,
parameter counts and end-to-end equivariance; spec errors.

Exactness of the whole models: the rotations used below permute every grid the network uses (the α-roll by
a quarter turn because every bandlimit of the tiny models, 8 6 4, has ``2b`` divisible by 4; the half-turn
``(β, α) → (π − β, π − α)`` preserves every SOFT grid), so the ReLUs commute with them and the network is
equivariant up to round-off. Generic rotations are exact only for band-limited signals, so they are tested on
one layer's linear part with band-limited input.
"""

from __future__ import annotations

import pytest
import torch

from eqaug.models import ZonalClsSpec, ZonalSegSpec, as_spec, build_model, count_params
from eqaug.models.zonal import ZonalConv, anchor_weights
from s2cnn.rotation import s2_grid_rotation_y_pi as beta_half_turn
from s2cnn.rotation import s2_rotation
from s2cnn.testing import equivariance_error, random_rotation, random_s2_signal
from s2cnn.testing import relative_error as rel_err

torch.set_num_threads(1)

NAMED = ["zonal_seg", "zonal_seg_small", "zonal_cls", "zonal_cls_small", "zonal_seg_tiny", "zonal_cls_tiny"]


def alpha_roll(r: int):
    return lambda x: torch.roll(x, r, -1)


def _seg(**kw):
    return ZonalSegSpec(**{**dict(bandwidth=8, features=[4, 6, 4], bandlimits=[6, 4, 6], n_anchors=2), **kw})


def _cls(**kw):
    base = dict(bandwidth=8, features=[4, 6], bandlimits=[6, 4], n_anchors=2, fc_features=[8, 8])
    return ZonalClsSpec(**{**base, **kw})


# ----------------------------------------------------------------------------------------------- the layer
def test_anchor_weights_interpolate_linearly_between_evenly_spaced_anchors():
    lam = anchor_weights(7, 4)  # anchors at degrees 0, 2, 4, 6
    assert torch.allclose(lam.sum(1), torch.ones(7, dtype=torch.float64))
    assert lam[0].tolist() == [1, 0, 0, 0] and lam[6].tolist() == [0, 0, 0, 1] and lam[3].tolist() == [0, 0.5, 0.5, 0]
    assert torch.equal(anchor_weights(5, 1), torch.ones(5, 1, dtype=torch.float64))
    assert torch.equal(anchor_weights(3, 3), torch.eye(3, dtype=torch.float64))


def test_layer_applies_the_interpolated_filter_per_degree():
    """Against a direct evaluation: analysis, ``W_l`` per degree (one matrix for all orders), synthesis."""
    from s2cnn._real import s2_analysis_real, s2_synthesis_real

    torch.manual_seed(0)
    layer = ZonalConv(3, 2, 8, 6, n_anchors=3).double()
    x = torch.randn(2, 3, 16, 16, dtype=torch.float64)
    L, B = 6, 2
    coef = s2_analysis_real(x, L)
    W = layer.degree_weights()
    blocks = [coef[l * l * B : (l + 1) ** 2 * B] @ W[l] for l in range(L)]
    expected = s2_synthesis_real(torch.cat(blocks), 6, L, B) + layer.bias.detach()[:, None, None]
    assert rel_err(layer(x), expected) < 1e-13


@pytest.mark.parametrize("b_in, b_out", [(8, 6), (6, 8), (8, 8)])
@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-12), (torch.float32, 1e-6)])
def test_layer_is_equivariant_to_generic_rotations_of_band_limited_input(b_in, b_out, dtype, tol):
    """Linear part (no ReLU) under Haar-random rotations; the input is band-limited to ``b_in`` and the output to
    ``min(b_in, b_out)``, so ``s2_rotation`` (float64) is exact on both. float32: the layer runs in float32 on the
    rotated/unrotated float64 input rounded to float32."""
    torch.manual_seed(0)
    layer = ZonalConv(3, 4, b_in, b_out, n_anchors=3).double()
    torch.nn.init.normal_(layer.bias)
    layer = layer.to(dtype)
    g = torch.Generator().manual_seed(1)
    x = random_s2_signal(b_in, 2, 3, dtype=torch.float64, generator=g)
    for _ in range(3):
        R = random_rotation(generator=g)
        rotate = lambda t, R=R: s2_rotation(t, *R)  # noqa: E731
        err = equivariance_error(lambda t: layer(t.to(dtype)).double(), x, rotate, rotate)
        assert err <= tol, err


def test_layer_gradcheck_float64():
    torch.manual_seed(0)
    layer = ZonalConv(2, 3, 4, 3, n_anchors=2).double()
    x = torch.randn(2, 2, 8, 8, dtype=torch.float64, requires_grad=True)
    anchors = layer.anchors.detach().clone().requires_grad_(True)
    bias = layer.bias.detach().clone().normal_().requires_grad_(True)

    def f(inp, a, c):
        return torch.func.functional_call(layer, {"anchors": a, "bias": c}, (inp,))

    assert torch.autograd.gradcheck(f, (x, anchors, bias))


def test_initialisation_keeps_unit_scale_through_a_stack():
    torch.manual_seed(0)
    bs, chans = [16, 12, 8, 12, 16], [1, 16, 32, 32, 16]
    layers = [ZonalConv(chans[i], chans[i + 1], bs[i], bs[i + 1], n_anchors=4) for i in range(4)]
    x = torch.randn(4, 1, 32, 32)
    with torch.no_grad():
        for i, layer in enumerate(layers):
            y = layer(x)
            assert 0.1 <= y.std().item() <= 10, (i, y.std().item())
            x = torch.relu(y)


# ----------------------------------------------------------------------------------------------- the models
@pytest.mark.parametrize("name", NAMED)
def test_built_param_counts_match_the_analytic_ones(name):
    assert count_params(build_model(name)) == as_spec(name).n_params()


@pytest.mark.parametrize("spec", [_seg(), _seg(bandwidth=16, bandlimits=[12, 6, 12], n_anchors=4)])
def test_seg_shapes(spec):
    b = spec.bandwidth
    assert build_model(spec)(torch.randn(2, 1, 2 * b, 2 * b)).shape == (2, 11, 2 * b, 2 * b)


def test_cls_shapes():
    m = build_model(_cls()).eval()
    assert m(torch.randn(3, 1, 16, 16)).shape == (3, 10)


def test_named_small_models_forward():
    for name, out in (("zonal_seg_small", (1, 11, 32, 32)), ("zonal_cls_small", (2, 10))):
        m = build_model(name).eval()
        with torch.no_grad():
            assert m(torch.randn(out[0], 1, 32, 32)).shape == out


@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
def test_seg_is_exactly_equivariant_to_grid_rotations(dtype, tol):
    """The equivariance row of the whole segmenter: quarter- and half-turn α-rolls, the β half-turn, a composite."""
    torch.manual_seed(0)
    m = build_model("zonal_seg_tiny").to(dtype)
    x = torch.rand(2, 1, 16, 16, dtype=dtype)
    with torch.no_grad():
        y = m(x)
        for rot in (alpha_roll(4), alpha_roll(8), beta_half_turn, lambda t: alpha_roll(4)(beta_half_turn(t))):
            assert equivariance_error(m, x, rot, rot) <= tol
        assert rel_err(m(beta_half_turn(x)), y) > 0.1  # control: the output does change
        # control: a roll that is a symmetry of the input grid but not of the coarser ones is not exact
        assert equivariance_error(m, x, alpha_roll(1), alpha_roll(1)) > 1e-3


def test_cls_is_exactly_invariant_to_grid_rotations():
    torch.manual_seed(0)
    m = build_model("zonal_cls_tiny").double().eval()
    x = torch.rand(2, 1, 16, 16, dtype=torch.float64)
    with torch.no_grad():
        y = m(x)
        for rot in (alpha_roll(4), alpha_roll(8), beta_half_turn):
            assert rel_err(m(rot(x)), y) <= 1e-12


# ----------------------------------------------------------------------------------------------- specs
@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: _seg(n_anchors=0), r"model.n_anchors=0 is not allowed; it must be an integer >= 1"),
        (lambda: _seg(n_anchors=5), r"n_anchors=5 is not allowed; layer 1 filters only the 4 degree.*at most 4"),
        (lambda: _cls(n_anchors=5, bandlimits=[6, 3]), r"n_anchors=5.*layer 1 filters only the 3.*at most 3"),
        (lambda: _seg(bandlimits=[9, 4, 6]), r"bandlimits\[0\]=9 is above the input bandwidth 8"),
        (lambda: _seg(bandlimits=[4, 6, 4]), r"bandlimits=\[4, 6, 4\].*first decrease.*then increase"),
        (lambda: _seg(bandlimits=[6, 4]), r"bandlimits has 2 entries.*features has 3"),
        (lambda: _seg(features=[4, 0, 4]), r"features\[1\]=0"),
        (lambda: _seg(family="zonal_cls"), r"must be 'zonal_seg'"),
        (lambda: _cls(bandlimits=[4, 6]), r"must not increase"),
        (lambda: _cls(fc_features=[0]), r"fc_features\[0\]=0"),
    ],
)
def test_bad_specs_name_the_value(make, match):
    with pytest.raises(ValueError, match=match):
        make()
