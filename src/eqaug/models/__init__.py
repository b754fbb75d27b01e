"""Model families of the study: planar CNN, equivariant S2CNN and generalized spherical CNN (GSCNN) models.

``build_model(name_or_spec)`` is the single entry point; ``python -m eqaug.models <name>``
prints a model and its parameter count. The S2CNN and GSCNN modules are imported lazily (they need
the ``s2cnn`` core).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from eqaug.models.registry import as_spec, build_model, count_params, load_spec, model_names, spec_from_config
from eqaug.models.specs import (
    FAMILIES,
    CNNClsSpec,
    CNNSegSpec,
    GSCNNClsSpec,
    GSCNNSegSpec,
    ModelSpec,
    S2CNNClsSpec,
    S2CNNSegSpec,
)

if TYPE_CHECKING:
    from torch import nn

__all__ = [
    "build_model",
    "as_spec",
    "load_spec",
    "spec_from_config",
    "model_names",
    "count_params",
    "FAMILIES",
    "ModelSpec",
    "CNNSegSpec",
    "CNNClsSpec",
    "S2CNNSegSpec",
    "S2CNNClsSpec",
    "GSCNNSegSpec",
    "GSCNNClsSpec",
    "CNNSegmenter",
    "CNNClassifier",
    "S2CNNSegmenter",
    "S2CNNClassifier",
    "GSCNNSegmenter",
    "GSCNNClassifier",
]

_LAZY = {
    "CNNSegmenter": "eqaug.models.cnn",
    "CNNClassifier": "eqaug.models.cnn",
    "S2CNNSegmenter": "eqaug.models.s2cnn",
    "S2CNNClassifier": "eqaug.models.s2cnn",
    "GSCNNSegmenter": "eqaug.models.gscnn",
    "GSCNNClassifier": "eqaug.models.gscnn",
}


def __getattr__(name: str) -> type[nn.Module]:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'eqaug.models' has no attribute {name!r}")
