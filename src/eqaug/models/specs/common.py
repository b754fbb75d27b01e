"""What the spec modules share: the ``model`` group's validator, the family check, the FC head's count."""

from __future__ import annotations

from eqaug.validate import Validator

__all__ = ["V", "check_family", "fc_params"]

#: Checks of ``model.<key>`` values.
V = Validator("model")


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
