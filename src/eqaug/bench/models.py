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

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from eqaug.bench.io import command_line, write_json
from eqaug.bench.timing import time_calls
from eqaug.environment import cpu_name
from eqaug.models import as_spec, build_model, count_params, model_names
from s2cnn.perf import peak_tensor_bytes, workspace_bytes

__all__ = ["measure", "ratios", "memory_probe", "build_parser", "main"]

#: how a subprocess runs this benchmark
SELF = [sys.executable, "-m", "eqaug.bench", "models"]
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
MEMORY_RUNS = (("s2cnn_seg_204k", 1), ("s2cnn_seg_204k", 8), ("s2cnn_seg_204k", 32), *((m, 32) for m in TWIN_MODELS))
SECTIONS = ("forward", "train", "targets", "twins", "memory", "layers")
MEMORY_METHOD = (
    "fresh subprocess per row: build the model, one warm-up training step (forward, cross-entropy, "
    "backward: builds plans, tables, workspace), reset the kernel's peak-RSS counter (/proc/self/"
    "clear_refs = 5), one measured step. rss_peak_step_mb = VmHWM of the process during that step "
    "(everything resident: Python, torch, model, plans, workspace, activations, allocator caching); "
    "rss_step_increment_mb = that minus the RSS before the step; tensor_peak_mb = peak of live tensor "
    "bytes allocated during a further profiled step (torch.profiler memory events); workspace_mb = "
    "s2cnn transform workspace kept between steps."
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


# --------------------------------------------------------------------------------------------
# Memory (fresh subprocess per measurement)
# --------------------------------------------------------------------------------------------


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS counter (``VmHWM``) of this process (Linux ``clear_refs`` = 5)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def memory_probe(name: str, batch: int, threads: int) -> dict[str, Any]:
    """Run in a fresh process: build, one warm-up training step (plans, tables, workspace), one measured step."""
    torch.set_num_threads(threads)
    spec = as_spec(name)
    torch.manual_seed(0)
    model = build_model(spec).train()
    x, target = _inputs(spec, batch)
    rss_build = _status_mb("VmRSS")
    fn = _step_fn(model, x, target, "forward+backward")
    fn()
    model.zero_grad(set_to_none=True)
    rss_warm = _status_mb("VmRSS")
    hwm_warm = _status_mb("VmHWM")
    reset = _reset_peak_rss()
    fn()
    hwm_step = _status_mb("VmHWM")
    model.zero_grad(set_to_none=True)
    peak = peak_tensor_bytes(fn)
    ws = workspace_bytes() / 2**20
    return {
        "model": name,
        "batch_size": batch,
        "threads": threads,
        "rss_after_build_mb": rss_build,
        "rss_after_warmup_step_mb": rss_warm,
        "rss_peak_incl_first_call_mb": hwm_warm,
        "peak_rss_reset": reset,
        "rss_peak_step_mb": hwm_step if reset else float("nan"),
        "rss_step_increment_mb": hwm_step - rss_warm if reset else float("nan"),
        "rss_step_increment_mb_per_sample": (hwm_step - rss_warm) / batch if reset else float("nan"),
        "tensor_peak_mb": peak / 2**20,
        "workspace_mb": ws,
        "tensor_peak_plus_workspace_mb": peak / 2**20 + ws,
        "tensor_peak_plus_workspace_mb_per_sample": (peak / 2**20 + ws) / batch,
    }


def run_memory(args: argparse.Namespace) -> list[dict[str, Any]]:
    """:func:`memory_probe` of every row of :data:`MEMORY_RUNS`, each in a fresh subprocess."""
    out = []
    for name, batch in MEMORY_RUNS:
        cmd = [*SELF, "--memory-probe", name, str(batch), "--threads", str(args.threads)]
        try:
            res = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=args.memory_timeout)
            entry = json.loads(res.stdout.strip().splitlines()[-1])
        except (subprocess.SubprocessError, json.JSONDecodeError, IndexError) as err:
            entry = {"model": name, "batch_size": batch, "error": str(err)[:500]}
        print(
            f"memory {name:22s} batch={batch:<2d} "
            + (
                f"peak RSS of the step {entry['rss_peak_step_mb']:8.0f} MB (+{entry['rss_step_increment_mb']:.0f} "
                f"over the RSS before it), tensor peak+workspace {entry['tensor_peak_plus_workspace_mb']:8.0f} MB"
                if "error" not in entry
                else f"failed: {entry['error'][:200]}"
            ),
            flush=True,
        )
        out.append(entry)
    return out


# --------------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------------


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
        }
    return {"batch_size": args.twin_batch_size, "entries": entries, "summary": summary}


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
