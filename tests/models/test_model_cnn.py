"""CNN segmenter / classifier: output shapes, (non-)equivariance, circular padding; the sphere-aware CNN
(circular + pole padding)."""

from __future__ import annotations

import math

import pytest
import torch

from eqaug.models import (
    CNNClsSpec,
    CNNSegSpec,
    SphereCNNClsSpec,
    SphereCNNSegSpec,
    as_spec,
    build_model,
    count_params,
)
from eqaug.models.cnn import DownBlock, UpBlock, pole_rows, sphere_pad
from s2cnn.rotation import s2_grid_rotation_y_pi as beta_half_turn
from s2cnn.testing import equivariance_error
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


@pytest.mark.parametrize("name", ["cnn_seg_tiny", "cnn_seg_218k_circ_small"])
def test_segmenters_hold_channels_last_weights_and_compute_the_contiguous_values(name, tmp_path):
    """Channels-last weights (the faster CPU convolutions) change neither the values nor what a checkpoint holds."""
    model = build_model(name)
    convs = [m for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    assert convs and all(c.weight.is_contiguous(memory_format=torch.channels_last) for c in convs)
    b = model.spec.bandwidth
    x = torch.randn(2, 1, 2 * b, 2 * b)
    y = model(x)
    assert y.is_contiguous()
    reference = build_model(name).to(memory_format=torch.contiguous_format)
    reference.load_state_dict(model.state_dict())
    torch.testing.assert_close(reference(x), y, rtol=1e-5, atol=1e-5)
    torch.save(model.state_dict(), tmp_path / "w.pt")
    fresh = build_model(name)
    fresh.load_state_dict(torch.load(tmp_path / "w.pt", weights_only=True))
    assert torch.equal(fresh(x), y)


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


# ----------------------------------------------------------------------------------------------- pole padding
def test_pole_padding_rows_are_the_flipped_half_rolled_rows():
    """The rows above row 0 are rows 0, 1, … (reversed) at longitude + π (rolled by half the width), those below
    the last row likewise; the columns wrap circularly."""
    x = torch.rand(2, 3, 8, 10)
    p = 2
    padded = sphere_pad(x, p, 0)
    assert padded.shape == (2, 3, 12, 10)
    assert torch.equal(padded[..., p:-p, :], x)
    assert torch.equal(padded[..., :p, :], torch.roll(x[..., :p, :].flip(-2), 5, -1))
    assert torch.equal(padded[..., -p:, :], torch.roll(x[..., -p:, :].flip(-2), 5, -1))
    assert not torch.equal(padded[..., :p, :], x[..., :p, :].flip(-2))  # a plain reflection would be wrong
    both = sphere_pad(x, p, 3)
    assert torch.equal(both[..., 3:-3], padded) and torch.equal(both[..., :3], padded[..., -3:])


def test_pole_padding_continues_smooth_functions_across_the_poles():
    """On the SOFT grid the padded row at index ``r < 0`` (or ``≥ 2b``) lies at colatitude ``β_r = π(2r+1)/(4b)``
    (outside ``[0, π]``), i.e. at ``|β_r|`` on the meridian ``α + π``: a smooth function of the unit vector,
    evaluated on the padded grid, is its formula at ``β_r``."""
    b, p = 4, 3
    beta = torch.pi * (2 * torch.arange(-p, 2 * b + p, dtype=torch.float64) + 1) / (4 * b)
    alpha = 2 * torch.pi * torch.arange(2 * b, dtype=torch.float64) / (2 * b)
    B, A = torch.meshgrid(beta, alpha, indexing="ij")
    f = torch.stack([B.sin() * A.cos(), B.sin() * A.sin(), B.cos(), (B.sin() * A.cos()) ** 2 + B.cos()])
    assert torch.allclose(sphere_pad(f[..., p:-p, :], p, 0), f, atol=1e-12)
    assert pole_rows(2, 3)[0] == (1, 1, 0, 0, 1, 1, 0, 0)  # a pad deeper than the image reflects again


@pytest.mark.parametrize("k", [1, 3, 7, 9])
def test_pole_up_block_at_stride_one_is_the_cropped_circular_transposed_conv(k):
    """At stride 1 the sphere-aware up block runs a plain conv with the flipped, channel-swapped kernel; it must
    equal its definition, the transposed conv of the input padded by ``q`` across the poles and around α,
    cropped from ``q·s + (k−1)/2`` (float64, values and gradients)."""
    torch.manual_seed(k)
    block = UpBlock(3, 4, k, 1, (10, 10), (10, 10), skip=False, circular=True, pole=True).double()
    x = torch.randn(2, 3, 10, 10, dtype=torch.float64, requires_grad=True)
    y = block(x)
    ref = block.conv(sphere_pad(x, block.q, block.q))[..., block.crop : block.crop + 10, block.crop : block.crop + 10]
    assert y.shape == ref.shape == (2, 4, 10, 10)
    assert torch.allclose(y, ref, atol=1e-12)
    g = torch.randn_like(y)
    grads = torch.autograd.grad(y, (x, block.conv.weight), g)
    grads_ref = torch.autograd.grad(ref, (x, block.conv.weight), g)
    assert all(torch.allclose(a, b, atol=1e-11) for a, b in zip(grads, grads_ref))


def test_sphere_aware_skip_pools_separably_with_torchs_maxima_and_argmax():
    """The sphere-aware down block's skip pools ``1×k`` then ``k×1``: the same values as ``MaxPool2d(k, s)`` and,
    with ties (a ReLU output full of zeros), the gradient lands on the same elements."""
    torch.manual_seed(0)
    block = DownBlock(2, 3, 5, 2, skip=True, circular=True, pole=True)
    x = torch.relu(torch.randn(2, 2, 13, 13)).requires_grad_(True)
    y, ref = block.skip[0](x), torch.nn.MaxPool2d(5, 2)(x)
    assert torch.equal(y, ref)
    g = torch.rand_like(y)
    grad, grad_ref = torch.autograd.grad(y, x, g)[0], torch.autograd.grad(ref, x, g)[0]
    assert torch.equal(grad != 0, grad_ref != 0)  # the same argmax elements
    assert torch.allclose(grad, grad_ref, atol=1e-6)  # overlapping windows sum in another order


def _sph(**kw):
    base = dict(bandwidth=8, features=[3, 4, 5], kernel_sizes=[3, 5, 3], strides=[1, 2, 2])
    return SphereCNNSegSpec(**{**base, **kw})


def test_pole_padding_sizes_follow_the_widths_and_counts_do_not_change():
    spec = _sph()
    assert spec.sizes() == [(16, 16), (16, 16), (8, 8), (4, 4)]
    plain = CNNSegSpec(bandwidth=8, features=[3, 4, 5], kernel_sizes=[3, 5, 3], strides=[1, 2, 2])
    assert spec.n_params() == plain.n_params() == count_params(build_model(spec))
    assert as_spec("cnn_seg_218k_circ_small").n_params() == as_spec("cnn_seg_218k_b16").n_params() == 237_932
    assert as_spec("cnn_seg_218k_circ").n_params() == as_spec("cnn_seg_218k").n_params() == 218_144
    big = SphereCNNSegSpec(bandwidth=2, features=[2, 3], kernel_sizes=[9, 7], strides=[2, 1])  # kernels > image
    assert build_model(big)(torch.randn(1, 1, 4, 4)).shape == (1, 11, 4, 4)


@pytest.mark.parametrize("b", [8, 9, 16])
def test_sphere_cnn_shapes(b):
    m = build_model(_sph(bandwidth=b))
    assert m(torch.randn(2, 1, 2 * b, 2 * b)).shape == (2, 11, 2 * b, 2 * b)
    c = SphereCNNClsSpec(bandwidth=b, features=[3, 4], kernel_sizes=[3, 5], strides=[1, 2], fc_features=[6, 5])
    assert build_model(c).eval()(torch.randn(2, 1, 2 * b, 2 * b)).shape == (2, 10)


@pytest.mark.parametrize("name", ["sphcnn_seg_tiny", "cnn_seg_218k_circ_small"])
def test_sphere_cnn_seg_is_exactly_roll_equivariant(name):
    """The equivariance row of the sphere-aware segmenter: α-rolls by multiples of the product of the strides
    (2 for the tiny model, 1 for the 218k one) are exact; the β half-turn is not a symmetry."""
    torch.manual_seed(0)
    m = build_model(name).double()
    spec = as_spec(name)
    step = math.prod(spec.strides)
    x = torch.rand(2, 1, 2 * spec.bandwidth, 2 * spec.bandwidth, dtype=torch.float64)
    with torch.no_grad():
        y = m(x)
        for r in (step, 3 * step, spec.bandwidth):
            roll = lambda t, r=r: torch.roll(t, r, -1)  # noqa: E731
            assert equivariance_error(m, x, roll, roll) < 1e-12
        assert rel_err(m(beta_half_turn(x)), beta_half_turn(y)) > 0.1
        if step > 1:
            assert rel_err(m(torch.roll(x, 1, -1)), torch.roll(y, 1, -1)) > 1e-3


def test_sphere_cnn_cls_is_exactly_roll_invariant():
    torch.manual_seed(0)
    m = build_model("sphcnn_cls_tiny").double().eval()
    x = torch.rand(2, 1, 16, 16, dtype=torch.float64)
    with torch.no_grad():
        y = m(x)
        for r in (2, 6, 8):
            assert rel_err(m(torch.roll(x, r, -1)), y) < 1e-12


def test_plain_cnn_with_the_same_architecture_is_not_roll_equivariant():
    """Negative control: the same tiny network without the paddings (valid convolutions) is not."""
    torch.manual_seed(0)
    spec = as_spec("sphcnn_seg_tiny")
    plain = CNNSegSpec(bandwidth=8, features=spec.features, kernel_sizes=spec.kernel_sizes, strides=spec.strides)
    m = build_model(plain).double()
    x = torch.rand(2, 1, 16, 16, dtype=torch.float64)
    with torch.no_grad():
        assert rel_err(m(torch.roll(x, 2, -1)), torch.roll(m(x), 2, -1)) > 1e-2


@pytest.mark.parametrize(
    "make, match",
    [
        (
            lambda: CNNSegSpec(bandwidth=8, features=[4], kernel_sizes=[3], strides=[1], pole_padding=True),
            r"model.pole_padding=true is not allowed with model.circular_padding=false",
        ),
        (lambda: _sph(circular_padding=False), r"model.circular_padding=False is not allowed for family 'sphcnn_seg'"),
        (lambda: _sph(pole_padding=False), r"model.pole_padding=False is not allowed.*use family 'cnn_seg'"),
        (lambda: _sph(kernel_sizes=[3, 4, 3]), r"kernel_sizes\[1\]=4.*must be odd"),
        (lambda: _sph(family="cnn_seg"), r"family='cnn_seg'.*must be 'sphcnn_seg'"),
        (lambda: CNNSegSpec(family="sphcnn_seg", bandwidth=8, features=[4], kernel_sizes=[3], strides=[1]), "cnn_seg"),
    ],
)
def test_bad_sphere_specs_name_the_value(make, match):
    with pytest.raises(ValueError, match=match):
        make()
