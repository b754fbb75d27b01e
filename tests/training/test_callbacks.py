"""Early stopping counts only checks without gain, also while Lightning defers the stop to ``min_epochs``;
the validation history logs one line per check."""

import logging
from types import SimpleNamespace

import pytest
import torch
from lightning.pytorch.callbacks import EarlyStopping

from eqaug.training.callbacks import EpochHistory, PatienceEarlyStopping


def _trainer() -> SimpleNamespace:
    strategy = SimpleNamespace(reduce_boolean_decision=lambda decision, all=True: decision)
    return SimpleNamespace(
        fast_dev_run=False, should_stop=False, current_epoch=0, strategy=strategy, callback_metrics={}
    )


def _checks(callback: EarlyStopping, scores: list[float], trainer: SimpleNamespace | None = None) -> list[bool]:
    """``trainer.should_stop`` after each validation check with these scores (all in epoch 0, whose
    end Lightning waits for before it honours the signal when ``min_epochs=1``)."""
    trainer = trainer or _trainer()
    out = []
    for score in scores:
        trainer.callback_metrics = {"val/score": torch.tensor(score)}
        callback._run_early_stopping_check(trainer)
        out.append(bool(trainer.should_stop))
    return out


# The saturation runs' first epoch (938 steps at n = 30,000): no gain for 6 checks, then a gain at the 8th.
SCORES = [0.0] * 7 + [1e-4, 1e-4]


def test_lightning_keeps_a_deferred_signal_after_a_gain():
    """The behaviour worked around: Lightning's signal stays raised after the score improved."""
    assert _checks(EarlyStopping(monitor="val/score", mode="max", patience=6), SCORES)[-2:] == [True, True]


def test_a_gain_withdraws_the_pending_signal():
    stopping = PatienceEarlyStopping(monitor="val/score", mode="max", patience=6)
    # the 7th check is the 6th without gain: signal; the 8th gains: withdrawn
    assert _checks(stopping, SCORES) == [False] * 6 + [True, False, False]
    assert stopping.wait_count == 1


@pytest.mark.parametrize("gain_at", [None, 9])
def test_the_signal_is_raised_again_after_patience_checks_without_gain(gain_at):
    scores = [0.0] * 7 + [1e-4] * 10
    if gain_at is not None:
        scores[gain_at] = 2e-4  # resets the count once more
    stops = _checks(PatienceEarlyStopping(monitor="val/score", mode="max", patience=6), scores)
    # gain at check 7 (withdrawn), then the 6th check without gain after the last gain raises it for good
    again = 7 + stops[7:].index(True)
    assert again == (13 if gain_at is None else 15) and all(stops[again:])


def test_a_signal_raised_elsewhere_is_left_alone():
    trainer = _trainer()
    trainer.should_stop = True  # e.g. another callback, or a SLURM requeue
    stopping = PatienceEarlyStopping(monitor="val/score", mode="max", patience=2)
    assert _checks(stopping, [0.0, 0.0, 0.0, 1.0], trainer) == [True] * 4


def test_epoch_history_logs_one_line_per_check(caplog):
    history = EpochHistory("miou_nb")
    trainer = SimpleNamespace(sanity_checking=False, current_epoch=0, global_step=0, max_steps=500)
    module = SimpleNamespace(samples_seen=0, results={}, period_train_loss=lambda: 0.5, reset_period_loss=lambda: None)
    history.on_train_start(trainer, module)
    with caplog.at_level(logging.INFO, logger="eqaug.train"):
        for step, score in ((100, 0.1301), (200, 0.1234)):
            trainer.global_step, trainer.current_epoch = step, step // 100
            module.samples_seen += 3200
            module.results = {"val": {"miou_nb": score, "loss": 1.0}}
            history.on_validation_epoch_start(trainer, module)
            history.on_validation_end(trainer, module)
    lines = [r.getMessage() for r in caplog.records if r.name == "eqaug.train"]
    assert len(lines) == 2 and len(history.history) == 2
    assert lines[0].startswith("check 1 step 100/500 epoch 1: val miou_nb 0.1301 (best 0.1301)")
    assert lines[1].startswith("check 2 step 200/500 epoch 2: val miou_nb 0.1234 (best 0.1301), train loss 0.5000")
    assert "samples/s" in lines[1] and lines[1].endswith("s elapsed")


def test_nonfinite_watch_checks_each_step_or_every_n_steps():
    import torch

    from eqaug.training.module import NonFiniteLossError, NonFiniteWatch

    watch = NonFiniteWatch(every=1)
    watch.update(torch.tensor(0.5), 0, 0)
    with pytest.raises(NonFiniteLossError, match=r"training loss is nan at epoch 0, step 1"):
        watch.update(torch.tensor(float("nan")), 0, 1)
    # on an accelerator: no check (no host sync) until the step closing a block of `every`
    watch = NonFiniteWatch(every=5)
    for step in range(5):
        watch.update(torch.tensor(1.0), 0, step)  # step 4 checks a finite block
    watch.update(torch.tensor(float("inf")), 1, 5)
    for step in (6, 7, 8):
        watch.update(torch.tensor(1.0), 1, step)  # not checked yet
    with pytest.raises(NonFiniteLossError, match=r"training loss is inf in epoch 1, at a step between 5 and 9"):
        watch.update(torch.tensor(1.0), 1, 9)
