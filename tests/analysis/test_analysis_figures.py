"""Figures from synthetic records: files, sidecar and footnote, skipped figures, the CLI."""

from __future__ import annotations

import dataclasses
import json

import pandas as pd
import pytest
from analysis_helpers import make_record, write_record

from eqaug.analysis.__main__ import main
from eqaug.analysis.figures import FIGURES, make_figure, records_by_study
from eqaug.analysis.summary import load_records

FIG2 = next(f for f in FIGURES if f.fig_id == "fig2")


def _nonempty(path):
    return path.exists() and path.stat().st_size > 0


def test_fig2_files_sidecar_and_missing_runs(seg_results, tmp_path):
    grouped = records_by_study(load_records(seg_results["results_dir"]))
    result = make_figure(FIG2, grouped, tmp_path / "figures")
    assert result.skipped is None
    for ext in ("png", "pdf", "json"):
        assert _nonempty(tmp_path / "figures" / f"fig2_seg_mnist1.{ext}")
    side = json.loads((tmp_path / "figures" / "fig2_seg_mnist1.json").read_text())
    assert len(side["used_runs"]) == 33
    missing = {m["label"]: m for m in side["expected"]["missing"]}
    assert len(missing) == 12 and side["expected"]["n_expected"] == 45  # 9 of them: the GSCNN line
    assert missing["cnn_seg_1m n_train=60000 seed=0"]["reason"].startswith("failed (nan)")
    assert [f["kind"] for f in side["expected"]["failed"]] == ["nan"]
    # the footnote drawn on the figure names them, and says what the bands are
    assert "missing 12 of 45 runs (1 failed)" in side["caption"] and "min–max over seeds" in side["caption"]
    assert result.note and "gscnn_seg n_train=240000 seeds=0,1,2" in result.note
    point = next(p for p in side["points"] if p["model"] == "cnn_seg_218k" and p["n_train"] == 60000)
    assert (point["mean"], point["min"], point["max"], point["n"]) == pytest.approx((0.41, 0.40, 0.42, 3))
    assert point["regime"] == "rotated"
    s2 = next(p for p in side["points"] if p["model"] == "s2cnn_seg_204k")
    assert s2["regime"] == "unrotated"


def test_twin_without_records_is_skipped(seg_results, tmp_path):
    grouped = records_by_study(load_records(seg_results["results_dir"]))
    result = make_figure(FIG2.twin(), grouped, tmp_path / "figures")
    assert result.skipped and "seg_mnist1_small" in result.skipped
    assert not (tmp_path / "figures" / "fig2_seg_mnist1_small.png").exists()


def test_unknown_family_and_study_without_experiment(tmp_path):
    """Any family name works (colour by family); a study with no experiment config says so."""
    recs = [
        make_record("seg_custom", "gscnn_seg_100k", n, seed, score_rot=0.7 + 0.01 * seed)
        for n in (1000, 2000)
        for seed in (0, 1)
    ]
    spec = dataclasses.replace(FIG2, studies=("seg_custom",), name="seg_custom")
    fig = make_figure(spec, {"seg_custom": recs}, tmp_path)
    side = fig.sidecar
    assert fig.skipped is None and side["expected"]["n_expected"] is None
    assert "no conf/experiment config" in side["expected"]["source"]
    assert {p["regime"] for p in side["points"]} == {"unrotated"}  # gscnn_* is equivariant
    assert _nonempty(tmp_path / "fig2_seg_custom.pdf")


def test_cli_writes_summary_figures_and_tables(seg_results, tmp_path, capsys):
    results_dir = seg_results["results_dir"]
    # a classification study with a target, for the time-to-threshold table
    for n in (10000, 30000):
        write_record(
            results_dir,
            make_record(
                "cls_mnist", "cnn_cls_114k", n, 0, task="cls", score_rot=0.96, history_scores=[0.9, 0.98], target=0.975
            ),
        )
    out = tmp_path / "out"
    assert main(["--results-dir", str(results_dir), "--out-dir", str(out), "--no-params"]) == 0
    printed = capsys.readouterr().out
    # the figures of studies without records are skipped in one line, not one each
    assert "figures without records for their studies: fig2_seg_mnist1_small, " in printed
    assert "no records" not in printed and printed.count("without records") == 1
    summary = pd.read_csv(out / "summary.csv")
    assert len(summary) == 36 and set(summary["study"]) == {"seg_mnist1", "cls_mnist"}
    for stem in ("fig2_seg_mnist1", "fig10right_seg_saturation", "fig4_cls_mnist", "fig10left_cls_mnist"):
        for ext in ("png", "pdf", "json"):
            assert _nonempty(out / "figures" / f"{stem}.{ext}"), stem
    fig4 = json.loads((out / "figures" / "fig4_cls_mnist.json").read_text())
    assert fig4["expected"]["n_expected"] == 75  # 5 models x 5 sizes <= 240k x 3 seeds
    # no checkpoints, no npz: the predictions figure is skipped with a note
    assert "neither a checkpoint nor" in printed
    ttt = pd.read_csv(out / "tables" / "time_to_threshold.csv")
    assert len(ttt) == 2 and ttt["reached"].all() and (ttt["epoch"] == 1).all()
    assert "cls_mnist: time to acc ≥ 0.975" in (out / "tables" / "time_to_threshold.md").read_text()
