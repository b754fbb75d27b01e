"""Early stopping counts only checks without gain, also while Lightning defers the stop to ``min_epochs``."""

from types import SimpleNamespace

import pytest
import torch
from lightning.pytorch.callbacks import EarlyStopping

from eqaug.training.callbacks import PatienceEarlyStopping


def _trainer() -> SimpleNamespace:
    strategy = SimpleNamespace(reduce_boolean_decision=lambda decision, all=True: decision)
    return SimpleNamespace(fast_dev_run=False, should_stop=False, current_epoch=0, strategy=strategy, callback_metrics={})


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
