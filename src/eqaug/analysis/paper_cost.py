"""Estimate the compute of the paper-scale experiments (``make paper``) from the measured per-sample costs.

For every full-scale experiment the sweep grid is read from its config (models × training-set sizes ×
seeds, plus the grid's other axes); every run is charged its *budget*: ``max_epochs`` passes over the
training set plus one validation pass (forward only) per epoch, and the two test sets once.  Early stopping
usually ends runs well before that, so the figures are upper bounds.

Per-sample training cost on CPU (forward + backward, one CPU thread, float32) comes from
``results/bench/models.json`` (``make bench``): measured at batch 8 for the S2CNN 204k and the CNN 218k;
for the other models, their measured batch-1 forward time times the forward+backward / forward ratio
of their family's measured model (S2CNN and GSCNN: the S2CNN's; CNNs: the CNN's).  A validation sample
costs one batch-1 forward.

GPU-hours: from the GPU measurement when one is committed (``results/bench/gpu_*.json``, written by
``make gpu-check``; the newest by date): a model measured there is charged its GPU time per sample
(forward + backward at batch 32 in float32 for training, forward latency at batch 32 for validation and test);
a model not measured there, its CPU-thread-hours divided by the GPU/CPU speed-up of its family's measured
models (median). Without a GPU measurement: CPU-thread-hours divided by an *assumed*, unmeasured speed-up of a
GPU over one CPU thread (``--gpu-speedup``, default 100; state your own). The table says which basis each row
used. Output: ``results/tables/paper_cost.{csv,md}``.

Usage::

    python scripts/estimate_paper_cost.py [--gpu-speedup 100] [--bench results/bench/models.json] [--bench-dir results/bench]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = [
    "EXPERIMENTS",
    "REFERENCE",
    "GpuSpeeds",
    "per_sample_costs",
    "load_gpu_speeds",
    "sample_counts",
    "cost_frame",
    "main",
]

EXPERIMENTS = ("seg_mnist1", "seg_unrotated", "cls_mnist", "seg_mnist4", "seg_fashion", "seg_saturation")
REFERENCE = {"s2cnn": "s2cnn_seg_204k", "gscnn": "s2cnn_seg_204k", "cnn": "cnn_seg_218k"}


@dataclass
class GpuSpeeds:
    """Seconds per sample on one GPU, by model: training (forward + backward) and forward only."""

    device: str
    source: str
    train: dict[str, float] = field(default_factory=dict)
    forward: dict[str, float] = field(default_factory=dict)


def _compose(overrides: list[str]) -> Any:
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from eqaug.config import CONF_DIR, register_configs

    register_configs()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(config_name="train", overrides=overrides)


def per_sample_costs(bench: dict) -> tuple[dict[str, float], dict[str, float]]:
    """(training cost per sample, forward cost per sample) in CPU-thread-seconds, by model name."""
    fwd = {e["model"]: e["median_s_per_sample"] for e in bench["forward"] if e["batch_size"] == 1}
    train_measured = {e["model"]: e["median_s_per_sample"] for e in bench["forward_backward"] if e["batch_size"] == 8}
    ratio = {fam: train_measured[ref] / fwd[ref] for fam, ref in REFERENCE.items()}
    train = {}
    for name, t in fwd.items():
        train[name] = train_measured.get(name, t * ratio[name.split("_")[0]])
    return train, fwd


def load_gpu_speeds(bench_dir: str | os.PathLike) -> GpuSpeeds | None:
    """The newest ``gpu_*.json`` in ``bench_dir`` with a passed ``train_step`` section, as :class:`GpuSpeeds`."""
    found = []
    for path in sorted(Path(bench_dir).glob("gpu_*.json")):
        payload = json.loads(path.read_text())
        step = payload.get("train_step") or {}
        if step.get("status", "ok") != "ok" or not step.get("entries"):
            continue
        found.append((payload.get("meta", {}).get("date") or "", path, payload))
    if not found:
        return None
    _, path, payload = max(found, key=lambda t: (t[0], str(t[1])))
    speeds = GpuSpeeds(payload["meta"].get("device_name") or path.stem, str(path))
    for e in payload["train_step"]["entries"]:
        if e.get("precision", "32-true") == "32-true":
            speeds.train[e["model"]] = e["median_s_per_sample"]
    latency = [r for r in (payload.get("latency") or {}).get("results", []) if r.get("device", "cuda") != "cpu"]
    for r in sorted(latency, key=lambda r: r["batch_size"]):  # the largest batch measured (32) wins
        speeds.forward[r["model"]] = r["median_s"] / r["batch_size"]
    return speeds


def sample_counts() -> pd.DataFrame:
    """Per (experiment, model): runs, training sample passes and forward-only sample passes over every run's budget."""
    from eqaug.analysis.expected import expected_cells, sweep_params

    rows = []
    for experiment in EXPERIMENTS:
        per_model: dict[str, dict] = {}
        for point in expected_cells(sweep_params(experiment)):
            cfg = _compose([f"experiment={experiment}", *(f"{k}={v}" for k, v in point.items())])
            model, epochs = cfg.model.name, int(cfg.trainer.max_epochs)
            row = per_model.setdefault(
                model, {"experiment": experiment, "model": model, "runs": 0, "sample passes": 0, "forward passes": 0}
            )
            row["runs"] += 1
            row["sample passes"] += epochs * int(cfg.data.n_train)
            row["forward passes"] += epochs * int(cfg.data.n_val) + 2 * int(cfg.data.n_test)
        rows += per_model.values()
    return pd.DataFrame(rows)


def _family(model: str) -> str:
    return model.split("_")[0]


def cost_frame(
    counts: pd.DataFrame,
    cpu: tuple[dict[str, float], dict[str, float]],
    gpu: GpuSpeeds | None,
    gpu_speedup: float,
) -> pd.DataFrame:
    """CPU-thread-hours and GPU-hours per (experiment, model), with the basis of the GPU figure in ``gpu basis``."""
    train, fwd = cpu
    frame = counts.copy()
    frame["cpu thread-hours"] = [
        (r["sample passes"] * train[r["model"]] + r["forward passes"] * fwd[r["model"]]) / 3600
        for _, r in frame.iterrows()
    ]
    speedups: dict[str, list[float]] = {}
    if gpu is not None:
        for m, t in gpu.train.items():
            if m in train and t > 0:
                speedups.setdefault(_family(m), []).append(train[m] / t)
    hours, basis = [], []
    for _, r in frame.iterrows():
        m = r["model"]
        if gpu is not None and m in gpu.train and m in gpu.forward:
            hours.append((r["sample passes"] * gpu.train[m] + r["forward passes"] * gpu.forward[m]) / 3600)
            basis.append(f"measured on {gpu.device}")
        elif gpu is not None and speedups.get(_family(m)):
            s = statistics.median(speedups[_family(m)])
            hours.append(r["cpu thread-hours"] / s)
            basis.append(f"{_family(m)} speed-up {s:.0f}× measured on {gpu.device}")
        else:
            hours.append(r["cpu thread-hours"] / gpu_speedup)
            basis.append(f"assumed {gpu_speedup:g}× (not measured)")
    frame["gpu-hours"] = hours
    frame["gpu basis"] = basis
    return frame.drop(columns=["forward passes"])


def main(argv: list[str] | None = None) -> int:
    """Write ``paper_cost.{csv,md}``; returns the exit code."""
    from eqaug.analysis.tables import write_table

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gpu-speedup", type=float, default=100.0, help="assumed GPU / one-CPU-thread speed-up")
    parser.add_argument("--bench", type=Path, default=Path("results/bench/models.json"))
    parser.add_argument("--bench-dir", type=Path, default=Path("results/bench"), help="where gpu_*.json is looked for")
    parser.add_argument("--out-dir", type=Path, default=Path("results/tables"))
    args = parser.parse_args(argv)
    gpu = load_gpu_speeds(args.bench_dir)
    frame = cost_frame(sample_counts(), per_sample_costs(json.loads(args.bench.read_text())), gpu, args.gpu_speedup)
    total = frame[["runs", "sample passes", "cpu thread-hours", "gpu-hours"]].sum()
    by_exp = frame.groupby("experiment", sort=False)[["runs", "cpu thread-hours", "gpu-hours"]].sum()
    if gpu is None:
        gpu_note = (
            f"GPU-hours assume a GPU {args.gpu_speedup:g}× faster than one CPU thread: an unmeasured factor "
            "(no `results/bench/gpu_*.json`; `make gpu-check` on a GPU machine writes one)."
        )
    else:
        gpu_note = (
            f"GPU-hours from the GPU measurement `{gpu.source}` ({gpu.device}, `make gpu-check`): forward + backward "
            "per sample at batch 32 (float32) for training, forward per sample at batch 32 for validation and test; "
            "`gpu basis` names the rows that use a family's measured speed-up or the assumed factor instead."
        )
    notes = [
        "Upper bounds: every run charged its full epoch budget (early stopping ends most runs sooner). "
        "CPU per-sample costs: one CPU thread, float32, from `results/bench/models.json`. "
        + gpu_note
        + " Command: `python scripts/estimate_paper_cost.py`.",
        "Per experiment: "
        + "; ".join(f"{e} {int(r['runs'])} runs, {r['gpu-hours']:,.0f} GPU-h" for e, r in by_exp.iterrows())
        + f". Total: {int(total['runs'])} runs, {total['cpu thread-hours']:,.0f} CPU-thread-hours, "
        f"{total['gpu-hours']:,.0f} GPU-hours.",
    ]
    paths = write_table(
        frame,
        args.out_dir,
        "paper_cost",
        "Compute of the paper-scale experiments (make paper)",
        notes,
        {"cpu thread-hours": 0, "gpu-hours": 0},
    )
    print(gpu_note)
    print(notes[1])
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
