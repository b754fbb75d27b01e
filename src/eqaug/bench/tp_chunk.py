"""The GSCNN tensor-product activation's chunk size: a training step with large against cache-sized chunks.

``python -m eqaug.bench tp_chunk [--models gscnn_seg_small gscnn_cls_small] [--chunks 2097152 65536]
[--batch 32] [--repeats 9] [--out results/bench/tp_chunk.json]``

The activation's products ``out[k] += c · x[i] · x[j]`` (:mod:`eqaug.models.gscnn.activation`) run in chunks of
table entries whose ``[chunk, B·C]`` temporaries hold at most ``chunk`` elements.  Per model (seed 0, one thread,
float32, random input at the model's grid) one forward + backward step per chunk size, the sizes alternated in each
repetition after one warm-up of each.  Reported per model and size: the median, the quartiles (ms), and the ratio
of the first size's median to each size's (``speedup``), with the quartiles of the per-repetition ratios (spread).
The timings share the machine with whatever else runs: the load average is recorded.  The outputs are checked to
agree between sizes (largest relative difference, float32).
"""

from __future__ import annotations

import argparse
import datetime
import os
import time
from pathlib import Path
from typing import Any

import torch

from eqaug.bench.io import command_line, write_json
from eqaug.bench.timing import quartiles

__all__ = ["build_parser", "main", "measure"]


def _step(model: torch.nn.Module, x: torch.Tensor) -> tuple[float, torch.Tensor]:
    model.zero_grad(set_to_none=True)
    t = time.perf_counter()
    y = model(x)
    y.square().mean().backward()
    return time.perf_counter() - t, y.detach()


def measure(model_name: str, chunks: list[int], batch: int = 32, repeats: int = 9) -> dict[str, Any]:
    """Step times of ``model_name`` at each chunk size (elements of one temporary on CPU), alternated."""
    from eqaug.models import build_model
    from eqaug.models.gscnn import activation

    saved = dict(activation._CHUNK_ELEMENTS)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = build_model(model_name)
    b = model.spec.bandwidth
    x = torch.randn(batch, 1, 2 * b, 2 * b)
    times: dict[int, list[float]] = {c: [] for c in chunks}
    outputs: dict[int, torch.Tensor] = {}
    try:
        for c in chunks:  # warm-up: builds and caches the tables
            activation._CHUNK_ELEMENTS["cpu"] = c
            outputs[c] = _step(model, x)[1]
        for _ in range(repeats):
            for c in chunks:
                activation._CHUNK_ELEMENTS["cpu"] = c
                times[c].append(_step(model, x)[0])
    finally:
        activation._CHUNK_ELEMENTS.clear()
        activation._CHUNK_ELEMENTS.update(saved)
    ref = outputs[chunks[0]]
    rows = []
    for c in chunks:
        q = quartiles([1e3 * t for t in times[c]])
        ratios = quartiles([a / t for a, t in zip(times[chunks[0]], times[c])])
        rows.append(
            {
                "chunk_elements": c,
                "median_ms": q[1],
                "q1_ms": q[0],
                "q3_ms": q[2],
                "speedup": quartiles(times[chunks[0]])[1] / quartiles(times[c])[1],
                "speedup_q1": ratios[0],
                "speedup_q3": ratios[2],
                "max_rel_diff": float((outputs[c] - ref).abs().max() / ref.abs().max()),
            }
        )
    return {"model": model_name, "bandwidth": b, "batch": batch, "repeats": repeats, "rows": rows}


def build_parser(prog: str = "python -m eqaug.bench tp_chunk") -> argparse.ArgumentParser:
    """Options of ``python -m eqaug.bench tp_chunk``."""
    p = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["gscnn_seg_small", "gscnn_cls_small"])
    p.add_argument("--chunks", nargs="+", type=int, default=[1 << 21, 1 << 16], help="the first is the reference")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--repeats", type=int, default=9)
    p.add_argument("--out", default="results/bench/tp_chunk.json")
    return p


def main(argv: list[str] | None = None, prog: str = "python -m eqaug.bench tp_chunk") -> int:
    """Entry point; returns the exit code."""
    argv = list(argv or [])
    args = build_parser(prog).parse_args(argv)
    from eqaug.training.records import environment_info

    results = []
    for name in args.models:
        results.append(measure(name, args.chunks, args.batch, args.repeats))
        for r in results[-1]["rows"]:
            print(f"{name} chunk {r['chunk_elements']}: {r['median_ms']:.0f} ms, speed-up {r['speedup']:.2f}x")
    meta = {
        "threads": 1,
        "dtype": "float32",
        "command": command_line(prog, argv),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "environment": environment_info(),
        "loadavg_end": list(os.getloadavg()),
    }
    path = write_json(Path(args.out), {"meta": meta, "models": results})
    print(f"wrote {path}")
    return 0
