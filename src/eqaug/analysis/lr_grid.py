"""The learning rate of every model, chosen on validation from a grid (converged-baselines protocol).

Rule, the same for every family: each model is trained at one training size (10,000 samples, seed 0)
for a fixed budget at every rate of :data:`LR_GRID` (experiments ``seg_lr_small`` and ``cls_lr_small``);
the rate with the highest best validation score is chosen. Ties (e.g. every rate still on the
all-background plateau) go to the rate closest to Adam's usual ``1e-3`` in log scale, then to the
smaller one. A model is chosen only once all its grid runs have finished.

Edge rule, also the same for every family: when the best rate is the largest (smallest) rate the model
was run at, the optimum may lie beyond it, so its grid is extended by the next rate of the half-decade
ladder :data:`LR_LADDER` (``3e-2`` above ``1e-2``; ``1e-4`` below ``3e-4``) and the choice is
*provisional* (note ``waiting for lr …``, the best rate so far is kept so that configs still resolve)
until that run has finished; it repeats until the best rate is interior or the ladder ends.

The choice is written to ``conf/tuned_lr.yaml`` (read by the ``${tuned_lr:<model>}`` resolver of
:mod:`eqaug.config`, so every later run of that model uses it) and, with every score of the grid,
to ``results/tables/lr_grid.{md,csv}``::

    python -m eqaug.analysis lr-grid          # after `make baselines`
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import pandas as pd

#: The studies whose runs form the grid.
LR_GRID_STUDIES = ("seg_lr_small", "cls_lr_small")
#: The rates of the grid (``optim.lr``) every model is run at.
LR_GRID = (3e-4, 1e-3, 3e-3, 1e-2)
#: Half-decade rates a model's grid is extended by, one at a time, while its best rate is at an edge.
LR_LADDER = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1)
#: Where the choice is written; the ``tuned_lr`` resolver reads it.
TUNED_LR_FILE = "tuned_lr.yaml"

__all__ = [
    "LR_GRID",
    "LR_GRID_STUDIES",
    "LR_LADDER",
    "next_edge_rate",
    "grid_frame",
    "choose_rates",
    "render_tuned_lr",
    "write_lr_grid",
]


def _lr_key(lr: float) -> float:
    return float(f"{float(lr):.6g}")


def grid_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per finished grid run: study, model, lr, best validation score, steps run, CPU seconds."""
    rows = []
    for r in records:
        if r.get("study") not in LR_GRID_STUDIES or r.get("status") != "finished":
            continue
        cfg = r["config"]
        rows.append(
            {
                "study": r["study"],
                "model": cfg["model"]["name"],
                "lr": _lr_key(cfg["optim"]["lr"]),
                "monitor": (r.get("metrics") or {}).get("monitor"),
                "best_val": r.get("best_val_score"),
                "steps": r.get("steps_run"),
                "cpu_seconds": (r.get("timing") or {}).get("cpu_seconds_total"),
            }
        )
    cols = ["study", "model", "lr", "monitor", "best_val", "steps", "cpu_seconds"]
    return pd.DataFrame(rows, columns=cols).sort_values(["study", "model", "lr"], ignore_index=True)


def _tie_order(lr: float) -> tuple[float, float]:
    return (abs(math.log10(lr) - math.log10(1e-3)), lr)


def _best_rates(scores: dict[float, float]) -> list[float]:
    """The rates with the highest score, the chosen one (tie order: closest to 1e-3, then smaller) first."""
    best = max(scores.values())
    return sorted((lr for lr in scores if scores[lr] == best), key=_tie_order)


def next_edge_rate(scores: dict[float, float], ladder: tuple[float, ...] = LR_LADDER) -> float | None:
    """The ladder rate the edge rule asks for next, given a model's ``{lr: score}``: the rate beyond the best
    one when the best is the largest or smallest rate run, ``None`` when the best is interior or the ladder
    ends there."""
    if not scores:
        return None
    rates = sorted(scores)
    best = _best_rates(scores)[0]
    steps = [_lr_key(lr) for lr in ladder]
    if best not in steps:
        return None
    i = steps.index(best)
    if best == rates[-1] and i + 1 < len(steps):
        return steps[i + 1]
    if best == rates[0] and i > 0:
        return steps[i - 1]
    return None


def choose_rates(
    frame: pd.DataFrame, grid: tuple[float, ...] = LR_GRID, ladder: tuple[float, ...] = LR_LADDER
) -> pd.DataFrame:
    """Per model: the score at every rate run, the chosen rate (``None`` while base-grid runs are missing)
    and whether the choice is final (``False`` while the edge rule waits for a rate beyond the grid)."""
    columns = sorted({_lr_key(lr) for lr in grid} | {float(lr) for lr in frame["lr"]})
    rows = []
    for (study, model), group in frame.groupby(["study", "model"], sort=True):
        scores = {float(lr): s for lr, s in zip(group["lr"], group["best_val"])}
        row: dict[str, Any] = {"study": study, "model": model, "monitor": group["monitor"].iloc[0]}
        for lr in columns:
            row[f"val@{lr:g}"] = scores.get(lr)
        missing = [lr for lr in grid if _lr_key(lr) not in scores]
        if missing:
            row.update(chosen_lr=None, final=False, note="waiting for lr " + ", ".join(f"{lr:g}" for lr in missing))
            rows.append(row)
            continue
        tied = _best_rates(scores)
        row["chosen_lr"] = tied[0]
        notes = ["tie: " + ", ".join(f"{lr:g}" for lr in tied)] if len(tied) > 1 else []
        wanted = next_edge_rate(scores, ladder)
        row["final"] = wanted is None
        if wanted is not None:
            notes.append(f"at the grid's edge: waiting for lr {wanted:g}")
        elif tied[0] in (min(scores), max(scores)):  # the ladder ends here
            notes.append("at the edge of the ladder")
        row["note"] = "; ".join(notes)
        rows.append(row)
    return pd.DataFrame(rows)


def render_tuned_lr(chosen: pd.DataFrame) -> str:
    """``conf/tuned_lr.yaml``: ``<model>: <lr>`` per chosen model, with its grid scores as a comment."""
    lines = [
        "# The learning rate of every model, chosen on validation from the grid "
        + ", ".join(f"{lr:g}" for lr in LR_GRID),
        "# and half-decade rates beyond it while the best rate is at an edge",
        "# (experiments seg_lr_small / cls_lr_small; rule: eqaug.analysis.lr_grid). Generated by",
        "# `python -m eqaug.analysis lr-grid` from the run records; read by ${tuned_lr:<model name>}.",
    ]
    for row in chosen[chosen["chosen_lr"].notna()].to_dict("records"):
        rates = [float(k[4:]) for k, v in row.items() if k.startswith("val@") and v is not None and not pd.isna(v)]
        scores = ", ".join(f"{lr:g}: {row[f'val@{lr:g}']:.4f}" for lr in sorted(rates))
        status = "" if row["final"] else f" (provisional, {row['note'].split('; ')[-1]})"
        lines.append(f"{row['model']}: {row['chosen_lr']:g}   # best val {row['monitor']}: {scores}{status}")
    return "\n".join(lines) + "\n"


def write_lr_grid(
    records: list[dict[str, Any]], tables_dir: str | os.PathLike, conf_dir: str | os.PathLike | None = None
) -> list[Path]:
    """Write ``lr_grid.{md,csv}`` in ``tables_dir`` and, given ``conf_dir``, ``<conf_dir>/tuned_lr.yaml``.

    Nothing is written when there is no grid run.
    """
    from eqaug.analysis.tables import write_table

    frame = grid_frame(records)
    if frame.empty:
        return []
    chosen = choose_rates(frame)
    notes = [
        "Best validation score (mIoU without background for segmentation, accuracy for classification) of "
        "each model after the grid's fixed budget (10,000 training samples, seed 0, 2,000 Adam steps of 32, "
        "validation every 250 steps). The highest score picks the rate; ties go to the rate closest to 1e-3. "
        "Edge rule: when the best rate is the largest (smallest) one run, the grid is extended by the next "
        "half-decade rate ('at the grid's edge: waiting for lr …'; the choice is provisional, final = False) "
        "until the best rate is interior.",
        "Regenerate with `python -m eqaug.analysis lr-grid`, which also writes `conf/tuned_lr.yaml`.",
    ]
    written = write_table(chosen, tables_dir, "lr_grid", "Learning rate per model (validation grid)", notes, digits={})
    if conf_dir is not None:
        path = Path(conf_dir) / TUNED_LR_FILE
        path.write_text(render_tuned_lr(chosen))
        written.append(path)
    return written
