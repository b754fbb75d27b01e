"""GSCNN segmenter / classifier: parameter counts, shapes, whole-model equivariance, specs, configs, generator."""

from __future__ import annotations

import random

import pytest
import torch
import torch.nn.functional as F

from eqaug.arch.gscnn import draw_gscnn
from eqaug.models import GSCNNClsSpec, GSCNNSegSpec, as_spec, build_model, count_params
from s2cnn import s2_rotation
from s2cnn.testing import random_rotation, random_s2_signal, relative_error

torch.set_num_threads(1)


def _seg(**kw) -> GSCNNSegSpec:
    base = dict(bandwidth=8, features=[4, 6, 4], bandlimits=[6, 4, 6], tau=2, hybrid=False)
    return GSCNNSegSpec(**{**base, **kw})


def _cls(**kw) -> GSCNNClsSpec:
    base = dict(bandwidth=8, features=[4, 6], bandlimits=[5, 1], tau=2, hybrid=False, fc_features=[6])
    return GSCNNClsSpec(**{**base, **kw})


@pytest.mark.parametrize(
    "spec",
    [
        _seg(),
        _seg(hybrid=True, hybrid_features=3, input_bandlimit=6, mixing="mst", norm="none"),
        _seg(mixing="full", include_input=False, tau=1, output_bandlimit=7),
        _cls(),
        _cls(hybrid=True, hybrid_bandlimit=8, input_bandlimit=5, self_loops=False),
    ],
)
def test_built_param_counts_and_shapes(spec):
    m = build_model(spec)
    assert count_params(m) == spec.n_params()
    x = torch.randn(3, 1, 16, 16)
    out = m(x)
    assert out.shape == ((3, 11, 16, 16) if spec.family == "gscnn_seg" else (3, 10))
    assert out.dtype == torch.float32 and torch.isfinite(out).all()


def _train_stats(m: torch.nn.Module, dtype, device: torch.device | str = "cpu") -> None:
    """A few training-mode passes so the batch-norm running statistics are meaningful, then eval."""
    gen = torch.Generator().manual_seed(5)
    m.train()
    with torch.no_grad():
        for _ in range(3):
            m(random_s2_signal(8, 4, 1, dtype=dtype, generator=gen).to(device))
    m.eval()


@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-10), (torch.float32, 1e-5)])
@pytest.mark.parametrize("mixing", ["rmst", "full"])
def test_whole_models_are_equivariant(dtype, tol, mixing, device):
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    seg = build_model(_seg(mixing=mixing)).to(device=device, dtype=dtype)
    cls = build_model(_cls(mixing=mixing)).to(device=device, dtype=dtype)
    _train_stats(seg, dtype, device)
    _train_stats(cls, dtype, device)
    x = random_s2_signal(8, 2, 1, dtype=dtype, generator=gen).to(device)
    with torch.no_grad():
        y, z = seg(x), cls(x)
        for _ in range(2):
            R = random_rotation(gen)
            xr = s2_rotation(x, *R)
            assert relative_error(seg(xr), s2_rotation(y, *R)) <= tol
            assert relative_error(cls(xr), z) <= tol
        assert relative_error(seg(xr), y) > 0.05  # control: the output does move


def test_training_mode_is_equivariant_too():
    """Batch statistics are rotation invariant, so a training-mode pass is equivariant (per-sample rotations)."""
    gen = torch.Generator().manual_seed(2)
    m = build_model(_seg()).double().train()
    x = random_s2_signal(8, 3, 1, dtype=torch.float64, generator=gen)
    a, b, c = (torch.rand(3, dtype=torch.float64, generator=gen) * 6 for _ in range(3))
    with torch.no_grad():
        assert relative_error(m(s2_rotation(x, a, b, c)), s2_rotation(m(x), a, b, c)) <= 1e-10


def test_hybrid_model_is_only_approximately_equivariant():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    m = build_model(_seg(hybrid=True, hybrid_features=4, input_bandlimit=5)).double()
    _train_stats(m, torch.float64)
    x = random_s2_signal(8, 2, 1, dtype=torch.float64, generator=gen)
    R = random_rotation(gen)
    with torch.no_grad():
        err = relative_error(m(s2_rotation(x, *R)), s2_rotation(m(x), *R))
    assert 1e-6 < err < 0.5  # the grid ReLU aliases; everything after it is exact


def test_one_training_step_reduces_the_loss_on_a_fixed_batch():
    torch.manual_seed(0)
    m = build_model("gscnn_seg_tiny")
    x, y = torch.randn(8, 1, 16, 16), torch.randint(0, 11, (8, 16, 16))
    opt = torch.optim.Adam(m.parameters(), lr=1e-2)
    losses = []
    for _ in range(5):
        opt.zero_grad()
        loss = F.cross_entropy(m(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    assert all(p.grad is not None for p in m.parameters())


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: _seg(features=[4, 0, 4]), r"features\[1\]=0"),
        (lambda: _seg(bandlimits=[6, 4]), r"bandlimits has 2 entries.*features has 3"),
        (lambda: _seg(bandlimits=[6, 2, 6]), r"bandlimits\[2\]=6 is not allowed.*input bandlimit 2"),
        (lambda: _seg(bandlimits=[9, 4, 6]), r"bandlimits\[0\]=9 .*bandwidth 8"),
        (lambda: _seg(mixing="tree"), r"mixing='tree'.*'rmst'"),
        (lambda: _seg(norm="group"), r"norm='group'"),
        (lambda: _seg(tau=0), r"tau=0"),
        (lambda: _seg(output_bandlimit=12), r"output_bandlimit=12.*at most"),
        (lambda: _seg(input_bandlimit=9), r"input_bandlimit=9 is above"),
        (lambda: _seg(hybrid=True, hybrid_max_beta=1.5), r"hybrid_max_beta=1.5"),
        (lambda: _seg(rmst_base=1), r"rmst_base=1"),
        (lambda: _cls(family="gscnn_seg"), r"must be 'gscnn_cls'"),
        (lambda: _cls(fc_features=[0]), r"fc_features\[0\]=0"),
    ],
)
def test_bad_specs_name_the_value(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_named_configs_compose_in_the_sweeps(compose_train):
    from eqaug.training.run import to_run_config

    for exp, model in (
        ("seg_mnist1", "gscnn_seg"),
        ("seg_mnist1_small", "gscnn_seg_small"),
        ("cls_mnist", "gscnn_cls"),
    ):
        typed, resolved = to_run_config(compose_train([f"experiment={exp}", f"model={model}"]))
        assert resolved["model"]["family"] == as_spec(model).family
        assert typed.data.rotate is False  # equivariant families train on unrotated data


def test_generator_draws_valid_specs_within_budget():
    rng = random.Random(0)
    seen = 0
    for _ in range(40):
        spec, choices = draw_gscnn(rng, "seg" if seen % 2 else "cls", 16, 11 if seen % 2 else 10, 4)
        if spec is None:
            continue
        seen += 1
        assert spec.n_params() > 0 and choices["tau"] in (1, 2)
    assert seen > 10
