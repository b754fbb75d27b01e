"""Cost growth with the bandwidth: time per sample against the input bandwidth b for every family.

One architecture per family, its bandwidth scaled with the channels fixed (:func:`scaled_spec`); at each b the
forward (eval, ``torch.no_grad``) and the forward + backward (train mode, cross-entropy on random targets) are
timed at each batch size with :func:`eqaug.bench.timing.time_calls` on one thread (``--threads``), float32:
the first call alone (it builds plans and tables), the other warm-up calls, then up to ``--repeats`` timed calls;
median and interquartile range. A point that would take longer than ``--max-seconds`` is skipped and recorded
as skipped (with the reason), never left out silently:

* predicted: from the previous bandwidth of the same family, direction and batch, grown by the local exponent
  (at least 2, at most 5; 4 after one point), the warm-up and ``--min-repeats`` calls would exceed the limit;
* measured: the first call alone exceeds the limit, or the warm-up calls leave no room for ``--min-repeats``;
* larger: a smaller bandwidth of the same family, direction and batch was skipped;
* memory: the call raised an out-of-memory error.

The exponent is fitted per family, direction and batch (:func:`eqaug.analysis.scaling.fit_all`: least squares
of log time on log b). Usage::

    python -m eqaug.bench scaling [--bandwidths 8 16 25 32 50 64] [--families s2cnn cnn gscnn] [--max-seconds 120]

writes ``results/bench/scaling.json`` and renders ``results/tables/scaling.{md,csv}`` and
``results/figures/scaling.{png,pdf,json}`` from it (``make figures`` re-renders them from the JSON).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import torch

from eqaug.bench.io import command_line, write_json
from eqaug.bench.model_timing import _inputs, _step_fn
from eqaug.bench.timing import quartiles, time_calls
from eqaug.environment import describe
from eqaug.models import as_spec, build_model, count_params

__all__ = [
    "BASE_MODELS",
    "SCALING_RULES",
    "scaled_spec",
    "layer_summary",
    "predict_seconds",
    "measure_point",
    "run_scaling",
    "build_parser",
    "main",
]

#: family (its base name) → the architecture whose bandwidth is scaled (the segmenters of the study, b = 50)
BASE_MODELS = {"s2cnn": "s2cnn_seg_204k", "cnn": "cnn_seg_218k", "gscnn": "gscnn_seg"}
#: how each family's layers follow the input bandwidth (eqaug.arch.twins.small_twin, channels kept)
SCALING_RULES = {
    "s2cnn": "hidden bandlimits × b/b₀, rounded half up, kept strictly monotone and ≥ 2; kernel grids "
    "max_beta = beta_ref·π·b/b_in recomputed; channels fixed (same parameters)",
    "cnn": "same layers, channels, kernels and strides on the 2b × 2b image; a kernel larger than the image "
    "entering its layer shrinks to the largest odd size that fits (so fewer parameters at small b)",
    "gscnn": "every bandlimit × b/b₀, rounded half up; channels fixed, so the per-degree weights (parameters) "
    "grow with b",
}
MODES = ("forward", "forward+backward")
DEFAULT_BANDWIDTHS = (8, 16, 25, 32, 50, 64)


def scaled_spec(base: str, bandwidth: int) -> Any:
    """The spec of model ``base`` (a name) at input bandwidth ``bandwidth``, channels fixed (see :data:`SCALING_RULES`)."""
    from eqaug.arch.twins import small_twin

    spec = as_spec(base)
    if bandwidth == spec.bandwidth:
        return spec
    return small_twin(spec, bandwidth, name=f"{spec.name}@b{bandwidth}", widen=False).validate()


def layer_summary(spec: Any) -> str:
    """The hidden bandlimits (``"42 35 27 …"``) or, for a CNN, ``"kernels 5 3 9 7 3"``."""
    if getattr(spec, "bandlimits", None):
        return " ".join(str(b) for b in spec.bandlimits)
    if getattr(spec, "kernel_sizes", None):
        return "kernels " + " ".join(str(k) for k in spec.kernel_sizes)
    return ""


def predict_seconds(previous: list[tuple[int, float]], bandwidth: int) -> float | None:
    """Per-call seconds at ``bandwidth`` from the measured ``(b, seconds)`` below it (``None`` without any).

    Grows the last point by the local exponent of the last two (clamped to [2, 5]); 4 after one point.
    """
    if not previous:
        return None
    pts = sorted(previous)
    b1, t1 = pts[-1]
    p = 4.0
    if len(pts) >= 2:
        b0, t0 = pts[-2]
        if b1 > b0 and t0 > 0 and t1 > 0:
            p = min(5.0, max(2.0, math.log(t1 / t0) / math.log(b1 / b0)))
    return t1 * (bandwidth / b1) ** p


def _is_oom(e: BaseException) -> bool:
    return isinstance(e, MemoryError) or (
        isinstance(e, RuntimeError) and any(s in str(e).lower() for s in ("out of memory", "can't allocate"))
    )


def measure_point(
    model: torch.nn.Module,
    spec: Any,
    batch: int,
    mode: str,
    repeats: int,
    warmup: int,
    min_repeats: int,
    max_seconds: float,
) -> dict[str, Any]:
    """Time one (model, batch, mode): the first call alone, the other warm-up calls, then the timed calls.

    Returns the measured fields (``status: "measured"``) or ``status: "skipped"`` with a ``reason``.
    """
    torch.manual_seed(0)
    x, target = _inputs(spec, batch)
    fn = _step_fn(model, x, target, mode)
    t0 = time.perf_counter()
    try:
        first = time_calls(fn, 1).wall_s[0]
        if first > max_seconds:
            return {
                "status": "skipped",
                "reason": f"first call {first:.1f} s > {max_seconds:g} s",
                "first_call_s": first,
            }
        rest = time_calls(fn, warmup - 1) if warmup > 1 else None
        per_call = min(rest.wall_s) if rest else first
        spent = time.perf_counter() - t0
        room = int((max_seconds - spent) // max(per_call, 1e-9))
        if room < min_repeats:
            return {
                "status": "skipped",
                "reason": f"{min_repeats} calls of {per_call:.1f} s would exceed {max_seconds:g} s",
                "first_call_s": first,
            }
        timings = time_calls(fn, min(repeats, room))
    except (RuntimeError, MemoryError) as e:
        if not _is_oom(e):
            raise
        return {"status": "skipped", "reason": f"out of memory ({type(e).__name__})"}
    q1, med, q3 = quartiles(timings.wall_s)
    return {
        "status": "measured",
        "first_call_s": first,
        "warmup_calls": warmup,
        "n_times": timings.n,
        "times_s": timings.wall_s,
        "cpu_times_s": timings.cpu_s,
        "median_s": med,
        "q1_s": q1,
        "q3_s": q3,
        "iqr_s": q3 - q1,
        "cpu_median_s": timings.cpu_median(),
        "median_s_per_sample": med / batch,
        "iqr_s_per_sample": (q3 - q1) / batch,
        "seconds": time.perf_counter() - t0,
    }


def _family_points(
    family: str, base: str, args: argparse.Namespace, log: Callable[[str], None]
) -> list[dict[str, Any]]:
    """Every (bandwidth, batch, mode) of one family, in increasing bandwidth."""
    out: list[dict[str, Any]] = []
    done: dict[tuple[int, str], list[tuple[int, float]]] = {}
    over: set[tuple[int, str]] = set()
    for b in sorted(args.bandwidths):
        try:
            spec = scaled_spec(base, b)
        except ValueError as e:
            info = {"family": as_spec(base).family, "family_base": family, "base_model": base, "bandwidth": b}
            reason = f"no architecture at this bandwidth: {e}"
            out += [
                {**info, "batch_size": batch, "mode": mode, "status": "skipped", "reason": reason}
                for batch in args.batch_sizes
                for mode in MODES
            ]
            log(f"{family:6s} b={b:<3d} skipped: {e}")
            continue
        torch.manual_seed(0)
        model = build_model(spec)
        info = {
            "family": spec.family,
            "family_base": family,
            "base_model": base,
            "model": spec.name,
            "bandwidth": b,
            "layers": layer_summary(spec),
            "features": list(getattr(spec, "features", []) or []),
            "params": count_params(model),
        }
        for batch in args.batch_sizes:
            for mode in MODES:
                key = (batch, mode)
                if key in over:
                    entry = {"status": "skipped", "reason": "a smaller bandwidth was over the limit"}
                else:
                    guess = predict_seconds(done.get(key, []), b)
                    calls = max(args.warmup, 1) + args.min_repeats
                    if guess is not None and guess * calls > args.max_seconds:
                        entry = {
                            "status": "skipped",
                            "reason": f"predicted {guess:.1f} s per call × {calls} calls > {args.max_seconds:g} s",
                            "predicted_s": guess,
                        }
                    else:
                        entry = measure_point(
                            model, spec, batch, mode, args.repeats, args.warmup, args.min_repeats, args.max_seconds
                        )
                if entry["status"] == "measured":
                    done.setdefault(key, []).append((b, entry["median_s"]))
                    log(
                        f"{family:6s} b={b:<3d} batch={batch:<2d} {mode:17s} {entry['median_s_per_sample'] * 1e3:10.2f} "
                        f"ms/sample (IQR {entry['iqr_s_per_sample'] * 1e3:.2f}, n={entry['n_times']}, "
                        f"first call {entry['first_call_s']:.2f} s)"
                    )
                else:
                    over.add(key)
                    log(f"{family:6s} b={b:<3d} batch={batch:<2d} {mode:17s} skipped: {entry['reason']}")
                out.append({**info, "batch_size": batch, "mode": mode, **entry})
        del model
    return out


def run_scaling(
    args: argparse.Namespace, command: str | None = None, log: Callable[[str], None] = print
) -> dict[str, Any]:
    """Measure every family at every bandwidth; returns ``{"meta", "results", "fits"}``."""
    from eqaug.analysis.scaling import fit_all

    previous = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    meta: dict[str, Any] = {
        **describe(args.threads),
        "device": "cpu",
        "dtype": "float32",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": command,
        "bandwidths": sorted(args.bandwidths),
        "batch_sizes": list(args.batch_sizes),
        "families": {f: args.base[f] for f in args.families},
        "repeats": args.repeats,
        "min_repeats": args.min_repeats,
        "warmup": args.warmup,
        "max_seconds": args.max_seconds,
        "timer": "time.perf_counter per call (eqaug.bench.timing.time_calls); medians and IQR of wall time",
        "modes": {
            "forward": "eval, torch.no_grad",
            "forward+backward": "train, cross-entropy on random targets, backward",
        },
        "scaling_rules": {f: SCALING_RULES.get(f, "eqaug.arch.twins.small_twin(widen=False)") for f in args.families},
        "note": args.note,
        "loadavg_start": list(os.getloadavg()),
    }
    results: list[dict[str, Any]] = []
    try:
        for family in args.families:
            results += _family_points(family, args.base[family], args, log)
    finally:
        torch.set_num_threads(previous)
    meta["loadavg_end"] = list(os.getloadavg())
    meta["total_seconds"] = time.perf_counter() - t0
    return {"meta": meta, "results": results, "fits": fit_all(results)}


def _base_override(value: str) -> tuple[str, str]:
    family, sep, model = value.partition("=")
    if not sep or not family or not model:
        raise argparse.ArgumentTypeError(f"--base {value!r}: expected FAMILY=MODEL, e.g. s2cnn=s2cnn_seg_tiny")
    return family, model


def build_parser(prog: str = "python -m eqaug.bench scaling") -> argparse.ArgumentParser:
    """Options of ``python -m eqaug.bench scaling``."""
    p = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bandwidths", type=int, nargs="+", default=list(DEFAULT_BANDWIDTHS), help="input bandwidths b")
    p.add_argument("--families", nargs="+", default=list(BASE_MODELS), help="family bases (default: s2cnn cnn gscnn)")
    p.add_argument(
        "--base",
        type=_base_override,
        action="append",
        default=[],
        metavar="FAMILY=MODEL",
        help="the architecture scaled for a family (default: "
        + ", ".join(f"{k}={v}" for k, v in BASE_MODELS.items())
        + ")",
    )
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[1], help="batch sizes (default 1)")
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    p.add_argument("--repeats", type=int, default=7, help="timed calls per point, at most (default 7)")
    p.add_argument("--min-repeats", type=int, default=3, help="timed calls per point, at least, or skip (default 3)")
    p.add_argument("--warmup", type=int, default=2, help="warm-up calls, the first one timed alone (default 2)")
    p.add_argument("--max-seconds", type=float, default=120.0, help="time limit per point (default 120 s)")
    p.add_argument("--note", default=None, help="a sentence kept in meta.note and the table caption")
    p.add_argument("--out", default="results/bench/scaling.json")
    p.add_argument("--tables-dir", default="results/tables")
    p.add_argument("--figures-dir", default="results/figures")
    return p


def main(argv: list[str] | None = None, prog: str = "python -m eqaug.bench scaling") -> int:
    """Measure, write ``--out``, the table in ``--tables-dir`` and the figure in ``--figures-dir``; exit code."""
    from eqaug.analysis.scaling import draw_scaling
    from eqaug.analysis.tables import write_scaling_tables

    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    args.base = {**BASE_MODELS, **dict(args.base)}
    unknown = [f for f in args.families if f not in args.base]
    if unknown:
        parser.error(
            f"--families {' '.join(unknown)}: no base model (known: {', '.join(args.base)}; or --base F=MODEL)"
        )
    if args.min_repeats < 1 or args.repeats < args.min_repeats:
        parser.error("need 1 <= --min-repeats <= --repeats")
    payload = run_scaling(args, command=command_line(prog, argv), log=lambda s: print(s, flush=True))
    path = write_json(args.out, payload)
    files = write_scaling_tables(payload, args.tables_dir) + draw_scaling(payload, args.figures_dir)
    for f in payload["fits"]:
        if f["exponent"] is not None:
            print(
                f"fit {f['family']:10s} {f['mode']:17s} batch {f['batch_size']:<3d} t ∝ b^{f['exponent']:.2f} "
                f"(R² {f['r2']:.3f}, {f['n_points']} points)"
            )
    print(f"wrote {path}, {', '.join(str(f) for f in files)} ({payload['meta']['total_seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
