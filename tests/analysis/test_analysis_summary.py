"""The summary table and the aggregation over seeds, on synthetic records."""

from __future__ import annotations

import pandas as pd
import pytest

from eqaug.analysis.summary import SUMMARY_COLUMNS, aggregate_seeds, load_records, summary_frame, write_summary


def test_summary_has_one_row_per_record(seg_results, tmp_path):
    frame = summary_frame(load_records(seg_results["results_dir"]))
    assert list(frame.columns) == SUMMARY_COLUMNS
    assert len(frame) == 34  # 36 expected, 2 without a record
    assert set(frame["run_key"]) == {r["run_key"] for r in seg_results["records"]}
    assert (frame["status"] == "failed").sum() == 1
    failed = frame[frame["status"] == "failed"].iloc[0]
    assert (failed["model"], failed["n_train"], failed["seed"]) == seg_results["failed"]
    assert failed["failure_kind"] == "nan" and "nan" in failed["failure_message"]
    assert pd.isna(failed["test_rot_score"])

    s2 = frame[frame["model"] == "s2cnn_seg_204k"]
    assert set(s2["regime"]) == {"unrotated"} and s2["equivariant"].all()
    cnn = frame[frame["family"] == "cnn_seg"]
    assert set(cnn["regime"]) == {"rotated"} and not cnn["equivariant"].any()

    row = frame[(frame["model"] == "cnn_seg_218k") & (frame["n_train"] == 120000) & (frame["seed"] == 2)].iloc[0]
    assert row["test_rot_score"] == pytest.approx(0.47)  # 0.40 + 0.05 + 0.02
    assert row["test_rot_miou_nb"] == pytest.approx(0.47)
    assert row["test_rot_miou_nb_area"] == pytest.approx(0.46)
    assert row["val_score"] == pytest.approx(0.47)
    assert row["best_epoch"] == 1 and row["epochs"] == 2
    assert row["wall_seconds"] == pytest.approx(24.0)
    assert (row["dataset"], row["n_items"], row["task"], row["metric"]) == ("mnist", 1, "seg", "miou_nb")

    out = write_summary(frame, tmp_path / "summary.csv")
    again = pd.read_csv(out)
    assert len(again) == 34 and list(again.columns) == SUMMARY_COLUMNS


def test_aggregation_over_seeds_by_hand(seg_results):
    frame = summary_frame(load_records(seg_results["results_dir"]))
    agg = aggregate_seeds(frame, "test_rot_score").set_index(["model", "n_train"])
    small = agg.loc[("cnn_seg_218k", 60000)]
    assert (small["mean"], small["min"], small["max"], small["n"]) == pytest.approx((0.41, 0.40, 0.42, 3))
    # seed 0 failed: the mean is over seeds 1 and 2 only
    one_m = agg.loc[("cnn_seg_1m", 60000)]
    assert (one_m["mean"], one_m["min"], one_m["max"], one_m["n"]) == pytest.approx(((0.51 + 0.52) / 2, 0.51, 0.52, 2))
    big = agg.loc[("cnn_seg_5m5", 240000)]
    assert big["n"] == 1 and big["mean"] == pytest.approx(0.65)
    assert len(agg) == 12


def test_stopped_early_is_derived_from_the_budget():
    from eqaug.analysis.summary import stopped_early

    rec = {"status": "finished", "steps_run": 700, "epochs_run": 23, "stopped_early": False}
    rec["config"] = {"trainer": {"max_steps": 4000, "max_epochs": 1000}}
    assert stopped_early(rec) is True  # the old records' flag said False
    assert stopped_early({**rec, "steps_run": 4000}) is False
    assert stopped_early({**rec, "config": {"trainer": {"max_steps": -1, "max_epochs": 23}}}) is False
    assert stopped_early({**rec, "status": "failed"}) is False  # not derived: the record's own flag
