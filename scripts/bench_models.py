"""Latency of the named models on CPU: forward per sample (batch 1) and forward+backward (batch 8).

Usage::

    python scripts/bench_models.py [--threads 1] [--repeats 5] [--batch-sizes 1] [--out results/bench/models.json]

For every named model (``conf/model``, full and ``_small``) the forward pass is timed at each
batch size (eval mode, ``torch.no_grad``) after one warm-up call: median and interquartile range
of the time per sample over ``--repeats`` calls. Forward+backward (cross-entropy on random
targets, train mode) is timed at ``--train-batch-size`` for the S2CNN 204k, CNN 218k and their
``_small`` twins. S2CNN/CNN ratios are computed from these measurements (same process). A model
whose warm-up call takes more than ``--slow-seconds`` is measured with ``--slow-repeats`` calls
instead (recorded per entry).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch
import torch.nn.functional as F

from eqaug.models import as_spec, build_model, count_params, model_names

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


def cpu_model() -> str:
    """CPU model name from /proc/cpuinfo (or ``platform.processor()``)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def quartiles(xs: list[float]) -> tuple[float, float, float]:
    """(q1, median, q3) with linear interpolation (``statistics.quantiles``, inclusive)."""
    if len(xs) == 1:
        return xs[0], xs[0], xs[0]
    q1, q2, q3 = statistics.quantiles(xs, n=4, method="inclusive")
    return q1, q2, q3


def time_calls(fn, repeats: int) -> list[float]:
    """Wall times of ``repeats`` calls of ``fn``."""
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def measure(name: str, batch: int, train: bool, args: argparse.Namespace) -> dict:
    """Time forward (``train=False``) or forward+backward (``train=True``) of a named model."""
    spec = as_spec(name)
    torch.manual_seed(0)
    t_build = time.perf_counter()
    model = build_model(spec)
    build_s = time.perf_counter() - t_build
    b = spec.bandwidth
    x = torch.randn(batch, spec.in_channels, 2 * b, 2 * b)
    seg = spec.family.endswith("_seg")
    target = torch.randint(0, spec.n_classes, (batch, 2 * b, 2 * b) if seg else (batch,))
    if train:
        model.train()

        def fn():
            model.zero_grad(set_to_none=True)
            F.cross_entropy(model(x), target).backward()
    else:
        model.eval()

        def fn():
            with torch.no_grad():
                model(x)

    warm = time_calls(fn, 1)[0]
    repeats = args.slow_repeats if warm > args.slow_seconds else args.repeats
    times = time_calls(fn, repeats)
    q1, med, q3 = quartiles(times)
    entry = {
        "model": name,
        "family": spec.family,
        "scale": "small" if name.endswith("_small") else "full",
        "bandwidth": b,
        "params": count_params(model),
        "batch_size": batch,
        "mode": "forward+backward" if train else "forward",
        "repeats": repeats,
        "build_s": build_s,
        "warmup_s": warm,
        "times_s": times,
        "median_s": med,
        "iqr_s": q3 - q1,
        "median_s_per_sample": med / batch,
        "iqr_s_per_sample": (q3 - q1) / batch,
    }
    print(
        f"{entry['mode']:17s} {name:22s} b={b:<3d} batch={batch:<2d} median {med / batch * 1e3:10.2f} ms/sample "
        f"(IQR {(q3 - q1) / batch * 1e3:.2f}, n={repeats})",
        flush=True,
    )
    return entry


def ratios(entries: list[dict], mode: str, batch: int) -> dict[str, float]:
    """S2CNN/CNN latency ratios (median per sample) for the pairs, full and small."""
    med = {e["model"]: e["median_s_per_sample"] for e in entries if e["mode"] == mode and e["batch_size"] == batch}
    out = {}
    for eq, planar in PAIRS:
        for suffix in ("", "_small"):
            a, c = eq + suffix, planar + suffix
            if a in med and c in med:
                out[f"{a}/{c}"] = med[a] / med[c]
    return out


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    p.add_argument("--repeats", type=int, default=5, help="timed calls per measurement (>= 5; default 5)")
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[1], help="forward batch sizes (default 1)")
    p.add_argument("--train-batch-size", type=int, default=8, help="forward+backward batch size (default 8)")
    p.add_argument("--models", nargs="+", default=None, help="subset of the named models (default: all)")
    p.add_argument("--slow-seconds", type=float, default=60.0, help="warm-up time above which --slow-repeats is used")
    p.add_argument("--slow-repeats", type=int, default=3, help="timed calls for slow models (default 3)")
    p.add_argument("--out", default="results/bench/models.json", help="output JSON")
    args = p.parse_args(argv)
    if args.repeats < 5:
        p.error(f"--repeats={args.repeats}: need at least 5")
    torch.set_num_threads(args.threads)
    names = args.models or model_names()
    t0 = time.perf_counter()
    fwd = [measure(n, bs, False, args) for bs in args.batch_sizes for n in names]
    train = [measure(n, args.train_batch_size, True, args) for n in TRAIN_MODELS if n in names]
    result = {
        "meta": {
            "threads": torch.get_num_threads(),
            "device": "cpu",
            "torch": torch.__version__,
            "python": platform.python_version(),
            "cpu": cpu_model(),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]),
            "repeats": args.repeats,
            "slow_seconds": args.slow_seconds,
            "slow_repeats": args.slow_repeats,
            "total_seconds": None,
        },
        "forward": fwd,
        "forward_backward": train,
        "ratios": {
            **{f"forward_batch{bs}": ratios(fwd, "forward", bs) for bs in args.batch_sizes},
            f"forward_backward_batch{args.train_batch_size}": ratios(train, "forward+backward", args.train_batch_size),
        },
    }
    result["meta"]["total_seconds"] = time.perf_counter() - t0
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    for k, v in result["ratios"].items():
        for pair, r in v.items():
            print(f"ratio {k:22s} {pair:45s} {r:8.1f}")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
