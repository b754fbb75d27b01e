"""What the spec modules share: the fields every family has, the ``model`` group's validator, the family
check, the FC head's count."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar

from eqaug.validate import Validator

__all__ = [
    "V",
    "SpecFields",
    "ClassifierHead",
    "HourglassLayers",
    "PyramidLayers",
    "check_common",
    "check_family",
    "fc_params",
]

#: Checks of ``model.<key>`` values.
V = Validator("model")
_Spec = TypeVar("_Spec", bound="SpecFields")


@dataclass
class SpecFields:
    """The fields of every model spec (documented on each family's spec; families set their defaults)."""

    family: str = ""
    name: str = ""
    bandwidth: int = 50
    in_channels: int = 1
    n_classes: int = 11
    features: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.validate()

    @classmethod
    def expected_family(cls) -> str:
        """The ``family`` this spec class accepts (its field's default)."""
        return cls.__dataclass_fields__["family"].default

    def validate(self: _Spec) -> _Spec:
        """Raise ``ValueError`` naming the first bad value; return ``self``.

        In this order: the family, the layer geometry (:class:`HourglassLayers` / :class:`PyramidLayers`), the
        family's own checks (:meth:`check_fields`), the classifier head (:class:`ClassifierHead`).
        """
        check_family(self, self.expected_family())
        if isinstance(self, (HourglassLayers, PyramidLayers)):
            self.check_layers()
        self.check_fields()
        if isinstance(self, ClassifierHead):
            self.check_head()
        return self

    def check_fields(self) -> None:
        """The family's own checks (each family defines them)."""
        raise NotImplementedError(f"{type(self).__name__} defines no checks")


@dataclass
class ClassifierHead:
    """The fully connected head of every classifier, ``[Linear → BatchNorm1d → ReLU] × len(fc_features) →
    Linear(n_classes)``; list it first among a classifier spec's bases (its ``n_classes`` default wins)."""

    n_classes: int = 10
    fc_features: list[int] = field(default_factory=lambda: [64, 32])

    def check_head(self) -> None:
        """Positive hidden widths (none is allowed: a single ``Linear``)."""
        V.int_list("fc_features", self.fc_features, 1, min_len=0)

    def head_params(self, c_in: int) -> int:
        """Parameters of the head on ``c_in`` pooled features."""
        return fc_params(c_in, list(self.fc_features), self.n_classes)


class HourglassLayers:
    """Layers of a spectral segmenter: ``bandwidth → bandlimits… → bandwidth``, channels
    ``in_channels → features… → n_classes`` (hidden layers + the class layer)."""

    @property
    def n_layers(self) -> int:
        """Number of layers (hidden layers + the class layer)."""
        return len(self.features) + 1

    def check_layers(self) -> None:
        """Positive channels and bandlimits, one per hidden layer, first (weakly) decreasing (down-sampling)
        then (weakly) increasing (up-sampling)."""
        V.int_list("features", self.features, 1)
        V.int_list("bandlimits", self.bandlimits, 1)
        V.same_length("features", self.features, bandlimits=self.bandlimits)
        bl = list(self.bandlimits)
        k = bl.index(min(bl))
        if any(bl[i + 1] > bl[i] for i in range(k)) or any(bl[i + 1] < bl[i] for i in range(k, len(bl) - 1)):
            raise ValueError(
                f"model.bandlimits={bl!r} is not allowed; the bandlimits must first decrease (down-sampling) "
                f"and then increase (up-sampling)"
            )

    def layer_bandwidths(self) -> list[tuple[int, int]]:
        """``(b_in, b_out)`` of every layer."""
        bs = [self.bandwidth, *self.bandlimits, self.bandwidth]
        return list(zip(bs[:-1], bs[1:]))

    def layer_channels(self) -> list[tuple[int, int]]:
        """``(c_in, c_out)`` of every layer."""
        cs = [self.in_channels, *self.features, self.n_classes]
        return list(zip(cs[:-1], cs[1:]))


class PyramidLayers:
    """Layers of a spectral classifier: ``bandwidth → bandlimits…`` (not increasing), channels
    ``in_channels → features…`` (a pooled head follows)."""

    @property
    def n_layers(self) -> int:
        """Number of layers."""
        return len(self.features)

    def check_layers(self) -> None:
        """Positive channels and bandlimits that never increase."""
        V.int_list("features", self.features, 1)
        V.int_list("bandlimits", self.bandlimits, 1)
        bl = list(self.bandlimits)
        if any(bl[i + 1] > bl[i] for i in range(len(bl) - 1)):
            raise ValueError(f"model.bandlimits={bl!r} is not allowed; a classifier's bandlimits must not increase")

    def layer_bandwidths(self) -> list[tuple[int, int]]:
        """``(b_in, b_out)`` of every layer."""
        bs = [self.bandwidth, *self.bandlimits]
        return list(zip(bs[:-1], bs[1:]))

    def layer_channels(self) -> list[tuple[int, int]]:
        """``(c_in, c_out)`` of every layer."""
        cs = [self.in_channels, *self.features]
        return list(zip(cs[:-1], cs[1:]))


def check_common(spec: SpecFields, min_layers: int = 1) -> None:
    """The checks every family shares: positive sizes and at least ``min_layers`` positive channel counts."""
    V.ints_at_least(1, bandwidth=spec.bandwidth, in_channels=spec.in_channels, n_classes=spec.n_classes)
    V.int_list("features", spec.features, 1, min_len=min_layers)


def check_family(spec: object, expected: str) -> None:
    """``spec.family`` must be ``expected``."""
    if spec.family != expected:
        raise ValueError(
            f"model.family={spec.family!r} is not allowed for {type(spec).__name__}; it must be {expected!r}"
        )


def fc_params(c_in: int, hidden: list[int], n_classes: int) -> int:
    """Parameters of the fully connected head: ``Linear`` + ``BatchNorm1d`` per hidden layer, then ``Linear``."""
    total, prev = 0, c_in
    for h in hidden:
        total += prev * h + h + 2 * h  # Linear + BatchNorm1d (weight, bias)
        prev = h
    return total + prev * n_classes + n_classes
