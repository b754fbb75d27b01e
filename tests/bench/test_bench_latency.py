"""Latency and profile benchmarks and their tables on the two tiny models (seconds, one thread)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import s2cnn.layers
from eqaug.analysis.__main__ import main as analysis_main
from eqaug.analysis.tables import profile_frames, write_latency_tables, write_profile_tables
from eqaug.bench.latency import run_latency
from eqaug.bench.profiling import profile_model, top_level_layers
from eqaug.models import build_model

TINY = ["cnn_seg_tiny", "s2cnn_seg_tiny"]


def test_latency_tables_on_tiny_models(tmp_path):
    payload = run_latency(
        TINY, [1, 4], ["cpu"], threads=1, min_run_time=0.05, warmup=1, min_repeats=3, log=lambda *_: None
    )
    assert payload["meta"]["threads"] == 1 and payload["meta"]["torch"] and payload["meta"]["cpu"]
    rows = payload["results"]
    assert [(r["model"], r["batch_size"]) for r in rows] == [(m, b) for m in TINY for b in (1, 4)]
    for r in rows:
        assert r["n_times"] >= 3 and r["median_s"] > 0 and r["iqr_s"] >= 0
        assert r["throughput_per_s"] == pytest.approx(r["batch_size"] / r["median_s"])
        assert r["q1_s"] <= r["median_s"] <= r["q3_s"]
    csv, md = write_latency_tables(payload, tmp_path)
    table = pd.read_csv(csv)
    assert len(table) == 4 and {"latency_ms", "iqr_ms", "throughput_per_s", "device", "threads"} <= set(table.columns)
    assert "| s2cnn_seg_tiny |" in md.read_text()


def test_profile_shares_sum_to_100(tmp_path):
    originals = {n: getattr(s2cnn.layers, n) for n in ("so3_analysis", "so3_synthesis", "s2_analysis", "s2_synthesis")}
    model = build_model("s2cnn_seg_tiny")
    prof = profile_model("s2cnn_seg_tiny", batch_size=2, steps=2, warmup=1, model=model, top_ops=5)
    names = [r["layer"] for r in prof["layers"]]
    assert names == ["first", "convs.0", "convs.1", "last", "(between layers)"]
    assert [r["direction"] for r in prof["layers"][:4]] == ["down", "down", "up", "up"]
    assert sum(r["share"] for r in prof["layers"]) == pytest.approx(100, abs=0.5)
    assert all(r["share"] >= 0 for r in prof["layers"])
    assert sum(r["share"] for r in prof["ops"]) == pytest.approx(100, abs=0.5)
    assert len(prof["ops"]) == 6 and prof["ops"][-1]["op"] == "(other)"
    stages = {r["stage"]: r for r in prof["stages"]}
    assert stages["so3_synthesis"]["calls"] == 3 and stages["s2_synthesis"]["calls"] == 1
    assert sum(r["share"] for r in prof["stages"]) == pytest.approx(100, abs=0.5)
    # nothing left behind: hooks removed, s2cnn functions restored
    assert all(not m._forward_hooks and not m._forward_pre_hooks for _, m in top_level_layers(model))
    assert all(getattr(s2cnn.layers, n) is f for n, f in originals.items())

    cnn = profile_model("cnn_seg_tiny", steps=2, warmup=1)
    assert cnn["stages"] == [] and sum(r["share"] for r in cnn["layers"]) == pytest.approx(100, abs=0.5)
    payload = {"meta": {"steps": 2, "warmup": 1, "threads": 1}, "profiles": [prof, cnn]}
    files = write_profile_tables(payload, tmp_path)
    assert {f.name for f in files} == {f"profile_{k}.{e}" for k in ("layers", "ops", "stages") for e in ("md", "csv")}
    layers, ops, _ = profile_frames(payload)
    for frame in (layers, ops):
        sums = frame.groupby("model")["share_pct"].sum()
        assert sums.to_numpy() == pytest.approx([100, 100], abs=0.5)


def test_analysis_latency_and_profile_run_the_benchmarks(tmp_path, capsys):
    """``python -m eqaug.analysis latency|profile`` still measure (eqaug.bench) and render their tables."""
    out, tables = tmp_path / "latency.json", tmp_path / "tables"
    argv = ["latency", "--models", "cnn_seg_tiny", "--batch-sizes", "1", "--devices", "cpu", "--min-run-time"]
    argv += ["0.01", "--warmup", "1", "--min-repeats", "2", "--out", str(out), "--tables-dir", str(tables)]
    assert analysis_main(argv) == 0
    payload = json.loads(out.read_text())
    assert out.read_text().startswith('{\n "meta"') and out.read_text().endswith("}\n")  # indent=1
    assert payload["meta"]["command"] == "python -m eqaug.analysis " + " ".join(argv)
    assert [r["model"] for r in payload["results"]] == ["cnn_seg_tiny"] and payload["results"][0]["n_times"] >= 2
    assert {p.name for p in tables.iterdir()} == {"latency.csv", "latency.md"}

    out = tmp_path / "profile.json"
    argv = ["profile", "--models", "cnn_seg_tiny", "--steps", "1", "--warmup", "0", "--top-ops", "3"]
    assert analysis_main([*argv, "--out", str(out), "--tables-dir", str(tables)]) == 0
    assert [p["model"] for p in json.loads(out.read_text())["profiles"]] == ["cnn_seg_tiny"]
    assert (tables / "profile_ops.md").exists()

    with pytest.raises(SystemExit):
        analysis_main(["latency", "--help"])
    assert "python -m eqaug.analysis latency" in capsys.readouterr().out


def test_latency_merge_replaces_only_the_measured_rows(tmp_path):
    """``--merge`` re-measures one (model, batch) and keeps every other row, byte for byte, with a note of the merge."""
    from eqaug.bench.latency import main as latency_main

    out, tables = tmp_path / "latency.json", tmp_path / "tables"
    common = ["--batch-sizes", "1", "2", "--devices", "cpu", "--min-run-time", "0.02", "--warmup", "1"]
    common += ["--out", str(out), "--tables-dir", str(tables)]
    with pytest.raises(SystemExit, match="does not exist"):
        latency_main(["--models", "cnn_seg_tiny", "--merge", *common])
    assert latency_main(["--models", *TINY, *common]) == 0
    before = json.loads(out.read_text())
    merge = ["--models", "cnn_seg_tiny", "--batch-sizes", "2", "--merge"]
    assert latency_main([*merge, *common[3:]]) == 0
    after = json.loads(out.read_text())
    assert [(r["model"], r["batch_size"]) for r in after["results"]] == [(m, b) for m in TINY for b in (1, 2)]
    changed = [r for r in after["results"] if "measured" in r]
    assert [(r["model"], r["batch_size"]) for r in changed] == [("cnn_seg_tiny", 2)]
    assert [r for r in after["results"] if "measured" not in r] == [
        r for r in before["results"] if (r["model"], r["batch_size"]) != ("cnn_seg_tiny", 2)
    ]
    assert after["meta"]["command"] == before["meta"]["command"]
    assert after["meta"]["merges"][0]["rows"] == [["cnn_seg_tiny", "cpu", 2]]
    assert "Re-measured on" in (tables / "latency.md").read_text()
    out.write_text("{not json")
    with pytest.raises(SystemExit, match="not a latency payload"):
        latency_main([*merge, *common[3:]])
