"""The LightningModule shared by segmentation and classification: loss, optimiser, metrics.

The training step makes no host sync on an accelerator: the loss is summed on the device for the
validation lines (:meth:`SphericalTaskModule.period_train_loss`, read at each validation check) and for the
non-finite check (:class:`NonFiniteWatch`, every :data:`ACCELERATOR_CHECK_STEPS` steps); Lightning logs it to
the loggers every ``trainer.log_every_n_steps`` steps and as an epoch mean. Only on the CPU, where reading a
value costs nothing, is each step's loss also checked at once and shown in the progress bar (Lightning turns
progress-bar values into Python numbers after every batch).
"""

from __future__ import annotations

import math
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F

from eqaug.training.metrics import MONITOR, build_metrics

#: Names of the evaluation splits; the test dataloaders come in this order.
TEST_SPLITS = ("test_rot", "test_unrot")


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite."""


#: Steps between the host-side checks for a non-finite loss on an accelerator (each check syncs).
ACCELERATOR_CHECK_STEPS = 50


class NonFiniteWatch:
    """Raise :class:`NonFiniteLossError` on a non-finite training loss without a host sync per step.

    With ``every=1`` each loss is checked as it comes (on CPU that costs nothing). Otherwise the
    losses are summed on their device and the sum checked every ``every`` steps: a NaN or inf anywhere
    makes the sum non-finite, and the error names the range of steps it came from.
    """

    def __init__(self, every: int = 1) -> None:
        self.every = max(1, int(every))
        self._sum: torch.Tensor | None = None
        self._first_step: int | None = None

    def update(self, loss: torch.Tensor, epoch: int, step: int) -> None:
        """Take the loss of ``step``; raise if it (or one since the last check) is not finite."""
        if self.every == 1:
            if not torch.isfinite(loss):
                raise NonFiniteLossError(f"training loss is {loss.item()} at epoch {epoch}, step {step}")
            return
        self._sum = loss if self._sum is None else self._sum + loss
        self._first_step = step if self._first_step is None else self._first_step
        if (step + 1) % self.every == 0:
            value = float(self._sum)  # the one host sync every `every` steps
            first, self._sum, self._first_step = self._first_step, None, None
            if not math.isfinite(value):
                raise NonFiniteLossError(
                    f"training loss is {value} in epoch {epoch}, at a step between {first} and {step}"
                )


class SphericalTaskModule(L.LightningModule):
    """Wraps a model with Adam, (per-pixel) cross-entropy and epoch-level metrics.

    Parameters
    ----------
    model : maps ``[B, 1, 2b, 2b]`` images to logits ``[B, C, 2b, 2b]`` (``seg``) or ``[B, C]`` (``cls``).
    task : ``"seg"`` or ``"cls"``.
    num_classes : ``C`` (11 for segmentation: background + 10 classes).
    bandwidth : input bandwidth ``b`` (for the area weights of the metrics).
    lr, weight_decay : Adam settings.
    nan_loss_at_step : fault injection for tests (the loss is replaced by NaN at that global step).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        task: str,
        num_classes: int,
        bandwidth: int,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        nan_loss_at_step: int | None = None,
    ) -> None:
        super().__init__()
        self.model = model
        self.task = task
        self.lr = lr
        self.weight_decay = weight_decay
        self.nan_loss_at_step = nan_loss_at_step
        self.monitor = MONITOR[task]
        self.metrics = torch.nn.ModuleDict(
            {split: build_metrics(task, num_classes, bandwidth) for split in ("val", *TEST_SPLITS)}
        )
        #: Computed metrics of the last finished evaluation per split.
        self.results: dict[str, dict[str, Any]] = {}
        #: Identity of the run (run key, model spec), stored in every checkpoint under ``"eqaug"``.
        self.eqaug_meta: dict[str, Any] = {}
        self._loss_sum = 0.0
        self._loss_batches = 0
        #: Training samples processed so far (kept in checkpoints, so it survives a resume).
        self.samples_seen = 0
        #: Raises on a non-finite training loss: every step on CPU, every 50 steps on an accelerator.
        self.nonfinite_watch = NonFiniteWatch(every=1)
        #: Whether the step loss goes to the progress bar (a host sync per step): on CPU only.
        self.step_loss_in_progress_bar = True

    def on_fit_start(self) -> None:
        self.configure_host_syncs(self.device.type)

    def configure_host_syncs(self, device_type: str) -> None:
        """Per-step checks on ``"cpu"``; on an accelerator, a non-finite check every :data:`ACCELERATOR_CHECK_STEPS`
        steps and no step loss in the progress bar, so that no training step waits for the device."""
        on_cpu = device_type == "cpu"
        self.nonfinite_watch = NonFiniteWatch(every=1 if on_cpu else ACCELERATOR_CHECK_STEPS)
        self.step_loss_in_progress_bar = on_cpu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss = F.cross_entropy(self(x), y)
        if self.nan_loss_at_step is not None and self.global_step >= self.nan_loss_at_step:
            loss = loss * float("nan")
        self.nonfinite_watch.update(loss.detach(), self.current_epoch, self.global_step)
        self.log(
            "train/loss",
            loss,
            on_step=True,
            on_epoch=True,
            prog_bar=self.step_loss_in_progress_bar,
            batch_size=x.shape[0],
        )
        self._loss_sum = self._loss_sum + loss.detach()  # on the device: read at validation checks only
        self._loss_batches += 1
        self.samples_seen += x.shape[0]
        return loss

    def reset_period_loss(self) -> None:
        self._loss_sum, self._loss_batches = 0.0, 0

    def period_train_loss(self) -> float | None:
        """Mean training loss over the batches since the last validation check (the one host sync of the sum)."""
        return float(self._loss_sum) / self._loss_batches if self._loss_batches else None

    def _eval_step(self, split: str, batch: tuple[torch.Tensor, torch.Tensor]) -> None:
        x, y = batch
        logits = self(x)
        self.log(f"{split}/loss", F.cross_entropy(logits, y), on_step=False, on_epoch=True, batch_size=x.shape[0])
        self.metrics[split].update(logits, y)

    def _eval_epoch_end(self, split: str) -> None:
        values = self.metrics[split].compute()
        self.metrics[split].reset()
        self.results[split] = values
        for name, value in values.items():
            if isinstance(value, float):
                self.log(f"{split}/{name}", value, prog_bar=(split == "val" and name == self.monitor), sync_dist=False)

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self._eval_step("val", batch)

    def on_validation_epoch_end(self) -> None:
        self._eval_epoch_end("val")

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int, dataloader_idx: int = 0) -> None:
        self._eval_step(TEST_SPLITS[dataloader_idx], batch)

    def on_test_epoch_end(self) -> None:
        for split in TEST_SPLITS:
            self._eval_epoch_end(split)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["eqaug"] = {**self.eqaug_meta, "samples_seen": self.samples_seen}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.samples_seen = int(checkpoint.get("eqaug", {}).get("samples_seen", 0))

    def configure_optimizers(self) -> torch.optim.Adam:
        return torch.optim.Adam(self.model.parameters(), lr=self.lr, weight_decay=self.weight_decay)
