"""Throughput of the spherical data generator on one CPU thread → ``results/bench/data.json``.

For each case, batches of ``--batch-size`` consecutive new indices go through
``SphericalDataset.get_batch`` (one vectorised call per batch) after ``--warmup`` batches; the
samples/s of each of ``--repeats`` batches give the median and interquartile range
(:func:`eqaug.bench.timing.quartiles`). One extra case times the DataLoader path
(``make_dataloader``, ``num_workers=0``) to show its overhead.

Usage: ``python -m eqaug.bench data [--repeats 15] [--batch-size 256] [--out results/bench/data.json]``
(or ``python scripts/bench_data.py ...``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import math
import os
import platform
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from eqaug.bench.io import command_line, write_json
from eqaug.bench.timing import Timings, quartiles, time_calls
from eqaug.data import DataSpec, SphericalDataset, load_pools, make_dataloader
from eqaug.environment import cpu_name
from eqaug.paths import REPO_ROOT

__all__ = ["bench_get_batch", "bench_loader", "build_parser", "main"]

CASES = [
    ("single-digit seg", dict(task="seg", n_items=1)),
    ("4-item seg", dict(task="seg", n_items=4)),
    ("single-digit cls", dict(task="cls", n_items=1)),
]
BANDWIDTHS = (16, 50)


def _summary(timings: Timings, batch_size: int) -> dict[str, Any]:
    """Samples/s from per-batch wall-clock and process-CPU seconds (the CPU figure is robust to other load)."""
    q1, median, q3 = quartiles([batch_size / w for w in timings.wall_s])
    cpu_rates = [batch_size / c if c > 0 else math.inf for c in timings.cpu_s]
    return {
        "samples_per_s_median": round(median, 1),
        "samples_per_s_iqr": [round(q1, 1), round(q3, 1)],
        "ms_per_batch_median": round(1e3 * timings.wall_quartiles()[1], 2),
        "cpu_samples_per_s_median": round(quartiles(cpu_rates)[1], 1),
        "repeats": timings.n,
    }


def bench_get_batch(spec: DataSpec, batch_size: int, warmup: int, repeats: int) -> dict[str, Any]:
    """Samples/s of ``SphericalDataset.get_batch`` on consecutive new indices of the train split."""
    dataset = SphericalDataset(spec, "train")
    starts = itertools.count(0, batch_size)

    def next_batch() -> None:
        start = next(starts)
        dataset.get_batch(np.arange(start, start + batch_size))

    return _summary(time_calls(next_batch, repeats, warmup), batch_size)


def bench_loader(spec: DataSpec, batch_size: int, warmup: int, repeats: int) -> dict[str, Any]:
    """Samples/s of the DataLoader path (``make_dataloader``, ``num_workers=0``, shuffled)."""
    loader = make_dataloader(spec, "train", batch_size=batch_size, shuffle=True, seed=0)
    batches = iter(loader)
    return _summary(time_calls(lambda: next(batches), repeats, warmup), batch_size)


def _report(row: dict[str, Any], label: str) -> None:
    print(
        f"{label} {row['samples_per_s_median']:9.0f} samples/s  IQR {row['samples_per_s_iqr']}  "
        f"(CPU time: {row['cpu_samples_per_s_median']:.0f}/s)"
    )


def build_parser(prog: str = "python -m eqaug.bench data") -> argparse.ArgumentParser:
    """Options of ``python -m eqaug.bench data`` (= ``python scripts/bench_data.py``)."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "results" / "bench" / "data.json")
    return parser


def main(argv: list[str] | None = None, prog: str = "python -m eqaug.bench data") -> int:
    """Entry point; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(prog).parse_args(argv)
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
                _report(row, f"b={b:3d} {name:18s} get_batch ")
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
        _report(row, "b= 50 single-digit seg DataLoader")
    record = {
        "benchmark": "spherical data generation throughput (SphericalDataset.get_batch, train split, rotated)",
        "command": command_line(prog, argv),
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
    out = write_json(args.out, record)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
