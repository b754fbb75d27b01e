"""The radix-2 fold of the synthesis GEMMs on and off: S2CNN 204k against CNN 218k, one thread, float32.

``python -m eqaug.bench fold [--launches 3] [--out results/bench/fold_default.json]``: per launch, the S2CNN
with the fold (``s2cnn._real.FOLD_MIN_K = 24``, the old default), the CNN and the S2CNN without it
(``1 << 30``, the default since 2026-12-05) alternate in one process — forward at batch 1 (7 repeats) and
forward + backward at batch 8 (3 repeats), medians after one warm-up of each — and the JSON keeps every
launch with the ratios. Run each launch in a fresh process (``--launches`` spawns them).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

__all__ = ["build_parser", "main", "measure_launch"]

FOLD_ON, FOLD_OFF = 24, 1 << 30


def _step(model: torch.nn.Module, x: torch.Tensor, backward: bool) -> float:
    model.zero_grad(set_to_none=True)
    t = time.perf_counter()
    if backward:
        model(x).sum().backward()
    else:
        with torch.no_grad():
            model(x)
    return time.perf_counter() - t


def measure_launch(s2cnn: str = "s2cnn_seg_204k", cnn: str = "cnn_seg_218k") -> dict[str, dict[str, float]]:
    """One launch: medians (seconds) and ratios for ``fwd_b1`` and ``fwdbwd_b8``."""
    import s2cnn._real as engine
    from eqaug.models import build_model

    torch.set_num_threads(1)
    s2, cn = build_model(s2cnn), build_model(cnn)
    b = s2.spec.bandwidth
    out = {}
    for label, batch, backward, repeats in (("fwd_b1", 1, False, 7), ("fwdbwd_b8", 8, True, 3)):
        x = torch.randn(batch, 1, 2 * b, 2 * b)
        times: dict[str, list[float]] = {"s2cnn_fold": [], "s2cnn_nofold": [], "cnn": []}
        for k in (FOLD_ON, FOLD_OFF):
            engine.FOLD_MIN_K = k
            _step(s2, x, backward)
        _step(cn, x, backward)
        for _ in range(repeats):
            engine.FOLD_MIN_K = FOLD_ON
            times["s2cnn_fold"].append(_step(s2, x, backward))
            times["cnn"].append(_step(cn, x, backward))
            engine.FOLD_MIN_K = FOLD_OFF
            times["s2cnn_nofold"].append(_step(s2, x, backward))
        med = {k: statistics.median(v) for k, v in times.items()}
        out[label] = {
            **med,
            "ratio_fold": med["s2cnn_fold"] / med["cnn"],
            "ratio_nofold": med["s2cnn_nofold"] / med["cnn"],
        }
    engine.FOLD_MIN_K = FOLD_OFF
    return out


def build_parser(prog: str = "python -m eqaug.bench fold") -> argparse.ArgumentParser:
    """Options of ``python -m eqaug.bench fold``."""
    p = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--launches", type=int, default=3, help="fresh processes, one launch each")
    p.add_argument("--out", default="results/bench/fold_default.json")
    p.add_argument("--one-launch", action="store_true", help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None, prog: str = "python -m eqaug.bench fold") -> int:
    """Entry point; returns the exit code."""
    args = build_parser(prog).parse_args(argv)
    if args.one_launch:
        print(json.dumps(measure_launch()))
        return 0
    launches = []
    for _ in range(args.launches):
        cmd = [sys.executable, "-m", "eqaug.bench", "fold", "--one-launch"]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
        launches.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(launches[-1], flush=True)
    from eqaug.training.records import environment_info

    meta = {
        "threads": 1,
        "dtype": "float32",
        "allocator": "default",
        "command": f"{prog} --launches {args.launches}",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "environment": environment_info(),
        "loadavg_end": list(os.getloadavg()),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"meta": meta, "launches": launches}, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0
