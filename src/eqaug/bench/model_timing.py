"""Timing one named model for :mod:`eqaug.bench.models`: random inputs and targets of its shape, the timed
call (forward without gradients, forward+backward, or an Adam step), :func:`measure` (median, interquartile
range and CPU time of the repeated calls, :func:`eqaug.bench.timing.time_calls`) and the S2CNN/CNN
:func:`ratios`; with the model sets and pairs the benchmark times.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from eqaug.bench.timing import time_calls
from eqaug.models import as_spec, build_model, count_params

__all__ = ["TRAIN_MODELS", "PAIRS", "TWIN_MODELS", "TWIN_PAIRS", "measure", "ratios"]

#: models timed at batch 1 and 8, forward and forward+backward
TRAIN_MODELS = ("s2cnn_seg_204k", "cnn_seg_218k", "s2cnn_seg_204k_small", "cnn_seg_218k_small")
#: (equivariant, planar) pairs whose latency ratio is reported
PAIRS = (
    ("s2cnn_seg_204k", "cnn_seg_218k"),
    ("s2cnn_seg_204k", "cnn_seg_1m"),
    ("s2cnn_seg_204k", "cnn_seg_5m5"),
    ("s2cnn_cls_150k", "cnn_cls_114k"),
    ("s2cnn_cls_150k", "cnn_cls_500k"),
    ("s2cnn_cls_150k", "cnn_cls_2m5"),
)
#: the CPU study's models: Adam-step throughput at batch 32
TWIN_MODELS = ("cnn_seg_218k_small", "s2cnn_seg_204k_small", "cnn_cls_114k_small", "s2cnn_cls_150k_small")
TWIN_PAIRS = (
    ("s2cnn_seg_204k_small", "cnn_seg_218k_small"),
    ("s2cnn_cls_150k_small", "cnn_seg_218k_small"),
    ("s2cnn_cls_150k_small", "cnn_cls_114k_small"),
)


def _inputs(spec: Any, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    b = spec.bandwidth
    x = torch.randn(batch, spec.in_channels, 2 * b, 2 * b)
    seg = spec.family.endswith("_seg")
    target = torch.randint(0, spec.n_classes, (batch, 2 * b, 2 * b) if seg else (batch,))
    return x, target


def _step_fn(
    model: torch.nn.Module,
    x: torch.Tensor,
    target: torch.Tensor,
    mode: str,
    opt: torch.optim.Optimizer | None = None,
) -> Callable[[], None]:
    if mode == "forward":
        model.eval()

        def fn() -> None:
            with torch.no_grad():
                model(x)

    elif mode == "forward+backward":
        model.train()

        def fn() -> None:
            model.zero_grad(set_to_none=True)
            F.cross_entropy(model(x), target).backward()

    else:  # adam
        model.train()

        def fn() -> None:
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(x), target).backward()
            opt.step()

    return fn


def measure(
    name: str, batch: int, mode: str, args: argparse.Namespace, model: torch.nn.Module | None = None
) -> dict[str, Any]:
    """Time forward / forward+backward / an Adam step of a named model (``model`` reused if given).

    ``args`` gives ``warmup`` (calls, the first one timed alone), ``repeats``, and ``slow_repeats``
    (used instead when the first call took over ``slow_seconds``).
    """
    spec = as_spec(name)
    torch.manual_seed(0)
    t_build = time.perf_counter()
    model = build_model(spec) if model is None else model
    build_s = time.perf_counter() - t_build
    x, target = _inputs(spec, batch)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3) if mode == "adam" else None
    fn = _step_fn(model, x, target, mode, opt)
    warm = time_calls(fn, 1).wall_s[0]  # the first call builds plans and tables
    repeats = args.slow_repeats if warm > args.slow_seconds else args.repeats
    timings = time_calls(fn, repeats, warmup=args.warmup - 1)
    q1, med, q3 = timings.wall_quartiles()
    entry = {
        "model": name,
        "family": spec.family,
        "scale": "small" if name.endswith("_small") else "full",
        "bandwidth": spec.bandwidth,
        "params": count_params(model),
        "batch_size": batch,
        "mode": mode,
        "threads": torch.get_num_threads(),
        "repeats": repeats,
        "build_s": build_s,
        "warmup_s": warm,
        "times_s": timings.wall_s,
        "cpu_times_s": timings.cpu_s,
        "median_s": med,
        "iqr_s": q3 - q1,
        "cpu_median_s": timings.cpu_median(),
        "median_s_per_sample": med / batch,
        "iqr_s_per_sample": (q3 - q1) / batch,
        "samples_per_s": batch / med,
    }
    print(
        f"{mode:17s} {name:22s} b={spec.bandwidth:<3d} batch={batch:<2d} threads={torch.get_num_threads()} "
        f"median {med * 1e3:10.1f} ms (IQR {(q3 - q1) * 1e3:.1f}, cpu {entry['cpu_median_s'] * 1e3:.1f}, "
        f"n={repeats})",
        flush=True,
    )
    return entry


def ratios(
    entries: list[dict[str, Any]],
    mode: str,
    batch: int,
    pairs: tuple[tuple[str, str], ...] = PAIRS,
    key: str = "median_s_per_sample",
) -> dict[str, float]:
    """S2CNN/CNN ratios of ``key`` for the pairs (full and ``_small``)."""
    med = {e["model"]: e[key] for e in entries if e["mode"] == mode and e["batch_size"] == batch}
    out = {}
    for eq, planar in pairs:
        for suffix in ("", "_small") if pairs is PAIRS else ("",):
            a, c = eq + suffix, planar + suffix
            if a in med and c in med:
                out[f"{a}/{c}"] = med[a] / med[c]
    return out
