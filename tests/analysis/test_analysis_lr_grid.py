"""Tests for eqaug.analysis.lr_grid: the learning rate per model from the validation grid."""

from __future__ import annotations

import pandas as pd
import pytest
from analysis_helpers import make_record

from eqaug.analysis.lr_grid import choose_rates, grid_frame, next_edge_rate, write_lr_grid
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
    # best at the largest rate: provisional, the edge rule asks for the next half-decade rate
    assert chosen.loc["cnn_seg_218k_b16", "note"] == "at the grid's edge: waiting for lr 0.01"
    assert not chosen.loc["cnn_seg_218k_b16", "final"]
    assert chosen.loc["s2cnn_seg_204k_small", "final"]
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


@pytest.mark.parametrize(
    ("scores", "wanted"),
    [
        ({3e-4: 0.1, 1e-3: 0.2, 3e-3: 0.3, 1e-2: 0.4}, 3e-2),  # best at the top: one half-decade up
        ({3e-4: 0.4, 1e-3: 0.2, 3e-3: 0.3, 1e-2: 0.1}, 1e-4),  # best at the bottom: one half-decade down
        ({3e-4: 0.1, 1e-3: 0.2, 3e-3: 0.3, 1e-2: 0.4, 3e-2: 0.35}, None),  # the extension fell: interior
        ({3e-4: 0.1, 1e-3: 0.2, 3e-3: 0.3, 1e-2: 0.4, 3e-2: 0.5}, 1e-1),  # still rising: up again
        ({3e-3: 0.1, 1e-2: 0.2, 3e-2: 0.3, 1e-1: 0.4}, None),  # the ladder ends at 0.1
    ],
)
def test_edge_rule_asks_for_the_next_rate_of_the_ladder(scores, wanted):
    assert next_edge_rate(scores) == wanted


def test_extended_grid_final_once_the_best_rate_is_interior(tmp_path):
    base = ((3e-4, 0.1), (1e-3, 0.2), (3e-3, 0.3), (1e-2, 0.4))
    records = [_grid_record("zonal_seg_small", lr, s) for lr, s in base]
    # before the extension: provisional, the best rate so far still resolves
    chosen = choose_rates(grid_frame(records)).set_index("model")
    assert chosen.loc["zonal_seg_small", "chosen_lr"] == 1e-2 and not chosen.loc["zonal_seg_small", "final"]
    write_lr_grid(records, tmp_path / "tables", tmp_path)
    assert tuned_lr("zonal_seg_small", conf_dir=tmp_path) == pytest.approx(1e-2)
    assert "(provisional, at the grid's edge: waiting for lr 0.03)" in (tmp_path / "tuned_lr.yaml").read_text()
    # the extension is worse: 1e-2 is interior now, and final
    records.append(_grid_record("zonal_seg_small", 3e-2, 0.35))
    chosen = choose_rates(grid_frame(records)).set_index("model")
    assert chosen.loc["zonal_seg_small", "chosen_lr"] == 1e-2 and chosen.loc["zonal_seg_small", "final"]
    assert chosen.loc["zonal_seg_small", "val@0.03"] == pytest.approx(0.35)
    write_lr_grid(records, tmp_path / "tables", tmp_path)
    text = (tmp_path / "tuned_lr.yaml").read_text()
    assert (
        "zonal_seg_small: 0.01   # best val miou_nb:" in text and "0.03: 0.3500" in text and "provisional" not in text
    )
    # the extension is better: chosen, and the rule asks for 0.1
    records[-1] = _grid_record("zonal_seg_small", 3e-2, 0.5)
    chosen = choose_rates(grid_frame(records)).set_index("model")
    assert chosen.loc["zonal_seg_small", "chosen_lr"] == 3e-2
    assert chosen.loc["zonal_seg_small", "note"] == "at the grid's edge: waiting for lr 0.1"
