"""Estimate the compute of the paper-scale experiments (``make paper``) from the measured per-sample costs.

For every full-scale experiment the sweep grid is read from its config (models × training-set sizes ×
seeds, plus the grid's other axes); every run is charged its *budget*: ``max_epochs`` passes over the
training set plus one validation pass (forward only) per epoch.  Early stopping usually ends runs well
before that, so the figures are upper bounds.

Per-sample training cost (forward + backward, one CPU thread, float32) comes from
``results/bench/models.json`` (``make bench``): measured at batch 8 for the S2CNN 204k and the CNN 218k;
for the other models, their measured batch-1 forward time times the forward+backward / forward ratio
of their family's measured model (S2CNN and GSCNN: the S2CNN's; CNNs: the CNN's).  A validation sample
costs one batch-1 forward.

GPU-hours: this machine has no GPU, so they are CPU-thread-hours divided by an *assumed* speed-up of a
GPU over one CPU thread (``--gpu-speedup``, default 100; state your own).  Output:
``results/tables/paper_cost.{csv,md}``.

Usage::

    python scripts/estimate_paper_cost.py [--gpu-speedup 100] [--bench results/bench/models.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from eqaug.analysis.expected import expected_cells, sweep_params
from eqaug.analysis.tables import write_table

EXPERIMENTS = ("seg_mnist1", "seg_unrotated", "cls_mnist", "seg_mnist4", "seg_fashion", "seg_saturation")
REFERENCE = {"s2cnn": "s2cnn_seg_204k", "gscnn": "s2cnn_seg_204k", "cnn": "cnn_seg_218k"}


def _compose(overrides: list[str]):
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


def estimate(gpu_speedup: float, bench_path: Path) -> pd.DataFrame:
    train, fwd = per_sample_costs(json.loads(bench_path.read_text()))
    rows = []
    for experiment in EXPERIMENTS:
        per_model: dict[str, dict] = {}
        for point in expected_cells(sweep_params(experiment)):
            cfg = _compose([f"experiment={experiment}", *(f"{k}={v}" for k, v in point.items())])
            model, epochs = cfg.model.name, int(cfg.trainer.max_epochs)
            seconds = epochs * (int(cfg.data.n_train) * train[model] + int(cfg.data.n_val) * fwd[model])
            seconds += 2 * int(cfg.data.n_test) * fwd[model]  # rotated and unrotated test sets
            row = per_model.setdefault(model, {"experiment": experiment, "model": model, "runs": 0, "sample passes": 0})
            row["runs"] += 1
            row["sample passes"] += epochs * int(cfg.data.n_train)
            row["cpu thread-hours"] = row.get("cpu thread-hours", 0.0) + seconds / 3600
        rows += per_model.values()
    frame = pd.DataFrame(rows)
    frame["gpu-hours (assumed)"] = frame["cpu thread-hours"] / gpu_speedup
    return frame


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gpu-speedup", type=float, default=100.0, help="assumed GPU / one-CPU-thread speed-up")
    parser.add_argument("--bench", type=Path, default=Path("results/bench/models.json"))
    parser.add_argument("--out-dir", type=Path, default=Path("results/tables"))
    args = parser.parse_args(argv)
    frame = estimate(args.gpu_speedup, args.bench)
    total = frame[["runs", "sample passes", "cpu thread-hours", "gpu-hours (assumed)"]].sum()
    by_exp = frame.groupby("experiment", sort=False)[["runs", "cpu thread-hours", "gpu-hours (assumed)"]].sum()
    notes = [
        "Upper bounds: every run charged its full epoch budget (early stopping ends most runs sooner). "
        "Per-sample costs: one CPU thread, float32, from `results/bench/models.json`; GPU-hours assume a GPU "
        f"{args.gpu_speedup:g}× faster than one CPU thread (not measured: no GPU here). "
        "Command: `python scripts/estimate_paper_cost.py`.",
        "Per experiment: "
        + "; ".join(f"{e} {int(r['runs'])} runs, {r['gpu-hours (assumed)']:,.0f} GPU-h" for e, r in by_exp.iterrows())
        + f". Total: {int(total['runs'])} runs, {total['cpu thread-hours']:,.0f} CPU-thread-hours, "
        f"{total['gpu-hours (assumed)']:,.0f} GPU-hours.",
    ]
    paths = write_table(
        frame,
        args.out_dir,
        "paper_cost",
        "Compute of the paper-scale experiments (make paper)",
        notes,
        {"cpu thread-hours": 0, "gpu-hours (assumed)": 0},
    )
    print(notes[1])
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
