"""The run record's ``environment`` block: identifies the machine and the numerical kernels, fast and JSON-ready."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
import torch

from eqaug import environment
from eqaug.environment import KERNEL_CPU_FLAGS, cpu_flags, describe, kernels

KERNEL_KEYS = ("cpu_capability", "cpu_flags", "blas", "onednn", "env_threads")


def test_describe_names_the_kernels_and_is_json_serialisable():
    record = describe()
    for key in ("python", "torch", "cpu", "cpu_count", "threads", "cuda", "date", *KERNEL_KEYS):
        assert key in record, key
    assert json.loads(json.dumps(record)) == record
    assert isinstance(record["cpu_capability"], str) and record["cpu_capability"]
    assert record["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert isinstance(record["cpu_flags"], list) and set(record["cpu_flags"]) <= set(KERNEL_CPU_FLAGS)
    assert set(record["blas"]) == {"blas", "lapack", "library"}
    assert set(record["onednn"]) == {"available", "enabled", "version"}
    assert record["onednn"]["available"] is torch.backends.mkldnn.is_available()
    assert isinstance(record["env_threads"], dict)
    assert describe(threads=3)["threads"] == 3


def test_kernels_reads_the_environment_overrides_at_call_time(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    assert kernels()["env_threads"]["OMP_NUM_THREADS"] == "1"
    assert "MKL_NUM_THREADS" not in kernels()["env_threads"]


def test_cached_parts_are_not_shared_mutable_state():
    first = describe()
    first["cpu_flags"].append("bogus")
    first["blas"]["blas"] = "bogus"
    second = describe()
    assert "bogus" not in second["cpu_flags"] and second["blas"]["blas"] != "bogus"
    assert cpu_flags() == second["cpu_flags"]


def test_describe_is_fast():
    describe()  # warm the caches (and torch.cuda's lazy init)
    start = time.perf_counter()
    for _ in range(10):
        describe()
    assert (time.perf_counter() - start) / 10 < 0.05


def test_cpu_flags_without_proc_cpuinfo_is_empty(monkeypatch):
    def unreadable(self, *args, **kwargs):
        raise OSError("no /proc here")

    environment._cpu_flags.cache_clear()
    monkeypatch.setattr(environment.Path, "read_text", unreadable)
    try:
        assert cpu_flags() == []
    finally:
        monkeypatch.undo()
        environment._cpu_flags.cache_clear()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ATEN_CPU_CAPABILITY is checked on Linux x86")
def test_aten_cpu_capability_default_pins_the_portable_kernels():
    code = "from eqaug.environment import describe; print(describe()['cpu_capability'])"
    env = {**os.environ, "ATEN_CPU_CAPABILITY": "default"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "DEFAULT"
