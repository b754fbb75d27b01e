"""Typed architecture specifications (the ``model`` config group's schemas).

One dataclass per model family. Each is registered in Hydra's ConfigStore as
``<family>_schema`` (see :func:`eqaug.config.register_configs`), so a model YAML that starts
from it (``defaults: [cnn_seg_schema, _self_]``) fails at composition on a misspelt key; value
ranges are checked in ``__post_init__`` (i.e. when the composed config is converted with
``OmegaConf.to_object``), with errors naming the bad value and what is allowed.

Every spec has ``family``, ``name``, ``bandwidth`` (the input's ``b``: images are
``[B, in_channels, 2b, 2b]``) and ``n_classes``. Parameter counts are computed analytically
by :meth:`n_params` (no module is built); the tests check them against the built modules.

Conventions
-----------
CNN (Gerken et al. 2022, App. B.1)
    ``features[i]``, ``kernel_sizes[i]``, ``strides[i]`` describe down layer ``i``: layer 0 is
    ``Conv2d(in_channels → features[0])`` (never skipped), layer ``i ≥ 1`` is
    ``Conv2d(features[i-1] → features[i])`` (+ skip ``MaxPool2d(k, s) → Conv2d 1×1``). All convs
    are *valid* (no padding): ``d_out = ⌊(d_in − k)/s⌋ + 1``. The segmenter's up path mirrors
    the down path exactly (transposed convs with the same ``k, s``, output padding chosen to
    restore the stored size) and its last layer is ``ConvTranspose2d(features[0] → n_classes)``.
S2CNN (App. B.2)
    ``features[i]`` and ``bandlimits[i]`` are the output channels and output bandlimit of layer
    ``i``, from the first (S² → SO(3)) layer onwards. For the segmenter the final SO(3) → S²
    layer is implicit: it maps ``features[-1] → n_classes`` at ``bandlimits[-1] → bandwidth``;
    so a segmenter has ``len(features) + 1`` layers. A classifier has ``len(features)`` layers,
    then ``so3_integrate``. Layer ``i``'s kernel grid has
    ``max_beta = beta_ref·π·bandwidth / b_in(i)`` where ``b_in(i)`` is the layer's *input*
    bandlimit (``bandwidth`` for layer 0, ``bandlimits[i-1]`` after), unless ``max_betas`` lists
    the values (in units of π) explicitly. This reading reproduces the published 204k list
    0.1238 0.1474 0.1768 0.2292 0.3095 0.2292 0.1768 0.1474 (rounded to four digits) for any
    ``beta_ref`` in ``[0.12378, 0.123795)``; ``conf/model/s2cnn_seg_204k.yaml`` uses 0.12379.
GSCNN (Cobb et al. 2021; :mod:`eqaug.models.gscnn`)
    ``features[i]`` and ``bandlimits[i]`` are the output channels and bandlimit ``L`` of generalized layer ``i``
    (normalisation → tensor-product activation → constrained convolution); hidden layers have ``tau``
    fragments per degree. The first generalized signal has bandlimit ``input_bandlimit`` and comes from the S²
    FFT of the input (``τ_l = 1``, ``in_channels`` channels) or, with ``hybrid``, from an ``S2Convolution``
    (``in_channels → hybrid_features``, ``b → hybrid_bandlimit``) + ReLU on the SO(3) grid, the SO(3) FFT
    (``τ_l = 2l+1``) and a constrained convolution to ``tau`` fragments. The segmenter adds a final layer to
    ``n_classes`` channels of type ``τ_l = 1`` at ``output_bandlimit``, synthesised on the input grid; the
    classifier reads the ``l = 0`` fragments of its last layer into the FC head. A layer's bandlimit may be at
    most ``2 L_in − 1`` (products raise degrees up to ``2(L_in − 1)``).
Sphere-aware CNN (``sphcnn_*``)
    The CNN above with ``circular_padding`` (α) and ``pole_padding`` (β, rows across the poles continue at
    longitude + π) both required: exactly equivariant to longitude rolls, nothing more.
Zonal spherical CNN (Esteves et al. 2018; :mod:`eqaug.models.zonal`)
    ``features[i]`` and ``bandlimits[i]`` are the output channels and bandlimit of layer ``i`` (S² → S²,
    per-degree channel mixing ``W_l``, spectrally smooth through ``n_anchors`` anchors); as for the S2CNN,
    the segmenter adds an implicit last layer ``features[-1] → n_classes`` back to ``bandwidth``, the
    classifier pools with the S² quadrature weights into the FC head.
"""

from __future__ import annotations

from typing import Union

from eqaug.models.specs.cnn import CNNClsSpec, CNNSegSpec, SphereCNNClsSpec, SphereCNNSegSpec, cnn_sizes
from eqaug.models.specs.gscnn import GSCNNClsSpec, GSCNNSegSpec
from eqaug.models.specs.s2cnn import S2CNNClsSpec, S2CNNSegSpec, s2_grid_size, so3_grid_size
from eqaug.models.specs.zonal import ZonalClsSpec, ZonalSegSpec

__all__ = [
    "CNNSegSpec",
    "CNNClsSpec",
    "S2CNNSegSpec",
    "S2CNNClsSpec",
    "GSCNNSegSpec",
    "GSCNNClsSpec",
    "SphereCNNSegSpec",
    "SphereCNNClsSpec",
    "ZonalSegSpec",
    "ZonalClsSpec",
    "ModelSpec",
    "SPEC_CLASSES",
    "FAMILIES",
    "cnn_sizes",
    "s2_grid_size",
    "so3_grid_size",
]

ModelSpec = Union[
    CNNSegSpec,
    CNNClsSpec,
    S2CNNSegSpec,
    S2CNNClsSpec,
    GSCNNSegSpec,
    GSCNNClsSpec,
    SphereCNNSegSpec,
    SphereCNNClsSpec,
    ZonalSegSpec,
    ZonalClsSpec,
]

#: family name → spec dataclass
SPEC_CLASSES: dict[str, type] = {
    "cnn_seg": CNNSegSpec,
    "cnn_cls": CNNClsSpec,
    "s2cnn_seg": S2CNNSegSpec,
    "s2cnn_cls": S2CNNClsSpec,
    "gscnn_seg": GSCNNSegSpec,
    "gscnn_cls": GSCNNClsSpec,
    "sphcnn_seg": SphereCNNSegSpec,
    "sphcnn_cls": SphereCNNClsSpec,
    "zonal_seg": ZonalSegSpec,
    "zonal_cls": ZonalClsSpec,
}
FAMILIES = tuple(SPEC_CLASSES)
