"""GSCNN layers: exact equivariance (float64 ≤ 1e-10, float32 ≤ 1e-5) under generic rotations, gradients, scale.

Generalized signals are lists ``[B, C, τ_l, 2l+1]`` rotated exactly by ``D^l(R)`` on the last axis; a layer is
applied as a map on real-type signals ``f ↦ from_internal(layer(to_internal(f)))``.
"""

from __future__ import annotations

import os
import shutil

import pytest
import torch

from eqaug.models.gscnn import (
    ChannelwiseConvolution,
    ConstrainedConvolution,
    CrossChannelConvolution,
    EquivariantBatchNorm,
    EquivariantLayerNorm,
    GeneralizedLayer,
    TensorProductActivation,
    UniformConvolution,
)
from eqaug.models.gscnn.signals import (
    const_type,
    from_internal,
    generalized_to_s2,
    hermitian_generalized,
    internal_to_s2,
    rotate_generalized,
    s2_to_generalized,
    s2_to_internal,
    so3_to_generalized,
    so3_to_internal,
    to_internal,
)
from s2cnn import s2_rotation, so3_rotation
from s2cnn.testing import random_rotation, random_s2_signal, random_so3_signal, relative_error

torch.set_num_threads(1)
DTYPES = [(torch.float64, 1e-10), (torch.float32, 1e-5)]
_C = {torch.float32: torch.complex64, torch.float64: torch.complex128}


def random_generalized(gtype, B: int, C: int, dtype, seed: int = 0) -> list[torch.Tensor]:
    """Real-type random fragments of unit scale."""
    g = torch.Generator().manual_seed(seed)
    f = [torch.randn(B, C, t, 2 * l + 1, 2, generator=g, dtype=torch.float64) for l, t in enumerate(gtype)]
    f = hermitian_generalized([torch.view_as_complex(v) for v in f])
    return [v.to(_C[dtype]) for v in f]


def list_error(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    return relative_error(torch.cat([v.flatten() for v in a]), torch.cat([v.flatten() for v in b]))


def equivariance_error(module, gtype, out_type, dtype, B=2, C=3, n_rot=2, seed=0) -> float:
    module = module.to(dtype)
    f = random_generalized(gtype, B, C, dtype, seed)
    apply = lambda h: from_internal(module(to_internal(h)[0]), out_type)  # noqa: E731
    gen = torch.Generator().manual_seed(seed + 1)
    worst = 0.0
    with torch.no_grad():
        y = apply(f)
        for _ in range(n_rot):
            R = random_rotation(gen)
            worst = max(worst, list_error(apply(rotate_generalized(f, *R)), rotate_generalized(y, *R)))
    return worst


@pytest.mark.parametrize("dtype, tol", DTYPES)
@pytest.mark.parametrize("mixing", ["full", "mst", "rmst"])
def test_activation_is_equivariant(mixing, dtype, tol):
    act = TensorProductActivation(const_type(5, 2), L_out=7, mixing=mixing)
    assert act.out_type[0] > 2 and len(act.out_type) == 7
    assert equivariance_error(act, const_type(5, 2), act.out_type, dtype) <= tol


def test_activation_real_type_and_pass_through():
    t = (1, 2, 1, 2)
    act = TensorProductActivation(t, L_out=4, mixing="full").double()
    f = random_generalized(t, 2, 3, torch.float64)
    x, _ = to_internal(f)
    out = from_internal(act(x), act.out_type)
    assert list_error(hermitian_generalized(out), out) < 1e-14  # products stay of real type
    for l in range(4):
        assert torch.allclose(out[l][:, :, : t[l]], f[l], atol=1e-14)
    assert act.n_products == sum(act.out_type) - sum(t) and act.n_terms > 0


@pytest.mark.parametrize("dtype, tol", DTYPES)
def test_constrained_convolutions_are_equivariant(dtype, tol):
    t_in, L = (3, 4, 2, 5), 4
    torch.manual_seed(0)
    cases = [
        (UniformConvolution(t_in, 2), t_in, const_type(L, 2)),
        (ChannelwiseConvolution(3, L, 2), const_type(L, 2), const_type(L, 2)),
        (CrossChannelConvolution(3, 3, L, 2), const_type(L, 2), const_type(L, 2)),
        (ConstrainedConvolution(3, 3, t_in, 2), t_in, const_type(L, 2)),
        (EquivariantBatchNorm(3, t_in), t_in, t_in),
        (EquivariantLayerNorm(3, t_in), t_in, t_in),
    ]
    with torch.no_grad():
        cases[1][0].weight.add_(0.3 * torch.randn_like(cases[1][0].weight))
        cases[2][0].bias.normal_()
    for module, ti, to in cases:
        for train in (True, False):
            module.train(train)
            assert equivariance_error(module, ti, to, dtype) <= tol, (type(module).__name__, train)


@pytest.mark.parametrize("dtype, tol", DTYPES)
def test_generalized_layer_is_equivariant(dtype, tol):
    torch.manual_seed(0)
    layer = GeneralizedLayer(3, 4, const_type(6, 2), L_out=5, tau_out=2, mixing="rmst")
    assert equivariance_error(layer, const_type(6, 2), layer.out_type, dtype, C=3) <= tol


@pytest.mark.parametrize("dtype, tol", DTYPES)
def test_conversions_are_equivariant(dtype, tol):
    gen = torch.Generator().manual_seed(3)
    R = random_rotation(gen)
    x = random_s2_signal(8, 2, 2, dtype=dtype, generator=gen)
    f = s2_to_generalized(x, 6)
    assert list_error(s2_to_generalized(s2_rotation(x, *R), 6), rotate_generalized(f, *R)) <= tol
    assert (
        relative_error(generalized_to_s2(rotate_generalized(f, *R), 8), s2_rotation(generalized_to_s2(f, 8), *R)) <= tol
    )
    assert relative_error(s2_to_internal(x, 6), to_internal(f)[0]) <= tol
    assert relative_error(internal_to_s2(s2_to_internal(x, 8), 8), x) <= tol  # round trip, band-limited
    y = random_so3_signal(6, 2, 2, dtype=dtype, generator=gen)
    g = so3_to_generalized(y, 5)
    assert list_error(so3_to_generalized(so3_rotation(y, *R), 5), rotate_generalized(g, *R)) <= tol
    r, t = so3_to_internal(y, 5)
    r_rot = to_internal(rotate_generalized(from_internal(r, t), *R))[0]
    assert relative_error(so3_to_internal(so3_rotation(y, *R), 5)[0], r_rot) <= tol
    # the real-type SO(3) fragments are a unitary recombination of the columns: same energy per degree
    assert abs(r.pow(2).sum().item() - sum(v.abs().pow(2).sum().item() for v in g)) <= tol * r.pow(2).sum().item()


@pytest.mark.parametrize("fused", ["1", "0"])
def test_gradcheck_activation_and_layer(fused, monkeypatch):
    monkeypatch.setenv("EQAUG_FUSED_TP", fused)  # the compiled loop (one thread) and the chunked path
    torch.manual_seed(0)
    act = TensorProductActivation((1, 2, 1), L_out=4, mixing="full").double()
    x = torch.randn(
        sum((t * (2 * l + 1)) for l, t in enumerate((1, 2, 1))), 2, 2, dtype=torch.float64, requires_grad=True
    )
    assert torch.autograd.gradcheck(act, (x,))
    layer = GeneralizedLayer(2, 2, (1, 2, 1), L_out=3, tau_out=1, mixing="mst").double()
    assert torch.autograd.gradcheck(layer, (x,))


@pytest.mark.parametrize("norm, depth", [("layer", 4), ("batch", 4), ("none", 1)])
def test_activations_stay_order_one_through_layers(norm, depth):
    """Unit fragments (``‖x^l_{c,t}‖ ≈ 1``) keep the mean fragment power in [0.2, 5] at initialisation.

    With either norm (default: per sample) through four layers; without normalisation only one layer is O(1): the
    quadratic part compounds with depth (an unstable fixed point), which is why the models normalise.
    """
    torch.manual_seed(0)
    L, C, B = 10, 8, 16
    t = const_type(L, 1)
    x = torch.cat([torch.randn(2 * l + 1, B, C) / (2 * l + 1) ** 0.5 for l in range(L)])
    for i in range(depth):
        layer = GeneralizedLayer(C, C, t, L_out=L, tau_out=1, mixing="rmst", norm=norm)
        with torch.no_grad():
            x = layer(3.0 * x if norm != "none" else x)  # the norms also remove the input's scale
        power = x.pow(2).sum().item() / (L * B * C)
        assert 0.2 <= power <= 5.0, (i, power)
        t = layer.out_type


def test_layer_norm_is_per_sample_and_mode_free():
    """``norm="layer"`` normalises each sample by its own statistics: the same in training and evaluation,
    a sample's output does not depend on the rest of the batch, and its fragments of each degree have
    mean power 1 over the channels."""
    torch.manual_seed(0)
    t = (1, 2, 1, 3)
    x = torch.randn(sum((2 * l + 1) * m for l, m in enumerate(t)), 4, 5) * 7.0
    norm = EquivariantLayerNorm(5, t)
    y_train = norm.train()(x)
    torch.testing.assert_close(norm.eval()(x), y_train)
    torch.testing.assert_close(norm(x[:, :1]), y_train[:, :1])
    from eqaug.models.gscnn.signals import degree_index

    idx = degree_index(t, x.device)
    power = torch.zeros(len(t), 4).index_add_(0, idx, y_train.pow(2).sum(2)) / (5 * torch.tensor(t)[:, None])
    torch.testing.assert_close(power, torch.ones_like(power), atol=1e-4, rtol=1e-4)


def test_gscnn_uses_the_s2cnn_real_basis():
    """One real basis in the project: the GSCNN's internal coordinates and its coupling tables use s2cnn's ``U``."""
    from eqaug.models.gscnn import activation, signals
    from s2cnn.real_basis import real_basis

    assert signals.real_basis is real_basis
    U = real_basis(3).numpy()
    import numpy as np

    m = np.arange(-3, 4)
    ka, kb, va, vb = activation._q_column(3, m)
    dense = np.zeros((7, 7), dtype=np.complex128)
    dense[ka + 3, m + 3] += va
    dense[kb + 3, m + 3] += vb
    np.testing.assert_allclose(dense, U, atol=1e-15)


def test_activation_takes_strided_inputs_and_chunks_give_the_same_values(monkeypatch):
    """A non-contiguous input and a chunk of a few entries give the values and gradients of the default."""
    from eqaug.models.gscnn import activation

    torch.manual_seed(0)
    act = TensorProductActivation((1, 2, 1), L_out=4, mixing="full").double()
    D = sum(t * (2 * l + 1) for l, t in enumerate((1, 2, 1)))
    base = torch.randn(2, 3, D, dtype=torch.float64)
    x = base.permute(2, 0, 1).requires_grad_()  # [D, B, C], not contiguous
    y = act(x)
    (gx,) = torch.autograd.grad(y.square().sum(), x)
    monkeypatch.setenv("EQAUG_FUSED_TP", "0")  # the chunked path (the fused loop has no chunks)
    monkeypatch.setitem(activation._CHUNK_ELEMENTS, "cpu", 12)  # 2 entries per chunk
    x2 = base.permute(2, 0, 1).contiguous().requires_grad_()
    y2 = act(x2)
    (gx2,) = torch.autograd.grad(y2.square().sum(), x2)
    torch.testing.assert_close(y2, y, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(gx2, gx, rtol=1e-12, atol=1e-12)


def _needs_compiler() -> None:
    if shutil.which(os.environ.get("CXX", "g++")) is None:
        pytest.skip("no C++ compiler (g++ or $CXX) for torch.compile's CPU backend: the chunked path runs")


def _must_not_run(*args):
    raise AssertionError("the fused loop ran")


def _activation_values(act, base: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    x = base.clone().requires_grad_()
    y = act(x)
    (gx,) = torch.autograd.grad(y.square().sum(), x)
    return y.detach(), gx


@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-5), (torch.float64, 1e-12)])
def test_fused_loop_matches_the_chunked_path(dtype, tol, monkeypatch):
    """At one thread on CPU the products run as one compiled loop: the chunked path's values and gradients to
    float rounding (the sums into a row run in another order), the same bits on every call."""
    from eqaug.models.gscnn import activation

    assert torch.get_num_threads() == 1
    _needs_compiler()
    monkeypatch.setattr(activation, "_fused_fns", {})  # compile here, whatever an earlier test did
    torch.manual_seed(0)
    act = TensorProductActivation((2, 3, 2), L_out=4, mixing="full").to(dtype)
    D = sum(t * (2 * l + 1) for l, t in enumerate((2, 3, 2)))
    base = torch.randn(D, 3, 5, dtype=dtype)
    monkeypatch.setenv("EQAUG_FUSED_TP", "0")
    y0, g0 = _activation_values(act, base)
    monkeypatch.setenv("EQAUG_FUSED_TP", "1")
    y1, g1 = _activation_values(act, base)
    if activation._fused_fns is None:
        pytest.fail("the fused loop could not be compiled on this machine (see the RuntimeWarning)")
    assert {"products", "grad"} <= set(activation._fused_fns)  # the fused path ran
    assert relative_error(y1, y0) <= tol and relative_error(g1, g0) <= tol
    y2, g2 = _activation_values(act, base)
    assert torch.equal(y2, y1) and torch.equal(g2, g1)
    # under Lightning's deterministic=True the same sequential loop runs, and the flags are restored
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        y3, g3 = _activation_values(act, base)
        assert torch.are_deterministic_algorithms_enabled() and torch.is_deterministic_algorithms_warn_only_enabled()
    finally:
        torch.use_deterministic_algorithms(False)
    assert torch.equal(y3, y1) and torch.equal(g3, g1)


def test_fused_loop_survives_many_input_variants(monkeypatch):
    """Dtypes, strides, no_grad and inference mode each may compile a variant: none turns the loop off (Dynamo's
    default limit of 8 variants once did, in the test suite)."""
    import warnings

    from eqaug.models.gscnn import activation

    _needs_compiler()
    monkeypatch.setattr(activation, "_fused_fns", {})
    type_ = (1, 2, 1)
    D = sum(t * (2 * l + 1) for l, t in enumerate(type_))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        for dtype in (torch.float32, torch.float64):
            act = TensorProductActivation(type_, L_out=3, mixing="full").to(dtype)
            for shape in ((D, 2, 3), (D, 1, 1), (D, 4, 7)):
                base = torch.randn(shape[1], shape[2], D, dtype=dtype)
                _activation_values(act, base.permute(2, 0, 1))  # strided
                _activation_values(act, base.permute(2, 0, 1).contiguous())
                with torch.no_grad():
                    act(base.permute(2, 0, 1))
                with torch.inference_mode():
                    act(base.permute(2, 0, 1).contiguous())
    assert activation._fused_fns is not None and {"products", "grad"} <= set(activation._fused_fns)


def test_fused_loop_falls_back_to_the_chunked_path_with_one_warning(monkeypatch):
    from eqaug.models.gscnn import activation

    def no_compiler(*args):
        raise RuntimeError("no C++ compiler\nmore lines")

    torch.manual_seed(0)
    act = TensorProductActivation((1, 2, 1), L_out=3, mixing="full").double()
    base = torch.randn(sum(t * (2 * l + 1) for l, t in enumerate((1, 2, 1))), 2, 3, dtype=torch.float64)
    monkeypatch.setenv("EQAUG_FUSED_TP", "0")
    y0, g0 = _activation_values(act, base)
    monkeypatch.setenv("EQAUG_FUSED_TP", "1")
    monkeypatch.setattr(activation, "_fused_fns", {"products": no_compiler, "grad": no_compiler})
    with pytest.warns(RuntimeWarning, match=r"could not be compiled or run \(RuntimeError: no C\+\+ compiler\); using"):
        y1, g1 = _activation_values(act, base)
    assert activation._fused_fns is None and not activation.fused_enabled()
    torch.testing.assert_close(y1, y0, rtol=0, atol=0)  # the chunked path itself
    torch.testing.assert_close(g1, g0, rtol=0, atol=0)


def test_fused_loop_is_left_out_under_a_dispatch_mode(monkeypatch):
    """FlopCounterMode (eqaug.analysis.flops) must see the activation's operations: the chunked path runs."""
    from torch.utils.flop_counter import FlopCounterMode

    from eqaug.models.gscnn import activation

    monkeypatch.setattr(activation, "_fused", _must_not_run)
    act = TensorProductActivation((1, 2, 1), L_out=3, mixing="full")
    x = torch.randn(sum(t * (2 * l + 1) for l, t in enumerate((1, 2, 1))), 2, 3, requires_grad=True)
    with FlopCounterMode(display=False):
        act(x).square().sum().backward()  # raises if the fused loop is called


def test_fused_loop_runs_only_at_one_thread_and_its_switch_is_checked(monkeypatch):
    from eqaug.models.gscnn import activation

    act = TensorProductActivation((1, 2, 1), L_out=3, mixing="full")
    x = torch.randn(sum(t * (2 * l + 1) for l, t in enumerate((1, 2, 1))), 2, 3)
    monkeypatch.setattr(activation, "_fused", _must_not_run)
    torch.set_num_threads(2)
    try:
        act(x)  # more threads: the chunked path (it parallelizes)
    finally:
        torch.set_num_threads(1)
    monkeypatch.setenv("EQAUG_FUSED_TP", "0")
    act(x)
    monkeypatch.setenv("EQAUG_FUSED_TP", "yes")
    with pytest.raises(ValueError, match=r"EQAUG_FUSED_TP='yes': allowed values are 1 .* and 0"):
        act(x)
