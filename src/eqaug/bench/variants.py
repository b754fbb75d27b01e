"""Implementation choices timed against their alternative: a training step per variant, alternated in one process.

``python -m eqaug.bench variants {tp_chunk,cnn_layout} [--models NAME[:BATCH] …] [--batch 32] [--repeats 9]
[--out …]``  (``NAME:BATCH`` times that model at its own batch size, e.g. ``cnn_seg_218k:8`` for the b = 50 CNN)

- ``tp_chunk``: the GSCNN tensor-product activation's chunk size (:mod:`eqaug.models.gscnn.activation`): the
  products ``out[k] += c · x[i] · x[j]`` run in chunks of table entries whose ``[chunk, B·C]`` temporaries hold at
  most ``chunk`` elements; 2^21 (8 MiB, the size before) against 2^16 (256 KiB, cache-sized: the default on CPU).
- ``cnn_layout``: the planar CNNs' memory format (:mod:`eqaug.models.cnn`): contiguous (NCHW) against channels-last
  (NHWC) weights, with which the CPU convolutions (oneDNN) also run channels-last.  The segmenters hold their
  weights channels-last; the classifiers, whose step is not faster so, contiguous.

Per model (seed 0, one thread, float32, random input at the model's grid) one forward + backward step per variant,
the variants alternated in each repetition after one warm-up of each.  Reported per model and variant: the median
and quartiles (ms), the ratio of the first variant's median to each variant's (``speedup``) with the quartiles of
the per-repetition ratios (spread), and the largest relative difference of the outputs from the first variant's.
The timings share the machine with whatever else runs: the load average is recorded.
"""

from __future__ import annotations

import argparse
import datetime
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import nn

from eqaug.bench.io import command_line, write_json
from eqaug.bench.timing import forward_backward_seconds, quartiles

__all__ = ["CHOICES", "build_parser", "main", "measure"]

#: a variant: its label and a context manager that sets it up for a model (and undoes any global change)
Variant = tuple[str, Callable[[nn.Module], Any]]


def _chunk(elements: int) -> Callable[[nn.Module], Any]:
    @contextmanager
    def setup(model: nn.Module) -> Iterator[None]:
        from eqaug.models.gscnn import activation

        saved = activation._CHUNK_ELEMENTS["cpu"]
        activation._CHUNK_ELEMENTS["cpu"] = elements
        try:
            yield
        finally:
            activation._CHUNK_ELEMENTS["cpu"] = saved

    return setup


def _layout(memory_format: torch.memory_format) -> Callable[[nn.Module], Any]:
    @contextmanager
    def setup(model: nn.Module) -> Iterator[None]:
        model.to(memory_format=memory_format)
        yield

    return setup


#: choice → (default models, variants; the first variant is the reference)
CHOICES: dict[str, tuple[list[str], list[Variant]]] = {
    "tp_chunk": (
        ["gscnn_seg_small", "gscnn_cls_small"],
        [("chunk 2^21", _chunk(1 << 21)), ("chunk 2^16", _chunk(1 << 16))],
    ),
    "cnn_layout": (
        ["cnn_seg_218k_b16", "cnn_seg_1m_b16", "cnn_seg_218k_circ_small", "cnn_cls_114k_b16", "cnn_cls_500k_b16"],
        [("contiguous", _layout(torch.contiguous_format)), ("channels_last", _layout(torch.channels_last))],
    ),
}


def measure(model_name: str, variants: list[Variant], batch: int = 32, repeats: int = 9) -> dict[str, Any]:
    """Step times of ``model_name`` under each variant, alternated; the first variant is the reference."""
    from eqaug.models import build_model

    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = build_model(model_name)
    b = model.spec.bandwidth
    x = torch.randn(batch, 1, 2 * b, 2 * b)
    times: dict[str, list[float]] = {label: [] for label, _ in variants}
    outputs: dict[str, torch.Tensor] = {}
    for rep in range(repeats + 1):  # repetition 0: warm-up (builds and caches tables)
        for label, setup in variants:
            with setup(model):
                t, y = forward_backward_seconds(model, x)
            if rep:
                times[label].append(t)
            else:
                outputs[label] = y
    ref_label = variants[0][0]
    ref, ref_t = outputs[ref_label], times[ref_label]
    rows = []
    for label, _ in variants:
        q = quartiles([1e3 * t for t in times[label]])
        ratios = quartiles([a / t for a, t in zip(ref_t, times[label])])
        rows.append(
            {
                "variant": label,
                "median_ms": q[1],
                "q1_ms": q[0],
                "q3_ms": q[2],
                "speedup": quartiles(ref_t)[1] / quartiles(times[label])[1],
                "speedup_q1": ratios[0],
                "speedup_q3": ratios[2],
                "max_rel_diff": float((outputs[label] - ref).abs().max() / ref.abs().max()),
            }
        )
    return {"model": model_name, "bandwidth": b, "batch": batch, "repeats": repeats, "rows": rows}


def build_parser(prog: str = "python -m eqaug.bench variants") -> argparse.ArgumentParser:
    """Options of ``python -m eqaug.bench variants``."""
    p = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("choice", choices=sorted(CHOICES))
    p.add_argument("--models", nargs="+", help="NAME or NAME:BATCH; default: the choice's models")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--repeats", type=int, default=9)
    p.add_argument("--out", help="default: results/bench/<choice>.json")
    return p


def main(argv: list[str] | None = None, prog: str = "python -m eqaug.bench variants") -> int:
    """Entry point; returns the exit code."""
    argv = list(argv or [])
    args = build_parser(prog).parse_args(argv)
    from eqaug.training.records import environment_info

    default_models, variants = CHOICES[args.choice]
    results = []
    for item in args.models or default_models:
        name, _, batch = item.partition(":")
        results.append(measure(name, variants, int(batch) if batch else args.batch, args.repeats))
        for r in results[-1]["rows"]:
            print(f"{name} {r['variant']}: {r['median_ms']:.0f} ms, speed-up {r['speedup']:.2f}x", flush=True)
    meta = {
        "choice": args.choice,
        "threads": 1,
        "dtype": "float32",
        "command": command_line(prog, argv),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "environment": environment_info(),
        "loadavg_end": list(os.getloadavg()),
    }
    path = write_json(Path(args.out or f"results/bench/{args.choice}.json"), {"meta": meta, "models": results})
    print(f"wrote {path}")
    return 0
