"""Speed, memory and equivariance error of the s2cnn layers (CPU; GPU if asked and present).

Usage::

    python -m eqaug.bench s2cnn [--threads 1] [--repeats 20] [--out results/bench/s2cnn.json]
    python scripts/bench_s2cnn.py ...   # the same

Cases (the original library's reference measurements are stored alongside, see ``REFERENCE``):

* ``s2conv``: ``S2Convolution(1, 10, b_in=30, b_out=15)``, default ``s2_near_identity_grid`` (24 points), batch 8;
* ``so3conv``: ``SO3Convolution(10, 20, b_in=15, b_out=10)``, default ``so3_near_identity_grid`` (192 points), batch 8;
* ``model204k``: the S2CNN 204k segmentation stack (b = 50; S2Conv 1→11 b50→42; SO3Conv 11→12→13→14→13→12→11
  over b 42→35→27→20→27→35→42; SO3→S² 11→11 b42→50; 192-point grids; ReLU between layers), batch 1.

Malloc: by default the cases are timed twice, as is and (in a subprocess) after
``s2cnn.perf.tune_malloc()``, because glibc's dynamic mmap/trim thresholds make large temporaries
page-fault on every call in some processes and not in others (bimodal timings); see ``s2cnn.perf``.

Modes: ``forward_nograd`` (``torch.no_grad``, eval: kernel spectra cached, i.e. inference),
``forward`` (autograd on: includes the kernel transform, as in training) and ``forward_backward``
(``sum()`` of the output, backward).  Timing: ``--threads`` intra-op threads, warm-up calls first
(plans and tables are built there), then ``--repeats`` timed calls with ``time.perf_counter``
(the 204k model uses ``--model-repeats``; :func:`eqaug.bench.timing.time_calls`): median, interquartile
range (:func:`eqaug.bench.timing.quartiles`) and minimum in milliseconds.

Peak memory: one more call of each (case, mode) after the timing, under
``torch.profiler.profile(profile_memory=True)``; the allocations attributed to each operator
(its *self* CPU memory) and the frees (``[memory]`` events) are replayed in time order and the
maximum of the running sum is reported: the peak of live tensor memory allocated during the call
(activations, autograd buffers, temporaries; not the model, tables or input), and separately the
per-thread transform workspace the layers keep between calls (``workspace_mb``).  ``tracemalloc``
misses torch's allocations, and RSS high-water marks are dominated by the allocator's caching.

Equivariance: relative error ``‖L(R x) − R L(x)‖ / ‖R L(x)‖`` of each layer type for three Haar-random
rotations on band-limited random inputs, in float32 and float64 (max over the rotations); for the
rotations themselves ``‖R₂(R₁ x) − (R₂R₁) x‖ / ‖(R₂R₁) x‖``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any

import torch

from eqaug.bench.io import write_json
from eqaug.bench.timing import quartiles, time_calls
from eqaug.environment import cpu_name
from s2cnn import (
    S2Convolution,
    SO3Convolution,
    SO3ToS2Convolution,
    s2_near_identity_grid,
    s2_rotation,
    so3_near_identity_grid,
    so3_rotation,
)
from s2cnn.perf import peak_tensor_bytes, workspace_bytes
from s2cnn.testing import equivariance_error, random_rotation, random_s2_signal, random_so3_signal, relative_error

__all__ = ["build_case", "run_mode", "time_mode", "peak_memory_mb", "equivariance_errors", "build_parser", "main"]

#: how a subprocess runs this benchmark
SELF = [sys.executable, "-m", "eqaug.bench", "s2cnn"]
REFERENCE = {
    "source": "original jonkhler/s2cnn, one CPU thread, forward (shared/REFERENCE.md)",
    "s2conv_forward_ms": [173, 208],
    "so3conv_forward_ms": [116, 154],
    "model204k_forward_ms": 11000,
}

CASES = ("s2conv", "so3conv", "model204k")
MODES = ("forward_nograd", "forward", "forward_backward")


def build_case(case: str, device: torch.device) -> tuple[torch.nn.Module, torch.Tensor]:
    """The module and input of a case of :data:`CASES`."""
    torch.manual_seed(0)
    if case == "s2conv":
        model = S2Convolution(1, 10, 30, 15, s2_near_identity_grid())
        x = torch.randn(8, 1, 60, 60)
    elif case == "so3conv":
        model = SO3Convolution(10, 20, 15, 10, so3_near_identity_grid())
        x = torch.randn(8, 10, 30, 30, 30)
    elif case == "model204k":
        feats = [11, 12, 13, 14, 13, 12, 11]
        bls = [42, 35, 27, 20, 27, 35, 42]
        mb = [0.1238, 0.1474, 0.1768, 0.2292, 0.3095, 0.2292, 0.1768, 0.1474]
        layers: list[torch.nn.Module] = [S2Convolution(1, 11, 50, 42, s2_near_identity_grid(max_beta=mb[0] * math.pi))]
        for i in range(6):
            layers += [torch.nn.ReLU()]
            g = so3_near_identity_grid(max_beta=mb[i + 1] * math.pi)
            layers += [SO3Convolution(feats[i], feats[i + 1], bls[i], bls[i + 1], g)]
        layers += [
            torch.nn.ReLU(),
            SO3ToS2Convolution(11, 11, 42, 50, so3_near_identity_grid(max_beta=mb[7] * math.pi)),
        ]
        model = torch.nn.Sequential(*layers)
        x = torch.randn(1, 1, 100, 100)
    else:
        raise ValueError(f"unknown case {case!r}; choose from {CASES}")
    return model.to(device), x.to(device)


def run_mode(model: torch.nn.Module, x: torch.Tensor, mode: str) -> None:
    """One call of ``model`` on ``x`` in a mode of :data:`MODES`."""
    if mode == "forward_nograd":
        model.eval()
        with torch.no_grad():
            model(x)
    elif mode == "forward":
        model.train()
        model(x)
    elif mode == "forward_backward":
        model.train()
        model.zero_grad(set_to_none=True)
        model(x).sum().backward()
    else:
        raise ValueError(f"unknown mode {mode!r}")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_mode(
    model: torch.nn.Module, x: torch.Tensor, mode: str, repeats: int, warmup: int, device: torch.device
) -> dict[str, Any]:
    """Milliseconds per call of ``run_mode(model, x, mode)``: median, ``iqr_ms`` = ``[q1, q3]``, minimum."""
    timings = time_calls(lambda: run_mode(model, x, mode), repeats, warmup, sync=lambda: _sync(device))
    ts = [t * 1e3 for t in timings.wall_s]
    q1, median, q3 = quartiles(ts)
    return {
        "median_ms": median,
        "iqr_ms": [q1, q3],
        "min_ms": min(ts),
        "repeats": repeats,
        "warmup": warmup,
    }


def peak_memory_mb(model: torch.nn.Module, x: torch.Tensor, mode: str) -> float:
    """Peak live tensor memory (MiB) allocated during one call (:func:`s2cnn.perf.peak_tensor_bytes`)."""
    return peak_tensor_bytes(lambda: run_mode(model, x, mode)) / 2**20


def equivariance_errors(n_rot: int = 3) -> dict[str, dict[str, float]]:
    """Max relative equivariance error over random rotations, per layer type and dtype."""
    from s2cnn import grids

    s2, so3 = s2_near_identity_grid(), so3_near_identity_grid()
    # name: (constructor, input bandwidth, input on SO(3), output on SO(3))
    layers = {
        "S2Convolution(2→3, b 16→12)": (partial(S2Convolution, 2, 3, 16, 12, s2), 16, False, True),
        "SO3Convolution(3→3, b 12→10)": (partial(SO3Convolution, 3, 3, 12, 10, so3), 12, True, True),
        "SO3Convolution(3→2, b 8→12)": (partial(SO3Convolution, 3, 2, 8, 12, so3), 8, True, True),
        "SO3ToS2Convolution(3→2, b 10→16)": (partial(SO3ToS2Convolution, 3, 2, 10, 16, so3), 10, True, False),
    }

    def rot(on_so3: bool, R: tuple[float, float, float]) -> Callable[[torch.Tensor], torch.Tensor]:
        return (lambda t: so3_rotation(t, *R)) if on_so3 else (lambda t: s2_rotation(t, *R))

    res: dict[str, dict[str, float]] = {}
    for dtype in (torch.float32, torch.float64):
        key = str(dtype).replace("torch.", "")
        for name, (make, b, so3_in, so3_out) in layers.items():
            g = torch.Generator().manual_seed(7)
            torch.manual_seed(0)
            layer = make().to(dtype)
            x = (random_so3_signal if so3_in else random_s2_signal)(b, 2, layer.nfeature_in, generator=g, dtype=dtype)
            errs = [
                equivariance_error(layer, x, rot(so3_in, R), rot(so3_out, R))
                for R in [random_rotation(g) for _ in range(n_rot)]
            ]
            res.setdefault(name, {})[key] = max(errs)
        for name, b, on_so3 in (("s2_rotation(b 16)", 16, False), ("so3_rotation(b 12)", 12, True)):
            g = torch.Generator().manual_seed(7)
            x = (random_so3_signal if on_so3 else random_s2_signal)(b, 2, 3, generator=g, dtype=dtype)
            errs = []
            for _ in range(n_rot):
                R1, R2 = random_rotation(g), random_rotation(g)
                R21 = grids.matrix_to_euler(grids.euler_to_matrix(*R2) @ grids.euler_to_matrix(*R1))
                R21 = tuple(t.item() for t in R21)
                with torch.no_grad():
                    errs.append(relative_error(rot(on_so3, R2)(rot(on_so3, R1)(x)), rot(on_so3, R21)(x)))
            res.setdefault(name, {})[key] = max(errs)
    return res


def build_parser(prog: str = "python -m eqaug.bench s2cnn") -> argparse.ArgumentParser:
    """Options of ``python -m eqaug.bench s2cnn`` (= ``python scripts/bench_s2cnn.py``)."""
    p = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--model-repeats", type=int, default=5, help="timed calls for the 204k model")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--cases", nargs="+", default=list(CASES), choices=CASES)
    p.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    p.add_argument("--device", default="cpu")
    p.add_argument("--no-memory", action="store_true", help="skip the profiler memory measurements")
    p.add_argument("--no-equivariance", action="store_true")
    p.add_argument(
        "--malloc",
        choices=("default", "tuned", "both"),
        default="both",
        help="glibc malloc settings: as is, s2cnn.perf.tune_malloc(), or both (tuned timings in a subprocess)",
    )
    p.add_argument("--out", default="results/bench/s2cnn.json")
    return p


def _meta(device: torch.device, tuned: bool) -> dict[str, Any]:
    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "cpu": cpu_name(),
        "logical_cpus": os.cpu_count(),
        "device": str(device),
        "dtype": "float32",
        "timer": "time.perf_counter; median, IQR [q1, q3] and min over the timed calls, after warm-up",
        "memory": "torch.profiler profile_memory: peak of live tensor bytes allocated during one call; "
        "workspace_mb: s2cnn transform workspace kept between calls (s2cnn.perf.workspace_bytes)",
        "malloc_tuned": tuned,
    }


def measure_case(case: str, args: argparse.Namespace, device: torch.device) -> dict[str, Any]:
    """Parameters, input shape, first call and every mode of ``args.modes`` of one case."""
    model, x = build_case(case, device)
    entry: dict[str, Any] = {"params": sum(p.numel() for p in model.parameters()), "input_shape": list(x.shape)}
    t0 = time.perf_counter()
    run_mode(model, x, "forward")
    entry["first_call_ms"] = (time.perf_counter() - t0) * 1e3  # includes building the plans
    for mode in args.modes:
        reps = args.model_repeats if case == "model204k" else args.repeats
        entry[mode] = time_mode(model, x, mode, reps, args.warmup, device)
        if not args.no_memory and device.type == "cpu":
            entry[mode]["peak_tensor_memory_mb"] = peak_memory_mb(model, x, mode)
            entry[mode]["workspace_mb"] = workspace_bytes() / 2**20
        print(f"{case:10s} {mode:17s} median {entry[mode]['median_ms']:9.1f} ms", flush=True)
    return entry


def _tuned_cases(args: argparse.Namespace) -> dict[str, Any]:
    """The same cases and modes in a subprocess after ``s2cnn.perf.tune_malloc()``."""
    with tempfile.TemporaryDirectory() as tmp:
        sub = [*SELF, "--malloc", "tuned", "--no-memory", "--no-equivariance"]
        sub += ["--threads", str(args.threads), "--repeats", str(args.repeats), "--warmup", str(args.warmup)]
        sub += ["--model-repeats", str(args.model_repeats), "--device", args.device, "--out", f"{tmp}/t.json"]
        sub += ["--cases", *args.cases, "--modes", *args.modes]
        print("with s2cnn.perf.tune_malloc():", flush=True)
        subprocess.run(sub, check=True)
        tuned_res = json.loads(Path(f"{tmp}/t.json").read_text())
    return {c: {m: v[m] for m in args.modes} for c, v in tuned_res["cases"].items()}


def main(argv: list[str] | None = None, prog: str = "python -m eqaug.bench s2cnn") -> int:
    """Entry point; returns the exit code."""
    args = build_parser(prog).parse_args(argv)
    tuned = False
    if args.malloc == "tuned":
        from s2cnn.perf import tune_malloc

        tuned = tune_malloc()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    result: dict[str, Any] = {"meta": _meta(device, tuned), "reference_original": REFERENCE, "cases": {}}
    for case in args.cases:
        result["cases"][case] = measure_case(case, args, device)
    if args.malloc == "both":
        result["cases_tuned_malloc"] = _tuned_cases(args)
        result["meta"]["cases_tuned_malloc"] = "same cases in a subprocess after s2cnn.perf.tune_malloc()"
    if not args.no_equivariance:
        result["equivariance"] = equivariance_errors()
        for k, v in result["equivariance"].items():
            print(f"{k:34s} " + "  ".join(f"{d}: {e:.1e}" for d, e in v.items()))
    out = write_json(args.out, result)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
