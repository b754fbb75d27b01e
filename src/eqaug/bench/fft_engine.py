"""The SO(3) transforms' α/γ step as DFT matrix products (the default below ``b = 20``) or as torch FFTs.

``python -m eqaug.bench fft_engine [--launches 3] [--out results/bench/fft_engine_b16.json]``: per launch, the
S2CNN twin with the default engines, the same model with every SO(3) transform on the FFT engine
(``s2cnn._real_plans.FFT_MIN_B = IFFT_MIN_B_CPU = 1``) and the CNN twin alternate in one process — forward +
backward at batch 32 (the study's training step without the optimiser), medians of ``--repeats`` after one
warm-up of each — and the JSON keeps every launch with the ratios and the largest relative difference between
the two engines' outputs (float32). Each launch runs in a fresh process. It measures why the b = 16 twins'
training-step ratio cannot reach 1.6× by swapping the products for FFTs (issue 22): an FFT does fewer FLOPs at
these lengths but torch's CPU FFT runs them slower.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch

from eqaug.bench.timing import forward_backward_seconds

__all__ = ["build_parser", "main", "measure_launch"]


def _step(model: torch.nn.Module, x: torch.Tensor) -> float:
    return forward_backward_seconds(model, x)[0]


def _set_engine(fft: bool) -> None:
    import s2cnn._real_plans as plans

    plans.FFT_MIN_B = 1 if fft else _DEFAULTS[0]
    plans.IFFT_MIN_B_CPU = 1 if fft else _DEFAULTS[1]


def _defaults() -> tuple[int, int]:
    import s2cnn._real_plans as plans

    return plans.FFT_MIN_B, plans.IFFT_MIN_B_CPU


_DEFAULTS = _defaults()


def measure_launch(
    s2cnn: str = "s2cnn_seg_204k_small", cnn: str = "cnn_seg_218k_small", batch: int = 32, repeats: int = 5
) -> dict[str, Any]:
    """One launch: median seconds per forward + backward of each variant, the ratios, and the engines' output gap."""
    from eqaug.models import build_model

    torch.set_num_threads(1)
    torch.manual_seed(0)
    s2, cn = build_model(s2cnn), build_model(cnn)
    b = s2.spec.bandwidth
    x = torch.randn(batch, 1, 2 * b, 2 * b)
    with torch.no_grad():
        _set_engine(False)
        y_gemm = s2(x[:4])
        _set_engine(True)
        y_fft = s2(x[:4])
    gap = float((y_fft - y_gemm).abs().max() / y_gemm.abs().max())
    times: dict[str, list[float]] = {"s2cnn_gemm": [], "s2cnn_fft": [], "cnn": []}
    for fft in (False, True):
        _set_engine(fft)
        _step(s2, x)
    _step(cn, x)
    for _ in range(repeats):
        _set_engine(False)
        times["s2cnn_gemm"].append(_step(s2, x))
        times["cnn"].append(_step(cn, x))
        _set_engine(True)
        times["s2cnn_fft"].append(_step(s2, x))
    _set_engine(False)
    med = {k: statistics.median(v) for k, v in times.items()}
    return {
        "bandwidth": b,
        "batch": batch,
        "repeats": repeats,
        **{f"{k}_s": v for k, v in med.items()},
        "ratio_gemm": med["s2cnn_gemm"] / med["cnn"],
        "ratio_fft": med["s2cnn_fft"] / med["cnn"],
        "fft_over_gemm_time": med["s2cnn_fft"] / med["s2cnn_gemm"],
        "engines_max_rel_diff": gap,
    }


def build_parser(prog: str = "python -m eqaug.bench fft_engine") -> argparse.ArgumentParser:
    """Options of ``python -m eqaug.bench fft_engine``."""
    p = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--launches", type=int, default=3, help="fresh processes, one launch each")
    p.add_argument("--repeats", type=int, default=5, help="timed steps per variant and launch")
    p.add_argument("--s2cnn", default="s2cnn_seg_204k_small")
    p.add_argument("--cnn", default="cnn_seg_218k_small")
    p.add_argument("--out", default="results/bench/fft_engine_b16.json")
    p.add_argument("--one-launch", action="store_true", help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None, prog: str = "python -m eqaug.bench fft_engine") -> int:
    """Entry point; returns the exit code."""
    args = build_parser(prog).parse_args(argv)
    models = ["--s2cnn", args.s2cnn, "--cnn", args.cnn, "--repeats", str(args.repeats)]
    if args.one_launch:
        print(json.dumps(measure_launch(args.s2cnn, args.cnn, repeats=args.repeats)))
        return 0
    launches = []
    for _ in range(args.launches):
        cmd = [sys.executable, "-m", "eqaug.bench", "fft_engine", "--one-launch", *models]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
        launches.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(launches[-1], flush=True)
    from eqaug.training.records import environment_info

    summary = {
        k: statistics.median(launch[k] for launch in launches)
        for k in ("ratio_gemm", "ratio_fft", "fft_over_gemm_time", "engines_max_rel_diff")
    }
    meta = {
        "threads": 1,
        "dtype": "float32",
        "s2cnn": args.s2cnn,
        "cnn": args.cnn,
        "command": f"{prog} --launches {args.launches} {' '.join(models)}",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "environment": environment_info(),
        "loadavg_end": list(os.getloadavg()),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    payload = {"meta": meta, "summary_median_over_launches": summary, "launches": launches}
    Path(args.out).write_text(json.dumps(payload, indent=1) + "\n")
    print(f"wrote {args.out}: {summary}")
    return 0
