"""Callbacks: timing and validation history per validation check (kept across resumes), early stopping
that counts only checks without gain, and fault injection."""

from __future__ import annotations

import logging
import os
import signal
import time
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import EarlyStopping

log = logging.getLogger("eqaug.train")


class EpochHistory(L.Callback):
    """Records one row per validation check: wall and CPU time of the training since the previous
    check and of the validation, samples seen, training loss and the validation scores.

    Validation runs once per epoch, or every ``trainer.val_check_steps`` optimiser steps. Next to
    wall-clock times it keeps the process CPU time (all threads), which is less sensitive to other
    jobs on a shared machine. The history lives in the checkpoint (``state_dict``), so a resumed run
    keeps the rows of the checks it did before the interruption and time-to-threshold stays right.

    Each check also logs one line (logger ``eqaug.train``, INFO) with the step, the score, the best
    score so far, the training throughput and the time spent, so a job's log shows where a run is.
    """

    def __init__(self, monitor: str) -> None:
        self.monitor = monitor
        self.history: list[dict[str, Any]] = []
        self._mark: tuple[float, float] | None = None  # (wall, cpu) when training (re)started
        self._val_start = (0.0, 0.0)
        self._train_time = (0.0, 0.0)

    @staticmethod
    def _now() -> tuple[float, float]:
        return time.perf_counter(), time.process_time()

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # also on a resume in the middle of an epoch, where no epoch starts before the next check
        self._mark = self._now()

    def on_validation_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._val_start = self._now()
        if self._mark is not None:
            self._train_time = (self._val_start[0] - self._mark[0], self._val_start[1] - self._mark[1])

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # after the module's on_validation_epoch_end (metrics computed) and before ModelCheckpoint saves
        # (Lightning runs checkpoint callbacks last), so checkpoints hold this check's row
        if trainer.sanity_checking or self._mark is None:
            return
        now = self._now()
        val_wall, val_cpu = now[0] - self._val_start[0], now[1] - self._val_start[1]
        train_wall, train_cpu = self._train_time
        scores = {k: v for k, v in pl_module.results.get("val", {}).items() if isinstance(v, float)}
        prev = self.history[-1] if self.history else {}
        samples = pl_module.samples_seen - prev.get("samples_seen", 0)
        self.history.append(
            {
                "epoch": trainer.current_epoch,
                "step": trainer.global_step,
                "samples_seen": pl_module.samples_seen,
                "train_seconds": train_wall,
                "val_seconds": val_wall,
                "train_seconds_cum": prev.get("train_seconds_cum", 0.0) + train_wall,
                "wall_seconds_cum": prev.get("wall_seconds_cum", 0.0) + train_wall + val_wall,
                "cpu_seconds_cum": prev.get("cpu_seconds_cum", 0.0) + train_cpu + val_cpu,
                "train_loss": pl_module.period_train_loss(),
                "samples_per_second": samples / train_wall if train_wall > 0 and samples > 0 else None,
                **{f"val_{k}": v for k, v in scores.items()},
            }
        )
        pl_module.reset_period_loss()
        try:  # a progress line must never end a run
            log.info("%s", check_line(self.history, self.monitor, getattr(trainer, "max_steps", None)))
        except Exception as err:  # noqa: BLE001
            log.warning("no progress line for check %d: %r", len(self.history), err)
        self._mark = self._now()

    def state_dict(self) -> dict[str, Any]:
        return {"history": self.history}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.history = list(state_dict.get("history", []))

    def time_to_threshold(self, target: float | None) -> dict[str, Any] | None:
        """First check whose validation score reaches ``target`` (see :func:`time_to_threshold`)."""
        return time_to_threshold(self.history, self.monitor, target)


def check_line(history: list[dict[str, Any]], monitor: str, max_steps: int | None = None) -> str:
    """One line on the last check of ``history``: ``check 3 step 300/500 epoch 9: val miou_nb 0.1234
    (best 0.1301), train loss 0.4321, 245 samples/s, 72 s elapsed``."""
    row = history[-1]
    step = f"{row['step']}/{max_steps}" if max_steps and max_steps > 0 else f"{row['step']}"
    scores = [r[f"val_{monitor}"] for r in history if isinstance(r.get(f"val_{monitor}"), float)]
    score = row.get(f"val_{monitor}")
    parts = [
        f"val {monitor} {score:.4f} (best {max(scores):.4f})" if isinstance(score, float) else f"val {monitor} n/a"
    ]
    if isinstance(row.get("train_loss"), float):
        parts.append(f"train loss {row['train_loss']:.4f}")
    rate = row.get("samples_per_second")
    parts.append(f"{rate:.0f} samples/s" if rate else "samples/s n/a")
    parts.append(f"{row['wall_seconds_cum']:.0f} s elapsed")
    return f"check {len(history)} step {step} epoch {row['epoch']}: " + ", ".join(parts)


class PatienceEarlyStopping(EarlyStopping):
    """Early stopping that ends a run only after ``patience`` checks without gain, also in its first epochs.

    Lightning honours a stop signal only once ``min_epochs`` are done, and keeps it raised meanwhile, so a
    signal raised in the first epoch (an epoch longer than ``patience`` checks: 30,000 samples at 32 per
    step and a check every 100 steps) ended the run at the epoch's end even if the score had improved in
    between. Here an improvement withdraws a pending signal of this callback (not one raised by anything
    else), and the run goes on until ``patience`` checks without gain again.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._signalled = False  # trainer.should_stop was raised by this callback and is still pending

    def _run_early_stopping_check(self, trainer: L.Trainer) -> None:
        raised_elsewhere = bool(trainer.should_stop) and not self._signalled
        super()._run_early_stopping_check(trainer)
        if raised_elsewhere:
            return
        if self._signalled and self.wait_count == 0:  # improved since the signal: withdraw it
            trainer.should_stop = False
        self._signalled = bool(trainer.should_stop)


def time_to_threshold(history: list[dict[str, Any]], monitor: str, target: float | None) -> dict[str, Any] | None:
    """First validation check of ``history`` whose ``monitor`` reaches ``target`` (``>=``; NaN never does).

    Returns ``{"target", "reached", "epoch", "step", "samples_seen", "wall_seconds", "train_seconds",
    "cpu_seconds"}`` with the cumulative times at that check (all but ``target`` and ``reached``
    ``None`` if no check reached it, or if the history lacks them), or ``None`` without a target.
    """
    if target is None:
        return None
    for row in history:
        score = row.get(f"val_{monitor}")
        if score is not None and score >= target:  # NaN >= target is False
            return {
                "target": target,
                "reached": True,
                "epoch": row.get("epoch"),
                "step": row.get("step"),
                "samples_seen": row.get("samples_seen"),
                "wall_seconds": row.get("wall_seconds_cum"),
                "train_seconds": row.get("train_seconds_cum"),
                "cpu_seconds": row.get("cpu_seconds_cum"),
            }
    none = dict.fromkeys(("epoch", "step", "samples_seen", "wall_seconds", "train_seconds", "cpu_seconds"))
    return {"target": target, "reached": False, **none}


class KillAfterEpoch(L.Callback):
    """Fault injection: SIGKILL this process once epoch ``epoch`` has finished and been checkpointed.

    The kill happens at the start of the next epoch, i.e. after every end-of-epoch hook (checkpointing
    included) has run — the state a crash between two epochs leaves behind.
    """

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.current_epoch == self.epoch + 1:
            os.kill(os.getpid(), signal.SIGKILL)


class KillAfterStep(L.Callback):
    """Fault injection: SIGKILL this process once optimiser step ``step`` and its validation are done.

    The kill happens at the start of the next training batch, i.e. after the validation of step
    ``step`` and its checkpoint (with ``trainer.val_check_steps`` dividing ``step``) — the state a crash
    in the middle of an epoch leaves behind.
    """

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), signal.SIGKILL)
