"""Random planar CNN architectures (Gerken et al. 2022, App. B.1).

Procedure (``D = 2b`` is the input image size, ``L`` the depth):

1. depth ``L`` uniform in ``1 … max_depth(budget_max)`` (see :mod:`eqaug.arch.common`);
2. bottleneck size ``t`` uniform in ``2 … min(30, D)``;
3. target sizes linearly interpolated from the input to the bottleneck,
   ``T_i = t + (D − t)(L − i)/L`` for ``i = 1 … L`` (``T_L = t``);
4. per layer, kernel ``k_i`` uniform among the odd integers ``1 … min(9, d_in)`` (the largest odd
   integer not above the current image size when that is below 9);
5. stride (B.3) ``s_i = ⌊(d_in − k_i)/(T_i − 1)⌋``, the largest stride whose output
   ``d_out = ⌊(d_in − k_i)/s_i⌋ + 1`` (B.4) is not below the target; ``0 → 1``;
6. channels (B.5, formula lost in extraction; reconstructed) ``c_i = ⌈c_final·(D/T_i)²⌉`` with
   ``c_final`` the number of features of the final layer (the ``n_classes`` output channels),
   i.e. channels × target area is kept at least ``c_final·D²`` ("keep the total number of features
   roughly constant across layers"). This reading reproduces the bottleneck channels of all three
   published CNNs exactly (141 = ⌈11·(100/28)²⌉, 163 = ⌈11·(100/26)²⌉, 1100 = 11·(100/10)²) and, for
   the 218k model (``L = 5, t = 28``, its kernels), its strides 1 1 1 1 2; the published
   intermediate channel numbers are not reproduced (13 15 22 31 vs 16 22 35 62 here).

Classification variant: the same down path (no skips), global average pooling and a head with
hidden widths ``⌊c_L^{2/3} n^{1/3}⌉, ⌊c_L^{1/3} n^{2/3}⌉`` (geometric interpolation from the
bottleneck channels ``c_L`` to the ``n`` classes; the paper does not give them).

Sphere-aware CNN (``family=sphcnn``, :func:`draw_sphcnn`): the same draw (same random choices, kernels,
strides and channels, so the same parameter count), turned into the sphere-aware spec with circular and
pole padding (:func:`sphere_aware`); its feature maps are then ``⌈d/s⌉`` instead of ``⌊(d − k)/s⌋ + 1``
on both axes, so its bottleneck is at least the drawn target.
"""

from __future__ import annotations

import random
from typing import Any

from eqaug.arch.common import round_half_up
from eqaug.models.specs import CNNClsSpec, CNNSegSpec, SphereCNNClsSpec, SphereCNNSegSpec

__all__ = [
    "cnn_targets",
    "cnn_stride",
    "cnn_channels",
    "cnn_fc_features",
    "cnn_spec_from_choices",
    "draw_cnn",
    "sphere_aware",
    "draw_sphcnn",
]


def _target_num(size: int, bottleneck: int, depth: int, i: int) -> int:
    """``T_i · depth`` (an integer), so that the arithmetic below is exact."""
    return bottleneck * depth + (size - bottleneck) * (depth - i)


def cnn_targets(size: int, bottleneck: int, depth: int) -> list[float]:
    """Target sizes ``T_1 … T_L`` linearly interpolated from ``size`` (exclusive) to ``bottleneck``."""
    return [_target_num(size, bottleneck, depth, i) / depth for i in range(1, depth + 1)]


def cnn_stride(d_in: int, k: int, target_num: int, depth: int) -> int:
    """(B.3) ``⌊(d_in − k)/(T − 1)⌋`` with ``T = target_num/depth``; 0 becomes 1."""
    s = ((d_in - k) * depth) // (target_num - depth)
    return max(1, s)


def cnn_channels(size: int, bottleneck: int, depth: int, c_final: int) -> list[int]:
    """(B.5, reconstructed) ``c_i = ⌈c_final·(size/T_i)²⌉`` for ``i = 1 … L``."""
    out = []
    for i in range(1, depth + 1):
        num = _target_num(size, bottleneck, depth, i)
        a, b = c_final * size * size * depth * depth, num * num
        out.append(-(-a // b))
    return out


def cnn_fc_features(c_last: int, n_classes: int) -> list[int]:
    """Two hidden widths geometrically interpolated between ``c_last`` and ``n_classes``."""
    return [max(1, round_half_up(c_last ** (1 - j / 3) * n_classes ** (j / 3))) for j in (1, 2)]


def cnn_spec_from_choices(
    task: str,
    bandwidth: int,
    n_classes: int,
    depth: int,
    bottleneck: int,
    kernel_sizes: list[int],
    c_final: int | None = None,
    name: str = "cnn",
) -> CNNSegSpec | CNNClsSpec:
    """The architecture determined by the random choices (deterministic part of the generator).

    Parameters
    ----------
    task : ``"seg"`` or ``"cls"``.
    bandwidth : input ``b``.
    n_classes : output classes.
    depth, bottleneck, kernel_sizes : the random choices (``len(kernel_sizes) == depth``).
    c_final : ``c_final`` of (B.5); default ``n_classes``.
    name : the spec's name.
    """
    if len(kernel_sizes) != depth:
        raise ValueError(f"kernel_sizes={kernel_sizes!r} must have depth={depth} entries")
    size = 2 * bandwidth
    c_final = n_classes if c_final is None else c_final
    d, strides = size, []
    for i, k in enumerate(kernel_sizes, start=1):
        s = cnn_stride(d, k, _target_num(size, bottleneck, depth, i), depth)
        strides.append(s)
        d = (d - k) // s + 1
    features = cnn_channels(size, bottleneck, depth, c_final)
    common = dict(
        name=name,
        bandwidth=bandwidth,
        n_classes=n_classes,
        features=features,
        kernel_sizes=list(kernel_sizes),
        strides=strides,
    )
    if task == "seg":
        return CNNSegSpec(skips=True, **common)
    if task == "cls":
        return CNNClsSpec(skips=False, fc_features=cnn_fc_features(features[-1], n_classes), **common)
    raise ValueError(f"task={task!r} is not allowed; choose 'seg' or 'cls'")


def draw_cnn(
    rng: random.Random, task: str, bandwidth: int, n_classes: int, depth_max: int, name: str = "cnn"
) -> tuple[CNNSegSpec | CNNClsSpec, dict[str, Any]]:
    """One random CNN (not yet checked against a budget); returns ``(spec, choices)``."""
    size = 2 * bandwidth
    depth = rng.randint(1, depth_max)
    bottleneck = rng.randint(2, min(30, size))
    d, kernels = size, []
    for i in range(1, depth + 1):
        k_max = min(9, d if d % 2 else d - 1)
        k = rng.choice(range(1, k_max + 1, 2))
        kernels.append(k)
        s = cnn_stride(d, k, _target_num(size, bottleneck, depth, i), depth)
        d = (d - k) // s + 1
    spec = cnn_spec_from_choices(task, bandwidth, n_classes, depth, bottleneck, kernels, name=name)
    return spec, {"depth": depth, "bottleneck_size": bottleneck, "kernel_sizes": kernels}


def sphere_aware(spec: CNNSegSpec | CNNClsSpec) -> SphereCNNSegSpec | SphereCNNClsSpec:
    """The sphere-aware twin of a CNN spec: the same fields with circular and pole padding (family ``sphcnn_*``).

    Every kernel must be odd (the padding is ``(k−1)/2`` on each side); the parameter count is unchanged.
    """
    cls = SphereCNNSegSpec if isinstance(spec, CNNSegSpec) else SphereCNNClsSpec
    fields = {f: getattr(spec, f) for f in spec.__dataclass_fields__ if f not in ("family", "name")}
    fields.update(circular_padding=True, pole_padding=True)
    name = spec.name if not spec.name.startswith("cnn") else "sph" + spec.name
    return cls(name=name, **fields)


def draw_sphcnn(
    rng: random.Random, task: str, bandwidth: int, n_classes: int, depth_max: int, name: str = "sphcnn"
) -> tuple[SphereCNNSegSpec | SphereCNNClsSpec, dict[str, Any]]:
    """One random sphere-aware CNN: :func:`draw_cnn`'s draw with circular and pole padding."""
    spec, choices = draw_cnn(rng, task, bandwidth, n_classes, depth_max, name=name)
    return sphere_aware(spec), choices
