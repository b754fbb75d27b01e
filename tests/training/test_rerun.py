"""Re-running a committed run for its robustness curve: same key, same metrics on the CPU, record kept."""

from __future__ import annotations

import pytest

from eqaug.analysis.robustness import records_to_rerun
from eqaug.testing import TINY
from eqaug.training import records
from eqaug.training.rerun import RerunKeyMismatchError, rerun_for_curve
from eqaug.training.run import run_training


def _committed(compose_train, results, study="committed"):
    """A finished run recorded without a curve and without checkpoints, as the committed study records are."""
    base = ["model=cnn_seg_tiny", *TINY, f"results_dir={results}", f"study={study}", "robustness.enabled=false"]
    rec = run_training(compose_train(base))
    assert rec["status"] == "finished" and rec["robustness"] is None
    for ckpt in (results / "checkpoints").rglob("*.ckpt"):
        ckpt.unlink()
    return records.record_path(results, study, rec["run_key"]), rec


def test_rerun_adds_the_curve_and_keeps_the_record(compose_train, tmp_path):
    results = tmp_path / "results"
    path, before = _committed(compose_train, results)
    # the same run under a second study (one key, two records) gains the curve too
    twin = records.record_path(results, "other", before["run_key"])
    records.write_json_atomic(twin, {**before, "study": "other"})
    assert records_to_rerun(results) == [path]  # listed once
    after = rerun_for_curve(path, results, log=lambda s: None)
    on_disk = records.read_record(path)
    assert on_disk == after
    assert {k: v for k, v in on_disk.items() if not k.startswith("robustness")} == {
        k: v for k, v in before.items() if not k.startswith("robustness")
    }
    assert len(on_disk["robustness"]["scores"]) == 13
    src = on_disk["robustness_source"]
    assert src["kind"] == "rerun" and src["run_key"] == before["run_key"]
    assert src["same_metrics"] is True and src["max_metric_difference"] == 0.0  # deterministic on the CPU
    assert records.read_record(twin)["robustness"] == on_disk["robustness"]
    assert (results / "rerun" / "runs" / "committed" / f"{before['run_key']}.json").exists()
    assert rerun_for_curve(path, results, log=lambda s: None) is None  # has its curve: nothing to do
    assert records_to_rerun(results) == []


def test_rerun_refuses_a_record_whose_config_gives_another_key(compose_train, tmp_path):
    results = tmp_path / "results"
    path, rec = _committed(compose_train, results)
    records.write_json_atomic(path, {**rec, "run_key": rec["run_key"][:-1] + "x"})
    with pytest.raises(RerunKeyMismatchError, match=r"gave run key '.*', not the record's"):
        rerun_for_curve(path, results, log=lambda s: None)
    assert records.read_record(path).get("robustness") is None


def test_rerun_selection_filters(compose_train, tmp_path):
    results = tmp_path / "results"
    path, _ = _committed(compose_train, results)
    assert records_to_rerun(results, studies=["committed"], models=["cnn_seg_tiny"], seeds=[0]) == [path]
    assert records_to_rerun(results, models=["s2cnn_seg_tiny"]) == []
    assert records_to_rerun(results, seeds=[1]) == []
    assert records_to_rerun(results, studies=["nope"]) == []
