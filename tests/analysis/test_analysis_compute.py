"""Tests for eqaug.analysis.compute (score against compute) and eqaug.analysis.flops (training FLOPs)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from analysis_helpers import make_record

from eqaug.analysis.compute import compute_to_reach, run_curves, score_at, targets, write_compute
from eqaug.analysis.flops import training_flops

STUDY = "seg_converge_small"


def _record(model: str, seed: int, scores: list[float], cpu_per_check: float, stopped: bool = True) -> dict:
    rec = make_record(STUDY, model, 10000, seed)
    rec["config"]["optim"] = {"lr": 1e-3, "batch_size": 32, "weight_decay": 0.0}
    rec["history"] = [
        {"step": 200 * (i + 1), "cpu_seconds_cum": cpu_per_check * (i + 1), "val_miou_nb": s}
        for i, s in enumerate(scores)
    ]
    rec["stopped_early"] = stopped
    return rec


def test_running_best_is_carried_forward_and_averaged_over_seeds():
    records = [
        _record("s2cnn_seg_tiny", 0, [0.1, 0.5, 0.4], 60.0),  # running best 0.1, 0.5, 0.5
        _record("s2cnn_seg_tiny", 1, [0.3, 0.2], 60.0),  # ended after two checks: 0.3 carried forward
        _record("cnn_seg_tiny", 0, [0.0, 0.0, 0.2, 0.6], 30.0),
    ]
    curves = run_curves(records, STUDY, {"s2cnn_seg_tiny": 1e6, "cnn_seg_tiny": 2e6})
    assert [c.model for c in curves] == ["cnn_seg_tiny", "s2cnn_seg_tiny", "s2cnn_seg_tiny"]
    assert curves[0].flops[-1] == pytest.approx(800 * 32 * 2e6)
    frame = score_at(curves, "cpu_seconds", [30.0, 120.0, 600.0]).set_index(["model", "x"])
    assert frame.loc[("s2cnn_seg_tiny", 30.0), "n"] == 0 and math.isnan(frame.loc[("s2cnn_seg_tiny", 30.0), "mean"])
    assert frame.loc[("s2cnn_seg_tiny", 120.0), "mean"] == pytest.approx((0.5 + 0.3) / 2)
    assert frame.loc[("s2cnn_seg_tiny", 600.0), "min"] == pytest.approx(0.3)
    assert frame.loc[("cnn_seg_tiny", 120.0), "mean"] == pytest.approx(0.6)
    by_steps = score_at(curves, "steps", [400.0]).set_index("model")
    assert by_steps.loc["cnn_seg_tiny", "mean"] == 0.0

    reach = compute_to_reach(curves, 0.45).set_index("model")
    assert reach.loc["s2cnn_seg_tiny", "reached"] == "1/2"
    assert reach.loc["s2cnn_seg_tiny", "steps"] == 400 and reach.loc["s2cnn_seg_tiny", "cpu_minutes"] == 2.0
    assert reach.loc["cnn_seg_tiny", "steps"] == 800
    goals = targets(curves)
    assert goals["best CNN (cnn_seg_tiny) converged"] == pytest.approx(0.6)
    assert goals["90% of s2cnn_seg_tiny"] == pytest.approx(0.9 * (0.5 + 0.3) / 2)


def test_write_compute_draws_the_figure_and_tables(tmp_path):
    records = [_record("s2cnn_seg_tiny", s, [0.1 * s, 0.2, 0.3], 60.0) for s in (0, 1)]
    records += [_record("cnn_seg_tiny", 0, [0.0, 0.1], 20.0, stopped=False)]
    written = write_compute(records, tmp_path / "figures", tmp_path / "tables", log=lambda *_: None)
    names = {p.name for p in written}
    assert {"compute_seg_converge_small.png", "compute_seg_converge_small.md"} <= names
    assert "compute_to_reach_seg_converge_small.md" in names
    table = (tmp_path / "tables" / "compute_seg_converge_small.md").read_text()
    assert "| s2cnn_seg_tiny | 2 | 2 |" in table  # two seeds, both ended by the convergence rule


def test_training_flops_count_convolutions_exactly():
    # a 1-layer check is too fragile across model configs; instead: the CNN's count is all convolutions
    # (no FFT, no complex arithmetic) and its backward costs twice its forward (input and weight grads)
    cnn = training_flops("cnn_seg_tiny")
    assert cnn["fft_share"] == 0.0 and cnn["forward"] > 0
    assert cnn["backward"] == pytest.approx(2 * cnn["forward"], rel=0.05)
    gscnn = training_flops("gscnn_seg_tiny")
    assert gscnn["fft_share"] > 0  # its FFTs are counted analytically
    assert np.isclose(gscnn["total"], gscnn["forward"] + gscnn["backward"])
