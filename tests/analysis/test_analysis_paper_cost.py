"""make paper's cost estimate: GPU-hours from a committed ``gpu_*.json`` when there is one, else the assumed factor."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from eqaug.analysis import paper_cost

CPU_TRAIN = {"cnn_seg_218k": 0.1, "s2cnn_seg_204k": 1.0, "gscnn_seg": 0.8}
CPU_FWD = {"cnn_seg_218k": 0.05, "s2cnn_seg_204k": 0.4, "gscnn_seg": 0.3}


def _counts() -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"experiment": "seg_mnist1", "model": m, "runs": 2, "sample passes": 3600, "forward passes": 360}
            for m in CPU_TRAIN
        ]
    )


def _gpu_json(path, date: str = "2026-01-01T00:00:00+00:00", device: str = "Test GPU") -> None:
    payload = {
        "meta": {"device_name": device, "date": date},
        "train_step": {
            "status": "ok",
            "entries": [
                {"model": "cnn_seg_218k", "precision": "32-true", "median_s_per_sample": 0.001},
                {"model": "cnn_seg_218k", "precision": "bf16-mixed", "median_s_per_sample": 0.0005},
                {"model": "s2cnn_seg_204k", "precision": "32-true", "median_s_per_sample": 0.01},
            ],
        },
        "latency": {
            "status": "ok",
            "results": [
                {"model": "cnn_seg_218k", "device": "cuda", "batch_size": 1, "median_s": 0.002},
                {"model": "cnn_seg_218k", "device": "cuda", "batch_size": 32, "median_s": 0.016},
            ],
        },
    }
    path.write_text(json.dumps(payload))


def test_without_a_gpu_measurement_the_factor_is_assumed(tmp_path):
    assert paper_cost.load_gpu_speeds(tmp_path) is None
    frame = paper_cost.cost_frame(_counts(), (CPU_TRAIN, CPU_FWD), None, 100.0)
    assert set(frame["gpu basis"]) == {"assumed 100× (not measured)"}
    assert frame["gpu-hours"].tolist() == pytest.approx((frame["cpu thread-hours"] / 100).tolist())


def test_a_committed_gpu_measurement_is_used(tmp_path):
    _gpu_json(tmp_path / "gpu_old.json", date="2025-01-01T00:00:00+00:00", device="Old GPU")
    _gpu_json(tmp_path / "gpu_test_gpu.json")
    (tmp_path / "gpu_broken.json").write_text(json.dumps({"meta": {}, "train_step": {"status": "failed"}}))
    gpu = paper_cost.load_gpu_speeds(tmp_path)
    assert gpu.device == "Test GPU"  # the newest passed measurement
    assert gpu.train == {"cnn_seg_218k": 0.001, "s2cnn_seg_204k": 0.01}  # float32, not bf16
    assert gpu.forward == {"cnn_seg_218k": 0.016 / 32}  # the largest batch
    frame = paper_cost.cost_frame(_counts(), (CPU_TRAIN, CPU_FWD), gpu, 100.0).set_index("model")
    cnn, s2, gs = (frame.loc[m] for m in ("cnn_seg_218k", "s2cnn_seg_204k", "gscnn_seg"))
    assert cnn["gpu basis"] == "measured on Test GPU"
    assert cnn["gpu-hours"] == pytest.approx((3600 * 0.001 + 360 * 0.0005) / 3600)
    assert s2["gpu basis"] == "s2cnn speed-up 100× measured on Test GPU"  # no forward latency: its family's speed-up
    assert s2["gpu-hours"] == pytest.approx(s2["cpu thread-hours"] / 100)
    assert gs["gpu basis"] == "assumed 100× (not measured)"  # no gscnn measured at all


def test_main_writes_the_table_with_the_measured_basis(tmp_path, monkeypatch):
    monkeypatch.setattr(paper_cost, "sample_counts", _counts)  # the configs' sweep grids take minutes to compose
    bench = tmp_path / "bench"
    bench.mkdir()
    models = {
        "forward": [{"model": m, "batch_size": 1, "median_s_per_sample": t} for m, t in CPU_FWD.items()],
        "forward_backward": [
            {"model": m, "batch_size": 8, "median_s_per_sample": CPU_TRAIN[m]}
            for m in ("cnn_seg_218k", "s2cnn_seg_204k")
        ],
    }
    (bench / "models.json").write_text(json.dumps(models))
    argv = ["--bench", str(bench / "models.json"), "--bench-dir", str(bench), "--out-dir", str(tmp_path / "t")]
    assert paper_cost.main(argv) == 0
    md = (tmp_path / "t" / "paper_cost.md").read_text()
    assert "unmeasured factor" in md and "assumed 100×" in md
    _gpu_json(bench / "gpu_test_gpu.json")
    assert paper_cost.main(argv) == 0
    md = (tmp_path / "t" / "paper_cost.md").read_text()
    assert "GPU-hours from the GPU measurement" in md and "measured on Test GPU" in md
