"""The bandwidth-scaling benchmark on the tiny models (b = 4, 6; seconds) and its table/figure from a synthetic JSON."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from eqaug.analysis.__main__ import main as analysis_main
from eqaug.analysis.scaling import draw_scaling, fit_all, fit_power_law
from eqaug.analysis.tables import write_scaling_tables
from eqaug.bench.__main__ import main as bench_main
from eqaug.bench.scaling import predict_seconds, scaled_spec

TINY = ["--base", "s2cnn=s2cnn_seg_tiny", "--base", "cnn=cnn_seg_tiny", "--base", "gscnn=gscnn_seg_tiny"]


def test_fit_power_law_recovers_the_exponent():
    bs = [8, 16, 32, 64]
    fit = fit_power_law(bs, [2e-3 * b**3.5 for b in bs])
    assert fit["exponent"] == pytest.approx(3.5) and fit["prefactor"] == pytest.approx(2e-3) and fit["r2"] == 1
    assert fit_power_law([8], [1.0]) is None and fit_power_law([8, 8], [1.0, 2.0]) is None


def test_predict_seconds_grows_by_the_local_exponent():
    assert predict_seconds([], 16) is None
    assert predict_seconds([(8, 1.0)], 16) == pytest.approx(16.0)  # b^4 after one point
    assert predict_seconds([(8, 1.0), (16, 8.0)], 32) == pytest.approx(64.0)  # local exponent 3
    assert predict_seconds([(8, 1.0), (16, 1.0)], 32) == pytest.approx(4.0)  # clamped to >= 2


def test_scaled_spec_keeps_the_channels():
    s2 = scaled_spec("s2cnn_seg_204k", 16)
    assert s2.bandwidth == 16 and s2.bandlimits == [13, 11, 9, 6, 9, 11, 13]
    assert s2.features == scaled_spec("s2cnn_seg_204k", 50).features
    gs = scaled_spec("gscnn_seg", 16)
    assert gs.features == scaled_spec("gscnn_seg", 50).features and gs.bandlimits == [13, 11, 9, 6, 9, 11, 13]
    assert scaled_spec("cnn_seg_218k", 25).kernel_sizes == [5, 3, 9, 7, 3]


def test_scaling_benchmark_writes_json_table_and_figure(tmp_path, capsys):
    out, tables, figures = tmp_path / "scaling.json", tmp_path / "tables", tmp_path / "figures"
    argv = ["scaling", "--bandwidths", "4", "6", *TINY, "--repeats", "1", "--min-repeats", "1", "--warmup", "1"]
    argv += ["--out", str(out), "--tables-dir", str(tables), "--figures-dir", str(figures), "--note", "a note."]
    assert bench_main(argv) == 0
    payload = json.loads(out.read_text())
    meta = payload["meta"]
    assert meta["threads"] == 1 and meta["torch"] and meta["cpu"] and meta["date"]
    assert meta["command"] == "python -m eqaug.bench " + " ".join(argv)
    assert len(meta["loadavg_start"]) == 3 and len(meta["loadavg_end"]) == 3
    assert set(meta["scaling_rules"]) == {"s2cnn", "cnn", "gscnn"}
    rows = payload["results"]
    assert len(rows) == 3 * 2 * 2  # families × bandwidths × directions
    assert {r["status"] for r in rows} == {"measured"}
    for r in rows:
        assert r["n_times"] == 1 and r["median_s_per_sample"] > 0 and r["q1_s"] <= r["median_s"] <= r["q3_s"]
    assert {(f["family"], f["mode"]) for f in payload["fits"]} == {
        (fam, mode) for fam in ("s2cnn_seg", "cnn_seg", "gscnn_seg") for mode in ("forward", "forward+backward")
    }
    assert all(math.isfinite(f["exponent"]) and f["bandwidths"] == [4, 6] for f in payload["fits"])
    assert {p.name for p in tables.iterdir()} == {"scaling.md", "scaling.csv", "scaling_fits.csv"}
    assert {p.name for p in figures.iterdir()} == {"scaling.png", "scaling.pdf", "scaling.json"}
    assert "t ∝ b^" in capsys.readouterr().out


def _synthetic() -> dict:
    results = []
    for family, base, p in (("s2cnn_seg", "s2cnn_seg_204k", 3.0), ("cnn_seg", "cnn_seg_218k", 2.0)):
        for b in (8, 16, 32, 64):
            for mode, factor in (("forward", 1.0), ("forward+backward", 3.0)):
                t = 1e-6 * factor * b**p
                row = {"family": family, "base_model": base, "bandwidth": b, "batch_size": 1, "mode": mode}
                row |= {"layers": "x", "params": 1000}
                if family == "s2cnn_seg" and b == 64 and mode == "forward+backward":
                    row |= {"status": "skipped", "reason": "predicted 200 s per call"}
                else:
                    row |= {"status": "measured", "median_s": t, "q1_s": 0.9 * t, "q3_s": 1.1 * t}
                    row |= {"median_s_per_sample": t, "iqr_s": 0.2 * t, "iqr_s_per_sample": 0.2 * t}
                results.append(row)
    meta = {"threads": 1, "cpu": "test cpu", "torch": "x", "warmup": 2, "repeats": 7, "min_repeats": 3}
    meta |= {"max_seconds": 90.0, "loadavg_start": [3.1, 2.0, 2.0], "loadavg_end": [3.0, 2.5, 2.0], "cpu_count": 2}
    meta |= {"scaling_rules": {"s2cnn": "bandlimits × b/50", "cnn": "same layers"}, "note": "two lanes ran"}
    return {"meta": meta, "results": results}


def test_table_and_figure_from_a_synthetic_json(tmp_path):
    payload = _synthetic()
    fits = {(f["family"], f["mode"]): f for f in fit_all(payload["results"])}
    assert fits["s2cnn_seg", "forward"]["exponent"] == pytest.approx(3.0)
    assert fits["s2cnn_seg", "forward+backward"]["bandwidths"] == [8, 16, 32]
    assert fits["cnn_seg", "forward+backward"]["exponent_b16"] == pytest.approx(2.0)
    files = write_scaling_tables(payload, tmp_path / "tables")
    table = pd.read_csv(tmp_path / "tables" / "scaling.csv")
    assert len(table) == 8 and list(table["b"][:4]) == [8, 16, 32, 64]
    md = (tmp_path / "tables" / "scaling.md").read_text()
    assert "Fitted exponents" in md and "| 3.00 |" in md and "skipped: predicted 200 s per call" in md
    assert "shared with other work" in md and "two lanes ran" in md and "bandlimits × b/50" in md
    assert len(files) == 3
    figs = draw_scaling(payload, tmp_path / "figures")
    assert [p.suffix for p in figs] == [".png", ".pdf", ".json"] and figs[0].stat().st_size > 10_000
    side = json.loads(figs[2].read_text())
    assert side["skipped"][0]["bandwidth"] == 64


def test_make_figures_renders_scaling_from_the_committed_json(tmp_path):
    """``python -m eqaug.analysis tables`` (what ``make figures`` runs after the figures) renders scaling.{md,png}."""
    bench = tmp_path / "bench"
    bench.mkdir()
    (bench / "scaling.json").write_text(json.dumps(_synthetic()))
    (tmp_path / "runs").mkdir()
    argv = ["tables", "--results-dir", str(tmp_path), "--out-dir", str(tmp_path), "--no-params"]
    assert analysis_main(argv) == 0
    assert (tmp_path / "tables" / "scaling.md").exists() and (tmp_path / "figures" / "scaling.png").exists()
