"""Inference latency and throughput of the named models versus batch size (Tables 1–2).

Every measurement is a forward pass in eval mode under ``torch.no_grad`` (S2CNN kernel spectra
cached, as at inference) on a random input ``[batch, in_channels, 2b, 2b]``, timed by
:func:`eqaug.bench.timing.time_calls` with :class:`torch.utils.benchmark.Timer` at a fixed thread
count: warm-up calls first, then ``blocked_autorange(min_run_time)``, topped up with single calls
until at least ``min_repeats`` timings exist. Reported: median and interquartile range of the time
per call (:func:`~eqaug.bench.timing.quartiles`), throughput (samples/s = batch / median). The
device, threads, torch version and CPU go with the results.

The default batch sizes are 1, 8 and 32 for every model (the full-size S2CNN and GSCNN take about
12 s per call at batch 32 on one CPU thread, so ``make bench`` takes several minutes).

Usage::

    python -m eqaug.bench latency [--models ...] [--batch-sizes 1 8] [--min-run-time 1] ...
    python -m eqaug.analysis latency ...   # the same (make bench)

writes ``results/bench/latency.json`` and renders ``results/tables/latency.{md,csv}`` from it. With ``--merge``
the new rows replace the rows of the same (model, device, batch size) in the existing ``--out`` and every other row
stays: one model is re-measured after a change without re-timing the rest (each merged row carries its date and
the merge's environment is kept in ``meta["merges"]``).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

import torch

from eqaug.bench.timing import quartiles, time_calls
from eqaug.environment import describe
from eqaug.models import as_spec, build_model, count_params, model_names

__all__ = [
    "SMALL_BATCH_SIZES",
    "FULL_BATCH_SIZES",
    "default_models",
    "default_batch_sizes",
    "default_devices",
    "environment",
    "measure_latency",
    "run_latency",
    "merge_latency",
    "build_parser",
    "main",
]

SMALL_BATCH_SIZES = (1, 8, 32)
FULL_BATCH_SIZES = (1, 8, 32)


def environment(threads: int) -> dict[str, Any]:
    """Versions and hardware of a benchmark run."""
    return describe(threads)


def default_models() -> list[str]:
    """Every named model of the study (``conf/model``), without the ``*_tiny`` test models."""
    return [n for n in model_names() if not n.endswith("_tiny")]


def default_batch_sizes(name: str) -> tuple[int, ...]:
    """1, 8, 32 (the same for reduced and full-size models)."""
    return SMALL_BATCH_SIZES if name.endswith(("_small", "_tiny")) else FULL_BATCH_SIZES


def default_devices() -> list[str]:
    """``["cpu"]``, plus ``"cuda"`` where a GPU is present."""
    return ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]


def measure_latency(
    name: str,
    batch_size: int,
    device: str = "cpu",
    threads: int = 1,
    min_run_time: float = 1.0,
    warmup: int = 2,
    min_repeats: int = 3,
    max_warmup_seconds: float = 5.0,
    model: torch.nn.Module | None = None,
) -> dict[str, Any]:
    """Latency of one named model's forward pass at one batch size.

    Parameters
    ----------
    name : a model name (``conf/model/<name>.yaml``).
    batch_size : samples per call.
    device : ``"cpu"`` or ``"cuda"``.
    threads : torch intra-op threads during the measurement.
    min_run_time : seconds of ``Timer.blocked_autorange``.
    warmup : warm-up calls (fewer if they take longer than ``max_warmup_seconds``; at least one).
    min_repeats : at least this many timed calls.
    model : an already built model of that name (built here otherwise).

    Returns
    -------
    A JSON-able dict: model, family, scale, bandwidth, params, device, threads, batch_size,
    median_s, iqr_s, q1_s, q3_s, times_s, n_times, latency_ms, latency_ms_per_sample, throughput_per_s,
    warmup_calls, warmup_s.
    """
    spec = as_spec(name)
    torch.manual_seed(0)
    model = (model if model is not None else build_model(spec)).to(device).eval()
    x = torch.randn(batch_size, spec.in_channels, 2 * spec.bandwidth, 2 * spec.bandwidth, device=device)

    def forward() -> None:
        with torch.no_grad():
            model(x)

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        timings = time_calls(
            forward,
            min_repeats,
            max(warmup, 1),
            max_warmup_s=max_warmup_seconds,
            sync=torch.cuda.synchronize if device.startswith("cuda") else None,
            min_run_time=min_run_time,
            threads=threads,
        )
    finally:
        torch.set_num_threads(previous)
    times = sorted(timings.wall_s)
    q1, median, q3 = quartiles(times)
    return {
        "model": name,
        "family": spec.family,
        "scale": "small" if name.endswith(("_small", "_tiny")) else "full",
        "bandwidth": spec.bandwidth,
        "params": count_params(model),
        "device": device,
        "threads": threads,
        "batch_size": batch_size,
        "median_s": median,
        "iqr_s": q3 - q1,
        "q1_s": q1,
        "q3_s": q3,
        "times_s": times,
        "n_times": len(times),
        "latency_ms": median * 1e3,
        "latency_ms_per_sample": median * 1e3 / batch_size,
        "throughput_per_s": batch_size / median,
        "warmup_calls": timings.warmup_calls,
        "warmup_s": timings.warmup_s,
    }


def run_latency(
    models: list[str] | None = None,
    batch_sizes: list[int] | None = None,
    devices: list[str] | None = None,
    threads: int = 1,
    min_run_time: float = 1.0,
    warmup: int = 2,
    min_repeats: int = 3,
    command: str | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Measure every (model, device, batch size); returns ``{"meta": ..., "results": [...]}``.

    Parameters
    ----------
    models : model names (default :func:`default_models`).
    batch_sizes : the same for every model (default :func:`default_batch_sizes` per model).
    devices : default :func:`default_devices`.
    threads, min_run_time, warmup, min_repeats : see :func:`measure_latency`.
    command : the command line, kept in ``meta``.
    """
    models = models or default_models()
    devices = devices or default_devices()
    t0 = time.perf_counter()
    results = []
    for device in devices:
        for name in models:
            model = build_model(name)
            for batch in batch_sizes or default_batch_sizes(name):
                entry = measure_latency(name, batch, device, threads, min_run_time, warmup, min_repeats, model=model)
                results.append(entry)
                log(
                    f"{device:5s} {name:24s} batch {batch:3d}: {entry['latency_ms']:10.2f} ms "
                    f"(IQR {entry['iqr_s'] * 1e3:.2f}, n={entry['n_times']}), {entry['throughput_per_s']:9.1f} samples/s"
                )
    meta = {
        **environment(threads),
        "devices": devices,
        "min_run_time": min_run_time,
        "warmup": warmup,
        "min_repeats": min_repeats,
        "timer": "torch.utils.benchmark.Timer.blocked_autorange (+ timeit(1) top-ups)",
        "mode": "forward, eval, torch.no_grad",
        "command": command,
        "total_seconds": time.perf_counter() - t0,
    }
    return {"meta": meta, "results": results}


def _row_key(row: dict[str, Any]) -> tuple[str, str, int]:
    return row["model"], row["device"], int(row["batch_size"])


def merge_latency(old: dict[str, Any], new: dict[str, Any], date: str) -> dict[str, Any]:
    """``old`` with the rows of ``new`` put in place of the rows of the same (model, device, batch size).

    Kept rows stay where they were, replaced rows take their place, rows ``old`` lacks are appended. Every row of
    ``new`` gets ``measured: date``; ``meta`` stays ``old``'s (the run that measured the kept rows), with ``new``'s
    meta and the keys it replaced appended to ``meta["merges"]``.
    """
    stamped = [{**row, "measured": date} for row in new["results"]]
    fresh = {_row_key(row): row for row in stamped}
    rows = [fresh.pop(_row_key(row), row) for row in old["results"]]
    rows += list(fresh.values())
    merges = [
        *old["meta"].get("merges", []),
        {**new["meta"], "date": date, "rows": [list(_row_key(r)) for r in stamped]},
    ]
    return {"meta": {**old["meta"], "merges": merges}, "results": rows}


def build_parser(prog: str = "python -m eqaug.bench latency") -> argparse.ArgumentParser:
    """Options of ``python -m eqaug.bench latency`` (= ``python -m eqaug.analysis latency``)."""
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="+", default=None, help="model names (default: every named model but *_tiny)")
    p.add_argument("--batch-sizes", type=int, nargs="+", default=None, help="batch sizes (default: 1 8 32)")
    p.add_argument("--devices", nargs="+", default=None, help="cpu and/or cuda (default: cpu, plus cuda if present)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("--min-run-time", type=float, default=1.0, help="seconds per blocked_autorange (default 1)")
    p.add_argument("--warmup", type=int, default=2, help="warm-up calls (default 2; fewer for calls over 5 s)")
    p.add_argument("--min-repeats", type=int, default=3, help="at least this many timings (default 3)")
    p.add_argument("--out", default="results/bench/latency.json")
    p.add_argument("--tables-dir", default="results/tables")
    p.add_argument(
        "--merge",
        action="store_true",
        help="replace only the measured (model, device, batch) rows of the existing --out and keep the others",
    )
    return p


def main(argv: list[str] | None = None, prog: str = "python -m eqaug.bench latency") -> int:
    """Measure, write ``--out`` (or merge into it) and the latency tables in ``--tables-dir``; returns the exit code."""
    import datetime
    import json
    from pathlib import Path

    from eqaug.analysis.tables import write_latency_tables
    from eqaug.bench.io import command_line, write_bench, write_json

    argv = list(sys.argv[1:] if argv is None else argv)
    options = vars(build_parser(prog).parse_args(argv))
    merge, out, tables_dir = options.pop("merge"), Path(options.pop("out")), options.pop("tables_dir")
    if not merge:
        write_bench(run_latency(**options, command=command_line(prog, argv)), out, tables_dir, write_latency_tables)
        return 0
    if not out.is_file():
        raise SystemExit(f"--merge: {out} does not exist; measure without --merge first")
    try:
        old = json.loads(out.read_text())
    except json.JSONDecodeError as exc:
        raise SystemExit(f"--merge: {out} is not a latency payload ({exc}); measure without --merge") from exc
    if not (isinstance(old, dict) and {"meta", "results"} <= old.keys()):
        raise SystemExit(f"--merge: {out} is not a latency payload (no meta and results); measure without --merge")
    new = run_latency(**options, command=command_line(prog, argv))
    today = datetime.date.today().isoformat()
    merged = merge_latency(old, new, today)
    files = [write_json(out, merged), *write_latency_tables(merged, tables_dir)]
    print(
        f"merged {len(new['results'])} rows into {', '.join(str(f) for f in files)} ({new['meta']['total_seconds']:.0f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
