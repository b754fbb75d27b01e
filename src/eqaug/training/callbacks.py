"""Callbacks: per-epoch timing and validation history (kept across resumes), and fault injection."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import lightning as L


class EpochHistory(L.Callback):
    """Records, per epoch, the wall time of training and validation and the validation scores.

    Next to wall-clock times it keeps the process CPU time (all threads), which is less sensitive to
    other jobs on a shared machine.

    The history lives in the checkpoint (``state_dict``), so a resumed run keeps the times of the
    epochs it did before the interruption and time-to-threshold stays correct.
    """

    def __init__(self, monitor: str, n_train: int) -> None:
        self.monitor = monitor
        self.n_train = n_train
        self.history: list[dict[str, Any]] = []
        self._t_train: float | None = None
        self._t_val = 0.0
        self._train_seconds = 0.0
        self._cpu_train = self._cpu_val = 0.0
        self._train_cpu_seconds = 0.0

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._t_train = time.perf_counter()
        self._cpu_train = time.process_time()

    def on_validation_epoch_start(self, trainer, pl_module) -> None:
        # Lightning validates inside the training epoch, after its last batch
        self._t_val = time.perf_counter()
        self._cpu_val = time.process_time()
        if self._t_train is not None:
            self._train_seconds = self._t_val - self._t_train
            self._train_cpu_seconds = self._cpu_val - self._cpu_train

    def on_validation_end(self, trainer, pl_module) -> None:
        # after the module's on_validation_epoch_end (metrics computed) and before ModelCheckpoint saves
        # (Lightning runs checkpoint callbacks last), so checkpoints hold this epoch's row
        if trainer.sanity_checking or self._t_train is None:
            return
        val_seconds = time.perf_counter() - self._t_val
        val_cpu_seconds = time.process_time() - self._cpu_val
        scores = {k: v for k, v in pl_module.results.get("val", {}).items() if isinstance(v, float)}
        prev = self.history[-1] if self.history else {}
        self.history.append(
            {
                "epoch": trainer.current_epoch,
                "train_seconds": self._train_seconds,
                "val_seconds": val_seconds,
                "train_seconds_cum": prev.get("train_seconds_cum", 0.0) + self._train_seconds,
                "wall_seconds_cum": prev.get("wall_seconds_cum", 0.0) + self._train_seconds + val_seconds,
                "cpu_seconds_cum": prev.get("cpu_seconds_cum", 0.0) + self._train_cpu_seconds + val_cpu_seconds,
                "train_loss": pl_module.epoch_train_loss(),
                "samples_per_second": self.n_train / self._train_seconds if self._train_seconds > 0 else None,
                **{f"val_{k}": v for k, v in scores.items()},
            }
        )
        self._t_train = None

    def state_dict(self) -> dict[str, Any]:
        return {"history": self.history}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.history = list(state_dict.get("history", []))

    def time_to_threshold(self, target: float | None) -> dict[str, Any] | None:
        """First epoch whose validation score reaches ``target``, with the cumulative times then."""
        if target is None:
            return None
        for row in self.history:
            score = row.get(f"val_{self.monitor}")
            if score is not None and score >= target:
                return {
                    "target": target,
                    "epoch": row["epoch"],
                    "wall_seconds": row["wall_seconds_cum"],
                    "train_seconds": row["train_seconds_cum"],
                    "cpu_seconds": row.get("cpu_seconds_cum"),
                }
        return {"target": target, "epoch": None, "wall_seconds": None, "train_seconds": None, "cpu_seconds": None}


class KillAfterEpoch(L.Callback):
    """Fault injection: SIGKILL this process once epoch ``epoch`` has finished and been checkpointed.

    The kill happens at the start of the next epoch, i.e. after every end-of-epoch hook (checkpointing
    included) has run — the state a crash between two epochs leaves behind.
    """

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        if trainer.current_epoch == self.epoch + 1:
            os.kill(os.getpid(), signal.SIGKILL)
