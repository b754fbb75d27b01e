"""Sweep expansion into expected runs and the comparison with records."""

from __future__ import annotations

from eqaug.analysis import expected


def test_sweep_expansion_follows_inherited_sweeps():
    params = expected.sweep_params("seg_mnist1")
    assert params["model"] == ["s2cnn_seg_204k", "gscnn_seg", "cnn_seg_218k", "cnn_seg_1m", "cnn_seg_5m5"]
    assert params["data.n_train"] == [60000, 120000, 240000] and params["seed"] == [0, 1, 2]
    assert len(expected.expected_cells(params)) == 45
    assert expected.sweep_params("seg_mnist4") == params  # inherited from seg_mnist1
    unrot = expected.sweep_params("seg_unrotated")
    assert unrot["data.projection_point"] == ["equator", "south_pole"]
    assert len(expected.expected_cells(unrot)) == 90
    assert expected.experiment_for_study("seg_mnist1") == "seg_mnist1"
    assert expected.experiment_for_study("no_such_study") is None


def test_coverage_reports_missing_and_failed(seg_results):
    cells = expected.expected_cells(expected.sweep_params("seg_mnist1"))
    cov = expected.coverage(seg_results["records"], cells, source="test")
    assert cov.n_expected == 45 and len(cov.found) == 33
    by_label = {m["label"]: m for m in cov.missing}
    gscnn = {f"gscnn_seg n_train={n} seed={s}" for n in (60000, 120000, 240000) for s in (0, 1, 2)}  # no records
    assert (
        set(by_label)
        == {
            "cnn_seg_5m5 n_train=240000 seed=1",
            "cnn_seg_5m5 n_train=240000 seed=2",
            "cnn_seg_1m n_train=60000 seed=0",
        }
        | gscnn
    )
    failed = by_label["cnn_seg_1m n_train=60000 seed=0"]
    assert failed["reason"].startswith("failed (nan): training loss is nan") and failed["run_key"]
    assert by_label["cnn_seg_5m5 n_train=240000 seed=1"]["reason"] == "no record"
    assert [f["kind"] for f in cov.failed] == ["nan"]
    assert cov.extra == [] and cov.duplicates == []
    note = cov.note()
    assert note.startswith("missing 12 of 45 runs (1 failed): cnn_seg_1m n_train=60000 seed=0 [failed (nan)")
    assert "gscnn_seg n_train=60000 seeds=0,1,2" in note and note.endswith("… 1 more")  # long lists are cut


def test_coverage_without_grid_uses_all_records(seg_results):
    cov = expected.coverage(seg_results["records"], None, source="no experiment")
    assert cov.n_expected is None and len(cov.found) == 33 and len(cov.failed) == 1
    assert "expected runs unknown" in cov.note()
