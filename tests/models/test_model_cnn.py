"""CNN segmenter / classifier: output shapes, (non-)equivariance, circular padding."""

from __future__ import annotations

import pytest
import torch

from eqaug.models import CNNClsSpec, CNNSegSpec, build_model
from s2cnn.rotation import s2_grid_rotation_y_pi as beta_half_turn
from s2cnn.testing import relative_error as rel_err

torch.set_num_threads(1)


@pytest.mark.parametrize("b", [8, 16, 50])
@pytest.mark.parametrize("circular", [False, True])
def test_cnn_seg_shapes(b, circular):
    spec = CNNSegSpec(
        bandwidth=b, features=[3, 4, 5], kernel_sizes=[3, 5, 3], strides=[1, 2, 2], circular_padding=circular
    )
    m = build_model(spec)
    y = m(torch.randn(2, 1, 2 * b, 2 * b))
    assert y.shape == (2, 11, 2 * b, 2 * b)


@pytest.mark.parametrize("b", [8, 16, 50])
def test_cnn_cls_shapes(b):
    spec = CNNClsSpec(bandwidth=b, features=[3, 4], kernel_sizes=[3, 5], strides=[1, 2], fc_features=[6, 5])
    m = build_model(spec).eval()
    assert m(torch.randn(2, 1, 2 * b, 2 * b)).shape == (2, 10)


@pytest.mark.parametrize(
    "name, out",
    [("cnn_seg_218k_small", (1, 11, 32, 32)), ("cnn_seg_5m5_small", (1, 11, 32, 32)), ("cnn_cls_2m5_small", (2, 10))],
)
def test_named_small_models_forward(name, out):
    m = build_model(name).eval()
    with torch.no_grad():
        assert m(torch.randn(out[0], 1, 32, 32)).shape == out


def test_even_kernels_and_odd_sizes_restore_the_input_size():
    spec = CNNSegSpec(bandwidth=9, features=[2, 3, 4], kernel_sizes=[4, 3, 2], strides=[3, 2, 2])
    assert build_model(spec)(torch.randn(1, 1, 18, 18)).shape == (1, 11, 18, 18)


def test_cnn_is_not_equivariant():
    torch.manual_seed(0)
    m = build_model("cnn_seg_218k_small").double()
    x = torch.rand(1, 1, 32, 32, dtype=torch.float64)
    with torch.no_grad():
        y, y_rot = m(x), m(beta_half_turn(x))
        y_roll = m(torch.roll(x, 8, -1))
    assert rel_err(y_rot, beta_half_turn(y)) > 0.1
    assert rel_err(y_roll, torch.roll(y, 8, -1)) > 0.1


def test_circular_padding_is_alpha_roll_equivariant_with_unit_strides(device):
    torch.manual_seed(0)
    spec = CNNSegSpec(bandwidth=8, features=[3, 4, 5], kernel_sizes=[3, 5, 3], strides=[1, 1, 1], circular_padding=True)
    m = build_model(spec).double().to(device)
    x = torch.rand(2, 1, 16, 16, dtype=torch.float64).to(device)
    with torch.no_grad():
        y = m(x)
        for r in (1, 3, 8):
            assert rel_err(m(torch.roll(x, r, -1)), torch.roll(y, r, -1)) < 1e-12
        assert rel_err(m(beta_half_turn(x)), beta_half_turn(y)) > 0.1  # only α-rolls are symmetries


def test_circular_padding_with_strides_equivariant_to_multiples_of_their_product():
    torch.manual_seed(0)
    spec = CNNSegSpec(bandwidth=8, features=[3, 4, 5], kernel_sizes=[3, 5, 1], strides=[1, 2, 2], circular_padding=True)
    assert spec.sizes() == [(16, 16), (14, 16), (5, 8), (3, 4)]
    m = build_model(spec).double()
    x = torch.rand(1, 1, 16, 16, dtype=torch.float64)
    with torch.no_grad():
        y = m(x)
        for r in (4, 8, 12):
            assert rel_err(m(torch.roll(x, r, -1)), torch.roll(y, r, -1)) < 1e-12
        assert rel_err(m(torch.roll(x, 1, -1)), torch.roll(y, 1, -1)) > 1e-3
