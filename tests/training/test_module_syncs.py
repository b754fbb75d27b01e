"""The training step makes no per-step host sync when configured for an accelerator (CPU keeps its per-step checks).

A host sync is any read of a tensor's value into Python (``item``, ``float``, ``bool``, ``tolist``); on a GPU
each one waits for the device. They are counted inside ``training_step`` of a real (CPU) Lightning fit whose
module is configured as it is on an accelerator; the progress bar, which Lightning fills with Python numbers
after every batch, must then hold no per-step loss.
"""

from __future__ import annotations

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import eqaug.training.module as module_mod
from eqaug.models import build_model
from eqaug.training.module import NonFiniteLossError, SphericalTaskModule

pytestmark = pytest.mark.filterwarnings("ignore:You defined a `validation_step` but have no `val_dataloader`")

CHECK = 10  # ACCELERATOR_CHECK_STEPS (50) shortened so that the fits take seconds
STEPS = 15  # more than CHECK: one check inside the run


@pytest.fixture(autouse=True)
def _short_check_block(monkeypatch):
    monkeypatch.setattr(module_mod, "ACCELERATOR_CHECK_STEPS", CHECK)


class _Counted(SphericalTaskModule):
    def __init__(self, device_type: str, **kw) -> None:
        super().__init__(build_model("cnn_seg_tiny"), "seg", 11, 8, lr=1e-3, **kw)
        self.device_type = device_type
        self.reads = 0
        self.counting = False

    def on_fit_start(self) -> None:
        self.configure_host_syncs(self.device_type)  # as on_fit_start does on that device

    def training_step(self, batch, batch_idx):  # noqa: ANN001, ANN201
        self.counting = True
        try:
            return super().training_step(batch, batch_idx)
        finally:
            self.counting = False


@pytest.fixture
def count_reads(monkeypatch):
    """Patch the tensor → Python conversions to count calls made while ``module.counting`` is set."""
    holder: dict[str, _Counted] = {}
    base = torch._C.TensorBase

    def wrap(name):  # noqa: ANN001, ANN202
        original = getattr(base, name)

        def counted(self, *a, **k):  # noqa: ANN001, ANN202
            module = holder.get("module")
            if module is not None and module.counting:
                module.reads += 1
            return original(self, *a, **k)

        return counted

    for name in ("item", "tolist", "__float__", "__bool__", "__int__"):
        monkeypatch.setattr(torch.Tensor, name, wrap(name))
    return holder


def _fit(module: _Counted, steps: int = STEPS) -> L.Trainer:
    g = torch.Generator().manual_seed(0)
    data = TensorDataset(
        torch.rand(steps * 2, 1, 16, 16, generator=g), torch.randint(0, 11, (steps * 2, 16, 16), generator=g)
    )
    trainer = L.Trainer(
        accelerator="cpu",
        max_steps=steps,
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        enable_progress_bar=False,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        log_every_n_steps=20,
    )
    trainer.fit(module, DataLoader(data, batch_size=2))
    return trainer


def test_accelerator_training_step_reads_the_loss_once_per_check_block(count_reads):
    module = count_reads["module"] = _Counted("cuda")
    trainer = _fit(module)
    assert module.nonfinite_watch.every == CHECK and not module.step_loss_in_progress_bar
    assert module.reads == STEPS // CHECK  # the NonFiniteWatch check, not one per step
    assert "train/loss_step" not in trainer.progress_bar_metrics
    # the loss is still logged per step (as a tensor, for the loggers) and as the epoch mean
    assert "train/loss_step" in trainer.callback_metrics and module.period_train_loss() > 0
    assert module._loss_batches == STEPS


def test_cpu_training_step_checks_every_step_and_shows_the_loss(count_reads):
    module = count_reads["module"] = _Counted("cpu")
    trainer = _fit(module, steps=10)
    assert module.nonfinite_watch.every == 1 and module.step_loss_in_progress_bar
    assert module.reads == 10
    assert "train/loss_step" in trainer.progress_bar_metrics


def test_accelerator_configuration_still_stops_on_a_nan_loss():
    module = _Counted("cuda", nan_loss_at_step=3)
    with pytest.raises(NonFiniteLossError, match=r"in epoch 0, at a step between 0 and 9"):
        _fit(module, steps=STEPS)
