"""Latency, training throughput and memory of the named models on CPU (the S2CNN performance targets).

Usage::

    python -m eqaug.bench models [--threads 1] [--repeats 7] [--malloc both] [--out results/bench/models.json]
    python scripts/bench_models.py ...   # the same

Sections of the JSON (all in one process unless stated; every timing: warm-up calls first, then
``--repeats`` timed calls (:func:`eqaug.bench.timing.time_calls`); median and interquartile range of
wall time (:func:`eqaug.bench.timing.quartiles`), plus CPU time of the process):

* ``forward``: every named model (``conf/model``, full and ``_small``), eval mode, ``torch.no_grad``, batch 1
  (``--batch-sizes``); for the S2CNN 204k, the CNN 218k and their ``_small`` twins also batch 8.
* ``forward_backward``: those four models, train mode, cross-entropy on random targets, ``backward``, at
  batch 1 and 8 (``--train-batch-sizes``).
* ``ratios``: S2CNN/CNN ratios of the medians per sample, same process (``forward_batch1`` …).
* ``targets``: the headline figures (S2CNN 204k / CNN 218k forward batch 1, forward+backward batch 8).
* ``small_twin_training``: a full Adam step (forward, cross-entropy, backward, step) at batch 32 of the
  ``_small`` twins (b = 16) with 1 and 2 intra-op threads: samples/s, and S2CNN/CNN throughput ratios.
* ``memory``: peak memory of a training step (forward + cross-entropy + backward), each in a fresh
  subprocess: after a warm-up step the kernel's peak-RSS counter is reset and ``rss_peak_step_mb`` is the
  process's peak RSS during one training step (all resident memory, allocator caching included);
  ``tensor_peak_mb`` = peak of live tensor memory during a profiled step (``torch.profiler`` memory
  events), plus the s2cnn workspace kept between steps (``workspace_mb``).
  The S2CNN 204k at batch 1, 8, 32 and the ``_small`` twins at batch 32 (per sample too).
* ``s2cnn_layers``: the layer cases of :mod:`eqaug.bench.s2cnn_layers` (S2Convolution and SO3Convolution,
  batch 8), forward without gradients and forward+backward, so that a regression of the core is visible here.
* ``*_tuned_malloc``: with ``--malloc both`` the targets and the small-twin training are re-measured in a
  subprocess after ``s2cnn.perf.tune_malloc(heap_only=True)`` (glibc thresholds, no mmap); the main figures are from a
  normal process.

The 2-core benchmark VM is shared: ``meta.loadavg_*`` records the load around the run; compare ratios
measured in the same process.
"""

# Layout (kept out of the docstring, which is the --help text): the timing of one model is in
# eqaug.bench.model_timing, the memory probes in eqaug.bench.model_memory; this module runs the sections,
# holds the CLI and re-exports their names.

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from eqaug.bench.io import command_line, write_json
from eqaug.bench.model_memory import MEMORY_METHOD, SELF, memory_probe, run_memory
from eqaug.bench.model_memory import MEMORY_RUNS as MEMORY_RUNS
from eqaug.bench.model_timing import PAIRS as PAIRS
from eqaug.bench.model_timing import TRAIN_MODELS, TWIN_MODELS, TWIN_PAIRS, measure, ratios
from eqaug.environment import cpu_name
from eqaug.models import model_names

__all__ = ["measure", "ratios", "memory_probe", "build_parser", "main"]

SECTIONS = ("forward", "train", "targets", "twins", "memory", "layers")


def headline(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """The targets: S2CNN 204k vs CNN 218k forward at batch 1, forward+backward at batch 8, same process."""
    out = {}
    for mode, batch in (("forward", 1), ("forward+backward", 8)):
        e = {n: measure(n, batch, mode, args) for n in ("cnn_seg_218k", "s2cnn_seg_204k")}
        out[f"{mode}_batch{batch}"] = {
            "s2cnn_seg_204k_s": e["s2cnn_seg_204k"]["median_s"],
            "s2cnn_seg_204k_iqr_s": e["s2cnn_seg_204k"]["iqr_s"],
            "cnn_seg_218k_s": e["cnn_seg_218k"]["median_s"],
            "cnn_seg_218k_iqr_s": e["cnn_seg_218k"]["iqr_s"],
            "ratio": e["s2cnn_seg_204k"]["median_s"] / e["cnn_seg_218k"]["median_s"],
            "cpu_ratio": e["s2cnn_seg_204k"]["cpu_median_s"] / e["cnn_seg_218k"]["cpu_median_s"],
        }
    return out


def twin_training(args: argparse.Namespace) -> dict[str, Any]:
    """Adam-step throughput at batch 32 of the small twins, 1 and 2 threads."""
    from eqaug.analysis.flops import training_flops

    flops = {name: training_flops(name)["total"] for name in TWIN_MODELS}
    entries = []
    previous = torch.get_num_threads()
    try:
        for threads in args.twin_threads:
            torch.set_num_threads(threads)
            for name in TWIN_MODELS:
                entries.append(measure(name, args.twin_batch_size, "adam", args))
    finally:
        torch.set_num_threads(previous)
    summary = {}
    for threads in args.twin_threads:
        rows = [e for e in entries if e["threads"] == threads]
        sps = {e["model"]: e["samples_per_s"] for e in rows}
        summary[f"threads{threads}"] = {
            "samples_per_s": sps,
            "samples_per_s_iqr": {
                e["model"]: e["batch_size"] / (e["median_s"] - e["iqr_s"] / 2)
                - e["batch_size"] / (e["median_s"] + e["iqr_s"] / 2)
                for e in rows
            },
            "cnn_over_s2cnn_time": {f"{a}/{c}": sps[c] / sps[a] for a, c in TWIN_PAIRS if a in sps and c in sps},
            "gflop_per_s": {m: v * flops[m] / 1e9 for m, v in sps.items()},
        }
    return {
        "batch_size": args.twin_batch_size,
        "entries": entries,
        "summary": summary,
        # the floor of the time ratio at equal arithmetic speed: counted training FLOPs per sample
        # (eqaug.analysis.flops: FlopCounterMode on one Adam step's forward and backward)
        "training_flops_per_sample": flops,
        "flop_ratio": {f"{a}/{c}": flops[a] / flops[c] for a, c in TWIN_PAIRS},
    }


def s2cnn_layers(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """The layer cases of :mod:`eqaug.bench.s2cnn_layers` (batch 8), forward without grad and forward+backward."""
    from eqaug.bench.s2cnn_layers import build_case, time_mode

    out = {}
    for case in ("s2conv", "so3conv"):
        model, x = build_case(case, torch.device("cpu"))
        out[case] = {
            mode: time_mode(model, x, mode, args.layer_repeats, 2, torch.device("cpu"))
            for mode in ("forward_nograd", "forward_backward")
        }
        print(
            f"layer {case:8s} "
            + "  ".join(
                f"{m} {v['median_ms']:.1f} ms (IQR {v['iqr_ms'][1] - v['iqr_ms'][0]:.1f})" for m, v in out[case].items()
            ),
            flush=True,
        )
    return out


def _tuned_subprocess(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [*SELF, "--malloc", "tuned", "--only", "targets", "twins", "--threads", str(args.threads)]
        cmd += ["--repeats", str(args.repeats), "--out", f"{tmp}/t.json"]
        print("with s2cnn.perf.tune_malloc(heap_only=True) (subprocess):", flush=True)
        subprocess.run(cmd, check=True)
        return json.loads(Path(f"{tmp}/t.json").read_text())


def _forward_and_train(args: argparse.Namespace, sections: set[str], result: dict[str, Any]) -> None:
    """The ``forward``, ``forward_backward`` and ``ratios`` sections."""
    if "forward" in sections:
        names = args.models or model_names()
        fwd = [measure(n, bs, "forward", args) for bs in args.batch_sizes for n in names]
        fwd += [
            measure(n, bs, "forward", args)
            for bs in args.train_batch_sizes
            if bs not in args.batch_sizes
            for n in TRAIN_MODELS
            if n in names
        ]
        result["forward"] = fwd
    if "train" in sections:
        result["forward_backward"] = [
            measure(n, bs, "forward+backward", args) for bs in args.train_batch_sizes for n in TRAIN_MODELS
        ]
    if "forward" in sections or "train" in sections:
        result["ratios"] = {}
        for bs in sorted({*args.batch_sizes, *args.train_batch_sizes}):
            if "forward" in sections:
                result["ratios"][f"forward_batch{bs}"] = ratios(result["forward"], "forward", bs)
            if "train" in sections and bs in args.train_batch_sizes:
                result["ratios"][f"forward_backward_batch{bs}"] = ratios(
                    result["forward_backward"], "forward+backward", bs
                )


def _sections(args: argparse.Namespace, sections: set[str], result: dict[str, Any]) -> None:
    """Measure the chosen sections into ``result`` (in the order of the JSON)."""
    if "targets" in sections:
        result["targets"] = headline(args)
        for k, v in result["targets"].items():
            print(f"TARGET {k}: S2CNN/CNN = {v['ratio']:.2f} (cpu {v['cpu_ratio']:.2f})", flush=True)
    _forward_and_train(args, sections, result)
    if "twins" in sections:
        result["small_twin_training"] = twin_training(args)
        for k, v in result["small_twin_training"]["summary"].items():
            print(f"TWINS {k}: " + ", ".join(f"{m} {s:.1f}/s" for m, s in v["samples_per_s"].items()), flush=True)
        print(
            "TWINS counted FLOP ratio: "
            + ", ".join(f"{p} {r:.2f}" for p, r in result["small_twin_training"]["flop_ratio"].items())
        )
    if "layers" in sections:
        result["s2cnn_layers"] = s2cnn_layers(args)
    if "memory" in sections:
        result["memory"] = {"method": MEMORY_METHOD, "runs": run_memory(args)}
    if args.malloc == "both":
        tuned_res = _tuned_subprocess(args)
        result["targets_tuned_malloc"] = tuned_res.get("targets")
        result["small_twin_training_tuned_malloc"] = tuned_res.get("small_twin_training", {}).get("summary")


def build_parser(prog: str = "python -m eqaug.bench models") -> argparse.ArgumentParser:
    """Options of ``python -m eqaug.bench models`` (= ``python scripts/bench_models.py``)."""
    p = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    p.add_argument("--repeats", type=int, default=7, help="timed calls per measurement (>= 5; default 7)")
    p.add_argument("--warmup", type=int, default=2, help="warm-up calls (default 2)")
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[1], help="forward batch sizes of all models")
    p.add_argument("--train-batch-sizes", type=int, nargs="+", default=[1, 8], help="for the four TRAIN_MODELS")
    p.add_argument("--twin-batch-size", type=int, default=32)
    p.add_argument("--twin-threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--layer-repeats", type=int, default=11)
    p.add_argument("--models", nargs="+", default=None, help="subset of the named models for the forward table")
    p.add_argument("--slow-seconds", type=float, default=60.0, help="warm-up time above which --slow-repeats is used")
    p.add_argument("--slow-repeats", type=int, default=5)
    p.add_argument("--memory-timeout", type=float, default=1800.0)
    p.add_argument("--only", nargs="+", default=None, choices=SECTIONS, help="run only these sections")
    p.add_argument(
        "--malloc",
        choices=("default", "tuned", "both"),
        default="both",
        help="glibc malloc: as is, s2cnn.perf.tune_malloc(heap_only=True), or both (tuned re-run of targets/twins in a subprocess)",
    )
    p.add_argument("--memory-probe", nargs=2, metavar=("MODEL", "BATCH"), help=argparse.SUPPRESS)
    p.add_argument("--out", default="results/bench/models.json", help="output JSON")
    return p


def main(argv: list[str] | None = None, prog: str = "python -m eqaug.bench models") -> int:
    """Entry point; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    p = build_parser(prog)
    args = p.parse_args(argv)
    if args.memory_probe:
        print(json.dumps(memory_probe(args.memory_probe[0], int(args.memory_probe[1]), args.threads)))
        return 0
    if args.repeats < 5:
        p.error(f"--repeats={args.repeats}: need at least 5")
    tuned = False
    if args.malloc == "tuned":
        from s2cnn.perf import tune_malloc

        tuned = tune_malloc(heap_only=True)
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    result: dict[str, Any] = {
        "meta": {
            "threads": torch.get_num_threads(),
            "device": "cpu",
            "dtype": "float32",
            "torch": torch.__version__,
            "python": platform.python_version(),
            "cpu": cpu_name(),
            "logical_cpus": os.cpu_count(),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": command_line(prog, argv),
            "repeats": args.repeats,
            "warmup": args.warmup,
            "timer": "time.perf_counter (wall; medians and IQR) and time.process_time (cpu_*) per call",
            "malloc_tuned": tuned,
            "loadavg_start": os.getloadavg(),
        }
    }
    _sections(args, set(args.only or SECTIONS), result)
    result["meta"]["loadavg_end"] = os.getloadavg()
    result["meta"]["total_seconds"] = time.perf_counter() - t0
    out = write_json(args.out, result)
    for k, v in result.get("ratios", {}).items():
        for pair, r in v.items():
            print(f"ratio {k:26s} {pair:45s} {r:8.1f}")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
