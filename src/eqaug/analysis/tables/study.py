"""Per-study results (the numbers ``results/STUDY.md`` quotes): seed statistics of each study's finished runs
from the summary frame, written as ``study_<study>.{md,csv}``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from eqaug.analysis.tables.writer import write_table

__all__ = ["study_frame", "write_study_tables"]


def study_frame(summary: pd.DataFrame, study: str) -> pd.DataFrame:
    """Seed statistics of one study's finished runs: per (model, regime, placement, [data conventions where a
    study has several,] n_train), the number
    of seeds, mean / min / max of the monitored test score on rotated and on unrotated data
    (:func:`~eqaug.analysis.summary.aggregate_seeds`), the mean number of optimiser steps and training
    wall time, and how many runs early stopping ended."""
    from eqaug.analysis.summary import aggregate_seeds

    rows = summary[(summary["study"] == study) & (summary["status"] == "finished")]
    conventions = ["conventions"] if rows.get("conventions", pd.Series(dtype=object)).nunique() > 1 else []
    keys = ["model", "regime", "projection_point", *conventions, "n_train"]
    per_run = rows.assign(
        steps=rows["steps"].astype(float),
        train_s=pd.to_numeric(rows["train_seconds"], errors="coerce").astype(float),
        stopped=rows["stopped_early"].astype(bool).astype(int),
    )
    frame = (
        per_run.groupby(keys, dropna=False)
        .agg(
            seeds=("run_key", "size"), steps=("steps", "mean"), train_s=("train_s", "mean"), stopped=("stopped", "sum")
        )
        .reset_index()
    )
    scores = []
    for split in ("test_rot", "test_unrot"):
        agg = aggregate_seeds(rows, f"{split}_score", tuple(keys))[[*keys, "mean", "min", "max"]]
        agg = agg.rename(columns={c: f"{split} {c}" for c in ("mean", "min", "max")})
        frame = frame.merge(agg, on=keys, how="left")
        scores += list(agg.columns[len(keys) :])
    frame = frame.rename(columns={"train_s": "train s", "stopped": "stopped early"})
    return frame[[*keys, "seeds", *scores, "steps", "train s", "stopped early"]]


def write_study_tables(summary: pd.DataFrame, out_dir: str | os.PathLike) -> list[Path]:
    """``study_<study>.{csv,md}`` for every study with finished runs."""
    written: list[Path] = []
    for study in sorted(summary.loc[summary["status"] == "finished", "study"].dropna().unique()):
        frame = study_frame(summary, study)
        notes = [
            "Test score = non-background mIoU (segmentation) or accuracy (classification) of the best "
            "validation checkpoint; mean, min and max over seeds. `steps`, `train s`: means over seeds.",
        ]
        written += write_table(
            frame, out_dir, f"study_{study}", f"Results of study `{study}`", notes, {"steps": 0, "train s": 0}
        )
    return written
