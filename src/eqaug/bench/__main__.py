"""Run a benchmark: ``python -m eqaug.bench {models,s2cnn,data,equivariance,latency,profile,scaling,fold,fft_engine,variants,aliasing,perf_steps,gpu_check} [options]``.

``python -m eqaug.bench <name> --help`` lists a benchmark's options. ``scripts/bench_models.py``,
``bench_s2cnn.py``, ``bench_data.py`` and ``equivariance_table.py`` run the first four;
``python -m eqaug.analysis latency`` / ``profile`` the next two; ``make gpu-check`` runs ``gpu_check``.
"""

from __future__ import annotations

import importlib
import sys

__all__ = ["BENCHMARKS", "main"]

#: subcommand → (module of eqaug.bench, what it measures); a module is imported only when its benchmark runs
BENCHMARKS = {
    "models": ("eqaug.bench.models", "latency, training throughput and memory of the named models"),
    "s2cnn": ("eqaug.bench.s2cnn_layers", "speed, memory and equivariance error of the s2cnn layers"),
    "data": ("eqaug.bench.data", "throughput of the spherical data generator"),
    "equivariance": ("eqaug.bench.equivariance", "equivariance errors of layers and models (table)"),
    "latency": ("eqaug.bench.latency", "inference latency and throughput vs batch size (Tables 1–2)"),
    "profile": ("eqaug.bench.profiling", "per-layer and per-operator profiles (Tables 6–7)"),
    "scaling": ("eqaug.bench.scaling", "time per sample vs bandwidth of every family, with the fitted exponents"),
    "fold": ("eqaug.bench.fold", "the synthesis GEMMs' radix-2 fold on and off (S2CNN 204k / CNN 218k ratios)"),
    "fft_engine": (
        "eqaug.bench.fft_engine",
        "the SO(3) transforms' α/γ step as DFT products or torch FFTs (b = 16 twins)",
    ),
    "variants": (
        "eqaug.bench.variants",
        "implementation choices (GSCNN activation chunks, CNN memory format): a training step per variant",
    ),
    "aliasing": ("eqaug.bench.s2cnn_aliasing", "up-sampling layers: the original's aliasing vs eqaug's exact rule"),
    "perf_steps": ("eqaug.bench.perf_steps", "one s2cnn performance step: before vs after, alternated in one process"),
    "gpu_check": ("eqaug.bench.gpu_check", "make gpu-check: tests, equivariance, latency and training on a GPU"),
}


def _usage() -> str:
    lines = [__doc__.split("\n\n")[0], "", "benchmarks:"]
    lines += [f"  {name:13s} {what}" for name, (_, what) in BENCHMARKS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0 if argv else 2
    if argv[0] not in BENCHMARKS:
        print(f"unknown benchmark {argv[0]!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(BENCHMARKS[argv[0]][0])
    return module.main(argv[1:], prog=f"python -m eqaug.bench {argv[0]}")


if __name__ == "__main__":
    sys.exit(main())
