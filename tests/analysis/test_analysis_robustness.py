"""Score against rotation angle and augmentation strength (:mod:`eqaug.analysis.robustness`): frames, figures and
tables from records, and the curve added to a record from its checkpoint equal to the one the run wrote."""

from __future__ import annotations

import json

import pytest
from analysis_helpers import make_record

from eqaug.analysis.robustness import add_missing_curves, augstrength_frame, robustness_frame, write_robustness
from eqaug.testing import TINY
from eqaug.training import records
from eqaug.training.run import run_training

ANGLES = [0.0, 90.0, 180.0]


def _with_curve(record: dict, scores: list[float], lr: float = 1e-3) -> dict:
    record["config"]["optim"] = {"lr": lr}
    record["robustness"] = {"metric": "miou_nb", "angles_deg": ANGLES, "scores": scores, "seconds": 1.0, "n_test": 100}
    return record


def _study_records() -> list[dict]:
    out = []
    for seed in (0, 1):
        out.append(_with_curve(make_record("c1", "s2cnn_seg_204k", 1000, seed, score_rot=0.6), [0.6, 0.61, 0.59]))
        out.append(_with_curve(make_record("c1", "cnn_seg_218k", 1000, seed, rotate=False), [0.5, 0.1, 0.05 + seed]))
    out.append(make_record("c1", "cnn_seg_1m", 1000, 0))  # no curve: left out
    return out


def test_robustness_frame_and_table(tmp_path):
    frame = robustness_frame(_study_records())
    assert set(frame["model"]) == {"s2cnn_seg_204k", "cnn_seg_218k"}
    assert len(frame) == 2 * 2 * len(ANGLES)
    written = write_robustness(_study_records(), tmp_path, log=lambda _: None)
    names = {p.name for p in written}
    assert {"robustness_c1.png", "robustness_c1.md", "robustness_c1.csv"} <= names
    table = (tmp_path / "tables" / "robustness_c1.md").read_text()
    # means over the two seeds per angle (the CNN's 180° scores are 0.05 and 1.05)
    assert "| cnn_seg_218k | unrotated | south_pole | 1,000 | 0.001 | 2 | 0.500 | 0.100 | 0.550 |" in table
    assert "| s2cnn_seg_204k | unrotated | south_pole | 1,000 | 0.001 | 2 | 0.600 | 0.610 | 0.590 | 0.600 |" in table
    side = json.loads((tmp_path / "figures" / "robustness_c1.json").read_text())
    assert len(side["used_runs"]) == 4


def test_curves_of_other_poses_and_sizes_are_not_averaged(tmp_path):
    """C3 trains at two poses, C1 at three sizes, a learning-rate grid at four rates: each (pose, size, rate) is its
    own row, and the figure draws one size (the one with most curves) with one line per pose."""
    recs = [
        _with_curve(make_record("c3", "zonal_seg", 1000, 0, projection_point="south_pole"), [0.6, 0.6, 0.6]),
        _with_curve(make_record("c3", "zonal_seg", 1000, 0, projection_point="equator"), [0.2, 0.2, 0.2]),
        _with_curve(make_record("c3", "zonal_seg", 3000, 0, projection_point="equator"), [0.9, 0.9, 0.9]),
        _with_curve(make_record("c3", "zonal_seg", 3000, 0, projection_point="equator"), [0.4, 0.4, 0.4], lr=1e-2),
    ]
    written = write_robustness(recs, tmp_path, log=lambda _: None)
    table = (tmp_path / "tables" / "robustness_c3.md").read_text()
    assert "| zonal_seg | unrotated | south_pole | 1,000 | 0.001 | 1 | 0.600 | 0.600 | 0.600 |" in table
    assert "| zonal_seg | unrotated | equator | 1,000 | 0.001 | 1 | 0.200 | 0.200 | 0.200 |" in table
    assert "| zonal_seg | unrotated | equator | 3,000 | 0.001 | 1 | 0.900 | 0.900 | 0.900 |" in table
    assert "| zonal_seg | unrotated | equator | 3,000 | 0.01 | 1 | 0.400 | 0.400 | 0.400 |" in table
    side = json.loads((tmp_path / "figures" / "robustness_c3.json").read_text())
    assert sorted((r[2], r[3], r[4]) for r in side["used_runs"]) == [
        ("equator", 1000, 0.001),
        ("south_pole", 1000, 0.001),
    ]
    assert any(p.name == "robustness_c3.png" for p in written)


def test_a_rerun_curve_sits_beside_the_reruns_own_haar_score(tmp_path):
    """A curve added by a re-run comes from another model than the record's metrics: its Haar point is the re-run's."""
    rec = _with_curve(make_record("c1", "cnn_seg_218k", 1000, 0, score_rot=0.2), [0.1, 0.1, 0.1])
    rec["robustness_source"] = {"kind": "rerun", "same_metrics": False, "metrics": {"test_rot": {"miou_nb": 0.7}}}
    plain = _with_curve(make_record("c1", "s2cnn_seg_204k", 1000, 0, score_rot=0.6), [0.6, 0.6, 0.6])
    frame = robustness_frame([rec, plain])
    assert set(frame[frame["model"] == "cnn_seg_218k"]["haar"]) == {0.7}
    assert set(frame[frame["model"] == "s2cnn_seg_204k"]["haar"]) == {0.6}
    write_robustness([rec, plain], tmp_path, log=lambda _: None)
    table = (tmp_path / "tables" / "robustness_c1.md").read_text()
    assert "| 0.700 |" in table and "1 of the 2 curves are from re-runs" in table


def test_augstrength_frame_orders_the_rotation_sets(tmp_path):
    recs = [make_record("seg_augstrength_small", "s2cnn_seg_204k", 1000, s, rotate=False) for s in (0, 1, 2)]
    for rotate in (False, True):
        recs += [make_record("seg_augstrength_small", "cnn_seg_218k", 1000, s, rotate=rotate) for s in (0, 1, 2)]
    frame = augstrength_frame(recs, "seg_augstrength_small")
    assert set(frame["regime"]) == {"unrotated", "rotated"} and len(frame) == 9
    written = write_robustness(recs, tmp_path, log=lambda _: None)
    assert {"augstrength_seg_augstrength_small.png", "augstrength_seg_augstrength_small.md"} <= {
        p.name for p in written
    }


@pytest.mark.slow
def test_curve_from_the_checkpoint_equals_the_runs_own(compose_train, tmp_path):
    """A record without the curve gets it from its best checkpoint, identical to what the run computed."""
    rec = run_training(compose_train(["model=cnn_seg_tiny", *TINY, f"results_dir={tmp_path}"]))
    path = records.record_path(tmp_path, rec["study"], rec["run_key"])
    stored = records.read_record(path)
    original = stored.pop("robustness")
    records.write_json_atomic(path, stored)
    assert add_missing_curves(tmp_path, batch_size=16, log=lambda _: None) == (1, 0)
    again = records.read_record(path)["robustness"]
    assert again["angles_deg"] == original["angles_deg"]
    assert again["scores"] == pytest.approx(original["scores"], abs=1e-6)
    assert add_missing_curves(tmp_path, log=lambda _: None) == (0, 0)  # nothing left to add
