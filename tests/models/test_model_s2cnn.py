"""S2CNN segmenter / classifier: built parameter counts, shapes, end-to-end equivariance.

Exactness: the rotations used map every grid the network uses (S² at b, SO(3) at every
intermediate bandlimit) onto itself, so the pointwise ReLUs commute with them and the whole
network is equivariant up to float round-off. α-rolls by a quarter turn are grid-preserving
here because every bandlimit (8, 6, 4) has 2b divisible by 4; the β half-turn
``(β, α) → (π − β, π − α)`` (rotation by π about y) preserves every SOFT grid.
"""

from __future__ import annotations

import pytest
import torch

from eqaug.models import S2CNNClsSpec, S2CNNSegSpec, as_spec, build_model, count_params
from s2cnn.rotation import s2_grid_rotation_y_pi as beta_half_turn
from s2cnn.testing import relative_error as rel_err

torch.set_num_threads(1)


def alpha_roll(r: int):
    return lambda x: torch.roll(x, r, -1)


def _seg(b, features, bandlimits, **kw):
    return S2CNNSegSpec(bandwidth=b, features=features, bandlimits=bandlimits, **kw)


@pytest.mark.parametrize("name", ["s2cnn_seg_204k", "s2cnn_seg_204k_small", "s2cnn_cls_150k", "s2cnn_cls_150k_small"])
def test_built_param_counts(name):
    assert count_params(build_model(name)) == as_spec(name).n_params()


def test_shortcut_param_counts():
    for spec in (
        _seg(8, [3, 4, 4, 3], [6, 4, 4, 6], shortcuts=True),
        S2CNNClsSpec(bandwidth=8, features=[3, 3, 5], bandlimits=[6, 6, 4], shortcuts=True),
    ):
        assert count_params(build_model(spec)) == spec.n_params()


@pytest.mark.parametrize("b, bl", [(8, [6, 4, 6]), (16, [10, 6, 10]), (50, [10, 5, 10])])
def test_seg_shapes(b, bl):
    m = build_model(_seg(b, [2, 3, 2], bl, shortcuts=True, beta_ref=0.05))
    assert m(torch.randn(2, 1, 2 * b, 2 * b)).shape == (2, 11, 2 * b, 2 * b)


@pytest.mark.parametrize("b, bl", [(8, [6, 4]), (16, [8, 4]), (50, [10, 5])])
def test_cls_shapes(b, bl):
    m = build_model(S2CNNClsSpec(bandwidth=b, features=[2, 3], bandlimits=bl, fc_features=[5, 4])).eval()
    assert m(torch.randn(2, 1, 2 * b, 2 * b)).shape == (2, 10)


def test_small_named_seg_forward():
    m = build_model("s2cnn_seg_204k_small")
    with torch.no_grad():
        assert m(torch.randn(1, 1, 32, 32)).shape == (1, 11, 32, 32)


@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-10), (torch.float32, 1e-5)])
def test_seg_equivariance_end_to_end(dtype, tol, device):
    torch.manual_seed(0)
    m = build_model(_seg(8, [3, 4, 3], [6, 4, 6], shortcuts=True)).to(device=device, dtype=dtype)
    x = torch.rand(2, 1, 16, 16, dtype=dtype).to(device)
    with torch.no_grad():
        y = m(x)
        for rot in (alpha_roll(4), alpha_roll(8), beta_half_turn, lambda t: alpha_roll(4)(beta_half_turn(t))):
            assert rel_err(m(rot(x)), rot(y)) <= tol
        assert rel_err(m(beta_half_turn(x)), y) > 0.1  # control: the output does change


def test_cls_invariance_end_to_end():
    torch.manual_seed(0)
    m = build_model(S2CNNClsSpec(bandwidth=8, features=[3, 4], bandlimits=[6, 4], fc_features=[6, 5])).double().eval()
    x = torch.rand(2, 1, 16, 16, dtype=torch.float64)
    with torch.no_grad():
        y = m(x)
        for rot in (alpha_roll(4), beta_half_turn):
            assert rel_err(m(rot(x)), y) <= 1e-10


def test_cnn_is_not_equivariant_under_the_same_rotation():
    torch.manual_seed(0)
    m = build_model("cnn_seg_218k_small").double()
    x = torch.rand(1, 1, 32, 32, dtype=torch.float64)
    with torch.no_grad():
        assert rel_err(m(beta_half_turn(x)), beta_half_turn(m(x))) > 0.1


# ----------------------------------------------------------------------------------------------- model.upsampling
def test_aliased_upsampling_is_the_original_layers_with_the_same_weights():
    """``model.upsampling='aliased'``: same parameters, outputs differ from the exact rule (the degrees the
    up-sampling layers' inputs lack are filled by the coarse grid's quadrature), still exact under the half-turn."""
    import dataclasses

    spec = as_spec("s2cnn_seg_tiny")
    assert any(b_out > b_in for b_in, b_out in spec.layer_bandwidths())
    torch.manual_seed(0)
    exact = build_model(spec).double().eval()
    aliased = build_model(dataclasses.replace(spec, upsampling="aliased")).double().eval()
    aliased.load_state_dict(exact.state_dict())
    assert count_params(aliased) == count_params(exact) == spec.n_params()
    x = torch.rand(2, 1, 2 * spec.bandwidth, 2 * spec.bandwidth, dtype=torch.float64)
    with torch.no_grad():
        y, y_aliased = exact(x), aliased(x)
        assert rel_err(y_aliased, y) > 1e-3
        assert rel_err(aliased(beta_half_turn(x)), beta_half_turn(y_aliased)) < 1e-12


def test_upsampling_values_are_checked():
    with pytest.raises(ValueError, match=r"model.upsampling='zero' is not allowed.*'exact', 'aliased'"):
        S2CNNSegSpec(bandwidth=8, features=[4, 4], bandlimits=[4, 6], upsampling="zero")
    with pytest.raises(ValueError, match=r"upsampling='aliased' needs b_out <= 2·b_in.*layer 2 goes 3 -> 8"):
        S2CNNSegSpec(bandwidth=8, features=[4, 4], bandlimits=[6, 3], upsampling="aliased")
