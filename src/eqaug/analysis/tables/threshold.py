"""Training time to a target score (Table 3) from the run records' per-epoch history: one row per finished
run and target (:func:`threshold_frame`), their summary per configuration (:func:`threshold_summary`), and
``time_to_threshold.{md,csv}``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from eqaug.analysis.style import regime_label
from eqaug.analysis.summary import MAIN_METRIC
from eqaug.analysis.tables.writer import format_duration, to_markdown, write_table
from eqaug.training.callbacks import time_to_threshold

__all__ = ["threshold_frame", "threshold_summary", "write_threshold_tables"]


def _targets_for(record: dict[str, Any], targets: dict[str, list[float]] | None) -> list[float]:
    study = record.get("study")
    if targets:
        chosen = targets.get(study) or targets.get("*")
        if chosen:
            return list(chosen)
    own = ((record.get("timing") or {}).get("time_to_threshold") or {}).get("target")
    own = own if own is not None else (record.get("config") or {}).get("target")
    return [float(own)] if own is not None else []


def threshold_frame(records: list[dict[str, Any]], targets: dict[str, list[float]] | None = None) -> pd.DataFrame:
    """Time to each target per finished run.

    Parameters
    ----------
    records : run records.
    targets : targets per study (key ``"*"``: every study); a study without one uses its records'
        own ``target`` (the experiment's), and is left out if there is none.
    """
    rows = []
    for rec in records:
        if rec.get("status") != "finished":
            continue
        cfg = rec.get("config") or {}
        model = cfg.get("model") or {}
        data = cfg.get("data") or {}
        task = rec.get("task") or data.get("task")
        monitor = (rec.get("metrics") or {}).get("monitor") or MAIN_METRIC.get(task)
        history = rec.get("history") or []
        recorded = (rec.get("timing") or {}).get("time_to_threshold") or {}
        for target in _targets_for(rec, targets):
            hit = time_to_threshold(history, monitor, target)
            if not history and recorded.get("target") == target:  # no history kept: the record's own answer
                hit = {**recorded, "reached": recorded.get("epoch") is not None}
            rows.append(
                {
                    "study": rec.get("study"),
                    "model": model.get("name"),
                    "family": model.get("family"),
                    "regime": regime_label(data.get("rotate"), data.get("rotation")),
                    "n_train": data.get("n_train"),
                    "seed": cfg.get("seed"),
                    "metric": monitor,
                    "target": target,
                    "reached": hit["reached"],
                    "epoch": hit["epoch"],
                    "step": hit.get("step"),
                    "wall_seconds": hit["wall_seconds"],
                    "train_seconds": hit["train_seconds"],
                    "cpu_seconds": hit.get("cpu_seconds"),
                    "epochs_run": len(history),
                    "best_val": max(
                        (r[f"val_{monitor}"] for r in history if r.get(f"val_{monitor}") is not None), default=None
                    ),
                    "test_rot": ((rec.get("metrics") or {}).get("test_rot") or {}).get(monitor),
                    "run_key": rec.get("run_key"),
                }
            )
    cols = [
        "study", "model", "family", "regime", "n_train", "seed", "metric", "target", "reached", "epoch", "step",
        "wall_seconds", "train_seconds", "cpu_seconds", "epochs_run", "best_val", "test_rot", "run_key",
    ]  # fmt: skip
    frame = pd.DataFrame(rows, columns=cols)
    return frame.sort_values(["study", "target", "family", "model", "n_train", "seed"]).reset_index(drop=True)


def threshold_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per (study, target, model, regime, n_train): runs, how many reached the target, and the median,
    min and max wall time (hours) of those that did, with the mean rotated-test score."""
    rows = []
    keys = ["study", "metric", "target", "model", "family", "regime", "n_train"]
    for key, group in frame.groupby(keys, sort=True, dropna=False):
        hit = group[group["reached"]]
        secs = hit["wall_seconds"].astype(float)
        rows.append(
            {
                **dict(zip(keys, key)),
                "runs": len(group),
                "reached": len(hit),
                "epoch_median": float(hit["epoch"].astype(float).median()) if len(hit) else None,
                "seconds_median": float(secs.median()) if len(hit) else None,
                "seconds_min": float(secs.min()) if len(hit) else None,
                "seconds_max": float(secs.max()) if len(hit) else None,
                "step_median": _median(hit["step"]) if len(hit) else None,
                "cpu_seconds_median": _median(hit["cpu_seconds"]) if len(hit) else None,
                "test_rot_mean": float(group["test_rot"].astype(float).mean()),
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            *keys,
            "runs",
            "reached",
            "epoch_median",
            "seconds_median",
            "seconds_min",
            "seconds_max",
            "step_median",
            "cpu_seconds_median",
            "test_rot_mean",
        ],
    )


def _median(values: pd.Series) -> float | None:
    v = pd.to_numeric(values, errors="coerce").astype(float).dropna()
    return float(v.median()) if len(v) else None


def write_threshold_tables(
    records: list[dict[str, Any]], out_dir: str | os.PathLike, targets: dict[str, list[float]] | None = None
) -> list[Path]:
    """``time_to_threshold.{md,csv}`` (per run in the CSV; per configuration and fastest per model in the Markdown)."""
    frame = threshold_frame(records, targets)
    summary = threshold_summary(frame)
    summary = summary.assign(
        time_median=summary["seconds_median"].map(format_duration),
        cpu_median=summary["cpu_seconds_median"].map(format_duration),
        time_range=[
            f"{format_duration(a)} – {format_duration(b)}" if a == a and a is not None else ""
            for a, b in zip(summary["seconds_min"], summary["seconds_max"])
        ],
    )
    parts = []
    for (study, metric, target), group in summary.groupby(["study", "metric", "target"], sort=True):
        parts.append(f"## {study}: time to {metric} ≥ {target:g}\n")
        fastest = group[group["reached"] > 0].sort_values("seconds_median").groupby("model", sort=False).head(1)
        if not fastest.empty:
            parts.append("Fastest configuration per model (cf. Table 3: training time at matched accuracy):\n")
            cols = ["model", "regime", "n_train", "reached", "runs", "step_median", "time_median", "cpu_median"]
            cols.append("test_rot_mean")
            parts.append(to_markdown(fastest[cols], {"test_rot_mean": 4, "step_median": 0}) + "\n")
        else:
            parts.append("No run reached the target.\n")
        parts.append("All configurations:\n")
        cols = [
            "model",
            "regime",
            "n_train",
            "runs",
            "reached",
            "epoch_median",
            "step_median",
            "time_median",
            "time_range",
            "cpu_median",
            "test_rot_mean",
        ]
        parts.append(to_markdown(group[cols], {"test_rot_mean": 4, "epoch_median": 1, "step_median": 0}) + "\n")
    notes = [
        "First epoch whose validation score reaches the target, from each record's per-epoch history; time = "
        "cumulative wall time of training and validation up to that epoch (median and range over the seeds "
        "that reached it); `cpu_median`: the same in CPU time of the training process (one thread per run, so "
        "it is the compute spent, and it does not count time the process waited); `step_median`: optimiser "
        "steps. `test_rot_mean` is the mean rotated-test score of the configuration's runs. "
        "The CSV has one row per run. Targets: the experiments' `target` unless given with "
        "`python -m eqaug.analysis --target [STUDY=]VALUE`.",
    ]
    body = "\n".join(parts) if parts else "No finished run with a target."
    return write_table(frame, out_dir, "time_to_threshold", "Training time to a target score", notes, markdown=body)
