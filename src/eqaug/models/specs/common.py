"""What the spec modules share: the fields every family has, the ``model`` group's validator, the family
check, the FC head's count."""

from __future__ import annotations

from dataclasses import dataclass, field

from eqaug.validate import Validator

__all__ = ["V", "SpecFields", "check_common", "check_family", "fc_params"]

#: Checks of ``model.<key>`` values.
V = Validator("model")


@dataclass
class SpecFields:
    """The fields of every model spec (documented on each family's spec; families set their defaults)."""

    family: str = ""
    name: str = ""
    bandwidth: int = 50
    in_channels: int = 1
    n_classes: int = 11
    features: list[int] = field(default_factory=list)


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
