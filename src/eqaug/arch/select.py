"""``select``: train every drawn architecture and pick the best (App. B: best of 20 by validation score).

:func:`select` takes a directory of spec YAMLs and a callable ``train_one(spec_path) -> score``;
the CLI's callable (:func:`train_with_cli`) shells out to ``python -m eqaug.train`` with the command
built by :func:`training_command` (the only place that knows the training CLI's overrides) and
reads the score from the run record by :func:`read_score`.

How a spec file reaches the training CLI: Hydra takes config-group options by name, not path,
so the spec is staged as ``<work_dir>/conf/model/<stem>.yaml`` and the run gets
``hydra.searchpath=[file://<work_dir>/conf]`` and ``model=<stem>``. Each run writes its record
under ``results_dir=<work_dir>/<stem>``.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Selection", "select", "training_command", "read_score", "train_with_cli"]


@dataclass
class Selection:
    """Result of :func:`select`.

    Attributes
    ----------
    best : path of the best spec.
    scores : spec path → validation score (NaN for a failed run), in the order trained.
    """

    best: Path
    scores: dict[Path, float] = field(default_factory=dict)

    def to_json(self) -> dict:
        """JSON-serialisable summary."""
        return {"best": str(self.best), "scores": {str(k): v for k, v in self.scores.items()}}


def select(
    spec_dir: str | Path, train_one: Callable[[Path], float], pattern: str = "*.yaml", higher_is_better: bool = True
) -> Selection:
    """Train every spec in ``spec_dir`` and return the best.

    Parameters
    ----------
    spec_dir : directory of model YAMLs (e.g. written by ``python -m eqaug.arch sample``).
    train_one : trains one spec (given its path) and returns its validation score; an exception
        or a NaN counts as a failed run (score NaN, never selected).
    pattern : glob of the spec files.
    higher_is_better : direction of the score.
    """
    paths = sorted(Path(spec_dir).glob(pattern))
    if not paths:
        raise FileNotFoundError(f"no spec files matching {pattern!r} in {str(spec_dir)!r}")
    scores: dict[Path, float] = {}
    for p in paths:
        try:
            scores[p] = float(train_one(p))
        except Exception as e:  # one broken run must not lose the others
            print(f"select: training {p} failed: {e}", file=sys.stderr)
            scores[p] = math.nan
    valid = {p: s for p, s in scores.items() if not math.isnan(s)}
    if not valid:
        raise RuntimeError(f"every training run failed for the specs in {str(spec_dir)!r}")
    best = (max if higher_is_better else min)(valid, key=valid.__getitem__)
    return Selection(best=best, scores=scores)


def training_command(spec_path: str | Path, work_dir: str | Path, overrides: Sequence[str] = ()) -> list[str]:
    """The command line that trains one spec (staged under ``work_dir``, see the module docstring)."""
    stem = Path(spec_path).stem
    conf = Path(work_dir).resolve() / "conf"
    return [
        sys.executable,
        "-m",
        "eqaug.train",
        f"hydra.searchpath=[file://{conf}]",
        f"model={stem}",
        f"results_dir={Path(work_dir).resolve() / stem}",
        "study=arch_select",
        *overrides,
    ]


def read_score(results_dir: str | Path) -> float:
    """The ``best_val_score`` of the single run record under ``results_dir/runs/``."""
    records = sorted(Path(results_dir).glob("runs/**/*.json"))
    if not records:
        raise FileNotFoundError(f"no run record under {str(results_dir)!r}/runs")
    score = json.loads(records[-1].read_text()).get("best_val_score")
    return math.nan if score is None else float(score)


def train_with_cli(work_dir: str | Path, overrides: Sequence[str] = ()) -> Callable[[Path], float]:
    """A ``train_one`` for :func:`select` that runs :func:`training_command` in a subprocess."""
    work = Path(work_dir)

    def train_one(spec_path: Path) -> float:
        staged = work / "conf" / "model" / f"{Path(spec_path).stem}.yaml"
        staged.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(spec_path, staged)
        subprocess.run(training_command(spec_path, work, overrides), check=True)
        return read_score(work / Path(spec_path).stem)

    return train_one
