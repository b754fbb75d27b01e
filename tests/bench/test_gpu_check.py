"""``make gpu-check`` on a machine without CUDA: it says so and exits 0; the offline-install helper's pins."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest
import torch

from eqaug.bench import gpu_check
from eqaug.testing import REPO, subprocess_env


def test_gpu_check_without_cuda_says_so_and_exits_0(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert gpu_check.main([]) == 0
    assert capsys.readouterr().out.strip() == gpu_check.SKIP_LINE == "no CUDA device: gpu-check skipped"


@pytest.mark.parametrize(
    "cmd", [["scripts/gpu_check.py"], ["-m", "eqaug.bench", "gpu_check"]], ids=["make-gpu-check-entry", "module"]
)
def test_gpu_check_entry_points_without_cuda(cmd):
    """What ``make gpu-check`` runs (``scripts/gpu_check.py``), in a process that sees no GPU."""
    proc = subprocess.run(
        [sys.executable, *cmd], cwd=REPO, env=subprocess_env(), capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == gpu_check.SKIP_LINE


def test_device_slug_and_precisions():
    assert gpu_check.device_slug("NVIDIA H100 80GB HBM3") == "nvidia_h100_80gb_hbm3"
    assert gpu_check.precision_for("cnn_seg_218k")[0] == "bf16-mixed"
    assert gpu_check.precision_for("s2cnn_seg_204k")[0] == "32-true" == gpu_check.precision_for("gscnn_seg")[0]
    assert "float32" in gpu_check.precision_for("s2cnn_seg_204k")[1]


def _gpu_wheels():
    spec = importlib.util.spec_from_file_location("gpu_wheels", REPO / "scripts" / "gpu_wheels.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gpu_wheels_pins_the_dependencies_but_not_torch():
    wheels = _gpu_wheels()
    pins = wheels.pinned()
    names = {p.split("==")[0] for p in pins}
    assert {"lightning", "hydra-core", "omegaconf", "torchmetrics", "pytest"} <= names
    assert not names & {"torch", "torchvision", "triton", "eqaug"} and not any(n.startswith("nvidia-") for n in names)
    assert all("==" in p for p in pins)


def test_gpu_wheels_install_is_a_no_op_when_everything_is_there(tmp_path, capsys):
    wheels = _gpu_wheels()
    (tmp_path / "requirements.txt").write_text("lightning==0.0\nomegaconf==0.0\n")  # installed (any version counts)
    assert wheels.install(tmp_path) == 0
    assert "installed" in capsys.readouterr().out


def _pytest(env_device: str, *args: str) -> subprocess.CompletedProcess:
    env = {**subprocess_env(), "EQAUG_TEST_DEVICE": env_device}
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/models/test_model_devices.py", *args]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def test_eqaug_test_device_selects_the_device_cases():
    """``cpu``: CPU cases only; ``cuda`` (what gpu-check sets) on a machine without a GPU: the CUDA cases fail."""
    from tests.models.test_model_devices import TINY

    collected = _pytest("cpu", "--collect-only")
    assert f"{len(TINY)} tests collected" in collected.stdout and "cuda" not in collected.stdout
    required = _pytest("cuda", "-m", "cuda", "-k", "cnn_seg_tiny")
    assert (
        required.returncode == 1 and "EQAUG_TEST_DEVICE=cuda but torch.cuda.is_available() is False" in required.stdout
    )
