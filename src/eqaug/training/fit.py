"""The Lightning part of one run: build the model, data module, callbacks, loggers and trainer, fit (resuming
from the run's last checkpoint), test the best checkpoint and return the finished record; raises
:class:`NoValidationError` when training ended without a validation check.
"""

from __future__ import annotations

import logging
import math
import os
import statistics
import time
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger

from eqaug.training import records
from eqaug.training.callbacks import EpochHistory, KillAfterEpoch, KillAfterStep, PatienceEarlyStopping
from eqaug.training.datamodule import SphericalDataModule
from eqaug.training.module import TEST_SPLITS, NonFiniteLossError, SphericalTaskModule
from eqaug.training.robustness import robustness_curve
from eqaug.training.run_state import _check_checkpoint
from eqaug.training.schema import TrainConfig

__all__ = ["NoValidationError"]

log = logging.getLogger("eqaug.train")


class NoValidationError(RuntimeError):
    """Training ended without a single validation check: nothing was measured."""


#: ``trainer.<name>`` settings handed to Lightning's ``Trainer`` under the same name.
_TRAINER_PASSTHROUGH = (
    "accelerator",
    "devices",
    "strategy",
    "num_nodes",
    "precision",
    "deterministic",
    "fast_dev_run",
    "limit_train_batches",
    "limit_val_batches",
    "log_every_n_steps",
    "gradient_clip_val",
    "enable_progress_bar",
)


def _loggers(typed: TrainConfig, key: str) -> list:
    loggers = []
    if typed.logger.csv:
        loggers.append(CSVLogger(save_dir=str(records.log_dir(typed.results_dir, typed.study)), name=key))
    if typed.logger.wandb:
        from lightning.pytorch.loggers import WandbLogger

        loggers.append(
            WandbLogger(
                project=typed.logger.wandb_project,
                entity=typed.logger.wandb_entity,
                name=key,
                group=typed.study,
                save_dir=str(records.log_dir(typed.results_dir, typed.study)),
                offline=os.environ.get("WANDB_MODE", "offline") != "online",
            )
        )
    return loggers


def _plugins(typed: TrainConfig) -> list:
    if "SLURM_JOB_ID" not in os.environ:
        return []
    from lightning.pytorch.plugins.environments import SLURMEnvironment

    # one owner of requeueing: submitit's launcher (USR2) by default; Lightning's handler (USR1) only if chosen
    return [SLURMEnvironment(auto_requeue=typed.trainer.requeue == "lightning")]


def _quiet_lightning_handlers() -> None:
    """Lightning adds its own console handlers; under Hydra the root logger already prints (and files) them."""
    if logging.getLogger().handlers:
        for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
            logging.getLogger(name).handlers.clear()


def _train(typed: TrainConfig, resolved: dict[str, Any], key: str, ckpt_dir: Path) -> dict[str, Any]:
    from eqaug.models import build_model

    _quiet_lightning_handlers()
    if typed.trainer.threads is not None:
        torch.set_num_threads(typed.trainer.threads)
    L.seed_everything(typed.seed, workers=True)
    t0 = time.perf_counter()
    model = build_model(resolved["model"])
    n_params = sum(p.numel() for p in model.parameters())
    task = typed.data.task
    module = SphericalTaskModule(
        model,
        task=task,
        num_classes=typed.data.n_classes,
        bandwidth=typed.data.bandwidth,
        lr=typed.optim.lr,
        weight_decay=typed.optim.weight_decay,
        nan_loss_at_step=typed.debug.nan_loss_at_step,
    )
    module.eqaug_meta = {"run_key": key, "model": resolved["model"]}
    datamodule = SphericalDataModule(
        typed.data, batch_size=typed.optim.batch_size, num_workers=typed.trainer.num_workers, seed=typed.seed
    )
    monitor = f"val/{module.monitor}"
    history = EpochHistory(module.monitor)
    callbacks: list = [history, PatienceEarlyStopping(monitor=monitor, mode="max", patience=typed.trainer.patience)]
    checkpoint = None
    if typed.save_checkpoints:
        # best.ckpt (tested at the end) is rewritten when the score improves; last.ckpt (resumed from) at
        # every validation. Not `save_last=True`: Lightning >= 2.5 writes that copy only together with a
        # new best, so a run interrupted after its best check would resume from the best, not the last.
        checkpoint = ModelCheckpoint(dirpath=str(ckpt_dir), filename="best", monitor=monitor, mode="max", save_top_k=1)
        callbacks += [checkpoint, ModelCheckpoint(dirpath=str(ckpt_dir), filename="last", monitor=None, save_top_k=1)]
    if typed.debug.kill_after_epoch is not None:
        callbacks.append(KillAfterEpoch(typed.debug.kill_after_epoch))
    if typed.debug.kill_after_step is not None:
        callbacks.append(KillAfterStep(typed.debug.kill_after_step))
    tc = typed.trainer
    trainer = L.Trainer(
        max_epochs=tc.max_epochs,
        min_epochs=tc.min_epochs,
        min_steps=tc.min_steps if tc.min_steps >= 0 else None,
        max_steps=tc.max_steps,
        val_check_interval=tc.val_check_steps,
        check_val_every_n_epoch=None if tc.val_check_steps else 1,
        **{name: getattr(tc, name) for name in _TRAINER_PASSTHROUGH},
        enable_model_summary=False,
        callbacks=callbacks,
        logger=_loggers(typed, key) or False,
        plugins=_plugins(typed),
        num_sanity_val_steps=0,
    )
    last = ckpt_dir / "last.ckpt"
    resume = last if (typed.save_checkpoints and last.exists() and not tc.fast_dev_run) else None
    resumed_from_epoch = None
    if resume is not None:
        _check_checkpoint(resume, key)
        resumed_from_epoch = int(torch.load(resume, map_location="cpu", weights_only=True)["epoch"])
        log.info("resume %s from %s (epoch %d)", key, resume, resumed_from_epoch)
    setup_seconds = time.perf_counter() - t0
    trainer.fit(module, datamodule=datamodule, ckpt_path=str(resume) if resume else None, weights_only=True)
    fit_seconds = time.perf_counter() - t0 - setup_seconds
    # snapshot: testing from a checkpoint restores the callbacks' states (the history as of that epoch)
    rows = list(history.history)
    if not rows and not tc.fast_dev_run:
        raise NoValidationError(
            f"run {key} ended after {trainer.global_step} optimiser steps without a validation check "
            f"(trainer.val_check_steps={tc.val_check_steps}, max_steps={tc.max_steps}); nothing to record"
        )
    bad = [name for name, p in model.named_parameters() if not torch.isfinite(p).all()]
    if bad:
        raise NonFiniteLossError(f"non-finite weights after training ({len(bad)} tensors, e.g. {bad[0]!r})")
    stopping = trainer.early_stopping_callback
    stopped_early = bool(stopping is not None and stopping.wait_count >= stopping.patience)
    time_to_threshold = history.time_to_threshold(typed.target)

    best_path = checkpoint.best_model_path if checkpoint is not None else ""
    best_score = checkpoint.best_model_score if checkpoint is not None else None
    if best_path:
        _check_checkpoint(Path(best_path), key)
    val_best = _best_val(rows, module.monitor)
    t_test = time.perf_counter()
    trainer.test(module, datamodule=datamodule, ckpt_path=best_path or None, weights_only=True, verbose=False)
    test_seconds = time.perf_counter() - t_test
    robustness = None
    if typed.robustness.enabled:  # the module holds the best checkpoint's weights after testing
        robustness = robustness_curve(
            module.model,
            datamodule.spec,
            typed.robustness.angles,
            typed.optim.batch_size,
            pools=datamodule.pools(),
            max_batches=1 if tc.fast_dev_run else None,
        )

    throughput = [row["samples_per_second"] for row in rows if row.get("samples_per_second")]
    return {
        "format": records.RECORD_FORMAT,
        "status": "finished",
        "run_key": key,
        "study": typed.study,
        "config": resolved,
        "task": task,
        "n_params": n_params,
        "data_source": datamodule.source_info(),
        "data_identity": resolved[records.DATA_IDENTITY_KEY],
        "metrics": {
            "monitor": module.monitor,
            "val": val_best,
            **{split: module.results.get(split) for split in TEST_SPLITS},
        },
        "robustness": robustness,
        "best_epoch": None if val_best is None else val_best.get("epoch"),
        "best_val_score": None if best_score is None else float(best_score),
        "epochs_run": rows[-1]["epoch"] + 1 if rows else 0,
        "checks_run": len(rows),
        "steps_run": rows[-1]["step"] if rows else 0,
        "stopped_early": stopped_early,
        "resumed_from_epoch": resumed_from_epoch,
        "timing": {
            "setup_seconds": setup_seconds,
            "fit_seconds_this_attempt": fit_seconds,
            "test_seconds": test_seconds,
            "train_seconds_total": rows[-1]["train_seconds_cum"] if rows else None,
            "wall_seconds_total": rows[-1]["wall_seconds_cum"] if rows else None,
            "cpu_seconds_total": rows[-1]["cpu_seconds_cum"] if rows else None,
            "threads": torch.get_num_threads(),
            "train_seconds_per_check_median": statistics.median(r["train_seconds"] for r in rows) if rows else None,
            "samples_per_second_median": statistics.median(throughput) if throughput else None,
            "time_to_threshold": time_to_threshold,
        },
        "history": rows,
        "checkpoint": {
            "best": records.relative_to_results(best_path, typed.results_dir),
            "last": records.relative_to_results(last if last.exists() else None, typed.results_dir),
        },
        "environment": records.environment_info(),
    }


def _best_val(history: list[dict[str, Any]], monitor: str) -> dict[str, Any] | None:
    """The history row of the epoch with the best validation score (the checkpoint that is tested)."""
    rows = [r for r in history if r.get(f"val_{monitor}") is not None and not math.isnan(r[f"val_{monitor}"])]
    if not rows:
        return None
    return max(rows, key=lambda r: r[f"val_{monitor}"])
