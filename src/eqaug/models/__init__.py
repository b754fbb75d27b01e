"""Model families of the study: planar CNN (and its sphere-aware variant), equivariant S2CNN, generalized
spherical CNN (GSCNN) and zonal spherical CNN models.

``build_model(name_or_spec)`` is the single entry point; ``python -m eqaug.models <name>``
prints a model and its parameter count. The S2CNN, GSCNN and zonal modules are imported lazily (they
need the ``s2cnn`` core); the sphere-aware CNN (``sphcnn_*``) is built by the CNN classes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from eqaug.models import specs as _specs
from eqaug.models.registry import as_spec, build_model, count_params, load_spec, model_names, spec_from_config
from eqaug.models.specs import *  # noqa: F403 - the spec classes (listed in __all__ below)
from eqaug.models.specs import FAMILIES, ModelSpec

if TYPE_CHECKING:
    from torch import nn

#: the model classes, imported on first use (module per class in ``_LAZY``)
_LAZY_NAMES = (
    "CNNSegmenter",
    "CNNClassifier",
    "S2CNNSegmenter",
    "S2CNNClassifier",
    "GSCNNSegmenter",
    "GSCNNClassifier",
    "ZonalSegmenter",
    "ZonalClassifier",
)

__all__ = [
    "build_model",
    "as_spec",
    "load_spec",
    "spec_from_config",
    "model_names",
    "count_params",
    "FAMILIES",
    "ModelSpec",
    *(name for name in _specs.__all__ if name.endswith("Spec") and name != "ModelSpec"),
    *_LAZY_NAMES,
]

_LAZY = {
    name: f"eqaug.models.{name.removesuffix('Segmenter').removesuffix('Classifier').lower()}" for name in _LAZY_NAMES
}


def __getattr__(name: str) -> type[nn.Module]:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'eqaug.models' has no attribute {name!r}")
