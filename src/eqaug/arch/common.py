"""Shared pieces of the random architecture generators (Gerken et al. 2022, App. B).

Choices common to both families (documented here because the paper's formulas were lost in
the text extraction):

* depth: uniform in ``1 … max_depth(budget_max)`` with ``max_depth = ⌈log10(budget_max)⌉``
  (the upper limit "depends on the upper limit of the parameter range"; this reading allows the
  published depths 5, 6, 7 of the 218k, 1M and 5.5M CNNs and 4 of the 204k S2CNN);
* a draw is accepted only if its parameter count lies in ``[budget_min, budget_max]``; after
  ``max_attempts`` draws in total :class:`BudgetUnreachableError` is raised, reporting the range
  of counts that were drawn.
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from eqaug.models.specs import ModelSpec

__all__ = [
    "Draw",
    "BudgetUnreachableError",
    "max_depth",
    "round_half_up",
    "rejection_sample",
    "spec_to_yaml",
    "write_draws",
]


class BudgetUnreachableError(ValueError):
    """No (or too few) architectures with a parameter count in the requested range were drawn."""


@dataclass
class Draw:
    """One accepted architecture.

    Attributes
    ----------
    spec : the model spec.
    choices : the random choices it was built from (depth, bottleneck, …), for the record.
    index : index among the accepted draws (0 …).
    attempt : number of the attempt (over all draws, 1 …) that produced it.
    """

    spec: ModelSpec
    choices: dict[str, Any] = field(default_factory=dict)
    index: int = 0
    attempt: int = 0

    @property
    def n_params(self) -> int:
        """The spec's parameter count."""
        return self.spec.n_params()


def max_depth(budget_max: int) -> int:
    """Largest depth the generators draw for a parameter budget: ``⌈log10(budget_max)⌉`` (≥ 1)."""
    return max(1, math.ceil(math.log10(max(budget_max, 2))))


def round_half_up(x: float) -> int:
    """``⌊x + 1/2⌋`` (Python's ``round`` rounds halves to even)."""
    return math.floor(x + 0.5)


def rejection_sample(
    draw_one: Callable[[random.Random], tuple[ModelSpec | None, dict[str, Any]]],
    budget_min: int,
    budget_max: int,
    n: int,
    seed: int,
    max_attempts: int,
    what: str,
) -> list[Draw]:
    """Draw until ``n`` specs have a parameter count in ``[budget_min, budget_max]``.

    Parameters
    ----------
    draw_one : ``rng -> (spec or None, choices)``; ``None`` means an impossible combination
        (it counts as an attempt).
    budget_min, budget_max, n, seed, max_attempts : the request.
    what : description for error messages.
    """
    if not (isinstance(budget_min, int) and isinstance(budget_max, int)) or budget_min < 1 or budget_max < budget_min:
        raise ValueError(
            f"budget_min={budget_min!r}, budget_max={budget_max!r}: need integers 1 <= budget_min <= budget_max"
        )
    if n < 1:
        raise ValueError(f"n={n!r} is not allowed; it must be an integer >= 1")
    rng = random.Random(seed)
    draws: list[Draw] = []
    lo, hi = math.inf, -math.inf
    for attempt in range(1, max_attempts + 1):
        spec, choices = draw_one(rng)
        if spec is None:
            continue
        p = spec.n_params()
        lo, hi = min(lo, p), max(hi, p)
        if budget_min <= p <= budget_max:
            draws.append(Draw(spec=spec, choices=choices, index=len(draws), attempt=attempt))
            if len(draws) == n:
                return draws
    seen = f"the drawn counts ranged from {lo:,} to {hi:,}" if hi >= lo else "no valid architecture was drawn"
    raise BudgetUnreachableError(
        f"{what}: after {max_attempts:,} attempts only {len(draws)} of {n} draws had between {budget_min:,} and "
        f"{budget_max:,} parameters ({seen}); widen the budget or raise max_attempts"
    )


def spec_to_yaml(spec: ModelSpec, header: Sequence[str] = ()) -> str:
    """A model-config YAML for a spec: comment header, ``defaults: [<family>_schema, _self_]``, fields."""
    body = {"defaults": [f"{spec.family}_schema", "_self_"], **dataclasses.asdict(spec)}
    text = yaml.safe_dump(body, sort_keys=False, default_flow_style=None, width=120)
    comments = "".join(f"# {line}\n" if line else "#\n" for line in header)
    return comments + text


def write_draws(draws: Sequence[Draw], out_dir: str | Path, header: Sequence[str] = ()) -> list[Path]:
    """Write one ``<spec.name>.yaml`` per draw into ``out_dir`` (created); returns the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for d in draws:
        lines = [
            *header,
            f"draw {d.index} (attempt {d.attempt}): {d.n_params:,} parameters",
            "choices: " + ", ".join(f"{k}={v}" for k, v in d.choices.items()),
        ]
        path = out / f"{d.spec.name}.yaml"
        path.write_text(spec_to_yaml(d.spec, lines))
        paths.append(path)
    return paths
