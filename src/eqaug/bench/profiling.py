"""Where inference time goes: per-layer (Table 6), per-operator (Table 7) and per-s2cnn-stage shares.

The model is not modified: forward pre/post hooks on each *top-level layer* (the model's children,
with ``ModuleList``/``Sequential`` containers expanded: for the S2CNN segmenter ``first``,
``convs.0`` … ``convs.5``, ``last``) open and close a :func:`torch.profiler.record_function`
range ``layer::<name>``; every forward is wrapped in a ``step`` range. After ``warmup`` unprofiled
forwards (steady state: plans, tables and cached kernel spectra built), ``steps`` forwards run
under :class:`torch.profiler.profile`, one thread by default.

* layers: inclusive CPU time of each ``layer::`` range per step, share of the ``step`` time; the
  rest (ReLUs and glue between layers) is the row ``(between layers)``, so shares add up to 100%;
* operators: self CPU time per operator from ``key_averages()``, the top ``top_ops`` and
  ``(other)``, shares of the total self time (100%);
* stages (S2CNN only): the harmonic transforms of :mod:`s2cnn.fft` that the layers call
  (``so3_analysis`` = forward SO(3) FFT, ``so3_synthesis`` = inverse SO(3) FFT, ``s2_analysis``,
  ``s2_synthesis``) are wrapped in ``stage::`` ranges for the profiled steps (the names in
  :mod:`s2cnn.layers` are swapped for wrappers and restored afterwards); the rest of each step
  (per-degree products (real GEMMs), kernel spectra, bias, ReLUs) is ``(rest)``.

Usage::

    python -m eqaug.bench profile [--models ...] [--steps 3] ...
    python -m eqaug.analysis profile ...   # the same (make bench)

writes ``results/bench/profile.json`` and renders ``results/tables/profile_{layers,ops,stages}.{md,csv}`` from it.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn
from torch.autograd.profiler import record_function
from torch.profiler import ProfilerActivity, profile

from eqaug.bench.io import bench_main
from eqaug.bench.latency import environment
from eqaug.models import as_spec, build_model, count_params

__all__ = [
    "top_level_layers",
    "layer_label",
    "LayerRanges",
    "stage_ranges",
    "profile_model",
    "run_profiles",
    "build_parser",
    "main",
]

LAYER_PREFIX = "layer::"
STAGE_PREFIX = "stage::"
STEP = "step"
#: s2cnn transforms called by the layers (name in :mod:`s2cnn.layers` → description).
STAGES = {
    "so3_analysis": "SO(3) FFT (analysis)",
    "so3_synthesis": "inverse SO(3) FFT (synthesis)",
    "s2_analysis": "S² FFT (analysis)",
    "s2_synthesis": "inverse S² FFT (synthesis)",
}
DEFAULT_PROFILE_MODELS = ("s2cnn_seg_204k", "s2cnn_seg_204k_small")


def top_level_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The model's children, with ``ModuleList``/``Sequential`` containers replaced by their items."""
    out = []
    for name, child in model.named_children():
        if isinstance(child, (nn.ModuleList, nn.Sequential)) and len(child):
            out.extend((f"{name}.{i}", m) for i, m in child.named_children())
        else:
            out.append((name, child))
    return out


def layer_label(name: str, module: nn.Module) -> dict[str, Any]:
    """Description of a layer: name, type, bandwidths, channels and direction (down/up) where known."""
    b_in, b_out = getattr(module, "b_in", None), getattr(module, "b_out", None)
    direction = None
    if b_in is not None and b_out is not None:
        direction = "down" if b_out < b_in else "up" if b_out > b_in else "same"
    return {
        "layer": name,
        "type": type(module).__name__,
        "b_in": b_in,
        "b_out": b_out,
        "f_in": getattr(module, "nfeature_in", None),
        "f_out": getattr(module, "nfeature_out", None),
        "direction": direction,
        "params": sum(p.numel() for p in module.parameters()),
    }


class LayerRanges:
    """Forward hooks opening a ``layer::<name>`` profiler range around each top-level layer.

    Use as a context manager; the hooks are removed on exit.
    """

    def __init__(self, model: nn.Module) -> None:
        self.layers = top_level_layers(model)
        self._handles: list = []
        self._open: list = []

    def __enter__(self) -> LayerRanges:
        for name, module in self.layers:
            self._handles.append(module.register_forward_pre_hook(self._pre(name)))
            self._handles.append(module.register_forward_hook(self._post))
        return self

    def _pre(self, name: str) -> Callable[[nn.Module, tuple[Any, ...]], None]:
        def hook(module: nn.Module, args: tuple[Any, ...]) -> None:
            rf = record_function(LAYER_PREFIX + name)
            rf.__enter__()
            self._open.append(rf)

        return hook

    def _post(self, module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        self._open.pop().__exit__(None, None, None)

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        while self._open:
            self._open.pop().__exit__(None, None, None)


@contextlib.contextmanager
def stage_ranges() -> Iterator[None]:
    """Wrap the transforms named in :data:`STAGES` (as :mod:`s2cnn.layers` calls them) in ``stage::`` ranges."""
    try:
        import s2cnn.layers as layers
    except ImportError:  # pragma: no cover - s2cnn is part of the install
        yield
        return
    originals = {name: getattr(layers, name) for name in STAGES if hasattr(layers, name)}

    def wrap(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            with record_function(STAGE_PREFIX + name):
                return fn(*args, **kwargs)

        return wrapped

    try:
        for name, fn in originals.items():
            setattr(layers, name, wrap(name, fn))
        yield
    finally:
        for name, fn in originals.items():
            setattr(layers, name, fn)


def _ms(us: float, steps: int) -> float:
    return us / 1e3 / steps


def profile_model(
    name: str,
    batch_size: int = 1,
    steps: int = 3,
    warmup: int = 2,
    threads: int = 1,
    device: str = "cpu",
    top_ops: int = 10,
    stages: bool = True,
    model: nn.Module | None = None,
) -> dict[str, Any]:
    """Profile a named model's forward pass in steady state.

    Parameters
    ----------
    name : model name (``conf/model``).
    batch_size : samples per forward.
    steps : profiled forwards (times are per step: totals divided by ``steps``).
    warmup : unprofiled forwards first.
    threads : torch intra-op threads.
    device : ``"cpu"`` or ``"cuda"`` (CUDA activity is recorded too; shares are of CPU time).
    top_ops : operators listed before ``(other)``.
    stages : also measure the s2cnn transform stages.
    model : an already built model of that name.

    Returns
    -------
    ``{"model", "batch_size", "steps", "warmup", "threads", "device", "params", "step_ms",
    "layers": [...], "ops": [...], "stages": [...]}``; each row has ``ms`` (per step) and
    ``share`` (percent).
    """
    spec = as_spec(name)
    torch.manual_seed(0)
    model = (model if model is not None else build_model(spec)).to(device).eval()
    x = torch.randn(batch_size, spec.in_channels, 2 * spec.bandwidth, 2 * spec.bandwidth, device=device)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.startswith("cuda") else [])
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with torch.no_grad():
            for _ in range(warmup):
                model(x)
            ranges = LayerRanges(model)
            stage_ctx = stage_ranges() if stages else contextlib.nullcontext()
            with ranges, stage_ctx, profile(activities=activities) as prof:
                for _ in range(steps):
                    with record_function(STEP):
                        model(x)
                    if device.startswith("cuda"):
                        torch.cuda.synchronize()
    finally:
        torch.set_num_threads(previous)
    events = prof.key_averages()
    by_name = {e.key: e for e in events}
    step_us = by_name[STEP].cpu_time_total
    layers = []
    for lname, module in ranges.layers:
        ev = by_name.get(LAYER_PREFIX + lname)
        us = ev.cpu_time_total if ev is not None else 0.0
        layers.append({**layer_label(lname, module), "ms": _ms(us, steps), "share": 100 * us / step_us})
    rest = step_us - sum(
        by_name[LAYER_PREFIX + n].cpu_time_total for n, _ in ranges.layers if LAYER_PREFIX + n in by_name
    )
    between = dict.fromkeys(layer_label("", nn.Identity()), None)
    between.update({"layer": "(between layers)", "type": "ReLU, glue", "params": 0})
    layers.append({**between, "ms": _ms(rest, steps), "share": 100 * rest / step_us})

    ops_all = [e for e in events if not e.key.startswith((LAYER_PREFIX, STAGE_PREFIX)) and e.key != STEP]
    total_self = sum(e.self_cpu_time_total for e in events)
    ops_all.sort(key=lambda e: e.self_cpu_time_total, reverse=True)
    ops = [
        {
            "op": e.key,
            "calls": e.count / steps,
            "ms": _ms(e.self_cpu_time_total, steps),
            "share": 100 * e.self_cpu_time_total / total_self,
        }
        for e in ops_all[:top_ops]
    ]
    other = total_self - sum(e.self_cpu_time_total for e in ops_all[:top_ops])
    ops.append({"op": "(other)", "calls": None, "ms": _ms(other, steps), "share": 100 * other / total_self})

    stage_rows = []
    if stages and any(STAGE_PREFIX + s in by_name for s in STAGES):
        for sname, desc in STAGES.items():
            ev = by_name.get(STAGE_PREFIX + sname)
            if ev is None:
                continue
            stage_rows.append(
                {
                    "stage": sname,
                    "description": desc,
                    "calls": ev.count / steps,
                    "ms": _ms(ev.cpu_time_total, steps),
                    "share": 100 * ev.cpu_time_total / step_us,
                }
            )
        rest = step_us - sum(by_name[STAGE_PREFIX + r["stage"]].cpu_time_total for r in stage_rows)
        stage_rows.append(
            {
                "stage": "(rest)",
                "description": "per-degree products (real GEMMs), kernel spectra, bias, ReLUs, glue",
                "calls": None,
                "ms": _ms(rest, steps),
                "share": 100 * rest / step_us,
            }
        )
    return {
        "model": name,
        "family": spec.family,
        "bandwidth": spec.bandwidth,
        "params": count_params(model),
        "batch_size": batch_size,
        "steps": steps,
        "warmup": warmup,
        "threads": threads,
        "device": device,
        "step_ms": _ms(step_us, steps),
        "total_self_ms": _ms(total_self, steps),
        "layers": layers,
        "ops": ops,
        "stages": stage_rows,
    }


def run_profiles(
    models: list[str] | None = None,
    batch_size: int = 1,
    steps: int = 3,
    warmup: int = 2,
    threads: int = 1,
    device: str = "cpu",
    top_ops: int = 10,
    command: str | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Profile several models (default: the S2CNN 204k and its reduced twin); ``{"meta", "profiles"}``."""
    t0 = time.perf_counter()
    profiles = []
    for name in models or list(DEFAULT_PROFILE_MODELS):
        prof = profile_model(name, batch_size, steps, warmup, threads, device, top_ops)
        profiles.append(prof)
        top = max(prof["layers"][:-1], key=lambda r: r["share"])
        log(
            f"profile {name}: {prof['step_ms']:.1f} ms/step (batch {batch_size}, {threads} thread(s)); "
            f"largest layer {top['layer']} {top['share']:.1f}%; top op {prof['ops'][0]['op']} {prof['ops'][0]['share']:.1f}%"
        )
    meta = {
        **environment(threads),
        "device": device,
        "batch_size": batch_size,
        "steps": steps,
        "warmup": warmup,
        "mode": "forward, eval, torch.no_grad, torch.profiler (CPU)",
        "command": command,
        "total_seconds": time.perf_counter() - t0,
    }
    return {"meta": meta, "profiles": profiles}


def build_parser(prog: str = "python -m eqaug.bench profile") -> argparse.ArgumentParser:
    """Options of ``python -m eqaug.bench profile`` (= ``python -m eqaug.analysis profile``)."""
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="+", default=None, help="default: s2cnn_seg_204k s2cnn_seg_204k_small")
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--steps", type=int, default=3, help="profiled forwards (default 3)")
    p.add_argument("--warmup", type=int, default=2, help="unprofiled forwards first (default 2)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu")
    p.add_argument("--top-ops", type=int, default=12, help="operators listed before (other) (default 12)")
    p.add_argument("--out", default="results/bench/profile.json")
    p.add_argument("--tables-dir", default="results/tables")
    return p


def main(argv: list[str] | None = None, prog: str = "python -m eqaug.bench profile") -> int:
    """Profile, write ``--out`` and the profile tables in ``--tables-dir``; returns the exit code."""
    from eqaug.analysis.tables import write_profile_tables

    return bench_main(argv, prog, build_parser, run_profiles, write_profile_tables)


if __name__ == "__main__":
    sys.exit(main())
