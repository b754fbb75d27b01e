"""Efficient generalized spherical CNNs (Cobb et al. 2021, ICLR), written from the mathematics on the ``s2cnn`` core.

Modules (each states its mathematics once):

* :mod:`~eqaug.models.gscnn.signals` — generalized signals ``[B, C, τ_l, 2l+1]``, the real internal form,
  conversions from/to S² and SO(3) signals, rotations;
* :mod:`~eqaug.models.gscnn.clebsch_gordan` — Clebsch–Gordan coefficients (float64, cached);
* :mod:`~eqaug.models.gscnn.mixing` — degree-mixing sets (full, MST, reduced MST) and their costs;
* :mod:`~eqaug.models.gscnn.activation` — the channel-wise tensor-product activation;
* :mod:`~eqaug.models.gscnn.convolution` — constrained generalized convolutions and the equivariant batch norm;
* :mod:`~eqaug.models.gscnn.layers` — one generalized layer ``(L_1, N, L_2)``;
* :mod:`~eqaug.models.gscnn.models` — :class:`GSCNNSegmenter` and :class:`GSCNNClassifier`;
* :mod:`~eqaug.models.gscnn.counting` — parameter counts from the specs (no modules built).
"""

from __future__ import annotations

from eqaug.models.gscnn import convolution
from eqaug.models.gscnn.activation import TensorProductActivation
from eqaug.models.gscnn.clebsch_gordan import cg_exact, clebsch_gordan
from eqaug.models.gscnn.convolution import *  # noqa: F403 - the convolutions and norms, as listed in its __all__
from eqaug.models.gscnn.layers import GeneralizedLayer
from eqaug.models.gscnn.mixing import MixingSet, degree_mixing_set
from eqaug.models.gscnn.models import GSCNNClassifier, GSCNNSegmenter

__all__ = [
    "TensorProductActivation",
    *(name for name in convolution.__all__ if name != "constrained_conv_params"),
    "GeneralizedLayer",
    "GSCNNSegmenter",
    "GSCNNClassifier",
    "MixingSet",
    "degree_mixing_set",
    "clebsch_gordan",
    "cg_exact",
]
