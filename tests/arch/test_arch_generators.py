"""Random architecture generators: budgets, reproducibility, the published architectures, YAML round trip."""

from __future__ import annotations

import dataclasses
import random

import pytest

from eqaug.arch import (
    BudgetUnreachableError,
    cnn_spec_from_choices,
    max_depth,
    s2cnn_spec_from_choices,
    sample,
    spec_to_yaml,
    write_draws,
    zonal_spec_from_choices,
)
from eqaug.arch.cnn import cnn_channels
from eqaug.arch.s2cnn import draw_s2cnn
from eqaug.models import CNNClsSpec, S2CNNClsSpec, as_spec, build_model, count_params

#: (task, bandwidth, budget min, budget max) drawn per family
BUDGETS = {
    "cnn": [("seg", 8, 2_000, 20_000), ("cls", 8, 2_000, 20_000), ("seg", 50, 180_000, 230_000)],
    "s2cnn": [("seg", 8, 20_000, 60_000), ("cls", 8, 10_000, 40_000), ("seg", 50, 180_000, 230_000)],
    "zonal": [
        ("seg", 8, 2_000, 20_000),
        ("cls", 8, 2_000, 20_000),
        ("seg", 50, 180_000, 230_000),
        ("cls", 50, 135_000, 165_000),
    ],
    "sphcnn": [("seg", 8, 2_000, 20_000), ("cls", 16, 90_000, 120_000)],
}
CASES = [(family, *case) for family, cases in BUDGETS.items() for case in cases]


@pytest.mark.parametrize("family, task, b, lo, hi", CASES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_draws_lie_in_budget_and_are_valid(family, task, b, lo, hi, seed):
    draws = sample(family, task, lo, hi, n=5, seed=seed, bandwidth=b)
    assert len(draws) == 5
    for d in draws:
        assert lo <= d.spec.n_params() <= hi
        assert d.spec.bandwidth == b and d.spec.family == f"{family}_{task}"
        assert d.spec.n_classes == (11 if task == "seg" else 10)
        assert d.choices["depth"] <= max_depth(hi)
        if family == "s2cnn":
            bl = d.spec.bandlimits
            down = bl if task == "cls" else bl[: d.choices["depth"]]
            assert all(x > y for x, y in zip([b, *down], down)), bl  # strictly decreasing
            assert 11 <= max(d.spec.features) <= 30
        if family == "zonal":
            assert 2 <= d.spec.n_anchors <= min(d.spec.layer_degrees())
            assert all(x > y for x, y in zip([b, *d.spec.bandlimits], d.spec.bandlimits[: d.choices["depth"]]))
        if family == "sphcnn":
            assert d.spec.circular_padding and d.spec.pole_padding


@pytest.mark.parametrize("family, task, b, lo, hi", [c for c in CASES if c[0] in ("cnn", "s2cnn") and c[2] == 8])
def test_generated_specs_build_with_matching_param_count(family, task, b, lo, hi):
    if family == "s2cnn":
        s2cnn = pytest.importorskip("s2cnn")
        if not hasattr(s2cnn, "SO3Convolution"):
            pytest.skip("S2CNN layers (third_party/s2cnn) not available yet")
    for d in sample(family, task, lo, hi, n=2, seed=3, bandwidth=b):
        assert count_params(build_model(d.spec)) == d.spec.n_params()


def test_sampling_is_reproducible():
    a = sample("cnn", "seg", 2_000, 20_000, n=4, seed=7, bandwidth=8)
    b = sample("cnn", "seg", 2_000, 20_000, n=4, seed=7, bandwidth=8)
    c = sample("cnn", "seg", 2_000, 20_000, n=4, seed=8, bandwidth=8)
    assert [d.spec for d in a] == [d.spec for d in b] != [d.spec for d in c]


def test_unreachable_budget_is_a_clear_error():
    with pytest.raises(
        BudgetUnreachableError, match=r"after 500 attempts only 0 of 3 draws had between 10 and 20 parameters"
    ):
        sample("s2cnn", "seg", 10, 20, n=3, seed=0, bandwidth=8, max_attempts=500)
    with pytest.raises(ValueError, match="family='rnn'"):
        sample("rnn", "seg", 10, 20)


def test_s2cnn_generator_reproduces_the_published_204k_model():
    choices = {"depth": 4, "bottleneck_bandlimit": 20, "max_channels": 14, "beta_ref": 0.12379}
    spec = s2cnn_spec_from_choices("seg", 50, 11, choices, name="s2cnn_seg_204k")
    assert spec == as_spec("s2cnn_seg_204k")


def test_cnn_generator_reproduces_published_strides_and_bottleneck_channels():
    spec = cnn_spec_from_choices("seg", 50, 11, depth=5, bottleneck=28, kernel_sizes=[5, 3, 9, 7, 3])
    assert spec.strides == as_spec("cnn_seg_218k").strides == [1, 1, 1, 1, 2]
    assert spec.features[-1] == 141
    assert cnn_channels(100, 26, 6, 11)[-1] == 163 and cnn_channels(100, 10, 7, 11)[-1] == 1100


def test_s2cnn_beta_ref_range_keeps_kernels_below_pi():
    rng = random.Random(0)
    for _ in range(300):
        spec, ch = draw_s2cnn(rng, "seg", 50, 11, 6)
        if spec is not None:
            assert 0.05 <= ch["beta_ref"] <= 0.2
            assert max(spec.kernel_max_betas()) <= 3.1415927


def test_classifier_specs_have_three_fc_layers():
    for family in ("cnn", "s2cnn"):
        d = sample(family, "cls", 10_000, 40_000, n=1, seed=0, bandwidth=8)[0]
        assert isinstance(d.spec, (CNNClsSpec, S2CNNClsSpec)) and len(d.spec.fc_features) == 2


def test_written_yaml_loads_as_a_model_config(tmp_path):
    draws = sample("cnn", "seg", 2_000, 20_000, n=2, seed=0, bandwidth=8)
    paths = write_draws(draws, tmp_path, ["header line"])
    assert [p.name for p in paths] == ["cnn_seg_b8_s0_00.yaml", "cnn_seg_b8_s0_01.yaml"]
    text = paths[0].read_text()
    assert text.startswith("# header line\n# draw 0") and "defaults: [cnn_seg_schema, _self_]" in text
    assert as_spec(paths[0]) == draws[0].spec
    assert count_params(build_model(str(paths[1]))) == draws[1].spec.n_params()


def test_named_classification_configs_are_the_recorded_draws():
    for name, family, lo, hi in [
        ("s2cnn_cls_150k", "s2cnn", 135_000, 165_000),
        ("cnn_cls_114k", "cnn", 102_600, 125_400),
        ("cnn_cls_500k", "cnn", 450_000, 550_000),
        ("cnn_cls_2m5", "cnn", 2_250_000, 2_750_000),
    ]:
        d = sample(family, "cls", lo, hi, n=1, seed=0, bandwidth=50)[0]
        assert dataclasses.replace(d.spec, name=name) == as_spec(name)


def test_spec_to_yaml_round_trip(tmp_path):
    spec = as_spec("s2cnn_seg_204k_small")
    p = tmp_path / "x.yaml"
    p.write_text(spec_to_yaml(spec))
    assert as_spec(p) == spec


# ----------------------------------------------------------------------------------------------- issue 23 families
@pytest.mark.parametrize("family, task, b, lo, hi", [c for c in CASES if c[0] in ("zonal", "sphcnn") and c[2] <= 16])
def test_zonal_and_sphere_cnn_draws_build_with_matching_param_count(family, task, b, lo, hi):
    spec = sample(family, task, lo, hi, n=1, seed=0, bandwidth=b)[0].spec
    assert count_params(build_model(spec)) == spec.n_params()


def test_sphere_cnn_draws_are_the_cnn_draws_with_paddings():
    cnn = sample("cnn", "seg", 2_000, 20_000, n=3, seed=5, bandwidth=8)
    sph = sample("sphcnn", "seg", 2_000, 20_000, n=3, seed=5, bandwidth=8)
    for a, s in zip(cnn, sph):
        assert (a.spec.features, a.spec.kernel_sizes, a.spec.strides) == (
            s.spec.features,
            s.spec.kernel_sizes,
            s.spec.strides,
        )
        assert a.choices == s.choices and a.spec.n_params() == s.spec.n_params()


def test_zonal_generator_is_deterministic_given_its_choices():
    choices = {"depth": 2, "bottleneck_bandlimit": 20, "max_channels": 64, "n_anchors": 4}
    spec = zonal_spec_from_choices("seg", 50, 11, choices, name="z")
    assert spec.bandlimits == [35, 20, 35] and spec.features == [16, 64, 16] and spec.n_anchors == 4
    cls = zonal_spec_from_choices(
        "cls", 16, 10, {"depth": 3, "bottleneck_bandlimit": 4, "max_channels": 32, "n_anchors": 3}
    )
    assert cls.bandlimits == [12, 8, 4] and cls.features == [16, 24, 32] and len(cls.fc_features) == 2
