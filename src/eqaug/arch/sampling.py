"""``sample``: draw random architectures of a family within a parameter budget."""

from __future__ import annotations

import dataclasses
import random
from typing import TYPE_CHECKING, Any

from eqaug.arch.cnn import draw_cnn, draw_sphcnn
from eqaug.arch.common import Draw, max_depth, rejection_sample
from eqaug.arch.gscnn import draw_gscnn
from eqaug.arch.s2cnn import draw_s2cnn
from eqaug.arch.zonal import draw_zonal

if TYPE_CHECKING:
    from eqaug.models.specs import ModelSpec

__all__ = ["FAMILIES", "TASKS", "default_n_classes", "sample"]

#: family → its generator
DRAWS = {"cnn": draw_cnn, "s2cnn": draw_s2cnn, "gscnn": draw_gscnn, "zonal": draw_zonal, "sphcnn": draw_sphcnn}
FAMILIES = tuple(DRAWS)
TASKS = ("seg", "cls")


def default_n_classes(task: str) -> int:
    """11 (background + 10) for segmentation, 10 for classification."""
    return 11 if task == "seg" else 10


def sample(
    family: str,
    task: str,
    budget_min: int,
    budget_max: int,
    n: int = 20,
    seed: int = 0,
    bandwidth: int = 50,
    n_classes: int | None = None,
    max_attempts: int = 100_000,
) -> list[Draw]:
    """Draw ``n`` random architectures whose parameter counts lie in ``[budget_min, budget_max]``.

    Parameters
    ----------
    family : ``"cnn"``, ``"s2cnn"``, ``"gscnn"``, ``"zonal"`` or ``"sphcnn"`` (the sphere-aware CNN: the CNN
        generator's draws with circular and pole padding).
    task : ``"seg"`` or ``"cls"``.
    budget_min, budget_max : accepted parameter range (inclusive).
    n : number of architectures.
    seed : seed of the generator (``random.Random``); the same arguments give the same draws.
    bandwidth : input bandwidth ``b``.
    n_classes : output classes (default 11 for ``seg``, 10 for ``cls``).
    max_attempts : total draws before giving up with :class:`~eqaug.arch.common.BudgetUnreachableError`.

    Returns
    -------
    The accepted draws; draw ``i``'s spec is named ``<family>_<task>_b<b>_s<seed>_<i:02d>``.
    """
    if family not in FAMILIES:
        raise ValueError(f"family={family!r} is not allowed; choose one of {', '.join(map(repr, FAMILIES))}")
    if task not in TASKS:
        raise ValueError(f"task={task!r} is not allowed; choose one of {', '.join(map(repr, TASKS))}")
    if isinstance(bandwidth, bool) or not isinstance(bandwidth, int) or bandwidth < 2:
        raise ValueError(f"bandwidth={bandwidth!r} is not allowed; it must be an integer >= 2")
    n_classes = default_n_classes(task) if n_classes is None else n_classes
    depth_max = max_depth(budget_max)
    draw = DRAWS[family]

    def draw_one(rng: random.Random) -> tuple[ModelSpec | None, dict[str, Any]]:
        return draw(rng, task, bandwidth, n_classes, depth_max)

    what = f"{family} {task} at bandwidth {bandwidth} (seed {seed})"
    draws = rejection_sample(draw_one, budget_min, budget_max, n, seed, max_attempts, what)
    for d in draws:
        d.spec = dataclasses.replace(d.spec, name=f"{family}_{task}_b{bandwidth}_s{seed}_{d.index:02d}")
    return draws
