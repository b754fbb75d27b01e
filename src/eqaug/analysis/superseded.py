"""Records trained at a learning rate the tuning has since moved away from.

Experiments whose ``optim.lr`` is ``${tuned_lr:<model>}`` (``seg_sweep``, the converge and augmentation-strength
experiments) train each model at the rate ``conf/tuned_lr.yaml`` holds when the run starts. When the grid's edge
rule (:mod:`eqaug.analysis.lr_grid`) moves a model's rate, the earlier runs keep their records (the rate is part
of the run key, so nothing is overwritten), but they no longer stand for the experiment: the figures and tables
are drawn from the runs at the current rate, ``summary.csv`` keeps every record with a ``superseded`` column, and
``make figures`` lists the superseded ones. Studies at a fixed rate (the CPU-scale study, the grid itself) never
have superseded records.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from eqaug.config import tuned_lr_table
from eqaug.paths import CONF_DIR

__all__ = ["tuned_lr_studies", "is_superseded", "split_superseded", "superseded_note"]


def _uses_tuned_lr(name: str, exp_dir: Path, seen: frozenset[str] = frozenset()) -> bool | None:
    """Whether experiment ``name`` takes its rate from ``tuned_lr`` (``None``: it does not set one itself, nor do
    its parent experiments)."""
    path = exp_dir / f"{name}.yaml"
    if name in seen or not path.exists():
        return None
    data = yaml.safe_load(path.read_text()) or {}
    lr = (data.get("optim") or {}).get("lr") if isinstance(data.get("optim"), dict) else None
    if lr is not None:  # its own value wins over its parents' (``_self_`` comes last)
        return "tuned_lr" in str(lr)
    for parent in reversed([d for d in data.get("defaults") or [] if isinstance(d, str) and d != "_self_"]):
        found = _uses_tuned_lr(parent, exp_dir, seen | {name})
        if found is not None:
            return found
    return None


@lru_cache(maxsize=8)
def _tuned_lr_studies(conf_dir: str) -> frozenset[str]:
    exp_dir = Path(conf_dir) / "experiment"
    by_study: dict[str, list[bool]] = {}
    for path in sorted(exp_dir.glob("*.yaml")):
        data = yaml.safe_load(path.read_text()) or {}
        study = str(data.get("study") or path.stem)
        by_study.setdefault(study, []).append(bool(_uses_tuned_lr(path.stem, exp_dir)))
    return frozenset(study for study, flags in by_study.items() if all(flags))


def tuned_lr_studies(conf_dir: str | Path | None = None) -> frozenset[str]:
    """The studies whose every experiment trains at ``${tuned_lr:<model>}``."""
    return _tuned_lr_studies(str(Path(conf_dir or CONF_DIR).resolve()))


def is_superseded(record: dict[str, Any], studies: frozenset[str], tuned: dict[str, float]) -> bool:
    """Whether a record of a tuned-rate study was trained at another rate than its model's current one (a model
    without a current rate is never superseded)."""
    if record.get("study") not in studies:
        return False
    cfg = record.get("config") or {}
    model = (cfg.get("model") or {}).get("name")
    lr = (cfg.get("optim") or {}).get("lr")
    if model not in tuned or lr is None:
        return False
    return not math.isclose(float(lr), tuned[model], rel_tol=1e-9)


def split_superseded(
    records: list[dict[str, Any]], conf_dir: str | Path | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(current, superseded)``: the records that stand for their experiment, and those trained at a rate the
    tuning has since moved away from (order kept)."""
    studies, tuned = tuned_lr_studies(conf_dir), tuned_lr_table(conf_dir)
    current, old = [], []
    for record in records:
        (old if is_superseded(record, studies, tuned) else current).append(record)
    return current, old


def superseded_note(old: list[dict[str, Any]], conf_dir: str | Path | None = None) -> str | None:
    """One line per (study, model, rate): how many records are superseded and by which rate."""
    if not old:
        return None
    tuned = tuned_lr_table(conf_dir)
    counts: dict[tuple[str, str, float], int] = {}
    for r in old:
        cfg = r["config"]
        key = (str(r.get("study")), cfg["model"]["name"], float(cfg["optim"]["lr"]))
        counts[key] = counts.get(key, 0) + 1
    lines = [
        f"  {study} {model}: {n} at lr {lr:g} (now {tuned[model]:g})"
        for (study, model, lr), n in sorted(counts.items())
    ]
    head = (
        f"{len(old)} records at a superseded learning rate (kept in runs/ and summary.csv, not in figures or tables):"
    )
    return "\n".join([head, *lines])
