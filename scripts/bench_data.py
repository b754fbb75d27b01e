"""Throughput of the spherical data generator on one CPU thread → ``results/bench/data.json``.

For each case, batches of ``--batch-size`` consecutive new indices go through
``SphericalDataset.get_batch`` (one vectorised call per batch) after ``--warmup`` batches; the
samples/s of each of ``--repeats`` batches give the median and interquartile range. One extra case
times the DataLoader path (``make_dataloader``, ``num_workers=0``) to show its overhead.

Usage: ``python scripts/bench_data.py [--repeats 15] [--batch-size 256] [--out results/bench/data.json]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from eqaug.data import DataSpec, SphericalDataset, load_pools, make_dataloader
from eqaug.environment import cpu_name

ROOT = Path(__file__).resolve().parents[1]
CASES = [
    ("single-digit seg", dict(task="seg", n_items=1)),
    ("4-item seg", dict(task="seg", n_items=4)),
    ("single-digit cls", dict(task="cls", n_items=1)),
]
BANDWIDTHS = (16, 50)


def _summary(wall: list[float], cpu: list[float], batch_size: int) -> dict:
    """Samples/s from per-batch wall-clock and process-CPU seconds (the CPU figure is robust to other load)."""
    rates = batch_size / np.asarray(wall)
    q1, median, q3 = np.percentile(rates, [25, 50, 75])
    return {
        "samples_per_s_median": round(float(median), 1),
        "samples_per_s_iqr": [round(float(q1), 1), round(float(q3), 1)],
        "ms_per_batch_median": round(1e3 * float(np.median(wall)), 2),
        "cpu_samples_per_s_median": round(float(np.median(batch_size / np.asarray(cpu))), 1),
        "repeats": len(rates),
    }


def _timed(fn) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def bench_get_batch(spec: DataSpec, batch_size: int, warmup: int, repeats: int) -> dict:
    dataset = SphericalDataset(spec, "train")
    times = [
        _timed(lambda k=k: dataset.get_batch(np.arange(k * batch_size, (k + 1) * batch_size)))
        for k in range(warmup + repeats)
    ]
    return _summary(*zip(*times[warmup:]), batch_size)


def bench_loader(spec: DataSpec, batch_size: int, warmup: int, repeats: int) -> dict:
    loader = make_dataloader(
        spec, "train", batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(0)
    )
    batches = iter(loader)
    times = [_timed(lambda: next(batches)) for _ in range(warmup + repeats)]
    return _summary(*zip(*times[warmup:]), batch_size)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "bench" / "data.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    n_train = (args.warmup + args.repeats) * args.batch_size
    pools = load_pools("mnist")
    results = []
    with torch.inference_mode():
        for b in BANDWIDTHS:
            for name, fields in CASES:
                spec = DataSpec(bandwidth=b, n_train=n_train, **fields)
                row = {"case": name, "path": "get_batch", "bandwidth": b, **fields}
                row.update(bench_get_batch(spec, args.batch_size, args.warmup, args.repeats))
                results.append(row)
                print(
                    f"b={b:3d} {name:18s} get_batch  {row['samples_per_s_median']:9.0f} samples/s  IQR {row['samples_per_s_iqr']}  (CPU time: {row['cpu_samples_per_s_median']:.0f}/s)"
                )
        spec = DataSpec(bandwidth=50, n_train=n_train)
        row = {
            "case": "single-digit seg",
            "path": "DataLoader(num_workers=0)",
            "bandwidth": 50,
            "task": "seg",
            "n_items": 1,
        }
        row.update(bench_loader(spec, args.batch_size, args.warmup, args.repeats))
        results.append(row)
        print(
            f"b= 50 single-digit seg DataLoader {row['samples_per_s_median']:9.0f} samples/s  IQR {row['samples_per_s_iqr']}  (CPU time: {row['cpu_samples_per_s_median']:.0f}/s)"
        )
    record = {
        "benchmark": "spherical data generation throughput (SphericalDataset.get_batch, train split, rotated)",
        "command": "python scripts/bench_data.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "threads": torch.get_num_threads(),
        "batch_size": args.batch_size,
        "warmup_batches": args.warmup,
        "planar_source": f"{pools.dataset} from {pools.source} ({pools.sizes[0]} train items)",
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "versions": {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__},
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
