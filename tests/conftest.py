"""Shared fixtures: no network, W&B disabled, a tiny training config, and the device tests run on.

Subprocess-based tests get the same environment through :func:`subprocess_env`.

``device``: every test that takes it runs on the CPU, and again on CUDA where a device is present (the CUDA
case is marked ``cuda``, so ``pytest -m cuda`` selects exactly the GPU cases). ``EQAUG_TEST_DEVICE`` changes
that: ``cpu`` runs the CPU case only; ``cuda`` makes the CUDA case required, so that on a machine without a
usable CUDA device it fails instead of skipping (``make gpu-check`` runs ``pytest -m cuda`` so).
"""

from __future__ import annotations

import os
import socket

import pytest
import torch

from eqaug.testing import TINY, write_idx_set

os.environ["WANDB_MODE"] = "disabled"
os.environ.setdefault("HYDRA_FULL_ERROR", "1")

_real_connect = socket.socket.connect


def _guarded_connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0]
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise RuntimeError(f"tests must not touch the network (tried to connect to {address!r})")
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    """Any connection to a non-loopback address fails the test."""
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    monkeypatch.setenv("WANDB_MODE", "disabled")


#: ``EQAUG_TEST_DEVICE``: unset/``all`` (CPU, plus CUDA where present), ``cpu`` (CPU only), ``cuda`` (CUDA required)
TEST_DEVICE = os.environ.get("EQAUG_TEST_DEVICE", "all").strip().lower() or "all"
if TEST_DEVICE not in ("all", "cpu", "cuda"):
    raise pytest.UsageError(f"EQAUG_TEST_DEVICE={TEST_DEVICE!r}: use cpu, cuda or all")


def _device_params() -> list:
    if TEST_DEVICE == "cpu":
        return ["cpu"]
    cuda_marks = [pytest.mark.cuda]
    if TEST_DEVICE != "cuda":
        cuda_marks.append(pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"))
    return ["cpu", pytest.param("cuda", marks=cuda_marks)]


@pytest.fixture(params=_device_params())
def device(request) -> torch.device:
    """``torch.device("cpu")``, then ``torch.device("cuda")`` (see the module docstring and ``EQAUG_TEST_DEVICE``)."""
    if request.param == "cuda" and not torch.cuda.is_available():
        pytest.fail("EQAUG_TEST_DEVICE=cuda but torch.cuda.is_available() is False")
    return torch.device(request.param)


@pytest.fixture
def compose_train():
    """``compose_train(overrides)`` → the composed training config (the same one ``python -m eqaug.train`` sees)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from eqaug.config import CONF_DIR, register_configs

    register_configs()

    def _compose(overrides: list[str], return_hydra_config: bool = False):
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            return compose(config_name="train", overrides=overrides, return_hydra_config=return_hydra_config)

    yield _compose
    GlobalHydra.instance().clear()


@pytest.fixture
def tiny(tmp_path) -> list[str]:
    """Tiny-run overrides writing under a temporary ``results_dir``."""
    return [*TINY, f"results_dir={tmp_path / 'results'}"]


@pytest.fixture(scope="session")
def fashion_idx_root(tmp_path_factory):
    """A ``data.root`` holding small synthetic FashionMNIST IDX files (``FashionMNIST/raw``, 40/20 items).

    Tests of FashionMNIST experiments use it, so they never need Debian's ``dataset-fashion-mnist``.
    """
    root = tmp_path_factory.mktemp("fashion_idx")
    write_idx_set(root / "FashionMNIST" / "raw", seed=7)
    return root
