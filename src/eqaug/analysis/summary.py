"""The tidy run table: one row per run record, and aggregation over seeds.

:func:`summary_frame` turns the records under ``results_dir/runs/<study>/`` into a
:class:`pandas.DataFrame` (written as ``results/summary.csv``); the figures and tables are built
from it. Scores are the best-validation-epoch checkpoint's (the one that was tested): ``val_*``,
``test_rot_*`` (rotated test data) and ``test_unrot_*`` (unrotated test data); ``*_score`` is the
task's main metric (non-background mIoU for segmentation, accuracy for classification).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from eqaug.analysis.style import regime_label
from eqaug.config import is_equivariant_family
from eqaug.training.metrics import MONITOR
from eqaug.training.records import iter_records

__all__ = [
    "MAIN_METRIC",
    "SPLITS",
    "SCORE_METRICS",
    "SUMMARY_COLUMNS",
    "load_records",
    "record_row",
    "summary_frame",
    "write_summary",
    "aggregate_seeds",
]

#: Main metric of each task (what the figures plot).
MAIN_METRIC = MONITOR  # the score each task is judged by (eqaug.training.metrics.MONITOR)
#: Evaluation splits of a record, in column order.
SPLITS = ("val", "test_rot", "test_unrot")
#: Scalar metrics copied per split (a task's missing metrics stay empty).
SCORE_METRICS = ("miou_nb", "miou_nb_area", "pixel_acc", "pixel_acc_area", "acc")

SUMMARY_COLUMNS = [
    "study",
    "run_key",
    "model",
    "family",
    "equivariant",
    "n_params",
    "dataset",
    "n_items",
    "task",
    "regime",
    "projection_point",
    "conventions",
    "bandwidth",
    "n_train",
    "seed",
    "status",
    "failure_kind",
    "failure_message",
    "metric",
    *[f"{split}_score" for split in SPLITS],
    *[f"{split}_{name}" for split in SPLITS for name in SCORE_METRICS],
    "best_epoch",
    "epochs",
    "steps",
    "stopped_early",
    "wall_seconds",
    "train_seconds",
    "tt_target",
    "tt_epoch",
    "tt_wall_seconds",
    "samples_per_second",
    "device",
    "record",
    "reused_from",
]


def load_records(results_dir: str | os.PathLike, studies: list[str] | None = None) -> list[tuple[Path, dict]]:
    """``(path, record)`` of every run record under ``results_dir/runs`` (all studies, or the given ones)."""
    if studies is None:
        return list(iter_records(results_dir))
    out: list[tuple[Path, dict]] = []
    for study in studies:
        out.extend(iter_records(results_dir, study))
    return out


def _first_line(text: Any, limit: int = 200) -> str | None:
    if text is None:
        return None
    line = str(text).strip().splitlines()[0] if str(text).strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _metric(block: dict | None, split: str, name: str) -> float | None:
    """A scalar metric of one split (``val`` rows store ``val_<name>``)."""
    if not block:
        return None
    value = block.get(f"val_{name}" if split == "val" else name)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def record_row(record: dict[str, Any], path: str | os.PathLike | None = None) -> dict[str, Any]:
    """The summary row of one run record (finished or failed).

    Parameters
    ----------
    record : a run record as written by :func:`eqaug.training.run.run_training`.
    path : where it was read from (kept in the ``record`` column).
    """
    cfg = record.get("config") or {}
    model = cfg.get("model") or {}
    data = cfg.get("data") or {}
    family = model.get("family")
    task = record.get("task") or data.get("task")
    metrics = record.get("metrics") or {}
    monitor = metrics.get("monitor") or MAIN_METRIC.get(task)
    timing = record.get("timing") or {}
    ttt = timing.get("time_to_threshold") or {}
    failure = record.get("failure") or {}
    env = record.get("environment") or {}
    rotate = data.get("rotate")
    row: dict[str, Any] = {
        "study": record.get("study") or cfg.get("study"),
        "run_key": record.get("run_key"),
        "model": model.get("name") or family,
        "family": family,
        "equivariant": is_equivariant_family(family) if family else None,
        "n_params": record.get("n_params"),
        "dataset": data.get("dataset"),
        "n_items": data.get("n_items"),
        "task": task,
        "regime": regime_label(rotate, data.get("rotation")),
        "projection_point": data.get("projection_point"),
        "conventions": data.get("conventions", "eqaug"),  # records before the key rendered eqaug's
        "bandwidth": data.get("bandwidth"),
        "n_train": data.get("n_train"),
        "seed": cfg.get("seed"),
        "status": record.get("status"),
        "failure_kind": failure.get("kind"),
        "failure_message": _first_line(failure.get("message")),
        "metric": monitor,
        "best_epoch": record.get("best_epoch"),
        "epochs": record.get("epochs_run"),
        "steps": record.get("steps_run"),
        "stopped_early": stopped_early(record),
        "wall_seconds": timing.get("wall_seconds_total", record.get("wall_seconds")),
        "train_seconds": timing.get("train_seconds_total"),
        "tt_target": ttt.get("target"),
        "tt_epoch": ttt.get("epoch"),
        "tt_wall_seconds": ttt.get("wall_seconds"),
        "samples_per_second": timing.get("samples_per_second_median"),
        "device": env.get("cuda") or ("cpu" if env else None),
        "record": str(path) if path is not None else None,
        "reused_from": record.get("reused_from"),
    }
    for split in SPLITS:
        block = metrics.get(split)
        row[f"{split}_score"] = _metric(block, split, monitor) if monitor else None
        for name in SCORE_METRICS:
            row[f"{split}_{name}"] = _metric(block, split, name)
    return row


def stopped_early(record: dict[str, Any]) -> bool | None:
    """Whether early stopping ended a finished run: it ended before its step and epoch budgets.

    Derived from the budget rather than the record's own flag, which records written before the fix of
    2026-11-22 got wrong (it was read after testing had restored the early-stopping state)."""
    trainer = (record.get("config") or {}).get("trainer") or {}
    steps, epochs = record.get("steps_run"), record.get("epochs_run")
    if record.get("status") != "finished" or steps is None or epochs is None or trainer.get("fast_dev_run"):
        return record.get("stopped_early")
    max_steps, max_epochs = trainer.get("max_steps"), trainer.get("max_epochs")
    by_steps = max_steps is not None and max_steps > 0 and steps >= max_steps
    by_epochs = max_epochs is not None and max_epochs > 0 and epochs >= max_epochs
    return not (by_steps or by_epochs)


def summary_frame(
    records: list[tuple[Path, dict]] | list[dict], relative_to: str | os.PathLike | None = None
) -> pd.DataFrame:
    """The summary table of some records: one row per run, columns :data:`SUMMARY_COLUMNS`, sorted.

    Parameters
    ----------
    records : ``(path, record)`` pairs (as :func:`load_records` returns) or bare records.
    relative_to : write record paths relative to this directory when possible.
    """
    rows = []
    for item in records:
        path, record = item if isinstance(item, tuple) else (None, item)
        if path is not None and relative_to is not None:
            try:
                path = Path(path).resolve().relative_to(Path(relative_to).resolve())
            except ValueError:
                pass
        rows.append(record_row(record, path))
    frame = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    for col in ("n_params", "n_items", "bandwidth", "n_train", "seed", "best_epoch", "epochs", "steps", "tt_epoch"):
        frame[col] = pd.array(frame[col], dtype="Int64")
    return frame.sort_values(
        ["study", "family", "model", "regime", "n_train", "seed", "run_key"], na_position="last"
    ).reset_index(drop=True)


def write_summary(frame: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write the summary table as CSV (floats with 6 significant digits)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, float_format="%.6g")
    return path


def aggregate_seeds(
    frame: pd.DataFrame,
    value: str,
    by: tuple[str, ...] = ("model", "family", "regime", "n_train"),
) -> pd.DataFrame:
    """Mean, min and max of ``value`` over the seeds of each group of finished runs.

    Parameters
    ----------
    frame : summary rows (failed runs and runs without ``value`` are left out).
    value : the column to aggregate, e.g. ``"test_rot_score"``.
    by : the grouping columns (one line per model and regime, one point per ``n_train``).

    Returns
    -------
    One row per group: the ``by`` columns, ``mean``, ``min``, ``max``, ``n`` (runs) and
    ``run_keys`` (list), sorted by ``by``.
    """
    cols = [*by, "mean", "min", "max", "n", "run_keys"]
    ok = frame[(frame["status"] == "finished") & frame[value].notna()]
    if ok.empty:
        return pd.DataFrame(columns=cols)
    groups = []
    for keys, group in ok.groupby(list(by), sort=True, dropna=False):
        values = group[value].astype(float).to_numpy()
        groups.append(
            {
                **dict(zip(by, keys if isinstance(keys, tuple) else (keys,))),
                "mean": float(np.mean(values)),
                "min": float(np.min(values)),
                "max": float(np.max(values)),
                "n": int(values.size),
                "run_keys": sorted(group["run_key"].tolist()),
            }
        )
    return pd.DataFrame(groups, columns=cols)
