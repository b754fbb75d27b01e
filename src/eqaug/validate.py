"""Config validation with errors that name the bad value and what is allowed (a leaf module).

Every schema of the package (``data``, ``model``, the training config) reports a bad value as
``<group>.<key>=<value> is not allowed; <what is allowed>``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["not_allowed", "is_int", "is_number", "Validator"]


def not_allowed(key: str, value: Any, allowed: str) -> ValueError:
    """``ValueError("<key>=<value!r> is not allowed; <allowed>")`` (to raise)."""
    return ValueError(f"{key}={value!r} is not allowed; {allowed}")


def is_int(value: Any) -> bool:
    """An ``int`` that is not a ``bool``."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """An ``int`` or ``float`` that is not a ``bool``."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class Validator:
    """Checks of the keys of one config group (``Validator("model").int_at_least("bandwidth", b, 1)``)."""

    def __init__(self, group: str) -> None:
        self.group = group

    def key(self, name: str) -> str:
        """``<group>.<name>``."""
        return f"{self.group}.{name}"

    def bad(self, name: str, value: Any, allowed: str) -> ValueError:
        """:func:`not_allowed` for ``<group>.<name>``."""
        return not_allowed(self.key(name), value, allowed)

    def choice(self, name: str, value: Any, allowed: Iterable[Any]) -> None:
        """``value`` must be one of ``allowed``."""
        allowed = tuple(allowed)
        if value not in allowed:
            raise self.bad(name, value, f"choose one of {', '.join(map(repr, allowed))}")

    def int_at_least(self, name: str, value: Any, low: int) -> None:
        """``value`` must be an integer ``>= low``."""
        if not is_int(value) or value < low:
            raise self.bad(name, value, f"it must be an integer >= {low}")

    def ints_at_least(self, low: int, **values: Any) -> None:
        """Every value of ``values`` (by key name) must be an integer ``>= low``."""
        for name, value in values.items():
            self.int_at_least(name, value, low)

    def int_list(self, name: str, values: Any, low: int, min_len: int = 1) -> None:
        """``values`` must be a list of at least ``min_len`` integers ``>= low``."""
        if not isinstance(values, (list, tuple)):
            raise self.bad(name, values, f"it must be a list of integers >= {low}")
        if len(values) < min_len:
            raise self.bad(name, list(values), f"it needs at least {min_len} entr{'y' if min_len == 1 else 'ies'}")
        for i, v in enumerate(values):
            self.int_at_least(f"{name}[{i}]", v, low)

    def same_length(self, ref_name: str, ref: Any, **others: Any) -> None:
        """Every list of ``others`` must have as many entries as ``ref`` (one per layer)."""
        for name, values in others.items():
            if len(values) != len(ref):
                raise ValueError(
                    f"{self.key(name)} has {len(values)} entries {list(values)!r} but {self.key(ref_name)} has "
                    f"{len(ref)} {list(ref)!r}; they must have the same length (one entry per layer)"
                )
