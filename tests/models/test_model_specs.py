"""Spec validation, named configs and their exact parameter counts (no forward passes)."""

from __future__ import annotations

import math

import pytest
from hydra import compose, initialize_config_dir

from eqaug.arch.twins import small_twin
from eqaug.config import register_configs
from eqaug.models import (
    CNNClsSpec,
    CNNSegSpec,
    S2CNNClsSpec,
    S2CNNSegSpec,
    as_spec,
    build_model,
    count_params,
    model_names,
)
from eqaug.models.registry import conf_dir, spec_from_config

#: Frozen parameter counts of every named config (the paper's four published ones are exact).
PARAMS = {
    "cnn_seg_218k": 218_144,
    "cnn_seg_1m": 1_042_013,
    "cnn_seg_5m5": 5_519_335,
    "s2cnn_seg_204k": 204_073,
    "s2cnn_cls_150k": 136_305,
    "cnn_cls_114k": 118_431,
    "cnn_cls_500k": 527_252,
    "cnn_cls_2m5": 2_637_517,
    "cnn_seg_218k_small": 218_144,
    # the CNN baselines drawn at b = 16 and selected on validation (results/arch_select/)
    "cnn_seg_218k_b16": 237_932,
    "cnn_seg_1m_b16": 1_005_789,
    "cnn_cls_114k_b16": 102_157,
    "cnn_cls_500k_b16": 436_800,
    "cnn_seg_1m_small": 1_042_013,
    "cnn_seg_5m5_small": 5_519_335,
    "s2cnn_seg_204k_small": 204_073,
    "s2cnn_cls_150k_small": 136_305,
    "cnn_cls_114k_small": 118_431,
    "cnn_cls_500k_small": 527_252,
    "cnn_cls_2m5_small": 859_237,  # layer 6's kernel 5 does not fit the 1x1 image at b=16 -> 1
    # tiny models of the smoke experiment and the training tests
    "cnn_seg_tiny": 947,
    "cnn_cls_tiny": 512,
    "s2cnn_seg_tiny": 17_785,
    "s2cnn_cls_tiny": 4_964,
    # generalized spherical CNNs (Cobb et al. 2021): per-degree weights, so the _small twins are widened
    "gscnn_seg": 206_083,
    "gscnn_cls": 144_732,
    "gscnn_seg_small": 197_816,  # channels widened x1.8 to stay comparable to the S2CNN twin
    "gscnn_cls_small": 135_946,  # channels widened x1.6
    "gscnn_seg_tiny": 2_967,
    "gscnn_cls_tiny": 1_590,
    # sphere-aware CNNs (circular + pole padding; issue 23): padding adds no parameters
    "cnn_seg_218k_circ": 218_144,  # = cnn_seg_218k
    "cnn_seg_218k_circ_small": 237_932,  # = cnn_seg_218k_b16 (its architecture, not a twin of cnn_seg_218k_circ)
    "sphcnn_seg_tiny": 947,
    "sphcnn_cls_tiny": 512,
    # zonal spherical CNNs (Esteves et al. 2018; issue 23): counts independent of the bandlimits
    "zonal_seg": 197_515,
    "zonal_seg_small": 197_515,
    "zonal_cls": 145_888,
    "zonal_cls_small": 145_888,
    "zonal_seg_tiny": 217,
    "zonal_cls_tiny": 316,
}
#: ``_small`` configs that are not the :func:`small_twin` of their b = 50 namesake
NOT_TWINS = {"cnn_seg_218k_circ"}
CNN_NAMES = [n for n in PARAMS if n.startswith(("cnn", "sphcnn"))]
S2CNN_NAMES = [n for n in PARAMS if n.startswith("s2cnn")]


def test_every_config_is_listed():
    assert sorted(model_names()) == sorted(PARAMS)


@pytest.mark.parametrize("name", list(PARAMS))
def test_analytic_param_counts(name):
    spec = as_spec(name)
    assert spec.name == name
    assert spec.n_params() == PARAMS[name]
    assert spec.bandwidth == {"small": 16, "b16": 16, "tiny": 8}.get(name.rsplit("_", 1)[-1], 50)


@pytest.mark.parametrize("name", [n for n in PARAMS if n.startswith(("gscnn", "zonal"))])
def test_built_gscnn_and_zonal_param_counts(name):
    assert count_params(build_model(name)) == PARAMS[name]


@pytest.mark.parametrize("name", CNN_NAMES)
def test_built_cnn_param_counts(name):
    assert count_params(build_model(name)) == PARAMS[name]


def test_published_architectures():
    s = as_spec("cnn_seg_218k")
    assert (s.features, s.kernel_sizes, s.strides, s.skips) == (
        [13, 15, 22, 31, 141],
        [5, 3, 9, 7, 3],
        [1, 1, 1, 1, 2],
        True,
    )
    s = as_spec("s2cnn_seg_204k")
    assert s.features == [11, 12, 13, 14, 13, 12, 11] and s.bandlimits == [42, 35, 27, 20, 27, 35, 42]
    published = [0.1238, 0.1474, 0.1768, 0.2292, 0.3095, 0.2292, 0.1768, 0.1474]  # max_beta/π, 4 digits
    got = [round(mb / math.pi, 4) for mb in s.kernel_max_betas()]
    assert got == published


def test_small_twins_follow_the_rule():
    for name in PARAMS:
        if not name.endswith(("_small", "_tiny", "_b16")) and name not in NOT_TWINS:  # _b16: drawn at b = 16
            assert small_twin(as_spec(name)) == as_spec(name + "_small"), name
    assert as_spec("s2cnn_seg_204k_small").bandlimits == [13, 11, 9, 6, 9, 11, 13]


def test_configs_compose_with_hydra_and_reject_misspelt_keys(tmp_path):
    register_configs()
    bad = tmp_path / "model" / "bad.yaml"
    bad.parent.mkdir()
    bad.write_text("defaults:\n  - cnn_seg_schema\n  - _self_\nfeaturs: [1]\n")
    with initialize_config_dir(str(conf_dir()), version_base="1.3"):
        for name in (
            "cnn_seg_218k",
            "s2cnn_seg_204k_small",
            "cnn_cls_500k",
            "s2cnn_cls_150k",
            "gscnn_seg",
            "gscnn_cls_small",
            "zonal_seg_small",
            "zonal_cls",
            "cnn_seg_218k_circ_small",
            "sphcnn_cls_tiny",
        ):
            cfg = compose(config_name=None, overrides=[f"+model={name}"])
            assert spec_from_config(cfg.model) == as_spec(name)
        with pytest.raises(Exception, match="featurs"):
            compose(config_name=None, overrides=["+model=bad", f"hydra.searchpath=[file://{tmp_path}]"])


def test_loader_rejects_misspelt_key_and_unknown_family(tmp_path):
    p = tmp_path / "m.yaml"
    p.write_text(
        "defaults: [cnn_seg_schema, _self_]\nfeatures: [3]\nkernel_sizes: [3]\nstrides: [1]\nkernal_sizes: [3]\n"
    )
    with pytest.raises(ValueError, match="kernal_sizes"):
        build_model(p)
    with pytest.raises(ValueError, match="'cnn_segg'.*choose one of"):
        spec_from_config({"family": "cnn_segg"})
    with pytest.raises(ValueError, match="unknown model 'nope'"):
        build_model("nope")


def _cnn(**kw):
    base = dict(bandwidth=8, features=[4, 6], kernel_sizes=[3, 3], strides=[1, 2])
    return CNNSegSpec(**{**base, **kw})


def _s2(**kw):
    base = dict(bandwidth=8, features=[3, 4, 3], bandlimits=[6, 4, 6])
    return S2CNNSegSpec(**{**base, **kw})


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: _cnn(features=[4, -6]), r"features\[1\]=-6.*integer >= 1"),
        (lambda: _cnn(kernel_sizes=[3]), r"kernel_sizes has 1 entries.*features has 2"),
        (lambda: _cnn(strides=[1, 1, 1]), r"strides has 3 entries"),
        (lambda: _cnn(kernel_sizes=[17, 3]), r"kernel_sizes\[0\]=17 is larger than the 16×16 image.*at most 16"),
        (lambda: _cnn(kernel_sizes=[9, 9]), r"kernel_sizes\[1\]=9 is larger than the 8×8 image"),
        (lambda: _cnn(kernel_sizes=[2, 3], circular_padding=True), r"kernel_sizes\[0\]=2.*must be odd"),
        (lambda: _cnn(bandwidth=0), r"bandwidth=0.*integer >= 1"),
        (
            lambda: CNNClsSpec(bandwidth=8, features=[4], kernel_sizes=[3], strides=[1], fc_features=[0]),
            r"fc_features\[0\]=0",
        ),
        (lambda: _s2(features=[3, -4, 3]), r"features\[1\]=-4"),
        (lambda: _s2(bandlimits=[9, 4, 6]), r"bandlimits\[0\]=9 is above the input bandwidth 8"),
        (lambda: _s2(bandlimits=[6, 4]), r"bandlimits has 2 entries.*features has 3"),
        (lambda: _s2(bandlimits=[4, 6, 4]), r"bandlimits=\[4, 6, 4\].*first decrease.*then increase"),
        (lambda: _s2(max_betas=[0.1, 0.1]), r"max_betas has 2 entries.*4 layers"),
        (lambda: _s2(max_betas=[0.1, 0.1, 1.5, 0.1]), r"max_betas\[2\]=1.5.*\(0, 1\]"),
        (lambda: _s2(beta_ref=0.6), r"beta_ref=0.6 gives max_beta.*8/4"),
        (lambda: _s2(family="cnn_seg"), r"family='cnn_seg'.*must be 's2cnn_seg'"),
        (lambda: S2CNNClsSpec(bandwidth=8, features=[3, 4], bandlimits=[4, 6]), r"must not increase"),
    ],
)
def test_bad_specs_name_the_value(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_spec_from_yaml_names_the_value():
    with pytest.raises(ValueError, match=r"features\[0\]=-3"):
        build_model({"family": "cnn_seg", "bandwidth": 8, "features": [-3], "kernel_sizes": [3], "strides": [1]})


def test_every_family_has_a_module_class_and_a_spec():
    from eqaug.models.registry import MODULE_CLASSES, build_from_spec
    from eqaug.models.specs import SPEC_CLASSES

    assert set(MODULE_CLASSES) == set(SPEC_CLASSES)
    spec = SPEC_CLASSES["cnn_seg"]  # a spec whose family is not in the table is refused by name
    bad = spec.__new__(spec)
    object.__setattr__(bad, "family", "mlp_seg")
    with pytest.raises(ValueError, match=r"model.family='mlp_seg' is not allowed; choose one of 'cnn_seg'"):
        build_from_spec(bad)
