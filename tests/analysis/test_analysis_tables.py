"""Time to threshold from the history (by hand), targets, Markdown."""

from __future__ import annotations

import pandas as pd
import pytest
from analysis_helpers import make_history, make_record

from eqaug.analysis.tables import format_duration, threshold_frame, threshold_summary, time_to_threshold, to_markdown


def test_time_to_threshold_by_hand():
    history = make_history([0.5, 0.8, 0.95, 0.97])  # 10 s training + 2 s validation per epoch
    hit = time_to_threshold(history, "miou_nb", 0.9)
    assert hit == {
        "target": 0.9,
        "reached": True,
        "epoch": 2,
        "step": 29,
        "samples_seen": None,  # not in this history
        "wall_seconds": 36.0,
        "train_seconds": 30.0,
        "cpu_seconds": 33.0,
    }
    assert time_to_threshold(history, "miou_nb", 0.8)["epoch"] == 1  # >= counts
    assert time_to_threshold(history, "miou_nb", 0.5)["wall_seconds"] == 12.0
    miss = time_to_threshold(history, "miou_nb", 0.99)
    assert miss["reached"] is False and miss["epoch"] is None and miss["wall_seconds"] is None
    assert miss["cpu_seconds"] is None and miss["step"] is None
    nan = make_history([float("nan"), 0.95])
    assert time_to_threshold(nan, "miou_nb", 0.9)["epoch"] == 1  # a NaN check never reaches a target
    assert time_to_threshold(history, "miou_nb", None) is None  # no target: nothing to reach


def test_threshold_tables_use_record_or_cli_targets():
    recs = [
        make_record(
            "cls_mnist", "s2cnn_cls_150k", 60000, 0, task="cls", history_scores=[0.9, 0.976, 0.98], target=0.975
        ),
        make_record(
            "cls_mnist", "s2cnn_cls_150k", 60000, 1, task="cls", history_scores=[0.95, 0.96, 0.99], target=0.975
        ),
        make_record("cls_mnist", "cnn_cls_2m5", 240000, 0, task="cls", history_scores=[0.9, 0.95], target=0.975),
        make_record("seg_unrotated", "cnn_seg_218k", 60000, 0, history_scores=[0.4, 0.6]),  # no target: left out
    ]
    frame = threshold_frame(recs)
    assert len(frame) == 3 and set(frame["study"]) == {"cls_mnist"}
    s2 = frame[frame["model"] == "s2cnn_cls_150k"].set_index("seed")
    assert s2.loc[0, "epoch"] == 1 and s2.loc[0, "wall_seconds"] == 24.0
    assert s2.loc[1, "epoch"] == 2 and s2.loc[1, "wall_seconds"] == 36.0
    assert not frame[frame["model"] == "cnn_cls_2m5"]["reached"].any()
    summary = threshold_summary(frame).set_index("model")
    assert summary.loc["s2cnn_cls_150k", "reached"] == 2
    assert summary.loc["s2cnn_cls_150k", "seconds_median"] == pytest.approx(30.0)
    assert summary.loc["cnn_cls_2m5", "reached"] == 0 and pd.isna(summary.loc["cnn_cls_2m5", "seconds_median"])

    # targets from the command line: for every study ("*") or one study
    cli = threshold_frame(recs, {"*": [0.5], "cls_mnist": [0.95, 0.99]})
    assert sorted(cli[cli["study"] == "cls_mnist"]["target"].unique()) == [0.95, 0.99]
    seg = cli[cli["study"] == "seg_unrotated"].iloc[0]
    assert seg["target"] == 0.5 and seg["epoch"] == 1 and seg["wall_seconds"] == 24.0


def test_markdown_table():
    md = to_markdown(pd.DataFrame({"a": ["x|y", None], "b": [1.23456, float("nan")], "c": [123456, 7]}), {"b": 2})
    assert md.splitlines() == ["| a | b | c |", "|---|---|---|", "| x\\|y | 1.23 | 123,456 |", "|  |  | 7 |"]
    # integers are grouped from 1,000 on, so 1,000 and 10,000 in one column read alike
    assert to_markdown(pd.DataFrame({"n": [1000, 10000, 999]})).splitlines()[2:] == [
        "| 1,000 |",
        "| 10,000 |",
        "| 999 |",
    ]


def test_format_duration():
    assert [format_duration(s) for s in (None, 4.25, 45.2, 192, 54000)] == ["", "4.2s", "45s", "3m 12s", "15h 00m"]


def test_study_table_seed_statistics(tmp_path):
    """Mean, min and max over seeds per (model, n_train); failed runs are left out; one file per study."""
    from eqaug.analysis.summary import summary_frame
    from eqaug.analysis.tables import study_frame, write_study_tables

    recs = [
        make_record("s", "cnn_seg_218k", 1000, 0, score_rot=0.2, score_unrot=0.4),
        make_record("s", "cnn_seg_218k", 1000, 1, score_rot=0.4, score_unrot=0.6),
        make_record("s", "cnn_seg_218k", 1000, 2, status="failed"),
        make_record("s", "s2cnn_seg_204k", 1000, 0, score_rot=0.7, score_unrot=0.7),
    ]
    frame = study_frame(summary_frame(recs), "s")
    cnn = frame[frame["model"] == "cnn_seg_218k"].iloc[0]
    assert cnn["seeds"] == 2
    assert cnn["test_rot mean"] == pytest.approx(0.3) and cnn["test_rot min"] == 0.2 and cnn["test_rot max"] == 0.4
    assert cnn["test_unrot mean"] == pytest.approx(0.5)
    assert frame[frame["model"] == "s2cnn_seg_204k"].iloc[0]["regime"] != cnn["regime"]
    paths = write_study_tables(summary_frame(recs), tmp_path)
    assert sorted(p.name for p in paths) == ["study_s.csv", "study_s.md"]
    assert "0.300" in (tmp_path / "study_s.md").read_text()


def test_study_table_splits_by_data_conventions_only_where_a_study_has_several():
    from eqaug.analysis.summary import summary_frame
    from eqaug.analysis.tables import study_frame

    recs = [make_record("s", "cnn_seg_218k", 1000, seed, score_rot=0.2 + 0.1 * seed) for seed in (0, 1)]
    assert "conventions" not in study_frame(summary_frame(recs), "s").columns
    gerken = make_record("s", "cnn_seg_218k", 1000, 0, score_rot=0.9)
    gerken["config"]["data"]["conventions"] = "gerken2022"
    frame = study_frame(summary_frame([*recs, gerken]), "s").set_index("conventions")
    assert frame.loc["eqaug", "seeds"] == 2 and frame.loc["eqaug", "test_rot mean"] == pytest.approx(0.25)
    assert frame.loc["gerken2022", "seeds"] == 1 and frame.loc["gerken2022", "test_rot mean"] == pytest.approx(0.9)
