"""Build models from a name, a YAML path, a (Dict)Config or a spec: :func:`build_model`.

A model YAML (``conf/model/<name>.yaml`` or one written by ``python -m eqaug.arch sample``)
starts from its family's structured schema::

    defaults:
      - cnn_seg_schema
      - _self_
    family: cnn_seg
    name: cnn_seg_218k
    bandwidth: 50
    features: [13, 15, 22, 31, 141]
    ...

Loading merges it onto the schema (a misspelt key raises, naming it) and converts it to the
spec dataclass (ranges are validated there).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from dataclasses import is_dataclass
from pathlib import Path
from typing import Any, Union

from omegaconf import DictConfig, OmegaConf
from torch import nn

from eqaug.models.specs import SPEC_CLASSES, ModelSpec

__all__ = ["conf_dir", "model_names", "load_spec", "spec_from_config", "build_model", "build_from_spec", "count_params"]

SpecLike = Union[str, os.PathLike, Mapping, DictConfig, ModelSpec]


def conf_dir() -> Path:
    """The repository's ``conf/`` directory (``$EQAUG_CONF_DIR`` overrides)."""
    env = os.environ.get("EQAUG_CONF_DIR")
    if env:
        return Path(env)
    from eqaug.paths import CONF_DIR

    return CONF_DIR


def model_names() -> list[str]:
    """Names of the model configs under ``conf/model`` (without ``.yaml``)."""
    return sorted(p.stem for p in (conf_dir() / "model").glob("*.yaml"))


def _family_from_defaults(defaults: Any) -> str | None:
    for entry in defaults or []:
        if isinstance(entry, str) and entry.endswith("_schema"):
            return entry[: -len("_schema")]
    return None


def spec_from_config(cfg: Mapping | DictConfig, source: str = "config") -> ModelSpec:
    """Convert a config mapping with a ``family`` key (or a ``defaults: [<family>_schema]`` entry) to its spec.

    Parameters
    ----------
    cfg : the model config (``dict`` or ``DictConfig``); a ``defaults`` entry is ignored apart
        from naming the family.
    source : what to call the config in error messages (e.g. its path).
    """
    if isinstance(cfg, DictConfig):
        cfg = OmegaConf.to_container(cfg, resolve=True)
    cfg = dict(cfg)
    defaults = cfg.pop("defaults", None)
    family = cfg.get("family") or _family_from_defaults(defaults)
    if family not in SPEC_CLASSES:
        raise ValueError(
            f"{source}: model.family={family!r} is not allowed; choose one of {', '.join(map(repr, SPEC_CLASSES))}"
        )
    cfg["family"] = family
    schema = OmegaConf.structured(SPEC_CLASSES[family])
    try:
        merged = OmegaConf.merge(schema, cfg)
    except Exception as e:  # omegaconf's errors name the key; add where it came from
        raise ValueError(f"{source}: {e}") from e
    return OmegaConf.to_object(merged)


def load_spec(name_or_path: str | os.PathLike) -> ModelSpec:
    """Load a spec from a model name (``conf/model/<name>.yaml``) or a YAML path."""
    p = Path(name_or_path)
    if p.suffix not in (".yaml", ".yml") or not p.exists():
        cand = conf_dir() / "model" / f"{name_or_path}.yaml"
        if not cand.exists():
            if p.suffix in (".yaml", ".yml"):
                raise FileNotFoundError(f"model config file {str(p)!r} does not exist")
            raise ValueError(f"unknown model {str(name_or_path)!r}; known models: {', '.join(model_names())}")
        p = cand
    return spec_from_config(OmegaConf.load(p), source=str(p))


#: The module class of every model family: ``family → (module, class name)``, imported on first use.
MODULE_CLASSES: dict[str, tuple[str, str]] = {
    "cnn_seg": ("eqaug.models.cnn", "CNNSegmenter"),
    "cnn_cls": ("eqaug.models.cnn", "CNNClassifier"),
    "s2cnn_seg": ("eqaug.models.s2cnn", "S2CNNSegmenter"),
    "s2cnn_cls": ("eqaug.models.s2cnn", "S2CNNClassifier"),
    "gscnn_seg": ("eqaug.models.gscnn", "GSCNNSegmenter"),
    "gscnn_cls": ("eqaug.models.gscnn", "GSCNNClassifier"),
    "sphcnn_seg": ("eqaug.models.cnn", "CNNSegmenter"),  # the CNN with circular + pole padding
    "sphcnn_cls": ("eqaug.models.cnn", "CNNClassifier"),
    "zonal_seg": ("eqaug.models.zonal", "ZonalSegmenter"),
    "zonal_cls": ("eqaug.models.zonal", "ZonalClassifier"),
}


def build_from_spec(spec: ModelSpec) -> nn.Module:
    """Instantiate the module of a spec dataclass."""
    if spec.family not in MODULE_CLASSES:
        raise ValueError(
            f"model.family={spec.family!r} is not allowed; choose one of {', '.join(map(repr, MODULE_CLASSES))}"
        )
    module, cls = MODULE_CLASSES[spec.family]
    return getattr(importlib.import_module(module), cls)(spec)


def as_spec(name_or_spec: SpecLike) -> ModelSpec:
    """Resolve any accepted model description to its spec dataclass (validated)."""
    if is_dataclass(name_or_spec) and not isinstance(name_or_spec, type):
        return name_or_spec.validate()
    if isinstance(name_or_spec, (Mapping, DictConfig)):
        return spec_from_config(name_or_spec)
    if isinstance(name_or_spec, (str, os.PathLike)):
        return load_spec(name_or_spec)
    raise TypeError(
        f"cannot build a model from {type(name_or_spec).__name__}; pass a name, a YAML path, a config or a spec"
    )


def build_model(name_or_spec: SpecLike) -> nn.Module:
    """Build a model.

    Parameters
    ----------
    name_or_spec : a model name (``conf/model/<name>.yaml``, e.g. ``"cnn_seg_218k"``), a path to
        a model YAML, a ``dict`` / ``DictConfig`` with a ``family`` key (e.g. Hydra's ``cfg.model``),
        or a spec dataclass.

    Returns
    -------
    The ``nn.Module`` (float32, freshly initialised); its spec is ``module.spec``.
    """
    return build_from_spec(as_spec(name_or_spec))


def count_params(model: nn.Module) -> int:
    """Number of trainable parameters of a module."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
