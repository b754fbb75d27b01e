"""Tests for eqaug.analysis.lr_grid: the learning rate per model from the validation grid."""

from __future__ import annotations

import pandas as pd
import pytest
from analysis_helpers import make_record

from eqaug.analysis.lr_grid import choose_rates, grid_frame, write_lr_grid
from eqaug.config import tuned_lr


def _grid_record(model: str, lr: float, score: float, status: str = "finished", study: str = "seg_lr_small") -> dict:
    task = "cls" if study.startswith("cls") else "seg"
    rec = make_record(study, model, 10000, 0, task=task, history_scores=[score / 2, score], status=status)
    rec["config"]["optim"] = {"lr": lr, "batch_size": 32, "weight_decay": 0.0}
    return rec


def test_highest_validation_score_picks_the_rate_and_ties_go_to_1e3():
    records = [
        _grid_record("cnn_seg_218k_b16", 3e-4, 0.10),
        _grid_record("cnn_seg_218k_b16", 1e-3, 0.20),
        _grid_record("cnn_seg_218k_b16", 3e-3, 0.30),
        # every rate on the plateau: a tie, resolved towards 1e-3
        _grid_record("s2cnn_seg_204k_small", 3e-4, 0.0),
        _grid_record("s2cnn_seg_204k_small", 1e-3, 0.0),
        _grid_record("s2cnn_seg_204k_small", 3e-3, 0.0),
        # a tie between the two outer rates: 3e-3 is closer to 1e-3 in log scale (0.48 vs 0.52 decades)
        _grid_record("gscnn_seg_small", 3e-4, 0.5),
        _grid_record("gscnn_seg_small", 1e-3, 0.4),
        _grid_record("gscnn_seg_small", 3e-3, 0.5),
        _grid_record("cnn_cls_114k_b16", 3e-3, 0.9, study="cls_lr_small"),
        _grid_record("cnn_cls_114k_b16", 1e-3, 0.95, study="cls_lr_small"),
        _grid_record("cnn_cls_114k_b16", 3e-4, 0.0, status="failed", study="cls_lr_small"),
        _grid_record("cnn_seg_218k_b16", 1e-2, 0.9, study="seg_mnist1_small"),  # not a grid study
    ]
    chosen = choose_rates(grid_frame(records), grid=(3e-4, 1e-3, 3e-3)).set_index("model")
    assert chosen.loc["cnn_seg_218k_b16", "chosen_lr"] == 3e-3
    assert chosen.loc["cnn_seg_218k_b16", "note"] == "at the grid's edge"
    assert chosen.loc["s2cnn_seg_204k_small", "chosen_lr"] == 1e-3
    assert chosen.loc["s2cnn_seg_204k_small", "note"].startswith("tie")
    assert chosen.loc["gscnn_seg_small", "chosen_lr"] == 3e-3
    # a failed grid run is missing: no choice yet
    assert pd.isna(chosen.loc["cnn_cls_114k_b16", "chosen_lr"])
    assert chosen.loc["cnn_cls_114k_b16", "note"] == "waiting for lr 0.0003"


def test_written_choice_is_what_the_resolver_reads(tmp_path):
    records = [_grid_record("cnn_seg_1m_b16", lr, s) for lr, s in ((3e-4, 0.3), (1e-3, 0.2), (3e-3, 0.1), (1e-2, 0.0))]
    records += [_grid_record("gscnn_seg_small", 1e-3, 0.1)]  # incomplete: not in the conf file
    written = write_lr_grid(records, tmp_path / "tables", tmp_path)
    assert {p.name for p in written} == {"lr_grid.csv", "lr_grid.md", "tuned_lr.yaml"}
    assert tuned_lr("cnn_seg_1m_b16", conf_dir=tmp_path) == pytest.approx(3e-4)
    with pytest.raises(ValueError, match=r"model='gscnn_seg_small'.*models there: cnn_seg_1m_b16.*make baselines"):
        tuned_lr("gscnn_seg_small", conf_dir=tmp_path)
    assert "waiting for lr 0.0003, 0.003, 0.01" in (tmp_path / "tables" / "lr_grid.md").read_text()


def test_no_grid_runs_write_nothing(tmp_path):
    assert write_lr_grid([make_record("seg_mnist1_small", "cnn_seg_218k", 1000, 0)], tmp_path, tmp_path) == []
    assert not list(tmp_path.iterdir())
