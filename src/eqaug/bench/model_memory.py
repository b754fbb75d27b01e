"""Peak memory of a training step of one named model for :mod:`eqaug.bench.models`, each measured in a fresh
subprocess: :func:`memory_probe` (run inside it: peak RSS of the step after a reset of the kernel's counter,
peak of live tensor memory, the s2cnn workspace) and :func:`run_memory` (one subprocess per row of
:data:`MEMORY_RUNS`).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch

from eqaug.bench.model_timing import TWIN_MODELS, _inputs, _step_fn
from eqaug.models import as_spec, build_model
from s2cnn.perf import peak_tensor_bytes, workspace_bytes

__all__ = ["SELF", "MEMORY_RUNS", "MEMORY_METHOD", "memory_probe", "run_memory"]

#: how a subprocess runs this benchmark
SELF = [sys.executable, "-m", "eqaug.bench", "models"]
MEMORY_RUNS = (("s2cnn_seg_204k", 1), ("s2cnn_seg_204k", 8), ("s2cnn_seg_204k", 32), *((m, 32) for m in TWIN_MODELS))
MEMORY_METHOD = (
    "fresh subprocess per row: build the model, one warm-up training step (forward, cross-entropy, "
    "backward: builds plans, tables, workspace), reset the kernel's peak-RSS counter (/proc/self/"
    "clear_refs = 5), one measured step. rss_peak_step_mb = VmHWM of the process during that step "
    "(everything resident: Python, torch, model, plans, workspace, activations, allocator caching); "
    "rss_step_increment_mb = that minus the RSS before the step; tensor_peak_mb = peak of live tensor "
    "bytes allocated during a further profiled step (torch.profiler memory events); workspace_mb = "
    "s2cnn transform workspace kept between steps."
)


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
