"""Schemas of the training app's config (``conf/train.yaml`` and the ``trainer``/``logger`` groups).

Types are checked by OmegaConf at composition; ranges by ``__post_init__`` when
:func:`eqaug.training.run.to_run_config` converts the composed config to these dataclasses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional

from omegaconf import MISSING

from eqaug.data.spec import DataSpec
from eqaug.validate import not_allowed

if TYPE_CHECKING:
    from hydra.core.config_store import ConfigStore

ACCELERATORS = ("cpu", "gpu", "cuda", "mps", "auto")
PRECISIONS = ("32-true", "32", "16-mixed", "bf16-mixed", "64-true", "64")
REQUEUE_OWNERS = ("submitit", "lightning", "none")

_bad = not_allowed  # errors name the full key: trainer.max_steps=0 is not allowed; …


@dataclass
class OptimConfig:
    """Adam with a constant learning rate, as in the paper."""

    lr: float = 1e-3
    weight_decay: float = 0.0
    batch_size: int = 32

    def __post_init__(self) -> None:
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise _bad("optim.lr", self.lr, "it must be a finite number > 0")
        if not math.isfinite(self.weight_decay):
            raise _bad("optim.weight_decay", self.weight_decay, "it must be a finite number >= 0")
        if self.weight_decay < 0:
            raise _bad("optim.weight_decay", self.weight_decay, "it must be >= 0")
        if self.batch_size < 1:
            raise _bad("optim.batch_size", self.batch_size, "it must be an integer >= 1")


@dataclass
class TrainerConfig:
    """Lightning ``Trainer`` settings plus early stopping.

    ``max_epochs``: the paper used 100 for CNNs and 200 for S2CNNs. ``max_steps``: optimiser-step cap
    (``-1``: none). ``min_epochs``, ``min_steps``: early stopping cannot end the run before both are
    done (``min_steps=-1``: no step floor) — a floor long enough to leave the all-background plateau. ``val_check_steps``: validate every that many optimiser steps, across epoch
    boundaries, instead of once per epoch (``None``) — for small training sets, whose epochs are a few
    dozen steps. ``patience``: validation checks without improvement of the monitored metric before
    stopping. ``threads``: ``torch.set_num_threads``
    (``None`` leaves torch's default). ``requeue``: who requeues a preempted SLURM job —
    ``submitit`` (the launcher; Lightning's own SIGUSR1 handler is disabled) or ``lightning``.
    """

    max_epochs: int = 100
    min_epochs: int = 1
    min_steps: int = -1
    max_steps: int = -1
    val_check_steps: Optional[int] = None
    patience: int = 10
    accelerator: str = "cpu"
    devices: Any = 1
    strategy: str = "auto"
    num_nodes: int = 1
    precision: str = "32-true"
    deterministic: bool = True
    fast_dev_run: bool = False
    limit_train_batches: Optional[float] = None
    limit_val_batches: Optional[float] = None
    log_every_n_steps: int = 20
    gradient_clip_val: Optional[float] = None
    num_workers: int = 0
    threads: Optional[int] = None
    enable_progress_bar: bool = True
    requeue: str = "submitit"

    def __post_init__(self) -> None:
        for key in ("max_epochs", "num_nodes", "log_every_n_steps"):
            if getattr(self, key) < 1:
                raise _bad(f"trainer.{key}", getattr(self, key), "it must be an integer >= 1")
        if self.min_epochs < 0:
            raise _bad("trainer.min_epochs", self.min_epochs, "it must be an integer >= 0")
        if self.min_steps < -1:
            raise _bad("trainer.min_steps", self.min_steps, "it must be -1 (no floor) or an integer >= 0")
        if self.max_steps > 0 and self.min_steps > self.max_steps:
            raise _bad("trainer.min_steps", self.min_steps, f"it must be <= trainer.max_steps={self.max_steps}")
        if self.min_epochs > self.max_epochs:
            raise _bad("trainer.min_epochs", self.min_epochs, f"it must be <= trainer.max_epochs={self.max_epochs}")
        if self.val_check_steps is not None and self.val_check_steps < 1:
            raise _bad("trainer.val_check_steps", self.val_check_steps, "it must be null or an integer >= 1")
        if self.max_steps < -1 or self.max_steps == 0:
            raise _bad("trainer.max_steps", self.max_steps, "it must be -1 (no cap) or an integer >= 1")
        if self.patience < 0:
            raise _bad("trainer.patience", self.patience, "it must be an integer >= 0")
        if self.num_workers < 0:
            raise _bad("trainer.num_workers", self.num_workers, "it must be an integer >= 0")
        if self.threads is not None and self.threads < 1:
            raise _bad("trainer.threads", self.threads, "it must be null or an integer >= 1")
        if self.accelerator not in ACCELERATORS:
            raise _bad("trainer.accelerator", self.accelerator, f"choose one of {ACCELERATORS}")
        if str(self.precision) not in PRECISIONS:
            raise _bad("trainer.precision", self.precision, f"choose one of {PRECISIONS}")
        if self.requeue not in REQUEUE_OWNERS:
            raise _bad("trainer.requeue", self.requeue, f"choose one of {REQUEUE_OWNERS}")


@dataclass
class LoggerConfig:
    """Lightning's ``CSVLogger`` always; W&B when ``wandb=true`` (offline unless ``WANDB_MODE=online``)."""

    csv: bool = True
    wandb: bool = False
    wandb_project: str = "eqaug"
    wandb_entity: Optional[str] = None


@dataclass
class DebugConfig:
    """Fault injection for the crash-safety tests; never set in experiment configs."""

    kill_after_epoch: Optional[int] = None
    kill_after_step: Optional[int] = None
    nan_loss_at_step: Optional[int] = None


#: Polar tilts (degrees) of the robustness test sets: 0°, 15°, …, 180°.
ROBUSTNESS_ANGLES = [15.0 * k for k in range(13)]


@dataclass
class RobustnessConfig:
    """Score against rotation angle (:mod:`eqaug.training.robustness`): after testing, the best checkpoint is
    also scored on the test items rotated by exactly each polar tilt in ``angles`` (degrees; random azimuth
    and about-axis angle per sample, seeded; the same items at every angle).  ``enabled=false`` turns it off.
    Not part of the run key: it adds to what a run reports, not to what it computes."""

    enabled: bool = True
    angles: list[float] = field(default_factory=lambda: list(ROBUSTNESS_ANGLES))

    def __post_init__(self) -> None:
        bad = [a for a in self.angles if not 0.0 <= float(a) <= 180.0]
        if bad:
            raise _bad("robustness.angles", bad, "every angle must lie in 0..180 degrees")


@dataclass
class TrainConfig:
    """The whole training run. ``seed`` seeds everything (``seed=0`` seeds too).

    ``study`` names the directory of the run records, ``results_dir/runs/<study>/<run_key>.json``.
    ``target`` is the validation score whose first crossing is reported as time-to-threshold
    (Table 3); the whole per-epoch history is recorded as well, so any other target can be read later.
    ``retry_failed``: re-run runs whose record says they failed (default: keep the failure record).
    ``reuse_runs``: a run that another study has already finished (same run key: the same config up to
    study, target and where/how fast it runs) is not trained again; its record is copied into this
    study, with ``reused_from`` naming the original and time-to-threshold for this study's target.
    """

    data: DataSpec = field(default_factory=DataSpec)
    model: Any = MISSING
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    debug: DebugConfig = field(default_factory=DebugConfig)
    robustness: RobustnessConfig = field(default_factory=RobustnessConfig)
    seed: int = 0
    study: str = "default"
    results_dir: str = "results"
    target: Optional[float] = None
    retry_failed: bool = False
    reuse_runs: bool = True
    save_checkpoints: bool = True

    def __post_init__(self) -> None:
        if self.seed < 0:
            raise _bad("seed", self.seed, "it must be an integer >= 0")
        self._check_trainable()
        if not self.study or "/" in self.study or self.study.startswith("."):
            raise _bad("study", self.study, "it must be a plain directory name")

    def max_optimizer_steps(self) -> int:
        """Optimiser steps the run can take: ``max_epochs`` epochs of batches, capped by ``max_steps``."""
        tc = self.trainer
        batches = math.ceil(self.data.n_train / self.optim.batch_size)
        limit = tc.limit_train_batches
        if limit is not None:
            batches = min(batches, int(limit)) if limit > 1 else int(batches * limit)
        total = batches * tc.max_epochs
        return min(total, tc.max_steps) if tc.max_steps > 0 else total

    def _check_trainable(self) -> None:
        """Reject at config time what can never train and validate (a record must never say
        ``finished`` for an untrained net)."""
        if self.data.n_train < 1:
            raise _bad("data.n_train", self.data.n_train, "training needs at least 1 training sample")
        if self.data.n_val < 1:
            raise _bad("data.n_val", self.data.n_val, "training needs at least 1 validation sample")
        if self.trainer.fast_dev_run:
            return
        steps = self.max_optimizer_steps()
        if steps < 1:
            raise _bad("trainer.limit_train_batches", self.trainer.limit_train_batches, "it leaves no training batch")
        if self.trainer.val_check_steps is not None and self.trainer.val_check_steps > steps:
            raise _bad(
                "trainer.val_check_steps",
                self.trainer.val_check_steps,
                f"the run takes at most {steps} optimiser steps (max_steps={self.trainer.max_steps}, "
                f"max_epochs={self.trainer.max_epochs}, n_train={self.data.n_train}, "
                f"batch_size={self.optim.batch_size}), so it would never validate; choose at most {steps}",
            )


def register_training_schemas(cs: ConfigStore) -> None:
    """Register the training schemas in Hydra's ConfigStore ``cs``."""
    cs.store(name="train_schema", node=TrainConfig)
    cs.store(group="trainer", name="schema", node=TrainerConfig)
    cs.store(group="logger", name="schema", node=LoggerConfig)
