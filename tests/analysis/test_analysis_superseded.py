"""Tests for eqaug.analysis.superseded: runs at a learning rate the tuning has since moved away from."""

from __future__ import annotations

import pandas as pd
from analysis_helpers import make_record, write_record

from eqaug.analysis.__main__ import main
from eqaug.analysis.superseded import split_superseded, superseded_note, tuned_lr_studies
from eqaug.config import tuned_lr


def _at_lr(record: dict, lr: float) -> dict:
    record["config"]["optim"] = {"lr": lr, "batch_size": 32}
    record["run_key"] = f"{record['run_key']}_lr{lr:g}"  # the rate is part of a real run key
    return record


def test_studies_at_the_tuned_rate_follow_the_experiment_defaults():
    studies = tuned_lr_studies()
    # seg_augstrength_small sets no rate itself: it inherits seg_converge_small's ${tuned_lr:...}
    assert {"seg_sweep", "seg_converge_small", "cls_converge_small", "seg_augstrength_small"} <= studies
    # fixed rates: the CPU-scale study (1e-3) and the grid (its own rate per run)
    assert not {"seg_mnist1_small", "seg_unrotated_small", "seg_lr_small", "cls_lr_small"} & studies


def test_a_record_at_another_rate_than_the_current_one_is_superseded(tmp_path):
    exp = tmp_path / "experiment"
    exp.mkdir()
    (exp / "base.yaml").write_text("study: base\noptim:\n  lr: 0.001\n")
    (exp / "tuned.yaml").write_text(
        "defaults:\n  - base\n  - _self_\nstudy: tuned\noptim:\n  lr: ${tuned_lr:${model.name}}\n"
    )
    (exp / "child.yaml").write_text("defaults:\n  - tuned\n  - _self_\nstudy: child\n")  # inherits the tuned rate
    (tmp_path / "tuned_lr.yaml").write_text("zonal_seg_small: 0.03\n")
    assert tuned_lr_studies(tmp_path) == {"tuned", "child"}
    old = _at_lr(make_record("child", "zonal_seg_small", 5000, 0), 0.01)
    now = _at_lr(make_record("child", "zonal_seg_small", 5000, 0), 0.03)
    fixed = _at_lr(make_record("base", "zonal_seg_small", 5000, 0), 0.01)  # a fixed-rate study: never superseded
    untuned = _at_lr(make_record("tuned", "cnn_seg_218k_b16", 5000, 0), 0.01)  # no current rate: kept
    current, superseded = split_superseded([old, now, fixed, untuned], tmp_path)
    assert current == [now, fixed, untuned] and superseded == [old]
    assert superseded_note(superseded, tmp_path).splitlines()[1] == "  child zonal_seg_small: 1 at lr 0.01 (now 0.03)"
    assert superseded_note([], tmp_path) is None


def test_figures_leave_superseded_runs_out_and_summary_marks_them(tmp_path, capsys):
    results_dir = tmp_path / "results"
    rate = tuned_lr("zonal_seg_small")
    for seed in (0, 1):
        record = make_record("seg_sweep", "zonal_seg_small", 5000, seed, score_rot=0.30 + 0.01 * seed)
        write_record(results_dir, _at_lr(record, rate))
    write_record(results_dir, _at_lr(make_record("seg_sweep", "zonal_seg_small", 5000, 0, score_rot=0.1), rate / 10))
    out = tmp_path / "out"
    assert main(["--results-dir", str(results_dir), "--out-dir", str(out), "--no-params", "--no-predictions"]) == 0
    printed = capsys.readouterr().out
    assert "1 records at a superseded learning rate" in printed
    assert f"seg_sweep zonal_seg_small: 1 at lr {rate / 10:g} (now {rate:g})" in printed
    summary = pd.read_csv(out / "summary.csv")
    assert len(summary) == 3 and summary["superseded"].sum() == 1
    assert summary.loc[summary["superseded"], "test_rot_score"].tolist() == [0.1]
    # the study table averages the two current runs only (scores 0.3 and 0.31, not the superseded 0.1)
    table = (out / "tables" / "study_seg_sweep.md").read_text()
    assert "| 2 | 0.305 |" in table and "0.237" not in table
