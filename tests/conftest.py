"""Shared fixtures: no network, W&B disabled, and a tiny training config.

Subprocess-based tests get the same environment through :func:`subprocess_env`.
"""

from __future__ import annotations

import os
import socket

import pytest

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
