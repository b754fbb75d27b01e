"""One training run from a composed config: skip if recorded, resume if interrupted, record the outcome.

The driver (:func:`run_training`: lock, skip, reuse, train, record) is here; the validated config and the data
identity are :mod:`eqaug.training.run_config`, what a run finds on disk and the kind of a failure
:mod:`eqaug.training.run_state`, the Lightning fit and test :mod:`eqaug.training.fit`; their public names are
re-exported here.
"""

from __future__ import annotations

import logging
import time
import traceback
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout
from omegaconf import DictConfig

from eqaug.training import records
from eqaug.training.fit import NoValidationError as NoValidationError
from eqaug.training.fit import _train
from eqaug.training.run_config import ResultsDirNotWritableError as ResultsDirNotWritableError
from eqaug.training.run_config import check_results_dir_writable, to_run_config, with_data_identity
from eqaug.training.run_state import DETERMINISTIC_FAILURES as DETERMINISTIC_FAILURES
from eqaug.training.run_state import CheckpointMismatchError, _existing_record, _failure_kind, _reuse_finished_run
from eqaug.training.schema import TrainConfig

log = logging.getLogger("eqaug.train")


def run_training(cfg: DictConfig) -> dict[str, Any]:
    """Train and evaluate one run; returns its record (also written to ``results_dir/runs/<study>/``).

    A run that another process is training (its lock file is held) is skipped: the returned record
    has ``status: "busy"`` and nothing is written.
    """
    from eqaug.data.sources import DataFileError, SourceNotFoundError

    typed, resolved = to_run_config(cfg)
    check_results_dir_writable(typed.results_dir)
    try:
        resolved = with_data_identity(resolved)
    except (SourceNotFoundError, DataFileError) as err:  # no data, no run key: reported, nothing written
        log.error("run failed before training (data): %s", err)
        return {
            "status": "failed",
            "run_key": None,
            "study": typed.study,
            "config": resolved,
            "failure": {"kind": "data", "message": str(err)},
        }
    key = records.run_key(resolved)
    rec_path = records.record_path(typed.results_dir, typed.study, key)
    lock_path = records.lock_path(typed.results_dir, typed.study, key)
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(lock_path, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        log.warning("skip %s: another process is training it (lock %s held)", key, lock_path)
        return {"status": "busy", "run_key": key, "study": typed.study, "lock": str(lock_path)}
    try:
        return _run_locked(typed, resolved, key, rec_path)
    finally:
        lock.release()


def _run_locked(typed: TrainConfig, resolved: dict[str, Any], key: str, rec_path: Path) -> dict[str, Any]:
    existing = _existing_record(rec_path, typed.retry_failed)
    if existing is not None:
        log.info("skip %s: record exists (%s) at %s", key, existing["status"], rec_path)
        return existing
    if typed.reuse_runs and not typed.trainer.fast_dev_run:
        reused = _reuse_finished_run(typed, resolved, key, rec_path)
        if reused is not None:
            return reused

    started = time.time()
    ckpt_dir = records.checkpoint_dir(typed.results_dir, typed.study, key)
    try:
        record = _train(typed, resolved, key, ckpt_dir)
    except KeyboardInterrupt:
        raise
    except CheckpointMismatchError:
        raise
    except Exception as err:  # noqa: BLE001 - every failure becomes a failure record; the sweep goes on
        kind = _failure_kind(err)
        log.error("run %s failed (%s): %s", key, kind, err)
        record = {
            "format": records.RECORD_FORMAT,
            "status": "failed",
            "run_key": key,
            "study": typed.study,
            "config": resolved,
            "failure": {"kind": kind, "message": str(err), "traceback": traceback.format_exc()},
            "wall_seconds": time.time() - started,
            "environment": records.environment_info(),
        }
    if not typed.trainer.fast_dev_run:
        records.write_json_atomic(rec_path, record)
        log.info("record %s (%s) → %s", key, record["status"], rec_path)
    return record
