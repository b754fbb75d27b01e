"""The machine and software a result was measured on (for run records and benchmark files)."""

from __future__ import annotations

import functools
import os
import platform
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

__all__ = ["cpu_name", "cpu_flags", "kernels", "describe"]

#: ``/proc/cpuinfo`` flags that decide which vectorised ATen / MKL / oneDNN kernels run.
KERNEL_CPU_FLAGS = (
    "fma",
    "avx2",
    "avx512f",
    "avx512_vnni",
    "avx512_bf16",
    "avx512_fp16",
    "amx_tile",
    "amx_bf16",
    "amx_int8",
)
#: Environment variables that change the kernels or their threading (recorded when set).
KERNEL_ENV_VARS = (
    "ATEN_CPU_CAPABILITY",
    "MKL_CBWR",
    "ONEDNN_MAX_CPU_ISA",
    "DNNL_MAX_CPU_ISA",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
)


def cpu_name() -> str:
    """CPU model name from ``/proc/cpuinfo`` (else ``platform.processor()``)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


@functools.lru_cache(maxsize=1)
def _cpu_flags() -> tuple[str, ...]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                present = set(line.split(":", 1)[1].split())
                return tuple(flag for flag in KERNEL_CPU_FLAGS if flag in present)
    except OSError:
        pass
    return ()


def cpu_flags() -> list[str]:
    """The kernel-relevant subset (:data:`KERNEL_CPU_FLAGS`) of the CPU's flags; ``[]`` without ``/proc/cpuinfo``."""
    return list(_cpu_flags())


@functools.lru_cache(maxsize=1)
def _static_kernels() -> tuple[str, tuple[tuple[str, str | None], ...], bool, str | None]:
    import torch

    config = torch.__config__.show()
    build = dict(re.findall(r"\b(BLAS_INFO|LAPACK_INFO)=([^,\s]+)", config))
    library = next(
        (
            line.strip(" -").split(" for ")[0]
            for line in config.splitlines()
            if re.search(r"Math Kernel Library|OpenBLAS|BLIS|Accelerate|Arm Performance Libraries", line)
        ),
        None,
    )
    onednn = re.search(r"(?:MKL-DNN|oneDNN)\s+v?([0-9][0-9.]*)", config)
    blas = (("blas", build.get("BLAS_INFO")), ("lapack", build.get("LAPACK_INFO")), ("library", library))
    return (
        torch.backends.cpu.get_cpu_capability(),
        blas,
        torch.backends.mkldnn.is_available(),
        onednn.group(1) if onednn else None,
    )


def kernels() -> dict[str, Any]:
    """What decides the CPU kernels' float rounding: ISA level, CPU flags, BLAS and oneDNN builds, env overrides.

    Returns
    -------
    dict
        ``cpu_capability`` (ATen's vectorisation level, ``torch.backends.cpu.get_cpu_capability()``,
        e.g. ``"AVX512"``, ``"AVX2"``, ``"DEFAULT"``), ``cpu_flags`` (:func:`cpu_flags`), ``blas``
        (``{"blas", "lapack", "library"}`` from ``torch.__config__.show()``), ``onednn``
        (``{"available", "enabled", "version"}``) and ``env_threads`` (those of
        :data:`KERNEL_ENV_VARS` that are set).
    """
    import torch

    capability, blas, onednn_available, onednn_version = _static_kernels()
    return {
        "cpu_capability": capability,
        "cpu_flags": cpu_flags(),
        "blas": dict(blas),
        "onednn": {
            "available": onednn_available,
            "enabled": bool(torch.backends.mkldnn.enabled),
            "version": onednn_version,
        },
        "env_threads": {name: os.environ[name] for name in KERNEL_ENV_VARS if name in os.environ},
    }


def describe(threads: int | None = None) -> dict[str, Any]:
    """Versions, hardware, numerical kernels, torch thread count and the UTC time, as a JSON-ready dict.

    Notes
    -----
    On CPU a run is bit-for-bit reproducible only on the same numerical kernels: the same
    ``torch`` build, ``cpu`` model, ``cpu_capability``, ``cpu_flags``, ``blas``, ``onednn``,
    ``threads`` and ``env_threads``. Two records that agree on all of these are expected to hold
    bit-identical metrics for the same run key; when any differs (another CPU generation, another
    MKL/OpenBLAS or oneDNN build, another thread count), vectorised reductions and GEMMs round
    differently and the metrics drift (by up to ~0.01 mIoU after training, observed). Setting
    ``ATEN_CPU_CAPABILITY=default`` before Python starts pins ATen's own vectorised kernels to the
    portable ones (``cpu_capability == "DEFAULT"``), but not MKL's (FFT/GEMM: ``MKL_CBWR``) or
    oneDNN's (convolutions: ``ONEDNN_MAX_CPU_ISA``), which pick their code path from the CPU at
    run time; see the README, "Determinism: what is reproduced where". The static parts are
    computed once per process (cached).
    """
    import torch

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        **kernels(),
        "threads": torch.get_num_threads() if threads is None else threads,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
