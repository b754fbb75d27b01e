"""What a run finds on disk and how it ends when it fails: the record that makes re-running unnecessary
(finished, or failed deterministically: :data:`DETERMINISTIC_FAILURES`), the finished record of the same run
in another study (reused), the check that a checkpoint belongs to the run, and the kind of a failure.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from eqaug.training import records
from eqaug.training.callbacks import time_to_threshold
from eqaug.training.module import NonFiniteLossError
from eqaug.training.schema import TrainConfig

__all__ = ["DETERMINISTIC_FAILURES", "CheckpointMismatchError"]

log = logging.getLogger("eqaug.train")

#: Failure kinds that repeat deterministically for the same config: kept (not retried) on re-run.
DETERMINISTIC_FAILURES = ("nan", "oom")


class CheckpointMismatchError(RuntimeError):
    """A checkpoint found in a run's directory was written by a different run or model."""


def _failure_kind(err: BaseException) -> str:
    if isinstance(err, NonFiniteLossError):
        return "nan"
    if isinstance(err, torch.cuda.OutOfMemoryError) or "out of memory" in str(err).lower():
        return "oom"
    return "error"


def _check_checkpoint(path: Path, key: str) -> None:
    """Refuse to resume from a checkpoint that another run or model wrote."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unreadable file is reported the same way
        raise CheckpointMismatchError(
            f"cannot read checkpoint {path} ({type(err).__name__}: {err}); delete it to restart the run from scratch"
        ) from err
    owner = ckpt.get("eqaug", {}).get("run_key")
    if owner != key:
        raise CheckpointMismatchError(
            f"checkpoint {path} belongs to run {owner!r}, not to {key!r} (another model or config); "
            "delete it or choose another results_dir"
        )


def _existing_record(path: Path, retry_failed: bool) -> dict[str, Any] | None:
    """The record that makes re-running unnecessary, if any."""
    if not path.exists():
        return None
    record = records.read_record(path)
    if record["status"] == "finished":
        return record
    if (
        record["status"] == "failed"
        and record.get("failure", {}).get("kind") in DETERMINISTIC_FAILURES
        and not retry_failed
    ):
        return record
    return None


def _reuse_finished_run(typed: TrainConfig, resolved: dict[str, Any], key: str, rec_path: Path) -> dict | None:
    """Copy the finished record of the same run from another study into this one, if there is one.

    Same run key means the same identity config (the full hash is compared too); the copy carries this
    study's config and ``study``, ``reused_from`` (the original, relative to ``results_dir``) and the
    time-to-threshold of this study's ``target``, recomputed from the original's history.
    """
    runs = Path(typed.results_dir) / "runs"
    for path in sorted(runs.glob(f"*/{key}.json")):
        if path == rec_path:
            continue
        try:
            record = records.read_record(path)
        except ValueError as err:
            log.warning("not reusing %s: %s", path, err)
            continue
        if record["status"] != "finished" or record.get("reused_from"):
            continue
        if records.config_hash(record["config"], 64) != records.config_hash(resolved, 64):
            continue
        monitor = record["metrics"]["monitor"]
        ttt = time_to_threshold(record.get("history", []), monitor, typed.target)
        reused = {
            **record,
            "study": typed.study,
            "config": resolved,
            "reused_from": path.relative_to(typed.results_dir).as_posix(),
            "timing": {**record.get("timing", {}), "time_to_threshold": ttt},
        }
        records.write_json_atomic(rec_path, reused)
        log.info("reuse %s: finished in %s; record → %s", key, path, rec_path)
        return reused
    return None
