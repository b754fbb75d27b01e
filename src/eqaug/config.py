"""Structured (dataclass) schemas of the Hydra configs, registered in Hydra's ConfigStore.

Each config group's YAML files start from the schema registered here (``defaults: [schema]``),
so a misspelt key or a value of the wrong type fails at composition, naming the key; value
ranges are checked when the config is converted to the dataclasses.

Resolvers
---------
``${if_equivariant:<family>,A,B}`` is ``A`` for the equivariant model families (``s2cnn_*``,
``gscnn_*``, ``zonal_*``) and ``B`` otherwise (the sphere-aware CNN ``sphcnn_*`` is equivariant to
longitude rolls only, so it counts as not equivariant). The paper's protocol is written with it:
equivariant models train on unrotated data for up to 200 epochs, the others on rotated data for up to 100.
``${task_of:<family>}`` is the task of a model family (``"seg"`` or ``"cls"``), so a sweep over
models of both tasks keeps ``data.task`` consistent with the model.
``${tuned_lr:<model name>}`` is the learning rate chosen for that model on validation
(``conf/tuned_lr.yaml``, written by ``python -m eqaug.analysis lr-grid``; rule in
:mod:`eqaug.analysis.lr_grid`); the converged-baselines experiments set ``optim.lr`` with it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

from eqaug.data.spec import DataSpec
from eqaug.models.specs import SPEC_CLASSES
from eqaug.paths import CONF_DIR

__all__ = ["CONF_DIR", "register_configs", "is_equivariant_family", "task_of_family", "tuned_lr", "tuned_lr_table"]

EQUIVARIANT_FAMILY_PREFIXES = ("s2cnn", "gscnn", "zonal")

_registered = False


def is_equivariant_family(family: str) -> bool:
    """Whether a model family is rotation equivariant (S2CNN, generalized spherical CNN, zonal spherical CNN)."""
    return str(family).startswith(EQUIVARIANT_FAMILY_PREFIXES)


def _if_equivariant(family: str, if_true: Any, if_false: Any) -> Any:
    return if_true if is_equivariant_family(family) else if_false


def task_of_family(family: str) -> str:
    """The task a model family solves: ``"seg"`` or ``"cls"`` (from the family's suffix)."""
    task = str(family).rsplit("_", 1)[-1]
    if task not in ("seg", "cls"):
        raise ValueError(f"model.family={family!r} does not end in '_seg' or '_cls'")
    return task


def tuned_lr_table(conf_dir: Path | None = None) -> dict[str, float]:
    """Every model's learning rate chosen on the validation grid (``conf/tuned_lr.yaml``; empty if none yet)."""
    path = Path(conf_dir or CONF_DIR) / "tuned_lr.yaml"
    table = OmegaConf.to_container(OmegaConf.load(path)) if path.exists() else {}
    return {str(k): float(v) for k, v in table.items()} if isinstance(table, dict) else {}


def tuned_lr(model_name: str, conf_dir: Path | None = None) -> float:
    """The learning rate chosen for ``model_name`` on the validation grid (``conf/tuned_lr.yaml``)."""
    table = tuned_lr_table(conf_dir)
    if model_name not in table:
        known = ", ".join(sorted(table)) or "none yet"
        raise ValueError(
            f"no tuned learning rate for model={model_name!r} in {Path(conf_dir or CONF_DIR) / 'tuned_lr.yaml'} "
            f"(models there: {known}); "
            "run its learning-rate grid (`make baselines`, then `python -m eqaug.analysis lr-grid`) or set optim.lr"
        )
    return table[model_name]


def register_configs() -> None:
    """Register the schemas (idempotent). Called by every Hydra entry point before composing."""
    global _registered
    if _registered:
        return
    cs = ConfigStore.instance()
    cs.store(group="data", name="schema", node=DataSpec)
    for family, spec_cls in SPEC_CLASSES.items():  # model YAMLs: defaults: [<family>_schema, _self_]
        cs.store(group="model", name=f"{family}_schema", node=spec_cls)
    from eqaug.training.schema import register_training_schemas

    register_training_schemas(cs)
    if not OmegaConf.has_resolver("if_equivariant"):
        OmegaConf.register_new_resolver("if_equivariant", _if_equivariant)
    if not OmegaConf.has_resolver("task_of"):
        OmegaConf.register_new_resolver("task_of", task_of_family)
    if not OmegaConf.has_resolver("tuned_lr"):
        OmegaConf.register_new_resolver("tuned_lr", lambda name: tuned_lr(str(name)))
    _registered = True
