"""The GPU path in one command (``make gpu-check``): tests, equivariance, latency, training step and short runs.

Without CUDA (``torch.cuda.is_available()`` false) it prints ``no CUDA device: gpu-check skipped`` and exits 0.
With CUDA it runs, each section on its own (a failing section is recorded and the others still run):

* ``tests``: ``pytest -m cuda tests/s2cnn tests/models`` with ``EQAUG_TEST_DEVICE=cuda`` (the CUDA cases of every
  test that takes the ``device`` fixture; there a missing GPU fails instead of skipping);
* ``equivariance``: the equivariance table (:mod:`eqaug.bench.equivariance`) in float32 on the GPU
  → ``results/tables/equivariance_gpu.{md,csv}``;
* ``latency``: forward latency at batch 1, 8, 32 of every named model (:mod:`eqaug.bench.latency`) on the GPU
  → ``results/tables/latency_gpu.{md,csv}``;
* ``train_step``: forward + backward time per sample at batch 32 of the full-size models (float32; the CNNs also
  under bf16 autocast), what ``make paper``'s cost estimate reads (:mod:`eqaug.analysis.paper_cost`);
* ``training``: a short run (``python -m eqaug.train … trainer=gpu trainer.max_steps=20``) of one model per family,
  the CNNs in mixed precision (``bf16-mixed``), the S2CNN and GSCNN in float32 (``32-true``): their spectral
  transforms (FFTs and the Wigner-d products) need float32, and autocast would run the products in bf16.

Everything goes to ``results/bench/gpu_<device-name>.json``; the exit code is 1 if a section failed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import traceback
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from eqaug.bench.io import command_line, write_json
from eqaug.environment import describe

__all__ = ["SKIP_LINE", "SECTIONS", "TRAIN_MODELS", "device_slug", "precision_for", "build_parser", "main"]

SKIP_LINE = "no CUDA device: gpu-check skipped"
SECTIONS = ("tests", "equivariance", "latency", "train_step", "training")
#: one model per family for the short training runs (the study's full-size models)
TRAIN_MODELS = ("cnn_seg_218k", "s2cnn_seg_204k", "gscnn_seg", "cnn_cls_114k", "s2cnn_cls_150k", "gscnn_cls")
#: why a family trains in float32
FLOAT32_REASON = (
    "float32 (32-true): the S² and SO(3) transforms (FFTs, Wigner-d GEMMs) need float32; under autocast their "
    "products would run in bf16/fp16"
)


def device_slug(name: str) -> str:
    """``"NVIDIA H100 80GB HBM3"`` → ``"nvidia_h100_80gb_hbm3"``."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "cuda"


def precision_for(model: str) -> tuple[str, str]:
    """(Lightning precision, why) of a model's short training run."""
    if model.startswith("cnn"):
        return "bf16-mixed", "mixed precision (bf16-mixed): convolutions, batch norm and linear layers allow it"
    return "32-true", FLOAT32_REASON


def _section(name: str, fn: Callable[[], dict[str, Any]], log: Callable[[str], None]) -> dict[str, Any]:
    log(f"[gpu-check] {name} …")
    t0 = time.perf_counter()
    try:
        out = {"status": "ok", **fn()}
    except Exception as e:  # noqa: BLE001 - a failing section is recorded, the others still run
        out = {"status": "failed", "error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()[-4000:]}
    out["seconds"] = time.perf_counter() - t0
    log(
        f"[gpu-check] {name}: {out['status']} ({out['seconds']:.0f} s)"
        + (f": {out.get('error')}" if "error" in out else "")
    )
    return out


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update({"WANDB_MODE": "disabled", "HYDRA_FULL_ERROR": "1", "EQAUG_TEST_DEVICE": "cuda"})
    env.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS (trainer.deterministic=true)
    return env


def run_tests(paths: list[str], timeout: float) -> dict[str, Any]:
    """``pytest -m cuda <paths>`` with ``EQAUG_TEST_DEVICE=cuda``; counts from its JUnit XML."""
    with tempfile.TemporaryDirectory() as tmp:
        junit = Path(tmp) / "junit.xml"
        cmd = [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-m",
            "cuda",
            "-p",
            "no:cacheprovider",
            *paths,
            "--junitxml",
            str(junit),
        ]
        proc = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=timeout)
        counts: dict[str, int] = {}
        if junit.exists():
            suite = ET.parse(junit).getroot()
            suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
            counts = {k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}
    if proc.returncode != 0 or not counts.get("tests"):
        raise RuntimeError(f"pytest exit {proc.returncode}, {counts}: {proc.stdout[-2000:]}{proc.stderr[-1000:]}")
    return {"command": " ".join(["EQAUG_TEST_DEVICE=cuda", *cmd[1:-2]]), **counts, "output_tail": proc.stdout[-1500:]}


def run_equivariance(args: argparse.Namespace) -> dict[str, Any]:
    """The equivariance table in float32 on the GPU → ``equivariance_gpu.{md,csv}``."""
    import pandas as pd

    from eqaug.analysis.tables import to_markdown
    from eqaug.bench.equivariance import _notes, equivariance_rows
    from eqaug.bench.io import write_table

    ns = argparse.Namespace(
        device="cuda", dtypes=["float32"], rotations=args.rotations, inputs=8, tp_L=16, relu_L=16, skip_models=False
    )
    rows = equivariance_rows(ns, log=lambda s: None)
    frame = pd.DataFrame(rows)
    shown = frame.copy()
    for col in ("mean_rel_error", "max_rel_error"):
        shown[col] = [f"{v:.2e}" for v in frame[col]]
    notes = [f"On the GPU ({torch.cuda.get_device_name(0)}), float32.", *_notes(ns)[:-1], "Made by `make gpu-check`."]
    write_table(
        frame, args.tables_dir, "equivariance_gpu", "Equivariance errors on the GPU", notes, markdown=to_markdown(shown)
    )
    return {"dtype": "float32", "rows": rows}


def run_gpu_latency(args: argparse.Namespace) -> dict[str, Any]:
    """Forward latency at batch 1, 8, 32 of every named model on the GPU → ``latency_gpu.{md,csv}``."""
    from eqaug.analysis.tables import write_latency_tables
    from eqaug.bench.latency import default_models, run_latency

    payload = run_latency(
        args.models or default_models(),
        [1, 8, 32],
        ["cuda"],
        threads=1,
        min_run_time=args.min_run_time,
        log=lambda s: print(s, flush=True),
        command="python -m eqaug.bench gpu_check (make gpu-check)",
    )
    write_latency_tables(
        payload,
        args.tables_dir,
        name="latency_gpu",
        title=f"Inference latency and throughput vs batch size on the GPU ({torch.cuda.get_device_name(0)})",
        made_by="Made by `make gpu-check` (`python -m eqaug.bench gpu_check`), float32.",
    )
    return payload


def run_train_step(args: argparse.Namespace) -> dict[str, Any]:
    """Forward + backward per sample at batch ``--batch`` on the GPU (float32; CNNs also bf16 autocast)."""
    from eqaug.bench.model_timing import _inputs, _step_fn
    from eqaug.bench.timing import quartiles, time_calls
    from eqaug.models import as_spec, build_model, model_names

    names = args.models or [n for n in model_names() if not n.endswith(("_tiny", "_small", "_b16"))]
    entries = []
    for name in names:
        spec = as_spec(name)
        torch.manual_seed(0)
        model = build_model(spec).cuda()
        x, target = (t.cuda() for t in _inputs(spec, args.batch))
        for precision in ("32-true", "bf16-mixed") if name.startswith("cnn") else ("32-true",):
            step = _step_fn(model, x, target, "forward+backward")

            def fn(step: Callable[[], None] = step, precision: str = precision) -> None:
                with torch.autocast("cuda", dtype=torch.bfloat16, enabled=precision == "bf16-mixed"):
                    step()

            torch.cuda.reset_peak_memory_stats()
            timings = time_calls(fn, args.repeats, warmup=3, sync=torch.cuda.synchronize)
            q1, med, q3 = quartiles(timings.wall_s)
            entries.append(
                {
                    "model": name,
                    "family": spec.family,
                    "bandwidth": spec.bandwidth,
                    "batch_size": args.batch,
                    "mode": "forward+backward",
                    "precision": precision,
                    "median_s": med,
                    "iqr_s": q3 - q1,
                    "median_s_per_sample": med / args.batch,
                    "times_s": timings.wall_s,
                    "peak_memory_mb": torch.cuda.max_memory_allocated() / 2**20,
                }
            )
            print(f"train step {name:22s} {precision:10s} batch {args.batch}: {med * 1e3:9.2f} ms", flush=True)
        del model
        torch.cuda.empty_cache()
    return {"entries": entries}


def run_training(args: argparse.Namespace) -> dict[str, Any]:
    """``python -m eqaug.train`` with ``trainer=gpu`` for ``--train-steps`` steps, one model per family."""
    runs, failed = [], []
    for name in args.train_models:
        precision, why = precision_for(name)
        with tempfile.TemporaryDirectory() as tmp:
            n_train = args.train_steps * 32
            overrides = [
                "experiment=smoke",
                f"model={name}",
                "trainer=gpu",
                f"trainer.max_steps={args.train_steps}",
                "trainer.max_epochs=1",
                f"trainer.precision={precision}",
                "trainer.enable_progress_bar=false",
                f"data.n_train={n_train}",
                "data.n_val=64",
                "data.n_test=64",
                "optim.batch_size=32",
                "save_checkpoints=false",
                f"results_dir={tmp}",
            ]
            cmd = [sys.executable, "-m", "eqaug.train", *overrides]
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=args.train_timeout)
            wall = time.perf_counter() - t0
            records = [json.loads(p.read_text()) for p in Path(tmp).glob("runs/**/*.json")]
        rec = records[0] if records else {}
        run = {
            "model": name,
            "precision": precision,
            "precision_why": why,
            "command": "python -m eqaug.train " + " ".join(o for o in overrides if not o.startswith("results_dir")),
            "returncode": proc.returncode,
            "wall_seconds": wall,
            "status": rec.get("status"),
            "steps_run": rec.get("steps_run"),
            "samples_per_second_median": (rec.get("timing") or {}).get("samples_per_second_median"),
            "train_seconds_total": (rec.get("timing") or {}).get("train_seconds_total"),
            "val_score": rec.get("best_val_score"),
        }
        if proc.returncode != 0 or rec.get("status") != "finished":
            run["output_tail"] = (proc.stdout + proc.stderr)[-3000:]
            failed.append(name)
        runs.append(run)
        print(f"train {name:18s} {precision:10s} exit {proc.returncode}, {run['status']}, {wall:.0f} s", flush=True)
    if failed:
        raise RuntimeError(f"training failed for {', '.join(failed)}; see runs[].output_tail")
    return {"runs": runs}


def _meta(argv: list[str], prog: str) -> dict[str, Any]:
    props = torch.cuda.get_device_properties(0)
    return {
        **describe(1),
        "device_name": torch.cuda.get_device_name(0),
        "capability": list(torch.cuda.get_device_capability(0)),
        "total_memory_gb": props.total_memory / 2**30,
        "cuda_runtime": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version(),
        "tf32": {"matmul": torch.backends.cuda.matmul.allow_tf32, "cudnn": torch.backends.cudnn.allow_tf32},
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": command_line(prog, argv),
        "loadavg_start": list(os.getloadavg()),
    }


def build_parser(prog: str = "python -m eqaug.bench gpu_check") -> argparse.ArgumentParser:
    """Options of ``python -m eqaug.bench gpu_check`` (``make gpu-check``)."""
    p = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", nargs="+", choices=SECTIONS, default=None, help="run only these sections")
    p.add_argument("--test-paths", nargs="+", default=["tests/s2cnn", "tests/models"])
    p.add_argument("--test-timeout", type=float, default=1800.0)
    p.add_argument("--models", nargs="+", default=None, help="latency/train-step models (default: every named model)")
    p.add_argument("--min-run-time", type=float, default=0.5, help="seconds of blocked_autorange per latency point")
    p.add_argument("--rotations", type=int, default=10, help="rotations of the equivariance table")
    p.add_argument("--batch", type=int, default=32, help="batch of the train-step timing (default 32)")
    p.add_argument("--repeats", type=int, default=10, help="timed train steps per model")
    p.add_argument("--train-models", nargs="+", default=list(TRAIN_MODELS))
    p.add_argument("--train-steps", type=int, default=20)
    p.add_argument("--train-timeout", type=float, default=900.0)
    p.add_argument("--out-dir", default="results/bench", help="where gpu_<device-name>.json goes")
    p.add_argument("--tables-dir", default="results/tables")
    return p


def main(argv: list[str] | None = None, prog: str = "python -m eqaug.bench gpu_check") -> int:
    """Entry point: 0 without CUDA (skipped) or when every section passed; 1 if one failed."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(prog).parse_args(argv)
    if not torch.cuda.is_available():
        print(SKIP_LINE, flush=True)
        return 0
    t0 = time.perf_counter()
    log = lambda s: print(s, flush=True)  # noqa: E731
    payload: dict[str, Any] = {"meta": _meta(argv, prog)}
    steps = {
        "tests": lambda: run_tests(args.test_paths, args.test_timeout),
        "equivariance": lambda: run_equivariance(args),
        "latency": lambda: run_gpu_latency(args),
        "train_step": lambda: run_train_step(args),
        "training": lambda: run_training(args),
    }
    for name in args.only or SECTIONS:
        payload[name] = _section(name, steps[name], log)
    payload["meta"]["loadavg_end"] = list(os.getloadavg())
    payload["meta"]["total_seconds"] = time.perf_counter() - t0
    path = write_json(Path(args.out_dir) / f"gpu_{device_slug(payload['meta']['device_name'])}.json", payload)
    failed = [n for n in args.only or SECTIONS if payload[n]["status"] != "ok"]
    print(f"wrote {path}" + (f"; failed: {', '.join(failed)}" if failed else "; every section passed"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
